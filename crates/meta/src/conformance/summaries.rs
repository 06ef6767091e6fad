//! Repository listings with counts, sizes and last push, filtered and paged in the store.

use super::{blob, image, repo, tags};
use crate::MetaStore;
use crate::identity::{IdentityMeta, Visibility};
use crate::settings::{RepositorySettings, TagMutability};
use crate::summaries::{RepositoryFilter, RepositorySummary};

/// `repository_summaries` lists existing repositories by name prefix and settings, in byte order, strictly
/// after a name, with each one's visibility, manifest count, stored size (each linked blob once) and last
/// push.
pub async fn repository_summaries<S: MetaStore + IdentityMeta>(store: &S) {
    let list = async |filter: &RepositoryFilter, after: Option<&str>, n: u32| -> Vec<RepositorySummary> {
        let after = after.map(repo);
        store.repository_summaries(filter, after.as_ref(), n).await.expect("repository_summaries")
    };
    let names = |rows: &[RepositorySummary]| rows.iter().map(|r| r.record.name.to_string()).collect::<Vec<_>>();
    let prefix = |p: &str| RepositoryFilter { prefix: p.into(), ..Default::default() };

    // created: explicit, immutable, scanned on push, empty.
    let created = repo("conf-summary/created");
    let settings =
        RepositorySettings { tag_mutability: TagMutability::Immutable, scan_on_push: true, ..Default::default() };
    store.create_repository(&created, &settings, 10).await.unwrap();
    // pushed: two images sharing a blob, by push.
    let pushed = repo("conf-summary/images");
    let (a, b, c) = (blob("conf-summary a"), blob("conf-summary b"), blob("conf-summary c"));
    store.link_blob(&pushed, &a, 100, 20).await.unwrap();
    store.link_blob(&pushed, &b, 1000, 20).await.unwrap();
    store.link_blob(&pushed, &c, 10_000, 20).await.unwrap();
    let (one, two) = ("conf-summary pushed one", "conf-summary pushed two!");
    store.put_manifest(&image(&pushed, one, vec![a.clone(), b.clone()], 30), &tags(&["v1"])).await.unwrap();
    store.put_manifest(&image(&pushed, two, vec![a.clone(), c.clone()], 40), &[]).await.unwrap();
    // public: made public, with one blob.
    let public = repo("conf-summary/public");
    store.link_blob(&public, &a, 100, 50).await.unwrap();
    store.set_visibility(&public, Visibility::Public, 51).await.unwrap();
    // Not listed: another prefix, a name with only a visibility row, a deleted repository.
    let other = repo("conf-summaryx/other");
    store.link_blob(&other, &a, 100, 60).await.unwrap();
    store.set_visibility(&repo("conf-summary/bare"), Visibility::Public, 61).await.unwrap();
    let gone = repo("conf-summary/gone");
    store.create_repository(&gone, &RepositorySettings::default(), 62).await.unwrap();
    store.delete_repository(&gone, false).await.unwrap();

    let all = list(&prefix("conf-summary/"), None, 100).await;
    assert_eq!(
        names(&all),
        ["conf-summary/created", "conf-summary/images", "conf-summary/public"],
        "existing repositories with the prefix, in order"
    );
    let (c0, p0, u0) = (&all[0], &all[1], &all[2]);
    assert_eq!(c0.record, store.get_repository(&created).await.unwrap().unwrap(), "the full record");
    assert_eq!((c0.images, c0.size, c0.last_push, c0.visibility), (0, 0, None, Visibility::Private), "empty");
    let manifests = (one.len() + two.len()) as u64;
    assert_eq!(
        (p0.images, p0.size, p0.last_push),
        (2, 100 + 1000 + 10_000 + manifests, Some(40)),
        "two manifests; each linked blob counted once, plus the manifests; the latest push"
    );
    assert_eq!((u0.images, u0.size, u0.visibility), (0, 100, Visibility::Public));

    // Filters, alone and together.
    let with = |f: RepositoryFilter| RepositoryFilter { prefix: "conf-summary/".into(), ..f };
    let public_only = with(RepositoryFilter { visibility: Some(Visibility::Public), ..Default::default() });
    assert_eq!(names(&list(&public_only, None, 100).await), ["conf-summary/public"], "by visibility");
    let private = with(RepositoryFilter { visibility: Some(Visibility::Private), ..Default::default() });
    assert_eq!(names(&list(&private, None, 100).await), ["conf-summary/created", "conf-summary/images"]);
    let scanned = with(RepositoryFilter { scan_on_push: Some(true), ..Default::default() });
    assert_eq!(names(&list(&scanned, None, 100).await), ["conf-summary/created"], "by scan on push");
    let unscanned = with(RepositoryFilter { scan_on_push: Some(false), ..Default::default() });
    assert_eq!(names(&list(&unscanned, None, 100).await), ["conf-summary/images", "conf-summary/public"]);
    let immutable = with(RepositoryFilter { mutability: Some(TagMutability::Immutable), ..Default::default() });
    assert_eq!(names(&list(&immutable, None, 100).await), ["conf-summary/created"], "by tag mutability");
    let none = with(RepositoryFilter {
        mutability: Some(TagMutability::Immutable),
        visibility: Some(Visibility::Public),
        ..Default::default()
    });
    assert!(list(&none, None, 100).await.is_empty(), "filters combine");
    let im = names(&list(&prefix("conf-summary/im"), None, 100).await);
    assert_eq!(im, ["conf-summary/images"], "by prefix");
    assert!(list(&prefix("conf-summary/zz"), None, 100).await.is_empty(), "no match");
    assert!(list(&prefix("conf-summary/%"), None, 100).await.is_empty(), "the prefix is not a pattern");
    assert_eq!(names(&list(&prefix("conf-summaryx"), None, 100).await), ["conf-summaryx/other"]);

    // Paging: at most n, strictly after a name (listed or not).
    let f = prefix("conf-summary/");
    assert_eq!(names(&list(&f, None, 1).await), ["conf-summary/created"]);
    assert_eq!(names(&list(&f, Some("conf-summary/created"), 1).await), ["conf-summary/images"]);
    assert_eq!(names(&list(&f, Some("conf-summary/images"), 5).await), ["conf-summary/public"]);
    assert_eq!(names(&list(&f, Some("conf-summary/b"), 1).await), ["conf-summary/created"]);
    assert!(list(&f, Some("conf-summary/public"), 5).await.is_empty());

    // Changes show: settings, visibility, a deleted image.
    store.set_scan_on_push(&pushed, true).await.unwrap();
    assert_eq!(names(&list(&scanned, None, 100).await), ["conf-summary/created", "conf-summary/images"]);
    store.delete_manifest(&pushed, &image(&pushed, two, vec![], 0).digest).await.unwrap();
    let p1 = &list(&prefix("conf-summary/images"), None, 1).await[0];
    assert_eq!((p1.images, p1.last_push), (1, Some(30)), "a deleted manifest leaves the count");
}
