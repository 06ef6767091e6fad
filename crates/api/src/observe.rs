//! Parses the endpoint once, then logs one line per request, records request metrics ([`metrics::http`])
//! and meters it ([`crate::meter`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt;

use crate::AppState;
use crate::endpoint::{Endpoint, RouteError};
use crate::headers::content_length;
use crate::metrics::http::{InFlight, Observation, record};
use crate::metrics::routes;

/// The parsed `/v2/` endpoint, placed in the request's extensions for the handler.
#[derive(Debug, Clone)]
pub struct Parsed(pub Result<Endpoint, RouteError>);

pub async fn observe(State(app): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
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
    let metering = app.registry.meter().enabled();
    // Bytes accepted: what the handler read of the body (a streamed upload declares no length).
    let read = Arc::new(AtomicU64::new(0));
    if metering {
        let counter = read.clone();
        req = req.map(|body| {
            Body::new(body.map_frame(move |frame| {
                if let Some(data) = frame.data_ref() {
                    counter.fetch_add(data.len() as u64, Ordering::Relaxed);
                }
                frame
            }))
        });
    }
    let (mut resp, noted) =
        if metering { crate::meter::scope(next.run(req)).await } else { (next.run(req).await, Default::default()) };
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
    if metering {
        // Bytes are metered as the response declares them (a response cut short still counts whole).
        let repository = noted.repository.as_deref().or(repo.as_deref()).unwrap_or("");
        let operation = noted.operation.unwrap_or_else(|| crate::meter::operation(&method, route.label()));
        // A body built whole (an error's JSON) has no Content-Length header yet, but an exact size.
        let served = match bytes_out {
            Some(n) => n,
            None if method == Method::HEAD => 0,
            None => axum::body::HttpBody::size_hint(resp.body()).exact().unwrap_or(0),
        };
        let out = served.saturating_add(noted.redirected_bytes);
        let accepted = read.load(Ordering::Relaxed);
        app.registry.meter().record(repository, noted.subject.as_deref().unwrap_or(""), &operation, accepted, out);
    }
    resp
}
