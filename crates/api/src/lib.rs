//! berth's HTTP surface: the OCI distribution API under `/v2/`, the admin API under `/admin/v1/`, the
//! ECR-compatible API at `POST /` ([`ecr`]), Prometheus `/metrics` and `/healthz`.
//! This is the only crate that knows HTTP; it turns requests into calls on [`berth_registry::Registry`] and
//! registry errors into the spec's error JSON ([`error::ApiError`]).
//!
//! Every `/v2/` path is parsed once, in the [`observe`] middleware, into an [`Endpoint`]; handlers receive it
//! parsed. The same middleware writes the access log line and the request metrics.

mod access;
mod admin;
mod authn;
mod aws;
mod console;
mod ecr;
pub mod endpoint;
pub mod error;
mod file_region;
mod handlers;
mod headers;
pub mod lifecycle;
mod login;
mod meter;
pub mod metrics;
mod observe;
mod params;
mod sigv4;
pub mod soft_delete;
mod token;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::routing::{any, get, post};
use berth_identity::Identity;
use berth_registry::Registry;
use metrics_exporter_prometheus::PrometheusHandle;

pub use ecr::{NEWER_THAN_BOTOCORE as ECR_OPERATIONS_NEWER_THAN_BOTOCORE, OPERATIONS as ECR_OPERATIONS};
pub use endpoint::Endpoint;
pub use file_region::FileRegion;

/// What every handler can reach.
pub struct AppState {
    pub registry: Registry,
    pub identity: Arc<Identity>,
    /// Whether the listener is TLS (for challenges' URLs and `aws:SecureTransport`).
    pub tls: bool,
    /// Renders `/metrics`; `None` when no recorder is installed (e.g. in-process tests).
    pub metrics: Option<PrometheusHandle>,
    /// The rate limits (`[rate_limits]`), decided in [`access`]; `None` when none is configured.
    pub rate_limits: Option<Arc<berth_identity::ratelimit::RateLimiter>>,
}

/// Builds the application: a `Router` that tests can call without a socket.
pub fn router(state: AppState) -> Router {
    let state = Arc::new(state);
    // Every /v2 request is authenticated and authorised before its handler runs.
    let v2 = Router::new()
        .route("/v2", any(handlers::dispatch))
        .route("/v2/", any(handlers::dispatch))
        .route("/v2/{*rest}", any(handlers::dispatch))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), authn::authorize_v2));
    Router::new()
        .merge(v2)
        .route("/token", get(token::token).post(token::token))
        .route("/admin/v1/{op}", post(admin::admin))
        .route("/auth/v1/Login", post(login::login))
        // The ECR-compatible API: AWS JSON 1.1, the operation in `X-Amz-Target`.
        .route("/", post(ecr::handle))
        .route(&format!("{}/{{*rest}}", ecr::DOWNLOAD_PATH), get(handlers::download))
        .route("/metrics", get(metrics::scrape))
        .route("/healthz", get(|| async { "ok" }))
        .merge(console::routes())
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe::observe))
        .with_state(state)
}
