//! Authentication and authorisation of `/v2/` requests, decided once, before any handler runs.
//!
//! The caller is established from the `Authorization` header (Basic credentials or a registry bearer
//! token; none means anonymous), then the endpoint's action is decided by the identity service's policy
//! engine. Unauthenticated callers that are refused get 401 with a `WWW-Authenticate: Bearer` challenge
//! naming the token endpoint and scope; authenticated ones get 403 `DENIED`. Refusals and every mutating
//! request are audited.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use berth_identity::ratelimit::{LimitKind, Quota, Throttled};
use berth_identity::{Authorized, Caller, IdentityError, Principal, Required, Resource, Target, scope};
use berth_meta::identity::AuditEvent;
use berth_oci::ErrorCode;

use crate::endpoint::Endpoint;
use crate::error::ApiError;
use crate::observe::Parsed;
use crate::{AppState, access};

/// Credentials as presented.
pub(crate) enum Presented {
    None,
    Basic {
        user: String,
        password: String,
    },
    Bearer(String),
    /// A scheme berth does not accept on this surface.
    Other,
}

pub(crate) fn presented(headers: &HeaderMap) -> Presented {
    let Some(v) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Presented::None;
    };
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok();
        let text = decoded.and_then(|d| String::from_utf8(d).ok());
        match text.as_deref().and_then(|t| t.split_once(':')) {
            Some((u, p)) => Presented::Basic { user: u.to_string(), password: p.to_string() },
            None => Presented::Other,
        }
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Presented::Bearer(rest.trim().to_string())
    } else {
        Presented::Other
    }
}

pub(crate) fn client_ip(req: &Request) -> Option<IpAddr> {
    req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// Establishes who is calling. Anonymous when no credentials were presented.
pub(crate) async fn caller_of(
    app: &AppState,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
) -> Result<Caller, IdentityError> {
    let principal = match presented(headers) {
        Presented::None => Ok(Principal::Anonymous),
        Presented::Basic { user, password } => app.identity.authenticate_basic(&user, &password, ip).await,
        Presented::Bearer(token) => app.identity.authenticate_bearer(&token),
        Presented::Other => Err(IdentityError::BadCredentials),
    }
    .inspect_err(crate::metrics::auth_failure)?;
    Ok(Caller { principal, source_ip: ip, secure: app.tls })
}

/// The host the client addressed: `Host` (HTTP/1.1) or the `:authority` pseudo-header (HTTP/2, which
/// hyper keeps in the URI).
pub(crate) fn request_host(host_header: Option<&axum::http::HeaderValue>, uri: &axum::http::Uri) -> String {
    host_header
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".to_string())
}

/// The `WWW-Authenticate` challenge pointing clients at the token endpoint.
pub(crate) fn challenge(app: &AppState, host: &str, scope: Option<String>) -> String {
    let scheme = if app.tls { "https" } else { "http" };
    let mut c = format!("Bearer realm=\"{scheme}://{host}/token\",service=\"{}\"", app.identity.config().service);
    if let Some(s) = scope {
        c.push_str(&format!(",scope=\"{s}\""));
    }
    c
}

/// The scope a challenge names: the Docker action that stands for the ECR action the endpoint needs, so a
/// client that follows the challenge asks `/token` for exactly what it must carry (an upload's status needs
/// `push`, not `pull`).
fn token_scope(endpoint: &Endpoint, method: &Method) -> Option<String> {
    let repo = endpoint.repository()?;
    let action = endpoint.action(method)?;
    let actions = if scope::PULL_ACTIONS.contains(&action) {
        scope::PULL
    } else if scope::DELETE_ACTIONS.contains(&action) {
        scope::DELETE
    } else {
        "pull,push"
    };
    Some(format!("repository:{repo}:{actions}"))
}

fn unauthorized(app: &AppState, host: &str, scope: Option<String>, message: &str) -> Response {
    ApiError::new(ErrorCode::Unauthorized, message)
        .with_header(header::WWW_AUTHENTICATE, challenge(app, host, scope))
        .into_response()
}

/// 429 `TOOMANYREQUESTS` with `Retry-After` (the seconds until the window ends) and, for a pull limit, the
/// `RateLimit-*` headers showing nothing left.
pub(crate) fn throttled(t: &Throttled) -> Response {
    let mut resp = ApiError::new(ErrorCode::TooManyRequests, t.to_string())
        .with_header(header::RETRY_AFTER, t.retry_after.to_string())
        .into_response();
    if t.kind != LimitKind::Requests {
        crate::headers::rate_limit(resp.headers_mut(), &Quota { rate: t.rate, remaining: 0 });
    }
    resp
}

fn identity_failure(app: &AppState, host: &str, scope: Option<String>, e: IdentityError) -> Response {
    match e {
        IdentityError::Throttled(t) => throttled(&t),
        IdentityError::RateLimited { retry_after } => ApiError::new(ErrorCode::TooManyRequests, e.to_string())
            .with_header(header::RETRY_AFTER, retry_after.to_string())
            .into_response(),
        IdentityError::BadCredentials | IdentityError::Signature(_) => {
            unauthorized(app, host, scope, "authentication required: the credentials are not valid")
        }
        // The metadata database is down or restarting: 503 with Retry-After, as for any request that reaches it.
        IdentityError::Meta(m) if m.is_unavailable() => {
            ApiError::from(berth_registry::RegistryError::from(m)).into_response()
        }
        other => {
            tracing::error!(error = %other, "authentication failed on a server fault");
            ApiError::internal().into_response()
        }
    }
}

/// What a `/v2` handler runs with: the caller, and the proof its access was decided.
#[derive(Clone)]
pub(crate) struct Decided {
    pub caller: Caller,
    pub _authorized: Arc<Authorized>,
}

/// The permissions an endpoint needs (none for `/v2/` itself and the catalog, which lists only what each
/// caller may see, and for unsupported methods, which the handler answers 405).
fn required(endpoint: &Endpoint, method: &Method) -> Vec<Required> {
    match (endpoint.action(method), endpoint.repository()) {
        (Some(action), Some(repo)) => vec![Required::new(action, Target::Repository(repo.clone()))],
        _ => Vec::new(),
    }
}

/// The middleware: authenticate, decide the endpoint's permissions, audit.
pub async fn authorize_v2(State(app): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let Some(Parsed(Ok(endpoint))) = req.extensions().get::<Parsed>().cloned() else {
        return next.run(req).await;
    };
    let method = req.method().clone();
    let ip = client_ip(&req);
    // Only refusals need these; they are built then.
    let scope = || token_scope(&endpoint, &method);
    let (host_header, uri) = (req.headers().get(header::HOST).cloned(), req.uri().clone());
    let host = || request_host(host_header.as_ref(), &uri);
    let caller = match caller_of(&app, req.headers(), ip).await {
        Ok(c) => c,
        Err(e) => return identity_failure(&app, &host(), scope(), e),
    };
    // `/v2/` answers whether the caller is authenticated: clients (docker login) start auth from its 401.
    if endpoint == Endpoint::Base && caller.principal.is_anonymous() {
        return unauthorized(&app, &host(), None, "authentication required");
    }
    let required = required(&endpoint, &method);
    let pull = match (&endpoint, &method) {
        (Endpoint::Manifest { .. }, &Method::GET) => access::Pull::Get,
        (Endpoint::Manifest { .. }, &Method::HEAD) => access::Pull::Head,
        _ => access::Pull::None,
    };
    let (authorized, quota) = match access::decide_pull(&app, &caller, ip, &required, pull).await {
        Ok(a) => a,
        Err(IdentityError::Denied { action, .. }) => {
            return if caller.principal.is_anonymous() {
                unauthorized(&app, &host(), scope(), "authentication required")
            } else if matches!(caller.principal, Principal::Token { .. }) {
                // The token lacks this permission: tell the client which scope to ask the token endpoint for.
                let c = format!("{},error=\"insufficient_scope\"", challenge(&app, &host(), scope()));
                ApiError::new(ErrorCode::Denied, "requested access to the resource is denied")
                    .with_status(StatusCode::UNAUTHORIZED)
                    .with_header(header::WWW_AUTHENTICATE, c)
                    .into_response()
            } else {
                ApiError::new(ErrorCode::Denied, format!("{} may not {action}", caller.principal.label()))
                    .with_status(StatusCode::FORBIDDEN)
                    .into_response()
            };
        }
        Err(e) => return identity_failure(&app, &host(), scope(), e),
    };
    let mutating = matches!(method, Method::POST | Method::PUT | Method::DELETE);
    req.extensions_mut().insert(Decided { caller: caller.clone(), _authorized: Arc::new(authorized) });
    let mut resp = next.run(req).await;
    if let Some(quota) = quota {
        crate::headers::rate_limit(resp.headers_mut(), &quota);
    }
    if mutating && let Some(r) = required.first() {
        let outcome = if resp.status().is_success() { "allowed" } else { "error" };
        let resource = resource_label(&app, &r.target.resource());
        audit(&app, &caller, &r.action, &resource, ip, outcome, resp.status().as_u16()).await;
    }
    resp
}

fn resource_label(app: &AppState, resource: &Resource<'_>) -> String {
    match resource {
        Resource::Repository(r) => app.identity.account().repository_arn(r),
        Resource::Registry => app.identity.account().registry_arn(),
        _ => "*".into(),
    }
}

pub(crate) async fn audit(
    app: &AppState,
    caller: &Caller,
    action: &str,
    resource: &str,
    ip: Option<IpAddr>,
    outcome: &str,
    status: u16,
) {
    let event = AuditEvent {
        id: 0,
        at: app.identity.now(),
        principal: caller.principal.label(),
        action: action.to_string(),
        resource: resource.to_string(),
        source_ip: ip.map(|i| i.to_string()).unwrap_or_default(),
        outcome: outcome.to_string(),
        status: if status == 0 { 403 } else { status },
        detail: None,
    };
    app.identity.audit().record(event).await;
}
