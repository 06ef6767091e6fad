//! Parses the endpoint once, then logs one line per request and records request metrics.

use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::endpoint::{Endpoint, RouteError};
use crate::headers::content_length;

/// The parsed `/v2/` endpoint, placed in the request's extensions for the handler.
#[derive(Debug, Clone)]
pub struct Parsed(pub Result<Endpoint, RouteError>);

pub async fn observe(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = req.uri().path();
    let parsed =
        path.strip_prefix("/v2").map(|rest| Endpoint::parse(rest.strip_prefix('/').unwrap_or(rest))).map(Parsed);
    let route = match &parsed {
        Some(Parsed(Ok(e))) => e.route(),
        Some(Parsed(Err(_))) => "invalid",
        None if path == "/metrics" => "metrics",
        None if path == "/" => "ecr",
        None => "other",
    };
    let repo = match &parsed {
        Some(Parsed(Ok(e))) => e.repository().map(|r| r.to_string()),
        _ => None,
    };
    let method = req.method().clone();
    let bytes_in = content_length(req.headers()).unwrap_or(0);
    if let Some(p) = parsed {
        req.extensions_mut().insert(p);
    }

    let mut resp = next.run(req).await;
    resp.headers_mut().insert("docker-distribution-api-version", HeaderValue::from_static("registry/2.0"));

    let status = resp.status().as_u16();
    let bytes_out = resp.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
    let elapsed = started.elapsed();
    tracing::info!(
        method = %method,
        route,
        repo = repo.as_deref().unwrap_or("-"),
        status,
        bytes_in,
        bytes_out = bytes_out.unwrap_or(0u64),
        ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    let labels = [("method", method.to_string()), ("route", route.to_string()), ("status", status.to_string())];
    metrics::counter!("berth_http_requests_total", &labels).increment(1);
    metrics::histogram!("berth_http_request_duration_seconds", "method" => method.to_string(), "route" => route)
        .record(elapsed.as_secs_f64());
    metrics::counter!("berth_http_bytes_received_total", "route" => route).increment(bytes_in);
    if method != axum::http::Method::HEAD {
        metrics::counter!("berth_http_bytes_sent_total", "route" => route).increment(bytes_out.unwrap_or(0));
    }
    resp
}
