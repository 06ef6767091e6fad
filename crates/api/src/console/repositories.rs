//! The signed-in pages: the repository list, creating, viewing (images, push commands, settings) and
//! deleting a repository. Each runs after its route's access was decided; controls are shown only when the
//! engine would allow what they do.

use axum::http::StatusCode;
use axum::response::Response;
use berth_identity::Resource;
use berth_meta::identity::Visibility;
use berth_meta::settings::{ImageDetail, RepositoryRecord, StatusFilter, TagMutability, TagStatus};
use berth_meta::summaries::{RepositoryFilter, RepositorySummary};
use berth_oci::{Digest, RepositoryName};
use berth_registry::scanning::severity_counts;

use super::repository_tabs::Tabs;
use super::route::{Listing, NewRepository, Rejected};
use super::views::{self, Commands, ImageRow, RepositoryRow};
use super::{Ctx, Failure, session};

/// Repositories per page of the list.
const PAGE: usize = 25;
/// Images per page of a repository.
const IMAGES_PAGE: u32 = 25;
/// Repository names as the browser checks them while typing (the grammar of `berth_oci::RepositoryName`).
const NAME_PATTERN: &str = "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*)*";

fn mutability_label(r: &RepositoryRecord) -> &'static str {
    match (r.tag_mutability, r.tag_mutability_exclusions.is_empty()) {
        (TagMutability::Mutable, true) => "mutable",
        (TagMutability::Immutable, true) => "immutable",
        (TagMutability::Mutable, false) => "mutable, with exceptions",
        (TagMutability::Immutable, false) => "immutable, with exceptions",
    }
}

async fn visibility(ctx: &Ctx<'_>, name: &RepositoryName) -> Result<Visibility, Failure> {
    ctx.app.identity.visibility(name).await.map_err(Failure::fault)
}

fn visibility_value(v: Visibility) -> &'static str {
    if v == Visibility::Public { "public" } else { "private" }
}

fn mutability_value(m: TagMutability) -> &'static str {
    if m == TagMutability::Immutable { "IMMUTABLE" } else { "MUTABLE" }
}

/// `GET /console/`: the repositories the caller may describe (`ecr:DescribeRepositories`, decided per
/// repository), by name prefix and settings, a page at a time. The store filters and pages: a page reads
/// the rows it shows (and more only where some are not the caller's to see).
pub async fn list(ctx: &Ctx<'_>, listing: &Listing) -> Result<Response, Failure> {
    let filter = RepositoryFilter {
        prefix: listing.prefix.clone(),
        visibility: listing.visibility,
        scan_on_push: listing.scan_on_push,
        mutability: listing.mutability,
    };
    let mut shown: Vec<RepositorySummary> = Vec::new();
    let mut cursor = listing.after.clone();
    loop {
        let want = (PAGE + 1 - shown.len()) as u32;
        let page =
            ctx.app.registry.repository_summaries(&filter, cursor.as_ref(), want).await.map_err(Failure::fault)?;
        for summary in &page.entries {
            if ctx.may("ecr:DescribeRepositories", &summary.record.name).await? {
                shown.push(summary.clone());
            }
        }
        match page.entries.last() {
            Some(last) if page.more && shown.len() <= PAGE => cursor = Some(last.record.name.clone()),
            _ => break,
        }
    }
    let next = if shown.len() > PAGE {
        shown.truncate(PAGE);
        shown.last().map(|r| {
            let mut q = form_urlencoded::Serializer::new(String::new());
            q.append_pair("prefix", &listing.prefix);
            for (k, v) in filters(listing) {
                q.append_pair(k, v);
            }
            q.append_pair("after", r.record.name.as_str()).finish()
        })
    } else {
        None
    };
    let mut rows = Vec::with_capacity(shown.len());
    for r in &shown {
        rows.push(row(ctx, r).await?);
    }
    // The button is offered to callers allowed `ecr:CreateRepository` on `*` (a policy naming only some
    // repositories' ARNs does not show it; the form still works for them, decided on the name submitted).
    let may_create = ctx
        .app
        .identity
        .is_allowed(&ctx.caller, "ecr:CreateRepository", &Resource::Any)
        .await
        .map_err(Failure::fault)?;
    let notice = match ctx.query.get("deleted") {
        Some(n) => format!("Deleted the repository {n}."),
        None => String::new(),
    };
    let chosen = |k: &str| filters(listing).into_iter().find(|(f, _)| *f == k).map_or("", |(_, v)| v).to_string();
    let page = views::Repositories {
        chrome: ctx.chrome.clone(),
        prefix: listing.prefix.clone(),
        visibility: chosen("visibility"),
        scan_on_push: chosen("scan_on_push"),
        mutability: chosen("mutability"),
        rows,
        next,
        may_create,
        notice,
    };
    Ok(views::html(StatusCode::OK, &page))
}

/// The filters a listing applies, as query fields.
fn filters(listing: &Listing) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    if let Some(v) = listing.visibility {
        out.push(("visibility", visibility_value(v)));
    }
    if let Some(on) = listing.scan_on_push {
        out.push(("scan_on_push", if on { "true" } else { "false" }));
    }
    if let Some(m) = listing.mutability {
        out.push(("mutability", mutability_value(m)));
    }
    out
}

/// One row of the list; the image count, size and last push only where the caller may describe images.
async fn row(ctx: &Ctx<'_>, s: &RepositorySummary) -> Result<RepositoryRow, Failure> {
    let r = &s.record;
    let images = ctx.may("ecr:DescribeImages", &r.name).await?;
    Ok(RepositoryRow {
        name: r.name.to_string(),
        visibility: visibility_value(s.visibility),
        mutability: mutability_label(r),
        scan_on_push: r.scan_on_push,
        images: if images { s.images.to_string() } else { String::new() },
        size: if images { views::size(s.size) } else { String::new() },
        last_push: if images { s.last_push.map(views::when).unwrap_or_else(|| "never".into()) } else { String::new() },
        created: views::when(r.created_at),
    })
}

/// The create form, empty or as submitted with what was wrong.
pub fn new_form(ctx: &Ctx<'_>, rejected: Option<(&Rejected, StatusCode)>) -> Response {
    let (form, error, status) = match rejected {
        Some((r, status)) => (r.form.clone(), r.message.clone(), status),
        None => (Default::default(), String::new(), StatusCode::OK),
    };
    let page = views::NewRepository {
        chrome: ctx.chrome.clone(),
        name: form.get("name").unwrap_or("").to_string(),
        immutable: form.get("tag_mutability") == Some("IMMUTABLE"),
        exclusions: form.get("exclusions").unwrap_or("").to_string(),
        tags: form.get("tags").unwrap_or("").to_string(),
        scan_on_push: form.get("scan_on_push") == Some("true"),
        public: form.get("visibility") == Some("public"),
        error,
        pattern: NAME_PATTERN,
    };
    views::html(status, &page)
}

/// `POST /console/repositories`: `CreateRepository` (and the visibility, when public).
pub async fn create(ctx: &Ctx<'_>, new: Result<NewRepository, Rejected>) -> Result<Response, Failure> {
    let new = match new {
        Ok(n) => n,
        Err(rejected) => return Ok(new_form(ctx, Some((&rejected, StatusCode::BAD_REQUEST)))),
    };
    let created = ctx.app.registry.create_repository(&new.name, &new.settings).await;
    let created = created.map_err(|e| Failure::registry(e, &new.name));
    ctx.audit("ecr:CreateRepository", &new.name, created.as_ref().err()).await;
    if let Err(f) = created {
        if f.status == StatusCode::CONFLICT {
            let rejected = Rejected { form: ctx_form(&new), message: f.message };
            return Ok(new_form(ctx, Some((&rejected, StatusCode::CONFLICT))));
        }
        return Err(f);
    }
    if new.visibility == Visibility::Public {
        set_visibility(ctx, &new.name, Visibility::Public).await?;
    }
    Ok(session::redirect(&format!("/console/repositories/{}?created=1", new.name)))
}

/// The create form's fields for a valid submission shown again.
fn ctx_form(new: &NewRepository) -> super::form::Form {
    let s = &new.settings;
    let tags: Vec<String> = s.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let text = form_urlencoded::Serializer::new(String::new())
        .append_pair("name", new.name.as_str())
        .append_pair("tag_mutability", mutability_value(s.tag_mutability))
        .append_pair("exclusions", &s.tag_mutability_exclusions.join(", "))
        .append_pair("scan_on_push", if s.scan_on_push { "true" } else { "false" })
        .append_pair("visibility", visibility_value(new.visibility))
        .append_pair("tags", &tags.join("\n"))
        .finish();
    super::form::Form::parse(&text)
}

async fn set_visibility(ctx: &Ctx<'_>, name: &RepositoryName, v: Visibility) -> Result<(), Failure> {
    let result = ctx.app.identity.set_visibility(&ctx.authorized, name, v).await.map_err(Failure::fault);
    ctx.audit("berth:SetRepositoryVisibility", name, result.as_ref().err()).await;
    result
}

fn kind(d: &ImageDetail) -> &'static str {
    const IMAGE_CONFIGS: [&str; 2] =
        ["application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"];
    if d.media_type.contains("index") || d.media_type.contains("manifest.list") {
        "index"
    } else if d.config_media_type.as_deref().is_some_and(|c| !IMAGE_CONFIGS.contains(&c)) {
        "artifact"
    } else {
        "image"
    }
}

async fn image_row(ctx: &Ctx<'_>, name: &RepositoryName, d: &ImageDetail) -> Result<ImageRow, Failure> {
    let report = ctx.app.registry.scan_report(name, &d.digest).await.map_err(|e| Failure::registry(e, name))?;
    let (scan, severities) = match &report {
        None if kind(d) != "image" => ("—".to_string(), Vec::new()),
        None => ("not scanned".to_string(), Vec::new()),
        Some(r) if r.findings_ready() => {
            const ORDER: [&str; 6] = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"];
            let counts = severity_counts(&r.findings);
            let mut severities: Vec<(String, u64)> = counts.iter().map(|(s, n)| (s.to_string(), *n)).collect();
            severities.sort_by_key(|(s, _)| ORDER.iter().position(|o| o == s).unwrap_or(ORDER.len()));
            let scan = match &r.description {
                // What the scan found, or why it could not look (no vulnerability database imported yet).
                Some(d) if r.findings.is_empty() => d.clone(),
                _ if r.findings.is_empty() => "no findings".to_string(),
                _ => format!("{} findings:", r.findings.len()),
            };
            (scan, severities)
        }
        Some(r) => (r.status.as_str().replace('_', " ").to_lowercase(), Vec::new()),
    };
    let mut platforms = Vec::new();
    if kind(d) == "index" {
        let reference = berth_oci::Reference::Digest(d.digest.clone());
        let read = ctx.app.registry.get_manifest(name, &reference, berth_registry::ManifestRead::Inspect).await;
        if let Ok(parsed) = read.and_then(|m| Ok(berth_oci::ParsedManifest::parse(&m.content, Some(&m.media_type))?)) {
            platforms = super::images::index_platforms(&parsed);
        }
    }
    let digest = d.digest.to_string();
    let hex = digest.split_once(':').map_or(digest.as_str(), |(_, h)| h);
    Ok(ImageRow {
        tags: d.tags.iter().map(|t| t.to_string()).collect(),
        short_digest: format!("{}…", &digest[..digest.len() - hex.len() + 12.min(hex.len())]),
        digest,
        kind: kind(d),
        size: views::size(d.size),
        pushed: views::when(d.pushed_at),
        last_pull: d.last_pulled_at.map(views::when).unwrap_or_else(|| "never".into()),
        scan,
        severities,
        platforms,
    })
}

/// `GET /console/repositories/NAME`: the repository, its images (`ecr:DescribeImages`), and the controls
/// the caller may use.
pub async fn show(ctx: &Ctx<'_>, name: &RepositoryName, after: Option<&Digest>) -> Result<Response, Failure> {
    let registry = &ctx.app.registry;
    let record = registry.repository(name).await.map_err(|e| Failure::registry(e, name))?;
    let page = registry
        .image_details(name, TagStatus::Any, StatusFilter::Any, after, IMAGES_PAGE)
        .await
        .map_err(|e| Failure::registry(e, name))?;
    let mut images = Vec::with_capacity(page.entries.len());
    for d in &page.entries {
        images.push(image_row(ctx, name, d).await?);
    }
    let next = if page.more { page.entries.last().map(|d| d.digest.to_string()) } else { None };
    let notice = if ctx.query.get("created").is_some() {
        "Repository created. View the push commands to push an image to it."
    } else if ctx.query.get("saved").is_some() {
        "Settings saved."
    } else if ctx.query.get("described").is_some() {
        "Gallery description saved."
    } else if ctx.query.get("image_deleted").is_some() {
        "Image deleted."
    } else {
        ""
    };
    let page = views::Repository {
        chrome: ctx.chrome.clone(),
        name: name.to_string(),
        uri: format!("{}/{name}", ctx.host),
        created: views::when(record.created_at),
        public: visibility(ctx, name).await? == Visibility::Public,
        immutable: record.tag_mutability == TagMutability::Immutable,
        exclusions: record.tag_mutability_exclusions.clone(),
        scan_on_push: record.scan_on_push,
        images,
        next,
        may_delete: ctx.may("ecr:DeleteRepository", name).await?,
        may_mutability: ctx.may("ecr:PutImageTagMutability", name).await?,
        may_scanning: ctx.may("ecr:PutImageScanningConfiguration", name).await?,
        may_visibility: ctx.may("berth:SetRepositoryVisibility", name).await?,
        notice: notice.into(),
        catalog: registry.catalog_data(name).await.map_err(|e| Failure::registry(e, name))?,
        may_catalog: ctx.may("ecr:PutRepositoryCatalogData", name).await?,
        tabs: Tabs::of(ctx, name, "images").await?,
    };
    Ok(views::html(StatusCode::OK, &page))
}

/// `GET /console/repositories/NAME/-/push-commands`: the commands that push an image here, for the host the
/// browser addressed.
pub async fn push_commands(ctx: &Ctx<'_>, name: &RepositoryName) -> Result<Response, Failure> {
    ctx.app.registry.repository(name).await.map_err(|e| Failure::registry(e, name))?;
    let (host, endpoint) = (ctx.host.as_str(), ctx.endpoint());
    let push = [
        format!("docker build -t {name} ."),
        format!("docker tag {name}:latest {host}/{name}:latest"),
        format!("docker push {host}/{name}:latest"),
    ];
    let berth = Commands {
        title: "With docker and the berth CLI",
        setup_note: "Once: sign the berth CLI in with your user name and password.".into(),
        setup: Some(format!("berth login --endpoint {endpoint}")),
        note: "Then log docker in, build your image (or skip that line and tag one you have), tag and push it:".into(),
        lines: [format!("berth login-password | docker login --username AWS --password-stdin {host}")]
            .into_iter()
            .chain(push.iter().cloned())
            .collect(),
    };
    let region = &ctx.app.identity.account().region;
    let aws = Commands {
        title: "With the aws CLI",
        setup_note: String::new(),
        setup: None,
        note: format!(
            "With a berth access key in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (berth login saves one in \
             ~/.berth/credentials), and AWS_DEFAULT_REGION={region}:"
        ),
        lines: [format!(
            "aws ecr get-login-password --endpoint-url {endpoint} | docker login --username AWS --password-stdin {host}"
        )]
        .into_iter()
        .chain(push.iter().cloned())
        .collect(),
    };
    let page = views::PushCommands {
        chrome: ctx.chrome.clone(),
        tabs: Tabs::of(ctx, name, "push-commands").await?,
        name: name.to_string(),
        groups: vec![berth, aws],
    };
    Ok(views::html(StatusCode::OK, &page))
}

/// `GET /console/repositories/NAME/-/delete`: the confirmation, which asks for the name (and for `force`
/// when the repository holds images).
pub async fn confirm_delete(ctx: &Ctx<'_>, name: &RepositoryName, error: &str) -> Result<Response, Failure> {
    let registry = &ctx.app.registry;
    registry.repository(name).await.map_err(|e| Failure::registry(e, name))?;
    let images = registry
        .image_details(name, TagStatus::Any, StatusFilter::Any, None, 1)
        .await
        .map_err(|e| Failure::registry(e, name))?;
    let page = views::ConfirmDelete {
        chrome: ctx.chrome.clone(),
        name: name.to_string(),
        has_images: !images.entries.is_empty(),
        error: error.to_string(),
    };
    let status = if error.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    Ok(views::html(status, &page))
}

/// `POST /console/repositories/NAME/-/delete`: `DeleteRepository`, once confirmed by name.
pub async fn delete(ctx: &Ctx<'_>, name: &RepositoryName, confirmed: bool, force: bool) -> Result<Response, Failure> {
    if !confirmed {
        return confirm_delete(ctx, name, "Type the repository's name exactly to confirm.").await;
    }
    let deleted = ctx.app.registry.delete_repository(name, force).await.map_err(|e| Failure::registry(e, name));
    ctx.audit("ecr:DeleteRepository", name, deleted.as_ref().err()).await;
    match deleted {
        Ok(_) => Ok(session::redirect(&format!("/console/?deleted={name}"))),
        Err(f) if f.status == StatusCode::CONFLICT => confirm_delete(ctx, name, &f.message).await,
        Err(f) => Err(f),
    }
}
