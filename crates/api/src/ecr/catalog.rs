//! ECR Public's catalog data operations, served on the same endpoint (`X-Amz-Target:
//! SpencerFrontendService.<Operation>`, SigV4 service `ecr-public`, as `aws ecr-public` signs them):
//! `GetRepositoryCatalogData` and `PutRepositoryCatalogData`, the public gallery's description, about and
//! usage texts of a repository. Decided as `ecr:GetRepositoryCatalogData` / `ecr:PutRepositoryCatalogData`
//! on the repository. Logos are not stored: `logoImageBlob` is refused.

use berth_meta::catalog::CatalogData;
use berth_registry::RegistryError;
use serde_json::{Value, json};

use super::Ctx;
use super::errors::AwsError;
use super::input::Input;

/// The operations of ECR Public's API berth answers.
pub const OPERATIONS: [&str; 2] = ["GetRepositoryCatalogData", "PutRepositoryCatalogData"];

fn catalog_json(data: &CatalogData) -> Value {
    json!({
        "description": data.description,
        "architectures": data.architectures,
        "operatingSystems": data.operating_systems,
        "aboutText": data.about_text,
        "usageText": data.usage_text,
        "marketplaceCertified": false,
    })
}

fn registry_error(ctx: &Ctx<'_>, e: RegistryError, name: &str) -> AwsError {
    match e {
        RegistryError::InvalidSetting(m) => AwsError::invalid(m),
        other => AwsError::from_registry(other, name, ctx.registry_id()),
    }
}

fn strings(input: &Input<'_>, member: &str) -> Result<Option<Vec<String>>, AwsError> {
    let Some(list) = input.opt_list(member)? else {
        return Ok(None);
    };
    let each = |v: &Value| v.as_str().map(str::to_string);
    let values: Option<Vec<String>> = list.iter().map(each).collect();
    values.map(Some).ok_or_else(|| AwsError::invalid(format!("{member} must be a list of strings")))
}

pub async fn get(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    let data = ctx.app.registry.catalog_data(&name).await.map_err(|e| registry_error(ctx, e, name.as_str()))?;
    Ok(json!({"catalogData": catalog_json(&data)}))
}

/// Members left out keep their value; those given replace it.
pub async fn put(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    let given = input.required("catalogData", input.opt_object("catalogData")?)?;
    if given.opt_str("logoImageBlob")?.is_some() {
        return Err(AwsError::invalid("berth does not store repository logos: leave out logoImageBlob"));
    }
    let registry = &ctx.app.registry;
    let mut data = registry.catalog_data(&name).await.map_err(|e| registry_error(ctx, e, name.as_str()))?;
    if let Some(d) = given.opt_str("description")? {
        data.description = d.to_string();
    }
    if let Some(t) = given.opt_str("aboutText")? {
        data.about_text = t.to_string();
    }
    if let Some(t) = given.opt_str("usageText")? {
        data.usage_text = t.to_string();
    }
    if let Some(a) = strings(&given, "architectures")? {
        data.architectures = a;
    }
    if let Some(o) = strings(&given, "operatingSystems")? {
        data.operating_systems = o;
    }
    let result = registry.put_catalog_data(&name, &data).await.map_err(|e| registry_error(ctx, e, name.as_str()));
    let (outcome, status) = match &result {
        Ok(_) => ("allowed", 200),
        Err(e) => ("error", e.kind.status().as_u16()),
    };
    ctx.audit("ecr:PutRepositoryCatalogData", &berth_identity::Resource::Repository(&name), outcome, status).await;
    Ok(json!({"catalogData": catalog_json(&result?)}))
}
