//! Recovery: the repository journal's change feed (rows written by the triggers of migration 0011),
//! emptiness, and the writes `fsck` repairs with.

use async_trait::async_trait;
use berth_oci::{Digest, RepositoryName};
use sqlx::Row;

use super::codec::{parse, parse_opt, to_db};
use super::{LOCK_JOURNAL, LOCK_SPACE, PgMeta};
use crate::recovery::{JournalChange, JournalEntry, RecoveryStore};
use crate::{MetaError, Result};

#[async_trait]
impl RecoveryStore for PgMeta {
    async fn is_empty(&self) -> Result<bool> {
        let used: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM repositories) OR EXISTS (SELECT 1 FROM blobs)")
                .fetch_one(&self.pool)
                .await?;
        Ok(!used)
    }

    /// PostgreSQL keeps its own structures consistent (write-ahead log, foreign keys enforced on every
    /// write); checking its files (page checksums, `amcheck`) is the database administrator's tool, not
    /// berth's. Nothing to report.
    async fn integrity_check(&self) -> Result<Vec<String>> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(Vec::new())
    }

    /// Read holding the feed's lock exclusively (see migration 0011): every transaction that drew a `seq`
    /// before this read has ended, so `journal_done` up to the last entry returned forgets nothing unseen.
    async fn journal_changes(&self, limit: u32) -> Result<Vec<JournalChange>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind(LOCK_SPACE)
            .bind(LOCK_JOURNAL)
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query(
            "SELECT c.seq, c.repository, c.kind, c.name, m.media_type, m.content, tm.digest AS target \
             FROM journal_changes c \
             LEFT JOIN repositories r ON r.name = c.repository \
             LEFT JOIN manifests m ON c.kind = 'manifest' AND m.repository_id = r.id AND m.digest = c.name \
             LEFT JOIN tags t ON c.kind = 'tag' AND t.repository_id = r.id AND t.name = c.name \
             LEFT JOIN manifests tm ON tm.id = t.manifest_id \
             ORDER BY c.seq LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                let kind: &str = row.try_get("kind")?;
                let name: &str = row.try_get("name")?;
                let entry = match kind {
                    "manifest" => {
                        let media_type: Option<String> = row.try_get("media_type")?;
                        let content: Option<Vec<u8>> = row.try_get("content")?;
                        JournalEntry::Manifest {
                            digest: parse("journal_changes.name", name)?,
                            current: media_type.zip(content),
                        }
                    }
                    "tag" => JournalEntry::Tag {
                        tag: parse("journal_changes.name", name)?,
                        target: parse_opt("manifests.digest", row.try_get("target")?)?,
                    },
                    other => return Err(MetaError::Corrupt(format!("journal_changes.kind {other:?}"))),
                };
                Ok(JournalChange {
                    seq: row.try_get("seq")?,
                    repository: parse("journal_changes.repository", row.try_get("repository")?)?,
                    entry,
                })
            })
            .collect()
    }

    async fn journal_done(&self, seq: i64) -> Result<()> {
        sqlx::query("DELETE FROM journal_changes WHERE seq <= $1").bind(seq).execute(&self.pool).await?;
        Ok(())
    }

    async fn blob_links(&self, digest: &Digest) -> Result<Vec<RepositoryName>> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT r.name FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id \
             WHERE rb.digest = $1 ORDER BY r.name",
        )
        .bind(digest.to_string())
        .fetch_all(&self.pool)
        .await?;
        names.iter().map(|n| parse("repositories.name", n)).collect()
    }

    async fn record_blob(&self, digest: &Digest, size: u64, now: i64) -> Result<()> {
        sqlx::query("INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING")
            .bind(digest.to_string())
            .bind(to_db("blob size", size)?)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
