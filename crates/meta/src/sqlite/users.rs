//! Users.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::SqliteMeta;
use crate::identity::{User, UserStore};
use crate::{MetaError, Page, Result};

const USER_COLUMNS: &str = "id, name, password_hash, is_admin, created_at";

fn user(row: &SqliteRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        is_admin: row.try_get("is_admin")?,
        created_at: row.try_get("created_at")?,
    })
}

#[async_trait]
impl UserStore for SqliteMeta {
    async fn create_user(&self, user: &User) -> Result<()> {
        let result = sqlx::query(
            "INSERT INTO users (name, password_hash, is_admin, created_at, id) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(user.is_admin)
        .bind(user.created_at)
        .bind(&user.id)
        .execute(&self.writer)
        .await;
        match result {
            Ok(_) => self.durable().await,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(MetaError::AlreadyExists(format!("user {}", user.name)))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn get_user(&self, name: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1");
        let row = sqlx::query(&sql).bind(name).fetch_optional(&self.reader).await?;
        row.as_ref().map(user).transpose()
    }

    async fn get_user_by_id(&self, id: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.reader).await?;
        row.as_ref().map(user).transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY name");
        let rows = sqlx::query(&sql).fetch_all(&self.reader).await?;
        rows.iter().map(user).collect()
    }

    async fn list_users_page(&self, page: Page<'_>) -> Result<Vec<User>> {
        // Names are never empty, so "after ''" is "from the start".
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE name > ?1 ORDER BY name LIMIT ?2");
        let rows =
            sqlx::query(&sql).bind(page.last.unwrap_or("")).bind(i64::from(page.n)).fetch_all(&self.reader).await?;
        rows.iter().map(user).collect()
    }

    async fn set_password_hash(&self, name: &str, hash: Option<&str>) -> Result<()> {
        let done = sqlx::query("UPDATE users SET password_hash = ?2 WHERE name = ?1")
            .bind(name)
            .bind(hash)
            .execute(&self.writer)
            .await?;
        // Also before reporting NotFound: the delete that made it so may not be durable yet.
        self.durable().await?;
        if done.rows_affected() == 0 { Err(MetaError::NotFound(format!("user {name}"))) } else { Ok(()) }
    }

    async fn delete_user(&self, name: &str) -> Result<bool> {
        // Access keys, memberships and robot tokens go with it (ON DELETE CASCADE), its policy by trigger
        // (`users_delete_policy`): all in this one statement's transaction.
        let done = sqlx::query("DELETE FROM users WHERE name = ?1").bind(name).execute(&self.writer).await?;
        self.durable().await?;
        Ok(done.rows_affected() > 0)
    }
}
