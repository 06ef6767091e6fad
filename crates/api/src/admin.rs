//! The admin API (`POST /admin/v1/<Operation>`, JSON, SigV4-signed): see `docs/admin-api.md`.
//! Requests are authenticated here and each operation is authorised by the identity service.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_identity::{Caller, IdentityError};
use berth_meta::identity::{PolicyTarget, Visibility};
use http_body_util::{BodyExt, Limited};
use serde_json::{Value, json};

use crate::AppState;
use crate::authn::{audit, client_ip};
use crate::sigv4::canonical_input;

const MAX_BODY: usize = 1024 * 1024;

/// An admin API error in the AWS JSON shape.
struct AwsError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl AwsError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        AwsError { status, kind, message: message.into() }
    }

    fn validation(message: impl Into<String>) -> Self {
        AwsError::new(StatusCode::BAD_REQUEST, "ValidationException", message)
    }

    /// A fault of the server: details go to the log only.
    fn server(e: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %e, "admin API fault");
        AwsError::new(StatusCode::INTERNAL_SERVER_ERROR, "ServerException", "internal error")
    }
}

impl From<IdentityError> for AwsError {
    fn from(e: IdentityError) -> Self {
        let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            return AwsError::server(&e);
        }
        AwsError::new(status, e.aws_type(), e.to_string())
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let body = json!({"__type": self.kind, "message": self.message}).to_string();
        (self.status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

type AdminResult = Result<Value, AwsError>;

fn field<'a>(body: &'a Value, name: &str) -> Result<&'a str, AwsError> {
    body.get(name).and_then(Value::as_str).ok_or_else(|| AwsError::validation(format!("{name} is required (a string)")))
}

fn opt_field<'a>(body: &'a Value, name: &str) -> Result<Option<&'a str>, AwsError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(AwsError::validation(format!("{name} must be a string"))),
    }
}

fn repo_field(body: &Value, name: &str) -> Result<berth_oci::RepositoryName, AwsError> {
    field(body, name)?.parse().map_err(|e| AwsError::validation(format!("{name}: {e}")))
}

fn target(body: &Value) -> Result<PolicyTarget, AwsError> {
    let t = body.get("target").ok_or_else(|| AwsError::validation("target is required"))?;
    if let Some(u) = t.get("user").and_then(Value::as_str) {
        Ok(PolicyTarget::User(u.to_string()))
    } else if let Some(g) = t.get("group").and_then(Value::as_str) {
        Ok(PolicyTarget::Group(g.to_string()))
    } else if t.get("repository").is_some() {
        Ok(PolicyTarget::Repository(repo_field(t, "repository")?))
    } else if t.get("registry").and_then(Value::as_bool) == Some(true) {
        Ok(PolicyTarget::Registry)
    } else {
        Err(AwsError::validation("target must be {\"user\"}, {\"group\"}, {\"repository\"} or {\"registry\": true}"))
    }
}

/// Authenticates an admin request: SigV4 with an access key, or Basic credentials.
async fn admin_caller(
    app: &AppState,
    req: &axum::http::request::Parts,
    body: &[u8],
    ip: Option<std::net::IpAddr>,
) -> Result<Caller, AwsError> {
    let auth = req.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    if auth.starts_with("AWS4-HMAC-SHA256") {
        let input = canonical_input(req, body);
        let principal = app.identity.authenticate_sigv4(&input, auth, ip).await?;
        return Ok(Caller { principal, source_ip: ip, secure: app.tls });
    }
    let caller = crate::authn::caller_of(app, &req.headers, ip).await?;
    if caller.principal.is_anonymous() {
        return Err(AwsError::new(StatusCode::FORBIDDEN, "UnrecognizedClientException", "the request is not signed"));
    }
    Ok(caller)
}

pub async fn admin(State(app): State<Arc<AppState>>, Path(op): Path<String>, req: Request) -> Response {
    let ip = client_ip(&req);
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return AwsError::validation("request body too large or unreadable").into_response(),
    };
    let caller = match admin_caller(&app, &parts, &body, ip).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v @ Value::Object(_)) => v,
            _ => return AwsError::validation("the body must be a JSON object").into_response(),
        }
    };
    let result = run(&app, &caller, &op, &input).await;
    let status = match &result {
        Ok(_) => 200,
        Err(e) => e.status.as_u16(),
    };
    let outcome = match &result {
        Ok(_) => "allowed",
        Err(e) if e.kind == "AccessDeniedException" => "denied",
        Err(_) => "error",
    };
    if !op.starts_with("List") && !op.starts_with("Get") || outcome == "denied" {
        audit(&app, &caller, &format!("berth:{op}"), "*", ip, outcome, status).await;
    }
    match result {
        Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn run(app: &AppState, caller: &Caller, op: &str, b: &Value) -> AdminResult {
    let id = &app.identity;
    let user_json = |u: &berth_meta::identity::User, groups: &[String]| json!({"userName": u.name, "admin": u.is_admin, "createdAt": u.created_at, "groups": groups, "arn": id.account().user_arn(&u.name)});
    Ok(match op {
        "CreateUser" => {
            let admin = b.get("admin").and_then(Value::as_bool).unwrap_or(false);
            let u = id.create_user(caller, field(b, "userName")?, opt_field(b, "password")?, admin).await?;
            json!({"user": user_json(&u, &[])})
        }
        "ListUsers" => {
            let users = id.list_users(caller).await?;
            json!({"users": users.iter().map(|(u, g)| user_json(u, g)).collect::<Vec<_>>()})
        }
        "DeleteUser" => {
            id.delete_user(caller, field(b, "userName")?).await?;
            json!({})
        }
        "CreateAccessKey" => {
            let (key, secret, user) = id.create_access_key(caller, opt_field(b, "userName")?).await?;
            json!({"accessKeyId": key, "secretAccessKey": secret.expose(), "userName": user})
        }
        "ListAccessKeys" => {
            let keys = id.list_access_keys(caller, opt_field(b, "userName")?).await?;
            let keys: Vec<Value> = keys
                .iter()
                .map(|k| json!({"accessKeyId": k.id, "userName": k.user, "status": if k.active {"Active"} else {"Inactive"}, "createdAt": k.created_at, "lastUsedAt": k.last_used_at}))
                .collect();
            json!({"accessKeys": keys})
        }
        "UpdateAccessKey" => {
            let active = match field(b, "status")? {
                "Active" => true,
                "Inactive" => false,
                other => return Err(AwsError::validation(format!("status must be Active or Inactive, not {other:?}"))),
            };
            id.set_access_key_active(caller, field(b, "accessKeyId")?, active).await?;
            json!({})
        }
        "DeleteAccessKey" => {
            id.delete_access_key(caller, field(b, "accessKeyId")?).await?;
            json!({})
        }
        "CreateGroup" => {
            id.create_group(caller, field(b, "groupName")?).await?;
            json!({})
        }
        "DeleteGroup" => {
            id.delete_group(caller, field(b, "groupName")?).await?;
            json!({})
        }
        "ListGroups" => {
            let groups = id.list_groups(caller).await?;
            json!({"groups": groups.iter().map(|(g, m)| json!({"groupName": g, "members": m})).collect::<Vec<_>>()})
        }
        "AddUserToGroup" => {
            id.add_user_to_group(caller, field(b, "groupName")?, field(b, "userName")?).await?;
            json!({})
        }
        "RemoveUserFromGroup" => {
            id.remove_user_from_group(caller, field(b, "groupName")?, field(b, "userName")?).await?;
            json!({})
        }
        "PutPolicy" => {
            id.put_policy(caller, &target(b)?, field(b, "policyText")?).await?;
            json!({})
        }
        "GetPolicy" => json!({"policyText": id.get_policy(caller, &target(b)?).await?}),
        "DeletePolicy" => {
            id.delete_policy(caller, &target(b)?).await?;
            json!({})
        }
        "SetRepositoryVisibility" => {
            let visibility = match field(b, "visibility")? {
                "public" => Visibility::Public,
                "private" => Visibility::Private,
                other => {
                    return Err(AwsError::validation(format!("visibility must be public or private, not {other:?}")));
                }
            };
            id.set_visibility(caller, &repo_field(b, "repositoryName")?, visibility).await?;
            json!({})
        }
        "GetLoginPassword" => {
            let (password, expires_at) = id.login_password(caller).await?;
            json!({"password": password.expose(), "expiresAt": expires_at, "userName": caller.principal.label().trim_start_matches("user/")})
        }
        "CreateRobotToken" => {
            let strings = |name: &str| -> Result<Vec<String>, AwsError> {
                b.get(name)
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
                    .ok_or_else(|| AwsError::validation(format!("{name} is required (an array of strings)")))
            };
            let ttl = b.get("expiresInSeconds").and_then(Value::as_i64).unwrap_or(24 * 3600);
            let (token_id, token, expires_at) = id
                .create_robot_token(caller, field(b, "name")?, &strings("repositories")?, &strings("actions")?, ttl)
                .await?;
            json!({"tokenId": token_id, "token": token.expose(), "expiresAt": expires_at})
        }
        "ListRobotTokens" => {
            let tokens = id.list_robot_tokens(caller).await?;
            let tokens: Vec<Value> = tokens
                .iter()
                .map(|t| json!({"tokenId": t.id, "name": t.name, "owner": t.owner, "expiresAt": t.expires_at, "createdAt": t.created_at, "scope": serde_json::from_str::<Value>(&t.scope).unwrap_or(Value::Null)}))
                .collect();
            json!({"robotTokens": tokens})
        }
        "DeleteRobotToken" => {
            id.delete_robot_token(caller, field(b, "tokenId")?).await?;
            json!({})
        }
        "ListScannedImages" => list_scanned_images(app, caller, b).await?,
        "PutPullPolicy" => put_pull_policy(app, caller, b).await?,
        "GetPullPolicy" => {
            let repo = repo_field(b, "repositoryName")?;
            id.authorize(caller, "berth:GetPullPolicy", &berth_identity::Resource::Repository(&repo)).await?;
            match app.registry.pull_policy(&repo).await.map_err(|e| registry_error(e, &repo))? {
                Some(p) => json!({"minSeverity": p.min_severity.as_str(), "allow": p.allow}),
                None => json!({}),
            }
        }
        "ListAuditEvents" => {
            let after = b.get("after").and_then(Value::as_i64);
            let limit = b.get("limit").and_then(Value::as_u64).unwrap_or(100).min(1000) as u32;
            let events = id.list_audit(caller, after, limit).await?;
            let next = (events.len() as u32 == limit).then(|| events.last().map(|e| e.id)).flatten();
            let events: Vec<Value> = events
                .iter()
                .map(|e| json!({"id": e.id, "at": e.at, "principal": e.principal, "action": e.action, "resource": e.resource, "sourceIp": e.source_ip, "outcome": e.outcome, "status": e.status, "detail": e.detail}))
                .collect();
            let mut out = json!({"events": events});
            if let Some(n) = next {
                out["nextAfter"] = json!(n);
            }
            out
        }
        other => {
            return Err(AwsError::new(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                format!("no operation {other:?}"),
            ));
        }
    })
}

/// `ListScannedImages`: images affected by an advisory (`vulnerabilityId`, an OSV id or an alias such as a
/// CVE id) or containing a package (`package`, binary or source name), among the repositories whose scan
/// findings the caller may read (`ecr:DescribeImageScanFindings`).
async fn list_scanned_images(app: &AppState, caller: &Caller, b: &Value) -> AdminResult {
    let limit = b.get("limit").and_then(Value::as_u64).unwrap_or(1000).clamp(1, 10_000) as u32;
    let registry = &app.registry;
    let hits = match (opt_field(b, "vulnerabilityId")?, opt_field(b, "package")?) {
        (Some(id), None) => registry.images_affected_by(id, limit).await,
        (None, Some(name)) => registry.images_with_package(name, limit).await,
        _ => return Err(AwsError::validation("give exactly one of vulnerabilityId and package")),
    }
    .map_err(|e| AwsError::server(&e))?;
    let mut images = Vec::new();
    for hit in hits {
        let resource = berth_identity::Resource::Repository(&hit.repository);
        if app.identity.is_allowed(caller, "ecr:DescribeImageScanFindings", &resource).await? {
            images.push(json!({"repositoryName": hit.repository.as_str(), "imageDigest": hit.digest.to_string(), "detail": hit.detail}));
        }
    }
    Ok(json!({"images": images}))
}

/// `PutPullPolicy`: `minSeverity` (CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL) and `allow` (advisory ids or
/// aliases) set the policy; no `minSeverity` removes it.
async fn put_pull_policy(app: &AppState, caller: &Caller, b: &Value) -> AdminResult {
    let repo = repo_field(b, "repositoryName")?;
    let policy = match opt_field(b, "minSeverity")? {
        None => None,
        Some(s) => {
            let min_severity = berth_registry::scanning::Severity::from_label(s)
                .filter(|s| *s != berth_registry::scanning::Severity::Undefined)
                .ok_or_else(|| {
                    AwsError::validation(format!(
                        "minSeverity {s:?} is not CRITICAL, HIGH, MEDIUM, LOW or INFORMATIONAL"
                    ))
                })?;
            let allow = match b.get("allow") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| AwsError::validation("allow must be a list of strings"))
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(AwsError::validation("allow must be a list of strings")),
            };
            Some(berth_registry::scanning::PullPolicy { min_severity, allow })
        }
    };
    app.identity.authorize(caller, "berth:PutPullPolicy", &berth_identity::Resource::Repository(&repo)).await?;
    app.registry.set_pull_policy(&repo, policy.as_ref()).await.map_err(|e| registry_error(e, &repo))?;
    Ok(json!({}))
}

fn registry_error(e: berth_registry::RegistryError, repo: &berth_oci::RepositoryName) -> AwsError {
    match e {
        berth_registry::RegistryError::NameUnknown => AwsError::new(
            StatusCode::BAD_REQUEST,
            "RepositoryNotFoundException",
            format!("repository {repo} does not exist"),
        ),
        other => AwsError::server(&other),
    }
}
