//! `CreateRepository`, `DescribeRepositories`, `DeleteRepository`.

use berth_identity::Resource;
use berth_meta::settings::{MAX_MUTABILITY_EXCLUSIONS, RepositoryRecord, RepositorySettings, TagMutability};
use berth_oci::RepositoryName;
use serde_json::{Value, json};

use super::Ctx;
use super::errors::{AwsError, ErrorType};
use super::input::{Input, decode_token, encode_token, repository_name};

/// DescribeRepositories' page size when the client sends no `maxResults` (as ECR).
const DEFAULT_PAGE: u32 = 100;
/// ECR's limits on resource tags.
pub const MAX_TAGS: usize = 50;
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;

/// The `Repository` structure of ECR's model. `encryptionConfiguration` is ECR's default, `AES256`, the only
/// type berth accepts: berth does not encrypt blobs itself, encryption at rest is the data directory's disk's
/// (README, "Deliberate differences from ECR"); answering it keeps scripts that read it working.
pub fn repository_json(ctx: &Ctx<'_>, r: &RepositoryRecord) -> Value {
    let mut v = json!({
        "repositoryArn": ctx.app.identity.account().repository_arn(&r.name),
        "registryId": ctx.registry_id(),
        "repositoryName": r.name.as_str(),
        "repositoryUri": ctx.repository_uri(&r.name),
        "createdAt": r.created_at,
        "imageTagMutability": mutability_name(r.tag_mutability, &r.tag_mutability_exclusions),
        "imageScanningConfiguration": {"scanOnPush": r.scan_on_push},
        "encryptionConfiguration": {"encryptionType": "AES256"},
    });
    if !r.tag_mutability_exclusions.is_empty() {
        v["imageTagMutabilityExclusionFilters"] = exclusion_filters_json(&r.tag_mutability_exclusions);
    }
    v
}

/// A `TagList`: at most 50 `{"Key", "Value"}`, keys of 1 to 128 characters not starting with `aws:`, values
/// of at most 256.
pub fn resource_tags(list: &[Value]) -> Result<Vec<(String, String)>, AwsError> {
    if list.len() > MAX_TAGS {
        return Err(AwsError::new(ErrorType::TooManyTags, format!("a repository can have at most {MAX_TAGS} tags")));
    }
    let mut tags = Vec::new();
    for tag in list {
        let tag = match tag {
            Value::Object(m) => Input(m),
            _ => {
                return Err(AwsError::new(ErrorType::InvalidTagParameter, "each tag must be {\"Key\", \"Value\"}"));
            }
        };
        let bad = |m: &str| AwsError::new(ErrorType::InvalidTagParameter, m.to_string());
        let key = tag.opt_str("Key").map_err(|e| bad(&e.message))?.ok_or_else(|| bad("a tag's Key is required"))?;
        let value =
            tag.opt_str("Value").map_err(|e| bad(&e.message))?.ok_or_else(|| bad("a tag's Value is required"))?;
        check_tag_key(key)?;
        if value.chars().count() > MAX_TAG_VALUE {
            return Err(bad(&format!("tag values must have at most {MAX_TAG_VALUE} characters")));
        }
        tags.push((key.to_string(), value.to_string()));
    }
    Ok(tags)
}

/// A resource tag key: 1 to 128 characters, not starting with `aws:`.
pub fn check_tag_key(key: &str) -> Result<(), AwsError> {
    let bad = |m: &str| AwsError::new(ErrorType::InvalidTagParameter, m.to_string());
    if key.is_empty() || key.chars().count() > MAX_TAG_KEY {
        return Err(bad(&format!("tag keys must have 1 to {MAX_TAG_KEY} characters")));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(bad("tag keys starting with aws: are reserved"));
    }
    Ok(())
}

/// `imageTagMutability` with `imageTagMutabilityExclusionFilters`: the `*_WITH_EXCLUSION` modes need 1 to 5
/// `WILDCARD` filters, the plain modes none.
pub(crate) fn tag_mutability(input: &Input<'_>) -> Result<(TagMutability, Vec<String>), AwsError> {
    let mode = input.opt_enum(
        "imageTagMutability",
        &["MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION"],
    )?;
    let filters = input.opt_list("imageTagMutabilityExclusionFilters")?;
    let with_exclusion = matches!(mode, Some("IMMUTABLE_WITH_EXCLUSION" | "MUTABLE_WITH_EXCLUSION"));
    let exclusions = match (with_exclusion, filters) {
        (true, None) => {
            return Err(AwsError::invalid(
                "imageTagMutabilityExclusionFilters are required with IMMUTABLE_WITH_EXCLUSION and MUTABLE_WITH_EXCLUSION",
            ));
        }
        (false, Some(_)) => {
            return Err(AwsError::invalid(
                "imageTagMutabilityExclusionFilters can only be given with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION",
            ));
        }
        (false, None) => Vec::new(),
        (true, Some(list)) => exclusion_filters(list)?,
    };
    let mutability = match mode {
        Some("IMMUTABLE" | "IMMUTABLE_WITH_EXCLUSION") => TagMutability::Immutable,
        _ => TagMutability::Mutable,
    };
    Ok((mutability, exclusions))
}

fn exclusion_filters(list: &[Value]) -> Result<Vec<String>, AwsError> {
    if list.is_empty() || list.len() > MAX_MUTABILITY_EXCLUSIONS {
        return Err(AwsError::invalid(format!(
            "Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: \
             'Member must have length between 1 and {MAX_MUTABILITY_EXCLUSIONS}'"
        )));
    }
    let mut out = Vec::new();
    for f in list {
        let f = match f {
            Value::Object(m) => Input(m),
            _ => return Err(AwsError::invalid("each exclusion filter must be {\"filterType\", \"filter\"}")),
        };
        if f.opt_enum("filterType", &["WILDCARD"])?.is_none() {
            return Err(AwsError::invalid("an exclusion filter's filterType (WILDCARD) is required"));
        }
        let filter =
            f.opt_str("filter")?.ok_or_else(|| AwsError::invalid("an exclusion filter's filter is required"))?;
        let valid = (1..=128).contains(&filter.len())
            && filter.bytes().all(|b| b.is_ascii_alphanumeric() || b"._*-".contains(&b));
        if !valid {
            return Err(AwsError::invalid(format!(
                "Invalid exclusion filter {filter:?}: 1 to 128 of the characters [0-9a-zA-Z._*-]"
            )));
        }
        out.push(filter.to_string());
    }
    Ok(out)
}

/// The `imageTagMutability` ECR shows for a mutability and its exclusions.
pub(crate) fn mutability_name(mutability: TagMutability, exclusions: &[String]) -> &'static str {
    match (mutability, exclusions.is_empty()) {
        (TagMutability::Mutable, true) => "MUTABLE",
        (TagMutability::Immutable, true) => "IMMUTABLE",
        (TagMutability::Mutable, false) => "MUTABLE_WITH_EXCLUSION",
        (TagMutability::Immutable, false) => "IMMUTABLE_WITH_EXCLUSION",
    }
}

pub(crate) fn exclusion_filters_json(exclusions: &[String]) -> Value {
    exclusions.iter().map(|f| json!({"filterType": "WILDCARD", "filter": f})).collect()
}

/// An `encryptionConfiguration`: berth accepts ECR's default, `AES256` without a key.
pub(crate) fn check_encryption(enc: &Input<'_>) -> Result<(), AwsError> {
    match enc.opt_enum("encryptionType", &["AES256", "KMS", "KMS_DSSE"])? {
        None => Err(AwsError::invalid(
            "Invalid parameter at 'encryptionConfiguration.encryptionType' failed to satisfy constraint: 'Member must not be null'",
        )),
        // The default ECR clients send: accepted, berth's storage is the operator's disk.
        Some("AES256") if enc.opt_str("kmsKey")?.is_none() => Ok(()),
        Some("AES256") => Err(AwsError::invalid("kmsKey can only be given with encryptionType KMS")),
        Some(other) => Err(AwsError::invalid(format!("encryptionType {other} is not supported by berth (no KMS)"))),
    }
}

pub(crate) fn settings(input: &Input<'_>) -> Result<RepositorySettings, AwsError> {
    let (tag_mutability, tag_mutability_exclusions) = tag_mutability(input)?;
    let scan_on_push = match input.opt_object("imageScanningConfiguration")? {
        Some(c) => c.opt_bool("scanOnPush")?.unwrap_or(false),
        None => false,
    };
    if let Some(enc) = input.opt_object("encryptionConfiguration")? {
        check_encryption(&enc)?;
    }
    let tags = match input.opt_list("tags")? {
        Some(list) => resource_tags(list)?,
        None => Vec::new(),
    };
    Ok(RepositorySettings { tag_mutability, tag_mutability_exclusions, scan_on_push, tags })
}

pub async fn create(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    let settings = settings(input)?;
    let result = ctx.app.registry.create_repository(&name, &settings).await;
    let result = result.map_err(|e| AwsError::from_registry(e, name.as_str(), ctx.registry_id()));
    audit_mutation(ctx, "ecr:CreateRepository", &name, result.as_ref().err()).await;
    let record = result?;
    Ok(json!({"repository": repository_json(ctx, &record)}))
}

pub async fn delete(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    let force = input.opt_bool("force")?.unwrap_or(false);
    let result = ctx.app.registry.delete_repository(&name, force).await;
    let result = result.map_err(|e| AwsError::from_registry(e, name.as_str(), ctx.registry_id()));
    audit_mutation(ctx, "ecr:DeleteRepository", &name, result.as_ref().err()).await;
    let record = result?;
    Ok(json!({"repository": repository_json(ctx, &record)}))
}

/// Creations and deletions are audited with their outcome (refusals are audited where access is decided).
async fn audit_mutation(ctx: &Ctx<'_>, action: &str, name: &RepositoryName, error: Option<&AwsError>) {
    let (outcome, status) = match error {
        None => ("allowed", 200),
        Some(e) => ("error", e.kind.status().as_u16()),
    };
    ctx.audit(action, &Resource::Repository(name), outcome, status).await;
}

pub async fn describe(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let max_results = input.max_results()?;
    let next_token = input.opt_str("nextToken")?;
    if let Some(names) = input.opt_list("repositoryNames")? {
        if max_results.is_some() || next_token.is_some() {
            return Err(AwsError::invalid("maxResults and nextToken cannot be used with repositoryNames"));
        }
        return describe_named(ctx, names).await;
    }
    // Every repository the caller may describe, in lexical order; pages are filled from the full list.
    let want = max_results.unwrap_or(DEFAULT_PAGE) as usize;
    let mut cursor = next_token.map(decode_token).transpose()?;
    if let Some(c) = &cursor {
        repository_name("nextToken", c).map_err(|_| AwsError::invalid("Invalid parameter at 'nextToken'"))?;
    }
    let mut shown = Vec::new();
    let more = loop {
        let page = ctx
            .app
            .registry
            .repositories(cursor.as_deref(), 500)
            .await
            .map_err(|e| AwsError::from_registry(e, "", ctx.registry_id()))?;
        for record in page.entries.iter() {
            if shown.len() > want {
                break;
            }
            if ctx.may("DescribeRepositories", &record.name).await? {
                shown.push(record.clone());
            }
        }
        if shown.len() > want {
            break true;
        }
        match page.entries.last() {
            Some(last) if page.more => cursor = Some(last.name.to_string()),
            _ => break false,
        }
    };
    shown.truncate(want);
    let mut out = json!({"repositories": shown.iter().map(|r| repository_json(ctx, r)).collect::<Vec<_>>()});
    if more && let Some(last) = shown.last() {
        out["nextToken"] = json!(encode_token(last.name.as_str()));
    }
    Ok(out)
}

/// `repositoryNames`: each must be allowed and exist, or the whole request fails (as ECR).
async fn describe_named(ctx: &Ctx<'_>, names: &[Value]) -> Result<Value, AwsError> {
    if names.is_empty() || names.len() > 100 {
        return Err(AwsError::invalid(
            "Invalid parameter at 'repositoryNames' failed to satisfy constraint: 'Member must have length between 1 and 100'",
        ));
    }
    let mut parsed: Vec<RepositoryName> = Vec::new();
    for n in names {
        let n = n.as_str().ok_or_else(|| AwsError::invalid("repositoryNames must be a list of strings"))?;
        let name = repository_name("repositoryNames", n)?;
        if !parsed.contains(&name) {
            parsed.push(name);
        }
    }
    let mut out = Vec::new();
    for name in &parsed {
        let record = ctx
            .app
            .registry
            .repository(name)
            .await
            .map_err(|e| AwsError::from_registry(e, name.as_str(), ctx.registry_id()))?;
        out.push(repository_json(ctx, &record));
    }
    Ok(json!({"repositories": out}))
}

pub async fn put_image_tag_mutability(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    if input.opt_str("imageTagMutability")?.is_none() {
        return Err(AwsError::invalid(
            "Invalid parameter at 'imageTagMutability' failed to satisfy constraint: 'Member must not be null'",
        ));
    }
    let (mutability, exclusions) = tag_mutability(input)?;
    let result = ctx.app.registry.set_tag_mutability(&name, mutability, &exclusions).await;
    let result = result.map_err(|e| AwsError::from_registry(e, name.as_str(), ctx.registry_id()));
    audit_mutation(ctx, "ecr:PutImageTagMutability", &name, result.as_ref().err()).await;
    let r = result?;
    let mut out = json!({
        "registryId": ctx.registry_id(),
        "repositoryName": name.as_str(),
        "imageTagMutability": mutability_name(r.tag_mutability, &r.tag_mutability_exclusions),
    });
    if !r.tag_mutability_exclusions.is_empty() {
        out["imageTagMutabilityExclusionFilters"] = exclusion_filters_json(&r.tag_mutability_exclusions);
    }
    Ok(out)
}

pub async fn put_image_scanning_configuration(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    let config = input.opt_object("imageScanningConfiguration")?.ok_or_else(|| {
        AwsError::invalid(
            "Invalid parameter at 'imageScanningConfiguration' failed to satisfy constraint: 'Member must not be null'",
        )
    })?;
    let scan_on_push = config.opt_bool("scanOnPush")?.unwrap_or(false);
    let result = ctx.app.registry.set_scan_on_push(&name, scan_on_push).await;
    let result = result.map_err(|e| AwsError::from_registry(e, name.as_str(), ctx.registry_id()));
    audit_mutation(ctx, "ecr:PutImageScanningConfiguration", &name, result.as_ref().err()).await;
    let r = result?;
    Ok(json!({
        "registryId": ctx.registry_id(),
        "repositoryName": name.as_str(),
        "imageScanningConfiguration": {"scanOnPush": r.scan_on_push},
    }))
}
