//! Parses the endpoint once, then logs one line per request and records request metrics ([`metrics::http`]).

use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::endpoint::{Endpoint, RouteError};
use crate::headers::content_length;
use crate::metrics::http::{InFlight, Observation, record};
use crate::metrics::routes;

/// The parsed `/v2/` endpoint, placed in the request's extensions for the handler.
#[derive(Debug, Clone)]
pub struct Parsed(pub Result<Endpoint, RouteError>);

pub async fn observe(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = req.uri().path();
    let parsed =
        path.strip_prefix("/v2").map(|rest| Endpoint::parse(rest.strip_prefix('/').unwrap_or(rest))).map(Parsed);
    let route = routes::of(&req, parsed.as_ref());
    let repo = match &parsed {
        Some(Parsed(Ok(e))) => e.repository().map(|r| r.to_string()),
        _ => None,
    };
    let method = req.method().clone();
    let bytes_in = content_length(req.headers()).unwrap_or(0);
    let receives_blob = match &parsed {
        Some(Parsed(Ok(Endpoint::Upload { .. }))) => method == Method::PATCH || method == Method::PUT,
        Some(Parsed(Ok(Endpoint::UploadStart { .. }))) => method == Method::POST,
        _ => false,
    };
    if let Some(p) = parsed {
        req.extensions_mut().insert(p);
    }

    let in_flight = InFlight::start(receives_blob);
    let mut resp = next.run(req).await;
    drop(in_flight);
    resp.headers_mut().insert("docker-distribution-api-version", HeaderValue::from_static("registry/2.0"));

    let status = resp.status().as_u16();
    let length = resp.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
    let bytes_out = if method == Method::HEAD { None } else { length };
    let elapsed = started.elapsed();
    tracing::info!(
        method = %method,
        route = route.label(),
        repo = repo.as_deref().unwrap_or("-"),
        status,
        bytes_in,
        bytes_out = bytes_out.unwrap_or(0u64),
        ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    record(&Observation { route: &route, method: &method, status, elapsed, bytes_in, bytes_out });
    resp
}
