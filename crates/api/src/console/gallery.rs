//! `GET /console/public`: the public gallery. Anyone may read it; it lists public repositories whose tags an
//! anonymous caller may list (`ecr:ListImages`, decided per repository by the engine, so an explicit Deny
//! in a repository's policy hides it), searched by name and description, each with its catalog data
//! (description, about and usage texts), tags, pull command and the scan summary of the image it pulls. A
//! private repository never appears: only public repositories are read, in the store's own query.
//!
//! Catalog texts are shown as plain text: paragraphs split at blank lines and code blocks (fenced with
//! ```` ``` ```` or indented four spaces), every character escaped. No markup of the text reaches the page.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use berth_meta::catalog::CatalogEntry;
use berth_oci::{Reference, Tag};

use super::images::ordered_counts;
use super::route::Search;
use super::views::{self, Chrome};
use super::{Ctx, Failure};

const PAGE: usize = 20;
/// Tags shown per repository.
const TAGS: u32 = 10;

/// A piece of a catalog text.
#[derive(Debug, PartialEq, Eq)]
pub enum Block {
    Paragraph(String),
    Code(String),
}

impl Block {
    pub fn code(&self) -> Option<&str> {
        match self {
            Block::Code(c) => Some(c),
            Block::Paragraph(_) => None,
        }
    }

    pub fn text(&self) -> &str {
        match self {
            Block::Code(t) | Block::Paragraph(t) => t,
        }
    }
}

/// `text` as paragraphs and code blocks (the only structure the gallery renders).
pub fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut code: Option<Vec<&str>> = None;
    let flush = |p: &mut Vec<&str>, out: &mut Vec<Block>| {
        if !p.is_empty() {
            out.push(Block::Paragraph(p.join("\n")));
            p.clear();
        }
    };
    let mut indented: Vec<&str> = Vec::new();
    for line in text.lines() {
        if let Some(c) = code.as_mut() {
            if line.trim_start().starts_with("```") {
                out.push(Block::Code(c.join("\n")));
                code = None;
            } else {
                c.push(line);
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("    ").or_else(|| line.strip_prefix('\t')) {
            flush(&mut paragraph, &mut out);
            indented.push(rest);
            continue;
        }
        if !indented.is_empty() {
            out.push(Block::Code(indented.join("\n")));
            indented.clear();
        }
        if line.trim_start().starts_with("```") {
            flush(&mut paragraph, &mut out);
            code = Some(Vec::new());
        } else if line.trim().is_empty() {
            flush(&mut paragraph, &mut out);
        } else {
            paragraph.push(line.trim_end());
        }
    }
    if !indented.is_empty() {
        out.push(Block::Code(indented.join("\n")));
    }
    if let Some(c) = code {
        out.push(Block::Code(c.join("\n")));
    }
    flush(&mut paragraph, &mut out);
    out
}

/// One public repository in the gallery.
pub struct GalleryRow {
    pub name: String,
    pub description: String,
    pub about: Vec<Block>,
    pub usage: Vec<Block>,
    pub platforms: String,
    pub pull: String,
    pub tags: Vec<String>,
    pub more_tags: bool,
    /// What the scan of the pulled image found ("" when there is no scan to show).
    pub scan: String,
    pub severities: Vec<(String, u64)>,
}

#[derive(Template)]
#[template(path = "gallery.html")]
pub struct Gallery {
    pub chrome: Chrome,
    pub q: String,
    pub rows: Vec<GalleryRow>,
    pub next: Option<String>,
}

pub async fn page(ctx: &Ctx<'_>, search: &Search) -> Result<Response, Failure> {
    let registry = &ctx.app.registry;
    let mut shown: Vec<CatalogEntry> = Vec::new();
    let mut cursor = search.after.as_ref().map(|a| a.to_string());
    'pages: loop {
        let (entries, more) =
            registry.search_public_catalog(&search.text, cursor.as_deref(), 100).await.map_err(Failure::fault)?;
        for entry in &entries {
            if shown.len() > PAGE {
                break 'pages;
            }
            if ctx.may("ecr:ListImages", &entry.name).await? {
                shown.push(entry.clone());
            }
        }
        match entries.last() {
            Some(last) if more => cursor = Some(last.name.to_string()),
            _ => break,
        }
    }
    let next = if shown.len() > PAGE {
        shown.truncate(PAGE);
        shown.last().map(|r| r.name.to_string())
    } else {
        None
    };
    let mut rows = Vec::with_capacity(shown.len());
    for entry in shown {
        rows.push(row(ctx, entry).await?);
    }
    let page = Gallery { chrome: ctx.chrome.clone(), q: search.text.clone(), rows, next };
    Ok(views::html(StatusCode::OK, &page))
}

async fn row(ctx: &Ctx<'_>, entry: CatalogEntry) -> Result<GalleryRow, Failure> {
    let (name, data) = (entry.name, entry.data);
    let registry = &ctx.app.registry;
    let tags = registry.list_tags(&name, Some(TAGS), None).await.map_err(|e| Failure::registry(e, &name))?;
    let tag = tags.entries.iter().find(|t| *t == "latest").or(tags.entries.first());
    let pull = match tag {
        Some(t) => format!("docker pull {}/{name}:{t}", ctx.host),
        None => format!("docker pull {}/{name}", ctx.host),
    };
    // The scan summary of the image the pull command pulls: severity counts, never the findings.
    let (mut scan, mut severities) = (String::new(), Vec::new());
    if let Some(tag) = tag.and_then(|t| t.parse::<Tag>().ok()) {
        match registry.image_detail(&name, &Reference::Tag(tag)).await {
            Ok(d) => {
                if let Some(r) =
                    registry.scan_report(&name, &d.digest).await.map_err(|e| Failure::registry(e, &name))?
                    && r.findings_ready()
                {
                    severities = ordered_counts(&r);
                    scan = if r.findings.is_empty() { "Scanned: no findings".into() } else { "Scanned:".into() };
                }
            }
            // Untagged since the tags were listed.
            Err(berth_registry::RegistryError::ManifestUnknown(_)) => {}
            Err(e) => return Err(Failure::registry(e, &name)),
        }
    }
    let platforms =
        data.operating_systems.iter().chain(data.architectures.iter()).cloned().collect::<Vec<_>>().join(", ");
    Ok(GalleryRow {
        name: name.to_string(),
        description: data.description,
        about: blocks(&data.about_text),
        usage: blocks(&data.usage_text),
        platforms,
        pull,
        tags: tags.entries,
        more_tags: tags.more,
        scan,
        severities,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_paragraphs_and_code() {
        let text =
            "First line\nsame paragraph\n\n```\ndocker run x\n  <b>\n```\nAfter\n\n    indented code\n    more\nend";
        assert_eq!(
            blocks(text),
            [
                Block::Paragraph("First line\nsame paragraph".into()),
                Block::Code("docker run x\n  <b>".into()),
                Block::Paragraph("After".into()),
                Block::Code("indented code\nmore".into()),
                Block::Paragraph("end".into()),
            ]
        );
        assert_eq!(blocks(""), []);
        assert_eq!(blocks("```\nunclosed"), [Block::Code("unclosed".into())]);
    }

    #[test]
    fn the_gallery_escapes_catalog_texts() {
        let row = GalleryRow {
            name: "team/app".into(),
            description: "<script>alert(1)</script>".into(),
            about: blocks("<img src=x onerror=alert(1)>\n\n```\n<b>code</b>\n```"),
            usage: Vec::new(),
            platforms: String::new(),
            pull: "docker pull h/team/app".into(),
            tags: vec!["<i>v1".into()],
            more_tags: false,
            scan: String::new(),
            severities: Vec::new(),
        };
        let html =
            Gallery { chrome: Chrome::default(), q: "\"><x".into(), rows: vec![row], next: None }.render().unwrap();
        for raw in ["<script>", "<img", "<b>code", "<i>v1", "\"><x"] {
            assert!(!html.contains(raw), "{raw} reached the page: {html}");
        }
        assert!(html.contains("&#60;img src=x onerror=alert(1)&#62;"), "{html}");
    }
}
