//! Lifecycle policies: `PutLifecyclePolicy`, `GetLifecyclePolicy`, `DeleteLifecyclePolicy`,
//! `StartLifecyclePolicyPreview`, `GetLifecyclePolicyPreview`. The registry validates documents (ECR's
//! rules), stores them and evaluates them; this module reads and shapes the members as botocore's model
//! has them.

use berth_identity::Resource;
use berth_oci::RepositoryName;
use berth_registry::lifecycle::{Preview, PreviewStatus};
use serde_json::{Value, json};

use super::Ctx;
use super::errors::AwsError;
use super::input::{Input, decode_token, encode_token};

/// botocore's `LifecyclePolicyText` length bounds.
const TEXT_MIN: usize = 100;
const TEXT_MAX: usize = 30720;
/// `GetLifecyclePolicyPreview`'s page size bounds (`LifecyclePreviewMaxResults`).
const PREVIEW_PAGE_MAX: u64 = 100;

fn policy_text<'a>(input: &Input<'a>, required: bool) -> Result<Option<&'a str>, AwsError> {
    let text = input.opt_str("lifecyclePolicyText")?;
    let constraint = |what: &str| {
        AwsError::invalid(format!("Invalid parameter at 'lifecyclePolicyText' failed to satisfy constraint: '{what}'"))
    };
    match text {
        None if required => Err(constraint("Member must not be null")),
        Some(t) if t.chars().count() < TEXT_MIN => {
            Err(constraint(&format!("Member must have length greater than or equal to {TEXT_MIN}")))
        }
        Some(t) if t.chars().count() > TEXT_MAX => {
            Err(constraint(&format!("Member must have length less than or equal to {TEXT_MAX}")))
        }
        t => Ok(t),
    }
}

fn registry_error(ctx: &Ctx<'_>, name: &RepositoryName) -> impl Fn(berth_registry::RegistryError) -> AwsError {
    let (name, id) = (name.to_string(), ctx.registry_id().to_string());
    move |e| AwsError::from_registry(e, &name, &id)
}

async fn audited<T>(ctx: &Ctx<'_>, action: &str, name: &RepositoryName, result: &Result<T, AwsError>) {
    let (outcome, status) = match result {
        Ok(_) => ("allowed", 200),
        Err(e) => ("error", e.kind.status().as_u16()),
    };
    ctx.audit(action, &Resource::Repository(name), outcome, status).await;
}

pub async fn put(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    let text = policy_text(input, true)?.unwrap_or_default();
    let result = ctx.app.registry.put_lifecycle_policy(&name, text).await.map_err(registry_error(ctx, &name));
    audited(ctx, "ecr:PutLifecyclePolicy", &name, &result).await;
    result?;
    Ok(json!({"registryId": ctx.registry_id(), "repositoryName": name.as_str(), "lifecyclePolicyText": text}))
}

pub async fn get(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    let policy = ctx.app.registry.lifecycle_policy(&name).await.map_err(registry_error(ctx, &name))?;
    let mut out = json!({"registryId": ctx.registry_id(), "repositoryName": name.as_str(),
                         "lifecyclePolicyText": policy.text});
    if let Some(at) = policy.last_evaluated_at {
        out["lastEvaluatedAt"] = json!(at);
    }
    Ok(out)
}

pub async fn delete(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    let result = ctx.app.registry.delete_lifecycle_policy(&name).await.map_err(registry_error(ctx, &name));
    audited(ctx, "ecr:DeleteLifecyclePolicy", &name, &result).await;
    let policy = result?;
    let mut out = json!({"registryId": ctx.registry_id(), "repositoryName": name.as_str(),
                         "lifecyclePolicyText": policy.text});
    if let Some(at) = policy.last_evaluated_at {
        out["lastEvaluatedAt"] = json!(at);
    }
    Ok(out)
}

pub async fn start_preview(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    let text = policy_text(input, false)?;
    // The evaluation is a `lifecycle-preview` job, as ECR's runs after the answer: the client polls
    // GetLifecyclePolicyPreview (or `aws ecr wait lifecycle-policy-preview-complete`) until it is COMPLETE.
    let started = ctx.app.registry.start_lifecycle_preview(&name, text).await.map_err(registry_error(ctx, &name))?;
    Ok(json!({"registryId": ctx.registry_id(), "repositoryName": name.as_str(),
              "lifecyclePolicyText": started.policy_text, "status": started.status.as_str()}))
}

/// Which previewed images `GetLifecyclePolicyPreview` shows: those `imageIds` name (by digest or tag), with
/// the `filter`'s tag status.
fn shown(preview: &Preview, input: &Input<'_>) -> Result<Vec<usize>, AwsError> {
    let status = match input.opt_object("filter")? {
        Some(f) => f.opt_enum("tagStatus", &["TAGGED", "UNTAGGED", "ANY"])?.unwrap_or("ANY"),
        None => "ANY",
    };
    let mut wanted: Option<Vec<(Option<String>, Option<String>)>> = None;
    if let Some(ids) = input.opt_list("imageIds")? {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let id =
                id.as_object().map(Input).ok_or_else(|| AwsError::invalid("imageIds must be a list of structures"))?;
            let digest = id.opt_str("imageDigest")?.map(str::to_string);
            let tag = id.opt_str("imageTag")?.map(str::to_string);
            out.push((digest, tag));
        }
        wanted = Some(out);
    }
    Ok(preview
        .images
        .iter()
        .enumerate()
        .filter(|(_, i)| match status {
            "TAGGED" => !i.tags.is_empty(),
            "UNTAGGED" => i.tags.is_empty(),
            _ => true,
        })
        .filter(|(_, i)| {
            wanted.as_ref().is_none_or(|w| {
                w.iter().any(|(d, t)| {
                    d.as_deref().is_none_or(|d| d == i.digest.to_string())
                        && t.as_ref().is_none_or(|t| i.tags.contains(t))
                        && (d.is_some() || t.is_some())
                })
            })
        })
        .map(|(n, _)| n)
        .collect())
}

pub async fn get_preview(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    let max = match input.opt_u64("maxResults")? {
        None => PREVIEW_PAGE_MAX,
        Some(n @ 1..=PREVIEW_PAGE_MAX) => n,
        Some(_) => {
            return Err(AwsError::invalid(
                "Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value between 1 and 100'",
            ));
        }
    } as usize;
    let start = match input.opt_str("nextToken")? {
        Some(t) => decode_token(t)?
            .parse::<usize>()
            .map_err(|_| AwsError::invalid("Invalid parameter at 'nextToken': not a token this registry issued"))?,
        None => 0,
    };
    let preview = ctx.app.registry.lifecycle_preview(&name).await.map_err(registry_error(ctx, &name))?;
    let shown = shown(&preview, input)?;
    let page: Vec<Value> = shown
        .iter()
        .skip(start)
        .take(max)
        .map(|&n| {
            let i = &preview.images[n];
            // A transition's target is the archive storage class, the only one ECR moves images to.
            let action = match i.action.as_str() {
                "TRANSITION" => json!({"type": i.action, "targetStorageClass": "ARCHIVE"}),
                _ => json!({"type": i.action}),
            };
            json!({
                "imageTags": i.tags,
                "imageDigest": i.digest.to_string(),
                "imagePushedAt": i.pushed_at,
                "action": action,
                "appliedRulePriority": i.rule_priority,
                "storageClass": i.storage_class,
            })
        })
        .collect();
    let mut out = json!({
        "registryId": ctx.registry_id(),
        "repositoryName": name.as_str(),
        "lifecyclePolicyText": preview.policy_text,
        "status": preview.status.as_str(),
        "previewResults": page,
    });
    if preview.status == PreviewStatus::Complete {
        let expiring = preview.images.iter().filter(|i| i.action == "EXPIRE").count();
        out["summary"] = json!({"expiringImageTotalCount": expiring});
        let transitioning = preview.images.iter().filter(|i| i.action == "TRANSITION").count();
        if transitioning > 0 {
            out["summary"]["transitioningImageTotalCounts"] =
                json!([{"targetStorageClass": "ARCHIVE", "imageTotalCount": transitioning}]);
        }
    }
    if start + max < shown.len() {
        out["nextToken"] = json!(encode_token(&(start + max).to_string()));
    }
    Ok(out)
}
