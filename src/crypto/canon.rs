//! Canonical byte encoding for signed structures. Signing JSON invites canonicalisation bugs,
//! so signed things are encoded as a domain label followed by length-prefixed fields: there is
//! exactly one encoding of each value and no field can bleed into the next.

use super::CryptoError;

/// Builds a canonical encoding.
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// Starts an encoding under a domain label, so a signature over one structure can never be
    /// replayed as another.
    pub fn new(domain: &str) -> Self {
        let mut w = Writer { buf: Vec::new() };
        w.bytes(domain.as_bytes());
        w
    }
    /// Appends a length-prefixed byte string.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        let len = u32::try_from(b.len()).expect("field shorter than 4 GiB");
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(b);
        self
    }
    /// Appends a UTF-8 string.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }
    /// Appends a big-endian u64.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }
    /// The finished encoding, moved out (not copied: encodings of secrets must leave no
    /// stray copy behind).
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

/// Reads a canonical encoding back, field by field.
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Opens an encoding and checks its domain label.
    pub fn new(buf: &'a [u8], domain: &str) -> Result<Self, CryptoError> {
        let mut r = Reader { rest: buf };
        if r.bytes()? != domain.as_bytes() {
            return Err(CryptoError::Malformed("domain label"));
        }
        Ok(r)
    }
    /// Next byte string.
    pub fn bytes(&mut self) -> Result<&'a [u8], CryptoError> {
        if self.rest.len() < 4 {
            return Err(CryptoError::Malformed("truncated field"));
        }
        let (len, rest) = self.rest.split_at(4);
        let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
        if rest.len() < len {
            return Err(CryptoError::Malformed("truncated field"));
        }
        let (v, rest) = rest.split_at(len);
        self.rest = rest;
        Ok(v)
    }
    /// Next UTF-8 string.
    pub fn str(&mut self) -> Result<&'a str, CryptoError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| CryptoError::Malformed("utf-8 field"))
    }
    /// Next big-endian u64.
    pub fn u64(&mut self) -> Result<u64, CryptoError> {
        let b: [u8; 8] = self
            .bytes()?
            .try_into()
            .map_err(|_| CryptoError::Malformed("integer field"))?;
        Ok(u64::from_be_bytes(b))
    }
    /// Next fixed 32-byte field.
    pub fn array32(&mut self) -> Result<[u8; 32], CryptoError> {
        self.bytes()?
            .try_into()
            .map_err(|_| CryptoError::Malformed("32-byte field"))
    }
    /// Fails unless every byte was consumed: trailing data is never ignored.
    pub fn end(self) -> Result<(), CryptoError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(CryptoError::Malformed("trailing data"))
        }
    }
}
