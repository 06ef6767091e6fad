//! Token clients (docker, containerd, reggie-style libraries) follow the `WWW-Authenticate: Bearer` challenge
//! of a 401: they ask `/token` for exactly the scope it names, then retry with that token. So every `/v2`
//! endpoint's challenge must name what the endpoint needs, or such a client can never use it (an upload's
//! status once answered with a `pull` scope, then refused the pull token). Each endpoint here is driven
//! that way by a user allowed everything on the repository, and the retry must do what was asked.

use std::collections::HashMap;

use berth_oci::Digest;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

const REPO: &str = "chal/app";

/// The parameters of a `Bearer` challenge (`realm`, `service`, `scope`), quoted values unquoted.
fn bearer_challenge(header: &str) -> HashMap<String, String> {
    let rest = header.strip_prefix("Bearer ").unwrap_or_else(|| panic!("not a Bearer challenge: {header}"));
    let mut params = HashMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "unquoted value in {header}");
        let value: String = chars.by_ref().take_while(|c| *c != '"').collect();
        params.insert(key.trim().to_string(), value);
        if chars.next_if_eq(&',').is_none() {
            break;
        }
    }
    params
}

/// One request a client makes: method, path, body (with its content type).
struct Call {
    method: Method,
    path: String,
    body: Option<(&'static str, Vec<u8>)>,
    /// What the retry with the token must answer.
    want: StatusCode,
    /// The actions the challenge must name.
    scope: &'static str,
}

impl Call {
    fn new(method: Method, path: String, want: u16, scope: &'static str) -> Call {
        Call { method, path, body: None, want: StatusCode::from_u16(want).unwrap(), scope }
    }

    fn body(mut self, content_type: &'static str, body: Vec<u8>) -> Call {
        self.body = Some((content_type, body));
        self
    }

    fn send(&self, s: &Server, client: &Client, auth: Option<&str>) -> reqwest::RequestBuilder {
        let mut r = client.request(self.method.clone(), s.url(&self.path));
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        if let Some((ct, body)) = &self.body {
            r = r.header("content-type", *ct).body(body.clone());
        }
        r
    }
}

/// A new upload session of `REPO`, started by the owner; its id.
async fn new_upload(s: &Server, owner: &Client) -> String {
    let r = owner.post(s.url(&format!("/v2/{REPO}/blobs/uploads/"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    header(&r, "location").rsplit('/').next().unwrap().to_string()
}

#[tokio::test]
async fn every_v2_endpoint_can_be_used_by_following_its_challenge() {
    let s = Server::start();
    s.admin("CreateUser", json!({"userName": "owner", "password": "owner-password"})).await;
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*",
        "Resource": format!("arn:aws:ecr:*:*:repository/{REPO}")}]});
    s.admin("PutPolicy", json!({"target": {"user": "owner"}, "policyText": policy.to_string()})).await;
    let owner = client_as("owner", "owner-password");

    let (manifest, digest) = s.push_image(REPO, "v1", b"challenge layer").await;
    let parsed: Value = serde_json::from_slice(&manifest).unwrap();
    let layer = parsed["layers"][0]["digest"].as_str().unwrap().to_string();
    assert_eq!(s.put_manifest(REPO, "doomed", OCI_MANIFEST, &manifest).await.status(), StatusCode::CREATED);
    let spare = s.push_blob(REPO, b"a blob to delete").await;
    let data = b"uploaded after following a challenge".to_vec();
    let data_digest = Digest::sha256_of(&data);
    let (patched, finished, status, cancelled) = (
        new_upload(&s, &owner).await,
        new_upload(&s, &owner).await,
        new_upload(&s, &owner).await,
        new_upload(&s, &owner).await,
    );

    let uploads = |id: &str| format!("/v2/{REPO}/blobs/uploads/{id}");
    let calls = [
        Call::new(Method::GET, format!("/v2/{REPO}/tags/list"), 200, "pull"),
        Call::new(Method::GET, format!("/v2/{REPO}/manifests/v1"), 200, "pull"),
        Call::new(Method::HEAD, format!("/v2/{REPO}/manifests/{digest}"), 200, "pull"),
        Call::new(Method::PUT, format!("/v2/{REPO}/manifests/pushed"), 201, "pull,push").body(OCI_MANIFEST, manifest),
        Call::new(Method::DELETE, format!("/v2/{REPO}/manifests/doomed"), 202, "delete"),
        Call::new(Method::GET, format!("/v2/{REPO}/blobs/{layer}"), 200, "pull"),
        Call::new(Method::HEAD, format!("/v2/{REPO}/blobs/{layer}"), 200, "pull"),
        Call::new(Method::DELETE, format!("/v2/{REPO}/blobs/{spare}"), 202, "delete"),
        Call::new(Method::POST, format!("/v2/{REPO}/blobs/uploads/"), 202, "pull,push"),
        Call::new(Method::PATCH, uploads(&patched), 202, "pull,push").body("application/octet-stream", data.clone()),
        Call::new(Method::PUT, format!("{}?digest={data_digest}", uploads(&finished)), 201, "pull,push")
            .body("application/octet-stream", data),
        Call::new(Method::GET, uploads(&status), 204, "pull,push"),
        Call::new(Method::DELETE, uploads(&cancelled), 204, "pull,push"),
        Call::new(Method::GET, format!("/v2/{REPO}/referrers/{digest}"), 200, "pull"),
    ];

    let anonymous = anonymous_client();
    let mut wrong = Vec::new();
    for call in &calls {
        let what = format!("{} {}", call.method, call.path);
        let r = call.send(&s, &anonymous, None).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{what}: anonymous");
        let challenge = bearer_challenge(&header(&r, "www-authenticate"));
        let scope = &challenge["scope"];
        if scope != &format!("repository:{REPO}:{}", call.scope) {
            wrong.push(format!("{what}: challenge scope {scope}, want {}", call.scope));
        }
        // As a token client does: the realm, with the service and scope the challenge named.
        let token = owner
            .get(&challenge["realm"])
            .query(&[("service", challenge["service"].as_str()), ("scope", scope.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(token.status(), StatusCode::OK, "{what}: /token");
        let token: Value = token.json().await.unwrap();
        let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
        let r = call.send(&s, &anonymous, Some(&bearer)).send().await.unwrap();
        if r.status() != call.want {
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            wrong.push(format!(
                "{what}: the retry with the challenge's token answered {status}, want {}: {body}",
                call.want
            ));
        }
    }
    assert!(wrong.is_empty(), "{} of {} endpoints:\n{}", wrong.len(), calls.len(), wrong.join("\n"));
}
