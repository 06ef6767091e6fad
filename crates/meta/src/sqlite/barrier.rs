//! Group commit: a durability barrier that lets concurrent write transactions share one fsync.
//!
//! Each write transaction takes a [`Ticket`] right after its commit returned, then [`waits`] until a
//! sync that *started after* that commit has completed. Tickets are numbered in commit order; `synced` is
//! the highest ticket known to be durable. A waiter takes the mutex, and if `synced` already covers its
//! ticket it is done (someone else's sync did the work); otherwise it reads `target = committed`, runs the
//! sync, and publishes `synced = target`. Every ticket up to `target` was handed out after its commit had
//! finished, and `target` is read before the sync starts, so the sync covers all of them. While one sync
//! runs, new commits queue up behind the mutex and the next sync covers them all at once: with a sync
//! costing `s` and `k` commits arriving during it, the fsync rate stays at `1/s` while commits scale with
//! `k`.
//!
//! What "the sync" does is injected ([`SyncAction`]): the store passes [`super::wal_sync`], tests pass
//! closures that count calls.
//!
//! # Failures
//!
//! A sync that could not even be attempted ([`SyncError::NotAttempted`], e.g. too many open files) fails
//! only its waiter; the next waiter tries again. A sync that *failed* ([`SyncError::Failed`]) poisons the
//! barrier for good: after a failed fsync, Linux may drop the dirty pages and report success on the next
//! fsync, and the WAL's checksum chain makes every later frame unrecoverable once one is lost. So no later
//! commit can be promised durable; every later wait fails until the process restarts (PostgreSQL panics in
//! the same situation for the same reason).
//!
//! [`waits`]: Barrier::wait

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Mutex;

/// Why a sync did not make the commits durable.
#[derive(Debug)]
pub(super) enum SyncError {
    /// Nothing was synced, but nothing is known to be lost either (the file could not be opened): a later
    /// sync may succeed.
    NotAttempted(io::Error),
    /// The fsync itself failed: data written before it may be lost, whatever later syncs report.
    Failed(io::Error),
}

/// Makes everything written (to the OS) before the call durable. Runs on a blocking thread.
pub(super) type SyncAction = Box<dyn Fn() -> Result<(), SyncError> + Send + Sync>;

/// A commit's place in commit order: wait on it to know the commit is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[must_use = "a commit is only durable once its ticket has been waited for"]
pub(super) struct Ticket(u64);

/// The group-commit barrier. Cheap to clone (shared state).
#[derive(Clone)]
pub(super) struct Barrier {
    inner: Arc<Inner>,
}

struct Inner {
    /// Tickets handed out so far (the last commit's ticket).
    committed: AtomicU64,
    /// Highest ticket whose commit is durable. Only grows, and only after a successful sync.
    synced: AtomicU64,
    /// Held while a sync runs, so there is at most one in flight and waiters queue for the next one.
    state: Arc<Mutex<State>>,
    sync: SyncAction,
}

#[derive(Default)]
struct State {
    /// Set once a sync failed (see the module docs): the failure, for the error every later wait returns.
    poisoned: Option<(io::ErrorKind, String)>,
}

impl std::fmt::Debug for Barrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Barrier")
            .field("committed", &self.inner.committed.load(Ordering::Relaxed))
            .field("synced", &self.inner.synced.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Barrier {
    pub(super) fn new(sync: SyncAction) -> Barrier {
        Barrier {
            inner: Arc::new(Inner {
                committed: AtomicU64::new(0),
                synced: AtomicU64::new(0),
                state: Arc::new(Mutex::new(State::default())),
                sync,
            }),
        }
    }

    /// Records a commit. Call it only once the commit has returned (its writes have reached the OS), never
    /// before: the ticket promises that any sync starting from now on covers the commit.
    pub(super) fn ticket(&self) -> Ticket {
        // AcqRel pairs with the Acquire load of `target` in `wait`: whoever reads this ticket as part of a
        // target also sees everything the committing task did before taking it (the commit itself).
        Ticket(self.inner.committed.fetch_add(1, Ordering::AcqRel) + 1)
    }

    /// Returns once a sync that started after `ticket` was taken has completed, running that sync itself if
    /// no other waiter is. Cancel-safe: a sync in progress completes (and its outcome is recorded) even if
    /// the waiter that started it is dropped.
    pub(super) async fn wait(&self, ticket: Ticket) -> io::Result<()> {
        if self.inner.synced.load(Ordering::Acquire) >= ticket.0 {
            return Ok(());
        }
        let state = Arc::clone(&self.inner.state).lock_owned().await;
        if self.inner.synced.load(Ordering::Acquire) >= ticket.0 {
            return Ok(());
        }
        if let Some((kind, message)) = &state.poisoned {
            return Err(io::Error::new(*kind, message.clone()));
        }
        let target = self.inner.committed.load(Ordering::Acquire);
        let inner = Arc::clone(&self.inner);
        // The guard moves into the blocking task: the mutex stays held until the outcome is recorded, even
        // if this future is dropped meanwhile, so no second sync can start (and wrongly succeed) before a
        // failure has poisoned the barrier.
        let outcome = tokio::task::spawn_blocking(move || {
            let mut state = state;
            match (inner.sync)() {
                Ok(()) => {
                    inner.synced.fetch_max(target, Ordering::AcqRel);
                    Ok(())
                }
                Err(SyncError::NotAttempted(e)) => Err(e),
                Err(SyncError::Failed(e)) => {
                    tracing::error!(error = %e, "fsync of the SQLite WAL failed: no write can be acknowledged any more");
                    let message = format!(
                        "an fsync of the metadata WAL failed ({e}); writes can no longer be made durable, restart berth"
                    );
                    state.poisoned = Some((e.kind(), message));
                    Err(e)
                }
            }
        })
        .await;
        outcome.unwrap_or_else(|join| Err(io::Error::other(format!("WAL sync task did not complete: {join}"))))
    }
}

#[cfg(test)]
mod tests;
