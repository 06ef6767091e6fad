//! The permission matrix: every route of every surface (`/v2`, `/token`, the ECR API, the admin API) ×
//! every kind of caller × a private, a public and a pull-policy-gated repository (and `berth login`'s
//! `/auth/v1/Login`, and the web console's routes with a signed-in session), each cell asserted
//! against one model of who may do what ([`expected`]).
//!
//! **A new route gets its row here** ([`v2_routes`], [`ecr_operations`], [`admin_operations`],
//! [`console_routes`], [`console_admin_routes`]), with the
//! ECR action and resource it is decided on. A cell is classified from the response alone: refused by
//! the access decision, refused by the pull policy, or let through (whatever the handler then answered).

use std::collections::BTreeSet;

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

use crate::scanning::{findings_when_evaluated, import, push_fixture};
use crate::support::*;

const PULL: [&str; 4] =
    ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability", "ecr:ListImages"];
const PUSH: [&str; 5] = [
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchCheckLayerAvailability",
];
const DELETE: [&str; 1] = ["ecr:BatchDeleteImage"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Private,
    Public,
    Gated,
}

impl Kind {
    fn repo(self) -> &'static str {
        match self {
            Kind::Private => "m/private",
            Kind::Public => "m/public",
            Kind::Gated => "m/gated",
        }
    }
}

/// A repository under `m/` that does not exist (for operations that would change the matrix's own).
const SCRATCH: &str = "m/scratch";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    NoPolicy,
    Puller,
    Pusher,
    Denied,
    Robot,
    Bearer,
    Admin,
}

const EVERYONE: [Who; 8] =
    [Who::Anonymous, Who::NoPolicy, Who::Puller, Who::Pusher, Who::Denied, Who::Robot, Who::Bearer, Who::Admin];

/// What a request acts on, for the model.
#[derive(Clone, Copy, Debug)]
enum On {
    /// A repository of the given kind (the scratch repository is private).
    Repo(Kind),
    /// The registry, users, groups, or `*`.
    Registry,
}

/// The model: whether the policies allow `who` the `action` on `on` (the pull policy is a separate
/// refusal). Puller and pusher are allowed the pull (and push) actions on `m/*`; denied is allowed
/// `ecr:*` everywhere but explicitly denied `ecr:*` on `m/*`; the robot token is limited to pull and push
/// on `m/*`; the bearer token was issued to the pusher; a public repository lets everyone pull.
fn expected(who: Who, action: &str, on: On) -> bool {
    let public_pull = matches!(on, On::Repo(Kind::Public)) && PULL.contains(&action);
    let in_m = matches!(on, On::Repo(_));
    match who {
        Who::Admin => true,
        Who::Anonymous | Who::NoPolicy => public_pull,
        Who::Puller => public_pull || (in_m && PULL.contains(&action)),
        Who::Pusher | Who::Robot | Who::Bearer => {
            public_pull || (in_m && (PULL.contains(&action) || PUSH.contains(&action)))
        }
        Who::Denied => !in_m && action.starts_with("ecr:"),
    }
}

/// What a cell turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Refused,
    Gated,
    Through,
}

/// The callers, with what they present.
struct Callers {
    keys: Vec<(Who, (String, String))>,
    robot: String,
    bearer: String,
}

impl Callers {
    fn key(&self, who: Who) -> Option<(&str, &str)> {
        self.keys.iter().find(|(w, _)| *w == who).map(|(_, (id, secret))| (id.as_str(), secret.as_str()))
    }

    /// The `authorization` header `who` sends to `/v2` and `/token`.
    fn v2_auth(&self, who: Who) -> Option<String> {
        use base64::Engine as _;
        let basic = |u: &str, p: &str| {
            Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))))
        };
        match who {
            Who::Anonymous => None,
            Who::Robot => basic("robot", &self.robot),
            Who::Bearer => Some(format!("Bearer {}", self.bearer)),
            Who::Admin => basic("admin", ADMIN_PASSWORD),
            other => basic(name(other), &format!("{}-password", name(other))),
        }
    }
}

fn name(who: Who) -> &'static str {
    match who {
        Who::NoPolicy => "nopolicy",
        Who::Puller => "puller",
        Who::Pusher => "pusher",
        Who::Denied => "denied",
        _ => unreachable!("not a user"),
    }
}

async fn setup(s: &Server) -> (Callers, Value) {
    let m = "arn:aws:ecr:*:*:repository/m/*";
    let pull_push = [&PULL[..], &PUSH[..]].concat();
    let users: [(Who, Value); 4] = [
        (Who::NoPolicy, json!([])),
        (Who::Puller, json!([{"Effect": "Allow", "Action": PULL, "Resource": m}])),
        (Who::Pusher, json!([{"Effect": "Allow", "Action": pull_push, "Resource": m}])),
        (
            Who::Denied,
            json!([{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"},
                   {"Effect": "Deny", "Action": "ecr:*", "Resource": m}]),
        ),
    ];
    let mut keys = vec![(Who::Admin, (ADMIN_KEY.0.to_string(), ADMIN_KEY.1.to_string()))];
    for (who, statements) in users {
        let n = name(who);
        s.admin("CreateUser", json!({"userName": n, "password": format!("{n}-password")})).await;
        if statements != json!([]) {
            let doc = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
            s.admin("PutPolicy", json!({"target": {"user": n}, "policyText": doc})).await;
        }
        let k = s.admin("CreateAccessKey", json!({"userName": n})).await;
        keys.push((who, (k["accessKeyId"].as_str().unwrap().into(), k["secretAccessKey"].as_str().unwrap().into())));
    }
    let robot = s
        .admin(
            "CreateRobotToken",
            json!({"name": "matrix", "repositories": ["m/*"], "actions": ["pull", "push"], "expiresInSeconds": 3600}),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    // The pusher's token for every matrix repository.
    let scopes: Vec<String> = [Kind::Private.repo(), Kind::Public.repo(), Kind::Gated.repo(), SCRATCH]
        .iter()
        .map(|r| format!("scope=repository:{r}:pull,push,delete"))
        .collect();
    let r = client_as("pusher", "pusher-password")
        .get(s.url(&format!("/token?service=berth&{}", scopes.join("&"))))
        .send()
        .await
        .unwrap();
    let bearer = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();

    s.push_image(Kind::Private.repo(), "v1", b"matrix private layer").await;
    s.push_image(Kind::Public.repo(), "v1", b"matrix public layer").await;
    s.admin("SetRepositoryVisibility", json!({"repositoryName": Kind::Public.repo(), "visibility": "public"})).await;
    // The gated repository holds an image with findings that its pull policy refuses.
    import(s, &["Debian", "PyPI"]);
    let create = json!({"repositoryName": Kind::Gated.repo(), "imageScanningConfiguration": {"scanOnPush": true}});
    let target = ("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.CreateRepository");
    assert_eq!(s.signed_post(Some(ADMIN_KEY), "ecr", "/", &[target], &create).await.status(), StatusCode::OK);
    let (digest, layers) = push_fixture(s, Kind::Gated.repo(), "v1").await;
    findings_when_evaluated(s, &format!("{}@{digest}", Kind::Gated.repo()), |v| {
        v["imageScanFindings"]["findingSeverityCounts"].as_object().is_some_and(|c| !c.is_empty())
    });
    s.admin("PutPullPolicy", json!({"repositoryName": Kind::Gated.repo(), "minSeverity": "LOW"})).await;
    assert_eq!(s.get("/v2/m/gated/manifests/v1").await.status(), StatusCode::FORBIDDEN, "the gate is closed");
    let mut layer_of = json!({});
    for kind in [Kind::Private, Kind::Public] {
        let m: Value = s.get(&format!("/v2/{}/manifests/v1", kind.repo())).await.json().await.unwrap();
        layer_of[kind.repo()] = m["layers"][0]["digest"].clone();
    }
    layer_of[Kind::Gated.repo()] = json!(layers[0]);
    (Callers { keys, robot, bearer }, layer_of)
}

/// Classifies a `/v2` or `/token` response.
async fn v2_outcome(r: Response) -> Outcome {
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    let message = body["errors"][0]["message"].as_str().unwrap_or("");
    match status {
        StatusCode::UNAUTHORIZED => Outcome::Refused,
        StatusCode::FORBIDDEN if message.contains("pull policy") => Outcome::Gated,
        StatusCode::FORBIDDEN => Outcome::Refused,
        _ => Outcome::Through,
    }
}

/// Classifies an ECR or admin API response.
async fn aws_outcome(r: Response) -> Outcome {
    let body: Value = r.json().await.unwrap_or(Value::Null);
    let kind = body["__type"].as_str().unwrap_or("");
    let message = body["message"].as_str().unwrap_or("");
    let failures = body["failures"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if kind == "AccessDeniedException" && message.contains("pull policy")
        || failures.iter().any(|f| f["failureCode"] == "ImageInaccessible")
    {
        return Outcome::Gated;
    }
    let refusals = [
        "AccessDeniedException",
        "MissingAuthenticationTokenException",
        "InvalidSignatureException",
        "UnrecognizedClientException",
    ];
    if refusals.contains(&kind) { Outcome::Refused } else { Outcome::Through }
}

/// What a route should answer for `who`, from the model: refused, gated, or through.
fn want(who: Who, action: &str, on: On, hands_out_content: bool) -> Outcome {
    if !expected(who, action, on) {
        Outcome::Refused
    } else if hands_out_content && matches!(on, On::Repo(Kind::Gated)) {
        Outcome::Gated
    } else {
        Outcome::Through
    }
}

/// `/v2` rows: (method, path, action, hands out content).
fn v2_routes(repo: &str, layer: &str) -> Vec<(&'static str, String, &'static str, bool)> {
    let unknown = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    vec![
        ("GET", format!("/v2/{repo}/tags/list"), "ecr:ListImages", false),
        ("GET", format!("/v2/{repo}/manifests/v1"), "ecr:BatchGetImage", true),
        ("HEAD", format!("/v2/{repo}/manifests/v1"), "ecr:BatchGetImage", true),
        ("PUT", format!("/v2/{repo}/manifests/pushed"), "ecr:PutImage", false),
        ("DELETE", format!("/v2/{repo}/manifests/no-such-tag"), "ecr:BatchDeleteImage", false),
        ("GET", format!("/v2/{repo}/blobs/{layer}"), "ecr:GetDownloadUrlForLayer", true),
        ("HEAD", format!("/v2/{repo}/blobs/{layer}"), "ecr:GetDownloadUrlForLayer", true),
        ("DELETE", format!("/v2/{repo}/blobs/{unknown}"), "ecr:BatchDeleteImage", false),
        ("POST", format!("/v2/{repo}/blobs/uploads/"), "ecr:InitiateLayerUpload", false),
        ("PATCH", format!("/v2/{repo}/blobs/uploads/no-such-upload"), "ecr:UploadLayerPart", false),
        ("PUT", format!("/v2/{repo}/blobs/uploads/no-such-upload?digest={unknown}"), "ecr:CompleteLayerUpload", false),
        ("GET", format!("/v2/{repo}/blobs/uploads/no-such-upload"), "ecr:UploadLayerPart", false),
        ("DELETE", format!("/v2/{repo}/blobs/uploads/no-such-upload"), "ecr:UploadLayerPart", false),
        ("GET", format!("/v2/{repo}/referrers/{unknown}"), "ecr:BatchGetImage", false),
    ]
}

/// A valid lifecycle policy (ECR wants at least 100 characters).
const LIFECYCLE_POLICY: &str = r#"{"rules": [{"rulePriority": 1, "description": "keep ten untagged images", "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 10}, "action": {"type": "expire"}}]}"#;

/// ECR rows: (operation, input, action's resource, hands out content). Operations that change things act
/// on [`SCRATCH`] or change nothing the other cells see.
fn ecr_operations(repo: &str, kind: Kind, layer: &str) -> Vec<(&'static str, Value, On, bool)> {
    let r = On::Repo(kind);
    let scratch = On::Repo(Kind::Private);
    let harmless_registry_policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "ecr:*",
        "Principal": {"AWS": "arn:aws:iam::000000000000:user/nobody"}}]})
    .to_string();
    let arn = format!("arn:aws:ecr:us-east-1:000000000000:repository/{repo}");
    let v1 = json!([{"imageTag": "v1"}]);
    vec![
        ("GetAuthorizationToken", json!({}), On::Registry, false),
        ("CreateRepository", json!({"repositoryName": format!("{SCRATCH}/new")}), scratch, false),
        ("DescribeRepositories", json!({"repositoryNames": [repo]}), r, false),
        ("DeleteRepository", json!({"repositoryName": SCRATCH}), scratch, false),
        ("ListImages", json!({"repositoryName": repo}), r, false),
        ("DescribeImages", json!({"repositoryName": repo}), r, false),
        ("BatchGetImage", json!({"repositoryName": repo, "imageIds": v1}), r, true),
        ("BatchDeleteImage", json!({"repositoryName": repo, "imageIds": [{"imageTag": "no-such-tag"}]}), r, false),
        ("PutImage", json!({"repositoryName": SCRATCH, "imageManifest": "{}", "imageTag": "t"}), scratch, false),
        ("SetRepositoryPolicy", json!({"repositoryName": SCRATCH, "policyText": "{}"}), scratch, false),
        ("GetRepositoryPolicy", json!({"repositoryName": repo}), r, false),
        ("DeleteRepositoryPolicy", json!({"repositoryName": SCRATCH}), scratch, false),
        ("PutRegistryPolicy", json!({"policyText": harmless_registry_policy}), On::Registry, false),
        ("GetRegistryPolicy", json!({}), On::Registry, false),
        ("DeleteRegistryPolicy", json!({}), On::Registry, false),
        ("TagResource", json!({"resourceArn": arn, "tags": [{"Key": "k", "Value": "v"}]}), r, false),
        ("UntagResource", json!({"resourceArn": arn, "tagKeys": ["k"]}), r, false),
        ("ListTagsForResource", json!({"resourceArn": arn}), r, false),
        ("PutImageTagMutability", json!({"repositoryName": SCRATCH, "imageTagMutability": "MUTABLE"}), scratch, false),
        (
            "PutImageScanningConfiguration",
            json!({"repositoryName": SCRATCH, "imageScanningConfiguration": {"scanOnPush": false}}),
            scratch,
            false,
        ),
        ("BatchCheckLayerAvailability", json!({"repositoryName": repo, "layerDigests": [layer]}), r, false),
        ("InitiateLayerUpload", json!({"repositoryName": repo}), r, false),
        (
            "UploadLayerPart",
            json!({"repositoryName": repo, "uploadId": "00000000-0000-0000-0000-000000000000",
                   "partFirstByte": 0, "partLastByte": 0, "layerPartBlob": "AA=="}),
            r,
            false,
        ),
        (
            "CompleteLayerUpload",
            json!({"repositoryName": repo, "uploadId": "00000000-0000-0000-0000-000000000000", "layerDigests": [layer]}),
            r,
            false,
        ),
        ("GetDownloadUrlForLayer", json!({"repositoryName": repo, "layerDigest": layer}), r, true),
        ("ListImageReferrers", json!({"repositoryName": repo, "subjectId": {"imageDigest": layer}}), r, false),
        ("DescribeRegistry", json!({}), On::Registry, false),
        ("GetAccountSetting", json!({"name": "BLOB_MOUNTING"}), On::Registry, false),
        ("PutAccountSetting", json!({"name": "BLOB_MOUNTING", "value": "ENABLED"}), On::Registry, false),
        ("GetRegistryScanningConfiguration", json!({}), On::Registry, false),
        ("StartImageScan", json!({"repositoryName": SCRATCH, "imageId": {"imageTag": "v1"}}), scratch, false),
        ("DescribeImageScanFindings", json!({"repositoryName": repo, "imageId": {"imageTag": "v1"}}), r, false),
        ("BatchGetRepositoryScanningConfiguration", json!({"repositoryNames": [repo]}), r, false),
        (
            "PutLifecyclePolicy",
            json!({"repositoryName": SCRATCH, "lifecyclePolicyText": LIFECYCLE_POLICY}),
            scratch,
            false,
        ),
        ("GetLifecyclePolicy", json!({"repositoryName": repo}), r, false),
        ("DeleteLifecyclePolicy", json!({"repositoryName": SCRATCH}), scratch, false),
        ("StartLifecyclePolicyPreview", json!({"repositoryName": SCRATCH}), scratch, false),
        ("GetLifecyclePolicyPreview", json!({"repositoryName": repo}), r, false),
    ]
}

/// Admin rows: (operation, input, action, resource). Each changes nothing the other cells see.
fn admin_operations(repo: &str, kind: Kind, n: usize) -> Vec<(&'static str, Value, &'static str, On)> {
    let visibility = if kind == Kind::Public { "public" } else { "private" };
    let r = On::Repo(kind);
    let scratch = On::Repo(Kind::Private);
    vec![
        ("CreateUser", json!({"userName": format!("made-{n}")}), "berth:CreateUser", On::Registry),
        ("ListUsers", json!({}), "berth:ListUsers", On::Registry),
        ("DeleteUser", json!({"userName": "nobody"}), "berth:DeleteUser", On::Registry),
        (
            "SetUserPassword",
            json!({"userName": "nobody", "password": "long-enough"}),
            "berth:SetUserPassword",
            On::Registry,
        ),
        ("CreateAccessKey", json!({"userName": "nobody"}), "berth:CreateAccessKey", On::Registry),
        ("ListAccessKeys", json!({}), "berth:ListAccessKeys", On::Registry),
        (
            "UpdateAccessKey",
            json!({"accessKeyId": "BKIANOSUCHKEY0000000", "status": "Active"}),
            "berth:UpdateAccessKey",
            On::Registry,
        ),
        ("DeleteAccessKey", json!({"accessKeyId": "BKIANOSUCHKEY0000000"}), "berth:DeleteAccessKey", On::Registry),
        ("CreateGroup", json!({"groupName": format!("group-{n}")}), "berth:CreateGroup", On::Registry),
        ("DeleteGroup", json!({"groupName": "nogroup"}), "berth:DeleteGroup", On::Registry),
        ("ListGroups", json!({}), "berth:ListGroups", On::Registry),
        ("AddUserToGroup", json!({"groupName": "nogroup", "userName": "nobody"}), "berth:AddUserToGroup", On::Registry),
        (
            "RemoveUserFromGroup",
            json!({"groupName": "nogroup", "userName": "nobody"}),
            "berth:RemoveUserFromGroup",
            On::Registry,
        ),
        (
            "PutPolicy",
            json!({"target": {"user": "nobody"}, "policyText": "{\"Version\":\"2012-10-17\",\"Statement\":[]}"}),
            "berth:PutUserPolicy",
            On::Registry,
        ),
        ("GetPolicy", json!({"target": {"registry": true}}), "ecr:GetRegistryPolicy", On::Registry),
        ("GetPolicy", json!({"target": {"repository": repo}}), "ecr:GetRepositoryPolicy", r),
        ("DeletePolicy", json!({"target": {"user": "nobody"}}), "berth:DeleteUserPolicy", On::Registry),
        (
            "SetRepositoryVisibility",
            json!({"repositoryName": repo, "visibility": visibility}),
            "berth:SetRepositoryVisibility",
            r,
        ),
        ("GetLoginPassword", json!({}), "ecr:GetAuthorizationToken", On::Registry),
        ("ListRobotTokens", json!({}), "berth:ListRobotTokens", On::Registry),
        ("DeleteRobotToken", json!({"tokenId": "nosuchtoken"}), "berth:DeleteRobotToken", On::Registry),
        ("PutPullPolicy", json!({"repositoryName": SCRATCH}), "berth:PutPullPolicy", scratch),
        ("GetPullPolicy", json!({"repositoryName": repo}), "berth:GetPullPolicy", r),
        // The matrix's repositories have no lifecycle policy: a run that gets through changes nothing.
        ("RunLifecyclePolicy", json!({"repositoryName": repo, "wait": true}), "berth:RunLifecyclePolicy", r),
        ("ListAuditEvents", json!({"limit": 1}), "berth:ListAuditEvents", On::Registry),
        ("GetVulnerabilityDatabase", json!({}), "berth:GetVulnerabilityDatabase", On::Registry),
        ("RunGarbageCollection", json!({}), "berth:RunGarbageCollection", On::Registry),
        ("GetGarbageCollectionStatus", json!({}), "berth:GetGarbageCollectionStatus", On::Registry),
        ("ListJobs", json!({"limit": 1}), "berth:ListJobs", On::Registry),
        ("DescribeJob", json!({"jobId": 999_999_999}), "berth:DescribeJob", On::Registry),
        ("CancelJob", json!({"jobId": 999_999_999}), "berth:CancelJob", On::Registry),
        ("GetStorageUsage", json!({"repositoryName": repo}), "berth:GetStorageUsage", r),
        ("GetStorageUsage", json!({}), "berth:GetStorageUsage", On::Registry),
        // A limit no push of the matrix comes near, on a namespace it does not use.
        ("PutQuota", json!({"prefix": "quota-matrix/", "limitBytes": 1u64 << 50}), "berth:PutQuota", On::Registry),
        ("ListQuotas", json!({}), "berth:ListQuotas", On::Registry),
        ("DeleteQuota", json!({"prefix": "quota-matrix-none/"}), "berth:DeleteQuota", On::Registry),
    ]
}

/// A console row: (method, path, form, actions all needed, resource). No action: a signed-in user and
/// nothing else.
type ConsoleRow = (&'static str, String, Vec<(&'static str, String)>, Vec<&'static str>, On);

/// Console rows on a repository. Changes act on [`SCRATCH`] or change nothing the other cells see.
fn console_routes(repo: &str, kind: Kind, n: usize, digest: &str) -> Vec<ConsoleRow> {
    let r = On::Repo(kind);
    let scratch = On::Repo(Kind::Private);
    let visibility = if kind == Kind::Public { "public" } else { "private" };
    let at = |rest: &str| format!("/console/repositories/{rest}");
    vec![
        ("GET", "/console/".into(), vec![], vec![], On::Registry),
        ("GET", "/console/?prefix=m/".into(), vec![], vec![], On::Registry),
        ("GET", at("new"), vec![], vec![], On::Registry),
        (
            "POST",
            "/console/repositories".into(),
            vec![("name", format!("{SCRATCH}/console-{n}"))],
            vec!["ecr:CreateRepository"],
            scratch,
        ),
        ("GET", at(repo), vec![], vec!["ecr:DescribeRepositories", "ecr:DescribeImages"], r),
        ("GET", at(&format!("{repo}/-/push-commands")), vec![], vec!["ecr:DescribeRepositories"], r),
        ("GET", at(&format!("{SCRATCH}/-/delete")), vec![], vec!["ecr:DeleteRepository"], scratch),
        (
            "POST",
            at(&format!("{SCRATCH}/-/delete")),
            vec![("confirm", SCRATCH.into())],
            vec!["ecr:DeleteRepository"],
            scratch,
        ),
        (
            "POST",
            at(&format!("{SCRATCH}/-/settings")),
            vec![("tag_mutability", "MUTABLE".into())],
            vec!["ecr:PutImageTagMutability"],
            scratch,
        ),
        (
            "POST",
            at(&format!("{SCRATCH}/-/settings")),
            vec![("scan_on_push", "false".into())],
            vec!["ecr:PutImageScanningConfiguration"],
            scratch,
        ),
        (
            "POST",
            at(&format!("{repo}/-/settings")),
            vec![("visibility", visibility.into())],
            vec!["berth:SetRepositoryVisibility"],
            r,
        ),
        // An image's page (its findings shown where ecr:DescribeImageScanFindings is allowed), the SBOM
        // download, deleting an image, the gallery description.
        ("GET", at(&format!("{repo}/-/images/{digest}")), vec![], vec!["ecr:DescribeImages", "ecr:BatchGetImage"], r),
        (
            "GET",
            at(&format!("{repo}/-/images/{digest}?severity=HIGH&sort=package&order=desc")),
            vec![],
            vec!["ecr:DescribeImages", "ecr:BatchGetImage"],
            r,
        ),
        (
            "GET",
            at(&format!("{repo}/-/images/{digest}/sbom")),
            vec![],
            vec!["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            r,
        ),
        ("POST", at(&format!("{SCRATCH}/-/images/{digest}/delete")), vec![], vec!["ecr:BatchDeleteImage"], scratch),
        (
            "POST",
            at(&format!("{SCRATCH}/-/catalog")),
            vec![("description", "matrix".into())],
            vec!["ecr:PutRepositoryCatalogData"],
            scratch,
        ),
        // The repository list's filters; creating with resource tags; the Settings and Permissions tabs.
        (
            "GET",
            "/console/?prefix=m/&visibility=public&scan_on_push=false&mutability=MUTABLE".into(),
            vec![],
            vec![],
            On::Registry,
        ),
        (
            "POST",
            "/console/repositories".into(),
            vec![("name", format!("{SCRATCH}/console-tagged-{n}")), ("tags", "team=matrix".into())],
            vec!["ecr:CreateRepository", "ecr:TagResource"],
            scratch,
        ),
        ("GET", at(&format!("{repo}/-/settings")), vec![], vec!["ecr:DescribeRepositories"], r),
        (
            "POST",
            at(&format!("{repo}/-/settings")),
            vec![("tag_mutability", "MUTABLE".into()), ("exclusions", "not/a/filter".into())],
            vec!["ecr:DescribeRepositories"],
            r,
        ),
        (
            "POST",
            at(&format!("{SCRATCH}/-/settings")),
            vec![("pull_severity", String::new())],
            vec!["berth:PutPullPolicy"],
            scratch,
        ),
        (
            "GET",
            at(&format!("{repo}/-/permissions")),
            vec![],
            vec!["ecr:DescribeRepositories", "ecr:GetRepositoryPolicy"],
            r,
        ),
        (
            "POST",
            at(&format!("{SCRATCH}/-/permissions")),
            vec![("policy", "{}".into())],
            vec!["ecr:SetRepositoryPolicy"],
            scratch,
        ),
        ("POST", at(&format!("{SCRATCH}/-/permissions/delete")), vec![], vec!["ecr:DeleteRepositoryPolicy"], scratch),
    ]
}

/// Console rows of the administration pages and the usage report (on no repository). Forms name users,
/// groups, keys and tokens that do not exist, or change nothing the other cells see.
fn console_admin_routes(n: usize) -> Vec<ConsoleRow> {
    let at = |rest: &str| format!("/console/admin{rest}");
    let f = |pairs: &[(&'static str, &str)]| pairs.iter().map(|(k, v)| (*k, v.to_string())).collect::<Vec<_>>();
    let reg = On::Registry;
    vec![
        // The overview opens for anyone who may open one of its sections; under this model only `ecr:*`
        // (the registry settings and policy) grants one to someone other than the administrator.
        ("GET", at(""), vec![], vec!["ecr:GetRegistryScanningConfiguration"], reg),
        ("GET", at("/users"), vec![], vec!["berth:ListUsers"], reg),
        ("GET", at("/user?name=nopolicy"), vec![], vec!["berth:ListUsers", "berth:ListAccessKeys"], reg),
        ("POST", at("/users/create"), f(&[("name", &format!("console-made-{n}"))]), vec!["berth:CreateUser"], reg),
        (
            "POST",
            at("/user/password"),
            f(&[("name", "nobody"), ("password", "long-enough")]),
            vec!["berth:SetUserPassword"],
            reg,
        ),
        ("POST", at("/user/delete"), f(&[("name", "nobody"), ("confirm", "nobody")]), vec!["berth:DeleteUser"], reg),
        ("POST", at("/user/keys/create"), f(&[("name", "nobody")]), vec!["berth:CreateAccessKey"], reg),
        (
            "POST",
            at("/user/keys/status"),
            f(&[("name", "nobody"), ("key", "BKIANOSUCHKEY0000000"), ("active", "false")]),
            vec!["berth:UpdateAccessKey"],
            reg,
        ),
        (
            "POST",
            at("/user/keys/delete"),
            f(&[("name", "nobody"), ("key", "BKIANOSUCHKEY0000000")]),
            vec!["berth:DeleteAccessKey"],
            reg,
        ),
        ("GET", at("/groups"), vec![], vec!["berth:ListGroups"], reg),
        ("POST", at("/groups/create"), f(&[("group", &format!("console-group-{n}"))]), vec!["berth:CreateGroup"], reg),
        ("POST", at("/group/delete"), f(&[("group", "nogroup")]), vec!["berth:DeleteGroup"], reg),
        (
            "POST",
            at("/group/members/add"),
            f(&[("group", "nogroup"), ("user", "nobody")]),
            vec!["berth:AddUserToGroup"],
            reg,
        ),
        (
            "POST",
            at("/group/members/remove"),
            f(&[("group", "nogroup"), ("user", "nobody")]),
            vec!["berth:RemoveUserFromGroup"],
            reg,
        ),
        ("GET", at("/policy?user=nopolicy"), vec![], vec!["berth:GetUserPolicy"], reg),
        ("GET", at("/policy?registry=1"), vec![], vec!["ecr:GetRegistryPolicy"], reg),
        ("POST", at("/policy/put"), f(&[("group", "nogroup"), ("document", "{}")]), vec!["berth:PutGroupPolicy"], reg),
        ("POST", at("/policy/delete"), f(&[("group", "nogroup")]), vec!["berth:DeleteGroupPolicy"], reg),
        ("GET", at("/tokens"), vec![], vec!["berth:ListRobotTokens"], reg),
        (
            "POST",
            at("/tokens/create"),
            f(&[
                ("owner", "admin"),
                ("name", "console"),
                ("repositories", SCRATCH),
                ("pull", "true"),
                ("expires_days", "1"),
            ]),
            vec!["berth:CreateRobotToken"],
            reg,
        ),
        (
            "POST",
            at("/tokens/revoke"),
            f(&[("owner", "admin"), ("token", "nosuchtoken")]),
            vec!["berth:DeleteRobotToken"],
            reg,
        ),
        ("GET", at("/audit?principal=admin"), vec![], vec!["berth:ListAuditEvents"], reg),
        ("GET", at("/settings"), vec![], vec!["ecr:GetRegistryScanningConfiguration", "ecr:GetAccountSetting"], reg),
        (
            "POST",
            at("/settings/scanning"),
            f(&[("scan_type", "BASIC")]),
            vec!["ecr:PutRegistryScanningConfiguration"],
            reg,
        ),
        (
            "POST",
            at("/settings/account"),
            f(&[("setting", "BLOB_MOUNTING"), ("value", "ENABLED")]),
            vec!["ecr:PutAccountSetting"],
            reg,
        ),
        ("GET", at("/vulndb"), vec![], vec!["berth:GetVulnerabilityDatabase"], reg),
        ("GET", "/console/usage".into(), vec![], vec!["berth:GetUsage"], reg),
    ]
}

/// Console routes anyone may read, signed in or not.
const CONSOLE_PUBLIC: [&str; 3] = ["/console/login", "/console/public", "/console/static/console.css"];

/// A console session: the cookie header to send and the CSRF token its forms carry.
struct ConsoleSession {
    cookie: String,
    csrf: String,
}

/// The value of cookie `name` set by `r`.
fn set_cookie(r: &Response, name: &str) -> Option<String> {
    r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (pair, _) = v.split_once(';').unwrap_or((v, ""));
        pair.strip_prefix(&format!("{name}=")).map(str::to_string)
    })
}

/// Signs `who` in to the console with what it would present as a password (users' passwords; robot and
/// bearer tokens, which are refused). Returns the sign-in's outcome and the session, if one was opened.
async fn console_sign_in(s: &Server, http: &Client, c: &Callers, who: Who) -> (Outcome, Option<ConsoleSession>) {
    let (user, password) = match who {
        Who::Anonymous => (String::new(), String::new()),
        Who::Robot => ("robot".into(), c.robot.clone()),
        Who::Bearer => ("pusher".into(), c.bearer.clone()),
        Who::Admin => ("admin".into(), ADMIN_PASSWORD.into()),
        other => (name(other).into(), format!("{}-password", name(other))),
    };
    let page = http.get(s.url("/console/login")).send().await.unwrap();
    let login_csrf = set_cookie(&page, "berth_login_csrf").expect("the sign-in page sets its CSRF cookie");
    let form = [("csrf", login_csrf.as_str()), ("user", &user), ("password", &password)];
    let r = http
        .post(s.url("/console/login"))
        .header("cookie", format!("berth_login_csrf={login_csrf}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let Some(session) = set_cookie(&r, "berth_session").filter(|v| !v.is_empty()) else {
        return (Outcome::Refused, None);
    };
    let cookie = format!("berth_session={session}");
    let html = http.get(s.url("/console/")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).and_then(|t| t.split('"').next()).unwrap().to_string();
    (Outcome::Through, Some(ConsoleSession { cookie, csrf }))
}

/// Classifies a console answer: refused (401, 403, 429, or sent to sign in), or let through.
fn console_outcome(r: &Response) -> Outcome {
    let to_sign_in = r
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .is_some_and(|l| l.starts_with("/console/login?next="));
    match r.status() {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS => Outcome::Refused,
        _ if to_sign_in => Outcome::Refused,
        _ => Outcome::Through,
    }
}

/// A console request as `session` (or without one), forms carrying the session's CSRF token.
async fn console_call(
    s: &Server,
    http: &Client,
    session: Option<&ConsoleSession>,
    method: &str,
    path: &str,
    form: &[(&str, String)],
) -> Response {
    let mut r = http.request(method.parse().unwrap(), s.url(path));
    if let Some(session) = session {
        r = r.header("cookie", &session.cookie);
    }
    if method == "POST" {
        let mut fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if let Some(session) = session {
            fields.push(("csrf", &session.csrf));
        }
        r = r.form(&fields);
    }
    r.send().await.unwrap()
}

/// A request with `who`'s credentials: SigV4 for users' keys, otherwise what `who` presents on `/v2`.
async fn aws_call(s: &Server, c: &Callers, who: Who, path: &str, target: Option<&str>, body: &Value) -> Response {
    let service = match target {
        Some(t) if t.starts_with("SpencerFrontendService.") => "ecr-public",
        Some(_) => "ecr",
        None => "berth",
    };
    let extra: Vec<(&str, &str)> = target.map(|t| ("x-amz-target", t)).into_iter().collect();
    match (c.key(who), c.v2_auth(who)) {
        (Some(key), _) => s.signed_post(Some(key), service, path, &extra, body).await,
        (None, auth) => {
            let mut r = anonymous_client().post(s.url(path)).json(body);
            if let Some(t) = target {
                r = r.header("x-amz-target", t);
            }
            if let Some(a) = auth {
                r = r.header("authorization", a);
            }
            r.send().await.unwrap()
        }
    }
}

/// The cells checked, and those whose outcome differs from the model.
#[derive(Default)]
struct Tally {
    cells: usize,
    wrong: Vec<String>,
}

impl Tally {
    fn check(&mut self, surface: &str, who: Who, route: String, got: Outcome, want: Outcome) {
        self.cells += 1;
        if got != want {
            self.wrong.push(format!("{surface} {who:?} {route}: got {got:?}, want {want:?}"));
        }
    }
}

/// `HEAD` answers carry no body, so a pull-policy refusal looks like any other 403.
fn coarse(o: Outcome) -> Outcome {
    if o == Outcome::Gated { Outcome::Refused } else { o }
}

#[tokio::test]
async fn every_route_of_every_surface_for_every_caller() {
    let s = Server::start();
    let (callers, layers) = setup(&s).await;
    let http = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let manifest = s.get("/v2/m/private/manifests/v1").await.bytes().await.unwrap();
    let mut tally = Tally::default();
    let mut made = 0;
    let mut digests = std::collections::BTreeMap::new();
    for kind in [Kind::Private, Kind::Public, Kind::Gated] {
        // DescribeImages, as the gated repository's pull policy refuses its manifest to /v2.
        let target = ("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.DescribeImages");
        let body = json!({"repositoryName": kind.repo(), "imageIds": [{"imageTag": "v1"}]});
        let r = s.signed_post(Some(ADMIN_KEY), "ecr", "/", &[target], &body).await;
        let v: Value = r.json().await.unwrap();
        digests.insert(kind.repo(), v["imageDetails"][0]["imageDigest"].as_str().unwrap().to_string());
    }

    for who in EVERYONE {
        let auth = callers.v2_auth(who);
        let send = |method: &str, path: &str| {
            let mut r = http.request(method.parse().unwrap(), s.url(path));
            if let Some(a) = &auth {
                r = r.header("authorization", a);
            }
            r
        };
        // Routes on no repository: `/v2/` tells whether the caller is authenticated; the catalog is open
        // to everyone and lists what each may see.
        let base = v2_outcome(send("GET", "/v2/").send().await.unwrap()).await;
        let want_base = if who == Who::Anonymous { Outcome::Refused } else { Outcome::Through };
        tally.check("v2", who, "GET /v2/".into(), base, want_base);
        let catalog = v2_outcome(send("GET", "/v2/_catalog").send().await.unwrap()).await;
        tally.check("v2", who, "GET /v2/_catalog".into(), catalog, Outcome::Through);
        // `berth login`: a user's password for a key of that user (berth:CreateAccessKey on themselves);
        // robot and bearer tokens never sign in.
        let login = aws_outcome(send("POST", "/auth/v1/Login").send().await.unwrap()).await;
        let may_login =
            !matches!(who, Who::Robot | Who::Bearer) && expected(who, "berth:CreateAccessKey", On::Registry);
        tally.check(
            "login",
            who,
            "POST /auth/v1/Login".into(),
            login,
            if may_login { Outcome::Through } else { Outcome::Refused },
        );
        // The console: users sign in with their passwords; robot and bearer tokens never sign in. Pages
        // anyone may read answer everyone.
        let (signed_in, console) = console_sign_in(&s, &http, &callers, who).await;
        let has_password = !matches!(who, Who::Anonymous | Who::Robot | Who::Bearer);
        let want_sign_in = if has_password { Outcome::Through } else { Outcome::Refused };
        tally.check("console", who, "POST /console/login".into(), signed_in, want_sign_in);
        for path in CONSOLE_PUBLIC {
            let got = console_outcome(&console_call(&s, &http, console.as_ref(), "GET", path, &[]).await);
            tally.check("console", who, format!("GET {path}"), got, Outcome::Through);
        }

        for kind in [Kind::Private, Kind::Public, Kind::Gated] {
            let repo = kind.repo();
            let layer = layers[repo].as_str().unwrap();
            for (method, path, action, content) in v2_routes(repo, layer) {
                let mut r = send(method, &path);
                if method == "PUT" && path.contains("/manifests/") {
                    r = r.header("content-type", OCI_MANIFEST).body(manifest.clone());
                }
                let got = v2_outcome(r.send().await.unwrap()).await;
                let want = want(who, action, On::Repo(kind), content);
                let (got, want) = if method == "HEAD" { (coarse(got), coarse(want)) } else { (got, want) };
                tally.check("v2", who, format!("{method} {path}"), got, want);
            }

            // `/token` never refuses valid credentials; the token carries exactly the allowed ECR actions.
            let r = send("GET", &format!("/token?service=berth&scope=repository:{repo}:pull,push,delete")).send();
            let r = r.await.unwrap();
            if who == Who::Bearer {
                tally.check("token", who, repo.into(), v2_outcome(r).await, Outcome::Refused);
            } else {
                assert_eq!(r.status(), StatusCode::OK, "{who:?} /token");
                let t = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
                let claims = jwt_claims(&t);
                let carried: BTreeSet<String> = claims["access"][0]["ecr"]
                    .as_array()
                    .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default();
                let model: BTreeSet<String> = [&PULL[..], &PUSH[..], &DELETE[..]]
                    .concat()
                    .into_iter()
                    .filter(|a| expected(who, a, On::Repo(kind)))
                    .map(String::from)
                    .collect();
                tally.cells += 1;
                if carried != model {
                    tally.wrong.push(format!("token {who:?} {repo}: carries {carried:?}, want {model:?}"));
                }
            }

            // Only SigV4 reaches the ECR and admin APIs: anonymous callers, robot and bearer tokens are
            // refused whatever they may do on /v2.
            let sigv4 = !matches!(who, Who::Anonymous | Who::Robot | Who::Bearer);
            for (op, body, on, content) in ecr_operations(repo, kind, layer) {
                let target = format!("AmazonEC2ContainerRegistry_V20150921.{op}");
                let got = aws_outcome(aws_call(&s, &callers, who, "/", Some(&target), &body).await).await;
                let want = if sigv4 { want(who, &format!("ecr:{op}"), on, content) } else { Outcome::Refused };
                tally.check("ecr", who, format!("{op} {repo}"), got, want);
            }
            // ECR Public's catalog data operations, on the same endpoint.
            let catalog = [
                ("GetRepositoryCatalogData", json!({"repositoryName": repo}), On::Repo(kind)),
                (
                    "PutRepositoryCatalogData",
                    json!({"repositoryName": SCRATCH, "catalogData": {"description": "matrix"}}),
                    On::Repo(Kind::Private),
                ),
            ];
            for (op, body, on) in catalog {
                let target = format!("SpencerFrontendService.{op}");
                let got = aws_outcome(aws_call(&s, &callers, who, "/", Some(&target), &body).await).await;
                let want = if sigv4 { want(who, &format!("ecr:{op}"), on, false) } else { Outcome::Refused };
                tally.check("ecr-public", who, format!("{op} {repo}"), got, want);
            }
            made += 1;
            for (method, path, form, actions, on) in console_routes(repo, kind, made, &digests[repo]) {
                let got = console_outcome(&console_call(&s, &http, console.as_ref(), method, &path, &form).await);
                let allowed = console.is_some() && actions.iter().all(|a| expected(who, a, on));
                let want = if allowed { Outcome::Through } else { Outcome::Refused };
                tally.check("console", who, format!("{method} {path} {form:?} {repo}"), got, want);
            }
            for (op, body, action, on) in admin_operations(repo, kind, made) {
                let path = format!("/admin/v1/{op}");
                let got = aws_outcome(aws_call(&s, &callers, who, &path, None, &body).await).await;
                let want = if sigv4 { want(who, action, on, false) } else { Outcome::Refused };
                tally.check("admin", who, format!("{op} {body} {repo}"), got, want);
            }
        }
        made += 1;
        for (method, path, form, actions, on) in console_admin_routes(made) {
            let got = console_outcome(&console_call(&s, &http, console.as_ref(), method, &path, &form).await);
            let allowed = console.is_some() && actions.iter().all(|a| expected(who, a, on));
            let want = if allowed { Outcome::Through } else { Outcome::Refused };
            tally.check("console", who, format!("{method} {path} {form:?}"), got, want);
        }
        let got = console_outcome(&console_call(&s, &http, console.as_ref(), "POST", "/console/logout", &[]).await);
        let want = if console.is_some() { Outcome::Through } else { Outcome::Refused };
        tally.check("console", who, "POST /console/logout".into(), got, want);
    }
    let Tally { cells, wrong } = tally;
    assert!(wrong.is_empty(), "{} of {cells} cells are wrong:\n{}", wrong.len(), wrong.join("\n"));
    eprintln!("permission matrix: {cells} cells");
}
