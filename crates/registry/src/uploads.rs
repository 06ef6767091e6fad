//! Blob upload sessions: start, append chunks, check progress, finish with a verified digest, cancel.
//!
//! A session lives in the metadata store (size so far, serialised hash state, backend state) and its bytes
//! in the blob store, so it survives a restart and could continue on another node. Each chunk is hashed
//! while it streams to storage, so finishing needs no second pass (except for a sha512 digest: sessions
//! hash sha256, the digest clients use in practice, and a sha512 finish re-reads the bytes once).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use berth_meta::{MetaError, UploadCaps, UploadSession};
use berth_oci::{Algorithm, Digest, DigestHasher, RepositoryName};
use berth_storage::ByteStream;
use futures_util::StreamExt;
use tokio::io::AsyncReadExt as _;

use crate::{Registry, RegistryError, Result};

/// Where an upload session stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadProgress {
    pub id: String,
    /// Bytes received so far.
    pub size: u64,
}

/// Upload ids with a request in flight on this node. Two requests writing one session at once would
/// interleave bytes; the second is refused instead.
#[derive(Clone, Default)]
pub(crate) struct BusySet(Arc<Mutex<HashSet<String>>>);

pub(crate) struct BusyGuard {
    set: BusySet,
    id: String,
}

impl BusySet {
    fn claim(&self, id: &str) -> Result<BusyGuard> {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if !set.insert(id.to_string()) {
            return Err(RegistryError::BlobUploadInvalid("another request is writing to this upload".into()));
        }
        Ok(BusyGuard { set: self.clone(), id: id.to_string() })
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.set.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
    }
}

/// Session ids are UUIDs; anything else cannot name a session (and never reaches a storage path).
fn check_id(id: &str) -> Result<()> {
    uuid::Uuid::try_parse(id).map(|_| ()).map_err(|_| RegistryError::BlobUploadUnknown)
}

impl Registry {
    /// Starts a session in `repo` for `owner` (the principal's label, e.g. `user/alice`). Refused with
    /// `TooManyUploads` when the repository or the owner already has as many open sessions as the limits
    /// allow: sessions end when completed or cancelled, or when idle long enough to expire.
    pub async fn start_upload(&self, repo: &RepositoryName, owner: &str) -> Result<UploadProgress> {
        let id = uuid::Uuid::new_v4().to_string();
        let backend_state = self.blobs.create_upload(&id).await?;
        let now = self.now();
        let session = UploadSession {
            id: id.clone(),
            repository: repo.clone(),
            size: 0,
            hash_state: DigestHasher::new(Algorithm::Sha256).save(),
            backend_state,
            owner: owner.to_string(),
            created_at: now,
            updated_at: now,
        };
        let caps = UploadCaps {
            per_repository: self.limits.max_open_uploads_per_repository,
            per_owner: self.limits.max_open_uploads_per_principal,
        };
        if let Err(e) = self.meta.create_upload(&session, caps).await {
            let _ = self.blobs.cancel_upload(&id, &session.backend_state).await;
            return Err(match e {
                MetaError::LimitExceeded(why) => RegistryError::TooManyUploads(format!(
                    "{why}, the most allowed: complete or cancel upload sessions, or wait for idle ones to expire"
                )),
                other => other.into(),
            });
        }
        Ok(UploadProgress { id, size: 0 })
    }

    async fn load_upload(&self, repo: &RepositoryName, id: &str) -> Result<UploadSession> {
        check_id(id)?;
        match self.meta.get_upload(id).await? {
            Some(s) if &s.repository == repo => Ok(s),
            _ => Err(RegistryError::BlobUploadUnknown),
        }
    }

    pub async fn upload_status(&self, repo: &RepositoryName, id: &str) -> Result<UploadProgress> {
        let s = self.load_upload(repo, id).await?;
        Ok(UploadProgress { id: s.id, size: s.size })
    }

    /// The session's running hash (its saved state holds up to a block of the pushed bytes, so an encrypting
    /// blob store keeps it encrypted: see `BlobStore::seal_upload_data`).
    async fn restore_hasher(&self, s: &UploadSession) -> Result<DigestHasher> {
        let saved = self.blobs.open_upload_data(&s.backend_state, s.hash_state.clone()).await?;
        DigestHasher::restore(&saved).map_err(|e| RegistryError::Meta(berth_meta::MetaError::Corrupt(e.to_string())))
    }

    /// Streams `body` into storage at the session's end, hashing it on the way. Does not update the
    /// metadata: returns the session as it now stands.
    async fn write_chunk(&self, mut s: UploadSession, body: ByteStream) -> Result<(UploadSession, DigestHasher)> {
        let mut hasher = self.restore_hasher(&s).await?;
        let (size, state) =
            self.blobs.append_upload(&s.id, &s.backend_state, s.size, body, &mut |chunk| hasher.update(chunk)).await?;
        self.pulls.add_bytes_in(&s.repository, size - s.size);
        s.size = size;
        s.backend_state = state;
        Ok((s, hasher))
    }

    /// Appends a chunk. `start`, from `Content-Range`, must equal the bytes received so far.
    pub async fn append_upload(
        &self,
        repo: &RepositoryName,
        id: &str,
        start: Option<u64>,
        body: ByteStream,
    ) -> Result<UploadProgress> {
        self.append(repo, id, start, None, body).await
    }

    /// Appends an ECR layer part starting at byte `start`. Every part but the last must have at least
    /// `min_part` bytes: a part that follows a smaller one is refused with `LayerPartTooSmall` (that one
    /// was not the last), and nothing is written.
    pub async fn append_layer_part(
        &self,
        repo: &RepositoryName,
        id: &str,
        start: u64,
        min_part: u64,
        body: ByteStream,
    ) -> Result<UploadProgress> {
        self.append(repo, id, Some(start), Some(min_part), body).await
    }

    async fn append(
        &self,
        repo: &RepositoryName,
        id: &str,
        start: Option<u64>,
        min_part: Option<u64>,
        body: ByteStream,
    ) -> Result<UploadProgress> {
        let _busy = self.busy_uploads.claim(id)?;
        let s = self.load_upload(repo, id).await?;
        if let Some(start) = start
            && start != s.size
        {
            return Err(RegistryError::UploadRangeInvalid { range: format!("{start}-"), size: s.size });
        }
        // Read after the session: a part recorded since makes the compare-and-set below fail anyway.
        if let Some(min) = min_part
            && s.size > 0
            && let Some(previous) = self.meta.upload_last_part(id).await?
            && previous > 0
            && previous < min
        {
            return Err(RegistryError::LayerPartTooSmall(format!(
                "Layer parts must be at least {min} bytes, except the last: the part ending at byte {} had {previous} bytes",
                s.size - 1
            )));
        }
        let before = s.size;
        let (s, hasher) = self.write_chunk(s, body).await?;
        let hash_state = self.blobs.seal_upload_data(&s.backend_state, hasher.save()).await?;
        self.meta.update_upload(id, before, s.size, &hash_state, &s.backend_state, self.now()).await?;
        Ok(UploadProgress { id: s.id, size: s.size })
    }

    /// Finishes a session: appends the optional last chunk, verifies `digest`, commits the blob and links it
    /// into the repository. On a digest mismatch the session is discarded and nothing is stored (as
    /// Distribution does on `/v2`).
    pub async fn finish_upload(
        &self,
        repo: &RepositoryName,
        id: &str,
        digest: &Digest,
        last_chunk: Option<ByteStream>,
    ) -> Result<u64> {
        self.finish(repo, id, digest, last_chunk, true).await
    }

    /// ECR's `CompleteLayerUpload`: finishes a session with the bytes it holds. On a digest mismatch the
    /// session stays as it was (nothing was appended), so the client can complete it again with the right
    /// digest, or send more parts.
    pub async fn complete_upload(&self, repo: &RepositoryName, id: &str, digest: &Digest) -> Result<u64> {
        self.finish(repo, id, digest, None, false).await
    }

    async fn finish(
        &self,
        repo: &RepositoryName,
        id: &str,
        digest: &Digest,
        last_chunk: Option<ByteStream>,
        discard_on_mismatch: bool,
    ) -> Result<u64> {
        let _busy = self.busy_uploads.claim(id)?;
        let s = self.load_upload(repo, id).await?;
        let (s, hasher) = match last_chunk {
            Some(body) => self.write_chunk(s, body).await?,
            None => {
                let h = self.restore_hasher(&s).await?;
                (s, h)
            }
        };
        let actual = match digest.algorithm() {
            Algorithm::Sha256 => hasher.finish(),
            other => self.rehash_upload(&s, other).await?,
        };
        if &actual != digest {
            // Kept only when nothing was appended (`complete_upload`): the recorded session is intact.
            if discard_on_mismatch {
                self.discard_upload(&s).await?;
            }
            return Err(RegistryError::DigestInvalid(format!("uploaded content has digest {actual}, not {digest}")));
        }
        // Order matters for crashes: forget the session first, then commit the bytes, then link them. A crash
        // between steps leaves only bytes nothing points at (an unrecorded upload file or an unlinked blob,
        // both reclaimable), never a row pointing at bytes that are gone.
        // A streamed push's size is known only now: refused before its bytes are committed, the session
        // discarded (the link re-checks in its transaction).
        if let Err(e) = self.check_quota(repo, Some(digest), s.size).await {
            self.discard_upload(&s).await?;
            return Err(e);
        }
        // The session's removal and the commit's announcement (which garbage collection honours) are one
        // transaction; a crash after it leaves a commit in flight that the collector cleans up.
        let commit = self.begin_blob_commit(digest, &s.id, &s.backend_state, true).await?;
        let size = self.blobs.commit_upload(&s.id, &s.backend_state, digest, s.size).await?;
        self.link_committed_within_quota(repo, digest, size, commit).await?;
        Ok(size)
    }

    async fn rehash_upload(&self, s: &UploadSession, algorithm: Algorithm) -> Result<Digest> {
        // Only the recorded bytes: a failed append may have left more behind them.
        let reader = self.blobs.read_upload(&s.id, &s.backend_state).await?.reader.take(s.size);
        Ok(crate::hash_reader(reader, algorithm).await.map_err(berth_storage::StorageError::Io)?)
    }

    /// Row first, bytes second (see `finish_upload`).
    async fn discard_upload(&self, s: &UploadSession) -> Result<()> {
        self.meta.delete_upload(&s.id).await?;
        self.blobs.cancel_upload(&s.id, &s.backend_state).await?;
        Ok(())
    }

    pub async fn cancel_upload(&self, repo: &RepositoryName, id: &str) -> Result<()> {
        let _busy = self.busy_uploads.claim(id)?;
        let s = self.load_upload(repo, id).await?;
        self.discard_upload(&s).await
    }

    /// A monolithic push: the whole blob in one request. It needs no session in the metadata store (nobody
    /// can resume it), only storage bytes, which are discarded if anything fails.
    pub async fn push_blob(&self, repo: &RepositoryName, digest: &Digest, body: ByteStream) -> Result<u64> {
        let id = uuid::Uuid::new_v4().to_string();
        let state = self.blobs.create_upload(&id).await?;
        let result = self.store_new_blob(repo, &id, &state, digest, body).await;
        if result.is_err() {
            let _ = self.blobs.cancel_upload(&id, &state).await;
        }
        result
    }

    async fn store_new_blob(
        &self,
        repo: &RepositoryName,
        id: &str,
        state: &berth_storage::UploadState,
        digest: &Digest,
        body: ByteStream,
    ) -> Result<u64> {
        let mut hasher = DigestHasher::new(digest.algorithm());
        let (size, state) = self.blobs.append_upload(id, state, 0, body, &mut |chunk| hasher.update(chunk)).await?;
        self.pulls.add_bytes_in(repo, size);
        let actual = hasher.finish();
        if &actual != digest {
            return Err(RegistryError::DigestInvalid(format!("uploaded content has digest {actual}, not {digest}")));
        }
        self.check_quota(repo, Some(digest), size).await?;
        let commit = self.begin_blob_commit(digest, id, &state, false).await?;
        let size = self.blobs.commit_upload(id, &state, digest, size).await?;
        self.link_committed_within_quota(repo, digest, size, commit).await?;
        Ok(size)
    }

    /// Discards sessions idle since before `before` (Unix seconds). Returns how many. A session with a request
    /// in flight on this node is left alone: a long streamed `PATCH` records progress only when it ends.
    pub async fn expire_uploads(&self, before: i64) -> Result<usize> {
        let stale = self.meta.stale_uploads(before).await?;
        let mut n = 0;
        for s in stale {
            let Ok(_busy) = self.busy_uploads.claim(&s.id) else { continue };
            self.discard_upload(&s).await?;
            n += 1;
        }
        Ok(n)
    }
}

/// Turns any stream of byte chunks into the storage layer's body type.
pub fn byte_stream<S, E>(s: S) -> ByteStream
where
    S: futures_util::Stream<Item = std::result::Result<bytes::Bytes, E>> + Send + 'static,
    E: std::fmt::Display,
{
    Box::pin(s.map(|r| r.map_err(|e| std::io::Error::other(e.to_string()))))
}
