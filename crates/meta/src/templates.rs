//! Repository creation templates as stored: the settings a repository created by a push (ECR's
//! `CREATE_ON_PUSH`) starts with, keyed by a namespace prefix or `ROOT`. Which template applies to a name
//! is berth-registry's rule; this store keeps the rows and applies a chosen template's settings to a new
//! repository in one transaction ([`TemplateStore::create_repository_from_template`]).

use async_trait::async_trait;
use berth_oci::RepositoryName;

use crate::settings::RepositorySettings;
use crate::{Page, Result, settings::TagMutability};

/// One repository creation template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreationTemplate {
    /// `ROOT`, or a namespace prefix without a trailing `/` (the key).
    pub prefix: String,
    pub description: String,
    /// ECR's `encryptionType` and `kmsKey`, as given; `None` when not given.
    pub encryption: Option<(String, Option<String>)>,
    /// Resource tags (key, value), keys unique.
    pub resource_tags: Vec<(String, String)>,
    pub tag_mutability: TagMutability,
    pub tag_mutability_exclusions: Vec<String>,
    pub repository_policy: Option<String>,
    pub lifecycle_policy: Option<String>,
    /// ECR's `RCTAppliedFor` values (`CREATE_ON_PUSH`, `PULL_THROUGH_CACHE`, `REPLICATION`).
    pub applied_for: Vec<String>,
    pub custom_role_arn: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a new repository starts with when a template applies to it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TemplatedRepository {
    pub settings: RepositorySettings,
    pub lifecycle_policy: Option<String>,
    pub repository_policy: Option<String>,
}

#[async_trait]
pub trait TemplateStore: Send + Sync {
    /// Stores a new template. `AlreadyExists` when one has its prefix.
    async fn create_template(&self, template: &CreationTemplate) -> Result<()>;
    /// Replaces the template with `template.prefix` (its `created_at` is kept). `false` when there is none.
    async fn update_template(&self, template: &CreationTemplate) -> Result<bool>;
    /// The template with `prefix`; `None` when there is none.
    async fn template(&self, prefix: &str) -> Result<Option<CreationTemplate>>;
    /// Templates in byte order of prefix, strictly after `page.last`, at most `page.n`.
    async fn list_templates(&self, page: Page<'_>) -> Result<Vec<CreationTemplate>>;
    /// Removes the template with `prefix` and returns it; `None` when there was none.
    async fn delete_template(&self, prefix: &str) -> Result<Option<CreationTemplate>>;
    /// Creates `name` with `repository`'s settings, resource tags, lifecycle policy and repository policy,
    /// in one transaction, unless the repository exists (then nothing changes and the answer is `false`).
    /// A repository policy replaces one kept by name from an earlier life of the repository.
    async fn create_repository_from_template(
        &self,
        name: &RepositoryName,
        repository: &TemplatedRepository,
        now: i64,
    ) -> Result<bool>;
}

/// The JSON forms of the list columns, shared by both backends.
pub(crate) mod codec {
    use crate::{MetaError, Result};

    pub fn tags_to_db(tags: &[(String, String)]) -> String {
        serde_json::to_string(tags).expect("strings serialise")
    }

    pub fn tags_from_db(value: &str) -> Result<Vec<(String, String)>> {
        serde_json::from_str(value)
            .map_err(|e| MetaError::Corrupt(format!("repository_creation_templates.resource_tags: {e}")))
    }

    pub fn list_to_db(values: &[String]) -> String {
        serde_json::to_string(values).expect("strings serialise")
    }

    pub fn list_from_db(column: &str, value: &str) -> Result<Vec<String>> {
        serde_json::from_str(value)
            .map_err(|e| MetaError::Corrupt(format!("repository_creation_templates.{column}: {e}")))
    }
}
