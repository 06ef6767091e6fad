//! `TagResource`, `UntagResource`, `ListTagsForResource` on repository ARNs (the resource tags
//! `CreateRepository` also sets).

use berth_identity::Resource;
use berth_oci::RepositoryName;
use serde_json::{Value, json};

use super::Ctx;
use super::errors::{EcrError, ErrorType};
use super::input::{Input, repository_name};
use super::repositories::{MAX_TAGS, check_tag_key, resource_tags};

/// The repository a `resourceArn` names: `arn:aws:ecr:<region>:<account>:repository/<name>` of this registry.
fn repository_of(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<RepositoryName, EcrError> {
    let arn = input.opt_str("resourceArn")?.ok_or_else(|| {
        EcrError::invalid("Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Member must not be null'")
    })?;
    let bad = || {
        EcrError::invalid(format!(
            "Invalid parameter at 'resourceArn': {arn:?} is not a repository ARN of this registry"
        ))
    };
    let (_, name) = arn.split_once(":repository/").ok_or_else(bad)?;
    let name = repository_name("resourceArn", name).map_err(|_| bad())?;
    if ctx.app.identity.account().repository_arn(&name) != arn {
        return Err(bad());
    }
    Ok(name)
}

fn registry_error(ctx: &Ctx<'_>, name: &RepositoryName) -> impl Fn(berth_registry::RegistryError) -> EcrError {
    let (name, id) = (name.to_string(), ctx.registry_id().to_string());
    move |e| EcrError::from_registry(e, &name, &id)
}

async fn audited(ctx: &Ctx<'_>, action: &str, resource: &Resource<'_>, result: &Result<(), EcrError>) {
    let (outcome, status) = match result {
        Ok(()) => ("allowed", 200),
        Err(e) => ("error", e.kind.status().as_u16()),
    };
    ctx.audit(action, resource, outcome, status).await;
}

pub async fn tag(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, EcrError> {
    let name = repository_of(ctx, input)?;
    let list = input.opt_list("tags")?.ok_or_else(|| {
        EcrError::invalid("Invalid parameter at 'tags' failed to satisfy constraint: 'Member must not be null'")
    })?;
    let tags = resource_tags(list)?;
    let resource = Resource::Repository(&name);
    ctx.authorize("TagResource", &resource).await?;
    // The limit is checked with the write, in one transaction: concurrent calls cannot pass it together.
    let result = ctx.app.registry.tag_repository(&name, &tags, MAX_TAGS).await.map_err(|e| match e {
        berth_registry::RegistryError::TooMany(m) => EcrError::new(ErrorType::TooManyTags, m),
        other => registry_error(ctx, &name)(other),
    });
    audited(ctx, "ecr:TagResource", &resource, &result).await;
    result?;
    Ok(json!({}))
}

pub async fn untag(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, EcrError> {
    let name = repository_of(ctx, input)?;
    let list = input.opt_list("tagKeys")?.ok_or_else(|| {
        EcrError::invalid("Invalid parameter at 'tagKeys' failed to satisfy constraint: 'Member must not be null'")
    })?;
    if list.len() > 200 {
        return Err(EcrError::new(ErrorType::InvalidTagParameter, "at most 200 tag keys"));
    }
    let mut keys = Vec::with_capacity(list.len());
    for k in list {
        let k = k.as_str().ok_or_else(|| EcrError::new(ErrorType::InvalidTagParameter, "tagKeys must be strings"))?;
        check_tag_key(k)?;
        keys.push(k.to_string());
    }
    let resource = Resource::Repository(&name);
    ctx.authorize("UntagResource", &resource).await?;
    let result = ctx.app.registry.untag_repository(&name, &keys).await.map_err(registry_error(ctx, &name));
    audited(ctx, "ecr:UntagResource", &resource, &result).await;
    result?;
    Ok(json!({}))
}

pub async fn list(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, EcrError> {
    let name = repository_of(ctx, input)?;
    ctx.authorize("ListTagsForResource", &Resource::Repository(&name)).await?;
    let tags = ctx.app.registry.resource_tags(&name).await.map_err(registry_error(ctx, &name))?;
    Ok(json!({"tags": tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>()}))
}
