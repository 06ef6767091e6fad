//! Reading sealed segments back: each is authenticated before any of its bytes is handed on.

use std::io;
use std::pin::Pin;

use aes_gcm::Aes256Gcm;
use bytes::Bytes;
use futures_util::{Stream, stream};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::format::{FormatError, SEALED_SEGMENT, open_segment};

/// Consecutive segments of one object, read from `reader` (positioned at the start of segment `next`).
pub struct Segments {
    pub reader: Pin<Box<dyn AsyncRead + Send>>,
    pub cipher: Aes256Gcm,
    /// Index of the next segment to read.
    pub next: u64,
    /// Index of the object's last segment (`u64::MAX` for an upload session's segments, none of which is last).
    pub last: u64,
    /// Index after the final segment wanted.
    pub end: u64,
    /// What the object is, for errors and logs.
    pub what: String,
}

impl Segments {
    /// The next segment's plaintext, `None` after the final one wanted. A segment that is short or fails
    /// authentication is an `InvalidData` error, logged: its bytes are never returned.
    pub async fn next_segment(&mut self) -> io::Result<Option<Vec<u8>>> {
        if self.next >= self.end {
            return Ok(None);
        }
        let index = self.next;
        let is_last = index == self.last;
        let mut buf = Vec::with_capacity(SEALED_SEGMENT as usize);
        (&mut self.reader).take(SEALED_SEGMENT).read_to_end(&mut buf).await?;
        let result = if !is_last && buf.len() as u64 != SEALED_SEGMENT {
            Err(FormatError::Segment(index))
        } else {
            open_segment(&self.cipher, index, is_last, &mut buf)
        };
        if let Err(e) = result {
            tracing::error!(object = %self.what, segment = index, "sealed {}: {e}; refusing to serve its bytes", self.what);
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", self.what)));
        }
        self.next += 1;
        Ok(Some(buf))
    }

    /// The plaintext from `skip` bytes into the first segment on, `len` bytes in all. `first` is the first segment
    /// when the caller read it already (to report damage before answering).
    pub fn stream(self, first: Option<Vec<u8>>, skip: usize, len: u64) -> impl Stream<Item = io::Result<Bytes>> + Send {
        stream::try_unfold((self, first, skip, len), |(mut segments, first, skip, left)| async move {
            if left == 0 {
                return Ok(None);
            }
            let segment = match first {
                Some(s) => Some(s),
                None => segments.next_segment().await?,
            };
            let Some(mut segment) = segment else {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("{} ended early", segments.what)));
            };
            segment.drain(..skip.min(segment.len()));
            segment.truncate(left.min(segment.len() as u64) as usize);
            let left = left - segment.len() as u64;
            Ok(Some((Bytes::from(segment), (segments, None, 0, left))))
        })
    }
}
