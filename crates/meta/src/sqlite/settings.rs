//! Explicitly created repositories, their settings and resource tags, and image listings.

use async_trait::async_trait;
use berth_oci::{Digest, RepositoryName};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::codec::{from_db, parse, parse_opt};
use super::{REPOSITORY_EXISTS, SqliteMeta, ensure_repository};
use crate::archive::StatusFilter;
use crate::settings::{
    ImageDeletion, ImageDetail, ImageId, RepositoryRecord, RepositorySettings, RepositorySettingsStore, TagMutability,
    TagStatus,
};
use crate::{MetaError, Page, Result};

pub(super) fn mutability_to_db(m: TagMutability) -> &'static str {
    match m {
        TagMutability::Mutable => "MUTABLE",
        TagMutability::Immutable => "IMMUTABLE",
    }
}

/// `tag_mutability_exclusions`: a JSON array of filters, NULL when there are none.
pub(super) fn exclusions_to_db(exclusions: &[String]) -> Option<String> {
    (!exclusions.is_empty()).then(|| serde_json::to_string(exclusions).expect("strings serialise"))
}

pub(super) fn exclusions_from_db(value: Option<String>) -> Result<Vec<String>> {
    match value {
        None => Ok(Vec::new()),
        Some(v) => serde_json::from_str(&v)
            .map_err(|e| MetaError::Corrupt(format!("repository_settings.tag_mutability_exclusions: {e}"))),
    }
}

pub(super) fn mutability_from_db(value: &str) -> Result<TagMutability> {
    match value {
        "MUTABLE" => Ok(TagMutability::Mutable),
        "IMMUTABLE" => Ok(TagMutability::Immutable),
        other => Err(MetaError::Corrupt(format!("repository_settings.image_tag_mutability {other:?}"))),
    }
}

/// Columns of a [`RepositoryRecord`] over `repositories r LEFT JOIN repository_settings s`. A repository
/// without a settings row was created by its content: its creation time is that of its oldest blob link or
/// manifest (the `repositories` row may be older than the content's current life).
pub(super) const RECORD_COLUMNS: &str = "r.name AS name, \
     s.repository_id IS NOT NULL AS explicit, \
     COALESCE(s.image_tag_mutability, 'MUTABLE') AS image_tag_mutability, \
     s.tag_mutability_exclusions AS tag_mutability_exclusions, \
     COALESCE(s.scan_on_push, 0) AS scan_on_push, \
     COALESCE(s.created_at, \
         MIN(COALESCE((SELECT MIN(b.created_at) FROM repository_blobs b WHERE b.repository_id = r.id), \
                      (SELECT MIN(m.pushed_at) FROM manifests m WHERE m.repository_id = r.id)), \
             COALESCE((SELECT MIN(m.pushed_at) FROM manifests m WHERE m.repository_id = r.id), \
                      (SELECT MIN(b.created_at) FROM repository_blobs b WHERE b.repository_id = r.id))), \
         r.created_at) AS created_at";

pub(super) fn record(row: &SqliteRow) -> Result<RepositoryRecord> {
    let scan: i64 = row.try_get("scan_on_push")?;
    let explicit: i64 = row.try_get("explicit")?;
    Ok(RepositoryRecord {
        name: parse("repositories.name", row.try_get("name")?)?,
        created_at: row.try_get("created_at")?,
        explicit: explicit != 0,
        tag_mutability: mutability_from_db(row.try_get("image_tag_mutability")?)?,
        tag_mutability_exclusions: exclusions_from_db(row.try_get("tag_mutability_exclusions")?)?,
        scan_on_push: scan != 0,
    })
}

/// The record of `name` if it exists, read on `conn` (inside a transaction when the caller needs one).
pub(super) async fn record_of(
    conn: &mut SqliteConnection,
    name: &RepositoryName,
) -> Result<Option<(i64, RepositoryRecord)>> {
    let sql = format!(
        "SELECT r.id AS id, {RECORD_COLUMNS} FROM repositories r \
         LEFT JOIN repository_settings s ON s.repository_id = r.id \
         WHERE r.name = ?1 AND {REPOSITORY_EXISTS}"
    );
    let row = sqlx::query(&sql).bind(name.as_str()).fetch_optional(conn).await?;
    row.map(|row| Ok((row.try_get("id")?, record(&row)?))).transpose()
}

/// The value the image listings' SQL compares `?2` with.
fn status_to_sql(status: TagStatus) -> &'static str {
    match status {
        TagStatus::Tagged => "tagged",
        TagStatus::Untagged => "untagged",
        TagStatus::Any => "any",
    }
}

/// Columns of an [`ImageDetail`] over `manifests m`. The size counts each referenced blob once (a blob is
/// in `manifest_blobs` once per manifest); the config media type is read from the content, which is JSON
/// for every manifest berth accepted.
const DETAIL_COLUMNS: &str = "m.digest AS digest, m.media_type AS media_type, m.pushed_at AS pushed_at, \
     m.last_pulled_at AS last_pulled_at, \
     m.size + COALESCE((SELECT SUM(b.size) FROM manifest_blobs mb JOIN blobs b ON b.digest = mb.digest \
                        WHERE mb.manifest_id = m.id), 0) AS total_size, \
     CASE WHEN json_valid(CAST(m.content AS TEXT)) THEN \
         CASE WHEN json_type(CAST(m.content AS TEXT), '$.config.mediaType') = 'text' \
              THEN json_extract(CAST(m.content AS TEXT), '$.config.mediaType') END \
     END AS config_media_type, \
     (SELECT group_concat(name, char(10)) FROM \
         (SELECT t.name AS name FROM tags t WHERE t.manifest_id = m.id ORDER BY t.name)) AS tag_names, \
     (SELECT s.status FROM image_storage s WHERE s.manifest_id = m.id) AS storage_status, \
     (SELECT s.last_archived_at FROM image_storage s WHERE s.manifest_id = m.id) AS last_archived_at, \
     (SELECT s.last_activated_at FROM image_storage s WHERE s.manifest_id = m.id) AS last_activated_at";

fn detail(row: &SqliteRow) -> Result<ImageDetail> {
    let tags: Option<String> = row.try_get("tag_names")?;
    let tags = match tags {
        Some(t) if !t.is_empty() => t.split('\n').map(|t| parse("tags.name", t)).collect::<Result<Vec<_>>>()?,
        _ => Vec::new(),
    };
    Ok(ImageDetail {
        digest: parse("manifests.digest", row.try_get("digest")?)?,
        tags,
        media_type: row.try_get("media_type")?,
        size: from_db("manifests.size", row.try_get("total_size")?)?,
        config_media_type: row.try_get("config_media_type")?,
        pushed_at: row.try_get("pushed_at")?,
        last_pulled_at: row.try_get("last_pulled_at")?,
        storage: super::archive::state_of(row)?,
    })
}

#[async_trait]
impl RepositorySettingsStore for SqliteMeta {
    async fn create_repository(
        &self,
        name: &RepositoryName,
        settings: &RepositorySettings,
        now: i64,
    ) -> Result<RepositoryRecord> {
        let mut tx = self.write_tx().await?;
        // Checked in the write transaction: a concurrent push or create cannot slip in between. On error
        // `tx` is dropped, which rolls back (including a repositories row created here).
        if record_of(&mut tx, name).await?.is_some() {
            return Err(MetaError::AlreadyExists(format!("repository {name}")));
        }
        let repository_id = ensure_repository(&mut tx, name.as_str(), now).await?;
        insert_settings(&mut tx, repository_id, settings, now).await?;
        tx.commit().await?;
        self.durable().await?;
        Ok(RepositoryRecord {
            name: name.clone(),
            created_at: now,
            explicit: true,
            tag_mutability: settings.tag_mutability,
            tag_mutability_exclusions: settings.tag_mutability_exclusions.clone(),
            scan_on_push: settings.scan_on_push,
        })
    }

    async fn get_repository(&self, name: &RepositoryName) -> Result<Option<RepositoryRecord>> {
        let mut conn = self.reader.acquire().await?;
        Ok(record_of(&mut conn, name).await?.map(|(_, r)| r))
    }

    async fn scan_on_push(&self, name: &RepositoryName) -> Result<bool> {
        let mut conn = self.reader.acquire().await?;
        let on: Option<i64> = sqlx::query_scalar(
            "SELECT s.scan_on_push FROM repository_settings s JOIN repositories r ON r.id = s.repository_id \
             WHERE r.name = ?1",
        )
        .bind(name.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        Ok(on == Some(1))
    }

    async fn list_repository_records(&self, page: Page<'_>) -> Result<Vec<RepositoryRecord>> {
        // Names are never empty, so "after ''" is "from the start".
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM repositories r \
             LEFT JOIN repository_settings s ON s.repository_id = r.id \
             WHERE r.name > ?1 AND {REPOSITORY_EXISTS} ORDER BY r.name LIMIT ?2"
        );
        let rows =
            sqlx::query(&sql).bind(page.last.unwrap_or("")).bind(i64::from(page.n)).fetch_all(&self.reader).await?;
        rows.iter().map(record).collect()
    }

    async fn repository_resource_tags(&self, name: &RepositoryName) -> Result<Option<Vec<(String, String)>>> {
        let mut tx = self.reader.begin().await?;
        let Some((id, _)) = record_of(&mut tx, name).await? else {
            return Ok(None);
        };
        let rows = sqlx::query("SELECT key, value FROM repository_resource_tags WHERE repository_id = ?1 ORDER BY key")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter().map(|r| Ok((r.try_get("key")?, r.try_get("value")?))).collect::<Result<Vec<_>>>().map(Some)
    }

    async fn delete_repository(&self, name: &RepositoryName, force: bool) -> Result<Option<RepositoryRecord>> {
        let mut tx = self.write_tx().await?;
        let found = record_of(&mut tx, name).await?;
        let Some((id, record)) = found else {
            drop(tx);
            // What we report was decided by commits that may not be durable yet (see the module docs).
            self.durable().await?;
            return Ok(None);
        };
        if !force {
            let has_manifest: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM manifests WHERE repository_id = ?1)")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
            if has_manifest {
                drop(tx);
                self.durable().await?;
                return Err(MetaError::NotEmpty(format!("repository {name}")));
            }
        }
        // Tags, manifest_blobs and manifest_children go with the manifests, resource tags with the settings
        // (ON DELETE CASCADE). The repositories row stays for its usage counters, visibility and policy.
        for sql in [
            "DELETE FROM manifests WHERE repository_id = ?1",
            "DELETE FROM repository_blobs WHERE repository_id = ?1",
            "DELETE FROM repository_settings WHERE repository_id = ?1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.durable().await?;
        Ok(Some(record))
    }

    async fn list_image_ids(
        &self,
        repo: &RepositoryName,
        status: TagStatus,
        storage: StatusFilter,
        after: Option<&ImageId>,
        n: u32,
    ) -> Result<Option<Vec<ImageId>>> {
        // One read transaction: the existence check and the listing see the same snapshot.
        let mut tx = self.reader.begin().await?;
        let Some((id, _)) = record_of(&mut tx, repo).await? else {
            return Ok(None);
        };
        let status = status_to_sql(status);
        // An untagged manifest's entry sorts as tag '' (tags are never empty); digests are never empty, so
        // "after ('', '')" is "from the start".
        let (after_digest, after_tag) = match after {
            Some(a) => (a.digest.to_string(), a.tag.as_ref().map(|t| t.as_str().to_string()).unwrap_or_default()),
            None => (String::new(), String::new()),
        };
        let rows = sqlx::query(
            "SELECT m.digest AS digest, t.name AS tag FROM manifests m \
             LEFT JOIN tags t ON t.manifest_id = m.id \
             WHERE m.repository_id = ?1 \
             AND (?2 = 'any' OR (?2 = 'tagged' AND t.name IS NOT NULL) OR (?2 = 'untagged' AND t.name IS NULL)) \
             AND (m.digest, COALESCE(t.name, '')) > (?3, ?4) \
             AND (?6 = '' OR COALESCE((SELECT s.status FROM image_storage s WHERE s.manifest_id = m.id), 'ACTIVE') = ?6) \
             ORDER BY m.digest, COALESCE(t.name, '') LIMIT ?5",
        )
        .bind(id)
        .bind(status)
        .bind(after_digest)
        .bind(after_tag)
        .bind(i64::from(n))
        .bind(storage.to_sql())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                Ok(ImageId {
                    digest: parse("manifests.digest", row.try_get("digest")?)?,
                    tag: parse_opt("tags.name", row.try_get("tag")?)?,
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    async fn list_image_details(
        &self,
        repo: &RepositoryName,
        status: TagStatus,
        storage: StatusFilter,
        after: Option<&Digest>,
        n: u32,
    ) -> Result<Option<Vec<ImageDetail>>> {
        let mut tx = self.reader.begin().await?;
        let Some((id, _)) = record_of(&mut tx, repo).await? else {
            return Ok(None);
        };
        let status = status_to_sql(status);
        let sql = format!(
            "SELECT {DETAIL_COLUMNS} FROM manifests m \
             WHERE m.repository_id = ?1 AND m.digest > ?3 \
             AND (?2 = 'any' \
                  OR (?2 = 'tagged') = EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)) \
             AND (?5 = '' OR COALESCE((SELECT s.status FROM image_storage s WHERE s.manifest_id = m.id), 'ACTIVE') = ?5) \
             ORDER BY m.digest LIMIT ?4"
        );
        let rows = sqlx::query(&sql)
            .bind(id)
            .bind(status)
            .bind(after.map(|d| d.to_string()).unwrap_or_default())
            .bind(i64::from(n))
            .bind(storage.to_sql())
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter().map(detail).collect::<Result<Vec<_>>>().map(Some)
    }

    async fn image_detail(&self, repo: &RepositoryName, digest: &Digest) -> Result<Option<ImageDetail>> {
        let sql = format!(
            "SELECT {DETAIL_COLUMNS} FROM manifests m JOIN repositories r ON r.id = m.repository_id \
             WHERE r.name = ?1 AND m.digest = ?2"
        );
        let row = sqlx::query(&sql).bind(repo.as_str()).bind(digest.to_string()).fetch_optional(&self.reader).await?;
        row.as_ref().map(detail).transpose()
    }

    async fn tag_repository(&self, name: &RepositoryName, tags: &[(String, String)], max_tags: usize) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let Some(id) = make_explicit(&mut tx, name).await? else {
            drop(tx);
            self.durable().await?;
            return Ok(false);
        };
        for (key, value) in tags {
            sqlx::query(
                "INSERT INTO repository_resource_tags (repository_id, key, value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (repository_id, key) DO UPDATE SET value = excluded.value",
            )
            .bind(id)
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM repository_resource_tags WHERE repository_id = ?1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        if count as usize > max_tags {
            return Err(MetaError::LimitExceeded(format!("a repository can have at most {max_tags} tags")));
        }
        tx.commit().await?;
        self.durable().await?;
        Ok(true)
    }

    async fn untag_repository(&self, name: &RepositoryName, keys: &[String]) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let Some((id, _)) = record_of(&mut tx, name).await? else {
            drop(tx);
            self.durable().await?;
            return Ok(false);
        };
        for key in keys {
            sqlx::query("DELETE FROM repository_resource_tags WHERE repository_id = ?1 AND key = ?2")
                .bind(id)
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.durable().await?;
        Ok(true)
    }

    async fn set_tag_mutability(
        &self,
        name: &RepositoryName,
        mutability: TagMutability,
        exclusions: &[String],
    ) -> Result<Option<RepositoryRecord>> {
        let mut tx = self.write_tx().await?;
        let Some(id) = make_explicit(&mut tx, name).await? else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE repository_settings SET image_tag_mutability = ?2, tag_mutability_exclusions = ?3 \
             WHERE repository_id = ?1",
        )
        .bind(id)
        .bind(mutability_to_db(mutability))
        .bind(exclusions_to_db(exclusions))
        .execute(&mut *tx)
        .await?;
        let record = record_of(&mut tx, name).await?.map(|(_, r)| r);
        tx.commit().await?;
        self.durable().await?;
        Ok(record)
    }

    async fn delete_image(&self, repo: &RepositoryName, digest: &Digest) -> Result<ImageDeletion> {
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
        let referenced: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM manifest_children c JOIN manifests m ON m.id = c.manifest_id \
             WHERE m.repository_id = ?1 AND c.child_digest = ?2)",
        )
        .bind(repository_id)
        .bind(digest.to_string())
        .fetch_one(&mut *tx)
        .await?;
        if referenced {
            return Ok(ImageDeletion::ReferencedByIndex);
        }
        sqlx::query("DELETE FROM manifests WHERE id = ?1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        self.durable().await?;
        Ok(ImageDeletion::Deleted)
    }

    async fn set_pull_policy(&self, name: &RepositoryName, policy: Option<&str>) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let Some(id) = make_explicit(&mut tx, name).await? else {
            return Ok(false);
        };
        sqlx::query("UPDATE repository_settings SET pull_policy = ?2 WHERE repository_id = ?1")
            .bind(id)
            .bind(policy)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.durable().await?;
        Ok(true)
    }

    async fn pull_policy(&self, name: &RepositoryName) -> Result<Option<String>> {
        let mut conn = self.reader.acquire().await?;
        let policy: Option<Option<String>> = sqlx::query_scalar(
            "SELECT s.pull_policy FROM repository_settings s JOIN repositories r ON r.id = s.repository_id \
             WHERE r.name = ?1",
        )
        .bind(name.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        Ok(policy.flatten())
    }

    async fn set_scan_on_push(&self, name: &RepositoryName, scan_on_push: bool) -> Result<Option<RepositoryRecord>> {
        let mut tx = self.write_tx().await?;
        let Some(id) = make_explicit(&mut tx, name).await? else {
            return Ok(None);
        };
        sqlx::query("UPDATE repository_settings SET scan_on_push = ?2 WHERE repository_id = ?1")
            .bind(id)
            .bind(i64::from(scan_on_push))
            .execute(&mut *tx)
            .await?;
        let record = record_of(&mut tx, name).await?.map(|(_, r)| r);
        tx.commit().await?;
        self.durable().await?;
        Ok(record)
    }

    async fn registry_setting(&self, name: &str) -> Result<Option<String>> {
        let mut conn = self.reader.acquire().await?;
        Ok(sqlx::query_scalar("SELECT value FROM registry_settings WHERE name = ?1")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?)
    }

    async fn put_registry_setting(&self, name: &str, value: &str, now: i64) -> Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO registry_settings (name, value, updated_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(value)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.durable().await
    }
}

/// Writes the settings row and resource tags of a repository being created explicitly.
pub(super) async fn insert_settings(
    conn: &mut SqliteConnection,
    repository_id: i64,
    settings: &RepositorySettings,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO repository_settings \
         (repository_id, created_at, image_tag_mutability, tag_mutability_exclusions, scan_on_push) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .bind(repository_id)
    .bind(now)
    .bind(mutability_to_db(settings.tag_mutability))
    .bind(exclusions_to_db(&settings.tag_mutability_exclusions))
    .bind(i64::from(settings.scan_on_push))
    .execute(&mut *conn)
    .await?;
    for (key, value) in &settings.tags {
        sqlx::query(
            "INSERT INTO repository_resource_tags (repository_id, key, value) VALUES (?1, ?2, ?3) \
             ON CONFLICT (repository_id, key) DO UPDATE SET value = excluded.value",
        )
        .bind(repository_id)
        .bind(key)
        .bind(value)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Gives an existing repository a settings row if it has none (a repository created by a push becomes
/// explicit, created when its content was). Returns its id, `None` when it does not exist.
pub(super) async fn make_explicit(conn: &mut SqliteConnection, name: &RepositoryName) -> Result<Option<i64>> {
    let Some((id, record)) = record_of(&mut *conn, name).await? else {
        return Ok(None);
    };
    sqlx::query("INSERT OR IGNORE INTO repository_settings (repository_id, created_at) VALUES (?1, ?2)")
        .bind(id)
        .bind(record.created_at)
        .execute(&mut *conn)
        .await?;
    Ok(Some(id))
}
