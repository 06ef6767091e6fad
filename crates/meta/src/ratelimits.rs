//! Rate limit counters shared by every node: one row per (limit, subject, window) holding how many requests
//! the nodes admitted in that window, as they reported them. The rules (what is counted, the limits, how a node
//! decides between two reports) live in `berth-identity`'s `ratelimit`; the store adds and reads back.
//! Subjects are principal ARNs or `ip:ADDRESS`, never a secret.

use async_trait::async_trait;

use crate::Result;

/// A node's report for one counter: `delta` more requests admitted in the window `[window_start, window_end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateCount {
    /// Which limit: `manifest_pulls`, `anonymous_manifest_pulls`, `requests`.
    pub limit: String,
    /// Whom it counts: a principal ARN, or `ip:ADDRESS`.
    pub subject: String,
    pub window_start: i64,
    pub window_end: i64,
    pub delta: u64,
}

#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Adds each report's `delta` to its counter (created at `delta` if absent; a `delta` of 0 only reads) and
    /// returns every counter's total after the addition, in the order of `counts`. Each counter is added to
    /// atomically: of concurrent reports from several nodes none is lost. Reports naming the same counter twice
    /// are both added.
    async fn add_rate_counts(&self, counts: &[RateCount]) -> Result<Vec<u64>>;
    /// Deletes the counters of windows that ended at or before `now`; returns how many.
    async fn prune_rate_counts(&self, now: i64) -> Result<u64>;
}

/// `counts` with reports of the same counter summed, in key order (so that concurrent writers lock rows in
/// one order), and for each report the index of its counter in that list.
pub(crate) fn merged(counts: &[RateCount]) -> (Vec<RateCount>, Vec<usize>) {
    let key = |c: &RateCount| (c.limit.clone(), c.subject.clone(), c.window_start);
    let mut unique: std::collections::BTreeMap<(String, String, i64), RateCount> = Default::default();
    for c in counts {
        unique.entry(key(c)).and_modify(|u| u.delta = u.delta.saturating_add(c.delta)).or_insert_with(|| c.clone());
    }
    let order: Vec<(String, String, i64)> = unique.keys().cloned().collect();
    let index = counts.iter().map(|c| order.binary_search(&key(c)).unwrap_or_default()).collect();
    (unique.into_values().collect(), index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(limit: &str, subject: &str, window_start: i64, delta: u64) -> RateCount {
        RateCount { limit: limit.into(), subject: subject.into(), window_start, window_end: window_start + 60, delta }
    }

    #[test]
    fn merging_sums_duplicates_and_keeps_each_reports_place() {
        let counts =
            [count("requests", "ip:b", 0, 1), count("requests", "ip:a", 0, 2), count("requests", "ip:b", 0, 3)];
        let (unique, index) = merged(&counts);
        assert_eq!(unique, [count("requests", "ip:a", 0, 2), count("requests", "ip:b", 0, 4)]);
        assert_eq!(index, [1, 0, 1]);
        let (unique, index) = merged(&[count("requests", "ip:a", 60, 1), count("requests", "ip:a", 0, 1)]);
        assert_eq!((unique.len(), index), (2, vec![1, 0]), "another window is another counter");
    }
}
