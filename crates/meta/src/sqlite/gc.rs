//! Garbage collection's rows (migration 0016). The single writer makes every transaction here serial with the
//! pushes it races: a review and a blob commit, a review and a manifest push, never interleave.

use async_trait::async_trait;
use berth_oci::{Digest, RepositoryName};
use sqlx::{Row, SqliteConnection};

use super::SqliteMeta;
use super::codec::{from_db, parse, to_db};
use super::quotas::check_link;
use super::repositories::link_in;
use crate::Result;
use crate::gc::{GcStatus, GcStore, Review, StaleCommit};
use crate::quotas::LinkGuard;

/// Whether `digest` is still needed: a link, a manifest reference, a soft-deleted image's reference or a commit
/// in flight.
async fn pinned(conn: &mut SqliteConnection, digest: &str) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM manifest_blobs WHERE digest = ?1) \
         OR EXISTS (SELECT 1 FROM gc_blob_commits WHERE digest = ?1) \
         OR EXISTS (SELECT 1 FROM repository_blobs WHERE digest = ?1) \
         OR EXISTS (SELECT 1 FROM deleted_image_blobs WHERE digest = ?1)",
    )
    .bind(digest)
    .fetch_one(&mut *conn)
    .await?)
}

fn count(name: &str, v: i64) -> Result<u64> {
    from_db(name, v)
}

#[async_trait]
impl GcStore for SqliteMeta {
    async fn begin_blob_commit(
        &self,
        digest: &Digest,
        upload: &str,
        backend_state: &[u8],
        delete_session: bool,
        owner: &str,
        now: i64,
    ) -> Result<Option<i64>> {
        let digest = digest.to_string();
        let mut tx = self.write_tx().await?;
        let deleting: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM gc_blob_deletions WHERE digest = ?1)")
            .bind(&digest)
            .fetch_one(&mut *tx)
            .await?;
        if deleting {
            return Ok(None);
        }
        if delete_session {
            sqlx::query("DELETE FROM uploads WHERE id = ?1").bind(upload).execute(&mut *tx).await?;
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO gc_blob_commits (digest, upload, backend_state, owner, started_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        )
        .bind(&digest)
        .bind(upload)
        .bind(backend_state)
        .bind(owner)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        self.durable().await?;
        Ok(Some(id))
    }

    async fn link_committed_blob(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        size: u64,
        id: i64,
        now: i64,
        guard: &dyn LinkGuard,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        check_link(&mut tx, repo, digest, size, guard).await?;
        link_in(&mut tx, repo, digest, size, now).await?;
        sqlx::query("DELETE FROM gc_blob_commits WHERE id = ?1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        self.durable().await
    }

    async fn end_blob_commit(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM gc_blob_commits WHERE id = ?1").bind(id).execute(&self.writer).await?;
        self.durable().await
    }

    async fn blob_deletion_pending(&self, digest: &Digest) -> Result<bool> {
        Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM gc_blob_deletions WHERE digest = ?1)")
            .bind(digest.to_string())
            .fetch_one(&self.reader)
            .await?)
    }

    async fn gc_due(&self, now: i64, after: Option<&Digest>, limit: u32) -> Result<Vec<Digest>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT digest FROM gc_blob_review_queue WHERE review_after <= ?1 AND (?3 IS NULL OR digest > ?3) \
             ORDER BY digest LIMIT ?2",
        )
        .bind(now)
        .bind(limit)
        .bind(after.map(|d| d.to_string()))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(|d| parse("gc_blob_review_queue.digest", d)).collect()
    }

    async fn gc_review(&self, digest: &Digest, now: i64, grace: i64, protected: Option<&Digest>) -> Result<Review> {
        let digest_text = digest.to_string();
        let mut tx = self.write_tx().await?;
        let queued: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM gc_blob_review_queue WHERE digest = ?1)")
            .bind(&digest_text)
            .fetch_one(&mut *tx)
            .await?;
        if !queued {
            return Ok(Review::Skipped);
        }
        // Removing the queue row first: the triggers below (a link removed) put it back, and are undone here.
        sqlx::query("DELETE FROM gc_blob_review_queue WHERE digest = ?1").bind(&digest_text).execute(&mut *tx).await?;

        let links = sqlx::query(
            "SELECT rb.repository_id, rb.created_at, \
             EXISTS (SELECT 1 FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id \
                     WHERE mb.digest = rb.digest AND m.repository_id = rb.repository_id) AS referenced \
             FROM repository_blobs rb WHERE rb.digest = ?1",
        )
        .bind(&digest_text)
        .fetch_all(&mut *tx)
        .await?;
        let mut unlinked = 0u64;
        let mut next_review: Option<i64> = None;
        for link in &links {
            let (repository_id, created_at, referenced): (i64, i64, bool) =
                (link.try_get("repository_id")?, link.try_get("created_at")?, link.try_get("referenced")?);
            if referenced {
                continue;
            }
            if created_at > now - grace {
                let at = created_at.saturating_add(grace);
                next_review = Some(next_review.map_or(at, |n| n.min(at)));
                continue;
            }
            sqlx::query("DELETE FROM repository_blobs WHERE repository_id = ?1 AND digest = ?2")
                .bind(repository_id)
                .bind(&digest_text)
                .execute(&mut *tx)
                .await?;
            unlinked += 1;
        }
        // Unlinking fired the trigger that queues the digest again: this review covers it.
        sqlx::query("DELETE FROM gc_blob_review_queue WHERE digest = ?1").bind(&digest_text).execute(&mut *tx).await?;

        let size: Option<i64> = sqlx::query_scalar("SELECT size FROM blobs WHERE digest = ?1")
            .bind(&digest_text)
            .fetch_optional(&mut *tx)
            .await?;
        let outcome = match size {
            Some(size) if protected != Some(digest) && !pinned(&mut tx, &digest_text).await? => {
                sqlx::query("DELETE FROM blobs WHERE digest = ?1").bind(&digest_text).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM layer_analyses WHERE digest = ?1")
                    .bind(&digest_text)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO gc_blob_deletions (digest, size, started_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (digest) DO NOTHING",
                )
                .bind(&digest_text)
                .bind(size)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                Review::Delete { size: from_db("blobs.size", size)?, unlinked }
            }
            _ => {
                if let Some(at) = next_review {
                    sqlx::query("INSERT INTO gc_blob_review_queue (digest, review_after) VALUES (?1, ?2)")
                        .bind(&digest_text)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                }
                Review::Kept { unlinked }
            }
        };
        if unlinked > 0 {
            sqlx::query("UPDATE gc_state SET links_removed = links_removed + ?1 WHERE id = 1")
                .bind(to_db("links removed", unlinked)?)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.durable().await?;
        Ok(outcome)
    }

    async fn pending_blob_deletions(&self, limit: u32) -> Result<Vec<(Digest, u64)>> {
        let rows = sqlx::query("SELECT digest, size FROM gc_blob_deletions ORDER BY started_at, digest LIMIT ?1")
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    parse("gc_blob_deletions.digest", r.try_get("digest")?)?,
                    from_db("gc_blob_deletions.size", r.try_get("size")?)?,
                ))
            })
            .collect()
    }

    async fn finish_blob_deletion(&self, digest: &Digest, size: u64) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("DELETE FROM gc_blob_deletions WHERE digest = ?1")
            .bind(digest.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() > 0 {
            sqlx::query(
                "UPDATE gc_state SET blobs_deleted = blobs_deleted + 1, bytes_reclaimed = bytes_reclaimed + ?1 \
                 WHERE id = 1",
            )
            .bind(to_db("blob size", size)?)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.durable().await
    }

    async fn stale_blob_commits(&self, before: i64, limit: u32) -> Result<Vec<StaleCommit>> {
        let rows = sqlx::query(
            "SELECT id, digest, upload, backend_state, owner, started_at FROM gc_blob_commits WHERE started_at < ?1 ORDER BY id LIMIT ?2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StaleCommit {
                    id: r.try_get("id")?,
                    digest: parse("gc_blob_commits.digest", r.try_get("digest")?)?,
                    upload: r.try_get("upload")?,
                    backend_state: r.try_get("backend_state")?,
                    owner: r.try_get("owner")?,
                    started_at: r.try_get("started_at")?,
                })
            })
            .collect()
    }

    async fn drop_stale_commit(&self, id: i64, now: i64) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let digest: Option<String> = sqlx::query_scalar("DELETE FROM gc_blob_commits WHERE id = ?1 RETURNING digest")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(digest) = digest else {
            return Ok(false);
        };
        let keep: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM blobs WHERE digest = ?1) \
             OR EXISTS (SELECT 1 FROM gc_blob_commits WHERE digest = ?1) \
             OR EXISTS (SELECT 1 FROM gc_blob_deletions WHERE digest = ?1)",
        )
        .bind(&digest)
        .fetch_one(&mut *tx)
        .await?;
        if !keep {
            // Size unknown (the bytes may not even exist): counted as 0.
            sqlx::query("INSERT INTO gc_blob_deletions (digest, size, started_at) VALUES (?1, 0, ?2)")
                .bind(&digest)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.durable().await?;
        Ok(!keep)
    }

    async fn gc_status(&self, now: i64) -> Result<GcStatus> {
        let row = sqlx::query(
            "SELECT requested_at, requests, served, runs, last_started_at, last_finished_at, links_removed, blobs_deleted, \
             bytes_reclaimed, \
             (SELECT COUNT(*) FROM gc_blob_review_queue) AS queued, \
             (SELECT COUNT(*) FROM gc_blob_review_queue WHERE review_after <= ?1) AS due, \
             (SELECT COUNT(*) FROM gc_blob_deletions) AS deleting, \
             (SELECT COUNT(*) FROM gc_blob_commits) AS commits \
             FROM gc_state WHERE id = 1",
        )
        .bind(now)
        .fetch_one(&self.reader)
        .await?;
        Ok(GcStatus {
            requested_at: row.try_get("requested_at")?,
            requests: count("gc_state.requests", row.try_get("requests")?)?,
            served: count("gc_state.served", row.try_get("served")?)?,
            runs: count("gc_state.runs", row.try_get("runs")?)?,
            last_started_at: row.try_get("last_started_at")?,
            last_finished_at: row.try_get("last_finished_at")?,
            links_removed: count("gc_state.links_removed", row.try_get("links_removed")?)?,
            blobs_deleted: count("gc_state.blobs_deleted", row.try_get("blobs_deleted")?)?,
            bytes_reclaimed: count("gc_state.bytes_reclaimed", row.try_get("bytes_reclaimed")?)?,
            queued: count("queued", row.try_get("queued")?)?,
            due: count("due", row.try_get("due")?)?,
            deleting: count("deleting", row.try_get("deleting")?)?,
            commits_in_flight: count("commits", row.try_get("commits")?)?,
        })
    }

    async fn request_gc(&self, now: i64) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "UPDATE gc_state SET requests = requests + 1, requested_at = ?1 WHERE id = 1 RETURNING requests",
        )
        .bind(now)
        .fetch_one(&self.writer)
        .await?;
        self.durable().await?;
        count("gc_state.requests", n)
    }

    async fn gc_run_started(&self, now: i64) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("UPDATE gc_state SET last_started_at = ?1 WHERE id = 1 RETURNING requests")
            .bind(now)
            .fetch_one(&self.writer)
            .await?;
        self.durable().await?;
        count("gc_state.requests", n)
    }

    async fn gc_run_finished(&self, now: i64, serving: u64) -> Result<()> {
        sqlx::query(
            "UPDATE gc_state SET last_finished_at = ?1, runs = runs + 1, \
             served = CASE WHEN served > ?2 THEN served ELSE ?2 END WHERE id = 1",
        )
        .bind(now)
        .bind(to_db("request number", serving)?)
        .execute(&self.writer)
        .await?;
        self.durable().await?;
        Ok(())
    }
}
