//! The console's administration pages and usage report over HTTP, as a browser without JavaScript uses
//! them: each page and form for an administrator, refused (403) for a user without the permission, even
//! with a valid CSRF token; refused without the CSRF token; secrets shown once; the audit log filtered. And
//! the same pages in a real browser (`console_admin_browser.py`, headless Chromium over WebDriver), which
//! saves a screenshot of each page (to `BERTH_CONSOLE_SCREENSHOTS` when set; `docs/console-admin-*.png`
//! come from there).

use std::process::Command;

use reqwest::{Client, Response, StatusCode};
use serde_json::json;

use crate::ecr::require;
use crate::support::*;

/// A signed-in browser: its cookie and its forms' CSRF token.
struct Browser {
    http: Client,
    base: String,
    cookie: String,
    csrf: String,
}

fn cookie_of(r: &Response, name: &str) -> Option<String> {
    r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (pair, _) = v.split_once(';').unwrap_or((v, ""));
        pair.strip_prefix(&format!("{name}=")).map(str::to_string)
    })
}

/// The value of the first `<input ... id="ID" ... value="...">` or `name="csrf" value="..."` in `html`.
fn value_after(html: &str, marker: &str) -> Option<String> {
    let rest = &html[html.find(marker)? + marker.len()..];
    let rest = &rest[rest.find("value=\"")? + 7..];
    Some(rest[..rest.find('"')?].to_string())
}

impl Browser {
    async fn sign_in(s: &Server, user: &str, password: &str) -> Browser {
        let http = anonymous_client();
        let page = http.get(s.url("/console/login")).send().await.unwrap();
        let login_csrf = cookie_of(&page, "berth_login_csrf").unwrap();
        let r = http
            .post(s.url("/console/login"))
            .header("cookie", format!("berth_login_csrf={login_csrf}"))
            .form(&[("csrf", login_csrf.as_str()), ("user", user), ("password", password)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{user} signs in");
        let cookie = format!("berth_session={}", cookie_of(&r, "berth_session").unwrap());
        let html = http.get(s.url("/console/")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
        let csrf = value_after(&html, "name=\"csrf\"").expect("a CSRF token on the page");
        Browser { http, base: s.base.clone(), cookie, csrf }
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self.http.get(format!("{}{path}", self.base)).header("cookie", &self.cookie).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// Posts a form with the session's CSRF token; the status, the redirect target and the body.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String, String) {
        let mut fields = fields.to_vec();
        fields.push(("csrf", &self.csrf));
        self.post_raw(path, &fields).await
    }

    async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(fields)
            .send()
            .await
            .unwrap();
        let location = r.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("").to_string();
        (r.status(), location, r.text().await.unwrap())
    }
}

#[tokio::test]
async fn console_administration_pages_and_forms() {
    let s = Server::start();
    s.admin("CreateUser", json!({"userName": "kim", "password": "kim-password"})).await;
    let admin = Browser::sign_in(&s, "admin", ADMIN_PASSWORD).await;
    let kim = Browser::sign_in(&s, "kim", "kim-password").await;

    // Navigation: the administration and usage links only for those who may open them.
    let (_, home) = admin.get("/console/").await;
    assert!(home.contains("href=\"/console/admin\"") && home.contains("href=\"/console/usage\""), "{home}");
    let (_, home) = kim.get("/console/").await;
    assert!(!home.contains("/console/admin") && !home.contains("/console/usage"), "no admin controls for kim");
    for page in ["/console/admin", "/console/admin/users", "/console/admin/audit", "/console/usage"] {
        assert_eq!(kim.get(page).await.0, StatusCode::FORBIDDEN, "{page} for kim");
    }
    let (status, overview) = admin.get("/console/admin").await;
    assert_eq!(status, StatusCode::OK);
    for section in ["Users", "Groups", "Robot tokens", "Audit log", "Registry settings", "Vulnerability database"] {
        assert!(overview.contains(section), "{section}");
    }

    // Users: a forged create (kim's valid token) and a create without a token are refused; the admin's works.
    let alice = [("name", "alice"), ("password", "alice-password")];
    assert_eq!(kim.post("/console/admin/users/create", &alice).await.0, StatusCode::FORBIDDEN);
    let (status, _, body) = admin.post_raw("/console/admin/users/create", &alice).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no CSRF token");
    assert!(body.contains("CSRF"));
    assert!(!admin.get("/console/admin/users").await.1.contains(">alice<"), "nothing was created");
    let (status, location, _) = admin.post("/console/admin/users/create", &alice).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/console/admin/user?name=alice&done=user-created")
    );
    let (_, users) = admin.get("/console/admin/users").await;
    assert!(users.contains(">alice<") && users.contains(">kim<"), "{users}");
    let (status, body, _) = admin.post("/console/admin/users/create", &[("name", "alice"), ("password", "x")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.is_empty() || body.contains("password"), "{body}");

    // An access key: its secret on the answer to the create, never again.
    let (status, _, page) = admin.post("/console/admin/user/keys/create", &[("name", "alice")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("only time"), "{page}");
    let secret = value_after(&page, "id=\"secret\"").unwrap();
    let key_id = page.split("<dt>Access key id</dt><dd><code>").nth(1).unwrap().split('<').next().unwrap().to_string();
    let v2 = |id: &str, secret: &str| {
        let c = client_as(id, secret);
        let url = s.url("/v2/");
        async move { c.get(url).send().await.unwrap().status() }
    };
    assert_eq!(v2(&key_id, &secret).await, StatusCode::OK, "the key works");
    let (_, user_page) = admin.get("/console/admin/user?name=alice").await;
    assert!(user_page.contains(&key_id) && !user_page.contains(&secret), "the secret is never shown again");
    assert_eq!(kim.post("/console/admin/user/keys/create", &[("name", "alice")]).await.0, StatusCode::FORBIDDEN);
    // Deactivated, it no longer works; a key named with the wrong owner is not found.
    let off = [("name", "alice"), ("key", key_id.as_str()), ("active", "false")];
    assert_eq!(admin.post("/console/admin/user/keys/status", &off).await.0, StatusCode::SEE_OTHER);
    assert_eq!(v2(&key_id, &secret).await, StatusCode::UNAUTHORIZED, "an inactive key is refused");
    let wrong_owner = [("name", "kim"), ("key", key_id.as_str())];
    assert_eq!(admin.post("/console/admin/user/keys/delete", &wrong_owner).await.0, StatusCode::NOT_FOUND);
    let delete = [("name", "alice"), ("key", key_id.as_str())];
    assert_eq!(admin.post("/console/admin/user/keys/delete", &delete).await.0, StatusCode::SEE_OTHER);
    assert!(!admin.get("/console/admin/user?name=alice").await.1.contains(&key_id));

    // Passwords: set one, sign in with it.
    let (status, _, _) =
        admin.post("/console/admin/user/password", &[("name", "alice"), ("password", "alice-new-password")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    Browser::sign_in(&s, "alice", "alice-new-password").await;

    // Identity policies: the engine's errors inline, the document kept as typed.
    let bad = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Perhaps", "Action": "ecr:*", "Resource": "*"}]}"#;
    let (status, _, page) = admin.post("/console/admin/policy/put", &[("user", "alice"), ("document", bad)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("policy engine refused") && page.contains("Perhaps"), "{page}");
    assert!(page.contains("aria-invalid=\"true\""), "the editor is marked invalid");
    let good = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:DescribeRepositories", "Resource": "*"}]}"#;
    let (status, _, _) = admin.post("/console/admin/policy/put", &[("user", "alice"), ("document", good)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let stored = s.admin("GetPolicy", json!({"target": {"user": "alice"}})).await;
    assert!(stored["policyText"].as_str().unwrap().contains("ecr:DescribeRepositories"));
    assert_eq!(
        kim.post("/console/admin/policy/put", &[("user", "kim"), ("document", good)]).await.0,
        StatusCode::FORBIDDEN
    );

    // Groups and members.
    assert_eq!(admin.post("/console/admin/groups/create", &[("group", "ci")]).await.0, StatusCode::SEE_OTHER);
    let add = [("group", "ci"), ("user", "alice")];
    assert_eq!(admin.post("/console/admin/group/members/add", &add).await.0, StatusCode::SEE_OTHER);
    let groups = s.admin("ListGroups", json!({})).await;
    assert_eq!(groups["groups"][0]["members"], json!(["alice"]));
    assert!(admin.get("/console/admin/groups").await.1.contains("Remove alice from ci"));

    // Robot tokens: shown once, listed without the secret, revoked.
    let new_token =
        [("owner", "admin"), ("name", "ci"), ("repositories", "team/*"), ("pull", "true"), ("expires_days", "7")];
    assert_eq!(
        admin
            .post(
                "/console/admin/tokens/create",
                &[("owner", "alice"), ("name", "x"), ("repositories", "a/b"), ("pull", "true"), ("expires_days", "1")]
            )
            .await
            .0,
        StatusCode::FORBIDDEN,
        "tokens are created for yourself"
    );
    let (status, _, page) = admin.post("/console/admin/tokens/create", &new_token).await;
    assert_eq!(status, StatusCode::OK);
    let token = value_after(&page, "id=\"secret\"").unwrap();
    assert!(token.starts_with("berth_rt_"), "{token}");
    let (_, tokens) = admin.get("/console/admin/tokens").await;
    assert!(tokens.contains("Revoke ci") && !tokens.contains(&token), "listed, never with its secret");
    let token_id = token.trim_start_matches("berth_rt_").split('_').next().unwrap().to_string();
    let revoke = [("owner", "admin"), ("token", token_id.as_str())];
    assert_eq!(admin.post("/console/admin/tokens/revoke", &revoke).await.0, StatusCode::SEE_OTHER);
    assert!(!admin.get("/console/admin/tokens").await.1.contains("Revoke ci"));

    // Registry settings: rules validated as PutRegistryScanningConfiguration validates them.
    let continuous = [("scan_type", "BASIC"), ("frequency1", "CONTINUOUS_SCAN"), ("filters1", "prod/*")];
    let (status, _, page) = admin.post("/console/admin/settings/scanning", &continuous).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("CONTINUOUS_SCAN needs scanType ENHANCED"), "{page}");
    let on_push = [("scan_type", "BASIC"), ("frequency1", "SCAN_ON_PUSH"), ("filters1", "prod/*, team/*")];
    assert_eq!(admin.post("/console/admin/settings/scanning", &on_push).await.0, StatusCode::SEE_OTHER);
    let target = ("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.GetRegistryScanningConfiguration");
    let r = s.signed_post(Some(ADMIN_KEY), "ecr", "/", &[target], &json!({})).await;
    let config: serde_json::Value = r.json().await.unwrap();
    assert_eq!(config["scanningConfiguration"]["rules"][0]["repositoryFilters"][1]["filter"], "team/*");
    assert_eq!(kim.post("/console/admin/settings/scanning", &on_push).await.0, StatusCode::FORBIDDEN);
    let (status, page) = admin.get("/console/admin/vulndb").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("berth vulndb import"), "no database imported yet");

    // The audit log: what was done here, filtered, newest first, paged.
    let (status, audit) = admin.get("/console/admin/audit?action=berth:CreateAccessKey").await;
    assert_eq!(status, StatusCode::OK);
    assert!(audit.contains("user/admin") && audit.contains("arn:aws:iam::000000000000:user/alice"), "{audit}");
    assert!(!audit.contains("berth:CreateUser<"), "only the action asked for");
    let (_, denied) = admin.get("/console/admin/audit?principal=kim&outcome=denied").await;
    assert!(denied.contains("berth:CreateUser") && denied.contains("user/kim"), "{denied}");
    assert!(!denied.contains("user/admin"));
    let (_, prefixed) = admin.get("/console/admin/audit?action=berth:*&principal=admin").await;
    for action in ["berth:CreateUser", "berth:CreateAccessKey", "berth:DeleteAccessKey", "berth:CreateRobotToken"] {
        assert!(prefixed.contains(action), "{action}");
    }
    let (status, page) = admin.get("/console/admin/audit?since=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("is not a time"));
    let (_, future) = admin.get("/console/admin/audit?since=2999-01-01").await;
    assert!(future.contains("No events match"));
    // More events than a page: the first shows 50 and links to the older ones.
    for _ in 0..50 {
        kim.get("/console/admin/users").await;
    }
    let (_, first) = admin.get("/console/admin/audit?principal=kim").await;
    assert_eq!(first.matches("<tr id=\"event-").count(), 50);
    let older = first.split("<a href=\"/console/admin/audit?").nth(1).unwrap().split('"').next().unwrap();
    let (_, second) = admin.get(&format!("/console/admin/audit?{}", older.replace("&#38;", "&"))).await;
    let ids = |html: &str| -> Vec<i64> {
        html.split("<tr id=\"event-").skip(1).map(|t| t.split('"').next().unwrap().parse().unwrap()).collect()
    };
    let (first, second) = (ids(&first), ids(&second));
    assert!(!second.is_empty() && second.len() <= 50);
    assert!(first.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert!(second[0] < *first.last().unwrap(), "the next page holds older events: {older} {first:?} {second:?}");

    // Deleting a user: confirmed by name.
    let (status, _, _) = admin.post("/console/admin/user/delete", &[("name", "alice"), ("confirm", "alicia")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = admin.post("/console/admin/user/delete", &[("name", "alice"), ("confirm", "alice")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(admin.get("/console/admin/user?name=alice").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn console_usage_report_shows_storage_and_transfer() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_in(&dir);
    s.push_image("usage/one", "v1", &[7u8; 3000]).await;
    s.push_image("usage/two", "v1", b"small layer").await;
    let pulled = s.get("/v2/usage/one/manifests/v1").await;
    assert_eq!(pulled.status(), StatusCode::OK);
    // Storage is snapshotted when a server starts (and every hour).
    s.stop();
    let s = Server::start_in(&dir);
    let admin = Browser::sign_in(&s, "admin", ADMIN_PASSWORD).await;
    let (status, page) = admin.get("/console/usage").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page.matches("<svg class=\"chart\"").count(), 5, "storage, transfer, pulls, per repository, metered");
    assert!(page.contains(">usage/one<") && page.contains(">usage/two<"), "{page}");
    assert!(page.contains("<circle class=\"point\""), "today's storage snapshot is on the line");
    // Transfer counted today: usage/one had one pull and bytes in.
    let (_, one) = admin.get("/console/usage?repository=usage/one&days=7").await;
    assert!(one.contains("Usage of usage/one"));
    let today = one.split("<caption>Per day (UTC)</caption>").nth(1).unwrap();
    let first_row = today.split("<tr><td>").nth(1).unwrap();
    let cells: Vec<&str> = first_row.split("</td><td>").collect();
    assert!(cells[1].contains("KiB"), "stored today: {cells:?}");
    assert_eq!(cells[2], "1", "one image: {cells:?}");
    assert!(cells[5].starts_with('1'), "one pull today: {cells:?}");
    // The metering report of the same days: the pull was made with the administrator's password, an admin
    // API call with its access key, each on its own line.
    s.admin("ListUsers", json!({})).await;
    let metered =
        |page: &str| page.split("id=\"metered-table\"").nth(1).unwrap_or_else(|| panic!("{page}")).to_string();
    assert!(metered(&page).contains("<td>usage/one</td>"), "{page}");
    let (status, by_principal) = admin.get("/console/usage?group=principal").await;
    assert_eq!(status, StatusCode::OK);
    let admin_key = format!("<td>arn:aws:iam::000000000000:user/admin/access-key/{}</td>", ADMIN_KEY.0);
    assert!(metered(&by_principal).contains(&admin_key), "{by_principal}");
    assert!(metered(&by_principal).contains("<td>arn:aws:iam::000000000000:user/admin</td>"), "{by_principal}");
    let (_, by_operation) = admin.get("/console/usage?group=operation").await;
    assert!(metered(&by_operation).contains("<td>GET /v2/{name}/manifests/{reference}</td>"), "{by_operation}");
    assert_eq!(admin.get("/console/usage?group=day").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(admin.get("/console/usage?days=12").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(admin.get("/console/usage?repository=usage/none").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn console_administration_in_a_real_browser() {
    require("chromedriver", &["--version"], "Debian's chromium-driver (and chromium)");
    require("python3", &["-c", "import selenium"], "Python selenium (`pip install selenium`)");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_in(&dir);
    s.admin("CreateUser", json!({"userName": "lee", "password": "lee-password"})).await;
    s.push_image("usage/app", "v1", &[3u8; 20_000]).await;
    s.push_image("usage/tools", "v1", b"tools layer").await;
    assert_eq!(s.get("/v2/usage/app/manifests/v1").await.status(), StatusCode::OK);
    // A restart snapshots storage (as every hour), so the usage charts have today's point.
    s.stop();
    let s = Server::start_in(&dir);

    let shots = std::env::var("BERTH_CONSOLE_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| tmp.path().join("screenshots"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oci/console_admin_browser.py");
    let out = Command::new("python3")
        .arg(script)
        .args(["--base", &s.base, "--admin-password", ADMIN_PASSWORD, "--user", "lee:lee-password"])
        .arg("--out")
        .arg(&shots)
        .output()
        .expect("run console_admin_browser.py");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("{stdout}\n{stderr}\nscreenshots in {}", shots.display());
    assert!(out.status.success(), "the browser scenarios failed: {stderr}");
    assert!(stdout.contains("console administration scenarios passed"), "{stdout}");
}
