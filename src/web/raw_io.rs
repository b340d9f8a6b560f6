//! The security headers on responses that actix-http writes by itself (issue 5, section 8).
//!
//! When a request cannot be parsed (a broken request line, bad framing), actix-http's
//! dispatcher answers `400` on its own, and on a client that sends its head too slowly `408`,
//! with no hook: those responses never pass through the middleware that sets the security
//! headers. They reach Tor users directly, because the onion service connects to the intake
//! without nginx. This wrapper sits between the socket and the dispatcher and adds the header
//! block to any response head that lacks `content-security-policy`, which every response of
//! ours carries. Only a head at the start of a write is seen; a pipelined client that gets
//! such a response after another one in the same write harms nobody but its own connection.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A socket whose header-less response heads get `block` added.
pub struct HeaderedIo<T> {
    inner: T,
    block: Arc<[u8]>,
    pending: Vec<u8>,
    pos: usize,
}

impl<T> HeaderedIo<T> {
    /// Wraps `inner`; `block` is `name: value\r\n` lines.
    pub fn new(inner: T, block: Arc<[u8]>) -> Self {
        HeaderedIo {
            inner,
            block,
            pending: Vec::new(),
            pos: 0,
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The head to rewrite: a response status line at the start, ending within `buf`, without
/// our CSP.
fn bare_head(buf: &[u8]) -> Option<usize> {
    if !buf.starts_with(b"HTTP/1.") {
        return None;
    }
    let end = find(buf, b"\r\n\r\n")?;
    let head = buf[..end].to_ascii_lowercase();
    (find(&head, b"\r\ncontent-security-policy:").is_none()).then_some(end)
}

impl<T: AsyncWrite + Unpin> HeaderedIo<T> {
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.pos < self.pending.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.pos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pos += n;
        }
        self.pending.clear();
        self.pos = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for HeaderedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for HeaderedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = &mut *self;
        ready!(me.drain(cx))?;
        if let Some(end) = bare_head(buf) {
            // Status line and headers, then ours, then the blank line and any body.
            me.pending.extend_from_slice(&buf[..end + 2]);
            me.pending.extend_from_slice(&me.block);
            me.pending.extend_from_slice(&buf[end + 2..]);
            me.pos = 0;
            // Claimed as written; flush and shutdown finish it before anything else.
            if let Poll::Ready(Err(e)) = me.drain(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut me.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::bare_head;

    #[test]
    fn only_heads_without_our_csp_are_rewritten() {
        assert_eq!(
            bare_head(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"),
            Some(43)
        );
        assert_eq!(
            bare_head(b"HTTP/1.1 200 OK\r\nContent-Security-Policy: x\r\n\r\nbody"),
            None
        );
        assert_eq!(bare_head(b"{\"json\": 1}"), None);
    }
}
