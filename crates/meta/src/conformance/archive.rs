//! Pull time update exclusions and the storage state of images.

use super::{blob, image, repo, tags};
use crate::archive::{ImageStatus, ImageStorageState, StatusChange, StatusFilter};
use crate::exclusions::PullTimeExclusion;
use crate::settings::TagStatus;
use crate::{MetaError, MetaStore};

/// Exclusions are registered once (a second registration is `AlreadyExists`), up to a limit checked when
/// registering, listed in ARN order and paged, and deregistered once.
pub async fn pull_exclusions<S: MetaStore>(store: &S) {
    let arn = |n: &str| format!("arn:aws:iam::123456789012:user/conf-exclusions-{n}");
    let before = store.list_pull_exclusions(None, u32::MAX).await.unwrap().len();
    let b = store.register_pull_exclusion(&arn("b"), 5, before + 2).await.unwrap();
    assert_eq!(b, PullTimeExclusion { principal_arn: arn("b"), created_at: 5 });
    assert!(matches!(store.register_pull_exclusion(&arn("b"), 6, 100).await, Err(MetaError::AlreadyExists(_))));
    store.register_pull_exclusion(&arn("a"), 7, before + 2).await.unwrap();
    assert!(
        matches!(store.register_pull_exclusion(&arn("c"), 8, before + 2).await, Err(MetaError::LimitExceeded(_))),
        "the limit is checked"
    );
    let mine = |all: Vec<PullTimeExclusion>| -> Vec<PullTimeExclusion> {
        all.into_iter().filter(|e| e.principal_arn.contains(":user/conf-exclusions-")).collect()
    };
    let all = mine(store.list_pull_exclusions(None, u32::MAX).await.unwrap());
    assert_eq!(all, [PullTimeExclusion { principal_arn: arn("a"), created_at: 7 }, b.clone()], "ARN order");
    let first = store.list_pull_exclusions(Some("arn:aws:iam::123456789012:user/conf-exclusions-"), 1).await;
    assert_eq!(first.unwrap(), [all[0].clone()], "paged");
    let next = store.list_pull_exclusions(Some(&arn("a")), 10).await.unwrap();
    assert_eq!(mine(next), [b]);

    assert!(store.deregister_pull_exclusion(&arn("a")).await.unwrap());
    assert!(!store.deregister_pull_exclusion(&arn("a")).await.unwrap(), "already gone");
    assert!(store.deregister_pull_exclusion(&arn("b")).await.unwrap());
    assert!(mine(store.list_pull_exclusions(None, u32::MAX).await.unwrap()).is_empty());
}

/// An image is ACTIVE until archived; changes are compare-and-set and keep their times; the state shows
/// in manifest reads and image details, filters listings, and goes with the manifest.
pub async fn image_storage_states<S: MetaStore>(store: &S) {
    let r = repo("conf-archive/app");
    let (shared, own) = (blob("conf-archive shared"), blob("conf-archive own"));
    store.link_blob(&r, &shared, 10, 1).await.unwrap();
    store.link_blob(&r, &own, 20, 1).await.unwrap();
    let old = image(&r, "conf-archive old", vec![shared.clone(), own.clone()], 1);
    let new = image(&r, "conf-archive new", vec![shared.clone()], 2);
    store.put_manifest(&old, &tags(&["old"])).await.unwrap();
    store.put_manifest(&new, &tags(&["new"])).await.unwrap();

    let active = ImageStorageState::default();
    assert_eq!(store.image_storage_state(&r, &old.digest).await.unwrap(), Some(active));
    assert_eq!(store.image_storage_state(&r, &blob("conf-archive none")).await.unwrap(), None);
    let missing = blob("conf-archive none");
    let none = store.change_image_status(&r, &missing, ImageStatus::Active, ImageStatus::Archived, 3);
    assert_eq!(none.await.unwrap(), StatusChange::NotFound);
    assert!(!store.blob_only_in_inactive_images(&r, &own).await.unwrap());

    let archived =
        ImageStorageState { status: ImageStatus::Archived, last_archived_at: Some(5), last_activated_at: None };
    let change = store.change_image_status(&r, &old.digest, ImageStatus::Active, ImageStatus::Archived, 5);
    assert_eq!(change.await.unwrap(), StatusChange::Changed(archived));
    let again = store.change_image_status(&r, &old.digest, ImageStatus::Active, ImageStatus::Archived, 6);
    assert_eq!(again.await.unwrap(), StatusChange::Unchanged(archived), "compare-and-set");
    let read = store.get_manifest(&r, &berth_oci::Reference::Tag(super::tag("old"))).await.unwrap().unwrap();
    assert_eq!(read.status, ImageStatus::Archived);
    assert_eq!(store.image_detail(&r, &old.digest).await.unwrap().unwrap().storage, archived);
    assert!(store.blob_only_in_inactive_images(&r, &own).await.unwrap(), "only the archived image has it");
    assert!(!store.blob_only_in_inactive_images(&r, &shared).await.unwrap(), "an active image has it too");

    let listed = async |filter| {
        let ids = store.list_image_ids(&r, TagStatus::Any, filter, None, 10).await.unwrap().unwrap();
        let details = store.list_image_details(&r, TagStatus::Any, filter, None, 10).await.unwrap().unwrap();
        assert_eq!(
            ids.iter().map(|i| &i.digest).collect::<Vec<_>>(),
            details.iter().map(|d| &d.digest).collect::<Vec<_>>()
        );
        ids.into_iter().map(|i| i.digest).collect::<Vec<_>>()
    };
    assert_eq!(listed(StatusFilter::Only(ImageStatus::Archived)).await, std::slice::from_ref(&old.digest));
    assert_eq!(listed(StatusFilter::Only(ImageStatus::Active)).await, std::slice::from_ref(&new.digest));
    assert_eq!(listed(StatusFilter::Any).await.len(), 2);
    let inactive = store.images_with_status(ImageStatus::Archived).await.unwrap();
    assert!(inactive.iter().any(|i| i.repository == r && i.digest == old.digest && i.state == archived));

    let activating = ImageStorageState { status: ImageStatus::Activating, ..archived };
    let restore = store.change_image_status(&r, &old.digest, ImageStatus::Archived, ImageStatus::Activating, 7);
    assert_eq!(restore.await.unwrap(), StatusChange::Changed(activating));
    assert_eq!(listed(StatusFilter::Only(ImageStatus::Activating)).await, std::slice::from_ref(&old.digest));
    assert!(store.images_with_status(ImageStatus::Activating).await.unwrap().iter().any(|i| i.digest == old.digest));
    let done = store.change_image_status(&r, &old.digest, ImageStatus::Activating, ImageStatus::Active, 9);
    let restored =
        ImageStorageState { status: ImageStatus::Active, last_archived_at: Some(5), last_activated_at: Some(9) };
    assert_eq!(done.await.unwrap(), StatusChange::Changed(restored));
    assert_eq!(listed(StatusFilter::Only(ImageStatus::Active)).await.len(), 2, "restored images are active");
    assert!(!store.blob_only_in_inactive_images(&r, &own).await.unwrap());

    store.change_image_status(&r, &old.digest, ImageStatus::Active, ImageStatus::Archived, 11).await.unwrap();
    assert!(store.delete_manifest(&r, &old.digest).await.unwrap());
    assert!(
        !store.images_with_status(ImageStatus::Archived).await.unwrap().iter().any(|i| i.digest == old.digest),
        "the state goes with its manifest"
    );
    store.put_manifest(&old, &tags(&["old"])).await.unwrap();
    assert_eq!(store.image_storage_state(&r, &old.digest).await.unwrap(), Some(active), "pushed again: active");
}
