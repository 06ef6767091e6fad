//! Prometheus metrics: `/metrics` on the main listener is decided like every route (administrators, and
//! principals a policy grants `berth:GetMetrics`), counts what happened, and is valid exposition text
//! (`promtool check metrics`); the separate `--metrics-listen` address serves it without credentials, and
//! a real Prometheus server scrapes both.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const MANIFESTS: &str = "/v2/{name}/manifests/{reference}";

/// The value of the sample of `name` whose labels include every one of `labels`, if present.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
        let wanted = labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
        (metric == name && wanted).then(|| value.parse().ok())?
    })
}

/// Runs `promtool check metrics` on `text`; a missing promtool fails the test (the package is `prometheus`,
/// which scripts/install-deps.sh installs).
fn promtool_check(text: &str) {
    use std::io::Write as _;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("promtool is needed (Debian package `prometheus`, scripts/install-deps.sh): {e}"));
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && report.trim().is_empty(), "promtool check metrics: {report}\n{text}");
}

/// Whether the scan job ended (the job runtime then recorded its run).
fn scans_done(text: &str) -> bool {
    ["succeeded", "failed"].iter().any(|st| sample(text, "berth_jobs", &[("kind", "scan"), ("state", st)]) == Some(1.0))
}

async fn user_with_policy(s: &Server, name: &str, statements: Value) {
    s.admin("CreateUser", json!({"userName": name, "password": format!("{name}-password")})).await;
    if statements != json!([]) {
        let doc = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
        s.admin("PutPolicy", json!({"target": {"user": name}, "policyText": doc})).await;
    }
}

#[tokio::test]
async fn scrapes_count_requests_and_only_allowed_callers_read_them() {
    let s = Server::start();
    s.push_image("team/app", "v1", b"metrics layer").await;
    for _ in 0..3 {
        assert_eq!(s.get("/v2/team/app/manifests/v1").await.status(), StatusCode::OK);
    }
    assert_eq!(s.get("/v2/team/app/manifests/missing").await.status(), StatusCode::NOT_FOUND);
    let target = ("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories");
    assert_eq!(s.signed_post(Some(ADMIN_KEY), "ecr", "/", &[target], &json!({})).await.status(), StatusCode::OK);

    let scan = ("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.StartImageScan");
    let body = json!({"repositoryName": "team/app", "imageId": {"imageTag": "v1"}});
    assert_eq!(s.signed_post(Some(ADMIN_KEY), "ecr", "/", &[scan], &body).await.status(), StatusCode::OK);

    let r = s.get("/metrics").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(header(&r, "content-type").starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.unwrap();
    let got = |labels: &[(&str, &str)]| sample(&text, "berth_http_requests_total", labels).unwrap_or(0.0);
    assert_eq!(got(&[("route", MANIFESTS), ("method", "GET"), ("status", "200")]), 3.0, "{text}");
    assert_eq!(got(&[("route", MANIFESTS), ("method", "GET"), ("status", "404")]), 1.0, "{text}");
    assert_eq!(got(&[("route", "/v2/{name}/manifests/{reference}"), ("method", "PUT"), ("status", "201")]), 1.0);
    assert!(got(&[("route", "/v2/{name}/blobs/uploads/"), ("method", "POST"), ("status", "201")]) >= 2.0);
    assert_eq!(got(&[("route", "ecr:DescribeRepositories"), ("method", "POST"), ("status", "200")]), 1.0);
    // No raw path, repository name or tag becomes a label of a request figure; only the per-repository
    // storage figures name repositories.
    let leaks = text.lines().filter(|l| !l.starts_with("berth_repository_"));
    assert!(leaks.clone().all(|l| !l.contains("team/app") && !l.contains("missing")), "{text}");
    let repo_bytes = |kind| sample(&text, "berth_repository_bytes", &[("repository", "team/app"), ("kind", kind)]);
    assert!(repo_bytes("total").unwrap() >= b"metrics layer".len() as f64, "{text}");
    assert_eq!(repo_bytes("exclusive"), repo_bytes("total"), "{text}");
    assert_eq!(repo_bytes("shared"), Some(0.0), "{text}");
    assert_eq!(sample(&text, "berth_repository_images", &[("repository", "team/app")]), Some(1.0), "{text}");
    let bucket = [("route", MANIFESTS), ("method", "GET"), ("le", "+Inf")];
    assert_eq!(sample(&text, "berth_http_request_duration_seconds_bucket", &bucket), Some(4.0), "{text}");
    let sent = sample(&text, "berth_http_response_bytes_total", &[("route", MANIFESTS)]).unwrap();
    assert!(sent > 0.0, "{text}");
    let received = sample(&text, "berth_http_request_bytes_total", &[("route", "/v2/{name}/blobs/uploads/")]);
    assert!(received.unwrap() >= b"metrics layer".len() as f64, "{text}");
    assert_eq!(sample(&text, "berth_http_uploads_in_flight", &[]), Some(0.0), "{text}");
    // Figures read at scrape time: storage, jobs, garbage collection, the connection pools.
    assert!(sample(&text, "berth_storage_stored_bytes", &[]).unwrap() >= b"metrics layer".len() as f64, "{text}");
    assert_eq!(sample(&text, "berth_repositories", &[]), Some(1.0), "{text}");
    let scans: f64 = ["queued", "running", "succeeded", "failed"]
        .iter()
        .map(|state| sample(&text, "berth_jobs", &[("kind", "scan"), ("state", state)]).unwrap())
        .sum();
    assert_eq!(scans, 1.0, "{text}");
    assert!(sample(&text, "berth_gc_runs_total", &[]).is_some(), "{text}");
    if scans_done(&text) {
        let runs = [("kind", "scan"), ("le", "+Inf")];
        assert!(sample(&text, "berth_job_duration_seconds_bucket", &runs).unwrap() >= 1.0, "{text}");
    }
    assert!(sample(&text, "berth_gc_queued_blobs", &[]).is_some(), "{text}");
    let max = sample(&text, "berth_db_pool_max_connections", &[("pool", "writer")]);
    assert_eq!(max, Some(1.0), "SQLite has one writer connection: {text}");
    assert!(sample(&text, "berth_db_pool_connections", &[("pool", "reader"), ("state", "idle")]).is_some());
    promtool_check(&text);

    // Anonymous callers are asked for credentials; a user without a policy is refused; a policy that grants
    // berth:GetMetrics on the registry lets its user scrape.
    let r = anonymous_client().get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&r, "www-authenticate"), "Basic realm=\"berth\"");
    user_with_policy(&s, "nopolicy", json!([])).await;
    let r = client_as("nopolicy", "nopolicy-password").get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = client_as("nopolicy", "wrong-password").get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let grant = json!([{"Effect": "Allow", "Action": "berth:GetMetrics", "Resource": "arn:aws:ecr:*:*:registry"}]);
    user_with_policy(&s, "monitor", grant).await;
    let r = client_as("monitor", "monitor-password").get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(sample(&text, "berth_http_requests_total", &[("route", "/metrics"), ("status", "403")]).is_some());
    assert!(sample(&text, "berth_auth_failures_total", &[("reason", "credentials")]).unwrap() >= 1.0, "{text}");
    assert!(sample(&text, "berth_auth_failures_total", &[("reason", "denied")]).unwrap() >= 2.0, "{text}");
    // The refusals were audited like any other.
    let events = s.admin("ListAuditEvents", json!({"action": "berth:GetMetrics"})).await;
    let refused = events["events"].as_array().unwrap().iter().filter(|e| e["outcome"] == "denied").count();
    assert!(refused >= 2, "{events}");

    // Configured otherwise: a registry policy granting it to everyone opens it to anonymous callers.
    let open = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "berth:GetMetrics", "Resource": "*"}]});
    s.admin("PutPolicy", json!({"target": {"registry": true}, "policyText": open.to_string()})).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = anonymous_client().get(s.url("/metrics")).send().await.unwrap();
        if r.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "anonymous still refused: {}", r.status());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A `prometheus` server, stopped when dropped.
struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn query(http: &reqwest::Client, base: &str, q: &str) -> Vec<Value> {
    let r = http.get(format!("{base}/api/v1/query")).query(&[("query", q)]).send().await;
    let Ok(r) = r else { return Vec::new() };
    let v: Value = r.json().await.unwrap_or(Value::Null);
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_prometheus_server_scrapes_both_listeners() {
    let tmp = tempfile::tempdir().unwrap();
    let metrics_port = free_port();
    let metrics_at = format!("127.0.0.1:{metrics_port}");
    let s = Server::start_with_args(&tmp.path().join("data"), &["--metrics-listen", &metrics_at]);
    s.push_image("scraped/app", "v1", b"scraped layer").await;

    // The separate listener needs no credentials and serves nothing else.
    let open = anonymous_client();
    let r = open.get(format!("http://{metrics_at}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(sample(&text, "berth_http_requests_total", &[("route", MANIFESTS), ("method", "PUT")]).is_some());
    promtool_check(&text);
    let r = open.get(format!("http://{metrics_at}/v2/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let main = s.base.trim_start_matches("http://").to_string();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n\
         - job_name: berth-local\n  static_configs:\n  - targets: ['{metrics_at}']\n\
         - job_name: berth\n  basic_auth:\n    username: admin\n    password: '{ADMIN_PASSWORD}'\n  \
         static_configs:\n  - targets: ['{main}']\n"
    );
    let config_file = tmp.path().join("prometheus.yml");
    std::fs::write(&config_file, config).unwrap();
    let web = format!("127.0.0.1:{}", free_port());
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config_file.display()))
        .arg(format!("--storage.tsdb.path={}", tmp.path().join("tsdb").display()))
        .arg(format!("--web.listen-address={web}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("prometheus is needed (Debian package `prometheus`, scripts/install-deps.sh): {e}"));
    let _prometheus = Prometheus(child);
    let base = format!("http://{web}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let up = query(&open, &base, "up == 1").await;
        let jobs: Vec<&str> = up.iter().filter_map(|r| r["metric"]["job"].as_str()).collect();
        let series = query(&open, &base, "berth_http_requests_total{job=\"berth-local\",method=\"PUT\"}").await;
        if jobs.contains(&"berth-local") && jobs.contains(&"berth") && !series.is_empty() {
            assert!(series.iter().any(|r| r["metric"]["route"] == MANIFESTS), "{series:?}");
            break;
        }
        assert!(Instant::now() < deadline, "prometheus did not scrape berth: up {up:?}, series {series:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
