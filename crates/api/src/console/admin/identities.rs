//! Users and their access keys, groups, identity and registry policies, robot tokens.

use axum::http::StatusCode;
use axum::response::Response;
use berth_identity::Target;
use berth_meta::identity::PolicyTarget;

use super::super::views::{html, when};
use super::route::NewToken;
use super::views::{self, GroupRow, KeyRow, TokenRow, UserRow};
use super::{Ctx, Failure, PAGE, change, identity_failure, notice, urlencoded};

async fn may(ctx: &Ctx<'_>, action: &str, target: &Target) -> Result<bool, Failure> {
    ctx.app.identity.is_allowed(&ctx.caller, action, &target.resource()).await.map_err(Failure::fault)
}

fn user_target(name: &str) -> Target {
    Target::User(name.to_string())
}

fn user_arn(ctx: &Ctx<'_>, name: &str) -> String {
    ctx.app.identity.account().user_arn(name)
}

fn group_arn(ctx: &Ctx<'_>, name: &str) -> String {
    ctx.app.identity.account().group_arn(name)
}

fn user_page(name: &str, done: &str) -> String {
    format!("/console/admin/user?name={}&done={done}", urlencoded(name))
}

/// `GET /console/admin`: the sections the caller may open (none: refused).
pub async fn home(ctx: &Ctx<'_>) -> Result<Response, Failure> {
    let sections = super::sections(ctx.app, &ctx.caller).await?;
    if sections.is_empty() {
        return Err(Failure::status(StatusCode::FORBIDDEN, "You may not administer this registry."));
    }
    Ok(html(StatusCode::OK, &views::Home { chrome: ctx.chrome.clone(), sections }))
}

/// `GET /console/admin/users`: a page of users, and the create form.
pub async fn users(ctx: &Ctx<'_>, after: Option<&str>, error: &str) -> Result<Response, Failure> {
    let id = &ctx.app.identity;
    let mut page = id.list_users_page(&ctx.authorized, after, PAGE + 1).await.map_err(identity_failure)?;
    let next = (page.len() > PAGE as usize).then(|| {
        page.truncate(PAGE as usize);
        page.last().map(|(u, _)| u.name.clone()).unwrap_or_default()
    });
    let rows = page
        .into_iter()
        .map(|(u, groups)| UserRow {
            has_password: u.password_hash.is_some(),
            name: u.name,
            admin: u.is_admin,
            groups,
            created: when(u.created_at),
        })
        .collect();
    let status = if error.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let page = views::Users {
        chrome: ctx.chrome.clone(),
        rows,
        next,
        may_create: may(ctx, "berth:CreateUser", &Target::Any).await?,
        notice: notice(ctx),
        error: error.to_string(),
        name: String::new(),
    };
    Ok(html(status, &page))
}

pub async fn create_user(ctx: &Ctx<'_>, name: &str, password: &str, admin: bool) -> Result<Response, Failure> {
    let id = &ctx.app.identity;
    let pass = Some(password).filter(|p| !p.is_empty());
    let result = id.create_user(&ctx.authorized, &ctx.caller, name, pass, admin).await.map_err(identity_failure);
    let failure = result.as_ref().err().map(|f| Failure::status(f.status, f.message.clone()));
    super::audit(ctx, "berth:CreateUser", &user_arn(ctx, name), failure.as_ref()).await;
    match result {
        Ok(_) => Ok(super::session::redirect(&user_page(name, "user-created"))),
        // The form again, saying what is wrong (the list, with the name kept).
        Err(f) if f.status != StatusCode::INTERNAL_SERVER_ERROR && f.status != StatusCode::FORBIDDEN => {
            users(ctx, None, &f.message).await
        }
        Err(f) => Err(f),
    }
}

/// `GET /console/admin/user?name=`: the user, their access keys, and what may be done to them.
pub async fn user(ctx: &Ctx<'_>, name: &str) -> Result<Response, Failure> {
    user_with(ctx, name, "").await
}

async fn user_with(ctx: &Ctx<'_>, name: &str, error: &str) -> Result<Response, Failure> {
    let id = &ctx.app.identity;
    let (user, groups) = id.user(&ctx.authorized, name).await.map_err(identity_failure)?;
    let keys = id.list_access_keys(&ctx.authorized, Some(name)).await.map_err(identity_failure)?;
    let target = user_target(name);
    let page = views::User {
        chrome: ctx.chrome.clone(),
        arn: user_arn(ctx, name),
        name: user.name.clone(),
        admin: user.is_admin,
        has_password: user.password_hash.is_some(),
        groups,
        created: when(user.created_at),
        keys: keys
            .into_iter()
            .map(|k| KeyRow {
                id: k.id,
                active: k.active,
                created: when(k.created_at),
                last_used: k.last_used_at.map(when).unwrap_or_else(|| "never".into()),
            })
            .collect(),
        may_create_key: may(ctx, "berth:CreateAccessKey", &target).await?,
        may_update_key: may(ctx, "berth:UpdateAccessKey", &target).await?,
        may_delete_key: may(ctx, "berth:DeleteAccessKey", &target).await?,
        may_set_password: may(ctx, "berth:SetUserPassword", &target).await?,
        may_delete: may(ctx, "berth:DeleteUser", &target).await?,
        may_policy: may(ctx, "berth:GetUserPolicy", &target).await?,
        notice: notice(ctx),
        error: error.to_string(),
    };
    let status = if error.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    Ok(html(status, &page))
}

pub async fn set_password(ctx: &Ctx<'_>, name: &str, password: Option<&str>) -> Result<Response, Failure> {
    let result = ctx.app.identity.set_password(&ctx.authorized, name, password).await.map_err(identity_failure);
    if let Err(f) = &result
        && f.status == StatusCode::BAD_REQUEST
    {
        super::audit(ctx, "berth:SetUserPassword", &user_arn(ctx, name), Some(f)).await;
        return user_with(ctx, name, &f.message).await;
    }
    let done = if password.is_some() { "password-set" } else { "password-removed" };
    change(ctx, "berth:SetUserPassword", &user_arn(ctx, name), result, &user_page(name, done)).await
}

pub async fn delete_user(ctx: &Ctx<'_>, name: &str, confirmed: bool) -> Result<Response, Failure> {
    if !confirmed {
        return user_with(ctx, name, "Type the user's name exactly to confirm deleting them.").await;
    }
    let result = ctx.app.identity.delete_user(&ctx.authorized, &ctx.caller, name).await.map_err(identity_failure);
    change(ctx, "berth:DeleteUser", &user_arn(ctx, name), result, "/console/admin/users?done=user-deleted").await
}

/// `POST /console/admin/user/keys/create`: a new access key, whose secret this answer shows once.
pub async fn create_key(ctx: &Ctx<'_>, name: &str) -> Result<Response, Failure> {
    let id = &ctx.app.identity;
    // The user must exist (the store refuses a key of nobody, but says so less clearly).
    let result = match id.user(&ctx.authorized, name).await {
        Ok(_) => id.create_access_key(&ctx.authorized, name).await.map_err(identity_failure),
        Err(e) => Err(identity_failure(e)),
    };
    super::audit(ctx, "berth:CreateAccessKey", &user_arn(ctx, name), result.as_ref().err()).await;
    let (key, secret, user) = result?;
    let endpoint = ctx.endpoint();
    let page = views::Secret {
        chrome: ctx.chrome.clone(),
        title: "Access key created",
        facts: vec![("User", user.clone()), ("Access key id", key.clone())],
        secret_label: "Secret access key",
        secret: secret.expose().to_string(),
        usage: vec![
            format!("export BERTH_ENDPOINT={endpoint} BERTH_ACCESS_KEY_ID={key} BERTH_SECRET_ACCESS_KEY=<the secret>"),
            format!("docker login --username {key} {}", ctx.host),
        ],
        back: user_page(&user, ""),
        back_label: "Back to the user",
    };
    Ok(html(StatusCode::OK, &page))
}

/// The key, if it belongs to `user` (what the request was decided on); otherwise it is not found.
async fn owned_key(ctx: &Ctx<'_>, user: &str, key: &str) -> Result<(), Failure> {
    match ctx.app.identity.access_key_owner(key).await.map_err(Failure::fault)? {
        Some(owner) if owner == user => Ok(()),
        _ => Err(Failure::status(StatusCode::NOT_FOUND, format!("{user} has no access key {key}."))),
    }
}

pub async fn set_key_active(ctx: &Ctx<'_>, user: &str, key: &str, active: bool) -> Result<Response, Failure> {
    let result = match owned_key(ctx, user, key).await {
        Ok(()) => ctx.app.identity.set_access_key_active(&ctx.authorized, key, active).await.map_err(identity_failure),
        Err(f) => Err(f),
    };
    change(ctx, "berth:UpdateAccessKey", &user_arn(ctx, user), result, &user_page(user, "key-updated")).await
}

pub async fn delete_key(ctx: &Ctx<'_>, user: &str, key: &str) -> Result<Response, Failure> {
    let result = match owned_key(ctx, user, key).await {
        Ok(()) => ctx.app.identity.delete_access_key(&ctx.authorized, key).await.map_err(identity_failure),
        Err(f) => Err(f),
    };
    change(ctx, "berth:DeleteAccessKey", &user_arn(ctx, user), result, &user_page(user, "key-deleted")).await
}

/// `GET /console/admin/groups`: a page of groups with their members; create, delete, add and remove
/// members where allowed (each form decided on its group).
pub async fn groups(ctx: &Ctx<'_>, after: Option<&str>, error: &str) -> Result<Response, Failure> {
    let mut page =
        ctx.app.identity.list_groups_page(&ctx.authorized, after, PAGE + 1).await.map_err(identity_failure)?;
    let next = (page.len() > PAGE as usize).then(|| {
        page.truncate(PAGE as usize);
        page.last().map(|(g, _)| g.clone()).unwrap_or_default()
    });
    let page = views::Groups {
        chrome: ctx.chrome.clone(),
        rows: page.into_iter().map(|(name, members)| GroupRow { name, members }).collect(),
        next,
        may_create: may(ctx, "berth:CreateGroup", &Target::Any).await?,
        notice: notice(ctx),
        error: error.to_string(),
    };
    let status = if error.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    Ok(html(status, &page))
}

/// A group form that failed for a reason the page can show: the list again, saying why.
async fn group_change<T>(
    ctx: &Ctx<'_>,
    action: &str,
    group: &str,
    result: Result<T, Failure>,
    done: &str,
) -> Result<Response, Failure> {
    match result {
        Err(f) if matches!(f.status, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND | StatusCode::CONFLICT) => {
            super::audit(ctx, action, &group_arn(ctx, group), Some(&f)).await;
            groups(ctx, None, &f.message).await
        }
        result => {
            change(ctx, action, &group_arn(ctx, group), result, &format!("/console/admin/groups?done={done}")).await
        }
    }
}

pub async fn create_group(ctx: &Ctx<'_>, group: &str) -> Result<Response, Failure> {
    let result = ctx.app.identity.create_group(&ctx.authorized, group).await.map_err(identity_failure);
    group_change(ctx, "berth:CreateGroup", group, result, "group-created").await
}

pub async fn delete_group(ctx: &Ctx<'_>, group: &str) -> Result<Response, Failure> {
    let result = ctx.app.identity.delete_group(&ctx.authorized, group).await.map_err(identity_failure);
    group_change(ctx, "berth:DeleteGroup", group, result, "group-deleted").await
}

pub async fn add_member(ctx: &Ctx<'_>, group: &str, user: &str) -> Result<Response, Failure> {
    let result = ctx.app.identity.add_user_to_group(&ctx.authorized, group, user).await.map_err(identity_failure);
    group_change(ctx, "berth:AddUserToGroup", group, result, "member-added").await
}

pub async fn remove_member(ctx: &Ctx<'_>, group: &str, user: &str) -> Result<Response, Failure> {
    let result = ctx.app.identity.remove_user_from_group(&ctx.authorized, group, user).await.map_err(identity_failure);
    group_change(ctx, "berth:RemoveUserFromGroup", group, result, "member-removed").await
}

fn policy_names(target: &PolicyTarget) -> (String, (&'static str, String), &'static str, String) {
    match target {
        PolicyTarget::User(u) => (
            format!("user {u}"),
            ("user", u.clone()),
            "identity policy (no Principal)",
            format!("/console/admin/user?name={}", urlencoded(u)),
        ),
        PolicyTarget::Group(g) => (
            format!("group {g}"),
            ("group", g.clone()),
            "identity policy (no Principal)",
            "/console/admin/groups".into(),
        ),
        PolicyTarget::Registry => (
            "the registry".into(),
            ("registry", "1".into()),
            "resource policy (Principal required), evaluated for every repository",
            "/console/admin".into(),
        ),
        PolicyTarget::Repository(r) => (
            format!("repository {r}"),
            ("repository", r.to_string()),
            "resource policy",
            format!("/console/repositories/{r}"),
        ),
    }
}

fn policy_resource(ctx: &Ctx<'_>, target: &PolicyTarget) -> String {
    let account = ctx.app.identity.account();
    match target {
        PolicyTarget::User(u) => account.user_arn(u),
        PolicyTarget::Group(g) => account.group_arn(g),
        PolicyTarget::Registry => account.registry_arn(),
        PolicyTarget::Repository(r) => account.repository_arn(r),
    }
}

fn policy_action(target: &PolicyTarget, verb: &str) -> String {
    berth_identity::manage::policy_permission(target, verb).action
}

/// `GET /console/admin/policy?user=|group=|registry=1`: the policy document in an editor; `shown` is what
/// to show instead of the stored document (a document that failed validation, with `error`).
pub async fn policy(
    ctx: &Ctx<'_>,
    target: &PolicyTarget,
    shown: Option<&str>,
    error: &str,
) -> Result<Response, Failure> {
    let id = &ctx.app.identity;
    // The user must exist (the store answers "no policy" for anyone); a group's is checked when saved.
    if let PolicyTarget::User(u) = target {
        id.user(&ctx.authorized, u).await.map_err(identity_failure)?;
    }
    let stored = match id.get_policy(&ctx.authorized, target).await {
        Ok(doc) => Some(doc),
        Err(berth_identity::IdentityError::NotFound(_)) => None,
        Err(e) => return Err(identity_failure(e)),
    };
    let (subject, hidden, kind, back) = policy_names(target);
    let required_put = berth_identity::manage::policy_permission(target, "Put");
    let required_delete = berth_identity::manage::policy_permission(target, "Delete");
    let document = match (shown, &stored) {
        (Some(s), _) => s.to_string(),
        (None, Some(d)) => pretty(d),
        (None, None) => String::new(),
    };
    let page = views::Policy {
        chrome: ctx.chrome.clone(),
        subject,
        target: hidden,
        kind,
        document,
        exists: stored.is_some(),
        may_put: may(ctx, &required_put.action, &required_put.target).await?,
        may_delete: may(ctx, &required_delete.action, &required_delete.target).await?,
        notice: notice(ctx),
        error: error.to_string(),
        back,
    };
    let status = if error.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    Ok(html(status, &page))
}

/// The stored document as its author wrote it, or indented when it parses.
fn pretty(doc: &str) -> String {
    if doc.contains('\n') {
        return doc.to_string();
    }
    serde_json::from_str::<serde_json::Value>(doc)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| doc.to_string())
}

fn policy_page(target: &PolicyTarget, done: &str) -> String {
    let (_, (key, value), _, _) = policy_names(target);
    format!("/console/admin/policy?{key}={}&done={done}", urlencoded(&value))
}

/// `POST /console/admin/policy/put`: validated by the policy engine; its errors are shown beside the
/// document, which is kept as typed.
pub async fn put_policy(ctx: &Ctx<'_>, target: &PolicyTarget, document: &str) -> Result<Response, Failure> {
    let action = policy_action(target, "Put");
    let resource = policy_resource(ctx, target);
    if document.trim().is_empty() {
        return policy(ctx, target, Some(document), "The policy document is empty.").await;
    }
    match ctx.app.identity.put_policy(&ctx.authorized, target, document).await {
        Ok(()) => change(ctx, &action, &resource, Ok(()), &policy_page(target, "policy-saved")).await,
        Err(berth_identity::IdentityError::MalformedPolicy(why)) => {
            let f = Failure::status(StatusCode::BAD_REQUEST, why.clone());
            super::audit(ctx, &action, &resource, Some(&f)).await;
            policy(ctx, target, Some(document), &format!("The policy engine refused this document: {why}")).await
        }
        Err(e) => change::<()>(ctx, &action, &resource, Err(identity_failure(e)), "").await,
    }
}

pub async fn delete_policy(ctx: &Ctx<'_>, target: &PolicyTarget) -> Result<Response, Failure> {
    let result = ctx.app.identity.delete_policy(&ctx.authorized, target).await.map_err(identity_failure);
    let (action, resource) = (policy_action(target, "Delete"), policy_resource(ctx, target));
    change(ctx, &action, &resource, result, &policy_page(target, "policy-deleted")).await
}

/// `GET /console/admin/tokens`: every owner's robot tokens (never their secrets), a page at a time.
pub async fn tokens(ctx: &Ctx<'_>, after: Option<&str>, error: Option<&str>) -> Result<Response, Failure> {
    let mut page =
        ctx.app.identity.list_robot_tokens_page(&ctx.authorized, after, PAGE + 1).await.map_err(identity_failure)?;
    let next = (page.len() > PAGE as usize).then(|| {
        page.truncate(PAGE as usize);
        page.last().map(|t| t.id.clone()).unwrap_or_default()
    });
    let now = ctx.app.identity.now();
    let mut rows = Vec::new();
    for t in page {
        let scope = serde_json::from_str::<serde_json::Value>(&t.scope).ok();
        let statement = scope.as_ref().map(|s| &s["Statement"][0]);
        let list = |v: Option<&serde_json::Value>| {
            v.and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", "))
                .unwrap_or_default()
        };
        let resources = list(statement.map(|s| &s["Resource"]));
        let actions = list(statement.map(|s| &s["Action"]));
        rows.push(TokenRow {
            may_revoke: may(ctx, "berth:DeleteRobotToken", &user_target(&t.owner)).await?,
            id: t.id,
            name: t.name,
            scope: format!("{actions} on {resources}"),
            created: when(t.created_at),
            expires: when(t.expires_at),
            expired: t.expires_at <= now,
            owner: t.owner,
        });
    }
    let may_create = match ctx.chrome.user.as_deref() {
        Some(_) => may(ctx, "berth:CreateRobotToken", &user_target(ctx.chrome.user_name())).await?,
        None => false,
    };
    let page = views::Tokens {
        chrome: ctx.chrome.clone(),
        rows,
        next,
        may_create,
        notice: notice(ctx),
        error: error.unwrap_or("").to_string(),
    };
    Ok(html(if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK }, &page))
}

/// `POST /console/admin/tokens/create`: a token owned by the signed-in user (it can never do more than
/// they may), shown once.
pub async fn create_token(ctx: &Ctx<'_>, new: NewToken) -> Result<Response, Failure> {
    if new.owner != ctx.chrome.user_name() {
        return Err(Failure::status(StatusCode::FORBIDDEN, "Robot tokens are created for yourself."));
    }
    let ttl = new.expires_days.saturating_mul(86_400);
    let result = ctx
        .app
        .identity
        .create_robot_token(&ctx.authorized, &new.owner, &new.name, &new.repositories, &new.actions, ttl)
        .await
        .map_err(identity_failure);
    super::audit(ctx, "berth:CreateRobotToken", &user_arn(ctx, &new.owner), result.as_ref().err()).await;
    let (token_id, token, expires_at) = match result {
        Ok(t) => t,
        Err(f) if f.status == StatusCode::BAD_REQUEST => return tokens(ctx, None, Some(&f.message)).await,
        Err(f) => return Err(f),
    };
    let page = views::Secret {
        chrome: ctx.chrome.clone(),
        title: "Robot token created",
        facts: vec![
            ("Name", new.name.clone()),
            ("Token id", token_id),
            ("Allows", format!("{} on {}", new.actions.join(", "), new.repositories.join(", "))),
            ("Expires", when(expires_at)),
        ],
        secret_label: "Token",
        secret: token.expose().to_string(),
        usage: vec![format!("docker login --username robot --password-stdin {}", ctx.host)],
        back: "/console/admin/tokens".into(),
        back_label: "Back to robot tokens",
    };
    Ok(html(StatusCode::OK, &page))
}

pub async fn revoke_token(ctx: &Ctx<'_>, owner: &str, token: &str) -> Result<Response, Failure> {
    let id = &ctx.app.identity;
    let result = match id.robot_token_owner(token).await.map_err(Failure::fault)? {
        Some(o) if o == owner => id.delete_robot_token(&ctx.authorized, token).await.map_err(identity_failure),
        _ => Err(Failure::status(StatusCode::NOT_FOUND, format!("{owner} has no robot token {token}."))),
    };
    change(ctx, "berth:DeleteRobotToken", &user_arn(ctx, owner), result, "/console/admin/tokens?done=token-revoked")
        .await
}
