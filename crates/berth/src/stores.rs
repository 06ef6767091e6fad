//! Picks and opens the concrete backends for a data directory and metadata URL. The only place that names
//! them.

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use berth_auth::sealed::MasterKey;
use berth_auth::secret::Secret;
use berth_identity::{Account, Identity, IdentityConfig};
use berth_meta::identity::IdentityMeta;
use berth_meta::{MetaStore, PgMeta, SqliteMeta};
use berth_registry::gc::GcSettings;
use berth_registry::{Limits, Registry};
use berth_storage::sealed::LocalKeys;
use berth_storage::{BlobStore, FsBlobStore, S3BlobStore, SealedBlobStore};

use crate::config::{Config, Metadata, Storage};

type BoxError = Box<dyn std::error::Error>;

/// The backends: blobs under the data directory, metadata in `meta.db` beside them (or where
/// `--metadata-url` says).
pub struct Stores {
    pub registry: Registry,
    pub meta: Meta,
}

/// The metadata store `--metadata-url` names.
#[derive(Debug, Clone)]
pub enum Meta {
    Sqlite(SqliteMeta),
    Postgres(PgMeta),
}

impl Meta {
    /// Opens the store (creating or migrating its schema); an unreachable one is an error naming what to fix.
    pub async fn open(metadata: &Metadata) -> Result<Meta, BoxError> {
        match metadata {
            Metadata::Sqlite(path) => Ok(Meta::Sqlite(SqliteMeta::open(path).await?)),
            Metadata::Postgres(url) => match PgMeta::connect(url).await {
                Ok(meta) => Ok(Meta::Postgres(meta)),
                Err(e) => Err(format!(
                    "opening the metadata database {metadata}: {e} (check --metadata-url / BERTH_METADATA_URL / \
                     [metadata] url: the server's address, that it is running, the user, password and database)"
                )
                .into()),
            },
        }
    }

    /// Closes the store, waiting for what is in flight.
    pub async fn close(&self) {
        match self {
            Meta::Sqlite(m) => m.close().await,
            Meta::Postgres(m) => m.close().await,
        }
    }

    fn store(&self) -> Arc<dyn MetaStore> {
        match self {
            Meta::Sqlite(m) => Arc::new(m.clone()),
            Meta::Postgres(m) => Arc::new(m.clone()),
        }
    }

    /// The rate limit counters every node shares.
    pub fn rate_limits(&self) -> Arc<dyn berth_meta::ratelimits::RateLimitStore> {
        match self {
            Meta::Sqlite(m) => Arc::new(m.clone()),
            Meta::Postgres(m) => Arc::new(m.clone()),
        }
    }

    fn identity(&self) -> Arc<dyn IdentityMeta> {
        match self {
            Meta::Sqlite(m) => Arc::new(m.clone()),
            Meta::Postgres(m) => Arc::new(m.clone()),
        }
    }
}

pub async fn open_stores(config: &Config) -> Result<Stores, BoxError> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("creating data directory {}: {e}", config.data_dir.display()))?;
    let sealing = if config.encryption { Some(master_key(&config.data_dir)?) } else { None };
    let blobs = open_blobs(&config.storage, sealing.as_ref()).await?;
    let meta = Meta::open(&config.metadata).await?;
    let limits = Limits {
        max_manifest_bytes: config.max_manifest_bytes,
        default_catalog_page: config.default_catalog_page,
        max_open_uploads_per_repository: config.max_open_uploads_per_repository,
        max_open_uploads_per_principal: config.max_open_uploads_per_principal,
        ..Limits::default()
    };
    let gc = GcSettings {
        grace: config.gc_grace,
        // SQLite is one server's store: a commit another process left in flight was cut short by a crash.
        single_process: matches!(meta, Meta::Sqlite(_)),
        ..GcSettings::default()
    };
    let registry = Registry::new(meta.store(), blobs, crate::test_clock::registry_clock(), limits)
        .with_gc_settings(gc)
        .with_soft_delete_window(config.soft_delete_window);
    Ok(Stores { registry, meta })
}

/// Opens the blob store `--storage-url` names; an unreachable S3 bucket is an error naming what to fix. With
/// `sealing` (the master key), blobs are stored encrypted under a key-encryption key derived from it.
pub async fn open_blobs(storage: &Storage, sealing: Option<&MasterKey>) -> Result<Arc<dyn BlobStore>, BoxError> {
    let store = open_plain_blobs(storage).await?;
    Ok(match sealing {
        Some(master) => {
            let keys = LocalKeys::new(DEFAULT_KEY, master.derive(DEFAULT_KEY_LABEL));
            Arc::new(SealedBlobStore::new(store, Arc::new(keys)))
        }
        None => store,
    })
}

/// The id of the registry's default key-encryption key (what `AES256` repositories use), as sealed blob headers
/// name it.
const DEFAULT_KEY: &str = "default";
/// What the default key-encryption key is derived from the master key with (a new label is a new key).
const DEFAULT_KEY_LABEL: &str = "berth blob key-encryption key: default, version 1";

async fn open_plain_blobs(storage: &Storage) -> Result<Arc<dyn BlobStore>, BoxError> {
    match storage {
        Storage::Fs(dir) => {
            let store = FsBlobStore::open(dir.clone())
                .await
                .map_err(|e| format!("opening the blob directory {}: {e}", dir.display()))?;
            Ok(Arc::new(store))
        }
        Storage::S3(s3) => {
            let store = S3BlobStore::connect(s3).await.map_err(|e| {
                format!("opening the blob store (--storage-url / BERTH_STORAGE_URL / [storage] url): {e}")
            })?;
            Ok(Arc::new(store))
        }
    }
}

/// Identity services over the metadata store, with the first administrator bootstrapped.
pub async fn open_identity(config: &Config, meta: Meta) -> Result<Arc<Identity>, BoxError> {
    let master = master_key(&config.data_dir)?;
    let identity_config = IdentityConfig {
        account: Account { id: config.account_id.clone(), region: config.region.clone() },
        ..IdentityConfig::default()
    };
    let identity = Identity::open(meta.identity(), master, identity_config, berth_identity::system_clock()).await?;
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty()).map(Secret::new);
    let password = env("BERTH_ADMIN_PASSWORD");
    let key_id = std::env::var("BERTH_ADMIN_ACCESS_KEY_ID").ok().filter(|v| !v.is_empty());
    let key_secret = env("BERTH_ADMIN_SECRET_ACCESS_KEY");
    let key = match (&key_id, &key_secret) {
        (Some(id), Some(secret)) => Some((id.as_str(), secret)),
        _ => None,
    };
    if let Some(generated) = identity.bootstrap_admin(password.as_ref(), key).await? {
        // Shown once, on the terminal that started berth; never logged.
        eprintln!("berth: created user 'admin' with password {} (shown only now)", generated.expose());
        eprintln!("berth: next, on a client: `docker login HOST:PORT --username admin` (that password), and");
        eprintln!("berth:   `berth login --endpoint http://HOST:PORT` for the berth CLI and an aws CLI access key");
    }
    Ok(Arc::new(identity))
}

/// The key that seals stored secrets: `BERTH_MASTER_KEY` (base64, 32 bytes; give every node the same one),
/// else `master.key` in the data directory, created on first start with owner-only permissions.
fn master_key(data_dir: &Path) -> Result<MasterKey, BoxError> {
    if let Some(key) = existing_master_key(data_dir)? {
        return Ok(key);
    }
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = data_dir.join("master.key");
    let key = MasterKey::generate();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| format!("creating {}: {e}", path.display()))?;
    f.write_all(base64::engine::general_purpose::STANDARD.encode(key.to_bytes()).as_bytes())?;
    f.sync_all()?;
    Ok(key)
}

/// The master key `BERTH_MASTER_KEY` or the data directory's `master.key` holds, if any (never creates one).
pub fn existing_master_key(data_dir: &Path) -> Result<Option<MasterKey>, BoxError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let decode = |text: &str, origin: &str| -> Result<MasterKey, BoxError> {
        let bytes = b64.decode(text.trim()).map_err(|e| format!("{origin}: not base64: {e}"))?;
        MasterKey::from_bytes(&bytes).map_err(|e| format!("{origin}: {e}").into())
    };
    if let Ok(text) = std::env::var("BERTH_MASTER_KEY") {
        return decode(&text, "BERTH_MASTER_KEY").map(Some);
    }
    let path = data_dir.join("master.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => decode(&text, &path.display().to_string()).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("reading {}: {e}", path.display()).into()),
    }
}
