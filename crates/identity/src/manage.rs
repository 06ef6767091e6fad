//! Managing identities and access: users, access keys, groups, policies, visibility, robot tokens, audit.
//! Each operation takes the [`Authorized`] proof that the admin API's dispatcher decided the permission
//! `docs/admin-api.md` lists for it ([`policy_action`] names those of policies); the rules that remain here
//! are the operations' own (only an administrator creates administrators, nobody deletes themselves).

use berth_auth::policy::{PolicyDocument, PolicyKind};
use berth_auth::secret::{self, Secret};
use berth_auth::{password, sealed};
use berth_meta::Page;
use berth_meta::identity::{AccessKey, AuditEvent, AuditQuery, PolicyTarget, RobotToken, User, Visibility};
use berth_oci::RepositoryName;
use serde_json::json;

use crate::authz::{Authorized, Required, Target};
use crate::principal::{Caller, Principal};
use crate::scope;
use crate::{Identity, IdentityError, Result};

/// User names: what IAM allows, minus characters that would be ambiguous in ARNs and Basic auth.
fn check_name(kind: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
        && name != "AWS";
    if ok {
        Ok(())
    } else {
        Err(IdentityError::Invalid(format!("{kind} name {name:?} must be 1-64 of [A-Za-z0-9+=,.@_-]")))
    }
}

fn hash(pass: &str) -> Result<String> {
    if pass.len() < 8 {
        return Err(IdentityError::Invalid("password must have at least 8 characters".into()));
    }
    password::hash_password(pass).map_err(|e| IdentityError::Crypto(e.to_string()))
}

/// The permission that guards `verb` (`Put`, `Get`, `Delete`) on the policy of `target`: what the admin
/// API's `PutPolicy`/`GetPolicy`/`DeletePolicy` need (the ECR names for repository and registry policies).
pub fn policy_permission(target: &PolicyTarget, verb: &str) -> Required {
    let action = match target {
        PolicyTarget::User(_) => format!("berth:{verb}UserPolicy"),
        PolicyTarget::Group(_) => format!("berth:{verb}GroupPolicy"),
        PolicyTarget::Repository(_) if verb == "Put" => "ecr:SetRepositoryPolicy".to_string(),
        PolicyTarget::Repository(_) => format!("ecr:{verb}RepositoryPolicy"),
        PolicyTarget::Registry => format!("ecr:{verb}RegistryPolicy"),
    };
    let target = match target {
        PolicyTarget::User(u) => Target::User(u.clone()),
        PolicyTarget::Group(g) => Target::Group(g.clone()),
        PolicyTarget::Repository(r) => Target::Repository(r.clone()),
        PolicyTarget::Registry => Target::Registry,
    };
    Required::new(action, target)
}

fn policy_kind(target: &PolicyTarget) -> PolicyKind {
    match target {
        PolicyTarget::User(_) | PolicyTarget::Group(_) => PolicyKind::Identity,
        PolicyTarget::Repository(_) | PolicyTarget::Registry => PolicyKind::Resource,
    }
}

impl Identity {
    pub async fn create_user(
        &self,
        _: &Authorized,
        caller: &Caller,
        name: &str,
        pass: Option<&str>,
        admin: bool,
    ) -> Result<User> {
        check_name("user", name)?;
        if admin && !matches!(caller.principal, Principal::User { is_admin: true, .. }) {
            return Err(IdentityError::Denied {
                principal: caller.principal.label(),
                action: "berth:CreateUser (admin)".into(),
                resource: self.account.user_arn(name),
            });
        }
        let user = User {
            id: berth_auth::secret::new_id(),
            name: name.to_string(),
            password_hash: pass.map(hash).transpose()?,
            is_admin: admin,
            created_at: self.clock_now(),
        };
        self.meta.create_user(&user).await?;
        Ok(user)
    }

    /// Users with their groups.
    pub async fn list_users(&self, _: &Authorized) -> Result<Vec<(User, Vec<String>)>> {
        let mut out = Vec::new();
        for u in self.meta.list_users().await? {
            let groups = self.meta.groups_of(&u.name).await?;
            out.push((u, groups));
        }
        Ok(out)
    }

    /// One page of users (names after `after`, `n` at most) with their groups.
    pub async fn list_users_page(
        &self,
        _: &Authorized,
        after: Option<&str>,
        n: u32,
    ) -> Result<Vec<(User, Vec<String>)>> {
        let mut out = Vec::new();
        for u in self.meta.list_users_page(Page { last: after, n }).await? {
            let groups = self.meta.groups_of(&u.name).await?;
            out.push((u, groups));
        }
        Ok(out)
    }

    /// A user with their groups; `NotFound` for an unknown user.
    pub async fn user(&self, _: &Authorized, name: &str) -> Result<(User, Vec<String>)> {
        let user = self.meta.get_user(name).await?.ok_or_else(|| IdentityError::NotFound(format!("user {name}")))?;
        let groups = self.meta.groups_of(name).await?;
        Ok((user, groups))
    }

    /// Sets (or, with `None`, removes) a user's password. Credentials verified before stay cached for no
    /// longer than this call: the cache is emptied.
    pub async fn set_password(&self, _: &Authorized, name: &str, pass: Option<&str>) -> Result<()> {
        let hash = pass.map(hash).transpose()?;
        self.meta.set_password_hash(name, hash.as_deref()).await?;
        self.forget_credentials();
        Ok(())
    }

    pub async fn delete_user(&self, _: &Authorized, caller: &Caller, name: &str) -> Result<()> {
        if let Principal::User { name: me, .. } = &caller.principal
            && me == name
        {
            return Err(IdentityError::Invalid("you cannot delete yourself".into()));
        }
        let existed = self.meta.delete_user(name).await?;
        self.forget_credentials();
        if existed { Ok(()) } else { Err(IdentityError::NotFound(format!("user {name}"))) }
    }

    /// The calling user's name: whom `CreateAccessKey` and `CreateRobotToken` act for when no user is named.
    pub fn caller_user<'a>(&self, caller: &'a Caller) -> Result<&'a str> {
        match &caller.principal {
            Principal::User { name, .. } => Ok(name),
            _ => Err(IdentityError::Invalid("userName is required when the caller is not a user".into())),
        }
    }

    /// Creates an access key for `user` (default: the caller). The secret is returned once and stored sealed.
    pub async fn create_access_key(&self, _: &Authorized, user: &str) -> Result<(String, Secret, String)> {
        let user = user.to_string();
        let (id, secret) = secret::new_access_key();
        self.store_access_key(&user, &id, &secret).await?;
        Ok((id, secret, user))
    }

    pub(crate) async fn store_access_key(&self, user: &str, id: &str, secret: &Secret) -> Result<()> {
        let key = AccessKey {
            id: id.to_string(),
            user: user.to_string(),
            sealed_secret: sealed::seal(&self.master, secret.expose().as_bytes()),
            active: true,
            created_at: self.clock_now(),
            last_used_at: None,
        };
        self.meta.create_access_key(&key).await?;
        Ok(())
    }

    pub async fn list_access_keys(&self, _: &Authorized, user: Option<&str>) -> Result<Vec<AccessKey>> {
        Ok(self.meta.list_access_keys(user).await?)
    }

    /// The user an access key belongs to (what managing the key is decided on); `None` for an unknown key.
    pub async fn access_key_owner(&self, id: &str) -> Result<Option<String>> {
        Ok(self.meta.get_access_key(id).await?.map(|k| k.user))
    }

    /// The user who owns a robot token; `None` for an unknown token.
    pub async fn robot_token_owner(&self, id: &str) -> Result<Option<String>> {
        Ok(self.meta.get_robot_token(id).await?.map(|t| t.owner))
    }

    fn no_such_key(id: &str) -> IdentityError {
        IdentityError::NotFound(format!("access key {id}"))
    }

    pub async fn set_access_key_active(&self, _: &Authorized, id: &str, active: bool) -> Result<()> {
        self.access_key_owner(id).await?.ok_or_else(|| Self::no_such_key(id))?;
        self.meta.set_access_key_active(id, active).await?;
        self.forget_credentials();
        Ok(())
    }

    pub async fn delete_access_key(&self, _: &Authorized, id: &str) -> Result<()> {
        self.access_key_owner(id).await?.ok_or_else(|| Self::no_such_key(id))?;
        self.meta.delete_access_key(id).await?;
        self.forget_credentials();
        Ok(())
    }

    pub async fn create_group(&self, _: &Authorized, name: &str) -> Result<()> {
        check_name("group", name)?;
        Ok(self.meta.create_group(name, self.clock_now()).await?)
    }

    pub async fn delete_group(&self, _: &Authorized, name: &str) -> Result<()> {
        let existed = self.meta.delete_group(name).await?;
        self.cache.invalidate();
        if existed { Ok(()) } else { Err(IdentityError::NotFound(format!("group {name}"))) }
    }

    pub async fn list_groups(&self, _: &Authorized) -> Result<Vec<(String, Vec<String>)>> {
        let mut out = Vec::new();
        for g in self.meta.list_groups().await? {
            let members = self.meta.members_of(&g).await?;
            out.push((g, members));
        }
        Ok(out)
    }

    /// One page of groups (names after `after`, `n` at most) with their members.
    pub async fn list_groups_page(
        &self,
        _: &Authorized,
        after: Option<&str>,
        n: u32,
    ) -> Result<Vec<(String, Vec<String>)>> {
        let mut out = Vec::new();
        for g in self.meta.list_groups_page(Page { last: after, n }).await? {
            let members = self.meta.members_of(&g).await?;
            out.push((g, members));
        }
        Ok(out)
    }

    pub async fn add_user_to_group(&self, _: &Authorized, group: &str, user: &str) -> Result<()> {
        self.meta.add_member(group, user).await?;
        self.cache.invalidate();
        Ok(())
    }

    pub async fn remove_user_from_group(&self, _: &Authorized, group: &str, user: &str) -> Result<()> {
        let existed = self.meta.remove_member(group, user).await?;
        self.cache.invalidate();
        if existed { Ok(()) } else { Err(IdentityError::NotFound(format!("membership of {user} in {group}"))) }
    }

    /// Checks `document` as [`Identity::put_policy`] would for `target`, without storing it (for documents
    /// stored elsewhere and attached later, such as a repository creation template's repository policy).
    pub fn check_policy(&self, target: &PolicyTarget, document: &str) -> Result<()> {
        PolicyDocument::parse(document, policy_kind(target))
            .map(|_| ())
            .map_err(|e| IdentityError::MalformedPolicy(e.to_string()))
    }

    /// Forgets the policies and visibility cached on this node: for policies written to the metadata
    /// store by another component (a repository created from a creation template).
    pub fn forget_cached_policies(&self) {
        self.cache.invalidate();
    }

    /// Validates and attaches a policy document.
    pub async fn put_policy(&self, _: &Authorized, target: &PolicyTarget, document: &str) -> Result<()> {
        PolicyDocument::parse(document, policy_kind(target))
            .map_err(|e| IdentityError::MalformedPolicy(e.to_string()))?;
        self.meta.put_policy(target, document, self.clock_now()).await?;
        self.cache.invalidate();
        Ok(())
    }

    pub async fn get_policy(&self, _: &Authorized, target: &PolicyTarget) -> Result<String> {
        self.meta.get_policy(target).await?.ok_or_else(|| IdentityError::NotFound("policy".into()))
    }

    pub async fn delete_policy(&self, _: &Authorized, target: &PolicyTarget) -> Result<()> {
        let existed = self.meta.delete_policy(target).await?;
        self.cache.invalidate();
        if existed { Ok(()) } else { Err(IdentityError::NotFound("policy".into())) }
    }

    pub async fn set_visibility(&self, _: &Authorized, repo: &RepositoryName, visibility: Visibility) -> Result<()> {
        self.meta.set_visibility(repo, visibility, self.clock_now()).await?;
        self.cache.invalidate();
        Ok(())
    }

    /// Public repositories, for anonymous catalog listings.
    pub async fn public_repositories(&self, page: Page<'_>) -> Result<Vec<RepositoryName>> {
        Ok(self.meta.list_public_repositories(page).await?)
    }

    /// Creates a robot token limited to `actions` (pull/push/delete) on `repositories` (names, or prefixes
    /// ending in `/*`), owned by the calling user, valid for `ttl` seconds.
    pub async fn create_robot_token(
        &self,
        _: &Authorized,
        owner: &str,
        name: &str,
        repositories: &[String],
        actions: &[String],
        ttl: i64,
    ) -> Result<(String, Secret, i64)> {
        check_name("token", name)?;
        if repositories.is_empty() || actions.is_empty() {
            return Err(IdentityError::Invalid("repositories and actions must not be empty".into()));
        }
        if !(1..=366 * 24 * 3600).contains(&ttl) {
            return Err(IdentityError::Invalid("expiresInSeconds must be between 1 and one year".into()));
        }
        let mut ecr_actions: Vec<&str> = Vec::new();
        for a in actions {
            let list = match a.as_str() {
                scope::PULL => scope::PULL_ACTIONS,
                scope::PUSH => scope::PUSH_ACTIONS,
                scope::DELETE => scope::DELETE_ACTIONS,
                other => {
                    return Err(IdentityError::Invalid(format!("unknown action {other:?}: use pull, push, delete")));
                }
            };
            ecr_actions.extend(list);
        }
        ecr_actions.sort();
        ecr_actions.dedup();
        let resources: Vec<String> = repositories
            .iter()
            .map(|r| {
                let name = r.strip_suffix("/*").unwrap_or(r);
                name.parse::<RepositoryName>()
                    .map(|n| {
                        let arn = self.account.repository_arn(&n);
                        if r.ends_with("/*") { format!("{arn}/*") } else { arn }
                    })
                    .map_err(|e| IdentityError::Invalid(format!("repository {r:?}: {e}")))
            })
            .collect::<Result<_>>()?;
        let scope = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ecr_actions, "Resource": resources}]})
            .to_string();
        let (id, token, secret_part) = secret::new_robot_token();
        let now = self.clock_now();
        let record = RobotToken {
            id: id.clone(),
            name: name.to_string(),
            owner: owner.to_string(),
            secret_hash: password::hash_password(&secret_part).map_err(|e| IdentityError::Crypto(e.to_string()))?,
            scope,
            expires_at: now + ttl,
            created_at: now,
        };
        self.meta.create_robot_token(&record).await?;
        Ok((id, token, now + ttl))
    }

    pub async fn list_robot_tokens(&self, _: &Authorized) -> Result<Vec<RobotToken>> {
        Ok(self.meta.list_robot_tokens(None).await?)
    }

    /// One page of every owner's robot tokens, by id (ids after `after`, `n` at most).
    pub async fn list_robot_tokens_page(&self, _: &Authorized, after: Option<&str>, n: u32) -> Result<Vec<RobotToken>> {
        Ok(self.meta.list_robot_tokens_page(Page { last: after, n }).await?)
    }

    pub async fn delete_robot_token(&self, _: &Authorized, id: &str) -> Result<()> {
        self.robot_token_owner(id).await?.ok_or_else(|| IdentityError::NotFound(format!("token {id}")))?;
        self.meta.delete_robot_token(id).await?;
        self.forget_credentials();
        Ok(())
    }

    pub async fn list_audit(&self, _: &Authorized, after: Option<i64>, limit: u32) -> Result<Vec<AuditEvent>> {
        self.audit.flush().await;
        Ok(self.meta.list_audit(after, limit.clamp(1, 1000)).await?)
    }

    /// The audit log filtered, newest first (`query.limit` at most 1000). Waits for what was recorded
    /// before to be written, so a change just made is listed.
    pub async fn search_audit(&self, _: &Authorized, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        self.audit.flush().await;
        let query = AuditQuery { limit: query.limit.clamp(1, 1000), ..query.clone() };
        Ok(self.meta.search_audit(&query).await?)
    }
}
