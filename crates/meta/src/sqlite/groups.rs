//! Groups and their members.

use async_trait::async_trait;

use super::SqliteMeta;
use crate::identity::GroupStore;
use crate::{MetaError, Page, Result};

#[async_trait]
impl GroupStore for SqliteMeta {
    async fn create_group(&self, name: &str, now: i64) -> Result<()> {
        let result = sqlx::query("INSERT INTO groups (name, created_at) VALUES (?1, ?2)")
            .bind(name)
            .bind(now)
            .execute(&self.writer)
            .await;
        match result {
            Ok(_) => self.durable().await,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(MetaError::AlreadyExists(format!("group {name}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_group(&self, name: &str) -> Result<bool> {
        // Memberships go with it (ON DELETE CASCADE), its policy by trigger (`groups_delete_policy`).
        let done = sqlx::query("DELETE FROM groups WHERE name = ?1").bind(name).execute(&self.writer).await?;
        self.durable().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_groups(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT name FROM groups ORDER BY name").fetch_all(&self.reader).await?)
    }

    async fn list_groups_page(&self, page: Page<'_>) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT name FROM groups WHERE name > ?1 ORDER BY name LIMIT ?2")
            .bind(page.last.unwrap_or(""))
            .bind(i64::from(page.n))
            .fetch_all(&self.reader)
            .await?)
    }

    async fn add_member(&self, group: &str, user: &str) -> Result<()> {
        // Checked in the write transaction (rather than from a foreign-key violation, which does not say
        // which key failed) so that the error names what is missing.
        let mut tx = self.write_tx().await?;
        let group_exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM groups WHERE name = ?1)")
            .bind(group)
            .fetch_one(&mut *tx)
            .await?;
        if !group_exists {
            return Err(MetaError::NotFound(format!("group {group}")));
        }
        let user_exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE name = ?1)")
            .bind(user)
            .fetch_one(&mut *tx)
            .await?;
        if !user_exists {
            return Err(MetaError::NotFound(format!("user {user}")));
        }
        sqlx::query(
            "INSERT INTO group_members (group_name, user_name) VALUES (?1, ?2) \
             ON CONFLICT (group_name, user_name) DO NOTHING",
        )
        .bind(group)
        .bind(user)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.durable().await
    }

    async fn remove_member(&self, group: &str, user: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM group_members WHERE group_name = ?1 AND user_name = ?2")
            .bind(group)
            .bind(user)
            .execute(&self.writer)
            .await?;
        self.durable().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn groups_of(&self, user: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT group_name FROM group_members WHERE user_name = ?1 ORDER BY group_name")
            .bind(user)
            .fetch_all(&self.reader)
            .await?)
    }

    async fn members_of(&self, group: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT user_name FROM group_members WHERE group_name = ?1 ORDER BY user_name")
            .bind(group)
            .fetch_all(&self.reader)
            .await?)
    }
}
