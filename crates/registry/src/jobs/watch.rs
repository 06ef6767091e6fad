//! What a long use case (a garbage collection, a lifecycle run) runs under: asked before each item whether
//! to stop, told after a batch how far it got. A running job's [`JobCtx`] is one (it stops when the job is
//! cancelled and records progress on the job); `()` never stops and records nothing.

use async_trait::async_trait;

use super::JobCtx;

#[async_trait]
pub trait RunWatch: Send + Sync {
    /// Whether to stop before the next item (the work done so far stays done).
    fn should_stop(&self) -> bool;
    /// How far the work got (advisory).
    async fn report(&self, done: u64, total: Option<u64>, message: String);
}

#[async_trait]
impl RunWatch for JobCtx {
    fn should_stop(&self) -> bool {
        self.is_cancelled()
    }

    async fn report(&self, done: u64, total: Option<u64>, message: String) {
        self.progress(done, total, message).await
    }
}

#[async_trait]
impl RunWatch for () {
    fn should_stop(&self) -> bool {
        false
    }

    async fn report(&self, _done: u64, _total: Option<u64>, _message: String) {}
}
