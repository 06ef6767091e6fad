//! The one mapping from failures to HTTP: every error leaves as the distribution spec's JSON
//! (`{"errors":[{"code","message","detail"}]}`) with its status. Building the response has no side
//! effects; faults are logged here because only here is the request's outcome decided.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_oci::ErrorCode;
use berth_registry::RegistryError;
use serde_json::{Value, json};

use crate::endpoint::RouteError;

/// Boxed so that `Result<_, ApiError>` stays small on the success path.
#[derive(Debug)]
pub struct ApiError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    status: StatusCode,
    /// `None` for server faults (sent as `UNKNOWN`).
    code: Option<ErrorCode>,
    message: String,
    detail: Value,
    headers: HeaderMap,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        ApiError::build(status, Some(code), message.into())
    }

    /// A server fault; the details go to the log, not to the client.
    pub fn internal() -> Self {
        ApiError::build(StatusCode::INTERNAL_SERVER_ERROR, None, "internal error".into())
    }

    fn build(status: StatusCode, code: Option<ErrorCode>, message: String) -> Self {
        ApiError(Box::new(Inner { status, code, message, detail: Value::Null, headers: HeaderMap::new() }))
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.0.status = status;
        self
    }

    pub fn with_detail(mut self, detail: Value) -> Self {
        self.0.detail = detail;
        self
    }

    pub fn with_header(mut self, name: header::HeaderName, value: String) -> Self {
        if let Ok(v) = HeaderValue::from_str(&value) {
            self.0.headers.insert(name, v);
        }
        self
    }

    pub fn unsupported(what: &str) -> Self {
        ApiError::new(ErrorCode::Unsupported, format!("{what} is not supported on this endpoint"))
    }
}

/// Seconds a client is told to wait (`Retry-After`) before retrying a write refused on a full disk.
const INSUFFICIENT_STORAGE_RETRY: u32 = 30;
/// Seconds a client is told to wait when the blob store could not be reached.
const STORAGE_UNAVAILABLE_RETRY: u32 = 5;

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        let Some(code) = e.code() else {
            tracing::error!(error = %e, "request failed on a server fault");
            return ApiError::internal();
        };
        let message = e.to_string();
        match e {
            RegistryError::ManifestTooLarge { limit } => ApiError::new(code, message)
                .with_status(StatusCode::PAYLOAD_TOO_LARGE)
                .with_detail(json!({ "limit": limit })),
            RegistryError::BlobRangeInvalid { size } => {
                ApiError::new(code, message).with_header(header::CONTENT_RANGE, format!("bytes */{size}"))
            }
            RegistryError::UploadRangeInvalid { size, .. } => {
                ApiError::new(code, message).with_header(header::RANGE, upload_range(size))
            }
            RegistryError::ManifestBlobUnknown(d) | RegistryError::BlobUnknown(d) => {
                ApiError::new(code, message).with_detail(json!({ "digest": d }))
            }
            // 503 UNAVAILABLE: the same request succeeds once an operator has freed space.
            RegistryError::InsufficientStorage(_) => {
                ApiError::new(code, message).with_header(header::RETRY_AFTER, INSUFFICIENT_STORAGE_RETRY.to_string())
            }
            // 503 UNAVAILABLE: the blob store (S3) did not answer; the same request succeeds once it does.
            RegistryError::StorageUnavailable(_) => {
                ApiError::new(code, message).with_header(header::RETRY_AFTER, STORAGE_UNAVAILABLE_RETRY.to_string())
            }
            _ => ApiError::new(code, message),
        }
    }
}

impl From<RouteError> for ApiError {
    fn from(e: RouteError) -> Self {
        match e {
            RouteError::NotFound => {
                ApiError::new(ErrorCode::NameUnknown, "no such endpoint").with_status(StatusCode::NOT_FOUND)
            }
            RouteError::Name(e) => ApiError::new(ErrorCode::NameInvalid, e.to_string()),
            RouteError::Digest(e) => ApiError::new(ErrorCode::DigestInvalid, e.to_string()),
            RouteError::Reference(berth_oci::NameError::BadDigest(e)) => {
                ApiError::new(ErrorCode::DigestInvalid, e.to_string())
            }
            RouteError::Reference(e) => ApiError::new(ErrorCode::TagInvalid, e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = *self.0;
        let code = e.code.map(ErrorCode::code).unwrap_or("UNKNOWN");
        let mut err = json!({ "code": code, "message": e.message });
        if !e.detail.is_null() {
            err["detail"] = e.detail;
        }
        let body = json!({ "errors": [err] }).to_string();
        let mut resp = (e.status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
        resp.headers_mut().extend(e.headers);
        resp
    }
}

/// The `Range` header of an upload: `0-<last byte>`; CNCF Distribution sends `0-0` for an empty session,
/// and clients expect that.
pub fn upload_range(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}
