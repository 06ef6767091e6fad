//! Configuration: defaults < TOML file (`--config` / `BERTH_CONFIG`) < `BERTH_*` environment < flags.
//!
//! clap already merges flags over the environment; this module lays the result over the file and the
//! defaults. Unknown keys in the file are an error, so a typo never silently falls back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_identity::ratelimit::{Rate, RateLimits};
use serde::Deserialize;

mod webhooks;
pub use webhooks::FileWebhooks;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
}

/// The config file's shape. Every key is optional; what is missing keeps its default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub limits: FileLimits,
    #[serde(default)]
    pub log: FileLog,
    #[serde(default)]
    pub uploads: FileUploads,
    #[serde(default)]
    pub tls: FileTls,
    #[serde(default)]
    pub identity: FileIdentity,
    #[serde(default)]
    pub connections: FileConnections,
    #[serde(default)]
    pub metadata: FileMetadata,
    #[serde(default)]
    pub storage: FileStorage,
    #[serde(default)]
    pub jobs: FileJobs,
    #[serde(default)]
    pub gc: FileGc,
    #[serde(default)]
    pub lifecycle: FileLifecycle,
    #[serde(default)]
    pub metrics: FileMetrics,
    #[serde(default)]
    pub rate_limits: FileRateLimits,
    #[serde(default)]
    pub metering: FileMetering,
    #[serde(default)]
    pub pricing: FilePricing,
    #[serde(default)]
    pub encryption: FileEncryption,
    #[serde(default)]
    pub webhooks: FileWebhooks,
}

/// Encryption at rest of the blobs berth stores (README "Encryption at rest").
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEncryption {
    /// Off by default.
    pub enabled: Option<bool>,
}

/// Metering of requests and bytes (`berth usage report`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMetering {
    /// On by default.
    pub enabled: Option<bool>,
    /// How long hourly figures are kept, e.g. `400d`.
    pub retention: Option<String>,
}

/// The price sheet that gives the usage report a cost column, in dollars.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePricing {
    pub storage_gb_month: Option<f64>,
    pub transfer_out_gb: Option<f64>,
    pub free_transfer_out_gb: Option<f64>,
}

/// Metering and price settings from flags and the environment.
#[derive(Debug, Default, Clone)]
pub struct MeteringOverrides {
    pub enabled: Option<bool>,
    pub retention: Option<String>,
    pub storage_gb_month: Option<f64>,
    pub transfer_out_gb: Option<f64>,
    pub free_transfer_out_gb: Option<f64>,
}

/// Rate limits, each `N/DURATION` (`100/6h`, `6000/1m`); a limit left out is no limit.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRateLimits {
    /// Manifest pulls per authenticated principal (user, access key's user, robot token) and window.
    pub manifest_pulls: Option<String>,
    /// Manifest pulls per anonymous client address and window.
    pub anonymous_manifest_pulls: Option<String>,
    /// API requests per principal (or anonymous address) and window, on every surface.
    pub requests: Option<String>,
}

/// Rate limit settings from flags and the environment.
#[derive(Debug, Default, Clone)]
pub struct RateLimitOverrides {
    pub manifest_pulls: Option<String>,
    pub anonymous_manifest_pulls: Option<String>,
    pub requests: Option<String>,
}

/// Parses a rate limit: `N/DURATION` (`100/6h`, `6000/1m`, `10/90s`); empty is no limit.
pub fn parse_rate(text: &str) -> Result<Option<Rate>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let (n, window) =
        t.split_once('/').ok_or_else(|| format!("{text:?} is not a rate such as 100/6h (requests/window)"))?;
    let n: u64 = n.trim().parse().map_err(|_| format!("{text:?}: {n:?} is not a number of requests"))?;
    let window = parse_duration(window)?;
    Rate::new(n, window.as_secs()).map(Some).map_err(|e| format!("{text:?}: {e}"))
}

/// Prometheus metrics.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMetrics {
    /// A second listener serving `GET /metrics` without authentication (e.g. `127.0.0.1:9464`).
    pub listen: Option<SocketAddr>,
}

/// The job runtime on this node.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileJobs {
    /// Jobs (scans, lifecycle runs, ...) this node runs at once.
    pub workers: Option<usize>,
    /// Days finished jobs stay listed by `berth jobs list`.
    pub retention_days: Option<u64>,
}

/// Online garbage collection. Durations as `90s`, `30m`, `1h`, `7d` (a bare number is seconds).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileGc {
    /// How long an unreferenced blob waits before it is deleted [default: 1h; `0s` allowed].
    pub grace: Option<String>,
    /// How often the collector runs on its own [default: 1m; `0` turns the schedule off, `berth gc run`
    /// still works].
    pub interval: Option<String>,
    /// How long a deleted image or repository stays restorable before it is purged [default: 7d; `0` deletes
    /// at once].
    pub soft_delete_window: Option<String>,
}

/// Parses `90`, `90s`, `30m`, `1h`, `7d` into a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration such as 90s, 30m, 1h or 7d"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: unit must be s, m, h or d")),
    };
    n.checked_mul(scale).map(Duration::from_secs).ok_or_else(|| format!("{text:?} is too long"))
}

/// Lifecycle policies.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLifecycle {
    /// Each repository's lifecycle policy is evaluated this often [default: 24; `0` turns the schedule off].
    pub interval_hours: Option<u64>,
}

/// Where the blobs live.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileStorage {
    /// `file://DIR` (default: the data directory) or `s3://BUCKET/PREFIX`.
    pub url: Option<String>,
    /// S3 server URL for non-AWS servers (MinIO, Ceph RGW, Garage, moto).
    pub endpoint: Option<String>,
    /// Path-style S3 requests [default: true with an endpoint, false without].
    pub path_style: Option<bool>,
    /// S3 region [default: AWS_REGION, else us-east-1].
    pub region: Option<String>,
    /// Answer blob downloads with a 307 redirect to a presigned S3 URL instead of streaming the bytes.
    pub redirect: Option<bool>,
}

/// Where the metadata lives.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMetadata {
    /// `sqlite://PATH` (default: `meta.db` in the data directory) or `postgres://USER:PASS@HOST:PORT/DB`.
    pub url: Option<String>,
}

/// Client connections (see `connections.rs`). Durations in seconds.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConnections {
    /// A request head must arrive complete within this long of connecting or of its first byte.
    pub header_timeout_seconds: Option<u64>,
    /// Connections without a request in flight are closed after this long.
    pub idle_timeout_seconds: Option<u64>,
    /// A request body that sends nothing, or a response the client does not read, for this long ends the
    /// request.
    pub body_timeout_seconds: Option<u64>,
    /// Open connections per client address (IPv4 address or IPv6 /64); 0 for no cap.
    pub max_per_address: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileIdentity {
    /// The 12-digit account id in ARNs (policies written for ECR carry over when it matches).
    pub account_id: Option<String>,
    /// The region in ARNs and SigV4 scopes.
    pub region: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTls {
    /// PEM certificate chain.
    pub cert: Option<PathBuf>,
    /// PEM private key.
    pub key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    pub max_manifest_bytes: Option<usize>,
    pub default_catalog_page: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLog {
    /// `human` or `json`.
    pub format: Option<LogFormat>,
    /// A `tracing` filter, e.g. `info` or `berth=debug,info`.
    pub level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileUploads {
    /// Upload sessions idle for longer are discarded.
    pub expire_after_hours: Option<u64>,
    /// Upload sessions open at once in one repository; 0 for no cap.
    pub max_open_per_repository: Option<u64>,
    /// Upload sessions open at once by one user, robot or token subject; 0 for no cap.
    pub max_open_per_principal: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// The resolved configuration of `berth serve`.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub max_manifest_bytes: usize,
    pub default_catalog_page: u32,
    pub log_format: LogFormat,
    pub log_level: String,
    pub upload_expiry_hours: u64,
    /// Jobs this node runs at once (`BERTH_JOB_WORKERS`, `[jobs] workers`); 0: it only queues them.
    pub job_workers: usize,
    /// Days finished jobs are kept.
    pub job_retention_days: u64,
    /// Caps on open upload sessions (`None`: no cap).
    pub max_open_uploads_per_repository: Option<u64>,
    pub max_open_uploads_per_principal: Option<u64>,
    /// How often each repository's lifecycle policy is evaluated, in hours (`0`: only when asked).
    pub lifecycle_interval_hours: u64,
    /// Certificate and key files: serve HTTPS (HTTP/2 and HTTP/1.1) instead of plain HTTP.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub account_id: String,
    pub region: String,
    pub connections: crate::connections::Limits,
    pub metadata: Metadata,
    pub storage: Storage,
    /// Whether blobs are stored encrypted (`--encryption`, `BERTH_ENCRYPTION`, `[encryption] enabled`; off by
    /// default). Blobs stored before it was enabled stay readable.
    pub encryption: bool,
    /// Garbage collection's grace period (`BERTH_GC_GRACE`, `[gc] grace`).
    pub gc_grace: Duration,
    /// How often the collector runs (`BERTH_GC_INTERVAL`, `[gc] interval`); zero: only on request.
    pub gc_interval: Duration,
    /// The unauthenticated metrics listener (`--metrics-listen`, `BERTH_METRICS_LISTEN`, `[metrics] listen`).
    pub metrics_listen: Option<SocketAddr>,
    /// How long deleted images and repositories stay restorable (`BERTH_SOFT_DELETE_WINDOW`,
    /// `[gc] soft_delete_window`); zero: deletes are final at once.
    pub soft_delete_window: Duration,
    /// Rate limits (`[rate_limits]`, `BERTH_RATE_LIMIT_*`); all off by default.
    pub rate_limits: RateLimits,
    /// Whether requests are metered (`BERTH_METERING`, `[metering] enabled`; on by default).
    pub metering: bool,
    /// How long hourly metering rows are kept (`BERTH_METER_RETENTION`, `[metering] retention`; 400d).
    pub meter_retention: Duration,
    /// The price sheet (`[pricing]`, `BERTH_PRICE_*`); `None` when no price is set.
    pub pricing: Option<berth_registry::meter::Pricing>,
    /// Webhook delivery (`[webhooks]`, `BERTH_WEBHOOKS_ALLOW_PRIVATE`).
    pub webhooks: berth_registry::webhooks::WebhookSettings,
}

/// The blob store `--storage-url` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// A directory (`file://DIR`; by default the data directory).
    Fs(PathBuf),
    /// A bucket (and key prefix) of an S3-compatible server, shared by every node.
    S3(berth_storage::S3Config),
}

impl Storage {
    /// Reads `file://DIR` or `s3://BUCKET/PREFIX`.
    pub fn parse(url: &str) -> Result<Storage, ResolveError> {
        if let Some(dir) = url.strip_prefix("file://") {
            if dir.is_empty() {
                return Err(ResolveError::StorageUrl("file:// needs a directory: file://DIR".into()));
            }
            return Ok(Storage::Fs(PathBuf::from(dir)));
        }
        if url.starts_with("s3://") {
            return berth_storage::S3Config::from_url(url).map(Storage::S3).map_err(ResolveError::StorageUrl);
        }
        Err(ResolveError::StorageUrl(format!("unsupported URL {url:?}: use file://DIR or s3://BUCKET/PREFIX")))
    }
}

impl std::fmt::Display for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Storage::Fs(dir) => write!(f, "file://{}", dir.display()),
            Storage::S3(config) => write!(f, "{}", config.describe()),
        }
    }
}

/// The metadata store `--metadata-url` names.
#[derive(Clone, PartialEq, Eq)]
pub enum Metadata {
    /// A SQLite database file (`sqlite://PATH`; a relative PATH is relative to the working directory).
    Sqlite(PathBuf),
    /// A PostgreSQL database shared by every node (`postgres://` or `postgresql://` URL, as libpq takes).
    Postgres(String),
}

impl Metadata {
    /// Reads `sqlite://PATH`, `postgres://...` or `postgresql://...`.
    pub fn parse(url: &str) -> Result<Metadata, ResolveError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(ResolveError::MetadataUrl(
                    "sqlite:// needs a path: use sqlite://PATH or postgres://USER:PASS@HOST:PORT/DB".into(),
                ));
            }
            return Ok(Metadata::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Metadata::Postgres(url.to_string()));
        }
        // Not the URL itself: it may hold a password.
        let what = url.split_once("://").map_or("no scheme".to_string(), |(scheme, _)| format!("scheme {scheme:?}"));
        Err(ResolveError::MetadataUrl(format!(
            "unsupported URL ({what}): use sqlite://PATH or postgres://USER:PASS@HOST:PORT/DB"
        )))
    }
}

/// The URL with any password replaced by `***`, for messages and logs.
impl std::fmt::Display for Metadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Metadata::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Metadata::Postgres(url) => {
                // scheme://[user[:password]@]host...: hide what lies between the first ':' of the userinfo and
                // its '@'.
                let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
                let authority_end = rest.find('/').unwrap_or(rest.len());
                match rest[..authority_end].rfind('@') {
                    Some(at) => {
                        let userinfo = &rest[..at];
                        let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
                        let hidden = if user.len() < userinfo.len() { ":***" } else { "" };
                        write!(f, "{scheme}://{user}{hidden}{}", &rest[at..])
                    }
                    None => write!(f, "{url}"),
                }
            }
        }
    }
}

impl std::fmt::Debug for Metadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Metadata({self})")
    }
}

/// What flags and the environment set, each `None` where not given.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub log_format: Option<LogFormat>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub header_timeout_seconds: Option<u64>,
    pub idle_timeout_seconds: Option<u64>,
    pub body_timeout_seconds: Option<u64>,
    pub max_connections_per_address: Option<usize>,
    pub metadata_url: Option<String>,
    pub storage: StorageOverrides,
    pub gc_grace: Option<String>,
    pub gc_interval: Option<String>,
    pub soft_delete_window: Option<String>,
    pub lifecycle_interval_hours: Option<u64>,
    pub job_workers: Option<usize>,
    pub metrics_listen: Option<SocketAddr>,
    pub rate_limits: RateLimitOverrides,
    pub metering: MeteringOverrides,
    /// `BERTH_WEBHOOKS_ALLOW_PRIVATE`.
    pub webhooks_allow_private: Option<bool>,
}

/// Blob store settings from flags and the environment.
#[derive(Debug, Default, Clone)]
pub struct StorageOverrides {
    pub url: Option<String>,
    pub s3_endpoint: Option<String>,
    pub s3_path_style: Option<bool>,
    pub s3_redirect: Option<bool>,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`).
    pub s3_region: Option<String>,
    /// `--encryption` / `BERTH_ENCRYPTION`.
    pub encryption: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
#[error("TLS needs both a certificate and a key (--tls-cert and --tls-key)")]
pub struct IncompleteTls;

/// A configuration whose parts do not fit together.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Tls(#[from] IncompleteTls),
    /// `--metadata-url` / `BERTH_METADATA_URL` / `[metadata] url` is not one berth can use.
    #[error("metadata URL: {0}")]
    MetadataUrl(String),
    /// `--storage-url` / `BERTH_STORAGE_URL` / `[storage] url` is not one berth can use.
    #[error("storage URL (--storage-url / BERTH_STORAGE_URL / [storage] url): {0}")]
    StorageUrl(String),
    #[error("garbage collection setting {setting}: {message}")]
    Gc { setting: &'static str, message: String },
    #[error("rate limit {setting}: {message}")]
    RateLimit { setting: &'static str, message: String },
    #[error("{setting}: {message}")]
    Metering { setting: &'static str, message: String },
    #[error("webhook setting {setting}: {message}")]
    Webhooks { setting: &'static str, message: String },
}

impl FileConfig {
    pub fn load(path: Option<&Path>) -> Result<FileConfig, ConfigError> {
        let Some(path) = path else { return Ok(FileConfig::default()) };
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        FileConfig::parse(&text).map_err(|source| ConfigError::Parse { path: path.to_path_buf(), source })
    }

    pub fn parse(text: &str) -> Result<FileConfig, toml::de::Error> {
        toml::from_str(text)
    }

    /// Lays flags/environment over this file and the defaults.
    pub fn resolve(self, o: Overrides) -> Result<Config, ResolveError> {
        let tls = match (o.tls_cert.or(self.tls.cert), o.tls_key.or(self.tls.key)) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => return Err(IncompleteTls.into()),
        };
        let data_dir = o.data_dir.or(self.data_dir).unwrap_or_else(|| PathBuf::from("./berth-data"));
        let metadata = match o.metadata_url.or(self.metadata.url).filter(|u| !u.is_empty()) {
            Some(url) => Metadata::parse(&url)?,
            None => Metadata::Sqlite(data_dir.join("meta.db")),
        };
        let st = o.storage;
        let encryption = st.encryption.or(self.encryption.enabled).unwrap_or(false);
        let storage = match st.url.or(self.storage.url).filter(|u| !u.is_empty()) {
            Some(url) => Storage::parse(&url)?,
            None => Storage::Fs(data_dir.clone()),
        };
        let storage = match storage {
            Storage::S3(mut s3) => {
                let nonempty = |v: Option<String>| v.filter(|v| !v.is_empty());
                s3.endpoint = nonempty(st.s3_endpoint).or(nonempty(self.storage.endpoint));
                s3.path_style = st.s3_path_style.or(self.storage.path_style);
                s3.region = nonempty(st.s3_region).or(nonempty(self.storage.region));
                s3.redirect = st.s3_redirect.or(self.storage.redirect).unwrap_or(false);
                if s3.redirect && encryption {
                    return Err(ResolveError::StorageUrl(
                        "redirect = true cannot be combined with encryption: a presigned URL would serve the encrypted \
                         bytes (encrypted blobs are served through berth)"
                            .into(),
                    ));
                }
                Storage::S3(s3)
            }
            fs => {
                if st.s3_redirect.or(self.storage.redirect) == Some(true) {
                    return Err(ResolveError::StorageUrl(
                        "redirect = true needs S3 storage (s3://BUCKET/PREFIX): a directory has no URLs to redirect to"
                            .into(),
                    ));
                }
                fs
            }
        };
        let cap = |set: Option<u64>, default: u64| Some(set.unwrap_or(default)).filter(|&n| n > 0);
        let defaults = crate::connections::Limits::default();
        let seconds = |flag: Option<u64>, file: Option<u64>, default: Duration| {
            flag.or(file).map_or(default, |s| Duration::from_secs(s.max(1)))
        };
        let connections = crate::connections::Limits {
            header_timeout: seconds(
                o.header_timeout_seconds,
                self.connections.header_timeout_seconds,
                defaults.header_timeout,
            ),
            idle_timeout: seconds(o.idle_timeout_seconds, self.connections.idle_timeout_seconds, defaults.idle_timeout),
            body_timeout: seconds(o.body_timeout_seconds, self.connections.body_timeout_seconds, defaults.body_timeout),
            max_per_address: o
                .max_connections_per_address
                .or(self.connections.max_per_address)
                .unwrap_or(defaults.max_per_address),
        };
        let duration = |setting: &'static str, value: Option<String>, default: Duration| match value {
            Some(v) if !v.trim().is_empty() => {
                parse_duration(&v).map_err(|message| ResolveError::Gc { setting, message })
            }
            _ => Ok(default),
        };
        let gc_grace =
            duration("BERTH_GC_GRACE / [gc] grace", o.gc_grace.or(self.gc.grace), Duration::from_secs(3600))?;
        let gc_interval =
            duration("BERTH_GC_INTERVAL / [gc] interval", o.gc_interval.or(self.gc.interval), Duration::from_secs(60))?;
        let soft_delete_window = duration(
            "BERTH_SOFT_DELETE_WINDOW / [gc] soft_delete_window",
            o.soft_delete_window.or(self.gc.soft_delete_window),
            Duration::from_secs(7 * 86_400),
        )?;
        let rate = |setting: &'static str, flag: Option<String>, file: Option<String>| {
            flag.or(file)
                .map_or(Ok(None), |v| parse_rate(&v))
                .map_err(|message| ResolveError::RateLimit { setting, message })
        };
        let (rl, frl) = (o.rate_limits, self.rate_limits);
        let rate_limits = RateLimits {
            manifest_pulls: rate(
                "BERTH_RATE_LIMIT_MANIFEST_PULLS / [rate_limits] manifest_pulls",
                rl.manifest_pulls,
                frl.manifest_pulls,
            )?,
            anonymous_manifest_pulls: rate(
                "BERTH_RATE_LIMIT_ANONYMOUS_MANIFEST_PULLS / [rate_limits] anonymous_manifest_pulls",
                rl.anonymous_manifest_pulls,
                frl.anonymous_manifest_pulls,
            )?,
            requests: rate("BERTH_RATE_LIMIT_REQUESTS / [rate_limits] requests", rl.requests, frl.requests)?,
        };
        let (m, fm, fp) = (o.metering, self.metering, self.pricing);
        let meter_retention = match m.retention.or(fm.retention) {
            Some(v) if !v.trim().is_empty() => parse_duration(&v).map_err(|message| ResolveError::Metering {
                setting: "BERTH_METER_RETENTION / [metering] retention",
                message,
            })?,
            _ => berth_registry::meter::DEFAULT_RETENTION,
        };
        let price = |setting: &'static str, flag: Option<f64>, file: Option<f64>| match flag.or(file) {
            Some(v) if !v.is_finite() || v < 0.0 => {
                Err(ResolveError::Metering { setting, message: format!("{v} is not a price (a number, 0 or more)") })
            }
            v => Ok(v),
        };
        let storage_gb_month = price(
            "BERTH_PRICE_STORAGE_GB_MONTH / [pricing] storage_gb_month",
            m.storage_gb_month,
            fp.storage_gb_month,
        )?;
        let transfer_out_gb =
            price("BERTH_PRICE_TRANSFER_OUT_GB / [pricing] transfer_out_gb", m.transfer_out_gb, fp.transfer_out_gb)?;
        let free_transfer_out_gb = price(
            "BERTH_PRICE_FREE_TRANSFER_OUT_GB / [pricing] free_transfer_out_gb",
            m.free_transfer_out_gb,
            fp.free_transfer_out_gb,
        )?;
        let pricing =
            (storage_gb_month.is_some() || transfer_out_gb.is_some()).then(|| berth_registry::meter::Pricing {
                storage_gb_month: storage_gb_month.unwrap_or(0.0),
                transfer_out_gb: transfer_out_gb.unwrap_or(0.0),
                free_transfer_out_gb: free_transfer_out_gb.unwrap_or(0.0),
            });
        let webhooks = self.webhooks.resolve(o.webhooks_allow_private)?;
        Ok(Config {
            encryption,
            webhooks,
            metering: m.enabled.or(fm.enabled).unwrap_or(true),
            meter_retention,
            pricing,
            rate_limits,
            metrics_listen: o.metrics_listen.or(self.metrics.listen),
            gc_grace,
            gc_interval,
            soft_delete_window,
            listen: o.listen.or(self.listen).unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 5000))),
            data_dir,
            max_manifest_bytes: self.limits.max_manifest_bytes.unwrap_or(4 * 1024 * 1024),
            default_catalog_page: self.limits.default_catalog_page.unwrap_or(1000),
            log_format: o.log_format.or(self.log.format).unwrap_or_default(),
            log_level: self.log.level.unwrap_or_else(|| "info".to_string()),
            upload_expiry_hours: self.uploads.expire_after_hours.unwrap_or(4).max(1),
            job_workers: o.job_workers.or(self.jobs.workers).unwrap_or(2),
            job_retention_days: self.jobs.retention_days.unwrap_or(7).max(1),
            max_open_uploads_per_repository: cap(self.uploads.max_open_per_repository, 1000),
            max_open_uploads_per_principal: cap(self.uploads.max_open_per_principal, 200),
            lifecycle_interval_hours: o.lifecycle_interval_hours.or(self.lifecycle.interval_hours).unwrap_or(24),
            tls,
            account_id: self.identity.account_id.unwrap_or_else(|| "000000000000".to_string()),
            region: self.identity.region.unwrap_or_else(|| "us-east-1".to_string()),
            connections,
            metadata,
            storage,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every ```toml block of the README is a config file berth accepts (unknown keys are refused, so a
    /// misplaced or misspelt setting in the documentation fails here).
    #[test]
    fn the_readme_config_examples_parse() {
        let readme = include_str!("../../../README.md");
        let blocks: Vec<&str> =
            readme.split("```toml\n").skip(1).map(|rest| rest.split("```").next().unwrap_or_default()).collect();
        assert!(!blocks.is_empty(), "the README has config examples");
        for block in blocks {
            if let Err(e) = FileConfig::parse(block) {
                panic!("README config example does not parse: {e}\n{block}");
            }
        }
    }

    #[test]
    fn rate_limits_are_off_by_default_and_the_environment_wins() {
        let c = FileConfig::default().resolve(Overrides::default()).unwrap();
        assert!(c.rate_limits.is_off());
        let file = FileConfig::parse(
            "[rate_limits]\nmanifest_pulls = \"100/6h\"\nanonymous_manifest_pulls = \"10/1h\"\nrequests = \"6000/1m\"\n",
        )
        .unwrap();
        let overrides = Overrides {
            rate_limits: RateLimitOverrides { manifest_pulls: Some("3/90s".into()), ..Default::default() },
            ..Default::default()
        };
        let c = file.resolve(overrides).unwrap();
        assert_eq!(c.rate_limits.manifest_pulls, Some(Rate { limit: 3, window: 90 }), "the environment wins");
        assert_eq!(c.rate_limits.anonymous_manifest_pulls, Some(Rate { limit: 10, window: 3600 }));
        assert_eq!(c.rate_limits.requests, Some(Rate { limit: 6000, window: 60 }));
        let off = Overrides {
            rate_limits: RateLimitOverrides { requests: Some(String::new()), ..Default::default() },
            ..Default::default()
        };
        let file = FileConfig::parse("[rate_limits]\nrequests = \"5/1s\"\n").unwrap();
        assert_eq!(file.resolve(off).unwrap().rate_limits.requests, None, "an empty variable turns it off");
        for bad in ["100", "0/1h", "10/0s", "ten/1h", "10/1w", "10/"] {
            let o = Overrides {
                rate_limits: RateLimitOverrides { requests: Some(bad.into()), ..Default::default() },
                ..Default::default()
            };
            let e = FileConfig::default().resolve(o).unwrap_err().to_string();
            assert!(e.contains("BERTH_RATE_LIMIT_REQUESTS"), "{bad}: {e}");
        }
        assert!(FileConfig::parse("[rate_limits]\npulls = \"1/1h\"\n").is_err(), "unknown keys are refused");
    }

    #[test]
    fn layers_flags_over_file_over_defaults() {
        let file = FileConfig::parse(
            "listen = \"127.0.0.1:6000\"\ndata_dir = \"/srv/berth\"\n[limits]\nmax_manifest_bytes = 10\n",
        )
        .unwrap();
        let c =
            file.resolve(Overrides { listen: Some("127.0.0.1:7000".parse().unwrap()), ..Default::default() }).unwrap();
        assert_eq!(c.listen, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(c.data_dir, PathBuf::from("/srv/berth"));
        assert_eq!(c.max_manifest_bytes, 10);
        let d = FileConfig::default().resolve(Overrides::default()).unwrap();
        assert_eq!(d.listen, "0.0.0.0:5000".parse().unwrap());
        assert_eq!(d.data_dir, PathBuf::from("./berth-data"));
    }

    #[test]
    fn tls_needs_cert_and_key() {
        let half = Overrides { tls_cert: Some("c.pem".into()), ..Default::default() };
        assert!(FileConfig::default().resolve(half).is_err());
        let file = FileConfig::parse("[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"").unwrap();
        assert_eq!(file.resolve(Overrides::default()).unwrap().tls, Some(("c.pem".into(), "k.pem".into())));
    }

    #[test]
    fn connection_limits() {
        let d = FileConfig::default().resolve(Overrides::default()).unwrap();
        assert_eq!(d.connections, crate::connections::Limits::default());
        let file = FileConfig::parse("[connections]\nheader_timeout_seconds = 5\nmax_per_address = 10\n").unwrap();
        let c = file
            .resolve(Overrides {
                max_connections_per_address: Some(20),
                body_timeout_seconds: Some(7),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(c.connections.header_timeout, Duration::from_secs(5));
        assert_eq!(c.connections.body_timeout, Duration::from_secs(7));
        assert_eq!(c.connections.idle_timeout, d.connections.idle_timeout);
        assert_eq!(c.connections.max_per_address, 20, "the environment/flag wins over the file");
        assert!(FileConfig::parse("[connections]\nheader_timeout = 5").is_err());
    }

    #[test]
    fn upload_session_limits() {
        let d = FileConfig::default().resolve(Overrides::default()).unwrap();
        assert_eq!(d.upload_expiry_hours, 4);
        assert_eq!((d.job_workers, d.job_retention_days), (2, 7));
        let jobs = FileConfig::parse("[jobs]\nworkers = 0\nretention_days = 30\n").unwrap();
        let c = jobs.resolve(Overrides::default()).unwrap();
        assert_eq!((c.job_workers, c.job_retention_days), (0, 30), "a node that runs no jobs");
        assert_eq!((d.max_open_uploads_per_repository, d.max_open_uploads_per_principal), (Some(1000), Some(200)));
        let file = FileConfig::parse("[uploads]\nmax_open_per_repository = 0\nmax_open_per_principal = 7\n").unwrap();
        let c = file.resolve(Overrides::default()).unwrap();
        assert_eq!((c.max_open_uploads_per_repository, c.max_open_uploads_per_principal), (None, Some(7)), "0: no cap");
    }

    #[test]
    fn storage_url() {
        let o = |url: Option<&str>| Overrides {
            data_dir: Some("/srv/b".into()),
            storage: StorageOverrides { url: url.map(str::to_string), ..Default::default() },
            ..Default::default()
        };
        let c = FileConfig::default().resolve(o(None)).unwrap();
        assert_eq!(c.storage, Storage::Fs("/srv/b".into()), "default: the data directory");
        let c = FileConfig::default().resolve(o(Some("file:///mnt/blobs"))).unwrap();
        assert_eq!(c.storage, Storage::Fs("/mnt/blobs".into()));
        let file = FileConfig::parse(
            "[storage]\nurl = \"s3://team-blobs/berth\"\nendpoint = \"http://minio:9000\"\nredirect = true\n",
        )
        .unwrap();
        let mut flags = o(None);
        flags.storage.s3_path_style = Some(false);
        let Storage::S3(s3) = file.resolve(flags).unwrap().storage else { panic!("not S3") };
        assert_eq!((s3.bucket.as_str(), s3.prefix.as_str()), ("team-blobs", "berth"));
        assert_eq!(s3.endpoint.as_deref(), Some("http://minio:9000"));
        assert_eq!((s3.path_style, s3.redirect), (Some(false), true));
        for bad in ["s3://", "s3://UPPER/x", "gs://b/p", "file://", "s3://bucket/../x"] {
            let e = FileConfig::default().resolve(o(Some(bad))).unwrap_err().to_string();
            assert!(e.contains("storage URL"), "{bad}: {e}");
        }
        let redirect_fs = FileConfig::parse("[storage]\nredirect = true\n").unwrap().resolve(o(None));
        assert!(redirect_fs.unwrap_err().to_string().contains("needs S3"));
    }

    #[test]
    fn metadata_url() {
        let d = FileConfig::default().resolve(Overrides { data_dir: Some("/srv/b".into()), ..Default::default() });
        assert_eq!(d.unwrap().metadata, Metadata::Sqlite("/srv/b/meta.db".into()), "default: the data dir's database");
        let file = FileConfig::parse("[metadata]\nurl = \"sqlite:///var/lib/berth/meta.db\"\n").unwrap();
        assert_eq!(
            file.resolve(Overrides::default()).unwrap().metadata,
            Metadata::Sqlite("/var/lib/berth/meta.db".into())
        );
        let file = FileConfig::parse("[metadata]\nurl = \"sqlite:///var/lib/berth/meta.db\"\n").unwrap();
        let pg = "postgres://berth:pw@db:5432/berth";
        let c = file.resolve(Overrides { metadata_url: Some(pg.into()), ..Default::default() }).unwrap();
        assert_eq!(c.metadata, Metadata::Postgres(pg.into()), "the environment/flag wins over the file");
        assert_eq!(c.metadata.to_string(), "postgres://berth:***@db:5432/berth", "the password is not shown");
        assert!(!format!("{c:?}").contains(":pw@"));
        let shown = |u: &str| Metadata::parse(u).unwrap().to_string();
        assert_eq!(shown("postgresql://db/berth"), "postgresql://db/berth");
        assert_eq!(shown("postgres://u@db/berth"), "postgres://u@db/berth");
        assert_eq!(shown("postgres://u:p:q@db/b?x=@"), "postgres://u:***@db/b?x=@");
        for bad in ["mysql://db/berth", "/var/lib/berth/meta.db", "sqlite://"] {
            let e = Metadata::parse(bad).unwrap_err().to_string();
            assert!(e.contains("sqlite://") && e.contains("postgres"), "{bad}: {e}");
        }
        assert!(FileConfig::parse("[metadata]\nurls = \"x\"").is_err());
    }

    #[test]
    fn soft_delete_window() {
        let c = FileConfig::default().resolve(Overrides::default()).unwrap();
        assert_eq!(c.soft_delete_window, Duration::from_secs(7 * 86_400), "seven days by default");
        let file = FileConfig::parse("[gc]\nsoft_delete_window = \"12h\"").unwrap();
        assert_eq!(file.resolve(Overrides::default()).unwrap().soft_delete_window, Duration::from_secs(12 * 3600));
        let file = FileConfig::parse("[gc]\nsoft_delete_window = \"12h\"").unwrap();
        let off = file.resolve(Overrides { soft_delete_window: Some("0".into()), ..Default::default() }).unwrap();
        assert_eq!(off.soft_delete_window, Duration::ZERO, "the environment wins; 0 turns soft delete off");
        let bad = FileConfig::default()
            .resolve(Overrides { soft_delete_window: Some("a week".into()), ..Default::default() });
        assert!(bad.unwrap_err().to_string().contains("BERTH_SOFT_DELETE_WINDOW"));
    }

    #[test]
    fn gc_settings() {
        let c = FileConfig::default().resolve(Overrides::default()).unwrap();
        assert_eq!((c.gc_grace, c.gc_interval), (Duration::from_secs(3600), Duration::from_secs(60)));
        let file = FileConfig::parse("[gc]\ngrace = \"30m\"\ninterval = \"0\"").unwrap();
        let c = file.resolve(Overrides::default()).unwrap();
        assert_eq!((c.gc_grace, c.gc_interval), (Duration::from_secs(1800), Duration::ZERO));
        let file = FileConfig::parse("[gc]\ngrace = \"30m\"").unwrap();
        let c = file.resolve(Overrides { gc_grace: Some("0s".into()), ..Default::default() }).unwrap();
        assert_eq!(c.gc_grace, Duration::ZERO, "the environment wins over the file");
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("1w").is_err() && parse_duration("h").is_err() && parse_duration("-1s").is_err());
        let bad = FileConfig::default().resolve(Overrides { gc_grace: Some("soon".into()), ..Default::default() });
        assert!(bad.unwrap_err().to_string().contains("BERTH_GC_GRACE"));
    }

    #[test]
    fn encryption_is_off_by_default_and_excludes_redirects() {
        assert!(!FileConfig::default().resolve(Overrides::default()).unwrap().encryption);
        let file = FileConfig::parse("[encryption]\nenabled = true").unwrap();
        assert!(file.resolve(Overrides::default()).unwrap().encryption);
        let file =
            FileConfig::parse("[encryption]\nenabled = true\n[storage]\nurl = \"s3://bucket/p\"\nredirect = true")
                .unwrap();
        let err = file.resolve(Overrides::default()).unwrap_err().to_string();
        assert!(err.contains("cannot be combined with encryption"), "{err}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = FileConfig::parse("listne = \"127.0.0.1:1\"").unwrap_err().to_string();
        assert!(err.contains("listne"), "{err}");
        assert!(FileConfig::parse("[limits]\nmax_manifest = 1").is_err());
    }
}
