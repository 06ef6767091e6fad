//! Soft delete's tombstones (migration 0018; see [`crate::deleted`]). Every method is one write transaction on
//! the single writer, so a deletion, a restore, a push of the same digest and a purge never interleave.

use async_trait::async_trait;
use berth_oci::{Digest, RepositoryName, Tag};
use sqlx::{Row, SqliteConnection};

use super::codec::{from_db, parse};
use super::settings::record_of;
use super::{REPOSITORY_EXISTS, SqliteMeta, ensure_repository};
use crate::deleted::{
    DeletedImage, DeletedRepository, LastTag, Purged, RepositoryRestored, Restore, RestoreRefusal, Retention,
    SettingsSnapshot, SoftDeleteStore, TagsRestored, decode_list, encode_list,
};
use crate::settings::{ImageDeletion, RepositoryRecord};
use crate::{MetaError, Result, Untagging};

/// Moves manifest `manifest_id` (of repository `repository`) into a tombstone, then deletes it (its tags,
/// blob references and children go with it).
pub(super) async fn tombstone(
    conn: &mut SqliteConnection,
    repository: &str,
    manifest_id: i64,
    deleted_repository_id: Option<i64>,
    retention: Retention,
) -> Result<()> {
    let tags: Vec<String> = sqlx::query_scalar("SELECT name FROM tags WHERE manifest_id = ?1 ORDER BY name")
        .bind(manifest_id)
        .fetch_all(&mut *conn)
        .await?;
    let children: Vec<String> =
        sqlx::query_scalar("SELECT child_digest FROM manifest_children WHERE manifest_id = ?1 ORDER BY child_digest")
            .bind(manifest_id)
            .fetch_all(&mut *conn)
            .await?;
    if deleted_repository_id.is_none() {
        // An earlier tombstone of the same digest (it cannot outlive a push of it, but be sure).
        sqlx::query(
            "DELETE FROM deleted_images WHERE deleted_repository_id IS NULL AND repository = ?1 \
             AND digest = (SELECT digest FROM manifests WHERE id = ?2)",
        )
        .bind(repository)
        .bind(manifest_id)
        .execute(&mut *conn)
        .await?;
    }
    let image_id: i64 = sqlx::query_scalar(
        "INSERT INTO deleted_images (repository, deleted_repository_id, digest, media_type, content, size, \
         artifact_type, subject_digest, annotations, config_digest, platforms, pushed_at, last_pulled_at, tags, \
         children, deleted_at, purge_after) \
         SELECT ?1, ?2, digest, media_type, content, size, artifact_type, subject_digest, annotations, \
         config_digest, platforms, pushed_at, last_pulled_at, ?3, ?4, ?5, ?6 FROM manifests WHERE id = ?7 \
         RETURNING id",
    )
    .bind(repository)
    .bind(deleted_repository_id)
    .bind(encode_list(&tags))
    .bind(encode_list(&children))
    .bind(retention.now)
    .bind(retention.purge_after)
    .bind(manifest_id)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO deleted_image_blobs (image_id, digest) SELECT ?1, digest FROM manifest_blobs WHERE manifest_id = ?2")
        .bind(image_id)
        .bind(manifest_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM manifests WHERE id = ?1").bind(manifest_id).execute(&mut *conn).await?;
    Ok(())
}

/// Whether an index of repository `repository_id` lists `digest`.
pub(super) async fn listed_by_index(conn: &mut SqliteConnection, repository_id: i64, digest: &str) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM manifest_children c JOIN manifests m ON m.id = c.manifest_id \
         WHERE m.repository_id = ?1 AND c.child_digest = ?2)",
    )
    .bind(repository_id)
    .bind(digest)
    .fetch_one(&mut *conn)
    .await?)
}

/// Brings tombstone `image_id` back into repository `repository_id`: links its blobs, re-inserts the manifest
/// (unless the digest is there again), gives back each tag nobody took, and forgets the tombstone.
async fn restore_one(conn: &mut SqliteConnection, repository_id: i64, image_id: i64, now: i64) -> Result<TagsRestored> {
    let row = sqlx::query("SELECT digest, tags, children FROM deleted_images WHERE id = ?1")
        .bind(image_id)
        .fetch_one(&mut *conn)
        .await?;
    let digest: String = row.try_get("digest")?;
    let tags = decode_list("deleted_images.tags", row.try_get("tags")?)?;
    let children = decode_list("deleted_images.children", row.try_get("children")?)?;
    sqlx::query(
        "INSERT INTO repository_blobs (repository_id, digest, created_at) \
         SELECT ?1, digest, ?2 FROM deleted_image_blobs WHERE image_id = ?3 \
         ON CONFLICT (repository_id, digest) DO NOTHING",
    )
    .bind(repository_id)
    .bind(now)
    .bind(image_id)
    .execute(&mut *conn)
    .await?;
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM manifests WHERE repository_id = ?1 AND digest = ?2")
        .bind(repository_id)
        .bind(&digest)
        .fetch_optional(&mut *conn)
        .await?;
    let manifest_id = match existing {
        Some(id) => id,
        None => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO manifests (repository_id, digest, media_type, content, size, artifact_type, \
                 subject_digest, annotations, config_digest, platforms, pushed_at, last_pulled_at) \
                 SELECT ?1, digest, media_type, content, size, artifact_type, subject_digest, annotations, \
                 config_digest, platforms, pushed_at, last_pulled_at FROM deleted_images WHERE id = ?2 RETURNING id",
            )
            .bind(repository_id)
            .bind(image_id)
            .fetch_one(&mut *conn)
            .await?;
            sqlx::query(
                "INSERT INTO manifest_blobs (manifest_id, digest) SELECT ?1, digest FROM deleted_image_blobs \
                 WHERE image_id = ?2",
            )
            .bind(id)
            .bind(image_id)
            .execute(&mut *conn)
            .await?;
            for child in &children {
                sqlx::query("INSERT OR IGNORE INTO manifest_children (manifest_id, child_digest) VALUES (?1, ?2)")
                    .bind(id)
                    .bind(child)
                    .execute(&mut *conn)
                    .await?;
            }
            id
        }
    };
    let mut outcome = TagsRestored::default();
    for tag in tags {
        let done = sqlx::query(
            "INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (repository_id, name) DO NOTHING",
        )
        .bind(repository_id)
        .bind(&tag)
        .bind(manifest_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        let mine: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM tags WHERE repository_id = ?1 AND name = ?2 AND manifest_id = ?3)",
        )
        .bind(repository_id)
        .bind(&tag)
        .bind(manifest_id)
        .fetch_one(&mut *conn)
        .await?;
        if done.rows_affected() > 0 || mine {
            outcome.restored.push(tag);
        } else {
            outcome.taken.push(tag);
        }
    }
    sqlx::query("DELETE FROM deleted_images WHERE id = ?1").bind(image_id).execute(&mut *conn).await?;
    Ok(outcome)
}

/// The settings row, resource tags and lifecycle policy of repository `id`, if it has a settings row.
async fn snapshot_settings(conn: &mut SqliteConnection, id: i64) -> Result<Option<SettingsSnapshot>> {
    let row = sqlx::query(
        "SELECT created_at, image_tag_mutability, tag_mutability_exclusions, scan_on_push, pull_policy \
         FROM repository_settings WHERE repository_id = ?1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let resource_tags: Vec<(String, String)> =
        sqlx::query_as("SELECT key, value FROM repository_resource_tags WHERE repository_id = ?1 ORDER BY key")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    let lifecycle_policy: Option<(String, i64)> =
        sqlx::query_as("SELECT policy_text, updated_at FROM repository_lifecycle_policies WHERE repository_id = ?1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let scan: i64 = row.try_get("scan_on_push")?;
    Ok(Some(SettingsSnapshot {
        created_at: row.try_get("created_at")?,
        image_tag_mutability: row.try_get("image_tag_mutability")?,
        tag_mutability_exclusions: row.try_get("tag_mutability_exclusions")?,
        scan_on_push: scan != 0,
        pull_policy: row.try_get("pull_policy")?,
        resource_tags,
        lifecycle_policy,
    }))
}

async fn apply_settings(conn: &mut SqliteConnection, id: i64, s: &SettingsSnapshot) -> Result<()> {
    sqlx::query(
        "INSERT INTO repository_settings (repository_id, created_at, image_tag_mutability, \
         tag_mutability_exclusions, scan_on_push, pull_policy) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .bind(id)
    .bind(s.created_at)
    .bind(&s.image_tag_mutability)
    .bind(&s.tag_mutability_exclusions)
    .bind(i64::from(s.scan_on_push))
    .bind(&s.pull_policy)
    .execute(&mut *conn)
    .await?;
    for (key, value) in &s.resource_tags {
        sqlx::query("INSERT OR REPLACE INTO repository_resource_tags (repository_id, key, value) VALUES (?1, ?2, ?3)")
            .bind(id)
            .bind(key)
            .bind(value)
            .execute(&mut *conn)
            .await?;
    }
    if let Some((text, updated_at)) = &s.lifecycle_policy {
        sqlx::query(
            "INSERT INTO repository_lifecycle_policies (repository_id, policy_text, updated_at) VALUES (?1, ?2, ?3)",
        )
        .bind(id)
        .bind(text)
        .bind(updated_at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Whether repository `name` exists (live).
async fn exists(conn: &mut SqliteConnection, name: &str) -> Result<bool> {
    let sql = format!("SELECT EXISTS (SELECT 1 FROM repositories r WHERE name = ?1 AND {REPOSITORY_EXISTS})");
    Ok(sqlx::query_scalar(&sql).bind(name).fetch_one(&mut *conn).await?)
}

fn deleted_image(row: &sqlx::sqlite::SqliteRow) -> Result<DeletedImage> {
    Ok(DeletedImage {
        repository: parse("deleted_images.repository", row.try_get("repository")?)?,
        digest: parse("deleted_images.digest", row.try_get("digest")?)?,
        media_type: row.try_get("media_type")?,
        size: from_db("deleted image size", row.try_get("total_size")?)?,
        tags: decode_list("deleted_images.tags", row.try_get("tags")?)?,
        pushed_at: row.try_get("pushed_at")?,
        deleted_at: row.try_get("deleted_at")?,
        purge_after: row.try_get("purge_after")?,
    })
}

#[async_trait]
impl SoftDeleteStore for SqliteMeta {
    async fn soft_delete_image(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        check_index: bool,
        retention: Retention,
    ) -> Result<ImageDeletion> {
        let mut tx = self.write_tx().await?;
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT m.id, m.repository_id FROM manifests m JOIN repositories r ON r.id = m.repository_id \
             WHERE r.name = ?1 AND m.digest = ?2",
        )
        .bind(repo.as_str())
        .bind(digest.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id, repository_id)) = row else {
            return Ok(ImageDeletion::NotFound);
        };
        if check_index && listed_by_index(&mut tx, repository_id, &digest.to_string()).await? {
            return Ok(ImageDeletion::ReferencedByIndex);
        }
        tombstone(&mut tx, repo.as_str(), id, None, retention).await?;
        tx.commit().await?;
        self.durable().await?;
        Ok(ImageDeletion::Deleted)
    }

    async fn soft_untag_image(&self, repo: &RepositoryName, tag: &Tag, retention: Retention) -> Result<Untagging> {
        self.remove_tag(repo, tag, LastTag::Tombstone(retention)).await
    }

    async fn soft_delete_repository(
        &self,
        name: &RepositoryName,
        force: bool,
        retention: Retention,
    ) -> Result<Option<RepositoryRecord>> {
        let mut tx = self.write_tx().await?;
        let Some((id, record)) = record_of(&mut tx, name).await? else {
            drop(tx);
            self.durable().await?;
            return Ok(None);
        };
        let manifests: Vec<i64> = sqlx::query_scalar("SELECT id FROM manifests WHERE repository_id = ?1 ORDER BY id")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
        if !force && !manifests.is_empty() {
            drop(tx);
            self.durable().await?;
            return Err(MetaError::NotEmpty(format!("repository {name}")));
        }
        let settings = snapshot_settings(&mut tx, id).await?;
        let settings =
            settings.map(|s| serde_json::to_string(&s)).transpose().map_err(|e| MetaError::Corrupt(e.to_string()))?;
        // A repository deleted again before the earlier deletion was purged: the newer deletion wins.
        sqlx::query("DELETE FROM deleted_repositories WHERE name = ?1").bind(name.as_str()).execute(&mut *tx).await?;
        let tombstone_id: i64 = sqlx::query_scalar(
            "INSERT INTO deleted_repositories (name, settings, created_at, deleted_at, purge_after) \
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        )
        .bind(name.as_str())
        .bind(settings)
        .bind(record.created_at)
        .bind(retention.now)
        .bind(retention.purge_after)
        .fetch_one(&mut *tx)
        .await?;
        for manifest_id in manifests {
            tombstone(&mut tx, name.as_str(), manifest_id, Some(tombstone_id), retention).await?;
        }
        for sql in [
            "DELETE FROM repository_blobs WHERE repository_id = ?1",
            "DELETE FROM repository_settings WHERE repository_id = ?1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.durable().await?;
        Ok(Some(record))
    }

    async fn deleted_images(&self, repo: &RepositoryName) -> Result<Vec<DeletedImage>> {
        let rows = sqlx::query(
            "SELECT d.repository, d.digest, d.media_type, d.tags, d.pushed_at, d.deleted_at, d.purge_after, \
             d.size + COALESCE((SELECT SUM(b.size) FROM deleted_image_blobs db JOIN blobs b ON b.digest = db.digest \
                                WHERE db.image_id = d.id), 0) AS total_size \
             FROM deleted_images d WHERE d.repository = ?1 AND d.deleted_repository_id IS NULL ORDER BY d.digest",
        )
        .bind(repo.as_str())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(deleted_image).collect()
    }

    async fn deleted_repositories(&self) -> Result<Vec<DeletedRepository>> {
        let rows = sqlx::query(
            "SELECT r.name, r.created_at, r.deleted_at, r.purge_after, \
             (SELECT COUNT(*) FROM deleted_images d WHERE d.deleted_repository_id = r.id) AS images, \
             COALESCE((SELECT SUM(d.size) FROM deleted_images d WHERE d.deleted_repository_id = r.id), 0) \
             + COALESCE((SELECT SUM(b.size) FROM blobs b WHERE b.digest IN \
                 (SELECT db.digest FROM deleted_image_blobs db JOIN deleted_images d ON d.id = db.image_id \
                  WHERE d.deleted_repository_id = r.id)), 0) AS bytes \
             FROM deleted_repositories r ORDER BY r.name",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DeletedRepository {
                    name: parse("deleted_repositories.name", row.try_get("name")?)?,
                    created_at: row.try_get("created_at")?,
                    deleted_at: row.try_get("deleted_at")?,
                    purge_after: row.try_get("purge_after")?,
                    images: from_db("images", row.try_get("images")?)?,
                    bytes: from_db("bytes", row.try_get("bytes")?)?,
                })
            })
            .collect()
    }

    async fn restore_image(&self, repo: &RepositoryName, digest: &Digest, now: i64) -> Result<Restore<TagsRestored>> {
        let mut tx = self.write_tx().await?;
        let image_id: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM deleted_images WHERE repository = ?1 AND digest = ?2 AND deleted_repository_id IS NULL",
        )
        .bind(repo.as_str())
        .bind(digest.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(image_id) = image_id else {
            return Ok(Err(RestoreRefusal::NotFound));
        };
        let repository_deleted: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM deleted_repositories WHERE name = ?1)")
                .bind(repo.as_str())
                .fetch_one(&mut *tx)
                .await?;
        if repository_deleted && !exists(&mut tx, repo.as_str()).await? {
            return Ok(Err(RestoreRefusal::RepositoryDeleted));
        }
        let repository_id = ensure_repository(&mut tx, repo.as_str(), now).await?;
        let tags = restore_one(&mut tx, repository_id, image_id, now).await?;
        tx.commit().await?;
        self.durable().await?;
        Ok(Ok(tags))
    }

    async fn restore_repository(&self, name: &RepositoryName, now: i64) -> Result<Restore<RepositoryRestored>> {
        let mut tx = self.write_tx().await?;
        let row: Option<(i64, Option<String>)> =
            sqlx::query_as("SELECT id, settings FROM deleted_repositories WHERE name = ?1")
                .bind(name.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let Some((tombstone_id, settings)) = row else {
            return Ok(Err(RestoreRefusal::NotFound));
        };
        if exists(&mut tx, name.as_str()).await? {
            return Ok(Err(RestoreRefusal::NameTaken));
        }
        let repository_id = ensure_repository(&mut tx, name.as_str(), now).await?;
        if let Some(settings) = settings {
            let settings: SettingsSnapshot = serde_json::from_str(&settings)
                .map_err(|e| MetaError::Corrupt(format!("deleted_repositories.settings: {e}")))?;
            apply_settings(&mut tx, repository_id, &settings).await?;
        }
        let images: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM deleted_images WHERE deleted_repository_id = ?1 ORDER BY id")
                .bind(tombstone_id)
                .fetch_all(&mut *tx)
                .await?;
        let mut outcome = RepositoryRestored::default();
        for image_id in images {
            let tags = restore_one(&mut tx, repository_id, image_id, now).await?;
            outcome.images += 1;
            outcome.tags.restored.extend(tags.restored);
            outcome.tags.taken.extend(tags.taken);
        }
        sqlx::query("DELETE FROM deleted_repositories WHERE id = ?1").bind(tombstone_id).execute(&mut *tx).await?;
        tx.commit().await?;
        self.durable().await?;
        Ok(Ok(outcome))
    }

    async fn purge_deleted_repository(&self, name: &RepositoryName) -> Result<bool> {
        let done = sqlx::query("DELETE FROM deleted_repositories WHERE name = ?1")
            .bind(name.as_str())
            .execute(&self.writer)
            .await?;
        self.durable().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn purge_deleted(&self, now: i64) -> Result<Purged> {
        let mut tx = self.write_tx().await?;
        let images: Vec<(String, String)> = sqlx::query_as(
            "DELETE FROM deleted_images WHERE deleted_repository_id IS NULL AND purge_after <= ?1 \
             RETURNING repository, digest",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let repositories: Vec<(String, i64)> = sqlx::query_as(
            "SELECT r.name, (SELECT COUNT(*) FROM deleted_images d WHERE d.deleted_repository_id = r.id) \
             FROM deleted_repositories r WHERE r.purge_after <= ?1 ORDER BY r.name",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM deleted_repositories WHERE purge_after <= ?1").bind(now).execute(&mut *tx).await?;
        tx.commit().await?;
        self.durable().await?;
        let mut images = images;
        images.sort();
        let mut purged = Purged::default();
        for (repo, digest) in images {
            purged.images.push((parse("deleted_images.repository", &repo)?, parse("deleted_images.digest", &digest)?));
        }
        for (name, n) in repositories {
            purged.repositories.push((parse("deleted_repositories.name", &name)?, from_db("images", n)?));
        }
        Ok(purged)
    }

    async fn deleted_bytes(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COALESCE((SELECT SUM(size) FROM deleted_images), 0) \
             + COALESCE((SELECT SUM(b.size) FROM blobs b WHERE EXISTS \
                 (SELECT 1 FROM deleted_image_blobs db WHERE db.digest = b.digest) \
                 AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = b.digest)), 0)",
        )
        .fetch_one(&self.reader)
        .await?;
        from_db("deleted bytes", n)
    }
}
