//! `TagResource`, `UntagResource`, `ListTagsForResource` on repository ARNs (the resource tags
//! `CreateRepository` also sets).

use berth_identity::Resource;
use berth_oci::RepositoryName;
use serde_json::{Value, json};

use super::Ctx;
use super::errors::{AwsError, ErrorType};
use super::input::Input;
use super::repositories::{MAX_TAGS, check_tag_key, resource_tags};

fn repository_of(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<RepositoryName, AwsError> {
    super::access::repository_of_arn(input, ctx.app.identity.account())
}

fn registry_error(ctx: &Ctx<'_>, name: &RepositoryName) -> impl Fn(berth_registry::RegistryError) -> AwsError {
    let (name, id) = (name.to_string(), ctx.registry_id().to_string());
    move |e| AwsError::from_registry(e, &name, &id)
}

async fn audited(ctx: &Ctx<'_>, action: &str, resource: &Resource<'_>, result: &Result<(), AwsError>) {
    let (outcome, status) = match result {
        Ok(()) => ("allowed", 200),
        Err(e) => ("error", e.kind.status().as_u16()),
    };
    ctx.audit(action, resource, outcome, status).await;
}

pub async fn tag(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    let name = repository_of(ctx, input)?;
    let list = input.opt_list("tags")?.ok_or_else(|| {
        AwsError::invalid("Invalid parameter at 'tags' failed to satisfy constraint: 'Member must not be null'")
    })?;
    let tags = resource_tags(list)?;
    let resource = Resource::Repository(&name);
    // The limit is checked with the write, in one transaction: concurrent calls cannot pass it together.
    let result = ctx.app.registry.tag_repository(&name, &tags, MAX_TAGS).await.map_err(|e| match e {
        berth_registry::RegistryError::TooMany(m) => AwsError::new(ErrorType::TooManyTags, m),
        other => registry_error(ctx, &name)(other),
    });
    audited(ctx, "ecr:TagResource", &resource, &result).await;
    result?;
    Ok(json!({}))
}

pub async fn untag(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    let name = repository_of(ctx, input)?;
    let list = input.opt_list("tagKeys")?.ok_or_else(|| {
        AwsError::invalid("Invalid parameter at 'tagKeys' failed to satisfy constraint: 'Member must not be null'")
    })?;
    if list.len() > 200 {
        return Err(AwsError::new(ErrorType::InvalidTagParameter, "at most 200 tag keys"));
    }
    let mut keys = Vec::with_capacity(list.len());
    for k in list {
        let k = k.as_str().ok_or_else(|| AwsError::new(ErrorType::InvalidTagParameter, "tagKeys must be strings"))?;
        check_tag_key(k)?;
        keys.push(k.to_string());
    }
    let resource = Resource::Repository(&name);
    let result = ctx.app.registry.untag_repository(&name, &keys).await.map_err(registry_error(ctx, &name));
    audited(ctx, "ecr:UntagResource", &resource, &result).await;
    result?;
    Ok(json!({}))
}

pub async fn list(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    let name = repository_of(ctx, input)?;
    let tags = ctx.app.registry.resource_tags(&name).await.map_err(registry_error(ctx, &name))?;
    Ok(json!({"tags": tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>()}))
}
