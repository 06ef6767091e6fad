//! The one place where a request's access is decided, for every surface: `/v2` ([`crate::authn`]), the
//! ECR-compatible API ([`crate::ecr`]) and the admin API ([`crate::admin`]) each parse a request into an
//! operation that declares the [`Required`] permissions (ECR action + resource), and call [`decide`] before
//! any handler runs. Handlers take the [`Authorized`] proof it returns; refusals are audited here.
//! The token endpoint asks the same engine, per action, what a token may carry.
//!
//! The rate limits (`berth_identity::ratelimit`) are decided here too, right after a request was allowed, so
//! no surface escapes them and a refused request (401, 403) counts for nothing: every allowed request of a
//! caller who is not an administrator counts against the request limit, and a `/v2` manifest `GET` against
//! the manifest pull limit ([`decide_pull`]); the token endpoint, whose decision is the token it issues,
//! counts its requests through [`throttle`].

use std::net::IpAddr;

use berth_identity::ratelimit::{LimitKind, Quota, Subject, Throttled};
use berth_identity::{Authorized, Caller, IdentityError, Required};
use berth_meta::identity::AuditEvent;

use crate::AppState;
use crate::authn::audit;

/// What a `/v2` manifest request is to the manifest pull limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pull {
    /// Not a manifest read.
    None,
    /// `GET`: a pull, counted.
    Get,
    /// `HEAD`: not counted (as Docker Hub), but told what is left.
    Head,
}

/// Decides `required` for `caller`: all must be allowed. A refusal is audited with the permission refused.
/// Then counts the request against the caller's request limit (`IdentityError::Throttled` when used up).
pub(crate) async fn decide(
    app: &AppState,
    caller: &Caller,
    ip: Option<IpAddr>,
    required: &[Required],
) -> Result<Authorized, IdentityError> {
    decide_pull(app, caller, ip, required, Pull::None).await.map(|(authorized, _)| authorized)
}

/// [`decide`], and for a manifest read also the manifest pull limit: what is left of it, for the
/// `RateLimit-*` headers (`None` when no pull limit applies to the caller).
pub(crate) async fn decide_pull(
    app: &AppState,
    caller: &Caller,
    ip: Option<IpAddr>,
    required: &[Required],
    pull: Pull,
) -> Result<(Authorized, Option<Quota>), IdentityError> {
    crate::meter::note_caller(app, caller, required);
    let decision = app.identity.decide(caller, required).await;
    if let Err(e) = &decision {
        crate::metrics::auth_failure(e);
    }
    if let Err(IdentityError::Denied { action, resource, .. }) = &decision {
        audit(app, caller, action, resource, ip, "denied", 403).await;
    }
    let authorized = decision?;
    let action = required.first().map_or("*", |r| r.action.as_str());
    let quota = throttle(app, caller, ip, action, pull).await?;
    Ok((authorized, quota))
}

/// Counts an allowed request of `caller` (doing `action`) against the request limit and, for a manifest
/// `GET`, the manifest pull limit; `HEAD` only reads what is left. Administrators are never limited. A
/// refusal is counted in the metrics and, the first time in a window on this node, audited.
pub(crate) async fn throttle(
    app: &AppState,
    caller: &Caller,
    ip: Option<IpAddr>,
    action: &str,
    pull: Pull,
) -> Result<Option<Quota>, IdentityError> {
    let Some(limiter) = &app.rate_limits else { return Ok(None) };
    let Some(subject) = app.identity.rate_limit_subject(caller).await? else { return Ok(None) };
    let now = app.registry.now();
    let admitted = async {
        limiter.admit(LimitKind::Requests, &subject, now).await?;
        Ok::<_, Throttled>(match pull {
            Pull::None => None,
            Pull::Get => limiter.admit(subject.pull_kind(), &subject, now).await?,
            Pull::Head => limiter.peek(subject.pull_kind(), &subject, now).await,
        })
    };
    match admitted.await {
        Ok(quota) => Ok(quota),
        Err(throttled) => {
            refused(app, caller, ip, action, &subject, &throttled).await;
            Err(IdentityError::Throttled(throttled))
        }
    }
}

async fn refused(app: &AppState, caller: &Caller, ip: Option<IpAddr>, action: &str, subject: &Subject, t: &Throttled) {
    crate::metrics::rate_limited(t.kind);
    if !t.first {
        return;
    }
    tracing::info!(limit = t.kind.label(), subject = subject.key(), "rate limit reached");
    let event = AuditEvent {
        id: 0,
        at: app.identity.now(),
        principal: caller.principal.label(),
        action: action.to_string(),
        resource: "*".to_string(),
        source_ip: ip.map(|i| i.to_string()).unwrap_or_default(),
        outcome: "throttled".to_string(),
        status: 429,
        detail: Some(t.to_string()),
    };
    app.identity.audit().record(event).await;
}
