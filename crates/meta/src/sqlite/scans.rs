//! Image scans and the layer analysis cache (scans run as jobs: `jobs.rs`).

use async_trait::async_trait;
use berth_oci::{Digest, RepositoryName};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::SqliteMeta;
use super::codec::parse;
use super::jobs::insert_job;
use crate::jobs::{Enqueued, NewJob};
use crate::scans::{Evaluation, ImageScan, IndexEntry, IndexHit, IndexKind, ScanIndex, ScanStatus, ScanStore};
use crate::{MetaError, Result};

/// The id of the manifest `digest` of `repo`.
const MANIFEST_ID: &str = "SELECT m.id FROM manifests m JOIN repositories r ON r.id = m.repository_id \
     WHERE r.name = ?1 AND m.digest = ?2";

/// The id of the manifest `digest` of `repo`, read on `conn`.
async fn manifest_id(conn: &mut SqliteConnection, repo: &RepositoryName, digest: &Digest) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(MANIFEST_ID).bind(repo.as_str()).bind(digest.to_string()).fetch_optional(conn).await?)
}

/// Rows per `INSERT` into the index (4 parameters each, well under SQLite's limit).
const INDEX_ROWS_PER_INSERT: usize = 128;

/// Replaces a manifest's index entries of `kind`, on `conn`.
async fn write_index(
    conn: &mut SqliteConnection,
    manifest_id: i64,
    kind: IndexKind,
    entries: &[IndexEntry],
) -> Result<()> {
    let kind = kind_to_db(kind);
    sqlx::query("DELETE FROM scan_index WHERE manifest_id = ?1 AND kind = ?2")
        .bind(manifest_id)
        .bind(kind)
        .execute(&mut *conn)
        .await?;
    for chunk in entries.chunks(INDEX_ROWS_PER_INSERT) {
        let values = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!("INSERT OR IGNORE INTO scan_index (manifest_id, kind, key, detail) VALUES {values}");
        let mut q = sqlx::query(&sql);
        for e in chunk {
            q = q.bind(manifest_id).bind(kind).bind(&e.key).bind(&e.detail);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

const SCAN_COLUMNS: &str = "r.name AS repository, m.digest AS digest, s.status, s.description, s.started_at, \
     s.completed_at, s.inventory, s.findings, s.sbom_digest, s.vulndb, s.evaluated_at";
const SCAN_FROM: &str =
    "image_scans s JOIN manifests m ON m.id = s.manifest_id JOIN repositories r ON r.id = m.repository_id";

fn kind_to_db(kind: IndexKind) -> &'static str {
    match kind {
        IndexKind::Package => "package",
        IndexKind::Advisory => "advisory",
    }
}

fn status_from_db(s: &str) -> Result<ScanStatus> {
    match s {
        "IN_PROGRESS" => Ok(ScanStatus::InProgress),
        "COMPLETE" => Ok(ScanStatus::Complete),
        "FAILED" => Ok(ScanStatus::Failed),
        other => Err(MetaError::Corrupt(format!("image_scans.status {other:?}"))),
    }
}

fn scan(row: &SqliteRow) -> Result<ImageScan> {
    let sbom: Option<String> = row.try_get("sbom_digest")?;
    Ok(ImageScan {
        repository: parse("repositories.name", row.try_get("repository")?)?,
        digest: parse("manifests.digest", row.try_get("digest")?)?,
        status: status_from_db(row.try_get("status")?)?,
        description: row.try_get("description")?,
        started_at: row.try_get("started_at")?,
        completed_at: row.try_get("completed_at")?,
        inventory: row.try_get("inventory")?,
        findings: row.try_get("findings")?,
        sbom_digest: sbom.map(|d| parse("image_scans.sbom_digest", &d)).transpose()?,
        vulndb: row.try_get("vulndb")?,
        evaluated_at: row.try_get("evaluated_at")?,
    })
}

#[async_trait]
impl ScanStore for SqliteMeta {
    async fn enqueue_scan(&self, repo: &RepositoryName, digest: &Digest, job: &NewJob, now: i64) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let Some(manifest_id) = manifest_id(&mut tx, repo, digest).await? else {
            return Ok(false);
        };
        let queued = matches!(insert_job(&mut tx, job, now).await?, Enqueued::Created(_));
        if !queued {
            return Ok(false);
        }
        // The previous results stay readable until the new scan replaces them.
        sqlx::query(
            "INSERT INTO image_scans (manifest_id, status, started_at) VALUES (?1, 'IN_PROGRESS', ?2) \
             ON CONFLICT (manifest_id) DO UPDATE SET status = 'IN_PROGRESS', description = NULL, \
             started_at = excluded.started_at, completed_at = NULL",
        )
        .bind(manifest_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.durable().await?;
        Ok(true)
    }

    async fn finish_scan(&self, s: &ImageScan, index: &ScanIndex) -> Result<()> {
        let mut tx = self.write_tx().await?;
        if let Some(manifest_id) = manifest_id(&mut tx, &s.repository, &s.digest).await? {
            sqlx::query(
                "INSERT INTO image_scans (manifest_id, status, description, started_at, completed_at, inventory, \
                 findings, sbom_digest, vulndb, evaluated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (manifest_id) DO UPDATE SET status = excluded.status, \
                 description = excluded.description, started_at = excluded.started_at, \
                 completed_at = excluded.completed_at, inventory = excluded.inventory, \
                 findings = excluded.findings, sbom_digest = excluded.sbom_digest, vulndb = excluded.vulndb, \
                 evaluated_at = excluded.evaluated_at",
            )
            .bind(manifest_id)
            .bind(s.status.as_str())
            .bind(&s.description)
            .bind(s.started_at)
            .bind(s.completed_at)
            .bind(&s.inventory)
            .bind(&s.findings)
            .bind(s.sbom_digest.as_ref().map(|d| d.to_string()))
            .bind(&s.vulndb)
            .bind(s.evaluated_at)
            .execute(&mut *tx)
            .await?;
            write_index(&mut tx, manifest_id, IndexKind::Package, &index.packages).await?;
            write_index(&mut tx, manifest_id, IndexKind::Advisory, &index.advisories).await?;
        }
        tx.commit().await?;
        self.durable().await
    }

    async fn scan_progress(&self, repo: &RepositoryName, digest: &Digest, description: &str) -> Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(&format!(
            "UPDATE image_scans SET description = ?3 WHERE status = 'IN_PROGRESS' AND manifest_id = ({MANIFEST_ID})"
        ))
        .bind(repo.as_str())
        .bind(digest.to_string())
        .bind(description)
        .execute(&mut *tx)
        .await?;
        // Progress is advisory: a crash may lose it, so no fsync barrier.
        tx.commit().await?;
        Ok(())
    }

    async fn image_scan(&self, repo: &RepositoryName, digest: &Digest) -> Result<Option<ImageScan>> {
        let mut conn = self.reader.acquire().await?;
        let sql = format!("SELECT {SCAN_COLUMNS} FROM {SCAN_FROM} WHERE r.name = ?1 AND m.digest = ?2");
        let row = sqlx::query(&sql).bind(repo.as_str()).bind(digest.to_string()).fetch_optional(&mut *conn).await?;
        row.as_ref().map(scan).transpose()
    }

    async fn complete_scans(&self, after: Option<(&RepositoryName, &Digest)>, n: u32) -> Result<Vec<ImageScan>> {
        let mut conn = self.reader.acquire().await?;
        let (name, digest) = after.map(|(r, d)| (r.to_string(), d.to_string())).unwrap_or_default();
        let sql = format!(
            "SELECT {SCAN_COLUMNS} FROM {SCAN_FROM} WHERE s.status = 'COMPLETE' AND s.inventory IS NOT NULL \
             AND (r.name > ?1 OR (r.name = ?1 AND m.digest > ?2)) ORDER BY r.name, m.digest LIMIT ?3"
        );
        let rows = sqlx::query(&sql).bind(name).bind(digest).bind(i64::from(n)).fetch_all(&mut *conn).await?;
        rows.iter().map(scan).collect()
    }

    async fn update_findings(&self, evaluations: &[Evaluation<'_>], vulndb: &str, now: i64) -> Result<()> {
        let mut tx = self.write_tx().await?;
        for e in evaluations {
            let Some(manifest_id) = manifest_id(&mut tx, e.repository, e.digest).await? else {
                continue;
            };
            let updated = sqlx::query(
                "UPDATE image_scans SET findings = ?2, vulndb = ?3, evaluated_at = ?4 \
                 WHERE status = 'COMPLETE' AND manifest_id = ?1",
            )
            .bind(manifest_id)
            .bind(e.findings)
            .bind(vulndb)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 1 {
                write_index(&mut tx, manifest_id, IndexKind::Advisory, e.advisories).await?;
            }
        }
        tx.commit().await?;
        self.durable().await
    }

    async fn lookup_scan_index(&self, kind: IndexKind, key: &str, limit: u32) -> Result<Vec<IndexHit>> {
        let mut conn = self.reader.acquire().await?;
        let rows = sqlx::query(
            "SELECT r.name AS repository, m.digest AS digest, i.detail AS detail FROM scan_index i \
             JOIN manifests m ON m.id = i.manifest_id JOIN repositories r ON r.id = m.repository_id \
             WHERE i.kind = ?1 AND i.key = ?2 ORDER BY r.name, m.digest, i.detail LIMIT ?3",
        )
        .bind(kind_to_db(kind))
        .bind(key)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(IndexHit {
                    repository: parse("repositories.name", row.try_get("repository")?)?,
                    digest: parse("manifests.digest", row.try_get("digest")?)?,
                    detail: row.try_get("detail")?,
                })
            })
            .collect()
    }

    async fn layer_analysis(&self, digest: &Digest) -> Result<Option<Vec<u8>>> {
        let mut conn = self.reader.acquire().await?;
        Ok(sqlx::query_scalar("SELECT analysis FROM layer_analyses WHERE digest = ?1")
            .bind(digest.to_string())
            .fetch_optional(&mut *conn)
            .await?)
    }

    async fn put_layer_analysis(&self, digest: &Digest, analysis: &[u8], now: i64) -> Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO layer_analyses (digest, analysis, created_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (digest) DO UPDATE SET analysis = excluded.analysis, created_at = excluded.created_at",
        )
        .bind(digest.to_string())
        .bind(analysis)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.durable().await
    }
}
