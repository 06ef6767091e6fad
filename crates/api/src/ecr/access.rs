//! What each ECR operation needs, declared before it runs: the action `ecr:<Operation>` on the resource
//! its input names (a repository ARN, the registry, or `*`). The dispatcher has these decided by the one
//! policy engine and only then calls the operation; operations never authorise on their own.

use berth_identity::{Account, Required, Target};
use berth_oci::RepositoryName;

use super::errors::AwsError;
use super::input::{Input, repository_name};

/// What an operation needs before it runs.
pub(crate) enum Declared {
    /// All of these must be allowed.
    All(Vec<Required>),
    /// A listing of every repository: the operation shows only those the caller may see, each decided by
    /// the engine as it is listed ([`super::Ctx::may`]).
    Filtered,
}

/// Operations on the registry as a whole (its policy, settings, scanning configuration).
const ON_REGISTRY: &[&str] = &[
    "PutRegistryPolicy",
    "GetRegistryPolicy",
    "DeleteRegistryPolicy",
    "DescribeRegistry",
    "GetAccountSetting",
    "PutAccountSetting",
    "PutRegistryScanningConfiguration",
    "GetRegistryScanningConfiguration",
    // Repository creation templates are the registry's configuration: they name repositories that do not
    // exist yet.
    "CreateRepositoryCreationTemplate",
    "DescribeRepositoryCreationTemplates",
    "UpdateRepositoryCreationTemplate",
    "DeleteRepositoryCreationTemplate",
    "RegisterPullTimeUpdateExclusion",
    "DeregisterPullTimeUpdateExclusion",
    "ListPullTimeUpdateExclusions",
    "PutSigningConfiguration",
    "GetSigningConfiguration",
    "DeleteSigningConfiguration",
];

/// Operations on the repository in `repositoryName`.
const ON_REPOSITORY: &[&str] = &[
    "CreateRepository",
    "DeleteRepository",
    "ListImages",
    "DescribeImages",
    "BatchGetImage",
    "BatchDeleteImage",
    "PutImage",
    "SetRepositoryPolicy",
    "GetRepositoryPolicy",
    "DeleteRepositoryPolicy",
    "PutImageTagMutability",
    "PutImageScanningConfiguration",
    "BatchCheckLayerAvailability",
    "InitiateLayerUpload",
    "UploadLayerPart",
    "CompleteLayerUpload",
    "GetDownloadUrlForLayer",
    "ListImageReferrers",
    "StartImageScan",
    "DescribeImageScanFindings",
    "PutLifecyclePolicy",
    "GetLifecyclePolicy",
    "DeleteLifecyclePolicy",
    "StartLifecyclePolicyPreview",
    "GetLifecyclePolicyPreview",
    "UpdateImageStorageClass",
    "DescribeImageSigningStatus",
    // ECR Public's (see `catalog.rs`).
    "GetRepositoryCatalogData",
    "PutRepositoryCatalogData",
];

/// Operations on the repository a `resourceArn` names.
const ON_RESOURCE_ARN: &[&str] = &["TagResource", "UntagResource", "ListTagsForResource"];

/// The permissions `operation` needs for `input`; `None` for an operation berth does not implement (it runs
/// nothing and answers `UnsupportedOperationException`). Members that name the resource are validated
/// here, as the operation would.
pub(crate) fn declared(operation: &str, input: &Input<'_>, account: &Account) -> Result<Option<Declared>, AwsError> {
    let ecr = |target: Target| Required::new(format!("ecr:{operation}"), target);
    let each_repository = |member: &str, names: &[serde_json::Value]| -> Result<Vec<Required>, AwsError> {
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            let n = n.as_str().ok_or_else(|| AwsError::invalid(format!("{member} must be a list of strings")))?;
            out.push(ecr(Target::Repository(repository_name(member, n)?)));
        }
        Ok(out)
    };
    let required = if ON_REPOSITORY.contains(&operation) {
        let name = input.repository_name("repositoryName")?;
        let mut required = vec![ecr(Target::Repository(name.clone()))];
        // Tagging on creation also needs the tagging permission, as in ECR.
        if operation == "CreateRepository" && input.opt_list("tags")?.is_some_and(|t| !t.is_empty()) {
            required.push(Required::new("ecr:TagResource", Target::Repository(name)));
        }
        required
    } else if ON_REGISTRY.contains(&operation) {
        let mut required = vec![ecr(Target::Registry)];
        if matches!(operation, "CreateRepositoryCreationTemplate" | "UpdateRepositoryCreationTemplate") {
            required.extend(template_contents(input)?);
        }
        required
    } else if ON_RESOURCE_ARN.contains(&operation) {
        vec![ecr(Target::Repository(repository_of_arn(input, account)?))]
    } else {
        match operation {
            "GetAuthorizationToken" => vec![ecr(Target::Any)],
            "DescribeRepositories" => match input.opt_list("repositoryNames")? {
                Some(names) => each_repository("repositoryNames", names)?,
                None => return Ok(Some(Declared::Filtered)),
            },
            "BatchGetRepositoryScanningConfiguration" => {
                each_repository("repositoryNames", input.opt_list("repositoryNames")?.map_or(&[], Vec::as_slice))?
            }
            _ => return Ok(None),
        }
    };
    Ok(Some(Declared::All(required)))
}

/// What a template written by `input` will do to the repositories it creates, each needing its own action on
/// every repository (`*`: they do not exist yet), as ECR asks of whoever manages templates: creating
/// repositories (`CREATE_ON_PUSH`), setting their repository policy, lifecycle policy and tags. Without
/// these, the right to write templates would grant them.
fn template_contents(input: &Input<'_>) -> Result<Vec<Required>, AwsError> {
    let any = |action: &str| Required::new(action, Target::Any);
    let mut required = Vec::new();
    let applied_for = input.opt_list("appliedFor")?.map_or(&[][..], Vec::as_slice);
    if applied_for.iter().any(|a| a.as_str() == Some("CREATE_ON_PUSH")) {
        required.push(any("ecr:CreateRepository"));
    }
    if input.opt_str("repositoryPolicy")?.is_some_and(|p| !p.is_empty()) {
        required.push(any("ecr:SetRepositoryPolicy"));
    }
    if input.opt_str("lifecyclePolicy")?.is_some_and(|p| !p.is_empty()) {
        required.push(any("ecr:PutLifecyclePolicy"));
    }
    if input.opt_list("resourceTags")?.is_some_and(|t| !t.is_empty()) {
        required.push(any("ecr:TagResource"));
    }
    Ok(required)
}

/// The repository a `resourceArn` names: `arn:aws:ecr:<region>:<account>:repository/<name>` of this registry.
pub(crate) fn repository_of_arn(input: &Input<'_>, account: &Account) -> Result<RepositoryName, AwsError> {
    let arn = input.opt_str("resourceArn")?.ok_or_else(|| {
        AwsError::invalid("Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Member must not be null'")
    })?;
    let bad = || {
        AwsError::invalid(format!(
            "Invalid parameter at 'resourceArn': {arn:?} is not a repository ARN of this registry"
        ))
    };
    let (_, name) = arn.split_once(":repository/").ok_or_else(bad)?;
    let name = repository_name("resourceArn", name).map_err(|_| bad())?;
    if account.repository_arn(&name) != arn {
        return Err(bad());
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ecr::operations;

    fn account() -> Account {
        Account { id: "123456789012".into(), region: "us-east-1".into() }
    }

    fn declared_for(op: &str, body: serde_json::Value) -> Result<Option<Declared>, AwsError> {
        let map = body.as_object().unwrap().clone();
        declared(op, &Input(&map), &account())
    }

    #[test]
    fn every_implemented_operation_declares_its_permission() {
        for op in operations::IMPLEMENTED {
            let body = json!({
                "repositoryName": "team/app",
                "repositoryNames": ["team/app"],
                "resourceArn": "arn:aws:ecr:us-east-1:123456789012:repository/team/app",
            });
            match declared_for(op, body) {
                Ok(Some(Declared::All(required))) => {
                    assert!(!required.is_empty(), "{op}");
                    assert_eq!(required[0].action, format!("ecr:{op}"), "{op}");
                }
                Ok(Some(Declared::Filtered)) => panic!("{op}: named repositories are decided up front"),
                Ok(None) => panic!("{op} is implemented but declares nothing"),
                Err(e) => panic!("{op}: {e:?}"),
            }
        }
    }

    #[test]
    fn resources_come_from_the_input() {
        let Ok(Some(Declared::All(r))) =
            declared_for("CreateRepository", json!({"repositoryName": "a/b", "tags": [{"Key": "k", "Value": "v"}]}))
        else {
            panic!()
        };
        let repo = Target::Repository("a/b".parse().unwrap());
        assert_eq!(r, [Required::new("ecr:CreateRepository", repo.clone()), Required::new("ecr:TagResource", repo)]);
        let Ok(Some(Declared::All(r))) = declared_for("PutRegistryPolicy", json!({})) else { panic!() };
        assert_eq!(r[0].target, Target::Registry);
        assert!(matches!(declared_for("DescribeRepositories", json!({})), Ok(Some(Declared::Filtered))));
        assert!(matches!(declared_for("PutReplicationConfiguration", json!({})), Ok(None)));
        let Ok(Some(Declared::All(r))) = declared_for("UpdateImageStorageClass", json!({"repositoryName": "a/b"}))
        else {
            panic!()
        };
        assert_eq!(r, [Required::new("ecr:UpdateImageStorageClass", Target::Repository("a/b".parse().unwrap()))]);
        let Ok(Some(Declared::All(r))) = declared_for("RegisterPullTimeUpdateExclusion", json!({})) else { panic!() };
        assert_eq!(r[0].target, Target::Registry);
        assert!(declared_for("ListImages", json!({})).is_err(), "a missing repositoryName is invalid");
        let foreign = json!({"resourceArn": "arn:aws:ecr:us-east-1:999999999999:repository/a"});
        assert!(declared_for("TagResource", foreign).is_err(), "another account's ARN");
    }

    #[test]
    fn templates_need_the_rights_they_carry() {
        let actions = |op: &str, body: serde_json::Value| {
            let Ok(Some(Declared::All(r))) = declared_for(op, body) else { panic!() };
            r.into_iter().map(|r| (r.action, r.target)).collect::<Vec<_>>()
        };
        let reg = |a: &str| (a.to_string(), Target::Registry);
        let any = |a: &str| (a.to_string(), Target::Any);
        let bare = json!({"prefix": "p", "appliedFor": ["REPLICATION"]});
        assert_eq!(actions("CreateRepositoryCreationTemplate", bare), [reg("ecr:CreateRepositoryCreationTemplate")]);
        let full = json!({"prefix": "p", "appliedFor": ["CREATE_ON_PUSH"], "repositoryPolicy": "{}",
                          "lifecyclePolicy": "{}", "resourceTags": [{"Key": "k", "Value": "v"}]});
        assert_eq!(
            actions("UpdateRepositoryCreationTemplate", full),
            [
                reg("ecr:UpdateRepositoryCreationTemplate"),
                any("ecr:CreateRepository"),
                any("ecr:SetRepositoryPolicy"),
                any("ecr:PutLifecyclePolicy"),
                any("ecr:TagResource"),
            ]
        );
        let cleared = json!({"prefix": "p", "repositoryPolicy": "", "lifecyclePolicy": "", "resourceTags": []});
        assert_eq!(actions("UpdateRepositoryCreationTemplate", cleared), [reg("ecr:UpdateRepositoryCreationTemplate")]);
        let listing = json!({"prefixes": ["p"]});
        assert_eq!(
            actions("DescribeRepositoryCreationTemplates", listing),
            [reg("ecr:DescribeRepositoryCreationTemplates")]
        );
    }
}
