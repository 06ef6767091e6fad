//! ECR's managed signing with berth as the signer: `PutSigningConfiguration`, `GetSigningConfiguration`,
//! `DeleteSigningConfiguration` (the registry's rules: which repositories' pushed images are signed, with
//! which key — a signing profile ARN `arn:aws:signer:REGION:ACCOUNT:/signing-profiles/NAME` names the berth
//! key `NAME`) and `DescribeImageSigningStatus` (per image, one status per matching rule).

use berth_identity::Resource;
use berth_registry::RegistryError;
use berth_registry::signing::{SigningConfiguration, SigningRule};
use serde_json::{Value, json};

use super::Ctx;
use super::errors::{AwsError, ErrorType};
use super::input::Input;

fn registry_error(e: RegistryError) -> AwsError {
    match e {
        RegistryError::InvalidSetting(m) => AwsError::new(ErrorType::Validation, m),
        other => AwsError::from_registry(other, "", ""),
    }
}

/// `SigningRepositoryFilterValue`: `^(?:[a-z0-9*]+(?:[._-][a-z0-9*]+)*/)*[a-z0-9*]+(?:[._-][a-z0-9*]+)*$`.
fn valid_filter(f: &str) -> bool {
    let component = |c: &str| {
        !c.is_empty()
            && c.split(['.', '_', '-']).all(|run| {
                !run.is_empty() && run.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'*')
            })
    };
    (1..=256).contains(&f.len()) && f.split('/').all(component)
}

fn configuration(input: &Input<'_>) -> Result<SigningConfiguration, AwsError> {
    let config = input.required("signingConfiguration", input.opt_object("signingConfiguration")?)?;
    let list = config.required("signingConfiguration.rules", config.opt_list("rules")?)?;
    if list.len() > berth_registry::signing::MAX_RULES {
        return Err(AwsError::invalid(
            "Invalid parameter at 'signingConfiguration.rules' failed to satisfy constraint: 'Member must have length less than or equal to 10'",
        ));
    }
    let mut rules = Vec::new();
    for rule in list {
        let Value::Object(m) = rule else {
            return Err(AwsError::invalid("each rule must be {\"signingProfileArn\", \"repositoryFilters\"}"));
        };
        let rule = Input(m);
        let arn = rule.required("signingProfileArn", rule.opt_str("signingProfileArn")?)?;
        let mut filters = Vec::new();
        if let Some(list) = rule.opt_list("repositoryFilters")? {
            if list.is_empty() || list.len() > 100 {
                return Err(AwsError::invalid(
                    "Invalid parameter at 'repositoryFilters' failed to satisfy constraint: 'Member must have length between 1 and 100'",
                ));
            }
            for f in list {
                let Value::Object(m) = f else {
                    return Err(AwsError::invalid("each repository filter must be {\"filter\", \"filterType\"}"));
                };
                let f = Input(m);
                let value = f.required("filter", f.opt_str("filter")?)?;
                f.required("filterType", f.opt_enum("filterType", &["WILDCARD_MATCH"])?)?;
                if !valid_filter(value) {
                    return Err(AwsError::invalid(format!(
                        "Invalid parameter at 'filter': {value:?} is not a repository filter"
                    )));
                }
                filters.push(value.to_string());
            }
        }
        rules.push(SigningRule { signing_profile_arn: arn.to_string(), repository_filters: filters });
    }
    Ok(SigningConfiguration { rules })
}

fn configuration_json(c: &SigningConfiguration) -> Value {
    let rules: Vec<Value> = c
        .rules
        .iter()
        .map(|r| {
            let mut v = json!({"signingProfileArn": r.signing_profile_arn});
            if !r.repository_filters.is_empty() {
                v["repositoryFilters"] =
                    r.repository_filters.iter().map(|f| json!({"filter": f, "filterType": "WILDCARD_MATCH"})).collect();
            }
            v
        })
        .collect();
    json!({"rules": rules})
}

fn not_found(ctx: &Ctx<'_>) -> AwsError {
    AwsError::new(
        ErrorType::SigningConfigurationNotFound,
        format!("The registry with id '{}' does not have a signing configuration", ctx.registry_id()),
    )
}

pub async fn put(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    let config = configuration(input)?;
    let result = ctx.app.registry.put_signing_configuration(&config).await.map_err(registry_error);
    let (outcome, status) = match &result {
        Ok(()) => ("allowed", 200),
        Err(e) => ("error", e.kind.status().as_u16()),
    };
    ctx.audit("ecr:PutSigningConfiguration", &Resource::Registry, outcome, status).await;
    result?;
    Ok(json!({"signingConfiguration": configuration_json(&config)}))
}

pub async fn get(ctx: &Ctx<'_>, _input: &Input<'_>) -> Result<Value, AwsError> {
    let config =
        ctx.app.registry.signing_configuration().await.map_err(registry_error)?.ok_or_else(|| not_found(ctx))?;
    Ok(json!({"registryId": ctx.registry_id(), "signingConfiguration": configuration_json(&config)}))
}

pub async fn delete(ctx: &Ctx<'_>, _input: &Input<'_>) -> Result<Value, AwsError> {
    let old = ctx.app.registry.delete_signing_configuration().await.map_err(registry_error)?;
    let status = if old.is_some() { 200 } else { 400 };
    ctx.audit(
        "ecr:DeleteSigningConfiguration",
        &Resource::Registry,
        if old.is_some() { "allowed" } else { "error" },
        status,
    )
    .await;
    let old = old.ok_or_else(|| not_found(ctx))?;
    Ok(json!({"registryId": ctx.registry_id(), "signingConfiguration": configuration_json(&old)}))
}

pub async fn describe_image_signing_status(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    ctx.existing_repository(&name).await?;
    let (digest, echoed) = super::scans::image(ctx, &name, input).await?;
    let statuses = ctx.app.registry.image_signing_status(&name, &digest).await.map_err(registry_error)?;
    let statuses: Vec<Value> = statuses
        .iter()
        .map(|s| {
            let mut v = json!({"signingProfileArn": s.signing_profile_arn, "status": s.status.as_str()});
            if let Some(why) = &s.failure_reason {
                v["failureCode"] = json!("SIGNING_FAILED");
                v["failureReason"] = json!(why);
            }
            v
        })
        .collect();
    Ok(json!({
        "repositoryName": name.as_str(),
        "imageId": echoed,
        "registryId": ctx.registry_id(),
        "signingStatuses": statuses,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_follow_the_model() {
        for ok in ["myapp/*", "*/production", "*prod*", "a", "team/app-1.x_y"] {
            assert!(valid_filter(ok), "{ok}");
        }
        for bad in ["", "Team", "a//b", "a/", "-a", "a..b", "a b"] {
            assert!(!valid_filter(bad), "{bad}");
        }
    }
}
