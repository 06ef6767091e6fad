//! The one place where a request's access is decided, for every surface: `/v2` ([`crate::authn`]), the
//! ECR-compatible API ([`crate::ecr`]) and the admin API ([`crate::admin`]) each parse a request into an
//! operation that declares the [`Required`] permissions (ECR action + resource), and call [`decide`] before
//! any handler runs. Handlers take the [`Authorized`] proof it returns; refusals are audited here.
//! The token endpoint asks the same engine, per action, what a token may carry.

use std::net::IpAddr;

use berth_identity::{Authorized, Caller, IdentityError, Required};

use crate::AppState;
use crate::authn::audit;

/// Decides `required` for `caller`: all must be allowed. A refusal is audited with the permission refused.
pub(crate) async fn decide(
    app: &AppState,
    caller: &Caller,
    ip: Option<IpAddr>,
    required: &[Required],
) -> Result<Authorized, IdentityError> {
    let decision = app.identity.decide(caller, required).await;
    if let Err(e) = &decision {
        crate::metrics::auth_failure(e);
    }
    if let Err(IdentityError::Denied { action, resource, .. }) = &decision {
        audit(app, caller, action, resource, ip, "denied", 403).await;
    }
    decision
}
