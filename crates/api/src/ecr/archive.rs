//! `UpdateImageStorageClass`: archive an image (`targetStorageClass: ARCHIVE`) or restore it (`STANDARD`).
//! The registry records the state and runs restores as jobs (see `berth_registry::archive`); every call
//! that changes an image's state is audited with what it did.

use berth_meta::identity::AuditEvent;
use berth_registry::RegistryError;
use berth_registry::archive::TargetStorageClass;
use serde_json::{Value, json};

use super::Ctx;
use super::errors::AwsError;
use super::images::{image_ids_member, image_not_found};
use super::input::Input;

pub async fn update_image_storage_class(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    let id = image_ids_member(input, "imageId")?;
    let target = match input.opt_enum("targetStorageClass", &["STANDARD", "ARCHIVE"])? {
        Some("ARCHIVE") => TargetStorageClass::Archive,
        Some(_) => TargetStorageClass::Standard,
        None => {
            return Err(AwsError::invalid(
                "Invalid parameter at 'targetStorageClass' failed to satisfy constraint: 'Member must not be null'",
            ));
        }
    };
    let reference = id.reference().map_err(|f| AwsError::invalid(f.reason))?;
    let result = match ctx.app.registry.update_image_storage_class(&name, &reference, target).await {
        Ok(u) => Ok(u),
        Err(RegistryError::ManifestUnknown(_)) => Err(image_not_found(ctx, &name, &id)),
        Err(e) => Err(AwsError::from_registry(e, name.as_str(), ctx.registry_id())),
    };
    let (outcome, status, detail) = match &result {
        Ok(u) => {
            let what = match (target, u.changed) {
                (TargetStorageClass::Archive, true) => "archived".to_string(),
                (TargetStorageClass::Standard, true) => match u.job {
                    Some(job) => format!("restore started (job {job})"),
                    None => "restore started".to_string(),
                },
                (_, false) => "unchanged".to_string(),
            };
            ("allowed", 200, Some(format!("{} {what}: imageStatus {}", u.digest, u.state.status.as_str())))
        }
        Err(e) => ("error", e.kind.status().as_u16(), None),
    };
    let event = AuditEvent {
        id: 0,
        at: ctx.app.identity.now(),
        principal: ctx.caller.principal.label(),
        action: "ecr:UpdateImageStorageClass".to_string(),
        resource: ctx.app.identity.account().repository_arn(&name),
        source_ip: ctx.ip.map(|i| i.to_string()).unwrap_or_default(),
        outcome: outcome.to_string(),
        status,
        detail,
    };
    ctx.app.identity.audit().record(event).await;
    let update = result?;
    let mut image_id = json!({"imageDigest": update.digest.to_string()});
    if let Some(t) = id.tag {
        image_id["imageTag"] = json!(t);
    }
    Ok(json!({
        "registryId": ctx.registry_id(),
        "repositoryName": name.as_str(),
        "imageId": image_id,
        "imageStatus": update.state.status.as_str(),
    }))
}
