//! `berth migrate --to-config FILE`: copies a SQLite + filesystem installation into the metadata and blob
//! stores a config file names (PostgreSQL + S3 for a scale-out setup).
//!
//! Blobs first, then metadata, so the target never has a manifest whose blobs are missing. Each blob is
//! streamed from the source into an upload session of the target, hashed on the way (once) and committed
//! only when its digest matches; a blob the target already holds with the same size is skipped, which is what
//! makes a re-run after a kill continue where it stopped. The metadata is copied in one transaction
//! (`berth_meta::transfer`), so it is either all there or not at all.

use berth_meta::transfer::{self, TargetState};
use berth_oci::{Digest, DigestHasher};
use berth_storage::BlobStore;

use crate::config::{Config, Metadata};
use crate::stores;

type BoxError = Box<dyn std::error::Error>;

/// What one run did.
#[derive(Debug, Default)]
struct Counts {
    copied: u64,
    copied_bytes: u64,
    skipped: u64,
    skipped_bytes: u64,
}

pub async fn run(source: Config, target: Config) -> Result<(), BoxError> {
    let Metadata::Sqlite(source_db) = &source.metadata else {
        return Err(format!("the source metadata store must be SQLite (it is {})", source.metadata).into());
    };
    let Metadata::Postgres(target_url) = &target.metadata else {
        return Err(format!(
            "the target's [metadata] url must be a PostgreSQL database (postgres://USER:PASS@HOST:PORT/DB), not {}",
            target.metadata
        )
        .into());
    };
    if !source_db.exists() {
        return Err(
            format!("no metadata database at {} (check --data-dir / --metadata-url)", source_db.display()).into()
        );
    }
    // The master key identifies the installation (its secrets are sealed with it, so the target needs it too).
    let key = stores::existing_master_key(&source.data_dir)?.ok_or_else(|| {
        format!("no master key: neither BERTH_MASTER_KEY nor {}/master.key", source.data_dir.display())
    })?;
    let mut id_input = b"berth installation\0".to_vec();
    id_input.extend_from_slice(&key.to_bytes());
    let source_id = Digest::sha256_of(&id_input).hex()[..24].to_string();

    let source_meta = berth_meta::SqliteMeta::open(source_db).await?;
    let target_meta = match berth_meta::PgMeta::connect(target_url).await {
        Ok(m) => m,
        Err(e) => return Err(format!("opening the target metadata database {}: {e}", target.metadata).into()),
    };
    let state = transfer::claim_target(&target_meta, &source_id).await?;
    eprintln!("berth migrate: from {} + {}", source.metadata, source.storage);
    eprintln!("berth migrate:   to {} + {}", target.metadata, target.storage);
    if state == TargetState::Copied {
        eprintln!("berth migrate: the metadata was copied by an earlier run; checking the blobs");
    }

    // Both sides read and write through the same master key (the target nodes start with it).
    let from = stores::open_blobs(&source.storage, source.encryption.then_some(&key)).await?;
    let to = stores::open_blobs(&target.storage, target.encryption.then_some(&key)).await?;
    let counts = copy_blobs(from.as_ref(), to.as_ref()).await?;

    let rows = if state == TargetState::Pending {
        eprintln!("berth migrate: copying the metadata");
        let report = transfer::copy_metadata(&source_meta, &target_meta).await?;
        for (table, n) in &report.tables {
            if *n > 0 {
                eprintln!("berth migrate:   {table}: {n} rows");
            }
        }
        Some(report.rows())
    } else {
        None
    };
    source_meta.close().await;
    target_meta.close().await;

    eprintln!(
        "berth migrate: done: {} blobs copied ({}), {} already in the target ({}), {}",
        counts.copied,
        human(counts.copied_bytes),
        counts.skipped,
        human(counts.skipped_bytes),
        match rows {
            Some(n) => format!("{n} metadata rows copied"),
            None => "metadata copied earlier".to_string(),
        }
    );
    eprintln!(
        "berth migrate: start the target nodes with BERTH_MASTER_KEY set to the content of {}/master.key (or \
         that file in their data directory): stored secrets are sealed with it",
        source.data_dir.display()
    );
    Ok(())
}

async fn copy_blobs(from: &dyn BlobStore, to: &dyn BlobStore) -> Result<Counts, BoxError> {
    let digests = from.list_blobs().await?;
    let total = digests.len();
    let mut counts = Counts::default();
    eprintln!("berth migrate: {total} blobs to check");
    for (i, digest) in digests.iter().enumerate() {
        let Some(size) = from.stat(digest).await? else { continue };
        if to.stat(digest).await? == Some(size) {
            counts.skipped += 1;
            counts.skipped_bytes += size;
            eprintln!("berth migrate: blob {}/{total} already present {digest} ({})", i + 1, human(size));
            continue;
        }
        copy_blob(from, to, digest, size).await?;
        counts.copied += 1;
        counts.copied_bytes += size;
        eprintln!(
            "berth migrate: blob {}/{total} copied {digest} ({}; {} copied so far)",
            i + 1,
            human(size),
            human(counts.copied_bytes)
        );
    }
    Ok(counts)
}

/// Streams one blob into the target, hashing it on the way; commits only bytes whose digest matches.
async fn copy_blob(from: &dyn BlobStore, to: &dyn BlobStore, digest: &Digest, size: u64) -> Result<(), BoxError> {
    let reader = from.open(digest, None).await?;
    let body: berth_storage::ByteStream = Box::pin(tokio_util::io::ReaderStream::with_capacity(reader.reader, 1 << 20));
    let id = uuid::Uuid::new_v4().to_string();
    let state = to.create_upload(&id).await?;
    let mut hasher = DigestHasher::new(digest.algorithm());
    let appended = to.append_upload(&id, &state, 0, body, &mut |chunk| hasher.update(chunk)).await;
    let (written, state) = match appended {
        Ok(r) => r,
        Err(e) => {
            let _ = to.cancel_upload(&id, &state).await;
            return Err(format!("copying {digest}: {e}").into());
        }
    };
    let actual = hasher.finish();
    if &actual != digest || written != size {
        let _ = to.cancel_upload(&id, &state).await;
        return Err(format!(
            "the source copy of {digest} is damaged ({written} bytes with digest {actual}); run `berth fsck \
             --verify-digests --repair` on the source, then migrate again"
        )
        .into());
    }
    to.commit_upload(&id, &state, digest, size).await?;
    Ok(())
}

fn human(bytes: u64) -> String {
    const MIB: f64 = (1u64 << 20) as f64;
    if bytes >= 1 << 20 { format!("{:.1} MiB", bytes as f64 / MIB) } else { format!("{bytes} bytes") }
}
