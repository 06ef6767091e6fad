//! The `berth` binary: `berth serve` runs the registry, `berth fsck` checks a data directory, and the other
//! subcommands manage users, keys, groups, policies and tokens through the admin API.

mod cli;
mod config;
mod connections;
mod migrate;
mod serve;
mod stores;
mod test_clock;
mod tls;
mod vulndb;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::LogFormat;

#[derive(Parser)]
#[command(name = "berth", version, about = "A self-hosted container registry")]
struct Cli {
    #[command(flatten)]
    client: cli::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the registry (OCI distribution API on /v2/).
    Serve(Box<ServeArgs>),
    /// Check that metadata and stored bytes agree (run with the server stopped to repair).
    Fsck(FsckArgs),
    /// Manage the vulnerability database scans are matched against.
    #[command(subcommand)]
    Vulndb(VulndbCommand),
    /// Copy this installation (SQLite + files) into the metadata and blob stores a config file names
    /// (PostgreSQL + S3); resumable, verifies every blob's digest.
    Migrate(MigrateArgs),
    #[command(flatten)]
    Admin(cli::AdminCommand),
}

#[derive(clap::Args)]
struct MigrateArgs {
    /// The target: a TOML config file whose [metadata] url is postgres://... and [storage] url s3://... (with
    /// the S3 settings); credentials from the AWS variables, as for `berth serve`.
    #[arg(long)]
    to_config: PathBuf,
    /// The source's data directory [default: ./berth-data].
    #[arg(long, env = "BERTH_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The source's metadata store [default: meta.db in the data directory].
    #[arg(long, env = "BERTH_METADATA_URL")]
    metadata_url: Option<String>,
    #[command(flatten)]
    storage: StorageArgs,
    /// The source's config file.
    #[arg(long, env = "BERTH_CONFIG")]
    config: Option<PathBuf>,
}

/// Where the blobs live (serve, fsck and vulndb import take the same settings).
#[derive(clap::Args, Clone)]
struct StorageArgs {
    /// The blob store: file://DIR or s3://BUCKET/PREFIX [default: the data directory].
    #[arg(long, env = "BERTH_STORAGE_URL")]
    storage_url: Option<String>,
    /// S3 server URL, for servers other than AWS S3 (e.g. http://minio:9000).
    #[arg(long, env = "BERTH_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// Path-style S3 requests (true|false) [default: true with --s3-endpoint, else false].
    #[arg(long, env = "BERTH_S3_PATH_STYLE")]
    s3_path_style: Option<bool>,
    /// Answer blob downloads with a 307 redirect to a presigned S3 URL (true|false) [default: false].
    #[arg(long, env = "BERTH_S3_REDIRECT")]
    s3_redirect: Option<bool>,
    /// Store blobs encrypted at rest (AES-256-GCM under keys derived from the master key) (true|false)
    /// [default: false]. Blobs stored before it was enabled stay readable.
    #[arg(long, env = "BERTH_ENCRYPTION")]
    encryption: Option<bool>,
}

impl StorageArgs {
    fn overrides(self) -> config::StorageOverrides {
        let region = std::env::var("AWS_REGION").or_else(|_| std::env::var("AWS_DEFAULT_REGION")).ok();
        config::StorageOverrides {
            url: self.storage_url,
            s3_endpoint: self.s3_endpoint,
            s3_path_style: self.s3_path_style,
            s3_redirect: self.s3_redirect,
            s3_region: region,
            encryption: self.encryption,
        }
    }
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on [default: 0.0.0.0:5000]; port 0 picks a free port.
    #[arg(long, env = "BERTH_LISTEN")]
    listen: Option<SocketAddr>,
    /// Where blobs and metadata live [default: ./berth-data].
    #[arg(long, env = "BERTH_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The metadata store: sqlite://PATH or postgres://USER:PASS@HOST:PORT/DB [default: meta.db in the data
    /// directory].
    #[arg(long, env = "BERTH_METADATA_URL")]
    metadata_url: Option<String>,
    #[command(flatten)]
    storage: StorageArgs,
    /// A TOML configuration file.
    #[arg(long, env = "BERTH_CONFIG")]
    config: Option<PathBuf>,
    /// Log format [default: human].
    #[arg(long, env = "BERTH_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    /// PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, env = "BERTH_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "BERTH_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Seconds a client has to send a complete request head after connecting [default: 10].
    #[arg(long, env = "BERTH_HEADER_TIMEOUT_SECONDS")]
    header_timeout_seconds: Option<u64>,
    /// Seconds after which a connection without a request in flight is closed [default: 120].
    #[arg(long, env = "BERTH_IDLE_TIMEOUT_SECONDS")]
    idle_timeout_seconds: Option<u64>,
    /// Seconds a request body may send nothing (or a client read nothing) before the request fails
    /// [default: 60].
    #[arg(long, env = "BERTH_BODY_TIMEOUT_SECONDS")]
    body_timeout_seconds: Option<u64>,
    /// Open connections per client address (IPv4 address or IPv6 /64); 0 for no cap [default: 256].
    #[arg(long, env = "BERTH_MAX_CONNECTIONS_PER_ADDRESS")]
    max_connections_per_address: Option<usize>,
    /// Start even though the metadata database is new or empty while the data directory holds blobs (berth
    /// refuses by default: the metadata was probably lost; see `berth fsck --rebuild-metadata`).
    #[arg(long, env = "BERTH_ALLOW_EMPTY_METADATA")]
    allow_empty_metadata: bool,
    /// How long an unreferenced blob waits before garbage collection deletes it, e.g. 1h, 30m, 0s
    /// [default: 1h].
    #[arg(long, env = "BERTH_GC_GRACE")]
    gc_grace: Option<String>,
    /// How often garbage collection runs on its own, e.g. 1m; 0 runs it only when asked (`berth gc run`)
    /// [default: 1m].
    #[arg(long, env = "BERTH_GC_INTERVAL")]
    gc_interval: Option<String>,
    /// How long a deleted image or repository stays restorable (`berth images restore`, `berth repo
    /// restore`) before it is purged, e.g. 7d, 12h; 0 deletes at once [default: 7d].
    #[arg(long, env = "BERTH_SOFT_DELETE_WINDOW")]
    soft_delete_window: Option<String>,
    /// How often each repository's lifecycle policy is evaluated, in hours; 0 evaluates only when asked
    /// (`berth lifecycle run`) [default: 24].
    #[arg(long, env = "BERTH_LIFECYCLE_INTERVAL_HOURS")]
    lifecycle_interval_hours: Option<u64>,
    /// Manifest pulls (`GET /v2/<name>/manifests/<ref>`) each authenticated principal may make per window,
    /// as `N/DURATION`, e.g. 100/6h [default: no limit].
    #[arg(long, env = "BERTH_RATE_LIMIT_MANIFEST_PULLS")]
    rate_limit_manifest_pulls: Option<String>,
    /// Manifest pulls each anonymous client address may make per window, e.g. 100/6h [default: no limit].
    #[arg(long, env = "BERTH_RATE_LIMIT_ANONYMOUS_MANIFEST_PULLS")]
    rate_limit_anonymous_manifest_pulls: Option<String>,
    /// API requests (every surface) each principal, or anonymous address, may make per window, e.g. 6000/1m
    /// [default: no limit]. Administrators are never limited.
    #[arg(long, env = "BERTH_RATE_LIMIT_REQUESTS")]
    rate_limit_requests: Option<String>,
    /// Meter requests and bytes per repository, principal and operation (`berth usage report`) [default:
    /// true].
    #[arg(long, env = "BERTH_METERING")]
    metering: Option<bool>,
    /// How long hourly metering figures are kept, e.g. 400d [default: 400d].
    #[arg(long, env = "BERTH_METER_RETENTION")]
    meter_retention: Option<String>,
    /// Let webhooks use plain http:// URLs and loopback, private and link-local addresses [default: false].
    #[arg(long, env = "BERTH_WEBHOOKS_ALLOW_PRIVATE")]
    webhooks_allow_private: Option<bool>,
    /// Price sheet for `berth usage report`'s cost column: dollars per GB-month stored.
    #[arg(long, env = "BERTH_PRICE_STORAGE_GB_MONTH")]
    price_storage_gb_month: Option<f64>,
    /// Dollars per GB transferred out (beyond the free allowance).
    #[arg(long, env = "BERTH_PRICE_TRANSFER_OUT_GB")]
    price_transfer_out_gb: Option<f64>,
    /// GB transferred out free of charge per month, over the whole registry.
    #[arg(long, env = "BERTH_PRICE_FREE_TRANSFER_OUT_GB")]
    price_free_transfer_out_gb: Option<f64>,
    /// Jobs (scans, lifecycle runs, ...) this node runs at once; 0: this node only queues jobs and others
    /// run them [default: 2].
    #[arg(long, env = "BERTH_JOB_WORKERS")]
    job_workers: Option<usize>,
    /// Also serve `GET /metrics` on this address, without authentication (bind it where only the
    /// monitoring system reaches, e.g. 127.0.0.1:9464); `/metrics` on the main listener is access-controlled.
    #[arg(long, env = "BERTH_METRICS_LISTEN")]
    metrics_listen: Option<std::net::SocketAddr>,
}

#[derive(clap::Args)]
struct FsckArgs {
    #[arg(long, env = "BERTH_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[arg(long, env = "BERTH_METADATA_URL")]
    metadata_url: Option<String>,
    #[command(flatten)]
    storage: StorageArgs,
    #[arg(long, env = "BERTH_CONFIG")]
    config: Option<PathBuf>,
    /// Re-hash every blob (reads all stored bytes); damaged blobs are problems.
    #[arg(long, alias = "verify")]
    verify_digests: bool,
    /// Remove leftovers of interrupted uploads and broken upload sessions; move damaged blobs to quarantine/
    /// and unlink them, so clients get BLOB_UNKNOWN (and push them again) instead of bad bytes.
    #[arg(long)]
    repair: bool,
    /// Rebuild repositories, manifests, tags and blob links from the repository journal and the blobs on disk
    /// (after lost or damaged metadata; run with the server stopped), then check.
    #[arg(long)]
    rebuild_metadata: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum VulndbCommand {
    /// Import OSV data and make it the registry's vulnerability database (atomically; running servers load it
    /// and re-evaluate stored scans within seconds).
    Import {
        /// osv.dev `all.zip` files, directories of OSV JSON, JSON files, or oci://REPOSITORY:TAG of an artifact
        /// in this registry whose layers are such files.
        #[arg(required = true)]
        sources: Vec<String>,
        /// What to record as the database's source [default: the sources as given].
        #[arg(long)]
        label: Option<String>,
        #[arg(long, env = "BERTH_DATA_DIR")]
        data_dir: Option<PathBuf>,
        #[arg(long, env = "BERTH_METADATA_URL")]
        metadata_url: Option<String>,
        #[command(flatten)]
        storage: StorageArgs,
        #[arg(long, env = "BERTH_CONFIG")]
        config: Option<PathBuf>,
        /// Then wait (up to 2 minutes) until the server at the endpoint has loaded it, asking over the admin
        /// API with the CLI's credentials (a load balancer answers for one node per request).
        #[arg(long)]
        wait: bool,
    },
    /// Show the registry's imported vulnerability database and the one the answering server has loaded.
    Status {
        /// Print the admin API's JSON answer.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("berth: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(a) => {
                let a = *a;
                let file = config::FileConfig::load(a.config.as_deref())?;
                let overrides = config::Overrides {
                    listen: a.listen,
                    data_dir: a.data_dir,
                    log_format: a.log_format,
                    tls_cert: a.tls_cert,
                    tls_key: a.tls_key,
                    header_timeout_seconds: a.header_timeout_seconds,
                    idle_timeout_seconds: a.idle_timeout_seconds,
                    body_timeout_seconds: a.body_timeout_seconds,
                    max_connections_per_address: a.max_connections_per_address,
                    metadata_url: a.metadata_url,
                    storage: a.storage.overrides(),
                    gc_grace: a.gc_grace,
                    gc_interval: a.gc_interval,
                    soft_delete_window: a.soft_delete_window,
                    lifecycle_interval_hours: a.lifecycle_interval_hours,
                    job_workers: a.job_workers,
                    metrics_listen: a.metrics_listen,
                    rate_limits: config::RateLimitOverrides {
                        manifest_pulls: a.rate_limit_manifest_pulls,
                        anonymous_manifest_pulls: a.rate_limit_anonymous_manifest_pulls,
                        requests: a.rate_limit_requests,
                    },
                    metering: config::MeteringOverrides {
                        enabled: a.metering,
                        retention: a.meter_retention,
                        storage_gb_month: a.price_storage_gb_month,
                        transfer_out_gb: a.price_transfer_out_gb,
                        free_transfer_out_gb: a.price_free_transfer_out_gb,
                    },
                    webhooks_allow_private: a.webhooks_allow_private,
                };
                let options = serve::ServeOptions { allow_empty_metadata: a.allow_empty_metadata };
                serve::run(file.resolve(overrides)?, options).await.map(|_| ExitCode::SUCCESS)
            }
            Command::Fsck(a) => {
                let file = config::FileConfig::load(a.config.as_deref())?;
                let overrides = config::Overrides {
                    data_dir: a.data_dir.clone(),
                    metadata_url: a.metadata_url.clone(),
                    storage: a.storage.clone().overrides(),
                    ..Default::default()
                };
                let config = file.resolve(overrides)?;
                fsck(config, a).await
            }
            Command::Vulndb(VulndbCommand::Import {
                sources,
                label,
                data_dir,
                metadata_url,
                storage,
                config,
                wait,
            }) => {
                let file = config::FileConfig::load(config.as_deref())?;
                let storage = storage.overrides();
                let config =
                    file.resolve(config::Overrides { data_dir, metadata_url, storage, ..Default::default() })?;
                let registry = stores::open_stores(&config).await?.registry;
                let imported = vulndb::import(&registry, &sources, label).await?;
                if wait {
                    vulndb::wait_until_loaded(&cli.client, &imported).await?;
                } else {
                    println!("running servers load it within about 5 seconds (`berth vulndb status`, or --wait)");
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::Vulndb(VulndbCommand::Status { json }) => vulndb::status(&cli.client, json).await,
            Command::Migrate(a) => {
                let file = config::FileConfig::load(a.config.as_deref())?;
                let overrides = config::Overrides {
                    data_dir: a.data_dir,
                    metadata_url: a.metadata_url,
                    storage: a.storage.overrides(),
                    ..Default::default()
                };
                let source = file.resolve(overrides)?;
                // The target is the config file alone (the BERTH_* variables describe the source).
                let target = config::FileConfig::load(Some(&a.to_config))?.resolve(config::Overrides::default())?;
                migrate::run(source, target).await.map(|_| ExitCode::SUCCESS)
            }
            Command::Admin(c) => Ok(cli::run(cli.client, c).await),
        }
    });
    // Blocking tasks still running (a write stuck on a failing disk) must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    result.unwrap_or_else(|e: Box<dyn std::error::Error>| {
        eprintln!("berth: {e}");
        ExitCode::FAILURE
    })
}

/// glibc gives every thread that allocates its own malloc arena and keeps freed memory in them: after a burst
/// (many connections at once, a re-evaluation of every scan) the process stays at several times its working
/// set. Two arenas keep the peak close to what is in use, at no measurable cost to throughput here.
///
/// glibc also raises its mmap threshold to the size of any large block freed, so after the first password hash
/// (argon2's 7 MiB block) every later one comes from the heap and stays resident after it is freed. A fixed
/// threshold of 4 MiB keeps such blocks mapped only while in use; the 1 MiB transfer buffers stay on the heap
/// and are reused from there.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called first thing in `main`, before any other thread exists; mallopt only sets a tunable.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

async fn fsck(config: config::Config, args: FsckArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let stores = stores::open_stores(&config).await?;
    let registry = stores.registry;
    let rebuilt = if args.rebuild_metadata { Some(registry.rebuild_metadata().await?) } else { None };
    let options = berth_registry::FsckOptions { verify_digests: args.verify_digests, repair: args.repair };
    let mut report = registry.fsck(options).await?;
    stores.meta.close().await;
    if let Some(r) = &rebuilt
        && !args.json
    {
        println!(
            "rebuilt {} repositories from the journal: {} manifests and {} tags restored, {} blob links",
            r.repositories, r.manifests_restored, r.tags_restored, r.blobs_linked
        );
        for f in &r.failures {
            println!("NOT RESTORED {f}");
        }
    }
    report.rebuild = rebuilt;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "checked {} blobs ({} re-hashed), {} manifest references, {} upload sessions",
            report.blobs_checked,
            report.blobs_verified,
            report.manifest_references_checked,
            report.upload_sessions_checked
        );
        for p in &report.problems {
            println!("PROBLEM  {p}");
        }
        for l in &report.leftovers {
            println!("leftover {l}");
        }
        for r in &report.repaired {
            println!("repaired {r}");
        }
        println!("{}", if report.is_consistent() { "consistent" } else { "INCONSISTENT" });
    }
    Ok(if report.is_consistent() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
