//! The storage state of images (see [`crate::archive`]).

use async_trait::async_trait;
use berth_oci::{Digest, RepositoryName};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::SqliteMeta;
use super::codec::parse;
use crate::archive::{ImageStatus, ImageStorageState, ImageStorageStore, InactiveImage, StatusChange};
use crate::{MetaError, Result};

/// Reads `status`, `last_archived_at`, `last_activated_at` (NULL status: never archived, ACTIVE).
pub(super) fn state_of(row: &SqliteRow) -> Result<ImageStorageState> {
    let status: Option<String> = row.try_get("storage_status")?;
    Ok(ImageStorageState {
        status: status_from_db(status.as_deref())?,
        last_archived_at: row.try_get("last_archived_at")?,
        last_activated_at: row.try_get("last_activated_at")?,
    })
}

pub(super) fn status_from_db(status: Option<&str>) -> Result<ImageStatus> {
    match status {
        None => Ok(ImageStatus::Active),
        Some(s) => ImageStatus::parse(s).ok_or_else(|| MetaError::Corrupt(format!("image_storage.status {s:?}"))),
    }
}

const STATE_COLUMNS: &str = "s.status AS storage_status, s.last_archived_at AS last_archived_at, \
     s.last_activated_at AS last_activated_at";

async fn current(
    conn: &mut SqliteConnection,
    repo: &RepositoryName,
    digest: &Digest,
) -> Result<Option<(i64, ImageStorageState)>> {
    let sql = format!(
        "SELECT m.id AS id, {STATE_COLUMNS} FROM manifests m JOIN repositories r ON r.id = m.repository_id \
         LEFT JOIN image_storage s ON s.manifest_id = m.id WHERE r.name = ?1 AND m.digest = ?2"
    );
    let row = sqlx::query(&sql).bind(repo.as_str()).bind(digest.to_string()).fetch_optional(&mut *conn).await?;
    row.map(|r| Ok((r.try_get("id")?, state_of(&r)?))).transpose()
}

#[async_trait]
impl ImageStorageStore for SqliteMeta {
    async fn image_storage_state(&self, repo: &RepositoryName, digest: &Digest) -> Result<Option<ImageStorageState>> {
        let mut conn = self.reader.acquire().await?;
        Ok(current(&mut conn, repo, digest).await?.map(|(_, s)| s))
    }

    async fn change_image_status(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        from: ImageStatus,
        to: ImageStatus,
        now: i64,
    ) -> Result<StatusChange> {
        let mut tx = self.write_tx().await?;
        let Some((id, state)) = current(&mut tx, repo, digest).await? else {
            return Ok(StatusChange::NotFound);
        };
        if state.status != from {
            return Ok(StatusChange::Unchanged(state));
        }
        let next = crate::archive::moved(state, to, now);
        sqlx::query(
            "INSERT INTO image_storage (manifest_id, status, last_archived_at, last_activated_at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (manifest_id) DO UPDATE SET status = excluded.status, \
             last_archived_at = excluded.last_archived_at, last_activated_at = excluded.last_activated_at",
        )
        .bind(id)
        .bind(next.status.as_str())
        .bind(next.last_archived_at)
        .bind(next.last_activated_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.durable().await?;
        Ok(StatusChange::Changed(next))
    }

    async fn images_with_status(&self, status: ImageStatus) -> Result<Vec<InactiveImage>> {
        let sql = format!(
            "SELECT r.name AS name, m.digest AS digest, {STATE_COLUMNS} FROM image_storage s \
             JOIN manifests m ON m.id = s.manifest_id JOIN repositories r ON r.id = m.repository_id \
             WHERE s.status = ?1 ORDER BY r.name, m.digest"
        );
        let rows = sqlx::query(&sql).bind(status.as_str()).fetch_all(&self.reader).await?;
        rows.iter()
            .map(|r| {
                Ok(InactiveImage {
                    repository: parse("repositories.name", r.try_get("name")?)?,
                    digest: parse("manifests.digest", r.try_get("digest")?)?,
                    state: state_of(r)?,
                })
            })
            .collect()
    }

    async fn blob_only_in_inactive_images(&self, repo: &RepositoryName, digest: &Digest) -> Result<bool> {
        let (total, inactive): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(s.status IS NOT NULL AND s.status <> 'ACTIVE'), 0) \
             FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id \
             JOIN repositories r ON r.id = m.repository_id LEFT JOIN image_storage s ON s.manifest_id = m.id \
             WHERE r.name = ?1 AND mb.digest = ?2",
        )
        .bind(repo.as_str())
        .bind(digest.to_string())
        .fetch_one(&self.reader)
        .await?;
        Ok(total > 0 && inactive == total)
    }
}
