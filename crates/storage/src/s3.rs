//! The S3 backend: blobs, upload sessions and the repository journal as objects in one bucket (under an
//! optional key prefix), through the `object_store` crate's S3 client. Any S3-compatible server works that
//! implements multipart uploads, server-side copy and presigned URLs (see [`layout`] for the keys).
//!
//! # Upload sessions
//!
//! A session maps to an S3 multipart upload whose destination is `uploads/<id>/data`. Appended bytes are
//! cut into parts of [`PART_SIZE`] as they stream in (one part uploads while the next fills); what is left at the end of an append becomes a part
//! too when it has at least [`MIN_PART`] bytes (S3's minimum for every part but the last), else it is
//! written to a new, immutable tail object and carried into the next append, which reads it back and sends
//! it first. The multipart upload id, each part's ETag and size and the tail's name form the session's
//! [`crate::UploadState`] (see [`state`]), which the registry stores in the metadata store with the size
//! and the hash state. So any node continues a session another started, also after that node died: the
//! bytes are all in S3 and the state in the database.
//!
//! An append that fails leaves the caller's state pointing at what was there before: parts the failed
//! append uploaded are overwritten by the retry (same part numbers) or left out of the completion, a
//! multipart upload it created is aborted, and its tail object is never referenced. Two nodes appending to
//! one session at once (a client bug) cannot mix bytes silently: only one state is recorded (the registry
//! compares and sets), and completing with an ETag S3 no longer holds fails.
//!
//! Rewinding a session into bytes already sent as a part (an append at an offset below the parts' end, or
//! a commit of fewer bytes than the parts hold) is refused for appends and done by a copy through berth for
//! commits: S3 cannot read or shorten a part before completion. The registry never does either (it appends
//! and commits exactly at the recorded size).
//!
//! # Committing
//!
//! The registry verifies the digest while the bytes stream in, then calls `commit_upload`: the last bytes
//! go up as the final part, the multipart upload is completed into `uploads/<id>/data` and copied
//! (server-side) to the blob's content-addressed key, then the session's objects are removed. S3 makes an
//! object visible only once it is whole, so a blob appears under its digest with all of its bytes or not
//! at all. A blob that exists already with another size than the session's is verified (re-read and
//! re-hashed): a sound copy is kept, a damaged one replaced; one of the same size is simply replaced by the
//! session's verified bytes (an atomic overwrite, as the trait allows).
//!
//! Abandoned sessions (a node killed before it recorded a new multipart upload) can leave incomplete
//! multipart uploads that no state names; an `AbortIncompleteMultipartUpload` lifecycle rule on the bucket
//! reclaims them (see the README).

mod journal;
mod layout;
mod state;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::io;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use berth_oci::{Digest, DigestHasher, RepositoryName};
use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt as _, TryStreamExt as _};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::multipart::MultipartStore as _;
use object_store::path::Path;
use object_store::signer::Signer as _;
use object_store::{
    ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload,
    RetryConfig, WriteMultipart,
};
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::task::JoinHandle;
use tokio_util::io::StreamReader;

use self::layout::{Layout, is_valid_upload_id, parse_blob_key};
use self::state::{Part, SessionState};
use crate::{BlobReader, BlobStore, ByteStream, JournalUpdate, JournaledRepository, Result, StorageError, UploadState};

/// S3's smallest part (every part of a multipart upload but the last).
pub const MIN_PART: usize = 5 << 20;
/// Size of the parts an append cuts its bytes into (bounds the memory of one append).
pub const PART_SIZE: usize = 8 << 20;
/// An append waits for its oldest part upload when this many are running: with 2, one part uploads while the
/// next fills from the request body, so reading and uploading overlap and an append holds at most 2 parts.
const PARTS_IN_FLIGHT: usize = 2;
/// S3's largest part number.
const MAX_PARTS: usize = 10_000;
/// Largest object a single server-side copy (`CopyObject`) may copy; larger ones are copied through berth.
const MAX_COPY: u64 = 5 << 30;
/// How long a presigned blob URL stays valid.
const PRESIGNED_TTL: Duration = Duration::from_secs(15 * 60);
/// How long opening the store may take to find out whether the bucket answers.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Where the blobs live: `s3://BUCKET/PREFIX` plus how to reach the server.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    /// Key prefix inside the bucket (may be empty).
    pub prefix: String,
    /// The server's URL for non-AWS servers (`http://127.0.0.1:9000`); `None`: AWS S3 of the region.
    pub endpoint: Option<String>,
    /// `None`: `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: Option<String>,
    /// Path-style requests (`ENDPOINT/BUCKET/KEY`) instead of virtual-hosted ones (`BUCKET.ENDPOINT/KEY`).
    /// `None`: path style when an endpoint is given (what MinIO, Ceph RGW, Garage and moto expect).
    pub path_style: Option<bool>,
    /// Answer blob downloads with a presigned URL ([`BlobStore::download_url`]).
    pub redirect: bool,
    /// Access key id and secret; `None`: the AWS environment variables or the credential chain (web
    /// identity, ECS, instance metadata).
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("path_style", &self.path_style)
            .field("redirect", &self.redirect)
            .field("credentials", &self.credentials.as_ref().map(|(id, _)| (id, "<hidden>")))
            .finish()
    }
}

impl S3Config {
    /// Parses `s3://BUCKET` or `s3://BUCKET/PREFIX` (other settings at their defaults).
    pub fn from_url(url: &str) -> std::result::Result<S3Config, String> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| format!("{url:?} does not start with s3://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid_bucket {
            return Err(format!(
                "{url:?}: {bucket:?} is not an S3 bucket name (3 to 63 lowercase letters, digits, '-' and '.')"
            ));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|c| c == "." || c == "..") || prefix.contains("//") {
            return Err(format!("{url:?}: the key prefix may not contain empty, '.' or '..' components"));
        }
        Ok(S3Config {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            endpoint: None,
            region: None,
            path_style: None,
            redirect: false,
            credentials: None,
        })
    }

    /// `s3://BUCKET/PREFIX` (at ENDPOINT), for messages.
    pub fn describe(&self) -> String {
        let mut s = format!("s3://{}", self.bucket);
        if !self.prefix.is_empty() {
            s.push('/');
            s.push_str(&self.prefix);
        }
        if let Some(endpoint) = &self.endpoint {
            s.push_str(&format!(" at {endpoint}"));
        }
        s
    }
}

/// Opening an S3 store failed.
#[derive(Debug, thiserror::Error)]
pub enum S3ConnectError {
    #[error("S3 client settings for {target}: {source}")]
    Settings { target: String, source: object_store::Error },
    #[error(
        "the S3 bucket {target} does not answer: {reason} (check that the bucket exists, the endpoint \
         (BERTH_S3_ENDPOINT) and path style (BERTH_S3_PATH_STYLE), the region (AWS_REGION) and the credentials \
         (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the credential chain))"
    )]
    Unreachable { target: String, reason: String },
}

/// A [`BlobStore`] keeping everything in an S3 bucket.
pub struct S3BlobStore {
    s3: Arc<AmazonS3>,
    layout: Layout,
    redirect: bool,
    target: String,
    /// [`PART_SIZE`], smaller in tests.
    part_size: usize,
}

impl std::fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3BlobStore").field("target", &self.target).finish_non_exhaustive()
    }
}

impl S3BlobStore {
    /// Builds the client and checks that the bucket answers (a listing under the prefix), so that a wrong
    /// bucket, endpoint or credentials stop berth at start with a message naming what to fix.
    pub async fn connect(config: &S3Config) -> std::result::Result<S3BlobStore, S3ConnectError> {
        let target = config.describe();
        // No overall request timeout: a download streams for as long as the client reads (slowly, at times).
        // Connection set-up is bounded, and failed requests are retried a few times only.
        let allow_http = config.endpoint.as_deref().is_some_and(|e| e.starts_with("http://"));
        let options = ClientOptions::new()
            .with_timeout_disabled()
            .with_connect_timeout(Duration::from_secs(10))
            .with_allow_http(allow_http);
        let retry = RetryConfig { max_retries: 3, retry_timeout: Duration::from_secs(30), ..RetryConfig::default() };
        let mut builder =
            AmazonS3Builder::from_env().with_bucket_name(&config.bucket).with_client_options(options).with_retry(retry);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &config.region {
            builder = builder.with_region(region);
        }
        let path_style = config.path_style.unwrap_or(config.endpoint.is_some());
        builder = builder.with_virtual_hosted_style_request(!path_style);
        if let Some((id, secret)) = &config.credentials {
            builder = builder.with_access_key_id(id).with_secret_access_key(secret);
        }
        let s3 = builder.build().map_err(|source| S3ConnectError::Settings { target: target.clone(), source })?;
        let store = S3BlobStore {
            s3: Arc::new(s3),
            layout: Layout::new(&config.prefix),
            redirect: config.redirect,
            target,
            part_size: PART_SIZE,
        };
        let uploads = store.layout.uploads();
        let probe = store.s3.list_with_delimiter(Some(&uploads));
        let reason = match tokio::time::timeout(CONNECT_TIMEOUT, probe).await {
            Ok(Ok(_)) => return Ok(store),
            Ok(Err(e)) => error_chain(&e),
            Err(_) => format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
        };
        Err(S3ConnectError::Unreachable { target: store.target, reason })
    }

    /// Fails with `UploadNotFound` unless `id` names an existing session.
    async fn require_session(&self, id: &str) -> Result<()> {
        if !is_valid_upload_id(id) {
            return Err(StorageError::UploadNotFound(id.to_string()));
        }
        match self.head(&self.layout.upload_marker(id)).await? {
            Some(_) => Ok(()),
            None => Err(StorageError::UploadNotFound(id.to_string())),
        }
    }

    /// The size of the object at `path`, or `None` when there is none.
    async fn head(&self, path: &Path) -> Result<Option<u64>> {
        match self.s3.head(path).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(s3_error(e)),
        }
    }

    /// Starts uploading the next part of the session (creating its multipart upload first if needed) while
    /// the append reads on; waits for the oldest upload when [`PARTS_IN_FLIGHT`] are running.
    async fn start_part(&self, id: &str, st: &mut SessionState, uploads: &mut PartUploads, data: Bytes) -> Result<()> {
        let index = st.parts.len() + uploads.running.len();
        if index >= MAX_PARTS {
            return Err(StorageError::Io(io::Error::other(format!(
                "the upload has reached S3's limit of {MAX_PARTS} parts"
            ))));
        }
        let path = self.layout.upload_data(id);
        let multipart = match &st.multipart {
            Some(m) => m.clone(),
            None => {
                let m = self.s3.create_multipart(&path).await.map_err(s3_error)?;
                st.multipart = Some(m.clone());
                uploads.created = Some(m.clone());
                m
            }
        };
        let s3 = self.s3.clone();
        uploads.running.push_back(tokio::spawn(async move {
            let size = data.len() as u64;
            let part = s3.put_part(&path, &multipart, index, PutPayload::from(data)).await.map_err(s3_error)?;
            Ok(Part { etag: part.content_id, size })
        }));
        while uploads.running.len() >= PARTS_IN_FLIGHT {
            uploads.finish_oldest(st).await?;
        }
        Ok(())
    }

    /// The body of an append: everything but the checks and the clean-up of a failure.
    async fn append_parts(
        &self,
        id: &str,
        st: &mut SessionState,
        mut buf: BytesMut,
        mut body: ByteStream,
        inspect: &mut (dyn for<'a> FnMut(&'a [u8]) + Send),
        uploads: &mut PartUploads,
    ) -> Result<()> {
        while let Some(item) = body.next().await {
            let chunk = item.map_err(|e| StorageError::Body(e.to_string()))?;
            inspect(&chunk);
            buf.extend_from_slice(&chunk);
            while buf.len() >= self.part_size {
                let part = buf.split_to(self.part_size).freeze();
                self.start_part(id, st, uploads, part).await?;
            }
        }
        if buf.len() >= MIN_PART {
            self.start_part(id, st, uploads, buf.split().freeze()).await?;
        }
        while !uploads.running.is_empty() {
            uploads.finish_oldest(st).await?;
        }
        if !buf.is_empty() {
            let name = format!("tail-{}", uuid::Uuid::new_v4().simple());
            let len = buf.len() as u64;
            self.s3.put(&self.layout.upload_tail(id, &name), PutPayload::from(buf.freeze())).await.map_err(s3_error)?;
            st.tail = Some(name);
            st.tail_len = len;
        }
        Ok(())
    }

    /// The first `len` bytes of the session's tail.
    async fn read_tail(&self, id: &str, st: &SessionState, len: u64) -> Result<Bytes> {
        if len == 0 {
            return Ok(Bytes::new());
        }
        let name = st.tail.as_deref().ok_or_else(|| corrupt_state("bytes after the parts but no tail object"))?;
        self.s3.get_range(&self.layout.upload_tail(id, name), 0..len).await.map_err(s3_error)
    }

    /// Completes the session's multipart upload into `uploads/<id>/data` with `parts`, unless an earlier
    /// `read_upload` did so already. Returns the size of `data`.
    async fn complete(&self, id: &str, st: &SessionState, parts: &[Part]) -> Result<u64> {
        let data = self.layout.upload_data(id);
        let expected: u64 = parts.iter().map(|p| p.size).sum();
        if let Some(size) = self.head(&data).await? {
            return Ok(size);
        }
        let multipart = st.multipart.as_ref().ok_or_else(|| corrupt_state("parts without a multipart upload"))?;
        let ids = parts.iter().map(|p| object_store::multipart::PartId { content_id: p.etag.clone() }).collect();
        self.s3.complete_multipart(&data, multipart, ids).await.map_err(s3_error)?;
        Ok(expected)
    }

    /// Writes the first `size` bytes of the session to `target`.
    async fn assemble(&self, id: &str, st: &SessionState, size: u64, target: &Path) -> Result<()> {
        if st.parts.is_empty() {
            return match (size, &st.tail) {
                (0, _) => self.s3.put(target, PutPayload::new()).await.map(drop).map_err(s3_error),
                (_, Some(name)) if size == st.tail_len => {
                    self.s3.copy(&self.layout.upload_tail(id, name), target).await.map_err(s3_error)
                }
                _ => {
                    let bytes = self.read_tail(id, st, size).await?;
                    self.s3.put(target, PutPayload::from(bytes)).await.map(drop).map_err(s3_error)
                }
            };
        }
        let parts_len = st.parts_len();
        let data = self.layout.upload_data(id);
        if size >= parts_len && self.head(&data).await?.is_none() {
            // The usual way: the tail's bytes as the last part, complete, copy server-side.
            let mut parts = st.parts.clone();
            let rest = size - parts_len;
            if rest > 0 {
                let bytes = self.read_tail(id, st, rest).await?;
                let multipart =
                    st.multipart.as_ref().ok_or_else(|| corrupt_state("parts without a multipart upload"))?;
                let part =
                    self.s3.put_part(&data, multipart, parts.len(), PutPayload::from(bytes)).await.map_err(s3_error)?;
                parts.push(Part { etag: part.content_id, size: rest });
            }
            self.complete(id, st, &parts).await?;
            return self.copy(&data, target, size).await;
        }
        // The parts were completed already (by `read_upload`), or the commit ends inside them: copy through
        // berth from the assembled parts and the tail.
        let assembled = self.complete(id, st, &st.parts).await?;
        let from_data = size.min(assembled);
        let mut reader: Pin<Box<dyn AsyncRead + Send>> = self.reader(&data, 0..from_data).await?;
        if size > from_data {
            let tail = self.read_tail(id, st, size - from_data).await?;
            reader = Box::pin(reader.chain(std::io::Cursor::new(tail)));
        }
        self.write_from(target, reader, size).await
    }

    /// Copies the object `from` (of `size` bytes) to `to`: server-side when S3 allows it, else through berth.
    async fn copy(&self, from: &Path, to: &Path, size: u64) -> Result<()> {
        if size <= MAX_COPY {
            return self.s3.copy(from, to).await.map_err(s3_error);
        }
        let reader = self.reader(from, 0..size).await?;
        self.write_from(to, reader, size).await
    }

    /// A reader of `range` of the object at `path` (which must be within it).
    async fn reader(&self, path: &Path, range: Range<u64>) -> Result<Pin<Box<dyn AsyncRead + Send>>> {
        if range.is_empty() {
            return Ok(Box::pin(tokio::io::empty()));
        }
        let options = GetOptions { range: Some(GetRange::Bounded(range)), ..GetOptions::default() };
        let result = self.s3.get_opts(path, options).await.map_err(s3_error)?;
        Ok(Box::pin(StreamReader::new(result.into_stream().map_err(io::Error::other))))
    }

    /// Writes `len` bytes of `reader` to the object `target` (a multipart upload when large).
    async fn write_from(&self, target: &Path, mut reader: Pin<Box<dyn AsyncRead + Send>>, len: u64) -> Result<()> {
        if len < PART_SIZE as u64 {
            let mut buf = Vec::with_capacity(len as usize);
            reader.read_to_end(&mut buf).await?;
            return self.s3.put(target, PutPayload::from(buf)).await.map(drop).map_err(s3_error);
        }
        let upload = self.s3.put_multipart(target).await.map_err(s3_error)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut buf = vec![0; 1 << 20];
        let copied: Result<()> = async {
            loop {
                let n = reader.read(&mut buf).await?;
                if n == 0 {
                    return Ok(());
                }
                writer.wait_for_capacity(4).await.map_err(s3_error)?;
                writer.write(&buf[..n]);
            }
        }
        .await;
        match copied {
            Ok(()) => writer.finish().await.map(drop).map_err(s3_error),
            Err(e) => {
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }

    /// Whether the object at `path` holds exactly the bytes of `digest`.
    async fn holds_digest(&self, path: &Path, size: u64, digest: &Digest) -> Result<bool> {
        let mut reader = self.reader(path, 0..size).await?;
        let mut hasher = DigestHasher::new(digest.algorithm());
        let mut buf = vec![0; 1 << 20];
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(&hasher.finish() == digest)
    }

    /// Removes a session: its multipart upload (if still open) and every object under its directory, the
    /// marker first (so that the session is gone even if removing the rest fails).
    async fn remove_session(&self, id: &str, st: &SessionState) -> Result<()> {
        let Some(dir) = self.layout.upload_dir(id) else { return Ok(()) };
        if let Some(multipart) = &st.multipart {
            match self.s3.abort_multipart(&self.layout.upload_data(id), multipart).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                // Completed already (a commit), or the server forgot it: nothing left to abort.
                Err(e) => tracing::debug!(upload = id, error = %e, "aborting a multipart upload"),
            }
        }
        self.delete_quietly(&self.layout.upload_marker(id)).await?;
        for path in self.list_keys(&dir).await? {
            self.delete_quietly(&path).await?;
        }
        Ok(())
    }

    /// With `replace`, a stored copy is replaced whatever its size (the caller stores the blob in another form).
    async fn commit_with(
        &self,
        id: &str,
        state: &UploadState,
        digest: &Digest,
        size: u64,
        replace: bool,
    ) -> Result<u64> {
        self.require_session(id).await?;
        let st = SessionState::decode(state)?;
        let target = self.layout.blob(digest);
        if !replace
            && let Some(existing) = self.head(&target).await?
            && existing != size
        {
            // Content-addressed: a sound copy has these very bytes; keep it whatever the session holds. (A copy
            // of exactly `size` bytes is not read back: the session's verified bytes replace it below, in one
            // atomic S3 write, which costs a server-side copy where verifying would read the whole blob.)
            if self.holds_digest(&target, existing, digest).await? {
                self.remove_session(id, &st).await?;
                return Ok(existing);
            }
            tracing::warn!(
                %digest,
                stored_bytes = existing,
                expected_bytes = size,
                "the stored copy of a blob is damaged; replacing it with the bytes just pushed"
            );
        }
        let held = st.size();
        if held < size {
            return Err(StorageError::UploadOffsetMismatch { expected: size, actual: held });
        }
        self.assemble(id, &st, size, &target).await?;
        self.remove_session(id, &st).await?;
        Ok(size)
    }

    async fn delete_quietly(&self, path: &Path) -> Result<()> {
        match self.s3.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(s3_error(e)),
        }
    }

    async fn get_bytes(&self, path: &Path) -> Result<Option<Bytes>> {
        match self.s3.get(path).await {
            Ok(r) => Ok(Some(r.bytes().await.map_err(s3_error)?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(s3_error(e)),
        }
    }

    /// Keys of every object under `prefix`.
    async fn list_keys(&self, prefix: &Path) -> Result<Vec<Path>> {
        self.s3.list(Some(prefix)).map_ok(|m| m.location).try_collect().await.map_err(s3_error)
    }
}

/// The part uploads of one append that have not finished yet, oldest first.
#[derive(Default)]
struct PartUploads {
    running: VecDeque<JoinHandle<Result<Part>>>,
    /// The multipart upload this append created (aborted if the append fails: no state names it).
    created: Option<String>,
}

impl PartUploads {
    /// Waits for the oldest upload and records its part.
    async fn finish_oldest(&mut self, st: &mut SessionState) -> Result<()> {
        let Some(oldest) = self.running.pop_front() else { return Ok(()) };
        let part = oldest.await.map_err(|e| StorageError::Io(io::Error::other(e)))??;
        st.parts.push(part);
        Ok(())
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn stat(&self, digest: &Digest) -> Result<Option<u64>> {
        self.head(&self.layout.blob(digest)).await
    }

    async fn open(&self, digest: &Digest, range: Option<Range<u64>>) -> Result<BlobReader> {
        let path = self.layout.blob(digest);
        let Some(range) = range else {
            let result = match self.s3.get(&path).await {
                Ok(r) => r,
                Err(object_store::Error::NotFound { .. }) => return Err(StorageError::BlobNotFound(digest.clone())),
                Err(e) => return Err(s3_error(e)),
            };
            let size = result.meta.size;
            let reader = StreamReader::new(result.into_stream().map_err(io::Error::other));
            return Ok(BlobReader { len: size, stored_size: size, reader: Box::pin(reader) });
        };
        let size = self.head(&path).await?.ok_or_else(|| StorageError::BlobNotFound(digest.clone()))?;
        if range.start > range.end || range.end > size {
            return Err(StorageError::RangeNotSatisfiable { size });
        }
        let len = range.end - range.start;
        let reader = match self.reader(&path, range).await {
            Ok(r) => r,
            // Deleted since the `head`.
            Err(StorageError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StorageError::BlobNotFound(digest.clone()));
            }
            Err(e) => return Err(e),
        };
        Ok(BlobReader { len, stored_size: size, reader })
    }

    async fn delete(&self, digest: &Digest) -> Result<()> {
        self.delete_quietly(&self.layout.blob(digest)).await
    }

    async fn create_upload(&self, id: &str) -> Result<UploadState> {
        if !is_valid_upload_id(id) {
            return Err(StorageError::UploadNotFound(id.to_string()));
        }
        let marker = self.layout.upload_marker(id);
        // The listing check covers servers that ignore `If-None-Match` (the conditional put covers races).
        let exists = || StorageError::Io(io::Error::new(io::ErrorKind::AlreadyExists, format!("upload {id} exists")));
        if self.head(&marker).await?.is_some() {
            return Err(exists());
        }
        let options = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
        match self.s3.put_opts(&marker, PutPayload::new(), options).await {
            Ok(_) => Ok(SessionState::new().encode()),
            Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => Err(exists()),
            Err(e) => Err(s3_error(e)),
        }
    }

    async fn append_upload(
        &self,
        id: &str,
        state: &UploadState,
        offset: u64,
        body: ByteStream,
        inspect: &mut (dyn for<'a> FnMut(&'a [u8]) + Send),
    ) -> Result<(u64, UploadState)> {
        self.require_session(id).await?;
        let before = SessionState::decode(state)?;
        let held = before.size();
        if offset > held {
            return Err(StorageError::UploadOffsetMismatch { expected: offset, actual: held });
        }
        let parts_len = before.parts_len();
        if offset < parts_len {
            return Err(StorageError::Io(io::Error::other(format!(
                "cannot rewind upload {id} to byte {offset}: its first {parts_len} bytes were sent to S3 as parts"
            ))));
        }
        let keep = offset - parts_len;
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&self.read_tail(id, &before, keep).await?);

        let mut st = before.clone();
        st.tail = None;
        st.tail_len = 0;
        st.previous_tail = before.tail.clone();
        let mut uploads = PartUploads::default();
        if let Err(e) = self.append_parts(id, &mut st, buf, body, inspect, &mut uploads).await {
            for running in uploads.running.drain(..) {
                running.abort();
            }
            if let Some(multipart) = uploads.created {
                let _ = self.s3.abort_multipart(&self.layout.upload_data(id), &multipart).await;
            }
            return Err(e);
        }
        // The caller kept `before` (it passed it in), so the tail `before` had replaced is unreferenced now.
        if let Some(stale) = &before.previous_tail
            && Some(stale) != st.tail.as_ref()
            && Some(stale) != before.tail.as_ref()
            && let Err(e) = self.delete_quietly(&self.layout.upload_tail(id, stale)).await
        {
            tracing::debug!(upload = id, error = %e, "removing a replaced tail object");
        }
        Ok((st.size(), st.encode()))
    }

    async fn upload_size(&self, id: &str, state: &UploadState) -> Result<u64> {
        self.require_session(id).await?;
        Ok(SessionState::decode(state)?.size())
    }

    async fn commit_upload(&self, id: &str, state: &UploadState, digest: &Digest, size: u64) -> Result<u64> {
        self.commit_with(id, state, digest, size, false).await
    }

    async fn commit_upload_replacing(&self, id: &str, state: &UploadState, digest: &Digest, size: u64) -> Result<u64> {
        self.commit_with(id, state, digest, size, true).await
    }
    async fn read_upload(&self, id: &str, state: &UploadState) -> Result<BlobReader> {
        self.require_session(id).await?;
        let st = SessionState::decode(state)?;
        let size = st.size();
        let mut reader: Pin<Box<dyn AsyncRead + Send>> = Box::pin(tokio::io::empty());
        if !st.parts.is_empty() {
            // S3 cannot read parts before completion: complete them (a commit then copies from there).
            let assembled = self.complete(id, &st, &st.parts).await?;
            reader = self.reader(&self.layout.upload_data(id), 0..assembled.min(st.parts_len())).await?;
        }
        if let Some(name) = &st.tail {
            let tail = self.reader(&self.layout.upload_tail(id, name), 0..st.tail_len).await?;
            reader = Box::pin(reader.chain(tail));
        }
        Ok(BlobReader { len: size, stored_size: size, reader })
    }

    async fn cancel_upload(&self, id: &str, state: &UploadState) -> Result<()> {
        if !is_valid_upload_id(id) {
            return Ok(());
        }
        // A state that does not parse still names the session's objects, which are removed.
        let st = SessionState::decode(state).unwrap_or_default();
        self.remove_session(id, &st).await
    }

    async fn download_url(&self, digest: &Digest) -> Result<Option<String>> {
        if !self.redirect {
            return Ok(None);
        }
        let url =
            self.s3.signed_url(http::Method::GET, &self.layout.blob(digest), PRESIGNED_TTL).await.map_err(s3_error)?;
        Ok(Some(url.to_string()))
    }

    async fn list_blobs(&self) -> Result<Vec<Digest>> {
        let keys = self.list_keys(&self.layout.blobs()).await?;
        let mut found: Vec<Digest> =
            keys.iter().filter_map(|k| self.layout.strip(k.as_ref(), "blobs/").and_then(parse_blob_key)).collect();
        found.sort();
        found.dedup();
        Ok(found)
    }

    async fn quarantine(&self, digest: &Digest) -> Result<bool> {
        let path = self.layout.blob(digest);
        let Some(size) = self.head(&path).await? else { return Ok(false) };
        self.copy(&path, &self.layout.quarantined(digest), size).await?;
        self.delete_quietly(&path).await?;
        Ok(true)
    }

    async fn journal_apply(&self, updates: Vec<JournalUpdate>) -> Result<()> {
        journal::apply(self, updates).await
    }

    async fn journal_repositories(&self) -> Result<Vec<RepositoryName>> {
        journal::repositories(self).await
    }

    async fn journal_read(&self, repo: &RepositoryName) -> Result<JournaledRepository> {
        journal::read(self, repo).await
    }

    async fn list_uploads(&self) -> Result<Vec<String>> {
        let listing = self.s3.list_with_delimiter(Some(&self.layout.uploads())).await.map_err(s3_error)?;
        let mut ids: Vec<String> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .filter(|id| is_valid_upload_id(id))
            .collect();
        ids.sort();
        Ok(ids)
    }
}

/// An error with its sources (`object_store` puts the useful part of an HTTP failure in a source).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// An S3 failure as a storage error. A missing object keeps `NotFound` as its kind; a server that could not be
/// reached or did not answer in time (after the client's retries) becomes `ConnectionRefused` / `TimedOut` /
/// `ConnectionReset`, which [`StorageError::is_unavailable`] recognises.
fn s3_error(e: object_store::Error) -> StorageError {
    use object_store::client::{HttpError, HttpErrorKind};
    let mut kind = match &e {
        object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
        _ => io::ErrorKind::Other,
    };
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        if let Some(http) = s.downcast_ref::<HttpError>() {
            match http.kind() {
                HttpErrorKind::Connect => kind = io::ErrorKind::ConnectionRefused,
                HttpErrorKind::Timeout => kind = io::ErrorKind::TimedOut,
                HttpErrorKind::Interrupted => kind = io::ErrorKind::ConnectionReset,
                _ => {}
            }
            break;
        }
        source = s.source();
    }
    StorageError::Io(io::Error::new(kind, e))
}

fn corrupt_state(what: &str) -> StorageError {
    StorageError::Io(io::Error::new(io::ErrorKind::InvalidData, format!("S3 upload state: {what}")))
}
