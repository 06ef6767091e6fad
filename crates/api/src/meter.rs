//! Metering of every request (see `berth_registry::meter`): [`crate::observe`] counts each request once its
//! response is produced, under the repository and principal the request's access decision named
//! ([`note_caller`], called by [`crate::access`]) and the operation its route or API names.
//!
//! What the decision knows reaches the observation through a task-local slot that `observe` opens around
//! the request; a request that never reaches a decision (unknown route, bad credentials, `/healthz`) is
//! counted with an empty principal, and under the `/v2` repository its path names, if any.

use std::cell::RefCell;
use std::net::IpAddr;

use berth_identity::{Caller, Principal, Required, Target};

use crate::AppState;

/// What the handling of one request noted for its meter line.
#[derive(Debug, Default)]
pub(crate) struct Noted {
    pub subject: Option<String>,
    pub repository: Option<String>,
    /// The operation, where the route does not name it (the admin API's `admin:<Operation>`).
    pub operation: Option<String>,
    /// Bytes served by a redirect (to a presigned S3 URL), counted when the redirect is issued.
    pub redirected_bytes: u64,
}

tokio::task_local! {
    static NOTED: RefCell<Noted>;
}

/// Runs `f` (the rest of the request) with a slot for what its handling notes, and returns that too.
pub(crate) async fn scope<F: Future>(f: F) -> (F::Output, Noted) {
    NOTED
        .scope(RefCell::new(Noted::default()), async move {
            let out = f.await;
            (out, NOTED.with(|n| n.take()))
        })
        .await
}

fn with(f: impl FnOnce(&mut Noted)) {
    // Outside a request's scope (in-process calls, background work) there is nothing to note.
    let _ = NOTED.try_with(|n| f(&mut n.borrow_mut()));
}

/// Notes who is asking and the repository the request is about, if its required permissions name one.
pub(crate) fn note_caller(app: &AppState, caller: &Caller, required: &[Required]) {
    if !app.registry.meter().enabled() {
        return;
    }
    let subject = principal_key(app, caller);
    let repository = required.iter().find_map(|r| match &r.target {
        Target::Repository(name) => Some(name.to_string()),
        _ => None,
    });
    with(|n| {
        n.subject = Some(subject);
        if repository.is_some() {
            n.repository = repository;
        }
    });
}

/// Notes a layer download URL's request (its access is the URL's token, not a policy decision): metered
/// under the principal the URL was issued to (`issued_to`, a token subject), or the downloader's address
/// when that was anonymous.
pub(crate) fn note_download(app: &AppState, issued_to: &str, ip: Option<IpAddr>, repository: &str) {
    if !app.registry.meter().enabled() {
        return;
    }
    let as_issued = Principal::Token { subject: issued_to.to_string(), grants: Default::default() };
    let subject = principal_key(app, &Caller { principal: as_issued, source_ip: ip, secure: app.tls });
    with(|n| {
        n.subject = Some(subject);
        n.repository = Some(repository.to_string());
    });
}

/// The principal usage is metered under: the caller's [`berth_identity::ratelimit::Subject`] (a user's or
/// robot's ARN, an anonymous caller's address), and for a request authenticated with an access key that
/// key too (`ARN/access-key/ID`), so a report tells a user's keys apart.
fn principal_key(app: &AppState, caller: &Caller) -> String {
    let subject = app.identity.subject_of(caller);
    match &caller.principal {
        Principal::User { access_key: Some(key), .. } => format!("{}/access-key/{key}", subject.key()),
        _ => subject.key().to_string(),
    }
}

pub(crate) fn note_operation(operation: String) {
    with(|n| n.operation = Some(operation));
}

pub(crate) fn note_redirected_bytes(bytes: u64) {
    with(|n| n.redirected_bytes = n.redirected_bytes.saturating_add(bytes));
}

/// The operation a request is metered under: an API operation's label as it is (`ecr:PutImage`,
/// `admin:ListUsers`), a route template with its method (`GET /v2/{name}/manifests/{reference}`).
pub(crate) fn operation(method: &axum::http::Method, label: &str) -> String {
    if label.starts_with('/') { format!("{method} {label}") } else { label.to_string() }
}
