//! Starting servers and pushing content.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use berth_oci::Digest;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

/// The bootstrap administrator every test server starts with.
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
/// The administrator's access key (the admin API accepts SigV4 only).
pub const ADMIN_KEY: (&str, &str) = ("BKIATESTADMIN0000001", "test-admin-secret-0123456789abcdefghijklmn");

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A running `berth serve`. Killed when dropped.
pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub http: Client,
}

impl Server {
    pub fn start() -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let mut s = Server::start_in(&dir);
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server in a data directory of its own with extra environment variables.
    pub fn start_env(env: &[(&str, &str)]) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Server::start_with(&tmp.path().join("data"), env);
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server on an existing (or new) data directory.
    pub fn start_in(dir: &Path) -> Server {
        Server::start_with(dir, &[])
    }

    pub fn start_with(dir: &Path, env: &[(&str, &str)]) -> Server {
        Server::spawn(dir, env, &[])
    }

    /// Starts a server with extra `berth serve` arguments.
    pub fn start_with_args(dir: &Path, args: &[&str]) -> Server {
        Server::spawn(dir, &[], args)
    }

    fn spawn(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(args)
            .env("BERTH_LOG", "warn")
            .env("BERTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("BERTH_ADMIN_ACCESS_KEY_ID", ADMIN_KEY.0)
            .env("BERTH_ADMIN_SECRET_ACCESS_KEY", ADMIN_KEY.1)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start berth");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line.trim().strip_prefix("berth listening on ").unwrap_or_else(|| panic!("unexpected: {line:?}"));
        Server {
            child: Some(child),
            base: addr.to_string(),
            data_dir: dir.to_path_buf(),
            _tmp: None,
            http: client_as("admin", ADMIN_PASSWORD),
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") { path.to_string() } else { format!("{}{}", self.base, path) }
    }

    pub fn pid_of(s: &Server) -> u32 {
        s.child.as_ref().expect("running").id()
    }

    /// SIGKILL: no chance to flush or finish anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        Command::new("kill").arg("-TERM").arg(c.id().to_string()).status().unwrap();
        c.wait().unwrap()
    }

    /// Calls the admin API as the administrator; the call must succeed.
    pub async fn admin(&self, op: &str, body: Value) -> Value {
        let (status, v) = self.admin_as(Some(ADMIN_KEY), op, &body).await;
        assert_eq!(status, StatusCode::OK, "{op}: {v}");
        v
    }

    /// Calls the admin API signed with `key` (SigV4, service `berth`), or unsigned.
    pub async fn admin_as(&self, key: Option<(&str, &str)>, op: &str, body: &Value) -> (StatusCode, Value) {
        let r = self.signed_post(key, "berth", &format!("/admin/v1/{op}"), &[], body).await;
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A POST of `body` as JSON to `path`, signed with `key` for `service` (unsigned when `None`), with
    /// `extra` headers (signed too).
    pub async fn signed_post(
        &self,
        key: Option<(&str, &str)>,
        service: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: &Value,
    ) -> Response {
        let payload = serde_json::to_vec(body).unwrap();
        let content_type = if service == "ecr" { "application/x-amz-json-1.1" } else { "application/json" };
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), self.base.trim_start_matches("http://").to_string()),
            ("content-type".into(), content_type.into()),
        ];
        headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        if let Some((id, secret)) = key {
            let secret = berth_auth::secret::Secret::new(secret);
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
            let params = berth_auth::sigv4::SigningParams {
                access_key_id: id,
                secret: &secret,
                region: "us-east-1",
                service,
                now_unix: now,
            };
            berth_auth::sigv4::sign("POST", path, "", &mut headers, &payload, &params).unwrap();
        }
        let mut request = anonymous_client().post(self.url(path)).body(payload);
        for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
            request = request.header(k, v);
        }
        request.send().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    pub async fn head(&self, path: &str) -> Response {
        self.http.head(self.url(path)).send().await.unwrap()
    }

    /// Pushes a blob monolithically and returns its digest.
    pub async fn push_blob(&self, repo: &str, bytes: &[u8]) -> Digest {
        let d = Digest::sha256_of(bytes);
        let r = self
            .http
            .post(self.url(&format!("/v2/{repo}/blobs/uploads/?digest={d}")))
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        d
    }

    pub async fn put_manifest(&self, repo: &str, reference: &str, media_type: &str, body: &[u8]) -> Response {
        self.http
            .put(self.url(&format!("/v2/{repo}/manifests/{reference}")))
            .header("content-type", media_type)
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// Pushes config + one layer + an image manifest tagged `tag`; returns (manifest bytes, digest).
    pub async fn push_image(&self, repo: &str, tag: &str, layer: &[u8]) -> (Vec<u8>, Digest) {
        let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let body = image_manifest(
            (&self.push_blob(repo, config).await, config.len()),
            &[(&self.push_blob(repo, layer).await, layer.len())],
            None,
        );
        let r = self.put_manifest(repo, tag, OCI_MANIFEST, &body).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        let d = Digest::sha256_of(&body);
        (body, d)
    }
}

/// An HTTP client that sends Basic credentials with every request.
pub fn client_as(user: &str, password: &str) -> Client {
    use base64::Engine as _;
    let mut headers = reqwest::header::HeaderMap::new();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    headers.insert(reqwest::header::AUTHORIZATION, format!("Basic {basic}").parse().unwrap());
    Client::builder().redirect(reqwest::redirect::Policy::none()).default_headers(headers).build().unwrap()
}

/// An `Authorization: Basic ...` header value.
pub fn base64_basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// The claims of a JWT (not verified).
pub fn jwt_claims(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// An HTTP client without credentials.
pub fn anonymous_client() -> Client {
    Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub fn descriptor(media_type: &str, digest: &Digest, size: usize) -> Value {
    json!({"mediaType": media_type, "digest": digest.to_string(), "size": size})
}

/// An OCI image manifest body; `subject` as (digest, size).
pub fn image_manifest(
    config: (&Digest, usize),
    layers: &[(&Digest, usize)],
    subject: Option<(&Digest, usize)>,
) -> Vec<u8> {
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", config.0, config.1),
        "layers": layers.iter().map(|(d, n)| descriptor("application/vnd.oci.image.layer.v1.tar+gzip", d, *n)).collect::<Vec<_>>(),
    });
    if let Some((d, n)) = subject {
        m["subject"] = descriptor(OCI_MANIFEST, d, n);
    }
    serde_json::to_vec(&m).unwrap()
}

/// The first error code of an OCI error response (and checks the body is the spec's JSON).
pub async fn error_code(r: Response) -> String {
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
    let body: Value = r.json().await.expect("error body is JSON");
    assert_eq!(ct.as_deref(), Some("application/json"));
    body["errors"][0]["code"].as_str().expect("errors[0].code").to_string()
}

pub fn header(r: &Response, name: &str) -> String {
    r.headers().get(name).unwrap_or_else(|| panic!("missing header {name}")).to_str().unwrap().to_string()
}

/// Deterministic pseudo-random bytes.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
