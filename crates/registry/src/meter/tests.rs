use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use berth_meta::SqliteMeta;
use berth_meta::meter::{MeterCount, MeterStore};

use super::*;

struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

fn count(repository: &str, subject: &str, operation: &str, requests: u64, bytes_in: u64, bytes_out: u64) -> MeterCount {
    MeterCount {
        repository: repository.into(),
        subject: subject.into(),
        operation: operation.into(),
        requests,
        bytes_in,
        bytes_out,
    }
}

async fn store() -> (tempfile::TempDir, Arc<SqliteMeta>) {
    let dir = tempfile::tempdir().unwrap();
    let meta = Arc::new(SqliteMeta::open(&dir.path().join("meta.db")).await.unwrap());
    (dir, meta)
}

#[tokio::test]
async fn the_batch_adds_up_per_hour_of_the_request_and_flushes_once() {
    let (_dir, meta) = store().await;
    let clock = Arc::new(TestClock(AtomicI64::new(7200 + 3590)));
    let meter = Meter::new(meta.clone(), clock.clone());
    meter.record("a/x", "arn:user/alice", "GET", 0, 100);
    meter.record("a/x", "arn:user/alice", "GET", 0, 50);
    meter.record("a/x", "ip:192.0.2.9", "GET", 0, 7);
    // The next hour begins before the flush: the requests stay in their own hours.
    clock.0.store(3 * 3600 + 1, Ordering::Relaxed);
    meter.record("a/x", "arn:user/alice", "PUT", 1000, 0);
    meter.add_bytes_out("a/x", "arn:user/alice", "PUT", 5);
    meter.flush().await.unwrap();
    assert_eq!(
        meta.meter_totals(7200, 3 * 3600).await.unwrap(),
        [count("a/x", "arn:user/alice", "GET", 2, 0, 150), count("a/x", "ip:192.0.2.9", "GET", 1, 0, 7)]
    );
    assert_eq!(
        meta.meter_totals(3 * 3600, 4 * 3600).await.unwrap(),
        [count("a/x", "arn:user/alice", "PUT", 1, 1000, 5)],
        "add_bytes_out adds bytes, not a request"
    );
    meter.flush().await.unwrap();
    assert_eq!(meta.meter_totals(0, 4 * 3600).await.unwrap().len(), 3, "a second flush has nothing to add");
    meter.record("a/x", "arn:user/alice", "PUT", 1, 0);
    meter.flush().await.unwrap();
    assert_eq!(meta.meter_totals(3 * 3600, 4 * 3600).await.unwrap()[0].requests, 2, "later batches add");

    // Off: nothing is counted.
    meter.set_enabled(false);
    meter.record("a/x", "arn:user/alice", "PUT", 1, 0);
    meter.flush().await.unwrap();
    assert_eq!(meta.meter_totals(3 * 3600, 4 * 3600).await.unwrap()[0].requests, 2);

    // Pruning keeps the retention.
    clock.0.store(4 * 3600 + 10, Ordering::Relaxed);
    assert_eq!(meter.prune(Duration::from_secs(3600)).await.unwrap(), 2, "the hour at 7200 is older than an hour");
    assert_eq!(meta.meter_totals(0, 4 * 3600).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_failed_flush_keeps_its_counts() {
    let (_dir, meta) = store().await;
    let clock = Arc::new(TestClock(AtomicI64::new(3600)));
    let meter = Meter::new(meta.clone(), clock);
    meter.record("a/x", "s", "GET", 3, 4);
    meta.close().await;
    assert!(meter.flush().await.is_err(), "the store is closed");
    meter.record("a/x", "s", "GET", 1, 1);
    let pending = meter.take();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending.values().next(), Some(&Counts { requests: 2, bytes_in: 4, bytes_out: 5 }));
}

#[test]
fn reports_group_and_price() {
    let h = 3600;
    let gib = 1u64 << 30;
    let counts = [
        count("", "arn:user/alice", "admin:ListUsers", 2, 10, 20),
        count("team-a/app", "arn:user/alice", "PUT blob", 3, 2 * gib, 0),
        count("team-a/app", "ip:192.0.2.1", "GET blob", 10, 0, 3 * gib),
        count("team-a/lib", "arn:user/bob", "GET blob", 1, 0, gib),
        count("solo", "arn:user/bob", "GET blob", 1, 0, 0),
    ];
    // 730 hours of 1 GiB in team-a/app is one GB-month; team-a/lib shares it (deduplicated: 1 GiB).
    let storage = [
        (String::new(), 730 * u128::from(gib)),
        ("team-a/app".to_string(), 730 * u128::from(gib)),
        ("team-a/lib".to_string(), 365 * u128::from(gib)),
        ("gone".to_string(), 0),
    ];
    let to = 730 * h;

    let by_repo = report(0, to, GroupBy::Repository, &counts, &storage, None);
    let keys: Vec<&str> = by_repo.lines.iter().map(|l| l.key.as_str()).collect();
    assert_eq!(keys, ["", "gone", "solo", "team-a/app", "team-a/lib"]);
    let app = &by_repo.lines[3];
    assert_eq!((app.requests, app.bytes_in, app.bytes_out), (13, 2 * gib, 3 * gib));
    assert_eq!(app.gb_months(), Some(1.0));
    assert_eq!(by_repo.lines[4].gb_months(), Some(0.5));
    assert_eq!(by_repo.lines[0].byte_hours, Some(0), "a line of a grouping with storage always has a figure");
    assert_eq!(by_repo.total.requests, 17);
    assert_eq!(by_repo.total.gb_months(), Some(1.5), "the sum of the repositories");
    assert_eq!(gb_months(by_repo.deduplicated_byte_hours), 1.0);
    assert_eq!(by_repo.total.cost, None);

    let by_ns = report(0, to, GroupBy::Namespace, &counts, &storage, None);
    let keys: Vec<&str> = by_ns.lines.iter().map(|l| l.key.as_str()).collect();
    assert_eq!(keys, ["", "gone", "solo", "team-a"]);
    assert_eq!(by_ns.lines[3].requests, 14);
    assert_eq!(by_ns.lines[3].gb_months(), Some(1.5));

    let by_principal = report(0, to, GroupBy::Principal, &counts, &storage, None);
    let keys: Vec<&str> = by_principal.lines.iter().map(|l| l.key.as_str()).collect();
    assert_eq!(keys, ["arn:user/alice", "arn:user/bob", "ip:192.0.2.1"], "storage has no principal");
    assert!(by_principal.lines.iter().all(|l| l.byte_hours.is_none()));
    assert_eq!(by_principal.total.byte_hours, None);
    assert_eq!(by_principal.lines[0].bytes_in, 2 * gib + 10);

    let by_op = report(0, to, GroupBy::Operation, &counts, &storage, None);
    assert_eq!(by_op.lines.iter().find(|l| l.key == "GET blob").unwrap().requests, 12);

    // Prices: one month (730 h), 4 GiB + 20 B out, 1 GB free: (4 GiB + 20 B - 1 GiB) billable, shared in
    // proportion; storage at the line's own GB-months.
    let pricing = Pricing { storage_gb_month: 0.10, transfer_out_gb: 0.09, free_transfer_out_gb: 1.0 };
    let priced = report(0, to, GroupBy::Repository, &counts, &storage, Some(pricing));
    let total_out = (4 * gib + 20) as f64 / GB;
    let share = (total_out - 1.0) / total_out;
    let app = &priced.lines[3];
    let expected = 3.0 * share * 0.09 + 0.10;
    assert!((app.cost.unwrap() - expected).abs() < 1e-9, "{:?} vs {expected}", app.cost);
    let sum: f64 = priced.lines.iter().map(|l| l.cost.unwrap()).sum();
    assert!((priced.total.cost.unwrap() - sum).abs() < 1e-9, "lines add up to the total");
    let transfer_total = (total_out - 1.0) * 0.09;
    assert!((priced.total.cost.unwrap() - (transfer_total + 0.15)).abs() < 1e-9);
    assert!((priced.deduplicated_cost().unwrap() - 0.10).abs() < 1e-9);

    // The free allowance is prorated: over a day (24 h) it is 24/730 of 1 GB; everything beyond is billed.
    let day = report(0, 24 * h, GroupBy::Principal, &counts, &[], Some(pricing));
    let free = 24.0 / 730.0;
    assert!((day.total.cost.unwrap() - (total_out - free) * 0.09).abs() < 1e-9);
    // Under the allowance nothing is billed.
    let generous = Pricing { free_transfer_out_gb: 1e6, ..pricing };
    assert_eq!(report(0, to, GroupBy::Operation, &counts, &[], Some(generous)).total.cost, Some(0.0));
}

#[test]
fn namespaces_and_groupings() {
    assert_eq!(namespace("team-a/app/x"), "team-a");
    assert_eq!(namespace("solo"), "solo");
    for g in ["repository", "principal", "namespace", "operation"] {
        assert_eq!(GroupBy::parse(g).unwrap().as_str(), g);
    }
    assert_eq!(GroupBy::parse("day"), None);
}
