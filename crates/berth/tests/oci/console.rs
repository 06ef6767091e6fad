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
    // Public too: the gallery shows its scan summary.
    s.admin("SetRepositoryVisibility", json!({"repositoryName": "gallery/scanned", "visibility": "public"})).await;

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

/// The value of cookie `name` that `r` sets.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (pair, _) = v.split_once(';').unwrap_or((v, ""));
        pair.strip_prefix(&format!("{name}=")).map(str::to_string)
    })
}

/// Signs in over HTTP as a browser would; the answer to the sign-in post.
async fn sign_in(s: &Server, user: &str, password: &str) -> reqwest::Response {
    let http = anonymous_client();
    let page = http.get(s.url("/console/login")).send().await.unwrap();
    let csrf = set_cookie(&page, "berth_login_csrf").unwrap();
    http.post(s.url("/console/login"))
        .header("cookie", format!("berth_login_csrf={csrf}"))
        .form(&[("csrf", csrf.as_str()), ("user", user), ("password", password)])
        .send()
        .await
        .unwrap()
}

/// Whether `cookie` opens the repository list (rather than being sent to sign in).
async fn lists(s: &Server, cookie: &str) -> bool {
    let r = anonymous_client().get(s.url("/console/")).header("cookie", cookie).send().await.unwrap();
    r.status() == reqwest::StatusCode::OK
}

#[tokio::test]
async fn console_sessions_outlive_the_server_not_the_user_or_password_and_failed_sign_ins_are_limited() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_in(&dir);
    s.admin("CreateUser", json!({"userName": "kim", "password": "kim-password"})).await;
    let r = sign_in(&s, "kim", "kim-password").await;
    assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER);
    let set = r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect::<Vec<_>>();
    let session = set.iter().find(|c| c.starts_with("berth_session=")).expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age=28800"] {
        assert!(session.contains(flag), "{flag} in {session}");
    }
    let cookie = format!("berth_session={}", set_cookie(&r, "berth_session").unwrap());
    assert!(lists(&s, &cookie).await);

    // Nothing is kept in memory: another server on the same metadata accepts the session.
    s.stop();
    let s = Server::start_in(&dir);
    assert!(lists(&s, &cookie).await, "the session holds on another node");
    // A tampered session is no session.
    let mut tampered = cookie.clone();
    tampered.insert(tampered.len() - 5, 'x');
    assert!(!lists(&s, &tampered).await);
    // Changing the password ends the sessions opened with the old one, on every node; a new sign-in works.
    s.admin("SetUserPassword", json!({"userName": "kim", "password": "kim-new-password"})).await;
    assert!(!lists(&s, &cookie).await, "a session opened with the old password is refused");
    let r = sign_in(&s, "kim", "kim-new-password").await;
    let cookie = format!("berth_session={}", set_cookie(&r, "berth_session").unwrap());
    assert!(lists(&s, &cookie).await);
    // Deleting the user ends their sessions.
    s.admin("DeleteUser", json!({"userName": "kim"})).await;
    assert!(!lists(&s, &cookie).await, "a deleted user's session is refused");

    // Failed sign-ins count towards the identity service's limits: 10 per (user, address), then 429.
    s.admin("CreateUser", json!({"userName": "lee", "password": "lee-password"})).await;
    for _ in 0..10 {
        assert_eq!(sign_in(&s, "lee", "wrong").await.status(), reqwest::StatusCode::UNAUTHORIZED);
    }
    let r = sign_in(&s, "lee", "lee-password").await;
    assert_eq!(r.status(), reqwest::StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    assert!(r.text().await.unwrap().contains("Too many failed sign-ins"));
}
