//! `ListImages`, `DescribeImages`, `BatchGetImage`, `BatchDeleteImage`, `PutImage`.

use berth_identity::Resource;
use berth_meta::Untagging;
use berth_meta::archive::ImageStatus;
use berth_meta::settings::{ImageDeletion, ImageDetail, ImageId, StatusFilter, TagStatus};
use berth_oci::{Digest, Reference, RepositoryName, Tag};
use berth_registry::{ManifestRead, RegistryError};
use serde_json::{Map, Value, json};

use super::Ctx;
use super::errors::{AwsError, ErrorType};
use super::input::{Input, decode_token, encode_token};

/// ListImages' page size when the client sends no `maxResults` (as ECR).
const DEFAULT_PAGE: u32 = 100;

/// A page position: the digest, and the tag after a newline for a tagged entry.
fn token_of(id: &ImageId) -> String {
    match &id.tag {
        Some(t) => encode_token(&format!("{}\n{t}", id.digest)),
        None => encode_token(&id.digest.to_string()),
    }
}

fn position_of(token: &str) -> Result<ImageId, AwsError> {
    let text = decode_token(token)?;
    let bad = || AwsError::invalid("Invalid parameter at 'nextToken': not a token this registry issued");
    let (digest, tag) = match text.split_once('\n') {
        Some((d, t)) => (d, Some(t.parse().map_err(|_| bad())?)),
        None => (text.as_str(), None),
    };
    Ok(ImageId { digest: digest.parse().map_err(|_| bad())?, tag })
}

/// `filter`: the tag status, and the image status when one is given (`None`: listings show `ACTIVE`
/// images only, as ECR's do).
fn filter_of(input: &Input<'_>) -> Result<(TagStatus, Option<StatusFilter>), AwsError> {
    Ok(match input.opt_object("filter")? {
        Some(f) => {
            let status = match f.opt_enum("tagStatus", &["TAGGED", "UNTAGGED", "ANY"])? {
                Some("TAGGED") => TagStatus::Tagged,
                Some("UNTAGGED") => TagStatus::Untagged,
                _ => TagStatus::Any,
            };
            let image_status = match f.opt_enum("imageStatus", &["ACTIVE", "ARCHIVED", "ACTIVATING", "ANY"])? {
                Some("ANY") => Some(StatusFilter::Any),
                Some(s) => ImageStatus::parse(s).map(StatusFilter::Only),
                None => None,
            };
            (status, image_status)
        }
        None => (TagStatus::Any, None),
    })
}

/// The image status a listing shows when the client names none.
const LISTED_BY_DEFAULT: StatusFilter = StatusFilter::Only(ImageStatus::Active);

/// One member of `imageIds` as the client sent it (echoed back in failures and results).
pub struct ImageIdentifier<'a> {
    pub given: &'a Map<String, Value>,
    pub digest: Option<&'a str>,
    pub tag: Option<&'a str>,
}

/// Why an image identifier names no image: an `ImageFailureCode` and its reason.
pub struct Failure {
    pub code: &'static str,
    pub reason: String,
}

impl Failure {
    fn new(code: &'static str, reason: impl Into<String>) -> Self {
        Failure { code, reason: reason.into() }
    }

    pub fn json(&self, id: &ImageIdentifier<'_>) -> Value {
        json!({"imageId": Value::Object(id.given.clone()), "failureCode": self.code, "failureReason": self.reason})
    }
}

impl ImageIdentifier<'_> {
    /// The reference to look up (the digest when both are given), or why there is none.
    pub fn reference(&self) -> Result<Reference, Failure> {
        let digest = self
            .digest
            .map(|d| d.parse::<Digest>().map_err(|_| Failure::new("InvalidImageDigest", "Invalid image digest")))
            .transpose()?;
        let tag = self
            .tag
            .map(|t| t.parse::<Tag>().map_err(|_| Failure::new("InvalidImageTag", "Invalid image tag")))
            .transpose()?;
        match (digest, tag) {
            (Some(d), _) => Ok(Reference::Digest(d)),
            (None, Some(t)) => Ok(Reference::Tag(t)),
            (None, None) => Err(Failure::new(
                "MissingDigestAndTag",
                "Invalid request parameters: both tag and digest cannot be null",
            )),
        }
    }

    /// `{imageDigest:'...', imageTag:'...'}` as ECR's messages print an image id.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(d) = self.digest {
            parts.push(format!("imageDigest:'{d}'"));
        }
        if let Some(t) = self.tag {
            parts.push(format!("imageTag:'{t}'"));
        }
        format!("{{{}}}", parts.join(", "))
    }
}

/// An `ImageIdentifier` structure member, required (`UpdateImageStorageClass`'s `imageId`).
pub fn image_ids_member<'a>(input: &Input<'a>, member: &str) -> Result<ImageIdentifier<'a>, AwsError> {
    let id = input.opt_object(member)?.ok_or_else(|| {
        AwsError::invalid(format!(
            "Invalid parameter at '{member}' failed to satisfy constraint: 'Member must not be null'"
        ))
    })?;
    let tag = id.opt_str("imageTag")?;
    if let Some(t) = tag
        && (t.is_empty() || t.chars().count() > 300)
    {
        return Err(AwsError::invalid(format!(
            "Invalid parameter at '{member}.imageTag' failed to satisfy constraint: 'Member must have length between 1 and 300'"
        )));
    }
    Ok(ImageIdentifier { given: id.0, digest: id.opt_str("imageDigest")?, tag })
}

/// `imageIds`: 1 to 100 `ImageIdentifier`s (`imageTag` 1 to 300 characters).
pub fn image_ids<'a>(input: &Input<'a>) -> Result<Option<Vec<ImageIdentifier<'a>>>, AwsError> {
    let Some(list) = input.opt_list("imageIds")? else {
        return Ok(None);
    };
    if list.is_empty() || list.len() > 100 {
        return Err(AwsError::invalid(
            "Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must have length between 1 and 100'",
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for v in list {
        let Value::Object(m) = v else {
            return Err(AwsError::invalid("Invalid parameter at 'imageIds': each member must be a structure"));
        };
        let id = Input(m);
        let digest = id.opt_str("imageDigest")?;
        let tag = id.opt_str("imageTag")?;
        if let Some(t) = tag
            && (t.is_empty() || t.chars().count() > 300)
        {
            return Err(AwsError::invalid(
                "Invalid parameter at 'imageIds.member.imageTag' failed to satisfy constraint: 'Member must have length between 1 and 300'",
            ));
        }
        out.push(ImageIdentifier { given: m, digest, tag });
    }
    Ok(Some(out))
}

pub async fn list(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    let want = input.max_results()?.unwrap_or(DEFAULT_PAGE);
    let after = input.opt_str("nextToken")?.map(position_of).transpose()?;
    let (status, storage) = filter_of(input)?;
    let page = ctx
        .app
        .registry
        .list_images(&name, status, storage.unwrap_or(LISTED_BY_DEFAULT), after.as_ref(), want)
        .await
        .map_err(|e| AwsError::from_registry(e, name.as_str(), ctx.registry_id()))?;
    let ids: Vec<Value> = page
        .entries
        .iter()
        .map(|id| match &id.tag {
            Some(t) => json!({"imageDigest": id.digest.to_string(), "imageTag": t.as_str()}),
            None => json!({"imageDigest": id.digest.to_string()}),
        })
        .collect();
    let mut out = json!({"imageIds": ids});
    if page.more
        && let Some(last) = page.entries.last()
    {
        out["nextToken"] = json!(token_of(last));
    }
    Ok(out)
}

/// `ImageDetail`s with their scan status and findings summary.
async fn details_json(ctx: &Ctx<'_>, name: &RepositoryName, details: &[ImageDetail]) -> Vec<Value> {
    let mut out = Vec::with_capacity(details.len());
    for d in details {
        let mut v = detail_json(ctx, name, d);
        super::scans::describe_fields(ctx, name, &d.digest, &mut v).await;
        out.push(v);
    }
    out
}

/// The `ImageDetail` structure of ECR's model.
fn detail_json(ctx: &Ctx<'_>, name: &RepositoryName, d: &ImageDetail) -> Value {
    let mut out = json!({
        "registryId": ctx.registry_id(),
        "repositoryName": name.as_str(),
        "imageDigest": d.digest.to_string(),
        "imageSizeInBytes": d.size,
        "imagePushedAt": d.pushed_at,
        "imageManifestMediaType": d.media_type,
        "imageStatus": d.storage.status.as_str(),
    });
    if let Some(t) = d.storage.last_archived_at {
        out["lastArchivedAt"] = json!(t);
    }
    if let Some(t) = d.storage.last_activated_at {
        out["lastActivatedAt"] = json!(t);
    }
    if !d.tags.is_empty() {
        out["imageTags"] = json!(d.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>());
    }
    if let Some(t) = &d.config_media_type {
        out["artifactMediaType"] = json!(t);
    }
    if let Some(t) = d.last_pulled_at {
        out["lastRecordedPullTime"] = json!(t);
    }
    out
}

pub fn image_not_found(ctx: &Ctx<'_>, name: &RepositoryName, id: &ImageIdentifier<'_>) -> AwsError {
    AwsError::new(
        ErrorType::ImageNotFound,
        format!(
            "The image with imageId {} does not exist within the repository with name '{name}' in the registry \
             with id '{}'",
            id.describe(),
            ctx.registry_id()
        ),
    )
}

fn digest_position(token: &str) -> Result<Digest, AwsError> {
    decode_token(token)?
        .parse()
        .map_err(|_| AwsError::invalid("Invalid parameter at 'nextToken': not a token this registry issued"))
}

pub async fn describe(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    let ids = image_ids(input)?;
    let max_results = input.max_results()?;
    let next_token = input.opt_str("nextToken")?;
    let (status, storage) = filter_of(input)?;
    if ids.is_some() && (max_results.is_some() || next_token.is_some()) {
        return Err(AwsError::invalid("maxResults and nextToken cannot be used with imageIds"));
    }
    let after = next_token.map(digest_position).transpose()?;
    let registry_error = |e| AwsError::from_registry(e, name.as_str(), ctx.registry_id());
    if let Some(ids) = ids {
        // Each named image once, in the order asked; any unknown one fails the request (as ECR).
        let mut details: Vec<ImageDetail> = Vec::new();
        for id in &ids {
            let reference = id.reference().map_err(|f| AwsError::invalid(f.reason))?;
            let detail = match ctx.app.registry.image_detail(&name, &reference).await {
                Ok(d) => d,
                Err(RegistryError::ManifestUnknown(_)) => return Err(image_not_found(ctx, &name, id)),
                Err(e) => return Err(registry_error(e)),
            };
            if let Some(t) = id.tag
                && id.digest.is_some()
                && !detail.tags.iter().any(|x| x.as_str() == t)
            {
                return Err(image_not_found(ctx, &name, id));
            }
            if !details.iter().any(|d| d.digest == detail.digest) {
                details.push(detail);
            }
        }
        // Named images are described whatever their state, unless the filter names one.
        if let Some(StatusFilter::Only(s)) = storage {
            details.retain(|d| d.storage.status == s);
        }
        return Ok(json!({"imageDetails": details_json(ctx, &name, &details).await}));
    }
    let want = max_results.unwrap_or(DEFAULT_PAGE);
    let storage = storage.unwrap_or(LISTED_BY_DEFAULT);
    let page =
        ctx.app.registry.image_details(&name, status, storage, after.as_ref(), want).await.map_err(registry_error)?;
    let mut out = json!({"imageDetails": details_json(ctx, &name, &page.entries).await});
    if page.more
        && let Some(last) = page.entries.last()
    {
        out["nextToken"] = json!(encode_token(&last.digest.to_string()));
    }
    Ok(out)
}

/// `imageIds`, required.
fn required_image_ids<'a>(input: &Input<'a>) -> Result<Vec<ImageIdentifier<'a>>, AwsError> {
    image_ids(input)?.ok_or_else(|| {
        AwsError::invalid("Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must not be null'")
    })
}

/// The manifest `id` names, when it names one: by digest (and then its tag, if given, must point at it) or
/// by tag. `Err(Ok(failure))` for an image that is not there, `Err(Err(_))` for a fault.
async fn resolve(
    ctx: &Ctx<'_>,
    name: &RepositoryName,
    id: &ImageIdentifier<'_>,
) -> Result<berth_meta::StoredManifest, Result<Failure, AwsError>> {
    let reference = id.reference().map_err(Ok)?;
    let registry = &ctx.app.registry;
    let not_found = || Failure::new("ImageNotFound", "Requested image not found");
    if let (Reference::Digest(d), Some(tag)) = (&reference, id.tag) {
        let tag: Reference =
            Reference::Tag(tag.parse().map_err(|_| Ok(Failure::new("InvalidImageTag", "Invalid image tag")))?);
        match registry.get_manifest(name, &tag, ManifestRead::Inspect).await {
            Ok(m) if &m.digest == d => {}
            Ok(_) => {
                return Err(Ok(Failure::new(
                    "ImageTagDoesNotMatchDigest",
                    "Invalid request parameters: given tag does not match the given digest",
                )));
            }
            Err(RegistryError::ManifestUnknown(_)) => return Err(Ok(not_found())),
            Err(e) => return Err(Err(AwsError::from_registry(e, name.as_str(), ctx.registry_id()))),
        }
    }
    match registry.get_manifest(name, &reference, ManifestRead::Inspect).await {
        Ok(m) => Ok(m),
        Err(RegistryError::ManifestUnknown(_)) => Err(Ok(not_found())),
        Err(e) => Err(Err(AwsError::from_registry(e, name.as_str(), ctx.registry_id()))),
    }
}

/// The `imageId` of a result: the digest, and the tag the client asked by.
fn result_id(digest: &Digest, id: &ImageIdentifier<'_>) -> Value {
    match id.tag {
        Some(t) => json!({"imageDigest": digest.to_string(), "imageTag": t}),
        None => json!({"imageDigest": digest.to_string()}),
    }
}

pub async fn batch_get(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    let ids = required_image_ids(input)?;
    let accepted: Option<Vec<&str>> = match input.opt_list("acceptedMediaTypes")? {
        None => None,
        Some(list) => {
            if list.is_empty() || list.len() > 100 {
                return Err(AwsError::invalid(
                    "Invalid parameter at 'acceptedMediaTypes' failed to satisfy constraint: 'Member must have length between 1 and 100'",
                ));
            }
            Some(
                list.iter()
                    .map(|v| {
                        v.as_str().ok_or_else(|| AwsError::invalid("acceptedMediaTypes must be a list of strings"))
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
    };
    ctx.existing_repository(&name).await?;
    let puller = ctx.caller.principal.puller();
    let (mut images, mut failures): (Vec<Value>, Vec<Value>) = (Vec::new(), Vec::new());
    for id in &ids {
        // A manifest berth would have to convert is not served (berth does not convert manifests).
        let m = match resolve(ctx, &name, id).await {
            Ok(m) => m,
            Err(Ok(f)) => {
                failures.push(f.json(id));
                continue;
            }
            Err(Err(e)) => return Err(e),
        };
        if let Some(accepted) = &accepted
            && !accepted.contains(&m.media_type.as_str())
        {
            let reason = format!(
                "the image's manifest is {}, which is not among acceptedMediaTypes (berth does not convert manifests)",
                m.media_type
            );
            failures.push(Failure::new("ImageNotFound", reason).json(id));
            continue;
        }
        let image_id = result_id(&m.digest, id);
        if images.iter().any(|i| i["imageId"] == image_id) {
            continue;
        }
        // Fetching a manifest through the ECR API is a pull, as through /v2: recorded, and refused when
        // the image is archived or the repository's pull policy refuses it.
        let pull = ManifestRead::Pull { by: puller.as_deref() };
        match ctx.app.registry.get_manifest(&name, &Reference::Digest(m.digest.clone()), pull).await {
            Ok(_) => {}
            Err(e @ RegistryError::ImageArchived { .. }) => {
                failures.push(Failure::new("ImageInaccessible", e.to_string()).json(id));
                continue;
            }
            Err(RegistryError::PullBlocked(why)) => {
                failures.push(Failure::new("ImageInaccessible", why).json(id));
                continue;
            }
            Err(e) => return Err(AwsError::from_registry(e, name.as_str(), ctx.registry_id())),
        }
        let Ok(manifest) = String::from_utf8(m.content) else {
            failures.push(Failure::new("ImageNotFound", "the manifest is not UTF-8 text").json(id));
            continue;
        };
        images.push(json!({
            "registryId": ctx.registry_id(),
            "repositoryName": name.as_str(),
            "imageId": image_id,
            "imageManifest": manifest,
            "imageManifestMediaType": m.media_type,
        }));
    }
    Ok(json!({"images": images, "failures": failures}))
}

pub async fn batch_delete(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    let ids = required_image_ids(input)?;
    let resource = Resource::Repository(&name);
    ctx.existing_repository(&name).await?;
    let (mut deleted, mut failures): (Vec<Value>, Vec<Value>) = (Vec::new(), Vec::new());
    let referenced =
        || Failure::new("ImageReferencedByManifestList", "Requested image is referenced by an image index");
    let not_found = || Failure::new("ImageNotFound", "Requested image not found");
    for id in &ids {
        // Also checks that the digest and tag agree when both are given.
        let m = match resolve(ctx, &name, id).await {
            Ok(m) => m,
            Err(Ok(f)) => {
                failures.push(f.json(id));
                continue;
            }
            Err(Err(e)) => return Err(e),
        };
        // By tag (also with a matching digest): the tag goes, and with the image's last tag the image too,
        // as ECR does (in one transaction). By digest alone: the manifest and its tags. Either way a manifest
        // an index lists stays (as in ECR): deleting it would break the index.
        let tag: Option<Tag> = id.tag.and_then(|t| t.parse().ok());
        let registry = &ctx.app.registry;
        let outcome = match tag {
            Some(t) => registry.untag_image(&name, &t, true).await.map(|u| match u {
                Untagging::Untagged(d) | Untagging::Deleted(d) => Ok(d),
                Untagging::ReferencedByIndex(_) => Err(referenced()),
                // Removed meanwhile (or asked twice).
                Untagging::NotFound => Err(not_found()),
            }),
            None => registry.delete_image(&name, &m.digest).await.map(|d| match d {
                ImageDeletion::Deleted => Ok(m.digest.clone()),
                ImageDeletion::ReferencedByIndex => Err(referenced()),
                ImageDeletion::NotFound => Err(not_found()),
            }),
        };
        match outcome {
            Ok(Ok(digest)) => deleted.push(result_id(&digest, id)),
            Ok(Err(f)) => failures.push(f.json(id)),
            Err(RegistryError::ManifestUnknown(_)) => failures.push(not_found().json(id)),
            Err(e) => return Err(AwsError::from_registry(e, name.as_str(), ctx.registry_id())),
        }
    }
    let status = if deleted.is_empty() { 404 } else { 200 };
    ctx.audit("ecr:BatchDeleteImage", &resource, if deleted.is_empty() { "error" } else { "allowed" }, status).await;
    Ok(json!({"imageIds": deleted, "failures": failures}))
}

pub async fn put(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    let manifest = input.opt_str("imageManifest")?.ok_or_else(|| {
        AwsError::invalid(
            "Invalid parameter at 'imageManifest' failed to satisfy constraint: 'Member must not be null'",
        )
    })?;
    if manifest.is_empty() || manifest.len() > 4 * 1024 * 1024 {
        return Err(AwsError::invalid(
            "Invalid parameter at 'imageManifest' failed to satisfy constraint: 'Member must have length between 1 and 4194304'",
        ));
    }
    let media_type = input.opt_str("imageManifestMediaType")?;
    // As ECR: the media type comes from the manifest's `mediaType` or from `imageManifestMediaType`; berth
    // does not guess it from the manifest's shape here.
    let declared = serde_json::from_str::<Value>(manifest)
        .ok()
        .is_some_and(|v| v.get("mediaType").and_then(Value::as_str).is_some_and(|t| !t.is_empty()));
    if media_type.is_none() && !declared {
        return Err(AwsError::invalid(
            "Invalid parameter at 'imageManifest': the manifest has no mediaType and no imageManifestMediaType was \
             given; set one of them",
        ));
    }
    let tag = match input.opt_str("imageTag")? {
        None => None,
        Some(t) if t.is_empty() || t.chars().count() > 300 => {
            return Err(AwsError::invalid(
                "Invalid parameter at 'imageTag' failed to satisfy constraint: 'Member must have length between 1 and 300'",
            ));
        }
        Some(t) => {
            Some(t.parse::<Tag>().map_err(|e| AwsError::invalid(format!("Invalid parameter at 'imageTag': {e}")))?)
        }
    };
    let given_digest = input
        .opt_str("imageDigest")?
        .map(|d| d.parse::<Digest>().map_err(|_| AwsError::invalid("Invalid parameter at 'imageDigest': not a digest")))
        .transpose()?;
    let resource = Resource::Repository(&name);
    let registry = &ctx.app.registry;
    let registry_error = |e| AwsError::from_registry(e, name.as_str(), ctx.registry_id());
    ctx.existing_repository(&name).await?;
    let body = manifest.as_bytes().to_vec();
    let digest = match &given_digest {
        Some(d) => {
            let actual = Digest::compute(d.algorithm(), &body);
            if &actual != d {
                return Err(AwsError::new(
                    ErrorType::ImageDigestDoesNotMatch,
                    format!("The imageDigest {d} does not match the digest of the manifest, {actual}"),
                ));
            }
            actual
        }
        None => Digest::sha256_of(&body),
    };
    // Putting what is already there is refused, as ECR does: the tag on this very manifest, or (untagged)
    // the manifest itself.
    let existing = match &tag {
        Some(t) => Reference::Tag(t.clone()),
        None => Reference::Digest(digest.clone()),
    };
    match registry.get_manifest(&name, &existing, ManifestRead::Inspect).await {
        Ok(m) if m.digest == digest => {
            let tag_part = tag.as_ref().map(|t| format!(" and tag '{t}'")).unwrap_or_default();
            return Err(AwsError::new(
                ErrorType::ImageAlreadyExists,
                format!(
                    "Image with digest '{digest}'{tag_part} already exists in the repository with name '{name}' in \
                     registry with id '{}'",
                    ctx.registry_id()
                ),
            ));
        }
        Ok(_) | Err(RegistryError::ManifestUnknown(_)) => {}
        Err(e) => return Err(registry_error(e)),
    }
    let (reference, extra): (Reference, Vec<Tag>) = match (&tag, &given_digest) {
        (Some(t), None) => (Reference::Tag(t.clone()), Vec::new()),
        (Some(t), Some(d)) => (Reference::Digest(d.clone()), vec![t.clone()]),
        (None, _) => (Reference::Digest(digest.clone()), Vec::new()),
    };
    let is_index = serde_json::from_slice::<Value>(&body).ok().is_some_and(|v| v.get("manifests").is_some());
    let result = registry.put_manifest(&name, &reference, &extra, media_type, body).await;
    let result = result.map_err(|e| match e {
        RegistryError::TagImmutable { tag, .. } => AwsError::new(
            ErrorType::ImageTagAlreadyExists,
            format!(
                "The image tag '{tag}' already exists in the '{name}' repository and cannot be overwritten because \
                 the repository is immutable."
            ),
        ),
        RegistryError::ManifestBlobUnknown(d) if is_index => AwsError::new(
            ErrorType::ReferencedImagesNotFound,
            format!("The manifest references image {d}, which is not in the repository '{name}'"),
        ),
        RegistryError::ManifestBlobUnknown(d) => AwsError::new(
            ErrorType::LayersNotFound,
            format!("Layers with digests ['{d}'] required for pushing image into repository with name '{name}' in the registry with id '{}' do not exist", ctx.registry_id()),
        ),
        RegistryError::DigestInvalid(m) => AwsError::new(ErrorType::ImageDigestDoesNotMatch, m),
        e @ (RegistryError::ManifestInvalid(_) | RegistryError::ManifestTooLarge { .. }) => {
            AwsError::invalid(format!("Invalid parameter at 'imageManifest': {e}"))
        }
        e => registry_error(e),
    });
    let (outcome, status) = match &result {
        Ok(_) => ("allowed", 200),
        Err(e) => ("error", e.kind.status().as_u16()),
    };
    ctx.audit("ecr:PutImage", &resource, outcome, status).await;
    let pushed = result?;
    registry.sign_on_push(&name, &pushed.digest, &ctx.host).await;
    let stored = registry
        .get_manifest(&name, &Reference::Digest(pushed.digest.clone()), ManifestRead::Inspect)
        .await
        .map_err(registry_error)?;
    let mut image_id = json!({"imageDigest": pushed.digest.to_string()});
    if let Some(t) = &tag {
        image_id["imageTag"] = json!(t.as_str());
    }
    Ok(json!({"image": {
        "registryId": ctx.registry_id(),
        "repositoryName": name.as_str(),
        "imageId": image_id,
        "imageManifest": manifest,
        "imageManifestMediaType": stored.media_type,
    }}))
}

/// `ListImageReferrers`: the artifacts (signatures, SBOMs, attestations) whose subject is an image, as the
/// OCI referrers API lists them, ordered by digest.
pub async fn list_referrers(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, AwsError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    let subject = input.required("subjectId", input.opt_object("subjectId")?)?;
    let subject = subject.required("subjectId.imageDigest", subject.opt_str("imageDigest")?)?;
    let subject: Digest =
        subject.parse().map_err(|_| AwsError::invalid("Invalid parameter at 'subjectId.imageDigest'"))?;
    let (mut types, mut status) = (Vec::new(), None);
    if let Some(filter) = input.opt_object("filter")? {
        for t in filter.opt_list("artifactTypes")?.map(Vec::as_slice).unwrap_or(&[]) {
            types.push(t.as_str().ok_or_else(|| AwsError::invalid("filter.artifactTypes must be strings"))?);
        }
        if types.len() > 5 {
            return Err(AwsError::invalid("filter.artifactTypes can have at most 5 entries"));
        }
        status = filter.opt_enum("artifactStatus", &["ACTIVE", "ARCHIVED", "ACTIVATING", "ANY"])?;
    }
    let max_results = input.max_results()?.unwrap_or(50) as usize;
    let after = input.opt_str("nextToken")?.map(decode_token).transpose()?;
    ctx.existing_repository(&name).await?;
    let mut referrers = ctx
        .app
        .registry
        .referrer_list(&name, &subject, None)
        .await
        .map_err(|e| AwsError::from_registry(e, name.as_str(), ctx.registry_id()))?;
    // berth keeps every artifact active: ARCHIVED and ACTIVATING match nothing.
    let wanted_status = matches!(status, None | Some("ACTIVE" | "ANY"));
    referrers.retain(|r| {
        wanted_status && (types.is_empty() || r.artifact_type.as_deref().is_some_and(|t| types.contains(&t)))
    });
    referrers.sort_by(|a, b| a.digest.cmp(&b.digest));
    if let Some(after) = &after {
        referrers.retain(|r| r.digest.to_string().as_str() > after.as_str());
    }
    let more = referrers.len() > max_results;
    referrers.truncate(max_results);
    let listed: Vec<Value> = referrers
        .iter()
        .map(|r| {
            let mut v = json!({"digest": r.digest.to_string(), "mediaType": r.media_type, "size": r.size,
                "artifactStatus": "ACTIVE"});
            if let Some(t) = &r.artifact_type {
                v["artifactType"] = json!(t);
            }
            if let Some(a) = r.annotations.as_deref().and_then(|a| serde_json::from_str::<Value>(a).ok()) {
                v["annotations"] = a;
            }
            v
        })
        .collect();
    let mut out = json!({"referrers": listed});
    if more && let Some(last) = referrers.last() {
        out["nextToken"] = json!(encode_token(&last.digest.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_digest_and_tag() {
        let digest = berth_oci::Digest::sha256_of(b"x");
        for tag in [None, Some("v1.0".parse().unwrap())] {
            let id = ImageId { digest: digest.clone(), tag };
            assert_eq!(position_of(&token_of(&id)).unwrap(), id);
        }
        assert!(position_of(&encode_token("team/app")).is_err(), "a repository token is no image token");
        assert!(position_of(&encode_token(&format!("{digest}\nbad tag"))).is_err());
    }
}
