//! Repositories as a list shows them: each with its visibility, image count, size and last push, filtered
//! by name prefix and settings in the query and paged by name, so a page reads only the rows it shows.

use async_trait::async_trait;
use berth_oci::RepositoryName;

use crate::Result;
use crate::identity::Visibility;
use crate::settings::{RepositoryRecord, TagMutability};

/// Which repositories a listing shows; `None` fields do not filter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RepositoryFilter {
    /// Names starting with this (byte-wise; empty: all).
    pub prefix: String,
    pub visibility: Option<Visibility>,
    pub scan_on_push: Option<bool>,
    /// The repository's tag mutability mode (exclusion filters aside).
    pub mutability: Option<TagMutability>,
}

/// One repository of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositorySummary {
    pub record: RepositoryRecord,
    pub visibility: Visibility,
    /// Its manifests (images, indexes and artifacts, tagged or not).
    pub images: u64,
    /// What it stores: the sizes of the blobs linked to it (each once) plus those of its manifests.
    pub size: u64,
    /// When its latest manifest was pushed; `None` without manifests.
    pub last_push: Option<i64>,
}

#[async_trait]
pub trait RepositorySummaryStore: Send + Sync {
    /// Existing repositories matching `filter`, in lexical (byte) order of name, strictly after `after`,
    /// at most `n`.
    async fn repository_summaries(
        &self,
        filter: &RepositoryFilter,
        after: Option<&RepositoryName>,
        n: u32,
    ) -> Result<Vec<RepositorySummary>>;
}
