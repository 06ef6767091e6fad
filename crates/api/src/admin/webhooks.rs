//! The admin API's webhook operations: `CreateWebhook`, `ListWebhooks`, `DeleteWebhook`, `EnableWebhook`,
//! `TestWebhook`, `ListWebhookDeliveries`. Subscriptions are the registry's (their repository filter may
//! cover any repository), so every one is decided on the registry. The signing secret is sealed with the
//! master key as it arrives and never returned, except once when berth generated it.

use berth_auth::secret::{Secret, random_password};
use berth_meta::webhooks::{DeliveryAttempt, NewWebhook, Webhook};
use berth_registry::webhooks::{validate_events, validate_filter};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{AdminResult, input, validation};
use crate::AppState;
use crate::aws::errors::{AwsError, ErrorType};
use crate::webhooks::target;

/// Secrets shorter than this are refused: the signature is only as strong as the secret.
const MIN_SECRET: usize = 16;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct CreateInput {
    url: String,
    events: Vec<String>,
    /// A glob over repository names; every repository when absent.
    repository_filter: Option<String>,
    /// Generated (and returned once) when absent.
    secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct IdInput {
    webhook_id: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DeliveriesInput {
    webhook_id: i64,
    /// The last attempt id of the previous page.
    next_token: Option<i64>,
    max_results: Option<u32>,
}

/// A webhook operation, parsed.
pub(super) enum WebhookOp {
    Create(CreateInput),
    List,
    Delete(i64),
    Enable(i64),
    Test(i64),
    Deliveries(DeliveriesInput),
}

impl WebhookOp {
    /// The operation named `op`, if it is a webhook operation.
    pub(super) fn parse(op: &str, body: &Value) -> Option<Result<WebhookOp, AwsError>> {
        let id = || input::<IdInput>(body).map(|i| i.webhook_id);
        Some(match op {
            "CreateWebhook" => input(body).map(WebhookOp::Create),
            "ListWebhooks" => Ok(WebhookOp::List),
            "DeleteWebhook" => id().map(WebhookOp::Delete),
            "EnableWebhook" => id().map(WebhookOp::Enable),
            "TestWebhook" => id().map(WebhookOp::Test),
            "ListWebhookDeliveries" => input(body).map(WebhookOp::Deliveries),
            _ => return None,
        })
    }

    /// The `berth:` action it needs (on the registry).
    pub(super) fn action(&self) -> &'static str {
        match self {
            WebhookOp::Create(_) => "berth:CreateWebhook",
            WebhookOp::List => "berth:ListWebhooks",
            WebhookOp::Delete(_) => "berth:DeleteWebhook",
            WebhookOp::Enable(_) => "berth:EnableWebhook",
            WebhookOp::Test(_) => "berth:TestWebhook",
            WebhookOp::Deliveries(_) => "berth:ListWebhookDeliveries",
        }
    }

    pub(super) fn reads(&self) -> bool {
        matches!(self, WebhookOp::List | WebhookOp::Deliveries(_))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookOutput {
    webhook_id: i64,
    url: String,
    events: Vec<String>,
    repository_filter: String,
    /// `ENABLED` or `DISABLED`.
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    disabled_reason: Option<String>,
    consecutive_failures: u32,
    created_by: String,
    created_at: i64,
    updated_at: i64,
}

impl From<Webhook> for WebhookOutput {
    fn from(w: Webhook) -> Self {
        WebhookOutput {
            webhook_id: w.id,
            url: w.url,
            events: w.events,
            repository_filter: w.repository_filter,
            state: if w.enabled { "ENABLED" } else { "DISABLED" },
            disabled_reason: w.disabled_reason,
            consecutive_failures: w.consecutive_failures,
            created_by: w.created_by,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AttemptOutput {
    delivery_id: i64,
    event_id: String,
    event_type: String,
    attempt: u32,
    at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    duration_ms: u64,
    succeeded: bool,
}

impl From<DeliveryAttempt> for AttemptOutput {
    fn from(a: DeliveryAttempt) -> Self {
        AttemptOutput {
            delivery_id: a.id,
            event_id: a.event_id,
            event_type: a.event_type,
            attempt: a.attempt,
            at: a.at,
            status_code: a.status_code,
            error: a.error,
            duration_ms: a.duration_ms,
            succeeded: a.succeeded,
        }
    }
}

fn not_found(id: i64) -> AwsError {
    AwsError::new(ErrorType::NoSuchEntity, format!("no webhook {id}"))
}

fn server(e: berth_registry::RegistryError) -> AwsError {
    match e {
        berth_registry::RegistryError::InvalidSetting(why) => validation(why),
        other => AwsError::server(&other),
    }
}

pub(super) async fn run(app: &AppState, created_by: String, op: WebhookOp) -> AdminResult {
    let registry = &app.registry;
    Ok(match op {
        WebhookOp::Create(i) => {
            let settings = registry.webhook_settings();
            target::resolve(&i.url, settings.allow_private).await.map_err(|e| validation(e.to_string()))?;
            validate_events(&i.events).map_err(validation)?;
            let filter = i.repository_filter.unwrap_or_else(|| "*".to_string());
            validate_filter(&filter).map_err(validation)?;
            let (secret, generated) = match i.secret {
                Some(s) if s.len() < MIN_SECRET => {
                    return Err(validation(format!("the secret must be at least {MIN_SECRET} characters")));
                }
                Some(s) => (Secret::new(s), false),
                None => (random_password(32), true),
            };
            let new = NewWebhook {
                url: i.url,
                events: i.events,
                repository_filter: filter,
                sealed_secret: app.identity.seal_secret(secret.expose().as_bytes()),
                created_by,
                now: registry.now(),
            };
            let created = registry.create_webhook(&new).await.map_err(server)?;
            let mut out = json!({"webhook": WebhookOutput::from(created)});
            if generated {
                out["secret"] = json!(secret.expose());
            }
            out
        }
        WebhookOp::List => {
            let hooks = registry.webhooks().await.map_err(server)?;
            json!({"webhooks": hooks.into_iter().map(WebhookOutput::from).collect::<Vec<_>>()})
        }
        WebhookOp::Delete(id) => {
            if !registry.delete_webhook(id).await.map_err(server)? {
                return Err(not_found(id));
            }
            json!({})
        }
        WebhookOp::Enable(id) => {
            let hook =
                registry.set_webhook_enabled(id, true, None).await.map_err(server)?.ok_or_else(|| not_found(id))?;
            json!({"webhook": WebhookOutput::from(hook)})
        }
        WebhookOp::Test(id) => {
            let job = registry.test_webhook(id).await.map_err(server)?.ok_or_else(|| not_found(id))?;
            json!({"jobId": job})
        }
        WebhookOp::Deliveries(i) => {
            if registry.webhook(i.webhook_id).await.map_err(server)?.is_none() {
                return Err(not_found(i.webhook_id));
            }
            let n = i.max_results.unwrap_or(100).clamp(1, 1000);
            let attempts = registry.webhook_deliveries(i.webhook_id, i.next_token, n).await.map_err(server)?;
            let next = (attempts.len() == n as usize).then(|| attempts.last().map(|a| a.id)).flatten();
            let mut out = json!({"deliveries": attempts.into_iter().map(AttemptOutput::from).collect::<Vec<_>>()});
            if let Some(next) = next {
                out["nextToken"] = json!(next);
            }
            out
        }
    })
}
