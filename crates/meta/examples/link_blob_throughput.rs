//! Throughput of durable writes: `N` `link_blob` calls from `TASKS` concurrent tasks against a fresh
//! database, printed as operations per second. Shows what group commit buys: without it every commit pays
//! its own fsync and the rate is about 1 / fsync latency, whatever the concurrency.
//!
//! ```text
//! cargo run --release -p berth-meta --example link_blob_throughput -- [N] [TASKS] [DIR]
//! ```
//!
//! Defaults: N = 2000, TASKS = 32, DIR = a temporary directory. Put DIR on the disk you care about (a
//! tmpfs makes fsync free and the number meaningless).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use berth_meta::{BlobIndex, SqliteMeta};
use berth_oci::{Digest, RepositoryName};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2000);
    let tasks: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(32);
    let dir = match args.next() {
        Some(dir) => tempfile::tempdir_in(PathBuf::from(dir))?,
        None => tempfile::tempdir()?,
    };
    let store = SqliteMeta::open(&dir.path().join("meta.db")).await?;
    let repo: RepositoryName = "bench/throughput".parse()?;
    let digests: Arc<Vec<Digest>> = Arc::new((0..n).map(|i| Digest::sha256_of(format!("{i}").as_bytes())).collect());
    let next = Arc::new(AtomicUsize::new(0));

    let started = Instant::now();
    let workers: Vec<_> = (0..tasks)
        .map(|_| {
            let (store, repo, digests, next) = (store.clone(), repo.clone(), Arc::clone(&digests), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(digest) = digests.get(i) else { return Ok::<_, berth_meta::MetaError>(()) };
                    store.link_blob(&repo, digest, 1, 1).await?;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    let elapsed = started.elapsed();

    println!(
        "{n} link_blob calls, {tasks} tasks, {}: {:.2} s, {:.0} ops/s",
        dir.path().display(),
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    store.close().await;
    Ok(())
}
