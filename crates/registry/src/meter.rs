//! Metering: requests and bytes per hour, repository, principal and API operation, and the usage report
//! (`berth usage report`) made of them and of the hourly storage snapshots.
//!
//! Every request is counted in memory by [`Meter::record`] (one short lock, no I/O) once its response has
//! been produced, and the counts are added to the metadata store in one transaction by [`Meter::flush`],
//! which the server calls every [`FLUSH_INTERVAL`] and at shutdown. A crash (or `kill -9`) loses at most the
//! counts of that interval; a flush that fails keeps its counts for the next one. Counts are kept per hour of
//! the request (not of the flush), so a flush across an hour's end puts each request in its own hour.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_meta::meter::{MeterCount, hour_of};
use berth_meta::{MetaError, MetaStore};

use crate::Clock;

/// How often the server adds the in-memory counts to the metadata store: what a crash can lose.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(2);
/// How long hourly rows are kept by default (`BERTH_METER_RETENTION`).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(400 * 86_400);
/// Bytes in a GB, as AWS bills them (2^30).
pub const GB: f64 = (1u64 << 30) as f64;
/// Hours in a month, as AWS prorates monthly prices (8760 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

type Key = (i64, Box<str>, Box<str>, Box<str>);

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    requests: u64,
    bytes_in: u64,
    bytes_out: u64,
}

/// The in-memory batch of one node. Cheap to clone (shared).
#[derive(Clone)]
pub struct Meter {
    meta: Arc<dyn MetaStore>,
    clock: Arc<dyn Clock>,
    enabled: Arc<AtomicBool>,
    pricing: Arc<Mutex<Option<Pricing>>>,
    pending: Arc<Mutex<HashMap<Key, Counts>>>,
}

impl Meter {
    pub(crate) fn new(meta: Arc<dyn MetaStore>, clock: Arc<dyn Clock>) -> Self {
        Meter {
            meta,
            clock,
            enabled: Arc::new(AtomicBool::new(true)),
            pricing: Default::default(),
            pending: Default::default(),
        }
    }

    /// Turns metering on or off (`BERTH_METERING`); off, [`Meter::record`] does nothing.
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Sets the price sheet the usage report is priced with (`None`: no cost column).
    pub fn set_pricing(&self, pricing: Option<Pricing>) {
        *self.pricing.lock().unwrap_or_else(|p| p.into_inner()) = pricing;
    }

    pub fn pricing(&self) -> Option<Pricing> {
        *self.pricing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one request: `repository` `""` for none, `subject` a principal ARN, `ip:ADDRESS` or `""`.
    pub fn record(&self, repository: &str, subject: &str, operation: &str, bytes_in: u64, bytes_out: u64) {
        if !self.enabled() {
            return;
        }
        let hour = hour_of(self.clock.now());
        let key: Key = (hour, repository.into(), subject.into(), operation.into());
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let c = pending.entry(key).or_default();
        c.requests += 1;
        c.bytes_in = c.bytes_in.saturating_add(bytes_in);
        c.bytes_out = c.bytes_out.saturating_add(bytes_out);
    }

    /// Adds what a request moved beyond its own response (a blob download answered by a redirect to S3, whose
    /// bytes are counted when the redirect is issued) to the counts of its key, without another request.
    pub fn add_bytes_out(&self, repository: &str, subject: &str, operation: &str, bytes_out: u64) {
        if !self.enabled() {
            return;
        }
        let key: Key = (hour_of(self.clock.now()), repository.into(), subject.into(), operation.into());
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let c = pending.entry(key).or_default();
        c.bytes_out = c.bytes_out.saturating_add(bytes_out);
    }

    fn take(&self) -> HashMap<Key, Counts> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn put_back(&self, counts: HashMap<Key, Counts>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for (key, c) in counts {
            let p = pending.entry(key).or_default();
            p.requests += c.requests;
            p.bytes_in = p.bytes_in.saturating_add(c.bytes_in);
            p.bytes_out = p.bytes_out.saturating_add(c.bytes_out);
        }
    }

    /// Adds the pending counts to the metadata store, one transaction per hour they fall in. On failure the
    /// counts of the hours not written stay pending for the next flush.
    pub async fn flush(&self) -> Result<(), MetaError> {
        let pending = self.take();
        if pending.is_empty() {
            return Ok(());
        }
        let mut by_hour: BTreeMap<i64, Vec<(Key, Counts)>> = BTreeMap::new();
        for (key, c) in pending {
            by_hour.entry(key.0).or_default().push((key, c));
        }
        let mut hours = by_hour.into_iter();
        while let Some((hour, rows)) = hours.next() {
            let counts: Vec<MeterCount> = rows
                .iter()
                .map(|((_, repository, subject, operation), c)| MeterCount {
                    repository: repository.to_string(),
                    subject: subject.to_string(),
                    operation: operation.to_string(),
                    requests: c.requests,
                    bytes_in: c.bytes_in,
                    bytes_out: c.bytes_out,
                })
                .collect();
            if let Err(e) = self.meta.add_meter(hour, &counts).await {
                self.put_back(rows.into_iter().chain(hours.flat_map(|(_, rows)| rows)).collect());
                return Err(e);
            }
        }
        Ok(())
    }

    /// Deletes hourly rows older than `retention`; returns how many.
    pub async fn prune(&self, retention: Duration) -> Result<u64, MetaError> {
        let before = hour_of(self.clock.now() - i64::try_from(retention.as_secs()).unwrap_or(i64::MAX / 2));
        self.meta.prune_meter(before).await
    }
}

/// What the report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Repository,
    Principal,
    /// The part of the repository's name before its first `/` (a name without one is its own namespace).
    Namespace,
    Operation,
}

impl GroupBy {
    pub fn parse(s: &str) -> Option<GroupBy> {
        Some(match s {
            "repository" => GroupBy::Repository,
            "principal" => GroupBy::Principal,
            "namespace" => GroupBy::Namespace,
            "operation" => GroupBy::Operation,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Repository => "repository",
            GroupBy::Principal => "principal",
            GroupBy::Namespace => "namespace",
            GroupBy::Operation => "operation",
        }
    }

    /// Whether its groups have storage (repositories and namespaces do; principals and operations do not).
    pub fn has_storage(self) -> bool {
        matches!(self, GroupBy::Repository | GroupBy::Namespace)
    }

    fn key(self, repository: &str, subject: &str, operation: &str) -> String {
        match self {
            GroupBy::Repository => repository.to_string(),
            GroupBy::Principal => subject.to_string(),
            GroupBy::Namespace => namespace(repository).to_string(),
            GroupBy::Operation => operation.to_string(),
        }
    }
}

/// A repository's namespace: its name up to the first `/`, or the whole name.
pub fn namespace(repository: &str) -> &str {
    repository.split_once('/').map_or(repository, |(ns, _)| ns)
}

/// The price sheet (`[pricing]`, `BERTH_PRICE_*`), in dollars.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pricing {
    /// $ per GB-month stored.
    pub storage_gb_month: f64,
    /// $ per GB transferred out beyond the free allowance.
    pub transfer_out_gb: f64,
    /// GB transferred out free of charge per month (prorated to the report's hours, over the whole registry).
    pub free_transfer_out_gb: f64,
}

/// One line of the report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportLine {
    /// The repository, principal, namespace or operation (`""`: requests about no repository, or by nobody
    /// identified).
    pub key: String,
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Byte-hours stored (`None` for groupings without storage).
    pub byte_hours: Option<u128>,
    /// Dollars (`None` without a price sheet).
    pub cost: Option<f64>,
}

impl ReportLine {
    pub fn gb_in(&self) -> f64 {
        self.bytes_in as f64 / GB
    }
    pub fn gb_out(&self) -> f64 {
        self.bytes_out as f64 / GB
    }
    pub fn gb_months(&self) -> Option<f64> {
        self.byte_hours.map(gb_months)
    }
}

/// Byte-hours as GB-months.
pub fn gb_months(byte_hours: u128) -> f64 {
    byte_hours as f64 / GB / HOURS_PER_MONTH
}

#[derive(Debug, Clone, PartialEq)]
pub struct UsageReport {
    /// Hours `[from, to)`.
    pub from: i64,
    pub to: i64,
    pub group_by: GroupBy,
    /// By key, in key order.
    pub lines: Vec<ReportLine>,
    pub total: ReportLine,
    /// The registry's deduplicated storage over the range (every blob once), in byte-hours.
    pub deduplicated_byte_hours: u128,
    pub pricing: Option<Pricing>,
}

impl UsageReport {
    /// What the deduplicated storage costs at the price sheet's storage price.
    pub fn deduplicated_cost(&self) -> Option<f64> {
        self.pricing.map(|p| gb_months(self.deduplicated_byte_hours) * p.storage_gb_month)
    }
}

/// Groups `counts` and `storage` (byte-hours per repository, `""` the deduplicated figure) into a report of
/// the hours `[from, to)`, priced by `pricing`.
pub fn report(
    from: i64,
    to: i64,
    group_by: GroupBy,
    counts: &[MeterCount],
    storage: &[(String, u128)],
    pricing: Option<Pricing>,
) -> UsageReport {
    let mut lines: BTreeMap<String, ReportLine> = BTreeMap::new();
    for c in counts {
        let key = group_by.key(&c.repository, &c.subject, &c.operation);
        let line = lines.entry(key.clone()).or_insert_with(|| ReportLine { key, ..Default::default() });
        line.requests += c.requests;
        line.bytes_in = line.bytes_in.saturating_add(c.bytes_in);
        line.bytes_out = line.bytes_out.saturating_add(c.bytes_out);
    }
    let mut deduplicated = 0;
    for (repository, byte_hours) in storage {
        if repository.is_empty() {
            deduplicated = *byte_hours;
            continue;
        }
        if !group_by.has_storage() {
            continue;
        }
        let key = group_by.key(repository, "", "");
        let line = lines.entry(key.clone()).or_insert_with(|| ReportLine { key, ..Default::default() });
        *line.byte_hours.get_or_insert(0) += byte_hours;
    }
    let mut lines: Vec<ReportLine> = lines.into_values().collect();
    let mut total = ReportLine { key: "TOTAL".into(), ..Default::default() };
    for l in &mut lines {
        if group_by.has_storage() {
            l.byte_hours.get_or_insert(0);
        }
        total.requests += l.requests;
        total.bytes_in = total.bytes_in.saturating_add(l.bytes_in);
        total.bytes_out = total.bytes_out.saturating_add(l.bytes_out);
    }
    if group_by.has_storage() {
        total.byte_hours = Some(lines.iter().filter_map(|l| l.byte_hours).sum());
    }
    if let Some(p) = pricing {
        // The free allowance is the registry's, prorated to the report's hours, and shared among the lines in
        // proportion to what each transferred out.
        let months = (to - from) as f64 / 3600.0 / HOURS_PER_MONTH;
        let free = p.free_transfer_out_gb * months;
        let total_out = total.gb_out();
        let billable_share = if total_out > 0.0 { (total_out - free).max(0.0) / total_out } else { 0.0 };
        // Each line pays for its own storage (a blob once per repository holding it), so the lines add up
        // to the total; what the registry's disks hold (the deduplicated figure) is priced apart.
        for l in &mut lines {
            let transfer = l.gb_out() * billable_share * p.transfer_out_gb;
            l.cost = Some(transfer + l.gb_months().unwrap_or(0.0) * p.storage_gb_month);
        }
        total.cost = Some(lines.iter().filter_map(|l| l.cost).sum());
    }
    UsageReport { from, to, group_by, lines, total, deduplicated_byte_hours: deduplicated, pricing }
}

impl crate::Registry {
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// The usage report of the hours `[from, to)`, priced with the configured price sheet.
    pub async fn usage_report(&self, from: i64, to: i64, group_by: GroupBy) -> crate::Result<UsageReport> {
        let pricing = self.meter.pricing();
        let counts = self.meta.meter_totals(from, to).await?;
        let storage = self.meta.storage_byte_hours(from, to).await?;
        Ok(report(from, to, group_by, &counts, &storage, pricing))
    }
}

#[cfg(test)]
mod tests;
