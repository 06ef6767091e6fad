//! Repositories as things of their own (the ECR-compatible API): created and deleted explicitly, with
//! settings, described and listed with their images.

use berth_meta::MetaError;
use berth_meta::settings::{
    ImageDeletion, ImageDetail, ImageId, RepositoryRecord, RepositorySettings, StatusFilter, TagMutability, TagStatus,
};
use berth_meta::summaries::{RepositoryFilter, RepositorySummary};
use berth_oci::{Digest, Reference, RepositoryName};

use crate::events::{DeleteCause, Event};
use crate::{Registry, RegistryError, Result};

/// One page of a listing of `T`, and whether more entries follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    pub entries: Vec<T>,
    pub more: bool,
}

fn paged<T>(mut entries: Vec<T>, want: u32) -> Paged<T> {
    let more = entries.len() > want as usize;
    entries.truncate(want as usize);
    Paged { entries, more }
}

impl Registry {
    /// Creates an empty repository with `settings`; `RepositoryAlreadyExists` if it exists (by content too). A
    /// soft-deleted repository of that name is forgotten (the new one wins).
    pub async fn create_repository(
        &self,
        name: &RepositoryName,
        settings: &RepositorySettings,
    ) -> Result<RepositoryRecord> {
        let record = self.meta.create_repository(name, settings, self.now()).await.map_err(|e| match e {
            MetaError::AlreadyExists(_) => RegistryError::RepositoryAlreadyExists(name.clone()),
            other => RegistryError::from(other),
        })?;
        // The new repository takes the name: a deleted one of that name can no longer be restored.
        if self.forget_deleted_repository(name).await? {
            tracing::info!(repository = %name, "a new repository replaced the deleted one of its name");
        }
        self.publish(Event::RepositoryCreated { repository: name.to_string() }).await;
        Ok(record)
    }

    /// A repository's record; `NameUnknown` if it does not exist.
    pub async fn repository(&self, name: &RepositoryName) -> Result<RepositoryRecord> {
        self.meta.get_repository(name).await?.ok_or(RegistryError::NameUnknown)
    }

    /// Records of existing repositories in lexical order, strictly after `after`, `n` at most.
    pub async fn repositories(&self, after: Option<&str>, n: u32) -> Result<Paged<RepositoryRecord>> {
        let records =
            self.meta.list_repository_records(berth_meta::Page { last: after, n: n.saturating_add(1) }).await?;
        Ok(paged(records, n))
    }

    /// Repositories matching `filter` with their image counts, sizes and last push, in lexical order,
    /// strictly after `after`, `n` at most.
    pub async fn repository_summaries(
        &self,
        filter: &RepositoryFilter,
        after: Option<&RepositoryName>,
        n: u32,
    ) -> Result<Paged<RepositorySummary>> {
        let rows = self.meta.repository_summaries(filter, after, n.saturating_add(1)).await?;
        Ok(paged(rows, n))
    }

    /// Deletes a repository with everything in it (`force`), or only if it has no manifest
    /// (`RepositoryNotEmpty` otherwise); returns it as it was. `NameUnknown` if it does not exist. One
    /// transaction: a push racing with the delete either lands before it (and is deleted, or makes a
    /// non-forced delete fail) or after it (and creates the repository anew). The blobs' bytes stay until
    /// garbage collection, as after any delete.
    pub async fn delete_repository(&self, name: &RepositoryName, force: bool) -> Result<RepositoryRecord> {
        match self.remove_repository(name, force).await {
            Ok(Some(record)) => {
                self.publish(Event::RepositoryDeleted { repository: name.to_string() }).await;
                Ok(record)
            }
            Ok(None) => Err(RegistryError::NameUnknown),
            Err(MetaError::NotEmpty(_)) => Err(RegistryError::RepositoryNotEmpty(name.clone())),
            Err(e) => Err(e.into()),
        }
    }

    /// Images of `name` with `status` and storage state `storage` (one entry per tag, one per untagged
    /// manifest), ordered by digest then tag, strictly after `after`, `n` at most. `NameUnknown` if the
    /// repository does not exist.
    pub async fn list_images(
        &self,
        name: &RepositoryName,
        status: TagStatus,
        storage: StatusFilter,
        after: Option<&ImageId>,
        n: u32,
    ) -> Result<Paged<ImageId>> {
        let ids = self
            .meta
            .list_image_ids(name, status, storage, after, n.saturating_add(1))
            .await?
            .ok_or(RegistryError::NameUnknown)?;
        Ok(paged(ids, n))
    }

    /// Details of the manifests of `name` with `status` (tagged: having a tag) and storage state `storage`,
    /// ordered by digest, strictly after `after`, `n` at most. `NameUnknown` if the repository does not
    /// exist.
    pub async fn image_details(
        &self,
        name: &RepositoryName,
        status: TagStatus,
        storage: StatusFilter,
        after: Option<&Digest>,
        n: u32,
    ) -> Result<Paged<ImageDetail>> {
        let details = self
            .meta
            .list_image_details(name, status, storage, after, n.saturating_add(1))
            .await?
            .ok_or(RegistryError::NameUnknown)?;
        Ok(paged(details, n))
    }

    /// Details of the manifest `reference` (a tag or a digest) points at. `NameUnknown` if the repository
    /// does not exist, `ManifestUnknown` if the manifest does not. Not a pull.
    pub async fn image_detail(&self, name: &RepositoryName, reference: &Reference) -> Result<ImageDetail> {
        let unknown = || RegistryError::ManifestUnknown(reference.to_string());
        let digest = match reference {
            Reference::Digest(d) => d.clone(),
            Reference::Tag(_) => match self.meta.get_manifest(name, reference).await? {
                Some(m) => m.digest,
                None => {
                    self.repository(name).await?;
                    return Err(unknown());
                }
            },
        };
        match self.meta.image_detail(name, &digest).await? {
            Some(d) => Ok(d),
            None => {
                self.repository(name).await?;
                Err(unknown())
            }
        }
    }

    /// A repository's resource tags by key; `NameUnknown` if it does not exist.
    pub async fn resource_tags(&self, name: &RepositoryName) -> Result<Vec<(String, String)>> {
        self.meta.repository_resource_tags(name).await?.ok_or(RegistryError::NameUnknown)
    }

    /// Sets resource tags (a repository created by a push becomes explicit); `NameUnknown` if it does not
    /// exist.
    pub async fn tag_repository(&self, name: &RepositoryName, tags: &[(String, String)], max: usize) -> Result<()> {
        match self.meta.tag_repository(name, tags, max).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(RegistryError::NameUnknown),
            Err(MetaError::LimitExceeded(m)) => Err(RegistryError::TooMany(m)),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes resource tags by key; `NameUnknown` if the repository does not exist.
    pub async fn untag_repository(&self, name: &RepositoryName, keys: &[String]) -> Result<()> {
        if self.meta.untag_repository(name, keys).await? { Ok(()) } else { Err(RegistryError::NameUnknown) }
    }

    /// Sets the tag mutability (tags already pushed stay); `NameUnknown` if the repository does not exist.
    pub async fn set_tag_mutability(
        &self,
        name: &RepositoryName,
        mutability: TagMutability,
        exclusions: &[String],
    ) -> Result<RepositoryRecord> {
        self.meta.set_tag_mutability(name, mutability, exclusions).await?.ok_or(RegistryError::NameUnknown)
    }

    /// Deletes a manifest and its tags unless an index of the repository lists it (ECR's
    /// `BatchDeleteImage`; `/v2` deletes as Distribution does, without this check).
    pub async fn delete_image(&self, name: &RepositoryName, digest: &Digest) -> Result<ImageDeletion> {
        let tags = self.tags_before_delete(name, digest).await;
        let deletion = self.remove_image(name, digest, true).await?;
        if deletion == ImageDeletion::Deleted {
            self.publish_deleted(name, digest, tags, DeleteCause::Request).await;
        }
        Ok(deletion)
    }

    /// Sets scan on push; `NameUnknown` if the repository does not exist.
    pub async fn set_scan_on_push(&self, name: &RepositoryName, scan_on_push: bool) -> Result<RepositoryRecord> {
        self.meta.set_scan_on_push(name, scan_on_push).await?.ok_or(RegistryError::NameUnknown)
    }

    /// A registry-wide setting (JSON), `None` when never set.
    pub async fn registry_setting(&self, name: &str) -> Result<Option<String>> {
        Ok(self.meta.registry_setting(name).await?)
    }

    pub async fn put_registry_setting(&self, name: &str, value: &str) -> Result<()> {
        Ok(self.meta.put_registry_setting(name, value, self.now()).await?)
    }
}
