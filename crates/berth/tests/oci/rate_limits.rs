//! Rate limits (`[rate_limits]`, `BERTH_RATE_LIMIT_*`) as Docker Hub users and attackers meet them: manifest
//! pulls per principal and per anonymous address, with Docker Hub's `RateLimit-*` headers; `HEAD` not
//! counted; 429 `TOOMANYREQUESTS` with `Retry-After` on `/v2` and `/token`, `ThrottlingException` on the ECR
//! API; administrators never limited; a new window starts over; two nodes over one PostgreSQL database
//! enforce one total within the documented bound.
//!
//! Each server runs on a test clock (`BERTH_TEST_CLOCK_FILE`) set 10 s into a day, so into a window of each
//! length the tests use, and no test straddles a window's end unless it moves the clock there.

use std::net::IpAddr;
use std::path::PathBuf;

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

/// The registry's clock: the system time plus an offset kept in a file the server re-reads.
pub(crate) struct TestClock {
    file: PathBuf,
    offset: i64,
    _dir: tempfile::TempDir,
}

impl TestClock {
    /// 10 s into the next day (so into a window of every length that divides a day: 1m, 1h, 6h).
    pub(crate) fn new() -> TestClock {
        let dir = tempfile::tempdir().unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let next_day = now - now % 86_400 + 86_400;
        let clock = TestClock { file: dir.path().join("clock"), offset: next_day + 10 - now, _dir: dir };
        clock.write();
        clock
    }

    fn write(&self) {
        std::fs::write(&self.file, self.offset.to_string()).unwrap();
    }

    pub(crate) fn advance(&mut self, seconds: i64) {
        self.offset += seconds;
        self.write();
    }

    /// The registry's time now.
    pub(crate) fn now(&self) -> i64 {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        now + self.offset
    }

    pub(crate) fn path(&self) -> &str {
        self.file.to_str().unwrap()
    }
}

const PULL: [&str; 4] =
    ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability", "ecr:ListImages"];

/// A user allowed to pull `rl/*`, with an access key (returned).
async fn puller(s: &Server, name: &str) -> (String, String) {
    s.admin("CreateUser", json!({"userName": name, "password": format!("{name}-password")})).await;
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": PULL, "Resource": "arn:aws:ecr:*:*:repository/rl/*"}]});
    s.admin("PutPolicy", json!({"target": {"user": name}, "policyText": doc.to_string()})).await;
    let k = s.admin("CreateAccessKey", json!({"userName": name})).await;
    (k["accessKeyId"].as_str().unwrap().to_string(), k["secretAccessKey"].as_str().unwrap().to_string())
}

fn user(name: &str) -> Client {
    client_as(name, &format!("{name}-password"))
}

async fn get(c: &Client, s: &Server, path: &str) -> Response {
    c.get(s.url(path)).send().await.unwrap()
}

/// `(limit, remaining)` of the `RateLimit-*` headers, `None` without them.
fn quota(r: &Response) -> Option<(String, String)> {
    let h = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_string());
    match (h("ratelimit-limit"), h("ratelimit-remaining")) {
        (Some(l), Some(m)) => Some((l, m)),
        (None, None) => None,
        other => panic!("one RateLimit header without the other: {other:?}"),
    }
}

/// A 429 `TOOMANYREQUESTS` in the OCI error format with `Retry-After` (the seconds to the window's end, the
/// window having begun 10 s before the test's clock started, so close to its length); returns the message.
async fn too_many(r: Response, window: u64) -> String {
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = header(&r, "retry-after").parse().unwrap();
    assert!(retry > window.saturating_sub(300) && retry <= window, "Retry-After {retry} for a {window} s window");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "TOOMANYREQUESTS", "{body}");
    body["errors"][0]["message"].as_str().unwrap().to_string()
}

async fn scrape(s: &Server) -> String {
    let r = s.get("/metrics").await;
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.unwrap()
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

#[tokio::test]
async fn manifest_pulls_per_principal_like_docker_hub() {
    let mut clock = TestClock::new();
    let s = Server::start_env(&[("BERTH_TEST_CLOCK_FILE", clock.path()), ("BERTH_RATE_LIMIT_MANIFEST_PULLS", "3/1h")]);
    let layer = bytes(7, 1000);
    let (_, digest) = s.push_image("rl/app", "v1", &layer).await;
    let layer_digest = berth_oci::Digest::sha256_of(&layer);
    puller(&s, "alice").await;
    puller(&s, "bob").await;
    let (alice, bob) = (user("alice"), user("bob"));
    let manifest = "/v2/rl/app/manifests/v1";
    let limit = Some(("3;w=3600".to_string(), "3;w=3600".to_string()));

    // HEAD is not a pull: it only says what is left.
    for _ in 0..3 {
        let r = alice.head(s.url(manifest)).send().await.unwrap();
        assert_eq!((r.status(), quota(&r)), (StatusCode::OK, limit.clone()));
    }
    let mut left = Vec::new();
    for _ in 0..3 {
        let r = get(&alice, &s, manifest).await;
        assert_eq!(r.status(), StatusCode::OK);
        let (l, m) = quota(&r).expect("a limited principal's manifest response carries the headers");
        assert_eq!(l, "3;w=3600");
        left.push(m);
    }
    assert_eq!(left, ["2;w=3600", "1;w=3600", "0;w=3600"]);
    let r = alice.head(s.url(manifest)).send().await.unwrap();
    assert_eq!((r.status(), quota(&r).unwrap().1), (StatusCode::OK, "0;w=3600".to_string()), "HEAD still answers");

    // The fourth pull: 429 with Retry-After, the headers at 0 and a message naming the limit.
    let r = get(&alice, &s, manifest).await;
    assert_eq!(quota(&r).unwrap().1, "0;w=3600");
    let message = too_many(r, 3600).await;
    assert!(message.contains("pull rate limit") && message.contains("3 manifest pulls per 1h"), "{message}");
    assert!(message.contains("user/alice"), "names whose limit: {message}");
    // By digest, by another credential of the same user, or through a registry token (docker's way): still alice.
    let r = get(&alice, &s, &format!("/v2/rl/app/manifests/{digest}")).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let token: Value = get(&alice, &s, "/token?service=berth&scope=repository:rl/app:pull").await.json().await.unwrap();
    let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
    let r = anonymous_client().get(s.url(manifest)).header("authorization", &bearer).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "a token counts as its user");
    // Layers are not manifest pulls.
    let r = get(&alice, &s, &format!("/v2/rl/app/blobs/{layer_digest}")).await;
    assert_eq!(r.status(), StatusCode::OK);

    // Another user is counted apart; the administrator is never limited and gets no headers.
    let r = get(&bob, &s, manifest).await;
    assert_eq!((r.status(), quota(&r).unwrap().1), (StatusCode::OK, "2;w=3600".to_string()));
    for _ in 0..6 {
        let r = s.get(manifest).await;
        assert_eq!((r.status(), quota(&r)), (StatusCode::OK, None), "the administrator");
    }
    let text = scrape(&s).await;
    assert_eq!(metric(&text, "berth_rate_limited_total{limit=\"manifest_pulls\"}"), 3.0, "three refusals");

    // The next window starts over.
    clock.advance(3600);
    let r = get(&alice, &s, manifest).await;
    assert_eq!((r.status(), quota(&r).unwrap().1), (StatusCode::OK, "2;w=3600".to_string()));
}

#[tokio::test]
async fn anonymous_pulls_are_limited_per_address_and_only_after_the_access_decision() {
    let clock = TestClock::new();
    let s = Server::start_env(&[
        ("BERTH_TEST_CLOCK_FILE", clock.path()),
        ("BERTH_RATE_LIMIT_ANONYMOUS_MANIFEST_PULLS", "2/6h"),
    ]);
    s.push_image("rl/public", "v1", b"public layer").await;
    s.push_image("rl/private", "v1", b"private layer").await;
    s.admin("SetRepositoryVisibility", json!({"repositoryName": "rl/public", "visibility": "public"})).await;
    puller(&s, "alice").await;
    let (anon, other) =
        (anonymous_client(), Client::builder().local_address(IpAddr::from([127, 0, 0, 2])).build().unwrap());
    let public = "/v2/rl/public/manifests/v1";
    let window = 6 * 3600;

    // Anonymous on a private repository: 401, however often: refusals count for nothing.
    for _ in 0..5 {
        assert_eq!(get(&anon, &s, "/v2/rl/private/manifests/v1").await.status(), StatusCode::UNAUTHORIZED);
    }
    let r = get(&anon, &s, public).await;
    assert_eq!((r.status(), quota(&r).unwrap()), (StatusCode::OK, ("2;w=21600".into(), "1;w=21600".into())));
    // docker pulls anonymously with a token from /token: the same address, the same quota.
    let token: Value =
        get(&anon, &s, "/token?service=berth&scope=repository:rl/public:pull").await.json().await.unwrap();
    let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
    let r = anon.get(s.url(public)).header("authorization", &bearer).send().await.unwrap();
    assert_eq!((r.status(), quota(&r).unwrap().1), (StatusCode::OK, "0;w=21600".into()));
    let r = anon.get(s.url(public)).header("authorization", &bearer).send().await.unwrap();
    let message = too_many(r, window).await;
    assert!(message.contains("ip:127.0.0.1") && message.contains("2 manifest pulls per 6h"), "{message}");
    let retry = get(&anon, &s, public).await;
    assert_eq!(retry.status(), StatusCode::TOO_MANY_REQUESTS);
    // Still 401 (not 429) where access is refused: the limit is decided only after the access decision.
    assert_eq!(get(&anon, &s, "/v2/rl/private/manifests/v1").await.status(), StatusCode::UNAUTHORIZED);

    // Another address has its own quota; an authenticated user has none here (only anonymous pulls are limited).
    let r = get(&other, &s, public).await;
    assert_eq!((r.status(), quota(&r).unwrap().1), (StatusCode::OK, "1;w=21600".into()), "127.0.0.2");
    for _ in 0..4 {
        let r = get(&user("alice"), &s, public).await;
        assert_eq!((r.status(), quota(&r)), (StatusCode::OK, None));
    }
    let text = scrape(&s).await;
    assert_eq!(metric(&text, "berth_rate_limited_total{limit=\"anonymous_manifest_pulls\"}"), 2.0);
}

#[tokio::test]
async fn requests_over_the_limit_are_throttling_on_the_ecr_api_and_429_elsewhere() {
    let clock = TestClock::new();
    let s = Server::start_env(&[("BERTH_TEST_CLOCK_FILE", clock.path()), ("BERTH_RATE_LIMIT_REQUESTS", "5/1h")]);
    s.push_image("rl/app", "v1", b"layer").await;
    let (id, secret) = puller(&s, "ci").await;
    let (bob_id, bob_secret) = puller(&s, "bob").await;
    let target = ("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.BatchGetImage");
    let body = json!({"repositoryName": "rl/app", "imageIds": [{"imageTag": "v1"}]});
    let batch_get = |key: (&str, &str)| {
        let (s, body) = (&s, &body);
        let key = (key.0.to_string(), key.1.to_string());
        async move { s.signed_post(Some((&key.0, &key.1)), "ecr", "/", &[target], body).await }
    };
    for i in 0..5 {
        let r = batch_get((&id, &secret)).await;
        assert_eq!(r.status(), StatusCode::OK, "request {i}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["images"].as_array().unwrap().len(), 1);
    }
    let r = batch_get((&id, &secret)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["__type"], "ThrottlingException", "{v}");
    let message = v["message"].as_str().unwrap();
    assert!(message.contains("5 requests per 1h") && message.contains("user/ci"), "{message}");

    // One quota for every surface: /v2 and /token answer 429 too; the console shows a 429 page.
    let r = get(&user("ci"), &s, "/v2/rl/app/tags/list").await;
    assert!(too_many(r, 3600).await.contains("request rate limit"));
    let r = get(&user("ci"), &s, "/token?service=berth&scope=repository:rl/app:pull").await;
    too_many(r, 3600).await;
    // Wrong credentials are still refused as such (401), not throttled: authentication comes first.
    assert_eq!(get(&client_as("ci", "wrong"), &s, "/v2/rl/app/tags/list").await.status(), StatusCode::UNAUTHORIZED);

    // Others are unaffected; the administrator is never limited.
    assert_eq!(batch_get((&bob_id, &bob_secret)).await.status(), StatusCode::OK);
    for _ in 0..10 {
        assert_eq!(batch_get(ADMIN_KEY).await.status(), StatusCode::OK);
    }
    let text = scrape(&s).await;
    assert_eq!(metric(&text, "berth_rate_limited_total{limit=\"requests\"}"), 3.0);
}

/// Two nodes over one PostgreSQL database: pulls spread over both, concurrently, are held to one total, at
/// most one slack (a tenth of the limit) over it — the README's bound `(N - 1) × slack` for N = 2.
#[tokio::test]
async fn two_nodes_enforce_one_total_within_the_bound() {
    use base64::Engine as _;
    use berth_meta::pg_harness::PgServer;
    let pg = PgServer::start().unwrap_or_else(|e| panic!("cannot start a test PostgreSQL server: {e}"));
    let url = pg.create_database().unwrap();
    let clock = TestClock::new();
    let master = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    let tmp = tempfile::tempdir().unwrap();
    let env = [
        ("BERTH_METADATA_URL", url.as_str()),
        ("BERTH_MASTER_KEY", master.as_str()),
        ("BERTH_TEST_CLOCK_FILE", clock.path()),
        ("BERTH_RATE_LIMIT_MANIFEST_PULLS", "20/1h"),
    ];
    let a = Server::start_with(&tmp.path().join("a"), &env);
    let b = Server::start_with(&tmp.path().join("b"), &env);
    // Manifests live in the database: either node serves them.
    a.push_image("rl/app", "v1", b"layer").await;
    puller(&a, "alice").await;
    let alice = user("alice");
    let manifest = "/v2/rl/app/manifests/v1";
    assert_eq!(get(&alice, &b, manifest).await.status(), StatusCode::OK, "node b serves it");

    // 60 pulls, 6 at a time, alternating between the nodes.
    let mut admitted = 1;
    for _ in 0..10 {
        let batch = (0..6).map(|i| {
            let node = if i % 2 == 0 { &a } else { &b };
            get(&alice, node, manifest)
        });
        for r in futures_util::future::join_all(batch).await {
            match r.status() {
                StatusCode::OK => admitted += 1,
                StatusCode::TOO_MANY_REQUESTS => {}
                other => panic!("{other}"),
            }
        }
    }
    assert!((20..=22).contains(&admitted), "{admitted} pulls admitted by two nodes for a limit of 20 (bound 22)");
    // Once each node has reported (every second), both know the total.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    for node in [&a, &b] {
        assert_eq!(get(&alice, node, manifest).await.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    use berth_meta::ratelimits::{RateCount, RateLimitStore};
    let store = berth_meta::PgMeta::connect(&url).await.unwrap();
    let window_start = clock.now() - clock.now() % 3600;
    let read = RateCount {
        limit: "manifest_pulls".into(),
        subject: "arn:aws:iam::000000000000:user/alice".into(),
        window_start,
        window_end: window_start + 3600,
        delta: 0,
    };
    let total = store.add_rate_counts(&[read]).await.unwrap();
    assert_eq!(total, [admitted], "the store holds every admitted pull once");
}
