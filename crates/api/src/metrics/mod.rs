//! Prometheus metrics: the recorder (installed once by the server), per-request metrics recorded by
//! [`crate::observe`] ([`http`]), and `/metrics`.
//!
//! `/metrics` on the main listener is decided like every other route: the caller (Basic credentials: a
//! user's password, an access key id and secret, a robot token; or none) must be allowed `berth:GetMetrics`
//! on the registry — administrators are, other principals when a policy grants it, anonymous callers only
//! when the registry policy grants it to `*`. [`exporter`] serves the same text without authentication on a
//! separate listener (`--metrics-listen`), meant for an address only the monitoring system reaches.

mod figures;
pub(crate) mod http;
mod names;
mod repositories;
pub(crate) mod routes;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use berth_identity::{Authorized, IdentityError, Required, Target};
use berth_registry::Registry;
use metrics::Unit;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppState;
use crate::access;
use crate::authn::{caller_of, client_ip};

/// The action `/metrics` is decided on (on the registry).
pub const GET_METRICS: &str = "berth:GetMetrics";

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Installs the process-wide recorder: latency histograms with [`names::LATENCY_BUCKETS`], every metric
/// described. Call once, before serving. The caller must call [`PrometheusHandle::run_upkeep`] every few
/// seconds (histogram samples are buffered until then).
pub fn install_recorder() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &names::LATENCY_BUCKETS)?
        .install_recorder()?;
    for (name, help) in names::COUNTERS {
        let unit = if name.ends_with("_bytes_total") { Unit::Bytes } else { Unit::Count };
        metrics::describe_counter!(*name, unit, *help);
    }
    for (name, help) in names::GAUGES {
        metrics::describe_gauge!(*name, *help);
    }
    for (name, help) in names::HISTOGRAMS {
        metrics::describe_histogram!(*name, Unit::Seconds, *help);
    }
    Ok(handle)
}

/// `GET /metrics` on the main listener: authenticated and decided like any route.
pub(crate) async fn scrape(State(app): State<Arc<AppState>>, req: Request) -> Response {
    let Some(handle) = &app.metrics else {
        return refusal(StatusCode::NOT_FOUND, "metrics are not enabled on this server");
    };
    let ip = client_ip(&req);
    let decision = match caller_of(&app, req.headers(), ip).await {
        Ok(caller) => {
            let required = [Required::new(GET_METRICS, Target::Registry)];
            access::decide(&app, &caller, ip, &required).await.map_err(|e| (e, caller.principal.is_anonymous()))
        }
        Err(e) => Err((e, false)),
    };
    match decision {
        Ok(authorized) => render(handle, &app.registry, &authorized).await,
        Err((IdentityError::Denied { .. }, true)) => challenge("authentication required"),
        Err((IdentityError::Denied { principal, .. }, false)) => {
            refusal(StatusCode::FORBIDDEN, &format!("{principal} may not {GET_METRICS}"))
        }
        Err((IdentityError::BadCredentials | IdentityError::Signature(_), _)) => {
            challenge("authentication required: the credentials are not valid")
        }
        Err((IdentityError::Throttled(t), _)) => {
            let mut r = refusal(StatusCode::TOO_MANY_REQUESTS, &t.to_string());
            r.headers_mut().insert(header::RETRY_AFTER, t.retry_after.into());
            r
        }
        Err((e @ IdentityError::RateLimited { retry_after }, _)) => {
            let mut r = refusal(StatusCode::TOO_MANY_REQUESTS, &e.to_string());
            r.headers_mut().insert(header::RETRY_AFTER, retry_after.into());
            r
        }
        Err((IdentityError::Meta(m), _)) if m.is_unavailable() => {
            let mut r = refusal(StatusCode::SERVICE_UNAVAILABLE, "the metadata store is unavailable");
            r.headers_mut().insert(header::RETRY_AFTER, 5.into());
            r
        }
        Err((e, _)) => {
            tracing::error!(error = %e, "deciding a metrics scrape failed on a server fault");
            refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

/// The exposition text: the scrape-time figures refreshed, the recorder's families, then the per-repository
/// ones.
async fn exposition(handle: &PrometheusHandle, registry: &Registry) -> Response {
    figures::refresh(registry).await;
    let mut text = handle.render();
    text.push_str(&repositories::text(registry).await);
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], text).into_response()
}

async fn render(handle: &PrometheusHandle, registry: &Registry, _authorized: &Authorized) -> Response {
    exposition(handle, registry).await
}

fn refusal(status: StatusCode, message: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{message}\n")).into_response()
}

fn challenge(message: &str) -> Response {
    let mut r = refusal(StatusCode::UNAUTHORIZED, message);
    r.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Basic realm=\"berth\""));
    r
}

/// The separate metrics listener's app (`--metrics-listen`): `GET /metrics` without authentication, nothing
/// else. Whoever can reach its address can read the metrics, so bind it where only the monitoring system
/// can (e.g. `127.0.0.1:9090`).
pub fn exporter(handle: PrometheusHandle, registry: Registry) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let (handle, registry) = (handle.clone(), registry.clone());
            async move { exposition(&handle, &registry).await }
        }),
    )
}

/// Counts a refused authentication or access decision (`berth_auth_failures_total{reason}`); other errors
/// are not the caller's and are not counted.
pub(crate) fn auth_failure(e: &IdentityError) {
    let reason = match e {
        IdentityError::BadCredentials => "credentials",
        IdentityError::Signature(_) => "signature",
        IdentityError::RateLimited { .. } => "throttled",
        IdentityError::Denied { .. } => "denied",
        _ => return,
    };
    metrics::counter!(names::AUTH_FAILURES, "reason" => reason).increment(1);
}

/// Counts a request refused by a rate limit (`berth_rate_limited_total{limit}`).
pub(crate) fn rate_limited(kind: berth_identity::ratelimit::LimitKind) {
    metrics::counter!(names::RATE_LIMITED, "limit" => kind.label()).increment(1);
}
