//! Request handlers, one module per resource. [`dispatch`] picks one from the parsed endpoint and method.

mod blobs;
mod listing;
mod manifests;
mod uploads;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use berth_identity::Caller;
use berth_oci::ErrorCode;

use crate::AppState;
use crate::authn::Decided;
use crate::endpoint::{Endpoint, RouteError};
use crate::error::ApiError;
use crate::observe::Parsed;
use crate::params::Params;

type HandlerResult = Result<Response, ApiError>;

/// What a `/v2/` handler may need from the request, apart from the body (which is not `Sync` and is passed
/// by value to the handlers that read it).
pub(crate) struct Req {
    /// Who is calling (set by the authorisation middleware).
    pub caller: Caller,
    pub method: Method,
    pub headers: HeaderMap,
    pub params: Params,
}

pub async fn dispatch(
    State(app): State<Arc<AppState>>,
    Extension(Parsed(parsed)): Extension<Parsed>,
    decided: Option<Extension<Decided>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    let endpoint = match parsed {
        Ok(e) => e,
        // A manifest reference that is neither a tag nor a digest: nothing can exist under it, so a read
        // finds nothing (as Distribution answers); a push to it stays a 400 naming what is wrong.
        Err(RouteError::Reference(e)) if method == Method::GET || method == Method::HEAD => {
            let message = format!("manifest unknown: the reference is neither a tag nor a digest ({e})");
            return ApiError::new(ErrorCode::ManifestUnknown, message).into_response();
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    // No handler runs without a decision: the middleware adds one to every parsed request.
    let Some(Extension(decided)) = decided else {
        tracing::error!(route = endpoint.route(), "a /v2 request reached its handler without an access decision");
        return ApiError::internal().into_response();
    };
    let req = Req { caller: decided.caller, method, headers, params: Params::parse(query.as_deref()) };
    route(&app, endpoint, req, body).await.unwrap_or_else(IntoResponse::into_response)
}

/// `GET`/`HEAD /ecr-download/<name>/blobs/<digest>?token=...`: the URL `GetDownloadUrlForLayer` hands out.
/// The token (signed by berth, for this blob only, short-lived) is the authorisation: it was issued to a
/// caller the policy engine allowed `ecr:GetDownloadUrlForLayer`.
pub async fn download(
    State(app): State<Arc<AppState>>,
    axum::extract::Path(rest): axum::extract::Path<String>,
    RawQuery(query): RawQuery,
    request: axum::extract::Request,
) -> Response {
    let ip = crate::authn::client_ip(&request);
    let (method, headers) = (request.method().clone(), request.headers().clone());
    let params = Params::parse(query.as_deref());
    let denied = || ApiError::new(berth_oci::ErrorCode::Denied, "the download URL is invalid or has expired");
    let result = async {
        let Ok(Endpoint::Blob { name, digest }) = Endpoint::parse(&rest) else {
            return Err(ApiError::new(berth_oci::ErrorCode::NameInvalid, "not a layer download URL"));
        };
        let token = params.get("token").ok_or_else(denied)?;
        let issued_to =
            app.identity.verify_download_token(token, name.as_str(), &digest.to_string()).map_err(|_| denied())?;
        crate::meter::note_download(&app, &issued_to, ip, name.as_str());
        let req = Req { caller: Caller::anonymous(ip, app.tls), method, headers, params: Params::default() };
        blobs::get(&app.registry, &name, &digest, &req).await
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

async fn route(app: &AppState, endpoint: Endpoint, req: Req, body: Body) -> HandlerResult {
    let r = &app.registry;
    let read = req.method == Method::GET || req.method == Method::HEAD;
    match (endpoint, req.method.clone()) {
        (Endpoint::Base, _) if read => Ok(Json(serde_json::json!({})).into_response()),
        (Endpoint::Catalog, _) if read => listing::catalog(app, &req).await,
        (Endpoint::Tags { name }, _) if read => listing::tags(r, &name, &req).await,
        (Endpoint::Referrers { name, digest }, _) if read => listing::referrers(r, &name, &digest, &req).await,
        (Endpoint::Manifest { name, reference }, _) if read => manifests::get(r, &name, &reference, &req).await,
        (Endpoint::Manifest { name, reference }, Method::PUT) => manifests::put(r, &name, &reference, &req, body).await,
        (Endpoint::Manifest { name, reference }, Method::DELETE) => manifests::delete(r, &name, &reference).await,
        (Endpoint::Blob { name, digest }, _) if read => blobs::get(r, &name, &digest, &req).await,
        (Endpoint::Blob { name, digest }, Method::DELETE) => blobs::delete(r, &name, &digest).await,
        (Endpoint::UploadStart { name }, Method::POST) => uploads::start(app, &name, &req, body).await,
        (Endpoint::Upload { name, id }, Method::GET) => uploads::status(r, &name, &id).await,
        (Endpoint::Upload { name, id }, Method::PATCH) => uploads::patch(r, &name, &id, &req, body).await,
        (Endpoint::Upload { name, id }, Method::PUT) => uploads::finish(r, &name, &id, &req, body).await,
        (Endpoint::Upload { name, id }, Method::DELETE) => uploads::cancel(r, &name, &id).await,
        (_, method) => Err(ApiError::unsupported(method.as_str()).with_status(StatusCode::METHOD_NOT_ALLOWED)),
    }
}

/// Builds a response with an empty body and the given headers.
pub(crate) fn empty(status: StatusCode, headers: &[(&str, String)]) -> HandlerResult {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, v);
    }
    b.header(header::CONTENT_LENGTH, "0").body(Body::empty()).map_err(|e| internal(&e))
}

pub(crate) fn internal(e: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "building a response failed");
    ApiError::internal()
}
