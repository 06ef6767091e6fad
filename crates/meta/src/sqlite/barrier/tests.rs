//! The barrier on its own, with a fake sync that counts calls and takes a little time like an fsync.

use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::join_all;

use super::{Barrier, SyncError};

/// A barrier whose sync sleeps `latency` and counts its calls.
fn counting(latency: Duration) -> (Barrier, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let barrier = Barrier::new(Box::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(latency);
        Ok(())
    }));
    (barrier, calls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_that_committed_together_share_one_sync() {
    let (barrier, calls) = counting(Duration::from_millis(20));
    let tickets: Vec<_> = (0..50).map(|_| barrier.ticket()).collect();
    for result in join_all(tickets.into_iter().map(|t| barrier.wait(t))).await {
        result.unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "every ticket was taken before the first sync started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_committers_need_fewer_syncs_than_commits() {
    let (barrier, calls) = counting(Duration::from_millis(5));
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                for _ in 0..5 {
                    let ticket = barrier.ticket();
                    barrier.wait(ticket).await.unwrap();
                }
            })
        })
        .collect();
    for task in join_all(tasks).await {
        task.unwrap();
    }
    let calls = calls.load(Ordering::SeqCst);
    assert!((1..320).contains(&calls), "{calls} syncs for 320 commits");
}

#[tokio::test]
async fn a_wait_with_nothing_new_does_not_sync_again() {
    let (barrier, calls) = counting(Duration::ZERO);
    let ticket = barrier.ticket();
    barrier.wait(ticket).await.unwrap();
    barrier.wait(ticket).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    barrier.wait(barrier.ticket()).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "a new commit needs a new sync");
}

/// The core promise: when `wait(t)` returns, a sync that *started after* ticket `t` was taken has completed.
/// The test keeps its own record of tickets taken (under a lock that the fake sync also takes as it starts,
/// so "taken before this sync started" is exact), and every returning waiter checks that some completed
/// sync had seen its ticket. A barrier that read its target after syncing, or returned early, fails this.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_waiter_returns_only_after_a_sync_that_started_after_its_ticket() {
    struct Log {
        /// Tickets taken so far (equal to the barrier's count whenever the lock is free).
        taken: u64,
        /// For each completed sync: how many tickets had been taken when it started.
        completed: Vec<u64>,
    }
    let log = Arc::new(Mutex::new(Log { taken: 0, completed: Vec::new() }));
    let sync_log = Arc::clone(&log);
    let syncs = Arc::new(AtomicU64::new(0));
    let sync_count = Arc::clone(&syncs);
    let barrier = Barrier::new(Box::new(move || {
        let seen = sync_log.lock().unwrap().taken;
        let n = sync_count.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_micros(200 + (n % 7) * 300));
        sync_log.lock().unwrap().completed.push(seen);
        Ok(())
    }));

    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let barrier = barrier.clone();
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                for j in 0..40u64 {
                    let ticket = {
                        let mut log = log.lock().unwrap();
                        log.taken += 1;
                        barrier.ticket()
                    };
                    if (i + j) % 3 == 0 {
                        tokio::task::yield_now().await;
                    }
                    barrier.wait(ticket).await.unwrap();
                    let log = log.lock().unwrap();
                    assert!(
                        log.completed.iter().any(|&seen| seen >= ticket.0),
                        "ticket {} returned before any sync that started after it (completed: {:?})",
                        ticket.0,
                        log.completed
                    );
                }
            })
        })
        .collect();
    for task in join_all(tasks).await {
        task.unwrap();
    }
    assert!(syncs.load(Ordering::SeqCst) < 16 * 40, "some syncs were shared");
}

#[tokio::test]
async fn a_failed_sync_poisons_every_later_wait() {
    let fail = Arc::new(AtomicUsize::new(1));
    let remaining = Arc::clone(&fail);
    let barrier = Barrier::new(Box::new(move || {
        if remaining.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            Err(SyncError::Failed(io::Error::other("EIO")))
        } else {
            Ok(())
        }
    }));
    let first = barrier.ticket();
    barrier.wait(first).await.expect_err("the sync failed");
    let err = barrier.wait(barrier.ticket()).await.expect_err("a later sync would succeed, but proves nothing");
    assert!(err.to_string().contains("EIO"), "{err}");
    barrier.wait(first).await.expect_err("still not durable");
}

#[tokio::test]
async fn a_sync_that_was_not_attempted_fails_only_its_waiter() {
    let fail = Arc::new(AtomicUsize::new(1));
    let remaining = Arc::clone(&fail);
    let barrier = Barrier::new(Box::new(move || {
        if remaining.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            Err(SyncError::NotAttempted(io::Error::other("EMFILE")))
        } else {
            Ok(())
        }
    }));
    let ticket = barrier.ticket();
    barrier.wait(ticket).await.expect_err("the sync was not attempted");
    barrier.wait(ticket).await.expect("the retry syncs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_waiter_does_not_abandon_its_sync() {
    let (barrier, calls) = counting(Duration::from_millis(100));
    let ticket = barrier.ticket();
    let waiter = tokio::spawn({
        let barrier = barrier.clone();
        async move { barrier.wait(ticket).await }
    });
    while calls.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    waiter.abort();
    // The sync the aborted waiter started still runs to completion and covers the ticket.
    barrier.wait(ticket).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
