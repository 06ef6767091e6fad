//! An attacker's view of the access decisions: each test reproduces a hole an attack review found (a
//! takeover through a catalog token, Denys that tokens ignored, public repositories that ignored Denys,
//! login passwords that outlived their users, failed-login limits outrun by concurrency, one client
//! stalling everyone's logins) and checks that it stays closed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

fn policy(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

const PULL: [&str; 4] =
    ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability", "ecr:ListImages"];

/// A user with a password, an access key and an identity policy; returns the key.
async fn user(s: &Server, name: &str, statements: Value) -> (String, String) {
    s.admin("CreateUser", json!({"userName": name, "password": format!("{name}-password")})).await;
    if statements != json!([]) {
        s.admin("PutPolicy", json!({"target": {"user": name}, "policyText": policy(statements)})).await;
    }
    let k = s.admin("CreateAccessKey", json!({"userName": name})).await;
    (k["accessKeyId"].as_str().unwrap().to_string(), k["secretAccessKey"].as_str().unwrap().to_string())
}

fn bearer(token: &str) -> Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("authorization", format!("Bearer {token}").parse().unwrap());
    Client::builder().redirect(reqwest::redirect::Policy::none()).default_headers(h).build().unwrap()
}

async fn token(s: &Server, client: &Client, scope: &str) -> String {
    let r = client.get(s.url(&format!("/token?service=berth&scope={scope}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
}

/// A POST to the admin API with an arbitrary `authorization` header.
async fn admin_with(s: &Server, authorization: &str, op: &str, body: Value) -> (StatusCode, Value) {
    let r = anonymous_client()
        .post(s.url(&format!("/admin/v1/{op}")))
        .header("authorization", authorization)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn open_registry_policy() -> Value {
    json!({"target": {"registry": true}, "policyText": json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "ecr:*"}]}).to_string()})
}

#[tokio::test]
async fn a_catalog_token_is_not_an_administrator() {
    let s = Server::start();
    let (_, layer_digest) = {
        let layer = b"private layer bytes";
        s.push_image("team/secret", "v1", layer).await;
        ((), berth_oci::Digest::sha256_of(layer))
    };
    user(&s, "bob", json!([{"Effect": "Allow", "Action": PULL, "Resource": "arn:aws:ecr:*:*:repository/team/*"}]))
        .await;
    let bob = client_as("bob", "bob-password");
    let catalog = token(&s, &bob, "registry:catalog:*").await;
    let robot = s
        .admin(
            "CreateRobotToken",
            json!({"name": "puller", "repositories": ["team/secret"], "actions": ["pull"], "expiresInSeconds": 600}),
        )
        .await;
    let robot_catalog = token(&s, &client_as("robot", robot["token"].as_str().unwrap()), "registry:catalog:*").await;

    for t in [&catalog, &robot_catalog] {
        let auth = format!("Bearer {t}");
        for (op, body) in [
            ("PutPolicy", open_registry_policy()),
            ("GetPolicy", json!({"target": {"registry": true}})),
            ("DeletePolicy", json!({"target": {"registry": true}})),
            ("SetRepositoryVisibility", json!({"repositoryName": "team/secret", "visibility": "public"})),
            ("CreateUser", json!({"userName": "mallory", "admin": true})),
        ] {
            let (status, v) = admin_with(&s, &auth, op, body).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{op} with a bearer token: {v}");
            assert_eq!(v["__type"], "InvalidSignatureException", "{op}: {v}");
        }
        // The ECR API refuses bearer tokens too.
        let r = anonymous_client()
            .post(s.url("/"))
            .header("authorization", &auth)
            .header("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.PutRegistryPolicy")
            .header("content-type", "application/x-amz-json-1.1")
            .body(json!({"policyText": "{}"}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        // On /v2 the catalog grant lists the catalog and allows nothing else.
        let c = bearer(t);
        assert_eq!(c.get(s.url("/v2/_catalog")).send().await.unwrap().status(), StatusCode::OK);
        let r = c.delete(s.url("/v2/team/secret/manifests/v1")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // Basic credentials are no admin credentials either (the admin API is SigV4 only).
    let (status, v) = admin_with(&s, &base64_basic("bob", "bob-password"), "GetPolicy", json!({})).await;
    assert_eq!((status, v["__type"].as_str()), (StatusCode::FORBIDDEN, Some("InvalidSignatureException")));
    // Nothing changed: no registry policy, the repository is private.
    assert_eq!(s.admin_as(Some(ADMIN_KEY), "GetPolicy", &json!({"target": {"registry": true}})).await.0, 404);
    let r = anonymous_client().get(s.url(&format!("/v2/team/secret/blobs/{layer_digest}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_deny_of_one_pull_action_holds_for_token_clients() {
    let s = Server::start();
    let layer = b"layer of team/app";
    s.push_image("team/app", "v1", layer).await;
    let blob = berth_oci::Digest::sha256_of(layer);
    let repo = "arn:aws:ecr:*:*:repository/team/*";
    user(
        &s,
        "carol",
        json!([
            {"Effect": "Allow", "Action": PULL, "Resource": repo},
            {"Effect": "Deny", "Action": ["ecr:GetDownloadUrlForLayer", "ecr:ListImages"], "Resource": repo},
        ]),
    )
    .await;
    let basic = client_as("carol", "carol-password");
    let with_token = bearer(&token(&s, &basic, "repository:team/app:pull").await);
    for c in [&basic, &with_token] {
        let get = |p: &str| c.get(s.url(p)).send();
        assert_eq!(get("/v2/team/app/manifests/v1").await.unwrap().status(), StatusCode::OK);
        assert!(get(&format!("/v2/team/app/blobs/{blob}")).await.unwrap().status().is_client_error());
        assert!(get("/v2/team/app/tags/list").await.unwrap().status().is_client_error());
    }
    // The token says what it carries: exactly the allowed ECR actions.
    let t = token(&s, &basic, "repository:team/app:pull,push").await;
    let claims = jwt_claims(&t);
    assert_eq!(claims["access"][0]["actions"], json!(["pull"]), "{claims}");
    assert_eq!(claims["access"][0]["ecr"], json!(["ecr:BatchGetImage", "ecr:BatchCheckLayerAvailability"]));
}

#[tokio::test]
async fn an_explicit_deny_wins_over_public_visibility() {
    let s = Server::start();
    s.push_image("pub/app", "v1", b"public layer").await;
    s.admin("SetRepositoryVisibility", json!({"repositoryName": "pub/app", "visibility": "public"})).await;
    let arn = "arn:aws:ecr:us-east-1:000000000000:repository/pub/app";
    // dave is denied by his own policy, erin by the repository's.
    user(&s, "dave", json!([{"Effect": "Deny", "Action": "ecr:*", "Resource": arn}])).await;
    user(&s, "erin", json!([])).await;
    let repo_policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "ecr:*",
        "Principal": {"AWS": "arn:aws:iam::000000000000:user/erin"}}]});
    s.admin("PutPolicy", json!({"target": {"repository": "pub/app"}, "policyText": repo_policy.to_string()})).await;
    for who in ["dave", "erin"] {
        let c = client_as(who, &format!("{who}-password"));
        let r = c.get(s.url("/v2/pub/app/manifests/v1")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{who} is denied although the repository is public");
        let t = token(&s, &c, "repository:pub/app:pull").await;
        let r = bearer(&t).get(s.url("/v2/pub/app/manifests/v1")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{who}'s token carries nothing");
    }
    let r = anonymous_client().get(s.url("/v2/pub/app/manifests/v1")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "anonymous pulls of a public repository stay allowed");
}

#[tokio::test]
async fn a_login_password_dies_with_its_user() {
    let s = Server::start();
    s.push_image("team/app", "v1", b"x").await;
    let allow =
        json!([{"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage"], "Resource": "*"}]);
    let key = user(&s, "frank", allow.clone()).await;
    let (status, v) = s.admin_as(Some((&key.0, &key.1)), "GetLoginPassword", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let aws = client_as("AWS", v["password"].as_str().unwrap());
    let pull = || aws.get(s.url("/v2/team/app/manifests/v1")).send();
    assert_eq!(pull().await.unwrap().status(), StatusCode::OK);
    s.admin("DeleteUser", json!({"userName": "frank"})).await;
    assert_eq!(pull().await.unwrap().status(), StatusCode::UNAUTHORIZED, "the user is gone");
    // A new user of the same name is someone else: the old password does not name them.
    user(&s, "frank", allow).await;
    assert_eq!(pull().await.unwrap().status(), StatusCode::UNAUTHORIZED, "a new frank is not the old one");
}

#[tokio::test]
async fn concurrent_guesses_cannot_outrun_the_failed_login_limit() {
    let s = Server::start();
    let from = |ip: &str| Client::builder().local_address(ip.parse::<std::net::IpAddr>().unwrap()).build().unwrap();
    let attacker = from("127.0.0.2");
    // As many at once as one address may hold connections (the server caps connections per address).
    const GUESSES: usize = 200;
    let guesses = (0..GUESSES).map(|i| {
        let (c, url) = (attacker.clone(), s.url("/v2/"));
        async move {
            c.get(url)
                .header("authorization", base64_basic("admin", &format!("guess-{i}")))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let unauthorized = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let limited = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(unauthorized + limited, GUESSES, "{statuses:?}");
    assert!(unauthorized <= 10, "at most the limit's worth of guesses are checked, not {unauthorized}");
    // The administrator elsewhere is not locked out.
    let r = from("127.0.0.3").get(s.url("/v2/")).header("authorization", base64_basic("admin", ADMIN_PASSWORD));
    assert_eq!(r.send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn a_burst_of_logins_from_one_address_does_not_stall_another() {
    let s = Server::start();
    s.admin("CreateUser", json!({"userName": "grace", "password": "grace-password"})).await;
    // 200 distinct unknown users, so no limit cuts the burst short: each costs a password hash.
    const BURST: usize = 200;
    let done = Arc::new(AtomicUsize::new(0));
    let attacker = Client::builder().local_address("127.0.0.4".parse::<std::net::IpAddr>().unwrap()).build().unwrap();
    let burst: Vec<_> = (0..BURST)
        .map(|i| {
            let (c, url, done) = (attacker.clone(), s.url("/v2/"), done.clone());
            tokio::spawn(async move {
                let auth = base64_basic(&format!("ghost-{i}"), "nope");
                let status = c.get(url).header("authorization", auth).send().await.unwrap().status();
                done.fetch_add(1, Ordering::SeqCst);
                status
            })
        })
        .collect();
    // Let the burst queue up, then grace signs in from elsewhere.
    while done.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let grace = Client::builder().local_address("127.0.0.5".parse::<std::net::IpAddr>().unwrap()).build().unwrap();
    let r = grace.get(s.url("/v2/")).header("authorization", base64_basic("grace", "grace-password"));
    assert_eq!(r.send().await.unwrap().status(), StatusCode::OK);
    let finished = done.load(Ordering::SeqCst);
    // Fair queueing: grace waited for the hashes already running, not for the burst (an ordering, not a time).
    assert!(finished < BURST / 2, "grace's login waited for {finished} of the burst's {BURST} checks");
    for b in burst {
        assert_eq!(b.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn managing_keys_does_not_reveal_which_exist() {
    let s = Server::start();
    user(&s, "heidi", json!([])).await;
    let own = "arn:aws:iam::000000000000:user/ivan";
    let ivan = user(&s, "ivan", json!([{"Effect": "Allow", "Action": "berth:UpdateAccessKey", "Resource": own}])).await;
    let heidis = s.admin("ListAccessKeys", json!({"userName": "heidi"})).await["accessKeys"][0]["accessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let as_ivan = Some((ivan.0.as_str(), ivan.1.as_str()));
    let mut answers = Vec::new();
    for id in [heidis.as_str(), "BKIADOESNOTEXIST0000"] {
        let (status, v) =
            s.admin_as(as_ivan, "UpdateAccessKey", &json!({"accessKeyId": id, "status": "Inactive"})).await;
        answers.push((status, v["__type"].clone()));
    }
    assert_eq!(answers[0], answers[1], "someone else's key and a missing key answer alike");
    assert_eq!(answers[0].0, StatusCode::FORBIDDEN);
    let (status, _) = s.admin_as(as_ivan, "UpdateAccessKey", &json!({"accessKeyId": ivan.0, "status": "Active"})).await;
    assert_eq!(status, StatusCode::OK, "his own key");
}

#[tokio::test]
async fn signatures_must_cover_the_operation_and_the_body() {
    let s = Server::start();
    let target = ("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories");
    let signed = s.signed_post(Some(ADMIN_KEY), "ecr", "/", &[target], &json!({})).await;
    assert_eq!(signed.status(), StatusCode::OK);
    // The operation header sent but not signed: another operation could be swapped in.
    let r = ecr_request(&s, false, |_| {}).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["__type"], "InvalidSignatureException", "{v}");
    assert!(v["message"].as_str().unwrap().contains("x-amz-target"), "{v}");
    // UNSIGNED-PAYLOAD: the body (the operation's input) would not be covered.
    let r = ecr_request(&s, true, |h| {
        h.retain(|(k, _)| k != "x-amz-content-sha256");
        h.push(("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()));
    })
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let v: Value = r.json().await.unwrap();
    assert!(v["message"].as_str().unwrap().contains("UNSIGNED-PAYLOAD"), "{v}");
}

/// A signed `DescribeRepositories` whose `x-amz-target` is signed or only sent, with the signed headers
/// changed by `mutate` before sending.
async fn ecr_request(
    s: &Server,
    sign_target: bool,
    mutate: impl FnOnce(&mut Vec<(String, String)>),
) -> reqwest::Response {
    let target = ("x-amz-target".to_string(), "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories".to_string());
    let payload = b"{}".to_vec();
    let mut headers = vec![
        ("host".to_string(), s.base.trim_start_matches("http://").to_string()),
        ("content-type".to_string(), "application/x-amz-json-1.1".to_string()),
    ];
    if sign_target {
        headers.push(target.clone());
    }
    let secret = berth_auth::secret::Secret::new(ADMIN_KEY.1);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let params = berth_auth::sigv4::SigningParams {
        access_key_id: ADMIN_KEY.0,
        secret: &secret,
        region: "us-east-1",
        service: "ecr",
        now_unix: now,
    };
    berth_auth::sigv4::sign("POST", "/", "", &mut headers, &payload, &params).unwrap();
    mutate(&mut headers);
    if !sign_target {
        headers.push(target);
    }
    let mut r = anonymous_client().post(s.url("/")).body(payload);
    for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
        r = r.header(k, v);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn an_oversized_token_request_is_413() {
    let s = Server::start();
    let r = anonymous_client()
        .post(s.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 200 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(r).await, "SIZE_INVALID");
}

#[tokio::test]
async fn a_client_opening_many_connections_at_once_is_not_a_guesser() {
    let s = Server::start();
    s.admin("CreateUser", json!({"userName": "judy", "password": "judy-password"})).await;
    // 64 requests with the same (valid, not yet verified) credentials at once: one check, no lockout.
    let c = client_as("judy", "judy-password");
    let all = (0..64).map(|_| {
        let (c, url) = (c.clone(), s.url("/v2/"));
        async move { c.get(url).send().await.unwrap().status() }
    });
    let statuses = futures_util::future::join_all(all).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
}
