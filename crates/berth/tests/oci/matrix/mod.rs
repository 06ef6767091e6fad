//! The permission matrix: every route of every surface (`/v2`, `/token`, the ECR API, the admin API) ×
//! every kind of caller × a private, a public and a pull-policy-gated repository (and `berth login`'s
//! `/auth/v1/Login`, and the web console's routes with a signed-in session), each cell asserted
//! against one model of who may do what ([`expected`]).
//!
//! **A new route gets its row here** ([`v2_routes`], [`registry_routes`], [`ecr_operations`], [`admin_operations`],
//! [`console_routes`], [`console_admin_routes`]), with the
//! ECR action and resource it is decided on. A cell is classified from the response alone: refused by
//! the access decision, refused by the pull policy, or let through (whatever the handler then answered).

use std::collections::BTreeSet;

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

use crate::scanning::{findings_when_evaluated, import, push_fixture};
use crate::support::*;

mod rows;
use rows::*;

const PULL: [&str; 4] =
    ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability", "ecr:ListImages"];
const PUSH: [&str; 5] = [
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchCheckLayerAvailability",
];
const DELETE: [&str; 1] = ["ecr:BatchDeleteImage"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Private,
    Public,
    Gated,
}

impl Kind {
    fn repo(self) -> &'static str {
        match self {
            Kind::Private => "m/private",
            Kind::Public => "m/public",
            Kind::Gated => "m/gated",
        }
    }
}

/// A repository under `m/` that does not exist (for operations that would change the matrix's own).
const SCRATCH: &str = "m/scratch";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    NoPolicy,
    Puller,
    Pusher,
    Denied,
    Robot,
    Bearer,
    Admin,
}

const EVERYONE: [Who; 8] =
    [Who::Anonymous, Who::NoPolicy, Who::Puller, Who::Pusher, Who::Denied, Who::Robot, Who::Bearer, Who::Admin];

/// What a request acts on, for the model.
#[derive(Clone, Copy, Debug)]
enum On {
    /// A repository of the given kind (the scratch repository is private).
    Repo(Kind),
    /// The registry, users, groups, or `*`.
    Registry,
}

/// The model: whether the policies allow `who` the `action` on `on` (the pull policy is a separate
/// refusal). Puller and pusher are allowed the pull (and push) actions on `m/*`; denied is allowed
/// `ecr:*` everywhere but explicitly denied `ecr:*` on `m/*`; the robot token is limited to pull and push
/// on `m/*`; the bearer token was issued to the pusher; a public repository lets everyone pull.
fn expected(who: Who, action: &str, on: On) -> bool {
    let public_pull = matches!(on, On::Repo(Kind::Public)) && PULL.contains(&action);
    let in_m = matches!(on, On::Repo(_));
    match who {
        Who::Admin => true,
        Who::Anonymous | Who::NoPolicy => public_pull,
        Who::Puller => public_pull || (in_m && PULL.contains(&action)),
        Who::Pusher | Who::Robot | Who::Bearer => {
            public_pull || (in_m && (PULL.contains(&action) || PUSH.contains(&action)))
        }
        Who::Denied => !in_m && action.starts_with("ecr:"),
    }
}

/// What a cell turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Refused,
    Gated,
    Through,
}

/// The callers, with what they present.
struct Callers {
    keys: Vec<(Who, (String, String))>,
    robot: String,
    bearer: String,
}

impl Callers {
    fn key(&self, who: Who) -> Option<(&str, &str)> {
        self.keys.iter().find(|(w, _)| *w == who).map(|(_, (id, secret))| (id.as_str(), secret.as_str()))
    }

    /// The `authorization` header `who` sends to `/v2` and `/token`.
    fn v2_auth(&self, who: Who) -> Option<String> {
        use base64::Engine as _;
        let basic = |u: &str, p: &str| {
            Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))))
        };
        match who {
            Who::Anonymous => None,
            Who::Robot => basic("robot", &self.robot),
            Who::Bearer => Some(format!("Bearer {}", self.bearer)),
            Who::Admin => basic("admin", ADMIN_PASSWORD),
            other => basic(name(other), &format!("{}-password", name(other))),
        }
    }
}

fn name(who: Who) -> &'static str {
    match who {
        Who::NoPolicy => "nopolicy",
        Who::Puller => "puller",
        Who::Pusher => "pusher",
        Who::Denied => "denied",
        _ => unreachable!("not a user"),
    }
}

async fn setup(s: &Server) -> (Callers, Value) {
    let m = "arn:aws:ecr:*:*:repository/m/*";
    let pull_push = [&PULL[..], &PUSH[..]].concat();
    let users: [(Who, Value); 4] = [
        (Who::NoPolicy, json!([])),
        (Who::Puller, json!([{"Effect": "Allow", "Action": PULL, "Resource": m}])),
        (Who::Pusher, json!([{"Effect": "Allow", "Action": pull_push, "Resource": m}])),
        (
            Who::Denied,
            json!([{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"},
                   {"Effect": "Deny", "Action": "ecr:*", "Resource": m}]),
        ),
    ];
    let mut keys = vec![(Who::Admin, (ADMIN_KEY.0.to_string(), ADMIN_KEY.1.to_string()))];
    for (who, statements) in users {
        let n = name(who);
        s.admin("CreateUser", json!({"userName": n, "password": format!("{n}-password")})).await;
        if statements != json!([]) {
            let doc = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
            s.admin("PutPolicy", json!({"target": {"user": n}, "policyText": doc})).await;
        }
        let k = s.admin("CreateAccessKey", json!({"userName": n})).await;
        keys.push((who, (k["accessKeyId"].as_str().unwrap().into(), k["secretAccessKey"].as_str().unwrap().into())));
    }
    let robot = s
        .admin(
            "CreateRobotToken",
            json!({"name": "matrix", "repositories": ["m/*"], "actions": ["pull", "push"], "expiresInSeconds": 3600}),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    // The pusher's token for every matrix repository.
    let scopes: Vec<String> = [Kind::Private.repo(), Kind::Public.repo(), Kind::Gated.repo(), SCRATCH]
        .iter()
        .map(|r| format!("scope=repository:{r}:pull,push,delete"))
        .collect();
    let r = client_as("pusher", "pusher-password")
        .get(s.url(&format!("/token?service=berth&{}", scopes.join("&"))))
        .send()
        .await
        .unwrap();
    let bearer = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();

    s.push_image(Kind::Private.repo(), "v1", b"matrix private layer").await;
    s.push_image(Kind::Public.repo(), "v1", b"matrix public layer").await;
    s.admin("SetRepositoryVisibility", json!({"repositoryName": Kind::Public.repo(), "visibility": "public"})).await;
    // The gated repository holds an image with findings that its pull policy refuses.
    import(s, &["Debian", "PyPI"]);
    let create = json!({"repositoryName": Kind::Gated.repo(), "imageScanningConfiguration": {"scanOnPush": true}});
    let target = ("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.CreateRepository");
    assert_eq!(s.signed_post(Some(ADMIN_KEY), "ecr", "/", &[target], &create).await.status(), StatusCode::OK);
    let (digest, layers) = push_fixture(s, Kind::Gated.repo(), "v1").await;
    findings_when_evaluated(s, &format!("{}@{digest}", Kind::Gated.repo()), |v| {
        v["imageScanFindings"]["findingSeverityCounts"].as_object().is_some_and(|c| !c.is_empty())
    });
    s.admin("PutPullPolicy", json!({"repositoryName": Kind::Gated.repo(), "minSeverity": "LOW"})).await;
    assert_eq!(s.get("/v2/m/gated/manifests/v1").await.status(), StatusCode::FORBIDDEN, "the gate is closed");
    let mut layer_of = json!({});
    for kind in [Kind::Private, Kind::Public] {
        let m: Value = s.get(&format!("/v2/{}/manifests/v1", kind.repo())).await.json().await.unwrap();
        layer_of[kind.repo()] = m["layers"][0]["digest"].clone();
    }
    layer_of[Kind::Gated.repo()] = json!(layers[0]);
    (Callers { keys, robot, bearer }, layer_of)
}

/// Classifies a `/v2` or `/token` response.
async fn v2_outcome(r: Response) -> Outcome {
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    let message = body["errors"][0]["message"].as_str().unwrap_or("");
    match status {
        StatusCode::UNAUTHORIZED => Outcome::Refused,
        StatusCode::FORBIDDEN if message.contains("pull policy") => Outcome::Gated,
        StatusCode::FORBIDDEN => Outcome::Refused,
        _ => Outcome::Through,
    }
}

/// Classifies an ECR or admin API response.
async fn aws_outcome(r: Response) -> Outcome {
    let body: Value = r.json().await.unwrap_or(Value::Null);
    let kind = body["__type"].as_str().unwrap_or("");
    let message = body["message"].as_str().unwrap_or("");
    let failures = body["failures"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if kind == "AccessDeniedException" && message.contains("pull policy")
        || failures.iter().any(|f| f["failureCode"] == "ImageInaccessible")
    {
        return Outcome::Gated;
    }
    let refusals = [
        "AccessDeniedException",
        "MissingAuthenticationTokenException",
        "InvalidSignatureException",
        "UnrecognizedClientException",
    ];
    if refusals.contains(&kind) { Outcome::Refused } else { Outcome::Through }
}

/// What a route should answer for `who`, from the model: refused, gated, or through.
fn want(who: Who, action: &str, on: On, hands_out_content: bool) -> Outcome {
    if !expected(who, action, on) {
        Outcome::Refused
    } else if hands_out_content && matches!(on, On::Repo(Kind::Gated)) {
        Outcome::Gated
    } else {
        Outcome::Through
    }
}

/// A console session: the cookie header to send and the CSRF token its forms carry.
struct ConsoleSession {
    cookie: String,
    csrf: String,
}

/// The value of cookie `name` set by `r`.
fn set_cookie(r: &Response, name: &str) -> Option<String> {
    r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (pair, _) = v.split_once(';').unwrap_or((v, ""));
        pair.strip_prefix(&format!("{name}=")).map(str::to_string)
    })
}

/// Signs `who` in to the console with what it would present as a password (users' passwords; robot and
/// bearer tokens, which are refused). Returns the sign-in's outcome and the session, if one was opened.
async fn console_sign_in(s: &Server, http: &Client, c: &Callers, who: Who) -> (Outcome, Option<ConsoleSession>) {
    let (user, password) = match who {
        Who::Anonymous => (String::new(), String::new()),
        Who::Robot => ("robot".into(), c.robot.clone()),
        Who::Bearer => ("pusher".into(), c.bearer.clone()),
        Who::Admin => ("admin".into(), ADMIN_PASSWORD.into()),
        other => (name(other).into(), format!("{}-password", name(other))),
    };
    let page = http.get(s.url("/console/login")).send().await.unwrap();
    let login_csrf = set_cookie(&page, "berth_login_csrf").expect("the sign-in page sets its CSRF cookie");
    let form = [("csrf", login_csrf.as_str()), ("user", &user), ("password", &password)];
    let r = http
        .post(s.url("/console/login"))
        .header("cookie", format!("berth_login_csrf={login_csrf}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let Some(session) = set_cookie(&r, "berth_session").filter(|v| !v.is_empty()) else {
        return (Outcome::Refused, None);
    };
    let cookie = format!("berth_session={session}");
    let html = http.get(s.url("/console/")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).and_then(|t| t.split('"').next()).unwrap().to_string();
    (Outcome::Through, Some(ConsoleSession { cookie, csrf }))
}

/// Classifies a console answer: refused (401, 403, 429, or sent to sign in), or let through.
fn console_outcome(r: &Response) -> Outcome {
    let to_sign_in = r
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .is_some_and(|l| l.starts_with("/console/login?next="));
    match r.status() {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS => Outcome::Refused,
        _ if to_sign_in => Outcome::Refused,
        _ => Outcome::Through,
    }
}

/// A console request as `session` (or without one), forms carrying the session's CSRF token.
async fn console_call(
    s: &Server,
    http: &Client,
    session: Option<&ConsoleSession>,
    method: &str,
    path: &str,
    form: &[(&str, String)],
) -> Response {
    let mut r = http.request(method.parse().unwrap(), s.url(path));
    if let Some(session) = session {
        r = r.header("cookie", &session.cookie);
    }
    if method == "POST" {
        let mut fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if let Some(session) = session {
            fields.push(("csrf", &session.csrf));
        }
        r = r.form(&fields);
    }
    r.send().await.unwrap()
}

/// A request with `who`'s credentials: SigV4 for users' keys, otherwise what `who` presents on `/v2`.
async fn aws_call(s: &Server, c: &Callers, who: Who, path: &str, target: Option<&str>, body: &Value) -> Response {
    let service = match target {
        Some(t) if t.starts_with("SpencerFrontendService.") => "ecr-public",
        Some(_) => "ecr",
        None => "berth",
    };
    let extra: Vec<(&str, &str)> = target.map(|t| ("x-amz-target", t)).into_iter().collect();
    match (c.key(who), c.v2_auth(who)) {
        (Some(key), _) => s.signed_post(Some(key), service, path, &extra, body).await,
        (None, auth) => {
            let mut r = anonymous_client().post(s.url(path)).json(body);
            if let Some(t) = target {
                r = r.header("x-amz-target", t);
            }
            if let Some(a) = auth {
                r = r.header("authorization", a);
            }
            r.send().await.unwrap()
        }
    }
}

/// The cells checked, and those whose outcome differs from the model.
#[derive(Default)]
struct Tally {
    cells: usize,
    wrong: Vec<String>,
}

impl Tally {
    fn check(&mut self, surface: &str, who: Who, route: String, got: Outcome, want: Outcome) {
        self.cells += 1;
        if got != want {
            self.wrong.push(format!("{surface} {who:?} {route}: got {got:?}, want {want:?}"));
        }
    }
}

/// `HEAD` answers carry no body, so a pull-policy refusal looks like any other 403.
fn coarse(o: Outcome) -> Outcome {
    if o == Outcome::Gated { Outcome::Refused } else { o }
}

#[tokio::test]
async fn every_route_of_every_surface_for_every_caller() {
    // With rate limits on (too high to be reached): every request goes through them, and no decision changes.
    let s = Server::start_env(&[
        ("BERTH_RATE_LIMIT_REQUESTS", "1000000/1h"),
        ("BERTH_RATE_LIMIT_MANIFEST_PULLS", "1000000/6h"),
        ("BERTH_RATE_LIMIT_ANONYMOUS_MANIFEST_PULLS", "1000000/6h"),
    ]);
    let (callers, layers) = setup(&s).await;
    let http = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let manifest = s.get("/v2/m/private/manifests/v1").await.bytes().await.unwrap();
    let mut tally = Tally::default();
    let mut made = 0;
    let mut digests = std::collections::BTreeMap::new();
    for kind in [Kind::Private, Kind::Public, Kind::Gated] {
        // DescribeImages, as the gated repository's pull policy refuses its manifest to /v2.
        let target = ("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.DescribeImages");
        let body = json!({"repositoryName": kind.repo(), "imageIds": [{"imageTag": "v1"}]});
        let r = s.signed_post(Some(ADMIN_KEY), "ecr", "/", &[target], &body).await;
        let v: Value = r.json().await.unwrap();
        digests.insert(kind.repo(), v["imageDetails"][0]["imageDigest"].as_str().unwrap().to_string());
    }

    for who in EVERYONE {
        let auth = callers.v2_auth(who);
        let send = |method: &str, path: &str| {
            let mut r = http.request(method.parse().unwrap(), s.url(path));
            if let Some(a) = &auth {
                r = r.header("authorization", a);
            }
            r
        };
        // Routes on no repository: `/v2/` tells whether the caller is authenticated; the catalog is open
        // to everyone and lists what each may see.
        let base = v2_outcome(send("GET", "/v2/").send().await.unwrap()).await;
        let want_base = if who == Who::Anonymous { Outcome::Refused } else { Outcome::Through };
        tally.check("v2", who, "GET /v2/".into(), base, want_base);
        let catalog = v2_outcome(send("GET", "/v2/_catalog").send().await.unwrap()).await;
        tally.check("v2", who, "GET /v2/_catalog".into(), catalog, Outcome::Through);
        for (method, path, action) in registry_routes() {
            let got = v2_outcome(send(method, path).send().await.unwrap()).await;
            tally.check("registry", who, format!("{method} {path}"), got, want(who, action, On::Registry, false));
        }
        // `berth login`: a user's password for a key of that user (berth:CreateAccessKey on themselves);
        // robot and bearer tokens never sign in.
        let login = aws_outcome(send("POST", "/auth/v1/Login").send().await.unwrap()).await;
        let may_login =
            !matches!(who, Who::Robot | Who::Bearer) && expected(who, "berth:CreateAccessKey", On::Registry);
        tally.check(
            "login",
            who,
            "POST /auth/v1/Login".into(),
            login,
            if may_login { Outcome::Through } else { Outcome::Refused },
        );
        // The console: users sign in with their passwords; robot and bearer tokens never sign in. Pages
        // anyone may read answer everyone.
        let (signed_in, console) = console_sign_in(&s, &http, &callers, who).await;
        let has_password = !matches!(who, Who::Anonymous | Who::Robot | Who::Bearer);
        let want_sign_in = if has_password { Outcome::Through } else { Outcome::Refused };
        tally.check("console", who, "POST /console/login".into(), signed_in, want_sign_in);
        for path in CONSOLE_PUBLIC {
            let got = console_outcome(&console_call(&s, &http, console.as_ref(), "GET", path, &[]).await);
            tally.check("console", who, format!("GET {path}"), got, Outcome::Through);
        }

        for kind in [Kind::Private, Kind::Public, Kind::Gated] {
            let repo = kind.repo();
            let layer = layers[repo].as_str().unwrap();
            for (method, path, action, content) in v2_routes(repo, layer) {
                let mut r = send(method, &path);
                if method == "PUT" && path.contains("/manifests/") {
                    r = r.header("content-type", OCI_MANIFEST).body(manifest.clone());
                }
                let got = v2_outcome(r.send().await.unwrap()).await;
                let want = want(who, action, On::Repo(kind), content);
                let (got, want) = if method == "HEAD" { (coarse(got), coarse(want)) } else { (got, want) };
                tally.check("v2", who, format!("{method} {path}"), got, want);
            }

            // `/token` never refuses valid credentials; the token carries exactly the allowed ECR actions.
            let r = send("GET", &format!("/token?service=berth&scope=repository:{repo}:pull,push,delete")).send();
            let r = r.await.unwrap();
            if who == Who::Bearer {
                tally.check("token", who, repo.into(), v2_outcome(r).await, Outcome::Refused);
            } else {
                assert_eq!(r.status(), StatusCode::OK, "{who:?} /token");
                let t = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
                let claims = jwt_claims(&t);
                let carried: BTreeSet<String> = claims["access"][0]["ecr"]
                    .as_array()
                    .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default();
                let model: BTreeSet<String> = [&PULL[..], &PUSH[..], &DELETE[..]]
                    .concat()
                    .into_iter()
                    .filter(|a| expected(who, a, On::Repo(kind)))
                    .map(String::from)
                    .collect();
                tally.cells += 1;
                if carried != model {
                    tally.wrong.push(format!("token {who:?} {repo}: carries {carried:?}, want {model:?}"));
                }
            }

            // Only SigV4 reaches the ECR and admin APIs: anonymous callers, robot and bearer tokens are
            // refused whatever they may do on /v2.
            let sigv4 = !matches!(who, Who::Anonymous | Who::Robot | Who::Bearer);
            for (op, body, on, content) in ecr_operations(repo, kind, layer) {
                let target = format!("AmazonEC2ContainerRegistry_V20150921.{op}");
                let got = aws_outcome(aws_call(&s, &callers, who, "/", Some(&target), &body).await).await;
                let want = if sigv4 { want(who, &format!("ecr:{op}"), on, content) } else { Outcome::Refused };
                tally.check("ecr", who, format!("{op} {repo}"), got, want);
            }
            // ECR Public's catalog data operations, on the same endpoint.
            let catalog = [
                ("GetRepositoryCatalogData", json!({"repositoryName": repo}), On::Repo(kind)),
                (
                    "PutRepositoryCatalogData",
                    json!({"repositoryName": SCRATCH, "catalogData": {"description": "matrix"}}),
                    On::Repo(Kind::Private),
                ),
            ];
            for (op, body, on) in catalog {
                let target = format!("SpencerFrontendService.{op}");
                let got = aws_outcome(aws_call(&s, &callers, who, "/", Some(&target), &body).await).await;
                let want = if sigv4 { want(who, &format!("ecr:{op}"), on, false) } else { Outcome::Refused };
                tally.check("ecr-public", who, format!("{op} {repo}"), got, want);
            }
            made += 1;
            for (method, path, form, actions, on) in console_routes(repo, kind, made, &digests[repo]) {
                let got = console_outcome(&console_call(&s, &http, console.as_ref(), method, &path, &form).await);
                let allowed = console.is_some() && actions.iter().all(|a| expected(who, a, on));
                let want = if allowed { Outcome::Through } else { Outcome::Refused };
                tally.check("console", who, format!("{method} {path} {form:?} {repo}"), got, want);
            }
            for (op, body, action, on) in admin_operations(repo, kind, made) {
                let path = format!("/admin/v1/{op}");
                let got = aws_outcome(aws_call(&s, &callers, who, &path, None, &body).await).await;
                let want = if sigv4 { want(who, action, on, false) } else { Outcome::Refused };
                tally.check("admin", who, format!("{op} {body} {repo}"), got, want);
            }
        }
        made += 1;
        for (method, path, form, actions, on) in console_admin_routes(made) {
            let got = console_outcome(&console_call(&s, &http, console.as_ref(), method, &path, &form).await);
            let allowed = console.is_some() && actions.iter().all(|a| expected(who, a, on));
            let want = if allowed { Outcome::Through } else { Outcome::Refused };
            tally.check("console", who, format!("{method} {path} {form:?}"), got, want);
        }
        let got = console_outcome(&console_call(&s, &http, console.as_ref(), "POST", "/console/logout", &[]).await);
        let want = if console.is_some() { Outcome::Through } else { Outcome::Refused };
        tally.check("console", who, "POST /console/logout".into(), got, want);
    }
    let Tally { cells, wrong } = tally;
    assert!(wrong.is_empty(), "{} of {cells} cells are wrong:\n{}", wrong.len(), wrong.join("\n"));
    eprintln!("permission matrix: {cells} cells");
}

/// Rate limits come after the access decision and do not change it: a refused request (401, 403) consumes no
/// quota, a caller refused access is refused as before once its quota is used up (never 429), and only an
/// allowed request is counted and, over the limit, throttled.
#[tokio::test]
async fn rate_limits_count_only_allowed_requests() {
    let clock = crate::rate_limits::TestClock::new();
    let s = Server::start_env(&[
        ("BERTH_TEST_CLOCK_FILE", clock.path()),
        ("BERTH_RATE_LIMIT_MANIFEST_PULLS", "2/1h"),
        ("BERTH_RATE_LIMIT_ANONYMOUS_MANIFEST_PULLS", "1/1h"),
    ]);
    s.push_image(Kind::Private.repo(), "v1", b"private").await;
    s.push_image(Kind::Public.repo(), "v1", b"public").await;
    s.admin("SetRepositoryVisibility", json!({"repositoryName": Kind::Public.repo(), "visibility": "public"})).await;
    s.admin("CreateUser", json!({"userName": "nopolicy", "password": "nopolicy-password"})).await;
    let (who, anon) = (client_as("nopolicy", "nopolicy-password"), anonymous_client());
    let private = s.url("/v2/m/private/manifests/v1");
    let public = s.url("/v2/m/public/manifests/v1");
    let remaining = |r: &Response| r.headers().get("ratelimit-remaining").map(|v| v.to_str().unwrap().to_string());

    for _ in 0..4 {
        let r = who.get(&private).send().await.unwrap();
        assert_eq!((r.status(), remaining(&r)), (StatusCode::FORBIDDEN, None), "refused, not counted");
    }
    for _ in 0..3 {
        assert_eq!(anon.get(&private).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    // Allowed now: the whole quota is there.
    let doc = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": PULL, "Resource": "arn:aws:ecr:*:*:repository/m/*"}]});
    s.admin("PutPolicy", json!({"target": {"user": "nopolicy"}, "policyText": doc.to_string()})).await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let r = who.get(&private).send().await.unwrap();
        seen.push((r.status(), remaining(&r)));
    }
    assert_eq!(
        seen,
        [
            (StatusCode::OK, Some("1;w=3600".into())),
            (StatusCode::OK, Some("0;w=3600".into())),
            (StatusCode::TOO_MANY_REQUESTS, Some("0;w=3600".into()))
        ]
    );
    let r = anon.get(&public).send().await.unwrap();
    assert_eq!((r.status(), remaining(&r)), (StatusCode::OK, Some("0;w=3600".into())), "the anonymous quota was whole");
    assert_eq!(anon.get(&public).send().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    // Quota used up, access still decided first: refusals stay refusals.
    for _ in 0..2 {
        assert_eq!(anon.get(&private).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    let r = who.put(s.url("/v2/m/private/manifests/v2")).body("{}").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a push it may not make is refused, not throttled");
}
