//! The admin API (`POST /admin/v1/<Operation>`, JSON, SigV4 only): see `docs/admin-api.md`.
//!
//! Every request: authenticate (SigV4 with service `berth`, see [`crate::aws`]; no Basic credentials and no
//! registry bearer tokens), parse the body into a typed [`Operation`], declare what it needs
//! ([`Operation::required`]), have that decided by [`crate::access::decide`], then run it with the proof.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_identity::manage::policy_permission;
use berth_identity::{Authorized, Caller, Identity, IdentityError, Required, Target};
use berth_meta::identity::{PolicyTarget, Visibility};
use berth_oci::RepositoryName;
use berth_registry::jobs::JobFilter;
use berth_registry::scanning::{PullPolicy, Severity};
use http_body_util::{BodyExt, Limited};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

mod deleted;
mod jobs;
mod signing;
mod storage;
mod usage;
mod webhooks;

use self::deleted::RestoreImageInput;
use self::jobs::{JobIdInput, list_jobs_filter};
use self::storage::{QuotaInput, QuotaPrefixInput, StorageUsageInput};
use crate::AppState;
use crate::authn::{audit, client_ip};
use crate::aws::errors::{AwsError, ErrorType};
use crate::aws::{SigningRules, json_object};

const MAX_BODY: usize = 1024 * 1024;

/// What the admin API requires of a signature: service `berth`, the registry's region, the body's media
/// type signed.
const SIGNING: SigningRules = SigningRules { service: "berth", check_region: true, signed: &["content-type"] };

type AdminResult = Result<Value, AwsError>;

fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new(ErrorType::Validation, message)
}

fn identity(e: IdentityError) -> AwsError {
    AwsError::from_admin(e)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateUserInput {
    user_name: String,
    password: Option<String>,
    #[serde(default)]
    admin: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PasswordInput {
    user_name: String,
    /// Absent: the user signs in with access keys only.
    password: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserInput {
    user_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OptionalUserInput {
    user_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessKeyInput {
    access_key_id: String,
}

#[derive(Deserialize, Clone, Copy)]
enum KeyStatus {
    Active,
    Inactive,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateAccessKeyInput {
    access_key_id: String,
    status: KeyStatus,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupInput {
    group_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MembershipInput {
    group_name: String,
    user_name: String,
}

/// `{"user"}` | `{"group"}` | `{"repository"}` | `{"registry": true}`.
#[derive(Deserialize)]
struct TargetInput {
    user: Option<String>,
    group: Option<String>,
    repository: Option<String>,
    registry: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyInput {
    target: TargetInput,
    policy_text: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum VisibilityName {
    Public,
    Private,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VisibilityInput {
    repository_name: String,
    visibility: VisibilityName,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RobotTokenInput {
    name: String,
    repositories: Vec<String>,
    actions: Vec<String>,
    expires_in_seconds: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenIdInput {
    token_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScannedImagesInput {
    vulnerability_id: Option<String>,
    package: Option<String>,
    limit: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RepositoryInput {
    repository_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PullPolicyInput {
    repository_name: String,
    min_severity: Option<String>,
    allow: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LifecycleRunInput {
    repository_name: String,
    /// Answer once the run is over, with what it expired; otherwise answer at once and run in the background.
    #[serde(default)]
    wait: bool,
}

#[derive(Deserialize)]
struct AuditInput {
    after: Option<i64>,
    limit: Option<u64>,
}

/// An admin request, parsed and validated: what it acts on is known before anything runs.
enum Operation {
    CreateUser(CreateUserInput),
    ListUsers,
    DeleteUser(String),
    SetUserPassword(PasswordInput),
    CreateAccessKey(String),
    ListAccessKeys(Option<String>),
    UpdateAccessKey(UpdateAccessKeyInput),
    DeleteAccessKey(String),
    CreateGroup(String),
    DeleteGroup(String),
    ListGroups,
    AddUserToGroup(MembershipInput),
    RemoveUserFromGroup(MembershipInput),
    PutPolicy(PolicyTarget, String),
    GetPolicy(PolicyTarget),
    DeletePolicy(PolicyTarget),
    SetRepositoryVisibility(RepositoryName, Visibility),
    GetLoginPassword,
    CreateRobotToken(String, RobotTokenInput),
    ListRobotTokens,
    DeleteRobotToken(String),
    ListScannedImages(ScannedImagesInput),
    PutPullPolicy(RepositoryName, Option<PullPolicy>),
    GetPullPolicy(RepositoryName),
    RunLifecyclePolicy(RepositoryName, bool),
    ListAuditEvents(AuditInput),
    GetVulnerabilityDatabase,
    RunGarbageCollection,
    GetGarbageCollectionStatus,
    /// Queues the `encrypt-existing` job (encryption at rest of blobs stored before it was enabled).
    EncryptExistingBlobs,
    ListJobs(JobFilter),
    DescribeJob(i64),
    CancelJob(i64),
    /// One repository's storage account, or every repository's (a page) and the registry's totals.
    GetStorageUsage(Option<RepositoryName>, StorageUsageInput),
    PutQuota(QuotaInput),
    ListQuotas,
    DeleteQuota(String),
    ListDeletedImages(RepositoryName),
    RestoreImage(RepositoryName, berth_oci::Digest),
    ListDeletedRepositories,
    RestoreRepository(RepositoryName),
    /// Metered usage over a range of days, grouped.
    GetUsageReport(usage::ReportRange),
    /// Signing keys and signature requirements.
    Signing(signing::SigningOp),
    /// `CreateWebhook`, `ListWebhooks`, ... (see `webhooks.rs`).
    Webhook(webhooks::WebhookOp),
}

/// What an operation needs before it runs.
enum Declared {
    All(Vec<Required>),
    /// A listing whose items are each decided as they are listed.
    Filtered,
}

fn input<T: DeserializeOwned>(body: &Value) -> Result<T, AwsError> {
    serde_json::from_value(body.clone()).map_err(|e| validation(format!("invalid request: {e}")))
}

fn repository(name: &str, member: &str) -> Result<RepositoryName, AwsError> {
    name.parse().map_err(|e| validation(format!("{member}: {e}")))
}

fn policy_target(t: TargetInput) -> Result<PolicyTarget, AwsError> {
    match t {
        TargetInput { user: Some(u), .. } => Ok(PolicyTarget::User(u)),
        TargetInput { group: Some(g), .. } => Ok(PolicyTarget::Group(g)),
        TargetInput { repository: Some(r), .. } => Ok(PolicyTarget::Repository(repository(&r, "repository")?)),
        TargetInput { registry: Some(true), .. } => Ok(PolicyTarget::Registry),
        _ => Err(validation("target must be {\"user\"}, {\"group\"}, {\"repository\"} or {\"registry\": true}")),
    }
}

fn pull_policy(i: PullPolicyInput) -> Result<Option<PullPolicy>, AwsError> {
    let Some(s) = i.min_severity else { return Ok(None) };
    let min_severity = Severity::from_label(&s)
        .filter(|s| *s != Severity::Undefined)
        .ok_or_else(|| validation(format!("minSeverity {s:?} is not CRITICAL, HIGH, MEDIUM, LOW or INFORMATIONAL")))?;
    Ok(Some(PullPolicy { min_severity, allow: i.allow.unwrap_or_default() }))
}

impl Operation {
    fn parse(op: &str, b: &Value, id: &Identity, caller: &Caller) -> Result<Operation, AwsError> {
        let caller_user = || id.caller_user(caller).map(str::to_string).map_err(identity);
        if let Some(webhook) = webhooks::WebhookOp::parse(op, b) {
            return Ok(Operation::Webhook(webhook?));
        }
        Ok(match op {
            "CreateUser" => Operation::CreateUser(input(b)?),
            "ListUsers" => Operation::ListUsers,
            "DeleteUser" => Operation::DeleteUser(input::<UserInput>(b)?.user_name),
            "SetUserPassword" => Operation::SetUserPassword(input(b)?),
            "CreateAccessKey" => match input::<OptionalUserInput>(b)?.user_name {
                Some(u) => Operation::CreateAccessKey(u),
                None => Operation::CreateAccessKey(caller_user()?),
            },
            "ListAccessKeys" => Operation::ListAccessKeys(input::<OptionalUserInput>(b)?.user_name),
            "UpdateAccessKey" => Operation::UpdateAccessKey(input(b)?),
            "DeleteAccessKey" => Operation::DeleteAccessKey(input::<AccessKeyInput>(b)?.access_key_id),
            "CreateGroup" => Operation::CreateGroup(input::<GroupInput>(b)?.group_name),
            "DeleteGroup" => Operation::DeleteGroup(input::<GroupInput>(b)?.group_name),
            "ListGroups" => Operation::ListGroups,
            "AddUserToGroup" => Operation::AddUserToGroup(input(b)?),
            "RemoveUserFromGroup" => Operation::RemoveUserFromGroup(input(b)?),
            "PutPolicy" | "GetPolicy" | "DeletePolicy" => {
                let i: PolicyInput = input(b)?;
                let target = policy_target(i.target)?;
                match op {
                    "PutPolicy" => Operation::PutPolicy(
                        target,
                        i.policy_text.ok_or_else(|| validation("policyText is required (a string)"))?,
                    ),
                    "GetPolicy" => Operation::GetPolicy(target),
                    _ => Operation::DeletePolicy(target),
                }
            }
            "SetRepositoryVisibility" => {
                let i: VisibilityInput = input(b)?;
                let visibility = match i.visibility {
                    VisibilityName::Public => Visibility::Public,
                    VisibilityName::Private => Visibility::Private,
                };
                Operation::SetRepositoryVisibility(repository(&i.repository_name, "repositoryName")?, visibility)
            }
            "GetLoginPassword" => Operation::GetLoginPassword,
            "CreateRobotToken" => Operation::CreateRobotToken(caller_user()?, input(b)?),
            "ListRobotTokens" => Operation::ListRobotTokens,
            "DeleteRobotToken" => Operation::DeleteRobotToken(input::<TokenIdInput>(b)?.token_id),
            "ListScannedImages" => Operation::ListScannedImages(input(b)?),
            "PutPullPolicy" => {
                let i: PullPolicyInput = input(b)?;
                let repo = repository(&i.repository_name, "repositoryName")?;
                Operation::PutPullPolicy(repo, pull_policy(i)?)
            }
            "GetPullPolicy" => {
                Operation::GetPullPolicy(repository(&input::<RepositoryInput>(b)?.repository_name, "repositoryName")?)
            }
            "RunLifecyclePolicy" => {
                let i: LifecycleRunInput = input(b)?;
                Operation::RunLifecyclePolicy(repository(&i.repository_name, "repositoryName")?, i.wait)
            }
            "ListAuditEvents" => Operation::ListAuditEvents(input(b)?),
            "GetVulnerabilityDatabase" => Operation::GetVulnerabilityDatabase,
            "RunGarbageCollection" => Operation::RunGarbageCollection,
            "GetGarbageCollectionStatus" => Operation::GetGarbageCollectionStatus,
            "EncryptExistingBlobs" => Operation::EncryptExistingBlobs,
            "ListJobs" => Operation::ListJobs(list_jobs_filter(input(b)?)?),
            "DescribeJob" => Operation::DescribeJob(input::<JobIdInput>(b)?.job_id),
            "CancelJob" => Operation::CancelJob(input::<JobIdInput>(b)?.job_id),
            "GetStorageUsage" => {
                let i: StorageUsageInput = input(b)?;
                let repo = i.repository_name.as_deref().map(|r| repository(r, "repositoryName")).transpose()?;
                Operation::GetStorageUsage(repo, i)
            }
            "GetUsageReport" => Operation::GetUsageReport(usage::range(&input(b)?)?),
            "PutQuota" => Operation::PutQuota(input(b)?),
            "ListQuotas" => Operation::ListQuotas,
            "DeleteQuota" => Operation::DeleteQuota(input::<QuotaPrefixInput>(b)?.prefix),
            "ListDeletedImages" => Operation::ListDeletedImages(repository(
                &input::<RepositoryInput>(b)?.repository_name,
                "repositoryName",
            )?),
            "RestoreImage" => {
                let (repo, digest) = input::<RestoreImageInput>(b)?.parse()?;
                Operation::RestoreImage(repo, digest)
            }
            "ListDeletedRepositories" => Operation::ListDeletedRepositories,
            "RestoreRepository" => Operation::RestoreRepository(repository(
                &input::<RepositoryInput>(b)?.repository_name,
                "repositoryName",
            )?),
            other => match signing::SigningOp::parse(other, b)? {
                Some(op) => Operation::Signing(op),
                None => {
                    return Err(AwsError::new(ErrorType::UnknownAdminOperation, format!("no operation {other:?}")));
                }
            },
        })
    }

    /// The permissions the operation needs (`docs/admin-api.md` lists them). Keys and robot tokens are
    /// decided on their owner; an unknown one on `*`, so that callers who may manage only some users' keys
    /// get the same refusal for a key that does not exist as for someone else's.
    async fn required(&self, id: &Identity) -> Result<Declared, AwsError> {
        let on = |action: &str, target: Target| Ok(Declared::All(vec![Required::new(action, target)]));
        let owner_or_any = |owner: Option<String>| owner.map_or(Target::Any, Target::User);
        match self {
            Operation::CreateUser(i) => on("berth:CreateUser", Target::User(i.user_name.clone())),
            Operation::ListUsers => on("berth:ListUsers", Target::Any),
            Operation::DeleteUser(u) => on("berth:DeleteUser", Target::User(u.clone())),
            Operation::SetUserPassword(i) => on("berth:SetUserPassword", Target::User(i.user_name.clone())),
            Operation::CreateAccessKey(u) => on("berth:CreateAccessKey", Target::User(u.clone())),
            Operation::ListAccessKeys(u) => on("berth:ListAccessKeys", u.clone().map_or(Target::Any, Target::User)),
            Operation::UpdateAccessKey(i) => on(
                "berth:UpdateAccessKey",
                owner_or_any(id.access_key_owner(&i.access_key_id).await.map_err(identity)?),
            ),
            Operation::DeleteAccessKey(k) => {
                on("berth:DeleteAccessKey", owner_or_any(id.access_key_owner(k).await.map_err(identity)?))
            }
            Operation::CreateGroup(g) => on("berth:CreateGroup", Target::Group(g.clone())),
            Operation::DeleteGroup(g) => on("berth:DeleteGroup", Target::Group(g.clone())),
            Operation::ListGroups => on("berth:ListGroups", Target::Any),
            Operation::AddUserToGroup(m) => on("berth:AddUserToGroup", Target::Group(m.group_name.clone())),
            Operation::RemoveUserFromGroup(m) => on("berth:RemoveUserFromGroup", Target::Group(m.group_name.clone())),
            Operation::PutPolicy(t, _) => Ok(Declared::All(vec![policy_permission(t, "Put")])),
            Operation::GetPolicy(t) => Ok(Declared::All(vec![policy_permission(t, "Get")])),
            Operation::DeletePolicy(t) => Ok(Declared::All(vec![policy_permission(t, "Delete")])),
            Operation::SetRepositoryVisibility(r, _) => {
                on("berth:SetRepositoryVisibility", Target::Repository(r.clone()))
            }
            Operation::GetLoginPassword => on("ecr:GetAuthorizationToken", Target::Any),
            Operation::CreateRobotToken(owner, _) => on("berth:CreateRobotToken", Target::User(owner.clone())),
            Operation::ListRobotTokens => on("berth:ListRobotTokens", Target::Any),
            Operation::DeleteRobotToken(t) => {
                on("berth:DeleteRobotToken", owner_or_any(id.robot_token_owner(t).await.map_err(identity)?))
            }
            Operation::ListScannedImages(_) => Ok(Declared::Filtered),
            Operation::PutPullPolicy(r, _) => on("berth:PutPullPolicy", Target::Repository(r.clone())),
            Operation::GetPullPolicy(r) => on("berth:GetPullPolicy", Target::Repository(r.clone())),
            Operation::RunLifecyclePolicy(r, _) => on("berth:RunLifecyclePolicy", Target::Repository(r.clone())),
            Operation::ListAuditEvents(_) => on("berth:ListAuditEvents", Target::Any),
            Operation::GetVulnerabilityDatabase => on("berth:GetVulnerabilityDatabase", Target::Any),
            Operation::RunGarbageCollection => on("berth:RunGarbageCollection", Target::Any),
            Operation::GetGarbageCollectionStatus => on("berth:GetGarbageCollectionStatus", Target::Any),
            Operation::EncryptExistingBlobs => on("berth:EncryptExistingBlobs", Target::Any),
            // Background jobs are the registry's work, whatever repository they are about.
            Operation::ListJobs(_) => on("berth:ListJobs", Target::Registry),
            Operation::DescribeJob(_) => on("berth:DescribeJob", Target::Registry),
            Operation::CancelJob(_) => on("berth:CancelJob", Target::Registry),
            // One repository's figures are the repository's; the registry's totals and the list of every
            // repository are the registry's.
            Operation::GetStorageUsage(repo, _) => {
                on("berth:GetStorageUsage", repo.clone().map_or(Target::Registry, Target::Repository))
            }
            Operation::PutQuota(_) => on("berth:PutQuota", Target::Registry),
            Operation::ListQuotas => on("berth:ListQuotas", Target::Registry),
            Operation::DeleteQuota(_) => on("berth:DeleteQuota", Target::Registry),
            // Deleted images are the repository's; the list of deleted repositories is the registry's.
            Operation::ListDeletedImages(r) => on("berth:ListDeletedImages", Target::Repository(r.clone())),
            Operation::RestoreImage(r, _) => on("berth:RestoreImage", Target::Repository(r.clone())),
            Operation::ListDeletedRepositories => on("berth:ListDeletedRepositories", Target::Registry),
            Operation::RestoreRepository(r) => on("berth:RestoreRepository", Target::Repository(r.clone())),
            // The report covers every repository and principal: the registry's, as the console's usage page.
            Operation::GetUsageReport(_) => on("berth:GetUsage", Target::Registry),
            Operation::Signing(op) => Ok(Declared::All(op.required())),
            // A subscription's filter may cover any repository: webhooks are the registry's.
            Operation::Webhook(w) => on(w.action(), Target::Registry),
        }
    }

    /// Whether the operation only reads (reads are not audited unless refused).
    fn reads(&self) -> bool {
        if let Operation::Signing(op) = self {
            return op.reads();
        }
        if let Operation::Webhook(w) = self {
            return w.reads();
        }
        matches!(
            self,
            Operation::ListUsers
                | Operation::ListAccessKeys(_)
                | Operation::ListGroups
                | Operation::GetPolicy(_)
                | Operation::GetLoginPassword
                | Operation::ListRobotTokens
                | Operation::ListScannedImages(_)
                | Operation::GetPullPolicy(_)
                | Operation::ListAuditEvents(_)
                | Operation::GetVulnerabilityDatabase
                | Operation::GetGarbageCollectionStatus
                | Operation::ListJobs(_)
                | Operation::DescribeJob(_)
                | Operation::GetStorageUsage(..)
                | Operation::ListQuotas
                | Operation::ListDeletedImages(_)
                | Operation::ListDeletedRepositories
                | Operation::GetUsageReport(_)
        )
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserOutput {
    user_name: String,
    admin: bool,
    created_at: i64,
    groups: Vec<String>,
    arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccessKeyOutput {
    access_key_id: String,
    user_name: String,
    status: &'static str,
    created_at: i64,
    last_used_at: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RobotTokenOutput {
    token_id: String,
    name: String,
    owner: String,
    expires_at: i64,
    created_at: i64,
    scope: Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditEventOutput {
    id: i64,
    at: i64,
    principal: String,
    action: String,
    resource: String,
    source_ip: String,
    outcome: String,
    status: u16,
    detail: Option<String>,
}

fn to_json(v: impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn user_output(id: &Identity, u: &berth_meta::identity::User, groups: Vec<String>) -> UserOutput {
    UserOutput {
        user_name: u.name.clone(),
        admin: u.is_admin,
        created_at: u.created_at,
        groups,
        arn: id.account().user_arn(&u.name),
    }
}

pub async fn admin(State(app): State<Arc<AppState>>, Path(op): Path<String>, req: Request) -> Response {
    let ip = client_ip(&req);
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return respond(Err(validation("request body too large or unreadable"))),
    };
    let caller = match crate::aws::authenticate(&app, &parts, &body, ip, &SIGNING).await {
        Ok(c) => c,
        Err(e) => return respond(Err(e)),
    };
    let result = async {
        let body = Value::Object(json_object(&body).map_err(|_| validation("the body must be a JSON object"))?);
        let operation = Operation::parse(&op, &body, &app.identity, &caller)?;
        // A known operation: metered by its name (an unknown one stays under the route).
        crate::meter::note_operation(format!("admin:{op}"));
        let required = match operation.required(&app.identity).await? {
            Declared::All(required) => required,
            Declared::Filtered => Vec::new(),
        };
        let authorized = crate::access::decide(&app, &caller, ip, &required).await.map_err(identity)?;
        let reads = operation.reads();
        let result = run(&app, &caller, &authorized, operation).await;
        if !reads {
            let (outcome, status) = match &result {
                Ok(_) => ("allowed", 200),
                Err(e) => ("error", e.kind.status().as_u16()),
            };
            audit(&app, &caller, &format!("berth:{op}"), "*", ip, outcome, status).await;
        }
        result
    }
    .await;
    respond(result)
}

/// Admin responses are `application/json`, errors included.
fn respond(result: AdminResult) -> Response {
    let mut resp = match result {
        Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
        Err(e) => e.into_response(),
    };
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

async fn run(app: &AppState, caller: &Caller, ok: &Authorized, op: Operation) -> AdminResult {
    let id = &app.identity;
    Ok(match op {
        Operation::CreateUser(i) => {
            let u = id.create_user(ok, caller, &i.user_name, i.password.as_deref(), i.admin).await.map_err(identity)?;
            json!({"user": user_output(id, &u, Vec::new())})
        }
        Operation::ListUsers => {
            let users = id.list_users(ok).await.map_err(identity)?;
            let users: Vec<UserOutput> = users.into_iter().map(|(u, g)| user_output(id, &u, g)).collect();
            json!({"users": users})
        }
        Operation::DeleteUser(name) => {
            id.delete_user(ok, caller, &name).await.map_err(identity)?;
            json!({})
        }
        Operation::SetUserPassword(i) => {
            id.set_password(ok, &i.user_name, i.password.as_deref()).await.map_err(identity)?;
            json!({})
        }
        Operation::CreateAccessKey(user) => {
            let (key, secret, user) = id.create_access_key(ok, &user).await.map_err(identity)?;
            json!({"accessKeyId": key, "secretAccessKey": secret.expose(), "userName": user})
        }
        Operation::ListAccessKeys(user) => {
            let keys = id.list_access_keys(ok, user.as_deref()).await.map_err(identity)?;
            let keys: Vec<AccessKeyOutput> = keys
                .into_iter()
                .map(|k| AccessKeyOutput {
                    access_key_id: k.id,
                    user_name: k.user,
                    status: if k.active { "Active" } else { "Inactive" },
                    created_at: k.created_at,
                    last_used_at: k.last_used_at,
                })
                .collect();
            json!({"accessKeys": keys})
        }
        Operation::UpdateAccessKey(i) => {
            let active = matches!(i.status, KeyStatus::Active);
            id.set_access_key_active(ok, &i.access_key_id, active).await.map_err(identity)?;
            json!({})
        }
        Operation::DeleteAccessKey(key) => {
            id.delete_access_key(ok, &key).await.map_err(identity)?;
            json!({})
        }
        Operation::CreateGroup(g) => {
            id.create_group(ok, &g).await.map_err(identity)?;
            json!({})
        }
        Operation::DeleteGroup(g) => {
            id.delete_group(ok, &g).await.map_err(identity)?;
            json!({})
        }
        Operation::ListGroups => {
            let groups = id.list_groups(ok).await.map_err(identity)?;
            json!({"groups": groups.iter().map(|(g, m)| json!({"groupName": g, "members": m})).collect::<Vec<_>>()})
        }
        Operation::AddUserToGroup(m) => {
            id.add_user_to_group(ok, &m.group_name, &m.user_name).await.map_err(identity)?;
            json!({})
        }
        Operation::RemoveUserFromGroup(m) => {
            id.remove_user_from_group(ok, &m.group_name, &m.user_name).await.map_err(identity)?;
            json!({})
        }
        Operation::PutPolicy(target, text) => {
            id.put_policy(ok, &target, &text).await.map_err(identity)?;
            json!({})
        }
        Operation::GetPolicy(target) => json!({"policyText": id.get_policy(ok, &target).await.map_err(identity)?}),
        Operation::DeletePolicy(target) => {
            id.delete_policy(ok, &target).await.map_err(identity)?;
            json!({})
        }
        Operation::SetRepositoryVisibility(repo, visibility) => {
            id.set_visibility(ok, &repo, visibility).await.map_err(identity)?;
            json!({})
        }
        Operation::GetLoginPassword => {
            let (password, expires_at) = id.login_password(ok, caller).await.map_err(identity)?;
            let user = caller.principal.label();
            json!({"password": password.expose(), "expiresAt": expires_at, "userName": user.trim_start_matches("user/")})
        }
        Operation::CreateRobotToken(owner, i) => {
            let ttl = i.expires_in_seconds.unwrap_or(24 * 3600);
            let (token_id, token, expires_at) =
                id.create_robot_token(ok, &owner, &i.name, &i.repositories, &i.actions, ttl).await.map_err(identity)?;
            json!({"tokenId": token_id, "token": token.expose(), "expiresAt": expires_at})
        }
        Operation::ListRobotTokens => {
            let tokens = id.list_robot_tokens(ok).await.map_err(identity)?;
            let tokens: Vec<RobotTokenOutput> = tokens
                .into_iter()
                .map(|t| RobotTokenOutput {
                    scope: serde_json::from_str(&t.scope).unwrap_or(Value::Null),
                    token_id: t.id,
                    name: t.name,
                    owner: t.owner,
                    expires_at: t.expires_at,
                    created_at: t.created_at,
                })
                .collect();
            json!({"robotTokens": tokens})
        }
        Operation::DeleteRobotToken(t) => {
            id.delete_robot_token(ok, &t).await.map_err(identity)?;
            json!({})
        }
        Operation::ListScannedImages(i) => list_scanned_images(app, caller, i).await?,
        Operation::PutPullPolicy(repo, policy) => {
            app.registry.set_pull_policy(&repo, policy.as_ref()).await.map_err(|e| registry_error(e, &repo))?;
            json!({})
        }
        Operation::GetPullPolicy(repo) => {
            match app.registry.pull_policy(&repo).await.map_err(|e| registry_error(e, &repo))? {
                Some(p) => json!({"minSeverity": p.min_severity.as_str(), "allow": p.allow}),
                None => json!({}),
            }
        }
        Operation::RunGarbageCollection => {
            // A `gc` job any node's worker picks up; `DescribeJob` follows it.
            let requested = app.registry.request_gc().await.map_err(|e| AwsError::server(&e))?;
            json!({ "request": requested.request, "jobId": requested.job_id })
        }
        Operation::GetGarbageCollectionStatus => jobs::gc_status(app).await?,
        Operation::EncryptExistingBlobs => {
            // An `encrypt-existing` job (the live one if queued or running already); `DescribeJob` follows it.
            let job_id = app.registry.request_encrypt_existing().await.map_err(|e| AwsError::server(&e))?;
            json!({ "jobId": job_id })
        }
        Operation::RunLifecyclePolicy(repo, wait) => {
            // Checked now so that a missing repository or policy is the caller's error, not a failed job.
            app.registry.lifecycle_policy(&repo).await.map_err(|e| registry_error(e, &repo))?;
            let spec = berth_registry::lifecycle::lifecycle_job(&repo, &caller.principal.label());
            let id = app.registry.enqueue_job(&spec).await.map_err(|e| AwsError::server(&e))?.id().unwrap_or_default();
            if !wait {
                return Ok(json!({"status": "STARTED", "jobId": id}));
            }
            jobs::run_outcome(app, id).await?
        }
        Operation::GetVulnerabilityDatabase => {
            // The database imported (the registry's, shared by every node) and the one this node has loaded.
            let imported = app.registry.imported_vulndb().await.map_err(|e| AwsError::server(&e))?;
            let loaded = app.registry.vulndb().map(|(db, _)| db);
            let shown = |db: Option<berth_registry::scanning::ImportedDb>| {
                db.map(|d| json!({"digest": d.blob, "source": d.source, "importedAt": d.imported_at, "advisories": d.records}))
            };
            json!({"imported": shown(imported), "loadedByThisNode": shown(loaded)})
        }
        Operation::ListJobs(filter) => jobs::list(app, &filter).await?,
        Operation::DescribeJob(id) => jobs::describe(app, id).await?,
        Operation::CancelJob(id) => jobs::cancel(app, id).await?,
        Operation::GetStorageUsage(repo, i) => storage::usage(app, repo, i).await?,
        Operation::PutQuota(i) => storage::put_quota(app, i).await?,
        Operation::ListQuotas => storage::list_quotas(app).await?,
        Operation::DeleteQuota(prefix) => storage::delete_quota(app, &prefix).await?,
        Operation::ListDeletedImages(repo) => deleted::list_images(app, &repo).await?,
        Operation::RestoreImage(repo, digest) => deleted::restore_image(app, &repo, &digest).await?,
        Operation::ListDeletedRepositories => deleted::list_repositories(app).await?,
        Operation::RestoreRepository(repo) => deleted::restore_repository(app, &repo).await?,
        Operation::GetUsageReport(r) => usage::report(app, r).await?,
        Operation::Signing(op) => op.run(app).await?,
        Operation::Webhook(w) => webhooks::run(app, caller.principal.label(), w).await?,
        Operation::ListAuditEvents(i) => {
            let limit = i.limit.unwrap_or(100).min(1000) as u32;
            let events = id.list_audit(ok, i.after, limit).await.map_err(identity)?;
            let next = (events.len() as u32 == limit).then(|| events.last().map(|e| e.id)).flatten();
            let events: Vec<AuditEventOutput> = events
                .into_iter()
                .map(|e| AuditEventOutput {
                    id: e.id,
                    at: e.at,
                    principal: e.principal,
                    action: e.action,
                    resource: e.resource,
                    source_ip: e.source_ip,
                    outcome: e.outcome,
                    status: e.status,
                    detail: e.detail,
                })
                .collect();
            let mut out = json!({"events": events});
            if let Some(n) = next {
                out["nextAfter"] = json!(n);
            }
            out
        }
    })
}

/// `ListScannedImages`: images affected by an advisory (`vulnerabilityId`, an OSV id or an alias such as a
/// CVE id) or containing a package (`package`, binary or source name), among the repositories whose scan
/// findings the caller may read (`ecr:DescribeImageScanFindings`, decided per repository as listed).
async fn list_scanned_images(app: &AppState, caller: &Caller, i: ScannedImagesInput) -> AdminResult {
    let limit = i.limit.unwrap_or(1000).clamp(1, 10_000) as u32;
    let registry = &app.registry;
    let hits = match (i.vulnerability_id.as_deref(), i.package.as_deref()) {
        (Some(id), None) => registry.images_affected_by(id, limit).await,
        (None, Some(name)) => registry.images_with_package(name, limit).await,
        _ => return Err(validation("give exactly one of vulnerabilityId and package")),
    }
    .map_err(|e| AwsError::server(&e))?;
    let mut images = Vec::new();
    for hit in hits {
        let resource = berth_identity::Resource::Repository(&hit.repository);
        if app.identity.is_allowed(caller, "ecr:DescribeImageScanFindings", &resource).await.map_err(identity)? {
            images.push(json!({"repositoryName": hit.repository.as_str(), "imageDigest": hit.digest.to_string(), "detail": hit.detail}));
        }
    }
    Ok(to_json(json!({"images": images})))
}

fn registry_error(e: berth_registry::RegistryError, repo: &RepositoryName) -> AwsError {
    match e {
        berth_registry::RegistryError::NameUnknown => {
            AwsError::new(ErrorType::RepositoryNotFound, format!("repository {repo} does not exist"))
        }
        berth_registry::RegistryError::LifecyclePolicyNotFound => {
            AwsError::new(ErrorType::NoSuchEntity, format!("repository {repo} has no lifecycle policy"))
        }
        e @ berth_registry::RegistryError::LifecyclePolicyInvalid(_) => {
            AwsError::new(ErrorType::Validation, e.to_string())
        }
        other => AwsError::server(&other),
    }
}
