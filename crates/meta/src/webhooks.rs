//! Webhook subscriptions and their delivery log (migration `0023`). The store keeps rows; which events a
//! subscription wants, how its URL is checked, how a payload is signed and when a subscription is disabled
//! are the registry's and the API's rules. The signing secret arrives sealed and leaves sealed.

use async_trait::async_trait;

use crate::Result;

/// A subscription to create.
#[derive(Clone, PartialEq, Eq)]
pub struct NewWebhook {
    pub url: String,
    /// Event names (`image.push`, ...); never empty.
    pub events: Vec<String>,
    /// A glob over repository names (`*` for every repository).
    pub repository_filter: String,
    /// The signing secret, sealed with the master key.
    pub sealed_secret: Vec<u8>,
    /// The principal that created it.
    pub created_by: String,
    pub now: i64,
}

/// A subscription as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub repository_filter: String,
    pub sealed_secret: Vec<u8>,
    pub enabled: bool,
    /// Why it was disabled (`None` while enabled).
    pub disabled_reason: Option<String>,
    /// Deliveries in a row that failed for good since the last success.
    pub consecutive_failures: u32,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

// The sealed secret is not the secret, but nothing needs to see it either.
impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("repository_filter", &self.repository_filter)
            .field("sealed_secret", &"***")
            .field("enabled", &self.enabled)
            .field("disabled_reason", &self.disabled_reason)
            .field("consecutive_failures", &self.consecutive_failures)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for NewWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewWebhook").field("url", &self.url).field("events", &self.events).finish_non_exhaustive()
    }
}

/// One attempt at sending one event to one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// Set by the store (ignored when recording).
    pub id: i64,
    pub webhook_id: i64,
    pub event_id: String,
    pub event_type: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub at: i64,
    /// The receiver's HTTP status; `None` when no response came.
    pub status_code: Option<u16>,
    /// Why it failed (a status outside 2xx, a timeout, a refused address); `None` on success.
    pub error: Option<String>,
    pub duration_ms: u64,
    pub succeeded: bool,
}

/// What a delivery that failed for good did to its subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureCount {
    /// Counted; the subscription stays as it was (`consecutive_failures` now).
    Counted(u32),
    /// The count reached the limit: the subscription is now disabled.
    Disabled(u32),
    /// No such subscription (deleted meanwhile).
    NotFound,
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn create_webhook(&self, new: &NewWebhook) -> Result<Webhook>;
    async fn webhook(&self, id: i64) -> Result<Option<Webhook>>;
    /// Every subscription, by id.
    async fn webhooks(&self) -> Result<Vec<Webhook>>;
    /// Enabled subscriptions only, by id (what an event is matched against).
    async fn enabled_webhooks(&self) -> Result<Vec<Webhook>>;
    /// Removes a subscription and its delivery log; `false` when there was none.
    async fn delete_webhook(&self, id: i64) -> Result<bool>;
    /// Enables (clearing the reason and the failure count) or disables (with `reason`) a subscription;
    /// `None` when there is none.
    async fn set_webhook_enabled(
        &self,
        id: i64,
        enabled: bool,
        reason: Option<&str>,
        now: i64,
    ) -> Result<Option<Webhook>>;
    /// Records an attempt; a successful one also sets the subscription's failure count back to zero. An
    /// attempt for a subscription deleted meanwhile is dropped.
    async fn record_webhook_attempt(&self, attempt: &DeliveryAttempt) -> Result<()>;
    /// Counts a delivery that failed for good and, in the same transaction, disables the subscription with
    /// `reason` when the count reaches `disable_after` (0: never).
    async fn count_webhook_failure(&self, id: i64, disable_after: u32, reason: &str, now: i64) -> Result<FailureCount>;
    /// A subscription's attempts, newest first, strictly before attempt id `before` when given, `n` at most.
    async fn webhook_deliveries(&self, id: i64, before: Option<i64>, n: u32) -> Result<Vec<DeliveryAttempt>>;
    /// Deletes attempts recorded before `before`; returns how many.
    async fn prune_webhook_deliveries(&self, before: i64) -> Result<u64>;
}

/// `events` as stored: comma-separated.
pub(crate) fn join_events(events: &[String]) -> String {
    events.join(",")
}

pub(crate) fn split_events(stored: &str) -> Vec<String> {
    stored.split(',').filter(|e| !e.is_empty()).map(str::to_string).collect()
}
