//! Tags and catalog listings with pagination.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn tag_pagination_with_link_headers() {
    let s = Server::start();
    let (body, _) = s.push_image("p", "a", b"l").await;
    for t in ["d", "b", "c", "e"] {
        assert_eq!(s.put_manifest("p", t, OCI_MANIFEST, &body).await.status(), StatusCode::CREATED);
    }
    let all: Value = s.get("/v2/p/tags/list").await.json().await.unwrap();
    assert_eq!(all, json!({"name": "p", "tags": ["a", "b", "c", "d", "e"]}));

    let r = s.get("/v2/p/tags/list?n=2").await;
    assert_eq!(header(&r, "link"), "</v2/p/tags/list?n=2&last=b>; rel=\"next\"");
    assert_eq!(r.json::<Value>().await.unwrap()["tags"], json!(["a", "b"]));
    let r = s.get("/v2/p/tags/list?n=2&last=b").await;
    assert_eq!(r.json::<Value>().await.unwrap()["tags"], json!(["c", "d"]));
    let r = s.get("/v2/p/tags/list?n=2&last=d").await;
    assert!(!r.headers().contains_key("link"), "last page has no Link");
    assert_eq!(r.json::<Value>().await.unwrap()["tags"], json!(["e"]));
    let r = s.get("/v2/p/tags/list?n=0").await;
    assert_eq!(r.json::<Value>().await.unwrap()["tags"], json!([]));

    let r = s.get("/v2/p/tags/list?n=-1").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = s.get("/v2/unknown/tags/list").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "NAME_UNKNOWN");
}

#[tokio::test]
async fn catalog_pagination() {
    let s = Server::start();
    for repo in ["team/b", "a", "team/a", "c"] {
        s.push_blob(repo, repo.as_bytes()).await;
    }
    let all: Value = s.get("/v2/_catalog").await.json().await.unwrap();
    assert_eq!(all["repositories"], json!(["a", "c", "team/a", "team/b"]));
    let r = s.get("/v2/_catalog?n=3").await;
    assert_eq!(header(&r, "link"), "</v2/_catalog?n=3&last=team%2Fa>; rel=\"next\"");
    let r = s.get("/v2/_catalog?n=3&last=team%2Fa").await;
    assert_eq!(r.json::<Value>().await.unwrap()["repositories"], json!(["team/b"]));
}
