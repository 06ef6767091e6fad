//! Garbage collection at scale: time and peak memory of one whole collection that finds `GARBAGE` unreferenced
//! blobs among `REFERENCED` referenced ones, on the embedded defaults (SQLite + filesystem).
//!
//! ```text
//! cargo run --release -p berth-registry --example gc_collect -- [REFERENCED] [GARBAGE] [DIR]
//! ```
//!
//! Defaults: 1,000,000 referenced and 100,000 unreferenced blobs, DIR a temporary directory under `/var/tmp`
//! (put it on the disk you care about: every review is a durable commit, so fsync latency is most of the cost).
//!
//! The store is filled with SQL in one transaction, shaped as a registry that ran for a while: 1,000
//! repositories, manifests of 10 layers each, every blob linked to its repository and referenced by its
//! manifest (3 rows per referenced blob), the review queue empty (an earlier collection saw them all). Then
//! the manifests of the garbage are deleted, as `DELETE /v2/.../manifests/<digest>` does, which queues their
//! blobs for review through the triggers; their links stay, for the collection to remove. Each garbage blob
//! has a file (one byte) in the blob store. The collection is [`berth_registry::Registry::gc_run`], what a
//! `gc` job runs; peak RSS is the process's VmHWM, reset just before it starts.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use berth_meta::SqliteMeta;
use berth_registry::gc::GcSettings;
use berth_registry::gc_jobs::GC_PASS_LIMIT;
use berth_registry::{Limits, Registry, SystemClock};
use berth_storage::FsBlobStore;
use sqlx::{Connection, SqliteConnection};

/// Blobs per manifest, and repositories the manifests are spread over.
const LAYERS: u64 = 10;
const REPOSITORIES: u64 = 1000;

type Error = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let referenced: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1_000_000);
    let garbage: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100_000);
    let parent = args.next().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/tmp"));
    if !referenced.is_multiple_of(LAYERS) {
        return Err(format!("REFERENCED must be a multiple of {LAYERS} (blobs per manifest)").into());
    }
    let dir = tempfile::tempdir_in(parent)?;
    let db = dir.path().join("meta.db");
    let root = dir.path().join("data");

    // Creates the schema.
    SqliteMeta::open(&db).await?.close().await;
    let started = Instant::now();
    fill(&db, referenced, garbage).await?;
    write_garbage_files(&root, referenced, garbage)?;
    println!(
        "filled {}: {referenced} referenced + {garbage} unreferenced blobs in {:.1} s",
        dir.path().display(),
        started.elapsed().as_secs_f64()
    );

    let meta = SqliteMeta::open(&db).await?;
    let blobs = FsBlobStore::open(&root).await?;
    let registry = Registry::new(Arc::new(meta.clone()), Arc::new(blobs), Arc::new(SystemClock), Limits::default())
        .with_gc_settings(GcSettings { single_process: true, ..GcSettings::default() });

    let rss_before = status_kib("VmRSS")?;
    std::fs::write("/proc/self/clear_refs", "5")?; // resets VmHWM to the current RSS
    let started = Instant::now();
    let report = registry.gc_run(GC_PASS_LIMIT, &()).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM")?;

    let left = std::fs::read_dir(root.join("blobs/sha256"))?
        .map(|d| std::fs::read_dir(d?.path()).map(Iterator::count))
        .sum::<std::io::Result<usize>>()?;
    let status = registry.gc_status().await?;
    println!("collection: {}", report.summary());
    println!(
        "{{\"metric\": \"gc_collect\", \"referenced\": {referenced}, \"garbage\": {garbage}, \"seconds\": {elapsed:.2}, \
         \"blobs_per_s\": {:.0}, \"rss_before_mib\": {:.1}, \"peak_rss_mib\": {:.1}, \"files_left\": {left}, \
         \"queue_left\": {}}}",
        report.reviewed as f64 / elapsed,
        rss_before as f64 / 1024.0,
        peak as f64 / 1024.0,
        status.queued
    );
    meta.close().await;
    if report.blobs_deleted != garbage || left != 0 {
        return Err(format!("expected {garbage} blobs deleted and no file left, got {report:?} and {left}").into());
    }
    Ok(())
}

/// Fills the store with SQL (see the module docs), in one transaction.
async fn fill(db: &Path, referenced: u64, garbage: u64) -> Result<(), Error> {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", db.display())).await?;
    let manifests = (referenced + garbage).div_ceil(LAYERS);
    let referenced_manifests = referenced.div_ceil(LAYERS);
    // Old enough for any grace period.
    let at = 1_000_000_000;
    let mut tx = conn.begin().await?;
    let statements = [
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {REPOSITORIES}) \
             INSERT INTO repositories (id, name, created_at) SELECT i, printf('bench/repo-%04d', i), {at} FROM n"
        ),
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {manifests}) \
             INSERT INTO manifests (id, repository_id, digest, media_type, content, size, pushed_at) \
             SELECT i, (i - 1) % {REPOSITORIES} + 1, printf('sha256:%064x', i), \
                    'application/vnd.oci.image.manifest.v1+json', X'7B7D', 2, {at} FROM n"
        ),
        // Digests spread over the blob store's 256 fan-out directories, like real ones.
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {}) \
             INSERT INTO blobs (digest, size, created_at) SELECT printf('sha256:%02x%062x', i % 256, i), 1, {at} FROM n",
            referenced + garbage
        ),
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {total}) \
             INSERT INTO manifest_blobs (manifest_id, digest) \
             SELECT (i - 1) / {LAYERS} + 1, printf('sha256:%02x%062x', i % 256, i) FROM n",
            total = referenced + garbage
        ),
        format!(
            "INSERT INTO repository_blobs (repository_id, digest, created_at) \
             SELECT m.repository_id, mb.digest, {at} FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id"
        ),
        // An earlier collection reviewed everything; the journal's writer is not running here.
        "DELETE FROM gc_blob_review_queue".to_string(),
        "DELETE FROM journal_changes".to_string(),
        // The garbage's manifests are deleted: the triggers queue their blobs for review.
        format!("DELETE FROM manifests WHERE id > {referenced_manifests}"),
        "DELETE FROM journal_changes".to_string(),
    ];
    for sql in &statements {
        sqlx::query(sql).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM gc_blob_review_queue").fetch_one(&mut conn).await?;
    conn.close().await?;
    if queued as u64 != garbage {
        return Err(format!("{queued} blobs queued for review, expected {garbage}").into());
    }
    Ok(())
}

/// One byte per garbage blob, where the filesystem store keeps it (`blobs/sha256/<xx>/<hex>`).
fn write_garbage_files(root: &Path, referenced: u64, garbage: u64) -> std::io::Result<()> {
    for i in referenced + 1..=referenced + garbage {
        let hex = format!("{:02x}{:062x}", i % 256, i);
        let dir = root.join("blobs/sha256").join(&hex[..2]);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(hex), b"x")?;
    }
    Ok(())
}

/// A `/proc/self/status` figure in KiB.
fn status_kib(field: &str) -> Result<u64, Error> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find(|l| l.starts_with(field)).ok_or("no such field")?;
    Ok(line.split_whitespace().nth(1).ok_or("malformed")?.parse()?)
}
