//! Storage accounting per repository and registry-wide, quotas, and guarded blob links.

use std::sync::Mutex;

use futures_util::future::join_all;

use super::{blob, image, index, repo, tags};
use crate::quotas::{LinkAttempt, LinkGuard, QuotaUsage};
use crate::{MetaError, MetaStore, NewManifest, Page};

/// Each repository's total, exclusive, shared and reclaimable bytes follow the definitions of
/// [`crate::accounting`]: tagged images, children of kept indexes and referrers of kept images are kept;
/// untagged, unreferenced images and blobs no kept image uses are reclaimable.
pub async fn storage_accounting<S: MetaStore>(store: &S) {
    let (a, b) = (repo("conf-acct/a"), repo("conf-acct/b"));
    let (x, y, z, w) = (blob("conf-acct x"), blob("conf-acct y"), blob("conf-acct z"), blob("conf-acct w"));
    store.link_blob(&a, &x, 100, 1).await.unwrap();
    store.link_blob(&a, &y, 1000, 1).await.unwrap();
    store.link_blob(&a, &z, 10_000, 1).await.unwrap();
    store.link_blob(&a, &w, 5, 1).await.unwrap();
    store.link_blob(&b, &x, 100, 1).await.unwrap();

    let tagged = image(&a, "conf-acct tagged image", vec![x.clone(), y.clone()], 2);
    let untagged = image(&a, "conf-acct untagged image", vec![w.clone()], 3);
    let child = image(&a, "conf-acct child of a tagged index", vec![y.clone()], 4);
    let multi = index(&a, "conf-acct tagged index", vec![child.digest.clone()], 5);
    let signature = NewManifest {
        subject: Some(tagged.digest.clone()),
        ..image(&a, "conf-acct signature of tagged", Vec::new(), 6)
    };
    let orphan_index = index(&a, "conf-acct untagged index", vec![untagged.digest.clone()], 7);
    store.put_manifest(&tagged, &tags(&["v1"])).await.unwrap();
    store.put_manifest(&untagged, &[]).await.unwrap();
    store.put_manifest(&child, &[]).await.unwrap();
    store.put_manifest(&multi, &tags(&["multi"])).await.unwrap();
    store.put_manifest(&signature, &[]).await.unwrap();
    store.put_manifest(&orphan_index, &[]).await.unwrap();

    let len = |m: &NewManifest| m.content.len() as u64;
    let manifests = [&tagged, &untagged, &child, &multi, &signature, &orphan_index].map(len).iter().sum::<u64>();
    let blobs = 100 + 1000 + 10_000 + 5;
    let got = store.storage_account(&a).await.unwrap().expect("conf-acct/a exists");
    assert_eq!((got.total_bytes, got.manifest_bytes, got.blobs, got.images), (blobs + manifests, manifests, 4, 6));
    assert_eq!(got.shared_bytes, 100, "only x is linked elsewhere");
    assert_eq!(got.exclusive_bytes, got.total_bytes - 100, "everything else is a's alone");
    assert_eq!(
        got.reclaimable_bytes,
        10_000 + 5 + len(&untagged) + len(&orphan_index),
        "z (no manifest), w and the untagged image using it, the untagged index listing it; \
         the index's tagged sibling keeps its child, the signature of a tagged image is kept"
    );

    let got_b = store.storage_account(&b).await.unwrap().expect("conf-acct/b exists");
    assert_eq!(
        (got_b.total_bytes, got_b.exclusive_bytes, got_b.shared_bytes, got_b.reclaimable_bytes),
        (100, 0, 100, 100),
        "b links only the shared x, which no image of b uses"
    );

    // Untagging the image makes its blobs reclaimable, except those another kept image uses (y: the child).
    store.delete_tag(&a, &super::tag("v1")).await.unwrap();
    let after = store.storage_account(&a).await.unwrap().unwrap();
    assert_eq!(
        after.reclaimable_bytes,
        got.reclaimable_bytes + 100 + len(&tagged) + len(&signature),
        "x, the image and its (now orphaned) signature; y stays, the tagged index's child uses it"
    );

    let page = store.storage_accounts(Page { last: Some("conf-acct/"), n: 2 }).await.unwrap();
    assert_eq!(page, vec![after, got_b], "a page of accounts in name order, each as storage_account shows it");
    assert_eq!(store.storage_account(&repo("conf-acct/none")).await.unwrap(), None, "unknown repository");
}

/// Registry-wide: stored counts each blob once, logical once per repository linking it; unlinked blobs are
/// stored but belong to no repository.
pub async fn registry_storage<S: MetaStore>(store: &S) {
    let before = store.registry_storage().await.unwrap();
    let (c, d) = (repo("conf-acct-registry/c"), repo("conf-acct-registry/d"));
    let q = blob("conf-acct-registry q");
    store.link_blob(&c, &q, 7, 1).await.unwrap();
    store.link_blob(&d, &q, 7, 1).await.unwrap();
    let shared = store.registry_storage().await.unwrap();
    assert_eq!(shared.stored_bytes, before.stored_bytes + 7, "stored once");
    assert_eq!(shared.logical_bytes, before.logical_bytes + 14, "logical once per repository");
    assert_eq!((shared.blobs, shared.repositories), (before.blobs + 1, before.repositories + 2));
    assert_eq!(shared.unlinked_bytes, before.unlinked_bytes);
    assert!(shared.dedup_ratio() >= 1.0);
    store.unlink_blob(&c, &q).await.unwrap();
    store.unlink_blob(&d, &q).await.unwrap();
    let unlinked = store.registry_storage().await.unwrap();
    assert_eq!(unlinked.stored_bytes, before.stored_bytes + 7, "the bytes stay until garbage collection");
    assert_eq!(unlinked.unlinked_bytes, before.unlinked_bytes + 7);
    assert_eq!(unlinked.logical_bytes, before.logical_bytes);
    assert_eq!(unlinked.repositories, before.repositories, "repositories with nothing left are gone");
}

/// What a guard was shown: whether the blob was linked already, and each quota's prefix and usage.
type Seen = (bool, Vec<(String, u64)>);

/// Records what it was shown and allows, or refuses with a reason.
struct Recorder {
    seen: Mutex<Vec<Seen>>,
    refuse: Option<&'static str>,
}

impl LinkGuard for Recorder {
    fn check(&self, attempt: &LinkAttempt<'_>) -> Result<(), String> {
        let quotas = attempt.quotas.iter().map(|q| (q.quota.prefix.clone(), q.used_bytes)).collect();
        self.seen.lock().unwrap().push((attempt.already_linked, quotas));
        self.refuse.map_or(Ok(()), |why| Err(why.to_string()))
    }
}

/// Refuses a link that would take a quota past its limit.
struct Limit;

impl LinkGuard for Limit {
    fn check(&self, attempt: &LinkAttempt<'_>) -> Result<(), String> {
        match attempt.quotas.iter().find(|q| q.used_bytes + attempt.size > q.quota.limit_bytes) {
            Some(q) if !attempt.already_linked => Err(format!("quota {} exceeded", q.quota.prefix)),
            _ => Ok(()),
        }
    }
}

/// Quotas on a repository and on a namespace prefix: stored, listed with their usage (a blob counting once per
/// repository), and shown to a guard inside the link's transaction; a refused link changes nothing.
pub async fn quotas<S: MetaStore>(store: &S) {
    let ours = |all: Vec<QuotaUsage>| -> Vec<(String, u64, u64, u64)> {
        all.into_iter()
            .filter(|q| q.quota.prefix.starts_with("conf-quota"))
            .map(|q| (q.quota.prefix, q.quota.limit_bytes, q.used_bytes, q.repositories))
            .collect()
    };
    store.put_quota("conf-quota/", 1000, 1).await.unwrap();
    store.put_quota("conf-quota/app", 300, 2).await.unwrap();
    assert_eq!(
        ours(store.list_quotas().await.unwrap()),
        [("conf-quota/".into(), 1000, 0, 0), ("conf-quota/app".into(), 300, 0, 0)]
    );

    let (app, lib) = (repo("conf-quota/app"), repo("conf-quota/lib"));
    let x = blob("conf-quota x");
    let allow = Recorder { seen: Mutex::default(), refuse: None };
    store.link_blob_guarded(&app, &x, 200, 3, &allow).await.unwrap();
    store.link_blob_guarded(&app, &x, 200, 4, &allow).await.unwrap();
    let both = |used: u64| vec![("conf-quota/".to_string(), used), ("conf-quota/app".to_string(), used)];
    assert_eq!(
        *allow.seen.lock().unwrap(),
        [(false, both(0)), (true, both(200))],
        "both quotas cover the repository; the second link finds the blob linked already"
    );
    assert_eq!(store.linked_blob_size(&app, &x).await.unwrap(), Some(200));

    // A refused link changes nothing: no link, no repository.
    let other = repo("conf-quota/other");
    let refuse = Recorder { seen: Mutex::default(), refuse: Some("no room") };
    match store.link_blob_guarded(&other, &x, 200, 5, &refuse).await {
        Err(MetaError::Refused(why)) => assert_eq!(why, "no room"),
        other => panic!("a refused link answers Refused, not {other:?}"),
    }
    assert_eq!(store.linked_blob_size(&other, &x).await.unwrap(), None, "not linked");
    assert!(!store.repository_exists(&other).await.unwrap(), "not created");

    // Per repository: the same blob in another covered repository counts again.
    store.link_blob(&lib, &x, 200, 6).await.unwrap();
    let covering = store.quotas_covering(&lib).await.unwrap();
    assert_eq!(
        covering.iter().map(|q| (q.quota.prefix.as_str(), q.used_bytes)).collect::<Vec<_>>(),
        [("conf-quota/", 400)]
    );
    assert!(store.quotas_covering(&repo("conf-quota")).await.unwrap().is_empty(), "a namespace covers names under it");
    assert!(store.quotas_covering(&repo("conf-quotax/app")).await.unwrap().is_empty(), "names only share a start");
    assert!(
        store
            .quotas_covering(&repo("conf-quota/app/sub"))
            .await
            .unwrap()
            .iter()
            .all(|q| q.quota.prefix == "conf-quota/")
    );

    store.put_quota("conf-quota/app", 500, 7).await.unwrap();
    assert_eq!(
        ours(store.list_quotas().await.unwrap()),
        [("conf-quota/".into(), 1000, 400, 2), ("conf-quota/app".into(), 500, 200, 1)],
        "limit replaced; usage and repositories counted"
    );
    assert!(store.delete_quota("conf-quota/app").await.unwrap());
    assert!(!store.delete_quota("conf-quota/app").await.unwrap());
    assert!(store.delete_quota("conf-quota/").await.unwrap());
    assert!(ours(store.list_quotas().await.unwrap()).is_empty());
}

/// 16 concurrent links of 100-byte blobs into repositories under a 350-byte quota: exactly three get in.
pub async fn concurrent_quota_links<S: MetaStore>(store: &S) {
    store.put_quota("conf-quota-race/", 350, 1).await.unwrap();
    let links = (0..16).map(|i| async move {
        let r = repo(&format!("conf-quota-race/r{}", i % 4));
        store.link_blob_guarded(&r, &blob(&format!("conf-quota-race {i}")), 100, 2, &Limit).await
    });
    let results = join_all(links).await;
    let admitted = results.iter().filter(|r| r.is_ok()).count();
    for r in &results {
        assert!(matches!(r, Ok(()) | Err(MetaError::Refused(_))), "only refusals fail: {r:?}");
    }
    assert_eq!(admitted, 3, "no two links slip under the limit together");
    let usage = store.list_quotas().await.unwrap().into_iter().find(|q| q.quota.prefix == "conf-quota-race/").unwrap();
    assert_eq!(usage.used_bytes, 300);
    store.delete_quota("conf-quota-race/").await.unwrap();
}
