//! Image signing keys.

use async_trait::async_trait;
use sqlx::Row;

use super::PgMeta;
use crate::image_signing::{ImageSigningKey, ImageSigningKeyStore};
use crate::{MetaError, Result};

#[async_trait]
impl ImageSigningKeyStore for PgMeta {
    async fn create_image_signing_key(&self, key: &ImageSigningKey) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO image_signing_keys (name, public_key, sealed_private, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&key.name)
        .bind(&key.public_key)
        .bind(key.sealed_private.as_deref())
        .bind(key.created_at)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(MetaError::AlreadyExists(format!("signing key {}", key.name)));
        }
        Ok(())
    }

    async fn list_image_signing_keys(&self) -> Result<Vec<ImageSigningKey>> {
        let rows =
            sqlx::query("SELECT name, public_key, sealed_private, created_at FROM image_signing_keys ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(ImageSigningKey {
                    name: r.try_get(0)?,
                    public_key: r.try_get(1)?,
                    sealed_private: r.try_get(2)?,
                    created_at: r.try_get(3)?,
                })
            })
            .collect()
    }

    async fn delete_image_signing_key(&self, name: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM image_signing_keys WHERE name = $1").bind(name).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }
}
