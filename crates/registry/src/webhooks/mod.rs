//! Webhooks: subscriptions to registry events ([`crate::events`]) and their fan-out onto the job queue.
//!
//! [`Registry::publish`] runs after the change an event describes has committed: it matches the event
//! against the enabled subscriptions (event name and repository glob) and queues one `webhook` job per
//! match (key `<subscription>/<event id>`), whose payload is the event with its id and time, so every
//! attempt sends the same body. The job runtime gives retries with backoff ([`WebhookSettings`]), leases
//! and survival across restarts and nodes; the sending handler (HTTP, signing) lives in `berth-api`.
//!
//! Durability: the jobs are queued right after the change committed, not in its transaction. A process
//! killed between the two loses that event's deliveries (the window is the few milliseconds of one insert
//! per matching subscription); everything queued survives restarts.

mod glob;
mod settings;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use berth_meta::webhooks::{DeliveryAttempt, FailureCount, NewWebhook, Webhook};
use serde::{Deserialize, Serialize};

pub use self::glob::{matches as filter_matches, validate as validate_filter};
pub use self::settings::{PullEvents, WebhookSettings};
use crate::events::{EVENT_NAMES, Event};
use crate::jobs::JobSpec;
use crate::{Registry, RegistryError, Result};

/// The job kind that sends one event to one subscription.
pub const DELIVERY_JOB: &str = "webhook";

/// How long this node reuses the list of enabled subscriptions. Created, deleted and re-enabled ones
/// apply at once on the node that changed them, within this on the others.
const CACHE_FOR: Duration = Duration::from_secs(2);

/// A `webhook` job's payload: the event, its id and when it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub webhook_id: i64,
    pub event_id: String,
    /// Unix seconds.
    pub time: i64,
    pub event: Event,
}

/// This node's webhook state: settings, the pull sampler, the cached subscriptions.
#[derive(Default)]
pub(crate) struct Webhooks {
    settings: RwLock<WebhookSettings>,
    pulls_seen: AtomicU64,
    cached: Mutex<Option<(Instant, Arc<Vec<Webhook>>)>>,
}

impl Webhooks {
    fn forget(&self) {
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// Checks an event filter: every name known, at least one.
pub fn validate_events(events: &[String]) -> Result<(), String> {
    if events.is_empty() {
        return Err(format!("give at least one event: {}", EVENT_NAMES.join(", ")));
    }
    match events.iter().find(|e| !EVENT_NAMES.contains(&e.as_str())) {
        Some(e) => Err(format!("unknown event {e:?}: events are {}", EVENT_NAMES.join(", "))),
        None => Ok(()),
    }
}

/// Whether `webhook` wants `event`.
pub fn wants(webhook: &Webhook, event: &Event) -> bool {
    webhook.enabled
        && webhook.events.iter().any(|e| e == event.name())
        && event.repository().is_some_and(|r| filter_matches(&webhook.repository_filter, r))
}

impl Registry {
    pub fn set_webhook_settings(&self, settings: WebhookSettings) {
        *self.webhooks.settings.write().unwrap_or_else(|p| p.into_inner()) = settings;
    }

    pub fn webhook_settings(&self) -> WebhookSettings {
        self.webhooks.settings.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Publishes `event`, which has committed: one delivery job per enabled subscription that wants it.
    /// A failure is logged, never returned: the change it reports has happened whatever becomes of it.
    pub async fn publish(&self, event: Event) {
        if let Err(e) = self.fan_out(event).await {
            tracing::warn!(error = %e, "queueing webhook deliveries failed; the event is not delivered");
        }
    }

    /// Publishes a pull as `image.pull` when pull events are on (every pull, or one in N on this node).
    pub(crate) async fn publish_pull(&self, repository: &str, digest: &berth_oci::Digest, by: Option<&str>) {
        let every = match self.webhook_settings().pull_events {
            PullEvents::Off => return,
            PullEvents::All => 1,
            PullEvents::Sample(n) => n,
        };
        if !self.webhooks.pulls_seen.fetch_add(1, Ordering::Relaxed).is_multiple_of(every) {
            return;
        }
        let event = Event::ImagePulled {
            repository: repository.to_string(),
            digest: digest.clone(),
            principal: by.map(str::to_string),
        };
        self.publish(event).await;
    }

    /// Whether some enabled subscription wants events of `name` in `repository` (to skip work that only
    /// an event needs).
    pub(crate) async fn wants_event(&self, name: &str, repository: &str) -> bool {
        match self.enabled_webhooks().await {
            Ok(hooks) => hooks
                .iter()
                .any(|w| w.events.iter().any(|e| e == name) && filter_matches(&w.repository_filter, repository)),
            Err(_) => false,
        }
    }

    async fn enabled_webhooks(&self) -> Result<Arc<Vec<Webhook>>> {
        if let Some((at, hooks)) = &*self.webhooks.cached.lock().unwrap_or_else(|p| p.into_inner())
            && at.elapsed() < CACHE_FOR
        {
            return Ok(hooks.clone());
        }
        let hooks = Arc::new(self.meta.enabled_webhooks().await?);
        *self.webhooks.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), hooks.clone()));
        Ok(hooks)
    }

    async fn fan_out(&self, event: Event) -> Result<usize> {
        let hooks = self.enabled_webhooks().await?;
        let targets: Vec<&Webhook> = hooks.iter().filter(|w| wants(w, &event)).collect();
        if targets.is_empty() {
            return Ok(0);
        }
        let event_id = uuid::Uuid::new_v4().to_string();
        let time = self.now();
        for w in &targets {
            self.queue_delivery(Delivery { webhook_id: w.id, event_id: event_id.clone(), time, event: event.clone() })
                .await?;
        }
        tracing::debug!(event = event.name(), id = %event_id, subscriptions = targets.len(), "event published");
        Ok(targets.len())
    }

    async fn queue_delivery(&self, delivery: Delivery) -> Result<i64> {
        let key = format!("{}/{}", delivery.webhook_id, delivery.event_id);
        let attempts = self.webhook_settings().max_attempts;
        let enqueued = self.enqueue_job(&JobSpec::new(DELIVERY_JOB, key, &delivery).max_attempts(attempts)).await?;
        Ok(enqueued.id().unwrap_or_default())
    }

    /// Creates a subscription (URL already checked by the caller, secret already sealed).
    pub async fn create_webhook(&self, new: &NewWebhook) -> Result<Webhook> {
        validate_events(&new.events).map_err(RegistryError::InvalidSetting)?;
        validate_filter(&new.repository_filter).map_err(RegistryError::InvalidSetting)?;
        let created = self.meta.create_webhook(new).await?;
        self.webhooks.forget();
        Ok(created)
    }

    pub async fn webhook(&self, id: i64) -> Result<Option<Webhook>> {
        Ok(self.meta.webhook(id).await?)
    }

    pub async fn webhooks(&self) -> Result<Vec<Webhook>> {
        Ok(self.meta.webhooks().await?)
    }

    /// Deletes a subscription and its log; its queued deliveries find it gone and end. `false` if none.
    pub async fn delete_webhook(&self, id: i64) -> Result<bool> {
        let deleted = self.meta.delete_webhook(id).await?;
        self.webhooks.forget();
        Ok(deleted)
    }

    /// Enables a subscription again (its failure count starts over), or disables it with `reason`.
    pub async fn set_webhook_enabled(&self, id: i64, enabled: bool, reason: Option<&str>) -> Result<Option<Webhook>> {
        let changed = self.meta.set_webhook_enabled(id, enabled, reason, self.now()).await?;
        self.webhooks.forget();
        Ok(changed)
    }

    /// Queues a test event for subscription `id` now, whatever its filter; returns the delivery job's id.
    pub async fn test_webhook(&self, id: i64) -> Result<Option<i64>> {
        if self.meta.webhook(id).await?.is_none() {
            return Ok(None);
        }
        let event = Event::Test { message: "a test event from berth".into() };
        let delivery = Delivery { webhook_id: id, event_id: uuid::Uuid::new_v4().to_string(), time: self.now(), event };
        Ok(Some(self.queue_delivery(delivery).await?))
    }

    pub async fn record_webhook_attempt(&self, attempt: &DeliveryAttempt) -> Result<()> {
        Ok(self.meta.record_webhook_attempt(attempt).await?)
    }

    /// Counts a delivery that failed for good; the subscription is disabled once
    /// [`WebhookSettings::disable_after`] have in a row.
    pub async fn webhook_delivery_failed(&self, id: i64) -> Result<FailureCount> {
        let limit = self.webhook_settings().disable_after;
        let reason = format!("disabled after {limit} deliveries in a row failed after every retry");
        let counted = self.meta.count_webhook_failure(id, limit, &reason, self.now()).await?;
        if matches!(counted, FailureCount::Disabled(_)) {
            tracing::warn!(webhook = id, "{reason}");
            self.webhooks.forget();
        }
        Ok(counted)
    }

    /// A subscription's attempts, newest first.
    pub async fn webhook_deliveries(&self, id: i64, before: Option<i64>, n: u32) -> Result<Vec<DeliveryAttempt>> {
        Ok(self.meta.webhook_deliveries(id, before, n).await?)
    }

    /// Deletes delivery attempts older than the log's retention; returns how many.
    pub async fn prune_webhook_deliveries(&self) -> Result<u64> {
        let keep = i64::try_from(self.webhook_settings().log_retention.as_secs()).unwrap_or(i64::MAX);
        Ok(self.meta.prune_webhook_deliveries(self.now().saturating_sub(keep)).await?)
    }
}
