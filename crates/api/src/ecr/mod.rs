//! The ECR-compatible API: `POST /` with `X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Operation>`,
//! AWS JSON 1.1 bodies, SigV4 (service `ecr`) with a berth access key. `aws ecr ... --endpoint-url` and the
//! SDKs (boto3) talk to it.
//!
//! Every request: authenticate (SigV4 only, see [`crate::aws`]), find the operation, parse the JSON body,
//! declare what the operation needs ([`access`]: `ecr:<Operation>` on the repository, registry or `*` its
//! input names), have that decided by [`crate::access::decide`], and only then run the operation (which
//! validates the rest of its members and calls the registry); answer JSON with `x-amzn-RequestId`.
//! Operations of ECR's model that berth does not implement yet answer 400 `UnsupportedOperationException`;
//! names outside the model answer 400 `UnknownOperationException`. Creations, deletions and refusals are
//! audited.
//!
//! ECR Public's catalog data operations (`SpencerFrontendService.PutRepositoryCatalogData` and
//! `GetRepositoryCatalogData`, signed for service `ecr-public`) are answered here too: see [`catalog`].

mod access;
mod archive;
mod authorization;
mod catalog;
mod exclusions;
mod images;
mod layers;
mod lifecycle;
mod operations;
pub(crate) mod policies;
pub(crate) mod registry;
pub(crate) mod repositories;
mod scans;
mod signing;
mod tags;
mod templates;

pub(crate) use catalog::OPERATIONS as PUBLIC_OPERATIONS;
pub use layers::DOWNLOAD_PATH;
/// Every operation of ECR's model berth knows (implemented or answering `UnsupportedOperationException`), and
/// those of them newer than the botocore release the tests run with.
pub use operations::{ALL as OPERATIONS, NEWER_THAN_BOTOCORE};

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_identity::{Authorized, Caller, Resource};
use berth_oci::RepositoryName;
use http_body_util::{BodyExt, Limited};
use serde_json::Value;

pub(crate) use crate::aws::{errors, input};

use self::access::Declared;
use self::errors::{AwsError, ErrorType};
use self::input::Input;
use crate::AppState;
use crate::authn::{audit, client_ip};
use crate::aws::{CONTENT_TYPE, SigningRules};

/// `X-Amz-Target` is this prefix, a dot, and the operation name.
pub const TARGET_PREFIX: &str = "AmazonEC2ContainerRegistry_V20150921";
/// ECR Public's prefix: berth answers its catalog data operations ([`catalog::OPERATIONS`]) here too.
pub const PUBLIC_TARGET_PREFIX: &str = "SpencerFrontendService";
/// What ECR requires of a signature: service `ecr`, the registry's region, the operation and the body's
/// media type signed.
const SIGNING: SigningRules =
    SigningRules { service: "ecr", check_region: true, signed: &["x-amz-target", "content-type"] };
/// What ECR Public requires of a signature: service `ecr-public` (in AWS it lives in one region only, so any
/// region is accepted).
const PUBLIC_SIGNING: SigningRules =
    SigningRules { service: "ecr-public", check_region: false, signed: &["x-amz-target", "content-type"] };
const MAX_BODY: usize = 1024 * 1024;
/// `UploadLayerPart` carries the part base64-encoded in its JSON body: room for a 16 MiB part.
const MAX_PART_BODY: usize = 24 * 1024 * 1024;

/// What an operation runs with. Only the dispatcher makes one, after the operation's access was decided.
pub(crate) struct Ctx<'a> {
    pub app: &'a AppState,
    pub caller: Caller,
    /// The `Host` clients used: repository URIs and the proxy endpoint are built from it.
    pub host: String,
    pub ip: Option<IpAddr>,
    /// The decision that let the operation run (for the identity use cases that take it).
    pub authorized: Authorized,
}

impl Ctx<'_> {
    pub fn registry_id(&self) -> &str {
        &self.app.identity.account().id
    }

    /// Fails with `RepositoryNotFoundException` unless `repo` exists.
    pub async fn existing_repository(&self, repo: &RepositoryName) -> Result<(), AwsError> {
        self.app
            .registry
            .repository(repo)
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_registry(e, repo.as_str(), self.registry_id()))
    }

    /// Whether the caller may perform `ecr:<operation>` on `repo`: the per-item decision of a listing that
    /// [`Declared::Filtered`] stands for.
    pub async fn may(&self, operation: &str, repo: &RepositoryName) -> Result<bool, AwsError> {
        let action = format!("ecr:{operation}");
        Ok(self.app.identity.is_allowed(&self.caller, &action, &Resource::Repository(repo)).await?)
    }

    pub async fn audit(&self, action: &str, resource: &Resource<'_>, outcome: &str, status: u16) {
        let account = self.app.identity.account();
        let resource = match resource {
            Resource::Repository(r) => account.repository_arn(r),
            Resource::Registry => account.registry_arn(),
            _ => "*".to_string(),
        };
        audit(self.app, &self.caller, action, &resource, self.ip, outcome, status).await;
    }

    /// `HOST/NAME`: where `docker pull` finds the repository.
    pub fn repository_uri(&self, name: &RepositoryName) -> String {
        format!("{}/{name}", self.host)
    }
}

/// `POST /`.
pub async fn handle(State(app): State<Arc<AppState>>, req: Request) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let ip = client_ip(&req);
    let (parts, body) = req.into_parts();
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    let limit = if target.ends_with(".UploadLayerPart") { MAX_PART_BODY } else { MAX_BODY };
    let result = match Limited::new(body, limit).collect().await {
        Ok(body) => serve(&app, &parts, &body.to_bytes(), ip).await,
        Err(_) => Err(AwsError::new(ErrorType::Serialization, "the request body is too large or unreadable")),
    };
    let mut resp = match result {
        Ok(v) => (StatusCode::OK, v.to_string()).into_response(),
        Err(e) => e.into_response(),
    };
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    resp
}

async fn serve(app: &AppState, parts: &Parts, body: &[u8], ip: Option<IpAddr>) -> Result<Value, AwsError> {
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    let rules = if target.starts_with(PUBLIC_TARGET_PREFIX) { &PUBLIC_SIGNING } else { &SIGNING };
    let caller = crate::aws::authenticate(app, parts, body, ip, rules).await?;
    let operation = operation_of(target)?;
    let input = crate::aws::json_object(body)?;
    let input = Input(&input);
    let Some(declared) = access::declared(operation, &input, app.identity.account())? else {
        return Err(AwsError::new(
            ErrorType::UnsupportedOperation,
            format!("{operation} is not available: {} is not a berth feature yet", operations::feature_of(operation)),
        ));
    };
    let required = match declared {
        Declared::All(required) => required,
        Declared::Filtered => Vec::new(),
    };
    let authorized = crate::access::decide(app, &caller, ip, &required).await?;
    let host = crate::authn::request_host(parts.headers.get(header::HOST), &parts.uri);
    let ctx = Ctx { app, caller, host, ip, authorized };
    dispatch(&ctx, operation, &input).await
}

/// The operation named by `X-Amz-Target`: one of ECR's, or `UnknownOperationException`.
fn operation_of(target: &str) -> Result<&str, AwsError> {
    let unknown = || AwsError::new(ErrorType::UnknownOperation, format!("unknown operation {target:?}"));
    let (prefix, operation) = target.split_once('.').ok_or_else(unknown)?;
    let known = match prefix {
        TARGET_PREFIX => operations::ALL.contains(&operation),
        PUBLIC_TARGET_PREFIX => catalog::OPERATIONS.contains(&operation),
        _ => false,
    };
    if !known {
        return Err(unknown());
    }
    Ok(operation)
}

async fn dispatch(ctx: &Ctx<'_>, operation: &str, input: &Input<'_>) -> Result<Value, AwsError> {
    match operation {
        "GetAuthorizationToken" => authorization::get_authorization_token(ctx, input).await,
        "CreateRepository" => repositories::create(ctx, input).await,
        "DescribeRepositories" => repositories::describe(ctx, input).await,
        "DeleteRepository" => repositories::delete(ctx, input).await,
        "ListImages" => images::list(ctx, input).await,
        "DescribeImages" => images::describe(ctx, input).await,
        "BatchGetImage" => images::batch_get(ctx, input).await,
        "BatchDeleteImage" => images::batch_delete(ctx, input).await,
        "PutImage" => images::put(ctx, input).await,
        "SetRepositoryPolicy" => policies::set_repository(ctx, input).await,
        "GetRepositoryPolicy" => policies::get_repository(ctx, input).await,
        "DeleteRepositoryPolicy" => policies::delete_repository(ctx, input).await,
        "PutRegistryPolicy" => policies::put_registry(ctx, input).await,
        "GetRegistryPolicy" => policies::get_registry(ctx, input).await,
        "DeleteRegistryPolicy" => policies::delete_registry(ctx, input).await,
        "TagResource" => tags::tag(ctx, input).await,
        "UntagResource" => tags::untag(ctx, input).await,
        "ListTagsForResource" => tags::list(ctx, input).await,
        "PutImageTagMutability" => repositories::put_image_tag_mutability(ctx, input).await,
        "PutImageScanningConfiguration" => repositories::put_image_scanning_configuration(ctx, input).await,
        "BatchCheckLayerAvailability" => layers::batch_check_layer_availability(ctx, input).await,
        "InitiateLayerUpload" => layers::initiate_layer_upload(ctx, input).await,
        "UploadLayerPart" => layers::upload_layer_part(ctx, input).await,
        "CompleteLayerUpload" => layers::complete_layer_upload(ctx, input).await,
        "GetDownloadUrlForLayer" => layers::get_download_url_for_layer(ctx, input).await,
        "ListImageReferrers" => images::list_referrers(ctx, input).await,
        "DescribeRegistry" => registry::describe_registry(ctx, input).await,
        "GetAccountSetting" => registry::get_account_setting(ctx, input).await,
        "PutAccountSetting" => registry::put_account_setting(ctx, input).await,
        "PutRegistryScanningConfiguration" => registry::put_registry_scanning_configuration(ctx, input).await,
        "GetRegistryScanningConfiguration" => registry::get_registry_scanning_configuration(ctx, input).await,
        "StartImageScan" => scans::start_image_scan(ctx, input).await,
        "DescribeImageScanFindings" => scans::describe_image_scan_findings(ctx, input).await,
        "BatchGetRepositoryScanningConfiguration" => {
            registry::batch_get_repository_scanning_configuration(ctx, input).await
        }
        "PutLifecyclePolicy" => lifecycle::put(ctx, input).await,
        "GetLifecyclePolicy" => lifecycle::get(ctx, input).await,
        "DeleteLifecyclePolicy" => lifecycle::delete(ctx, input).await,
        "StartLifecyclePolicyPreview" => lifecycle::start_preview(ctx, input).await,
        "GetLifecyclePolicyPreview" => lifecycle::get_preview(ctx, input).await,
        "CreateRepositoryCreationTemplate" => templates::create(ctx, input).await,
        "DescribeRepositoryCreationTemplates" => templates::describe(ctx, input).await,
        "UpdateRepositoryCreationTemplate" => templates::update(ctx, input).await,
        "DeleteRepositoryCreationTemplate" => templates::delete(ctx, input).await,
        "UpdateImageStorageClass" => archive::update_image_storage_class(ctx, input).await,
        "RegisterPullTimeUpdateExclusion" => exclusions::register(ctx, input).await,
        "DeregisterPullTimeUpdateExclusion" => exclusions::deregister(ctx, input).await,
        "ListPullTimeUpdateExclusions" => exclusions::list(ctx, input).await,
        "PutSigningConfiguration" => signing::put(ctx, input).await,
        "GetSigningConfiguration" => signing::get(ctx, input).await,
        "DeleteSigningConfiguration" => signing::delete(ctx, input).await,
        "DescribeImageSigningStatus" => signing::describe_image_signing_status(ctx, input).await,
        "GetRepositoryCatalogData" => catalog::get(ctx, input).await,
        "PutRepositoryCatalogData" => catalog::put(ctx, input).await,
        other => Err(AwsError::server(&format!("{other} declares its access but has no handler"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_name_ecr_operations() {
        assert_eq!(operation_of("AmazonEC2ContainerRegistry_V20150921.ListImages").unwrap(), "ListImages");
        assert_eq!(operation_of("AmazonEC2ContainerRegistry_V20150921.PutImage").unwrap(), "PutImage");
        let public = operation_of("SpencerFrontendService.PutRepositoryCatalogData").unwrap();
        assert_eq!(public, "PutRepositoryCatalogData");
        for bad in [
            "",
            "ListImages",
            "AmazonEC2ContainerRegistry_V20150921.",
            "AmazonEC2ContainerRegistry_V20150921.NoSuchThing",
            "AmazonEC2ContainerRegistry_V20150921.listImages",
            "OtherService_V1.ListImages",
            "AmazonEC2ContainerRegistry_V20150921.PutRepositoryCatalogData",
            "SpencerFrontendService.ListImages",
        ] {
            let e = operation_of(bad).unwrap_err();
            assert_eq!((e.kind, e.kind.status()), (ErrorType::UnknownOperation, StatusCode::BAD_REQUEST), "{bad}");
        }
    }

    #[test]
    fn implemented_operations_are_ecr_operations() {
        for op in operations::IMPLEMENTED {
            assert!(operations::ALL.contains(op), "{op}");
        }
    }
}
