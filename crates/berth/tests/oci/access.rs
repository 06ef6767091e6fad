//! Identity and access control, black-box: a permission matrix of principals × actions × repositories
//! (every cell asserted), the token flow, robot tokens, bad tokens, rate limiting and the admin API.

use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

async fn admin_api(s: &Server, key: Option<(&str, &str)>, op: &str, body: Value) -> (StatusCode, Value) {
    s.admin_as(key, op, &body).await
}

async fn ok(s: &Server, op: &str, body: Value) -> Value {
    s.admin(op, body).await
}

/// A new access key of `user`, made by the administrator.
async fn key_of(s: &Server, user: &str) -> (String, String) {
    let k = ok(s, "CreateAccessKey", json!({"userName": user})).await;
    (k["accessKeyId"].as_str().unwrap().to_string(), k["secretAccessKey"].as_str().unwrap().to_string())
}

fn allow(actions: &[&str], resources: &[&str]) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}]})
        .to_string()
}

const REPOS: [&str; 4] = ["team/private", "pub/app", "team/shared", "ci/build"];

/// Users, groups, policies and images of the matrix.
async fn setup(s: &Server) -> Vec<u8> {
    for u in ["alice", "bob", "carol", "dave"] {
        ok(s, "CreateUser", json!({"userName": u, "password": format!("{u}-password")})).await;
    }
    let team = "arn:aws:ecr:*:*:repository/team/*";
    ok(s, "PutPolicy", json!({"target": {"user": "alice"}, "policyText": allow(&["ecr:*"], &[team])})).await;
    let pull = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability", "ecr:ListImages"];
    ok(s, "PutPolicy", json!({"target": {"user": "bob"}, "policyText": allow(&pull, &[team])})).await;
    ok(s, "CreateGroup", json!({"groupName": "ci"})).await;
    ok(s, "AddUserToGroup", json!({"groupName": "ci", "userName": "carol"})).await;
    let ci = "arn:aws:ecr:*:*:repository/ci/*";
    ok(s, "PutPolicy", json!({"target": {"group": "ci"}, "policyText": allow(&["ecr:*"], &[ci])})).await;

    let mut body = Vec::new();
    for repo in REPOS {
        body = s.push_image(repo, "v1", repo.as_bytes()).await.0;
    }
    ok(s, "SetRepositoryVisibility", json!({"repositoryName": "pub/app", "visibility": "public"})).await;
    let shared = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "DaveReads", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/dave"},
         "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:ListImages"]},
        {"Sid": "NeverBob", "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::000000000000:user/bob"}, "Action": "ecr:*"}
    ]});
    ok(s, "PutPolicy", json!({"target": {"repository": "team/shared"}, "policyText": shared.to_string()})).await;
    body
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Pull,
    Push,
    Delete,
    List,
}

/// Performs `op` on `repo` and returns the status. Push re-pushes a manifest under a new tag; delete removes a
/// tag the admin put there first.
async fn perform(s: &Server, client: &Client, op: Op, repo: &str, manifest: &[u8]) -> StatusCode {
    match op {
        Op::Pull => client.get(s.url(&format!("/v2/{repo}/manifests/v1"))).send().await.unwrap().status(),
        Op::List => client.get(s.url(&format!("/v2/{repo}/tags/list"))).send().await.unwrap().status(),
        Op::Push => {
            let body = s.get(&format!("/v2/{repo}/manifests/v1")).await.bytes().await.unwrap();
            client
                .put(s.url(&format!("/v2/{repo}/manifests/pushed")))
                .header("content-type", OCI_MANIFEST)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        }
        Op::Delete => {
            let body = s.get(&format!("/v2/{repo}/manifests/v1")).await.bytes().await.unwrap();
            let _ = manifest;
            assert_eq!(s.put_manifest(repo, "doomed", OCI_MANIFEST, &body).await.status(), StatusCode::CREATED);
            client.delete(s.url(&format!("/v2/{repo}/manifests/doomed"))).send().await.unwrap().status()
        }
    }
}

fn expected_status(allowed: bool, op: Op, anonymous: bool) -> StatusCode {
    match (allowed, op) {
        (true, Op::Pull | Op::List) => StatusCode::OK,
        (true, Op::Push) => StatusCode::CREATED,
        (true, Op::Delete) => StatusCode::ACCEPTED,
        (false, _) if anonymous => StatusCode::UNAUTHORIZED,
        (false, _) => StatusCode::FORBIDDEN,
    }
}

#[tokio::test]
async fn permission_matrix() {
    let s = Server::start();
    let manifest = setup(&s).await;
    // A robot token of alice's that may only pull team/private, and one that has expired.
    let robot = ok(
        &s,
        "CreateRobotToken",
        json!({"name": "puller", "repositories": ["team/private"], "actions": ["pull"], "expiresInSeconds": 3600}),
    )
    .await;
    let alice_key = key_of(&s, "alice").await;
    let alice_key = Some((alice_key.0.as_str(), alice_key.1.as_str()));
    let (status, v) = admin_api(
        &s,
        alice_key,
        "CreateRobotToken",
        json!({"name": "ci", "repositories": ["team/private"], "actions": ["pull"], "expiresInSeconds": 3600}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "alice may not create robot tokens: {v}");
    let robot_token = robot["token"].as_str().unwrap().to_string();
    let short = ok(
        &s,
        "CreateRobotToken",
        json!({"name": "short", "repositories": ["team/private"], "actions": ["pull"], "expiresInSeconds": 1}),
    )
    .await;
    let expired_token = short["token"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(2100)).await;

    // Robot tokens created by admin act for admin but are limited by their scope.
    let principals: Vec<(&str, Client, bool)> = vec![
        ("admin", client_as("admin", ADMIN_PASSWORD), false),
        ("alice", client_as("alice", "alice-password"), false),
        ("bob", client_as("bob", "bob-password"), false),
        ("carol", client_as("carol", "carol-password"), false),
        ("dave", client_as("dave", "dave-password"), false),
        ("robot", client_as("robot", &robot_token), false),
        ("expired-robot", client_as("robot", &expired_token), true),
        ("anonymous", anonymous_client(), true),
    ];
    // (principal, repo) -> which of pull, push, delete, list are allowed.
    let allowed = |who: &str, repo: &str| -> [bool; 4] {
        let public = repo == "pub/app";
        match (who, repo) {
            ("admin", _) => [true; 4],
            ("alice", "team/private" | "team/shared") => [true; 4],
            ("bob", "team/private") => [true, false, false, true],
            ("bob", "team/shared") => [false; 4], // the repository policy's Deny beats bob's own Allow
            ("carol", "ci/build") => [true; 4],
            ("dave", "team/shared") => [true, false, false, true],
            ("robot", "team/private") => [true, false, false, true],
            ("expired-robot", _) => [false; 4], // bad credentials are refused even where anonymous may pull
            (_, _) if public => [true, false, false, true],
            _ => [false; 4],
        }
    };
    let mut checked = 0;
    for (who, client, anonymous) in &principals {
        for repo in REPOS {
            let want = allowed(who, repo);
            for (i, op) in [Op::Pull, Op::Push, Op::Delete, Op::List].into_iter().enumerate() {
                // Each use of bad credentials counts towards the login rate limit; a few cells show the rule.
                if *who == "expired-robot" && !matches!(op, Op::Pull) {
                    continue;
                }
                let got = perform(&s, client, op, repo, &manifest).await;
                let expected = if *who == "expired-robot" {
                    StatusCode::UNAUTHORIZED
                } else {
                    expected_status(want[i], op, *anonymous)
                };
                assert_eq!(got, expected, "{who} {op:?} {repo}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 7 * 4 * 4 + 4);

    // Catalog: each caller sees only what it may see.
    let url = s.url("/v2/_catalog");
    let catalog = |c: Client| {
        let url = url.clone();
        async move { c.get(url).send().await.unwrap().json::<Value>().await.unwrap()["repositories"].clone() }
    };
    assert_eq!(
        catalog(client_as("admin", ADMIN_PASSWORD)).await,
        json!(["ci/build", "pub/app", "team/private", "team/shared"])
    );
    assert_eq!(catalog(client_as("alice", "alice-password")).await, json!(["pub/app", "team/private", "team/shared"]));
    assert_eq!(catalog(client_as("bob", "bob-password")).await, json!(["pub/app", "team/private"]));
    assert_eq!(catalog(client_as("dave", "dave-password")).await, json!(["pub/app", "team/shared"]));
    assert_eq!(catalog(anonymous_client()).await, json!(["pub/app"]));

    // Admin actions: only the administrator (or a user a policy allows) may manage users.
    let (status, v) = admin_api(&s, alice_key, "CreateUser", json!({"userName": "mallory"})).await;
    assert_eq!((status, v["__type"].as_str()), (StatusCode::FORBIDDEN, Some("AccessDeniedException")));
    let (status, v) = admin_api(&s, None, "CreateUser", json!({"userName": "mallory"})).await;
    assert_eq!((status, v["__type"].as_str()), (StatusCode::FORBIDDEN, Some("MissingAuthenticationTokenException")));
    ok(&s, "CreateUser", json!({"userName": "erin"})).await;
}

#[tokio::test]
async fn deny_wins_and_conditions_apply() {
    let s = Server::start();
    setup(&s).await;
    // An explicit Deny in alice's own policy beats her Allow.
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:*", "Resource": "arn:aws:ecr:*:*:repository/team/*"},
        {"Effect": "Deny", "Action": "ecr:PutImage", "Resource": "*"}]});
    ok(&s, "PutPolicy", json!({"target": {"user": "alice"}, "policyText": doc.to_string()})).await;
    let alice = client_as("alice", "alice-password");
    assert_eq!(perform(&s, &alice, Op::Push, "team/private", &[]).await, StatusCode::FORBIDDEN);
    assert_eq!(perform(&s, &alice, Op::Pull, "team/private", &[]).await, StatusCode::OK);
    // A condition on the source address: allowed from loopback only.
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:*", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]});
    ok(&s, "PutPolicy", json!({"target": {"user": "dave"}, "policyText": doc.to_string()})).await;
    let dave = client_as("dave", "dave-password");
    assert_eq!(perform(&s, &dave, Op::Pull, "team/private", &[]).await, StatusCode::FORBIDDEN);
    let doc = doc.to_string().replace("10.0.0.0/8", "127.0.0.0/8");
    ok(&s, "PutPolicy", json!({"target": {"user": "dave"}, "policyText": doc})).await;
    // Policies are cached for a moment; wait it out.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(perform(&s, &dave, Op::Pull, "team/private", &[]).await, StatusCode::OK);
}

#[tokio::test]
async fn malformed_policies_are_rejected_with_the_problem_named() {
    let s = Server::start();
    ok(&s, "CreateUser", json!({"userName": "alice"})).await;
    let cases = [
        (r#"{"Version":"2012-10-17","Statement":[{"Effect":"allow","Action":"ecr:*","Resource":"*"}]}"#, "Effect"),
        (r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}"#, "Action"),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*","Principal":"*"}]}"#,
            "Principal",
        ),
        ("not json", ""),
    ];
    for (doc, names) in cases {
        let (status, v) =
            admin_api(&s, Some(ADMIN_KEY), "PutPolicy", json!({"target": {"user": "alice"}, "policyText": doc})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{doc}");
        assert_eq!(v["__type"], json!("MalformedPolicyDocumentException"));
        assert!(v["message"].as_str().unwrap().contains(names), "{doc}: {v}");
    }
    // A repository policy needs a Principal.
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*"}]}"#;
    let (status, _) =
        admin_api(&s, Some(ADMIN_KEY), "PutPolicy", json!({"target": {"repository": "x"}, "policyText": doc})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn docker_token_flow() {
    let s = Server::start();
    setup(&s).await;
    let anon = anonymous_client();
    // /v2/ challenges anonymous callers towards the token endpoint.
    let r = anon.get(s.url("/v2/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let challenge = header(&r, "www-authenticate");
    assert!(
        challenge.starts_with("Bearer realm=\"http://") && challenge.contains("/token\",service=\"berth\""),
        "{challenge}"
    );
    let r = anon.get(s.url("/v2/team/private/manifests/v1")).send().await.unwrap();
    assert!(header(&r, "www-authenticate").contains("scope=\"repository:team/private:pull\""));

    // bob asks for pull and push; policy grants only pull.
    let bob = client_as("bob", "bob-password");
    let r = bob.get(s.url("/token?service=berth&scope=repository:team/private:pull,push")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_string();
    assert_eq!(body["access_token"], body["token"]);
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    let bearer = |t: &str| {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("authorization", format!("Bearer {t}").parse().unwrap());
        Client::builder().default_headers(h).build().unwrap()
    };
    let with_token = bearer(&token);
    assert_eq!(perform(&s, &with_token, Op::Pull, "team/private", &[]).await, StatusCode::OK);
    let r = with_token
        .put(s.url("/v2/team/private/manifests/x"))
        .header("content-type", OCI_MANIFEST)
        .body(s.get("/v2/team/private/manifests/v1").await.bytes().await.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the token does not carry push");
    assert!(header(&r, "www-authenticate").contains("insufficient_scope"));
    // The token is scoped to its repository.
    assert_eq!(perform(&s, &with_token, Op::Pull, "team/shared", &[]).await, StatusCode::UNAUTHORIZED);

    // Tampered and foreign tokens are refused.
    let mut tampered = token.clone();
    let mid = tampered.len() / 2;
    let c = if &tampered[mid..mid + 1] == "A" { "B" } else { "A" };
    tampered.replace_range(mid..mid + 1, c);
    assert_eq!(perform(&s, &bearer(&tampered), Op::Pull, "team/private", &[]).await, StatusCode::UNAUTHORIZED);
    let other = Server::start();
    let r = other.http.get(other.url("/token?service=berth&scope=repository:team/private:pull")).send().await.unwrap();
    let foreign = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    assert_eq!(perform(&s, &bearer(&foreign), Op::Pull, "team/private", &[]).await, StatusCode::UNAUTHORIZED);

    // Anonymous tokens: public pulls only.
    let r = anon
        .get(s.url("/token?service=berth&scope=repository:pub/app:pull&scope=repository:team/private:pull"))
        .send()
        .await
        .unwrap();
    let anon_token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    assert_eq!(perform(&s, &bearer(&anon_token), Op::Pull, "pub/app", &[]).await, StatusCode::OK);
    assert_eq!(perform(&s, &bearer(&anon_token), Op::Pull, "team/private", &[]).await, StatusCode::UNAUTHORIZED);

    // Wrong credentials at the token endpoint.
    let r = client_as("bob", "wrong").get(s.url("/token?service=berth")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_passwords_and_access_keys() {
    let s = Server::start();
    setup(&s).await;
    // A key for bob, created by the admin; bob signs in with it.
    let key = ok(&s, "CreateAccessKey", json!({"userName": "bob"})).await;
    let (id, secret) = (key["accessKeyId"].as_str().unwrap(), key["secretAccessKey"].as_str().unwrap());
    let bob_key = client_as(id, secret);
    assert_eq!(perform(&s, &bob_key, Op::Pull, "team/private", &[]).await, StatusCode::OK);
    // Login passwords need ecr:GetAuthorizationToken.
    let signed = Some((id, secret));
    let (status, _) = admin_api(&s, signed, "GetLoginPassword", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let doc = allow(&["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], &["*"]);
    ok(&s, "PutPolicy", json!({"target": {"user": "bob"}, "policyText": doc})).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, v) = admin_api(&s, signed, "GetLoginPassword", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let password = v["password"].as_str().unwrap();
    assert!(!password.contains(':'));
    let aws = client_as("AWS", password);
    assert_eq!(perform(&s, &aws, Op::Pull, "team/private", &[]).await, StatusCode::OK);
    // A deactivated key stops working at once.
    ok(&s, "UpdateAccessKey", json!({"accessKeyId": id, "status": "Inactive"})).await;
    assert_eq!(perform(&s, &bob_key, Op::Pull, "team/private", &[]).await, StatusCode::UNAUTHORIZED);
    // The audit log saw the denial and the changes.
    let events = ok(&s, "ListAuditEvents", json!({"limit": 1000})).await;
    let events = events["events"].as_array().unwrap();
    assert!(events.iter().any(|e| e["outcome"] == "denied"), "{events:?}");
    assert!(events.iter().any(|e| e["action"] == "berth:UpdateAccessKey" && e["outcome"] == "allowed"));
    assert!(events.iter().any(|e| e["outcome"] == "auth-failed"));
    let text = serde_json::to_string(events).unwrap();
    assert!(!text.contains(secret) && !text.contains(password), "no secret in the audit log");
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_address() {
    let s = Server::start();
    ok(&s, "CreateUser", json!({"userName": "alice", "password": "alice-password"})).await;
    let from = |ip: &str| {
        let mut h = reqwest::header::HeaderMap::new();
        let wrong = base64_basic("alice", "wrong-password");
        h.insert("authorization", wrong.parse().unwrap());
        Client::builder().local_address(ip.parse::<std::net::IpAddr>().unwrap()).default_headers(h).build().unwrap()
    };
    let attacker = from("127.0.0.2");
    let mut limited = false;
    for _ in 0..15 {
        let r = attacker.get(s.url("/v2/")).send().await.unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers().contains_key("retry-after"));
            assert_eq!(error_code(r).await, "TOOMANYREQUESTS");
            limited = true;
            break;
        }
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(limited, "repeated failures are slowed down");
    // alice from her own address is not locked out.
    let alice = Client::builder().local_address("127.0.0.3".parse::<std::net::IpAddr>().unwrap()).build().unwrap();
    let r =
        alice.get(s.url("/v2/")).header("authorization", base64_basic("alice", "alice-password")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn oversized_headers_are_refused_cleanly() {
    let s = Server::start();
    let big = "x".repeat(200 * 1024);
    let r = anonymous_client().get(s.url("/v2/")).header("authorization", format!("Bearer {big}")).send().await;
    // The server may also just close the connection.
    if let Ok(r) = r {
        assert!(r.status().is_client_error(), "{}", r.status());
    }
    assert_eq!(s.get("/v2/").await.status(), StatusCode::OK, "the server is still up");
}

/// Runs the `berth` CLI against `s` with the given access key; returns (success, stdout, stderr).
fn cli(s: &Server, key: (&str, &str), args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    use std::io::Write as _;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.args(args)
        .env("BERTH_ENDPOINT", &s.base)
        .env("BERTH_ACCESS_KEY_ID", key.0)
        .env("BERTH_SECRET_ACCESS_KEY", key.1)
        .env("BERTH_CONFIG_DIR", s.data_dir.join("no-such-cli-config"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_manages_identities_over_signed_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let admin_key = ("BKIATESTADMIN0000001", "test-admin-secret-0123456789abcdefghijklmn");
    let s = Server::start_with(
        &tmp.path().join("data"),
        &[("BERTH_ADMIN_ACCESS_KEY_ID", admin_key.0), ("BERTH_ADMIN_SECRET_ACCESS_KEY", admin_key.1)],
    );
    s.push_image("team/app", "v1", b"cli").await;

    let (ok, _, err) = cli(&s, admin_key, &["user", "create", "alice", "--password-stdin"], Some("alice-password\n"));
    assert!(ok, "{err}");
    let (ok, out, err) = cli(&s, admin_key, &["key", "create", "--user", "alice", "--json"], None);
    assert!(ok, "{err}");
    let key: Value = serde_json::from_str(&out).unwrap();
    let alice_key =
        (key["accessKeyId"].as_str().unwrap().to_string(), key["secretAccessKey"].as_str().unwrap().to_string());
    let alice = (alice_key.0.as_str(), alice_key.1.as_str());

    // alice may not yet get a login password, nor manage users.
    let (ok, _, err) = cli(&s, alice, &["login-password"], None);
    assert!(!ok && err.contains("AccessDeniedException"), "{err}");
    let (ok, _, err) = cli(&s, alice, &["user", "create", "mallory"], None);
    assert!(!ok && err.contains("AccessDeniedException"), "{err}");

    let policy = allow(&["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], &["*"]);
    let (ok, _, err) = cli(&s, admin_key, &["policy", "put", "--user", "alice", "-"], Some(&policy));
    assert!(ok, "{err}");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (ok, password, err) = cli(&s, alice, &["login-password"], None);
    assert!(ok, "{err}");
    let aws = client_as("AWS", password.trim());
    assert_eq!(perform(&s, &aws, Op::Pull, "team/app", &[]).await, StatusCode::OK);
    assert_eq!(perform(&s, &aws, Op::Push, "team/app", &[]).await, StatusCode::FORBIDDEN);

    // A wrong secret is refused with the AWS error type.
    let (ok, _, err) = cli(&s, (alice.0, "not-the-secret-at-all-0000000000000000000"), &["login-password"], None);
    assert!(!ok && err.contains("InvalidSignatureException"), "{err}");

    let (ok, out, _) = cli(&s, admin_key, &["user", "list", "--json"], None);
    assert!(ok && out.contains("alice"));
    let (ok, out, _) = cli(&s, admin_key, &["audit", "list", "--json"], None);
    assert!(ok && out.contains("berth:CreateUser"), "{out}");
    assert!(!out.contains(alice.1), "no secret in the audit log");
}

#[tokio::test]
async fn tls_serves_http2_and_http11() {
    let tmp = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let (cert_path, key_path) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let s = Server::start_with_args(
        &tmp.path().join("data"),
        &["--tls-cert", cert_path.to_str().unwrap(), "--tls-key", key_path.to_str().unwrap()],
    );
    assert!(s.base.starts_with("https://"), "{}", s.base);
    let curl = |version: &str, user: Option<&str>| {
        let mut c = std::process::Command::new("curl");
        c.args(["-s", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", "--cacert"])
            .arg(&cert_path)
            .arg(version)
            .arg(format!("{}/v2/", s.base.replace("127.0.0.1", "localhost")));
        if let Some(u) = user {
            c.args(["-u", u]);
        }
        let out = c.output().expect("curl is installed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let admin = format!("admin:{ADMIN_PASSWORD}");
    assert_eq!(curl("--http2", Some(&admin)), "2 200");
    assert_eq!(curl("--http1.1", Some(&admin)), "1.1 200");
    assert_eq!(curl("--http2", None), "2 401");
    // The challenge points at the https token endpoint.
    let out = std::process::Command::new("curl")
        .args(["-s", "-D", "-", "-o", "/dev/null", "--cacert"])
        .arg(&cert_path)
        .arg(format!("{}/v2/", s.base.replace("127.0.0.1", "localhost")))
        .output()
        .unwrap();
    let headers = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(headers.contains("www-authenticate: bearer realm=\"https://localhost:"), "{headers}");
}
