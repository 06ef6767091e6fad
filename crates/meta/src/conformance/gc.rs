//! Garbage collection's rows: the review queue the triggers fill, reviews under lock, blob commits in flight
//! and deletions in progress.

use super::{blob, image, repo};
use crate::gc::Review;
use crate::{MetaStore, UploadCaps, UploadSession};

const ALL_DUE: u32 = 1_000_000;

/// Links and reference removals queue blobs; a review removes only old unreferenced links and deletes only a
/// blob nothing needs; commits in flight and deletions in progress exclude each other.
pub async fn garbage_collection<S: MetaStore>(store: &S) {
    let r = repo("conf-gc/app");
    let other = repo("conf-gc/other");
    let (a, b, c, d, e, f, g) = (
        blob("conf-gc a"),
        blob("conf-gc b"),
        blob("conf-gc c"),
        blob("conf-gc d"),
        blob("conf-gc e"),
        blob("conf-gc f"),
        blob("conf-gc g"),
    );
    store.link_blob(&r, &a, 10, 100).await.unwrap();
    store.link_blob(&r, &b, 20, 100).await.unwrap();
    let m = image(&r, "conf-gc image", vec![a.clone()], 100);
    store.put_manifest(&m, &[]).await.unwrap();

    let due = store.gc_due(100, None, ALL_DUE).await.unwrap();
    assert!(due.contains(&a) && due.contains(&b), "a new link queues its blob for review");
    // In digest order, resumed after a cursor.
    assert!(due.windows(2).all(|w| w[0] < w[1]), "in digest order: {due:?}");
    let (first, second) = (a.clone().min(b.clone()), a.clone().max(b.clone()));
    let after = store.gc_due(100, Some(&first), ALL_DUE).await.unwrap();
    assert!(after.contains(&second) && !after.contains(&first) && after.iter().all(|d| *d > first), "{after:?}");

    // A link younger than the grace period stays, and the blob comes back when it is old enough.
    assert_eq!(store.gc_review(&b, 105, 10, None).await.unwrap(), Review::Kept { unlinked: 0 });
    assert!(!store.gc_due(109, None, ALL_DUE).await.unwrap().contains(&b), "not due before link time + grace");
    assert!(store.gc_due(110, None, ALL_DUE).await.unwrap().contains(&b), "due at link time + grace");

    // A referenced blob stays and leaves the queue; a second review of it is skipped.
    assert_eq!(store.gc_review(&a, 200, 10, None).await.unwrap(), Review::Kept { unlinked: 0 });
    assert!(!store.gc_due(200, None, ALL_DUE).await.unwrap().contains(&a), "a referenced blob leaves the queue");
    assert_eq!(store.gc_review(&a, 200, 10, None).await.unwrap(), Review::Skipped, "not queued: skipped");

    // An old unreferenced link goes, then the blob row; its bytes are recorded as being deleted.
    assert_eq!(store.gc_review(&b, 200, 10, None).await.unwrap(), Review::Delete { size: 20, unlinked: 1 });
    assert_eq!(store.linked_blob_size(&r, &b).await.unwrap(), None);
    assert!(!store.all_blobs().await.unwrap().iter().any(|(x, _)| *x == b), "the blob row is gone");
    assert!(!store.gc_due(ALL_DUE.into(), None, ALL_DUE).await.unwrap().contains(&b), "and it is not queued again");
    assert!(store.pending_blob_deletions(ALL_DUE).await.unwrap().contains(&(b.clone(), 20)));
    assert!(store.blob_deletion_pending(&b).await.unwrap());
    assert_eq!(
        store.begin_blob_commit(&b, "conf-gc-up-b", b"", false, "node", 201).await.unwrap(),
        None,
        "no commit of a digest while its bytes are being deleted"
    );
    let before = store.gc_status(200).await.unwrap();
    store.finish_blob_deletion(&b, 20).await.unwrap();
    assert!(!store.blob_deletion_pending(&b).await.unwrap());
    let after = store.gc_status(200).await.unwrap();
    assert_eq!(after.blobs_deleted, before.blobs_deleted + 1);
    assert_eq!(after.bytes_reclaimed, before.bytes_reclaimed + 20);
    store.finish_blob_deletion(&b, 20).await.unwrap();
    assert_eq!(store.gc_status(200).await.unwrap().blobs_deleted, after.blobs_deleted, "counted once");

    // Deleting the manifest queues its blobs (through the cascade); the link is then unreferenced.
    assert!(store.delete_manifest(&r, &m.digest).await.unwrap());
    assert!(store.gc_due(300, None, ALL_DUE).await.unwrap().contains(&a), "a deleted manifest's blobs are queued");
    assert_eq!(store.gc_review(&a, 300, 10, None).await.unwrap(), Review::Delete { size: 10, unlinked: 1 });
    store.finish_blob_deletion(&a, 10).await.unwrap();

    // A link kept in another repository keeps the blob (the old unreferenced one goes).
    store.link_blob(&r, &g, 7, 100).await.unwrap();
    store.link_blob(&other, &g, 7, 395).await.unwrap();
    assert_eq!(store.gc_review(&g, 400, 10, None).await.unwrap(), Review::Kept { unlinked: 1 });
    assert_eq!(store.linked_blob_size(&other, &g).await.unwrap(), Some(7));
    assert!(store.gc_due(405, None, ALL_DUE).await.unwrap().contains(&g), "due again when the young link is old");

    // A commit in flight keeps the blob; the vulnerability database's blob is kept.
    store.link_blob(&r, &c, 3, 100).await.unwrap();
    let commit = store.begin_blob_commit(&c, "conf-gc-up-c", b"s", false, "node", 400).await.unwrap().unwrap();
    assert_eq!(store.gc_review(&c, 500, 0, None).await.unwrap(), Review::Kept { unlinked: 1 });
    assert!(store.all_blobs().await.unwrap().contains(&(c.clone(), 3)), "kept while a commit is in flight");
    store.end_blob_commit(commit).await.unwrap();
    store.link_blob(&r, &f, 4, 100).await.unwrap();
    assert_eq!(store.gc_review(&f, 500, 0, Some(&f)).await.unwrap(), Review::Kept { unlinked: 1 });

    // A commit linking its blob ends in the same transaction.
    let commit = store.begin_blob_commit(&e, "conf-gc-up-e", b"", false, "node", 600).await.unwrap().unwrap();
    store.link_committed_blob(&r, &e, 5, commit, 600, &crate::quotas::NoGuard).await.unwrap();
    assert_eq!(store.linked_blob_size(&r, &e).await.unwrap(), Some(5));
    assert!(!store.stale_blob_commits(i64::MAX, ALL_DUE).await.unwrap().iter().any(|s| s.id == commit));

    // Starting a commit removes the upload session in the same transaction.
    let session = UploadSession {
        id: "conf-gc-up-d".into(),
        repository: r.clone(),
        size: 0,
        hash_state: vec![1],
        backend_state: vec![2],
        owner: "user/conf".into(),
        created_at: 700,
        updated_at: 700,
    };
    store.create_upload(&session, UploadCaps::default()).await.unwrap();
    let commit = store.begin_blob_commit(&d, "conf-gc-up-d", b"st", true, "node", 700).await.unwrap().unwrap();
    assert!(store.get_upload("conf-gc-up-d").await.unwrap().is_none(), "the session is gone with the commit's start");

    // An abandoned commit: listed once stale, and its digest's bytes are to be deleted (no row names them).
    let stale = store.stale_blob_commits(701, ALL_DUE).await.unwrap();
    let found = stale.iter().find(|s| s.id == commit).expect("stale commit listed");
    assert_eq!(
        (found.digest.clone(), found.upload.as_str(), found.backend_state.as_slice()),
        (d.clone(), "conf-gc-up-d", &b"st"[..])
    );
    assert!(!store.stale_blob_commits(700, ALL_DUE).await.unwrap().iter().any(|s| s.id == commit), "not before");
    assert!(store.drop_stale_commit(commit, 800).await.unwrap(), "bytes without a row are deleted");
    assert!(store.blob_deletion_pending(&d).await.unwrap());
    assert!(!store.drop_stale_commit(commit, 800).await.unwrap(), "dropped once");
    store.finish_blob_deletion(&d, 0).await.unwrap();
    // An abandoned commit of a blob that has a row deletes nothing.
    let commit = store.begin_blob_commit(&c, "conf-gc-up-c2", b"", false, "node", 800).await.unwrap().unwrap();
    assert!(!store.drop_stale_commit(commit, 900).await.unwrap(), "a recorded blob keeps its bytes");

    // Mounting re-checks the source link in its transaction.
    assert_eq!(store.mount_blob(&other, &r, &e, 900, &crate::quotas::NoGuard).await.unwrap(), Some(5));
    assert_eq!(store.linked_blob_size(&other, &e).await.unwrap(), Some(5));
    assert_eq!(
        store.mount_blob(&other, &r, &b, 900, &crate::quotas::NoGuard).await.unwrap(),
        None,
        "a collected blob cannot be mounted"
    );

    // Requests and runs are recorded.
    let first = store.request_gc(1000).await.unwrap();
    let serving = store.gc_run_started(1001).await.unwrap();
    assert_eq!(serving, first, "a run serves the requests made before it started");
    let second = store.request_gc(1001).await.unwrap();
    assert_eq!(second, first + 1);
    store.gc_run_finished(1002, serving).await.unwrap();
    let status = store.gc_status(1002).await.unwrap();
    assert_eq!((status.requests, status.served), (second, first), "the second request is still to serve");
    assert_eq!(
        (status.requested_at, status.last_started_at, status.last_finished_at),
        (Some(1001), Some(1001), Some(1002))
    );
    assert!(status.runs >= 1 && status.links_removed >= 4 && status.queued >= status.due);
}
