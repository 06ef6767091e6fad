//! Recovery: integrity checks, the repository journal's change feed (rows written by the triggers of
//! migration 0011), and the writes `fsck` repairs with.

use async_trait::async_trait;
use berth_oci::{Digest, RepositoryName};
use sqlx::Row;

use super::SqliteMeta;
use super::codec::{parse, parse_opt, to_db};
use crate::recovery::{JournalChange, JournalEntry, RecoveryStore};
use crate::{MetaError, Result};

#[async_trait]
impl RecoveryStore for SqliteMeta {
    async fn is_empty(&self) -> Result<bool> {
        let used: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM repositories) OR EXISTS (SELECT 1 FROM blobs)")
                .fetch_one(&self.reader)
                .await?;
        Ok(!used)
    }

    async fn integrity_check(&self) -> Result<Vec<String>> {
        // On the writer: it sees everything committed, WAL included, and a check reads the whole file, which
        // is best not done while requests are served anyway. Without a limit SQLite stops at 100 problems.
        let lines: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check(1000)").fetch_all(&self.writer).await?;
        let mut problems: Vec<String> = lines.into_iter().filter(|l| l != "ok").collect();
        let violations = sqlx::query("PRAGMA foreign_key_check").fetch_all(&self.writer).await?;
        for row in violations.iter().take(1000) {
            let table: String = row.try_get(0)?;
            let rowid: Option<i64> = row.try_get(1)?;
            let parent: String = row.try_get(2)?;
            problems.push(format!(
                "a row of {table} (rowid {}) refers to a missing row of {parent}",
                rowid.map_or_else(|| "?".into(), |r| r.to_string())
            ));
        }
        Ok(problems)
    }

    async fn journal_changes(&self, limit: u32) -> Result<Vec<JournalChange>> {
        let rows = sqlx::query(
            "SELECT c.seq, c.repository, c.kind, c.name, m.media_type, m.content, tm.digest AS target \
             FROM journal_changes c \
             LEFT JOIN repositories r ON r.name = c.repository \
             LEFT JOIN manifests m ON c.kind = 'manifest' AND m.repository_id = r.id AND m.digest = c.name \
             LEFT JOIN tags t ON c.kind = 'tag' AND t.repository_id = r.id AND t.name = c.name \
             LEFT JOIN manifests tm ON tm.id = t.manifest_id \
             ORDER BY c.seq LIMIT ?1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
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
        // Not waited on for durability: if the deletion is lost, the entries are exported again.
        sqlx::query("DELETE FROM journal_changes WHERE seq <= ?1").bind(seq).execute(&self.writer).await?;
        Ok(())
    }

    async fn blob_links(&self, digest: &Digest) -> Result<Vec<RepositoryName>> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT r.name FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id \
             WHERE rb.digest = ?1 ORDER BY r.name",
        )
        .bind(digest.to_string())
        .fetch_all(&self.reader)
        .await?;
        names.iter().map(|n| parse("repositories.name", n)).collect()
    }

    async fn record_blob(&self, digest: &Digest, size: u64, now: i64) -> Result<()> {
        sqlx::query("INSERT INTO blobs (digest, size, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (digest) DO NOTHING")
            .bind(digest.to_string())
            .bind(to_db("blob size", size)?)
            .bind(now)
            .execute(&self.writer)
            .await?;
        self.durable().await
    }
}
