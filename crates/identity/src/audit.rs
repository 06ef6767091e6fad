//! The audit trail: every authentication failure, every denied request and every mutating request.
//!
//! Requests hand events to an [`AuditSink`]; a background task writes them in batches (one durable
//! transaction per batch), so auditing costs a request a channel send, not a database write.
//!
//! # When the log cannot be written
//!
//! A batch that fails (a full disk, an I/O error) is kept and retried with a growing pause (0.2 s doubling to
//! 10 s), so a failing store is not hammered and its writer connection is free between attempts; the first
//! write that succeeds after space returns catches up with everything queued. Meanwhile events queue in
//! memory, up to [`CAPACITY`]. A request that finds the queue full waits up to [`RECORD_WAIT`] for room
//! (back-pressure while the writer merely lags), then its event is dropped and counted ([`AuditSink::dropped`],
//! logged as an error); until an event fits again, later requests drop theirs without waiting. Requests never
//! hang, nor slow down for long, on an audit log that cannot be written.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use berth_meta::identity::{AuditEvent, AuditLog};
use tokio::sync::mpsc::error::{SendTimeoutError, TrySendError};
use tokio::sync::{mpsc, oneshot};

const BATCH: usize = 256;
/// Events queued for the writer at most.
pub const CAPACITY: usize = 8192;
/// How long a request waits for room in a full queue before its event is dropped.
pub const RECORD_WAIT: Duration = Duration::from_secs(1);

/// Queue size and timings of the writer.
#[derive(Debug, Clone, Copy)]
struct Tuning {
    capacity: usize,
    record_wait: Duration,
    retry_first: Duration,
    retry_max: Duration,
}

const TUNING: Tuning = Tuning {
    capacity: CAPACITY,
    record_wait: RECORD_WAIT,
    retry_first: Duration::from_millis(200),
    retry_max: Duration::from_secs(10),
};

enum Message {
    Event(Box<AuditEvent>),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
    /// Set when an event was dropped, cleared when one fits: while set, events are not waited for.
    overflowing: Arc<AtomicBool>,
    record_wait: Duration,
}

impl AuditSink {
    /// Starts the writer task.
    pub fn start(log: Arc<dyn AuditLog>) -> AuditSink {
        AuditSink::start_tuned(log, TUNING)
    }

    fn start_tuned(log: Arc<dyn AuditLog>, tuning: Tuning) -> AuditSink {
        let (tx, rx) = mpsc::channel(tuning.capacity);
        tokio::spawn(write_batches(log, rx, tuning));
        AuditSink { tx, dropped: Arc::default(), overflowing: Arc::default(), record_wait: tuning.record_wait }
    }

    /// Queues `event` for the log. Waits at most [`RECORD_WAIT`] when the queue is full (not at all while
    /// events are being dropped); the event is dropped (and counted) after that.
    pub async fn record(&self, event: AuditEvent) {
        let message = Message::Event(Box::new(event));
        let sent = if self.overflowing.load(Ordering::Relaxed) {
            self.tx.try_send(message).map_err(|e| match e {
                TrySendError::Full(m) => SendTimeoutError::Timeout(m),
                TrySendError::Closed(m) => SendTimeoutError::Closed(m),
            })
        } else {
            self.tx.send_timeout(message, self.record_wait).await
        };
        match sent {
            Ok(()) => self.overflowing.store(false, Ordering::Relaxed),
            Err(SendTimeoutError::Timeout(_)) => {
                self.overflowing.store(true, Ordering::Relaxed);
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                // Logged at 1, 2, 4, 8, ... so a long outage does not flood the log.
                if n.is_power_of_two() {
                    tracing::error!(
                        dropped_total = n,
                        "the audit log cannot be written and its queue is full: audit records are being dropped"
                    );
                }
            }
            Err(SendTimeoutError::Closed(_)) => tracing::error!("audit writer is gone; an audit record was lost"),
        }
    }

    /// Events dropped since start because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits until everything recorded so far is written. Unbounded while the log cannot be written: callers
    /// that must finish (shutdown) put a timeout around it.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn write_batches(log: Arc<dyn AuditLog>, mut rx: mpsc::Receiver<Message>, tuning: Tuning) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut waiters = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        // Gather what is already queued (up to a batch), then write once.
        while let Some(m) = next.take() {
            match m {
                Message::Event(e) => batch.push(*e),
                Message::Flush(w) => waiters.push(w),
            }
            if batch.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            write_with_retries(log.as_ref(), &batch, tuning).await;
            batch.clear();
        }
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
    }
}

/// Writes `batch`, retrying with a growing pause until it is written.
async fn write_with_retries(log: &dyn AuditLog, batch: &[AuditEvent], tuning: Tuning) {
    let mut attempt: u32 = 0;
    let mut pause = tuning.retry_first;
    while let Err(e) = log.append_audit(batch).await {
        attempt += 1;
        if attempt.is_power_of_two() {
            tracing::error!(error = %e, events = batch.len(), attempt, "writing audit records failed; retrying");
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(tuning.retry_max);
    }
    if attempt > 0 {
        tracing::warn!(events = batch.len(), failed_attempts = attempt, "audit records written again");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use berth_meta::MetaError;

    use super::*;

    /// An audit log that refuses every write while `failing` is set, as a full disk does.
    #[derive(Default)]
    struct FlakyLog {
        failing: AtomicBool,
        written: Mutex<Vec<AuditEvent>>,
        attempts: AtomicU64,
    }

    #[async_trait]
    impl AuditLog for FlakyLog {
        async fn append_audit(&self, events: &[AuditEvent]) -> berth_meta::Result<()> {
            self.attempts.fetch_add(1, Ordering::Relaxed);
            if self.failing.load(Ordering::Relaxed) {
                return Err(MetaError::Corrupt("database or disk is full".into()));
            }
            self.written.lock().unwrap().extend_from_slice(events);
            Ok(())
        }

        async fn list_audit(&self, _: Option<i64>, _: u32) -> berth_meta::Result<Vec<AuditEvent>> {
            Ok(self.written.lock().unwrap().clone())
        }

        async fn search_audit(&self, _: &berth_meta::identity::AuditQuery) -> berth_meta::Result<Vec<AuditEvent>> {
            Ok(self.written.lock().unwrap().iter().rev().cloned().collect())
        }
    }

    fn event(i: usize) -> AuditEvent {
        AuditEvent {
            id: 0,
            at: i as i64,
            principal: "anonymous".into(),
            action: "login".into(),
            resource: "*".into(),
            source_ip: "127.0.0.1".into(),
            outcome: "auth-failed".into(),
            status: 401,
            detail: None,
        }
    }

    #[tokio::test]
    async fn a_log_that_cannot_be_written_never_blocks_requests_for_long_and_catches_up() {
        let tuning = Tuning {
            capacity: 64,
            record_wait: Duration::from_millis(10),
            retry_first: Duration::from_millis(10),
            retry_max: Duration::from_millis(160),
        };
        let log = Arc::new(FlakyLog::default());
        log.failing.store(true, Ordering::Relaxed);
        let sink = AuditSink::start_tuned(log.clone(), tuning);

        // Far more events than the queue holds, as a full disk lasting a while produces.
        let total = 300;
        let started = std::time::Instant::now();
        for i in 0..total {
            sink.record(event(i)).await;
        }
        // The first record beyond what the queue (and the batch being retried) holds waited `record_wait`; the
        // next ones are dropped at once, while the queue stays full.
        let waited = started.elapsed();
        let dropped = sink.dropped();
        assert!(dropped >= 100, "a full queue drops instead of blocking ({dropped} dropped)");
        assert!(waited < tuning.record_wait * 20, "{dropped} records dropped after {waited:?}");

        // The writer backs off: after the pause reached its cap, about one attempt per `retry_max`.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let before = log.attempts.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(800)).await;
        let attempts = log.attempts.load(Ordering::Relaxed) - before;
        assert!((1..=7).contains(&attempts), "{attempts} attempts in 800 ms");

        // Space returns: everything queued is written, without a restart.
        log.failing.store(false, Ordering::Relaxed);
        tokio::time::timeout(Duration::from_secs(10), sink.flush()).await.expect("flush completes");
        let written = log.written.lock().unwrap().len() as u64;
        assert_eq!(written + sink.dropped(), total as u64, "every event is written or counted as dropped");

        sink.record(event(total)).await;
        sink.flush().await;
        assert_eq!(log.written.lock().unwrap().last().map(|e| e.at), Some(total as i64));
    }
}
