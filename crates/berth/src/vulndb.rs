//! `berth vulndb import SOURCE...`: builds a vulnerability database from OSV data and makes it the
//! registry's. Sources are osv.dev-style `all.zip` files, directories of OSV JSON, single JSON files, or
//! `oci://REPOSITORY:TAG` — an artifact in this registry whose layers are such zips or JSON files (so the
//! database travels to air-gapped registries like any image). Running servers load the new database within
//! seconds and re-evaluate every stored scan against it.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use berth_oci::{ParsedManifest, Reference, RepositoryName};
use berth_registry::Registry;
use berth_vulndb::{ImportStats, VulnDb};
use tokio::io::AsyncReadExt as _;

type BoxError = Box<dyn std::error::Error>;

pub async fn import(registry: &Registry, sources: &[String], label: Option<String>) -> Result<String, BoxError> {
    let mut builder = VulnDb::builder();
    let scratch = std::env::temp_dir().join(format!("berth-vulndb-{}", uuid::Uuid::new_v4()));
    let result = async {
        for source in sources {
            match source.strip_prefix("oci://") {
                Some(reference) => {
                    for file in fetch_artifact(registry, reference, &scratch).await? {
                        report(source, builder.add_path(&file).map_err(|e| format!("{source}: {e}"))?);
                    }
                }
                None => report(source, builder.add_path(Path::new(source)).map_err(|e| format!("{source}: {e}"))?),
            }
        }
        Ok::<_, BoxError>(())
    }
    .await;
    let _ = std::fs::remove_dir_all(&scratch);
    result?;
    let now = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?;
    let db = builder.build(label.unwrap_or_else(|| sources.join(" ")), now);
    let info = db.info().clone();
    let imported = registry.import_vulndb(db).await?;
    println!(
        "imported {} advisories as {} (source {}, {})",
        info.records, imported.blob, info.source, info.imported_at
    );
    for (ecosystem, n) in &info.ecosystems {
        println!("  {ecosystem:<24} {n}");
    }
    Ok(imported.blob)
}

/// The admin API's answer about the vulnerability database (`GetVulnerabilityDatabase`).
async fn database_status(global: &crate::cli::GlobalArgs) -> Result<serde_json::Value, BoxError> {
    let client = crate::cli::Client::from_args(global).map_err(|e| e.to_string())?;
    Ok(client.call("GetVulnerabilityDatabase", serde_json::json!({})).await.map_err(|e| e.to_string())?)
}

/// Waits until the server at the endpoint has loaded the database `digest`.
pub async fn wait_until_loaded(global: &crate::cli::GlobalArgs, digest: &str) -> Result<(), BoxError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let status = database_status(global).await?;
        if status["loadedByThisNode"]["digest"] == digest {
            println!("the server has loaded {digest} and is re-evaluating stored scans");
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            return Err(
                format!("the server has not loaded {digest} after 2 minutes (is it running the same data?)").into()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// `berth vulndb status`: what is imported and what the answering server has loaded.
pub async fn status(global: &crate::cli::GlobalArgs, json: bool) -> Result<std::process::ExitCode, BoxError> {
    let status = database_status(global).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let line = |what: &str, v: &serde_json::Value| match v.as_object() {
        Some(_) => println!(
            "{what}: {} ({} advisories, source {}, imported {})",
            v["digest"].as_str().unwrap_or("?"),
            v["advisories"],
            v["source"].as_str().unwrap_or("?"),
            v["importedAt"].as_str().unwrap_or("?")
        ),
        None => println!("{what}: none"),
    };
    line("imported", &status["imported"]);
    line("loaded by this server", &status["loadedByThisNode"]);
    Ok(std::process::ExitCode::SUCCESS)
}

fn report(source: &str, stats: ImportStats) {
    println!("{source}: {} records, {} withdrawn, {} skipped", stats.records, stats.withdrawn, stats.skipped);
    for p in &stats.problems {
        println!("  skipped: {p}");
    }
}

/// Copies the layers of `REPOSITORY:TAG` (or `@DIGEST`) into `dir` as files, named so the importer knows
/// their kind (`.zip` for zip archives by magic bytes, `.json` otherwise).
async fn fetch_artifact(registry: &Registry, reference: &str, dir: &Path) -> Result<Vec<PathBuf>, BoxError> {
    let (repo, reference) = match reference.split_once('@') {
        Some((r, d)) => (r, Reference::Digest(d.parse()?)),
        None => {
            let (r, t) = reference.rsplit_once(':').ok_or_else(|| format!("oci://{reference}: give REPOSITORY:TAG"))?;
            (r, Reference::Tag(t.parse()?))
        }
    };
    let repo: RepositoryName = repo.parse()?;
    let manifest = registry.get_manifest(&repo, &reference, berth_registry::ManifestRead::Inspect).await?;
    let parsed = ParsedManifest::parse(&manifest.content, Some(&manifest.media_type))?;
    if parsed.layers.is_empty() {
        return Err(format!("oci://{repo}:{reference}: the artifact has no layers").into());
    }
    std::fs::create_dir_all(dir)?;
    let mut files = Vec::new();
    for (i, layer) in parsed.layers.iter().enumerate() {
        let mut blob = registry.open_blob(&repo, &layer.digest, None).await?;
        let mut head = [0u8; 4];
        let n = blob.reader.reader.read(&mut head).await?;
        let ext = if head[..n].starts_with(b"PK\x03\x04") { "zip" } else { "json" };
        let path = dir.join(format!("layer-{i}.{ext}"));
        let mut file = std::fs::File::create(&path)?;
        file.write_all(&head[..n])?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = blob.reader.reader.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            file.write_all(&buf[..n])?;
        }
        file.sync_all()?;
        files.push(path);
    }
    Ok(files)
}
