//! Reading, deleting and mounting blobs of a repository.

use std::ops::Range;
use std::path::PathBuf;

use berth_oci::{Digest, RepositoryName};
use berth_storage::{BlobReader, StorageError};

use crate::{Registry, RegistryError, Result};

/// A byte range as a client asks for it (`bytes=a-b`, `bytes=a-`, `bytes=-n`), resolved against the blob's
/// size only once the size is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `start..=end` (inclusive, as in HTTP).
    FromTo(u64, u64),
    From(u64),
    /// The last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The half-open range within a blob of `size` bytes, or `None` when it is not satisfiable.
    pub fn resolve(self, size: u64) -> Option<Range<u64>> {
        let r = match self {
            ByteRange::FromTo(start, end) if start <= end => start..end.saturating_add(1).min(size),
            ByteRange::FromTo(..) => return None,
            ByteRange::From(start) => start..size,
            ByteRange::Suffix(0) => return None,
            ByteRange::Suffix(n) => size.saturating_sub(n)..size,
        };
        (r.start < size).then_some(r)
    }
}

/// An open blob (or part of one) ready to be sent.
pub struct BlobContent {
    /// Size of the whole blob.
    pub size: u64,
    /// The part being sent, when a range was asked for.
    pub range: Option<Range<u64>>,
    pub reader: BlobReader,
    /// The committed file, when the backend keeps blobs on local disk.
    pub local_path: Option<PathBuf>,
}

impl Registry {
    /// Size of a blob linked to `repo`.
    pub async fn stat_blob(&self, repo: &RepositoryName, digest: &Digest) -> Result<u64> {
        self.meta.linked_blob_size(repo, digest).await?.ok_or_else(|| RegistryError::BlobUnknown(digest.clone()))
    }

    /// Size of a blob of `repo` that a client is about to download (`HEAD`, a download URL): a blob only
    /// archived images use is refused (`BlobArchived`) and the repository's pull policy applies, as they do
    /// to [`Registry::open_blob`].
    pub async fn stat_blob_for_pull(&self, repo: &RepositoryName, digest: &Digest) -> Result<u64> {
        let size = self.stat_blob(repo, digest).await?;
        if self.meta.blob_only_in_inactive_images(repo, digest).await? {
            return Err(RegistryError::BlobArchived { repository: repo.clone(), digest: digest.clone() });
        }
        self.check_blob_pull_policy(repo, digest).await?;
        Ok(size)
    }

    /// Opens a blob of `repo` for a client to read, optionally a range of it, and counts the bytes as
    /// served. The repository's pull policy applies.
    pub async fn open_blob(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        range: Option<ByteRange>,
    ) -> Result<BlobContent> {
        let size = self.stat_blob_for_pull(repo, digest).await?;
        let range = match range {
            Some(r) => Some(r.resolve(size).ok_or(RegistryError::BlobRangeInvalid { size })?),
            None => None,
        };
        let reader = match self.blobs.open(digest, range.clone()).await {
            Ok(reader) if reader.stored_size == size => reader,
            Ok(reader) => return Err(damaged(repo, digest, size, reader.stored_size)),
            // The range fits the recorded size, so the stored file is shorter than recorded.
            Err(StorageError::RangeNotSatisfiable { size: stored }) => return Err(damaged(repo, digest, size, stored)),
            Err(e) => return Err(e.into()),
        };
        self.pulls.add_bytes_out(repo, reader.len);
        Ok(BlobContent { size, range, reader, local_path: self.blobs.local_path(digest) })
    }

    /// A URL where the client may download a blob of `repo` directly from the blob store (a presigned S3 URL),
    /// when the store is configured to redirect downloads; `None`: serve it with [`Registry::open_blob`]. The
    /// pull policy applies as it does there; the bytes are counted as served.
    /// With the URL, the blob's size (what the redirect serves, for metering).
    pub async fn blob_download_url(&self, repo: &RepositoryName, digest: &Digest) -> Result<Option<(String, u64)>> {
        let size = self.stat_blob_for_pull(repo, digest).await?;
        let url = self.blobs.download_url(digest).await?;
        if url.is_some() {
            self.pulls.add_bytes_out(repo, size);
        }
        Ok(url.map(|u| (u, size)))
    }

    /// Removes a blob from a repository. Its bytes stay until garbage collection finds them unreferenced.
    pub async fn delete_blob(&self, repo: &RepositoryName, digest: &Digest) -> Result<()> {
        if self.meta.unlink_blob(repo, digest).await? {
            Ok(())
        } else {
            Err(RegistryError::BlobUnknown(digest.clone()))
        }
    }

    /// Links a blob of `from` into `repo` without copying bytes. Returns the blob's size, or `None` when
    /// `from` does not have it or mounting is disabled (account setting `BLOB_MOUNTING`): the caller then
    /// starts a normal upload. Refused with `QuotaExceeded` when a quota covering `repo` has no room for it.
    pub async fn mount_blob(
        &self,
        repo: &RepositoryName,
        from: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<u64>> {
        if self.account_setting(crate::AccountSetting::BlobMounting).await? == "DISABLED" {
            return Ok(None);
        }
        // One transaction that re-checks `from` still links the blob (garbage collection may remove it) and
        // that the quotas covering `repo` have room.
        self.mount_within_quota(repo, from, digest).await
    }
}

/// The failure of a read that found the stored copy of a blob with another size than recorded: a fault, logged
/// loudly, rather than a response whose body would be shorter (or longer) than the blob.
fn damaged(repo: &RepositoryName, digest: &Digest, recorded: u64, stored: u64) -> RegistryError {
    tracing::error!(
        %repo,
        %digest,
        recorded_bytes = recorded,
        stored_bytes = stored,
        "the stored copy of a blob is damaged: not serving it (`berth fsck --verify-digests --repair` quarantines \
         it; a push of the blob restores it)"
    );
    RegistryError::Storage(StorageError::Io(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("blob {digest} is recorded with {recorded} bytes but its stored copy holds {stored}"),
    )))
}

#[cfg(test)]
mod tests {
    use super::ByteRange::*;

    #[test]
    fn ranges_resolve_against_size() {
        assert_eq!(FromTo(0, 9).resolve(100), Some(0..10));
        assert_eq!(FromTo(90, 200).resolve(100), Some(90..100));
        assert_eq!(From(99).resolve(100), Some(99..100));
        assert_eq!(Suffix(10).resolve(100), Some(90..100));
        assert_eq!(Suffix(500).resolve(100), Some(0..100));
        assert_eq!(From(100).resolve(100), None);
        assert_eq!(FromTo(5, 4).resolve(100), None);
        assert_eq!(Suffix(0).resolve(100), None);
        assert_eq!(From(0).resolve(0), None);
    }
}
