//! Access keys (SigV4 credentials of users).

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::PgMeta;
use crate::identity::{AccessKey, AccessKeyStore};
use crate::{MetaError, Result};

const ACCESS_KEY_COLUMNS: &str = "id, user_name, sealed_secret, active, created_at, last_used_at";

fn access_key(row: &PgRow) -> Result<AccessKey> {
    Ok(AccessKey {
        id: row.try_get("id")?,
        user: row.try_get("user_name")?,
        sealed_secret: row.try_get("sealed_secret")?,
        active: row.try_get("active")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

#[async_trait]
impl AccessKeyStore for PgMeta {
    async fn create_access_key(&self, key: &AccessKey) -> Result<()> {
        let result = sqlx::query(
            "INSERT INTO access_keys (id, user_name, sealed_secret, active, created_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.id)
        .bind(&key.user)
        .bind(&key.sealed_secret)
        .bind(key.active)
        .bind(key.created_at)
        .bind(key.last_used_at)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(MetaError::AlreadyExists(format!("access key {}", key.id)))
            }
            // The only foreign key is the user.
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(MetaError::NotFound(format!("user {}", key.user)))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn get_access_key(&self, id: &str) -> Result<Option<AccessKey>> {
        let sql = format!("SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(access_key).transpose()
    }

    async fn list_access_keys(&self, user: Option<&str>) -> Result<Vec<AccessKey>> {
        let sql = format!(
            "SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE $1::text IS NULL OR user_name = $1 \
             ORDER BY user_name, created_at, id"
        );
        let rows = sqlx::query(&sql).bind(user).fetch_all(&self.pool).await?;
        rows.iter().map(access_key).collect()
    }

    async fn set_access_key_active(&self, id: &str, active: bool) -> Result<bool> {
        let done = sqlx::query("UPDATE access_keys SET active = $2 WHERE id = $1")
            .bind(id)
            .bind(active)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_access_key(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM access_keys WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn touch_access_key(&self, id: &str, now: i64) -> Result<()> {
        // GREATEST: concurrent requests may commit out of order; the recorded time never goes backwards. An
        // unknown (deleted) key is simply not updated.
        sqlx::query("UPDATE access_keys SET last_used_at = GREATEST(last_used_at, $2) WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
