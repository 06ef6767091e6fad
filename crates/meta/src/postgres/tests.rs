//! PostgreSQL-specific tests, against a real server the tests start ([`crate::pg_harness`]): the shared
//! conformance suite, plus what only this backend can show (a database whose own collation is not byte
//! order, concurrent migrations, job claims racing across "nodes", the change feed, a server restart).
//!
//! A machine without PostgreSQL fails these tests with a message saying what to install: they are not
//! skipped.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use berth_oci::{Digest, RepositoryName, Tag};
use futures_util::future::join_all;

use super::PgMeta;
use crate::jobs::{JobStore, NewJob};
use crate::pg_harness::PgServer;
use crate::recovery::{JournalChange, JournalEntry, RecoveryStore};
use crate::settings::RepositorySettingsStore;
use crate::{BlobIndex, ManifestStore, NewManifest, Page, RepositoryStore};

/// One server for the tests of this binary that run at the same time; each test works in a database of its
/// own. The server stops when the last test holding it ends.
fn server() -> Arc<PgServer> {
    static SHARED: Mutex<Weak<PgServer>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(server) = shared.upgrade() {
        return server;
    }
    let server = Arc::new(PgServer::start().unwrap_or_else(|e| panic!("cannot start a test PostgreSQL server: {e}")));
    *shared = Arc::downgrade(&server);
    server
}

/// A store over a fresh database of `server`.
async fn open(server: &PgServer) -> PgMeta {
    let url = server.create_database().unwrap_or_else(|e| panic!("creating a test database: {e}"));
    PgMeta::connect(&url).await.unwrap_or_else(|e| panic!("connecting to {url}: {e}"))
}

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
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    let server = server();
    let store = open(&server).await;
    let started = Instant::now();
    crate::conformance::run_all(&store).await;
    let all = started.elapsed();
    crate::conformance::run_identity(&store).await;
    eprintln!("PostgreSQL conformance: run_all {all:?}, run_identity {:?}", started.elapsed() - all);
    store.close().await;
}

/// Every text column sorts by bytes, whatever the database's own collation: the whole suite again, in a
/// database whose default collation (ICU, English) puts `_x` before `A-1` and ignores punctuation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_in_a_database_with_a_linguistic_collation() {
    let server = server();
    let db = "berth_icu_collation";
    server
        .psql(&format!("CREATE DATABASE {db} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C'"))
        .unwrap_or_else(|e| panic!("creating a database with an ICU collation: {e}"));
    let store = PgMeta::connect(&server.url(db)).await.unwrap();
    let sorted: Vec<String> =
        sqlx::query_scalar("SELECT x FROM unnest(ARRAY['a', 'A-1', '_x', 'V2']) AS x ORDER BY x COLLATE \"default\"")
            .fetch_all(&store.pool)
            .await
            .unwrap();
    assert_ne!(sorted, ["A-1", "V2", "_x", "a"], "the database's own collation is not byte order");
    crate::conformance::run_all(&store).await;
    crate::conformance::run_identity(&store).await;
    store.close().await;
}

/// Nodes starting together against a new database: one applies the migrations, the others wait for it
/// and find them applied. Opening again applies nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations() {
    let server = server();
    let url = server.create_database().unwrap();
    let stores = join_all((0..4).map(|_| PgMeta::connect(&url))).await;
    for store in &stores {
        let store = store.as_ref().expect("every node opens the store");
        assert!(store.is_empty().await.unwrap());
    }
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&stores[0].as_ref().unwrap().pool)
        .await
        .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations-postgres")).unwrap().count();
    assert_eq!(applied as usize, files, "every migration applied once");
    let sqlite = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")).unwrap().count();
    assert_eq!(files, sqlite, "one PostgreSQL migration per SQLite migration");
    PgMeta::connect(&url).await.expect("opening a migrated database");
}

/// The migrations mirror SQLite's one for one: same numbers, same names.
#[test]
fn migrations_mirror_the_sqlite_ones() {
    let names = |dir: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(format!("{}/{dir}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("migrations-postgres"), names("migrations"));
}

/// Workers on several "nodes" (stores with pools of their own) claim one queue at once: every job is
/// claimed exactly once, nobody waits for anybody, and the losers of a race get the next job. Nodes queueing
/// the same work at once make one job of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_claims_race_across_nodes() {
    let server = server();
    let url = server.create_database().unwrap();
    let nodes = [PgMeta::connect(&url).await.unwrap(), PgMeta::connect(&url).await.unwrap()];
    let job = |key: String, at: i64| NewJob {
        kind: "race".into(),
        key,
        payload: "{}".into(),
        max_attempts: 3,
        run_after: at,
        unless_created_since: None,
    };
    let enqueues = (0..80).map(|i| {
        let node = &nodes[i % 2];
        let job = job(format!("k{}", i / 2), i as i64);
        async move { node.enqueue_job(&job, 1).await.unwrap() }
    });
    let enqueued = join_all(enqueues).await;
    let mut ids: Vec<i64> = enqueued.iter().filter_map(|e| e.id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40, "each key queued twice at once is one job");
    let workers = (0..8).map(|w| {
        let node = &nodes[w % 2];
        async move {
            let mut mine = Vec::new();
            while let Some(job) = node.claim_job(&["race"], &format!("worker-{w}"), 100, 150).await.unwrap() {
                mine.push(job.id);
            }
            mine
        }
    });
    let mut claimed: Vec<i64> = join_all(workers).await.into_iter().flatten().collect();
    claimed.sort();
    assert_eq!(claimed, ids, "each job claimed once");
    assert_eq!(nodes[1].claim_job(&["race"], "late", 101, 200).await.unwrap(), None, "leases are held");
    let taken = nodes[1].claim_job(&["race"], "late", 151, 250).await.unwrap().expect("a lapsed lease is taken over");
    assert_eq!(taken.attempts, 2);
}

/// Applies the feed as an exporter does; returns how many entries it read.
async fn drain(store: &PgMeta, journal: &mut BTreeMap<String, String>) -> usize {
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

/// The change feed names every manifest and tag change (triggers of migration 0011), like SQLite's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_manifest_and_tag_change_reaches_the_feed() {
    let server = server();
    let store = open(&server).await;
    assert!(store.is_empty().await.unwrap(), "a new store is empty");
    assert_eq!(store.integrity_check().await.unwrap(), Vec::<String>::new());
    let mut journal = BTreeMap::new();
    assert_eq!(drain(&store, &mut journal).await, 0);

    let app = name("team/app");
    let (a, b) = (manifest(&app, "{\"a\":1}"), manifest(&app, "{\"b\":2}"));
    store.put_manifest(&a, &[tag("latest"), tag("v1")]).await.unwrap();
    store.put_manifest(&b, &[]).await.unwrap();
    assert!(!store.is_empty().await.unwrap());
    drain(&store, &mut journal).await;
    let (ka, kb) = (format!("team/app@{}", a.digest), format!("team/app@{}", b.digest));
    let oci = a.media_type.clone();
    assert_eq!(
        journal,
        BTreeMap::from([
            (ka.clone(), oci.clone()),
            (kb.clone(), oci.clone()),
            ("team/app:latest".to_string(), a.digest.to_string()),
            ("team/app:v1".to_string(), a.digest.to_string()),
        ])
    );
    assert_eq!(drain(&store, &mut journal).await, 0, "exported changes are forgotten");

    store.put_manifest(&b, &[tag("latest")]).await.unwrap();
    store.delete_tag(&app, &tag("v1")).await.unwrap();
    store.delete_manifest(&app, &a.digest).await.unwrap();
    drain(&store, &mut journal).await;
    assert_eq!(
        journal,
        BTreeMap::from([(kb.clone(), oci.clone()), ("team/app:latest".to_string(), b.digest.to_string())])
    );

    let other = name("other");
    store.put_manifest(&manifest(&other, "{\"o\":1}"), &[tag("x")]).await.unwrap();
    store.delete_repository(&app, true).await.unwrap();
    drain(&store, &mut journal).await;
    assert_eq!(journal.len(), 2, "{journal:?}");
    assert!(journal.keys().all(|k| k.starts_with("other")), "{journal:?}");

    let d = Digest::sha256_of(b"layer");
    store.link_blob(&name("b"), &d, 5, 1).await.unwrap();
    store.link_blob(&name("a"), &d, 5, 1).await.unwrap();
    assert_eq!(store.blob_links(&d).await.unwrap(), [name("a"), name("b")]);
    let stray = Digest::sha256_of(b"stray");
    store.record_blob(&stray, 5, 2).await.unwrap();
    store.record_blob(&stray, 5, 3).await.unwrap();
    assert!(store.all_blobs().await.unwrap().contains(&(stray.clone(), 5)));
    assert!(store.blob_links(&stray).await.unwrap().is_empty());
}

/// While pushes commit concurrently, an exporter draining the feed never forgets a change it did not
/// read: the journal it builds ends equal to the tags the store holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_loses_nothing_under_concurrent_writers() {
    let server = server();
    let store = open(&server).await;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let exporter = async {
        let mut journal = BTreeMap::new();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            drain(&store, &mut journal).await;
            tokio::task::yield_now().await;
        }
        drain(&store, &mut journal).await;
        journal
    };
    let pushes = async {
        let writers = (0..6).map(|w| {
            let store = &store;
            async move {
                let r = name(&format!("feed/r{w}"));
                for i in 0..15 {
                    let m = manifest(&r, &format!("{{\"w\":{w},\"i\":{i}}}"));
                    store.put_manifest(&m, &[tag(&format!("t{}", i % 4))]).await.unwrap();
                }
            }
        });
        join_all(writers).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    };
    let (journal, ()) = futures_util::join!(exporter, pushes);
    for w in 0..6 {
        let r = name(&format!("feed/r{w}"));
        for t in 0..4 {
            let want = store.get_manifest(&r, &berth_oci::Reference::Tag(tag(&format!("t{t}")))).await.unwrap();
            assert_eq!(
                journal.get(&format!("{r}:t{t}")).cloned(),
                want.map(|m| m.digest.to_string()),
                "tag t{t} of {r}"
            );
        }
    }
    assert_eq!(journal.len(), 6 * (15 + 4), "every manifest and tag");
}

/// The store outlives a restart of the server: connections it had are replaced, nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_a_server_restart() {
    // A server of its own: restarting the shared one would disturb the other tests.
    let mut server = PgServer::start().unwrap_or_else(|e| panic!("cannot start a test PostgreSQL server: {e}"));
    let store = open(&server).await;
    let r = name("restart/app");
    let d = Digest::sha256_of(b"restart");
    store.link_blob(&r, &d, 7, 1).await.unwrap();
    server.restart().unwrap();
    assert_eq!(store.linked_blob_size(&r, &d).await.unwrap(), Some(7), "committed before the restart");
    store.link_blob(&r, &Digest::sha256_of(b"after"), 8, 2).await.unwrap();
    assert_eq!(store.list_repositories(Page { last: None, n: 10 }).await.unwrap(), [r]);
    store.close().await;
}
