//! Signing in and out, the session cookie, and the checks every form post passes (same origin, CSRF token).
//!
//! The session cookie holds a signed session token (`Identity::start_console_session`): any node verifies
//! it, no node remembers it. It is `HttpOnly`, `SameSite=Strict`, `Path=/console`, `Secure` under TLS, and
//! lasts as long as the session (8 hours). Every form carries a CSRF token: the session's own (named inside
//! the signed cookie) once signed in; on the sign-in form, a random value also set as a cookie
//! (double submit), so a sign-in cannot be forged either. Sign-ins go through `Identity::authenticate_basic`,
//! so the failed-login limits and audit apply; only users sign in (robot tokens and registry tokens never).

use std::net::IpAddr;

use axum::http::header::{COOKIE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, request::Parts};
use axum::response::{IntoResponse, Response};
use berth_auth::secret::constant_time_eq;
use berth_auth::token::session::Session;
use berth_identity::sessions::SESSION_TTL;
use berth_identity::{Caller, IdentityError, Principal};

use super::Failure;
use super::form::Form;
use super::views::{self, Chrome};
use crate::AppState;

pub const SESSION_COOKIE: &str = "berth_session";
/// The sign-in form's double-submit CSRF cookie.
pub const LOGIN_CSRF_COOKIE: &str = "berth_login_csrf";

/// A signed-in user: the caller every decision is made for, and the session (its CSRF token).
pub struct SignedIn {
    pub caller: Caller,
    pub session: Session,
}

impl SignedIn {
    pub fn chrome(&self) -> Chrome {
        Chrome { user: Some(self.caller.principal.label()), csrf: self.session.csrf.clone(), ..Chrome::default() }
    }
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `Set-Cookie` for a console cookie; `max_age` 0 removes it.
fn set_cookie(app: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if app.tls { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/console; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("berth_invalid=; Max-Age=0"))
}

/// The user the session cookie stands for, if it names a valid session of an existing user.
pub async fn signed_in(app: &AppState, headers: &HeaderMap, ip: Option<IpAddr>) -> Result<Option<SignedIn>, Failure> {
    let Some(token) = cookie(headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    match app.identity.console_session(token).await {
        Ok((principal, session)) => {
            Ok(Some(SignedIn { caller: Caller { principal, source_ip: ip, secure: app.tls }, session }))
        }
        Err(IdentityError::BadCredentials) => Ok(None),
        Err(e) => Err(Failure::fault(e)),
    }
}

/// Form posts must come from a console page: the `Origin` a browser sends, when it sends one, is this host,
/// and the form carries `expected` as its `csrf` field.
pub fn check_form(parts: &Parts, form: &Form, expected: &str) -> Result<(), Failure> {
    if let Some(origin) = parts.headers.get(ORIGIN).and_then(|o| o.to_str().ok()) {
        // `Host`, or HTTP/2's `:authority`.
        let host = crate::authn::request_host(parts.headers.get(HOST), &parts.uri);
        let origin_host = origin.split_once("://").map_or("", |(_, h)| h);
        if origin_host != host {
            return Err(Failure::status(StatusCode::FORBIDDEN, "the form was posted from another site"));
        }
    }
    let given = form.get("csrf").unwrap_or("");
    if expected.is_empty() || !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Err(Failure::status(
            StatusCode::FORBIDDEN,
            "the form's CSRF token is missing or stale: reload the page and submit again",
        ));
    }
    Ok(())
}

/// Where to go after signing in: a console page of this site, nothing else.
fn next_page(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/console/") && !n.contains("//") && !n.contains('\\') => n.to_string(),
        _ => "/console/".to_string(),
    }
}

fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

/// The sign-in page, with a fresh double-submit CSRF token (kept when the browser already has one).
pub fn login_page(app: &AppState, headers: &HeaderMap, query: &Form, status: StatusCode, error: &str) -> Response {
    let token = match cookie(headers, LOGIN_CSRF_COOKIE) {
        Some(t) if t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()) => t.to_string(),
        _ => uuid::Uuid::new_v4().simple().to_string(),
    };
    let page = views::Login {
        chrome: Chrome { user: None, csrf: token.clone(), ..Chrome::default() },
        next: next_page(query.get("next")),
        user: query.get("user").unwrap_or("").to_string(),
        error: error.to_string(),
        signed_out: query.get("signed_out").is_some(),
    };
    let mut r = views::html(status, &page);
    r.headers_mut().append(SET_COOKIE, set_cookie(app, LOGIN_CSRF_COOKIE, &token, 3600));
    r
}

/// `POST /console/login`: the password checked by the identity service (with its failed-login limits), a
/// session for a user.
pub async fn login(app: &AppState, parts: &Parts, form: &Form, ip: Option<IpAddr>) -> Result<Response, Failure> {
    check_form(parts, form, cookie(&parts.headers, LOGIN_CSRF_COOKIE).unwrap_or(""))?;
    let user = form.get("user").unwrap_or("").trim();
    let password = form.get("password").unwrap_or("");
    let again = |status, error: &str| {
        let mut query = vec![("user", user)];
        if let Some(n) = form.get("next") {
            query.push(("next", n));
        }
        let query = Form::parse(&form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish());
        Ok(login_page(app, &parts.headers, &query, status, error))
    };
    if user.is_empty() || password.is_empty() {
        return again(StatusCode::BAD_REQUEST, "Enter your user name and password.");
    }
    let principal =
        match app.identity.authenticate_basic(user, password, ip).await.inspect_err(crate::metrics::auth_failure) {
            Ok(p) => p,
            Err(IdentityError::BadCredentials) => {
                return again(StatusCode::UNAUTHORIZED, "The user name or password is not right.");
            }
            Err(IdentityError::RateLimited { retry_after }) => {
                let message = format!("Too many failed sign-ins. Try again in {retry_after} seconds.");
                return again(StatusCode::TOO_MANY_REQUESTS, &message);
            }
            Err(e) => return Err(Failure::fault(e)),
        };
    if !matches!(principal, Principal::User { .. }) {
        return again(StatusCode::UNAUTHORIZED, "Only users sign in to the console (not robot tokens).");
    }
    let (token, _) = app.identity.start_console_session(&principal).await.map_err(Failure::fault)?;
    let caller = Caller { principal, source_ip: ip, secure: app.tls };
    let resource = app.identity.account().user_arn(caller.principal.label().trim_start_matches("user/"));
    crate::authn::audit(app, &caller, "berth:ConsoleSignIn", &resource, ip, "allowed", 200).await;
    let mut r = see_other(&next_page(form.get("next")));
    // The browser keeps the cookie as long as the session lasts; the signed token's expiry is what counts.
    r.headers_mut().append(SET_COOKIE, set_cookie(app, SESSION_COOKIE, token.expose(), SESSION_TTL));
    r.headers_mut().append(SET_COOKIE, set_cookie(app, LOGIN_CSRF_COOKIE, "", 0));
    Ok(r)
}

/// `POST /console/logout`: the browser forgets the session.
pub fn logout(app: &AppState) -> Response {
    let mut r = see_other("/console/login?signed_out=1");
    r.headers_mut().append(SET_COOKIE, set_cookie(app, SESSION_COOKIE, "", 0));
    r
}

/// Where an anonymous browser asking for `path` is sent: the sign-in page, then back.
pub fn sign_in_first(path_and_query: &str) -> Response {
    let next: String = form_urlencoded::byte_serialize(path_and_query.as_bytes()).collect();
    see_other(&format!("/console/login?next={next}"))
}

pub fn redirect(to: &str) -> Response {
    see_other(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; berth_session=abc.def; b=2"));
        h.append(COOKIE, HeaderValue::from_static("berth_login_csrf=x"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc.def"));
        assert_eq!(cookie(&h, LOGIN_CSRF_COOKIE), Some("x"));
        assert_eq!(cookie(&h, "c"), None);
    }

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = axum::http::Request::builder().method("POST").uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn forms_carry_the_token_and_come_from_this_site() {
        let form = Form::parse("csrf=abc");
        let same = parts("/console/logout", &[("host", "r.example:5000"), ("origin", "http://r.example:5000")]);
        assert!(check_form(&same, &form, "abc").is_ok());
        assert!(check_form(&same, &Form::parse("csrf=abd"), "abc").is_err());
        assert!(check_form(&same, &Form::default(), "abc").is_err());
        assert!(check_form(&same, &Form::parse("csrf="), "").is_err(), "an empty expected token never matches");
        let other = parts("/console/logout", &[("host", "r.example:5000"), ("origin", "http://evil.example")]);
        assert_eq!(check_form(&other, &form, "abc").unwrap_err().status, StatusCode::FORBIDDEN);
        // HTTP/2 has no Host header: the authority is in the URI.
        let h2 = parts("https://r.example/console/logout", &[("origin", "https://r.example")]);
        assert!(check_form(&h2, &form, "abc").is_ok());
    }

    #[test]
    fn only_console_pages_follow_a_sign_in() {
        assert_eq!(next_page(Some("/console/repositories/a/b")), "/console/repositories/a/b");
        for bad in ["https://evil.example/", "//evil.example/console/", "/console//evil", "/v2/", "/console\\x"] {
            assert_eq!(next_page(Some(bad)), "/console/", "{bad}");
        }
    }
}
