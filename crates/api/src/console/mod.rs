//! The web console at `/console/`: server-rendered pages over the same use cases and the same access
//! decisions as the APIs. Sign-in at `/console/login`, the public gallery at `/console/public`.
//!
//! Every request: parse the path, query and form into a [`Route`] ([`route`]) that declares what it needs
//! (the ECR action it amounts to, on the repository it names: `ecr:CreateRepository`,
//! `ecr:DeleteRepository`, `ecr:DescribeImages`, `berth:SetRepositoryVisibility`, ...); find the signed-in
//! user from the session cookie ([`session`]); check that a form post carries the session's CSRF token; have
//! the declaration decided by [`crate::access::decide`] — the one decision of every surface — and only then
//! run the page with a [`Ctx`] only this dispatcher makes. Listings are decided repository by repository, as
//! the ECR API's `DescribeRepositories` is. Controls are shown only when the engine would allow what they
//! do; a forged post is decided like any other and refused.
//!
//! Templates: askama. Its templates are compiled into the binary and checked at build time (a typo in a
//! field name fails the build, not a page), escape HTML by default, and stay plain HTML files a designer can
//! read, with inheritance for the common frame. maud (HTML as Rust macros) would be as safe but mixes markup
//! into code; minijinja parses templates at run time, so mistakes surface as failed pages. One stylesheet is
//! embedded with `include_str!`; no script is needed for any flow, so the Content-Security-Policy forbids
//! scripts altogether.

mod admin;
mod catalog;
mod charts;
mod form;
mod gallery;
mod images;
mod repositories;
mod repository_tabs;
mod route;
mod session;
mod usage;
mod views;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use berth_identity::{Authorized, Caller, IdentityError, Resource};
use berth_oci::RepositoryName;
use berth_registry::RegistryError;
use http_body_util::{BodyExt, Limited};

use self::form::Form;
use self::route::{Declared, NoRoute, Route};
use self::views::{Chrome, ErrorPage};
use crate::AppState;
use crate::authn::{audit, client_ip, request_host};

const STYLESHEET: &str = include_str!("console.css");
/// Console forms are small.
const MAX_FORM: usize = 64 * 1024;
/// Scripts, frames, plugins and foreign origins are all refused: the console needs none.
const CSP: &str = "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The console's routes, mounted by [`crate::router`].
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console", any(dispatch))
        .route("/console/", any(dispatch))
        .route("/console/{*rest}", any(dispatch))
}

/// What a page or form runs with. Only [`dispatch`] makes one, after the route's access was decided.
pub(crate) struct Ctx<'a> {
    pub app: &'a AppState,
    pub caller: Caller,
    pub chrome: Chrome,
    /// The host the browser addressed: push commands and URIs name it.
    pub host: String,
    pub ip: Option<IpAddr>,
    pub query: &'a Form,
    /// The decision that let the route run (for the identity use cases that take it).
    pub authorized: Authorized,
}

impl Ctx<'_> {
    /// Whether the caller may `action` on `repo`: the per-repository decision of a listing, and whether a
    /// control is shown.
    pub async fn may(&self, action: &str, repo: &RepositoryName) -> Result<bool, Failure> {
        self.app.identity.is_allowed(&self.caller, action, &Resource::Repository(repo)).await.map_err(Failure::fault)
    }

    /// Audits a change with its outcome (refusals are audited where access is decided).
    pub async fn audit(&self, action: &str, repo: &RepositoryName, failure: Option<&Failure>) {
        let (outcome, status) = match failure {
            None => ("allowed", 200),
            Some(f) => ("error", f.status.as_u16()),
        };
        let resource = self.app.identity.account().repository_arn(repo);
        audit(self.app, &self.caller, action, &resource, self.ip, outcome, status).await;
    }

    /// `http://HOST` or `https://HOST`, as the browser addressed the registry.
    pub fn endpoint(&self) -> String {
        format!("{}://{}", if self.app.tls { "https" } else { "http" }, self.host)
    }
}

/// A page that could not be shown: its status, a title and what went wrong.
#[derive(Debug)]
pub(crate) struct Failure {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
}

impl Failure {
    pub fn status(status: StatusCode, message: impl Into<String>) -> Failure {
        let title = match status {
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::CONFLICT => "Cannot do that now",
            StatusCode::BAD_REQUEST => "Not a valid request",
            StatusCode::METHOD_NOT_ALLOWED => "Method not allowed",
            StatusCode::SERVICE_UNAVAILABLE => "Unavailable",
            _ => "Something went wrong",
        };
        Failure { status, title, message: message.into() }
    }

    /// A fault of the server (logged; the page does not show the details).
    pub fn fault(e: impl std::fmt::Display) -> Failure {
        tracing::error!(error = %e, "console request failed");
        Failure::status(StatusCode::INTERNAL_SERVER_ERROR, "berth failed to answer; the server log says why")
    }

    pub fn registry(e: RegistryError, repo: &RepositoryName) -> Failure {
        match e {
            RegistryError::NameUnknown => {
                Failure::status(StatusCode::NOT_FOUND, format!("The repository {repo} does not exist."))
            }
            RegistryError::RepositoryAlreadyExists(_) => {
                Failure::status(StatusCode::CONFLICT, format!("The repository {repo} already exists."))
            }
            RegistryError::RepositoryNotEmpty(_) => Failure::status(
                StatusCode::CONFLICT,
                format!("The repository {repo} still holds images: confirm deleting them too (force)."),
            ),
            RegistryError::InsufficientStorage(_) => Failure::status(
                StatusCode::SERVICE_UNAVAILABLE,
                "The registry's disk is full; try again once space is freed.",
            ),
            other => Failure::fault(other),
        }
    }

    pub(crate) fn identity(e: IdentityError) -> Failure {
        match e {
            IdentityError::Denied { action, resource, .. } => {
                Failure::status(StatusCode::FORBIDDEN, format!("You may not {action} on {resource}."))
            }
            IdentityError::Throttled(t) => Failure::status(StatusCode::TOO_MANY_REQUESTS, format!("{t}.")),
            other => Failure::fault(other),
        }
    }

    fn page(self, chrome: Chrome) -> Response {
        let page = ErrorPage { chrome, status: self.status.as_u16(), title: self.title.into(), message: self.message };
        views::html(self.status, &page)
    }
}

/// `/console` and everything under it.
pub async fn dispatch(State(app): State<Arc<AppState>>, req: Request) -> Response {
    let ip = client_ip(&req);
    let (parts, body) = req.into_parts();
    let (chrome, result) = serve(&app, &parts, body, ip).await;
    let mut resp = result.unwrap_or_else(|f| f.page(chrome));
    secure(resp.headers_mut());
    resp
}

/// Headers every console answer carries.
fn secure(h: &mut HeaderMap) {
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
}

async fn read_form(parts: &Parts, body: Body) -> Result<Form, Failure> {
    if parts.method != Method::POST {
        return Ok(Form::default());
    }
    let bytes = Limited::new(body, MAX_FORM)
        .collect()
        .await
        .map_err(|_| Failure::status(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large"))?
        .to_bytes();
    let text = std::str::from_utf8(&bytes).map_err(|_| Failure::status(StatusCode::BAD_REQUEST, "not a form"))?;
    Ok(Form::parse(text))
}

/// Parse, find the session, check the form, decide, run. Returns the frame an error page would show.
async fn serve(app: &AppState, parts: &Parts, body: Body, ip: Option<IpAddr>) -> (Chrome, Result<Response, Failure>) {
    let signed_in = match session::signed_in(app, &parts.headers, ip).await {
        Ok(s) => s,
        Err(f) => return (Chrome::default(), Err(f)),
    };
    let mut chrome = signed_in.as_ref().map(session::SignedIn::chrome).unwrap_or_default();
    if let Some(s) = &signed_in {
        // The header links to the administration and usage pages only for those who may open them.
        match navigation(app, &s.caller).await {
            Ok((admin, usage)) => (chrome.admin, chrome.usage) = (admin, usage),
            Err(f) => return (chrome, Err(f)),
        }
    }
    let result = async {
        let form = read_form(parts, body).await?;
        let query = Form::parse(parts.uri.query().unwrap_or(""));
        let path = parts.uri.path().strip_prefix("/console").unwrap_or("");
        let route = Route::parse(&parts.method, path, &query, &form).map_err(|e| match e {
            NoRoute::NotFound => Failure::status(StatusCode::NOT_FOUND, "There is no such page."),
            NoRoute::MethodNotAllowed => Failure::status(StatusCode::METHOD_NOT_ALLOWED, "Not here."),
            NoRoute::BadRequest(m) => Failure::status(StatusCode::BAD_REQUEST, m),
        })?;
        // Pages anyone may read.
        match &route {
            Route::Stylesheet => return Ok(stylesheet()),
            Route::Home => return Ok(session::redirect("/console/")),
            Route::LoginForm if signed_in.is_some() => return Ok(session::redirect("/console/")),
            Route::LoginForm => return Ok(session::login_page(app, &parts.headers, &query, StatusCode::OK, "")),
            Route::Login => return session::login(app, parts, &form, ip).await,
            Route::Gallery(search) => {
                // Decided for an anonymous caller, whoever is signed in: the gallery shows what the public sees.
                let caller = Caller::anonymous(ip, app.tls);
                let authorized = crate::access::decide(app, &caller, ip, &[]).await.map_err(Failure::identity)?;
                let host = request_host(parts.headers.get(header::HOST), &parts.uri);
                let ctx = Ctx { app, caller, chrome: chrome.clone(), host, ip, query: &query, authorized };
                return gallery::page(&ctx, search).await;
            }
            _ => {}
        }
        let Some(signed_in) = signed_in else {
            return Ok(session::sign_in_first(parts.uri.path_and_query().map_or("/console/", |p| p.as_str())));
        };
        if route.changes() {
            session::check_form(parts, &form, &signed_in.session.csrf)?;
        }
        let required = match route.required() {
            Declared::All(required) => required,
            Declared::Filtered | Declared::Public => Vec::new(),
        };
        let caller = signed_in.caller;
        let authorized = crate::access::decide(app, &caller, ip, &required).await.map_err(Failure::identity)?;
        let host = request_host(parts.headers.get(header::HOST), &parts.uri);
        let ctx = Ctx { app, caller, chrome: chrome.clone(), host, ip, query: &query, authorized };
        run(&ctx, route).await
    }
    .await;
    (chrome, result)
}

async fn run(ctx: &Ctx<'_>, route: Route) -> Result<Response, Failure> {
    match route {
        Route::Logout => Ok(session::logout(ctx.app)),
        Route::Repositories(listing) => repositories::list(ctx, &listing).await,
        Route::NewRepository => Ok(repositories::new_form(ctx, None)),
        Route::CreateRepository(new) => repositories::create(ctx, new).await,
        Route::Repository { name, after } => repositories::show(ctx, &name, after.as_ref()).await,
        Route::PushCommands(name) => repositories::push_commands(ctx, &name).await,
        Route::ConfirmDelete(name) => repositories::confirm_delete(ctx, &name, "").await,
        Route::Delete { name, confirmed, force } => repositories::delete(ctx, &name, confirmed, force).await,
        Route::Image { name, digest, view } => images::show(ctx, &name, &digest, &view).await,
        Route::Sbom { name, digest } => images::sbom(ctx, &name, &digest).await,
        Route::DeleteImage { name, digest } => images::delete(ctx, &name, &digest).await,
        Route::PutCatalogData { name, data } => catalog::put(ctx, &name, &data).await,
        Route::SettingsPage(name) => repository_tabs::settings_page(ctx, &name, None).await,
        Route::Settings { name, settings } => repository_tabs::save_settings(ctx, &name, &settings).await,
        Route::Permissions(name) => repository_tabs::permissions(ctx, &name, None).await,
        Route::SetPolicy { name, policy } => repository_tabs::set_policy(ctx, &name, &policy).await,
        Route::DeletePolicy(name) => repository_tabs::delete_policy(ctx, &name).await,
        Route::Admin(admin) => admin::run(ctx, admin).await,
        Route::Usage(query) => usage::page(ctx, &query).await,
        Route::Stylesheet | Route::Home | Route::LoginForm | Route::Login | Route::Gallery(_) => {
            Err(Failure::fault("a public route reached the signed-in dispatcher"))
        }
    }
}

/// Whether the caller may open any administration page, and the usage report.
async fn navigation(app: &AppState, caller: &Caller) -> Result<(bool, bool), Failure> {
    let admin = !admin::sections(app, caller).await?.is_empty();
    let usage = app.identity.is_allowed(caller, usage::ACTION, &Resource::Any).await.map_err(Failure::fault)?;
    Ok((admin, usage))
}

fn stylesheet() -> Response {
    let mut r = STYLESHEET.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    r
}
