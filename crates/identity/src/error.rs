//! Failures of identity operations, each with the AWS-style error type clients see.

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

impl IdentityError {
    /// The AWS error type (`__type`) for the admin and ECR APIs.
    pub fn aws_type(&self) -> &'static str {
        match self {
            IdentityError::Denied { .. } => "AccessDeniedException",
            IdentityError::BadCredentials => "UnrecognizedClientException",
            IdentityError::RateLimited { .. } => "ThrottlingException",
            IdentityError::Signature(_) => "InvalidSignatureException",
            IdentityError::NotFound(_) => "NoSuchEntityException",
            IdentityError::AlreadyExists(_) => "EntityAlreadyExistsException",
            IdentityError::Invalid(_) => "ValidationException",
            IdentityError::MalformedPolicy(_) => "MalformedPolicyDocumentException",
            IdentityError::Crypto(_) | IdentityError::Meta(_) => "ServerException",
        }
    }

    /// The HTTP status of `aws_type`.
    pub fn http_status(&self) -> u16 {
        match self {
            IdentityError::Denied { .. } | IdentityError::BadCredentials | IdentityError::Signature(_) => 403,
            IdentityError::RateLimited { .. } => 429,
            IdentityError::NotFound(_) => 404,
            IdentityError::AlreadyExists(_) => 409,
            IdentityError::Invalid(_) | IdentityError::MalformedPolicy(_) => 400,
            IdentityError::Crypto(_) | IdentityError::Meta(_) => 500,
        }
    }
}
