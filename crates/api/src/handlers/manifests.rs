//! `GET`/`HEAD`/`PUT`/`DELETE /v2/<name>/manifests/<reference>`.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use berth_oci::{ErrorCode, Reference, RepositoryName, Tag};
use berth_registry::{ManifestRead, Registry, RegistryError};
use http_body_util::{BodyExt, Limited};

use super::{HandlerResult, Req, empty, internal};
use crate::error::ApiError;
use crate::headers;

pub async fn get(r: &Registry, name: &RepositoryName, reference: &Reference, req: &Req) -> HandlerResult {
    let puller = req.caller.principal.puller();
    let purpose =
        if req.method == Method::GET { ManifestRead::Pull { by: puller.as_deref() } } else { ManifestRead::Head };
    let m = r.get_manifest(name, reference, purpose).await?;
    if !headers::accepts(&req.headers, &m.media_type) {
        return Err(ApiError::new(
            ErrorCode::ManifestUnknown,
            format!("manifest is a {}, which the Accept header does not include", m.media_type),
        )
        .with_status(StatusCode::NOT_FOUND));
    }
    let b = Response::builder()
        .header(header::CONTENT_TYPE, &m.media_type)
        .header(header::CONTENT_LENGTH, m.content.len())
        .header("docker-content-digest", m.digest.to_string())
        .header(header::ETAG, format!("\"{}\"", m.digest));
    let body = if req.method == Method::HEAD { Body::empty() } else { Body::from(m.content) };
    b.body(body).map_err(|e| internal(&e))
}

pub async fn put(r: &Registry, name: &RepositoryName, reference: &Reference, req: &Req, body: Body) -> HandlerResult {
    let limit = r.limits().max_manifest_bytes;
    let too_large = || ApiError::from(RegistryError::ManifestTooLarge { limit });
    if headers::content_length(&req.headers).is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let body = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                ApiError::new(ErrorCode::ManifestInvalid, format!("reading the manifest failed: {e}"))
            }
        })?
        .to_bytes();
    let tags = req
        .params
        .all("tag")
        .map(|t| t.parse::<Tag>().map_err(|e| ApiError::new(ErrorCode::TagInvalid, format!("tag {t:?}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let pushed = r.put_manifest(name, reference, &tags, headers::content_type(&req.headers), body.to_vec()).await?;
    // Signatures name the repository as clients reach it: the host this push came to.
    let host = req.headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    r.sign_on_push(name, &pushed.digest, host).await;
    let mut h = vec![
        ("location", format!("/v2/{name}/manifests/{}", pushed.digest)),
        ("docker-content-digest", pushed.digest.to_string()),
    ];
    if let Some(subject) = pushed.subject {
        h.push(("oci-subject", subject.to_string()));
    }
    empty(StatusCode::CREATED, &h)
}

pub async fn delete(r: &Registry, name: &RepositoryName, reference: &Reference) -> HandlerResult {
    r.delete_manifest(name, reference).await?;
    empty(StatusCode::ACCEPTED, &[])
}
