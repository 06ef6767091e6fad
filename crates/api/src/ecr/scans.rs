//! `StartImageScan`, `DescribeImageScanFindings`, and the scan fields of `DescribeImages`.

use berth_oci::{Digest, Reference, RepositoryName, Tag};
use berth_registry::RegistryError;
use berth_registry::scanning::{Finding, ScanReport, severity_counts};
use serde_json::{Value, json};

use super::Ctx;
use super::errors::{AwsError, ErrorType};
use super::input::{Input, decode_token, encode_token};

/// `imageId` of the scan operations: the image's digest (by `imageDigest`, else `imageTag`), and the id
/// echoed back.
pub(super) async fn image(
    ctx: &Ctx<'_>,
    name: &RepositoryName,
    input: &Input<'_>,
) -> Result<(Digest, Value), AwsError> {
    let id = input.required("imageId", input.opt_object("imageId")?)?;
    let (digest, tag) = (id.opt_str("imageDigest")?, id.opt_str("imageTag")?);
    let reference = match (digest, tag) {
        (Some(d), _) => {
            Reference::Digest(d.parse().map_err(|_| AwsError::invalid("Invalid parameter at 'imageId.imageDigest'"))?)
        }
        (None, Some(t)) => {
            Reference::Tag(t.parse::<Tag>().map_err(|_| AwsError::invalid("Invalid parameter at 'imageId.imageTag'"))?)
        }
        (None, None) => return Err(AwsError::invalid("imageId needs an imageDigest or an imageTag")),
    };
    let detail = ctx.app.registry.image_detail(name, &reference).await.map_err(|e| match e {
        RegistryError::ManifestUnknown(_) => AwsError::new(
            ErrorType::ImageNotFound,
            format!("The image {reference} does not exist within the repository with name '{name}'"),
        ),
        other => AwsError::from_registry(other, name.as_str(), ctx.registry_id()),
    })?;
    let mut echoed = json!({"imageDigest": detail.digest.to_string()});
    if let Some(t) = tag {
        echoed["imageTag"] = json!(t);
    }
    Ok((detail.digest, echoed))
}

fn status_json(report: &ScanReport) -> Value {
    let mut v = json!({"status": report.status.as_str()});
    if let Some(d) = &report.description {
        v["description"] = json!(d);
    }
    v
}

/// When the database the findings came from was imported (epoch seconds), if it is the current one.
fn source_updated_at(ctx: &Ctx<'_>, report: &ScanReport) -> Option<i64> {
    let (imported, _) = ctx.app.registry.vulndb()?;
    if report.vulndb.as_deref() != Some(imported.blob.as_str()) {
        return None;
    }
    let t = time::OffsetDateTime::parse(&imported.imported_at, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.unix_timestamp())
}

/// `imageScanStatus` and `imageScanFindingsSummary` for `DescribeImages`.
pub async fn describe_fields(ctx: &Ctx<'_>, name: &RepositoryName, digest: &Digest, detail: &mut Value) {
    let Ok(Some(report)) = ctx.app.registry.scan_report(name, digest).await else {
        return;
    };
    detail["imageScanStatus"] = status_json(&report);
    if let Some(completed) = report.completed_at.filter(|_| report.findings_ready()) {
        let mut summary = json!({
            "imageScanCompletedAt": completed,
            "findingSeverityCounts": severity_counts(&report.findings),
        });
        if let Some(t) = source_updated_at(ctx, &report) {
            summary["vulnerabilitySourceUpdatedAt"] = json!(t);
        }
        detail["imageScanFindingsSummary"] = summary;
    }
}

pub async fn start_image_scan(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    ctx.existing_repository(&name).await?;
    let (digest, echoed) = image(ctx, &name, input).await?;
    ctx.app.registry.request_scan(&name, &digest, "manual").await.map_err(|e| match e {
        RegistryError::NotScannable(m) => AwsError::new(ErrorType::UnsupportedImageType, m),
        other => AwsError::from_registry(other, name.as_str(), ctx.registry_id()),
    })?;
    let report = ctx.app.registry.scan_report(&name, &digest).await.map_err(AwsError::fault)?;
    let status = report.as_ref().map(status_json).unwrap_or_else(|| json!({"status": "IN_PROGRESS"}));
    Ok(json!({
        "registryId": ctx.registry_id(),
        "repositoryName": name.as_str(),
        "imageId": echoed,
        "imageScanStatus": status,
    }))
}

/// ECR's basic finding: the advisory, its severity, and the package as attributes.
fn finding_json(f: &Finding) -> Value {
    let mut attributes = vec![
        json!({"key": "package_name", "value": f.package_name}),
        json!({"key": "package_version", "value": f.package_version}),
        json!({"key": "package_manager", "value": f.package_kind}),
        json!({"key": "ecosystem", "value": f.ecosystem}),
        json!({"key": "purl", "value": f.purl}),
        json!({"key": "layer_digest", "value": f.layer_digest}),
    ];
    if let Some(v) = &f.fixed_version {
        attributes.push(json!({"key": "fixed_in_version", "value": v}));
    }
    if let Some(s) = f.cvss_score {
        attributes.push(json!({"key": "CVSS_SCORE", "value": s.to_string()}));
    }
    if let Some(v) = &f.cvss_vector {
        attributes.push(json!({"key": "CVSS_VECTOR", "value": v}));
    }
    if !f.aliases.is_empty() {
        attributes.push(json!({"key": "aliases", "value": f.aliases.join(",")}));
    }
    let mut v = json!({"name": f.id, "uri": f.uri, "severity": f.severity.as_str(), "attributes": attributes});
    if let Some(d) = f.summary.as_ref().or(f.details.as_ref()) {
        v["description"] = json!(d);
    }
    v
}

/// The same finding in the enhanced shape (package details with the fix and the introducing layer).
fn enhanced_json(ctx: &Ctx<'_>, name: &RepositoryName, digest: &Digest, f: &Finding, observed: i64) -> Value {
    let mut package = json!({
        "name": f.package_name,
        "version": f.package_version,
        "packageManager": f.package_kind.to_uppercase(),
        "filePath": f.location,
        "sourceLayerHash": f.layer_digest,
    });
    if let Some(v) = &f.fixed_version {
        package["fixedInVersion"] = json!(v);
    }
    let mut details = json!({
        "vulnerabilityId": f.id,
        "source": f.ecosystem,
        "sourceUrl": f.uri,
        "vendorSeverity": f.severity.as_str(),
        "relatedVulnerabilities": f.aliases,
        "referenceUrls": [f.uri],
        "vulnerablePackages": [package],
    });
    if let (Some(score), Some(vector)) = (f.cvss_score, &f.cvss_vector) {
        let version = vector.strip_prefix("CVSS:").and_then(|v| v.split('/').next()).unwrap_or("3.1");
        details["cvss"] =
            json!([{"baseScore": score, "scoringVector": vector, "source": f.ecosystem, "version": version}]);
    }
    let account = ctx.app.identity.account();
    let mut v = json!({
        "awsAccountId": ctx.registry_id(),
        "findingArn": format!("{}/finding/{}/{}/{}", account.repository_arn(name), digest.hex(), f.id, f.purl),
        "firstObservedAt": observed,
        "lastObservedAt": observed,
        "packageVulnerabilityDetails": details,
        "severity": f.severity.as_str(),
        "status": "ACTIVE",
        "title": format!("{} - {}", f.id, f.package_name),
        "type": "PACKAGE_VULNERABILITY",
        "updatedAt": observed,
        "fixAvailable": if f.fixed_version.is_some() { "YES" } else { "NO" },
        "remediation": {"recommendation": {"text": match &f.fixed_version {
            Some(v) => format!("Upgrade {} to {v} or later", f.package_name),
            None => "No fixed version is known".to_string(),
        }}},
    });
    if let Some(score) = f.cvss_score {
        v["score"] = json!(score);
    }
    if let Some(d) = f.summary.as_ref().or(f.details.as_ref()) {
        v["description"] = json!(d);
    }
    v
}

pub async fn describe_image_scan_findings(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    let max_results = input.max_results()?.unwrap_or(100) as usize;
    let start = match input.opt_str("nextToken")? {
        Some(t) => {
            decode_token(t)?.parse::<usize>().map_err(|_| AwsError::invalid("Invalid parameter at 'nextToken'"))?
        }
        None => 0,
    };
    ctx.existing_repository(&name).await?;
    let (digest, echoed) = image(ctx, &name, input).await?;
    let report = ctx.app.registry.scan_report(&name, &digest).await.map_err(AwsError::fault)?.ok_or_else(|| {
        AwsError::new(
            ErrorType::ScanNotFound,
            format!("Image scan does not exist for the image with '{digest}' in the repository with name '{name}'"),
        )
    })?;
    let mut out = json!({
        "registryId": ctx.registry_id(),
        "repositoryName": name.as_str(),
        "imageId": echoed,
        "imageScanStatus": status_json(&report),
    });
    if let Some(completed) = report.completed_at.filter(|_| report.findings_ready()) {
        let page: Vec<&Finding> = report.findings.iter().skip(start).take(max_results).collect();
        let observed = report.evaluated_at.unwrap_or(completed);
        let mut findings = json!({
            "imageScanCompletedAt": completed,
            "findingSeverityCounts": severity_counts(&report.findings),
            "findings": page.iter().map(|f| finding_json(f)).collect::<Vec<_>>(),
            "enhancedFindings": page.iter().map(|f| enhanced_json(ctx, &name, &digest, f, observed)).collect::<Vec<_>>(),
        });
        if let Some(t) = source_updated_at(ctx, &report) {
            findings["vulnerabilitySourceUpdatedAt"] = json!(t);
        }
        out["imageScanFindings"] = findings;
        if start + max_results < report.findings.len() {
            out["nextToken"] = json!(encode_token(&(start + max_results).to_string()));
        }
    }
    Ok(out)
}
