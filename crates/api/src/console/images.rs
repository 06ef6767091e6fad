//! An image's page (`/console/repositories/NAME/-/images/DIGEST`): what the manifest holds (layers, or the
//! platforms of an index), a summary of its config, its referrers (signatures, SBOMs), its scan findings
//! (sorted and filtered server-side by the query's parameters), the SBOM download and the delete button.
//! Each runs after its route's access was decided; the findings and the delete button are shown only where
//! the engine allows them.

use askama::Template;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_meta::settings::ImageDeletion;
use berth_oci::{Digest, ParsedManifest, Platform, Reference, RepositoryName};
use berth_registry::scanning::{ScanReport, severity_counts};
use berth_registry::{ManifestRead, RegistryError};
use tokio_util::io::ReaderStream;

use super::route::{FindingsSort, FindingsView, SEVERITIES};
use super::views::{self, Chrome};
use super::{Ctx, Failure, session};

/// The SBOMs berth stores (and the ones this page offers to download).
const CYCLONEDX: &str = "application/vnd.cyclonedx+json";
/// Findings per page.
const FINDINGS_PAGE: usize = 50;
/// Largest image config read to summarise it.
const MAX_CONFIG: u64 = 4 * 1024 * 1024;

pub struct Layer {
    pub digest: String,
    pub size: String,
    pub media_type: String,
}

pub struct Child {
    pub platform: String,
    pub digest: String,
    pub size: String,
}

pub struct Referrer {
    pub kind: &'static str,
    pub artifact_type: String,
    pub digest: String,
    pub size: String,
    pub sbom: bool,
}

/// What the image's config says of it.
#[derive(Default)]
pub struct ConfigSummary {
    pub platform: String,
    pub created: String,
    pub entrypoint: String,
    pub cmd: String,
    pub labels: Vec<(String, String)>,
}

pub struct FindingRow {
    pub severity: &'static str,
    pub advisory: String,
    pub uri: String,
    pub package: String,
    pub version: String,
    pub fix: String,
    pub summary: String,
}

/// A sortable column's heading: its link and what it shows.
pub struct Column {
    pub title: &'static str,
    pub href: String,
    /// `ascending`, `descending` or `none` (the `aria-sort` value).
    pub sorted: &'static str,
}

#[derive(Template)]
#[template(path = "image.html")]
pub struct ImagePage {
    pub chrome: Chrome,
    pub name: String,
    pub digest: String,
    pub base: String,
    pub pull: String,
    pub tags: Vec<String>,
    pub kind: &'static str,
    pub media_type: String,
    pub size: String,
    pub pushed: String,
    pub last_pull: String,
    pub layers: Vec<Layer>,
    pub children: Vec<Child>,
    pub config: Option<ConfigSummary>,
    pub subject: Option<String>,
    pub referrers: Vec<Referrer>,
    pub may_findings: bool,
    pub scan: String,
    pub severities: Vec<(String, u64)>,
    pub findings: Vec<FindingRow>,
    pub columns: Vec<Column>,
    pub severity: String,
    pub severity_options: [&'static str; 6],
    pub sort: &'static str,
    pub order: &'static str,
    pub filtered_count: usize,
    pub previous_page: Option<String>,
    pub next_page: Option<String>,
    pub sbom: bool,
    pub may_delete: bool,
}

pub fn platform_label(p: &Platform) -> String {
    let mut s = format!("{}/{}", p.os, p.architecture);
    if let Some(v) = &p.variant {
        s.push('/');
        s.push_str(v);
    }
    s
}

/// The platforms an index lists, for the images table (`linux/amd64`, ...).
pub fn index_platforms(parsed: &ParsedManifest) -> Vec<String> {
    parsed.manifests.iter().filter_map(|d| d.platform.as_ref()).map(platform_label).collect()
}

fn referrer_kind(artifact_type: &str) -> &'static str {
    let t = artifact_type.to_ascii_lowercase();
    if t.contains("cyclonedx") || t.contains("spdx") || t.contains("sbom") {
        "SBOM"
    } else if t.contains("signature") || t.contains("cosign") || t.contains("notary") {
        "signature"
    } else if t.contains("attestation") || t.contains("in-toto") || t.contains("provenance") {
        "attestation"
    } else {
        "artifact"
    }
}

fn words(v: Option<&serde_json::Value>) -> String {
    match v.and_then(|v| v.as_array()) {
        Some(a) => {
            a.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)).collect::<Vec<_>>().join(" ")
        }
        None => String::new(),
    }
}

fn config_summary(bytes: &[u8]) -> Option<ConfigSummary> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    let config = v.get("config");
    let mut platform = format!("{}/{}", s("os"), s("architecture"));
    if let Some(variant) = v.get("variant").and_then(|x| x.as_str()) {
        platform = format!("{platform}/{variant}");
    }
    let labels = config
        .and_then(|c| c.get("Labels"))
        .and_then(|l| l.as_object())
        .map(|l| l.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect())
        .unwrap_or_default();
    Some(ConfigSummary {
        platform,
        created: s("created"),
        entrypoint: words(config.and_then(|c| c.get("Entrypoint"))),
        cmd: words(config.and_then(|c| c.get("Cmd"))),
        labels,
    })
}

fn rank(severity: &str) -> usize {
    SEVERITIES.iter().position(|s| *s == severity).unwrap_or(SEVERITIES.len())
}

/// The counts per severity, most severe first.
pub fn ordered_counts(report: &ScanReport) -> Vec<(String, u64)> {
    let mut counts: Vec<(String, u64)> =
        severity_counts(&report.findings).iter().map(|(s, n)| (s.to_string(), *n)).collect();
    counts.sort_by_key(|(s, _)| rank(s));
    counts
}

/// The page's own URL with the findings view `view` (what the sort links and pager point at).
fn view_href(base: &str, view: &FindingsView) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(s) = view.severity {
        q.append_pair("severity", s);
    }
    q.append_pair("sort", view.sort.name());
    q.append_pair("order", if view.descending { "desc" } else { "asc" });
    if view.page > 1 {
        q.append_pair("page", &view.page.to_string());
    }
    format!("{base}?{}#findings", q.finish())
}

/// The findings of `report` as `view` asks: one severity or all, sorted, one page.
fn findings_table(report: &ScanReport, view: &FindingsView) -> (Vec<FindingRow>, usize) {
    let mut rows: Vec<FindingRow> = report
        .findings
        .iter()
        .filter(|f| view.severity.is_none_or(|s| f.severity.as_str() == s))
        .map(|f| FindingRow {
            severity: f.severity.as_str(),
            advisory: f.id.clone(),
            uri: f.uri.clone(),
            package: f.package_name.clone(),
            version: f.package_version.clone(),
            fix: f.fixed_version.clone().unwrap_or_default(),
            summary: f.summary.clone().unwrap_or_default(),
        })
        .collect();
    // Each sort falls back on severity, then advisory and package, so pages are stable.
    rows.sort_by(|a, b| {
        let tie = || {
            rank(a.severity).cmp(&rank(b.severity)).then(a.advisory.cmp(&b.advisory)).then(a.package.cmp(&b.package))
        };
        let primary = match view.sort {
            FindingsSort::Severity => rank(a.severity).cmp(&rank(b.severity)),
            FindingsSort::Advisory => a.advisory.cmp(&b.advisory),
            FindingsSort::Package => a.package.cmp(&b.package),
            FindingsSort::Version => a.version.cmp(&b.version),
            // No fix sorts last.
            FindingsSort::Fix => (a.fix.is_empty(), &a.fix).cmp(&(b.fix.is_empty(), &b.fix)),
        };
        let primary = if view.descending { primary.reverse() } else { primary };
        primary.then_with(tie)
    });
    let total = rows.len();
    let start = (view.page as usize - 1).saturating_mul(FINDINGS_PAGE).min(total);
    let page = rows.drain(start..).take(FINDINGS_PAGE).collect();
    (page, total)
}

fn columns(base: &str, view: &FindingsView) -> Vec<Column> {
    [
        ("Severity", FindingsSort::Severity),
        ("Advisory", FindingsSort::Advisory),
        ("Package", FindingsSort::Package),
        ("Installed", FindingsSort::Version),
        ("Fixed in", FindingsSort::Fix),
    ]
    .into_iter()
    .map(|(title, sort)| {
        let current = view.sort == sort;
        // A click on the sorted column reverses it; any other sorts ascending, from the first page.
        let next = FindingsView { sort, descending: current && !view.descending, page: 1, ..view.clone() };
        let sorted = match (current, view.descending) {
            (false, _) => "none",
            (true, false) => "ascending",
            (true, true) => "descending",
        };
        Column { title, href: view_href(base, &next), sorted }
    })
    .collect()
}

async fn sbom_of(ctx: &Ctx<'_>, name: &RepositoryName, digest: &Digest) -> Result<Option<Digest>, Failure> {
    let referrers =
        ctx.app.registry.referrer_list(name, digest, Some(CYCLONEDX)).await.map_err(|e| Failure::registry(e, name))?;
    Ok(referrers.into_iter().next().map(|r| r.digest))
}

fn unknown_image(digest: &Digest) -> Failure {
    Failure::status(StatusCode::NOT_FOUND, format!("There is no image {digest} in this repository."))
}

fn image_failure(e: RegistryError, name: &RepositoryName, digest: &Digest) -> Failure {
    match e {
        RegistryError::ManifestUnknown(_) => unknown_image(digest),
        other => Failure::registry(other, name),
    }
}

/// `GET /console/repositories/NAME/-/images/DIGEST`.
pub async fn show(
    ctx: &Ctx<'_>,
    name: &RepositoryName,
    digest: &Digest,
    view: &FindingsView,
) -> Result<Response, Failure> {
    let registry = &ctx.app.registry;
    let reference = Reference::Digest(digest.clone());
    let detail = registry.image_detail(name, &reference).await.map_err(|e| image_failure(e, name, digest))?;
    let stored = registry
        .get_manifest(name, &reference, ManifestRead::Inspect)
        .await
        .map_err(|e| image_failure(e, name, digest))?;
    let parsed = ParsedManifest::parse(&stored.content, Some(&stored.media_type)).map_err(Failure::fault)?;
    let base = format!("/console/repositories/{name}/-/images/{digest}");

    let layers = parsed
        .layers
        .iter()
        .map(|l| Layer { digest: l.digest.to_string(), size: views::size(l.size), media_type: l.media_type.clone() })
        .collect();
    let children = parsed
        .manifests
        .iter()
        .map(|m| Child {
            platform: m.platform.as_ref().map(platform_label).unwrap_or_else(|| "—".into()),
            digest: m.digest.to_string(),
            size: views::size(m.size),
        })
        .collect();
    const IMAGE_CONFIGS: [&str; 2] =
        ["application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"];
    let mut config = None;
    if let Some(c) = parsed.config.as_ref().filter(|c| IMAGE_CONFIGS.contains(&c.media_type.as_str())) {
        // A config that cannot be read (gone from storage) leaves the summary out rather than the page.
        match registry.inspect_blob(name, &c.digest, MAX_CONFIG).await {
            Ok(Some(bytes)) => config = config_summary(&bytes),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, %name, digest = %c.digest, "image config unreadable"),
        }
    }
    let referrers: Vec<Referrer> = registry
        .referrer_list(name, digest, None)
        .await
        .map_err(|e| Failure::registry(e, name))?
        .into_iter()
        .map(|r| {
            let artifact_type = r.artifact_type.unwrap_or_default();
            Referrer {
                kind: referrer_kind(&artifact_type),
                sbom: artifact_type == CYCLONEDX,
                artifact_type,
                digest: r.digest.to_string(),
                size: views::size(r.size),
            }
        })
        .collect();

    let kind = if parsed.kind.is_index() {
        "index"
    } else if config.is_some() || parsed.config.as_ref().is_some_and(|c| IMAGE_CONFIGS.contains(&c.media_type.as_str()))
    {
        "image"
    } else {
        "artifact"
    };
    let may_findings = ctx.may("ecr:DescribeImageScanFindings", name).await?;
    let (mut scan, mut severities, mut findings, mut filtered_count) = (String::new(), Vec::new(), Vec::new(), 0);
    if may_findings {
        match registry.scan_report(name, digest).await.map_err(|e| Failure::registry(e, name))? {
            None if kind == "image" => scan = "Not scanned.".into(),
            None => scan = "Only container images are scanned.".into(),
            Some(r) if r.findings_ready() => {
                severities = ordered_counts(&r);
                (findings, filtered_count) = findings_table(&r, view);
                scan = match (&r.description, r.findings.len()) {
                    (Some(d), 0) => d.clone(),
                    (_, 0) => "Scanned: no findings.".into(),
                    (_, n) => format!("Scanned: {n} findings."),
                };
                if let Some(db) = &r.vulndb {
                    scan = format!("{scan} Vulnerability database: {db}.");
                }
            }
            Some(r) => scan = format!("Scan {}.", r.status.as_str().replace('_', " ").to_lowercase()),
        }
    }
    let pages = filtered_count.div_ceil(FINDINGS_PAGE).max(1);
    let at = |page: u32| view_href(&base, &FindingsView { page, ..view.clone() });
    let page = ImagePage {
        chrome: ctx.chrome.clone(),
        name: name.to_string(),
        digest: digest.to_string(),
        pull: format!("docker pull {}/{name}@{digest}", ctx.host),
        tags: detail.tags.iter().map(|t| t.to_string()).collect(),
        kind,
        media_type: detail.media_type.clone(),
        size: views::size(detail.size),
        pushed: views::when(detail.pushed_at),
        last_pull: detail.last_pulled_at.map(views::when).unwrap_or_else(|| "never".into()),
        layers,
        children,
        config,
        subject: parsed.subject.as_ref().map(|s| s.digest.to_string()),
        sbom: referrers.iter().any(|r| r.sbom),
        referrers,
        may_findings,
        scan,
        severities,
        findings,
        columns: columns(&base, view),
        severity: view.severity.unwrap_or("").to_string(),
        severity_options: SEVERITIES,
        sort: view.sort.name(),
        order: if view.descending { "desc" } else { "asc" },
        filtered_count,
        previous_page: (view.page > 1).then(|| at(view.page - 1)),
        next_page: ((view.page as usize) < pages).then(|| at(view.page + 1)),
        may_delete: ctx.may("ecr:BatchDeleteImage", name).await?,
        base,
    };
    Ok(views::html(StatusCode::OK, &page))
}

/// `GET .../images/DIGEST/sbom`: the image's CycloneDX SBOM (the layer of the artifact stored as its
/// referrer), as a file to save.
pub async fn sbom(ctx: &Ctx<'_>, name: &RepositoryName, digest: &Digest) -> Result<Response, Failure> {
    let registry = &ctx.app.registry;
    registry
        .image_detail(name, &Reference::Digest(digest.clone()))
        .await
        .map_err(|e| image_failure(e, name, digest))?;
    let no_sbom = || {
        Failure::status(
            StatusCode::NOT_FOUND,
            format!("The image {digest} has no SBOM (yet): it is made when the image is scanned."),
        )
    };
    let Some(artifact) = sbom_of(ctx, name, digest).await? else {
        return Err(no_sbom());
    };
    let puller = ctx.caller.principal.puller();
    let stored = registry
        .get_manifest(name, &Reference::Digest(artifact.clone()), ManifestRead::Pull { by: puller.as_deref() })
        .await
        .map_err(|e| image_failure(e, name, &artifact))?;
    let parsed = ParsedManifest::parse(&stored.content, Some(&stored.media_type)).map_err(Failure::fault)?;
    let Some(layer) = parsed.layers.iter().find(|l| l.media_type == CYCLONEDX) else {
        return Err(no_sbom());
    };
    let blob = registry.open_blob(name, &layer.digest, None).await.map_err(|e| Failure::registry(e, name))?;
    let hex = digest.to_string();
    let hex = hex.split_once(':').map_or(hex.as_str(), |(_, h)| h);
    // The name is a repository name (lower-case letters, digits, separators): safe in a quoted filename.
    let filename = format!("{}-{}.cdx.json", name.as_str().replace('/', "_"), &hex[..12.min(hex.len())]);
    let mut r = Body::from_stream(ReaderStream::new(blob.reader.reader)).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(CYCLONEDX));
    if let Ok(v) = HeaderValue::from_str(&blob.size.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// `POST .../images/DIGEST/delete`: `BatchDeleteImage` of the manifest (with its tags), refused while an
/// index of the repository lists it.
pub async fn delete(ctx: &Ctx<'_>, name: &RepositoryName, digest: &Digest) -> Result<Response, Failure> {
    let deleted = match ctx.app.registry.delete_image(name, digest).await {
        Ok(ImageDeletion::Deleted) => Ok(()),
        Ok(ImageDeletion::NotFound) => Err(unknown_image(digest)),
        Ok(ImageDeletion::ReferencedByIndex) => Err(Failure::status(
            StatusCode::CONFLICT,
            format!("An index of {name} lists the image {digest}: delete the index first."),
        )),
        Err(e) => Err(image_failure(e, name, digest)),
    };
    ctx.audit("ecr:BatchDeleteImage", name, deleted.as_ref().err()).await;
    deleted?;
    Ok(session::redirect(&format!("/console/repositories/{name}?image_deleted=1")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_summarised() {
        let config = br#"{"os":"linux","architecture":"arm64","variant":"v8","created":"2025-01-02T03:04:05Z",
            "config":{"Entrypoint":["/bin/sh","-c"],"Cmd":["echo hi"],"Labels":{"org.opencontainers.image.source":"<x>"}}}"#;
        let s = config_summary(config).unwrap();
        assert_eq!((s.platform.as_str(), s.created.as_str()), ("linux/arm64/v8", "2025-01-02T03:04:05Z"));
        assert_eq!((s.entrypoint.as_str(), s.cmd.as_str()), ("/bin/sh -c", "echo hi"));
        assert_eq!(s.labels, [("org.opencontainers.image.source".to_string(), "<x>".to_string())]);
        assert!(config_summary(b"not json").is_none());
    }

    #[test]
    fn referrers_are_named_by_their_artifact_type() {
        assert_eq!(referrer_kind(CYCLONEDX), "SBOM");
        assert_eq!(referrer_kind("application/vnd.dev.cosign.artifact.sig.v1+json"), "signature");
        assert_eq!(referrer_kind("application/vnd.cncf.notary.signature"), "signature");
        assert_eq!(referrer_kind("application/vnd.in-toto+json"), "attestation");
        assert_eq!(referrer_kind("application/x-thing"), "artifact");
    }

    #[test]
    fn sort_links_reverse_the_sorted_column_only() {
        let view = FindingsView { severity: Some("HIGH"), sort: FindingsSort::Package, descending: false, page: 3 };
        let cols = columns("/b", &view);
        let package = cols.iter().find(|c| c.title == "Package").unwrap();
        assert_eq!(package.sorted, "ascending");
        assert_eq!(package.href, "/b?severity=HIGH&sort=package&order=desc#findings");
        let fix = cols.iter().find(|c| c.title == "Fixed in").unwrap();
        assert_eq!((fix.sorted, fix.href.as_str()), ("none", "/b?severity=HIGH&sort=fix&order=asc#findings"));
    }

    fn report(n: usize) -> ScanReport {
        use berth_registry::scanning::{Finding, Severity};
        let severities = [Severity::Critical, Severity::High, Severity::Low];
        let findings = (0..n)
            .map(|i| Finding {
                id: format!("ADV-{i:03}"),
                aliases: Vec::new(),
                severity: severities[i % 3],
                summary: None,
                details: None,
                uri: format!("https://example.test/{i}"),
                cvss_score: None,
                cvss_vector: None,
                package_name: format!("pkg-{:03}", n - i),
                package_version: "1.0".into(),
                package_kind: "deb".into(),
                matched_name: String::new(),
                matched_version: String::new(),
                ecosystem: "Debian".into(),
                purl: String::new(),
                fixed_version: (i % 2 == 0).then(|| format!("2.{i:03}")),
                layer_digest: String::new(),
                location: String::new(),
                published: None,
            })
            .collect();
        ScanReport {
            status: berth_meta::scans::ScanStatus::Complete,
            description: None,
            started_at: 0,
            completed_at: Some(1),
            findings,
            sbom_digest: None,
            vulndb: None,
            evaluated_at: None,
        }
    }

    #[test]
    fn findings_are_filtered_sorted_and_paged_on_the_server() {
        let r = report(120);
        let view = |severity, sort, descending, page| FindingsView { severity, sort, descending, page };
        let (rows, total) = findings_table(&r, &view(None, FindingsSort::Severity, false, 1));
        assert_eq!((rows.len(), total), (FINDINGS_PAGE, 120));
        assert!(rows.windows(2).all(|w| rank(w[0].severity) <= rank(w[1].severity)));
        let (rows, _) = findings_table(&r, &view(None, FindingsSort::Severity, false, 3));
        assert_eq!(rows.len(), 20, "the last page");
        assert_eq!(rows.last().map(|f| f.severity), Some("LOW"));
        let (rows, _) = findings_table(&r, &view(None, FindingsSort::Severity, false, 4));
        assert!(rows.is_empty(), "past the end");
        let (rows, total) = findings_table(&r, &view(Some("HIGH"), FindingsSort::Package, true, 1));
        assert_eq!(total, 40);
        assert!(rows.iter().all(|f| f.severity == "HIGH"));
        assert!(rows.windows(2).all(|w| w[0].package > w[1].package), "descending by package");
        let (rows, _) = findings_table(&r, &view(None, FindingsSort::Fix, false, 2));
        assert!(rows.iter().skip(10).all(|f| f.fix.is_empty()), "no fix sorts last");
        let (rows, _) = findings_table(&r, &view(None, FindingsSort::Fix, false, 1));
        assert!(rows.windows(2).all(|w| w[0].fix <= w[1].fix) && rows.iter().all(|f| !f.fix.is_empty()));
    }
}
