//! The admin API client: where the registry is, whose credentials sign, and how a call's outcome maps to
//! a message and an exit code.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_auth::secret::Secret;
use berth_auth::sigv4::{self, SigningParams};
use reqwest::Url;
use serde_json::Value;

use super::GlobalArgs;
use super::profile::{self, Profile, Profiles};

pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:5000";
pub const DEFAULT_REGION: &str = "us-east-1";
const DEFAULT_PROFILE: &str = "default";
const SERVICE: &str = "berth";
const ENV_ACCESS_KEY_ID: &str = "BERTH_ACCESS_KEY_ID";
const ENV_SECRET_ACCESS_KEY: &str = "BERTH_SECRET_ACCESS_KEY";

/// Why a command failed. Displayed after `berth: `.
#[derive(Debug)]
pub enum CliError {
    /// Bad usage or configuration (missing credentials, unreadable input): exit code 2.
    Usage(String),
    /// The server answered with `{"__type", "message"}`: exit code 1.
    Server { kind: String, message: String },
    /// Anything else (connection failures, unexpected responses): exit code 1.
    Failed(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Server { .. } | CliError::Failed(_) => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Failed(m) => f.write_str(m),
            CliError::Server { kind, message } => write!(f, "{kind}: {message}"),
        }
    }
}

/// An access key pair. `Debug` never shows the secret ([`Secret`]).
#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
}

/// Everything a client needs, resolved from flags, the environment and the credentials file.
#[derive(Debug, Clone)]
pub struct Settings {
    pub endpoint: Url,
    pub region: String,
    pub credentials: Credentials,
    pub ca_cert: Option<PathBuf>,
}

impl Settings {
    /// Resolves settings. `global` already holds flags or their environment variables (clap's `env`);
    /// `env` looks up the credential variables; `file` is the credentials file's path and contents, if it
    /// exists.
    pub fn resolve(
        global: &GlobalArgs,
        env: impl Fn(&str) -> Option<String>,
        file_path: Option<&Path>,
        file: Option<&Profiles>,
    ) -> Result<Settings, CliError> {
        let file_name = || match file_path {
            Some(p) => p.display().to_string(),
            None => "$BERTH_CONFIG_DIR/credentials or $HOME/.berth/credentials".to_string(),
        };
        let profile_name = global.profile.as_deref().unwrap_or(DEFAULT_PROFILE);
        let section: Option<&Profile> = file.and_then(|f| f.get(profile_name));
        if section.is_none() && global.profile.is_some() {
            return Err(CliError::Usage(match file {
                Some(_) => format!("profile [{profile_name}] not found in {}", file_name()),
                None => {
                    format!("profile [{profile_name}] requested, but there is no credentials file at {}", file_name())
                }
            }));
        }
        let from_section = |key: &str| section.and_then(|s| s.get(key)).map(str::to_string);

        let env_key = env(ENV_ACCESS_KEY_ID).filter(|v| !v.is_empty());
        let env_secret = env(ENV_SECRET_ACCESS_KEY).filter(|v| !v.is_empty());
        let credentials = match (env_key, env_secret) {
            (Some(access_key_id), Some(secret)) => {
                Credentials { access_key_id, secret_access_key: Secret::new(secret) }
            }
            (Some(_), None) => {
                return Err(CliError::Usage(format!("{ENV_ACCESS_KEY_ID} is set but {ENV_SECRET_ACCESS_KEY} is not")));
            }
            (None, Some(_)) => {
                return Err(CliError::Usage(format!("{ENV_SECRET_ACCESS_KEY} is set but {ENV_ACCESS_KEY_ID} is not")));
            }
            (None, None) => match (from_section("access_key_id"), from_section("secret_access_key")) {
                (Some(access_key_id), Some(secret)) => {
                    Credentials { access_key_id, secret_access_key: Secret::new(secret) }
                }
                (Some(_), None) | (None, Some(_)) => {
                    return Err(CliError::Usage(format!(
                        "profile [{profile_name}] in {} needs both access_key_id and secret_access_key",
                        file_name()
                    )));
                }
                (None, None) => {
                    return Err(CliError::Usage(format!(
                        "no credentials: set {ENV_ACCESS_KEY_ID} and {ENV_SECRET_ACCESS_KEY}, or put access_key_id \
                         and secret_access_key in the [{profile_name}] section of {}",
                        file_name()
                    )));
                }
            },
        };

        let Location { endpoint, region, ca_cert } = Location::resolve(global, section)?;
        Ok(Settings { endpoint, region, credentials, ca_cert })
    }
}

/// Where the registry is, from flags, the environment (through clap) and the profile's section.
#[derive(Debug, Clone)]
pub struct Location {
    pub endpoint: Url,
    pub region: String,
    pub ca_cert: Option<PathBuf>,
}

impl Location {
    pub fn resolve(global: &GlobalArgs, section: Option<&Profile>) -> Result<Location, CliError> {
        let from_section = |key: &str| section.and_then(|s| s.get(key)).map(str::to_string);
        let endpoint_text = global
            .endpoint
            .clone()
            .or_else(|| from_section("endpoint"))
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        let endpoint = parse_endpoint(&endpoint_text)?;
        let region = global
            .region
            .clone()
            .filter(|r| !r.is_empty())
            .or_else(|| from_section("region"))
            .unwrap_or_else(|| DEFAULT_REGION.to_string());
        let ca_cert = global.ca_cert.clone().or_else(|| from_section("ca_cert").map(PathBuf::from));
        Ok(Location { endpoint, region, ca_cert })
    }
}

/// The credentials file's path (when there is a home) and its parsed contents (when it exists).
pub fn load_profiles() -> Result<(Option<PathBuf>, Option<Profiles>), CliError> {
    let path = profile::default_path();
    let profiles = match &path {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(text) => Some(Profiles::parse(&text).map_err(|e| CliError::Usage(format!("{}: {e}", p.display())))?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(CliError::Usage(format!("cannot read {}: {e}", p.display()))),
        },
        None => None,
    };
    Ok((path, profiles))
}

/// The HTTP client of every command: timeouts, no redirects, and the extra CA certificates if any.
pub fn http_client(ca_cert: Option<&Path>) -> Result<reqwest::Client, CliError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        // A redirect would turn the signed POST into something else; report it instead.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("berth-cli/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_cert {
        let pem = std::fs::read(path)
            .map_err(|e| CliError::Usage(format!("cannot read CA certificate {}: {e}", path.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| CliError::Usage(format!("{} is not a PEM certificate bundle: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(CliError::Usage(format!("{} holds no PEM certificate", path.display())));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| CliError::Failed(format!("cannot set up the HTTP client: {}", chain(&e))))
}

/// `POST {endpoint}/auth/v1/Login` with a user's password: an access key of that user.
pub async fn login(location: &Location, username: &str, password: &str) -> Result<Value, CliError> {
    let http = http_client(location.ca_cert.as_deref())?;
    let mut url = location.endpoint.clone();
    url.set_path(&format!("{}/auth/v1/Login", location.endpoint.path().trim_end_matches('/')));
    let response = http
        .post(url)
        .basic_auth(username, Some(password))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .map_err(|e| CliError::Failed(format!("cannot reach the registry at {}: {}", location.endpoint, chain(&e))))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| CliError::Failed(format!("Login: reading the response failed: {}", chain(&e))))?;
    interpret("Login", status, &bytes)
}

fn parse_endpoint(text: &str) -> Result<Url, CliError> {
    let bad = |why: &str| CliError::Usage(format!("endpoint {text:?} {why}: use e.g. https://registry.example.com"));
    let url = Url::parse(text).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must start with http:// or https://"));
    }
    if url.host_str().is_none() {
        return Err(bad("has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not have a query, fragment or user info"));
    }
    Ok(url)
}

/// The `Host` header for `url`, as signed and sent: the port only when it is not the scheme's default.
fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// The path of `operation` under the endpoint (which may itself have a path prefix).
fn operation_path(endpoint: &Url, operation: &str) -> String {
    format!("{}/admin/v1/{operation}", endpoint.path().trim_end_matches('/'))
}

/// Signs and sends admin API calls.
pub struct Client {
    http: reqwest::Client,
    settings: Settings,
}

impl Client {
    /// Resolves settings from flags, the environment and the credentials file, and builds the HTTP client.
    pub fn from_args(global: &GlobalArgs) -> Result<Client, CliError> {
        let (path, profiles) = load_profiles()?;
        let settings = Settings::resolve(global, |k| std::env::var(k).ok(), path.as_deref(), profiles.as_ref())?;
        Client::new(settings)
    }

    pub fn new(settings: Settings) -> Result<Client, CliError> {
        let http = http_client(settings.ca_cert.as_deref())?;
        Ok(Client { http, settings })
    }

    /// The access key that signs this client's requests.
    pub fn access_key_id(&self) -> &str {
        &self.settings.credentials.access_key_id
    }

    /// Calls `operation` with `body`; returns the JSON response (an empty object for an empty body).
    pub async fn call(&self, operation: &str, body: Value) -> Result<Value, CliError> {
        let path = operation_path(&self.settings.endpoint, operation);
        self.post(&path, SERVICE, &[("content-type", "application/json")], operation, body).await
    }

    /// Calls an operation of the ECR-compatible API (`POST /`, AWS JSON 1.1, SigV4 service `ecr`).
    pub async fn call_ecr(&self, operation: &str, body: Value) -> Result<Value, CliError> {
        let path = format!("{}/", self.settings.endpoint.path().trim_end_matches('/'));
        let target = format!("AmazonEC2ContainerRegistry_V20150921.{operation}");
        let headers = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target.as_str())];
        self.post(&path, "ecr", &headers, operation, body).await
    }

    /// A signed POST of `body` to `path` under the endpoint. `headers` are sent and signed with `host`,
    /// `x-amz-date` and `x-amz-content-sha256` (the server requires `content-type` and `x-amz-target` to be).
    async fn post(
        &self,
        path: &str,
        service: &str,
        headers: &[(&str, &str)],
        operation: &str,
        body: Value,
    ) -> Result<Value, CliError> {
        let endpoint = &self.settings.endpoint;
        let payload =
            serde_json::to_vec(&body).map_err(|e| CliError::Failed(format!("cannot encode the request: {e}")))?;
        let mut url = endpoint.clone();
        url.set_path(path);

        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        let signed = signed_headers(&self.settings, service, &url, headers, &payload, now)?;
        let mut request = self.http.post(url).body(payload);
        for (name, value) in signed.into_iter().filter(|(name, _)| name != "host") {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| CliError::Failed(format!("cannot reach the registry at {endpoint}: {}", chain(&e))))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| CliError::Failed(format!("{operation}: reading the response failed: {}", chain(&e))))?;
        interpret(operation, status, &bytes)
    }
}

/// `extra` with the `host`, `x-amz-date`, `x-amz-content-sha256` and `authorization` headers of a POST to
/// `url`, all signed.
fn signed_headers(
    settings: &Settings,
    service: &str,
    url: &Url,
    extra: &[(&str, &str)],
    payload: &[u8],
    now_unix: i64,
) -> Result<Vec<(String, String)>, CliError> {
    let mut headers: Vec<(String, String)> = vec![("host".to_string(), host_header(url))];
    headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    let params = SigningParams {
        access_key_id: &settings.credentials.access_key_id,
        secret: &settings.credentials.secret_access_key,
        region: &settings.region,
        service,
        now_unix,
    };
    sigv4::sign("POST", url.path(), "", &mut headers, payload, &params).map_err(|e| match e {
        sigv4::SigV4Error::Malformed(why) => CliError::Usage(format!(
            "cannot sign the request: {why} (access key id {:?}, region {:?})",
            settings.credentials.access_key_id, settings.region
        )),
        other => CliError::Usage(format!("cannot sign the request: {other}")),
    })?;
    Ok(headers)
}

/// Maps a response to the JSON value (success) or the error to print.
fn interpret(operation: &str, status: reqwest::StatusCode, body: &[u8]) -> Result<Value, CliError> {
    if status.is_success() {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(Default::default()));
        }
        return serde_json::from_slice(body)
            .map_err(|e| CliError::Failed(format!("{operation}: the registry's response is not JSON ({e})")));
    }
    if let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body)
        && let Some(Value::String(kind)) = fields.get("__type")
    {
        let message = match fields.get("message").or_else(|| fields.get("Message")) {
            Some(Value::String(m)) => m.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        return Err(CliError::Server { kind: kind.clone(), message });
    }
    let text = String::from_utf8_lossy(body);
    let snippet: String = text.trim().chars().take(200).map(|c| if c.is_control() { ' ' } else { c }).collect();
    let mut message = format!("{operation}: the registry answered HTTP {status}");
    if status.is_redirection() {
        message.push_str(" (a redirect: check --endpoint, e.g. http vs https)");
    }
    if !snippet.is_empty() {
        message.push_str(": ");
        message.push_str(&snippet);
    }
    Err(CliError::Failed(message))
}

/// An error and its causes, e.g. "error sending request: connection refused".
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn profiles() -> Profiles {
        Profiles::parse(
            "[default]\naccess_key_id = FILEKEY\nsecret_access_key = FILESECRET\nendpoint = https://file.example\n\
             [prod]\naccess_key_id = PRODKEY\nsecret_access_key = PRODSECRET\nregion = eu-west-1\n\
             [half]\naccess_key_id = HALF\n",
        )
        .unwrap()
    }

    fn resolve(global: &GlobalArgs, env: &[(&str, &str)], file: Option<&Profiles>) -> Result<Settings, CliError> {
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::resolve(global, |k| env.get(k).cloned(), Some(Path::new("/home/u/.berth/credentials")), file)
    }

    #[test]
    fn environment_credentials_win_over_the_file() {
        let s = resolve(
            &GlobalArgs::default(),
            &[("BERTH_ACCESS_KEY_ID", "ENVKEY"), ("BERTH_SECRET_ACCESS_KEY", "ENVSECRET")],
            Some(&profiles()),
        )
        .unwrap();
        assert_eq!(s.credentials.access_key_id, "ENVKEY");
        assert_eq!(s.credentials.secret_access_key.expose(), "ENVSECRET");
        assert_eq!(s.endpoint.as_str(), "https://file.example/", "the profile still provides the endpoint");
        assert_eq!(s.region, "us-east-1");
    }

    #[test]
    fn file_profiles_and_defaults() {
        let s = resolve(&GlobalArgs::default(), &[], Some(&profiles())).unwrap();
        assert_eq!(s.credentials.access_key_id, "FILEKEY");
        let global = GlobalArgs { profile: Some("prod".into()), ..Default::default() };
        let s = resolve(&global, &[], Some(&profiles())).unwrap();
        assert_eq!(s.credentials.access_key_id, "PRODKEY");
        assert_eq!(s.region, "eu-west-1");
        assert_eq!(s.endpoint.as_str(), "http://127.0.0.1:5000/");
        let global = GlobalArgs {
            profile: Some("prod".into()),
            endpoint: Some("http://flag.example:8080/".into()),
            region: Some("ap-south-1".into()),
            ca_cert: None,
        };
        let s = resolve(&global, &[], Some(&profiles())).unwrap();
        assert_eq!(s.endpoint.as_str(), "http://flag.example:8080/");
        assert_eq!(s.region, "ap-south-1");
    }

    #[test]
    fn missing_or_partial_credentials_are_usage_errors() {
        let e = resolve(&GlobalArgs::default(), &[], None).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let text = e.to_string();
        for needle in ["BERTH_ACCESS_KEY_ID", "BERTH_SECRET_ACCESS_KEY", "/home/u/.berth/credentials", "[default]"] {
            assert!(text.contains(needle), "{text}");
        }
        let e = resolve(&GlobalArgs::default(), &[("BERTH_ACCESS_KEY_ID", "K")], Some(&profiles())).unwrap_err();
        assert!(e.to_string().contains("BERTH_SECRET_ACCESS_KEY is not"), "{e}");
        let global = GlobalArgs { profile: Some("half".into()), ..Default::default() };
        let e = resolve(&global, &[], Some(&profiles())).unwrap_err();
        assert!(e.to_string().contains("needs both"), "{e}");
        let global = GlobalArgs { profile: Some("nope".into()), ..Default::default() };
        let e = resolve(&global, &[("BERTH_ACCESS_KEY_ID", "K"), ("BERTH_SECRET_ACCESS_KEY", "S")], Some(&profiles()))
            .unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("[nope] not found"), "{e}");
        assert!(!format!("{:?}", resolve(&GlobalArgs::default(), &[], Some(&profiles()))).contains("FILESECRET"));
    }

    #[test]
    fn endpoints() {
        assert!(parse_endpoint("ftp://x").is_err());
        assert!(parse_endpoint("127.0.0.1:5000").is_err());
        assert!(parse_endpoint("http://u:p@x").is_err());
        let u = parse_endpoint("https://r.example").unwrap();
        assert_eq!(host_header(&u), "r.example");
        assert_eq!(operation_path(&u, "ListUsers"), "/admin/v1/ListUsers");
        let u = parse_endpoint("http://127.0.0.1:5000").unwrap();
        assert_eq!(host_header(&u), "127.0.0.1:5000");
        let u = parse_endpoint("https://r.example:443/berth/").unwrap();
        assert_eq!(host_header(&u), "r.example", "default ports are not part of Host");
        assert_eq!(operation_path(&u, "ListUsers"), "/berth/admin/v1/ListUsers");
        let u = parse_endpoint("http://[::1]:5000").unwrap();
        assert_eq!(host_header(&u), "[::1]:5000");
    }

    #[test]
    fn requests_are_signed_as_the_server_verifies_them() {
        let global = GlobalArgs { endpoint: Some("http://127.0.0.1:5000".into()), ..Default::default() };
        let settings =
            resolve(&global, &[("BERTH_ACCESS_KEY_ID", "BKIATEST"), ("BERTH_SECRET_ACCESS_KEY", "s3cret")], None)
                .unwrap();
        let mut url = settings.endpoint.clone();
        url.set_path(&operation_path(&settings.endpoint, "ListUsers"));
        let now = 1_700_000_000;
        let headers = signed_headers(&settings, SERVICE, &url, &[], b"{}", now).unwrap();
        let get = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        assert_eq!(get("host").as_deref(), Some("127.0.0.1:5000"));
        let auth = sigv4::parse_authorization(&get("authorization").unwrap()).unwrap();
        assert_eq!(auth.access_key_id, "BKIATEST");
        assert_eq!((auth.region.as_str(), auth.service.as_str()), ("us-east-1", "berth"));
        assert_eq!(auth.signed_headers, ["host", "x-amz-content-sha256", "x-amz-date"]);
        let mut received = headers.clone();
        received.push(("content-type".into(), "application/json".into()));
        let input = sigv4::CanonicalInput {
            method: "POST".into(),
            path: "/admin/v1/ListUsers".into(),
            query: String::new(),
            headers: received,
            payload_sha256: sigv4::payload_sha256(b"{}"),
        };
        sigv4::verify(&input, &auth, &Secret::new("s3cret"), now + 60).unwrap();
        assert!(sigv4::verify(&input, &auth, &Secret::new("other"), now).is_err());

        let bad = GlobalArgs { region: Some("eu west".into()), ..global };
        let settings = resolve(&bad, &[("BERTH_ACCESS_KEY_ID", "K"), ("BERTH_SECRET_ACCESS_KEY", "S")], None).unwrap();
        assert_eq!(signed_headers(&settings, SERVICE, &url, &[], b"{}", now).unwrap_err().exit_code(), 2);
        assert!(!format!("{settings:?}").contains("\"S\""), "Debug hides the secret");
    }

    #[test]
    fn responses_map_to_values_and_errors() {
        use reqwest::StatusCode;
        assert_eq!(interpret("Op", StatusCode::OK, b"{\"a\":1}").unwrap(), serde_json::json!({"a": 1}));
        assert_eq!(interpret("Op", StatusCode::OK, b"").unwrap(), serde_json::json!({}));
        assert!(interpret("Op", StatusCode::OK, b"<html>").is_err());
        let e = interpret(
            "Op",
            StatusCode::FORBIDDEN,
            br#"{"__type":"AccessDeniedException","message":"not allowed: berth:ListUsers"}"#,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "AccessDeniedException: not allowed: berth:ListUsers");
        assert_eq!(e.exit_code(), 1);
        let e = interpret("Op", StatusCode::BAD_GATEWAY, b"upstream\ndown").unwrap_err();
        assert_eq!(e.to_string(), "Op: the registry answered HTTP 502 Bad Gateway: upstream down");
        let e = interpret("Op", StatusCode::MOVED_PERMANENTLY, b"").unwrap_err();
        assert!(e.to_string().contains("redirect"), "{e}");
    }
}
