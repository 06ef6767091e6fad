//! The metering store: additions from several batches (and nodes) add up per (hour, repository, subject,
//! operation); totals sum a range of hours; storage snapshots give byte-hours; pruning drops old hours.

use super::{blob, repo};
use crate::MetaStore;
use crate::meter::MeterCount;

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

pub async fn meter<S: MetaStore>(store: &S) {
    // Made-up hours far from other checks' times (day 20 onwards).
    let h0 = 20 * crate::DAY;
    let (h1, h2) = (h0 + 3600, h0 + 7200);
    let alice = "arn:aws:iam::123456789012:user/conf-alice";
    let put = "/v2/{name}/blobs/uploads/{uuid}";
    store
        .add_meter(h0, &[count("conf-meter/a", alice, put, 1, 100, 0), count("conf-meter/a", alice, put, 2, 50, 7)])
        .await
        .expect("add_meter");
    // Another batch (another node) adds to the same row.
    store.add_meter(h0, &[count("conf-meter/a", alice, put, 1, 1, 1)]).await.unwrap();
    store.add_meter(h1, &[count("conf-meter/a", "ip:192.0.2.1", "GET /v2/", 5, 0, 10)]).await.unwrap();
    store.add_meter(h2, &[count("", alice, "admin:ListUsers", 1, 0, 3)]).await.unwrap();
    store.add_meter(h2, &[]).await.expect("an empty batch adds nothing");

    let first_two = store.meter_totals(h0, h2).await.unwrap();
    assert_eq!(
        first_two,
        [count("conf-meter/a", alice, put, 4, 151, 8), count("conf-meter/a", "ip:192.0.2.1", "GET /v2/", 5, 0, 10)],
        "hours [h0, h2): summed per key, in key order"
    );
    let all = store.meter_totals(h0, h2 + 3600).await.unwrap();
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!(all[0], count("", alice, "admin:ListUsers", 1, 0, 3), "'' sorts first");
    assert_eq!(store.meter_totals(h2 + 3600, h2 + 7200).await.unwrap(), [], "an empty range");

    // Storage: two snapshots in one hour keep the later one; each hour counts once.
    let a = repo("conf-meter/a");
    store.link_blob(&a, &blob("conf-meter one"), 1000, 1).await.unwrap();
    store.record_storage(h0 + 10).await.unwrap();
    store.link_blob(&a, &blob("conf-meter two"), 24, 1).await.unwrap();
    store.record_storage(h0 + 20).await.unwrap();
    store.record_storage(h1 + 5).await.unwrap();
    let byte_hours = store.storage_byte_hours(h0, h2).await.unwrap();
    let of = |name: &str| byte_hours.iter().find(|(r, _)| r == name).map(|(_, b)| *b);
    assert_eq!(of("conf-meter/a"), Some(2 * 1024), "{byte_hours:?}");
    let stored = store.registry_storage().await.unwrap().stored_bytes;
    assert_eq!(of(""), Some(2 * u128::from(stored)), "the registry's deduplicated storage, two hours");
    assert_eq!(
        store.storage_byte_hours(h1, h2).await.unwrap().iter().find(|(r, _)| r == "conf-meter/a").map(|(_, b)| *b),
        Some(1024)
    );

    // Pruning drops the hours before the cut, rows of both tables.
    let pruned = store.prune_meter(h1).await.unwrap();
    assert!(pruned >= 2, "two meter rows of h0 and its snapshots: {pruned}");
    assert_eq!(store.meter_totals(h0, h1).await.unwrap(), []);
    assert!(store.storage_byte_hours(h0, h1).await.unwrap().is_empty());
    assert_eq!(store.meter_totals(h1, h2).await.unwrap().len(), 1, "later hours stay");
    store.prune_meter(h2 + 3600).await.unwrap();
}
