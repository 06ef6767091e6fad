//! Blob uploads: `POST /v2/<name>/blobs/uploads/` (session, monolithic push or mount) and
//! `GET`/`PATCH`/`PUT`/`DELETE /v2/<name>/blobs/uploads/<id>`.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use berth_oci::{Digest, ErrorCode, RepositoryName};
use berth_registry::{Registry, byte_stream};
use berth_storage::ByteStream;

use berth_identity::Resource;

use super::{HandlerResult, Req, empty};
use crate::AppState;
use crate::error::{ApiError, upload_range};
use crate::headers;

fn upload_location(name: &RepositoryName, id: &str) -> String {
    format!("/v2/{name}/blobs/uploads/{id}")
}

fn session_response(
    status: StatusCode,
    name: &RepositoryName,
    id: &str,
    size: u64,
    extra: &[(&str, String)],
) -> HandlerResult {
    let mut h = vec![
        ("location", upload_location(name, id)),
        ("range", upload_range(size)),
        ("docker-upload-uuid", id.to_string()),
    ];
    h.extend_from_slice(extra);
    empty(status, &h)
}

fn blob_created(name: &RepositoryName, digest: &Digest) -> HandlerResult {
    empty(
        StatusCode::CREATED,
        &[("location", format!("/v2/{name}/blobs/{digest}")), ("docker-content-digest", digest.to_string())],
    )
}

fn digest_param(req: &Req, name: &str) -> Result<Option<Digest>, ApiError> {
    req.params
        .get(name)
        .map(|d| d.parse::<Digest>().map_err(|e| ApiError::new(ErrorCode::DigestInvalid, format!("{name}: {e}"))))
        .transpose()
}

/// The request body as a stream, or `None` when the request says it has none.
fn body_of(headers: &HeaderMap, body: axum::body::Body) -> Option<ByteStream> {
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    match headers::content_length(headers) {
        Some(0) => None,
        None if !chunked => None,
        _ => Some(byte_stream(body.into_data_stream())),
    }
}

pub async fn start(app: &AppState, name: &RepositoryName, req: &Req, body: Body) -> HandlerResult {
    let r = &app.registry;
    if let Some(digest) = digest_param(req, "mount")? {
        if let Some(from) = req.params.get("from") {
            let from: RepositoryName =
                from.parse().map_err(|e: berth_oci::NameError| ApiError::new(ErrorCode::NameInvalid, e.to_string()))?;
            // Mounting reads the source repository: without pull rights there, fall back to an upload.
            let may_read = app
                .identity
                .is_allowed(&req.caller, "ecr:GetDownloadUrlForLayer", &Resource::Repository(&from))
                .await
                .map_err(|_| ApiError::internal())?;
            if may_read && r.mount_blob(name, &from, &digest).await?.is_some() {
                return blob_created(name, &digest);
            }
        }
        // Not mountable: the spec says to fall back to an ordinary upload session.
    } else if let Some(digest) = digest_param(req, "digest")? {
        // The size is known before the bytes arrive: a push a quota has no room for is refused unread.
        if let Some(len) = headers::content_length(&req.headers) {
            r.check_quota(name, Some(&digest), len).await?;
        }
        let body = body_of(&req.headers, body)
            .unwrap_or_else(|| byte_stream(futures_util::stream::empty::<Result<bytes::Bytes, std::io::Error>>()));
        r.push_blob(name, &digest, body).await?;
        return blob_created(name, &digest);
    }
    let session = r.start_upload(name, &req.caller.principal.label()).await?;
    let min = r.limits().chunk_min_length.to_string();
    session_response(StatusCode::ACCEPTED, name, &session.id, 0, &[("oci-chunk-min-length", min)])
}

pub async fn status(r: &Registry, name: &RepositoryName, id: &str) -> HandlerResult {
    let p = r.upload_status(name, id).await?;
    session_response(StatusCode::NO_CONTENT, name, &p.id, p.size, &[])
}

/// Checks `Content-Range` against `Content-Length`; returns the chunk's start offset.
fn chunk_start(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some((start, end)) = headers::content_range(headers).map_err(|_| {
        ApiError::new(ErrorCode::RangeInvalid, "malformed Content-Range header")
            .with_status(StatusCode::RANGE_NOT_SATISFIABLE)
    })?
    else {
        return Ok(None);
    };
    if let Some(len) = headers::content_length(headers)
        && len != end - start + 1
    {
        return Err(ApiError::new(
            ErrorCode::SizeInvalid,
            format!("Content-Range {start}-{end} does not match Content-Length {len}"),
        ));
    }
    Ok(Some(start))
}

pub async fn patch(r: &Registry, name: &RepositoryName, id: &str, req: &Req, body: Body) -> HandlerResult {
    let start = chunk_start(&req.headers)?;
    if let Some(len) = headers::content_length(&req.headers).filter(|len| *len > 0) {
        r.check_upload_quota(name, id, len).await?;
    }
    let p = match body_of(&req.headers, body) {
        Some(body) => r.append_upload(name, id, start, body).await?,
        None => r.upload_status(name, id).await?,
    };
    session_response(StatusCode::ACCEPTED, name, &p.id, p.size, &[])
}

pub async fn finish(r: &Registry, name: &RepositoryName, id: &str, req: &Req, body: Body) -> HandlerResult {
    let digest = digest_param(req, "digest")?
        .ok_or_else(|| ApiError::new(ErrorCode::DigestInvalid, "the digest query parameter is required"))?;
    if let Some(start) = chunk_start(&req.headers)? {
        let p = r.upload_status(name, id).await?;
        if start != p.size {
            return Err(
                berth_registry::RegistryError::UploadRangeInvalid { range: format!("{start}-"), size: p.size }.into()
            );
        }
    }
    if let Some(len) = headers::content_length(&req.headers).filter(|len| *len > 0) {
        r.check_upload_quota(name, id, len).await?;
    }
    r.finish_upload(name, id, &digest, body_of(&req.headers, body)).await?;
    blob_created(name, &digest)
}

pub async fn cancel(r: &Registry, name: &RepositoryName, id: &str) -> HandlerResult {
    r.cancel_upload(name, id).await?;
    empty(StatusCode::NO_CONTENT, &[])
}
