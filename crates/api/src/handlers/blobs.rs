//! `GET`/`HEAD`/`DELETE /v2/<name>/blobs/<digest>`.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use berth_oci::{Digest, ErrorCode, RepositoryName};
use berth_registry::Registry;
use tokio_util::io::ReaderStream;

use super::{HandlerResult, Req, empty, internal};
use crate::error::ApiError;
use crate::headers;

/// Read buffer for streaming a blob: large enough that a GiB blob is a thousand reads, and at least the
/// store's own read buffer (1 MiB), which a read this large bypasses instead of copying every byte through.
const READ_CHUNK: usize = 1024 * 1024;

pub async fn get(r: &Registry, name: &RepositoryName, digest: &Digest, req: &Req) -> HandlerResult {
    let range =
        headers::range(&req.headers).map_err(|_| ApiError::new(ErrorCode::RangeInvalid, "malformed Range header"))?;
    if req.method == Method::HEAD {
        let size = r.stat_blob_for_pull(name, digest).await?;
        return Response::builder()
            .header(header::CONTENT_LENGTH, size)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(header::ACCEPT_RANGES, "bytes")
            .header("docker-content-digest", digest.to_string())
            .header(header::ETAG, format!("\"{digest}\""))
            .body(Body::empty())
            .map_err(|e| internal(&e));
    }
    // Redirecting stores: the client fetches the bytes (and its range) from the presigned URL.
    if let Some(url) = r.blob_download_url(name, digest).await? {
        return Response::builder()
            .status(StatusCode::TEMPORARY_REDIRECT)
            .header(header::LOCATION, url)
            .header("docker-content-digest", digest.to_string())
            .header(header::CONTENT_LENGTH, 0)
            .body(Body::empty())
            .map_err(|e| internal(&e));
    }
    let blob = r.open_blob(name, digest, range).await?;
    let mut b = Response::builder()
        .header(header::CONTENT_LENGTH, blob.reader.len)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::ACCEPT_RANGES, "bytes")
        .header("docker-content-digest", digest.to_string())
        .header(header::ETAG, format!("\"{digest}\""))
        .header(header::CACHE_CONTROL, "max-age=31536000");
    if let Some(range) = &blob.range {
        b = b
            .status(StatusCode::PARTIAL_CONTENT)
            .header(header::CONTENT_RANGE, format!("bytes {}-{}/{}", range.start, range.end - 1, blob.size));
    }
    let stream = ReaderStream::with_capacity(blob.reader.reader, READ_CHUNK);
    b.body(Body::from_stream(stream)).map_err(|e| internal(&e))
}

pub async fn delete(r: &Registry, name: &RepositoryName, digest: &Digest) -> HandlerResult {
    r.delete_blob(name, digest).await?;
    empty(StatusCode::ACCEPTED, &[("docker-content-digest", digest.to_string())])
}
