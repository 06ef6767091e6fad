//! Soft delete: tombstones hide an image or repository at once, keep its blobs from garbage collection,
//! restore it (tags nobody took included), give way to a push of the same digest, and go when purged.

use super::{ALL, blob, image, index, repo, tag, tags};
use crate::deleted::{RestoreRefusal, Retention};
use crate::gc::Review;
use crate::settings::{ImageDeletion, RepositorySettings, TagMutability};
use crate::{MetaStore, Untagging};
use berth_oci::Reference;

const KEEP: Retention = Retention { now: 1_000, purge_after: 1_000_000 };

fn names(v: &[crate::deleted::DeletedImage]) -> Vec<String> {
    v.iter().map(|d| d.digest.to_string()).collect()
}

pub async fn soft_delete<S: MetaStore>(store: &S) {
    let r = repo("conf-soft/app");
    let (a, b, c) = (blob("conf-soft a"), blob("conf-soft b"), blob("conf-soft c"));
    for (d, size) in [(&a, 10), (&b, 20), (&c, 30)] {
        store.link_blob(&r, d, size, 100).await.unwrap();
    }
    let m1 = image(&r, "conf-soft one", vec![a.clone()], 100);
    let m2 = image(&r, "conf-soft two", vec![b.clone()], 100);
    store.put_manifest(&m1, &tags(&["v1", "v2"])).await.unwrap();
    store.put_manifest(&m2, &tags(&["keep"])).await.unwrap();

    // Deleted: invisible, listed as restorable with its tags, its blob row kept after its link is collected.
    let deleted = store.soft_delete_image(&r, &m1.digest, true, KEEP).await.unwrap();
    assert_eq!(deleted, ImageDeletion::Deleted);
    assert_eq!(store.get_manifest(&r, &Reference::Digest(m1.digest.clone())).await.unwrap(), None);
    assert_eq!(store.list_tags(&r, ALL).await.unwrap().unwrap(), vec!["keep".to_string()]);
    let listed = store.deleted_images(&r).await.unwrap();
    assert_eq!(names(&listed), vec![m1.digest.to_string()]);
    assert_eq!(listed[0].tags, vec!["v1".to_string(), "v2".to_string()]);
    assert_eq!(listed[0].size, m1.content.len() as u64 + 10);
    assert_eq!((listed[0].deleted_at, listed[0].purge_after), (1_000, 1_000_000));
    assert!(store.deleted_bytes().await.unwrap() >= 10);
    assert_eq!(
        store.soft_delete_image(&r, &m1.digest, true, KEEP).await.unwrap(),
        ImageDeletion::NotFound,
        "a deleted image is not there to delete again"
    );
    assert!(
        store.gc_due(2_000, None, 1_000_000).await.unwrap().contains(&a),
        "the reference's removal queues the blob"
    );
    assert_eq!(
        store.gc_review(&a, 2_000, 10, None).await.unwrap(),
        Review::Kept { unlinked: 1 },
        "the unreferenced link goes, the blob row stays for the deleted image"
    );
    assert!(store.all_blobs().await.unwrap().iter().any(|(d, _)| *d == a));

    // Another image takes v1 meanwhile; the restore gives back v2 only, and links the blob again.
    let m3 = image(&r, "conf-soft three", vec![c.clone()], 1_100);
    store.put_manifest(&m3, &[tag("v1")]).await.unwrap();
    let restored = store.restore_image(&r, &m1.digest, 1_200).await.unwrap().unwrap();
    assert_eq!(restored.restored, vec!["v2".to_string()]);
    assert_eq!(restored.taken, vec!["v1".to_string()]);
    let back = store.get_manifest(&r, &Reference::Tag(tag("v2"))).await.unwrap().unwrap();
    assert_eq!((back.digest, back.content, back.pushed_at), (m1.digest.clone(), m1.content.clone(), 100));
    assert_eq!(store.linked_blob_size(&r, &a).await.unwrap(), Some(10));
    assert_eq!(store.get_manifest(&r, &Reference::Tag(tag("v1"))).await.unwrap().unwrap().digest, m3.digest);
    assert!(store.deleted_images(&r).await.unwrap().is_empty());
    assert_eq!(store.restore_image(&r, &m1.digest, 1_200).await.unwrap(), Err(RestoreRefusal::NotFound));

    // BatchDeleteImage by an image's last tag: the tombstone remembers the tag.
    assert_eq!(store.soft_untag_image(&r, &tag("keep"), KEEP).await.unwrap(), Untagging::Deleted(m2.digest.clone()));
    assert_eq!(store.deleted_images(&r).await.unwrap()[0].tags, vec!["keep".to_string()]);
    assert_eq!(
        store.soft_untag_image(&r, &tag("v2"), KEEP).await.unwrap(),
        Untagging::Deleted(m1.digest.clone()),
        "v2 was m1's last tag"
    );
    // Pushing a deleted digest again replaces the deleted image: nothing is left to restore.
    store.put_manifest(&m2, &[tag("again")]).await.unwrap();
    assert_eq!(names(&store.deleted_images(&r).await.unwrap()), vec![m1.digest.to_string()]);
    assert_eq!(store.restore_image(&r, &m2.digest, 1_300).await.unwrap(), Err(RestoreRefusal::NotFound));
    assert_eq!(store.list_tags(&r, ALL).await.unwrap().unwrap(), vec!["again".to_string(), "v1".to_string()]);

    // An image an index lists is not deleted when the caller checks (ECR), and is without the check (/v2).
    let child = image(&r, "conf-soft child", vec![b.clone()], 100);
    store.put_manifest(&child, &[]).await.unwrap();
    store.put_manifest(&index(&r, "conf-soft index", vec![child.digest.clone()], 100), &[tag("multi")]).await.unwrap();
    assert_eq!(store.soft_delete_image(&r, &child.digest, true, KEEP).await.unwrap(), ImageDeletion::ReferencedByIndex);
    assert_eq!(store.soft_delete_image(&r, &child.digest, false, KEEP).await.unwrap(), ImageDeletion::Deleted);

    // Purge: nothing before its time; then the tombstone goes and its blobs are queued for review.
    let purged = store.purge_deleted(999_999).await.unwrap();
    assert!(!purged.images.iter().any(|(name, _)| *name == r), "nothing is due before purge_after");
    let purged = store.purge_deleted(1_000_000).await.unwrap();
    let mut gone: Vec<String> = purged.images.iter().filter(|(n, _)| *n == r).map(|(_, d)| d.to_string()).collect();
    gone.sort();
    let mut want = vec![m1.digest.to_string(), child.digest.to_string()];
    want.sort();
    assert_eq!(gone, want);
    assert!(store.deleted_images(&r).await.unwrap().is_empty());
    assert_eq!(store.restore_image(&r, &m1.digest, 1_000_001).await.unwrap(), Err(RestoreRefusal::NotFound));
    assert!(store.gc_due(1_000_001, None, 1_000_000).await.unwrap().contains(&a), "a purge queues the blobs");
    assert_eq!(
        store.gc_review(&a, 1_000_001, 10, None).await.unwrap(),
        Review::Delete { size: 10, unlinked: 1 },
        "purged: nothing needs the blob any more"
    );
    store.finish_blob_deletion(&a, 10).await.unwrap();

    soft_deleted_repositories(store).await;
}

async fn soft_deleted_repositories<S: MetaStore>(store: &S) {
    let r = repo("conf-soft/repo");
    let settings = RepositorySettings {
        tag_mutability: TagMutability::Immutable,
        tag_mutability_exclusions: vec!["dev-*".into()],
        scan_on_push: true,
        tags: vec![("team".into(), "a".into())],
    };
    store.create_repository(&r, &settings, 50).await.unwrap();
    store.put_lifecycle_policy(&r, "{\"rules\":[]}", 60).await.unwrap();
    let l = blob("conf-soft layer");
    store.link_blob(&r, &l, 40, 100).await.unwrap();
    let m = image(&r, "conf-soft repo image", vec![l.clone()], 100);
    store.put_manifest(&m, &[tag("1.0")]).await.unwrap();

    assert!(matches!(store.soft_delete_repository(&r, false, KEEP).await, Err(crate::MetaError::NotEmpty(_))));
    let record = store.soft_delete_repository(&r, true, KEEP).await.unwrap().unwrap();
    assert_eq!(record.created_at, 50);
    assert!(!store.repository_exists(&r).await.unwrap());
    assert!(!store.list_repositories(ALL).await.unwrap().contains(&r));
    assert_eq!(store.get_manifest(&r, &Reference::Digest(m.digest.clone())).await.unwrap(), None);
    let listed = store.deleted_repositories().await.unwrap();
    let entry = listed.iter().find(|d| d.name == r).expect("listed as restorable");
    assert_eq!((entry.images, entry.bytes, entry.deleted_at), (1, m.content.len() as u64 + 40, 1_000));
    assert!(store.deleted_images(&r).await.unwrap().is_empty(), "its images are restored with it, not alone");
    assert_eq!(store.restore_image(&r, &m.digest, 1_100).await.unwrap(), Err(RestoreRefusal::NotFound));
    assert_eq!(store.gc_review(&l, 2_000, 10, None).await.unwrap(), Review::Kept { unlinked: 0 });

    let restored = store.restore_repository(&r, 1_100).await.unwrap().unwrap();
    assert_eq!((restored.images, restored.tags.restored.clone()), (1, vec!["1.0".to_string()]));
    let record = store.get_repository(&r).await.unwrap().unwrap();
    assert!(record.explicit && record.scan_on_push);
    assert_eq!((record.tag_mutability, record.created_at), (TagMutability::Immutable, 50));
    assert_eq!(record.tag_mutability_exclusions, vec!["dev-*".to_string()]);
    assert_eq!(store.repository_resource_tags(&r).await.unwrap().unwrap(), vec![("team".into(), "a".into())]);
    assert!(store.lifecycle_policy(&r).await.unwrap().is_some(), "the lifecycle policy comes back");
    assert_eq!(store.get_manifest(&r, &Reference::Tag(tag("1.0"))).await.unwrap().unwrap().digest, m.digest);
    assert_eq!(store.linked_blob_size(&r, &l).await.unwrap(), Some(40));
    assert_eq!(store.restore_repository(&r, 1_100).await.unwrap(), Err(RestoreRefusal::NotFound));

    // Deleted again, and the name taken by a push: the restore is refused; a create replaces it.
    store.soft_delete_repository(&r, true, KEEP).await.unwrap().unwrap();
    store.link_blob(&r, &l, 40, 1_200).await.unwrap();
    assert_eq!(store.restore_repository(&r, 1_300).await.unwrap(), Err(RestoreRefusal::NameTaken));
    assert!(store.purge_deleted_repository(&r).await.unwrap());
    assert!(!store.deleted_repositories().await.unwrap().iter().any(|d| d.name == r));

    // A deleted repository is purged with its images.
    let gone = repo("conf-soft/gone");
    store.link_blob(&gone, &l, 40, 100).await.unwrap();
    store.put_manifest(&image(&gone, "conf-soft gone image", vec![l.clone()], 100), &[]).await.unwrap();
    let short = Retention { now: 1_000, purge_after: 1_500 };
    store.soft_delete_repository(&gone, true, short).await.unwrap().unwrap();
    let purged = store.purge_deleted(1_500).await.unwrap();
    assert!(purged.repositories.contains(&(gone.clone(), 1)));
    assert!(!store.deleted_repositories().await.unwrap().iter().any(|d| d.name == gone));
    assert_eq!(store.restore_repository(&gone, 1_600).await.unwrap(), Err(RestoreRefusal::NotFound));
}
