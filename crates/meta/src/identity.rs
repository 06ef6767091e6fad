//! What the metadata store keeps about identities and access: users, access keys, groups, policies,
//! repository visibility, robot tokens, token-signing keys and the audit log.
//!
//! These traits are separate from [`crate::MetaStore`] so the registry core does not depend on them; the
//! HTTP layer takes an [`IdentityMeta`]. Secrets never appear here in the clear: passwords and robot-token
//! secrets are argon2 hashes, access-key secrets and signing keys are sealed (encrypted) by the caller.
//! `Debug` output of every record hides those fields.

use std::fmt;

use async_trait::async_trait;
use berth_oci::RepositoryName;

use crate::{Page, Result};

#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Never reused, not even after the user is deleted (random, 128 bits): what stateless credentials
    /// (login passwords, bearer tokens) name the user by.
    pub id: String,
    pub name: String,
    /// argon2id PHC string; `None` for users who sign in only with access keys.
    pub password_hash: Option<String>,
    /// The registry's root user(s): never locked out by policy.
    pub is_admin: bool,
    pub created_at: i64,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("has_password", &self.password_hash.is_some())
            .field("is_admin", &self.is_admin)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// The access key id (`AKIA...`-style, public).
    pub id: String,
    pub user: String,
    /// The secret access key, sealed with the server's master key (SigV4 needs it back).
    pub sealed_secret: Vec<u8>,
    pub active: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("user", &self.user)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// Where a policy document is attached.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PolicyTarget {
    User(String),
    Group(String),
    Repository(RepositoryName),
    Registry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Visibility {
    #[default]
    Private,
    Public,
}

/// A scoped, expiring credential for CI and robots.
#[derive(Clone, PartialEq, Eq)]
pub struct RobotToken {
    /// Public id, part of the token string.
    pub id: String,
    pub name: String,
    /// The user who created it; it can never do more than this user.
    pub owner: String,
    /// argon2id hash of the token's secret part.
    pub secret_hash: String,
    /// An identity policy document (JSON) limiting what the token may do.
    pub scope: String,
    pub expires_at: i64,
    pub created_at: i64,
}

impl fmt::Debug for RobotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RobotToken")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("owner", &self.owner)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A key that signs bearer tokens and login passwords. Several are kept so tokens signed before a rotation
/// stay valid until they expire.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    /// The private key, sealed with the server's master key.
    pub sealed_private: Vec<u8>,
    pub created_at: i64,
    /// When it stopped signing (it still verifies until tokens it signed have expired).
    pub retired_at: Option<i64>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// One audit record: who did what to what, from where, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Assigned by the store, increasing.
    pub id: i64,
    pub at: i64,
    /// `user/NAME`, `robot/NAME`, `anonymous`, or the name a failed login claimed.
    pub principal: String,
    /// e.g. `ecr:PutImage`, `berth:CreateUser`, `login`.
    pub action: String,
    pub resource: String,
    pub source_ip: String,
    /// `allowed`, `denied`, `auth-failed`, `error`.
    pub outcome: String,
    pub status: u16,
    pub detail: Option<String>,
}

/// Filters of the audit log (each `None` matches everything) and one page of it, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Exactly this principal (`user/NAME`, `robot/NAME`, `anonymous`, ...).
    pub principal: Option<String>,
    /// Exactly this action, or with `action_prefix` every action that starts with it.
    pub action: Option<String>,
    pub action_prefix: bool,
    /// Exactly this resource (an ARN, or `*`).
    pub resource: Option<String>,
    pub outcome: Option<String>,
    /// `at >= since`.
    pub since: Option<i64>,
    /// `at < until`.
    pub until: Option<i64>,
    /// Only events older than this id (the next page of a listing).
    pub before: Option<i64>,
    pub limit: u32,
}

impl AuditQuery {
    /// The `WHERE` clause (`TRUE` when nothing is filtered) and its values in order, with the backend's
    /// placeholder for the n-th value (1-based): what both backends run.
    pub(crate) fn where_clause<'a>(&'a self, placeholder: impl Fn(usize) -> String) -> (String, Vec<AuditValue<'a>>) {
        let mut values = Vec::new();
        let mut conditions = Vec::new();
        let mut add = |condition: &dyn Fn(&str) -> String, value: AuditValue<'a>| {
            values.push(value);
            conditions.push(condition(&placeholder(values.len())));
        };
        if let Some(before) = self.before {
            add(&|p| format!("id < {p}"), AuditValue::Int(before));
        }
        if let Some(p) = &self.principal {
            add(&|ph| format!("principal = {ph}"), AuditValue::Text(p));
        }
        match (&self.action, self.action_prefix) {
            (Some(a), false) => add(&|p| format!("action = {p}"), AuditValue::Text(a)),
            (Some(a), true) => add(&|p| format!("substr(action, 1, length({p})) = {p}"), AuditValue::Text(a)),
            (None, _) => {}
        }
        if let Some(r) = &self.resource {
            add(&|p| format!("resource = {p}"), AuditValue::Text(r));
        }
        if let Some(o) = &self.outcome {
            add(&|p| format!("outcome = {p}"), AuditValue::Text(o));
        }
        if let Some(s) = self.since {
            add(&|p| format!("at >= {p}"), AuditValue::Int(s));
        }
        if let Some(u) = self.until {
            add(&|p| format!("at < {p}"), AuditValue::Int(u));
        }
        let clause = if conditions.is_empty() { "TRUE".to_string() } else { conditions.join(" AND ") };
        (clause, values)
    }
}

/// A value bound to an audit filter.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AuditValue<'a> {
    Int(i64),
    Text(&'a str),
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// `AlreadyExists` if the name is taken.
    async fn create_user(&self, user: &User) -> Result<()>;
    async fn get_user(&self, name: &str) -> Result<Option<User>>;
    async fn get_user_by_id(&self, id: &str) -> Result<Option<User>>;
    /// In lexical order of name.
    async fn list_users(&self) -> Result<Vec<User>>;
    /// One page of users in lexical order of name (names after `page.last`, at most `page.n`).
    async fn list_users_page(&self, page: Page<'_>) -> Result<Vec<User>>;
    /// `NotFound` for an unknown user.
    async fn set_password_hash(&self, name: &str, hash: Option<&str>) -> Result<()>;
    /// Deletes the user with its access keys, group memberships, policy and robot tokens. Returns whether
    /// the user existed.
    async fn delete_user(&self, name: &str) -> Result<bool>;
}

#[async_trait]
pub trait AccessKeyStore: Send + Sync {
    /// `AlreadyExists` for a duplicate id, `NotFound` if the user does not exist.
    async fn create_access_key(&self, key: &AccessKey) -> Result<()>;
    async fn get_access_key(&self, id: &str) -> Result<Option<AccessKey>>;
    /// All keys, or one user's; ordered by user, then oldest first.
    async fn list_access_keys(&self, user: Option<&str>) -> Result<Vec<AccessKey>>;
    /// Returns whether the key exists.
    async fn set_access_key_active(&self, id: &str, active: bool) -> Result<bool>;
    async fn delete_access_key(&self, id: &str) -> Result<bool>;
    /// Records a use: `last_used_at` never moves backwards, an unknown key is ignored. Statistics: not
    /// waited on for durability.
    async fn touch_access_key(&self, id: &str, now: i64) -> Result<()>;
}

#[async_trait]
pub trait GroupStore: Send + Sync {
    /// `AlreadyExists` if taken.
    async fn create_group(&self, name: &str, now: i64) -> Result<()>;
    /// Deletes the group, its memberships and its policy; returns whether it existed.
    async fn delete_group(&self, name: &str) -> Result<bool>;
    /// In lexical order.
    async fn list_groups(&self) -> Result<Vec<String>>;
    /// One page of group names in lexical order.
    async fn list_groups_page(&self, page: Page<'_>) -> Result<Vec<String>>;
    /// `NotFound` if the user or group does not exist. Idempotent.
    async fn add_member(&self, group: &str, user: &str) -> Result<()>;
    /// Returns whether the membership existed.
    async fn remove_member(&self, group: &str, user: &str) -> Result<bool>;
    /// A user's groups in lexical order (empty for an unknown user).
    async fn groups_of(&self, user: &str) -> Result<Vec<String>>;
    /// A group's members in lexical order (empty for an unknown group).
    async fn members_of(&self, group: &str) -> Result<Vec<String>>;
}

#[async_trait]
pub trait PolicyStore: Send + Sync {
    /// Attaches (or replaces) the policy document of a target. `NotFound` if a user/group target does not
    /// exist; a repository target creates the repository row if needed (which does not make the repository
    /// exist: see [`crate::RepositoryStore`]).
    async fn put_policy(&self, target: &PolicyTarget, document: &str, now: i64) -> Result<()>;
    async fn get_policy(&self, target: &PolicyTarget) -> Result<Option<String>>;
    async fn delete_policy(&self, target: &PolicyTarget) -> Result<bool>;
    /// Sets a repository's visibility, creating the repository row if needed (which does not make the
    /// repository exist). The visibility stays when the repository's content is deleted.
    async fn set_visibility(&self, repo: &RepositoryName, visibility: Visibility, now: i64) -> Result<()>;
    /// `Private` for unknown repositories.
    async fn visibility(&self, repo: &RepositoryName) -> Result<Visibility>;
    /// Public repositories in lexical order (the public catalog), paged like
    /// [`crate::RepositoryStore::list_repositories`]: only repositories that exist are listed.
    async fn list_public_repositories(&self, page: Page<'_>) -> Result<Vec<RepositoryName>>;
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    /// `AlreadyExists` for a duplicate id, `NotFound` if the owner does not exist.
    async fn create_robot_token(&self, token: &RobotToken) -> Result<()>;
    async fn get_robot_token(&self, id: &str) -> Result<Option<RobotToken>>;
    /// All tokens, or one owner's; ordered by owner, then oldest first.
    async fn list_robot_tokens(&self, owner: Option<&str>) -> Result<Vec<RobotToken>>;
    /// One page of every owner's tokens in lexical order of id (ids after `page.last`).
    async fn list_robot_tokens_page(&self, page: Page<'_>) -> Result<Vec<RobotToken>>;
    async fn delete_robot_token(&self, id: &str) -> Result<bool>;

    /// `AlreadyExists` for a duplicate kid.
    async fn add_signing_key(&self, key: &SigningKey) -> Result<()>;
    /// All signing keys, newest first (by `created_at`; keys created in the same second, last added first).
    async fn signing_keys(&self) -> Result<Vec<SigningKey>>;
    /// Returns whether the key exists. A key already retired keeps its first retirement time.
    async fn retire_signing_key(&self, kid: &str, now: i64) -> Result<bool>;
    /// Removes keys retired before `before` (`retired_at < before`; keys still signing are kept). Returns how
    /// many were removed.
    async fn prune_signing_keys(&self, before: i64) -> Result<usize>;
}

#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends events (their `id` is ignored and assigned by the store), in one transaction; their ids
    /// increase in slice order. Durable like any other write.
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<()>;
    /// Events with `id > after` (all when `None`), oldest first, at most `limit`.
    async fn list_audit(&self, after: Option<i64>, limit: u32) -> Result<Vec<AuditEvent>>;
    /// Events matching every filter `query` sets, newest first, at most `query.limit`.
    async fn search_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>>;
}

/// Everything the HTTP layer needs to authenticate and authorise.
pub trait IdentityMeta: UserStore + AccessKeyStore + GroupStore + PolicyStore + TokenStore + AuditLog {}
impl<T: UserStore + AccessKeyStore + GroupStore + PolicyStore + TokenStore + AuditLog> IdentityMeta for T {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every secret field holds a distinctive marker; no `Debug` form (plain or pretty) may contain it, in
    /// any of the ways a byte string could be printed.
    #[test]
    fn debug_output_hides_secrets() {
        const MARKER: &str = "s3cr3t-MARKER";
        let bytes: Vec<u8> = MARKER.bytes().collect();
        let byte_forms = [
            format!("{bytes:?}"),
            bytes[..4].iter().map(u8::to_string).collect::<Vec<_>>().join(", "),
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        ];
        let check = |what: &str, debug: &[String]| {
            for output in debug {
                assert!(!output.contains(MARKER), "{what} Debug shows a secret: {output}");
                for form in &byte_forms {
                    assert!(!output.contains(form.as_str()), "{what} Debug shows secret bytes: {output}");
                }
            }
        };
        let both = |value: &dyn fmt::Debug| vec![format!("{value:?}"), format!("{value:#?}")];

        let user = User {
            id: "u1".into(),
            name: "alice".into(),
            password_hash: Some(MARKER.into()),
            is_admin: false,
            created_at: 1,
        };
        check("User", &both(&user));
        check("Option<User>", &both(&Some(user.clone())));
        let key = AccessKey {
            id: "AKIAEXAMPLE".into(),
            user: "alice".into(),
            sealed_secret: bytes.clone(),
            active: true,
            created_at: 1,
            last_used_at: Some(2),
        };
        check("AccessKey", &both(&key));
        check("Vec<AccessKey>", &both(&vec![key.clone()]));
        let token = RobotToken {
            id: "tok".into(),
            name: "ci".into(),
            owner: "alice".into(),
            secret_hash: MARKER.into(),
            scope: "{}".into(),
            expires_at: 10,
            created_at: 1,
        };
        check("RobotToken", &both(&token));
        let signing =
            SigningKey { kid: "kid-1".into(), sealed_private: bytes.clone(), created_at: 1, retired_at: None };
        check("SigningKey", &both(&signing));

        // The public parts are shown.
        assert!(format!("{user:?}").contains("alice") && format!("{user:?}").contains("has_password: true"));
        assert!(format!("{key:?}").contains("AKIAEXAMPLE"));
        assert!(format!("{token:?}").contains("tok"));
        assert!(format!("{signing:?}").contains("kid-1"));
    }
}
