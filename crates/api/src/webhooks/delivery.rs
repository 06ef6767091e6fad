//! The `webhook` job handler: sends one event to one subscription, signed, and records the attempt.
//!
//! Each attempt: the subscription is read again (deleted: nothing to send; disabled: not sent, except a
//! test event), its URL checked and resolved again ([`super::target`]), the body rendered ([`super::payload`],
//! the same bytes on every attempt), signed with the subscription's secret, and POSTed to the checked
//! address with connect and total timeouts and no redirect followed. A 2xx answer succeeds; anything else
//! is retried on the subscription's schedule ([`berth_registry::webhooks::WebhookSettings`]). A delivery out
//! of attempts counts towards disabling the subscription.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use berth_identity::Identity;
use berth_meta::webhooks::DeliveryAttempt;
use berth_registry::Registry;
use berth_registry::events::Event;
use berth_registry::jobs::{Job, JobCtx, JobError, JobHandler, JobOutcome, parse_payload};
use berth_registry::webhooks::{DELIVERY_JOB, Delivery, WebhookSettings};

use super::{payload, target};

/// Counted per attempt, by outcome (`delivered`, `failed`).
pub(crate) const DELIVERIES: &str = "berth_webhook_deliveries_total";

/// Registers the `webhook` job handler on `registry` (each node, before its workers start).
pub fn register(registry: &Registry, identity: Arc<Identity>) {
    registry.register_job_handler(Arc::new(DeliveryHandler { identity }));
}

struct DeliveryHandler {
    identity: Arc<Identity>,
}

/// A failed attempt: the receiver's status if it answered, and why.
struct Failure {
    status: Option<u16>,
    error: String,
}

/// An error with its causes (reqwest's own message omits them: "error sending request").
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

async fn send(
    url: &str,
    delivery: &Delivery,
    body: Vec<u8>,
    secret: &[u8],
    now: i64,
    settings: &WebhookSettings,
) -> Result<u16, Failure> {
    let fail = |error: String| Failure { status: None, error };
    let target = target::resolve(url, settings.allow_private).await.map_err(|e| fail(e.why))?;
    // Connect to the address just checked, whatever the name resolves to by now.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        .resolve(&target.host, target.addr)
        .no_proxy()
        .user_agent(concat!("berth-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| fail(chain(&e)))?;
    let signature = berth_auth::webhook_signature::sign(secret, &delivery.event_id, now, &body);
    let response = client
        .post(target.url)
        .header("content-type", "application/cloudevents+json; charset=utf-8")
        .header("webhook-id", &delivery.event_id)
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(|e| fail(if e.is_timeout() { format!("timed out: {}", chain(&e)) } else { chain(&e) }))?;
    let status = response.status();
    if status.is_success() {
        Ok(status.as_u16())
    } else if status.is_redirection() {
        Err(Failure { status: Some(status.as_u16()), error: format!("HTTP {status} (redirects are not followed)") })
    } else {
        Err(Failure { status: Some(status.as_u16()), error: format!("HTTP {status}") })
    }
}

#[async_trait]
impl JobHandler for DeliveryHandler {
    fn kind(&self) -> &'static str {
        DELIVERY_JOB
    }

    async fn run(&self, job: &Job, ctx: &JobCtx) -> Result<JobOutcome, JobError> {
        let delivery: Delivery = parse_payload(job)?;
        let registry = ctx.registry();
        let Some(hook) = registry.webhook(delivery.webhook_id).await? else {
            return Ok(JobOutcome::with_result("the webhook was deleted; not sent"));
        };
        let test = matches!(delivery.event, Event::Test { .. });
        if !hook.enabled && !test {
            return Ok(JobOutcome::with_result("the webhook is disabled; not sent"));
        }
        let secret = self
            .identity
            .open_secret(&hook.sealed_secret)
            .map_err(|e| JobError::fatal(format!("webhook {}: its secret cannot be opened: {e}", hook.id)))?;
        let body = payload::render(&delivery, self.identity.account());
        let settings = registry.webhook_settings();
        let started = Instant::now();
        let outcome = send(&hook.url, &delivery, body, &secret, ctx.now(), &settings).await;
        let took = started.elapsed();
        let (status_code, error) = match &outcome {
            Ok(status) => (Some(*status), None),
            Err(f) => (f.status, Some(f.error.clone())),
        };
        let attempt = DeliveryAttempt {
            id: 0,
            webhook_id: hook.id,
            event_id: delivery.event_id.clone(),
            event_type: delivery.event.name().to_string(),
            attempt: job.attempts,
            at: ctx.now(),
            status_code,
            error,
            duration_ms: took.as_millis() as u64,
            succeeded: outcome.is_ok(),
        };
        if let Err(e) = registry.record_webhook_attempt(&attempt).await {
            tracing::warn!(webhook = hook.id, error = %e, "recording a webhook delivery attempt failed");
        }
        let label = if outcome.is_ok() { "delivered" } else { "failed" };
        metrics::counter!(DELIVERIES, "outcome" => label).increment(1);
        match outcome {
            Ok(status) => Ok(JobOutcome::with_result(format!("delivered to webhook {}: HTTP {status}", hook.id))),
            Err(f) => {
                tracing::info!(webhook = hook.id, event = %delivery.event_id, attempt = job.attempts, error = %f.error, "webhook delivery attempt failed");
                Err(JobError::retry(f.error))
            }
        }
    }

    async fn abandoned(&self, registry: &Registry, job: &Job, why: &str) {
        if why == "cancelled" {
            return;
        }
        let Ok(delivery) = parse_payload::<Delivery>(job) else { return };
        // A failed test says so in the log; it does not count towards disabling the subscription.
        if matches!(delivery.event, Event::Test { .. }) {
            return;
        }
        if let Err(e) = registry.webhook_delivery_failed(delivery.webhook_id).await {
            tracing::warn!(webhook = delivery.webhook_id, error = %e, "counting a failed webhook delivery failed");
        }
    }

    fn retry_after(&self, registry: &Registry, attempt: u32) -> i64 {
        registry.webhook_settings().retry_after(attempt)
    }
}
