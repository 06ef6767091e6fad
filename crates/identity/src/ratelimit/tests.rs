//! The limiter with a fake clock (times passed in) over an in-memory store, and two limiters over one SQLite
//! store standing in for two nodes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use berth_meta::MetaError;

use super::*;

/// (limit, subject, window start) → (window end, count).
type Rows = HashMap<(String, String, i64), (i64, u64)>;

/// The store's arithmetic in memory, able to fail, counting reports.
#[derive(Default)]
struct MemoryStore {
    rows: Mutex<Rows>,
    failing: AtomicBool,
    reports: AtomicUsize,
}

impl MemoryStore {
    fn total(&self, kind: LimitKind, subject: &str, window_start: i64) -> u64 {
        let rows = self.rows.lock().unwrap();
        rows.get(&(kind.label().to_string(), subject.to_string(), window_start)).map_or(0, |r| r.1)
    }
}

#[async_trait]
impl RateLimitStore for MemoryStore {
    async fn add_rate_counts(&self, counts: &[RateCount]) -> berth_meta::Result<Vec<u64>> {
        self.reports.fetch_add(1, Ordering::Relaxed);
        // A round trip: other requests run meanwhile.
        tokio::task::yield_now().await;
        if self.failing.load(Ordering::Relaxed) {
            return Err(MetaError::Corrupt("the store is down".into()));
        }
        let mut rows = self.rows.lock().unwrap();
        Ok(counts
            .iter()
            .map(|c| {
                let row = rows.entry((c.limit.clone(), c.subject.clone(), c.window_start)).or_insert((c.window_end, 0));
                row.1 += c.delta;
                row.1
            })
            .collect())
    }

    async fn prune_rate_counts(&self, now: i64) -> berth_meta::Result<u64> {
        let mut rows = self.rows.lock().unwrap();
        let before = rows.len();
        rows.retain(|_, (end, _)| *end > now);
        Ok((before - rows.len()) as u64)
    }
}

fn pulls(limit: u64, window: u64) -> RateLimits {
    RateLimits { manifest_pulls: Some(Rate::new(limit, window).unwrap()), ..RateLimits::default() }
}

fn alice() -> Subject {
    Subject::Principal("arn:aws:iam::123456789012:user/alice".into())
}

/// 10 seconds into an hour-aligned window (1_800_000_000 is 500,000 hours).
const T0: i64 = 1_800_000_000 + 10;

#[test]
fn windows_are_fixed_and_aligned_to_the_epoch() {
    let r = Rate::new(100, 6 * 3600).unwrap();
    assert_eq!(r.window_at(0), (0, 21_600));
    assert_eq!(r.window_at(21_599), (0, 21_600));
    assert_eq!(r.window_at(21_600), (21_600, 43_200));
    assert_eq!(r.window_at(-1), (-21_600, 0), "before the epoch too");
    assert_eq!((r.window_label(), r.to_string()), ("6h".into(), "100 per 6h".into()));
    let labels: Vec<String> =
        [1, 59, 60, 90, 3600, 86_400, 172_800].iter().map(|&w| Rate::new(1, w).unwrap().window_label()).collect();
    assert_eq!(labels, ["1s", "59s", "1m", "90s", "1h", "1d", "2d"]);
    assert!(Rate::new(0, 60).is_err() && Rate::new(1, 0).is_err() && Rate::new(1, u64::MAX).is_err());
    let slacks: Vec<u64> = [1, 3, 10, 11, 100, 6000].iter().map(|&n| Rate::new(n, 60).unwrap().slack()).collect();
    assert_eq!(slacks, [1, 1, 1, 2, 10, 600]);
}

#[tokio::test]
async fn one_node_admits_exactly_the_limit_per_window_and_says_what_is_left() {
    let store = Arc::new(MemoryStore::default());
    let l = RateLimiter::new(pulls(3, 3600), store.clone());
    let mut left = Vec::new();
    for i in 0..3 {
        left.push(l.admit(LimitKind::ManifestPulls, &alice(), T0 + i).await.unwrap().unwrap().remaining);
    }
    assert_eq!(left, [2, 1, 0]);
    let refused = l.admit(LimitKind::ManifestPulls, &alice(), T0 + 100).await.unwrap_err();
    assert_eq!((refused.retry_after, refused.first), (3600 - 10 - 100, true));
    assert_eq!(refused.subject, "arn:aws:iam::123456789012:user/alice");
    let message = refused.to_string();
    assert!(message.contains("3 manifest pulls per 1h") && message.contains("retry in 3490 seconds"), "{message}");
    let again = l.admit(LimitKind::ManifestPulls, &alice(), T0 + 101).await.unwrap_err();
    assert!(!again.first, "one audit-worthy refusal per window");
    assert_eq!(l.peek(LimitKind::ManifestPulls, &alice(), T0 + 102).await.unwrap().remaining, 0);

    // Others are counted apart; a limit that is not configured counts nothing.
    let bob = Subject::Principal("arn:aws:iam::123456789012:user/bob".into());
    assert_eq!(l.admit(LimitKind::ManifestPulls, &bob, T0).await.unwrap().unwrap().remaining, 2);
    assert_eq!(l.admit(LimitKind::Requests, &alice(), T0).await.unwrap(), None);
    assert_eq!(l.peek(LimitKind::AnonymousManifestPulls, &Subject::address(None), T0).await, None);

    // The next window starts over, and so does the store's counter.
    let next = T0 - 10 + 3600;
    assert_eq!(l.admit(LimitKind::ManifestPulls, &alice(), next).await.unwrap().unwrap().remaining, 2);
    assert_eq!(l.peek(LimitKind::ManifestPulls, &alice(), next).await.unwrap().remaining, 2);
    l.sync(next).await.unwrap();
    let alice_at = |start| store.total(LimitKind::ManifestPulls, "arn:aws:iam::123456789012:user/alice", start);
    assert_eq!(alice_at(next), 1);
    // The third pull of the ended window was never reported (nothing asked for the total after it): no matter,
    // the window is over. Bob's pull was, by the sync, before his ended counter was forgotten.
    assert_eq!(alice_at(next - 3600), 2);
    assert_eq!(store.total(LimitKind::ManifestPulls, bob.key(), next - 3600), 1);
    assert_eq!(l.peek(LimitKind::ManifestPulls, &bob, next).await.unwrap().remaining, 3, "bob's new window");
    assert_eq!(l.prune(next).await.unwrap(), 2, "alice's and bob's ended windows");
}

#[tokio::test]
async fn peeking_counts_nothing() {
    let l = RateLimiter::new(pulls(2, 60), Arc::new(MemoryStore::default()));
    for _ in 0..5 {
        assert_eq!(l.peek(LimitKind::ManifestPulls, &alice(), T0).await.unwrap().remaining, 2);
    }
    l.admit(LimitKind::ManifestPulls, &alice(), T0).await.unwrap();
    assert_eq!(l.peek(LimitKind::ManifestPulls, &alice(), T0).await.unwrap().remaining, 1);
}

#[tokio::test]
async fn a_node_reads_a_new_counter_then_reports_once_it_is_a_slack_ahead_and_every_sync() {
    let store = Arc::new(MemoryStore::default());
    let l = RateLimiter::new(pulls(100, 3600), store.clone());
    let reports = || store.reports.load(Ordering::Relaxed);
    l.admit(LimitKind::ManifestPulls, &alice(), T0).await.unwrap();
    assert_eq!(reports(), 1, "a new counter is read before its first request is admitted");
    for i in 1..10 {
        l.admit(LimitKind::ManifestPulls, &alice(), T0 + i).await.unwrap();
    }
    assert_eq!(reports(), 1, "then up to the slack (10) without the store");
    l.admit(LimitKind::ManifestPulls, &alice(), T0 + 10).await.unwrap();
    assert_eq!(reports(), 2, "the 11th reports the first 10 before it is counted");
    assert_eq!(store.total(LimitKind::ManifestPulls, alice().key(), T0 - 10), 10);
    l.sync(T0 + 11).await.unwrap();
    assert_eq!(store.total(LimitKind::ManifestPulls, alice().key(), T0 - 10), 11, "the periodic report");
    l.sync(T0 + 12).await.unwrap();
    assert_eq!(reports(), 3, "nothing new, nothing reported");
}

/// A restarted node (or one that never served this subject) knows the total before it admits anything.
#[tokio::test]
async fn a_restarted_node_reads_the_total_first() {
    let store: Arc<dyn RateLimitStore> = Arc::new(MemoryStore::default());
    let before = RateLimiter::new(pulls(100, 3600), store.clone());
    for _ in 0..100 {
        before.admit(LimitKind::ManifestPulls, &alice(), T0).await.unwrap();
    }
    before.sync(T0).await.unwrap();
    drop(before);
    let after = RateLimiter::new(pulls(100, 3600), store);
    assert_eq!(after.peek(LimitKind::ManifestPulls, &alice(), T0 + 1).await.unwrap().remaining, 0);
    let refused = after.admit(LimitKind::ManifestPulls, &alice(), T0 + 1).await.unwrap_err();
    assert_eq!(refused.retry_after, 3600 - 11);
}

/// Requests waiting for a read at once share one report instead of queueing one each behind the gate.
#[tokio::test]
async fn concurrent_first_requests_share_reads() {
    let store = Arc::new(MemoryStore::default());
    let l = RateLimiter::new(
        RateLimits { anonymous_manifest_pulls: Some(Rate::new(5, 60).unwrap()), ..RateLimits::default() },
        store.clone(),
    );
    let l = Arc::new(l);
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..200u8 {
        let l = l.clone();
        let subject = Subject::address(Some(IpAddr::from([10, 1, 0, i])));
        requests.spawn(async move { l.admit(LimitKind::AnonymousManifestPulls, &subject, T0).await });
    }
    while let Some(admitted) = requests.join_next().await {
        assert_eq!(admitted.unwrap().unwrap().unwrap().remaining, 4);
    }
    let reports = store.reports.load(Ordering::Relaxed);
    assert!(reports <= 3, "200 new subjects read in {reports} reports");
}

/// N nodes over one store, requests arriving at any of them in any order, reports at any time: a window admits
/// at least the limit (while requests keep coming) and at most `limit + (N - 1) × slack`.
#[tokio::test]
async fn nodes_over_one_store_overshoot_by_at_most_n_minus_one_slacks() {
    for (nodes, limit) in [(2usize, 100u64), (3, 100), (3, 7), (4, 1), (2, 1000)] {
        for seed in 0..20u64 {
            let store: Arc<dyn RateLimitStore> = Arc::new(MemoryStore::default());
            let ls: Vec<RateLimiter> =
                (0..nodes).map(|_| RateLimiter::new(pulls(limit, 3600), store.clone())).collect();
            let slack = Rate::new(limit, 3600).unwrap().slack();
            let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let mut next = || {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                (state >> 33) as usize
            };
            let mut admitted = 0u64;
            for step in 0..(limit as usize * 3 + 50) {
                let node = next() % nodes;
                if next() % 7 == 0 {
                    ls[node].sync(T0 + step as i64).await.unwrap();
                }
                if ls[node].admit(LimitKind::ManifestPulls, &alice(), T0 + step as i64).await.is_ok() {
                    admitted += 1;
                }
            }
            let bound = limit + (nodes as u64 - 1) * slack;
            assert!(admitted >= limit, "{nodes} nodes, limit {limit}, seed {seed}: only {admitted} admitted");
            assert!(admitted <= bound, "{nodes} nodes, limit {limit}, seed {seed}: {admitted} > {bound}");
        }
    }
}

/// The bound is reached: every node knows the total is one slack short of the limit, then each admits its
/// slack before it next reports.
#[tokio::test]
async fn the_worst_case_reaches_the_bound_and_no_further() {
    let store: Arc<dyn RateLimitStore> = Arc::new(MemoryStore::default());
    let (a, b) = (RateLimiter::new(pulls(100, 3600), store.clone()), RateLimiter::new(pulls(100, 3600), store));
    let mut admitted = 0;
    // A admits 90 (reporting every 10); B reads the total.
    for _ in 0..90 {
        a.admit(LimitKind::ManifestPulls, &alice(), T0).await.unwrap();
        admitted += 1;
    }
    a.sync(T0).await.unwrap();
    b.admit(LimitKind::ManifestPulls, &alice(), T0).await.unwrap();
    b.sync(T0).await.unwrap();
    admitted += 1;
    // Both now think 91 of 100 are used; each may run a slack (10) ahead of that.
    for _ in 0..20 {
        for l in [&a, &b] {
            if l.admit(LimitKind::ManifestPulls, &alice(), T0).await.is_ok() {
                admitted += 1;
            }
        }
    }
    assert!(admitted > 100 && admitted <= 110, "{admitted}");
    a.sync(T0).await.unwrap();
    b.sync(T0).await.unwrap();
    for l in [&a, &b] {
        assert!(l.admit(LimitKind::ManifestPulls, &alice(), T0).await.is_err(), "both know it is used up");
    }
}

#[tokio::test]
async fn a_failing_store_refuses_nothing_the_node_itself_would_admit_and_catches_up() {
    let store = Arc::new(MemoryStore::default());
    let l = RateLimiter::new(pulls(5, 3600), store.clone());
    store.failing.store(true, Ordering::Relaxed);
    let mut left = Vec::new();
    for i in 0..6 {
        left.push(l.admit(LimitKind::ManifestPulls, &alice(), T0 + i).await.map(|q| q.unwrap().remaining));
    }
    assert_eq!(left[..5], [Ok(4), Ok(3), Ok(2), Ok(1), Ok(0)], "counted on this node");
    assert!(left[5].is_err(), "and limited on this node");
    assert!(store.reports.load(Ordering::Relaxed) <= 2, "requests stop reporting after a failure");
    assert!(l.sync(T0 + 7).await.is_err());
    store.failing.store(false, Ordering::Relaxed);
    l.sync(T0 + 8).await.unwrap();
    assert_eq!(store.total(LimitKind::ManifestPulls, alice().key(), T0 - 10), 5, "nothing lost");
}

#[tokio::test]
async fn a_node_forgets_ended_windows() {
    let store = Arc::new(MemoryStore::default());
    let l = RateLimiter::new(pulls(100, 60), store.clone());
    for i in 0..1000 {
        let s = Subject::address(Some(IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8])));
        l.admit(LimitKind::ManifestPulls, &s, T0).await.unwrap();
    }
    assert_eq!(l.counters().len(), 1000);
    l.sync(T0 + 60).await.unwrap();
    assert!(l.counters().is_empty(), "the window ended");
}

#[test]
fn anonymous_callers_are_counted_by_address_and_ipv6_by_its_64() {
    let v4 = Subject::address(Some("192.0.2.7".parse().unwrap()));
    assert_eq!(v4.key(), "ip:192.0.2.7");
    let mapped = Subject::address(Some("::ffff:192.0.2.7".parse().unwrap()));
    assert_eq!(mapped, v4, "an IPv4-mapped address is the IPv4 address");
    let a = Subject::address(Some("2001:db8:1:2:aaaa::1".parse().unwrap()));
    let b = Subject::address(Some("2001:db8:1:2:bbbb::9".parse().unwrap()));
    let c = Subject::address(Some("2001:db8:1:3::1".parse().unwrap()));
    assert_eq!((a.key(), a == b, a == c), ("ip:2001:db8:1:2::/64", true, false));
    assert_eq!(Subject::address(None).key(), "ip:unknown");
    assert_eq!((v4.pull_kind(), alice().pull_kind()), (LimitKind::AnonymousManifestPulls, LimitKind::ManifestPulls));
}

/// Two limiters over one SQLite store (two processes cannot share one SQLite file as berth nodes, but the
/// arithmetic is the store's): the bound holds, and each node sees the other's counts.
#[tokio::test]
async fn two_limiters_over_one_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn RateLimitStore> =
        Arc::new(berth_meta::SqliteMeta::open(&dir.path().join("meta.db")).await.unwrap());
    let limits = RateLimits { requests: Some(Rate::new(30, 60).unwrap()), ..RateLimits::default() };
    let (a, b) = (RateLimiter::new(limits, store.clone()), RateLimiter::new(limits, store.clone()));
    let mut admitted = 0;
    for i in 0..100 {
        let node = if i % 3 == 0 { &a } else { &b };
        if node.admit(LimitKind::Requests, &alice(), T0).await.is_ok() {
            admitted += 1;
        }
    }
    assert!((30..=33).contains(&admitted), "{admitted} admitted; bound 30 + 3");
    a.sync(T0).await.unwrap();
    b.sync(T0).await.unwrap();
    let total = store
        .add_rate_counts(&[RateCount {
            limit: "requests".into(),
            subject: alice().key().into(),
            window_start: T0 - 10,
            window_end: T0 + 50,
            delta: 0,
        }])
        .await
        .unwrap();
    assert_eq!(total, [admitted], "every admitted request is in the store, once");
}
