//! A repository's catalog data: what the public gallery shows of it (ECR Public's `RepositoryCatalogData`),
//! a one-line description, "about" and "usage" texts, and the architectures and operating systems it
//! claims. Stored with the repository's settings and deleted with the repository.

use async_trait::async_trait;
use berth_oci::RepositoryName;

use crate::{Page, Result};

/// Catalog data as stored; every field may be empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CatalogData {
    pub description: String,
    pub about_text: String,
    pub usage_text: String,
    pub architectures: Vec<String>,
    pub operating_systems: Vec<String>,
}

/// A public repository as the gallery lists it, with its catalog data (empty when it has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    pub name: RepositoryName,
    pub data: CatalogData,
}

#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Replaces the catalog data of `name` (a repository created by a push becomes explicit, as with
    /// resource tags). `false` when the repository does not exist.
    async fn put_catalog_data(&self, name: &RepositoryName, data: &CatalogData, now: i64) -> Result<bool>;
    /// The catalog data of `name`; `None` when it has none or does not exist.
    async fn catalog_data(&self, name: &RepositoryName) -> Result<Option<CatalogData>>;
    /// Existing public repositories whose name or description contains `text` (ASCII letters compared
    /// without case; an empty `text` matches all), in lexical order of name, strictly after `page.last`, at
    /// most `page.n`. Private repositories are never returned.
    async fn search_public_catalog(&self, text: &str, page: Page<'_>) -> Result<Vec<CatalogEntry>>;
}

/// `architectures` / `operating_systems` as stored: a JSON array of strings.
pub(crate) fn list_to_db(list: &[String]) -> String {
    serde_json::to_string(list).expect("strings serialise")
}

pub(crate) fn list_from_db(column: &str, value: &str) -> Result<Vec<String>> {
    serde_json::from_str(value).map_err(|e| crate::MetaError::Corrupt(format!("{column}: {e}")))
}
