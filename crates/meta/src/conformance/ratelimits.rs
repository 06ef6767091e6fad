//! Rate limit counters.

use crate::MetaStore;
use crate::ratelimits::RateCount;

fn count(limit: &str, subject: &str, window_start: i64, delta: u64) -> RateCount {
    RateCount {
        limit: limit.into(),
        subject: format!("conf-ratelimits:{subject}"),
        window_start,
        window_end: window_start + 100,
        delta,
    }
}

/// Reports add up per (limit, subject, window) and read back the total; a zero report only reads; reports from
/// concurrent writers are none of them lost; ended windows are pruned, current ones kept.
pub async fn rate_limit_counts<S: MetaStore>(store: &S) {
    assert!(store.add_rate_counts(&[]).await.unwrap().is_empty());
    let totals =
        store.add_rate_counts(&[count("requests", "a", 1000, 2), count("manifest_pulls", "a", 1000, 1)]).await.unwrap();
    assert_eq!(totals, [2, 1], "new counters start at their delta, each limit apart");
    let totals = store
        .add_rate_counts(&[
            count("requests", "b", 1000, 0),
            count("requests", "a", 1000, 3),
            count("requests", "a", 1100, 1),
            count("requests", "a", 1000, 0),
        ])
        .await
        .unwrap();
    assert_eq!(totals, [0, 5, 1, 5], "totals in the reports' order; another window is another counter");

    // Two nodes report at once, many times: every report is counted.
    let reports = |n: u64| async move {
        for _ in 0..20 {
            store
                .add_rate_counts(&[count("requests", "shared", 1000, n), count("requests", "a", 1000, 1)])
                .await
                .unwrap();
        }
    };
    futures_util::join!(reports(1), reports(2), reports(3));
    let totals = store.add_rate_counts(&[count("requests", "shared", 1000, 0), count("requests", "a", 1000, 0)]).await;
    assert_eq!(totals.unwrap(), [20 * 6, 5 + 60], "concurrent reports all added");

    // Windows ending at or before `now` go; the subject's later window stays.
    assert!(store.prune_rate_counts(1100).await.unwrap() >= 4, "the four counters of the window [1000, 1100)");
    let totals = store.add_rate_counts(&[count("requests", "a", 1000, 0), count("requests", "a", 1100, 0)]).await;
    assert_eq!(totals.unwrap(), [0, 1], "the ended window starts over, the current one is kept");
    store.prune_rate_counts(1200).await.unwrap();
    let left = store.add_rate_counts(&[count("requests", "a", 1100, 0)]).await.unwrap();
    assert_eq!(left, [0]);
    store.prune_rate_counts(i64::MAX).await.unwrap();
}
