//! Repository catalog data: what the public gallery shows of a repository (ECR Public's
//! `RepositoryCatalogData`), validated as ECR Public validates it.

use berth_meta::Page;
use berth_meta::catalog::{CatalogData, CatalogEntry};
use berth_oci::RepositoryName;

use crate::{Registry, RegistryError, Result};

/// Longest description (characters), as ECR Public.
pub const MAX_DESCRIPTION: usize = 1024;
/// Longest about or usage text (characters), as ECR Public.
pub const MAX_TEXT: usize = 25_600;
/// The architectures ECR Public accepts.
pub const ARCHITECTURES: &[&str] = &["ARM", "ARM 64", "x86", "x86-64"];
/// The operating systems ECR Public accepts.
pub const OPERATING_SYSTEMS: &[&str] = &["Linux", "Windows"];

/// Why `data` is not valid catalog data (`InvalidSetting`), checked before anything is stored.
pub fn validate(data: &CatalogData) -> Result<()> {
    let invalid = |m: String| Err(RegistryError::InvalidSetting(m));
    if data.description.chars().count() > MAX_DESCRIPTION {
        return invalid(format!("the description is longer than {MAX_DESCRIPTION} characters"));
    }
    for (what, text) in [("about text", &data.about_text), ("usage text", &data.usage_text)] {
        if text.chars().count() > MAX_TEXT {
            return invalid(format!("the {what} is longer than {MAX_TEXT} characters"));
        }
    }
    for (what, values, allowed) in [
        ("architecture", &data.architectures, ARCHITECTURES),
        ("operating system", &data.operating_systems, OPERATING_SYSTEMS),
    ] {
        if let Some(v) = values.iter().find(|v| !allowed.contains(&v.as_str())) {
            return invalid(format!("{v:?} is not an {what} (one of {})", allowed.join(", ")));
        }
    }
    Ok(())
}

impl Registry {
    /// The catalog data of `name` (empty when none was set); `NameUnknown` if the repository does not exist.
    pub async fn catalog_data(&self, name: &RepositoryName) -> Result<CatalogData> {
        match self.meta.catalog_data(name).await? {
            Some(data) => Ok(data),
            None if self.meta.get_repository(name).await?.is_some() => Ok(CatalogData::default()),
            None => Err(RegistryError::NameUnknown),
        }
    }

    /// Replaces the catalog data of `name` once valid ([`validate`]); `NameUnknown` if the repository does
    /// not exist. Repeated architectures and operating systems are kept once.
    pub async fn put_catalog_data(&self, name: &RepositoryName, data: &CatalogData) -> Result<CatalogData> {
        validate(data)?;
        let mut data = data.clone();
        for list in [&mut data.architectures, &mut data.operating_systems] {
            let mut seen = std::collections::BTreeSet::new();
            list.retain(|v| seen.insert(v.clone()));
        }
        if self.meta.put_catalog_data(name, &data, self.now()).await? {
            Ok(data)
        } else {
            Err(RegistryError::NameUnknown)
        }
    }

    /// Public repositories whose name or description contains `text` (ASCII letters without case), after
    /// `after`, at most `n`, with whether more follow.
    pub async fn search_public_catalog(
        &self,
        text: &str,
        after: Option<&str>,
        n: u32,
    ) -> Result<(Vec<CatalogEntry>, bool)> {
        let mut entries = self.meta.search_public_catalog(text, Page { last: after, n: n.saturating_add(1) }).await?;
        let more = entries.len() > n as usize;
        entries.truncate(n as usize);
        Ok((entries, more))
    }
}

impl Registry {
    /// The bytes of a small blob of `repo` (an image config) that berth reads to describe an image: not a
    /// client's pull (no pull policy, nothing counted). `None` when it is larger than `limit` bytes.
    pub async fn inspect_blob(
        &self,
        repo: &RepositoryName,
        digest: &berth_oci::Digest,
        limit: u64,
    ) -> Result<Option<Vec<u8>>> {
        use tokio::io::AsyncReadExt;
        let size = self.stat_blob(repo, digest).await?;
        if size > limit {
            return Ok(None);
        }
        let mut blob = self.blobs.open(digest, None).await?;
        let mut bytes = Vec::with_capacity(size as usize);
        (&mut blob.reader)
            .take(limit)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| RegistryError::Storage(berth_storage::StorageError::Io(e)))?;
        Ok(Some(bytes))
    }
}
