//! `berth scan IMAGE` and `berth findings IMAGE`, over the ECR-compatible API.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::client::Client;
use crate::cli::output::{Table, print_json, text};
use crate::cli::{CliError, FindingsArgs, ImagesArgs, ScanArgs};

const SEVERITIES: [&str; 6] = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"];

/// `REPOSITORY:TAG` or `REPOSITORY@DIGEST` → (repository, imageId).
fn image_id(image: &str) -> Result<(String, Value), CliError> {
    let bad = || CliError::Usage(format!("{image:?} is not REPOSITORY:TAG or REPOSITORY@DIGEST"));
    if let Some((repo, digest)) = image.split_once('@') {
        if repo.is_empty() || !digest.contains(':') {
            return Err(bad());
        }
        return Ok((repo.to_string(), json!({"imageDigest": digest})));
    }
    // The tag follows the last ':' after the last '/' (a registry host may carry a port, but it is not given here).
    let slash = image.rfind('/').map(|i| i + 1).unwrap_or(0);
    match image[slash..].rfind(':') {
        Some(i) if slash + i > 0 && slash + i + 1 < image.len() => {
            Ok((image[..slash + i].to_string(), json!({"imageTag": &image[slash + i + 1..]})))
        }
        _ => Err(bad()),
    }
}

pub async fn scan(client: &Client, args: ScanArgs) -> Result<(), CliError> {
    let (repo, id) = image_id(&args.image)?;
    let started = client.call_ecr("StartImageScan", json!({"repositoryName": repo, "imageId": id})).await?;
    if !args.wait {
        if args.json {
            print_json(&started);
        } else {
            println!("{}: scan {}", args.image, text(started.pointer("/imageScanStatus/status")));
        }
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    loop {
        let page = client.call_ecr("DescribeImageScanFindings", json!({"repositoryName": repo, "imageId": id})).await?;
        match page.pointer("/imageScanStatus/status").and_then(Value::as_str) {
            Some("IN_PROGRESS") | Some("PENDING") if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(500)).await
            }
            Some("IN_PROGRESS") | Some("PENDING") => {
                return Err(CliError::Failed(format!("{}: the scan did not finish in {}s", args.image, args.timeout)));
            }
            _ => break,
        }
    }
    findings(client, FindingsArgs { image: args.image, min_severity: None, json: args.json }).await
}

pub async fn findings(client: &Client, args: FindingsArgs) -> Result<(), CliError> {
    let (repo, id) = image_id(&args.image)?;
    let min_rank = match &args.min_severity {
        Some(s) => SEVERITIES
            .iter()
            .position(|x| x.eq_ignore_ascii_case(s))
            .ok_or_else(|| CliError::Usage(format!("--min-severity must be one of {}", SEVERITIES.join(", "))))?,
        None => SEVERITIES.len() - 1,
    };
    let (mut first, mut all, mut next) = (None::<Value>, Vec::<Value>::new(), None::<String>);
    loop {
        let mut body = json!({"repositoryName": repo, "imageId": id, "maxResults": 1000});
        if let Some(t) = &next {
            body["nextToken"] = json!(t);
        }
        let page = client.call_ecr("DescribeImageScanFindings", body).await?;
        all.extend(
            page.pointer("/imageScanFindings/enhancedFindings").and_then(Value::as_array).cloned().unwrap_or_default(),
        );
        next = page.get("nextToken").and_then(Value::as_str).map(str::to_string);
        first.get_or_insert(page);
        if next.is_none() {
            break;
        }
    }
    let first = first.unwrap_or_default();
    let rank = |f: &Value| {
        let s = f.get("severity").and_then(Value::as_str).unwrap_or("UNDEFINED");
        SEVERITIES.iter().position(|x| *x == s).unwrap_or(SEVERITIES.len() - 1)
    };
    all.retain(|f| rank(f) <= min_rank);
    if args.json {
        let mut out = first.clone();
        out.as_object_mut().map(|o| o.remove("nextToken"));
        if let Some(f) = out.get_mut("imageScanFindings") {
            f.as_object_mut().map(|o| o.remove("findings"));
            f["enhancedFindings"] = Value::Array(all);
        }
        print_json(&out);
        return Ok(());
    }
    let status = text(first.pointer("/imageScanStatus/status"));
    println!("{}  {}  scan {status}", args.image, text(first.pointer("/imageId/imageDigest")));
    if let Some(d) = first.pointer("/imageScanStatus/description").and_then(Value::as_str) {
        println!("{d}");
    }
    if let Some(counts) = first.pointer("/imageScanFindings/findingSeverityCounts").and_then(Value::as_object) {
        let summary: Vec<String> =
            SEVERITIES.iter().filter_map(|s| counts.get(*s).map(|n| format!("{s} {n}"))).collect();
        println!("{}", if summary.is_empty() { "no findings".to_string() } else { summary.join(", ") });
    }
    let mut table = Table::new(&["SEVERITY", "ID", "PACKAGE", "VERSION", "FIXED IN", "LAYER"]);
    for f in &all {
        let package = f.pointer("/packageVulnerabilityDetails/vulnerablePackages/0");
        let layer = text(package.and_then(|p| p.get("sourceLayerHash")));
        table.row(vec![
            text(f.get("severity")),
            text(f.pointer("/packageVulnerabilityDetails/vulnerabilityId")),
            text(package.and_then(|p| p.get("name"))),
            text(package.and_then(|p| p.get("version"))),
            package.and_then(|p| p.get("fixedInVersion")).and_then(Value::as_str).unwrap_or("(no fix)").to_string(),
            layer.get(..19).unwrap_or(&layer).to_string(),
        ]);
    }
    if !all.is_empty() {
        table.print();
    }
    Ok(())
}

pub async fn images(client: &Client, args: ImagesArgs) -> Result<(), CliError> {
    let body = match (&args.vulnerability, &args.package) {
        (Some(id), _) => json!({"vulnerabilityId": id}),
        (None, Some(name)) => json!({"package": name}),
        (None, None) => return Err(CliError::Usage("give --vulnerability ID or --package NAME".into())),
    };
    let response = client.call("ListScannedImages", body).await?;
    if args.json {
        print_json(&response);
        return Ok(());
    }
    let mut table = Table::new(&["REPOSITORY", "DIGEST", "MATCH"]);
    for image in response.get("images").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]) {
        table.row(vec![text(image.get("repositoryName")), text(image.get("imageDigest")), text(image.get("detail"))]);
    }
    table.print();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_repository_and_tag_or_digest() {
        assert_eq!(image_id("team/app:v1").unwrap(), ("team/app".into(), json!({"imageTag": "v1"})));
        assert_eq!(image_id("team/app@sha256:abc").unwrap(), ("team/app".into(), json!({"imageDigest": "sha256:abc"})));
        for bad in ["team/app", "team/app:", ":v1", "@sha256:x", "team/app@nodigest"] {
            assert!(image_id(bad).is_err(), "{bad}");
        }
    }
}
