//! The Docker token endpoint (`GET /token`, and the OAuth2 form `POST /token`): exchanges Basic credentials
//! (or none, for anonymous pulls of public repositories) for a short-lived bearer token whose `access`
//! claim carries what the policy engine allows of the requested scopes.

use std::sync::Arc;

use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use berth_identity::scope::{Scope, parse_scope};
use berth_identity::{Caller, IdentityError};
use berth_oci::ErrorCode;
use http_body_util::BodyExt;
use serde_json::json;

use crate::AppState;
use crate::authn::{Presented, client_ip, presented};
use crate::error::ApiError;
use crate::params::Params;

const MAX_FORM: usize = 64 * 1024;

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

fn scopes(params: &Params) -> Vec<Scope> {
    params.all("scope").flat_map(|s| s.split(' ')).filter_map(parse_scope).collect()
}

fn refused(e: IdentityError) -> Response {
    match e {
        IdentityError::Throttled(t) => crate::authn::throttled(&t),
        IdentityError::RateLimited { retry_after } => ApiError::new(ErrorCode::TooManyRequests, e.to_string())
            .with_header(header::RETRY_AFTER, retry_after.to_string())
            .into_response(),
        IdentityError::BadCredentials | IdentityError::Signature(_) => {
            ApiError::new(ErrorCode::Unauthorized, "the credentials are not valid")
                .with_header(header::WWW_AUTHENTICATE, "Basic realm=\"berth\"".into())
                .into_response()
        }
        // The metadata database is down or restarting: 503 with Retry-After, as for any request that reaches it.
        IdentityError::Meta(m) if m.is_unavailable() => {
            ApiError::from(berth_registry::RegistryError::from(m)).into_response()
        }
        other => {
            tracing::error!(error = %other, "token endpoint failed");
            ApiError::internal().into_response()
        }
    }
}

pub async fn token(State(app): State<Arc<AppState>>, RawQuery(query): RawQuery, req: Request) -> Response {
    let ip = client_ip(&req);
    let (parts, body) = req.into_parts();
    let mut params = Params::parse(query.as_deref());
    let mut headers = parts.headers.clone();
    if parts.method == Method::POST {
        // OAuth2 "password" grant: credentials and scopes in a form body.
        let Ok(collected) = http_body_util::Limited::new(body, MAX_FORM).collect().await else {
            return ApiError::new(ErrorCode::SizeInvalid, format!("the form body is over {MAX_FORM} bytes"))
                .with_status(axum::http::StatusCode::PAYLOAD_TOO_LARGE)
                .into_response();
        };
        let form = Params::parse(std::str::from_utf8(&collected.to_bytes()).ok());
        if let (Some(u), Some(p)) = (form.get("username"), form.get("password")) {
            use base64::Engine as _;
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            if let Ok(v) = format!("Basic {basic}").parse() {
                headers.insert(header::AUTHORIZATION, v);
            }
        }
        params = form;
    } else {
        drop(body);
    }
    issue(&app, &headers, &params, ip).await
}

async fn issue(app: &AppState, headers: &HeaderMap, params: &Params, ip: Option<std::net::IpAddr>) -> Response {
    // Bearer tokens are not exchanged for new ones here; only Basic credentials or none.
    if matches!(presented(headers), Presented::Bearer(_)) {
        return refused(IdentityError::BadCredentials);
    }
    let caller: Caller = match crate::authn::caller_of(app, headers, ip).await {
        Ok(c) => c,
        Err(e) => return refused(e),
    };
    // A token request is a request like any other to the rate limits (counted once the caller is known).
    crate::meter::note_caller(app, &caller, &[]);
    if let Err(e) = crate::access::throttle(app, &caller, ip, "token", crate::access::Pull::None).await {
        return refused(e);
    }
    let issued = match app.identity.issue_registry_token(&caller, &scopes(params)).await {
        Ok(t) => t,
        Err(e) => return refused(e),
    };
    let body = json!({
        "token": issued.token.expose(),
        "access_token": issued.token.expose(),
        "expires_in": issued.expires_in,
        "issued_at": rfc3339(issued.issued_at),
    });
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}
