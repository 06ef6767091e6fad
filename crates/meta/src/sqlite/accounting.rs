//! Storage accounting per repository and registry-wide (definitions in [`crate::accounting`]).

use async_trait::async_trait;
use berth_oci::RepositoryName;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::codec::{from_db, parse};
use super::{REPOSITORY_EXISTS, SqliteMeta};
use crate::accounting::{AccountingStore, RegistryStorage, StorageAccount};
use crate::{Page, Result};

/// The accounts of the repositories `chosen` selects (a query over `repositories r` yielding `r.id, r.name`).
///
/// `kept` holds the manifests an image deletion of untagged, unreferenced images would keep: the tagged ones
/// of the chosen repositories, then (recursively) the children of kept indexes and the referrers of kept
/// manifests, each within its repository.
fn accounts_sql(chosen: &str) -> String {
    format!(
        "WITH RECURSIVE chosen(id, name) AS ({chosen}), \
         kept(id) AS ( \
             SELECT t.manifest_id FROM tags t JOIN chosen c ON c.id = t.repository_id \
             UNION \
             SELECT m.id FROM kept k JOIN manifests p ON p.id = k.id \
             JOIN manifests m ON m.repository_id = p.repository_id AND (m.subject_digest = p.digest \
                 OR EXISTS (SELECT 1 FROM manifest_children mc WHERE mc.manifest_id = p.id AND mc.child_digest = m.digest)) \
         ) \
         SELECT c.name, \
         (SELECT COUNT(*) FROM repository_blobs rb WHERE rb.repository_id = c.id) AS blobs, \
         COALESCE((SELECT SUM(b.size) FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest \
             WHERE rb.repository_id = c.id), 0) AS blob_bytes, \
         (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = c.id) AS images, \
         COALESCE((SELECT SUM(m.size) FROM manifests m WHERE m.repository_id = c.id), 0) AS manifest_bytes, \
         COALESCE((SELECT SUM(b.size) FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest \
             WHERE rb.repository_id = c.id AND EXISTS (SELECT 1 FROM repository_blobs o \
                 WHERE o.digest = rb.digest AND o.repository_id <> rb.repository_id)), 0) AS shared_bytes, \
         COALESCE((SELECT SUM(m.size) FROM manifests m WHERE m.repository_id = c.id \
             AND m.id NOT IN (SELECT id FROM kept)), 0) AS unkept_manifest_bytes, \
         COALESCE((SELECT SUM(b.size) FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest \
             WHERE rb.repository_id = c.id AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb \
                 JOIN kept k ON k.id = mb.manifest_id JOIN manifests m ON m.id = mb.manifest_id \
                 WHERE mb.digest = rb.digest AND m.repository_id = rb.repository_id)), 0) AS unkept_blob_bytes \
         FROM chosen c ORDER BY c.name"
    )
}

fn account(row: &SqliteRow) -> Result<StorageAccount> {
    let n = |column: &str| -> Result<u64> { from_db(column, row.try_get(column)?) };
    let name: String = row.try_get("name")?;
    let (blob_bytes, manifest_bytes, shared_bytes) = (n("blob_bytes")?, n("manifest_bytes")?, n("shared_bytes")?);
    Ok(StorageAccount {
        name: parse("repositories.name", &name)?,
        total_bytes: blob_bytes + manifest_bytes,
        exclusive_bytes: blob_bytes - shared_bytes + manifest_bytes,
        shared_bytes,
        reclaimable_bytes: n("unkept_blob_bytes")? + n("unkept_manifest_bytes")?,
        manifest_bytes,
        blobs: n("blobs")?,
        images: n("images")?,
    })
}

#[async_trait]
impl AccountingStore for SqliteMeta {
    async fn storage_accounts(&self, page: Page<'_>) -> Result<Vec<StorageAccount>> {
        let sql = accounts_sql(&format!(
            "SELECT r.id, r.name FROM repositories r WHERE r.name > ?1 AND {REPOSITORY_EXISTS} ORDER BY r.name LIMIT ?2"
        ));
        let rows =
            sqlx::query(&sql).bind(page.last.unwrap_or("")).bind(i64::from(page.n)).fetch_all(&self.reader).await?;
        rows.iter().map(account).collect()
    }

    async fn storage_account(&self, repo: &RepositoryName) -> Result<Option<StorageAccount>> {
        let sql =
            accounts_sql(&format!("SELECT r.id, r.name FROM repositories r WHERE r.name = ?1 AND {REPOSITORY_EXISTS}"));
        let row = sqlx::query(&sql).bind(repo.as_str()).fetch_optional(&self.reader).await?;
        row.as_ref().map(account).transpose()
    }

    async fn registry_storage(&self) -> Result<RegistryStorage> {
        let sql = format!(
            "SELECT (SELECT COUNT(*) FROM blobs) AS blobs, \
             COALESCE((SELECT SUM(size) FROM blobs), 0) AS blob_bytes, \
             COALESCE((SELECT SUM(size) FROM manifests), 0) AS manifest_bytes, \
             COALESCE((SELECT SUM(b.size) FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest), 0) AS linked_bytes, \
             COALESCE((SELECT SUM(b.size) FROM blobs b WHERE NOT EXISTS \
                 (SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest)), 0) AS unlinked_bytes, \
             (SELECT COUNT(*) FROM repositories r WHERE {REPOSITORY_EXISTS}) AS repositories"
        );
        let row = sqlx::query(&sql).fetch_one(&self.reader).await?;
        let n = |column: &str| -> Result<u64> { from_db(column, row.try_get(column)?) };
        let manifest_bytes = n("manifest_bytes")?;
        Ok(RegistryStorage {
            stored_bytes: n("blob_bytes")? + manifest_bytes,
            logical_bytes: n("linked_bytes")? + manifest_bytes,
            unlinked_bytes: n("unlinked_bytes")?,
            blobs: n("blobs")?,
            repositories: n("repositories")?,
        })
    }
}
