//! Streaming a request body into an upload file, fast.
//!
//! Bodies arrive as many small chunks (typically 8–400 KiB, as hyper reads them). Handing each to the blocking
//! pool would cost a thread hand-off per chunk and cap throughput well below what the disk can take, so chunks
//! are copied into [`WRITE_BUF`]-sized staging buffers and each full buffer is written with one blocking
//! positional write. While one buffer is being written on the blocking pool, the next fills from the body, so
//! receiving and writing overlap. At most one write is in flight, which keeps writes in order and bounds what
//! an upload holds to two staging buffers (2 × ([`WRITE_BUF`] + [`ALIGN`]), about 2 MiB), whatever the size of
//! the body or the number of uploads running at once; chunks are dropped as soon as they are copied.
//!
//! Full buffers after the first are written with `O_DIRECT` where the filesystem supports it (they start at a
//! block-aligned offset, hold a whole number of blocks and lie in block-aligned memory): the disk reads them
//! from the staging buffer, instead of the kernel copying every byte into newly allocated page-cache pages,
//! which was as expensive as hashing it. The first buffer (a small body's only one, sized so that the next
//! starts aligned) and the last, partial one are written through the page cache. Durability is unchanged: the
//! append ends with `fdatasync` either way. A freshly pushed blob is thus mostly not in the page cache; its
//! first download reads it from the disk.
//!
//! Every blocking step runs under the session's [`Fence`]: the first one takes the session over, the later
//! ones run only while no other operation has taken it over since.

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::task::JoinHandle;

use super::durable::{blocking, join_error};
use super::fence::{Fence, Session, superseded};
use crate::{ByteStream, Result, StorageError};

/// Size of a staging buffer, and so of a write. Big enough to amortise the blocking hand-off and the syscall;
/// small enough that two per concurrent upload are cheap.
pub(crate) const WRITE_BUF: usize = 1 << 20;
/// Alignment of `O_DIRECT` writes (offset, length and memory): the largest logical block size in use.
const ALIGN: usize = 4096;

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
    let direct = open_direct(&file);
    let mut writer = Writer { file: Arc::new(file), direct, fence, generation, pos: offset, in_flight: None };

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

/// Another descriptor of `file` for `O_DIRECT` writes, or `None` where the filesystem does not take them.
#[cfg(target_os = "linux")]
fn open_direct(file: &File) -> Option<Arc<File>> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    // Through /proc/self/fd: the same file even if the session's path changed meanwhile (it cannot, but the
    // descriptor is what this append holds).
    let path = format!("/proc/self/fd/{}", file.as_raw_fd());
    File::options().write(true).custom_flags(libc::O_DIRECT).open(path).ok().map(Arc::new)
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_file: &File) -> Option<Arc<File>> {
    None
}

/// Reads `body` to its end, inspecting every chunk and handing full staging buffers to `writer`.
async fn pump<F: FnMut(&[u8]) + Send + ?Sized>(
    writer: &mut Writer,
    body: &mut ByteStream,
    inspect: &mut F,
) -> Result<()> {
    // The first buffer grows with the data, so a small body never allocates a whole `WRITE_BUF`; it ends where
    // the file offset becomes block-aligned, so that the following (full) buffers can be written directly.
    let mut buf = Staging::growable();
    let mut limit = WRITE_BUF - (writer.pos % ALIGN as u64) as usize;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| StorageError::Body(e.to_string()))?;
        inspect(&chunk);
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            let n = rest.len().min(limit - buf.len);
            buf.push(&rest[..n]);
            rest = &rest[n..];
            if buf.len == limit {
                let full = std::mem::replace(&mut buf, Staging::growable());
                buf = writer.submit(full, true).await?.filter(|b| b.aligned).unwrap_or_else(Staging::aligned);
                limit = WRITE_BUF;
            }
        }
    }
    if buf.len > 0 {
        writer.submit(buf, false).await?;
    }
    Ok(())
}

/// A staging buffer: either growing (the first of an append) or fixed at [`WRITE_BUF`] bytes starting at an
/// [`ALIGN`]-aligned address (for `O_DIRECT`).
struct Staging {
    mem: Vec<u8>,
    /// Where the buffer starts in `mem`.
    start: usize,
    len: usize,
    aligned: bool,
}

impl Staging {
    fn growable() -> Staging {
        Staging { mem: Vec::new(), start: 0, len: 0, aligned: false }
    }

    fn aligned() -> Staging {
        let mem = vec![0u8; WRITE_BUF + ALIGN];
        let start = mem.as_ptr().align_offset(ALIGN).min(ALIGN);
        Staging { mem, start, len: 0, aligned: true }
    }

    fn push(&mut self, data: &[u8]) {
        if self.aligned {
            self.mem[self.start + self.len..][..data.len()].copy_from_slice(data);
        } else {
            self.mem.extend_from_slice(data);
        }
        self.len += data.len();
    }

    fn bytes(&self) -> &[u8] {
        &self.mem[self.start..self.start + self.len]
    }

    fn clear(&mut self) {
        self.len = 0;
        if !self.aligned {
            self.mem.clear();
        }
    }

    /// Whether `O_DIRECT` can write these bytes at `pos`.
    fn direct_at(&self, pos: u64) -> bool {
        pos.is_multiple_of(ALIGN as u64)
            && self.len.is_multiple_of(ALIGN)
            && (self.bytes().as_ptr() as usize).is_multiple_of(ALIGN)
    }
}

/// Writes staging buffers in order, one blocking write in flight at a time.
struct Writer {
    file: Arc<File>,
    /// The same file opened with `O_DIRECT`, when the filesystem takes it.
    direct: Option<Arc<File>>,
    fence: Arc<Fence>,
    /// The generation this append started; its writes stop once another operation takes the session over.
    generation: u64,
    /// File offset after all submitted buffers.
    pos: u64,
    /// The write in flight; yields its buffer back, emptied, for reuse.
    in_flight: Option<JoinHandle<io::Result<Staging>>>,
}

impl Writer {
    /// Waits for the previous write, then starts writing `buf` at the end of what was submitted, directly if
    /// `direct` and the buffer allows it. Returns the previous write's buffer for reuse.
    async fn submit(&mut self, mut buf: Staging, direct: bool) -> Result<Option<Staging>> {
        let spare = self.wait().await?;
        let (file, fence, generation) = (Arc::clone(&self.file), Arc::clone(&self.fence), self.generation);
        let pos = self.pos;
        let direct = if direct && buf.direct_at(pos) { self.direct.clone() } else { None };
        self.pos += buf.len as u64;
        self.in_flight = Some(tokio::task::spawn_blocking(move || {
            fence
                .check(generation, |_| write_at(&file, direct.as_deref(), buf.bytes(), pos))
                .unwrap_or_else(|| Err(superseded()))?;
            buf.clear();
            Ok(buf)
        }));
        Ok(spare)
    }

    /// Waits for the write in flight, if any.
    async fn wait(&mut self) -> Result<Option<Staging>> {
        match self.in_flight.take() {
            None => Ok(None),
            Some(handle) => Ok(Some(handle.await.map_err(join_error)??)),
        }
    }
}

/// Writes `bytes` at `pos`: through `direct` when given, falling back to the page cache if the filesystem
/// refuses the direct write (`EINVAL`: an alignment it needs larger than [`ALIGN`]).
fn write_at(file: &File, direct: Option<&File>, bytes: &[u8], pos: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    if let Some(direct) = direct {
        match direct.write_all_at(bytes, pos) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            done => return done,
        }
    }
    file.write_all_at(bytes, pos)
}
