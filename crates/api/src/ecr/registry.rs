//! Registry-wide operations: `DescribeRegistry`, account settings, and the scanning configuration
//! (`Put/GetRegistryScanningConfiguration`, `BatchGetRepositoryScanningConfiguration`).

use berth_identity::Resource;
use berth_registry::{AccountSetting, ScanFrequency, ScanRule, ScanType, ScanningConfiguration};
use serde_json::{Value, json};

use super::Ctx;
use super::errors::{AwsError, ErrorType};
use super::input::{Input, repository_name};

fn registry_error(e: berth_registry::RegistryError) -> AwsError {
    match e {
        berth_registry::RegistryError::InvalidSetting(m) => AwsError::new(ErrorType::Validation, m),
        other => AwsError::from_registry(other, "", ""),
    }
}

pub async fn describe_registry(ctx: &Ctx<'_>, _input: &Input<'_>) -> Result<Value, AwsError> {
    // Replication is not a berth feature yet: no rules is the truth.
    Ok(json!({"registryId": ctx.registry_id(), "replicationConfiguration": {"rules": []}}))
}

fn account_setting(input: &Input<'_>) -> Result<AccountSetting, AwsError> {
    let name = input.opt_str("name")?.ok_or_else(|| {
        AwsError::invalid("Invalid parameter at 'name' failed to satisfy constraint: 'Member must not be null'")
    })?;
    AccountSetting::parse(name).ok_or_else(|| {
        let known: Vec<&str> = AccountSetting::ALL.iter().map(|s| s.name()).collect();
        AwsError::new(
            ErrorType::Validation,
            format!("unknown account setting {name:?}; berth has {}", known.join(", ")),
        )
    })
}

pub async fn get_account_setting(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    let setting = account_setting(input)?;
    let value = ctx.app.registry.account_setting(setting).await.map_err(registry_error)?;
    Ok(json!({"name": setting.name(), "value": value}))
}

pub async fn put_account_setting(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    let setting = account_setting(input)?;
    let value = input.opt_str("value")?.ok_or_else(|| {
        AwsError::invalid("Invalid parameter at 'value' failed to satisfy constraint: 'Member must not be null'")
    })?;
    let result = ctx.app.registry.put_account_setting(setting, value).await.map_err(registry_error);
    let (outcome, status) = match &result {
        Ok(()) => ("allowed", 200),
        Err(e) => ("error", e.kind.status().as_u16()),
    };
    ctx.audit("ecr:PutAccountSetting", &Resource::Registry, outcome, status).await;
    result?;
    Ok(json!({"name": setting.name(), "value": value}))
}

fn frequency_name(f: ScanFrequency) -> &'static str {
    match f {
        ScanFrequency::Manual => "MANUAL",
        ScanFrequency::ScanOnPush => "SCAN_ON_PUSH",
        ScanFrequency::ContinuousScan => "CONTINUOUS_SCAN",
    }
}

fn filters_json(filters: &[String]) -> Value {
    filters.iter().map(|f| json!({"filter": f, "filterType": "WILDCARD"})).collect()
}

fn configuration_json(c: &ScanningConfiguration) -> Value {
    let rules: Vec<Value> = c
        .rules
        .iter()
        .map(|r| json!({"scanFrequency": frequency_name(r.frequency), "repositoryFilters": filters_json(&r.filters)}))
        .collect();
    let scan_type = match c.scan_type {
        ScanType::Basic => "BASIC",
        ScanType::Enhanced => "ENHANCED",
    };
    json!({"scanType": scan_type, "rules": rules})
}

/// A repository filter of a scanning rule: `^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$`, 1 to 255 characters.
fn valid_repository_filter(f: &str) -> bool {
    let ok_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'*';
    let bytes = f.as_bytes();
    if bytes.is_empty() || bytes.len() > 255 || !ok_char(bytes[0]) || !ok_char(bytes[bytes.len() - 1]) {
        return false;
    }
    // Separators stand alone between runs of name characters.
    bytes.windows(2).all(|w| ok_char(w[0]) || ok_char(w[1]))
        && bytes.iter().all(|&b| ok_char(b) || b"._-/".contains(&b))
}

pub(crate) fn scanning_configuration(input: &Input<'_>) -> Result<ScanningConfiguration, AwsError> {
    let scan_type = match input.opt_enum("scanType", &["BASIC", "ENHANCED"])? {
        Some("ENHANCED") => ScanType::Enhanced,
        _ => ScanType::Basic,
    };
    let list = input.opt_list("rules")?.map(Vec::as_slice).unwrap_or(&[]);
    if list.len() > 2 {
        return Err(AwsError::invalid(
            "Invalid parameter at 'rules' failed to satisfy constraint: 'Member must have length less than or equal to 2'",
        ));
    }
    let mut rules = Vec::new();
    for rule in list {
        let rule = match rule {
            Value::Object(m) => Input(m),
            _ => return Err(AwsError::invalid("each rule must be {\"scanFrequency\", \"repositoryFilters\"}")),
        };
        let frequency = match rule.opt_enum("scanFrequency", &["SCAN_ON_PUSH", "CONTINUOUS_SCAN", "MANUAL"])? {
            Some("SCAN_ON_PUSH") => ScanFrequency::ScanOnPush,
            Some("CONTINUOUS_SCAN") => ScanFrequency::ContinuousScan,
            Some(_) => ScanFrequency::Manual,
            None => return Err(AwsError::invalid("a rule's scanFrequency is required")),
        };
        if scan_type == ScanType::Basic && frequency == ScanFrequency::ContinuousScan {
            return Err(AwsError::new(
                ErrorType::Validation,
                "CONTINUOUS_SCAN needs scanType ENHANCED (BASIC scans on push or manually)",
            ));
        }
        let filters = rule.opt_list("repositoryFilters")?.ok_or_else(|| {
            AwsError::invalid("a rule's repositoryFilters are required (a list of {\"filter\", \"filterType\"})")
        })?;
        if filters.len() > 100 {
            return Err(AwsError::invalid("a rule can have at most 100 repositoryFilters"));
        }
        let mut parsed = Vec::new();
        for f in filters {
            let f = match f {
                Value::Object(m) => Input(m),
                _ => return Err(AwsError::invalid("each repository filter must be {\"filter\", \"filterType\"}")),
            };
            if f.opt_enum("filterType", &["WILDCARD"])?.is_none() {
                return Err(AwsError::invalid("a repository filter's filterType (WILDCARD) is required"));
            }
            let filter = f.opt_str("filter")?.ok_or_else(|| AwsError::invalid("a repository filter is required"))?;
            if !valid_repository_filter(filter) {
                return Err(AwsError::invalid(format!(
                    "invalid repository filter {filter:?}: lower-case repository name characters and '*'"
                )));
            }
            parsed.push(filter.to_string());
        }
        rules.push(ScanRule { frequency, filters: parsed });
    }
    Ok(ScanningConfiguration { scan_type, rules })
}

pub async fn put_registry_scanning_configuration(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    let config = scanning_configuration(input)?;
    let result = ctx.app.registry.put_scanning_configuration(&config).await.map_err(registry_error);
    let (outcome, status) = match &result {
        Ok(()) => ("allowed", 200),
        Err(e) => ("error", e.kind.status().as_u16()),
    };
    ctx.audit("ecr:PutRegistryScanningConfiguration", &Resource::Registry, outcome, status).await;
    result?;
    Ok(json!({"registryScanningConfiguration": configuration_json(&config)}))
}

pub async fn get_registry_scanning_configuration(ctx: &Ctx<'_>, _input: &Input<'_>) -> Result<Value, AwsError> {
    let config = ctx.app.registry.scanning_configuration().await.map_err(registry_error)?;
    Ok(json!({"registryId": ctx.registry_id(), "scanningConfiguration": configuration_json(&config)}))
}

pub async fn batch_get_repository_scanning_configuration(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    let names = input.opt_list("repositoryNames")?.map(Vec::as_slice).unwrap_or(&[]);
    if names.is_empty() || names.len() > 25 {
        return Err(AwsError::invalid(
            "Invalid parameter at 'repositoryNames' failed to satisfy constraint: 'Member must have length between 1 and 25'",
        ));
    }
    let config = ctx.app.registry.scanning_configuration().await.map_err(registry_error)?;
    let (mut found, mut failures) = (Vec::new(), Vec::new());
    for name in names {
        let name = name.as_str().ok_or_else(|| AwsError::invalid("repositoryNames must be a list of strings"))?;
        let name = repository_name("repositoryNames", name)?;
        match ctx.app.registry.repository(&name).await {
            Ok(record) => {
                let s = config.for_repository(&name, record.scan_on_push);
                found.push(json!({
                    "repositoryArn": ctx.app.identity.account().repository_arn(&name),
                    "repositoryName": name.as_str(),
                    "scanOnPush": s.scan_on_push,
                    "scanFrequency": frequency_name(s.frequency),
                    "appliedScanFilters": filters_json(&s.applied_filters),
                }));
            }
            Err(berth_registry::RegistryError::NameUnknown) => failures.push(json!({
                "repositoryName": name.as_str(),
                "failureCode": "REPOSITORY_NOT_FOUND",
                "failureReason": "REPOSITORY_NOT_FOUND",
            })),
            Err(e) => return Err(AwsError::from_registry(e, name.as_str(), ctx.registry_id())),
        }
    }
    Ok(json!({"scanningConfigurations": found, "failures": failures}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_filters_follow_the_model_pattern() {
        for ok in ["*", "prod/*", "team-a/app_1", "a", "a*b", "x.y/z"] {
            assert!(valid_repository_filter(ok), "{ok}");
        }
        for bad in ["", "Prod", "/a", "a/", "a//b", "a-", "-a", "a b", &"a".repeat(256)] {
            assert!(!valid_repository_filter(bad), "{bad}");
        }
    }
}
