//! Concurrent writers: nothing may fail because another request is writing at the same time.

use futures_util::future::join_all;

use super::{blob, image, repo, tag, tags};
use crate::{MetaError, MetaStore, UploadCaps, UploadSession};
use berth_oci::Reference;

/// 50 concurrent pushes move one tag among 10 manifests: all succeed, the tag ends on one of them.
pub async fn concurrent_tag_moves<S: MetaStore>(store: &S) {
    let r = repo("conf-concurrent/tags");
    let a = blob("conf-concurrent a");
    store.link_blob(&r, &a, 1, 1).await.unwrap();
    let manifests: Vec<_> =
        (0..10).map(|i| image(&r, &format!("conf-concurrent m{i}"), vec![a.clone()], 10 + i)).collect();

    let pushes = (0..50).map(|i| {
        let m = &manifests[i % manifests.len()];
        let tags = tags(&["latest", &format!("t{i}")]);
        async move { store.put_manifest(m, &tags).await }
    });
    for (i, result) in join_all(pushes).await.into_iter().enumerate() {
        result.unwrap_or_else(|e| panic!("concurrent put_manifest #{i} failed: {e}"));
    }

    let latest = store.get_manifest(&r, &Reference::Tag(tag("latest"))).await.unwrap().expect("latest exists");
    assert!(manifests.iter().any(|m| m.digest == latest.digest), "latest points at one of the pushed manifests");
    for i in 0..50 {
        let got = store.get_manifest(&r, &Reference::Tag(tag(&format!("t{i}")))).await.unwrap().expect("tag exists");
        assert_eq!(got.digest, manifests[i % manifests.len()].digest, "tag t{i}");
    }
    assert_eq!(store.list_tags(&r, super::ALL).await.unwrap().unwrap().len(), 51);
}

/// 20 concurrent compare-and-sets from the same size: exactly one wins.
pub async fn concurrent_upload_updates<S: MetaStore>(store: &S) {
    let session = UploadSession {
        id: "conf-concurrent-upload".into(),
        repository: repo("conf-concurrent/uploads"),
        size: 0,
        hash_state: Vec::new(),
        backend_state: Vec::new(),
        owner: "user/conf".into(),
        created_at: 1,
        updated_at: 1,
    };
    store.create_upload(&session, UploadCaps::default()).await.unwrap();
    let updates = (1..=20u64).map(|i| store.update_upload(&session.id, 0, i, b"h", b"b", 2));
    let results = join_all(updates).await;
    let winners: Vec<u64> = (1..=20).zip(&results).filter(|(_, r)| r.is_ok()).map(|(i, _)| i).collect();
    assert_eq!(winners.len(), 1, "exactly one CAS wins: {results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(()) | Err(MetaError::Conflict))), "losers get Conflict");
    assert_eq!(store.get_upload(&session.id).await.unwrap().unwrap().size, winners[0], "the winner's size");
    store.delete_upload(&session.id).await.unwrap();
}

/// Many requests creating the same new repository at once (blob links and manifests) all succeed.
pub async fn concurrent_repository_creation<S: MetaStore>(store: &S) {
    let r = repo("conf-concurrent/fresh");
    let a = blob("conf-concurrent fresh");
    let links = (0..20).map(|i| store.link_blob(&r, &a, 4, i));
    for result in join_all(links).await {
        result.expect("concurrent link_blob of one blob into a new repository");
    }
    let r2 = repo("conf-concurrent/fresh-manifests");
    let m = image(&r2, "conf-concurrent empty", vec![], 1);
    let puts: Vec<_> = (0..20).map(|i| tags(&[&format!("p{i}")])).collect();
    for result in join_all(puts.iter().map(|t| store.put_manifest(&m, t))).await {
        result.expect("concurrent put_manifest of one manifest into a new repository");
    }
    assert_eq!(store.linked_blob_size(&r, &a).await.unwrap(), Some(4));
    assert_eq!(store.list_tags(&r2, super::ALL).await.unwrap().unwrap().len(), 20);
}
