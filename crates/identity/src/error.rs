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
    /// A rate limit of the registry (manifest pulls, requests) is used up for this window.
    #[error("{0}")]
    Throttled(crate::ratelimit::Throttled),
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
    /// The store's sealed secrets do not open with this node's master key: it was started with another key
    /// than the node that first used the store (each node generated its own `master.key`, or a typo).
    #[error(
        "the master key differs from the one that sealed this store's secrets (its token signing keys do not \
         open with it); give every node the same BERTH_MASTER_KEY: the content of master.key in the data \
         directory of the node that first used this metadata store"
    )]
    MasterKeyMismatch,
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
