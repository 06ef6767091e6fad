//! The permission matrix's rows: every route of every surface with the ECR action and resource it is
//! decided on. A new route gets its row here.

use serde_json::{Value, json};

use super::{Kind, On, SCRATCH};

/// `/v2` rows: (method, path, action, hands out content).
pub(super) fn v2_routes(repo: &str, layer: &str) -> Vec<(&'static str, String, &'static str, bool)> {
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

/// Routes on the registry as a whole, outside `/v2`: (method, path, action). Decided on the registry.
pub(super) fn registry_routes() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![("GET", "/metrics", "berth:GetMetrics")]
}

/// A valid lifecycle policy (ECR wants at least 100 characters).
pub(super) const LIFECYCLE_POLICY: &str = r#"{"rules": [{"rulePriority": 1, "description": "keep ten untagged images", "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 10}, "action": {"type": "expire"}}]}"#;

/// ECR rows: (operation, input, action's resource, hands out content). Operations that change things act
/// on [`SCRATCH`] or change nothing the other cells see.
pub(super) fn ecr_operations(repo: &str, kind: Kind, layer: &str) -> Vec<(&'static str, Value, On, bool)> {
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
        // A template for replication only: it applies to no push of the matrix.
        (
            "CreateRepositoryCreationTemplate",
            json!({"prefix": "matrix-template", "appliedFor": ["REPLICATION"]}),
            On::Registry,
            false,
        ),
        ("DescribeRepositoryCreationTemplates", json!({}), On::Registry, false),
        (
            "UpdateRepositoryCreationTemplate",
            json!({"prefix": "matrix-template", "description": "matrix"}),
            On::Registry,
            false,
        ),
        ("DeleteRepositoryCreationTemplate", json!({"prefix": "matrix-no-such-template"}), On::Registry, false),
        (
            "UpdateImageStorageClass",
            json!({"repositoryName": SCRATCH, "imageId": {"imageTag": "no-such-tag"}, "targetStorageClass": "ARCHIVE"}),
            scratch,
            false,
        ),
        ("RegisterPullTimeUpdateExclusion", json!({"principalArn": NOBODY}), On::Registry, false),
        ("ListPullTimeUpdateExclusions", json!({}), On::Registry, false),
        ("DeregisterPullTimeUpdateExclusion", json!({"principalArn": NOBODY}), On::Registry, false),
        // No rules: nothing of the matrix is signed.
        ("PutSigningConfiguration", json!({"signingConfiguration": {"rules": []}}), On::Registry, false),
        ("GetSigningConfiguration", json!({}), On::Registry, false),
        ("DeleteSigningConfiguration", json!({}), On::Registry, false),
        ("DescribeImageSigningStatus", json!({"repositoryName": repo, "imageId": {"imageTag": "v1"}}), r, false),
    ]
}

/// A principal no cell uses: excluding it from pull time updates changes nothing the other cells see.
const NOBODY: &str = "arn:aws:iam::000000000000:user/nobody";

/// Admin rows: (operation, input, action, resource). Each changes nothing the other cells see.
pub(super) fn admin_operations(repo: &str, kind: Kind, n: usize) -> Vec<(&'static str, Value, &'static str, On)> {
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
        ("EncryptExistingBlobs", json!({}), "berth:EncryptExistingBlobs", On::Registry),
        ("ListJobs", json!({"limit": 1}), "berth:ListJobs", On::Registry),
        ("DescribeJob", json!({"jobId": 999_999_999}), "berth:DescribeJob", On::Registry),
        ("CancelJob", json!({"jobId": 999_999_999}), "berth:CancelJob", On::Registry),
        ("GetStorageUsage", json!({"repositoryName": repo}), "berth:GetStorageUsage", r),
        ("GetStorageUsage", json!({}), "berth:GetStorageUsage", On::Registry),
        // A limit no push of the matrix comes near, on a namespace it does not use.
        ("PutQuota", json!({"prefix": "quota-matrix/", "limitBytes": 1u64 << 50}), "berth:PutQuota", On::Registry),
        ("ListQuotas", json!({}), "berth:ListQuotas", On::Registry),
        (
            "GetUsageReport",
            json!({"from": "2026-01-01", "to": "2026-01-31", "groupBy": "principal"}),
            "berth:GetUsage",
            On::Registry,
        ),
        ("DeleteQuota", json!({"prefix": "quota-matrix-none/"}), "berth:DeleteQuota", On::Registry),
        ("ListDeletedImages", json!({"repositoryName": repo}), "berth:ListDeletedImages", r),
        // Nothing of the matrix is deleted: a restore that gets through finds nothing to restore.
        (
            "RestoreImage",
            json!({"repositoryName": repo, "imageDigest": format!("sha256:{}", "0".repeat(64))}),
            "berth:RestoreImage",
            r,
        ),
        ("ListDeletedRepositories", json!({}), "berth:ListDeletedRepositories", On::Registry),
        ("RestoreRepository", json!({"repositoryName": SCRATCH}), "berth:RestoreRepository", scratch),
        // Signing: a name too short to be a key and a key that is not PEM change nothing when let through.
        ("CreateSigningKey", json!({"keyName": "m"}), "berth:CreateSigningKey", On::Registry),
        ("TrustSigningKey", json!({"keyName": "matrix_key", "publicKey": "x"}), "berth:TrustSigningKey", On::Registry),
        ("ListSigningKeys", json!({}), "berth:ListSigningKeys", On::Registry),
        ("DeleteSigningKey", json!({"keyName": "matrix_none"}), "berth:DeleteSigningKey", On::Registry),
        // No keys: the scratch repository's requirement is removed (it had none).
        ("PutSignatureRequirement", json!({"repositoryName": SCRATCH}), "berth:PutSignatureRequirement", scratch),
        ("GetSignatureRequirement", json!({"repositoryName": repo}), "berth:GetSignatureRequirement", r),
        ("GetSignatureRequirement", json!({}), "berth:GetSignatureRequirement", On::Registry),
        // The matrix's server allows no private target: a creation that gets through is refused for its URL
        // (so no subscription exists and nothing is ever sent), the others find no webhook.
        (
            "CreateWebhook",
            json!({"url": "http://127.0.0.1:9/matrix", "events": ["image.push"]}),
            "berth:CreateWebhook",
            On::Registry,
        ),
        ("ListWebhooks", json!({}), "berth:ListWebhooks", On::Registry),
        ("DeleteWebhook", json!({"webhookId": 999_999_999}), "berth:DeleteWebhook", On::Registry),
        ("EnableWebhook", json!({"webhookId": 999_999_999}), "berth:EnableWebhook", On::Registry),
        ("TestWebhook", json!({"webhookId": 999_999_999}), "berth:TestWebhook", On::Registry),
        ("ListWebhookDeliveries", json!({"webhookId": 999_999_999}), "berth:ListWebhookDeliveries", On::Registry),
    ]
}

/// A console row: (method, path, form, actions all needed, resource). No action: a signed-in user and
/// nothing else.
pub(super) type ConsoleRow = (&'static str, String, Vec<(&'static str, String)>, Vec<&'static str>, On);

/// Console rows on a repository. Changes act on [`SCRATCH`] or change nothing the other cells see.
pub(super) fn console_routes(repo: &str, kind: Kind, n: usize, digest: &str) -> Vec<ConsoleRow> {
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
pub(super) fn console_admin_routes(n: usize) -> Vec<ConsoleRow> {
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
pub(super) const CONSOLE_PUBLIC: [&str; 3] = ["/console/login", "/console/public", "/console/static/console.css"];
