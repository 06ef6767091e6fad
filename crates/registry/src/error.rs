//! What can go wrong in a registry operation, each tied to the distribution-spec code a client sees.

use berth_meta::MetaError;
use berth_oci::{Digest, ErrorCode, ManifestError, NameError, RepositoryName};
use berth_storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("blob {0} is not known in this repository")]
    BlobUnknown(Digest),
    #[error("upload session is not known")]
    BlobUploadUnknown,
    #[error("{0}")]
    BlobUploadInvalid(String),
    #[error("{0}")]
    DigestInvalid(String),
    #[error("range {range} does not continue the upload, which holds {size} bytes")]
    UploadRangeInvalid { range: String, size: u64 },
    #[error("requested range is not satisfiable for a blob of {size} bytes")]
    BlobRangeInvalid { size: u64 },
    #[error("{0}")]
    SizeInvalid(String),
    #[error("manifest references {0}, which is not in this repository")]
    ManifestBlobUnknown(Digest),
    #[error("manifest invalid: {0}")]
    ManifestInvalid(#[from] ManifestError),
    #[error("manifest is larger than the limit of {limit} bytes")]
    ManifestTooLarge { limit: usize },
    #[error("manifest {0} is not known in this repository")]
    ManifestUnknown(String),
    #[error("repository is not known to the registry")]
    NameUnknown,
    #[error("{0}")]
    NameInvalid(NameError),
    /// Creating a repository that exists (never raised on /v2).
    #[error("repository {0} already exists")]
    RepositoryAlreadyExists(RepositoryName),
    /// Deleting, without force, a repository that has images (never raised on /v2).
    #[error("repository {0} has images; delete them first or force the deletion")]
    RepositoryNotEmpty(RepositoryName),
    /// Moving a tag of a repository whose tags are immutable.
    #[error("tag {tag} already exists in {repository} and cannot be overwritten because its tags are immutable")]
    TagImmutable { repository: String, tag: String },
    #[error("{0}")]
    TagInvalid(NameError),
    /// The repository's pull policy refuses this image (its scan has blocking findings).
    #[error("{0}")]
    PullBlocked(String),
    /// The image is archived (or being restored): it cannot be pulled until it is restored.
    #[error(
        "{repository}@{digest} is archived (imageStatus {status}) and cannot be pulled; restore it with `aws ecr \
         update-image-storage-class --repository-name {repository} --image-id imageDigest={digest} \
         --target-storage-class STANDARD` and pull it once it is ACTIVE"
    )]
    ImageArchived { repository: RepositoryName, digest: Digest, status: &'static str },
    /// A blob only archived images of the repository use: not handed out until one of them is restored.
    #[error(
        "blob {digest} of {repository} belongs only to archived images; restore one of them \
         (`aws ecr update-image-storage-class ... --target-storage-class STANDARD`) to download it"
    )]
    BlobArchived { repository: RepositoryName, digest: Digest },
    /// The principal already has a pull time update exclusion (never raised on /v2).
    #[error("the principal {0} is already excluded from pull time updates")]
    PullExclusionExists(String),
    /// The principal has no pull time update exclusion (never raised on /v2).
    #[error("the principal {0} is not excluded from pull time updates")]
    PullExclusionNotFound(String),
    /// Archiving or restoring an image in a state that does not allow it (never raised on /v2).
    #[error("{0}")]
    StorageClassUpdateNotSupported(String),
    /// A resource would have more of something than allowed (never raised on /v2).
    #[error("{0}")]
    TooMany(String),
    /// Linking a blob would take a storage quota past its limit; nothing was linked. The message names the
    /// quota, its limit and its usage.
    #[error("{0}")]
    QuotaExceeded(String),
    /// Starting an upload session would exceed a cap on open sessions (per repository or per principal).
    #[error("{0}")]
    TooManyUploads(String),
    /// A scan asked of something that is not a container image (never raised on /v2).
    #[error("{0}")]
    NotScannable(String),
    /// An ECR layer part after one smaller than the minimum part size (only the last part may be smaller;
    /// never raised on /v2).
    #[error("{0}")]
    LayerPartTooSmall(String),
    /// A registry setting given a value berth does not honour (never raised on /v2).
    #[error("{0}")]
    InvalidSetting(String),
    /// A lifecycle policy document ECR would refuse, saying why (never raised on /v2).
    #[error("Lifecycle policy validation failure: {0}")]
    LifecyclePolicyInvalid(String),
    /// The repository has no lifecycle policy (never raised on /v2).
    #[error("no lifecycle policy is set for the repository")]
    LifecyclePolicyNotFound,
    /// The repository has no lifecycle policy preview (never raised on /v2).
    #[error("no lifecycle policy preview exists for the repository")]
    LifecyclePreviewNotFound,
    /// No soft-deleted image to restore (never raised on /v2).
    #[error("{0}")]
    DeletedImageUnknown(String),
    /// No soft-deleted repository to restore (never raised on /v2).
    #[error("{0}")]
    DeletedRepositoryUnknown(String),
    /// A restore that cannot happen as things are (the name is taken, the repository is deleted; never raised
    /// on /v2).
    #[error("{0}")]
    RestoreRefused(String),
    /// A preview of the repository is still being computed (never raised on /v2).
    #[error("a lifecycle policy preview of the repository is still in progress")]
    LifecyclePreviewInProgress,
    /// A repository creation template with this prefix exists (never raised on /v2).
    #[error("a repository creation template with prefix {0} already exists")]
    TemplateAlreadyExists(String),
    /// No repository creation template has this prefix (never raised on /v2).
    #[error("no repository creation template has prefix {0}")]
    TemplateNotFound(String),
    /// The blob store or the metadata store is out of space (a full disk or quota): nothing was stored, and the
    /// same request succeeds once space has been freed. A fault of the server's environment, not of the request.
    #[error("no space left on device: {0}")]
    InsufficientStorage(String),
    /// The blob store or the metadata database could not be reached (an S3 or PostgreSQL server down): nothing was stored, and the same request
    /// succeeds once it answers again. A fault of the server's environment, not of the request.
    #[error("{0}")]
    StorageUnavailable(String),
    #[error(transparent)]
    Storage(StorageError),
    #[error(transparent)]
    Meta(MetaError),
}

impl RegistryError {
    /// The distribution-spec error code; `None` for faults of the server or its dependencies.
    pub fn code(&self) -> Option<ErrorCode> {
        Some(match self {
            RegistryError::BlobUnknown(_) => ErrorCode::BlobUnknown,
            RegistryError::BlobUploadUnknown => ErrorCode::BlobUploadUnknown,
            RegistryError::BlobUploadInvalid(_) => ErrorCode::BlobUploadInvalid,
            RegistryError::DigestInvalid(_) => ErrorCode::DigestInvalid,
            RegistryError::UploadRangeInvalid { .. } | RegistryError::BlobRangeInvalid { .. } => {
                ErrorCode::RangeInvalid
            }
            RegistryError::SizeInvalid(_) => ErrorCode::SizeInvalid,
            RegistryError::ManifestBlobUnknown(_) => ErrorCode::ManifestBlobUnknown,
            RegistryError::ManifestInvalid(_) | RegistryError::ManifestTooLarge { .. } => ErrorCode::ManifestInvalid,
            RegistryError::ManifestUnknown(_) | RegistryError::ImageArchived { .. } => ErrorCode::ManifestUnknown,
            RegistryError::BlobArchived { .. } => ErrorCode::BlobUnknown,
            RegistryError::NameUnknown => ErrorCode::NameUnknown,
            RegistryError::NameInvalid(_) => ErrorCode::NameInvalid,
            RegistryError::TagInvalid(_) | RegistryError::TagImmutable { .. } => ErrorCode::TagInvalid,
            // Only the ECR-compatible API raises these, and maps them itself; the nearest OCI codes.
            RegistryError::RepositoryAlreadyExists(_) => ErrorCode::NameInvalid,
            RegistryError::RepositoryNotEmpty(_) | RegistryError::RestoreRefused(_) => ErrorCode::Denied,
            RegistryError::DeletedImageUnknown(_) => ErrorCode::ManifestUnknown,
            RegistryError::DeletedRepositoryUnknown(_) => ErrorCode::NameUnknown,
            RegistryError::InvalidSetting(_)
            | RegistryError::StorageClassUpdateNotSupported(_)
            | RegistryError::PullExclusionExists(_)
            | RegistryError::PullExclusionNotFound(_)
            | RegistryError::NotScannable(_)
            | RegistryError::LifecyclePolicyInvalid(_)
            | RegistryError::LifecyclePolicyNotFound
            | RegistryError::LifecyclePreviewNotFound
            | RegistryError::LifecyclePreviewInProgress
            | RegistryError::TemplateAlreadyExists(_)
            | RegistryError::TemplateNotFound(_) => ErrorCode::Unsupported,
            RegistryError::TooMany(_) | RegistryError::PullBlocked(_) | RegistryError::QuotaExceeded(_) => {
                ErrorCode::Denied
            }
            RegistryError::TooManyUploads(_) => ErrorCode::TooManyRequests,
            RegistryError::InsufficientStorage(_) | RegistryError::StorageUnavailable(_) => ErrorCode::Unavailable,
            RegistryError::LayerPartTooSmall(_) => ErrorCode::BlobUploadInvalid,
            RegistryError::Storage(StorageError::BlobNotFound(d)) => {
                return RegistryError::BlobUnknown(d.clone()).code();
            }
            RegistryError::Storage(StorageError::UploadNotFound(_)) => ErrorCode::BlobUploadUnknown,
            RegistryError::Storage(StorageError::UploadOffsetMismatch { .. }) => ErrorCode::RangeInvalid,
            RegistryError::Storage(StorageError::RangeNotSatisfiable { .. }) => ErrorCode::RangeInvalid,
            RegistryError::Storage(StorageError::Body(_)) => ErrorCode::BlobUploadInvalid,
            RegistryError::Storage(StorageError::Io(_)) | RegistryError::Meta(_) => return None,
        })
    }
}

impl From<StorageError> for RegistryError {
    fn from(e: StorageError) -> Self {
        if e.is_out_of_space() {
            tracing::warn!(error = %e, "the blob store is out of space; refusing the write");
            return RegistryError::InsufficientStorage(
                "the registry's blob storage is full; nothing was stored, retry once space has been freed".into(),
            );
        }
        if e.is_unavailable() {
            tracing::warn!(error = %e, "the blob store cannot be reached; refusing the request");
            return RegistryError::StorageUnavailable(
                "the registry's blob storage cannot be reached; nothing was changed, retry shortly".into(),
            );
        }
        RegistryError::Storage(e)
    }
}

impl From<MetaError> for RegistryError {
    fn from(e: MetaError) -> Self {
        match e {
            MetaError::MissingBlob(d) | MetaError::MissingManifest(d) => RegistryError::ManifestBlobUnknown(d),
            MetaError::TagImmutable { repository, tag } => RegistryError::TagImmutable { repository, tag },
            MetaError::Refused(why) => RegistryError::QuotaExceeded(why),
            MetaError::Conflict => {
                RegistryError::BlobUploadInvalid("the upload session was changed by a concurrent request".into())
            }
            other if other.is_out_of_space() => {
                tracing::warn!(error = %other, "the metadata store is out of space; refusing the write");
                RegistryError::InsufficientStorage(
                    "the registry's metadata storage is full; nothing was changed, retry once space has been freed"
                        .into(),
                )
            }
            other if other.is_unavailable() => {
                tracing::warn!(error = %other, "the metadata database cannot be reached; refusing the request");
                RegistryError::StorageUnavailable(
                    "the registry's metadata database cannot be reached; nothing was changed, retry shortly".into(),
                )
            }
            other => RegistryError::Meta(other),
        }
    }
}
