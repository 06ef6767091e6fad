//! The sync behind the group-commit [`Barrier`](super::barrier::Barrier): fdatasync of `<db>-wal`.
//!
//! # Why syncing the WAL after the commit is enough
//!
//! The writer runs with `synchronous = NORMAL`. In WAL mode SQLite then `write()`s a transaction's frames
//! (and its commit frame) to the WAL before the commit returns, without fsyncing them: at commit they are
//! in the OS page cache. An fdatasync of the WAL that starts after the commit returned writes them to disk,
//! and from then on the transaction survives power loss. fdatasync also persists the file size, which an
//! appended WAL needs. Recovery replays the WAL up to the first frame whose checksum chain breaks, so a
//! synced WAL is a consistent prefix of the commit history: a commit being durable implies every earlier
//! commit is too (which is also why a `put_manifest` that observed a not-yet-durable `link_blob` is safe).
//!
//! The frames might no longer be in the WAL when the sync runs, because a checkpoint moved them into the
//! database and the WAL was restarted (overwritten from the start), truncated, or deleted. None of that
//! happens before they are durable elsewhere: with `synchronous = NORMAL` a checkpoint fsyncs the WAL, copies
//! the frames into the database file, and fsyncs the database file once every frame is copied; SQLite
//! restarts or truncates the WAL only after such a complete checkpoint, and deletes it only when the last
//! connection closes after a complete, synced checkpoint. So whenever the sync does not find our frames,
//! they are already on disk in the database file.
//!
//! A new WAL's directory entry is made durable by SQLite itself: a newly created WAL is opened with a
//! pending directory sync, done at its first fsync, which is the WAL-header sync that SQLite does (also
//! under `NORMAL`) before writing the first frame of a new or restarted WAL.
//!
//! # Why a fresh descriptor each time
//!
//! The WAL may be deleted and recreated (by a close and reopen, or by another process), so a descriptor
//! kept open could point at an unlinked file and sync nothing useful. Opening the path each time syncs
//! whatever file is the WAL now; fsync acts on the file, not on the descriptor, so it flushes pages SQLite
//! wrote through its own descriptor. Closing our descriptor is harmless: SQLite takes no POSIX locks on the
//! WAL (WAL locks live on `-shm`).
//!
//! A fresh descriptor has one weakness: Linux reports a writeback error to each descriptor open at the
//! time, and to a descriptor opened later only while no one has seen the error yet. If one of SQLite's own
//! fsyncs (an automatic checkpoint, whose errors SQLite does not report to the committer) saw the error
//! first, our fdatasync of a newly opened descriptor succeeds. Such an error means the disk is failing;
//! SQLite's own `synchronous = FULL` commits have the same kind of blind spot with checkpoint errors.
//!
//! # When there is no WAL
//!
//! Then the main database file is fsynced instead. By the argument above this is redundant (a deleted WAL
//! was fully checkpointed and synced), except when the deleting connection ran with `synchronous = OFF`,
//! where it makes the checkpointed pages durable. It is enough because a WAL disappears only after every
//! frame in it was copied into the database file. It is not free of danger in general: closing any
//! descriptor of the database file releases all POSIX advisory locks this process holds on it, including
//! SQLite's. It is safe here because deleting the WAL takes an exclusive lock that no connection gets while
//! another connection (such as our writer) has the database open: a missing WAL means this process has no
//! connection holding locks on the file (the store was closed, or is closing and done with the file).
//!
//! Remaining gap: if a process running `synchronous = OFF` deletes the WAL and a new WAL is created before
//! the sync runs, the sync finds the new WAL and does not sync the database file. Nothing in berth runs
//! SQLite with `OFF`.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use super::barrier::{SyncAction, SyncError};

/// A [`SyncAction`] that fdatasyncs the WAL of the database file `db` (or `db` itself, when there is no
/// WAL). `db` must be the path SQLite uses for the file (see [`SqliteMeta::open`](super::SqliteMeta::open)),
/// since the WAL sits next to the file SQLite resolved, not next to a symbolic link to it.
pub(super) fn wal_sync(db: &Path) -> SyncAction {
    let db = db.to_path_buf();
    let wal = wal_path(&db);
    Box::new(move || sync_wal(&db, &wal))
}

/// `<db>-wal`, the name SQLite gives the WAL (the `-wal` suffix is appended to the full file name).
pub(super) fn wal_path(db: &Path) -> PathBuf {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

fn sync_wal(db: &Path, wal: &Path) -> Result<(), SyncError> {
    let (file, path) = match open(wal) {
        Ok(file) => (file, wal),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            tracing::debug!(wal = %wal.display(), "no WAL at sync time; syncing the database file");
            (open(db).map_err(|e| SyncError::NotAttempted(context(e, "open", db)))?, db)
        }
        Err(e) => return Err(SyncError::NotAttempted(context(e, "open", wal))),
    };
    file.sync_data().map_err(|e| SyncError::Failed(context(e, "fdatasync", path)))
}

/// Opens an existing file for syncing, never creating or truncating it. Read access is enough on Unix
/// (fsync works through any descriptor); Windows' FlushFileBuffers needs write access.
fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(cfg!(not(unix))).open(path)
}

fn context(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::wal_path;

    #[test]
    fn the_wal_is_the_database_name_plus_dash_wal() {
        assert_eq!(wal_path(Path::new("/data/meta.db")), Path::new("/data/meta.db-wal"));
        assert_eq!(wal_path(Path::new("meta")), Path::new("meta-wal"));
    }
}
