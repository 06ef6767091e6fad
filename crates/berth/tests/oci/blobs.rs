//! Reading and deleting blobs.

use berth_oci::{Algorithm, Digest};
use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn get_and_head_a_blob() {
    let s = Server::start();
    let data = bytes(1, 100_000);
    let d = s.push_blob("lib/app", &data).await;

    let r = s.head(&format!("/v2/lib/app/blobs/{d}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "content-length"), "100000");
    assert_eq!(header(&r, "docker-content-digest"), d.to_string());
    assert_eq!(header(&r, "docker-distribution-api-version"), "registry/2.0");

    let r = s.get(&format!("/v2/lib/app/blobs/{d}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "accept-ranges"), "bytes");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[..]);
}

#[tokio::test]
async fn blobs_are_scoped_to_their_repository() {
    let s = Server::start();
    let d = s.push_blob("a", b"only in a").await;
    let r = s.get(&format!("/v2/b/blobs/{d}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "BLOB_UNKNOWN");
    assert_eq!(s.head(&format!("/v2/b/blobs/{d}")).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn range_requests() {
    let s = Server::start();
    let data = bytes(2, 1000);
    let d = s.push_blob("r", &data).await;
    let get_range = |range: &'static str| {
        let req = s.http.get(s.url(&format!("/v2/r/blobs/{d}"))).header("range", range);
        async move { req.send().await.unwrap() }
    };

    let r = get_range("bytes=10-19").await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&r, "content-range"), "bytes 10-19/1000");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[10..20]);

    let r = get_range("bytes=990-").await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[990..]);

    let r = get_range("bytes=-5").await;
    assert_eq!(header(&r, "content-range"), "bytes 995-999/1000");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[995..]);

    let r = get_range("bytes=1000-2000").await;
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&r, "content-range"), "bytes */1000");
    assert_eq!(error_code(r).await, "RANGE_INVALID");

    let r = get_range("bytes=oops").await;
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
}

#[tokio::test]
async fn delete_a_blob() {
    let s = Server::start();
    let d = s.push_blob("del", b"bye").await;
    let r = s.http.delete(s.url(&format!("/v2/del/blobs/{d}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(s.head(&format!("/v2/del/blobs/{d}")).await.status(), StatusCode::NOT_FOUND);
    let r = s.http.delete(s.url(&format!("/v2/del/blobs/{d}"))).send().await.unwrap();
    assert_eq!(error_code(r).await, "BLOB_UNKNOWN");
}

#[tokio::test]
async fn invalid_digests_are_400_never_500() {
    let s = Server::start();
    for bad in ["sha256:abc", "sha256:../../../../etc/passwd", "md5:d41d8cd98f00b204e9800998ecf8427e", "nocolon"] {
        let r = s.get(&format!("/v2/x/blobs/{bad}")).await;
        let status = r.status();
        // A digest with a slash changes the route; either way it is a client error.
        assert!(status.is_client_error(), "{bad}: {status}");
        if !bad.contains('/') {
            assert_eq!(error_code(r).await, "DIGEST_INVALID", "{bad}");
        }
    }
    let r = s.http.post(s.url("/v2/x/blobs/uploads/?digest=sha256:nothex")).body("x").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
}

#[tokio::test]
async fn sha512_blobs() {
    let s = Server::start();
    let data = bytes(3, 5000);
    let d = Digest::compute(Algorithm::Sha512, &data);
    let r = s.http.post(s.url(&format!("/v2/x/blobs/uploads/?digest={d}"))).body(data.clone()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(s.get(&format!("/v2/x/blobs/{d}")).await.bytes().await.unwrap().as_ref(), &data[..]);
}

#[tokio::test]
async fn bad_names_are_name_invalid() {
    let s = Server::start();
    for bad in ["UPPER/case", "a//b", "a/..b", "-lead", "a%2Fb"] {
        let r = s.get(&format!("/v2/{bad}/tags/list")).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error_code(r).await, "NAME_INVALID", "{bad}");
    }
    let r = s.get("/v2/x/nothing/here").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = s.http.patch(s.url("/v2/x/tags/list")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(r).await, "UNSUPPORTED");
}

#[tokio::test]
async fn base_endpoint_and_metrics() {
    let s = Server::start();
    let r = s.get("/v2/").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "docker-distribution-api-version"), "registry/2.0");
    s.push_blob("m", b"count me").await;
    let text = s.get("/metrics").await.text().await.unwrap();
    assert!(text.contains("berth_http_requests_total"), "{text}");
    assert!(text.contains("route=\"upload\""), "{text}");
}
