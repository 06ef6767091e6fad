//! Catalog data (the public gallery's descriptions) and the gallery's search.

use async_trait::async_trait;
use berth_oci::RepositoryName;
use sqlx::Row;

use super::codec::parse;
use super::settings::make_explicit;
use super::{PgMeta, REPOSITORY_EXISTS};
use crate::catalog::{CatalogData, CatalogEntry, CatalogStore, list_from_db, list_to_db};
use crate::{Page, Result};

const COLUMNS: &str = "c.description, c.about_text, c.usage_text, c.architectures, c.operating_systems";

fn data_of(row: &sqlx::postgres::PgRow, offset: usize) -> Result<CatalogData> {
    Ok(CatalogData {
        description: row.try_get(offset)?,
        about_text: row.try_get(offset + 1)?,
        usage_text: row.try_get(offset + 2)?,
        architectures: list_from_db("architectures", row.try_get(offset + 3)?)?,
        operating_systems: list_from_db("operating_systems", row.try_get(offset + 4)?)?,
    })
}

#[async_trait]
impl CatalogStore for PgMeta {
    async fn put_catalog_data(&self, name: &RepositoryName, data: &CatalogData, now: i64) -> Result<bool> {
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            let Some(id) = make_explicit(&mut tx, name).await? else {
                return Ok(false);
            };
            sqlx::query(
                "INSERT INTO repository_catalog_data (repository_id, description, about_text, usage_text, \
                 architectures, operating_systems, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (repository_id) DO UPDATE SET description = excluded.description, \
                 about_text = excluded.about_text, usage_text = excluded.usage_text, \
                 architectures = excluded.architectures, operating_systems = excluded.operating_systems, \
                 updated_at = excluded.updated_at",
            )
            .bind(id)
            .bind(&data.description)
            .bind(&data.about_text)
            .bind(&data.usage_text)
            .bind(list_to_db(&data.architectures))
            .bind(list_to_db(&data.operating_systems))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    async fn catalog_data(&self, name: &RepositoryName) -> Result<Option<CatalogData>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM repository_catalog_data c JOIN repositories r ON r.id = c.repository_id \
             WHERE r.name = $1"
        );
        let row = sqlx::query(&sql).bind(name.as_str()).fetch_optional(&self.pool).await?;
        row.map(|r| data_of(&r, 0)).transpose()
    }

    async fn search_public_catalog(&self, text: &str, page: Page<'_>) -> Result<Vec<CatalogEntry>> {
        // lower() folds ASCII letters only, in SQLite as in PostgreSQL's "C" collation; strpos() rather than
        // LIKE, so that `%` and `_` in the text are plain characters.
        let sql = format!(
            "SELECT r.name, {COLUMNS} FROM repositories r \
             LEFT JOIN repository_catalog_data c ON c.repository_id = r.id \
             WHERE r.visibility = 'public' AND r.name > $1 AND {REPOSITORY_EXISTS} \
             AND ($3 = '' OR strpos(lower(r.name), $3) > 0 OR strpos(lower(coalesce(c.description, '')), $3) > 0) \
             ORDER BY r.name LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(page.last.unwrap_or(""))
            .bind(i64::from(page.n))
            .bind(text.to_ascii_lowercase())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let name: String = row.try_get(0)?;
                let described: Option<String> = row.try_get(1)?;
                let data = if described.is_some() { data_of(row, 1)? } else { CatalogData::default() };
                Ok(CatalogEntry { name: parse("repositories.name", &name)?, data })
            })
            .collect()
    }
}
