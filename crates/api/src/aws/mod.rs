//! What the ECR-compatible API and the admin API share: AWS JSON 1.1 (the one error table in [`errors`],
//! the member reader in [`input`]) and SigV4 authentication of a whole request ([`authenticate`]).
//!
//! Both surfaces accept SigV4 with a berth access key and nothing else: not Basic credentials, and never a
//! registry bearer token (those are for `/v2` and carry only repository grants).

pub mod errors;
pub mod input;

use std::net::IpAddr;

use axum::http::header;
use axum::http::request::Parts;
use berth_identity::Caller;
use serde_json::{Map, Value};

use self::errors::{AwsError, ErrorType};
use crate::AppState;
use crate::sigv4::canonical_input;

/// The media type of AWS JSON 1.1 requests and responses.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// What a surface requires of a signature beyond its validity.
pub(crate) struct SigningRules {
    /// The SigV4 service the credential scope must name.
    pub service: &'static str,
    /// Whether the credential scope must name the registry's region (the ECR API, as AWS checks it).
    pub check_region: bool,
    /// Headers that must be signed when present (`host` always is); `x-amz-target` must also be present
    /// when listed, since it names the operation.
    pub signed: &'static [&'static str],
}

fn invalid_signature(message: impl Into<String>) -> AwsError {
    AwsError::new(ErrorType::InvalidSignature, message)
}

/// Authenticates a SigV4-signed request: the signature covers the method, path, query, the headers the
/// rules name and the whole body (`UNSIGNED-PAYLOAD` is refused: the body is the operation's input).
pub(crate) async fn authenticate(
    app: &AppState,
    parts: &Parts,
    body: &[u8],
    ip: Option<IpAddr>,
    rules: &SigningRules,
) -> Result<Caller, AwsError> {
    let authorization = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    if authorization.is_empty() {
        return Err(AwsError::new(ErrorType::MissingAuthenticationToken, "Missing Authentication Token"));
    }
    if !authorization.starts_with(berth_auth::sigv4::ALGORITHM) {
        return Err(invalid_signature("requests must be signed with AWS Signature Version 4 (AWS4-HMAC-SHA256)"));
    }
    let parsed = berth_auth::sigv4::parse_authorization(authorization).map_err(|e| invalid_signature(e.to_string()))?;
    if parsed.service != rules.service {
        return Err(invalid_signature(format!("Credential should be scoped to correct service: '{}'.", rules.service)));
    }
    let region = &app.identity.account().region;
    if rules.check_region && &parsed.region != region {
        return Err(invalid_signature(format!(
            "Credential should be scoped to a valid region: this registry's region is '{region}'."
        )));
    }
    if parts.headers.get("x-amz-content-sha256").is_some_and(|v| v.as_bytes() == b"UNSIGNED-PAYLOAD") {
        return Err(invalid_signature("the payload must be signed: UNSIGNED-PAYLOAD is not accepted"));
    }
    let signed = |h: &str| parsed.signed_headers.iter().any(|s| s == h);
    for &h in rules.signed.iter().chain(&["host"]) {
        let present = parts.headers.contains_key(h) || (h == "host" && parts.uri.authority().is_some());
        if h == "x-amz-target" && !present {
            return Err(AwsError::new(ErrorType::UnknownOperation, "the X-Amz-Target header is missing"));
        }
        if present && !signed(h) {
            return Err(invalid_signature(format!("the {h} header must be signed (SignedHeaders)")));
        }
    }
    let input = canonical_input(parts, body);
    let principal =
        app.identity.authenticate_sigv4(&input, authorization, ip).await.inspect_err(crate::metrics::auth_failure)?;
    Ok(Caller { principal, source_ip: ip, secure: app.tls })
}

/// A request body: empty (no members) or a JSON object.
pub(crate) fn json_object(body: &[u8]) -> Result<Map<String, Value>, AwsError> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(AwsError::new(ErrorType::Serialization, "the request body must be a JSON object")),
    }
}
