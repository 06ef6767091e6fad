//! Webhooks end to end, with a real HTTP receiver started by each test: every kind of event arrives once,
//! signed, as a CloudEvent carrying the EventBridge event ECR would send; a receiver that fails and then
//! recovers gets the event after retries (the delivery log shows each attempt); deliveries queued when
//! berth is killed are sent after it restarts; URLs are validated; a failing subscription is disabled and
//! enabled again.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::scanning::{berth, push_fixture};
use crate::support::*;

const SECRET: &str = "a-webhook-secret-of-some-length";

/// One request the receiver got, and the status it answered.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
    status: u16,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Whether the signature headers hold a valid signature of the body with `secret`.
    fn signed_with(&self, secret: &str) -> bool {
        let ts: i64 = self.header("webhook-timestamp").parse().unwrap_or(0);
        berth_auth::webhook_signature::verify(
            secret.as_bytes(),
            self.header("webhook-id"),
            ts,
            &self.body,
            self.header("webhook-signature"),
        )
    }
}

#[derive(Default)]
struct Script {
    /// Statuses to answer next, in order; then `then`.
    next: VecDeque<u16>,
    then: u16,
    got: Vec<Received>,
}

/// A webhook receiver on a loopback port.
#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    script: Arc<Mutex<Script>>,
}

async fn receive(State(script): State<Arc<Mutex<Script>>>, headers: HeaderMap, body: Bytes) -> AxumStatus {
    let mut s = script.lock().unwrap();
    let status = s.next.pop_front().unwrap_or(s.then);
    s.got.push(Received { headers, body, status });
    AxumStatus::from_u16(status).unwrap()
}

impl Receiver {
    async fn start(then: u16) -> Receiver {
        let script = Arc::new(Mutex::new(Script { then, ..Default::default() }));
        let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, script }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn answer(&self, next: &[u16], then: u16) {
        let mut s = self.script.lock().unwrap();
        s.next = next.iter().copied().collect();
        s.then = then;
    }

    fn got(&self) -> Vec<Received> {
        self.script.lock().unwrap().got.clone()
    }

    fn delivered(&self) -> Vec<Received> {
        self.got().into_iter().filter(|r| (200..300).contains(&r.status)).collect()
    }

    /// Waits until `done` holds for what was delivered (60 s at most).
    async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let delivered = self.delivered();
            if done(&delivered) {
                return delivered;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; delivered: {:#?}", summary(&delivered));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// (type, subject, image digest) of each delivery, for messages and comparisons.
fn summary(got: &[Received]) -> Vec<(String, String, String)> {
    got.iter()
        .map(|r| {
            let v = r.json();
            let text = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
            (text("/type"), text("/subject"), text("/data/detail/image-digest"))
        })
        .collect()
}

fn config_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A server whose webhooks may target loopback, retrying after 1 s, with `extra` config lines.
fn start(tmp: &Path, extra: &str) -> Server {
    let text = format!("[webhooks]\nallow_private = true\nretry_base = \"1s\"\nretry_max = \"2s\"\n{extra}");
    let config = config_file(tmp, "berth.toml", &text);
    Server::start_with_args(&tmp.join("data"), &["--config", config.to_str().unwrap()])
}

async fn ecr(s: &Server, op: &str, body: Value) -> Value {
    let target = format!("AmazonEC2ContainerRegistry_V20150921.{op}");
    let r = s.signed_post(Some(ADMIN_KEY), "ecr", "/", &[("x-amz-target", &target)], &body).await;
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{op}: {v}");
    v
}

async fn create(s: &Server, receiver: &Receiver, events: &[&str], filter: &str) -> i64 {
    let body = json!({"url": receiver.url(), "events": events, "repositoryFilter": filter, "secret": SECRET});
    let created = s.admin("CreateWebhook", body).await;
    assert!(created.get("secret").is_none(), "a secret given is not echoed: {created}");
    created["webhook"]["webhookId"].as_i64().unwrap()
}

#[tokio::test]
async fn every_event_arrives_once_signed_as_a_cloudevent() {
    let tmp = tempfile::tempdir().unwrap();
    let s = start(tmp.path(), "pull_events = \"all\"\n");
    let receiver = Receiver::start(204).await;
    let all = [
        "image.push",
        "tag.move",
        "image.delete",
        "image.expire",
        "repository.create",
        "repository.delete",
        "scan.complete",
        "quota.exceeded",
        "image.pull",
    ];
    let id = create(&s, &receiver, &all, "hooks/*").await;

    // Each change, in a repository the filter covers.
    ecr(&s, "CreateRepository", json!({"repositoryName": "hooks/app"})).await;
    let (_, first) = s.push_image("hooks/app", "v1", &bytes(1, 300)).await;
    let (_, second) = s.push_image("hooks/app", "v1", &bytes(2, 300)).await;
    assert_eq!(s.get("/v2/hooks/app/manifests/v1").await.status(), StatusCode::OK);
    let r = s.http.delete(s.url(&format!("/v2/hooks/app/manifests/{first}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    s.admin("PutQuota", json!({"prefix": "hooks/full", "limitBytes": 10})).await;
    let blob = bytes(3, 100);
    let d = berth_oci::Digest::sha256_of(&blob);
    let r = s.http.post(s.url(&format!("/v2/hooks/full/blobs/uploads/?digest={d}"))).body(blob).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (_, old) = s.push_image("hooks/life", "a", &bytes(4, 300)).await;
    let (_, young) = s.push_image("hooks/life", "b", &bytes(5, 300)).await;
    let rule = json!({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
        "countNumber": 1}, "action": {"type": "expire"}}]});
    ecr(&s, "PutLifecyclePolicy", json!({"repositoryName": "hooks/life", "lifecyclePolicyText": rule.to_string()}))
        .await;
    let run = s.admin("RunLifecyclePolicy", json!({"repositoryName": "hooks/life", "wait": true})).await;
    let expired = run.to_string();
    let expired_digest = if expired.contains(&old.to_string()) { &old } else { &young };
    let (scanned, _) = push_fixture(&s, "hooks/scan", "1.0").await;
    ecr(&s, "StartImageScan", json!({"repositoryName": "hooks/scan", "imageId": {"imageDigest": scanned.to_string()}}))
        .await;
    ecr(&s, "DeleteRepository", json!({"repositoryName": "hooks/app", "force": true})).await;
    // Outside the filter: nothing is sent.
    s.push_image("other/app", "v1", &bytes(6, 300)).await;

    let delivered = receiver
        .wait_for("every event", |d| {
            let types: Vec<String> = summary(d).into_iter().map(|(t, ..)| t).collect();
            types.contains(&"io.berth.repository.delete".to_string())
                && types.contains(&"io.berth.scan.complete".to_string())
        })
        .await;
    // Let anything sent twice arrive too.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let delivered = if receiver.delivered().len() > delivered.len() { receiver.delivered() } else { delivered };
    let got = summary(&delivered);
    let one = |ty: &str, subject: &str, digest: &str| {
        let n = got.iter().filter(|(t, s, d)| t == ty && s == subject && (digest.is_empty() || d == digest)).count();
        assert_eq!(n, 1, "{ty} {subject} {digest}: {n} deliveries in {got:#?}");
    };
    let (first, second) = (first.to_string(), second.to_string());
    one("io.berth.repository.create", "hooks/app", "");
    one("io.berth.image.push", "hooks/app", &first);
    one("io.berth.image.push", "hooks/app", &second);
    one("io.berth.tag.move", "hooks/app", &second);
    one("io.berth.image.pull", "hooks/app", &second);
    one("io.berth.image.delete", "hooks/app", &first);
    one("io.berth.quota.exceeded", "hooks/full", "");
    one("io.berth.image.push", "hooks/life", &old.to_string());
    one("io.berth.image.push", "hooks/life", &young.to_string());
    one("io.berth.image.expire", "hooks/life", &expired_digest.to_string());
    one("io.berth.image.push", "hooks/scan", &scanned.to_string());
    one("io.berth.scan.complete", "hooks/scan", &scanned.to_string());
    one("io.berth.repository.delete", "hooks/app", "");
    // The scan's SBOM is pushed as an artifact: one more push in hooks/scan, and nothing else.
    assert_eq!(got.len(), 14, "{got:#?}");
    assert!(got.iter().all(|(_, subject, _)| subject.starts_with("hooks/")), "{got:#?}");

    // Signed, CloudEvents 1.0 around the EventBridge event.
    for r in &delivered {
        assert!(r.signed_with(SECRET), "bad signature: {:?}", r.headers);
        assert!(!r.signed_with("another-secret-entirely"));
        let ts: i64 = r.header("webhook-timestamp").parse().unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        assert!((now - ts).abs() < 300, "timestamp {ts}");
        assert!(r.header("content-type").starts_with("application/cloudevents+json"));
        let v = r.json();
        assert_eq!(v["specversion"], "1.0");
        assert_eq!(v["id"], r.header("webhook-id"));
        assert_eq!(v["datacontenttype"], "application/json");
        assert_eq!(v["data"]["id"], v["id"]);
        assert_eq!(v["data"]["version"], "0");
        assert_eq!(v["data"]["detail"]["repository-name"], v["subject"]);
    }
    let find = |ty: &str| delivered.iter().map(Received::json).find(|v| v["type"] == ty).unwrap();
    let push = find("io.berth.tag.move");
    assert_eq!(push["data"]["detail"]["previous-image-digest"], first.as_str());
    let push = delivered
        .iter()
        .map(Received::json)
        .find(|v| v["data"]["detail"]["image-digest"] == second.as_str() && v["type"] == "io.berth.image.push")
        .unwrap();
    assert_eq!(push["data"]["detail-type"], "ECR Image Action");
    assert_eq!(push["data"]["source"], "aws.ecr");
    assert_eq!(push["data"]["detail"]["action-type"], "PUSH");
    assert_eq!(push["data"]["detail"]["image-tag"], "v1");
    assert_eq!(push["data"]["detail"]["result"], "SUCCESS");
    assert!(push["data"]["resources"][0].as_str().unwrap().ends_with(":repository/hooks/app"), "{push}");
    let scan = find("io.berth.scan.complete");
    assert_eq!(scan["data"]["detail-type"], "ECR Image Scan");
    assert_eq!(scan["data"]["detail"]["scan-status"], "COMPLETE");
    assert_eq!(scan["data"]["detail"]["image-tags"], json!(["1.0"]));
    assert!(scan["data"]["detail"]["finding-severity-counts"].is_object(), "{scan}");
    let expire = find("io.berth.image.expire");
    assert_eq!(expire["data"]["detail"]["action-type"], "DELETE");
    assert_eq!(expire["data"]["detail"]["berth-cause"], "LIFECYCLE");

    // The delivery log has one successful attempt per delivery; the list shows no secret.
    let log = s.admin("ListWebhookDeliveries", json!({"webhookId": id, "maxResults": 100})).await;
    let attempts = log["deliveries"].as_array().unwrap();
    assert_eq!(attempts.len(), 14, "{log}");
    assert!(attempts.iter().all(|a| a["succeeded"] == true && a["statusCode"] == 204 && a["attempt"] == 1), "{log}");
    let listed = s.admin("ListWebhooks", json!({})).await;
    assert!(!listed.to_string().contains(SECRET), "{listed}");
    assert_eq!(listed["webhooks"][0]["state"], "ENABLED");
}

/// Deletions name what went: a `/v2` DELETE by tag and `BatchDeleteImage` of a tag that is not the image's
/// last send `tag.delete` (the image stays); deleting an image by digest sends `image.delete` with the tags
/// it had, on both APIs.
#[tokio::test]
async fn deletions_name_the_tags_they_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let s = start(tmp.path(), "");
    let receiver = Receiver::start(204).await;
    create(&s, &receiver, &["tag.delete", "image.delete"], "gone/*").await;
    let (body, a) = s.push_image("gone/app", "v1", &bytes(7, 300)).await;
    for tag in ["v1-alias", "stable", "keep"] {
        assert_eq!(s.put_manifest("gone/app", tag, OCI_MANIFEST, &body).await.status(), StatusCode::CREATED);
    }
    let (body_b, b) = s.push_image("gone/app", "b1", &bytes(8, 300)).await;
    assert_eq!(s.put_manifest("gone/app", "b2", OCI_MANIFEST, &body_b).await.status(), StatusCode::CREATED);

    // Untag on /v2, then with ECR (not the last tag): the image stays.
    let r = s.http.delete(s.url("/v2/gone/app/manifests/v1-alias")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = s.http.delete(s.url("/v2/gone/app/manifests/v1-alias")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "a tag deleted twice is unknown the second time");
    ecr(&s, "BatchDeleteImage", json!({"repositoryName": "gone/app", "imageIds": [{"imageTag": "stable"}]})).await;
    assert_eq!(s.get(&format!("/v2/gone/app/manifests/{a}")).await.status(), StatusCode::OK);
    // Delete by digest: on /v2 (a keeps v1 and keep), with ECR (b has b1 and b2).
    let r = s.http.delete(s.url(&format!("/v2/gone/app/manifests/{a}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    ecr(&s, "BatchDeleteImage", json!({"repositoryName": "gone/app", "imageIds": [{"imageDigest": b.to_string()}]}))
        .await;

    let delivered = receiver.wait_for("four deletions", |d| d.len() >= 4).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let delivered = if receiver.delivered().len() > delivered.len() { receiver.delivered() } else { delivered };
    assert_eq!(delivered.len(), 4, "{:#?}", summary(&delivered));
    let detail = |ty: &str, digest: &berth_oci::Digest, tag: &str| {
        let v = delivered
            .iter()
            .map(Received::json)
            .find(|v| {
                v["type"] == ty
                    && v["data"]["detail"]["image-digest"] == digest.to_string().as_str()
                    && (tag.is_empty() || v["data"]["detail"]["image-tag"] == tag)
            })
            .unwrap_or_else(|| panic!("no {ty} {digest} {tag} in {:#?}", summary(&delivered)));
        assert!(
            v["data"]["detail-type"] == "ECR Image Action" && v["data"]["detail"]["action-type"] == "DELETE",
            "{v}"
        );
        v["data"]["detail"].clone()
    };
    assert_eq!(detail("io.berth.tag.delete", &a, "v1-alias")["berth-cause"], "UNTAG");
    assert_eq!(detail("io.berth.tag.delete", &a, "stable")["image-tags"], json!(["stable"]));
    assert_eq!(detail("io.berth.image.delete", &a, "")["image-tags"], json!(["keep", "v1"]));
    assert_eq!(detail("io.berth.image.delete", &b, "")["image-tags"], json!(["b1", "b2"]));
}

#[tokio::test]
async fn a_receiver_that_fails_then_recovers_gets_the_event_after_retries() {
    let tmp = tempfile::tempdir().unwrap();
    let s = start(tmp.path(), "max_attempts = 5\n");
    let receiver = Receiver::start(200).await;
    receiver.answer(&[500, 500], 200);
    let id = create(&s, &receiver, &["image.push"], "retry/*").await;
    let (_, digest) = s.push_image("retry/app", "v1", &bytes(7, 200)).await;
    let delivered = receiver.wait_for("the push", |d| !d.is_empty()).await;
    assert_eq!(delivered.len(), 1);
    let got = receiver.got();
    assert_eq!(got.iter().map(|r| r.status).collect::<Vec<_>>(), [500, 500, 200], "two failures, then delivered");
    assert!(got.iter().all(|r| r.signed_with(SECRET)));
    assert!(got.iter().all(|r| r.body == got[0].body && r.header("webhook-id") == got[0].header("webhook-id")));
    assert_eq!(delivered[0].json()["data"]["detail"]["image-digest"], digest.to_string());

    let log = s.admin("ListWebhookDeliveries", json!({"webhookId": id})).await;
    let attempts: Vec<(i64, Option<i64>, bool)> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["attempt"].as_i64().unwrap(), a["statusCode"].as_i64(), a["succeeded"].as_bool().unwrap()))
        .collect();
    assert_eq!(attempts, [(3, Some(200), true), (2, Some(500), false), (1, Some(500), false)], "{log}");
    assert!(log["deliveries"][1]["error"].as_str().unwrap().contains("500"), "{log}");
    let (code, out, _) = berth(&s, &["webhook", "deliveries", &id.to_string()]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 4, "a header and three attempts: {out}");
    assert!(out.contains("image.push") && out.contains("HTTP 500"), "{out}");
    let metrics = s.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("berth_webhook_deliveries_total{outcome=\"failed\"} 2"), "{metrics}");
    assert!(metrics.contains("berth_webhook_deliveries_total{outcome=\"delivered\"} 1"), "{metrics}");
}

#[tokio::test]
async fn deliveries_queued_when_berth_is_killed_are_sent_after_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(200).await;
    // No job worker: the deliveries stay queued.
    let mut s = start(tmp.path(), "[jobs]\nworkers = 0\n");
    create(&s, &receiver, &["image.push", "repository.create"], "*").await;
    ecr(&s, "CreateRepository", json!({"repositoryName": "restart/app"})).await;
    let (_, digest) = s.push_image("restart/app", "v1", &bytes(8, 200)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(receiver.got().is_empty(), "no worker, nothing sent");
    s.kill9();

    let s = start(tmp.path(), "");
    let delivered = receiver.wait_for("both events", |d| d.len() >= 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.delivered().len(), 2, "each once: {:#?}", summary(&receiver.delivered()));
    let got = summary(&delivered);
    assert!(got.contains(&("io.berth.repository.create".into(), "restart/app".into(), String::new())), "{got:?}");
    assert!(got.contains(&("io.berth.image.push".into(), "restart/app".into(), digest.to_string())), "{got:?}");
    assert!(delivered.iter().all(|r| r.signed_with(SECRET)));
    drop(s);
}

#[tokio::test]
async fn webhook_urls_are_validated() {
    let s = Server::start();
    let refused = |url: &str, events: Value| json!({"url": url, "events": events, "secret": SECRET});
    for (body, needle) in [
        (refused("http://127.0.0.1:9/hook", json!(["image.push"])), "plain http"),
        (refused("https://127.0.0.1:9/hook", json!(["image.push"])), "not a public address"),
        (refused("https://[::1]/hook", json!(["image.push"])), "not a public address"),
        (refused("https://localhost/hook", json!(["image.push"])), "not a public address"),
        (refused("https://10.0.0.1/hook", json!(["image.push"])), "not a public address"),
        (refused("https://169.254.169.254/latest", json!(["image.push"])), "not a public address"),
        (refused("https://u:p@hooks.invalid/x", json!(["image.push"])), "credentials"),
        (refused("ftp://hooks.invalid/x", json!(["image.push"])), "scheme"),
    ] {
        let (status, v) = s.admin_as(Some(ADMIN_KEY), "CreateWebhook", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["__type"], "ValidationException", "{v}");
        assert!(v["message"].as_str().unwrap().contains(needle), "{needle}: {v}");
    }
    // Allowed with BERTH_WEBHOOKS_ALLOW_PRIVATE; events and secrets are still checked.
    let s = Server::start_env(&[("BERTH_WEBHOOKS_ALLOW_PRIVATE", "true")]);
    let ok = json!({"url": "http://127.0.0.1:9/hook", "events": ["image.push"], "secret": SECRET});
    s.admin("CreateWebhook", ok).await;
    for (body, needle) in [
        (json!({"url": "http://127.0.0.1:9/hook", "events": ["image.pushed"], "secret": SECRET}), "unknown event"),
        (json!({"url": "http://127.0.0.1:9/hook", "events": [], "secret": SECRET}), "at least one event"),
        (json!({"url": "http://127.0.0.1:9/hook", "events": ["image.push"], "secret": "short"}), "at least 16"),
        (
            json!({"url": "http://127.0.0.1:9/hook", "events": ["image.push"], "repositoryFilter": "Team A"}),
            "not allowed",
        ),
    ] {
        let (status, v) = s.admin_as(Some(ADMIN_KEY), "CreateWebhook", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert!(v["message"].as_str().unwrap().contains(needle), "{needle}: {v}");
    }
    // Without a secret, berth makes one and shows it once.
    let made = s.admin("CreateWebhook", json!({"url": "http://127.0.0.1:9/hook", "events": ["image.push"]})).await;
    assert!(made["secret"].as_str().unwrap().len() >= 32, "{made}");
    assert!(!s.admin("ListWebhooks", json!({})).await.to_string().contains(made["secret"].as_str().unwrap()));
}

#[tokio::test]
async fn a_failing_subscription_is_disabled_and_can_be_enabled_again() {
    let tmp = tempfile::tempdir().unwrap();
    let s = start(tmp.path(), "max_attempts = 2\ndisable_after = 2\n");
    let receiver = Receiver::start(500).await;
    // Created with the CLI, the secret on stdin.
    let mut cli = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["webhook", "create", "--url", &receiver.url(), "--events", "image.push", "--repository", "fail/*"])
        .arg("--secret-stdin")
        .env("BERTH_ENDPOINT", &s.base)
        .env("BERTH_ACCESS_KEY_ID", ADMIN_KEY.0)
        .env("BERTH_SECRET_ACCESS_KEY", ADMIN_KEY.1)
        .env("BERTH_CONFIG_DIR", tmp.path().join("no-cli-profile"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    cli.stdin.take().unwrap().write_all(format!("{SECRET}\n").as_bytes()).unwrap();
    let out = cli.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("webhook 1 created"), "{stdout}");
    assert!(!stdout.contains(SECRET));

    // Two deliveries fail after both their attempts: the subscription is disabled, saying why.
    s.push_image("fail/app", "a", &bytes(9, 100)).await;
    s.push_image("fail/app", "b", &bytes(10, 100)).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let hook = loop {
        let listed = s.admin("ListWebhooks", json!({})).await;
        if listed["webhooks"][0]["state"] == "DISABLED" {
            break listed["webhooks"][0].clone();
        }
        assert!(Instant::now() < deadline, "not disabled: {listed}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(hook["disabledReason"].as_str().unwrap().contains("2 deliveries in a row failed"), "{hook}");
    assert_eq!(hook["consecutiveFailures"], 2);
    assert_eq!(receiver.got().len(), 4, "two attempts for each of two deliveries");
    assert!(receiver.got().iter().all(|r| r.signed_with(SECRET)));
    let (code, out, _) = berth(&s, &["webhook", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("DISABLED") && out.contains("2 deliveries in a row failed"), "{out}");

    // Disabled: events are not sent.
    s.push_image("fail/app", "c", &bytes(11, 100)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(receiver.got().len(), 4);

    // Enabled again: the count starts over, and a test event goes through.
    let (code, out, _) = berth(&s, &["webhook", "enable", "1"]);
    assert_eq!(code, 0, "{out}");
    let listed = s.admin("ListWebhooks", json!({})).await;
    assert_eq!(listed["webhooks"][0]["state"], "ENABLED");
    assert_eq!(listed["webhooks"][0]["consecutiveFailures"], 0);
    assert!(listed["webhooks"][0].get("disabledReason").is_none(), "{listed}");
    receiver.answer(&[], 200);
    let (code, _, _) = berth(&s, &["webhook", "test", "1"]);
    assert_eq!(code, 0);
    let delivered = receiver.wait_for("the test event", |d| !d.is_empty()).await;
    let test = delivered[0].json();
    assert_eq!(test["type"], "io.berth.webhook.test");
    assert!(delivered[0].signed_with(SECRET));
    // Deleting removes it; its log goes with it.
    let (code, _, _) = berth(&s, &["webhook", "delete", "1"]);
    assert_eq!(code, 0);
    let (status, v) = s.admin_as(Some(ADMIN_KEY), "ListWebhookDeliveries", &json!({"webhookId": 1})).await;
    assert_eq!((status, v["__type"].as_str()), (StatusCode::NOT_FOUND, Some("NoSuchEntityException")), "{v}");
}
