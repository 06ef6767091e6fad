//! Authorisation: one decision function for every surface (OCI API, token endpoint, ECR API, admin API).
//!
//! Order of evaluation:
//! 1. Administrators are always allowed (policies cannot lock the registry's root out).
//! 2. A registry bearer token allows exactly the ECR actions it carries for each repository (decided by this
//!    function when the token was issued) and nothing on the registry, users or groups.
//! 3. Otherwise the policy engine decides over the caller's identity policies (own and groups') and the
//!    resource policies (repository and registry): explicit Deny wins, then any Allow, else deny. A public
//!    repository is one more resource policy: an Allow of the pull actions to everyone (`Principal: "*"`),
//!    so an explicit Deny still wins over it. A robot token must be allowed both as its owner and by its
//!    own scope; what everyone may do (public pulls) it may do too, unless its owner is denied.
//!
//! Parsed policies are cached for a few seconds so that a pull does not parse JSON or query the database on
//! every request; writes through this node invalidate the cache at once, other nodes see them within the
//! cache's lifetime.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_auth::policy::{self, Decision, PolicyDocument, PolicyKind, RequestContext};
use berth_meta::identity::{PolicyTarget, Visibility};
use berth_oci::RepositoryName;

use crate::principal::{Caller, Principal};
use crate::scope::PULL_ACTIONS;
use crate::{Identity, IdentityError, Result};

const CACHE_TTL: Duration = Duration::from_secs(2);

/// What an action is performed on.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    Repository(&'a RepositoryName),
    /// Registry-wide actions (catalog, registry policy, settings).
    Registry,
    User(&'a str),
    Group(&'a str),
    /// Actions with no specific resource (listing users, reading the audit log).
    Any,
}

/// What an operation acts on, owned, so that an operation can declare it before anything runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Repository(RepositoryName),
    Registry,
    User(String),
    Group(String),
    Any,
}

impl Target {
    pub fn resource(&self) -> Resource<'_> {
        match self {
            Target::Repository(r) => Resource::Repository(r),
            Target::Registry => Resource::Registry,
            Target::User(u) => Resource::User(u),
            Target::Group(g) => Resource::Group(g),
            Target::Any => Resource::Any,
        }
    }
}

/// One permission an operation needs: an action (`ecr:PutImage`, `berth:CreateUser`) on a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Required {
    pub action: String,
    pub target: Target,
}

impl Required {
    pub fn new(action: impl Into<String>, target: Target) -> Required {
        Required { action: action.into(), target }
    }
}

/// Proof that the access a request needs was decided and allowed. Only [`Identity::decide`] makes one, and
/// every use case that reveals or changes something takes one, so none runs without a decision.
#[derive(Debug)]
pub struct Authorized(());

/// What making a repository public means, as the resource policy the engine evaluates with the others:
/// everyone (anonymous callers included) may pull.
static PUBLIC_REPOSITORY: std::sync::LazyLock<Arc<PolicyDocument>> = std::sync::LazyLock::new(|| {
    let doc = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "PublicRepository", "Effect": "Allow", "Principal": "*", "Action": PULL_ACTIONS}],
    });
    Arc::new(PolicyDocument::parse(&doc.to_string(), PolicyKind::Resource).expect("the public policy is valid"))
});

/// Values remembered with the time they were read.
type Cached<K, V> = Mutex<HashMap<K, (Instant, V)>>;

#[derive(Default)]
pub(crate) struct PolicyCache {
    policies: Cached<PolicyTarget, Option<Arc<PolicyDocument>>>,
    visibility: Cached<RepositoryName, Visibility>,
    groups: Cached<String, Arc<Vec<String>>>,
    /// Whether the user of this name is an administrator (for bearer tokens, which name their user only).
    admins: Cached<String, bool>,
}

impl PolicyCache {
    pub(crate) fn invalidate(&self) {
        self.policies.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.visibility.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.groups.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.admins.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

fn fresh<K: std::hash::Hash + Eq, V: Clone>(map: &Cached<K, V>, key: &K) -> Option<V> {
    let m = map.lock().unwrap_or_else(|p| p.into_inner());
    m.get(key).filter(|(at, _)| at.elapsed() < CACHE_TTL).map(|(_, v)| v.clone())
}

fn remember<K: std::hash::Hash + Eq, V>(map: &Cached<K, V>, key: K, value: V) {
    let mut m = map.lock().unwrap_or_else(|p| p.into_inner());
    if m.len() > 10_000 {
        m.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
    }
    m.insert(key, (Instant::now(), value));
}

impl Identity {
    pub(crate) fn resource_arn(&self, resource: &Resource<'_>) -> String {
        match resource {
            Resource::Repository(r) => self.account.repository_arn(r),
            Resource::Registry => self.account.registry_arn(),
            Resource::User(u) => self.account.user_arn(u),
            Resource::Group(g) => self.account.group_arn(g),
            Resource::Any => "*".into(),
        }
    }

    /// Decides whether `caller` may perform `action` on `resource`.
    pub async fn is_allowed(&self, caller: &Caller, action: &str, resource: &Resource<'_>) -> Result<bool> {
        match &caller.principal {
            Principal::User { is_admin: true, .. } => return Ok(true),
            Principal::Token { grants, .. } => {
                return Ok(match resource {
                    Resource::Repository(r) => grants.iter().any(|g| g.allows(r.as_str(), action)),
                    // The catalog grant lists the catalog (an endpoint open to every caller) and nothing else.
                    _ => false,
                });
            }
            _ => {}
        }
        let arn = self.resource_arn(resource);
        let resources = self.resource_policies(resource).await?;
        let resource_refs: Vec<(&str, &PolicyDocument)> = resources.iter().map(|(l, d)| (*l, d.as_ref())).collect();
        let decision = match &caller.principal {
            Principal::Anonymous => self.evaluate(caller, None, action, &arn, &[], &resource_refs),
            Principal::User { name, .. } => {
                let identity = self.identity_policies(name).await?;
                let refs: Vec<(&str, &PolicyDocument)> =
                    identity.iter().map(|(l, d)| (l.as_str(), d.as_ref())).collect();
                self.evaluate(caller, Some(name), action, &arn, &refs, &resource_refs)
            }
            Principal::Robot { owner, owner_is_admin, scope, .. } => {
                let owner_decision = if *owner_is_admin {
                    None
                } else {
                    let identity = self.identity_policies(owner).await?;
                    let refs: Vec<(&str, &PolicyDocument)> =
                        identity.iter().map(|(l, d)| (l.as_str(), d.as_ref())).collect();
                    Some(self.evaluate(caller, Some(owner), action, &arn, &refs, &resource_refs))
                };
                if matches!(owner_decision, Some(Decision::ExplicitDeny { .. })) {
                    return Ok(false);
                }
                let in_scope =
                    self.evaluate(caller, Some(owner), action, &arn, &[("token scope", scope)], &[]).is_allowed();
                if in_scope && owner_decision.as_ref().is_none_or(Decision::is_allowed) {
                    return Ok(true);
                }
                // What everyone may do (pull a public repository), a robot may do too.
                return Ok(self.evaluate(caller, None, action, &arn, &[], &resource_refs).is_allowed());
            }
            Principal::Token { .. } => return Ok(false),
        };
        Ok(decision.is_allowed())
    }

    /// Decides everything a request needs: all of `required` must be allowed. A refusal names the first
    /// permission refused. The one entry point of every surface's dispatcher.
    pub async fn decide(&self, caller: &Caller, required: &[Required]) -> Result<Authorized> {
        for r in required {
            let resource = r.target.resource();
            if !self.is_allowed(caller, &r.action, &resource).await? {
                return Err(IdentityError::Denied {
                    principal: caller.principal.label(),
                    action: r.action.clone(),
                    resource: self.resource_arn(&resource),
                });
            }
        }
        Ok(Authorized(()))
    }

    fn evaluate(
        &self,
        caller: &Caller,
        user: Option<&str>,
        action: &str,
        resource_arn: &str,
        identity: &[(&str, &PolicyDocument)],
        resources: &[(&str, &PolicyDocument)],
    ) -> Decision {
        let user_arn = user.map(|u| self.account.user_arn(u));
        let context = RequestContext {
            source_ip: caller.source_ip,
            current_time: time::OffsetDateTime::from_unix_timestamp(self.clock_now())
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            secure_transport: caller.secure,
        };
        let principal = match &user_arn {
            Some(arn) => policy::Principal::User { arn },
            None => policy::Principal::Anonymous,
        };
        let request = policy::Request { principal, action, resource: resource_arn, context: &context };
        let all: Vec<(&str, &PolicyDocument)> = identity.iter().chain(resources).copied().collect();
        policy::evaluate(&request, &all)
    }

    async fn policy(&self, target: PolicyTarget) -> Result<Option<Arc<PolicyDocument>>> {
        if let Some(p) = fresh(&self.cache.policies, &target) {
            return Ok(p);
        }
        let kind = match target {
            PolicyTarget::User(_) | PolicyTarget::Group(_) => PolicyKind::Identity,
            PolicyTarget::Repository(_) | PolicyTarget::Registry => PolicyKind::Resource,
        };
        let doc = match self.meta.get_policy(&target).await? {
            // A stored document was validated when it was put; if it no longer parses, deny by ignoring it.
            Some(text) => match PolicyDocument::parse(&text, kind) {
                Ok(d) => Some(Arc::new(d)),
                Err(e) => {
                    tracing::error!(?target, error = %e, "stored policy no longer parses; ignoring it");
                    None
                }
            },
            None => None,
        };
        remember(&self.cache.policies, target, doc.clone());
        Ok(doc)
    }

    async fn groups_of(&self, user: &str) -> Result<Arc<Vec<String>>> {
        if let Some(g) = fresh(&self.cache.groups, &user.to_string()) {
            return Ok(g);
        }
        let groups = Arc::new(self.meta.groups_of(user).await?);
        remember(&self.cache.groups, user.to_string(), groups.clone());
        Ok(groups)
    }

    /// The user's own policy and those of its groups, labelled for decision reports.
    async fn identity_policies(&self, user: &str) -> Result<Vec<(String, Arc<PolicyDocument>)>> {
        let mut out = Vec::new();
        if let Some(p) = self.policy(PolicyTarget::User(user.to_string())).await? {
            out.push((format!("policy of user {user}"), p));
        }
        for g in self.groups_of(user).await?.iter() {
            if let Some(p) = self.policy(PolicyTarget::Group(g.clone())).await? {
                out.push((format!("policy of group {g}"), p));
            }
        }
        Ok(out)
    }

    async fn resource_policies(&self, resource: &Resource<'_>) -> Result<Vec<(&'static str, Arc<PolicyDocument>)>> {
        let mut out = Vec::new();
        if let Resource::Repository(repo) = resource {
            if let Some(p) = self.policy(PolicyTarget::Repository((*repo).clone())).await? {
                out.push(("repository policy", p));
            }
            if self.visibility(repo).await? == Visibility::Public {
                out.push(("public visibility", PUBLIC_REPOSITORY.clone()));
            }
        }
        if matches!(resource, Resource::Repository(_) | Resource::Registry)
            && let Some(p) = self.policy(PolicyTarget::Registry).await?
        {
            out.push(("registry policy", p));
        }
        Ok(out)
    }

    pub async fn visibility(&self, repo: &RepositoryName) -> Result<Visibility> {
        if let Some(v) = fresh(&self.cache.visibility, repo) {
            return Ok(v);
        }
        let v = self.meta.visibility(repo).await?;
        remember(&self.cache.visibility, repo.clone(), v);
        Ok(v)
    }
}

impl Identity {
    /// Whether `principal` is an administrator: a user with full rights, or a bearer token issued to one (read
    /// through a cache of [`CACHE_TTL`]). Robot tokens never are (their scope bounds them), nor is anyone
    /// anonymous.
    pub async fn is_administrator(&self, principal: &Principal) -> Result<bool> {
        let name = match principal {
            Principal::User { is_admin, .. } => return Ok(*is_admin),
            Principal::Token { subject, .. } => match subject.strip_prefix("user/") {
                Some(name) => name,
                None => return Ok(false),
            },
            Principal::Anonymous | Principal::Robot { .. } => return Ok(false),
        };
        if let Some(admin) = fresh(&self.cache.admins, &name.to_string()) {
            return Ok(admin);
        }
        let admin = self.meta.get_user(name).await?.is_some_and(|u| u.is_admin);
        remember(&self.cache.admins, name.to_string(), admin);
        Ok(admin)
    }

    /// Whether the catalog shows `repo` to `caller`: repositories it may describe or pull (public ones
    /// included). A bearer token is judged as the user it was issued to.
    pub async fn catalog_visible(&self, caller: &Caller, repo: &RepositoryName) -> Result<bool> {
        let as_subject;
        let caller = match &caller.principal {
            Principal::Token { subject, .. } => {
                let principal = match subject.strip_prefix("user/") {
                    Some(name) => match self.meta.get_user(name).await? {
                        Some(u) => Principal::user(u),
                        None => Principal::Anonymous,
                    },
                    None => Principal::Anonymous,
                };
                as_subject = Caller { principal, ..caller.clone() };
                &as_subject
            }
            _ => caller,
        };
        let resource = Resource::Repository(repo);
        Ok(self.is_allowed(caller, "ecr:DescribeRepositories", &resource).await?
            || self.is_allowed(caller, "ecr:BatchGetImage", &resource).await?)
    }
}
