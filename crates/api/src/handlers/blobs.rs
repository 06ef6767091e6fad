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

/// Smallest body offered to the connection layer for `sendfile` (see [`crate::FileRegion`]): below it, the
/// extra `open` costs more than copying the bytes.
const ZERO_COPY_MIN: u64 = 64 * 1024;

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
    if let Some((url, size)) = r.blob_download_url(name, digest).await? {
        // The bytes leave the blob store, not this response: metered as served when the redirect is issued.
        crate::meter::note_redirected_bytes(size);
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
    let region = match &blob.local_path {
        Some(path) if blob.reader.len >= ZERO_COPY_MIN => {
            let start = blob.range.as_ref().map_or(0, |r| r.start);
            local_region(path.clone(), blob.size, start, blob.reader.len).await
        }
        _ => None,
    };
    let stream = ReaderStream::with_capacity(blob.reader.reader, READ_CHUNK);
    let mut response = b.body(Body::from_stream(stream)).map_err(|e| internal(&e))?;
    if let Some(region) = region {
        response.extensions_mut().insert(region);
    }
    Ok(response)
}

/// The blob's file on local disk as a [`crate::FileRegion`] of `len` bytes from `start`, when it opens and still
/// holds `size` bytes (the size the reader was checked against); otherwise `None` and the copying body is sent.
async fn local_region(path: std::path::PathBuf, size: u64, start: u64, len: u64) -> Option<crate::FileRegion> {
    let opened = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path)?;
        let stored = file.metadata()?.len();
        Ok::<_, std::io::Error>((stored == size).then_some(file))
    })
    .await;
    match opened {
        Ok(Ok(Some(file))) => Some(crate::FileRegion { file: std::sync::Arc::new(file), offset: start, len }),
        Ok(Ok(None)) => None,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "blob file not available for zero-copy sending");
            None
        }
        Err(_) => None,
    }
}

pub async fn delete(r: &Registry, name: &RepositoryName, digest: &Digest) -> HandlerResult {
    r.delete_blob(name, digest).await?;
    empty(StatusCode::ACCEPTED, &[("docker-content-digest", digest.to_string())])
}
