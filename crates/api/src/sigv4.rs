//! What SigV4 verification needs from an HTTP request, shared by every SigV4-signed surface (the admin API
//! and the ECR-compatible API).

use axum::http::HeaderMap;
use axum::http::request::Parts;
use berth_auth::sigv4::CanonicalInput;
use sha2::{Digest as _, Sha256};

/// The request as the signer saw it: method, raw path and query, every header, and the body's hash (or
/// `UNSIGNED-PAYLOAD` when the request declared so).
pub(crate) fn canonical_input(req: &Parts, body: &[u8]) -> CanonicalInput {
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    // HTTP/2 carries the host as the `:authority` pseudo-header, which signers sign as `host`.
    if !headers.iter().any(|(k, _)| k == "host")
        && let Some(authority) = req.uri.authority()
    {
        headers.push(("host".to_string(), authority.to_string()));
    }
    let declared = header_value(&req.headers, "x-amz-content-sha256");
    let payload_sha256 = match declared.as_deref() {
        Some("UNSIGNED-PAYLOAD") => "UNSIGNED-PAYLOAD".to_string(),
        _ => hex::encode(Sha256::digest(body)),
    };
    CanonicalInput {
        method: req.method.as_str().to_string(),
        path: req.uri.path().to_string(),
        query: req.uri.query().unwrap_or("").to_string(),
        headers,
        payload_sha256,
    }
}

pub(crate) fn header_value(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}
