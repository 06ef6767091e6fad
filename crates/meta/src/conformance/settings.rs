//! Explicitly created repositories: existence, settings, resource tags, deletion, image listings and
//! immutable tags.

use berth_oci::Digest;

use super::{ALL, IMAGE_MANIFEST, blob, image, index, page, repo, tags};
use crate::settings::ImageDeletion;
use crate::settings::{
    ImageDetail, ImageId, ImageStorageState, RepositorySettings, StatusFilter, TagMutability, TagStatus,
};
use crate::{MetaError, MetaStore};

/// `create_repository` makes an empty repository exist (catalog, tags/list, records); it cannot create one
/// that exists already, by content or explicitly; settings and resource tags round-trip.
pub async fn explicit_repositories<S: MetaStore>(store: &S) {
    let r = repo("conf-settings/created");
    let settings = RepositorySettings {
        tag_mutability: TagMutability::Immutable,
        scan_on_push: true,
        tags: vec![("team".into(), "a".into()), ("env".into(), "dev".into()), ("team".into(), "b".into())],
        ..Default::default()
    };
    assert_eq!(store.get_repository(&r).await.unwrap(), None, "unknown repository");
    assert_eq!(store.repository_resource_tags(&r).await.unwrap(), None);
    assert_eq!(store.list_image_ids(&r, TagStatus::Any, StatusFilter::Any, None, 10).await.unwrap(), None);

    let created = store.create_repository(&r, &settings, 100).await.expect("create_repository");
    assert_eq!(
        (created.name.clone(), created.created_at, created.explicit, created.tag_mutability, created.scan_on_push),
        (r.clone(), 100, true, TagMutability::Immutable, true)
    );
    assert_eq!(store.get_repository(&r).await.unwrap(), Some(created.clone()), "get_repository");
    assert!(store.repository_exists(&r).await.unwrap(), "an explicitly created repository exists while empty");
    assert!(store.list_repositories(ALL).await.unwrap().contains(&r), "and is in the catalog");
    assert_eq!(store.list_tags(&r, ALL).await.unwrap(), Some(vec![]), "tags/list answers an empty list");
    assert_eq!(store.list_image_ids(&r, TagStatus::Any, StatusFilter::Any, None, 10).await.unwrap(), Some(vec![]));
    assert_eq!(
        store.repository_resource_tags(&r).await.unwrap(),
        Some(vec![("env".into(), "dev".into()), ("team".into(), "b".into())]),
        "resource tags by key; a repeated key keeps the last value"
    );
    assert!(
        matches!(
            store.create_repository(&r, &RepositorySettings::default(), 101).await,
            Err(MetaError::AlreadyExists(_))
        ),
        "creating it again is AlreadyExists"
    );
    assert_eq!(store.get_repository(&r).await.unwrap(), Some(created), "a refused create changes nothing");

    // A repository that exists through its content cannot be created either.
    let pushed = repo("conf-settings/pushed");
    let a = blob("conf-settings a");
    store.link_blob(&pushed, &a, 1, 50).await.unwrap();
    store.put_manifest(&image(&pushed, "conf-settings pushed", vec![a.clone()], 60), &tags(&["v1"])).await.unwrap();
    assert!(matches!(
        store.create_repository(&pushed, &RepositorySettings::default(), 102).await,
        Err(MetaError::AlreadyExists(_))
    ));
    let record = store.get_repository(&pushed).await.unwrap().expect("a pushed repository has a record");
    assert_eq!(
        (record.created_at, record.explicit, record.tag_mutability, record.scan_on_push),
        (50, false, TagMutability::Mutable, false),
        "defaults; created when its oldest content was"
    );
    assert_eq!(store.repository_resource_tags(&pushed).await.unwrap(), Some(vec![]));

    // Content deleted through /v2: the explicit repository stays, the pushed one goes.
    let m = image(&r, "conf-settings in created", vec![], 103);
    store.put_manifest(&m, &tags(&["v1"])).await.unwrap();
    assert!(store.delete_manifest(&r, &m.digest).await.unwrap());
    assert!(store.repository_exists(&r).await.unwrap(), "an explicit repository outlives its content");
    store.delete_manifest(&pushed, &image(&pushed, "conf-settings pushed", vec![], 0).digest).await.unwrap();
    store.unlink_blob(&pushed, &a).await.unwrap();
    assert_eq!(store.get_repository(&pushed).await.unwrap(), None, "a pushed repository goes with its content");

    // Records list like the catalog.
    let names = ["conf-settings/list/b", "conf-settings/list/a", "conf-settings/list/c"];
    for (i, n) in names.iter().enumerate() {
        store.create_repository(&repo(n), &RepositorySettings::default(), 200 + i as i64).await.unwrap();
    }
    let ours = async |last: Option<&str>, n: u32| -> Vec<String> {
        let all = store.list_repository_records(page(last, n)).await.expect("list_repository_records");
        all.iter().map(|r| r.name.to_string()).filter(|n| n.starts_with("conf-settings/list/")).collect()
    };
    assert_eq!(ours(None, u32::MAX).await, ["conf-settings/list/a", "conf-settings/list/b", "conf-settings/list/c"]);
    assert_eq!(ours(Some("conf-settings/list/a"), 1).await, ["conf-settings/list/b"], "strictly after, at most n");
    let all = store.list_repository_records(ALL).await.unwrap();
    let names_all: Vec<String> = all.iter().map(|r| r.name.to_string()).collect();
    let catalog: Vec<String> = store.list_repositories(ALL).await.unwrap().iter().map(|r| r.to_string()).collect();
    assert_eq!(names_all, catalog, "records list exactly the catalog");
    let b = all.iter().find(|r| r.name.as_str() == "conf-settings/list/b").unwrap();
    assert_eq!(b.created_at, 200);
    for n in names {
        store.delete_repository(&repo(n), false).await.unwrap();
    }
    store.delete_repository(&r, false).await.unwrap();
}

/// `delete_repository`: unknown → `None`; with a manifest and without `force` → `NotEmpty`, nothing
/// touched; with `force` everything goes in one step; a deleted repository can be created again.
pub async fn repository_deletion<S: MetaStore>(store: &S) {
    let r = repo("conf-settings/delete");
    let (a, b) = (blob("conf-settings del a"), blob("conf-settings del b"));
    assert_eq!(store.delete_repository(&r, true).await.unwrap(), None, "unknown repository");

    store
        .create_repository(&r, &RepositorySettings { tags: vec![("k".into(), "v".into())], ..Default::default() }, 1)
        .await
        .unwrap();
    store.link_blob(&r, &a, 1, 2).await.unwrap();
    store.link_blob(&r, &b, 1, 2).await.unwrap();
    let m = image(&r, "conf-settings del m", vec![a.clone()], 3);
    store.put_manifest(&m, &tags(&["v1", "v2"])).await.unwrap();
    let i = index(&r, "conf-settings del i", vec![m.digest.clone()], 4);
    store.put_manifest(&i, &tags(&["multi"])).await.unwrap();

    assert!(matches!(store.delete_repository(&r, false).await, Err(MetaError::NotEmpty(_))), "not empty");
    assert!(store.get_manifest(&r, &berth_oci::Reference::Digest(m.digest.clone())).await.unwrap().is_some());
    assert_eq!(store.list_tags(&r, ALL).await.unwrap().unwrap(), ["multi", "v1", "v2"], "untouched");

    let deleted = store.delete_repository(&r, true).await.expect("forced delete").expect("it existed");
    assert_eq!((deleted.name.clone(), deleted.created_at, deleted.explicit), (r.clone(), 1, true), "as it was");
    assert!(!store.repository_exists(&r).await.unwrap(), "gone");
    assert_eq!(store.list_tags(&r, ALL).await.unwrap(), None);
    assert_eq!(store.linked_blob_size(&r, &a).await.unwrap(), None, "blob links are gone");
    assert_eq!(store.get_manifest(&r, &berth_oci::Reference::Digest(i.digest.clone())).await.unwrap(), None);
    assert_eq!(store.repository_resource_tags(&r).await.unwrap(), None);
    assert!(store.all_blobs().await.unwrap().iter().any(|(d, _)| *d == a), "the blob itself stays until GC");
    assert_eq!(store.delete_repository(&r, true).await.unwrap(), None, "deleting twice finds nothing");

    // Created again: fresh settings, no resource tags from before.
    let again = store.create_repository(&r, &RepositorySettings::default(), 9).await.expect("create after delete");
    assert_eq!(again.created_at, 9);
    assert_eq!(store.repository_resource_tags(&r).await.unwrap(), Some(vec![]));
    // Blob links without manifests do not make a repository "not empty".
    store.link_blob(&r, &a, 1, 10).await.unwrap();
    assert!(store.delete_repository(&r, false).await.unwrap().is_some());
    assert_eq!(store.linked_blob_size(&r, &a).await.unwrap(), None);

    // A repository that exists through its content only is deleted the same way.
    store.link_blob(&r, &a, 1, 11).await.unwrap();
    let m = image(&r, "conf-settings del m2", vec![a.clone()], 12);
    store.put_manifest(&m, &tags(&["x"])).await.unwrap();
    assert!(matches!(store.delete_repository(&r, false).await, Err(MetaError::NotEmpty(_))));
    let deleted = store.delete_repository(&r, true).await.unwrap().expect("existed");
    assert!(!deleted.explicit);
    assert!(!store.repository_exists(&r).await.unwrap());
}

/// `list_image_ids`: one entry per tag and per untagged manifest, ordered by digest then tag, filtered by
/// tag status, paged strictly after an entry.
pub async fn image_listing<S: MetaStore>(store: &S) {
    let r = repo("conf-settings/images");
    let bodies = ["conf-settings img 1", "conf-settings img 2", "conf-settings img 3"];
    let ms: Vec<_> = bodies.iter().map(|b| image(&r, b, vec![], 1)).collect();
    store.put_manifest(&ms[0], &tags(&["b", "a"])).await.unwrap();
    store.put_manifest(&ms[1], &[]).await.unwrap();
    store.put_manifest(&ms[2], &tags(&["c"])).await.unwrap();
    let id = |d: &Digest, t: Option<&str>| ImageId { digest: d.clone(), tag: t.map(|t| t.parse().unwrap()) };
    let mut expected = vec![
        id(&ms[0].digest, Some("a")),
        id(&ms[0].digest, Some("b")),
        id(&ms[1].digest, None),
        id(&ms[2].digest, Some("c")),
    ];
    expected.sort();
    let list = async |status, after: Option<&ImageId>, n| {
        store
            .list_image_ids(&r, status, StatusFilter::Any, after, n)
            .await
            .expect("list_image_ids")
            .expect("repository exists")
    };
    assert_eq!(list(TagStatus::Any, None, u32::MAX).await, expected, "every image, ordered");
    let tagged: Vec<ImageId> = expected.iter().filter(|i| i.tag.is_some()).cloned().collect();
    assert_eq!(list(TagStatus::Tagged, None, u32::MAX).await, tagged);
    assert_eq!(list(TagStatus::Untagged, None, u32::MAX).await, [id(&ms[1].digest, None)]);

    // Walking two at a time gives the same list; so does one at a time with a filter.
    for (status, want) in [(TagStatus::Any, &expected), (TagStatus::Tagged, &tagged)] {
        for n in [1, 2] {
            let mut walked: Vec<ImageId> = Vec::new();
            loop {
                let batch = list(status, walked.last(), n).await;
                assert!(batch.len() <= n as usize);
                if batch.is_empty() {
                    break;
                }
                walked.extend(batch);
            }
            assert_eq!(&walked, want, "paged walk by {n} of {status:?}");
        }
    }
    assert_eq!(list(TagStatus::Any, None, 0).await, [], "n = 0");

    for m in &ms {
        store.delete_manifest(&r, &m.digest).await.unwrap();
    }
}

/// Image details: sizes count the manifest and each referenced blob once, tags are sorted, the config
/// media type is read from the content, pulls show; listings filter by tag status and page by digest.
pub async fn image_details<S: MetaStore>(store: &S) {
    let r = repo("conf-settings/details");
    assert_eq!(
        store.list_image_details(&r, TagStatus::Any, StatusFilter::Any, None, 10).await.unwrap(),
        None,
        "unknown repository"
    );
    let (config, layer) = (blob("conf-settings detail config"), blob("conf-settings detail layer"));
    store.link_blob(&r, &config, 7, 1).await.unwrap();
    store.link_blob(&r, &layer, 1000, 1).await.unwrap();
    let body = r#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json"}}"#;
    let tagged = image(&r, body, vec![config.clone(), layer.clone()], 10);
    store.put_manifest(&tagged, &tags(&["v2", "latest"])).await.unwrap();
    let untagged = image(&r, "conf-settings detail untagged", vec![layer.clone()], 11);
    store.put_manifest(&untagged, &[]).await.unwrap();
    store.record_pull(&r, &tagged.digest, 42).await.unwrap();

    let want_tagged = ImageDetail {
        digest: tagged.digest.clone(),
        tags: tags(&["latest", "v2"]),
        media_type: IMAGE_MANIFEST.to_string(),
        size: body.len() as u64 + 1007,
        config_media_type: Some("application/vnd.oci.image.config.v1+json".to_string()),
        pushed_at: 10,
        last_pulled_at: Some(42),
        storage: ImageStorageState::default(),
    };
    let want_untagged = ImageDetail {
        digest: untagged.digest.clone(),
        tags: vec![],
        media_type: IMAGE_MANIFEST.to_string(),
        size: "conf-settings detail untagged".len() as u64 + 1000,
        config_media_type: None,
        pushed_at: 11,
        last_pulled_at: None,
        storage: ImageStorageState::default(),
    };
    assert_eq!(store.image_detail(&r, &tagged.digest).await.unwrap(), Some(want_tagged.clone()));
    assert_eq!(store.image_detail(&r, &untagged.digest).await.unwrap(), Some(want_untagged.clone()));
    assert_eq!(store.image_detail(&r, &blob("conf-settings nothing")).await.unwrap(), None);
    assert_eq!(store.image_detail(&repo("conf-settings/nowhere"), &tagged.digest).await.unwrap(), None);

    let list = async |status, after: Option<&Digest>, n| {
        store
            .list_image_details(&r, status, StatusFilter::Any, after, n)
            .await
            .expect("list_image_details")
            .expect("exists")
    };
    assert_eq!(list(TagStatus::Tagged, None, 10).await, std::slice::from_ref(&want_tagged));
    assert_eq!(list(TagStatus::Untagged, None, 10).await, std::slice::from_ref(&want_untagged));
    let mut all = vec![want_tagged, want_untagged];
    all.sort_by(|a, b| a.digest.cmp(&b.digest));
    assert_eq!(list(TagStatus::Any, None, 10).await, all, "ordered by digest");
    assert_eq!(list(TagStatus::Any, None, 1).await, all[..1], "n");
    assert_eq!(list(TagStatus::Any, Some(&all[0].digest), 10).await, all[1..], "after");

    store.delete_manifest(&r, &tagged.digest).await.unwrap();
    store.delete_manifest(&r, &untagged.digest).await.unwrap();
    store.unlink_blob(&r, &config).await.unwrap();
    store.unlink_blob(&r, &layer).await.unwrap();
}

/// Resource tags set and removed after creation; tagging a repository that exists through its content
/// makes it explicit; unknown repositories are reported.
pub async fn resource_tags<S: MetaStore>(store: &S) {
    let r = repo("conf-settings/tagged");
    let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert!(!store.tag_repository(&r, &[kv("a", "1")], 50).await.unwrap(), "unknown repository");
    assert!(!store.untag_repository(&r, &["a".into()]).await.unwrap());
    let settings = RepositorySettings { tags: vec![kv("team", "x")], ..Default::default() };
    store.create_repository(&r, &settings, 1).await.unwrap();
    assert!(store.tag_repository(&r, &[kv("env", "dev"), kv("team", "y")], 50).await.unwrap());
    assert_eq!(store.repository_resource_tags(&r).await.unwrap(), Some(vec![kv("env", "dev"), kv("team", "y")]));
    assert!(store.untag_repository(&r, &["team".into(), "nope".into()]).await.unwrap());
    let many: Vec<(String, String)> = (0..3).map(|i| kv(&format!("k{i}"), "v")).collect();
    let over = store.tag_repository(&r, &many, 3).await;
    assert!(matches!(over, Err(MetaError::LimitExceeded(_))), "{over:?}");
    assert!(
        !store.repository_resource_tags(&r).await.unwrap().unwrap().iter().any(|(k, _)| k == "k0"),
        "nothing changed"
    );
    assert_eq!(store.repository_resource_tags(&r).await.unwrap(), Some(vec![kv("env", "dev")]));
    store.delete_repository(&r, true).await.unwrap();

    let pushed = repo("conf-settings/tagged-pushed");
    let m = image(&pushed, "conf-settings tagged pushed", vec![], 5);
    store.put_manifest(&m, &tags(&["v1"])).await.unwrap();
    assert!(store.tag_repository(&pushed, &[kv("k", "v")], 50).await.unwrap());
    assert_eq!(store.repository_resource_tags(&pushed).await.unwrap(), Some(vec![kv("k", "v")]));
    let record = store.get_repository(&pushed).await.unwrap().unwrap();
    assert_eq!((record.explicit, record.created_at), (true, 5), "explicit now, created when its content was");
    store.delete_repository(&pushed, true).await.unwrap();
}

/// Immutable tags: a tag cannot be moved to another manifest; pushing it again to the same manifest, and
/// new tags, are fine. Mutable repositories (the default) move tags freely.
pub async fn immutable_tags<S: MetaStore>(store: &S) {
    let r = repo("conf-settings/immutable");
    let settings = RepositorySettings { tag_mutability: TagMutability::Immutable, ..Default::default() };
    store.create_repository(&r, &settings, 1).await.unwrap();
    let (m1, m2) = (image(&r, "conf-settings imm 1", vec![], 2), image(&r, "conf-settings imm 2", vec![], 3));
    store.put_manifest(&m1, &tags(&["v1"])).await.unwrap();
    store.put_manifest(&m1, &tags(&["v1"])).await.expect("the same tag to the same manifest again");
    let refused = store.put_manifest(&m2, &tags(&["v2", "v1"])).await;
    assert!(matches!(&refused, Err(MetaError::TagImmutable { tag, .. }) if tag == "v1"), "{refused:?}");
    assert_eq!(
        store.get_manifest(&r, &berth_oci::Reference::Digest(m2.digest.clone())).await.unwrap(),
        None,
        "a refused push stores nothing"
    );
    assert_eq!(store.list_tags(&r, ALL).await.unwrap().unwrap(), ["v1"]);
    store.put_manifest(&m2, &tags(&["v2"])).await.expect("a new tag");
    let tagged = store.get_manifest(&r, &berth_oci::Reference::Tag("v1".parse().unwrap())).await.unwrap();
    assert_eq!(tagged.unwrap().digest, m1.digest, "v1 still names m1");
    store.delete_repository(&r, true).await.unwrap();

    let mutable = repo("conf-settings/mutable");
    store.create_repository(&mutable, &RepositorySettings::default(), 1).await.unwrap();
    let (m1, m2) =
        (image(&mutable, "conf-settings mut 1", vec![], 2), image(&mutable, "conf-settings mut 2", vec![], 3));
    store.put_manifest(&m1, &tags(&["v1"])).await.unwrap();
    store.put_manifest(&m2, &tags(&["v1"])).await.expect("mutable tags move");
    store.delete_repository(&mutable, true).await.unwrap();
}

/// Exclusion filters invert the mutability for the tags they match; `set_tag_mutability` and
/// `set_scan_on_push` change an existing repository (making a pushed one explicit) and answer `None` for a
/// missing one; registry settings round-trip.
pub async fn mutability_exclusions_and_setters<S: MetaStore>(store: &S) {
    let r = repo("conf-settings/exclusions");
    let settings = RepositorySettings {
        tag_mutability: TagMutability::Immutable,
        tag_mutability_exclusions: vec!["latest".into(), "dev-*".into()],
        ..Default::default()
    };
    let created = store.create_repository(&r, &settings, 1).await.unwrap();
    assert_eq!(created.tag_mutability_exclusions, ["latest", "dev-*"]);
    assert_eq!(store.get_repository(&r).await.unwrap().unwrap().tag_mutability_exclusions, ["latest", "dev-*"]);
    let (m1, m2) = (image(&r, "conf-settings exc 1", vec![], 2), image(&r, "conf-settings exc 2", vec![], 3));
    store.put_manifest(&m1, &tags(&["v1", "latest", "dev-1"])).await.unwrap();
    store.put_manifest(&m2, &tags(&["latest", "dev-1"])).await.expect("excluded tags move");
    let refused = store.put_manifest(&m2, &tags(&["v1"])).await;
    assert!(matches!(&refused, Err(MetaError::TagImmutable { tag, .. }) if tag == "v1"), "{refused:?}");

    // Now mutable except release-*: v1 moves, release-1 is fixed once pushed.
    let changed = store.set_tag_mutability(&r, TagMutability::Mutable, &["release-*".into()]).await.unwrap().unwrap();
    assert_eq!(
        (changed.tag_mutability, changed.tag_mutability_exclusions),
        (TagMutability::Mutable, vec!["release-*".to_string()])
    );
    store.put_manifest(&m2, &tags(&["v1", "release-1"])).await.expect("v1 is mutable now");
    let refused = store.put_manifest(&m1, &tags(&["release-1"])).await;
    assert!(matches!(&refused, Err(MetaError::TagImmutable { tag, .. }) if tag == "release-1"), "{refused:?}");
    let plain = store.set_tag_mutability(&r, TagMutability::Mutable, &[]).await.unwrap().unwrap();
    assert!(plain.tag_mutability_exclusions.is_empty());
    store.put_manifest(&m1, &tags(&["release-1"])).await.expect("plain mutable");

    let scanned = store.set_scan_on_push(&r, true).await.unwrap().unwrap();
    assert!(scanned.scan_on_push);
    assert!(store.get_repository(&r).await.unwrap().unwrap().scan_on_push);
    store.delete_repository(&r, true).await.unwrap();

    let missing = repo("conf-settings/missing-setter");
    assert_eq!(store.set_tag_mutability(&missing, TagMutability::Immutable, &[]).await.unwrap(), None);
    assert_eq!(store.set_scan_on_push(&missing, true).await.unwrap(), None);
    assert_eq!(store.get_repository(&missing).await.unwrap(), None, "setters do not create repositories");

    let pushed = repo("conf-settings/pushed-setter");
    let m = image(&pushed, "conf-settings pushed setter", vec![], 7);
    store.put_manifest(&m, &tags(&["v1"])).await.unwrap();
    let record = store.set_tag_mutability(&pushed, TagMutability::Immutable, &[]).await.unwrap().unwrap();
    assert!(record.explicit, "a pushed repository becomes explicit");
    let other = image(&pushed, "conf-settings pushed setter 2", vec![], 8);
    assert!(matches!(store.put_manifest(&other, &tags(&["v1"])).await, Err(MetaError::TagImmutable { .. })));
    store.delete_repository(&pushed, true).await.unwrap();

    assert_eq!(store.registry_setting("conf-settings/none").await.unwrap(), None);
    store.put_registry_setting("conf-settings/a", r#"{"x":1}"#, 1).await.unwrap();
    store.put_registry_setting("conf-settings/a", r#"{"x":2}"#, 2).await.unwrap();
    assert_eq!(store.registry_setting("conf-settings/a").await.unwrap().as_deref(), Some(r#"{"x":2}"#));
}

/// `delete_image` refuses a manifest an index of the repository lists, deletes it once the index is gone.
pub async fn image_deletion_respects_indexes<S: MetaStore>(store: &S) {
    let r = repo("conf-settings/indexed");
    let child = image(&r, "conf-settings indexed child", vec![], 1);
    store.put_manifest(&child, &tags(&["child"])).await.unwrap();
    let idx = index(&r, "conf-settings indexed index", vec![child.digest.clone()], 2);
    store.put_manifest(&idx, &tags(&["multi"])).await.unwrap();
    assert_eq!(store.delete_image(&r, &child.digest).await.unwrap(), ImageDeletion::ReferencedByIndex);
    assert!(store.get_manifest(&r, &berth_oci::Reference::Digest(child.digest.clone())).await.unwrap().is_some());
    assert_eq!(store.delete_image(&r, &idx.digest).await.unwrap(), ImageDeletion::Deleted);
    assert_eq!(store.delete_image(&r, &child.digest).await.unwrap(), ImageDeletion::Deleted);
    assert_eq!(store.delete_image(&r, &child.digest).await.unwrap(), ImageDeletion::NotFound);
}

/// A pull policy is stored per repository, cleared with `None`, and absent for unknown repositories.
pub async fn pull_policies<S: MetaStore>(store: &S) {
    let r = repo("conf-settings/pull-policy");
    assert!(!store.set_pull_policy(&r, Some("{}")).await.unwrap(), "unknown repository");
    store.put_manifest(&image(&r, "conf-settings pull policy", vec![], 1), &tags(&["v1"])).await.unwrap();
    assert_eq!(store.pull_policy(&r).await.unwrap(), None);
    assert!(store.set_pull_policy(&r, Some(r#"{"severity":"HIGH"}"#)).await.unwrap());
    assert_eq!(store.pull_policy(&r).await.unwrap().as_deref(), Some(r#"{"severity":"HIGH"}"#));
    assert!(store.set_pull_policy(&r, None).await.unwrap());
    assert_eq!(store.pull_policy(&r).await.unwrap(), None);
    store.delete_repository(&r, true).await.unwrap();
}
