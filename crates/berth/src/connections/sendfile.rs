//! Zero-copy response bodies for plaintext HTTP/1.1: the bytes of a [`FileRegion`] go from the page cache to
//! the socket with `sendfile(2)`, never through user space.
//!
//! hyper owns the socket and writes whatever the body yields, so the body cannot hand it a file. Instead:
//!
//! - [`SendfileBody`] yields, for every piece of the region, a *placeholder* frame of the same length whose
//!   bytes lie in [`PLACEHOLDER`] (a static buffer that nothing else uses, never read), and queues the piece
//!   (file, offset, length) on the connection's [`Pending`] queue.
//! - hyper queues the frames as they are (the connection uses vectored writes, so frames are never copied into
//!   a buffer of hyper's own; see `writev(true)` where the connection is built) and writes them in order,
//!   after the response head.
//! - The connection's IO ([`super::WatchedIo`]) recognises a placeholder by its address: it writes whatever
//!   precedes it (the head) normally, and the placeholder itself with `sendfile` of the queued piece, for as
//!   many bytes as the socket takes; hyper advances past exactly that many placeholder bytes, so partial
//!   writes keep the two in step.
//!
//! Each write checks that the placeholder bytes hyper hands over are where the front piece expects them (the
//! same position in a frame of the same length); any mismatch fails the write, which ends the connection,
//! rather than sending other bytes. Only `GET` responses with status 200 or 206 get such a body (hyper writes
//! every frame of those or closes the connection), so a piece is never queued without being written.
//!
//! A `sendfile` whose file data is not in the page cache waits for the disk on the runtime's thread (as a
//! read would on the blocking pool); the kernel's readahead keeps that rare for sequential reads, and the
//! file is marked sequential when the body is made.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use berth_api::FileRegion;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Longest placeholder frame; its bytes are never touched (the static lives in zero-filled memory that is
/// not even mapped in until read).
const FRAME: usize = 1 << 20;
static PLACEHOLDER: [u8; FRAME] = [0; FRAME];

/// Whether `bytes` lie in the placeholder buffer, and where (the offset of their first byte in it).
fn placeholder_offset(bytes: &[u8]) -> Option<usize> {
    let start = PLACEHOLDER.as_ptr() as usize;
    let at = bytes.as_ptr() as usize;
    (!bytes.is_empty() && at >= start && at < start + FRAME).then(|| at - start)
}

/// One placeholder frame's piece of a file, and how much of it has been sent.
struct Piece {
    file: Arc<File>,
    offset: u64,
    len: usize,
    sent: usize,
}

/// The pieces whose placeholder frames hyper has taken but not yet fully written, in order. One per connection.
#[derive(Default)]
pub(super) struct Pending(Mutex<VecDeque<Piece>>);

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Piece>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `bufs` to `stream`: normally up to the first placeholder, or, when the first buffer is a
    /// placeholder, its bytes from the file with `sendfile`.
    pub(super) fn poll_write_vectored(
        &self,
        stream: &TcpStream,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let first = bufs.iter().position(|b| placeholder_offset(b).is_some());
        match first {
            None => poll_io(stream, cx, || stream.try_write_vectored(bufs)),
            Some(0) => self.poll_send(stream, cx, &bufs[0]),
            Some(n) => poll_io(stream, cx, || stream.try_write_vectored(&bufs[..n])),
        }
    }

    /// Sends the placeholder bytes `buf` from the front piece's file.
    fn poll_send(&self, stream: &TcpStream, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let mut pending = self.lock();
        let Some(piece) = pending.front_mut() else {
            return Poll::Ready(Err(out_of_step("no file piece is queued")));
        };
        if placeholder_offset(buf) != Some(piece.sent) || buf.len() > piece.len - piece.sent {
            return Poll::Ready(Err(out_of_step("the bytes written are not the next ones of the queued piece")));
        }
        let count = buf.len();
        let fd = piece.file.as_raw_fd();
        let Ok(start) = libc::off_t::try_from(piece.offset + piece.sent as u64) else {
            return Poll::Ready(Err(io::Error::other("file offset out of range")));
        };
        let result = poll_io(stream, cx, || {
            let mut offset = start;
            // SAFETY: both descriptors are open (the socket is borrowed, the file held by the piece);
            // `offset` is a valid off_t for the duration of the call.
            let n = unsafe { libc::sendfile(stream.as_raw_fd(), fd, &mut offset, count) };
            if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
        });
        if let Poll::Ready(Ok(n)) = result {
            if n == 0 {
                // The file ended early (it was truncated): the response cannot be completed.
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::UnexpectedEof, "blob file shorter than sent")));
            }
            piece.sent += n;
            if piece.sent == piece.len {
                pending.pop_front();
            }
        }
        result
    }
}

fn out_of_step(what: &str) -> io::Error {
    tracing::error!(what, "zero-copy response out of step with the connection; closing it");
    io::Error::other(format!("zero-copy response out of step: {what}"))
}

/// Runs a non-blocking socket operation when the socket is writable, waiting for writability on `WouldBlock`.
fn poll_io<T>(stream: &TcpStream, cx: &mut Context<'_>, mut op: impl FnMut() -> io::Result<T>) -> Poll<io::Result<T>> {
    loop {
        std::task::ready!(stream.poll_write_ready(cx))?;
        match stream.try_io(Interest::WRITABLE, &mut op) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            result => return Poll::Ready(result),
        }
    }
}

/// A response body of placeholder frames for the bytes of a [`FileRegion`] (see the module documentation).
pub(super) struct SendfileBody {
    pending: Arc<Pending>,
    file: Arc<File>,
    next: u64,
    end: u64,
}

impl SendfileBody {
    pub(super) fn new(pending: Arc<Pending>, region: FileRegion) -> SendfileBody {
        // Advice only: a failure changes nothing but the readahead.
        // SAFETY: the descriptor is open; posix_fadvise reads no memory.
        unsafe {
            libc::posix_fadvise(region.file.as_raw_fd(), 0, 0, libc::POSIX_FADV_SEQUENTIAL);
        }
        SendfileBody { pending, file: region.file, next: region.offset, end: region.offset + region.len }
    }
}

impl HttpBody for SendfileBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if this.next >= this.end {
            return Poll::Ready(None);
        }
        let len = usize::try_from(this.end - this.next).unwrap_or(FRAME).min(FRAME);
        this.pending.lock().push_back(Piece { file: this.file.clone(), offset: this.next, len, sent: 0 });
        this.next += len as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&PLACEHOLDER[..len])))))
    }

    fn is_end_stream(&self) -> bool {
        self.next >= self.end
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.end - self.next)
    }
}
