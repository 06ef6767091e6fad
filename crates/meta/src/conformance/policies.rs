//! Policy documents, repository visibility and the public catalog.

use super::{ALL, blob, image, page, repo};
use crate::identity::{IdentityMeta, PolicyTarget, User, Visibility};
use crate::{MetaError, MetaStore};

/// Policies attach to users, groups, repositories and the registry; each target has at most one.
pub async fn policies<S: MetaStore + IdentityMeta>(store: &S) {
    let name = "conf-policies-x";
    let user = PolicyTarget::User(name.into());
    let group = PolicyTarget::Group(name.into());
    let repository = PolicyTarget::Repository(repo("conf-policies-x"));
    let registry = PolicyTarget::Registry;

    assert!(
        matches!(store.put_policy(&user, "{}", 1).await, Err(MetaError::NotFound(_))),
        "a policy of an unknown user is NotFound"
    );
    assert!(
        matches!(store.put_policy(&group, "{}", 1).await, Err(MetaError::NotFound(_))),
        "a policy of an unknown group is NotFound"
    );
    assert_eq!(store.get_policy(&user).await.unwrap(), None);
    assert_eq!(store.get_policy(&group).await.unwrap(), None);
    store
        .create_user(&User {
            id: format!("id-{name}"),
            name: name.into(),
            password_hash: None,
            is_admin: false,
            created_at: 1,
        })
        .await
        .unwrap();
    store.create_group(name, 1).await.unwrap();

    // The registry policy is global: put back at the end whatever another check put there.
    let registry_before = store.get_policy(&registry).await.unwrap();
    for target in [&user, &group, &repository] {
        assert!(!store.delete_policy(target).await.unwrap(), "no policy yet: {target:?}");
    }
    let documents = [
        (&user, r#"{"target":"user"}"#),
        (&group, r#"{"target":"group"}"#),
        (&repository, r#"{"target":"repository"}"#),
        (&registry, r#"{"target":"registry"}"#),
    ];
    for (target, document) in documents {
        store.put_policy(target, document, 2).await.unwrap_or_else(|e| panic!("put_policy {target:?}: {e}"));
    }
    for (target, document) in documents {
        assert_eq!(
            store.get_policy(target).await.unwrap().as_deref(),
            Some(document),
            "targets of the same name are distinct: {target:?}"
        );
    }

    store.put_policy(&user, r#"{"version":2}"#, 3).await.expect("replacing a policy");
    assert_eq!(store.get_policy(&user).await.unwrap().as_deref(), Some(r#"{"version":2}"#));
    assert_eq!(store.get_policy(&group).await.unwrap().as_deref(), Some(r#"{"target":"group"}"#), "others unchanged");

    assert!(store.delete_policy(&user).await.expect("delete_policy"), "delete reports an existing policy");
    assert!(!store.delete_policy(&user).await.unwrap(), "second delete finds nothing");
    assert_eq!(store.get_policy(&user).await.unwrap(), None);
    assert!(store.get_user(name).await.unwrap().is_some(), "deleting a policy keeps the user");
    assert_eq!(store.get_policy(&group).await.unwrap().as_deref(), Some(r#"{"target":"group"}"#));

    assert!(store.delete_policy(&repository).await.unwrap());
    assert!(store.delete_policy(&registry).await.unwrap());
    assert_eq!(store.get_policy(&registry).await.unwrap(), None);
    if let Some(document) = registry_before {
        store.put_policy(&registry, &document, 4).await.unwrap();
    }
    store.delete_group(name).await.unwrap();
    store.delete_user(name).await.unwrap();
}

/// A repository policy can be attached before the repository has content: it creates the repository row,
/// which does not make the repository exist, and the policy stays while content comes and goes.
pub async fn repository_policies<S: MetaStore + IdentityMeta>(store: &S) {
    let r = repo("conf-policies/repo");
    let target = PolicyTarget::Repository(r.clone());
    let a = blob("conf-policies a");

    store.put_policy(&target, r#"{"repo":1}"#, 1).await.expect("put_policy on an unknown repository");
    assert!(!store.repository_exists(&r).await.unwrap(), "a policy does not make a repository exist");
    assert_eq!(store.list_tags(&r, ALL).await.unwrap(), None);
    assert!(!store.list_repositories(ALL).await.unwrap().contains(&r), "not in the catalog");
    assert_eq!(store.visibility(&r).await.unwrap(), Visibility::Private);

    let m = image(&r, "conf-policies m", vec![a.clone()], 3);
    store.link_blob(&r, &a, 1, 2).await.unwrap();
    store.put_manifest(&m, &[]).await.unwrap();
    assert!(store.repository_exists(&r).await.unwrap());
    assert_eq!(store.get_policy(&target).await.unwrap().as_deref(), Some(r#"{"repo":1}"#), "kept on push");

    store.delete_manifest(&r, &m.digest).await.unwrap();
    store.unlink_blob(&r, &a).await.unwrap();
    assert!(!store.repository_exists(&r).await.unwrap());
    assert_eq!(
        store.get_policy(&target).await.unwrap().as_deref(),
        Some(r#"{"repo":1}"#),
        "kept when the content is deleted"
    );
    assert!(store.delete_policy(&target).await.unwrap());
}

/// Visibility defaults to private, is set per repository (before or after it has content), and the public
/// catalog lists the public repositories that exist, in lexical order, paged like the catalog.
pub async fn visibility<S: MetaStore + IdentityMeta>(store: &S) {
    let public = |s: &str| repo(&format!("conf-visibility/{s}"));
    let mine = async |last: Option<&str>, n: u32| -> Vec<String> {
        let all = store.list_public_repositories(page(last, n)).await.expect("list_public_repositories");
        all.iter().map(|r| r.as_str().to_string()).filter(|r| r.starts_with("conf-visibility/")).collect()
    };
    let a = blob("conf-visibility a");

    assert_eq!(store.visibility(&public("unknown")).await.unwrap(), Visibility::Private, "unknown repository");
    let (b, c, d, e) = (public("b"), public("c"), public("d"), public("e"));
    for r in [&b, &c, &d, &e] {
        store.link_blob(r, &a, 1, 1).await.unwrap();
    }
    assert_eq!(store.visibility(&b).await.unwrap(), Visibility::Private, "repositories are private by default");
    assert_eq!(mine(None, u32::MAX).await, Vec::<String>::new(), "no public repository yet");

    for r in [&e, &b, &d] {
        store.set_visibility(r, Visibility::Public, 2).await.expect("set_visibility");
    }
    store.set_visibility(&c, Visibility::Private, 2).await.expect("setting the current visibility again");
    store.set_visibility(&d, Visibility::Public, 3).await.expect("setting public twice");
    assert_eq!(store.visibility(&b).await.unwrap(), Visibility::Public);
    assert_eq!(store.visibility(&c).await.unwrap(), Visibility::Private);
    let (bs, ds, es) = (b.as_str(), d.as_str(), e.as_str());
    assert_eq!(mine(None, u32::MAX).await, [bs, ds, es], "public ones only, in lexical order");

    // Paging: strictly after `last`, at most `n`; `last` need not be a listed (or any) repository.
    assert_eq!(mine(Some("conf-visibility/"), 2).await, [bs, ds]);
    assert_eq!(mine(Some(ds), 2).await, [es]);
    assert_eq!(mine(Some(bs), 1).await, [ds]);
    assert_eq!(mine(Some(c.as_str()), u32::MAX).await, [ds, es], "after a private repository");
    assert_eq!(mine(Some("conf-visibility/c0"), u32::MAX).await, [ds, es], "after a name that is no repository");
    assert_eq!(mine(Some(es), u32::MAX).await, Vec::<String>::new(), "after the last");
    assert_eq!(store.list_public_repositories(page(Some("conf-visibility/"), 0)).await.unwrap(), [], "n = 0");

    // Set before the first push: the repository is not listed until it exists, then it is public.
    let early = public("a-early");
    store.set_visibility(&early, Visibility::Public, 4).await.expect("set_visibility on an unknown repository");
    assert_eq!(store.visibility(&early).await.unwrap(), Visibility::Public);
    assert!(!store.repository_exists(&early).await.unwrap(), "setting visibility does not create a repository");
    assert!(!store.list_repositories(ALL).await.unwrap().contains(&early), "nor list it in the catalog");
    assert_eq!(mine(None, u32::MAX).await, [bs, ds, es], "a public repository without content is not listed");
    store.link_blob(&early, &a, 1, 5).await.unwrap();
    assert_eq!(mine(None, u32::MAX).await, [early.as_str(), bs, ds, es], "listed once it exists");

    // Deleting the content hides it from the catalog but keeps its visibility.
    store.unlink_blob(&early, &a).await.unwrap();
    assert_eq!(mine(None, u32::MAX).await, [bs, ds, es]);
    assert_eq!(store.visibility(&early).await.unwrap(), Visibility::Public, "kept when the content is deleted");

    store.set_visibility(&d, Visibility::Private, 6).await.unwrap();
    assert_eq!(store.visibility(&d).await.unwrap(), Visibility::Private);
    assert_eq!(mine(None, u32::MAX).await, [bs, es], "back to private");
    assert!(store.list_repositories(ALL).await.unwrap().contains(&d), "visibility does not affect the catalog");

    for r in [&b, &c, &d, &e] {
        store.set_visibility(r, Visibility::Private, 7).await.unwrap();
        store.unlink_blob(r, &a).await.unwrap();
    }
    store.set_visibility(&early, Visibility::Private, 7).await.unwrap();
    assert_eq!(mine(None, u32::MAX).await, Vec::<String>::new());
}
