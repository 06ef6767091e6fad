//! Lifecycle policies and previews.

use super::{image, repo, tags};
use crate::MetaStore;
use crate::lifecycle::{LifecyclePolicyRecord, LifecyclePreviewRecord};
use crate::settings::RepositorySettings;

/// A policy is stored per existing repository, replaced as a whole (which forgets its last evaluation), its
/// evaluation recorded only while it is still the policy evaluated, listed for the schedule, and deleted
/// with the repository; so is the last preview.
pub async fn lifecycle_policies<S: MetaStore>(store: &S) {
    let r = repo("conf-lifecycle/app");
    assert!(!store.put_lifecycle_policy(&r, "{}", 1).await.unwrap(), "unknown repository");
    assert_eq!(store.lifecycle_policy(&r).await.unwrap(), None);
    let preview = LifecyclePreviewRecord {
        policy_text: "{\"rules\":[]}".into(),
        status: "IN_PROGRESS".into(),
        started_at: 5,
        result: None,
    };
    assert!(!store.put_lifecycle_preview(&r, &preview).await.unwrap(), "unknown repository");

    // A repository created by a push takes a policy (and becomes explicit).
    store.put_manifest(&image(&r, "conf-lifecycle app", vec![], 1), &tags(&["v1"])).await.unwrap();
    assert!(store.put_lifecycle_policy(&r, "first", 2).await.unwrap());
    let first = LifecyclePolicyRecord { text: "first".into(), updated_at: 2, last_evaluated_at: None };
    assert_eq!(store.lifecycle_policy(&r).await.unwrap(), Some(first.clone()));
    assert!(store.get_repository(&r).await.unwrap().unwrap().explicit, "setting it makes the repository explicit");
    let listed = |all: Vec<(berth_oci::RepositoryName, Option<i64>)>| {
        all.into_iter().filter(|(n, _)| n.as_str().starts_with("conf-lifecycle/")).collect::<Vec<_>>()
    };
    assert_eq!(listed(store.lifecycle_policies().await.unwrap()), [(r.clone(), None)]);

    store.record_lifecycle_evaluation(&r, "first", 7).await.unwrap();
    assert_eq!(store.lifecycle_policy(&r).await.unwrap().unwrap().last_evaluated_at, Some(7));
    assert_eq!(listed(store.lifecycle_policies().await.unwrap()), [(r.clone(), Some(7))]);
    store.record_lifecycle_evaluation(&r, "another", 9).await.unwrap();
    assert_eq!(store.lifecycle_policy(&r).await.unwrap().unwrap().last_evaluated_at, Some(7), "not that policy");

    assert!(store.put_lifecycle_policy(&r, "second", 10).await.unwrap());
    let second = LifecyclePolicyRecord { text: "second".into(), updated_at: 10, last_evaluated_at: None };
    assert_eq!(store.lifecycle_policy(&r).await.unwrap(), Some(second.clone()), "replaced, not yet evaluated");

    assert!(store.put_lifecycle_preview(&r, &preview).await.unwrap());
    assert_eq!(store.lifecycle_preview(&r).await.unwrap(), Some(preview.clone()));
    let done = LifecyclePreviewRecord { status: "COMPLETE".into(), result: Some("{\"x\":1}".into()), ..preview };
    assert!(store.put_lifecycle_preview(&r, &done).await.unwrap());
    assert_eq!(store.lifecycle_preview(&r).await.unwrap(), Some(done), "replaced");

    assert_eq!(store.delete_lifecycle_policy(&r).await.unwrap(), Some(second));
    assert_eq!(store.delete_lifecycle_policy(&r).await.unwrap(), None, "already gone");
    assert_eq!(store.lifecycle_policy(&r).await.unwrap(), None);
    assert!(listed(store.lifecycle_policies().await.unwrap()).is_empty());

    assert!(store.put_lifecycle_policy(&r, "third", 11).await.unwrap());
    store.delete_repository(&r, true).await.unwrap();
    assert_eq!(store.lifecycle_policy(&r).await.unwrap(), None, "deleted with the repository");
    assert_eq!(store.lifecycle_preview(&r).await.unwrap(), None, "deleted with the repository");
    assert!(listed(store.lifecycle_policies().await.unwrap()).is_empty());
    store.create_repository(&r, &RepositorySettings::default(), 12).await.unwrap();
    assert_eq!(store.lifecycle_policy(&r).await.unwrap(), None, "a new repository of the same name has none");
    store.delete_repository(&r, true).await.unwrap();
}
