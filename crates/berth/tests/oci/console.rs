//! The web console in a real browser: `console_browser.py` drives headless Chromium (Debian's `chromium` and
//! `chromium-driver`, over WebDriver with Python `selenium`) against the real binary, and runs the push
//! commands the console shows with the real docker CLI. See the script for the scenarios.
//!
//! Screenshots of every page go to the test's temporary directory, or to `BERTH_CONSOLE_SCREENSHOTS` when
//! set (kept: `docs/console-*.png` come from there).

use std::process::Command;

use serde_json::json;

use crate::ecr::require;
use crate::scanning::{findings_when_evaluated, import, push_fixture};
use crate::support::*;

const READER: (&str, &str) = ("reader", "reader-password-for-tests");

#[tokio::test]
async fn console_walkthrough_in_a_real_browser() {
    require("chromedriver", &["--version"], "Debian's chromium-driver (and chromium)");
    require("python3", &["-c", "import selenium"], "Python selenium (`pip install selenium`)");
    require("docker", &["info"], "a running Docker daemon and the docker CLI");
    require("test", &["-x", "/bin/busybox"], "Debian's busybox-static");
    let s = Server::start();

    // A read-only user (what AWS's AmazonEC2ContainerRegistryReadOnly allows), a public and a private
    // repository with an image each.
    s.admin("CreateUser", json!({"userName": READER.0, "password": READER.1})).await;
    let read_only = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
        "ecr:DescribeRepositories", "ecr:DescribeImages", "ecr:ListImages", "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]}]});
    s.admin("PutPolicy", json!({"target": {"user": READER.0}, "policyText": read_only.to_string()})).await;
    s.push_image("gallery/public-app", "v1", b"public layer").await;
    s.push_image("gallery/private-app", "v1", b"private layer").await;
    s.admin("SetRepositoryVisibility", json!({"repositoryName": "gallery/public-app", "visibility": "public"})).await;
    // An image scanned on push against the test vulnerability database, with findings.
    import(&s, &["Debian", "PyPI"]);
    let create = json!({"repositoryName": "gallery/scanned", "imageScanningConfiguration": {"scanOnPush": true}});
    let target = ("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.CreateRepository");
    assert!(s.signed_post(Some(ADMIN_KEY), "ecr", "/", &[target], &create).await.status().is_success());
    let (digest, _) = push_fixture(&s, "gallery/scanned", "v1").await;
    findings_when_evaluated(&s, &format!("gallery/scanned@{digest}"), |v| {
        v["imageScanFindings"]["findingSeverityCounts"].as_object().is_some_and(|c| !c.is_empty())
    });

    let tmp = tempfile::tempdir().unwrap();
    let shots = std::env::var("BERTH_CONSOLE_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| tmp.path().join("screenshots"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oci/console_browser.py");
    let out = Command::new("python3")
        .arg(script)
        .args(["--base", &s.base, "--admin-password", ADMIN_PASSWORD, "--berth", env!("CARGO_BIN_EXE_berth")])
        .arg("--out")
        .arg(&shots)
        .args(["--reader", &format!("{}:{}", READER.0, READER.1)])
        .args(["--access-key", &format!("{}:{}", ADMIN_KEY.0, ADMIN_KEY.1)])
        .output()
        .expect("run console_browser.py");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("{stdout}\n{stderr}\nscreenshots in {}", shots.display());
    assert!(out.status.success(), "the browser scenarios failed: {stderr}");
    assert!(stdout.contains("console browser scenarios passed"), "{stdout}");
}
