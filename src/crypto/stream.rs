//! Sealed streams for attachments: the STREAM construction (Hoang, Reyhanitabar, Rogaway and
//! Vizár, "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", 2015) over
//! XChaCha20-Poly1305, so a 20 MB file is sealed and opened in 64 KiB pieces without ever being
//! whole in memory, and a cut, extended, reordered or spliced stream fails.
//!
//! Wire format: `version (1) ‖ nonce prefix (19) ‖ chunk₀ ‖ chunk₁ ‖ …`, each chunk being
//! [`CHUNK`] bytes of plaintext sealed (+16 tag), the last one possibly shorter. Chunk *i* is
//! sealed under the nonce `prefix ‖ i (u32, big-endian) ‖ last (0 or 1)`, and every chunk
//! carries the same AAD ([`BlobAad`]: report, blob id, purpose). So:
//! - a chunk moved to another position or another stream fails (counter, prefix, AAD);
//! - dropping the tail fails, because the chunk that then ends the stream was sealed with
//!   `last = 0`;
//! - anything appended fails, because the real last chunk, now followed by more, was sealed
//!   with `last = 1`.
//!
//! The plaintext is padded before sealing: `data ‖ zeros ‖ length (u64, big-endian)`, to a
//! power-of-two total of at least [`MIN_BUCKET`], so the blob store learns a size bucket, not a
//! size (I1). The opener is told the length it expects (the sealed item that refers to the blob
//! says it), emits exactly that many bytes, and checks the zeros and the trailer at the end.

use super::CryptoError;
use super::canon::Writer;
use super::primitives::{SecretKey32, os_fill};
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

/// Format version of sealed streams.
pub const STREAM_VERSION: u8 = 1;
/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
/// Smallest padded size of a stream's plaintext.
pub const MIN_BUCKET: u64 = 4096;
/// Bytes before the first chunk: version and nonce prefix.
pub const HEADER_LEN: usize = 1 + PREFIX_LEN;
const PREFIX_LEN: usize = 19;
const TAG_LEN: usize = 16;
const SEALED_CHUNK: usize = CHUNK + TAG_LEN;
const TRAILER: u64 = 8;

/// What a blob is for; bound into every chunk so a thumbnail cannot stand in for its original.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum BlobPurpose {
    /// A reporter's attachment, sanitized, under K_r.
    Attachment = 1,
    /// The sanitizer's thumbnail of an attachment.
    Thumbnail = 2,
    /// An upload spooled to disk under a throwaway key while it is checked (never stored).
    Spool = 3,
    /// A file kept as it came, because the reporter consented that its metadata stays.
    Unsanitized = 4,
}

/// Everything a sealed stream is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobAad {
    /// The report (zeros for a spool, which belongs to no report yet).
    pub report_id: [u8; 16],
    /// The blob's own random id.
    pub blob_id: [u8; 16],
    /// What it is for.
    pub purpose: BlobPurpose,
}

impl BlobAad {
    fn encode(&self) -> Vec<u8> {
        Writer::new("bisik-blob-aad")
            .bytes(&[STREAM_VERSION])
            .bytes(&self.report_id)
            .bytes(&self.blob_id)
            .bytes(&[self.purpose as u8])
            .finish()
    }
}

/// The padded plaintext size for `len` data bytes.
pub fn padded_len(len: u64) -> u64 {
    (len + TRAILER).max(MIN_BUCKET).next_power_of_two()
}

/// The sealed size of a stream of `len` data bytes (what the blob store holds).
pub fn sealed_len(len: u64) -> u64 {
    let p = padded_len(len);
    let chunks = p.div_ceil(CHUNK as u64);
    HEADER_LEN as u64 + p + chunks * TAG_LEN as u64
}

fn nonce(prefix: &[u8; PREFIX_LEN], counter: u32, last: bool) -> XNonce {
    let mut n = [0u8; 24];
    n[..PREFIX_LEN].copy_from_slice(prefix);
    n[PREFIX_LEN..PREFIX_LEN + 4].copy_from_slice(&counter.to_be_bytes());
    n[23] = u8::from(last);
    XNonce::from(n)
}

/// Seals a stream piece by piece. Data goes in with [`Sealer::push`]; sealed bytes come out
/// into the caller's buffer as each chunk fills; [`Sealer::finish`] pads and seals the rest.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    aad: Vec<u8>,
    prefix: [u8; PREFIX_LEN],
    counter: u32,
    buf: Zeroizing<Vec<u8>>,
    len: u64,
    done: bool,
}

impl Sealer {
    /// A sealer under `key` with a fresh random nonce prefix; `out` receives the header.
    pub fn new(key: &SecretKey32, aad: &BlobAad, out: &mut Vec<u8>) -> Sealer {
        let mut prefix = [0u8; PREFIX_LEN];
        os_fill(&mut prefix);
        out.push(STREAM_VERSION);
        out.extend_from_slice(&prefix);
        Sealer {
            cipher: XChaCha20Poly1305::new(&Key::from(*key.expose())),
            aad: aad.encode(),
            prefix,
            counter: 0,
            buf: Zeroizing::new(Vec::with_capacity(CHUNK)),
            len: 0,
            done: false,
        }
    }

    /// Data bytes pushed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing has been pushed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn seal_chunk(&mut self, last: bool, out: &mut Vec<u8>) {
        let buf = std::mem::take(&mut *self.buf);
        self.seal_from(&buf, last, out);
        *self.buf = buf;
        self.buf.clear();
    }

    /// Seals `plain` as the next chunk straight into `out` (one copy, encrypted in place).
    fn seal_from(&mut self, plain: &[u8], last: bool, out: &mut Vec<u8>) {
        let n = nonce(&self.prefix, self.counter, last);
        let start = out.len();
        out.extend_from_slice(plain);
        let tag = self
            .cipher
            .encrypt_inout_detached(&n, &self.aad, (&mut out[start..]).into())
            .expect("XChaCha20-Poly1305 encryption of a 64 KiB chunk cannot fail");
        out.extend_from_slice(&tag);
        // 2^32 chunks are 256 TiB; attachments are capped far below, so this never wraps.
        self.counter = self
            .counter
            .checked_add(1)
            .expect("a stream is far below 2^32 chunks");
    }

    /// Adds data; every full chunk is sealed into `out` at once. A full chunk is never the
    /// last, because [`Sealer::finish`] always adds at least the length trailer after it.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) {
        self.len += data.len() as u64;
        while !data.is_empty() {
            // Whole chunks with nothing pending skip the buffer: sealed from `data` directly.
            if self.buf.is_empty() && data.len() >= CHUNK {
                let (chunk, rest) = data.split_at(CHUNK);
                self.seal_from(chunk, false, out);
                data = rest;
                continue;
            }
            let take = (CHUNK - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == CHUNK {
                self.seal_chunk(false, out);
            }
        }
    }

    /// Pads, writes the length trailer and seals what is left, the final chunk marked last.
    /// Returns the number of data bytes sealed. The padding can be up to half a bucket (12 MB
    /// for a 20 MB file): a caller that must stay small in memory uses
    /// [`Sealer::finish_chunk`] instead and writes `out` away between calls.
    pub fn finish(mut self, out: &mut Vec<u8>) -> u64 {
        while !self.finish_chunk(out) {}
        self.len
    }

    /// Seals one more chunk of padding and trailer into `out`; true once the final chunk is
    /// sealed. Push no more data once this has been called.
    pub fn finish_chunk(&mut self, out: &mut Vec<u8>) -> bool {
        if self.done {
            return true;
        }
        let total = padded_len(self.len);
        let zeros_end = total - TRAILER;
        let trailer = self.len.to_be_bytes();
        // Plaintext offset of the buffer's end.
        let mut at = self.counter as u64 * CHUNK as u64 + self.buf.len() as u64;
        while self.buf.len() < CHUNK && at < total {
            if at < zeros_end {
                let n = ((zeros_end - at) as usize).min(CHUNK - self.buf.len());
                let to = self.buf.len() + n;
                self.buf.resize(to, 0);
                at += n as u64;
            } else {
                self.buf.push(trailer[(at - zeros_end) as usize]);
                at += 1;
            }
        }
        let last = at == total;
        self.seal_chunk(last, out);
        self.done = last;
        last
    }
}

/// Opens a stream piece by piece, emitting exactly the expected number of data bytes and
/// failing on the first chunk that does not authenticate, on a cut and on extra data.
pub struct Opener {
    cipher: XChaCha20Poly1305,
    aad: Vec<u8>,
    prefix: Option<[u8; PREFIX_LEN]>,
    counter: u32,
    buf: Zeroizing<Vec<u8>>,
    expected: u64,
    /// Plaintext offset of the next chunk.
    at: u64,
    /// The trailer bytes seen so far (it may straddle two chunks).
    trailer: Vec<u8>,
}

impl Opener {
    /// An opener for a stream sealed under `key` and `aad` that holds `expected` data bytes.
    pub fn new(key: &SecretKey32, aad: &BlobAad, expected: u64) -> Opener {
        Opener {
            cipher: XChaCha20Poly1305::new(&Key::from(*key.expose())),
            aad: aad.encode(),
            prefix: None,
            counter: 0,
            buf: Zeroizing::new(Vec::with_capacity(SEALED_CHUNK + 1)),
            expected,
            at: 0,
            trailer: Vec::with_capacity(8),
        }
    }

    fn open_chunk(&mut self, len: usize, last: bool, out: &mut Vec<u8>) -> Result<(), CryptoError> {
        let prefix = self.prefix.ok_or(CryptoError::Malformed("stream header"))?;
        if len < TAG_LEN + 1 {
            return Err(CryptoError::Malformed("stream chunk"));
        }
        let total = padded_len(self.expected);
        let plain_len = (len - TAG_LEN) as u64;
        if self.at + plain_len > total || (last && self.at + plain_len != total) {
            return Err(CryptoError::Malformed("stream length"));
        }
        let n = nonce(&prefix, self.counter, last);
        let (ct, tag) = self.buf[..len].split_at_mut(len - TAG_LEN);
        let tag: [u8; TAG_LEN] = (&*tag).try_into().expect("16 bytes");
        self.cipher
            .decrypt_inout_detached(&n, &self.aad, ct.into(), &tag.into())
            .map_err(|_| CryptoError::Authentication)?;
        let zeros_end = total - TRAILER;
        for (i, &b) in ct.iter().enumerate() {
            let pos = self.at + i as u64;
            if pos < self.expected {
                continue;
            }
            if pos < zeros_end {
                if b != 0 {
                    return Err(CryptoError::Malformed("stream padding"));
                }
            } else {
                self.trailer.push(b);
            }
        }
        let data_end = (self.expected.saturating_sub(self.at)).min(plain_len) as usize;
        out.extend_from_slice(&ct[..data_end]);
        self.at += plain_len;
        self.buf.drain(..len);
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or(CryptoError::Malformed("stream length"))?;
        Ok(())
    }

    /// Adds sealed bytes; the plaintext of every chunk known not to be the last goes to `out`.
    /// A chunk is known not to be the last once a byte after it has arrived.
    pub fn push(&mut self, mut sealed: &[u8], out: &mut Vec<u8>) -> Result<(), CryptoError> {
        while !sealed.is_empty() {
            if self.prefix.is_none() {
                let take = (HEADER_LEN - self.buf.len()).min(sealed.len());
                self.buf.extend_from_slice(&sealed[..take]);
                sealed = &sealed[take..];
                if self.buf.len() == HEADER_LEN {
                    if self.buf[0] != STREAM_VERSION {
                        return Err(CryptoError::Malformed("stream version"));
                    }
                    self.prefix = Some(self.buf[1..].try_into().expect("19 bytes"));
                    self.buf.clear();
                }
                continue;
            }
            let take = (SEALED_CHUNK + 1 - self.buf.len()).min(sealed.len());
            self.buf.extend_from_slice(&sealed[..take]);
            sealed = &sealed[take..];
            if self.buf.len() > SEALED_CHUNK {
                self.open_chunk(SEALED_CHUNK, false, out)?;
            }
        }
        Ok(())
    }

    /// Opens the final chunk and checks the padding and the length trailer.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), CryptoError> {
        let len = self.buf.len();
        self.open_chunk(len, true, out)?;
        if self.trailer.as_slice() != self.expected.to_be_bytes() {
            return Err(CryptoError::Malformed("stream length"));
        }
        Ok(())
    }
}

/// Seals a whole buffer (thumbnails, tests).
pub fn seal_all(key: &SecretKey32, aad: &BlobAad, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(sealed_len(data.len() as u64) as usize);
    let mut s = Sealer::new(key, aad, &mut out);
    s.push(data, &mut out);
    s.finish(&mut out);
    out
}

/// Opens a whole buffer sealed by [`seal_all`] or a [`Sealer`].
pub fn open_all(
    key: &SecretKey32,
    aad: &BlobAad,
    expected: u64,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut out = Zeroizing::new(Vec::with_capacity(expected.min(64 << 20) as usize));
    let mut o = Opener::new(key, aad, expected);
    o.push(sealed, &mut out)?;
    o.finish(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aad() -> BlobAad {
        BlobAad {
            report_id: [1; 16],
            blob_id: [2; 16],
            purpose: BlobPurpose::Attachment,
        }
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + 3) as u8).collect()
    }

    #[test]
    fn round_trips_at_every_boundary_and_in_any_pieces() {
        let k = SecretKey32::random();
        for n in [
            0,
            1,
            4087,
            4088,
            4089,
            CHUNK - 8,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            3 * CHUNK + 5,
            200_000,
        ] {
            let d = data(n);
            let sealed = seal_all(&k, &aad(), &d);
            assert_eq!(sealed.len() as u64, sealed_len(n as u64), "size for {n}");
            assert_eq!(
                open_all(&k, &aad(), n as u64, &sealed).unwrap().as_slice(),
                d
            );
            // Fed in odd pieces, sealed in odd pieces: the same.
            let mut out = Vec::new();
            let mut s = Sealer::new(&k, &aad(), &mut out);
            for piece in d.chunks(7919) {
                s.push(piece, &mut out);
            }
            assert_eq!(s.finish(&mut out), n as u64);
            let mut o = Opener::new(&k, &aad(), n as u64);
            let mut plain = Vec::new();
            for piece in out.chunks(1021) {
                o.push(piece, &mut plain).unwrap();
            }
            o.finish(&mut plain).unwrap();
            assert_eq!(plain, d);
        }
    }

    #[test]
    fn sizes_are_power_of_two_buckets() {
        assert_eq!(padded_len(0), MIN_BUCKET);
        assert_eq!(padded_len(4088), 4096);
        assert_eq!(padded_len(4089), 8192);
        assert_eq!(padded_len(20_000_000), 32 << 20);
        let k = SecretKey32::random();
        assert_eq!(
            seal_all(&k, &aad(), &data(5000)).len(),
            seal_all(&k, &aad(), &data(8000)).len()
        );
    }

    #[test]
    fn a_cut_an_extension_a_swap_and_a_flipped_bit_all_fail() {
        let k = SecretKey32::random();
        let n = 3 * CHUNK as u64;
        let sealed = seal_all(&k, &aad(), &data(n as usize));
        let c = SEALED_CHUNK;
        let h = HEADER_LEN;
        assert_eq!(sealed.len(), h + 4 * c, "3 chunks of data, one of padding");
        // Cut at a chunk boundary: the new end was not sealed as the last chunk.
        assert!(open_all(&k, &aad(), n, &sealed[..h + 3 * c]).is_err());
        // Cut inside a chunk.
        assert!(open_all(&k, &aad(), n, &sealed[..sealed.len() - 1]).is_err());
        // Extra data after the last chunk, a whole sealed chunk or a byte.
        let mut longer = sealed.clone();
        longer.extend_from_slice(&sealed[h..h + c]);
        assert!(open_all(&k, &aad(), n, &longer).is_err());
        let mut longer = sealed.clone();
        longer.push(0);
        assert!(open_all(&k, &aad(), n, &longer).is_err());
        // Two chunks swapped.
        let mut swapped = sealed.clone();
        swapped[h..h + c].copy_from_slice(&sealed[h + c..h + 2 * c]);
        swapped[h + c..h + 2 * c].copy_from_slice(&sealed[h..h + c]);
        assert!(open_all(&k, &aad(), n, &swapped).is_err());
        // A flipped bit anywhere.
        for at in [0, 5, h, h + c + 9, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[at] ^= 1;
            assert!(open_all(&k, &aad(), n, &bad).is_err(), "bit at {at}");
        }
        // Another blob's AAD, purpose or key.
        let mut other = aad();
        other.blob_id[0] ^= 1;
        assert!(open_all(&k, &other, n, &sealed).is_err());
        let mut other = aad();
        other.purpose = BlobPurpose::Thumbnail;
        assert!(open_all(&k, &other, n, &sealed).is_err());
        assert!(open_all(&SecretKey32::random(), &aad(), n, &sealed).is_err());
        // A wrong expected length (the referring item lies, or the blob was swapped for a
        // same-bucket one of another length).
        assert!(open_all(&k, &aad(), n - 1, &sealed).is_err());
        assert!(open_all(&k, &aad(), n + 1, &sealed).is_err());
        // A chunk of another stream under the same key and AAD (another prefix).
        let other_stream = seal_all(&k, &aad(), &data(n as usize));
        let mut spliced = sealed.clone();
        spliced[h + c..h + 2 * c].copy_from_slice(&other_stream[h + c..h + 2 * c]);
        assert!(open_all(&k, &aad(), n, &spliced).is_err());
    }

    #[test]
    fn an_opener_gives_out_nothing_unauthenticated() {
        let k = SecretKey32::random();
        let n = 2 * CHUNK;
        let mut sealed = seal_all(&k, &aad(), &data(n));
        let h = HEADER_LEN;
        sealed[h + SEALED_CHUNK + 3] ^= 0x80;
        let mut o = Opener::new(&k, &aad(), n as u64);
        let mut out = Vec::new();
        let r = o.push(&sealed, &mut out);
        assert!(r.is_err());
        // Only the first (authentic) chunk came out.
        assert_eq!(out, data(n)[..CHUNK]);
    }
}
