//! Manifests: push/pull by tag and digest, validation, indexes, Docker types, referrers, deletes, races.

use berth_oci::Digest;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

#[tokio::test]
async fn push_and_pull_by_tag_and_digest() {
    let s = Server::start();
    let (body, d) = s.push_image("app", "v1", b"layer").await;
    for reference in ["v1".to_string(), d.to_string()] {
        let r = s.get(&format!("/v2/app/manifests/{reference}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "content-type"), OCI_MANIFEST);
        assert_eq!(header(&r, "docker-content-digest"), d.to_string());
        assert_eq!(r.bytes().await.unwrap().as_ref(), &body[..]);
        let r = s.head(&format!("/v2/app/manifests/{reference}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "content-length"), body.len().to_string());
    }
    let r = s.get("/v2/app/manifests/nope").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
}

#[tokio::test]
async fn push_response_headers() {
    let s = Server::start();
    let config = s.push_blob("h", b"{}").await;
    let body = image_manifest((&config, 2), &[], None);
    let r = s.put_manifest("h", "latest", OCI_MANIFEST, &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let d = Digest::sha256_of(&body);
    assert_eq!(header(&r, "location"), format!("/v2/h/manifests/{d}"));
    assert_eq!(header(&r, "docker-content-digest"), d.to_string());
    assert!(!r.headers().contains_key("oci-subject"));
}

#[tokio::test]
async fn missing_references_are_refused() {
    let s = Server::start();
    let config = s.push_blob("m", b"{}").await;
    let missing = Digest::sha256_of(b"never pushed");
    let body = image_manifest((&config, 2), &[(&missing, 12)], None);
    let r = s.put_manifest("m", "v1", OCI_MANIFEST, &body).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");
    assert_eq!(s.get("/v2/m/manifests/v1").await.status(), StatusCode::NOT_FOUND);

    // A blob pushed to another repository does not count.
    let elsewhere = s.push_blob("other", b"layer elsewhere").await;
    let body = image_manifest((&config, 2), &[(&elsewhere, 15)], None);
    let r = s.put_manifest("m", "v1", OCI_MANIFEST, &body).await;
    assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");

    // An index whose child is missing.
    let index = json!({"schemaVersion":2,"mediaType":OCI_INDEX,"manifests":[descriptor(OCI_MANIFEST,&missing,10)]});
    let r = s.put_manifest("m", "idx", OCI_INDEX, &serde_json::to_vec(&index).unwrap()).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");
}

#[tokio::test]
async fn invalid_manifests_are_manifest_invalid() {
    let s = Server::start();
    let config = s.push_blob("bad", b"{}").await;
    let good = image_manifest((&config, 2), &[], None);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (OCI_MANIFEST, b"{not json".to_vec()),
        (OCI_MANIFEST, b"[]".to_vec()),
        (OCI_MANIFEST, br#"{"schemaVersion":1}"#.to_vec()),
        (OCI_INDEX, good.clone()),       // body says image manifest, header says index
        (DOCKER_MANIFEST, good.clone()), // mediaType mismatch
        ("application/vnd.docker.distribution.manifest.v1+prettyjws", br#"{"schemaVersion":1,"name":"x"}"#.to_vec()),
    ];
    for (ct, body) in cases {
        let r = s.put_manifest("bad", "v1", ct, &body).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{ct} {}", String::from_utf8_lossy(&body));
        assert_eq!(error_code(r).await, "MANIFEST_INVALID");
    }
    // Pushed by digest, the content must hash to it.
    let wrong = Digest::sha256_of(b"other");
    let r = s.put_manifest("bad", &wrong.to_string(), OCI_MANIFEST, &good).await;
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    // An invalid tag.
    let r = s.put_manifest("bad", ".hidden", OCI_MANIFEST, &good).await;
    assert_eq!(error_code(r).await, "TAG_INVALID");
}

/// A reference that is neither a tag nor a digest names nothing: GET and HEAD find no manifest (404
/// `MANIFEST_UNKNOWN`, as Distribution answers), whoever asks; a push to it is still a 400 saying why.
#[tokio::test]
async fn reading_an_invalid_reference_finds_no_manifest() {
    let s = Server::start();
    let (body, _) = s.push_image("refs", "v1", b"refs layer").await;
    let long = "t".repeat(129);
    for (reference, put_code) in [
        ("-dash", "TAG_INVALID"),
        (".hidden", "TAG_INVALID"),
        (long.as_str(), "TAG_INVALID"),
        ("sha256:zz", "DIGEST_INVALID"),
        ("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b785", "DIGEST_INVALID"),
    ] {
        let path = format!("/v2/refs/manifests/{reference}");
        for client in [&s.http, &anonymous_client()] {
            let r = client.get(s.url(&path)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "GET {reference}");
            assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN", "GET {reference}");
            let r = client.head(s.url(&path)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "HEAD {reference}");
        }
        let r = s.put_manifest("refs", reference, OCI_MANIFEST, &body).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "PUT {reference}");
        assert_eq!(error_code(r).await, put_code, "PUT {reference}");
    }
    assert_eq!(s.get("/v2/refs/manifests/v1").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn huge_manifests_are_refused_with_413() {
    let s = Server::start();
    let huge = vec![b' '; 4 * 1024 * 1024 + 1];
    let r = s.put_manifest("big", "v1", OCI_MANIFEST, &huge).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(r).await, "MANIFEST_INVALID");
}

#[tokio::test]
async fn docker_manifest_and_list() {
    let s = Server::start();
    let config = s.push_blob("d", b"{\"os\":\"linux\"}").await;
    let layer = s.push_blob("d", b"layer bytes").await;
    let m = json!({"schemaVersion":2,"mediaType":DOCKER_MANIFEST,
        "config": descriptor("application/vnd.docker.container.image.v1+json", &config, 15),
        "layers":[descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", &layer, 11)]});
    let mb = serde_json::to_vec(&m).unwrap();
    assert_eq!(s.put_manifest("d", "amd64", DOCKER_MANIFEST, &mb).await.status(), StatusCode::CREATED);
    let md = Digest::sha256_of(&mb);
    let mut child = descriptor(DOCKER_MANIFEST, &md, mb.len());
    child["platform"] = json!({"architecture":"amd64","os":"linux"});
    let list = serde_json::to_vec(&json!({"schemaVersion":2,"mediaType":DOCKER_LIST,"manifests":[child]})).unwrap();
    assert_eq!(s.put_manifest("d", "latest", DOCKER_LIST, &list).await.status(), StatusCode::CREATED);
    let r = s.get("/v2/d/manifests/latest").await;
    assert_eq!(header(&r, "content-type"), DOCKER_LIST);
    // A client that only takes image manifests is not handed a list.
    let r = s.http.get(s.url("/v2/d/manifests/latest")).header("accept", DOCKER_MANIFEST).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
}

#[tokio::test]
async fn put_by_digest_with_tag_parameters() {
    let s = Server::start();
    let config = s.push_blob("t", b"{}").await;
    let body = image_manifest((&config, 2), &[], None);
    let d = Digest::sha256_of(&body);
    let r = s
        .http
        .put(s.url(&format!("/v2/t/manifests/{d}?tag=one&tag=two")))
        .header("content-type", OCI_MANIFEST)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let tags: Value = s.get("/v2/t/tags/list").await.json().await.unwrap();
    assert_eq!(tags["tags"], json!(["one", "two"]));
}

#[tokio::test]
async fn referrers_api() {
    let s = Server::start();
    let (subject_body, subject) = s.push_image("ref", "v1", b"base").await;
    let empty = s.push_blob("ref", b"{}").await;
    let mut sig =
        serde_json::from_slice::<Value>(&image_manifest((&empty, 2), &[], Some((&subject, subject_body.len()))))
            .unwrap();
    sig["artifactType"] = json!("application/vnd.example.signature");
    sig["config"]["mediaType"] = json!("application/vnd.oci.empty.v1+json");
    sig["annotations"] = json!({"org.example.signer": "ci"});
    let sig = serde_json::to_vec(&sig).unwrap();
    let sig_digest = Digest::sha256_of(&sig);
    let r = s.put_manifest("ref", &sig_digest.to_string(), OCI_MANIFEST, &sig).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, "oci-subject"), subject.to_string());

    let sbom = image_manifest((&empty, 2), &[], Some((&subject, subject_body.len())));
    assert_eq!(
        s.put_manifest("ref", &Digest::sha256_of(&sbom).to_string(), OCI_MANIFEST, &sbom).await.status(),
        StatusCode::CREATED
    );

    let r = s.get(&format!("/v2/ref/referrers/{subject}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "content-type"), OCI_INDEX);
    let index: Value = r.json().await.unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);

    let r = s.get(&format!("/v2/ref/referrers/{subject}?artifactType=application/vnd.example.signature")).await;
    assert_eq!(header(&r, "oci-filters-applied"), "artifactType");
    let index: Value = r.json().await.unwrap();
    let m = &index["manifests"].as_array().unwrap()[0];
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(m["digest"], json!(sig_digest.to_string()));
    assert_eq!(m["artifactType"], json!("application/vnd.example.signature"));
    assert_eq!(m["annotations"]["org.example.signer"], json!("ci"));
    assert_eq!(m["size"], json!(sig.len()));

    // An unknown subject has an empty list, not an error.
    let r = s.get(&format!("/v2/ref/referrers/{}", Digest::sha256_of(b"unknown"))).await;
    assert_eq!(r.status(), StatusCode::OK);
    let index: Value = r.json().await.unwrap();
    assert_eq!(index["manifests"], json!([]));
    assert_eq!(index["schemaVersion"], json!(2));
}

#[tokio::test]
async fn deleting_tags_and_manifests() {
    let s = Server::start();
    let (_, d) = s.push_image("del", "v1", b"x").await;
    let r = s.http.delete(s.url("/v2/del/manifests/v1")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(s.get("/v2/del/manifests/v1").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        s.get(&format!("/v2/del/manifests/{d}")).await.status(),
        StatusCode::OK,
        "deleting a tag keeps the manifest"
    );

    let r = s
        .put_manifest("del", "v2", OCI_MANIFEST, &s.get(&format!("/v2/del/manifests/{d}")).await.bytes().await.unwrap())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = s.http.delete(s.url(&format!("/v2/del/manifests/{d}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(s.get(&format!("/v2/del/manifests/{d}")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(s.get("/v2/del/manifests/v2").await.status(), StatusCode::NOT_FOUND, "its tags go with it");
    let r = s.http.delete(s.url(&format!("/v2/del/manifests/{d}"))).send().await.unwrap();
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
}

#[tokio::test]
async fn concurrent_pushes_of_one_tag_last_writer_wins() {
    let s = std::sync::Arc::new(Server::start());
    let config = s.push_blob("race", b"{}").await;
    let mut bodies = Vec::new();
    for i in 0..20u8 {
        let layer = s.push_blob("race", &[i; 64]).await;
        bodies.push(image_manifest((&config, 2), &[(&layer, 64)], None));
    }
    let tasks: Vec<_> = bodies
        .iter()
        .cloned()
        .map(|b| {
            let s = s.clone();
            tokio::spawn(async move { s.put_manifest("race", "latest", OCI_MANIFEST, &b).await.status() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::CREATED);
    }
    let r = s.get("/v2/race/manifests/latest").await;
    let served = r.bytes().await.unwrap();
    assert!(bodies.iter().any(|b| b[..] == served[..]), "the tag points at one of the pushed manifests");
}
