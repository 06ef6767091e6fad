//! `berth serve`: logging, metrics, the listener (connections are served by `connections.rs`), background
//! upkeep, the job workers and graceful shutdown.

use std::io::Write as _;
use std::time::Duration;

use berth_api::{AppState, router};
use std::sync::Arc;

use berth_identity::Identity;
use berth_registry::{Clock, Registry, SystemClock};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};
use crate::stores::{open_identity, open_stores};

/// How long in-flight requests may run after a shutdown signal before the process exits anyway. Cutting
/// an upload short is safe: nothing becomes visible before it is complete.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// How long each last write at shutdown (pull statistics, queued audit records, the metadata store's final
/// checkpoint) may take. A store that cannot be written (a full or failing disk) must not keep the process
/// alive: what is lost is statistics and audit records the log already reports as failing.
const SHUTDOWN_STEP: Duration = Duration::from_secs(5);
/// Longest pause between attempts of a background writer (pull statistics, the journal exporter) whose writes
/// fail; the pause doubles from one second up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How `berth serve` was asked to treat the data directory.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServeOptions {
    /// Serve even when the metadata is new or empty while the blob store holds blobs (see
    /// [`Registry::metadata_lost`]).
    pub allow_empty_metadata: bool,
}

pub async fn run(config: Config, options: ServeOptions) -> Result<(), Box<dyn std::error::Error>> {
    let _log_guard = init_logging(&config);
    let metrics =
        berth_api::metrics::install_recorder().map_err(|e| format!("installing the metrics recorder: {e}"))?;
    match crate::connections::raise_open_file_limit() {
        Ok((before, after)) => {
            if after > before {
                tracing::info!(before, after, "raised the open file limit");
            }
            let cap = config.connections.max_per_address as u64;
            if cap == 0 || after < cap.saturating_mul(4) {
                tracing::warn!(
                    open_file_limit = after,
                    max_connections_per_address = cap,
                    "a few clients can use up every file descriptor: raise the open file limit or lower the per-address connection cap"
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not raise the open file limit"),
    }
    let stores = open_stores(&config).await?;
    let registry = stores.registry;
    if let Some(blobs) = registry.metadata_lost().await? {
        let dir = config.data_dir.display();
        let store = &config.storage;
        if !options.allow_empty_metadata {
            return Err(format!(
                "refusing to start: the blob store {store} holds {blobs} blobs (and the repository journal) but its metadata \
                 database is new or empty, so berth would serve an empty registry; was meta.db deleted, truncated \
                 or its WAL (meta.db-wal) removed? Restore meta.db from a backup, or rebuild repositories, manifests \
                 and tags from what is on disk with `berth fsck --rebuild-metadata --data-dir {dir}` (server \
                 stopped), or start with --allow-empty-metadata to serve an empty registry anyway"
            )
            .into());
        }
        tracing::warn!(storage = %store, blobs, "serving an empty metadata store over a blob store that holds blobs (--allow-empty-metadata)");
    }
    let meta = stores.meta.clone();
    let identity = open_identity(&config, stores.meta).await?;
    // Managed image signing keys are sealed with the same master key as every other stored secret.
    if let Some(master) = crate::stores::existing_master_key(&config.data_dir)? {
        registry.enable_signing(master);
    }
    // A repository created from a creation template may carry a repository policy: this node forgets what
    // it cached about that repository's policies at once.
    let forget = Arc::downgrade(&identity);
    registry.on_repository_created(Arc::new(move |_| {
        if let Some(identity) = forget.upgrade() {
            identity.forget_cached_policies();
        }
    }));
    if config.tls.is_none() && !config.listen.ip().is_loopback() {
        tracing::warn!(
            listen = %config.listen,
            "serving plain HTTP on a non-loopback address: passwords and tokens cross the network unencrypted; use --tls-cert/--tls-key"
        );
    }

    let tls = match &config.tls {
        Some((cert, key)) => Some(tokio_rustls::TlsAcceptor::from(crate::tls::load_config(cert, key)?)),
        None => None,
    };
    let listener =
        TcpListener::bind(config.listen).await.map_err(|e| format!("listening on {}: {e}", config.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    // Tests and scripts read this line to find the port when listening on port 0.
    println!("berth listening on {scheme}://{addr}");
    tracing::info!(%addr, scheme, data_dir = %config.data_dir.display(), storage = %config.storage, "berth started");

    registry.meter().set_enabled(config.metering);
    registry.meter().set_pricing(config.pricing);
    let meter_upkeep = tokio::spawn(meter_upkeep(registry.clone(), config.meter_retention));
    let upkeep = tokio::spawn(upkeep(registry.clone(), identity.clone(), config.upload_expiry_hours));
    let journal = tokio::spawn(journal_exporter(registry.clone()));
    let vulndb = tokio::spawn(vulndb_refresher(registry.clone()));
    // Soft-deleted images and repositories whose window has passed are purged (and audited) by a periodic job.
    registry.register_job_handler(Arc::new(berth_registry::deleted::PurgeHandler {
        observer: berth_api::soft_delete::AuditPurges { identity: identity.clone() },
    }));
    registry.schedule_jobs(Arc::new(berth_registry::deleted::purge_schedule()));
    // Every node runs jobs of every kind registered on the registry (scans, collections, lifecycle runs and
    // previews, purges) and queues the periodic ones (whichever node notices a period first).
    berth_api::lifecycle::register(&registry, identity.clone());
    registry.set_webhook_settings(config.webhooks.clone());
    berth_api::webhooks::register(&registry, identity.clone());
    if !config.gc_interval.is_zero() {
        let every = i64::try_from(config.gc_interval.as_secs()).unwrap_or(i64::MAX);
        registry.schedule_jobs(berth_registry::gc_jobs::gc_schedule(every));
    }
    if config.lifecycle_interval_hours > 0 {
        registry
            .schedule_jobs(berth_registry::lifecycle::LifecycleSchedule::every_hours(config.lifecycle_interval_hours));
    } else {
        tracing::info!("lifecycle schedule off: policies run only when asked (berth lifecycle run)");
    }
    let workers = berth_registry::jobs::start_workers(
        &registry,
        berth_registry::jobs::WorkerOptions {
            slots: config.job_workers,
            // The listen address names the node in `berth jobs show` (worker) and the logs.
            node: format!("{addr}#{}", std::process::id()),
            retention_secs: config.job_retention_days as i64 * 86400,
            single_process: registry.gc_settings().single_process,
            ..Default::default()
        },
    );
    let rate_limits = (!config.rate_limits.is_off())
        .then(|| Arc::new(berth_identity::ratelimit::RateLimiter::new(config.rate_limits, meta.rate_limits())));
    let rate_limit_upkeep = rate_limits.clone().map(|l| tokio::spawn(rate_limit_upkeep(l, registry.clone())));
    let metrics_upkeep = tokio::spawn(metrics_upkeep(metrics.clone()));
    let metrics_listener = match config.metrics_listen {
        Some(at) => Some(serve_metrics(at, metrics.clone(), registry.clone()).await?),
        None => None,
    };
    let app = router(AppState {
        registry: registry.clone(),
        identity: identity.clone(),
        tls: config.tls.is_some(),
        metrics: Some(metrics),
        rate_limits,
    });
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    };
    tokio::select! {
        _ = crate::connections::serve(listener, tls, app, config.connections, shutdown) => {}
        _ = async {
            let _ = stop_rx.wait_for(|s| *s).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => tracing::warn!("in-flight requests did not finish in time; exiting"),
    }
    upkeep.abort();
    meter_upkeep.abort();
    metrics_upkeep.abort();
    if let Some(task) = rate_limit_upkeep {
        task.abort();
    }
    if let Some(l) = metrics_listener {
        l.abort();
    }
    vulndb.abort();
    for worker in &workers {
        worker.abort();
    }
    journal.abort();
    match tokio::time::timeout(SHUTDOWN_STEP, registry.export_journal()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "could not bring the repository journal up to date at shutdown"),
        Err(_) => tracing::warn!("bringing the repository journal up to date at shutdown timed out"),
    }
    match tokio::time::timeout(SHUTDOWN_STEP, registry.pull_recorder().flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "could not write pull statistics at shutdown"),
        Err(_) => tracing::warn!("writing pull statistics at shutdown timed out"),
    }
    match tokio::time::timeout(SHUTDOWN_STEP, registry.meter().flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "could not write metering counts at shutdown"),
        Err(_) => tracing::warn!("writing metering counts at shutdown timed out"),
    }
    if tokio::time::timeout(SHUTDOWN_STEP, identity.audit().flush()).await.is_err() {
        tracing::error!("queued audit records could not be written at shutdown (the audit log is failing)");
    }
    // Closing checkpoints the WAL into the database file, so the data directory is whole without it.
    if tokio::time::timeout(SHUTDOWN_STEP, meta.close()).await.is_err() {
        tracing::warn!("closing the metadata store timed out; it recovers from its WAL at the next start");
    }
    tracing::info!("berth stopped");
    Ok(())
}

/// The pause before the next attempt of a background writer: doubles with each consecutive failure, from one
/// second up to [`MAX_BACKOFF`]; none after a success.
fn backoff(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    Duration::from_secs(1u64 << (failures - 1).min(5)).min(MAX_BACKOFF)
}

/// Periodic work: write batched pull statistics every second, re-read signing keys every minute (another
/// node may have rotated them), snapshot storage per repository at the start of every hour, expire idle upload sessions
/// every ten minutes. While the metadata store
/// refuses writes (a full disk), statistics are written less and less often (see [`backoff`]).
async fn upkeep(registry: Registry, identity: Arc<Identity>, expiry_hours: u64) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_expiry = None::<tokio::time::Instant>;
    let mut last_keys = tokio::time::Instant::now();
    let mut last_storage = None::<i64>;
    let mut flush_failures = 0u32;
    let mut next_flush = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        if tokio::time::Instant::now() >= next_flush {
            match registry.pull_recorder().flush().await {
                Ok(()) => {
                    if flush_failures > 0 {
                        tracing::info!("writing pull statistics works again");
                    }
                    flush_failures = 0;
                }
                Err(e) => {
                    flush_failures = flush_failures.saturating_add(1);
                    if flush_failures.is_power_of_two() {
                        tracing::warn!(error = %e, failures = flush_failures, "writing pull statistics failed");
                    }
                }
            }
            next_flush = tokio::time::Instant::now() + backoff(flush_failures);
        }
        if last_keys.elapsed() >= Duration::from_secs(60) {
            last_keys = tokio::time::Instant::now();
            if let Err(e) = identity.refresh_keys().await {
                tracing::warn!(error = %e, "refreshing token signing keys failed");
            }
        }
        // Storage per repository, for the usage report's history and metering's byte-hours: at start, then
        // at the start of every hour (so that no hour goes without a snapshot).
        let hour = berth_meta::meter::hour_of(registry.now());
        if last_storage != Some(hour) {
            last_storage = Some(hour);
            if let Err(e) = registry.record_storage().await {
                tracing::warn!(error = %e, "recording storage per repository failed");
            }
        }
        if last_expiry.is_none_or(|t| t.elapsed() >= Duration::from_secs(600)) {
            last_expiry = Some(tokio::time::Instant::now());
            let before = SystemClock.now() - (expiry_hours as i64) * 3600;
            match registry.expire_uploads(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sessions = n, "expired idle upload sessions"),
                Err(e) => tracing::warn!(error = %e, "expiring upload sessions failed"),
            }
            // Webhook delivery attempts past `[webhooks] log_retention`.
            match registry.prune_webhook_deliveries().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(attempts = n, "pruned the webhook delivery log"),
                Err(e) => tracing::warn!(error = %e, "pruning the webhook delivery log failed"),
            }
        }
    }
}

/// Metering: adds the in-memory counts to the metadata store every [`FLUSH_INTERVAL`] (what a crash can lose;
/// a failed write keeps its counts for the next, and retries back off while it fails), and deletes hourly
/// figures older than `retention` at start and every hour.
///
/// [`FLUSH_INTERVAL`]: berth_registry::meter::FLUSH_INTERVAL
async fn meter_upkeep(registry: Registry, retention: Duration) {
    let mut tick = tokio::time::interval(berth_registry::meter::FLUSH_INTERVAL);
    let mut failures = 0u32;
    let mut next_flush = tokio::time::Instant::now();
    let mut last_prune = None::<tokio::time::Instant>;
    loop {
        tick.tick().await;
        if tokio::time::Instant::now() >= next_flush {
            match registry.meter().flush().await {
                Ok(()) => {
                    if failures > 0 {
                        tracing::info!("writing metering counts works again");
                    }
                    failures = 0;
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    if failures.is_power_of_two() {
                        tracing::warn!(error = %e, failures, "writing metering counts failed; they are kept for later");
                    }
                }
            }
            next_flush = tokio::time::Instant::now() + backoff(failures);
        }
        if last_prune.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
            last_prune = Some(tokio::time::Instant::now());
            match registry.meter().prune(retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "deleted metering figures past their retention"),
                Err(e) => tracing::warn!(error = %e, "deleting old metering figures failed"),
            }
        }
    }
}

/// Keeps the repository journal (manifests and tags beside the blobs, what `berth fsck --rebuild-metadata`
/// needs) up to date with the metadata store: every second, and at once again while there is more to write.
/// Backs off while writing fails (a full disk); the changes wait in the metadata store meanwhile.
async fn journal_exporter(registry: Registry) {
    let mut failures = 0u32;
    loop {
        match registry.export_journal().await {
            Ok(_) => {
                if failures > 0 {
                    tracing::info!("the repository journal is written again");
                }
                failures = 0;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                if failures.is_power_of_two() {
                    tracing::warn!(error = %e, failures, "writing the repository journal failed");
                }
                tokio::time::sleep(backoff(failures)).await;
            }
        }
    }
}

/// Loads a newly imported vulnerability database within a few seconds (any node may import one), then
/// re-evaluates the stored inventories against it.
async fn vulndb_refresher(registry: Registry) {
    loop {
        match registry.refresh_vulndb().await {
            Ok(true) => {
                if let Some((db, _)) = registry.vulndb() {
                    tracing::info!(vulndb = %db.blob, source = %db.source, records = db.records, "vulnerability database loaded");
                }
                match registry.reevaluate_scans().await {
                    Ok(n) => tracing::info!(images = n, "re-evaluated scans against the new database"),
                    Err(e) => tracing::warn!(error = %e, "re-evaluating scans failed"),
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "loading the vulnerability database failed"),
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

/// Logs go through a non-blocking writer so a slow terminal never stalls request handling.
fn init_logging(config: &Config) -> tracing_appender::non_blocking::WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let filter = EnvFilter::try_from_env("BERTH_LOG").unwrap_or_else(|_| EnvFilter::new(&config.log_level));
    // Colours only for a person at a terminal: redirected logs stay plain text for grep and log shippers.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(ansi);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Human => builder.init(),
    }
    guard
}

/// Drains buffered histogram samples into their buckets every few seconds, so that memory stays bounded
/// however rarely `/metrics` is scraped.
/// Reports this node's rate limit counts to the metadata store and reads back the totals every second (see
/// `berth_identity::ratelimit`); deletes the counters of ended windows every minute.
async fn rate_limit_upkeep(limiter: Arc<berth_identity::ratelimit::RateLimiter>, registry: Registry) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failures = 0u32;
    let mut last_prune = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        match limiter.sync(registry.now()).await {
            Ok(()) => {
                if failures > 0 {
                    tracing::info!("reporting rate limit counts works again");
                }
                failures = 0;
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                if failures.is_power_of_two() {
                    tracing::warn!(error = %e, failures, "reporting rate limit counts failed; each node limits on its own counts meanwhile");
                }
            }
        }
        if last_prune.elapsed() >= Duration::from_secs(60) {
            last_prune = tokio::time::Instant::now();
            if let Err(e) = limiter.prune(registry.now()).await {
                tracing::warn!(error = %e, "deleting ended rate limit windows failed");
            }
        }
    }
}

async fn metrics_upkeep(handle: metrics_exporter_prometheus::PrometheusHandle) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        handle.run_upkeep();
    }
}

/// Starts the unauthenticated metrics listener (`--metrics-listen`).
async fn serve_metrics(
    at: std::net::SocketAddr,
    handle: metrics_exporter_prometheus::PrometheusHandle,
    registry: Registry,
) -> Result<tokio::task::JoinHandle<()>, Box<dyn std::error::Error>> {
    let listener = TcpListener::bind(at).await.map_err(|e| format!("listening for metrics on {at}: {e}"))?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "the metrics listener answers anyone who reaches it, without authentication");
    }
    // For scripts listening on port 0; a reader that stopped reading after the first line is no error.
    let _ = writeln!(std::io::stdout(), "berth metrics on http://{addr}/metrics");
    tracing::info!(%addr, "metrics listener started");
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, berth_api::metrics::exporter(handle, registry)).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    }))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn background_writers_back_off_up_to_a_cap() {
        let pauses: Vec<u64> = (0..9).map(|n| super::backoff(n).as_secs()).collect();
        assert_eq!(pauses, [0, 1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(super::backoff(u32::MAX), Duration::from_secs(30));
    }
}
