//! Registry settings (account settings, the scanning rules of ECR's `PutRegistryScanningConfiguration`,
//! validated exactly as that operation validates them) and the vulnerability database's status.

use axum::http::StatusCode;
use axum::response::Response;
use berth_identity::Resource;
use berth_registry::{AccountSetting, ScanFrequency, ScanType};
use serde_json::{Map, Value, json};

use super::super::views::html;
use super::route::ScanningForm;
use super::views::{self, Database, RuleRow};
use super::{Ctx, Failure, change, notice};
use crate::aws::input::Input;

fn frequency_name(f: ScanFrequency) -> &'static str {
    match f {
        ScanFrequency::Manual => "MANUAL",
        ScanFrequency::ScanOnPush => "SCAN_ON_PUSH",
        ScanFrequency::ContinuousScan => "CONTINUOUS_SCAN",
    }
}

async fn may_on_registry(ctx: &Ctx<'_>, action: &str) -> Result<bool, Failure> {
    ctx.app.identity.is_allowed(&ctx.caller, action, &Resource::Registry).await.map_err(Failure::fault)
}

/// `GET /console/admin/settings`; `rejected` is a scanning form to show again with what is wrong.
pub async fn page(ctx: &Ctx<'_>, rejected: Option<(&ScanningForm, String)>) -> Result<Response, Failure> {
    let registry = &ctx.app.registry;
    let config = registry.scanning_configuration().await.map_err(Failure::fault)?;
    let (enhanced, mut rules, error) = match rejected {
        Some((form, error)) => (
            form.scan_type == "ENHANCED",
            form.rules.iter().map(|(f, filters)| RuleRow { frequency: f.clone(), filters: filters.clone() }).collect(),
            error,
        ),
        None => (
            config.scan_type == ScanType::Enhanced,
            config
                .rules
                .iter()
                .map(|r| RuleRow { frequency: frequency_name(r.frequency).into(), filters: r.filters.join(", ") })
                .collect::<Vec<_>>(),
            String::new(),
        ),
    };
    while rules.len() < 2 {
        rules.push(RuleRow { frequency: "SCAN_ON_PUSH".into(), filters: String::new() });
    }
    let page = views::Settings {
        chrome: ctx.chrome.clone(),
        enhanced,
        rules,
        blob_mounting: registry.account_setting(AccountSetting::BlobMounting).await.map_err(Failure::fault)?,
        may_put_scanning: may_on_registry(ctx, "ecr:PutRegistryScanningConfiguration").await?,
        may_put_setting: may_on_registry(ctx, "ecr:PutAccountSetting").await?,
        notice: notice(ctx),
        status_error: error.is_empty(),
        error,
    };
    let status = if page.status_error { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    Ok(html(status, &page))
}

/// The form as `PutRegistryScanningConfiguration`'s input.
fn as_input(form: &ScanningForm) -> Map<String, Value> {
    let rules: Vec<Value> = form
        .rules
        .iter()
        .map(|(frequency, filters)| {
            let filters: Vec<Value> = filters
                .split([',', ' ', '\n'])
                .filter(|f| !f.is_empty())
                .map(|f| json!({"filter": f, "filterType": "WILDCARD"}))
                .collect();
            json!({"scanFrequency": frequency, "repositoryFilters": filters})
        })
        .collect();
    let scan_type = if form.scan_type.is_empty() { "BASIC" } else { form.scan_type.as_str() };
    let mut input = Map::new();
    input.insert("scanType".into(), json!(scan_type));
    input.insert("rules".into(), Value::Array(rules));
    input
}

pub async fn put_scanning(ctx: &Ctx<'_>, form: ScanningForm) -> Result<Response, Failure> {
    let input = as_input(&form);
    let resource = ctx.app.identity.account().registry_arn();
    let config = match crate::ecr::registry::scanning_configuration(&Input(&input)) {
        Ok(c) => c,
        Err(e) => {
            let f = Failure::status(StatusCode::BAD_REQUEST, e.message.clone());
            super::audit(ctx, "ecr:PutRegistryScanningConfiguration", &resource, Some(&f)).await;
            return page(ctx, Some((&form, e.message))).await;
        }
    };
    let result = ctx.app.registry.put_scanning_configuration(&config).await.map_err(Failure::fault);
    let then = "/console/admin/settings?done=scanning-saved";
    change(ctx, "ecr:PutRegistryScanningConfiguration", &resource, result, then).await
}

pub async fn put_account_setting(ctx: &Ctx<'_>, name: &str, value: &str) -> Result<Response, Failure> {
    let setting = AccountSetting::parse(name)
        .ok_or_else(|| Failure::status(StatusCode::BAD_REQUEST, format!("no account setting {name:?}")))?;
    let result = ctx.app.registry.put_account_setting(setting, value).await.map_err(|e| match e {
        berth_registry::RegistryError::InvalidSetting(m) => Failure::status(StatusCode::BAD_REQUEST, m),
        other => Failure::fault(other),
    });
    let resource = ctx.app.identity.account().registry_arn();
    change(ctx, "ecr:PutAccountSetting", &resource, result, "/console/admin/settings?done=setting-saved").await
}

fn database(d: berth_registry::scanning::ImportedDb) -> Database {
    Database { digest: d.blob, source: d.source, imported: d.imported_at, advisories: d.records }
}

/// `GET /console/admin/vulndb`: the database imported for the registry and the one this node has loaded.
pub async fn vulndb(ctx: &Ctx<'_>) -> Result<Response, Failure> {
    let imported = ctx.app.registry.imported_vulndb().await.map_err(Failure::fault)?;
    let loaded = ctx.app.registry.vulndb().map(|(db, _)| db);
    let page =
        views::VulnDb { chrome: ctx.chrome.clone(), imported: imported.map(database), loaded: loaded.map(database) };
    Ok(html(StatusCode::OK, &page))
}
