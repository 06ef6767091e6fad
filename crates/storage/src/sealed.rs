//! Encryption at rest: [`SealedBlobStore`] wraps any [`BlobStore`] and keeps every blob it stores sealed with
//! AES-256-GCM under a data key of its own, which the object's header carries wrapped by a key-encryption key
//! (envelope encryption; see `format.rs` for the layout and `keys.rs` for who holds the key-encryption keys).
//!
//! Reads decrypt as they stream, segment by segment, and a range reads only the segments it touches. A
//! segment is authenticated before any of its bytes is returned: damage is an `InvalidData` error (logged),
//! never wrong bytes. The first segment of a read is checked before `open` returns, so a damaged small blob
//! fails before a response starts.
//!
//! Blobs stored before encryption was enabled (no sealed header) are read as they are, and upload sessions
//! begun then are continued unsealed. Sealed blobs cannot be handed out as local files (sendfile) or presigned
//! URLs: both would serve ciphertext.

mod format;
mod keys;
mod reader;
mod session;

use std::io;
use std::ops::Range;
use std::sync::Arc;

use aes_gcm::Aes256Gcm;
use async_trait::async_trait;
use berth_oci::{Digest, DigestHasher, RepositoryName};
use bytes::Bytes;
use futures_util::StreamExt as _;
use tokio::io::AsyncReadExt as _;
use tokio::sync::mpsc;
use tokio_util::io::StreamReader;

pub use self::format::{DataKey, FormatError, KEY_LEN, WrappedKey};
pub use self::keys::{KeyError, KeyProvider, LocalKeys};

use self::format::{
    Header, MAX_HEADER, SEALED_SEGMENT, SEGMENT, open_tail, open_with, plain_len, seal_segment, seal_tail, seal_with,
    segments,
};
use self::reader::Segments;
use self::session::Session;
use crate::{
    BlobReader, BlobStore, ByteStream, JournalUpdate, JournaledRepository, Resealed, Result, StorageError, UploadState,
};

/// First byte of session data sealed by `seal_upload_data` (the hash state's first byte is never it).
const SEALED_DATA: u8 = 0xB5;
/// Associated data of sealed session data: its own domain, apart from segments and tails.
const SEALED_DATA_AAD: &[u8] = b"berth upload session data";

/// A blob store that seals what it stores (see the module docs).
pub struct SealedBlobStore {
    inner: Arc<dyn BlobStore>,
    keys: Arc<dyn KeyProvider>,
}

/// What a stored blob is.
enum Stored {
    /// Stored before encryption was enabled.
    Plain(u64),
    Sealed {
        header: Header,
        stored: u64,
        plain: u64,
    },
}

impl Stored {
    fn plain_size(&self) -> u64 {
        match self {
            Stored::Plain(size) => *size,
            Stored::Sealed { plain, .. } => *plain,
        }
    }
}

fn invalid(what: impl std::fmt::Display) -> StorageError {
    StorageError::Io(io::Error::new(io::ErrorKind::InvalidData, what.to_string()))
}

fn key_error(e: KeyError) -> StorageError {
    StorageError::Io(io::Error::other(e.to_string()))
}

/// Inner size of a session that sealed `flushed` segments under a header of `header` bytes.
fn inner_size(header: u64, flushed: u64) -> u64 {
    if flushed == 0 { 0 } else { header + flushed * SEALED_SEGMENT }
}

fn once(bytes: Vec<u8>) -> ByteStream {
    Box::pin(futures_util::stream::iter([Ok(Bytes::from(bytes))]))
}

impl SealedBlobStore {
    pub fn new(inner: Arc<dyn BlobStore>, keys: Arc<dyn KeyProvider>) -> SealedBlobStore {
        SealedBlobStore { inner, keys }
    }

    /// Reads a stored blob's header (`None`: no such blob).
    async fn probe(&self, digest: &Digest) -> Result<Option<Stored>> {
        let Some(stored) = self.inner.stat(digest).await? else { return Ok(None) };
        let mut prefix = Vec::new();
        let blob = match self.inner.open(digest, Some(0..stored.min(MAX_HEADER))).await {
            Ok(blob) => blob,
            Err(StorageError::BlobNotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let stored = blob.stored_size;
        blob.reader.take(MAX_HEADER).read_to_end(&mut prefix).await?;
        if !Header::is_sealed(&prefix) {
            return Ok(Some(Stored::Plain(stored)));
        }
        let damaged = |e: FormatError| {
            tracing::error!(%digest, error = %e, "a sealed blob's header is damaged");
            invalid(format!("blob {digest}: {e}"))
        };
        let header = Header::parse(&prefix).map_err(damaged)?;
        let plain = plain_len(header.len, stored).map_err(damaged)?;
        Ok(Some(Stored::Sealed { header, stored, plain }))
    }

    async fn cipher(&self, header: &Header) -> Result<Aes256Gcm> {
        Ok(self.keys.unwrap(&header.wrapped).await.map_err(key_error)?.cipher())
    }

    /// Whether the stored blob reads back (decrypted) as exactly the bytes of `digest`.
    async fn holds_digest(&self, digest: &Digest) -> Result<bool> {
        let mut reader = match self.open(digest, None).await {
            Ok(blob) => blob.reader,
            Err(StorageError::Io(e)) if e.kind() == io::ErrorKind::InvalidData => return Ok(false),
            Err(e) => return Err(e),
        };
        let mut hasher = DigestHasher::new(digest.algorithm());
        let mut buf = vec![0; 1 << 20];
        loop {
            let n = match reader.read(&mut buf).await {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::InvalidData => return Ok(false),
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(&hasher.finish() == digest)
    }

    /// Appends to a sealed session: whole segments go to the inner session as the body arrives, the rest
    /// becomes the session's sealed tail.
    async fn append_sealed(
        &self,
        id: &str,
        st: Session,
        offset: u64,
        mut body: ByteStream,
        inspect: &mut (dyn for<'a> FnMut(&'a [u8]) + Send),
    ) -> Result<(u64, UploadState)> {
        if offset > st.size {
            self.inner.upload_size(id, &st.inner).await?;
            return Err(StorageError::UploadOffsetMismatch { expected: offset, actual: st.size });
        }
        let header = Header::parse(&st.header).map_err(|e| invalid(format!("upload {id}: {e}")))?;
        let cipher = self.cipher(&header).await?;
        let base = st.flushed * SEGMENT;
        if offset < base {
            return Err(StorageError::Io(io::Error::other(format!(
                "cannot rewind upload {id} to byte {offset}: its first {base} bytes are sealed and stored"
            ))));
        }
        let mut tail = if st.tail.is_empty() {
            Vec::new()
        } else {
            open_tail(&cipher, base, &st.tail).map_err(|e| invalid(format!("upload {id}: {e}")))?
        };
        tail.truncate((offset - base) as usize);

        let (tx, mut rx) = mpsc::channel::<io::Result<Bytes>>(4);
        let produce = async {
            let (mut buf, mut flushed, mut size) = (tail, st.flushed, offset);
            while let Some(chunk) = body.next().await {
                let chunk = match chunk {
                    Ok(c) => c,
                    Err(e) => {
                        let msg = e.to_string();
                        let _ = tx.send(Err(io::Error::other(msg.clone()))).await;
                        return Err(StorageError::Body(msg));
                    }
                };
                inspect(&chunk);
                size += chunk.len() as u64;
                buf.extend_from_slice(&chunk);
                // A full segment is stored only once a byte follows it: the last segment is sealed as such.
                if buf.len() as u64 > SEGMENT {
                    let mut out = Vec::with_capacity(buf.len() + 64);
                    if flushed == 0 {
                        out.extend_from_slice(&st.header);
                    }
                    let mut at = 0;
                    while (buf.len() - at) as u64 > SEGMENT {
                        seal_segment(&cipher, flushed, false, &buf[at..at + SEGMENT as usize], &mut out);
                        at += SEGMENT as usize;
                        flushed += 1;
                    }
                    buf.drain(..at);
                    if tx.send(Ok(Bytes::from(out))).await.is_err() {
                        break; // the inner append failed; its error is the answer
                    }
                }
            }
            drop(tx);
            Ok((buf, flushed, size))
        };
        let inner_body: ByteStream = Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
        let offset_inner = inner_size(header.len, st.flushed);
        let mut ignore = |_: &[u8]| {};
        let append = self.inner.append_upload(id, &st.inner, offset_inner, inner_body, &mut ignore);
        let (produced, appended) = tokio::join!(produce, append);
        let (tail, flushed, size) = produced?;
        let (held, inner) = appended?;
        if held != inner_size(header.len, flushed) {
            return Err(StorageError::Io(io::Error::other(format!(
                "upload {id}: the backend holds {held} bytes after the append, expected {}",
                inner_size(header.len, flushed)
            ))));
        }
        let tail = if tail.is_empty() { Vec::new() } else { seal_tail(&cipher, flushed * SEGMENT, &tail) };
        Ok((size, Session { inner, header: st.header, size, flushed, tail }.encode()))
    }

    /// With `replace`, a stored copy is replaced whatever it is (see `commit_upload_replacing`).
    async fn commit_sealed(&self, id: &str, st: Session, digest: &Digest, size: u64, replace: bool) -> Result<u64> {
        self.inner.upload_size(id, &st.inner).await?;
        if size > st.size {
            return Err(StorageError::UploadOffsetMismatch { expected: size, actual: st.size });
        }
        let base = st.flushed * SEGMENT;
        if size <= base && st.flushed > 0 {
            return Err(StorageError::Io(io::Error::other(format!(
                "cannot commit {size} bytes of upload {id}: its first {base} bytes are stored as unfinished segments"
            ))));
        }
        // Content-addressed: a sound copy of another size is kept, as the inner stores do (they cannot judge a
        // sealed copy: its bytes are not the digest's).
        let existing = if replace { Ok(None) } else { self.probe(digest).await };
        match existing {
            Ok(Some(existing)) if existing.plain_size() != size => {
                if self.holds_digest(digest).await? {
                    self.inner.cancel_upload(id, &st.inner).await?;
                    return Ok(existing.plain_size());
                }
                tracing::warn!(%digest, "the stored copy of a blob is damaged; replacing it with the bytes just pushed");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(%digest, error = %e, "replacing a stored copy whose header is unreadable"),
        }
        let header = Header::parse(&st.header).map_err(|e| invalid(format!("upload {id}: {e}")))?;
        let cipher = self.cipher(&header).await?;
        let mut tail = if st.tail.is_empty() {
            Vec::new()
        } else {
            open_tail(&cipher, base, &st.tail).map_err(|e| invalid(format!("upload {id}: {e}")))?
        };
        tail.truncate((size - base) as usize);
        let mut out = Vec::with_capacity(tail.len() + st.header.len() + 64);
        if st.flushed == 0 {
            out.extend_from_slice(&st.header);
        }
        seal_segment(&cipher, st.flushed, true, &tail, &mut out);
        let at = inner_size(header.len, st.flushed);
        let (stored, inner) = self.inner.append_upload(id, &st.inner, at, once(out), &mut |_: &[u8]| {}).await?;
        let kept = if replace {
            self.inner.commit_upload_replacing(id, &inner, digest, stored).await?
        } else {
            self.inner.commit_upload(id, &inner, digest, stored).await?
        };
        // Another size: the inner store kept an unsealed sound copy (stored before encryption was enabled).
        Ok(if kept == stored { size } else { kept })
    }

    /// Copies the plaintext blob `digest` of `size` bytes into the sealed session `id`, checks its digest on
    /// the way, and replaces the plaintext copy with it.
    async fn reseal_through(&self, id: &str, state: &UploadState, digest: &Digest, size: u64) -> Result<Resealed> {
        let blob = match self.inner.open(digest, None).await {
            Ok(blob) if blob.stored_size == size => blob,
            Ok(_) | Err(StorageError::BlobNotFound(_)) => return Ok(Resealed::Missing),
            Err(e) => return Err(e),
        };
        let body: ByteStream = Box::pin(tokio_util::io::ReaderStream::with_capacity(blob.reader, 1 << 20));
        let mut hasher = DigestHasher::new(digest.algorithm());
        let (held, state) = self.append_upload(id, state, 0, body, &mut |c: &[u8]| hasher.update(c)).await?;
        if held != size || &hasher.finish() != digest {
            return Err(invalid(format!("blob {digest}: the stored plaintext copy does not match its digest")));
        }
        let st = Session::decode(&state)?.ok_or_else(|| invalid("a sealed session lost its state"))?;
        self.commit_sealed(id, st, digest, size, true).await?;
        Ok(Resealed::Sealed)
    }

    async fn read_sealed(&self, id: &str, st: Session) -> Result<BlobReader> {
        let header = Header::parse(&st.header).map_err(|e| invalid(format!("upload {id}: {e}")))?;
        let cipher = self.cipher(&header).await?;
        let base = st.flushed * SEGMENT;
        let tail = if st.tail.is_empty() {
            Vec::new()
        } else {
            open_tail(&cipher, base, &st.tail).map_err(|e| invalid(format!("upload {id}: {e}")))?
        };
        let tail = Bytes::from(tail);
        if st.flushed == 0 {
            self.inner.upload_size(id, &st.inner).await?;
            let reader = Box::pin(StreamReader::new(futures_util::stream::iter([Ok::<_, io::Error>(tail)])));
            return Ok(BlobReader { len: st.size, stored_size: st.size, reader });
        }
        let mut inner = self.inner.read_upload(id, &st.inner).await?.reader;
        let mut skip = vec![0; header.len as usize];
        inner.read_exact(&mut skip).await?;
        let segments =
            Segments { reader: inner, cipher, next: 0, last: u64::MAX, end: st.flushed, what: format!("upload {id}") };
        let body = segments.stream(None, 0, base).chain(futures_util::stream::iter([Ok(tail)]));
        Ok(BlobReader { len: st.size, stored_size: st.size, reader: Box::pin(StreamReader::new(body)) })
    }

    /// One attempt of `open`: `None` when the stored copy changed since its header was read.
    async fn open_once(&self, digest: &Digest, range: Option<Range<u64>>) -> Result<Option<BlobReader>> {
        let (header, stored, plain) = match self.probe(digest).await? {
            None => return Err(StorageError::BlobNotFound(digest.clone())),
            Some(Stored::Plain(size)) => {
                let blob = self.inner.open(digest, range).await?;
                return Ok((blob.stored_size == size).then_some(blob));
            }
            Some(Stored::Sealed { header, stored, plain }) => (header, stored, plain),
        };
        let range = range.unwrap_or(0..plain);
        if range.start > range.end || range.end > plain {
            return Err(StorageError::RangeNotSatisfiable { size: plain });
        }
        let len = range.end - range.start;
        if len == 0 {
            return Ok(Some(BlobReader { len: 0, stored_size: plain, reader: Box::pin(tokio::io::empty()) }));
        }
        let (first, end) = (range.start / SEGMENT, (range.end - 1) / SEGMENT + 1);
        let from = header.len + first * SEALED_SEGMENT;
        let to = (header.len + end * SEALED_SEGMENT).min(stored);
        let cipher = self.cipher(&header).await?;
        let blob = self.inner.open(digest, Some(from..to)).await?;
        if blob.stored_size != stored {
            return Ok(None);
        }
        let what = format!("blob {digest}");
        let mut segments = Segments { reader: blob.reader, cipher, next: first, last: segments(plain) - 1, end, what };
        let head = segments.next_segment().await?;
        let skip = (range.start - first * SEGMENT) as usize;
        let reader = Box::pin(StreamReader::new(segments.stream(head, skip, len)));
        Ok(Some(BlobReader { len, stored_size: plain, reader }))
    }
}

#[async_trait]
impl BlobStore for SealedBlobStore {
    async fn stat(&self, digest: &Digest) -> Result<Option<u64>> {
        Ok(self.probe(digest).await?.map(|s| s.plain_size()))
    }

    async fn open(&self, digest: &Digest, range: Option<Range<u64>>) -> Result<BlobReader> {
        // A copy replaced between reading its header and opening it (a re-push, `reseal`) has another stored
        // size: read the header again.
        for _ in 0..3 {
            if let Some(blob) = self.open_once(digest, range.clone()).await? {
                return Ok(blob);
            }
        }
        Err(StorageError::Io(io::Error::other(format!("blob {digest} keeps being replaced while it is opened"))))
    }

    async fn delete(&self, digest: &Digest) -> Result<()> {
        self.inner.delete(digest).await
    }

    async fn create_upload(&self, id: &str) -> Result<UploadState> {
        let inner = self.inner.create_upload(id).await?;
        let key = DataKey::generate();
        let wrapped = match self.keys.wrap(self.keys.current_key(), &key).await {
            Ok(w) => w,
            Err(e) => {
                let _ = self.inner.cancel_upload(id, &inner).await;
                return Err(key_error(e));
            }
        };
        let header = Header::new(wrapped).encode();
        Ok(Session { inner, header, size: 0, flushed: 0, tail: Vec::new() }.encode())
    }

    async fn append_upload(
        &self,
        id: &str,
        state: &UploadState,
        offset: u64,
        body: ByteStream,
        inspect: &mut (dyn for<'a> FnMut(&'a [u8]) + Send),
    ) -> Result<(u64, UploadState)> {
        match Session::decode(state)? {
            Some(st) => self.append_sealed(id, st, offset, body, inspect).await,
            None => self.inner.append_upload(id, state, offset, body, inspect).await,
        }
    }

    async fn seal_upload_data(&self, state: &UploadState, data: Vec<u8>) -> Result<Vec<u8>> {
        let Some(st) = Session::decode(state)? else { return Ok(data) };
        let header = Header::parse(&st.header).map_err(invalid)?;
        let mut out = vec![SEALED_DATA];
        seal_with(&self.cipher(&header).await?, SEALED_DATA_AAD, &data, &mut out);
        Ok(out)
    }

    async fn open_upload_data(&self, state: &UploadState, data: Vec<u8>) -> Result<Vec<u8>> {
        let (Some(st), Some((&SEALED_DATA, sealed))) = (Session::decode(state)?, data.split_first()) else {
            return Ok(data);
        };
        let header = Header::parse(&st.header).map_err(invalid)?;
        let mut buf = sealed.to_vec();
        open_with(&self.cipher(&header).await?, SEALED_DATA_AAD, &mut buf)
            .map_err(|()| invalid("the upload's sealed session data fails authentication"))?;
        Ok(buf)
    }

    async fn upload_size(&self, id: &str, state: &UploadState) -> Result<u64> {
        match Session::decode(state)? {
            Some(st) => {
                self.inner.upload_size(id, &st.inner).await?;
                Ok(st.size)
            }
            None => self.inner.upload_size(id, state).await,
        }
    }

    async fn commit_upload(&self, id: &str, state: &UploadState, digest: &Digest, size: u64) -> Result<u64> {
        match Session::decode(state)? {
            Some(st) => self.commit_sealed(id, st, digest, size, false).await,
            None => self.inner.commit_upload(id, state, digest, size).await,
        }
    }

    async fn commit_upload_replacing(&self, id: &str, state: &UploadState, digest: &Digest, size: u64) -> Result<u64> {
        match Session::decode(state)? {
            Some(st) => self.commit_sealed(id, st, digest, size, true).await,
            None => self.inner.commit_upload_replacing(id, state, digest, size).await,
        }
    }

    async fn reseal(&self, digest: &Digest) -> Result<Resealed> {
        let size = match self.probe(digest).await? {
            None => return Ok(Resealed::Missing),
            Some(Stored::Sealed { .. }) => return Ok(Resealed::AlreadySealed),
            Some(Stored::Plain(size)) => size,
        };
        let id = uuid::Uuid::new_v4().to_string();
        let state = self.create_upload(&id).await?;
        let result = self.reseal_through(&id, &state, digest, size).await;
        if result.is_err() {
            let _ = self.cancel_upload(&id, &state).await;
        }
        result
    }

    async fn read_upload(&self, id: &str, state: &UploadState) -> Result<BlobReader> {
        match Session::decode(state)? {
            Some(st) => self.read_sealed(id, st).await,
            None => self.inner.read_upload(id, state).await,
        }
    }

    async fn cancel_upload(&self, id: &str, state: &UploadState) -> Result<()> {
        match Session::decode(state) {
            Ok(Some(st)) => self.inner.cancel_upload(id, &st.inner).await,
            _ => self.inner.cancel_upload(id, state).await,
        }
    }

    async fn list_blobs(&self) -> Result<Vec<Digest>> {
        self.inner.list_blobs().await
    }

    async fn quarantine(&self, digest: &Digest) -> Result<bool> {
        self.inner.quarantine(digest).await
    }

    async fn journal_apply(&self, updates: Vec<JournalUpdate>) -> Result<()> {
        self.inner.journal_apply(updates).await
    }

    async fn journal_repositories(&self) -> Result<Vec<RepositoryName>> {
        self.inner.journal_repositories().await
    }

    async fn journal_read(&self, repo: &RepositoryName) -> Result<JournaledRepository> {
        self.inner.journal_read(repo).await
    }

    async fn list_uploads(&self) -> Result<Vec<String>> {
        self.inner.list_uploads().await
    }
}

#[cfg(test)]
mod tests;
