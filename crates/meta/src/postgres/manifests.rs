//! Manifests, tags, referrers.

use async_trait::async_trait;
use berth_oci::{Digest, Reference, RepositoryName, Tag};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::codec::{from_db, parse, parse_opt, to_db};
use super::deleted::{listed_by_index, tombstone};
use super::settings::{exclusions_from_db, mutability_from_db};
use super::{Lock, PgMeta, REPOSITORY_EXISTS, ensure_repository, lock_repository};
use crate::deleted::LastTag;
use crate::settings::tag_is_immutable;
use crate::{ManifestStore, MetaError, NewManifest, Page, Referrer, Result, StoredManifest, Untagging};

const MANIFEST_COLUMNS: &str = "m.digest, m.media_type, m.content, m.artifact_type, m.subject_digest, m.pushed_at, m.last_pulled_at, \
     (SELECT s.status FROM image_storage s WHERE s.manifest_id = m.id) AS storage_status";

fn stored_manifest(row: &PgRow) -> Result<StoredManifest> {
    Ok(StoredManifest {
        digest: parse("manifests.digest", row.try_get("digest")?)?,
        media_type: row.try_get("media_type")?,
        content: row.try_get("content")?,
        artifact_type: row.try_get("artifact_type")?,
        subject: parse_opt("manifests.subject_digest", row.try_get("subject_digest")?)?,
        pushed_at: row.try_get("pushed_at")?,
        last_pulled_at: row.try_get("last_pulled_at")?,
        status: super::archive::status_from_db(row.try_get::<Option<&str>, _>("storage_status")?)?,
    })
}

fn strings(digests: &[Digest]) -> Vec<String> {
    digests.iter().map(Digest::to_string).collect()
}

/// Checks, inside the put transaction (which holds the repository's lock, so no unlink or delete can come
/// between), that everything `manifest` references is in the repository. Reports the first missing
/// reference in the manifest's order.
async fn verify_references(conn: &mut PgConnection, repository_id: i64, manifest: &NewManifest) -> Result<()> {
    if !manifest.blobs.is_empty() {
        let missing: Option<String> = sqlx::query_scalar(
            "SELECT d FROM UNNEST($2::text[]) WITH ORDINALITY AS u (d, n) \
             WHERE NOT EXISTS (SELECT 1 FROM repository_blobs WHERE repository_id = $1 AND digest = u.d) \
             ORDER BY n LIMIT 1",
        )
        .bind(repository_id)
        .bind(strings(&manifest.blobs))
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(d) = missing {
            return Err(MetaError::MissingBlob(parse("manifest blob", &d)?));
        }
    }
    if !manifest.children.is_empty() {
        let missing: Option<String> = sqlx::query_scalar(
            "SELECT d FROM UNNEST($2::text[]) WITH ORDINALITY AS u (d, n) \
             WHERE NOT EXISTS (SELECT 1 FROM manifests WHERE repository_id = $1 AND digest = u.d) \
             ORDER BY n LIMIT 1",
        )
        .bind(repository_id)
        .bind(strings(&manifest.children))
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(d) = missing {
            return Err(MetaError::MissingManifest(parse("index child", &d)?));
        }
    }
    Ok(())
}

/// Inserts the manifest row and its reference rows; returns its id. An existing row with the same digest
/// is kept as it is (content is determined by the digest; its push time stays the first one).
async fn insert_manifest(conn: &mut PgConnection, repository_id: i64, manifest: &NewManifest) -> Result<i64> {
    let digest = manifest.digest.to_string();
    let size = to_db("manifest size", manifest.content.len() as u64)?;
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO manifests (repository_id, digest, media_type, content, size, artifact_type, subject_digest, \
         annotations, config_digest, platforms, pushed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (repository_id, digest) DO NOTHING RETURNING id",
    )
    .bind(repository_id)
    .bind(&digest)
    .bind(&manifest.media_type)
    .bind(&manifest.content)
    .bind(size)
    .bind(&manifest.artifact_type)
    .bind(manifest.subject.as_ref().map(Digest::to_string))
    .bind(&manifest.annotations)
    .bind(manifest.config_digest.as_ref().map(Digest::to_string))
    .bind(&manifest.platforms)
    .bind(manifest.pushed_at)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = inserted else {
        let id: i64 = sqlx::query_scalar("SELECT id FROM manifests WHERE repository_id = $1 AND digest = $2")
            .bind(repository_id)
            .bind(&digest)
            .fetch_one(&mut *conn)
            .await?;
        return Ok(id);
    };

    // DO NOTHING: a manifest may list the same blob (or child) more than once.
    if !manifest.blobs.is_empty() {
        sqlx::query(
            "INSERT INTO manifest_blobs (manifest_id, digest) SELECT $1, d FROM UNNEST($2::text[]) AS d \
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(strings(&manifest.blobs))
        .execute(&mut *conn)
        .await?;
    }
    if !manifest.children.is_empty() {
        sqlx::query(
            "INSERT INTO manifest_children (manifest_id, child_digest) SELECT $1, d FROM UNNEST($2::text[]) AS d \
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(strings(&manifest.children))
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

/// Refuses to move an existing immutable tag to another manifest (pushing a tag again to the manifest it
/// names is fine). Runs in the put transaction, after the manifest row exists. The rule itself is
/// [`tag_is_immutable`], shared with the SQLite backend.
async fn check_tag_mutability(
    conn: &mut PgConnection,
    repository_id: i64,
    manifest: &NewManifest,
    manifest_id: i64,
    tags: &[Tag],
) -> Result<()> {
    if tags.is_empty() {
        return Ok(());
    }
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT image_tag_mutability, tag_mutability_exclusions FROM repository_settings WHERE repository_id = $1",
    )
    .bind(repository_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((mutability, exclusions)) = row else {
        return Ok(());
    };
    let (mutability, exclusions) = (mutability_from_db(&mutability)?, exclusions_from_db(exclusions)?);
    let immutable: Vec<&str> =
        tags.iter().map(Tag::as_str).filter(|t| tag_is_immutable(mutability, &exclusions, t)).collect();
    if immutable.is_empty() {
        return Ok(());
    }
    let moved: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM tags WHERE repository_id = $1 AND name = ANY($2::text[]) AND manifest_id <> $3",
    )
    .bind(repository_id)
    .bind(&immutable)
    .bind(manifest_id)
    .fetch_all(&mut *conn)
    .await?;
    // Report the first in the caller's order, as the SQLite backend does.
    if let Some(tag) = immutable.iter().find(|t| moved.iter().any(|m| m == *t)) {
        return Err(MetaError::TagImmutable { repository: manifest.repository.to_string(), tag: tag.to_string() });
    }
    Ok(())
}

#[async_trait]
impl ManifestStore for PgMeta {
    async fn put_manifest(&self, manifest: &NewManifest, tags: &[Tag]) -> Result<()> {
        // One upsert per distinct tag (an upsert may not touch a row twice).
        let mut names: Vec<&str> = tags.iter().map(Tag::as_str).collect();
        names.sort_unstable();
        names.dedup();
        let names = &names;
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            let repository_id =
                ensure_repository(&mut tx, manifest.repository.as_str(), manifest.pushed_at, Lock::Exclusive).await?;
            // Verified even when the digest is already stored: a re-push must not succeed (and move tags) once
            // a blob it needs has been unlinked. On error `tx` is dropped, which rolls everything back,
            // including a repository row created above.
            verify_references(&mut tx, repository_id, manifest).await?;
            let manifest_id = insert_manifest(&mut tx, repository_id, manifest).await?;
            // Pushing a soft-deleted digest again replaces the deleted image: the push wins.
            sqlx::query(
                "DELETE FROM deleted_images WHERE deleted_repository_id IS NULL AND repository = $1 AND digest = $2",
            )
            .bind(manifest.repository.as_str())
            .bind(manifest.digest.to_string())
            .execute(&mut *tx)
            .await?;
            check_tag_mutability(&mut tx, repository_id, manifest, manifest_id, tags).await?;
            if !names.is_empty() {
                sqlx::query(
                    "INSERT INTO tags (repository_id, name, manifest_id, updated_at) \
                     SELECT $1, t, $3, $4 FROM UNNEST($2::text[]) AS t \
                     ON CONFLICT (repository_id, name) DO UPDATE \
                     SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at",
                )
                .bind(repository_id)
                .bind(names)
                .bind(manifest_id)
                .bind(manifest.pushed_at)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn get_manifest(&self, repo: &RepositoryName, reference: &Reference) -> Result<Option<StoredManifest>> {
        let row = match reference {
            Reference::Tag(tag) => {
                let sql = format!(
                    "SELECT {MANIFEST_COLUMNS} FROM tags t \
                     JOIN repositories r ON r.id = t.repository_id \
                     JOIN manifests m ON m.id = t.manifest_id \
                     WHERE r.name = $1 AND t.name = $2"
                );
                sqlx::query(&sql).bind(repo.as_str()).bind(tag.as_str()).fetch_optional(&self.pool).await?
            }
            Reference::Digest(digest) => {
                let sql = format!(
                    "SELECT {MANIFEST_COLUMNS} FROM manifests m \
                     JOIN repositories r ON r.id = m.repository_id \
                     WHERE r.name = $1 AND m.digest = $2"
                );
                sqlx::query(&sql).bind(repo.as_str()).bind(digest.to_string()).fetch_optional(&self.pool).await?
            }
        };
        row.as_ref().map(stored_manifest).transpose()
    }

    async fn delete_manifest(&self, repo: &RepositoryName, digest: &Digest) -> Result<bool> {
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            let Some(id) = lock_repository(&mut tx, repo.as_str(), Lock::Exclusive).await? else {
                return Ok(false);
            };
            // Tags, manifest_blobs and manifest_children rows go with it (ON DELETE CASCADE).
            let done = sqlx::query("DELETE FROM manifests WHERE repository_id = $1 AND digest = $2")
                .bind(id)
                .bind(digest.to_string())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    async fn delete_tag(&self, repo: &RepositoryName, tag: &Tag) -> Result<bool> {
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            let Some(id) = lock_repository(&mut tx, repo.as_str(), Lock::Exclusive).await? else {
                return Ok(false);
            };
            let done = sqlx::query("DELETE FROM tags WHERE repository_id = $1 AND name = $2")
                .bind(id)
                .bind(tag.as_str())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    async fn untag_image(&self, repo: &RepositoryName, tag: &Tag, delete_if_last: bool) -> Result<Untagging> {
        self.remove_tag(repo, tag, if delete_if_last { LastTag::Delete } else { LastTag::Keep }).await
    }

    async fn list_tags(&self, repo: &RepositoryName, page: Page<'_>) -> Result<Option<Vec<String>>> {
        // One snapshot: the existence check and the listing see the same state.
        let mut tx = self.snapshot_tx().await?;
        let sql = format!("SELECT id FROM repositories r WHERE name = $1 AND {REPOSITORY_EXISTS}");
        let Some(repository_id): Option<i64> =
            sqlx::query_scalar(&sql).bind(repo.as_str()).fetch_optional(&mut *tx).await?
        else {
            return Ok(None);
        };
        // Tags are never empty, so "after ''" is "from the start".
        let tags: Vec<String> =
            sqlx::query_scalar("SELECT name FROM tags WHERE repository_id = $1 AND name > $2 ORDER BY name LIMIT $3")
                .bind(repository_id)
                .bind(page.last.unwrap_or(""))
                .bind(i64::from(page.n))
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(Some(tags))
    }

    async fn list_referrers(
        &self,
        repo: &RepositoryName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>> {
        let rows = sqlx::query(
            "SELECT digest, media_type, size, artifact_type, annotations FROM manifests \
             WHERE repository_id = (SELECT id FROM repositories WHERE name = $1) AND subject_digest = $2 \
             AND ($3::text IS NULL OR artifact_type = $3) \
             ORDER BY digest",
        )
        .bind(repo.as_str())
        .bind(subject.to_string())
        .bind(artifact_type)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Referrer {
                    digest: parse("manifests.digest", row.try_get("digest")?)?,
                    media_type: row.try_get("media_type")?,
                    size: from_db("manifests.size", row.try_get("size")?)?,
                    artifact_type: row.try_get("artifact_type")?,
                    annotations: row.try_get("annotations")?,
                })
            })
            .collect()
    }

    async fn record_pull(&self, repo: &RepositoryName, digest: &Digest, now: i64) -> Result<()> {
        // GREATEST: concurrent pulls may commit out of order; the recorded time never goes backwards. A
        // manifest deleted meanwhile is simply not updated.
        sqlx::query(
            "UPDATE manifests SET last_pulled_at = GREATEST(last_pulled_at, $3) \
             WHERE repository_id = (SELECT id FROM repositories WHERE name = $1) AND digest = $2",
        )
        .bind(repo.as_str())
        .bind(digest.to_string())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn manifests_with_blob(&self, repo: &RepositoryName, blob: &Digest, limit: u32) -> Result<Vec<Digest>> {
        let rows = sqlx::query(
            "SELECT m.digest FROM manifest_blobs mb \
             JOIN manifests m ON m.id = mb.manifest_id \
             JOIN repositories r ON r.id = m.repository_id \
             WHERE mb.digest = $1 AND r.name = $2 ORDER BY m.digest LIMIT $3",
        )
        .bind(blob.to_string())
        .bind(repo.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| parse("manifests.digest", row.try_get("digest")?)).collect()
    }

    async fn all_manifest_blob_refs(&self) -> Result<Vec<(RepositoryName, Digest, Digest)>> {
        let rows = sqlx::query(
            "SELECT r.name AS repository, m.digest AS manifest, mb.digest AS blob FROM manifest_blobs mb \
             JOIN manifests m ON m.id = mb.manifest_id \
             JOIN repositories r ON r.id = m.repository_id \
             ORDER BY r.name, m.digest, mb.digest",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    parse("repositories.name", row.try_get("repository")?)?,
                    parse("manifests.digest", row.try_get("manifest")?)?,
                    parse("manifest_blobs.digest", row.try_get("blob")?)?,
                ))
            })
            .collect()
    }
}

impl PgMeta {
    /// Removes `tag` from `repo`; if it was its manifest's last tag, `last_tag` says what becomes of the manifest
    /// (kept, deleted, or deleted into a tombstone), unless an index of the repository lists it (then nothing
    /// changes). One transaction, under the repository's lock: concurrent removals of a manifest's last tags
    /// run one after the other.
    pub(super) async fn remove_tag(&self, repo: &RepositoryName, tag: &Tag, last_tag: LastTag) -> Result<Untagging> {
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            let Some(repository_id) = lock_repository(&mut tx, repo.as_str(), Lock::Exclusive).await? else {
                return Ok(Untagging::NotFound);
            };
            let row: Option<(i64, String)> = sqlx::query_as(
                "SELECT m.id, m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id \
                 WHERE t.repository_id = $1 AND t.name = $2",
            )
            .bind(repository_id)
            .bind(tag.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let Some((manifest_id, digest_text)) = row else {
                return Ok(Untagging::NotFound);
            };
            let digest: Digest = parse("manifests.digest", &digest_text)?;
            let last = !matches!(last_tag, LastTag::Keep) && {
                let others: bool =
                    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tags WHERE manifest_id = $1 AND name <> $2)")
                        .bind(manifest_id)
                        .bind(tag.as_str())
                        .fetch_one(&mut *tx)
                        .await?;
                !others
            };
            let outcome = if last {
                if listed_by_index(&mut tx, repository_id, &digest_text).await? {
                    return Ok(Untagging::ReferencedByIndex(digest));
                }
                match last_tag {
                    // The tombstone remembers this last tag: a restore gives it back.
                    LastTag::Tombstone(retention) => {
                        tombstone(&mut tx, repo.as_str(), manifest_id, None, retention).await?;
                    }
                    // Its tags (this one), blob references and children go with it (ON DELETE CASCADE).
                    _ => {
                        sqlx::query("DELETE FROM manifests WHERE id = $1").bind(manifest_id).execute(&mut *tx).await?;
                    }
                }
                Untagging::Deleted(digest)
            } else {
                sqlx::query("DELETE FROM tags WHERE repository_id = $1 AND name = $2")
                    .bind(repository_id)
                    .bind(tag.as_str())
                    .execute(&mut *tx)
                    .await?;
                Untagging::Untagged(digest)
            };
            tx.commit().await?;
            Ok(outcome)
        })
        .await
    }
}
