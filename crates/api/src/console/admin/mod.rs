//! The administration pages (`/console/admin/...`): users, access keys, groups, identity and registry
//! policies, robot tokens, the audit log, registry settings and scanning rules, and the vulnerability
//! database. Every page and form is decided as the admin API (or ECR API) operation it amounts to
//! ([`route::AdminRoute::required`]) and runs over the same identity and registry use cases.

mod audit;
mod identities;
pub(crate) mod route;
mod settings;
mod views;

use axum::http::StatusCode;
use axum::response::Response;
use berth_identity::IdentityError;

use self::route::{AdminRoute, SECTIONS, section_target};
use super::{Ctx, Failure, session};

/// Rows per page of a listing.
const PAGE: u32 = 25;

/// The sections of the administration pages the caller may open, with their links.
pub(crate) async fn sections(
    app: &crate::AppState,
    caller: &berth_identity::Caller,
) -> Result<Vec<(&'static str, &'static str)>, Failure> {
    let mut allowed = Vec::new();
    for (title, href, action) in SECTIONS {
        let target = section_target(action);
        if app.identity.is_allowed(caller, action, &target.resource()).await.map_err(Failure::fault)? {
            allowed.push((title, href));
        }
    }
    Ok(allowed)
}

/// A failure of an identity use case, as the page shows it.
fn identity_failure(e: IdentityError) -> Failure {
    match e {
        IdentityError::NotFound(what) => Failure::status(StatusCode::NOT_FOUND, format!("There is no {what}.")),
        IdentityError::AlreadyExists(what) => Failure::status(StatusCode::CONFLICT, format!("{what} already exists.")),
        IdentityError::Invalid(m) | IdentityError::MalformedPolicy(m) => Failure::status(StatusCode::BAD_REQUEST, m),
        IdentityError::Denied { action, resource, .. } => {
            Failure::status(StatusCode::FORBIDDEN, format!("You may not {action} on {resource}."))
        }
        other => Failure::fault(other),
    }
}

/// Audits an administrative change with its outcome, on `resource` (an ARN, or `*`).
async fn audit(ctx: &Ctx<'_>, action: &str, resource: &str, failure: Option<&Failure>) {
    let (outcome, status) = match failure {
        None => ("allowed", 200),
        Some(f) => ("error", f.status.as_u16()),
    };
    crate::authn::audit(ctx.app, &ctx.caller, action, resource, ctx.ip, outcome, status).await;
}

/// Runs a change, audits it, and on success sends the browser to `then` (303).
async fn change<T>(
    ctx: &Ctx<'_>,
    action: &str,
    resource: &str,
    result: Result<T, Failure>,
    then: &str,
) -> Result<Response, Failure> {
    audit(ctx, action, resource, result.as_ref().err()).await;
    result?;
    Ok(session::redirect(then))
}

/// `?done=CODE` after a change: what the page says (fixed texts, so a link cannot make it say anything).
fn notice(ctx: &Ctx<'_>) -> &'static str {
    match ctx.query.get("done").unwrap_or("") {
        "user-created" => "User created.",
        "user-deleted" => "User deleted.",
        "password-set" => "Password changed.",
        "password-removed" => "Password removed: the user signs in with access keys only.",
        "key-updated" => "Access key updated.",
        "key-deleted" => "Access key deleted.",
        "group-created" => "Group created.",
        "group-deleted" => "Group deleted.",
        "member-added" => "Member added.",
        "member-removed" => "Member removed.",
        "policy-saved" => "Policy saved.",
        "policy-deleted" => "Policy removed.",
        "token-revoked" => "Robot token revoked.",
        "scanning-saved" => "Scanning rules saved.",
        "setting-saved" => "Setting saved.",
        _ => "",
    }
}

fn urlencoded(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

pub(crate) async fn run(ctx: &Ctx<'_>, route: AdminRoute) -> Result<Response, Failure> {
    match route {
        AdminRoute::Home => identities::home(ctx).await,
        AdminRoute::Users { after } => identities::users(ctx, after.as_deref(), "").await,
        AdminRoute::CreateUser { name, password, admin } => identities::create_user(ctx, &name, &password, admin).await,
        AdminRoute::User(name) => identities::user(ctx, &name).await,
        AdminRoute::SetPassword { name, password } => identities::set_password(ctx, &name, password.as_deref()).await,
        AdminRoute::DeleteUser { name, confirmed } => identities::delete_user(ctx, &name, confirmed).await,
        AdminRoute::CreateKey(name) => identities::create_key(ctx, &name).await,
        AdminRoute::SetKeyActive { user, key, active } => identities::set_key_active(ctx, &user, &key, active).await,
        AdminRoute::DeleteKey { user, key } => identities::delete_key(ctx, &user, &key).await,
        AdminRoute::Groups { after } => identities::groups(ctx, after.as_deref(), "").await,
        AdminRoute::CreateGroup(g) => identities::create_group(ctx, &g).await,
        AdminRoute::DeleteGroup(g) => identities::delete_group(ctx, &g).await,
        AdminRoute::AddMember { group, user } => identities::add_member(ctx, &group, &user).await,
        AdminRoute::RemoveMember { group, user } => identities::remove_member(ctx, &group, &user).await,
        AdminRoute::Policy(target) => identities::policy(ctx, &target, None, "").await,
        AdminRoute::PutPolicy { target, document } => identities::put_policy(ctx, &target, &document).await,
        AdminRoute::DeletePolicy(target) => identities::delete_policy(ctx, &target).await,
        AdminRoute::Tokens { after } => identities::tokens(ctx, after.as_deref(), None).await,
        AdminRoute::CreateToken(new) => identities::create_token(ctx, new).await,
        AdminRoute::RevokeToken { owner, token } => identities::revoke_token(ctx, &owner, &token).await,
        AdminRoute::Audit(filters) => audit::page(ctx, &filters).await,
        AdminRoute::Settings => settings::page(ctx, None).await,
        AdminRoute::PutScanning(form) => settings::put_scanning(ctx, form).await,
        AdminRoute::PutAccountSetting { name, value } => settings::put_account_setting(ctx, &name, &value).await,
        AdminRoute::VulnDb => settings::vulndb(ctx).await,
    }
}
