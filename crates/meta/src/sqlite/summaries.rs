//! Repository listings with their counts, sizes and last push ([`RepositorySummaryStore`]).

use async_trait::async_trait;
use berth_oci::RepositoryName;
use sqlx::Row;

use super::codec::from_db;
use super::policies::{visibility_from_db, visibility_to_db};
use super::settings::{RECORD_COLUMNS, mutability_to_db, record};
use super::{REPOSITORY_EXISTS, SqliteMeta};
use crate::Result;
use crate::summaries::{RepositoryFilter, RepositorySummary, RepositorySummaryStore};

#[async_trait]
impl RepositorySummaryStore for SqliteMeta {
    async fn repository_summaries(
        &self,
        filter: &RepositoryFilter,
        after: Option<&RepositoryName>,
        n: u32,
    ) -> Result<Vec<RepositorySummary>> {
        // Names are ASCII below 0x7f: every name starting with the prefix sorts between the prefix and the
        // prefix followed by 0x7f, which bounds the index range scanned.
        let sql = format!(
            "SELECT {RECORD_COLUMNS}, r.visibility AS visibility, \
                (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id) AS images, \
                COALESCE((SELECT SUM(b.size) FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest \
                          WHERE rb.repository_id = r.id), 0) \
                + COALESCE((SELECT SUM(m.size) FROM manifests m WHERE m.repository_id = r.id), 0) AS total_size, \
                (SELECT MAX(m.pushed_at) FROM manifests m WHERE m.repository_id = r.id) AS last_push \
             FROM repositories r LEFT JOIN repository_settings s ON s.repository_id = r.id \
             WHERE r.name > ?1 AND r.name >= ?2 AND r.name < ?3 AND substr(r.name, 1, length(?2)) = ?2 \
               AND (?4 IS NULL OR r.visibility = ?4) \
               AND (?5 IS NULL OR COALESCE(s.scan_on_push, 0) = ?5) \
               AND (?6 IS NULL OR COALESCE(s.image_tag_mutability, 'MUTABLE') = ?6) \
               AND {REPOSITORY_EXISTS} \
             ORDER BY r.name LIMIT ?7"
        );
        let rows = sqlx::query(&sql)
            .bind(after.map_or("", |a| a.as_str()))
            .bind(filter.prefix.as_str())
            .bind(format!("{}\u{7f}", filter.prefix))
            .bind(filter.visibility.map(visibility_to_db))
            .bind(filter.scan_on_push.map(i64::from))
            .bind(filter.mutability.map(mutability_to_db))
            .bind(i64::from(n))
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(RepositorySummary {
                    record: record(row)?,
                    visibility: visibility_from_db(row.try_get("visibility")?)?,
                    images: from_db("manifests count", row.try_get("images")?)?,
                    size: from_db("repository size", row.try_get("total_size")?)?,
                    last_push: row.try_get("last_push")?,
                })
            })
            .collect()
    }
}
