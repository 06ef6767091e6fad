//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`): verifying signed requests (server) and signing them
//! (berth's CLI), so that the AWS CLI and SDKs can call berth's ECR-compatible API with a berth access key.
//!
//! The canonical request is built exactly as botocore (the AWS CLI) builds it, since that is the client
//! that must interoperate:
//! - path: for every service but `s3`, the path as received (already percent-encoded) has its dot segments
//!   and empty segments removed, and is then URI-encoded once more: AWS's "double encoding" (`/a%20b`
//!   signs as `/a%2520b`). For `s3` the path is used as received.
//! - query: each `name=value` is percent-decoded and re-encoded the AWS way (unreserved characters kept,
//!   everything else `%XX`), then sorted by name and value.
//! - headers: the signed ones, in `SignedHeaders` order, values trimmed with inner whitespace runs
//!   collapsed, repeated headers joined with `,`.
//! - payload: the body's SHA-256 in hex, or `UNSIGNED-PAYLOAD` when the request declared so in the signed
//!   `x-amz-content-sha256` header.
//!
//! Hand-written with `hmac` + `sha2` rather than the `aws-sigv4` crate: the algorithm is small, the
//! server-side checks (skew, scope, required headers) would need writing anyway, and `aws-sigv4` brings in
//! the AWS Smithy runtime.

mod canonical;
mod parse;

#[cfg(test)]
mod tests;

use sha2_010::{Digest as _, Sha256};

use crate::secret::{Secret, constant_time_eq};

pub use parse::parse_authorization;

/// The only algorithm berth accepts.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The `x-amz-content-sha256` value of a request whose body is not covered by the signature.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// How far `x-amz-date` may be from the server's clock, either way (AWS's limit).
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// A request as the server received it, which is everything the signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalInput {
    /// Upper case, as on the request line.
    pub method: String,
    /// The path as received, still percent-encoded (not decoded, not normalised).
    pub path: String,
    /// The query string as received, without the `?`; empty when there is none.
    pub query: String,
    /// Every header, name in lower case; a header sent several times appears several times.
    pub headers: Vec<(String, String)>,
    /// Hex SHA-256 of the body as received, or [`UNSIGNED_PAYLOAD`] when `x-amz-content-sha256` says so.
    pub payload_sha256: String,
}

/// The parsed `Authorization` header of a SigV4 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV4Auth {
    pub access_key_id: String,
    /// The credential scope's date, `YYYYMMDD`.
    pub date: String,
    pub region: String,
    pub service: String,
    /// Lower case, in the order given (clients send them sorted).
    pub signed_headers: Vec<String>,
    /// 64 lower-case hex digits.
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    #[error("malformed SigV4 Authorization header: {0}")]
    Malformed(&'static str),
    #[error("unsupported signature algorithm (only {ALGORITHM} is accepted)")]
    UnsupportedAlgorithm,
    #[error("header {0} must be signed")]
    HeaderNotSigned(&'static str),
    #[error("signed header {0} is missing from the request")]
    MissingHeader(String),
    #[error("x-amz-date must be a single YYYYMMDDTHHMMSSZ value")]
    BadDate,
    #[error("the credential scope's date does not match x-amz-date")]
    ScopeDateMismatch,
    /// The request's time is more than [`MAX_SKEW_SECS`] from the server's (AWS: `RequestTimeTooSkewed`).
    #[error("request time {request_time} is too far from server time {server_time}")]
    RequestTimeTooSkewed { request_time: i64, server_time: i64 },
    #[error("x-amz-content-sha256 does not match the request body")]
    PayloadHashMismatch,
    /// AWS: `SignatureDoesNotMatch`.
    #[error("the request signature does not match")]
    InvalidSignature,
}

/// Hex SHA-256 of a request body, for [`CanonicalInput::payload_sha256`].
pub fn payload_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The values of header `name` (lower case) in `headers`.
fn header_values<'a>(headers: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Checks that `request` was signed by the holder of `secret` as `auth` claims, within
/// [`MAX_SKEW_SECS`] of `now_unix`. The caller has looked up `secret` by `auth.access_key_id`.
pub fn verify(request: &CanonicalInput, auth: &SigV4Auth, secret: &Secret, now_unix: i64) -> Result<(), SigV4Error> {
    let signed = |h: &str| auth.signed_headers.iter().any(|s| s == h);
    if !signed("host") {
        return Err(SigV4Error::HeaderNotSigned("host"));
    }
    if !signed("x-amz-date") {
        return Err(SigV4Error::HeaderNotSigned("x-amz-date"));
    }
    let mut dates = header_values(&request.headers, "x-amz-date");
    let amz_date = match (dates.next(), dates.next()) {
        (Some(d), None) => d.trim(),
        (None, _) => return Err(SigV4Error::MissingHeader("x-amz-date".into())),
        (Some(_), Some(_)) => return Err(SigV4Error::BadDate),
    };
    let request_time = parse::parse_amz_date(amz_date)?;
    if auth.date != amz_date[..8] {
        return Err(SigV4Error::ScopeDateMismatch);
    }
    if request_time.abs_diff(now_unix) > MAX_SKEW_SECS.unsigned_abs() {
        return Err(SigV4Error::RequestTimeTooSkewed { request_time, server_time: now_unix });
    }
    // A declared body hash must be the real one: the signature covers the declared value only through
    // the payload line, so check it here to report a tampered body as such.
    for declared in header_values(&request.headers, "x-amz-content-sha256") {
        if !declared.trim().eq_ignore_ascii_case(&request.payload_sha256) {
            return Err(SigV4Error::PayloadHashMismatch);
        }
    }
    if request.payload_sha256 == UNSIGNED_PAYLOAD && !signed("x-amz-content-sha256") {
        return Err(SigV4Error::HeaderNotSigned("x-amz-content-sha256"));
    }
    let expected = canonical::signature(
        request,
        &auth.signed_headers,
        amz_date,
        &canonical::Scope { date: &auth.date, region: &auth.region, service: &auth.service },
        secret,
    )?;
    if constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        Ok(())
    } else {
        Err(SigV4Error::InvalidSignature)
    }
}

/// Who signs, for what, and when: the parameters of [`sign`] besides the request itself.
#[derive(Debug, Clone, Copy)]
pub struct SigningParams<'a> {
    pub access_key_id: &'a str,
    pub secret: &'a Secret,
    pub region: &'a str,
    pub service: &'a str,
    pub now_unix: i64,
}

/// Headers never signed, as botocore: hop-by-hop headers and ones that proxies rewrite.
const UNSIGNED_HEADERS: &[&str] = &[
    "authorization",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
];

/// Signs a request (client side): adds `x-amz-date`, `x-amz-content-sha256` and `authorization` to
/// `headers` (replacing any already there) and signs every header present except the hop-by-hop ones.
/// `headers` must contain `host`; `path` and `query` are as they will be sent (percent-encoded).
pub fn sign(
    method: &str,
    path: &str,
    query: &str,
    headers: &mut Vec<(String, String)>,
    payload: &[u8],
    params: &SigningParams<'_>,
) -> Result<(), SigV4Error> {
    let scope_part_ok = |s: &str| !s.is_empty() && !s.contains(['/', ',', '=']) && !s.contains(char::is_whitespace);
    if ![params.access_key_id, params.region, params.service].iter().all(|s| scope_part_ok(s)) {
        return Err(SigV4Error::Malformed("access key id, region and service must be non-empty words"));
    }
    headers.retain(|(n, _)| {
        !["authorization", "x-amz-date", "x-amz-content-sha256"].iter().any(|h| n.eq_ignore_ascii_case(h))
    });
    if header_values(headers, "host").next().is_none() {
        return Err(SigV4Error::MissingHeader("host".into()));
    }
    let amz_date = parse::format_amz_date(params.now_unix)?;
    let payload_sha256 = payload_sha256(payload);
    headers.push(("x-amz-date".into(), amz_date.clone()));
    headers.push(("x-amz-content-sha256".into(), payload_sha256.clone()));

    let lowered: Vec<(String, String)> = headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.clone())).collect();
    let mut signed_headers: Vec<String> =
        lowered.iter().map(|(n, _)| n.clone()).filter(|n| !UNSIGNED_HEADERS.contains(&n.as_str())).collect();
    signed_headers.sort();
    signed_headers.dedup();
    let input = CanonicalInput {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers: lowered,
        payload_sha256,
    };
    let scope = canonical::Scope { date: &amz_date[..8], region: params.region, service: params.service };
    let signature = canonical::signature(&input, &signed_headers, &amz_date, &scope, params.secret)?;
    let authorization = format!(
        "{ALGORITHM} Credential={}/{}/{}/{}/aws4_request, SignedHeaders={}, Signature={signature}",
        params.access_key_id,
        scope.date,
        params.region,
        params.service,
        signed_headers.join(";"),
    );
    headers.push(("authorization".into(), authorization));
    Ok(())
}
