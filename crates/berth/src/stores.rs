//! Picks and opens the concrete backends for a data directory. The only place that names them.

use std::sync::Arc;

use berth_meta::SqliteMeta;
use berth_registry::{Limits, Registry, SystemClock};
use berth_storage::FsBlobStore;

use crate::config::Config;

/// Opens the embedded backends: blobs under the data directory, metadata in `meta.db` beside them.
pub async fn open_registry(config: &Config) -> Result<Registry, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("creating data directory {}: {e}", config.data_dir.display()))?;
    let blobs = FsBlobStore::open(config.data_dir.clone()).await?;
    let meta = SqliteMeta::open(&config.data_dir.join("meta.db")).await?;
    let limits = Limits {
        max_manifest_bytes: config.max_manifest_bytes,
        default_catalog_page: config.default_catalog_page,
        ..Limits::default()
    };
    Ok(Registry::new(Arc::new(meta), Arc::new(blobs), Arc::new(SystemClock), limits))
}
