//! Layer operations: `BatchCheckLayerAvailability`, the upload trio `InitiateLayerUpload` /
//! `UploadLayerPart` / `CompleteLayerUpload` (over the same upload sessions as `/v2` uploads, so they resume
//! after a restart and commit with the same crash-safety), and `GetDownloadUrlForLayer` (a short-lived URL to
//! berth's own download endpoint, signed like a registry token).

use base64::Engine as _;
use berth_oci::{Algorithm, Digest, RepositoryName};
use berth_registry::RegistryError;
use serde_json::{Value, json};

use super::Ctx;
use super::errors::{AwsError, ErrorType};
use super::input::Input;

/// The part size `InitiateLayerUpload` suggests (clients may send other sizes).
pub const PART_SIZE: u64 = 10 * 1024 * 1024;
/// ECR's minimum layer part size: every part but the last must have at least this many bytes.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// The path under which `GetDownloadUrlForLayer`'s URLs are served.
pub const DOWNLOAD_PATH: &str = "/ecr-download";

fn layer_digest(member: &str, value: &str) -> Result<Digest, AwsError> {
    match value.parse::<Digest>() {
        Ok(d) if d.algorithm() == Algorithm::Sha256 => Ok(d),
        _ => Err(AwsError::invalid(format!("Invalid parameter at '{member}': {value:?} is not a sha256 layer digest"))),
    }
}

/// A registry failure of a layer operation on `repo`.
fn layer_error(ctx: &Ctx<'_>, repo: &RepositoryName, e: RegistryError) -> AwsError {
    match e {
        RegistryError::BlobUploadUnknown | RegistryError::Storage(berth_storage::StorageError::UploadNotFound(_)) => {
            AwsError::new(
                ErrorType::UploadNotFound,
                "The upload could not be found, or it has expired or been completed",
            )
        }
        RegistryError::UploadRangeInvalid { size, .. } => AwsError::new(
            ErrorType::InvalidLayerPart,
            format!("The layer part must start at byte {size}, the bytes received so far"),
        ),
        RegistryError::BlobUploadInvalid(m) => AwsError::new(ErrorType::InvalidLayerPart, m),
        RegistryError::LayerPartTooSmall(m) => AwsError::new(
            ErrorType::LayerPartTooSmall,
            format!("Layer parts must be at least 5 MiB in size: {m}; start a new upload with larger parts"),
        ),
        RegistryError::DigestInvalid(m) => AwsError::new(
            ErrorType::InvalidLayer,
            format!("{m}; the upload is kept: complete it again with the right digest (unused uploads expire)"),
        ),
        RegistryError::BlobUnknown(d) => AwsError::new(
            ErrorType::LayersNotFound,
            format!("The layer with digest '{d}' does not exist in the repository '{repo}'"),
        ),
        other => AwsError::from_registry(other, repo.as_str(), ctx.registry_id()),
    }
}

pub async fn batch_check_layer_availability(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let repo = input.repository_name("repositoryName")?;
    let digests = input.required("layerDigests", input.opt_list("layerDigests")?)?;
    if digests.is_empty() || digests.len() > 100 {
        return Err(AwsError::invalid(
            "Invalid parameter at 'layerDigests' failed to satisfy constraint: 'Member must have length between 1 and 100'",
        ));
    }
    ctx.existing_repository(&repo).await?;
    let (mut layers, mut failures) = (Vec::new(), Vec::new());
    for d in digests {
        let given = d.as_str().unwrap_or_default();
        let Ok(digest) = given.parse::<Digest>() else {
            failures.push(json!({"layerDigest": given, "failureCode": "InvalidLayerDigest",
                "failureReason": "Invalid layer digest"}));
            continue;
        };
        match ctx.app.registry.stat_blob(&repo, &digest).await {
            Ok(size) => {
                let mut layer = json!({"layerDigest": given, "layerAvailability": "AVAILABLE", "layerSize": size});
                // The media type the repository's manifests give the layer. A layer no manifest references
                // yet (uploaded before its manifest) has none berth could know: `mediaType` is left out.
                let media_type =
                    ctx.app.registry.blob_media_type(&repo, &digest).await.map_err(|e| layer_error(ctx, &repo, e))?;
                if let Some(t) = media_type {
                    layer["mediaType"] = json!(t);
                }
                layers.push(layer);
            }
            Err(RegistryError::BlobUnknown(_)) => failures.push(json!({"layerDigest": given,
                "failureCode": "MissingLayerDigest", "failureReason": "Layer not found"})),
            Err(e) => return Err(layer_error(ctx, &repo, e)),
        }
    }
    Ok(json!({"layers": layers, "failures": failures}))
}

pub async fn initiate_layer_upload(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let repo = input.repository_name("repositoryName")?;
    ctx.existing_repository(&repo).await?;
    let owner = ctx.caller.principal.label();
    let upload = ctx.app.registry.start_upload(&repo, &owner).await.map_err(|e| layer_error(ctx, &repo, e))?;
    Ok(json!({"uploadId": upload.id, "partSize": PART_SIZE}))
}

fn upload_id<'a>(input: &Input<'a>) -> Result<&'a str, AwsError> {
    let id = input.required("uploadId", input.opt_str("uploadId")?)?;
    uuid::Uuid::try_parse(id).map_err(|_| AwsError::invalid("Invalid parameter at 'uploadId': not an upload id"))?;
    Ok(id)
}

pub async fn upload_layer_part(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let repo = input.repository_name("repositoryName")?;
    let id = upload_id(input)?;
    let first = input.required("partFirstByte", input.opt_u64("partFirstByte")?)?;
    let last = input.required("partLastByte", input.opt_u64("partLastByte")?)?;
    let blob = input.required("layerPartBlob", input.opt_str("layerPartBlob")?)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .map_err(|_| AwsError::invalid("Invalid parameter at 'layerPartBlob': not base64"))?;
    if bytes.is_empty() || last < first || last - first + 1 != bytes.len() as u64 {
        return Err(AwsError::new(
            ErrorType::InvalidLayerPart,
            format!("partFirstByte {first} and partLastByte {last} do not frame the {} bytes sent", bytes.len()),
        ));
    }
    ctx.app.registry.check_upload_quota(&repo, id, bytes.len() as u64).await.map_err(|e| layer_error(ctx, &repo, e))?;
    let body = berth_registry::byte_stream(futures_util::stream::once(async move {
        Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))
    }));
    let progress = ctx
        .app
        .registry
        .append_layer_part(&repo, id, first, MIN_PART_SIZE, body)
        .await
        .map_err(|e| layer_error(ctx, &repo, e))?;
    Ok(json!({
        "registryId": ctx.registry_id(),
        "repositoryName": repo.as_str(),
        "uploadId": id,
        "lastByteReceived": progress.size.saturating_sub(1),
    }))
}

pub async fn complete_layer_upload(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let repo = input.repository_name("repositoryName")?;
    let id = upload_id(input)?;
    let digests = input.required("layerDigests", input.opt_list("layerDigests")?)?;
    if digests.len() != 1 {
        return Err(AwsError::invalid("layerDigests must hold exactly the digest of the uploaded layer"));
    }
    let digest = layer_digest("layerDigests", digests[0].as_str().unwrap_or_default())?;
    let registry = &ctx.app.registry;
    let progress = registry.upload_status(&repo, id).await.map_err(|e| layer_error(ctx, &repo, e))?;
    if progress.size == 0 {
        registry.cancel_upload(&repo, id).await.map_err(|e| layer_error(ctx, &repo, e))?;
        return Err(AwsError::new(ErrorType::EmptyUpload, "The upload holds no bytes; send layer parts first"));
    }
    if registry.stat_blob(&repo, &digest).await.is_ok() {
        registry.cancel_upload(&repo, id).await.map_err(|e| layer_error(ctx, &repo, e))?;
        return Err(AwsError::new(
            ErrorType::LayerAlreadyExists,
            format!("The layer with digest '{digest}' already exists in the repository '{repo}'"),
        ));
    }
    // A digest that does not match leaves the upload as it was, for another try.
    registry.complete_upload(&repo, id, &digest).await.map_err(|e| layer_error(ctx, &repo, e))?;
    Ok(json!({
        "registryId": ctx.registry_id(),
        "repositoryName": repo.as_str(),
        "uploadId": id,
        "layerDigest": digest.to_string(),
    }))
}

pub async fn get_download_url_for_layer(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let repo = input.repository_name("repositoryName")?;
    let given = input.required("layerDigest", input.opt_str("layerDigest")?)?;
    let digest = given.parse::<Digest>().map_err(|_| AwsError::invalid("Invalid parameter at 'layerDigest'"))?;
    ctx.existing_repository(&repo).await?;
    // The pull policy applies: a layer only refused images use is not handed out.
    ctx.app.registry.stat_blob_for_pull(&repo, &digest).await.map_err(|e| layer_error(ctx, &repo, e))?;
    let token = ctx.app.identity.issue_download_token(&ctx.caller, repo.as_str(), &digest.to_string())?;
    let scheme = if ctx.app.tls { "https" } else { "http" };
    let url = format!("{scheme}://{}{DOWNLOAD_PATH}/{repo}/blobs/{digest}?token={}", ctx.host, token.token.expose());
    Ok(json!({"downloadUrl": url, "layerDigest": digest.to_string()}))
}
