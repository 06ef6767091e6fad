//! The recovery side of the SQLite backend: the journal's change feed (triggers of migration 0011), the
//! emptiness and integrity checks, blob links and recording stray blobs.

use berth_oci::{Digest, RepositoryName, Tag};

use super::SqliteMeta;
use crate::recovery::{JournalChange, JournalEntry, RecoveryStore};
use crate::settings::RepositorySettingsStore;
use crate::{BlobIndex, ManifestStore, NewManifest};

const OCI: &str = "application/vnd.oci.image.manifest.v1+json";

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

fn tag(s: &str) -> Tag {
    s.parse().unwrap()
}

fn manifest(repository: &RepositoryName, body: &str) -> NewManifest {
    NewManifest {
        repository: repository.clone(),
        digest: Digest::sha256_of(body.as_bytes()),
        media_type: OCI.into(),
        content: body.as_bytes().to_vec(),
        artifact_type: None,
        subject: None,
        annotations: None,
        config_digest: None,
        blobs: vec![],
        children: vec![],
        platforms: None,
        pushed_at: 1,
    }
}

/// Applies the feed as an exporter does, returning the journal it leads to.
async fn drain(store: &SqliteMeta, journal: &mut std::collections::BTreeMap<String, String>) -> usize {
    let changes = store.journal_changes(1000).await.unwrap();
    for JournalChange { repository, entry, .. } in &changes {
        match entry {
            JournalEntry::Manifest { digest, current } => match current {
                Some((media_type, content)) => {
                    assert_eq!(&Digest::sha256_of(content), digest);
                    journal.insert(format!("{repository}@{digest}"), media_type.clone())
                }
                None => journal.remove(&format!("{repository}@{digest}")),
            },
            JournalEntry::Tag { tag, target } => match target {
                Some(d) => journal.insert(format!("{repository}:{tag}"), d.to_string()),
                None => journal.remove(&format!("{repository}:{tag}")),
            },
        };
    }
    if let Some(last) = changes.last() {
        store.journal_done(last.seq).await.unwrap();
    }
    changes.len()
}

#[tokio::test]
async fn every_manifest_and_tag_change_reaches_the_feed() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteMeta::open(&dir.path().join("meta.db")).await.unwrap();
    assert!(store.is_empty().await.unwrap(), "a new store is empty");
    let mut journal = Default::default();
    assert_eq!(drain(&store, &mut journal).await, 0);

    let app = name("team/app");
    let (a, b) = (manifest(&app, "{\"a\":1}"), manifest(&app, "{\"b\":2}"));
    store.put_manifest(&a, &[tag("latest"), tag("v1")]).await.unwrap();
    store.put_manifest(&b, &[]).await.unwrap();
    assert!(!store.is_empty().await.unwrap());
    drain(&store, &mut journal).await;
    let expected = |entries: &[(&str, &Digest)]| -> std::collections::BTreeMap<String, String> {
        entries
            .iter()
            .map(
                |(k, d)| {
                    if k.contains('@') { (k.to_string(), OCI.to_string()) } else { (k.to_string(), d.to_string()) }
                },
            )
            .collect()
    };
    let (ka, kb) = (format!("team/app@{}", a.digest), format!("team/app@{}", b.digest));
    assert_eq!(
        journal,
        expected(&[(&ka, &a.digest), (&kb, &b.digest), ("team/app:latest", &a.digest), ("team/app:v1", &a.digest)])
    );
    assert_eq!(drain(&store, &mut journal).await, 0, "exported changes are forgotten");

    // A tag moves; a tag is deleted; a manifest is deleted with its tags (cascade).
    store.put_manifest(&b, &[tag("latest")]).await.unwrap();
    store.delete_tag(&app, &tag("v1")).await.unwrap();
    drain(&store, &mut journal).await;
    assert_eq!(journal, expected(&[(&ka, &a.digest), (&kb, &b.digest), ("team/app:latest", &b.digest)]));
    store.delete_manifest(&app, &b.digest).await.unwrap();
    drain(&store, &mut journal).await;
    assert_eq!(journal, expected(&[(&ka, &a.digest)]));

    // Deleting the repository removes everything in it.
    let other = name("other");
    store.put_manifest(&manifest(&other, "{\"o\":1}"), &[tag("x")]).await.unwrap();
    store.delete_repository(&app, true).await.unwrap();
    drain(&store, &mut journal).await;
    assert_eq!(journal.len(), 2, "{journal:?}");
    assert!(journal.keys().all(|k| k.starts_with("other")), "{journal:?}");
}

#[tokio::test]
async fn a_sound_store_passes_its_integrity_check_and_links_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteMeta::open(&dir.path().join("meta.db")).await.unwrap();
    assert_eq!(store.integrity_check().await.unwrap(), Vec::<String>::new());

    let d = Digest::sha256_of(b"layer");
    store.link_blob(&name("b"), &d, 5, 1).await.unwrap();
    store.link_blob(&name("a"), &d, 5, 1).await.unwrap();
    assert_eq!(store.blob_links(&d).await.unwrap(), [name("a"), name("b")]);
    store.unlink_blob(&name("a"), &d).await.unwrap();
    assert_eq!(store.blob_links(&d).await.unwrap(), [name("b")]);

    let stray = Digest::sha256_of(b"stray");
    store.record_blob(&stray, 5, 2).await.unwrap();
    store.record_blob(&stray, 5, 3).await.unwrap();
    assert!(store.all_blobs().await.unwrap().contains(&(stray.clone(), 5)), "a recorded blob is known");
    assert!(store.blob_links(&stray).await.unwrap().is_empty(), "and linked nowhere");
}
