//! Metering: requests and bytes per hour, repository, principal and API operation, added by every node from
//! its in-memory batch (`berth_registry::meter`), and hourly storage snapshots per repository (written with
//! [`crate::UsageStore::record_storage`]). The report's arithmetic (grouping, GB-months, prices) lives in the
//! registry layer; the store adds, sums over a range of hours and prunes.

use async_trait::async_trait;

use crate::Result;

/// The hour `at` falls in (Unix seconds of its start).
pub fn hour_of(at: i64) -> i64 {
    at - at.rem_euclid(3600)
}

/// One metered counter: what a node adds, and what a range sums to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeterCount {
    /// `''` for a request about no repository.
    pub repository: String,
    /// A principal ARN, `ip:ADDRESS` for an anonymous caller, `''` when nobody was identified.
    pub subject: String,
    /// The route template or API operation (`ecr:PutImage`, `/v2/{name}/blobs/{digest}`, `admin:ListUsers`).
    pub operation: String,
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

#[async_trait]
pub trait MeterStore: Send + Sync {
    /// Adds each count to its row of the hour `hour` (created if absent), in one transaction: concurrent
    /// additions from several nodes are all kept. Not guaranteed durable (statistics).
    async fn add_meter(&self, hour: i64, counts: &[MeterCount]) -> Result<()>;
    /// The counts of the hours in `[from, to)` summed per (repository, subject, operation), in key order.
    async fn meter_totals(&self, from: i64, to: i64) -> Result<Vec<MeterCount>>;
    /// Byte-hours stored per repository over the hours in `[from, to)`: the sum of the hourly snapshots (an
    /// hour without a snapshot counts nothing). Repository `''` is the registry's deduplicated storage.
    async fn storage_byte_hours(&self, from: i64, to: i64) -> Result<Vec<(String, u128)>>;
    /// Deletes meter rows and storage snapshots of hours before `before`; returns how many rows.
    async fn prune_meter(&self, before: i64) -> Result<u64>;
}

/// `counts` with equal keys summed, in key order (so that concurrent writers lock rows in one order).
pub(crate) fn merged(counts: &[MeterCount]) -> Vec<MeterCount> {
    let mut unique: std::collections::BTreeMap<(&str, &str, &str), MeterCount> = Default::default();
    for c in counts {
        unique
            .entry((&c.repository, &c.subject, &c.operation))
            .and_modify(|u| {
                u.requests = u.requests.saturating_add(c.requests);
                u.bytes_in = u.bytes_in.saturating_add(c.bytes_in);
                u.bytes_out = u.bytes_out.saturating_add(c.bytes_out);
            })
            .or_insert_with(|| c.clone());
    }
    unique.into_values().collect()
}
