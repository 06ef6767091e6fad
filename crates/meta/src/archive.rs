//! The storage state of images (ECR's `imageStatus`): a manifest is `ACTIVE` until it is archived;
//! `ARCHIVED` refuses pulls; a restore makes it `ACTIVATING` until a job completes it (`ACTIVE` again).
//! When it was last archived and last activated are kept. The state goes with its manifest.
//!
//! Changes are compare-and-set ([`ImageStorageStore::change_image_status`]): concurrent requests and jobs
//! cannot both move an image, and a retried job finds the change already made.

use async_trait::async_trait;
use berth_oci::{Digest, RepositoryName};

use crate::Result;

/// ECR's `ImageStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ImageStatus {
    #[default]
    Active,
    Archived,
    Activating,
}

impl ImageStatus {
    /// As stored and as ECR names it.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageStatus::Active => "ACTIVE",
            ImageStatus::Archived => "ARCHIVED",
            ImageStatus::Activating => "ACTIVATING",
        }
    }

    pub fn parse(s: &str) -> Option<ImageStatus> {
        match s {
            "ACTIVE" => Some(ImageStatus::Active),
            "ARCHIVED" => Some(ImageStatus::Archived),
            "ACTIVATING" => Some(ImageStatus::Activating),
            _ => None,
        }
    }

    /// Whether the image may be pulled.
    pub fn is_active(self) -> bool {
        self == ImageStatus::Active
    }
}

/// Which images a listing shows by their storage state (ECR's `ImageStatusFilter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    /// Only images in this state.
    Only(ImageStatus),
    /// Every image.
    #[default]
    Any,
}

impl StatusFilter {
    /// The SQL value the listings compare with (`''` for any).
    pub(crate) fn to_sql(self) -> &'static str {
        match self {
            StatusFilter::Only(s) => s.as_str(),
            StatusFilter::Any => "",
        }
    }
}

/// An image's storage state with its times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImageStorageState {
    pub status: ImageStatus,
    pub last_archived_at: Option<i64>,
    pub last_activated_at: Option<i64>,
}

/// The state after moving `state` to `to` at `now`.
pub(crate) fn moved(state: ImageStorageState, to: ImageStatus, now: i64) -> ImageStorageState {
    ImageStorageState {
        status: to,
        last_archived_at: if to == ImageStatus::Archived { Some(now) } else { state.last_archived_at },
        last_activated_at: if to == ImageStatus::Active { Some(now) } else { state.last_activated_at },
    }
}

/// What [`ImageStorageStore::change_image_status`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    /// The image was in the expected state and is now in the new one.
    Changed(ImageStorageState),
    /// The image was not in the expected state: nothing changed; its state now.
    Unchanged(ImageStorageState),
    /// No such manifest.
    NotFound,
}

/// An image that is not `ACTIVE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InactiveImage {
    pub repository: RepositoryName,
    pub digest: Digest,
    pub state: ImageStorageState,
}

#[async_trait]
pub trait ImageStorageStore: Send + Sync {
    /// The storage state of manifest `digest` of `repo`; `None` when there is no such manifest.
    async fn image_storage_state(&self, repo: &RepositoryName, digest: &Digest) -> Result<Option<ImageStorageState>>;
    /// Moves manifest `digest` of `repo` from `from` to `to` at `now`, in one transaction: becoming
    /// `ARCHIVED` sets `last_archived_at`, becoming `ACTIVE` sets `last_activated_at`.
    async fn change_image_status(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        from: ImageStatus,
        to: ImageStatus,
        now: i64,
    ) -> Result<StatusChange>;
    /// Images in state `status` (not `ACTIVE`), by repository name then digest.
    async fn images_with_status(&self, status: ImageStatus) -> Result<Vec<InactiveImage>>;
    /// Whether blob `digest` is referenced in `repo` by manifests that are all not `ACTIVE` (at least one):
    /// its bytes belong to archived images only.
    async fn blob_only_in_inactive_images(&self, repo: &RepositoryName, digest: &Digest) -> Result<bool>;
}
