//! A repository's Settings and Permissions tabs: tag mutability (with exclusion filters), scan on push,
//! visibility and pull policy; the repository policy in a JSON editor. Each change goes through the use case
//! the ECR or admin API runs for it, after its own action was decided; each control is shown only to callers
//! the engine would allow to use it.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use berth_identity::IdentityError;
use berth_meta::identity::{PolicyTarget, Visibility};
use berth_meta::settings::TagMutability;
use berth_oci::RepositoryName;

use super::form::Form;
use super::route::{Rejected, Settings};
use super::views::{self, Chrome};
use super::{Ctx, Failure, session};

/// The tabs of a repository's pages, and which one is open.
pub struct Tabs {
    pub name: String,
    /// `images`, `push-commands`, `permissions` or `settings`.
    pub current: &'static str,
    /// Whether the caller may read the repository policy (the Permissions tab is shown).
    pub policy: bool,
}

impl Tabs {
    pub async fn of(ctx: &Ctx<'_>, name: &RepositoryName, current: &'static str) -> Result<Tabs, Failure> {
        Ok(Tabs { name: name.to_string(), current, policy: ctx.may("ecr:GetRepositoryPolicy", name).await? })
    }
}

#[derive(Template)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    pub chrome: Chrome,
    pub tabs: Tabs,
    pub name: String,
    pub immutable: bool,
    /// The exclusion filters, as the field shows them.
    pub exclusions: String,
    pub scan_on_push: bool,
    pub public: bool,
    /// The pull policy's minimum severity ("" for none) and allowed advisories, when the caller may read it.
    pub pull_policy: Option<(String, String)>,
    pub may_mutability: bool,
    pub may_scanning: bool,
    pub may_visibility: bool,
    pub may_pull_policy: bool,
    pub error: String,
    pub notice: String,
}

impl SettingsPage {
    pub fn may_change(&self) -> bool {
        self.may_mutability || self.may_scanning || self.may_visibility || self.may_pull_policy
    }

    pub fn severities(&self) -> [&'static str; 5] {
        ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL"]
    }
}

#[derive(Template)]
#[template(path = "permissions.html")]
pub struct PermissionsPage {
    pub chrome: Chrome,
    pub tabs: Tabs,
    pub name: String,
    /// The policy as stored, or as submitted when it was refused; empty when there is none.
    pub policy: String,
    pub stored: bool,
    /// Whether the caller may read the stored policy (whether there is one included).
    pub readable: bool,
    pub may_set: bool,
    pub may_delete: bool,
    pub error: String,
    pub notice: String,
}

/// `GET /console/repositories/NAME/-/settings`, or the form again with what was wrong.
pub async fn settings_page(
    ctx: &Ctx<'_>,
    name: &RepositoryName,
    rejected: Option<&Rejected>,
) -> Result<Response, Failure> {
    let registry = &ctx.app.registry;
    let record = registry.repository(name).await.map_err(|e| Failure::registry(e, name))?;
    let public = ctx.app.identity.visibility(name).await.map_err(Failure::fault)? == Visibility::Public;
    let may_read_pull = ctx.may("berth:GetPullPolicy", name).await?;
    let pull_policy = if may_read_pull {
        let p = registry.pull_policy(name).await.map_err(|e| Failure::registry(e, name))?;
        Some(p.map_or_else(Default::default, |p| (p.min_severity.as_str().to_string(), p.allow.join(", "))))
    } else {
        None
    };
    let mut page = SettingsPage {
        chrome: ctx.chrome.clone(),
        tabs: Tabs::of(ctx, name, "settings").await?,
        name: name.to_string(),
        immutable: record.tag_mutability == TagMutability::Immutable,
        exclusions: record.tag_mutability_exclusions.join(", "),
        scan_on_push: record.scan_on_push,
        public,
        may_pull_policy: may_read_pull && ctx.may("berth:PutPullPolicy", name).await?,
        pull_policy,
        may_mutability: ctx.may("ecr:PutImageTagMutability", name).await?,
        may_scanning: ctx.may("ecr:PutImageScanningConfiguration", name).await?,
        may_visibility: ctx.may("berth:SetRepositoryVisibility", name).await?,
        error: String::new(),
        notice: if ctx.query.get("saved").is_some() { "Settings saved.".into() } else { String::new() },
    };
    let status = match rejected {
        None => StatusCode::OK,
        Some(r) => {
            shown_as_typed(&mut page, &r.form);
            page.error = r.message.clone();
            StatusCode::BAD_REQUEST
        }
    };
    Ok(views::html(status, &page))
}

/// A refused form shows what was typed.
fn shown_as_typed(page: &mut SettingsPage, form: &Form) {
    if let Some(m) = form.get("tag_mutability") {
        page.immutable = m == "IMMUTABLE";
        page.exclusions = form.get("exclusions").unwrap_or("").to_string();
    }
    if let (Some(p), Some(severity)) = (page.pull_policy.as_mut(), form.get("pull_severity")) {
        *p = (severity.to_string(), form.get("pull_allow").unwrap_or("").to_string());
    }
}

/// `POST /console/repositories/NAME/-/settings`: each setting the form carries, when it changes
/// (`PutImageTagMutability`, `PutImageScanningConfiguration`, the visibility, the pull policy).
pub async fn save_settings(
    ctx: &Ctx<'_>,
    name: &RepositoryName,
    settings: &Result<Settings, Rejected>,
) -> Result<Response, Failure> {
    let s = match settings {
        Ok(s) => s,
        Err(rejected) => return settings_page(ctx, name, Some(rejected)).await,
    };
    let registry = &ctx.app.registry;
    let record = registry.repository(name).await.map_err(|e| Failure::registry(e, name))?;
    if let Some((m, filters)) = &s.mutability
        && (*m, filters) != (record.tag_mutability, &record.tag_mutability_exclusions)
    {
        let r = registry.set_tag_mutability(name, *m, filters).await.map_err(|e| Failure::registry(e, name));
        ctx.audit("ecr:PutImageTagMutability", name, r.as_ref().err()).await;
        r?;
    }
    if let Some(on) = s.scan_on_push.filter(|on| *on != record.scan_on_push) {
        let r = registry.set_scan_on_push(name, on).await.map_err(|e| Failure::registry(e, name));
        ctx.audit("ecr:PutImageScanningConfiguration", name, r.as_ref().err()).await;
        r?;
    }
    if let Some(v) = s.visibility
        && v != ctx.app.identity.visibility(name).await.map_err(Failure::fault)?
    {
        let r = ctx.app.identity.set_visibility(&ctx.authorized, name, v).await.map_err(Failure::fault);
        ctx.audit("berth:SetRepositoryVisibility", name, r.as_ref().err()).await;
        r?;
    }
    if let Some(policy) = &s.pull_policy
        && *policy != registry.pull_policy(name).await.map_err(|e| Failure::registry(e, name))?
    {
        let r = registry.set_pull_policy(name, policy.as_ref()).await.map_err(|e| Failure::registry(e, name));
        ctx.audit("berth:PutPullPolicy", name, r.as_ref().err()).await;
        r?;
    }
    Ok(session::redirect(&format!("/console/repositories/{name}/-/settings?saved=1")))
}

/// `GET /console/repositories/NAME/-/permissions` (or the editor again with the engine's objection).
pub async fn permissions(
    ctx: &Ctx<'_>,
    name: &RepositoryName,
    refused: Option<(&str, String)>,
) -> Result<Response, Failure> {
    ctx.app.registry.repository(name).await.map_err(|e| Failure::registry(e, name))?;
    let target = PolicyTarget::Repository(name.clone());
    // A refused save is shown to callers who may set the policy; whether one is stored is for those who may
    // also read it.
    let may_read = refused.is_none() || ctx.may("ecr:GetRepositoryPolicy", name).await?;
    let stored = match ctx.app.identity.get_policy(&ctx.authorized, &target).await {
        Ok(text) if may_read => Some(text),
        Ok(_) | Err(IdentityError::NotFound(_)) => None,
        Err(e) => return Err(Failure::identity(e)),
    };
    let notice = match ctx.query.get("policy") {
        Some("saved") => "Repository policy saved.",
        Some("deleted") => "Repository policy deleted.",
        _ => "",
    };
    let (policy, error, status) = match refused {
        Some((typed, error)) => (typed.to_string(), error, StatusCode::BAD_REQUEST),
        None => (stored.clone().map(|p| pretty(&p)).unwrap_or_default(), String::new(), StatusCode::OK),
    };
    let page = PermissionsPage {
        chrome: ctx.chrome.clone(),
        tabs: Tabs::of(ctx, name, "permissions").await?,
        name: name.to_string(),
        policy,
        stored: stored.is_some(),
        readable: may_read,
        may_set: ctx.may("ecr:SetRepositoryPolicy", name).await?,
        may_delete: ctx.may("ecr:DeleteRepositoryPolicy", name).await?,
        error,
        notice: notice.into(),
    };
    Ok(views::html(status, &page))
}

/// A stored policy indented for the editor (as stored when it is not JSON).
fn pretty(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_string())
}

/// `POST /console/repositories/NAME/-/permissions`: `SetRepositoryPolicy`; the policy engine's objection is
/// shown in the editor, with the text as typed.
pub async fn set_policy(
    ctx: &Ctx<'_>,
    name: &RepositoryName,
    policy: &Result<String, Rejected>,
) -> Result<Response, Failure> {
    let text = match policy {
        Ok(t) => t,
        Err(r) => return permissions(ctx, name, Some((r.form.get("policy").unwrap_or(""), r.message.clone()))).await,
    };
    ctx.app.registry.repository(name).await.map_err(|e| Failure::registry(e, name))?;
    let target = PolicyTarget::Repository(name.clone());
    let result = ctx.app.identity.put_policy(&ctx.authorized, &target, text).await;
    let failure = match &result {
        Ok(()) => None,
        Err(IdentityError::MalformedPolicy(_)) => Some(Failure::status(StatusCode::BAD_REQUEST, "malformed policy")),
        Err(_) => Some(Failure::status(StatusCode::INTERNAL_SERVER_ERROR, "policy not stored")),
    };
    ctx.audit("ecr:SetRepositoryPolicy", name, failure.as_ref()).await;
    match result {
        Ok(()) => Ok(session::redirect(&format!("/console/repositories/{name}/-/permissions?policy=saved"))),
        Err(IdentityError::MalformedPolicy(m)) => {
            permissions(ctx, name, Some((text, format!("The policy engine refused this policy: {m}")))).await
        }
        Err(e) => Err(Failure::identity(e)),
    }
}

/// `POST /console/repositories/NAME/-/permissions/delete`: `DeleteRepositoryPolicy`.
pub async fn delete_policy(ctx: &Ctx<'_>, name: &RepositoryName) -> Result<Response, Failure> {
    ctx.app.registry.repository(name).await.map_err(|e| Failure::registry(e, name))?;
    let target = PolicyTarget::Repository(name.clone());
    let result = match ctx.app.identity.delete_policy(&ctx.authorized, &target).await {
        Err(IdentityError::NotFound(_)) => {
            Err(Failure::status(StatusCode::NOT_FOUND, format!("The repository {name} has no policy.")))
        }
        other => other.map_err(Failure::identity),
    };
    ctx.audit("ecr:DeleteRepositoryPolicy", name, result.as_ref().err()).await;
    result?;
    Ok(session::redirect(&format!("/console/repositories/{name}/-/permissions?policy=deleted")))
}
