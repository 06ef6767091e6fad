//! Blob links, repository existence and the catalog.

use berth_oci::{Algorithm, Digest};

use super::{ALL, blob, image, page, repo};
use crate::{MetaStore, UploadCaps, UploadSession};

/// `link_blob` is idempotent and per repository; `unlink_blob` removes only the link.
pub async fn blob_links<S: MetaStore>(store: &S) {
    let one = repo("conf-blobs/one");
    let two = repo("conf-blobs/two");
    let a = blob("conf-blobs a");
    let big = Digest::compute(Algorithm::Sha512, b"conf-blobs sha512");

    assert_eq!(store.linked_blob_size(&one, &a).await.unwrap(), None, "unknown blob in unknown repository");
    store.link_blob(&one, &a, 3, 10).await.expect("link_blob");
    store.link_blob(&one, &a, 3, 11).await.expect("link_blob again is idempotent");
    assert_eq!(store.linked_blob_size(&one, &a).await.unwrap(), Some(3));
    assert_eq!(store.linked_blob_size(&two, &a).await.unwrap(), None, "a link is per repository");

    store.link_blob(&two, &a, 3, 12).await.expect("link the same blob to a second repository");
    store.link_blob(&two, &big, 1 << 40, 12).await.expect("link a sha512 blob of 1 TiB");
    assert_eq!(store.linked_blob_size(&two, &big).await.unwrap(), Some(1 << 40));

    let all = store.all_blobs().await.expect("all_blobs");
    assert_eq!(all.iter().filter(|(d, _)| *d == a).collect::<Vec<_>>(), [&(a.clone(), 3)], "one row per blob");
    assert!(all.contains(&(big.clone(), 1 << 40)), "all_blobs lists sha512 blobs");

    assert!(store.unlink_blob(&one, &a).await.expect("unlink_blob"), "unlink reports an existing link");
    assert!(!store.unlink_blob(&one, &a).await.expect("unlink_blob again"), "second unlink finds nothing");
    assert!(!store.unlink_blob(&repo("conf-blobs/none"), &a).await.unwrap(), "unlink in unknown repository");
    assert_eq!(store.linked_blob_size(&one, &a).await.unwrap(), None);
    assert_eq!(store.linked_blob_size(&two, &a).await.unwrap(), Some(3), "other repository keeps its link");
    assert!(store.all_blobs().await.unwrap().contains(&(a, 3)), "unlinking keeps the blob until GC");
}

/// A repository exists while it has a blob link or a manifest. Starting an upload does not create it.
pub async fn repository_existence<S: MetaStore>(store: &S) {
    let r = repo("conf-exists/app");
    let a = blob("conf-exists a");
    assert!(!store.repository_exists(&r).await.unwrap());

    let session = UploadSession {
        id: "conf-exists-upload".into(),
        repository: r.clone(),
        size: 0,
        hash_state: vec![1],
        backend_state: vec![2],
        owner: "user/conf".into(),
        created_at: 1,
        updated_at: 1,
    };
    store.create_upload(&session, UploadCaps::default()).await.expect("create_upload");
    assert!(!store.repository_exists(&r).await.unwrap(), "an upload session does not create the repository");
    assert_eq!(store.list_tags(&r, ALL).await.unwrap(), None);

    store.link_blob(&r, &a, 1, 2).await.unwrap();
    assert!(store.repository_exists(&r).await.unwrap(), "a blob link creates the repository");
    assert_eq!(store.list_tags(&r, ALL).await.unwrap(), Some(vec![]), "existing repository without tags");

    store.unlink_blob(&r, &a).await.unwrap();
    assert!(!store.repository_exists(&r).await.unwrap(), "a repository with nothing in it does not exist");
    assert_eq!(store.list_tags(&r, ALL).await.unwrap(), None);

    // A manifest without blobs (an empty index, say) is enough on its own.
    let m = image(&r, "conf-exists empty", vec![], 3);
    store.put_manifest(&m, &[]).await.expect("put_manifest without blobs");
    assert!(store.repository_exists(&r).await.unwrap(), "a manifest creates the repository");
    assert!(store.delete_manifest(&r, &m.digest).await.unwrap());
    assert!(!store.repository_exists(&r).await.unwrap());
    store.delete_upload(&session.id).await.unwrap();
}

/// `list_repositories`: lexical (byte) order, pagination strictly after `last`, at most `n`.
pub async fn catalog<S: MetaStore>(store: &S) {
    let names = ["conf-catalog/b", "conf-catalog/a/x", "conf-catalog/a", "conf-catalog/c-d", "conf-catalog/c.d"];
    for (i, name) in names.iter().enumerate() {
        store.link_blob(&repo(name), &blob("conf-catalog"), 7, i as i64).await.unwrap();
    }
    let mut expected: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    expected.sort();
    let ours = |list: Vec<berth_oci::RepositoryName>| -> Vec<String> {
        list.into_iter().map(|r| r.to_string()).filter(|r| r.starts_with("conf-catalog/")).collect()
    };

    let everything = store.list_repositories(ALL).await.expect("list_repositories");
    let strings: Vec<String> = everything.iter().map(ToString::to_string).collect();
    assert!(strings.windows(2).all(|w| w[0] < w[1]), "catalog is strictly increasing: {strings:?}");
    assert_eq!(ours(everything.clone()), expected);

    // Walking the whole catalog two at a time gives the same list.
    let mut walked = Vec::new();
    let mut last: Option<String> = None;
    loop {
        let batch = store.list_repositories(page(last.as_deref(), 2)).await.unwrap();
        assert!(batch.len() <= 2, "at most n entries");
        let Some(tail) = batch.last() else { break };
        last = Some(tail.to_string());
        walked.extend(batch);
    }
    assert_eq!(walked, everything, "paginated walk");

    assert_eq!(store.list_repositories(page(None, 0)).await.unwrap(), vec![], "n = 0");
    assert_eq!(store.list_repositories(page(Some("~"), 10)).await.unwrap(), vec![], "after everything");
    let after = async |last: &str| {
        store
            .list_repositories(page(Some(last), 1))
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(after("conf-catalog/a").await, ["conf-catalog/a/x"], "strictly after an existing name");
    assert_eq!(after("conf-catalog/a/w").await, ["conf-catalog/a/x"], "after a name that does not exist");
    assert_eq!(after("conf-catalog/c-d").await, ["conf-catalog/c.d"], "byte order: '-' < '.'");

    // A repository that became empty leaves the catalog.
    store.unlink_blob(&repo("conf-catalog/b"), &blob("conf-catalog")).await.unwrap();
    expected.retain(|n| n != "conf-catalog/b");
    assert_eq!(ours(store.list_repositories(ALL).await.unwrap()), expected, "emptied repository is not listed");
}
