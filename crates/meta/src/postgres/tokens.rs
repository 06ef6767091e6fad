//! Robot tokens and the keys that sign bearer tokens.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::PgMeta;
use crate::identity::{RobotToken, SigningKey, TokenStore};
use crate::{MetaError, Page, Result};

const ROBOT_TOKEN_COLUMNS: &str = "id, name, owner, secret_hash, scope, expires_at, created_at";
const SIGNING_KEY_COLUMNS: &str = "kid, sealed_private, created_at, retired_at";

fn robot_token(row: &PgRow) -> Result<RobotToken> {
    Ok(RobotToken {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        owner: row.try_get("owner")?,
        secret_hash: row.try_get("secret_hash")?,
        scope: row.try_get("scope")?,
        expires_at: row.try_get("expires_at")?,
        created_at: row.try_get("created_at")?,
    })
}

fn signing_key(row: &PgRow) -> Result<SigningKey> {
    Ok(SigningKey {
        kid: row.try_get("kid")?,
        sealed_private: row.try_get("sealed_private")?,
        created_at: row.try_get("created_at")?,
        retired_at: row.try_get("retired_at")?,
    })
}

#[async_trait]
impl TokenStore for PgMeta {
    async fn create_robot_token(&self, token: &RobotToken) -> Result<()> {
        let result = sqlx::query(
            "INSERT INTO robot_tokens (id, name, owner, secret_hash, scope, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&token.id)
        .bind(&token.name)
        .bind(&token.owner)
        .bind(&token.secret_hash)
        .bind(&token.scope)
        .bind(token.expires_at)
        .bind(token.created_at)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(MetaError::AlreadyExists(format!("robot token {}", token.id)))
            }
            // The only foreign key is the owner.
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(MetaError::NotFound(format!("user {}", token.owner)))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn get_robot_token(&self, id: &str) -> Result<Option<RobotToken>> {
        let sql = format!("SELECT {ROBOT_TOKEN_COLUMNS} FROM robot_tokens WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(robot_token).transpose()
    }

    async fn list_robot_tokens(&self, owner: Option<&str>) -> Result<Vec<RobotToken>> {
        let sql = format!(
            "SELECT {ROBOT_TOKEN_COLUMNS} FROM robot_tokens WHERE $1::text IS NULL OR owner = $1 \
             ORDER BY owner, created_at, id"
        );
        let rows = sqlx::query(&sql).bind(owner).fetch_all(&self.pool).await?;
        rows.iter().map(robot_token).collect()
    }

    async fn list_robot_tokens_page(&self, page: Page<'_>) -> Result<Vec<RobotToken>> {
        let sql = format!("SELECT {ROBOT_TOKEN_COLUMNS} FROM robot_tokens WHERE id > $1 ORDER BY id LIMIT $2");
        let rows =
            sqlx::query(&sql).bind(page.last.unwrap_or("")).bind(i64::from(page.n)).fetch_all(&self.pool).await?;
        rows.iter().map(robot_token).collect()
    }

    async fn delete_robot_token(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM robot_tokens WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_signing_key(&self, key: &SigningKey) -> Result<()> {
        let result = sqlx::query(
            "INSERT INTO signing_keys (kid, sealed_private, created_at, retired_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&key.kid)
        .bind(&key.sealed_private)
        .bind(key.created_at)
        .bind(key.retired_at)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(MetaError::AlreadyExists(format!("signing key {}", key.kid)))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKey>> {
        // `seq` orders keys created in the same second: the one added last is the newest.
        let sql = format!("SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys ORDER BY created_at DESC, seq DESC");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(signing_key).collect()
    }

    async fn retire_signing_key(&self, kid: &str, now: i64) -> Result<bool> {
        // COALESCE: a key already retired keeps its first retirement time.
        let done = sqlx::query("UPDATE signing_keys SET retired_at = COALESCE(retired_at, $2) WHERE kid = $1")
            .bind(kid)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn prune_signing_keys(&self, before: i64) -> Result<usize> {
        // A key still signing has a NULL `retired_at`, and `NULL < $1` is never true.
        let done =
            sqlx::query("DELETE FROM signing_keys WHERE retired_at < $1").bind(before).execute(&self.pool).await?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }
}
