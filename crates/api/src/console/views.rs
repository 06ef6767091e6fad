//! The pages: one askama template per page (`templates/`), all extending `base.html`, and what each shows.
//! Templates are checked at compile time and escape everything they print as HTML.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// What every page's frame shows: who is signed in, and the CSRF token its forms carry.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    /// `user/NAME`, or `None` for an anonymous browser.
    pub user: Option<String>,
    pub csrf: String,
    /// Whether the header links to the administration pages (the caller may open one of them).
    pub admin: bool,
    /// Whether the header links to the usage report.
    pub usage: bool,
}

impl Chrome {
    pub fn user_name(&self) -> &str {
        self.user.as_deref().map_or("", |u| u.trim_start_matches("user/"))
    }
}

/// Renders `page` as an HTML response with `status`.
pub fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => {
            let mut r = (status, body).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "console page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page failed to render").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct Login {
    pub chrome: Chrome,
    pub next: String,
    pub user: String,
    pub error: String,
    pub signed_out: bool,
}

/// One repository in the list.
pub struct RepositoryRow {
    pub name: String,
    pub visibility: &'static str,
    pub mutability: &'static str,
    pub scan_on_push: bool,
    /// The number of images, or "" when the caller may not describe its images (as size and last push).
    pub images: String,
    pub size: String,
    pub last_push: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "repositories.html")]
pub struct Repositories {
    pub chrome: Chrome,
    pub prefix: String,
    /// The filters chosen ("" for any): `public`/`private`, `true`/`false`, `MUTABLE`/`IMMUTABLE`.
    pub visibility: String,
    pub scan_on_push: String,
    pub mutability: String,
    pub rows: Vec<RepositoryRow>,
    /// The next page's query, when there is one.
    pub next: Option<String>,
    pub may_create: bool,
    pub notice: String,
}

#[derive(Template)]
#[template(path = "new_repository.html")]
pub struct NewRepository {
    pub chrome: Chrome,
    pub name: String,
    pub immutable: bool,
    /// The exclusion filters and resource tags as typed.
    pub exclusions: String,
    pub tags: String,
    pub scan_on_push: bool,
    pub public: bool,
    pub error: String,
    /// The HTML `pattern` of repository names (the browser checks names as they are typed).
    pub pattern: &'static str,
}

/// One image (manifest) of a repository.
pub struct ImageRow {
    pub tags: Vec<String>,
    pub digest: String,
    pub short_digest: String,
    pub kind: &'static str,
    pub size: String,
    pub pushed: String,
    pub last_pull: String,
    pub scan: String,
    /// (severity, count), most severe first.
    pub severities: Vec<(String, u64)>,
    /// The platforms an index lists (`linux/amd64`, ...).
    pub platforms: Vec<String>,
}

#[derive(Template)]
#[template(path = "repository.html")]
pub struct Repository {
    pub chrome: Chrome,
    pub name: String,
    pub uri: String,
    pub created: String,
    pub public: bool,
    pub immutable: bool,
    pub exclusions: Vec<String>,
    pub scan_on_push: bool,
    pub images: Vec<ImageRow>,
    pub next: Option<String>,
    pub may_delete: bool,
    pub may_mutability: bool,
    pub may_scanning: bool,
    pub may_visibility: bool,
    pub notice: String,
    pub tabs: super::repository_tabs::Tabs,
    /// What the public gallery shows of the repository, and whether the caller may change it.
    pub catalog: berth_meta::catalog::CatalogData,
    pub may_catalog: bool,
}

impl Repository {
    /// The architectures and operating systems the catalog form offers.
    pub fn catalog_choices(&self) -> [(&'static str, &'static [&'static str], &'static str, &[String]); 2] {
        use berth_registry::catalog::{ARCHITECTURES, OPERATING_SYSTEMS};
        [
            ("operating_systems", OPERATING_SYSTEMS, "Operating systems", &self.catalog.operating_systems),
            ("architectures", ARCHITECTURES, "Architectures", &self.catalog.architectures),
        ]
    }
}

impl Repository {
    pub fn may_change_settings(&self) -> bool {
        self.may_mutability || self.may_scanning || self.may_visibility
    }
}

/// A titled group of shell lines: what to do once (`setup`, when there is something), then the lines.
pub struct Commands {
    pub title: &'static str,
    pub setup_note: String,
    pub setup: Option<String>,
    pub note: String,
    pub lines: Vec<String>,
}

#[derive(Template)]
#[template(path = "push_commands.html")]
pub struct PushCommands {
    pub chrome: Chrome,
    pub tabs: super::repository_tabs::Tabs,
    pub name: String,
    pub groups: Vec<Commands>,
}

#[derive(Template)]
#[template(path = "confirm_delete.html")]
pub struct ConfirmDelete {
    pub chrome: Chrome,
    pub name: String,
    pub has_images: bool,
    pub error: String,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub chrome: Chrome,
    pub status: u16,
    pub title: String,
    pub message: String,
}

/// `2025-01-31 14:05 UTC`.
pub fn when(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// `1.4 MiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_read_well() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
    }

    #[test]
    fn pages_escape_what_they_show() {
        let page = ErrorPage {
            chrome: Chrome { user: Some("user/<b>".into()), csrf: "t\"x".into(), ..Chrome::default() },
            status: 400,
            title: "Bad".into(),
            message: "<script>alert(1)</script>".into(),
        };
        let html = page.render().unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&#60;script&#62;"), "{html}");
        assert!(!html.contains("t\"x"), "attribute values are escaped too");
    }
}
