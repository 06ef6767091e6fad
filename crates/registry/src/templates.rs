//! Repository creation templates, as ECR defines them: the settings a repository starts with when berth
//! creates it on a user's behalf. berth creates repositories on push, so templates applied for
//! `CREATE_ON_PUSH` take effect; `PULL_THROUGH_CACHE` and `REPLICATION` are kept for when berth has those
//! features.
//!
//! Which template applies ([`matching_template`]): among the templates applied for the scenario, the one
//! whose prefix is the longest namespace prefix of the name (a prefix `team` stands for `team/`: it covers
//! `team/app`, not `team` nor `teamx/app`), else the `ROOT` template. It is applied when a push first
//! writes to a repository that does not exist — the first blob link, mount or manifest — in one transaction
//! that creates the repository with the template's tag mutability, resource tags, lifecycle policy and
//! repository policy, so every later request of that push already sees them.
//!
//! The template is trusted configuration: only a principal allowed to manage templates (and, for the
//! policies and tags it carries, to set them on any repository) can write one, and a pusher cannot choose
//! what it applies beyond the repository name it was already allowed to push to.

use std::sync::{Arc, Mutex};

use berth_meta::MetaError;
use berth_meta::Page;
use berth_meta::settings::RepositorySettings;
use berth_meta::templates::{CreationTemplate, TemplatedRepository};
use berth_oci::RepositoryName;

use crate::{Registry, RegistryError, Result};

/// The prefix of the default template, which applies to names no other template covers.
pub const ROOT: &str = "ROOT";
/// The scenario berth applies templates for.
pub const CREATE_ON_PUSH: &str = "CREATE_ON_PUSH";
/// Every scenario of ECR's model (`RCTAppliedFor`).
pub const APPLIED_FOR: [&str; 3] = ["CREATE_ON_PUSH", "PULL_THROUGH_CACHE", "REPLICATION"];

/// Called with each repository a template created (the identity service forgets its cached policies).
pub type CreatedHook = Arc<dyn Fn(&RepositoryName) + Send + Sync>;

#[derive(Clone, Default)]
pub(crate) struct CreatedHooks(Arc<Mutex<Vec<CreatedHook>>>);

impl CreatedHooks {
    fn run(&self, name: &RepositoryName) {
        let hooks = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for hook in hooks {
            hook(name);
        }
    }
}

/// The key a prefix is stored under: `ROOT`, or the namespace without its trailing `/` (ECR assumes one).
pub fn normalize_prefix(prefix: &str) -> &str {
    if prefix == ROOT { prefix } else { prefix.strip_suffix('/').unwrap_or(prefix) }
}

/// Whether the template with (normalised) `prefix` covers the repository `name`.
pub fn covers(prefix: &str, name: &str) -> bool {
    prefix == ROOT || name.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
}

/// The template that applies to `name` for `scenario`: the longest covering prefix, `ROOT` last.
pub fn matching_template<'a>(
    templates: &'a [CreationTemplate],
    name: &str,
    scenario: &str,
) -> Option<&'a CreationTemplate> {
    templates
        .iter()
        .filter(|t| t.applied_for.iter().any(|a| a == scenario) && covers(&t.prefix, name))
        .max_by_key(|t| if t.prefix == ROOT { 0 } else { t.prefix.len() + 1 })
}

/// What a repository created from `t` starts with. Scan on push is not a template setting in ECR's model:
/// the registry's scanning configuration decides it for every repository.
fn applied(t: &CreationTemplate) -> TemplatedRepository {
    TemplatedRepository {
        settings: RepositorySettings {
            tag_mutability: t.tag_mutability,
            tag_mutability_exclusions: t.tag_mutability_exclusions.clone(),
            scan_on_push: false,
            tags: t.resource_tags.clone(),
        },
        lifecycle_policy: t.lifecycle_policy.clone(),
        repository_policy: t.repository_policy.clone(),
    }
}

impl Registry {
    /// Registers `hook`, called with each repository a template created.
    pub fn on_repository_created(&self, hook: CreatedHook) {
        self.created_hooks.0.lock().unwrap_or_else(|p| p.into_inner()).push(hook);
    }

    /// Stores a new template (its times set now). The lifecycle policy is validated as `PutLifecyclePolicy`
    /// validates it; the repository policy must have been checked by the caller (the identity service owns
    /// policy syntax). `TemplateAlreadyExists` when its prefix has one.
    pub async fn create_template(&self, mut template: CreationTemplate) -> Result<CreationTemplate> {
        template.prefix = normalize_prefix(&template.prefix).to_string();
        if let Some(text) = &template.lifecycle_policy {
            crate::lifecycle::validate_policy(text)?;
        }
        let now = self.now();
        (template.created_at, template.updated_at) = (now, now);
        match self.meta.create_template(&template).await {
            Err(MetaError::AlreadyExists(_)) => Err(RegistryError::TemplateAlreadyExists(template.prefix)),
            other => other.map(|()| template).map_err(Into::into),
        }
    }

    /// The template with `prefix`, or `TemplateNotFound`.
    pub async fn template(&self, prefix: &str) -> Result<CreationTemplate> {
        let prefix = normalize_prefix(prefix);
        self.meta.template(prefix).await?.ok_or_else(|| RegistryError::TemplateNotFound(prefix.to_string()))
    }

    /// Changes the template with `prefix` by `change` (validated as on creation) and stores it whole.
    pub async fn update_template(
        &self,
        prefix: &str,
        change: impl FnOnce(&mut CreationTemplate),
    ) -> Result<CreationTemplate> {
        let mut template = self.template(prefix).await?;
        change(&mut template);
        if let Some(text) = &template.lifecycle_policy {
            crate::lifecycle::validate_policy(text)?;
        }
        template.updated_at = self.now();
        if self.meta.update_template(&template).await? {
            Ok(template)
        } else {
            Err(RegistryError::TemplateNotFound(template.prefix))
        }
    }

    /// Templates in byte order of prefix, strictly after `after`, at most `n`.
    pub async fn templates(&self, after: Option<&str>, n: u32) -> Result<Vec<CreationTemplate>> {
        Ok(self.meta.list_templates(Page { last: after, n }).await?)
    }

    /// Deletes the template with `prefix` and returns it, or `TemplateNotFound`.
    pub async fn delete_template(&self, prefix: &str) -> Result<CreationTemplate> {
        let prefix = normalize_prefix(prefix);
        self.meta.delete_template(prefix).await?.ok_or_else(|| RegistryError::TemplateNotFound(prefix.to_string()))
    }

    /// Before a push's first write to `repo`: when `repo` does not exist and a template applies to it for
    /// `CREATE_ON_PUSH`, creates it from the template. A repository that exists (or that a concurrent
    /// request created first) is left as it is.
    pub(crate) async fn create_on_push(&self, repo: &RepositoryName) -> Result<()> {
        if self.meta.repository_exists(repo).await? {
            return Ok(());
        }
        let mut all = Vec::new();
        loop {
            let page = self.templates(all.last().map(|t: &CreationTemplate| t.prefix.as_str()), 1000).await?;
            let done = page.len() < 1000;
            all.extend(page);
            if done {
                break;
            }
        }
        let Some(template) = matching_template(&all, repo.as_str(), CREATE_ON_PUSH) else {
            return Ok(());
        };
        if self.meta.create_repository_from_template(repo, &applied(template), self.now()).await? {
            tracing::info!(repository = %repo, template = %template.prefix, "repository created from its creation template");
            self.created_hooks.run(repo);
            self.publish(crate::events::Event::RepositoryCreated { repository: repo.to_string() }).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use berth_meta::settings::TagMutability;

    use super::*;

    fn t(prefix: &str, applied_for: &[&str]) -> CreationTemplate {
        CreationTemplate {
            prefix: prefix.into(),
            description: String::new(),
            encryption: None,
            resource_tags: vec![],
            tag_mutability: TagMutability::Mutable,
            tag_mutability_exclusions: vec![],
            repository_policy: None,
            lifecycle_policy: None,
            applied_for: applied_for.iter().map(|s| s.to_string()).collect(),
            custom_role_arn: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn prefixes_cover_whole_namespaces() {
        assert!(covers("team", "team/app"));
        assert!(covers("team", "team/a/b"));
        assert!(covers("team/a", "team/a/b"));
        assert!(!covers("team", "team"), "the namespace, not the repository of that name");
        assert!(!covers("team", "teamx/app"));
        assert!(!covers("team/a", "team/ab"));
        assert!(covers(ROOT, "anything"));
        assert!(covers(ROOT, "a/b"));
        assert_eq!(normalize_prefix("team/"), "team");
        assert_eq!(normalize_prefix("team/a"), "team/a");
        assert_eq!(normalize_prefix("ROOT"), "ROOT");
    }

    #[test]
    fn the_longest_prefix_wins_and_root_comes_last() {
        let all = [
            t(ROOT, &[CREATE_ON_PUSH]),
            t("team", &[CREATE_ON_PUSH]),
            t("team/web", &[CREATE_ON_PUSH]),
            t("team/web/internal", &["REPLICATION"]),
            t("zzzzzzzzzzzzzzzzzzzzzzzz", &[CREATE_ON_PUSH]),
        ];
        let pick = |name: &str| matching_template(&all, name, CREATE_ON_PUSH).map(|t| t.prefix.as_str());
        assert_eq!(pick("team/web/app"), Some("team/web"));
        assert_eq!(pick("team/web/internal/x"), Some("team/web"), "a template for another scenario is skipped");
        assert_eq!(pick("team/api"), Some("team"));
        assert_eq!(pick("other/app"), Some(ROOT));
        assert_eq!(pick("app"), Some(ROOT));
        let no_root = &all[1..];
        assert_eq!(matching_template(no_root, "other/app", CREATE_ON_PUSH), None);
        assert_eq!(matching_template(&all, "team/web/x", "PULL_THROUGH_CACHE"), None);
    }
}
