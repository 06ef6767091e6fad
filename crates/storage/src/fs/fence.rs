//! Per-session fencing, so that neither work of an abandoned request nor bytes nobody acknowledged can end
//! up in a session's result.
//!
//! Two hazards come from appends that do not finish normally:
//!
//! 1. Blocking work started with `spawn_blocking` cannot be cancelled. If a request appending to a session is
//!    dropped (client gone, timeout) while a buffer is being written, that write still completes. Had a retry
//!    truncated the file meanwhile, the stale bytes would land past the retry's data; had the session been
//!    committed, they would land in the committed blob (the file descriptor follows the renamed file).
//! 2. An append that was dropped leaves bytes past its offset that its caller never counted. Appends discard
//!    them (they truncate to their offset), but a commit without a further append would make them part of
//!    the blob, under a digest the caller computed without them: a client could poison a shared blob by
//!    dropping a request midway and then finishing the upload with no body.
//!
//! So every blocking step that touches a session's file runs under the session's [`Fence`]: a mutex around
//! the session's [`Session`] state, a generation number and the start of unacknowledged bytes.
//!
//! - Operations that take the session over (create, the start of an append, commit, cancel) bump the
//!   generation ([`Fence::supersede`]).
//! - The later steps of an append (each buffer write, the final flush, a rollback) run only while the
//!   generation is still the one their append started ([`Fence::check`]); otherwise they fail with
//!   [`superseded`].
//! - Plain reads (`upload_size`, opening for `read_upload`) just take the mutex ([`Fence::shared`]).
//! - An append marks its offset as the start of unacknowledged bytes and clears the mark when it completes
//!   (or rolls back). `upload_size` and `read_upload` do not count bytes past a mark; a commit truncates
//!   them away first.
//!
//! The mutex is held for one blocking step at a time (at most one buffer write), never while waiting for a
//! client, so a stalled upload request cannot block a cancel or an expiry sweep: it only loses its session.
//!
//! The state lives in memory, so it protects one [`super::FsBlobStore`] per root directory within one
//! process. A crash mid-append loses the marks: after a restart, a commit trusts the file's length. Closing
//! that gap needs the caller's recorded size at commit (which the `BlobStore` contract does not pass);
//! meanwhile a caller finishing a session without a body can append an empty body at its recorded size
//! first, which discards any leftover.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The fenced state of one upload session.
#[derive(Debug, Default)]
pub(crate) struct Session {
    generation: u64,
    /// Offset of an append that started but did not complete: bytes from here on were never acknowledged.
    pub(crate) unacked_from: Option<u64>,
}

impl Session {
    /// How many of the `len` bytes in the file the session holds (unacknowledged bytes excluded).
    pub(crate) fn acknowledged(&self, len: u64) -> u64 {
        self.unacked_from.map_or(len, |from| from.min(len))
    }
}

/// The fence of one session.
#[derive(Debug, Default)]
pub(crate) struct Fence {
    session: Mutex<Session>,
}

impl Fence {
    fn lock(&self) -> MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the session over: fences off every append step started before, then runs `f`. Returns the new
    /// generation with `f`'s result.
    pub(crate) fn supersede<T>(&self, f: impl FnOnce(&mut Session) -> T) -> (u64, T) {
        let mut session = self.lock();
        session.generation += 1;
        let generation = session.generation;
        (generation, f(&mut session))
    }

    /// Runs `f` if no operation took the session over since generation `expected` began; `None` otherwise.
    pub(crate) fn check<T>(&self, expected: u64, f: impl FnOnce(&mut Session) -> T) -> Option<T> {
        let mut session = self.lock();
        (session.generation == expected).then(|| f(&mut session))
    }

    /// Runs `f` between other steps on the session, without taking it over.
    pub(crate) fn shared<T>(&self, f: impl FnOnce(&Session) -> T) -> T {
        f(&self.lock())
    }
}

/// The error of an append step whose session was taken over by another operation.
pub(crate) fn superseded() -> io::Error {
    io::Error::other("the upload session was taken over by another request")
}

/// Fences by upload id, created on demand. A fence is forgotten once no operation holds it and it has no
/// unacknowledged bytes to remember.
#[derive(Debug, Default)]
pub(crate) struct Fences {
    inner: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    fences: HashMap<String, Arc<Fence>>,
    /// Size at which the table is swept next; doubles with what is kept so sweeping stays amortised O(1).
    sweep_at: usize,
}

const MIN_SWEEP_AT: usize = 256;

impl Fences {
    /// The fence of session `id`. Hold the `Arc` for the whole operation (and move clones into its
    /// blocking steps).
    pub(crate) fn get(&self, id: &str) -> Arc<Fence> {
        // Ids are hex: fold case so that two spellings of one id share a fence even on a case-insensitive
        // filesystem, where they name the same file.
        let key = id.to_ascii_lowercase();
        let mut table = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if table.fences.len() >= table.sweep_at.max(MIN_SWEEP_AT) {
            // An entry only the table holds cannot be locked by anyone else (new holders come through this
            // table, which is locked), so looking into it does not wait.
            table.fences.retain(|_, fence| Arc::strong_count(fence) > 1 || fence.lock().unacked_from.is_some());
            table.sweep_at = table.fences.len() * 2;
        }
        Arc::clone(table.fences.entry(key).or_default())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).fences.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_takeover_fences_off_earlier_steps() {
        let fences = Fences::default();
        let fence = fences.get("abc");
        let (first, ()) = fence.supersede(|_| ());
        assert_eq!(fence.check(first, |_| 1), Some(1), "current generation");
        let (second, ()) = fences.get("ABC").supersede(|_| ());
        assert_ne!(first, second);
        assert!(fence.check(first, |_| ()).is_none(), "case-folded ids share a fence");
        assert!(fence.check(second, |_| ()).is_some());
        fences.get("def").supersede(|_| ());
        assert!(fence.check(second, |_| ()).is_some(), "other sessions are independent");
    }

    #[test]
    fn the_table_forgets_only_idle_clean_fences() {
        let fences = Fences::default();
        let held = fences.get("held");
        fences.get("dirty").supersede(|s| s.unacked_from = Some(7));
        for i in 0..10 * MIN_SWEEP_AT {
            drop(fences.get(&format!("{i:x}")));
        }
        assert!(fences.len() <= MIN_SWEEP_AT, "idle entries are swept, {} left", fences.len());
        assert!(Arc::ptr_eq(&held, &fences.get("held")), "held entries are kept");
        assert_eq!(fences.get("dirty").shared(|s| s.acknowledged(100)), 7, "unacknowledged bytes are remembered");
    }
}
