//! Upload sessions: monolithic, POST+PUT, chunked, streamed, mount, cancel, resume, bad input.

use berth_oci::Digest;
use futures_util::stream;
use reqwest::{Body, StatusCode};

use crate::support::*;

async fn start_session(s: &Server, repo: &str) -> String {
    let r = s.http.post(s.url(&format!("/v2/{repo}/blobs/uploads/"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&r, "range"), "0-0");
    assert!(r.headers().contains_key("docker-upload-uuid"));
    assert!(r.headers().contains_key("oci-chunk-min-length"));
    header(&r, "location")
}

#[tokio::test]
async fn post_then_put() {
    let s = Server::start();
    let data = bytes(10, 70_000);
    let d = Digest::sha256_of(&data);
    let loc = start_session(&s, "u").await;
    let r = s.http.put(s.url(&format!("{loc}?digest={d}"))).body(data.clone()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, "location"), format!("/v2/u/blobs/{d}"));
    assert_eq!(header(&r, "docker-content-digest"), d.to_string());
    assert_eq!(s.get(&format!("/v2/u/blobs/{d}")).await.bytes().await.unwrap().as_ref(), &data[..]);
    // The session is gone once finished.
    assert_eq!(s.get(&loc).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn chunked_upload_with_content_range() {
    let s = Server::start();
    let data = bytes(11, 300_000);
    let d = Digest::sha256_of(&data);
    let mut loc = start_session(&s, "c").await;
    for (i, chunk) in data.chunks(100_000).enumerate() {
        let start = i * 100_000;
        let r = s
            .http
            .patch(s.url(&loc))
            .header("content-range", format!("{}-{}", start, start + chunk.len() - 1))
            .header("content-type", "application/octet-stream")
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        assert_eq!(header(&r, "range"), format!("0-{}", start + chunk.len() - 1));
        loc = header(&r, "location");
        let st = s.get(&loc).await;
        assert_eq!(st.status(), StatusCode::NO_CONTENT);
        assert_eq!(header(&st, "range"), format!("0-{}", start + chunk.len() - 1));
    }
    // A chunk that does not continue the upload (repeated / out of order) is refused and changes nothing.
    let r = s.http.patch(s.url(&loc)).header("content-range", "0-9").body(vec![0u8; 10]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&r, "range"), "0-299999");
    let r =
        s.http.patch(s.url(&loc)).header("content-range", "400000-400009").body(vec![0u8; 10]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    let r = s.http.put(s.url(&format!("{loc}?digest={d}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(s.get(&format!("/v2/c/blobs/{d}")).await.bytes().await.unwrap().as_ref(), &data[..]);
}

#[tokio::test]
async fn streamed_patch_without_content_range() {
    let s = Server::start();
    let data = bytes(12, 2_000_000);
    let d = Digest::sha256_of(&data);
    let loc = start_session(&s, "stream").await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = data.chunks(65_536).map(|c| Ok(c.to_vec())).collect();
    let r = s.http.patch(s.url(&loc)).body(Body::wrap_stream(stream::iter(chunks))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let loc = header(&r, "location");
    let r = s.http.put(s.url(&format!("{loc}?digest={d}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(s.get(&format!("/v2/stream/blobs/{d}")).await.bytes().await.unwrap().as_ref(), &data[..]);
}

#[tokio::test]
async fn digest_mismatch_stores_nothing() {
    let s = Server::start();
    let wrong = Digest::sha256_of(b"something else");
    let loc = start_session(&s, "mm").await;
    let r = s.http.put(s.url(&format!("{loc}?digest={wrong}"))).body("actual content").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    assert_eq!(s.head(&format!("/v2/mm/blobs/{wrong}")).await.status(), StatusCode::NOT_FOUND);
    let actual = Digest::sha256_of(b"actual content");
    assert_eq!(s.head(&format!("/v2/mm/blobs/{actual}")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(s.get(&loc).await.status(), StatusCode::NOT_FOUND, "the failed session is discarded");

    // Monolithic form too.
    let r = s.http.post(s.url(&format!("/v2/mm/blobs/uploads/?digest={wrong}"))).body("x").send().await.unwrap();
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    let r = s.http.put(s.url(&loc)).body("x").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "PUT without digest");
}

#[tokio::test]
async fn an_aborted_body_leaves_no_blob_and_the_session_resumes() {
    let s = Server::start();
    let data = bytes(13, 200_000);
    let d = Digest::sha256_of(&data);
    let loc = start_session(&s, "abort").await;
    let first = data[..100_000].to_vec();
    let broken: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(first.clone()), Err(std::io::Error::other("client went away"))];
    let r = s.http.patch(s.url(&loc)).body(Body::wrap_stream(stream::iter(broken))).send().await;
    assert!(r.is_err() || r.unwrap().status().is_client_error());
    // The session holds nothing of the broken request, and no blob appeared.
    let st = s.get(&loc).await;
    assert_eq!(st.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&st, "range"), "0-0");
    assert_eq!(s.head(&format!("/v2/abort/blobs/{d}")).await.status(), StatusCode::NOT_FOUND);
    // Retrying from the recorded offset completes the blob correctly.
    let r = s.http.patch(s.url(&loc)).header("content-range", "0-99999").body(first).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = s.http.put(s.url(&format!("{loc}?digest={d}"))).body(data[100_000..].to_vec()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(s.get(&format!("/v2/abort/blobs/{d}")).await.bytes().await.unwrap().as_ref(), &data[..]);
}

#[tokio::test]
async fn cancel_and_unknown_sessions() {
    let s = Server::start();
    let loc = start_session(&s, "cx").await;
    assert_eq!(s.http.delete(s.url(&loc)).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    let r = s.get(&loc).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
    for id in ["3f1c1e1e-0000-4000-8000-000000000000", "not-a-uuid", "..%2F..%2Fmeta.db"] {
        let r = s.http.patch(s.url(&format!("/v2/cx/blobs/uploads/{id}"))).body("x").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{id}");
        assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
    }
    // A session belongs to the repository it was started in.
    let loc = start_session(&s, "owner").await;
    let other = loc.replace("/v2/owner/", "/v2/other/");
    assert_eq!(s.get(&other).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cross_repository_mount() {
    let s = Server::start();
    let d = s.push_blob("src/repo", b"shared layer").await;
    let r = s.http.post(s.url(&format!("/v2/dst/blobs/uploads/?mount={d}&from=src/repo"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, "location"), format!("/v2/dst/blobs/{d}"));
    assert_eq!(s.get(&format!("/v2/dst/blobs/{d}")).await.bytes().await.unwrap().as_ref(), b"shared layer");

    // Not mountable: an ordinary session instead.
    let missing = Digest::sha256_of(b"nowhere");
    let r = s.http.post(s.url(&format!("/v2/dst/blobs/uploads/?mount={missing}&from=src/repo"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert!(header(&r, "location").starts_with("/v2/dst/blobs/uploads/"));
}

#[tokio::test]
async fn sessions_resume_after_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let data = bytes(14, 150_000);
    let d = Digest::sha256_of(&data);
    let loc = {
        let mut s = Server::start_in(&dir);
        let loc = start_session(&s, "resume").await;
        let r = s
            .http
            .patch(s.url(&loc))
            .header("content-range", "0-99999")
            .body(data[..100_000].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        assert!(s.stop().success(), "graceful shutdown exits 0");
        loc
    };
    let s = Server::start_in(&dir);
    let st = s.get(&loc).await;
    assert_eq!(header(&st, "range"), "0-99999");
    let r = s.http.put(s.url(&format!("{loc}?digest={d}"))).body(data[100_000..].to_vec()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(s.get(&format!("/v2/resume/blobs/{d}")).await.bytes().await.unwrap().as_ref(), &data[..]);
}

#[tokio::test]
async fn identical_blobs_are_stored_once() {
    let s = Server::start();
    let data = bytes(15, 10_000);
    let d = s.push_blob("one", &data).await;
    assert_eq!(s.push_blob("two", &data).await, d);
    assert_eq!(s.push_blob("one", &data).await, d, "pushing again is idempotent");
    let hex = d.hex();
    let path = s.data_dir.join("blobs/sha256").join(&hex[..2]).join(hex);
    assert!(path.exists(), "{path:?}");
    let copies = walk(&s.data_dir.join("blobs")).into_iter().filter(|p| p.ends_with(hex)).count();
    assert_eq!(copies, 1);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

#[tokio::test]
async fn bytes_of_a_failed_chunk_never_reach_the_blob() {
    let s = Server::start();
    let first = bytes(16, 100_000);
    let loc = start_session(&s, "stray").await;
    let r = s.http.patch(s.url(&loc)).header("content-range", "0-99999").body(first.clone()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let broken: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(bytes(17, 60_000)), Err(std::io::Error::other("cut"))];
    let _ = s.http.patch(s.url(&loc)).body(Body::wrap_stream(stream::iter(broken))).send().await;
    // Finishing without a body commits exactly what was acknowledged.
    let d = Digest::sha256_of(&first);
    let r = s.http.put(s.url(&format!("{loc}?digest={d}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let got = s.get(&format!("/v2/stray/blobs/{d}")).await.bytes().await.unwrap();
    assert_eq!(got.len(), first.len());
    assert_eq!(Digest::sha256_of(&got), d);
}

#[tokio::test]
async fn open_sessions_are_capped_per_repository_and_per_principal() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("berth.toml");
    std::fs::write(&config, "[uploads]\nmax_open_per_repository = 3\nmax_open_per_principal = 5\n").unwrap();
    let s = Server::start_with(&tmp.path().join("data"), &[("BERTH_CONFIG", config.to_str().unwrap())]);
    let post = async |repo: &str| s.http.post(s.url(&format!("/v2/{repo}/blobs/uploads/"))).send().await.unwrap();
    let refused = async |r: reqwest::Response, naming: &str| {
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], "TOOMANYREQUESTS");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(naming) && message.contains("upload sessions"), "{message}");
    };

    // A monolithic push needs no session; three sessions fill the repository.
    s.push_blob("caps/one", b"makes the repository exist").await;
    let mut sessions = Vec::new();
    for _ in 0..3 {
        sessions.push(start_session(&s, "caps/one").await);
    }
    refused(post("caps/one").await, "caps/one").await;
    s.push_blob("caps/one", b"monolithic pushes are not capped").await;

    // The ECR API shares the caps and refuses with an error SDKs do not retry.
    crate::ecr::require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let r = crate::ecr::aws(&s, tmp.path(), ADMIN_KEY, &["initiate-layer-upload", "--repository-name", "caps/one"]);
    assert!(r.error("InvalidParameterException").contains("upload sessions"), "{}", r.stderr);

    // Cancelling a session makes room.
    let r = s.http.delete(s.url(&sessions.pop().unwrap())).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    start_session(&s, "caps/one").await;

    // The principal has three; two more elsewhere reach its cap of five, in any repository.
    start_session(&s, "caps/two").await;
    start_session(&s, "caps/two").await;
    refused(post("caps/three").await, "user/admin").await;
}
