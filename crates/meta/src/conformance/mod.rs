//! The behaviour every metadata backend must have, as an executable suite.
//!
//! A backend's tests call [`run_all`] and [`run_identity`] (the identity traits) on a fresh store; a failed
//! expectation panics with a message naming the check. Other crates get it with the `conformance` feature:
//!
//! ```toml
//! [dev-dependencies]
//! berth-meta = { workspace = true, features = ["conformance"] }
//! ```
//!
//! Each check works in repositories of its own (`conf-<area>/...`), so checks are independent of each other
//! and of their order; checks of global listings (`list_repositories`, `all_blobs`, `all_upload_ids`, ...)
//! only look at the entries they created. Times are small made-up numbers: the store never reads a clock.
//!
//! The suite is generic rather than taking `&dyn MetaStore`: `MetaStore` is a bundle of supertraits, and
//! upcasting a trait object to each of them is more ceremony than a type parameter.

mod accounting;
mod archive;
mod blobs;
mod catalog;
mod concurrency;
mod gc;
mod identity;
mod image_signing;
mod jobs;
mod lifecycle;
mod manifests;
mod meter;
mod policies;
mod ratelimits;
mod scans;
mod settings;
mod soft_delete;
mod summaries;
mod tags;
mod templates;
mod uploads;
mod webhooks;

use berth_oci::{Digest, RepositoryName, Tag};

use crate::identity::IdentityMeta;
use crate::{MetaStore, NewManifest, Page};

pub use accounting::{concurrent_quota_links, quotas, registry_storage, storage_accounting};
pub use archive::{image_storage_states, pull_exclusions};
pub use blobs::{blob_links, catalog, repository_existence};
pub use catalog::{catalog_data, public_catalog_search};
pub use concurrency::{concurrent_repository_creation, concurrent_tag_moves, concurrent_upload_updates};
pub use gc::garbage_collection;
pub use identity::{
    access_keys, audit_log, audit_search, concurrent_identity_writes, groups, identity_pages, robot_tokens,
    signing_keys, user_deletion_cascades, users,
};
pub use image_signing::image_signing_keys;
pub use jobs::{job_cancellation, job_claims, job_counts, job_dedup, job_lease_release, job_retention, job_retries};
pub use lifecycle::lifecycle_policies;
pub use manifests::{
    delete_cascades, fsck_listings, manifest_round_trip, missing_references, record_pull, referrers, untagging,
};
pub use meter::meter;
pub use policies::{policies, repository_policies, visibility};
pub use ratelimits::rate_limit_counts;
pub use scans::scan_queue;
pub use settings::{
    explicit_repositories, image_deletion_respects_indexes, image_details, image_listing, immutable_tags,
    mutability_exclusions_and_setters, pull_policies, repository_deletion, resource_tags,
};
pub use soft_delete::soft_delete;
pub use summaries::repository_summaries;
pub use tags::tag_listing;
pub use templates::{creation_templates, repositories_from_templates};
pub use uploads::{upload_session_caps, upload_sessions, usage_counters, usage_history};
pub use webhooks::webhooks;

/// Runs every check against `store`, which should be freshly created (empty).
pub async fn run_all<S: MetaStore>(store: &S) {
    blob_links(store).await;
    repository_existence(store).await;
    catalog(store).await;
    manifest_round_trip(store).await;
    missing_references(store).await;
    delete_cascades(store).await;
    untagging(store).await;
    tag_listing(store).await;
    referrers(store).await;
    record_pull(store).await;
    fsck_listings(store).await;
    upload_sessions(store).await;
    upload_session_caps(store).await;
    usage_counters(store).await;
    usage_history(store).await;
    concurrent_tag_moves(store).await;
    concurrent_upload_updates(store).await;
    concurrent_repository_creation(store).await;
    explicit_repositories(store).await;
    repository_deletion(store).await;
    image_listing(store).await;
    image_details(store).await;
    resource_tags(store).await;
    immutable_tags(store).await;
    mutability_exclusions_and_setters(store).await;
    image_deletion_respects_indexes(store).await;
    pull_policies(store).await;
    job_claims(store).await;
    job_retries(store).await;
    job_cancellation(store).await;
    job_dedup(store).await;
    job_retention(store).await;
    job_counts(store).await;
    scan_queue(store).await;
    catalog_data(store).await;
    garbage_collection(store).await;
    lifecycle_policies(store).await;
    storage_accounting(store).await;
    registry_storage(store).await;
    quotas(store).await;
    concurrent_quota_links(store).await;
    creation_templates(store).await;
    soft_delete(store).await;
    pull_exclusions(store).await;
    image_storage_states(store).await;
    rate_limit_counts(store).await;
    meter(store).await;
    image_signing_keys(store).await;
    webhooks(store).await;
    // Last: it ends every lease still held, whichever check took it.
    job_lease_release(store).await;
}

/// Runs every check of the identity traits ([`IdentityMeta`]) against `store`, which should be freshly
/// created (empty). Repository visibility and policies interact with repository content, hence the
/// [`MetaStore`] bound.
pub async fn run_identity<S: MetaStore + IdentityMeta>(store: &S) {
    users(store).await;
    access_keys(store).await;
    groups(store).await;
    user_deletion_cascades(store).await;
    robot_tokens(store).await;
    signing_keys(store).await;
    audit_log(store).await;
    audit_search(store).await;
    identity_pages(store).await;
    policies(store).await;
    repository_policies(store).await;
    visibility(store).await;
    public_catalog_search(store).await;
    repository_summaries(store).await;
    concurrent_identity_writes(store).await;
    repositories_from_templates(store).await;
}

const IMAGE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const IMAGE_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Everything, as a page.
const ALL: Page<'static> = Page { last: None, n: u32::MAX };

fn repo(name: &str) -> RepositoryName {
    name.parse().unwrap_or_else(|e| panic!("test repository name {name:?}: {e}"))
}

fn tag(name: &str) -> Tag {
    name.parse().unwrap_or_else(|e| panic!("test tag {name:?}: {e}"))
}

fn tags(names: &[&str]) -> Vec<Tag> {
    names.iter().map(|n| tag(n)).collect()
}

/// A distinct digest per seed (the blobs' bytes never exist: the store does not look at them).
fn blob(seed: &str) -> Digest {
    Digest::sha256_of(seed.as_bytes())
}

fn page(last: Option<&str>, n: u32) -> Page<'_> {
    Page { last, n }
}

/// An image manifest whose content is `body` (so its digest is that of `body`), needing `blobs`.
fn image(repository: &RepositoryName, body: &str, blobs: Vec<Digest>, pushed_at: i64) -> NewManifest {
    NewManifest {
        repository: repository.clone(),
        digest: Digest::sha256_of(body.as_bytes()),
        media_type: IMAGE_MANIFEST.to_string(),
        content: body.as_bytes().to_vec(),
        artifact_type: None,
        subject: None,
        annotations: None,
        config_digest: blobs.first().cloned(),
        blobs,
        children: Vec::new(),
        platforms: None,
        pushed_at,
    }
}

/// An image index whose content is `body`, referencing `children`.
fn index(repository: &RepositoryName, body: &str, children: Vec<Digest>, pushed_at: i64) -> NewManifest {
    NewManifest {
        media_type: IMAGE_INDEX.to_string(),
        config_digest: None,
        blobs: Vec::new(),
        platforms: Some(format!("[{}]", vec!["null"; children.len()].join(","))),
        children,
        ..image(repository, body, Vec::new(), pushed_at)
    }
}
