//! Pull time update exclusions: `RegisterPullTimeUpdateExclusion`, `DeregisterPullTimeUpdateExclusion`,
//! `ListPullTimeUpdateExclusions`. A principal is named by its ARN as berth's policies name it: a user is
//! `arn:aws:iam::ACCOUNT:user/NAME` (whatever credential it pulls with: password, access key, bearer token),
//! a robot token `arn:aws:iam::ACCOUNT:role/robot/NAME`. The registry applies them when it records pulls.

use berth_identity::Resource;
use berth_registry::principal_label;
use serde_json::{Value, json};

use super::Ctx;
use super::errors::AwsError;
use super::input::{Input, decode_token, encode_token};

/// botocore's `PrincipalArn` length bound.
const ARN_MAX: usize = 200;
/// ListPullTimeUpdateExclusions' page size when the client sends no `maxResults`.
const DEFAULT_PAGE: u32 = 100;

/// Whether `arn` has the form of botocore's `PrincipalArn`:
/// `^arn:aws(-[a-z]+)*:iam::[0-9]{12}:(role|user)/[\w+=,.@-]+(/[\w+=,.@-]+)*$`.
fn is_principal_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:aws") else { return false };
    let Some((partition, rest)) = rest.split_once(":iam::") else { return false };
    let partition_ok = partition.split('-').skip(1).all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && (partition.is_empty() || partition.starts_with('-'));
    let Some((account, path)) = rest.split_once(':') else { return false };
    let Some(names) = path.strip_prefix("role/").or_else(|| path.strip_prefix("user/")) else { return false };
    let name_ok = |n: &str| !n.is_empty() && n.chars().all(|c| c.is_alphanumeric() || c == '_' || "+=,.@-".contains(c));
    partition_ok && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && names.split('/').all(name_ok)
}

/// `principalArn`, required, valid, and naming a principal of this registry.
fn principal_arn<'a>(ctx: &Ctx<'_>, input: &Input<'a>) -> Result<&'a str, AwsError> {
    let arn = input.opt_str("principalArn")?.ok_or_else(|| {
        AwsError::invalid("Invalid parameter at 'principalArn' failed to satisfy constraint: 'Member must not be null'")
    })?;
    if arn.chars().count() > ARN_MAX || !is_principal_arn(arn) {
        return Err(AwsError::invalid(format!(
            "Invalid parameter at 'principalArn' failed to satisfy constraint: 'Member must satisfy regular \
             expression pattern: ^arn:aws(-[a-z]+)*:iam::[0-9]{{12}}:(role|user)/[\\w+=,.@-]+(/[\\w+=,.@-]+)*$' \
             and have length less than or equal to {ARN_MAX}"
        )));
    }
    let account = ctx.registry_id();
    if !arn.starts_with(&format!("arn:aws:iam::{account}:")) || principal_label(arn).is_none() {
        return Err(AwsError::invalid(format!(
            "Invalid parameter at 'principalArn': {arn:?} is not a principal of this registry; berth's \
             principals are users (arn:aws:iam::{account}:user/NAME) and robot tokens \
             (arn:aws:iam::{account}:role/robot/NAME)"
        )));
    }
    Ok(arn)
}

async fn audited<T>(ctx: &Ctx<'_>, action: &str, result: &Result<T, AwsError>) {
    let (outcome, status) = match result {
        Ok(_) => ("allowed", 200),
        Err(e) => ("error", e.kind.status().as_u16()),
    };
    ctx.audit(action, &Resource::Registry, outcome, status).await;
}

fn registry_error(e: berth_registry::RegistryError) -> AwsError {
    AwsError::from_registry(e, "", "")
}

pub async fn register(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    let arn = principal_arn(ctx, input)?;
    let result = ctx.app.registry.register_pull_exclusion(arn).await.map_err(registry_error);
    audited(ctx, "ecr:RegisterPullTimeUpdateExclusion", &result).await;
    let e = result?;
    Ok(json!({"principalArn": e.principal_arn, "createdAt": e.created_at}))
}

pub async fn deregister(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    let arn = principal_arn(ctx, input)?;
    let result = ctx.app.registry.deregister_pull_exclusion(arn).await.map_err(registry_error);
    audited(ctx, "ecr:DeregisterPullTimeUpdateExclusion", &result).await;
    result?;
    Ok(json!({"principalArn": arn}))
}

pub async fn list(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    let want = input.max_results()?.unwrap_or(DEFAULT_PAGE);
    let after = input.opt_str("nextToken")?.map(decode_token).transpose()?;
    let mut page =
        ctx.app.registry.pull_exclusions(after.as_deref(), want.saturating_add(1)).await.map_err(registry_error)?;
    let more = page.len() > want as usize;
    page.truncate(want as usize);
    let arns: Vec<&str> = page.iter().map(|e| e.principal_arn.as_str()).collect();
    let mut out = json!({"pullTimeUpdateExclusions": arns});
    if more && let Some(last) = page.last() {
        out["nextToken"] = json!(encode_token(&last.principal_arn));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::is_principal_arn;

    #[test]
    fn principal_arns_have_ecrs_form() {
        for good in [
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:iam::123456789012:role/robot/ci",
            "arn:aws-cn:iam::123456789012:user/a.b@c",
            "arn:aws:iam::123456789012:user/path/to/x_y-z+=,",
        ] {
            assert!(is_principal_arn(good), "{good}");
        }
        for bad in [
            "",
            "arn:aws:iam::123456789012:group/admins",
            "arn:aws:iam::12345678901:user/alice",
            "arn:aws:iam::123456789012:user/",
            "arn:aws:iam::123456789012:user/a//b",
            "arn:aws:iam::123456789012:user/a b",
            "arn:aws-:iam::123456789012:user/a",
            "arn:awsx:iam::123456789012:user/a",
            "arn:aws:ecr:us-east-1:123456789012:repository/a",
        ] {
            assert!(!is_principal_arn(bad), "{bad}");
        }
    }
}
