//! Repository and registry policies: `SetRepositoryPolicy`, `GetRepositoryPolicy`, `DeleteRepositoryPolicy`,
//! `PutRegistryPolicy`, `GetRegistryPolicy`, `DeleteRegistryPolicy`. The documents are the resource policies
//! the identity service evaluates on every request (`/v2` included); it stores them and checks their syntax.

use berth_identity::{IdentityError, Resource};
use berth_meta::identity::PolicyTarget;
use berth_oci::RepositoryName;
use serde_json::{Value, json};

use super::Ctx;
use super::errors::{AwsError, ErrorType};
use super::input::Input;

/// ECR's limit on policy texts.
pub(crate) const MAX_POLICY: usize = 10240;

fn policy_text<'a>(input: &Input<'a>) -> Result<&'a str, AwsError> {
    let text = input.opt_str("policyText")?.ok_or_else(|| {
        AwsError::invalid("Invalid parameter at 'policyText' failed to satisfy constraint: 'Member must not be null'")
    })?;
    if text.len() > MAX_POLICY {
        return Err(AwsError::invalid(format!(
            "Invalid parameter at 'policyText' failed to satisfy constraint: 'Member must have length less than or equal to {MAX_POLICY}'"
        )));
    }
    Ok(text)
}

/// An identity failure; a missing policy is `not_found`.
fn policy_error(e: IdentityError, not_found: impl FnOnce() -> AwsError) -> AwsError {
    match e {
        IdentityError::NotFound(_) => not_found(),
        IdentityError::MalformedPolicy(m) => AwsError::invalid(format!("Invalid parameter at 'policyText': {m}")),
        e => e.into(),
    }
}

fn repository_policy_not_found(ctx: &Ctx<'_>, name: &RepositoryName) -> AwsError {
    AwsError::new(
        ErrorType::RepositoryPolicyNotFound,
        format!(
            "Repository policy does not exist for the repository with name '{name}' in the registry with id '{}'",
            ctx.registry_id()
        ),
    )
}

fn registry_policy_not_found(ctx: &Ctx<'_>) -> AwsError {
    AwsError::new(
        ErrorType::RegistryPolicyNotFound,
        format!("Registry policy does not exist in the registry with id '{}'", ctx.registry_id()),
    )
}

/// The repository named by the request, which must exist.
async fn repository(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<RepositoryName, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    ctx.existing_repository(&name).await?;
    Ok(name)
}

async fn audited(ctx: &Ctx<'_>, action: &str, resource: &Resource<'_>, result: &Result<Value, AwsError>) {
    let (outcome, status) = match result {
        Ok(_) => ("allowed", 200),
        Err(e) => ("error", e.kind.status().as_u16()),
    };
    ctx.audit(action, resource, outcome, status).await;
}

pub async fn set_repository(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    let text = policy_text(input)?;
    // `force` lets ECR store a policy that would lock the caller out; berth never refuses one for that.
    input.opt_bool("force")?;
    let name = repository(ctx, input).await?;
    let target = PolicyTarget::Repository(name.clone());
    let result = ctx
        .app
        .identity
        .put_policy(&ctx.authorized, &target, text)
        .await
        .map_err(|e| policy_error(e, || AwsError::server(&"a stored policy was not found")))
        .map(|()| json!({"registryId": ctx.registry_id(), "repositoryName": name.as_str(), "policyText": text}));
    audited(ctx, "ecr:SetRepositoryPolicy", &Resource::Repository(&name), &result).await;
    result
}

pub async fn get_repository(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    let name = repository(ctx, input).await?;
    let target = PolicyTarget::Repository(name.clone());
    let text = ctx
        .app
        .identity
        .get_policy(&ctx.authorized, &target)
        .await
        .map_err(|e| policy_error(e, || repository_policy_not_found(ctx, &name)))?;
    Ok(json!({"registryId": ctx.registry_id(), "repositoryName": name.as_str(), "policyText": text}))
}

pub async fn delete_repository(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    let name = repository(ctx, input).await?;
    let target = PolicyTarget::Repository(name.clone());
    let identity = &ctx.app.identity;
    let not_found = || repository_policy_not_found(ctx, &name);
    let result = async {
        let text = identity.get_policy(&ctx.authorized, &target).await.map_err(|e| policy_error(e, not_found))?;
        identity.delete_policy(&ctx.authorized, &target).await.map_err(|e| policy_error(e, not_found))?;
        Ok(json!({"registryId": ctx.registry_id(), "repositoryName": name.as_str(), "policyText": text}))
    }
    .await;
    audited(ctx, "ecr:DeleteRepositoryPolicy", &Resource::Repository(&name), &result).await;
    result
}

pub async fn put_registry(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    let text = policy_text(input)?;
    let result = ctx
        .app
        .identity
        .put_policy(&ctx.authorized, &PolicyTarget::Registry, text)
        .await
        .map_err(|e| policy_error(e, || AwsError::server(&"a stored policy was not found")))
        .map(|()| json!({"registryId": ctx.registry_id(), "policyText": text}));
    audited(ctx, "ecr:PutRegistryPolicy", &Resource::Registry, &result).await;
    result
}

pub async fn get_registry(ctx: &Ctx<'_>, _input: &Input<'_>) -> Result<Value, AwsError> {
    let text = ctx
        .app
        .identity
        .get_policy(&ctx.authorized, &PolicyTarget::Registry)
        .await
        .map_err(|e| policy_error(e, || registry_policy_not_found(ctx)))?;
    Ok(json!({"registryId": ctx.registry_id(), "policyText": text}))
}

pub async fn delete_registry(ctx: &Ctx<'_>, _input: &Input<'_>) -> Result<Value, AwsError> {
    let identity = &ctx.app.identity;
    let target = PolicyTarget::Registry;
    let result = async {
        let text = identity
            .get_policy(&ctx.authorized, &target)
            .await
            .map_err(|e| policy_error(e, || registry_policy_not_found(ctx)))?;
        identity
            .delete_policy(&ctx.authorized, &target)
            .await
            .map_err(|e| policy_error(e, || registry_policy_not_found(ctx)))?;
        Ok(json!({"registryId": ctx.registry_id(), "policyText": text}))
    }
    .await;
    audited(ctx, "ecr:DeleteRegistryPolicy", &Resource::Registry, &result).await;
    result
}
