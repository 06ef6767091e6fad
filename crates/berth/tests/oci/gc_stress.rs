//! Garbage collection under stress, black box: 32 concurrent pushers sharing layers (and deleting every third
//! image they push) while collections run back to back with no grace period; a `kill -9` of the server while
//! a collection runs under those pushes; a restart on the same data directory and more of the same. At the
//! end every manifest a pusher was told was stored pulls with verified digests, and `berth fsck` finds no
//! orphan and no missing blob. `BERTH_GC_STRESS_SECS` sets how long the pushers run in all (default 20,
//! split between the two lives of the server); set it to a few hundred for a long run.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::gc::{Acked, collect, fsck, idle, pull_verified, pusher};
use crate::support::Server;

const PUSHERS: usize = 32;

fn stress_secs() -> u64 {
    std::env::var("BERTH_GC_STRESS_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(20).max(2)
}

/// Collects back to back for at least `secs`, and on (240 s at most in all) until the pushers hold at least
/// `want` acknowledged images: how much a loaded machine pushes in a given time is not the test's business,
/// that enough was pushed under collections is. Returns how many collections finished.
async fn collect_for(s: &Server, secs: u64, acked: &Acked, want: usize) -> u32 {
    let started = Instant::now();
    let mut runs = 0;
    let more = || acked.lock().unwrap().len() < want && started.elapsed() < Duration::from_secs(240);
    while started.elapsed() < Duration::from_secs(secs) || more() {
        collect(s).await;
        runs += 1;
    }
    runs
}

/// 32 pushers on `s` (worker numbers from `first`), stopped by the returned flag.
fn pushers(
    s: &Arc<Server>,
    first: usize,
    acked: &Acked,
) -> (Arc<AtomicBool>, Vec<tokio::task::JoinHandle<(u32, u32)>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let handles =
        (first..first + PUSHERS).map(|w| tokio::spawn(pusher(s.clone(), w, acked.clone(), stop.clone()))).collect();
    (stop, handles)
}

async fn stop_all(stop: Arc<AtomicBool>, handles: Vec<tokio::task::JoinHandle<(u32, u32)>>) -> (u32, u32) {
    stop.store(true, Ordering::Relaxed);
    let (mut pushed, mut refused) = (0, 0);
    for h in handles {
        let (p, r) = h.await.unwrap();
        pushed += p;
        refused += r;
    }
    (pushed, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gc_stress_with_kill_9_loses_nothing_acknowledged() {
    let secs = stress_secs();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    // Scheduled collections every second besides the ones asked for; deletes are final at once.
    let env = [("BERTH_GC_GRACE", "0s"), ("BERTH_GC_INTERVAL", "1"), ("BERTH_SOFT_DELETE_WINDOW", "0")];
    let acked: Acked = Default::default();

    // First life: pushes and collections, then a kill -9 while a collection runs and the pushers push.
    let s = Arc::new(Server::start_with(&dir, &env));
    let (stop, handles) = pushers(&s, 0, &acked);
    let runs = collect_for(&s, secs / 2, &acked, PUSHERS + 1).await;
    let job = s.admin("RunGarbageCollection", json!({})).await["jobId"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.admin("DescribeJob", json!({"jobId": job})).await["job"]["state"] != "running" {
        assert!(Instant::now() < deadline, "collection job {job} never ran");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let deleted_before = s.admin("GetGarbageCollectionStatus", json!({})).await["blobsDeleted"].as_u64().unwrap();
    Command::new("kill").arg("-9").arg(Server::pid_of(&s).to_string()).status().unwrap();
    let (pushed, refused) = stop_all(stop, handles).await;
    eprintln!(
        "before the kill: {pushed} images pushed, {refused} refused, {runs} collections, {deleted_before} blobs deleted"
    );
    assert!(acked.lock().unwrap().len() > PUSHERS, "the pushers made progress: {pushed} pushed, {refused} refused");
    drop(s);

    // Second life on the same data directory: the cut-short collection is taken over, more of the same.
    let s = Arc::new(Server::start_with(&dir, &env));
    let (stop, handles) = pushers(&s, PUSHERS, &acked);
    let kept = acked.lock().unwrap().len();
    let runs = collect_for(&s, secs - secs / 2, &acked, kept + PUSHERS).await;
    let (pushed, refused) = stop_all(stop, handles).await;
    collect(&s).await;
    let st = idle(&s).await;
    eprintln!("after the restart: {pushed} images pushed, {refused} refused, {runs} collections, status {st}");
    assert!(st["blobsDeleted"].as_u64().unwrap() > deleted_before, "collections went on: {st}");
    assert_eq!((st["deleting"].as_u64(), st["commitsInFlight"].as_u64()), (Some(0), Some(0)), "{st}");

    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > PUSHERS, "{} images to check", acked.len());
    for ((repo, _), d) in &acked {
        pull_verified(&s, repo, d).await;
    }
    let mut s = Arc::into_inner(s).expect("pushers done");
    s.stop();
    let report = fsck(&dir, &[]);
    assert_eq!(report["problems"], json!([]), "fsck problems (a missing blob): {report}");
    // Pushes cut short by the kill leave the bytes of their upload sessions (any crash does, GC or not);
    // nothing else: no orphan blob.
    for leftover in report["leftovers"].as_array().unwrap() {
        let leftover = leftover.as_str().unwrap();
        assert!(leftover.starts_with("upload bytes "), "fsck leftover after the stress: {leftover}");
    }
}
