//! Figures read from the metadata store when `/metrics` is scraped, never on a request's path: storage and
//! garbage collection (computed in SQL over the whole registry, so kept 30 s), jobs by kind and state, and
//! the connection pools. A figure that cannot be read keeps its last value (and is logged).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use berth_meta::jobs::JobState;
use berth_registry::Registry;
use tokio::sync::Mutex;

use super::names::*;

/// How long storage and garbage collection figures are reused.
const SLOW_FIGURES_TTL: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Cache {
    slow_at: Option<Instant>,
    /// Job kinds seen so far: a kind whose jobs were all pruned reads 0, not its last count.
    kinds: BTreeSet<String>,
}

/// One refresh at a time: concurrent scrapes wait for it and then share its figures.
static CACHE: Mutex<Cache> = Mutex::const_new(Cache { slow_at: None, kinds: BTreeSet::new() });

/// Sets the scrape-time gauges and counters from `registry`.
pub(crate) async fn refresh(registry: &Registry) {
    let mut cache = CACHE.lock().await;
    if cache.slow_at.is_none_or(|at| at.elapsed() >= SLOW_FIGURES_TTL) {
        cache.slow_at = Some(Instant::now());
        match registry.registry_storage().await {
            Ok(s) => {
                metrics::gauge!(STORAGE_STORED).set(s.stored_bytes as f64);
                metrics::gauge!(STORAGE_LOGICAL).set(s.logical_bytes as f64);
                metrics::gauge!(STORAGE_UNLINKED).set(s.unlinked_bytes as f64);
                metrics::gauge!(STORAGE_BLOBS).set(s.blobs as f64);
                metrics::gauge!(REPOSITORIES).set(s.repositories as f64);
            }
            Err(e) => tracing::warn!(error = %e, "metrics: could not read storage figures"),
        }
        match registry.gc_status().await {
            Ok(g) => {
                metrics::counter!(GC_RUNS).absolute(g.runs);
                metrics::counter!(GC_BLOBS_DELETED).absolute(g.blobs_deleted);
                metrics::counter!(GC_BYTES_RECLAIMED).absolute(g.bytes_reclaimed);
                metrics::gauge!(GC_QUEUED).set(g.queued as f64);
                metrics::gauge!(GC_DELETING).set(g.deleting as f64);
                metrics::gauge!(GC_COMMITS).set(g.commits_in_flight as f64);
            }
            Err(e) => tracing::warn!(error = %e, "metrics: could not read garbage collection figures"),
        }
    }
    match registry.job_counts().await {
        Ok(counts) => {
            cache.kinds.extend(counts.iter().map(|c| c.kind.clone()));
            for kind in &cache.kinds {
                for state in JobState::ALL {
                    let n = counts.iter().find(|c| &c.kind == kind && c.state == state).map_or(0, |c| c.jobs);
                    metrics::gauge!(JOBS, "kind" => kind.clone(), "state" => state.as_str()).set(n as f64);
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: could not count jobs"),
    }
    for p in registry.pool_usage() {
        let in_use = p.open.saturating_sub(p.idle);
        metrics::gauge!(DB_POOL_CONNECTIONS, "pool" => p.pool, "state" => "idle").set(p.idle as f64);
        metrics::gauge!(DB_POOL_CONNECTIONS, "pool" => p.pool, "state" => "in_use").set(in_use as f64);
        metrics::gauge!(DB_POOL_MAX, "pool" => p.pool).set(p.max as f64);
    }
}
