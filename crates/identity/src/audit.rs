//! The audit trail: every authentication failure, every denied request and every mutating request.
//!
//! Requests hand events to an [`AuditSink`]; a background task writes them in batches (one durable
//! transaction per batch), so auditing costs a request a channel send, not a database write. When the
//! writer falls behind, senders wait (back-pressure) rather than dropping records.

use std::sync::Arc;
use std::time::Duration;

use berth_meta::identity::{AuditEvent, AuditLog};
use tokio::sync::{mpsc, oneshot};

const BATCH: usize = 256;
const CAPACITY: usize = 8192;

enum Message {
    Event(Box<AuditEvent>),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<Message>,
}

impl AuditSink {
    /// Starts the writer task.
    pub fn start(log: Arc<dyn AuditLog>) -> AuditSink {
        let (tx, rx) = mpsc::channel(CAPACITY);
        tokio::spawn(write_batches(log, rx));
        AuditSink { tx }
    }

    pub async fn record(&self, event: AuditEvent) {
        if self.tx.send(Message::Event(Box::new(event))).await.is_err() {
            tracing::error!("audit writer is gone; an audit record was lost");
        }
    }

    /// Waits until everything recorded so far is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn write_batches(log: Arc<dyn AuditLog>, mut rx: mpsc::Receiver<Message>) {
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
            let mut attempt = 0;
            while let Err(e) = log.append_audit(&batch).await {
                attempt += 1;
                tracing::error!(error = %e, events = batch.len(), attempt, "writing audit records failed; retrying");
                tokio::time::sleep(Duration::from_millis(200 * attempt.min(10))).await;
            }
            batch.clear();
        }
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
    }
}
