//! Manifests: storing, reading, reference checks, deletion, referrers, pulls, fsck listings.

use berth_oci::{Algorithm, Digest, Reference, RepositoryName};

use super::{ALL, blob, image, index, repo, tag, tags};
use crate::{MetaError, MetaStore, NewManifest, Referrer, StoredManifest, Untagging};

async fn by_tag<S: MetaStore>(store: &S, r: &RepositoryName, name: &str) -> Option<Digest> {
    let got = store.get_manifest(r, &Reference::Tag(tag(name))).await.expect("get_manifest by tag");
    got.map(|m| m.digest)
}

async fn by_digest<S: MetaStore>(store: &S, r: &RepositoryName, digest: &Digest) -> Option<StoredManifest> {
    store.get_manifest(r, &Reference::Digest(digest.clone())).await.expect("get_manifest by digest")
}

/// Everything put is read back; re-putting a digest only moves tags; a tag moves to the last put.
pub async fn manifest_round_trip<S: MetaStore>(store: &S) {
    let r = repo("conf-manifests/app");
    let (a, b) = (blob("conf-manifests a"), blob("conf-manifests b"));
    store.link_blob(&r, &a, 10, 1).await.unwrap();
    store.link_blob(&r, &b, 20, 1).await.unwrap();

    let mut m1 = image(&r, "conf-manifests m1", vec![a.clone(), b.clone(), a.clone()], 100);
    m1.artifact_type = Some("application/vnd.example".into());
    m1.subject = Some(blob("conf-manifests subject"));
    m1.annotations = Some(r#"{"k":"v"}"#.into());
    store.put_manifest(&m1, &tags(&["v1"])).await.expect("put_manifest (a blob listed twice)");

    let expected = StoredManifest {
        digest: m1.digest.clone(),
        media_type: m1.media_type.clone(),
        content: m1.content.clone(),
        artifact_type: m1.artifact_type.clone(),
        subject: m1.subject.clone(),
        pushed_at: 100,
        last_pulled_at: None,
        status: crate::archive::ImageStatus::Active,
    };
    assert_eq!(by_digest(store, &r, &m1.digest).await, Some(expected.clone()), "by digest");
    assert_eq!(store.get_manifest(&r, &Reference::Tag(tag("v1"))).await.unwrap(), Some(expected), "by tag");
    assert_eq!(by_tag(store, &r, "nope").await, None, "unknown tag");
    assert_eq!(by_digest(store, &r, &blob("conf-manifests unknown")).await, None, "unknown digest");
    assert_eq!(by_digest(store, &repo("conf-manifests/other"), &m1.digest).await, None, "other repository");

    // Same digest again, later: the stored manifest is kept, only tags are added.
    let again = NewManifest { pushed_at: 200, ..m1.clone() };
    store.put_manifest(&again, &tags(&["v2", "latest"])).await.expect("re-put an existing digest");
    assert_eq!(by_digest(store, &r, &m1.digest).await.unwrap().pushed_at, 100, "re-put keeps the first push");
    for t in ["v1", "v2", "latest"] {
        assert_eq!(by_tag(store, &r, t).await, Some(m1.digest.clone()), "tag {t}");
    }

    // Without tags: reachable by digest only.
    let m2 = image(&r, "conf-manifests m2", vec![b.clone()], 300);
    store.put_manifest(&m2, &[]).await.expect("put_manifest without tags");
    assert!(by_digest(store, &r, &m2.digest).await.is_some());
    assert_eq!(store.list_tags(&r, ALL).await.unwrap().unwrap(), ["latest", "v1", "v2"]);

    // Moving a tag.
    store.put_manifest(&m2, &tags(&["latest"])).await.expect("move a tag");
    assert_eq!(by_tag(store, &r, "latest").await, Some(m2.digest.clone()), "tag moved");
    assert_eq!(by_tag(store, &r, "v1").await, Some(m1.digest.clone()), "other tags stay");

    // sha512 manifests and indexes.
    let mut m3 = image(&r, "conf-manifests m3", vec![a.clone()], 400);
    m3.digest = Digest::compute(Algorithm::Sha512, &m3.content);
    store.put_manifest(&m3, &tags(&["sha512"])).await.expect("put a sha512 manifest");
    assert_eq!(by_tag(store, &r, "sha512").await, Some(m3.digest.clone()));
    let idx = index(&r, "conf-manifests index", vec![m1.digest.clone(), m3.digest.clone()], 500);
    store.put_manifest(&idx, &tags(&["multi"])).await.expect("put an index");
    let stored = by_digest(store, &r, &idx.digest).await.unwrap();
    assert_eq!((stored.media_type, stored.content), (idx.media_type, idx.content));

    // The same digest in another repository is a separate manifest.
    let other = repo("conf-manifests/other");
    store.link_blob(&other, &b, 20, 1).await.unwrap();
    store
        .put_manifest(&NewManifest { repository: other.clone(), pushed_at: 600, ..m2.clone() }, &tags(&["v1"]))
        .await
        .unwrap();
    assert_eq!(by_digest(store, &other, &m2.digest).await.unwrap().pushed_at, 600);
    assert_eq!(by_tag(store, &r, "v1").await, Some(m1.digest.clone()), "tags are per repository");
}

/// A manifest whose blobs or children are not in the repository is refused and leaves no trace.
pub async fn missing_references<S: MetaStore>(store: &S) {
    let r = repo("conf-missing/app");
    let elsewhere = repo("conf-missing/elsewhere");
    let (a, b) = (blob("conf-missing a"), blob("conf-missing b"));
    store.link_blob(&r, &a, 1, 1).await.unwrap();
    store.link_blob(&elsewhere, &b, 1, 1).await.unwrap();
    let m1 = image(&r, "conf-missing m1", vec![a.clone()], 10);
    store.put_manifest(&m1, &tags(&["t"])).await.unwrap();
    let foreign = image(&elsewhere, "conf-missing foreign", vec![b.clone()], 10);
    store.put_manifest(&foreign, &[]).await.unwrap();

    let assert_untouched = async |what: &str, rejected: Digest| {
        assert_eq!(by_tag(store, &r, "t").await, Some(m1.digest.clone()), "{what}: tag not moved");
        assert_eq!(by_tag(store, &r, "new").await, None, "{what}: no new tag");
        assert_eq!(by_digest(store, &r, &rejected).await, None, "{what}: manifest not stored");
        assert_eq!(store.list_tags(&r, ALL).await.unwrap().unwrap(), ["t"], "{what}: tags");
        let refs = store.all_manifest_blob_refs().await.unwrap();
        assert!(refs.iter().all(|(_, m, _)| *m != rejected), "{what}: no blob references stored");
    };

    // A blob linked only in another repository does not count.
    let m2 = image(&r, "conf-missing m2", vec![a.clone(), b.clone()], 20);
    match store.put_manifest(&m2, &tags(&["t", "new"])).await {
        Err(MetaError::MissingBlob(d)) => assert_eq!(d, b),
        other => panic!("manifest with an unlinked blob: expected MissingBlob, got {other:?}"),
    }
    assert_untouched("missing blob", m2.digest.clone()).await;

    // A manifest of another repository is not a child here.
    let idx = index(&r, "conf-missing index", vec![m1.digest.clone(), foreign.digest.clone()], 30);
    match store.put_manifest(&idx, &tags(&["t", "new"])).await {
        Err(MetaError::MissingManifest(d)) => assert_eq!(d, foreign.digest),
        other => panic!("index with an unknown child: expected MissingManifest, got {other:?}"),
    }
    assert_untouched("missing child", idx.digest.clone()).await;

    // A refused push to a new repository does not create it.
    let fresh = repo("conf-missing/fresh");
    let m3 = image(&fresh, "conf-missing m3", vec![a.clone()], 40);
    assert!(matches!(store.put_manifest(&m3, &tags(&["t"])).await, Err(MetaError::MissingBlob(_))));
    assert!(!store.repository_exists(&fresh).await.unwrap(), "refused push leaves no repository");
    assert_eq!(store.list_tags(&fresh, ALL).await.unwrap(), None);
    assert!(!store.list_repositories(ALL).await.unwrap().contains(&fresh), "not in the catalog");

    // Once the blob is linked, the same push succeeds.
    store.link_blob(&r, &b, 1, 50).await.unwrap();
    store.put_manifest(&m2, &tags(&["new"])).await.expect("put after linking the blob");
    assert_eq!(by_tag(store, &r, "new").await, Some(m2.digest.clone()));

    // Re-putting a stored manifest is checked again: its blob has been unlinked since.
    store.unlink_blob(&r, &a).await.unwrap();
    match store.put_manifest(&m1, &tags(&["again"])).await {
        Err(MetaError::MissingBlob(d)) => assert_eq!(d, a),
        other => panic!("re-put after unlinking its blob: expected MissingBlob, got {other:?}"),
    }
    assert_eq!(by_tag(store, &r, "again").await, None, "refused re-put moves no tag");
}

/// Deleting a manifest removes its tags and references; deleting a tag removes only the tag.
pub async fn delete_cascades<S: MetaStore>(store: &S) {
    let r = repo("conf-delete/app");
    let (a, b) = (blob("conf-delete a"), blob("conf-delete b"));
    store.link_blob(&r, &a, 1, 1).await.unwrap();
    store.link_blob(&r, &b, 1, 1).await.unwrap();
    let m1 = image(&r, "conf-delete m1", vec![a.clone()], 10);
    let m2 = image(&r, "conf-delete m2", vec![b.clone()], 10);
    let idx = index(&r, "conf-delete index", vec![m1.digest.clone(), m2.digest.clone()], 20);
    store.put_manifest(&m1, &tags(&["a", "b"])).await.unwrap();
    store.put_manifest(&m2, &tags(&["c"])).await.unwrap();
    store.put_manifest(&idx, &tags(&["idx"])).await.unwrap();
    let refs_of =
        async |m: Digest| store.all_manifest_blob_refs().await.unwrap().into_iter().filter(|(_, d, _)| *d == m).count();
    assert_eq!(refs_of(m1.digest.clone()).await, 1);

    assert!(store.delete_tag(&r, &tag("b")).await.unwrap(), "delete an existing tag");
    assert!(!store.delete_tag(&r, &tag("b")).await.unwrap(), "delete it again");
    assert!(!store.delete_tag(&repo("conf-delete/none"), &tag("a")).await.unwrap(), "unknown repository");
    assert_eq!(by_tag(store, &r, "b").await, None);
    assert!(by_digest(store, &r, &m1.digest).await.is_some(), "deleting a tag keeps the manifest");
    assert_eq!(store.list_tags(&r, ALL).await.unwrap().unwrap(), ["a", "c", "idx"]);

    assert!(store.delete_manifest(&r, &m1.digest).await.unwrap(), "delete an existing manifest");
    assert!(!store.delete_manifest(&r, &m1.digest).await.unwrap(), "delete it again");
    assert!(!store.delete_manifest(&repo("conf-delete/none"), &m2.digest).await.unwrap(), "unknown repository");
    assert_eq!(by_digest(store, &r, &m1.digest).await, None);
    assert_eq!(by_tag(store, &r, "a").await, None, "its tags are gone");
    assert_eq!(store.list_tags(&r, ALL).await.unwrap().unwrap(), ["c", "idx"]);
    assert_eq!(refs_of(m1.digest.clone()).await, 0, "its blob references are gone");
    assert_eq!(store.linked_blob_size(&r, &a).await.unwrap(), Some(1), "blob links stay");
    assert!(by_digest(store, &r, &idx.digest).await.is_some(), "an index survives deleting a child");

    assert!(store.delete_manifest(&r, &idx.digest).await.unwrap());
    assert_eq!(store.list_tags(&r, ALL).await.unwrap().unwrap(), ["c"]);

    // Deleting everything empties the repository; pushing again brings it back.
    assert!(store.delete_manifest(&r, &m2.digest).await.unwrap());
    store.unlink_blob(&r, &a).await.unwrap();
    store.unlink_blob(&r, &b).await.unwrap();
    assert!(!store.repository_exists(&r).await.unwrap());
    assert_eq!(store.list_tags(&r, ALL).await.unwrap(), None);
    store.link_blob(&r, &a, 1, 30).await.unwrap();
    store.put_manifest(&NewManifest { pushed_at: 30, ..m1.clone() }, &tags(&["a"])).await.expect("re-push");
    assert_eq!(by_digest(store, &r, &m1.digest).await.unwrap().pushed_at, 30, "a deleted manifest is new again");
    assert_eq!(refs_of(m1.digest.clone()).await, 1);
}

/// `untag_image`: removing a tag; with `delete_if_last`, the manifest goes with its last tag unless an index
/// lists it (then nothing changes). Two concurrent removals of a manifest's last two tags delete it once.
pub async fn untagging<S: MetaStore>(store: &S) {
    let r = repo("conf-untag/app");
    let m1 = image(&r, "conf-untag m1", vec![], 10);
    let m2 = image(&r, "conf-untag m2", vec![], 10);
    store.put_manifest(&m1, &tags(&["a", "b"])).await.unwrap();
    store.put_manifest(&m2, &tags(&["c"])).await.unwrap();

    assert_eq!(store.untag_image(&r, &tag("none"), true).await.unwrap(), Untagging::NotFound);
    assert_eq!(store.untag_image(&repo("conf-untag/none"), &tag("a"), true).await.unwrap(), Untagging::NotFound);
    // Not the last tag: only the tag goes.
    assert_eq!(store.untag_image(&r, &tag("a"), true).await.unwrap(), Untagging::Untagged(m1.digest.clone()));
    assert!(by_digest(store, &r, &m1.digest).await.is_some(), "m1 keeps its other tag");
    // The last tag without delete_if_last (the /v2 semantics): the manifest stays, untagged.
    assert_eq!(store.untag_image(&r, &tag("c"), false).await.unwrap(), Untagging::Untagged(m2.digest.clone()));
    assert!(by_digest(store, &r, &m2.digest).await.is_some(), "m2 stays untagged");
    // The last tag with delete_if_last: both go.
    assert_eq!(store.untag_image(&r, &tag("b"), true).await.unwrap(), Untagging::Deleted(m1.digest.clone()));
    assert_eq!(by_digest(store, &r, &m1.digest).await, None, "m1 is deleted");
    assert_eq!(store.untag_image(&r, &tag("b"), true).await.unwrap(), Untagging::NotFound);

    // A manifest an index lists keeps its last tag and stays.
    store.put_manifest(&m2, &tags(&["child"])).await.unwrap();
    let idx = index(&r, "conf-untag index", vec![m2.digest.clone()], 20);
    store.put_manifest(&idx, &tags(&["multi"])).await.unwrap();
    let got = store.untag_image(&r, &tag("child"), true).await.unwrap();
    assert_eq!(got, Untagging::ReferencedByIndex(m2.digest.clone()));
    assert_eq!(by_tag(store, &r, "child").await, Some(m2.digest.clone()), "the tag stays");
    assert_eq!(store.untag_image(&r, &tag("multi"), true).await.unwrap(), Untagging::Deleted(idx.digest.clone()));
    assert_eq!(store.untag_image(&r, &tag("child"), true).await.unwrap(), Untagging::Deleted(m2.digest.clone()));

    // Racing removals of the last two tags: one untags, the other deletes; never both "untagged".
    for round in 0..10 {
        let m = image(&r, &format!("conf-untag race {round}"), vec![], 30);
        store.put_manifest(&m, &tags(&["x", "y"])).await.unwrap();
        let (tx, ty) = (tag("x"), tag("y"));
        let (x, y) = futures_util::join!(store.untag_image(&r, &tx, true), store.untag_image(&r, &ty, true));
        let mut outcomes = [x.unwrap(), y.unwrap()];
        outcomes.sort_by_key(|o| matches!(o, Untagging::Deleted(_)));
        assert_eq!(
            outcomes,
            [Untagging::Untagged(m.digest.clone()), Untagging::Deleted(m.digest.clone())],
            "round {round}"
        );
        assert_eq!(by_digest(store, &r, &m.digest).await, None, "round {round}: deleted");
    }
    assert_eq!(store.list_tags(&r, ALL).await.unwrap(), None, "nothing is left");
}

/// `list_referrers` finds manifests by subject in one repository, optionally by artifact type.
pub async fn referrers<S: MetaStore>(store: &S) {
    let r = repo("conf-referrers/app");
    let other = repo("conf-referrers/other");
    let subject = blob("conf-referrers subject"); // the subject need not be stored
    let referrer = |repository: &RepositoryName, body: &str, artifact_type: &str, annotations: Option<&str>| {
        let mut m = image(repository, body, Vec::new(), 10);
        m.subject = Some(subject.clone());
        m.artifact_type = Some(artifact_type.into());
        m.annotations = annotations.map(Into::into);
        m
    };
    let sbom = referrer(&r, "conf-referrers sbom", "application/vnd.example.sbom", Some(r#"{"a":"1"}"#));
    let sig = referrer(&r, "conf-referrers signature", "application/vnd.example.sig", None);
    let mut unrelated = referrer(&r, "conf-referrers unrelated", "application/vnd.example.sbom", None);
    unrelated.subject = Some(blob("conf-referrers another subject"));
    let elsewhere = referrer(&other, "conf-referrers elsewhere", "application/vnd.example.sbom", None);
    for m in [&sbom, &sig, &unrelated, &elsewhere] {
        store.put_manifest(m, &[]).await.expect("put a referrer");
    }
    let entry = |m: &NewManifest| Referrer {
        digest: m.digest.clone(),
        media_type: m.media_type.clone(),
        size: m.content.len() as u64,
        artifact_type: m.artifact_type.clone(),
        annotations: m.annotations.clone(),
    };
    let list = async |artifact_type: Option<&str>| {
        let mut got = store.list_referrers(&r, &subject, artifact_type).await.expect("list_referrers");
        got.sort_by(|x, y| x.digest.cmp(&y.digest));
        got
    };
    let mut both = vec![entry(&sbom), entry(&sig)];
    both.sort_by(|x, y| x.digest.cmp(&y.digest));
    assert_eq!(list(None).await, both, "all referrers of the subject");
    assert_eq!(list(Some("application/vnd.example.sbom")).await, [entry(&sbom)], "filtered by artifact type");
    assert_eq!(list(Some("application/vnd.example.none")).await, [], "no referrer of that type");
    assert_eq!(store.list_referrers(&repo("conf-referrers/none"), &subject, None).await.unwrap(), []);

    store.delete_manifest(&r, &sig.digest).await.unwrap();
    assert_eq!(list(None).await, [entry(&sbom)], "a deleted referrer is gone");
}

/// `record_pull` sets `last_pulled_at`, never moving it backwards; unknown manifests are ignored.
pub async fn record_pull<S: MetaStore>(store: &S) {
    let r = repo("conf-pulls/app");
    let m = image(&r, "conf-pulls m", vec![], 10);
    store.put_manifest(&m, &[]).await.unwrap();
    let pulled = async || by_digest(store, &r, &m.digest).await.unwrap().last_pulled_at;

    assert_eq!(pulled().await, None);
    store.record_pull(&r, &m.digest, 500).await.expect("record_pull");
    assert_eq!(pulled().await, Some(500));
    store.record_pull(&r, &m.digest, 400).await.expect("record an older pull");
    assert_eq!(pulled().await, Some(500), "last_pulled_at never goes backwards");
    store.record_pull(&r, &m.digest, 600).await.unwrap();
    assert_eq!(pulled().await, Some(600));
    store.record_pull(&r, &blob("conf-pulls unknown"), 700).await.expect("unknown manifest is ignored");
    store.record_pull(&repo("conf-pulls/none"), &m.digest, 700).await.expect("unknown repository is ignored");
    assert_eq!(pulled().await, Some(600));
}

/// `all_manifest_blob_refs` lists (repository, manifest, blob) for every blob a manifest needs.
pub async fn fsck_listings<S: MetaStore>(store: &S) {
    let (one, two) = (repo("conf-fsck/one"), repo("conf-fsck/two"));
    let (a, b) = (blob("conf-fsck a"), blob("conf-fsck b"));
    for r in [&one, &two] {
        store.link_blob(r, &a, 5, 1).await.unwrap();
        store.link_blob(r, &b, 6, 1).await.unwrap();
    }
    let m1 = image(&one, "conf-fsck m1", vec![a.clone(), b.clone()], 10);
    let m2 = image(&two, "conf-fsck m2", vec![b.clone()], 10);
    store.put_manifest(&m1, &[]).await.unwrap();
    store.put_manifest(&m2, &[]).await.unwrap();

    let mut got: Vec<_> = store
        .all_manifest_blob_refs()
        .await
        .expect("all_manifest_blob_refs")
        .into_iter()
        .filter(|(r, _, _)| r.as_str().starts_with("conf-fsck/"))
        .collect();
    got.sort();
    let mut expected = vec![
        (one.clone(), m1.digest.clone(), a.clone()),
        (one.clone(), m1.digest.clone(), b.clone()),
        (two.clone(), m2.digest.clone(), b.clone()),
    ];
    expected.sort();
    assert_eq!(got, expected);

    // Which manifests of one repository use a blob (a pull policy judges a layer by them).
    assert_eq!(store.manifests_with_blob(&one, &b, 10).await.unwrap(), std::slice::from_ref(&m1.digest));
    assert_eq!(store.manifests_with_blob(&two, &b, 10).await.unwrap(), std::slice::from_ref(&m2.digest));
    assert_eq!(store.manifests_with_blob(&two, &a, 10).await.unwrap(), [], "a is linked to two but unused there");
    assert_eq!(store.manifests_with_blob(&one, &b, 0).await.unwrap(), [], "the limit holds");

    let blobs = store.all_blobs().await.unwrap();
    assert!(blobs.contains(&(a, 5)) && blobs.contains(&(b, 6)), "all_blobs lists every linked blob with its size");
}
