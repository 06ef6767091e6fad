//! Vulnerability scanning end to end: the 5-layer fixture (`shared/testdata/fixtures/oci-scanner-fixture`)
//! pushed to a repository with scan on push, an OSV database imported with `berth vulndb import` while the
//! server runs, findings read with boto3 (`scan_boto3.py`, every response checked against botocore's model)
//! and with `berth findings`; the SBOM found through the referrers API; re-evaluation after another import;
//! a corrupt layer failing its scan with a clear status.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use berth_oci::Digest;
use reqwest::StatusCode;
use serde_json::Value;

use crate::ecr::{aws, require, start};
use crate::support::*;

fn testdata(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata").join(rel);
    assert!(p.exists(), "test data {} is missing (the shared/ directory sits beside the repository)", p.display());
    p
}

/// Pushes the fixture's image (blobs, then the manifest) to `repo:tag`; returns the manifest digest and the
/// layer digests, bottom first.
pub async fn push_fixture(s: &Server, repo: &str, tag: &str) -> (Digest, Vec<String>) {
    let layout = testdata("fixtures/oci-scanner-fixture");
    let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    let blob = |d: &str| std::fs::read(layout.join("blobs/sha256").join(d.trim_start_matches("sha256:"))).unwrap();
    let manifest = blob(digest);
    let parsed: Value = serde_json::from_slice(&manifest).unwrap();
    let mut layers = Vec::new();
    for d in std::iter::once(&parsed["config"]).chain(parsed["layers"].as_array().unwrap()) {
        let d = d["digest"].as_str().unwrap();
        assert_eq!(s.push_blob(repo, &blob(d)).await.to_string(), d);
        layers.push(d.to_string());
    }
    layers.remove(0);
    let r = s.put_manifest(repo, tag, OCI_MANIFEST, &manifest).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    (digest.parse().unwrap(), layers)
}

/// `berth ARGS` against the server's data directory or API, as the administrator.
pub fn berth(s: &Server, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .env("BERTH_DATA_DIR", &s.data_dir)
        .env("BERTH_ENDPOINT", &s.base)
        .env("BERTH_ACCESS_KEY_ID", ADMIN_KEY.0)
        .env("BERTH_SECRET_ACCESS_KEY", ADMIN_KEY.1)
        .env("BERTH_CONFIG_DIR", s.data_dir.join("no-cli-profile"))
        .output()
        .expect("run berth");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    eprintln!("$ berth {} -> {:?}\n{stdout}{stderr}", args.join(" "), out.status.code());
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

pub fn import(s: &Server, ecosystems: &[&str]) {
    let zips: Vec<String> =
        ecosystems.iter().map(|e| testdata(&format!("osv/{e}/all.zip")).display().to_string()).collect();
    let mut args = vec!["vulndb", "import", "--wait"];
    args.extend(zips.iter().map(String::as_str));
    let (code, stdout, _) = berth(s, &args);
    assert_eq!(code, 0, "vulndb import failed");
    assert!(stdout.contains("imported") && stdout.contains("the server has loaded"), "{stdout}");
    // The running server reports the database it loaded: the one just imported.
    let (code, status, _) = berth(s, &["vulndb", "status", "--json"]);
    assert_eq!(code, 0);
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["imported"]["digest"], status["loadedByThisNode"]["digest"], "{status}");
    assert!(status["imported"]["advisories"].as_u64().unwrap() > 0, "{status}");
}

/// Runs `berth findings IMAGE --json` until the scan is complete and evaluated against a database.
pub fn findings_when_evaluated(s: &Server, image: &str, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (code, stdout, _) = berth(s, &["findings", image, "--json"]);
        if code == 0 {
            let v: Value = serde_json::from_str(&stdout).unwrap();
            let done = v["imageScanStatus"]["status"] == "COMPLETE"
                && v["imageScanFindings"]["vulnerabilitySourceUpdatedAt"].is_number();
            if done && want(&v) {
                return v;
            }
        }
        assert!(Instant::now() < deadline, "the scan of {image} was not evaluated in time: {stdout}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn ids(v: &Value) -> Vec<String> {
    v["imageScanFindings"]["enhancedFindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["packageVulnerabilityDetails"]["vulnerabilityId"].as_str().unwrap().to_string())
        .collect()
}

/// The pull policy's refusal holds wherever an image or its layers are handed out: `/v2` HEAD, blob GETs
/// and HEADs of layers only refused images use, `BatchGetImage` (an `ImageInaccessible` failure),
/// `GetDownloadUrlForLayer` and download URLs issued earlier.
async fn refused_on_every_surface(s: &Server, dir: &Path, digest: &Digest, layers: &[String], download_url: &str) {
    assert_eq!(s.head("/v2/scan/fixture/manifests/1").await.status(), StatusCode::FORBIDDEN, "HEAD");
    for layer in layers {
        let path = format!("/v2/scan/fixture/blobs/{layer}");
        assert_eq!(s.get(&path).await.status(), StatusCode::FORBIDDEN, "GET {layer}");
        assert_eq!(s.head(&path).await.status(), StatusCode::FORBIDDEN, "HEAD {layer}");
    }
    let args = ["batch-get-image", "--repository-name", "scan/fixture", "--image-ids", "imageTag=1"];
    let v = aws(s, dir, ADMIN_KEY, &args).json();
    assert_eq!(v["images"], serde_json::json!([]), "{v}");
    assert_eq!(v["failures"][0]["failureCode"], "ImageInaccessible", "{v}");
    assert!(v["failures"][0]["failureReason"].as_str().unwrap().contains("pull policy"), "{v}");
    let by_digest = format!("imageDigest={digest}");
    let v =
        aws(s, dir, ADMIN_KEY, &["batch-get-image", "--repository-name", "scan/fixture", "--image-ids", &by_digest])
            .json();
    assert_eq!(v["failures"][0]["failureCode"], "ImageInaccessible", "{v}");
    let args = ["get-download-url-for-layer", "--repository-name", "scan/fixture", "--layer-digest", &layers[0]];
    aws(s, dir, ADMIN_KEY, &args).error("AccessDeniedException");
    assert_eq!(anonymous_client().get(download_url).send().await.unwrap().status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn images_are_scanned_on_push_and_reevaluated_after_an_import() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    require("python3", &["-c", "import boto3, botocore"], "boto3 (`pip install boto3`) for python3");
    let (tmp, s) = start();
    let args =
        ["create-repository", "--repository-name", "scan/fixture", "--image-scanning-configuration", "scanOnPush=true"];
    aws(&s, tmp.path(), ADMIN_KEY, &args).json();
    import(&s, &["Debian", "PyPI", "npm", "crates", "Go"]);
    let (digest, layers) = push_fixture(&s, "scan/fixture", "1").await;
    let image = format!("scan/fixture@{digest}");
    let v = findings_when_evaluated(&s, &image, |_| true);
    let found = ids(&v);
    eprintln!("{} findings: {found:?}", found.len());

    // The Python side checks every response against botocore's model, the expected findings, their layers
    // and pagination.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oci/scan_boto3.py");
    let out = Command::new("python3")
        .arg(script)
        .env("ECR_ENDPOINT", &s.base)
        .env("ADMIN_KEY_ID", ADMIN_KEY.0)
        .env("ADMIN_SECRET", ADMIN_KEY.1)
        .env("SCAN_REPO", "scan/fixture")
        .env("SCAN_DIGEST", digest.to_string())
        .env("LAYERS", layers.join(","))
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("run python3");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("{stdout}{stderr}");
    assert!(out.status.success(), "scan_boto3.py failed:\n{stdout}\n{stderr}");

    // The SBOM is a referrer of the image: CycloneDX 1.6 with the image's packages.
    let r = s.get(&format!("/v2/scan/fixture/referrers/{digest}")).await;
    let index: Value = r.json().await.unwrap();
    let sbom = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["artifactType"] == "application/vnd.cyclonedx+json")
        .unwrap_or_else(|| panic!("no SBOM referrer: {index}"));
    let manifest: Value =
        s.get(&format!("/v2/scan/fixture/manifests/{}", sbom["digest"].as_str().unwrap())).await.json().await.unwrap();
    let bom: Value = s
        .get(&format!("/v2/scan/fixture/blobs/{}", manifest["layers"][0]["digest"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((bom["bomFormat"].as_str(), bom["specVersion"].as_str()), (Some("CycloneDX"), Some("1.6")));
    let purls: Vec<&str> = bom["components"].as_array().unwrap().iter().filter_map(|c| c["purl"].as_str()).collect();
    assert!(
        purls.iter().any(|p| p.starts_with("pkg:pypi/pyyaml@5.3.1") || p.starts_with("pkg:pypi/PyYAML@5.3.1")),
        "{purls:?}"
    );
    assert!(purls.iter().any(|p| p.starts_with("pkg:deb/debian/perl-base@5.36.0-7")), "{purls:?}");
    assert!(!purls.iter().any(|p| p.contains("urllib3@1.24.1")), "whited out in the top layer");

    // The CLI's table.
    let (code, table, _) = berth(&s, &["findings", "scan/fixture:1"]);
    assert_eq!(code, 0);
    assert!(table.contains("PYSEC-2021-142") && table.contains("SEVERITY"), "{table}");
    let (code, high, _) = berth(&s, &["findings", "scan/fixture:1", "--min-severity", "critical", "--json"]);
    assert_eq!(code, 0);
    let high: Value = serde_json::from_str(&high).unwrap();
    assert!(
        high["imageScanFindings"]["enhancedFindings"].as_array().unwrap().iter().all(|f| f["severity"] == "CRITICAL")
    );

    // Which images are affected by an advisory (by id or alias), which contain a package (binary or source name).
    for (flag, key, detail) in [
        ("--vulnerability", "PYSEC-2021-142", "PyYAML 5.3.1"),
        ("--vulnerability", "CVE-2020-14343", "PyYAML 5.3.1"),
        ("--package", "pyyaml", "PyYAML 5.3.1 PyPI"),
        ("--package", "perl", "perl-base 5.36.0-7+deb12u4"),
    ] {
        let (code, out, _) = berth(&s, &["images", flag, key, "--json"]);
        assert_eq!(code, 0);
        let v: Value = serde_json::from_str(&out).unwrap();
        let hit = v["images"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["imageDigest"] == digest.to_string() && i["detail"].as_str().unwrap().starts_with(detail));
        assert!(hit, "{flag} {key}: {v}");
    }
    let (_, none, _) = berth(&s, &["images", "--package", "no-such-package", "--json"]);
    assert_eq!(serde_json::from_str::<Value>(&none).unwrap()["images"], serde_json::json!([]));

    // A download URL handed out before the policy exists stops working once it refuses the image.
    let download_url = aws(
        &s,
        tmp.path(),
        ADMIN_KEY,
        &["get-download-url-for-layer", "--repository-name", "scan/fixture", "--layer-digest", &layers[0]],
    )
    .json()["downloadUrl"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(anonymous_client().get(&download_url).send().await.unwrap().status(), StatusCode::OK);

    // A pull policy refuses the image while it has HIGH or CRITICAL findings that are not allowed.
    let (code, _, _) = berth(&s, &["repo", "set-pull-policy", "scan/fixture", "--min-severity", "high"]);
    assert_eq!(code, 0);
    let r = s.get("/v2/scan/fixture/manifests/1").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "DENIED", "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("pull policy"), "{body}");
    refused_on_every_surface(&s, tmp.path(), &digest, &layers, &download_url).await;
    let serious: Vec<String> = v["imageScanFindings"]["enhancedFindings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "HIGH" || f["severity"] == "CRITICAL")
        .map(|f| f["packageVulnerabilityDetails"]["vulnerabilityId"].as_str().unwrap().to_string())
        .collect();
    assert!(!serious.is_empty(), "the fixture has HIGH findings");
    let mut args = vec!["repo", "set-pull-policy", "scan/fixture", "--min-severity", "HIGH"];
    for id in &serious {
        args.extend(["--allow", id.as_str()]);
    }
    assert_eq!(berth(&s, &args).0, 0);
    assert_eq!(s.get("/v2/scan/fixture/manifests/1").await.status(), StatusCode::OK, "every blocking finding allowed");
    let (_, shown, _) = berth(&s, &["repo", "get-pull-policy", "scan/fixture"]);
    assert!(shown.contains("refuse pulls at or above HIGH"), "{shown}");
    assert_eq!(berth(&s, &["repo", "set-pull-policy", "scan/fixture", "--clear"]).0, 0);
    assert_eq!(s.get("/v2/scan/fixture/manifests/1").await.status(), StatusCode::OK);

    // A new database (PyPI only) re-evaluates the stored inventory: Debian, npm and crates findings go away.
    import(&s, &["PyPI"]);
    let v = findings_when_evaluated(&s, &image, |v| {
        ids(v).iter().all(|id| id.starts_with("PYSEC") || id.starts_with("GHSA"))
    });
    let after = ids(&v);
    assert!(after.contains(&"PYSEC-2021-142".to_string()), "{after:?}");
    assert!(after.len() < found.len(), "{after:?} vs {found:?}");
}

#[tokio::test]
async fn a_corrupt_layer_fails_its_scan_with_a_clear_status() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let (tmp, s) = start();
    let dir = tmp.path();
    aws(&s, dir, ADMIN_KEY, &["create-repository", "--repository-name", "scan/bad"]).json();
    let config = s.push_blob("scan/bad", br#"{"architecture":"amd64","os":"linux"}"#).await;
    let garbage = b"\x1f\x8b\x08\x00 this is not gzip at all".repeat(10);
    let layer = s.push_blob("scan/bad", &garbage).await;
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", &config, 37),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", &layer, garbage.len())],
    });
    let body = serde_json::to_vec(&manifest).unwrap();
    assert_eq!(s.put_manifest("scan/bad", "1", OCI_MANIFEST, &body).await.status(), StatusCode::CREATED);
    let started =
        aws(&s, dir, ADMIN_KEY, &["start-image-scan", "--repository-name", "scan/bad", "--image-id", "imageTag=1"])
            .json();
    assert_eq!(started["imageScanStatus"]["status"], "IN_PROGRESS");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let v = aws(
            &s,
            dir,
            ADMIN_KEY,
            &["describe-image-scan-findings", "--repository-name", "scan/bad", "--image-id", "imageTag=1"],
        )
        .json();
        if v["imageScanStatus"]["status"] != "IN_PROGRESS" {
            break v["imageScanStatus"].clone();
        }
        assert!(Instant::now() < deadline, "the scan did not finish: {v}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(status["status"], "FAILED", "{status}");
    let why = status["description"].as_str().unwrap();
    assert!(why.starts_with("scan failed: layer sha256:") && why.contains("gzip"), "{why}");

    // An artifact is not an image: StartImageScan refuses it.
    let empty = s.push_blob("scan/bad", b"{}").await;
    let artifact = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example",
        "config": descriptor("application/vnd.oci.empty.v1+json", &empty, 2),
        "layers": [descriptor("application/vnd.oci.empty.v1+json", &empty, 2)],
    });
    let body = serde_json::to_vec(&artifact).unwrap();
    assert_eq!(s.put_manifest("scan/bad", "artifact", OCI_MANIFEST, &body).await.status(), StatusCode::CREATED);
    aws(&s, dir, ADMIN_KEY, &["start-image-scan", "--repository-name", "scan/bad", "--image-id", "imageTag=artifact"])
        .error("UnsupportedImageTypeException");
    aws(
        &s,
        dir,
        ADMIN_KEY,
        &["describe-image-scan-findings", "--repository-name", "scan/bad", "--image-id", "imageTag=artifact"],
    )
    .error("ScanNotFoundException");
}

/// A scan that ran before any vulnerability database was imported says so; once an import re-evaluates it,
/// its status describes the new result (which database, how many findings) and `vulnerabilitySourceUpdatedAt`
/// appears, in `DescribeImageScanFindings` and `DescribeImages` alike (read with the AWS CLI).
#[tokio::test]
async fn a_scan_from_before_the_first_import_describes_its_reevaluation() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let (tmp, s) = start();
    let dir = tmp.path();
    let args =
        ["create-repository", "--repository-name", "scan/early", "--image-scanning-configuration", "scanOnPush=true"];
    aws(&s, dir, ADMIN_KEY, &args).json();
    push_fixture(&s, "scan/early", "1").await;
    let findings = || {
        let args = ["describe-image-scan-findings", "--repository-name", "scan/early", "--image-id", "imageTag=1"];
        aws(&s, dir, ADMIN_KEY, &args).json()
    };
    let wait = |done: &dyn Fn(&Value) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let v = findings();
            if done(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "not in time: {v}");
            std::thread::sleep(Duration::from_millis(500));
        }
    };

    let before = wait(&|v| v["imageScanStatus"]["status"] == "COMPLETE");
    let description = before["imageScanStatus"]["description"].as_str().unwrap();
    assert!(description.contains("no vulnerability database imported"), "{description}");
    assert!(before["imageScanFindings"].get("vulnerabilitySourceUpdatedAt").is_none(), "{before}");

    import(&s, &["PyPI"]);
    let after = wait(&|v| v["imageScanFindings"]["vulnerabilitySourceUpdatedAt"].is_number());
    let description = after["imageScanStatus"]["description"].as_str().unwrap();
    assert!(!description.contains("no vulnerability database"), "{description}");
    let count: u64 = after["imageScanFindings"]["findingSeverityCounts"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert!(count > 0, "the fixture has PyPI findings: {after}");
    assert!(
        description.starts_with(&format!(
            "The scan was completed successfully: {count} findings in the vulnerability database imported "
        )),
        "{description}"
    );
    let details = aws(&s, dir, ADMIN_KEY, &["describe-images", "--repository-name", "scan/early"]).json();
    let image = details["imageDetails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["imageTags"] == serde_json::json!(["1"]))
        .unwrap_or_else(|| panic!("{details}"))
        .clone();
    assert_eq!(image["imageScanStatus"]["description"].as_str(), Some(description), "{image}");
    assert_eq!(
        image["imageScanFindingsSummary"]["vulnerabilitySourceUpdatedAt"],
        after["imageScanFindings"]["vulnerabilitySourceUpdatedAt"]
    );
}

/// A repository at its quota still has its images scanned: the findings are recorded and the scan says that
/// the SBOM (an artifact the scan would add to the repository) was not stored, instead of failing.
#[tokio::test]
async fn a_scan_in_a_repository_at_its_quota_completes_without_its_sbom() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let (tmp, s) = start();
    let dir = tmp.path();
    push_fixture(&s, "scan/full", "1").await;
    let usage = s.admin("GetStorageUsage", serde_json::json!({"repositoryName": "scan/full"})).await;
    let total = usage["repositories"][0]["totalBytes"].as_u64().unwrap();
    let (code, _, _) = berth(&s, &["quota", "set", "scan/full", &total.to_string()]);
    assert_eq!(code, 0);

    let args = ["start-image-scan", "--repository-name", "scan/full", "--image-id", "imageTag=1"];
    aws(&s, dir, ADMIN_KEY, &args).json();
    let deadline = Instant::now() + Duration::from_secs(120);
    let findings = loop {
        let args = ["describe-image-scan-findings", "--repository-name", "scan/full", "--image-id", "imageTag=1"];
        let v = aws(&s, dir, ADMIN_KEY, &args).json();
        if v["imageScanStatus"]["status"] != "IN_PROGRESS" {
            break v;
        }
        assert!(Instant::now() < deadline, "not in time: {v}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(findings["imageScanStatus"]["status"], "COMPLETE", "{findings}");
    let description = findings["imageScanStatus"]["description"].as_str().unwrap();
    assert!(description.contains("the SBOM was not stored") && description.contains("quota"), "{description}");

    let digest = aws(&s, dir, ADMIN_KEY, &["describe-images", "--repository-name", "scan/full"]).json()["imageDetails"]
        [0]["imageDigest"]
        .as_str()
        .unwrap()
        .to_string();
    let referrers: Value = s.get(&format!("/v2/scan/full/referrers/{digest}")).await.json().await.unwrap();
    assert_eq!(referrers["manifests"], serde_json::json!([]), "{referrers}");
    let after = s.admin("GetStorageUsage", serde_json::json!({"repositoryName": "scan/full"})).await;
    assert_eq!(after["repositories"][0]["totalBytes"].as_u64(), Some(total), "nothing was added: {after}");
}
