//! Repository creation templates, and repositories created from one.

use super::{image, repo, tags};
use crate::identity::{IdentityMeta, PolicyTarget};
use crate::settings::{RepositorySettings, TagMutability};
use crate::templates::{CreationTemplate, TemplatedRepository};
use crate::{MetaError, MetaStore, Page};

fn template(prefix: &str, at: i64) -> CreationTemplate {
    CreationTemplate {
        prefix: prefix.into(),
        description: format!("for {prefix}"),
        encryption: Some(("AES256".into(), None)),
        resource_tags: vec![("team".into(), "a".into()), ("cost".into(), "7".into())],
        tag_mutability: TagMutability::Immutable,
        tag_mutability_exclusions: vec!["latest".into(), "dev-*".into()],
        repository_policy: Some("{\"Version\":\"2012-10-17\",\"Statement\":[]}".into()),
        lifecycle_policy: Some("{\"rules\":[]}".into()),
        applied_for: vec!["CREATE_ON_PUSH".into(), "REPLICATION".into()],
        custom_role_arn: Some("arn:aws:iam::000000000000:role/r".into()),
        created_at: at,
        updated_at: at,
    }
}

/// Templates are created once per prefix, read back field for field (absent optional fields included),
/// replaced whole by an update that keeps the creation time, listed in byte order of prefix page by page,
/// and deleted.
pub async fn creation_templates<S: MetaStore>(store: &S) {
    let root = template("ROOT", 1);
    store.create_template(&root).await.unwrap();
    let again = store.create_template(&template("ROOT", 2)).await;
    assert!(matches!(again, Err(MetaError::AlreadyExists(_))), "{again:?}");
    assert_eq!(store.template("ROOT").await.unwrap(), Some(root.clone()), "unchanged by the refused create");
    let bare = CreationTemplate {
        prefix: "conf-tpl/a".into(),
        description: String::new(),
        encryption: None,
        resource_tags: vec![],
        tag_mutability: TagMutability::Mutable,
        tag_mutability_exclusions: vec![],
        repository_policy: None,
        lifecycle_policy: None,
        applied_for: vec!["PULL_THROUGH_CACHE".into()],
        custom_role_arn: None,
        created_at: 3,
        updated_at: 3,
    };
    store.create_template(&bare).await.unwrap();
    assert_eq!(store.template("conf-tpl/a").await.unwrap(), Some(bare.clone()));
    let kms =
        CreationTemplate { prefix: "conf-tpl".into(), encryption: Some(("KMS".into(), Some("k".into()))), ..bare };
    store.create_template(&kms).await.unwrap();
    assert_eq!(store.template("conf-tpl").await.unwrap(), Some(kms.clone()));
    assert_eq!(store.template("conf-tpl/b").await.unwrap(), None);

    let prefixes = |all: Vec<CreationTemplate>| all.into_iter().map(|t| t.prefix).collect::<Vec<_>>();
    let all = store.list_templates(Page { last: None, n: 10 }).await.unwrap();
    assert_eq!(prefixes(all), ["ROOT", "conf-tpl", "conf-tpl/a"], "byte order: upper case first");
    let first = store.list_templates(Page { last: None, n: 2 }).await.unwrap();
    assert_eq!(prefixes(first), ["ROOT", "conf-tpl"]);
    let rest = store.list_templates(Page { last: Some("conf-tpl"), n: 2 }).await.unwrap();
    assert_eq!(prefixes(rest), ["conf-tpl/a"]);

    let updated = CreationTemplate {
        description: "changed".into(),
        resource_tags: vec![],
        repository_policy: None,
        tag_mutability: TagMutability::Mutable,
        tag_mutability_exclusions: vec![],
        updated_at: 9,
        ..root.clone()
    };
    assert!(store.update_template(&CreationTemplate { created_at: 99, ..updated.clone() }).await.unwrap());
    assert_eq!(store.template("ROOT").await.unwrap(), Some(updated.clone()), "created_at kept");
    let missing = CreationTemplate { prefix: "conf-tpl/none".into(), ..updated.clone() };
    assert!(!store.update_template(&missing).await.unwrap());
    assert_eq!(store.template("conf-tpl/none").await.unwrap(), None, "an update creates nothing");

    assert_eq!(store.delete_template("ROOT").await.unwrap(), Some(updated));
    assert_eq!(store.delete_template("ROOT").await.unwrap(), None, "already gone");
    store.delete_template("conf-tpl").await.unwrap();
    store.delete_template("conf-tpl/a").await.unwrap();
    assert!(store.list_templates(Page { last: None, n: 10 }).await.unwrap().is_empty());
}

/// A repository created from a template has the template's settings, resource tags, lifecycle policy and
/// repository policy (replacing one kept by name from its earlier life), all at once; an existing
/// repository (explicit or created by its content) is left alone; of concurrent creations, one wins.
pub async fn repositories_from_templates<S: MetaStore + IdentityMeta>(store: &S) {
    let r = repo("conf-tpl-apply/app");
    let applied = TemplatedRepository {
        settings: RepositorySettings {
            tag_mutability: TagMutability::Immutable,
            tag_mutability_exclusions: vec!["latest".into()],
            scan_on_push: false,
            tags: vec![("team".into(), "a".into())],
        },
        lifecycle_policy: Some("lifecycle".into()),
        repository_policy: Some("policy".into()),
    };
    let target = PolicyTarget::Repository(r.clone());
    store.put_policy(&target, "old", 1).await.unwrap();
    assert!(store.create_repository_from_template(&r, &applied, 5).await.unwrap());
    let record = store.get_repository(&r).await.unwrap().expect("created");
    assert!(record.explicit);
    assert_eq!(record.created_at, 5);
    assert_eq!(record.tag_mutability, TagMutability::Immutable);
    assert_eq!(record.tag_mutability_exclusions, ["latest"]);
    assert_eq!(store.repository_resource_tags(&r).await.unwrap(), Some(vec![("team".into(), "a".into())]));
    assert_eq!(
        store.lifecycle_policy(&r).await.unwrap().map(|p| (p.text, p.updated_at)),
        Some(("lifecycle".into(), 5))
    );
    assert_eq!(store.get_policy(&target).await.unwrap().as_deref(), Some("policy"), "replaces the old one");
    assert!(store.repository_exists(&r).await.unwrap());

    // Once it exists, nothing changes.
    let other = TemplatedRepository { repository_policy: Some("other".into()), ..TemplatedRepository::default() };
    assert!(!store.create_repository_from_template(&r, &other, 6).await.unwrap());
    assert_eq!(store.get_policy(&target).await.unwrap().as_deref(), Some("policy"));
    assert_eq!(store.get_repository(&r).await.unwrap().unwrap().tag_mutability, TagMutability::Immutable);

    // A repository that exists through its content is not new either.
    let pushed = repo("conf-tpl-apply/pushed");
    store.put_manifest(&image(&pushed, "conf-tpl-apply pushed", vec![], 1), &tags(&["v1"])).await.unwrap();
    assert!(!store.create_repository_from_template(&pushed, &applied, 7).await.unwrap());
    assert!(!store.get_repository(&pushed).await.unwrap().unwrap().explicit);
    assert_eq!(store.lifecycle_policy(&pushed).await.unwrap(), None);

    // Without a lifecycle or repository policy, none is written.
    let plain = repo("conf-tpl-apply/plain");
    assert!(store.create_repository_from_template(&plain, &TemplatedRepository::default(), 8).await.unwrap());
    assert_eq!(store.lifecycle_policy(&plain).await.unwrap(), None);
    assert_eq!(store.get_policy(&PolicyTarget::Repository(plain.clone())).await.unwrap(), None);

    // Deleted with the repository, created afresh next time.
    store.delete_repository(&r, true).await.unwrap();
    assert_eq!(store.lifecycle_policy(&r).await.unwrap(), None);
    assert!(store.create_repository_from_template(&r, &applied, 9).await.unwrap());

    // Concurrent creations of one new repository: exactly one applies its template.
    let racy = repo("conf-tpl-apply/racy");
    let attempts = (0..4).map(|i| {
        let racy = racy.clone();
        let mut t = applied.clone();
        t.settings.tags = vec![("attempt".into(), i.to_string())];
        async move { store.create_repository_from_template(&racy, &t, 10 + i).await.unwrap() }
    });
    let won = futures_util::future::join_all(attempts).await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let tags = store.repository_resource_tags(&racy).await.unwrap().unwrap();
    assert_eq!(tags.len(), 1, "one template's tags only: {tags:?}");
}
