//! Listings: `_catalog`, `tags/list`, and the referrers API.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_oci::media_type::OCI_INDEX;
use berth_oci::{Digest, ErrorCode, RepositoryName};
use berth_registry::{Registry, TagPage};
use serde_json::json;

use super::{HandlerResult, Req};
use crate::AppState;
use crate::error::ApiError;

/// `n` and `last` of a paginated listing.
fn page_params(req: &Req) -> Result<(Option<u32>, Option<&str>), ApiError> {
    let n = req
        .params
        .get("n")
        .map(|n| {
            n.parse::<u32>().map_err(|_| {
                ApiError::new(ErrorCode::Unsupported, "n must be a non-negative integer")
                    .with_status(StatusCode::BAD_REQUEST)
            })
        })
        .transpose()?;
    Ok((n, req.params.get("last")))
}

/// A JSON listing with a `Link` header to the next page when there is one.
fn listing(path: &str, n: Option<u32>, page: TagPage, body: serde_json::Value) -> Response {
    let mut resp = axum::Json(body).into_response();
    if page.more
        && let (Some(n), Some(last)) = (n, page.entries.last())
    {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("n", &n.to_string())
            .append_pair("last", last)
            .finish();
        if let Ok(v) = format!("<{path}?{query}>; rel=\"next\"").parse() {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    resp
}

/// The catalog lists only the repositories the caller may see, so pages are filled from the full list.
pub async fn catalog(app: &AppState, req: &Req) -> HandlerResult {
    let r = &app.registry;
    let (n, last) = page_params(req)?;
    let want = n.unwrap_or(r.limits().default_catalog_page) as usize;
    let mut entries = Vec::new();
    let mut cursor = last.map(str::to_string);
    let more = loop {
        let page = r.catalog(Some(500), cursor.as_deref()).await?;
        for name in &page.entries {
            let Ok(repo) = name.parse() else { continue };
            if app.identity.catalog_visible(&req.caller, &repo).await.map_err(|_| ApiError::internal())? {
                entries.push(name.clone());
            }
        }
        if entries.len() > want {
            break true;
        }
        match page.entries.last() {
            Some(l) if page.more => cursor = Some(l.clone()),
            _ => break false,
        }
    };
    entries.truncate(want);
    let page = TagPage { entries, more };
    let body = json!({ "repositories": page.entries });
    Ok(listing("/v2/_catalog", Some(want as u32), page, body))
}

pub async fn tags(r: &Registry, name: &RepositoryName, req: &Req) -> HandlerResult {
    let (n, last) = page_params(req)?;
    let page = r.list_tags(name, n, last).await?;
    let body = json!({ "name": name.as_str(), "tags": page.entries });
    Ok(listing(&format!("/v2/{name}/tags/list"), n, page, body))
}

pub async fn referrers(r: &Registry, name: &RepositoryName, digest: &Digest, req: &Req) -> HandlerResult {
    let artifact_type = req.params.get("artifactType");
    let body = r.referrers(name, digest, artifact_type).await?;
    let mut resp = ([(header::CONTENT_TYPE, OCI_INDEX)], body).into_response();
    if artifact_type.is_some() {
        resp.headers_mut().insert("oci-filters-applied", header::HeaderValue::from_static("artifactType"));
    }
    Ok(resp)
}
