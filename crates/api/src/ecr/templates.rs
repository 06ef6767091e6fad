//! Repository creation templates: `CreateRepositoryCreationTemplate`, `DescribeRepositoryCreationTemplates`,
//! `UpdateRepositoryCreationTemplate`, `DeleteRepositoryCreationTemplate`. berth-registry stores them and
//! applies them to repositories created by a push; this module reads and shapes the members as botocore's
//! model has them. A template's repository policy is checked as `SetRepositoryPolicy` checks one, its
//! lifecycle policy as `PutLifecyclePolicy` does.
//!
//! An update changes the members it is given and keeps the others; an empty `repositoryPolicy` or
//! `lifecyclePolicy` removes it.

use berth_identity::Resource;
use berth_meta::identity::PolicyTarget;
use berth_meta::settings::TagMutability;
use berth_meta::templates::CreationTemplate;
use berth_registry::templates::{APPLIED_FOR, ROOT, normalize_prefix};
use serde_json::{Value, json};

use super::Ctx;
use super::errors::{AwsError, ErrorType};
use super::input::{Input, decode_token, encode_token};
use super::policies::MAX_POLICY;
use super::repositories::{check_encryption, exclusion_filters_json, mutability_name, resource_tags, tag_mutability};

/// botocore's bounds: `Prefix`, `RepositoryTemplateDescription`, `LifecyclePolicyTextForRepositoryCreationTemplate`,
/// `CustomRoleArn`.
const PREFIX_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 256;
const LIFECYCLE_MAX: usize = 30720;
const ROLE_ARN_MAX: usize = 2048;
/// `DescribeRepositoryCreationTemplates`' page size when the client sends no `maxResults` (as ECR).
const DEFAULT_PAGE: u32 = 100;

fn constraint(member: &str, what: &str) -> AwsError {
    AwsError::invalid(format!("Invalid parameter at '{member}' failed to satisfy constraint: '{what}'"))
}

/// A `Prefix`: `ROOT`, or slash-separated components of lower-case letters and digits joined by `.`, `_`,
/// `__` or dashes, with an optional trailing `/` (botocore's pattern), 1 to 256 characters.
fn check_prefix(member: &str, prefix: &str) -> Result<(), AwsError> {
    if prefix.is_empty() || prefix.len() > PREFIX_MAX {
        return Err(constraint(member, &format!("Member must have length between 1 and {PREFIX_MAX}")));
    }
    let component = |c: &str| {
        let b = c.as_bytes();
        let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
        if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
            return false;
        }
        // Separators between alphanumeric runs: one `.`, one or two `_`, or any number of `-`.
        let mut i = 0;
        while i < b.len() {
            if alnum(b[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && !alnum(b[i]) {
                i += 1;
            }
            let sep = &c[start..i];
            let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
            if !ok {
                return false;
            }
        }
        true
    };
    let body = prefix.strip_suffix('/').unwrap_or(prefix);
    if prefix == ROOT || body.split('/').all(component) {
        Ok(())
    } else {
        Err(constraint(
            member,
            "Member must satisfy regular expression pattern: \
             ^([a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*\\/?|ROOT)$",
        ))
    }
}

fn required_prefix<'a>(input: &Input<'a>) -> Result<&'a str, AwsError> {
    let prefix = input.required("prefix", input.opt_str("prefix")?)?;
    check_prefix("prefix", prefix)?;
    Ok(prefix)
}

/// The members a create or an update gives; `None` for those it leaves out.
#[derive(Default)]
struct Changes {
    description: Option<String>,
    encryption: Option<(String, Option<String>)>,
    resource_tags: Option<Vec<(String, String)>>,
    mutability: Option<(TagMutability, Vec<String>)>,
    /// `Some(None)`: removed (given empty).
    repository_policy: Option<Option<String>>,
    lifecycle_policy: Option<Option<String>>,
    applied_for: Option<Vec<String>>,
    custom_role_arn: Option<Option<String>>,
}

/// A policy text member: at most `max` characters; empty means none.
fn policy_member(input: &Input<'_>, member: &str, max: usize) -> Result<Option<Option<String>>, AwsError> {
    match input.opt_str(member)? {
        None => Ok(None),
        Some(t) if t.chars().count() > max => {
            Err(constraint(member, &format!("Member must have length less than or equal to {max}")))
        }
        Some("") => Ok(Some(None)),
        Some(t) => Ok(Some(Some(t.to_string()))),
    }
}

fn changes(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Changes, AwsError> {
    let mut c = Changes::default();
    if let Some(d) = input.opt_str("description")? {
        if d.chars().count() > DESCRIPTION_MAX {
            return Err(constraint(
                "description",
                &format!("Member must have length less than or equal to {DESCRIPTION_MAX}"),
            ));
        }
        c.description = Some(d.to_string());
    }
    if let Some(enc) = input.opt_object("encryptionConfiguration")? {
        check_encryption(&enc)?;
        c.encryption = Some(("AES256".to_string(), None));
    }
    if let Some(list) = input.opt_list("resourceTags")? {
        // The template operations model InvalidParameterException only (no tag-specific types).
        let tags = resource_tags(list)
            .map_err(|e| AwsError::invalid(format!("Invalid parameter at 'resourceTags': {}", e.message)))?;
        let mut unique: Vec<(String, String)> = Vec::new();
        for (k, v) in tags {
            unique.retain(|(key, _)| key != &k);
            unique.push((k, v));
        }
        c.resource_tags = Some(unique);
    }
    if input.opt_str("imageTagMutability")?.is_some() || input.opt_list("imageTagMutabilityExclusionFilters")?.is_some()
    {
        c.mutability = Some(tag_mutability(input)?);
    }
    c.repository_policy = policy_member(input, "repositoryPolicy", MAX_POLICY)?;
    if let Some(Some(text)) = &c.repository_policy {
        // Checked as SetRepositoryPolicy checks a repository's policy (a resource policy).
        ctx.app
            .identity
            .check_policy(&PolicyTarget::Registry, text)
            .map_err(|e| AwsError::invalid(format!("Invalid parameter at 'repositoryPolicy': {e}")))?;
    }
    c.lifecycle_policy = policy_member(input, "lifecyclePolicy", LIFECYCLE_MAX)?;
    if let Some(list) = input.opt_list("appliedFor")? {
        let mut applied = Vec::new();
        for v in list {
            let v = v.as_str().filter(|v| APPLIED_FOR.contains(v)).ok_or_else(|| {
                constraint("appliedFor", &format!("Member must satisfy enum value set: [{}]", APPLIED_FOR.join(", ")))
            })?;
            if !applied.iter().any(|a| a == v) {
                applied.push(v.to_string());
            }
        }
        if applied.is_empty() {
            return Err(AwsError::new(
                ErrorType::Validation,
                format!("appliedFor must name at least one of {}", APPLIED_FOR.join(", ")),
            ));
        }
        c.applied_for = Some(applied);
    }
    if let Some(arn) = input.opt_str("customRoleArn")? {
        if arn.len() > ROLE_ARN_MAX {
            return Err(constraint(
                "customRoleArn",
                &format!("Member must have length less than or equal to {ROLE_ARN_MAX}"),
            ));
        }
        c.custom_role_arn = Some(if arn.is_empty() { None } else { Some(role_arn(ctx, arn)?) });
    }
    Ok(c)
}

/// A role of this account: `arn:aws:iam::<account>:role/<name>`. berth assumes no roles (templates are
/// applied with berth's own rights); the ARN is kept for clients that read it back.
fn role_arn(ctx: &Ctx<'_>, arn: &str) -> Result<String, AwsError> {
    let Some(rest) = arn.strip_prefix("arn:aws:iam::") else {
        return Err(AwsError::invalid(format!("Invalid parameter at 'customRoleArn': {arn:?} is not an IAM role ARN")));
    };
    let (account, role) = rest.split_once(':').unwrap_or((rest, ""));
    let name = role.strip_prefix("role/").unwrap_or("");
    if name.is_empty() {
        return Err(AwsError::invalid(format!("Invalid parameter at 'customRoleArn': {arn:?} is not an IAM role ARN")));
    }
    if account != ctx.registry_id() {
        return Err(AwsError::new(
            ErrorType::Validation,
            format!("customRoleArn must name a role of the registry's account {}, not {account}", ctx.registry_id()),
        ));
    }
    Ok(arn.to_string())
}

impl Changes {
    fn apply(self, t: &mut CreationTemplate) {
        if let Some(d) = self.description {
            t.description = d;
        }
        if let Some(e) = self.encryption {
            t.encryption = Some(e);
        }
        if let Some(tags) = self.resource_tags {
            t.resource_tags = tags;
        }
        if let Some((m, exclusions)) = self.mutability {
            (t.tag_mutability, t.tag_mutability_exclusions) = (m, exclusions);
        }
        if let Some(p) = self.repository_policy {
            t.repository_policy = p;
        }
        if let Some(p) = self.lifecycle_policy {
            t.lifecycle_policy = p;
        }
        if let Some(a) = self.applied_for {
            t.applied_for = a;
        }
        if let Some(r) = self.custom_role_arn {
            t.custom_role_arn = r;
        }
    }
}

/// The `RepositoryCreationTemplate` structure of ECR's model.
fn template_json(t: &CreationTemplate) -> Value {
    let mut v = json!({
        "prefix": t.prefix,
        "description": t.description,
        "encryptionConfiguration": {"encryptionType": "AES256"},
        "resourceTags": t.resource_tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
        "imageTagMutability": mutability_name(t.tag_mutability, &t.tag_mutability_exclusions),
        "appliedFor": t.applied_for,
        "createdAt": t.created_at,
        "updatedAt": t.updated_at,
    });
    if !t.tag_mutability_exclusions.is_empty() {
        v["imageTagMutabilityExclusionFilters"] = exclusion_filters_json(&t.tag_mutability_exclusions);
    }
    if let Some(p) = &t.repository_policy {
        v["repositoryPolicy"] = json!(p);
    }
    if let Some(p) = &t.lifecycle_policy {
        v["lifecyclePolicy"] = json!(p);
    }
    if let Some(r) = &t.custom_role_arn {
        v["customRoleArn"] = json!(r);
    }
    v
}

async fn audited(ctx: &Ctx<'_>, action: &str, result: &Result<CreationTemplate, AwsError>) {
    let (outcome, status) = match result {
        Ok(_) => ("allowed", 200),
        Err(e) => ("error", e.kind.status().as_u16()),
    };
    ctx.audit(action, &Resource::Registry, outcome, status).await;
}

fn answer(ctx: &Ctx<'_>, t: &CreationTemplate) -> Value {
    json!({"registryId": ctx.registry_id(), "repositoryCreationTemplate": template_json(t)})
}

pub async fn create(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    let prefix = required_prefix(input)?;
    input.required("appliedFor", input.opt_list("appliedFor")?)?;
    let changes = changes(ctx, input)?;
    let mut template = CreationTemplate {
        prefix: prefix.to_string(),
        description: String::new(),
        encryption: None,
        resource_tags: Vec::new(),
        tag_mutability: TagMutability::Mutable,
        tag_mutability_exclusions: Vec::new(),
        repository_policy: None,
        lifecycle_policy: None,
        applied_for: Vec::new(),
        custom_role_arn: None,
        created_at: 0,
        updated_at: 0,
    };
    changes.apply(&mut template);
    let result = ctx.app.registry.create_template(template).await.map_err(|e| registry_error(ctx, e));
    audited(ctx, "ecr:CreateRepositoryCreationTemplate", &result).await;
    Ok(answer(ctx, &result?))
}

pub async fn update(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    let prefix = required_prefix(input)?;
    let changes = changes(ctx, input)?;
    let result =
        ctx.app.registry.update_template(prefix, |t| changes.apply(t)).await.map_err(|e| registry_error(ctx, e));
    audited(ctx, "ecr:UpdateRepositoryCreationTemplate", &result).await;
    Ok(answer(ctx, &result?))
}

pub async fn delete(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    let prefix = required_prefix(input)?;
    let result = ctx.app.registry.delete_template(prefix).await.map_err(|e| registry_error(ctx, e));
    audited(ctx, "ecr:DeleteRepositoryCreationTemplate", &result).await;
    Ok(answer(ctx, &result?))
}

pub async fn describe(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    let n = input.max_results()?.unwrap_or(DEFAULT_PAGE);
    let after = input.opt_str("nextToken")?.map(decode_token).transpose()?;
    let registry = &ctx.app.registry;
    let (page, more) = match input.opt_list("prefixes")? {
        None => {
            // One more than asked: whether another page follows.
            let mut page = registry.templates(after.as_deref(), n + 1).await.map_err(|e| registry_error(ctx, e))?;
            let more = page.len() > n as usize;
            page.truncate(n as usize);
            (page, more)
        }
        Some(list) => {
            let mut wanted = Vec::new();
            for p in list {
                let p = p.as_str().ok_or_else(|| constraint("prefixes", "must be a list of strings"))?;
                check_prefix("prefixes", p)?;
                wanted.push(normalize_prefix(p).to_string());
            }
            wanted.sort();
            wanted.dedup();
            wanted.retain(|p| after.as_deref().is_none_or(|a| p.as_str() > a));
            let mut found = Vec::new();
            let mut more = false;
            for p in wanted {
                if found.len() == n as usize {
                    more = true;
                    break;
                }
                match registry.template(&p).await {
                    Ok(t) => found.push(t),
                    Err(berth_registry::RegistryError::TemplateNotFound(_)) => {}
                    Err(e) => return Err(registry_error(ctx, e)),
                }
            }
            (found, more)
        }
    };
    let mut out = json!({
        "registryId": ctx.registry_id(),
        "repositoryCreationTemplates": page.iter().map(template_json).collect::<Vec<_>>(),
    });
    if let (true, Some(last)) = (more, page.last()) {
        out["nextToken"] = json!(encode_token(&last.prefix));
    }
    Ok(out)
}

fn registry_error(ctx: &Ctx<'_>, e: berth_registry::RegistryError) -> AwsError {
    let e = AwsError::from_registry(e, "", ctx.registry_id());
    if e.message.starts_with("Invalid parameter at 'LifecyclePolicyText'") {
        // The member is named differently here.
        let message = e.message.replacen("'LifecyclePolicyText'", "'lifecyclePolicy'", 1);
        return AwsError::new(e.kind, message);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_follow_the_model_pattern() {
        for ok in ["ROOT", "a", "team", "team/", "team/app", "a.b", "a_b", "a__b", "a---b", "a/b/c/", "x9/y-1"] {
            assert!(check_prefix("prefix", ok).is_ok(), "{ok}");
        }
        for bad in ["", "/", "Team", "a//b", "/a", "-a", "a-", "a___b", "a..b", "a._b", "a b", "a/B"] {
            assert!(check_prefix("prefix", bad).is_err(), "{bad}");
        }
        assert!(check_prefix("prefix", &"a".repeat(257)).is_err());
        assert!(check_prefix("prefix", &"a".repeat(256)).is_ok());
    }
}
