//! Streaming a request body into an upload file, fast.
//!
//! Bodies arrive as many small chunks (typically 8–64 KiB). Handing each to the blocking pool would cost a
//! thread hand-off per chunk and cap throughput well below what the page cache can take, so chunks are
//! coalesced into [`WRITE_BUF`]-sized buffers and each full buffer is written with one blocking `write_all`.
//! Two buffers alternate: while one is being written on the blocking pool, the next fills from the body, so
//! receiving and writing overlap. At most one write is in flight, which keeps writes in order (they share
//! the file cursor) and bounds memory to two buffers per upload.
//!
//! Every blocking step runs under the session's [`Fence`]: the first one takes the session over, the later
//! ones run only while no other operation has taken it over since.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::BytesMut;
use futures_util::StreamExt;
use tokio::task::JoinHandle;

use super::durable::{blocking, join_error};
use super::fence::{Fence, Session, superseded};
use crate::{ByteStream, Result, StorageError};

/// Size of a coalesced write. Big enough to amortise the blocking hand-off and the syscall; small enough that
/// two per concurrent upload are cheap.
pub(crate) const WRITE_BUF: usize = 1 << 20;

/// Appends `body` to the upload file at `path` at byte `offset`; see [`crate::BlobStore::append_upload`].
/// Returns the new size of the file.
///
/// On a failure after bytes were written, the file is truncated back to `offset` (best effort), so the
/// session keeps matching the size its caller recorded.
pub(crate) async fn append<F: FnMut(&[u8]) + Send + ?Sized>(
    path: PathBuf,
    id: &str,
    fence: Arc<Fence>,
    offset: u64,
    mut body: ByteStream,
    inspect: &mut F,
) -> Result<u64> {
    let (file, generation, truncated) = {
        let fence = Arc::clone(&fence);
        let id = id.to_string();
        blocking(move || {
            let (generation, opened) = fence.supersede(|session| {
                let opened = open_at(&path, &id, offset, session)?;
                // Until this append completes, bytes from `offset` on are not acknowledged.
                session.unacked_from = Some(offset);
                Ok::<_, StorageError>(opened)
            });
            let (file, truncated) = opened?;
            Ok((file, generation, truncated))
        })
        .await?
    };
    let mut writer = Writer { file: Arc::new(file), fence, generation, pos: offset, in_flight: None };

    let streamed = pump(&mut writer, &mut body, inspect).await;
    // Whatever happened, wait for the last write: nothing may still be writing when this returns.
    let drained = writer.wait().await;
    let result = streamed.and(drained.map(drop));

    let Writer { file, fence, generation, pos, .. } = writer;
    let written = pos > offset;
    blocking(move || match result {
        Ok(()) => {
            let flushed = fence.check(generation, |session| {
                if written || truncated {
                    file.sync_data()?;
                }
                session.unacked_from = None;
                Ok::<_, io::Error>(())
            });
            flushed.unwrap_or_else(|| Err(superseded()))?;
            Ok(pos)
        }
        Err(e) => {
            let rolled_back = fence.check(generation, |session| {
                if written {
                    file.set_len(offset)?;
                }
                session.unacked_from = None;
                Ok::<_, io::Error>(())
            });
            if let Some(Err(rollback)) = rolled_back {
                // The mark stays: the bytes past `offset` still do not count.
                tracing::warn!(error = %rollback, "could not roll back a failed upload append");
            }
            Err(e)
        }
    })
    .await
}

/// Opens the upload file for writing at `offset`, discarding any bytes beyond it. Returns the file and
/// whether it was truncated. Unacknowledged bytes do not count towards the session's size.
fn open_at(path: &Path, id: &str, offset: u64, session: &Session) -> Result<(File, bool)> {
    let mut file = match File::options().write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StorageError::UploadNotFound(id.to_string())),
        Err(e) => return Err(e.into()),
    };
    let len = file.metadata()?.len();
    let held = session.acknowledged(len);
    if held < offset {
        return Err(StorageError::UploadOffsetMismatch { expected: offset, actual: held });
    }
    let truncated = len > offset;
    if truncated {
        // Bytes of an earlier append that failed (or whose response was lost): the caller did not count them.
        file.set_len(offset)?;
    }
    file.seek(SeekFrom::Start(offset))?;
    Ok((file, truncated))
}

/// Reads `body` to its end, inspecting every chunk and handing full buffers to `writer`.
async fn pump<F: FnMut(&[u8]) + Send + ?Sized>(
    writer: &mut Writer,
    body: &mut ByteStream,
    inspect: &mut F,
) -> Result<()> {
    // The first buffer grows with the data, so a small body never allocates a whole `WRITE_BUF`.
    let mut buf = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| StorageError::Body(e.to_string()))?;
        inspect(&chunk);
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            let n = rest.len().min(WRITE_BUF - buf.len());
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if buf.len() == WRITE_BUF {
                let full = std::mem::take(&mut buf);
                buf = writer.submit(full).await?.unwrap_or_else(|| BytesMut::with_capacity(WRITE_BUF));
            }
        }
    }
    if !buf.is_empty() {
        writer.submit(buf).await?;
    }
    Ok(())
}

/// Writes buffers in order, one blocking write in flight at a time.
struct Writer {
    file: Arc<File>,
    fence: Arc<Fence>,
    /// The generation this append started; its writes stop once another operation takes the session over.
    generation: u64,
    /// File offset after all submitted buffers.
    pos: u64,
    /// The write in flight; yields its buffer back, emptied, for reuse.
    in_flight: Option<JoinHandle<io::Result<BytesMut>>>,
}

impl Writer {
    /// Waits for the previous write, then starts writing `buf`. Returns the previous write's buffer for reuse.
    async fn submit(&mut self, mut buf: BytesMut) -> Result<Option<BytesMut>> {
        let spare = self.wait().await?;
        let (file, fence, generation) = (Arc::clone(&self.file), Arc::clone(&self.fence), self.generation);
        self.pos += buf.len() as u64;
        self.in_flight = Some(tokio::task::spawn_blocking(move || {
            fence.check(generation, |_| (&*file).write_all(&buf)).unwrap_or_else(|| Err(superseded()))?;
            buf.clear();
            Ok(buf)
        }));
        Ok(spare)
    }

    /// Waits for the write in flight, if any.
    async fn wait(&mut self) -> Result<Option<BytesMut>> {
        match self.in_flight.take() {
            None => Ok(None),
            Some(handle) => Ok(Some(handle.await.map_err(join_error)??)),
        }
    }
}
