//! Upload sessions.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::codec::{from_db, parse, to_db};
use super::{LOCK_UPLOADS_BY_OWNER, LOCK_UPLOADS_BY_REPOSITORY, PgMeta};
use crate::{MetaError, Result, UploadCaps, UploadSession, UploadStore};

const UPLOAD_COLUMNS: &str = "id, repository, size, hash_state, backend_state, owner, created_at, updated_at";

fn upload_session(row: &PgRow) -> Result<UploadSession> {
    Ok(UploadSession {
        id: row.try_get("id")?,
        repository: parse("uploads.repository", row.try_get("repository")?)?,
        size: from_db("uploads.size", row.try_get("size")?)?,
        hash_state: row.try_get("hash_state")?,
        backend_state: row.try_get("backend_state")?,
        owner: row.try_get("owner")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

#[async_trait]
impl UploadStore for PgMeta {
    /// Fails with `Conflict` if a session with this id already exists, `LimitExceeded` if a cap is reached.
    /// Each cap's count and the insert hold an advisory lock on the counted value (the repository's first,
    /// then the owner's, so that two creations never wait for each other in a cycle): concurrent creations
    /// are counted one after the other and cannot overshoot.
    async fn create_upload(&self, session: &UploadSession, caps: UploadCaps) -> Result<()> {
        let checks = [
            (caps.per_repository, LOCK_UPLOADS_BY_REPOSITORY, "repository", session.repository.as_str(), "repository "),
            (caps.per_owner, LOCK_UPLOADS_BY_OWNER, "owner", session.owner.as_str(), ""),
        ];
        let checks = &checks;
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            for &(cap, space, column, value, what) in checks {
                let Some(cap) = cap else { continue };
                sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                    .bind(space)
                    .bind(value)
                    .execute(&mut *tx)
                    .await?;
                // Counts at most `cap` rows: the answer is only "below the cap or not".
                let sql = format!("SELECT COUNT(*) FROM (SELECT 1 FROM uploads WHERE {column} = $1 LIMIT $2) AS open");
                let open: i64 =
                    sqlx::query_scalar(&sql).bind(value).bind(to_db("upload cap", cap)?).fetch_one(&mut *tx).await?;
                if from_db("open uploads", open)? >= cap {
                    return Err(MetaError::LimitExceeded(format!("{what}{value} has {cap} upload sessions open")));
                }
            }
            let result = sqlx::query(
                "INSERT INTO uploads (id, repository, size, hash_state, backend_state, owner, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&session.id)
            .bind(session.repository.as_str())
            .bind(to_db("upload size", session.size)?)
            .bind(&session.hash_state)
            .bind(&session.backend_state)
            .bind(&session.owner)
            .bind(session.created_at)
            .bind(session.updated_at)
            .execute(&mut *tx)
            .await;
            match result {
                Ok(_) => {
                    tx.commit().await?;
                    Ok(())
                }
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(MetaError::Conflict),
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    async fn get_upload(&self, id: &str) -> Result<Option<UploadSession>> {
        let sql = format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(upload_session).transpose()
    }

    /// An unknown (expired, completed, cancelled) session is also a `Conflict`: the caller's view of it is
    /// out of date either way.
    async fn update_upload(
        &self,
        id: &str,
        expected_size: u64,
        new_size: u64,
        hash_state: &[u8],
        backend_state: &[u8],
        now: i64,
    ) -> Result<()> {
        // The compare and the set are one statement: a concurrent update waits for the row lock, then
        // re-checks the condition against the row as the winner left it.
        let done = sqlx::query(
            "UPDATE uploads SET size = $3, hash_state = $4, backend_state = $5, updated_at = $6, \
             last_part = $3 - $2 WHERE id = $1 AND size = $2",
        )
        .bind(id)
        .bind(to_db("expected upload size", expected_size)?)
        .bind(to_db("upload size", new_size)?)
        .bind(hash_state)
        .bind(backend_state)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 { Err(MetaError::Conflict) } else { Ok(()) }
    }

    async fn upload_last_part(&self, id: &str) -> Result<Option<u64>> {
        let part: Option<i64> = sqlx::query_scalar("SELECT last_part FROM uploads WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        part.map(|p| from_db("uploads.last_part", p)).transpose()
    }

    /// Idempotent: deleting an unknown session is not an error.
    async fn delete_upload(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM uploads WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }

    /// Sessions whose `updated_at` is strictly before `before`, oldest first.
    async fn stale_uploads(&self, before: i64) -> Result<Vec<UploadSession>> {
        let sql = format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE updated_at < $1 ORDER BY updated_at, id");
        let rows = sqlx::query(&sql).bind(before).fetch_all(&self.pool).await?;
        rows.iter().map(upload_session).collect()
    }

    async fn all_upload_ids(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT id FROM uploads ORDER BY id").fetch_all(&self.pool).await?)
    }
}
