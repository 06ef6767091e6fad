//! Failures of identity operations. The API layer maps them onto each surface's errors (`berth-api`'s
//! `aws::errors` for the ECR and admin APIs, OCI codes on `/v2`).

use berth_meta::MetaError;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Authenticated, but the policy does not allow it.
    #[error("{principal} is not authorized to perform {action} on {resource}")]
    Denied { principal: String, action: String, resource: String },
    /// No usable credentials (unknown user or key, wrong password, expired token...). Deliberately vague.
    #[error("the credentials are not valid")]
    BadCredentials,
    /// Too many failed logins from this address (or for this user from it).
    #[error("too many failed logins; retry in {retry_after} seconds")]
    RateLimited { retry_after: i64 },
    #[error("{0}")]
    Signature(String),
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// A request field is missing or invalid; the message names it.
    #[error("{0}")]
    Invalid(String),
    #[error("malformed policy document: {0}")]
    MalformedPolicy(String),
    #[error("cryptography: {0}")]
    Crypto(String),
    #[error(transparent)]
    Meta(MetaError),
}

impl From<MetaError> for IdentityError {
    fn from(e: MetaError) -> Self {
        match e {
            MetaError::NotFound(what) => IdentityError::NotFound(what),
            MetaError::AlreadyExists(what) => IdentityError::AlreadyExists(what),
            other => IdentityError::Meta(other),
        }
    }
}
