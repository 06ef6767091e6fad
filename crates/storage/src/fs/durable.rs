//! Blocking helpers: running filesystem work off the async runtime, and making directory changes durable.

use std::fs;
use std::io;
use std::path::Path;

use crate::{Result, StorageError};

/// Runs blocking filesystem work on tokio's blocking pool.
///
/// The closure keeps running to completion even if the calling future is dropped; callers that must not
/// race with such leftovers run their work under a session fence (see [`super::fence`]).
pub(crate) async fn blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(join_error)?
}

/// A blocking task that panicked or was cancelled at shutdown, reported as an I/O error rather than a panic.
pub(crate) fn join_error(e: tokio::task::JoinError) -> StorageError {
    StorageError::Io(io::Error::other(format!("blocking storage task failed: {e}")))
}

/// Flushes a directory, so that entries created, renamed or removed in it survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        // Directories cannot be opened (and need no flush) on other platforms.
        let _ = dir;
        Ok(())
    }
}

/// Creates `dir` and any missing parents, flushing the parent of every directory it creates so that a path
/// leading to a newly committed blob cannot vanish in a crash.
///
/// An existing directory is trusted to be durable already. (Strictly, one created a moment ago by a concurrent
/// commit may not have had its parent flushed yet; on journaling filesystems the commit's own directory flush
/// persists that `mkdir` too.)
pub(crate) fn create_dir_durable(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = match dir.parent() {
        // The parent of a relative single-component path is the current directory.
        Some(p) if p.as_os_str().is_empty() => Some(Path::new(".")),
        other => other,
    };
    if let Some(parent) = parent {
        create_dir_durable(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        // Lost a race with a concurrent commit: flush the parent anyway, since the winner may not have yet.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
        Err(e) => return Err(e),
    }
    match parent {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

/// Maps "not found" to `Ok(None)`.
pub(crate) fn optional<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
