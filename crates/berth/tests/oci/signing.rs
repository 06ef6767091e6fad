//! Image signing end to end: the signing configuration through the ECR API, images signed after a push
//! (cosign's `.sig` layout and a referrer, verifiable with the key's public half), and signature
//! requirements refusing unsigned and tampered images on `/v2` and `BatchGetImage` while client-signed
//! images and the signatures themselves stay readable.

use std::time::Duration;

use base64::Engine;
use berth_auth::signing::SigningKey;
use berth_auth::signing::VerifyingKey;
use berth_auth::signing::payload::{self, SIGNATURE_ANNOTATION, SIGNATURE_ARTIFACT_TYPE, SIMPLE_SIGNING_MEDIA_TYPE};
use berth_oci::Digest;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

async fn ecr(s: &Server, op: &str, body: Value) -> (StatusCode, Value) {
    let target = format!("AmazonEC2ContainerRegistry_V20150921.{op}");
    let r = s.signed_post(Some(ADMIN_KEY), "ecr", "/", &[("x-amz-target", &target)], &body).await;
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn profile(name: &str) -> String {
    format!("arn:aws:signer:us-east-1:123456789012:/signing-profiles/{name}")
}

/// Creates the managed key `name`; returns its public key.
async fn create_key(s: &Server, name: &str) -> VerifyingKey {
    let v = s.admin("CreateSigningKey", json!({"keyName": name})).await;
    assert_eq!(v["key"]["managed"], true, "{v}");
    VerifyingKey::from_pem(v["key"]["publicKey"].as_str().unwrap()).unwrap()
}

async fn status(s: &Server, repo: &str, tag: &str) -> Value {
    let (code, v) =
        ecr(s, "DescribeImageSigningStatus", json!({"repositoryName": repo, "imageId": {"imageTag": tag}})).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    v
}

/// Pushes, as a client would, a cosign signature of `digest` by `key` (over `payload`, or over the standard
/// payload when `None`) as the image's `.sig` manifest.
async fn push_signature(s: &Server, repo: &str, digest: &Digest, key: &SigningKey, tampered: bool) {
    let body = payload::payload(&format!("localhost/{repo}"), &digest.to_string(), "test", 1);
    let signature = B64.encode(key.sign(&body));
    // Tampering: the bytes change after signing (another digest claimed), the signature stays.
    let body =
        if tampered { String::from_utf8(body).unwrap().replace("sha256:", "sha256:0").into_bytes() } else { body };
    let layer = s.push_blob(repo, &body).await;
    let config = b"{}";
    let config_digest = s.push_blob(repo, config).await;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", &config_digest, config.len()),
        "layers": [{"mediaType": SIMPLE_SIGNING_MEDIA_TYPE, "digest": layer.to_string(), "size": body.len(),
                    "annotations": {SIGNATURE_ANNOTATION: signature}}],
    });
    let tag = payload::signature_tag(&digest.to_string());
    let r = s.put_manifest(repo, &tag, OCI_MANIFEST, &serde_json::to_vec(&manifest).unwrap()).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
}

async fn require(s: &Server, repo: Option<&str>, keys: &[&str]) {
    let mut body = json!({"keyNames": keys});
    if let Some(r) = repo {
        body["repositoryName"] = json!(r);
    }
    s.admin("PutSignatureRequirement", body).await;
}

/// The message of a 403 `DENIED`.
async fn denied(r: reqwest::Response) -> String {
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "DENIED", "{body}");
    body["errors"][0]["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn signing_configuration_through_the_ecr_api() {
    let s = Server::start();
    let (code, v) = ecr(&s, "GetSigningConfiguration", json!({})).await;
    assert_eq!((code, v["__type"].as_str()), (StatusCode::BAD_REQUEST, Some("SigningConfigurationNotFoundException")));
    let config = json!({"rules": [{"signingProfileArn": profile("release"),
        "repositoryFilters": [{"filter": "team/*", "filterType": "WILDCARD_MATCH"}]}]});
    let (code, v) = ecr(&s, "PutSigningConfiguration", json!({"signingConfiguration": config})).await;
    assert_eq!((code, v["__type"].as_str()), (StatusCode::BAD_REQUEST, Some("ValidationException")), "no such key");
    assert!(v["message"].as_str().unwrap().contains("no signing key release"), "{v}");

    create_key(&s, "release").await;
    let (code, v) = ecr(&s, "PutSigningConfiguration", json!({"signingConfiguration": config})).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    assert_eq!(v["signingConfiguration"], config);
    let (_, v) = ecr(&s, "GetSigningConfiguration", json!({})).await;
    assert_eq!((v["signingConfiguration"].clone(), v["registryId"].as_str()), (config.clone(), Some("000000000000")));

    let bad = json!({"rules": [{"signingProfileArn": "release"}]});
    let (code, _) = ecr(&s, "PutSigningConfiguration", json!({"signingConfiguration": bad})).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "not a profile ARN");
    let (code, v) = s.admin_as(Some(ADMIN_KEY), "DeleteSigningKey", &json!({"keyName": "release"})).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "a key the configuration uses stays: {v}");

    let (code, v) = ecr(&s, "DeleteSigningConfiguration", json!({})).await;
    assert_eq!((code, v["signingConfiguration"].clone()), (StatusCode::OK, config));
    let (code, v) = ecr(&s, "DeleteSigningConfiguration", json!({})).await;
    assert_eq!((code, v["__type"].as_str()), (StatusCode::BAD_REQUEST, Some("SigningConfigurationNotFoundException")));
}

#[tokio::test]
async fn pushed_images_are_signed_in_cosign_layout_and_as_referrers() {
    let s = Server::start();
    let public = create_key(&s, "release").await;
    let config = json!({"rules": [{"signingProfileArn": profile("release"),
        "repositoryFilters": [{"filter": "signed/*", "filterType": "WILDCARD_MATCH"}]}]});
    assert_eq!(ecr(&s, "PutSigningConfiguration", json!({"signingConfiguration": config})).await.0, StatusCode::OK);

    let (_, digest) = s.push_image("signed/app", "1", &bytes(1, 300)).await;
    let mut statuses = Value::Null;
    for _ in 0..100 {
        statuses = status(&s, "signed/app", "1").await["signingStatuses"].clone();
        if statuses[0]["status"] == "COMPLETE" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(statuses, json!([{"signingProfileArn": profile("release"), "status": "COMPLETE"}]));

    // cosign's layout: the `.sig` tag, a simple signing layer, its signature annotation.
    let tag = payload::signature_tag(&digest.to_string());
    let r = s
        .http
        .get(s.url(&format!("/v2/signed/app/manifests/{tag}")))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let sig: Value = r.json().await.unwrap();
    let layer = &sig["layers"][0];
    assert_eq!(layer["mediaType"], SIMPLE_SIGNING_MEDIA_TYPE);
    let body =
        s.get(&format!("/v2/signed/app/blobs/{}", layer["digest"].as_str().unwrap())).await.bytes().await.unwrap();
    let signature = B64.decode(layer["annotations"][SIGNATURE_ANNOTATION].as_str().unwrap()).unwrap();
    assert!(public.verify(&body, &signature), "berth's signature verifies with the key's public half");
    let claims = payload::parse(&body).unwrap();
    assert_eq!(claims.manifest_digest, digest.to_string());
    assert!(claims.docker_reference.ends_with("/signed/app"), "{claims:?}");

    // And as a referrer of the image.
    let referrers: Value = s.get(&format!("/v2/signed/app/referrers/{digest}")).await.json().await.unwrap();
    let kinds: Vec<&str> =
        referrers["manifests"].as_array().unwrap().iter().filter_map(|m| m["artifactType"].as_str()).collect();
    assert!(kinds.contains(&SIGNATURE_ARTIFACT_TYPE), "{referrers}");

    // A repository no rule matches: no status, no signature.
    s.push_image("plain/app", "1", &bytes(2, 300)).await;
    assert_eq!(status(&s, "plain/app", "1").await["signingStatuses"], json!([]));
}

#[tokio::test]
async fn signature_requirements_refuse_unsigned_and_tampered_images() {
    let s = Server::start();
    create_key(&s, "release").await;
    let ci = SigningKey::generate();
    let v = s.admin("TrustSigningKey", json!({"keyName": "ci", "publicKey": ci.verifying_key().to_pem()})).await;
    assert_eq!(v["key"]["managed"], false);

    let (_, unsigned) = s.push_image("req/app", "unsigned", &bytes(1, 200)).await;
    let (_, signed) = s.push_image("req/app", "signed", &bytes(2, 200)).await;
    let (_, tampered) = s.push_image("req/app", "tampered", &bytes(3, 200)).await;
    let (_, elsewhere) = s.push_image("other/app", "1", &bytes(4, 200)).await;
    push_signature(&s, "req/app", &signed, &ci, false).await;
    push_signature(&s, "req/app", &tampered, &ci, true).await;
    push_signature(&s, "req/app", &unsigned, &SigningKey::generate(), false).await; // an untrusted key

    require(&s, Some("req/app"), &["ci"]).await;
    for reference in ["unsigned", "tampered"] {
        let message = denied(s.get(&format!("/v2/req/app/manifests/{reference}")).await).await;
        assert!(message.contains("is not signed by a trusted key") && message.contains("by ci"), "{message}");
        assert_eq!(s.head(&format!("/v2/req/app/manifests/{reference}")).await.status(), StatusCode::FORBIDDEN);
    }
    let message = denied(s.get(&format!("/v2/req/app/manifests/{unsigned}")).await).await;
    assert!(message.contains(&payload::signature_tag(&unsigned.to_string())), "names the missing signature: {message}");
    for reference in ["signed".to_string(), signed.to_string()] {
        assert_eq!(s.get(&format!("/v2/req/app/manifests/{reference}")).await.status(), StatusCode::OK);
    }
    // The signatures stay readable, so that clients can verify.
    let tag = payload::signature_tag(&signed.to_string());
    assert_eq!(s.get(&format!("/v2/req/app/manifests/{tag}")).await.status(), StatusCode::OK);

    // BatchGetImage: the same rule.
    let ids = json!([{"imageTag": "unsigned"}, {"imageTag": "signed"}]);
    let (code, v) = ecr(&s, "BatchGetImage", json!({"repositoryName": "req/app", "imageIds": ids})).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    assert_eq!(v["images"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["failures"][0]["failureCode"], "ImageInaccessible", "{v}");

    // The registry's requirement applies where a repository has none of its own.
    assert_eq!(s.get(&format!("/v2/other/app/manifests/{elsewhere}")).await.status(), StatusCode::OK);
    require(&s, None, &["release"]).await;
    denied(s.get(&format!("/v2/other/app/manifests/{elsewhere}")).await).await;
    assert_eq!(s.get("/v2/req/app/manifests/signed").await.status(), StatusCode::OK, "the repository's own wins");
    require(&s, None, &[]).await;
    assert_eq!(s.get(&format!("/v2/other/app/manifests/{elsewhere}")).await.status(), StatusCode::OK);

    // A verdict is not kept past a key change: without the trusted key, nothing it signed passes.
    s.admin("DeleteSigningKey", json!({"keyName": "ci"})).await;
    let message = denied(s.get("/v2/req/app/manifests/signed").await).await;
    assert!(message.contains("none of the required keys exists"), "{message}");
    require(&s, Some("req/app"), &[]).await;
    assert_eq!(s.get("/v2/req/app/manifests/unsigned").await.status(), StatusCode::OK);
}
