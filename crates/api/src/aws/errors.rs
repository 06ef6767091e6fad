//! The AWS error types the ECR-compatible API and the admin API answer with, each declared once with its
//! HTTP status, and the mapping of identity and registry failures onto them.
//!
//! Rules (what the AWS CLI and SDKs rely on): client errors are 4xx and never a type the SDKs retry
//! (throttling types, `LimitExceededException`, 5xx); only a fault of the server or a dependency is 500
//! `ServerException`. The one exception is a rate limit of the registry (`[rate_limits]`): it is
//! `ThrottlingException`, 400 as AWS's common errors list it, which the SDKs retry with backoff — the right
//! response to a limit that frees up as its window ends. Modelled ECR exceptions without an explicit status are 400 in AWS JSON 1.1;
//! authentication and authorisation failures are 403, as AWS answers them.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_identity::IdentityError;
use berth_registry::RegistryError;
use serde_json::json;

use super::CONTENT_TYPE;

/// An error type (`__type`) of the ECR-compatible API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    // Modelled by ECR (botocore's `ecr` service model).
    InvalidParameter,
    InvalidTagParameter,
    TooManyTags,
    RepositoryNotFound,
    RepositoryAlreadyExists,
    RepositoryNotEmpty,
    ImageNotFound,
    RepositoryPolicyNotFound,
    RegistryPolicyNotFound,
    LifecyclePolicyNotFound,
    LifecyclePolicyPreviewNotFound,
    LifecyclePolicyPreviewInProgress,
    TemplateAlreadyExists,
    TemplateNotFound,
    ImageAlreadyExists,
    ImageTagAlreadyExists,
    ImageDigestDoesNotMatch,
    LayersNotFound,
    ReferencedImagesNotFound,
    ScanNotFound,
    UnsupportedImageType,
    UploadNotFound,
    InvalidLayerPart,
    /// A layer part after one smaller than ECR's minimum part size (5 MiB; only the last may be smaller).
    LayerPartTooSmall,
    InvalidLayer,
    LayerAlreadyExists,
    EmptyUpload,
    LayerInaccessible,
    ImageStorageClassUpdateNotSupported,
    ExclusionAlreadyExists,
    ExclusionNotFound,
    SigningConfigurationNotFound,
    Validation,
    Server,
    // AWS JSON protocol and authentication errors, common to all AWS services.
    Serialization,
    UnknownOperation,
    /// An ECR operation berth does not implement yet.
    UnsupportedOperation,
    MissingAuthenticationToken,
    UnrecognizedClient,
    InvalidSignature,
    AccessDenied,
    /// A rate limit of the registry is used up (retried by the SDKs, on purpose).
    Throttling,
    // The admin API's own (IAM's names for the same situations).
    NoSuchEntity,
    EntityAlreadyExists,
    MalformedPolicyDocument,
    UnknownAdminOperation,
}

impl ErrorType {
    pub fn name(self) -> &'static str {
        match self {
            ErrorType::InvalidParameter => "InvalidParameterException",
            ErrorType::InvalidTagParameter => "InvalidTagParameterException",
            ErrorType::TooManyTags => "TooManyTagsException",
            ErrorType::RepositoryNotFound => "RepositoryNotFoundException",
            ErrorType::RepositoryAlreadyExists => "RepositoryAlreadyExistsException",
            ErrorType::RepositoryNotEmpty => "RepositoryNotEmptyException",
            ErrorType::ImageNotFound => "ImageNotFoundException",
            ErrorType::ImageAlreadyExists => "ImageAlreadyExistsException",
            ErrorType::ImageTagAlreadyExists => "ImageTagAlreadyExistsException",
            ErrorType::ImageDigestDoesNotMatch => "ImageDigestDoesNotMatchException",
            ErrorType::LayersNotFound => "LayersNotFoundException",
            ErrorType::ReferencedImagesNotFound => "ReferencedImagesNotFoundException",
            ErrorType::ScanNotFound => "ScanNotFoundException",
            ErrorType::UnsupportedImageType => "UnsupportedImageTypeException",
            ErrorType::UploadNotFound => "UploadNotFoundException",
            ErrorType::InvalidLayerPart => "InvalidLayerPartException",
            ErrorType::LayerPartTooSmall => "LayerPartTooSmallException",
            ErrorType::InvalidLayer => "InvalidLayerException",
            ErrorType::LayerAlreadyExists => "LayerAlreadyExistsException",
            ErrorType::EmptyUpload => "EmptyUploadException",
            ErrorType::LayerInaccessible => "LayerInaccessibleException",
            ErrorType::ImageStorageClassUpdateNotSupported => "ImageStorageClassUpdateNotSupportedException",
            ErrorType::ExclusionAlreadyExists => "ExclusionAlreadyExistsException",
            ErrorType::ExclusionNotFound => "ExclusionNotFoundException",
            ErrorType::SigningConfigurationNotFound => "SigningConfigurationNotFoundException",
            ErrorType::Validation => "ValidationException",

            ErrorType::RepositoryPolicyNotFound => "RepositoryPolicyNotFoundException",
            ErrorType::RegistryPolicyNotFound => "RegistryPolicyNotFoundException",
            ErrorType::LifecyclePolicyNotFound => "LifecyclePolicyNotFoundException",
            ErrorType::LifecyclePolicyPreviewNotFound => "LifecyclePolicyPreviewNotFoundException",
            ErrorType::LifecyclePolicyPreviewInProgress => "LifecyclePolicyPreviewInProgressException",
            ErrorType::TemplateAlreadyExists => "TemplateAlreadyExistsException",
            ErrorType::TemplateNotFound => "TemplateNotFoundException",
            ErrorType::Server => "ServerException",
            ErrorType::Serialization => "SerializationException",
            ErrorType::UnknownOperation => "UnknownOperationException",
            ErrorType::UnsupportedOperation => "UnsupportedOperationException",
            ErrorType::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ErrorType::UnrecognizedClient => "UnrecognizedClientException",
            ErrorType::InvalidSignature => "InvalidSignatureException",
            ErrorType::AccessDenied => "AccessDeniedException",
            ErrorType::Throttling => "ThrottlingException",
            ErrorType::NoSuchEntity => "NoSuchEntityException",
            ErrorType::EntityAlreadyExists => "EntityAlreadyExistsException",
            ErrorType::MalformedPolicyDocument => "MalformedPolicyDocumentException",
            ErrorType::UnknownAdminOperation => "UnknownOperationException",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorType::Server => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::NoSuchEntity | ErrorType::UnknownAdminOperation => StatusCode::NOT_FOUND,
            ErrorType::EntityAlreadyExists => StatusCode::CONFLICT,
            ErrorType::MissingAuthenticationToken
            | ErrorType::UnrecognizedClient
            | ErrorType::InvalidSignature
            | ErrorType::AccessDenied => StatusCode::FORBIDDEN,
            ErrorType::InvalidParameter
            | ErrorType::InvalidTagParameter
            | ErrorType::TooManyTags
            | ErrorType::RepositoryNotFound
            | ErrorType::RepositoryAlreadyExists
            | ErrorType::RepositoryNotEmpty
            | ErrorType::ImageNotFound
            | ErrorType::RepositoryPolicyNotFound
            | ErrorType::RegistryPolicyNotFound
            | ErrorType::LifecyclePolicyNotFound
            | ErrorType::LifecyclePolicyPreviewNotFound
            | ErrorType::LifecyclePolicyPreviewInProgress
            | ErrorType::TemplateAlreadyExists
            | ErrorType::TemplateNotFound
            | ErrorType::SigningConfigurationNotFound
            | ErrorType::ImageAlreadyExists
            | ErrorType::ImageTagAlreadyExists
            | ErrorType::ImageDigestDoesNotMatch
            | ErrorType::LayersNotFound
            | ErrorType::ReferencedImagesNotFound
            | ErrorType::ScanNotFound
            | ErrorType::UnsupportedImageType
            | ErrorType::UploadNotFound
            | ErrorType::InvalidLayerPart
            | ErrorType::LayerPartTooSmall
            | ErrorType::InvalidLayer
            | ErrorType::LayerAlreadyExists
            | ErrorType::EmptyUpload
            | ErrorType::LayerInaccessible
            | ErrorType::ImageStorageClassUpdateNotSupported
            | ErrorType::ExclusionAlreadyExists
            | ErrorType::ExclusionNotFound
            | ErrorType::Validation
            | ErrorType::MalformedPolicyDocument
            | ErrorType::Serialization
            | ErrorType::UnknownOperation
            | ErrorType::UnsupportedOperation
            | ErrorType::Throttling => StatusCode::BAD_REQUEST,
        }
    }
}

/// An error response: `{"__type", "message"}` with the type's status (the one error type of both AWS JSON
/// surfaces).
#[derive(Debug)]
pub struct AwsError {
    pub kind: ErrorType,
    pub message: String,
}

impl AwsError {
    pub fn new(kind: ErrorType, message: impl Into<String>) -> Self {
        AwsError { kind, message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        AwsError::new(ErrorType::InvalidParameter, message)
    }

    /// A server fault: details go to the log, not to the client.
    pub fn server(what: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %what, "ECR API fault");
        AwsError::new(ErrorType::Server, "internal error")
    }

    /// A registry failure that is not about the request.
    pub fn fault(e: RegistryError) -> Self {
        AwsError::from_registry(e, "", "")
    }

    pub fn repository_not_found(name: &str, registry_id: &str) -> Self {
        AwsError::new(
            ErrorType::RepositoryNotFound,
            format!("The repository with name '{name}' does not exist in the registry with id '{registry_id}'"),
        )
    }

    /// A registry failure about repository `name`.
    pub fn from_registry(e: RegistryError, name: &str, registry_id: &str) -> Self {
        match e {
            RegistryError::NameUnknown => AwsError::repository_not_found(name, registry_id),
            RegistryError::RepositoryAlreadyExists(_) => AwsError::new(
                ErrorType::RepositoryAlreadyExists,
                format!("The repository with name '{name}' already exists in the registry with id '{registry_id}'"),
            ),
            RegistryError::RepositoryNotEmpty(_) => AwsError::new(
                ErrorType::RepositoryNotEmpty,
                format!(
                    "The repository with name '{name}' in registry with id '{registry_id}' cannot be deleted \
                     because it still contains images"
                ),
            ),
            RegistryError::LifecyclePolicyInvalid(why) => AwsError::invalid(format!(
                "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy \
                 validation failure: {why}'"
            )),
            RegistryError::LifecyclePolicyNotFound => AwsError::new(
                ErrorType::LifecyclePolicyNotFound,
                format!(
                    "Lifecycle policy does not exist for the repository with name '{name}' in the registry with \
                     id '{registry_id}'"
                ),
            ),
            RegistryError::LifecyclePreviewNotFound => AwsError::new(
                ErrorType::LifecyclePolicyPreviewNotFound,
                format!(
                    "Lifecycle policy preview does not exist for the repository with name '{name}' in the registry \
                     with id '{registry_id}'"
                ),
            ),
            RegistryError::LifecyclePreviewInProgress => AwsError::new(
                ErrorType::LifecyclePolicyPreviewInProgress,
                format!(
                    "Previous lifecycle policy preview request has not completed for the repository with name \
                     '{name}' in the registry with id '{registry_id}'"
                ),
            ),
            RegistryError::TemplateAlreadyExists(prefix) => AwsError::new(
                ErrorType::TemplateAlreadyExists,
                format!(
                    "A repository creation template with prefix '{prefix}' already exists in the registry with id '{registry_id}'"
                ),
            ),
            RegistryError::TemplateNotFound(prefix) => AwsError::new(
                ErrorType::TemplateNotFound,
                format!(
                    "The repository creation template with prefix '{prefix}' does not exist in the registry with id '{registry_id}'"
                ),
            ),
            RegistryError::StorageClassUpdateNotSupported(why) => {
                AwsError::new(ErrorType::ImageStorageClassUpdateNotSupported, why)
            }
            e @ RegistryError::PullExclusionExists(_) => {
                AwsError::new(ErrorType::ExclusionAlreadyExists, e.to_string())
            }
            e @ RegistryError::PullExclusionNotFound(_) => AwsError::new(ErrorType::ExclusionNotFound, e.to_string()),
            // A layer only archived images use is not handed out until one of them is restored.
            e @ RegistryError::BlobArchived { .. } => AwsError::new(ErrorType::LayerInaccessible, e.to_string()),
            // A repository's pull policy refuses the image (or a layer only refused images use).
            RegistryError::PullBlocked(why) => AwsError::new(ErrorType::AccessDenied, why),
            // A storage quota has no room for the layer (not LimitExceededException: SDKs retry that).
            RegistryError::QuotaExceeded(why) => AwsError::new(ErrorType::AccessDenied, why),
            // A full disk is a fault of the server's environment, not of the request: ServerException (500,
            // retried by the SDKs), saying what is wrong.
            e @ (RegistryError::InsufficientStorage(_) | RegistryError::StorageUnavailable(_)) => {
                AwsError::new(ErrorType::Server, e.to_string())
            }
            e if e.code().is_none() => AwsError::server(&e),
            e => AwsError::invalid(e.to_string()),
        }
    }
}

impl From<IdentityError> for AwsError {
    fn from(e: IdentityError) -> Self {
        let kind = match &e {
            IdentityError::Denied { .. } => ErrorType::AccessDenied,
            // A rate limit on failed logins is reported as the refusal it is, never as throttling (which the
            // SDKs would retry, prolonging the lock-out).
            IdentityError::BadCredentials | IdentityError::RateLimited { .. } => ErrorType::UnrecognizedClient,
            IdentityError::Signature(_) => ErrorType::InvalidSignature,
            IdentityError::Throttled(_) => ErrorType::Throttling,
            IdentityError::NotFound(_)
            | IdentityError::AlreadyExists(_)
            | IdentityError::Invalid(_)
            | IdentityError::MalformedPolicy(_) => ErrorType::InvalidParameter,
            // The metadata database is down or restarting: ServerException (retried by the SDKs) saying so, as
            // for a registry operation that meets the same outage.
            IdentityError::Meta(m) if m.is_unavailable() => {
                return AwsError::new(
                    ErrorType::Server,
                    "the registry's metadata database cannot be reached; nothing was changed, retry shortly",
                );
            }
            IdentityError::Crypto(_) | IdentityError::MasterKeyMismatch | IdentityError::Meta(_) => {
                return AwsError::server(&e);
            }
        };
        let message = match &e {
            IdentityError::BadCredentials => "The security token included in the request is invalid.".to_string(),
            other => other.to_string(),
        };
        AwsError::new(kind, message)
    }
}

impl AwsError {
    /// An identity failure as the admin API reports it: IAM's names for missing and existing entities.
    pub fn from_admin(e: IdentityError) -> Self {
        let kind = match &e {
            IdentityError::NotFound(_) => ErrorType::NoSuchEntity,
            IdentityError::AlreadyExists(_) => ErrorType::EntityAlreadyExists,
            IdentityError::Invalid(_) => ErrorType::Validation,
            IdentityError::MalformedPolicy(_) => ErrorType::MalformedPolicyDocument,
            _ => return AwsError::from(e),
        };
        AwsError::new(kind, e.to_string())
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let body = json!({"__type": self.kind.name(), "message": self.message}).to_string();
        let mut resp = (self.kind.status(), body).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ErrorType; 41] = [
        ErrorType::SigningConfigurationNotFound,
        ErrorType::TemplateAlreadyExists,
        ErrorType::TemplateNotFound,
        ErrorType::LifecyclePolicyNotFound,
        ErrorType::LifecyclePolicyPreviewNotFound,
        ErrorType::LifecyclePolicyPreviewInProgress,
        ErrorType::NoSuchEntity,
        ErrorType::EntityAlreadyExists,
        ErrorType::MalformedPolicyDocument,
        ErrorType::UnknownAdminOperation,
        ErrorType::ScanNotFound,
        ErrorType::UnsupportedImageType,
        ErrorType::UploadNotFound,
        ErrorType::InvalidLayerPart,
        ErrorType::LayerPartTooSmall,
        ErrorType::InvalidLayer,
        ErrorType::LayerAlreadyExists,
        ErrorType::EmptyUpload,
        ErrorType::Validation,
        ErrorType::InvalidParameter,
        ErrorType::InvalidTagParameter,
        ErrorType::TooManyTags,
        ErrorType::RepositoryNotFound,
        ErrorType::RepositoryAlreadyExists,
        ErrorType::RepositoryNotEmpty,
        ErrorType::ImageNotFound,
        ErrorType::RepositoryPolicyNotFound,
        ErrorType::RegistryPolicyNotFound,
        ErrorType::ImageAlreadyExists,
        ErrorType::ImageTagAlreadyExists,
        ErrorType::ImageDigestDoesNotMatch,
        ErrorType::LayersNotFound,
        ErrorType::ReferencedImagesNotFound,
        ErrorType::Server,
        ErrorType::Serialization,
        ErrorType::UnknownOperation,
        ErrorType::UnsupportedOperation,
        ErrorType::MissingAuthenticationToken,
        ErrorType::UnrecognizedClient,
        ErrorType::InvalidSignature,
        ErrorType::AccessDenied,
    ];

    /// Error codes botocore retries (its `_retry.json`: throttling and limit types), which a client error
    /// must never carry.
    const RETRIED: [&str; 13] = [
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "EC2ThrottledException",
    ];

    #[test]
    fn only_server_faults_are_5xx_and_nothing_is_retryable() {
        for t in ALL {
            assert!(t.name().ends_with("Exception"), "{t:?}");
            assert!(!RETRIED.contains(&t.name()), "{t:?} would be retried by the SDKs");
            assert_eq!(t.status().is_server_error(), t == ErrorType::Server, "{t:?}");
            assert!(t.status().is_client_error() || t == ErrorType::Server, "{t:?}");
        }
    }

    #[test]
    fn only_a_rate_limit_is_throttling() {
        assert_eq!(ErrorType::Throttling.name(), "ThrottlingException");
        assert!(RETRIED.contains(&ErrorType::Throttling.name()), "the SDKs retry it, with backoff");
        assert_eq!(ErrorType::Throttling.status(), StatusCode::BAD_REQUEST);
        use berth_identity::ratelimit::{LimitKind, Rate, Throttled};
        let t = Throttled {
            kind: LimitKind::Requests,
            rate: Rate::new(10, 60).unwrap(),
            subject: "arn:aws:iam::123456789012:user/ci".into(),
            retry_after: 7,
            first: true,
        };
        let e = AwsError::from(IdentityError::Throttled(t));
        assert_eq!(e.kind, ErrorType::Throttling);
        assert!(e.message.contains("10 requests per 1m") && e.message.contains("retry in 7 seconds"), "{}", e.message);
        // A login lock-out is not throttling: retrying would prolong it.
        assert_eq!(AwsError::from(IdentityError::RateLimited { retry_after: 5 }).kind, ErrorType::UnrecognizedClient);
    }

    #[test]
    fn identity_failures_map_to_aws_types() {
        let cases = [
            (
                IdentityError::Denied { principal: "user/a".into(), action: "ecr:X".into(), resource: "*".into() },
                "AccessDeniedException",
                403,
            ),
            (IdentityError::BadCredentials, "UnrecognizedClientException", 403),
            (IdentityError::RateLimited { retry_after: 5 }, "UnrecognizedClientException", 403),
            (IdentityError::Signature("bad".into()), "InvalidSignatureException", 403),
            (IdentityError::Invalid("x".into()), "InvalidParameterException", 400),
            (IdentityError::Crypto("x".into()), "ServerException", 500),
        ];
        for (e, kind, status) in cases {
            let e = AwsError::from(e);
            assert_eq!((e.kind.name(), e.kind.status().as_u16()), (kind, status));
        }
    }

    #[test]
    fn registry_failures_name_the_repository() {
        let name: berth_oci::RepositoryName = "team/app".parse().unwrap();
        let e = AwsError::from_registry(RegistryError::NameUnknown, "team/app", "123456789012");
        assert_eq!(e.kind, ErrorType::RepositoryNotFound);
        assert!(e.message.contains("'team/app'") && e.message.contains("'123456789012'"), "{}", e.message);
        let e = AwsError::from_registry(RegistryError::RepositoryAlreadyExists(name.clone()), "team/app", "1");
        assert_eq!(e.kind, ErrorType::RepositoryAlreadyExists);
        let e = AwsError::from_registry(RegistryError::RepositoryNotEmpty(name), "team/app", "1");
        assert_eq!(e.kind, ErrorType::RepositoryNotEmpty);
        let fault = RegistryError::Meta(berth_meta::MetaError::Corrupt("x".into()));
        let e = AwsError::from_registry(fault, "team/app", "1");
        assert_eq!((e.kind, e.message.as_str()), (ErrorType::Server, "internal error"), "no detail leaks");
        let full = RegistryError::InsufficientStorage("the registry's blob storage is full".into());
        let e = AwsError::from_registry(full, "team/app", "1");
        assert_eq!(e.kind, ErrorType::Server, "a full disk is a fault");
        assert!(e.message.starts_with("no space left on device"), "{}", e.message);
    }

    #[tokio::test]
    async fn responses_are_aws_json() {
        let resp = AwsError::new(ErrorType::RepositoryNotFound, "gone").into_response();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        let body = axum::body::to_bytes(resp.into_body(), 1024).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v, json!({"__type": "RepositoryNotFoundException", "message": "gone"}));
    }
}
