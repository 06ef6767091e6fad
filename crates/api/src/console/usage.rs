//! The usage report (`/console/usage`): what each repository stores (bytes of its blobs and manifests,
//! manifests) and moves (bytes pushed and pulled, pulls), now and day by day, as SVG charts beside tables.
//! Below them, the metering report of the same days (`GetUsageReport`): requests, bytes in and out, stored
//! GB-months and their cost, grouped by repository, principal, namespace or operation.
//! Decided as `berth:GetUsage` on `*`: the figures of every repository, like the admin API's report.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use berth_oci::RepositoryName;
use berth_registry::meter::{GroupBy, ReportLine, UsageReport};

use super::charts::{self, Series};
use super::form::Form;
use super::route::NoRoute;
use super::views::{Chrome, html, size};
use super::{Ctx, Failure};

/// The action the usage report is decided as.
pub const ACTION: &str = "berth:GetUsage";
/// Repositories per page.
const PAGE: u32 = 25;

/// What the report shows: every repository's history or one's, over `days`, and a page of repositories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuery {
    pub repository: Option<RepositoryName>,
    pub days: u32,
    pub after: Option<String>,
    /// How the metering report groups its lines.
    pub group: GroupBy,
}

impl UsageQuery {
    pub fn parse(query: &Form) -> Result<UsageQuery, NoRoute> {
        let repository = match query.get("repository").map(str::trim).filter(|r| !r.is_empty()) {
            Some(r) => Some(r.parse().map_err(|_| NoRoute::BadRequest(format!("{r:?} is not a repository name")))?),
            None => None,
        };
        let days = match query.get("days").filter(|d| !d.is_empty()) {
            None => 30,
            Some("7") => 7,
            Some("30") => 30,
            Some("90") => 90,
            Some(other) => return Err(NoRoute::BadRequest(format!("days must be 7, 30 or 90, not {other:?}"))),
        };
        let after = query.get("after").filter(|a| !a.is_empty()).map(str::to_string);
        let group = match query.get("group").filter(|g| !g.is_empty()) {
            None => GroupBy::Repository,
            Some(g) => GroupBy::parse(g).ok_or_else(|| {
                NoRoute::BadRequest(format!("group must be repository, principal, namespace or operation, not {g:?}"))
            })?,
        };
        Ok(UsageQuery { repository, days, after, group })
    }
}

pub struct DayRow {
    pub day: String,
    pub stored: String,
    pub images: String,
    pub bytes_in: String,
    pub bytes_out: String,
    pub pulls: u64,
}

pub struct RepositoryRow {
    pub name: String,
    pub stored: String,
    pub images: u64,
    pub bytes_in: String,
    pub bytes_out: String,
    pub pulls: u64,
}

/// A line of the metering report, formatted.
pub struct MeteredRow {
    pub key: String,
    pub requests: u64,
    pub bytes_in: String,
    pub bytes_out: String,
    /// GB-months stored, `—` for groupings without storage.
    pub stored: String,
    /// Dollars, empty without a price sheet.
    pub cost: String,
}

impl MeteredRow {
    fn of(l: &ReportLine) -> MeteredRow {
        MeteredRow {
            key: if l.key.is_empty() { "—".into() } else { l.key.clone() },
            requests: l.requests,
            bytes_in: size(l.bytes_in),
            bytes_out: size(l.bytes_out),
            stored: l.gb_months().map(|g| format!("{g:.4}")).unwrap_or_else(|| "—".into()),
            cost: l.cost.map(|c| format!("{c:.2}")).unwrap_or_default(),
        }
    }
}

/// The metering report of the page's days, as the template shows it.
pub struct Metered {
    pub group: &'static str,
    pub chart: String,
    pub rows: Vec<MeteredRow>,
    pub total: MeteredRow,
    pub priced: bool,
    /// The registry's deduplicated storage over the days, and its cost.
    pub deduplicated: String,
}

impl Metered {
    fn of(r: &UsageReport) -> Metered {
        // The biggest movers first in the chart; the table stays in key order.
        let mut top: Vec<&ReportLine> = r.lines.iter().collect();
        top.sort_by_key(|l| std::cmp::Reverse(l.bytes_out));
        top.truncate(15);
        let chart = charts::hbars(
            &format!("Bytes served per {} (the 15 largest)", r.group_by.as_str()),
            "chart-metered",
            &top.iter().map(|l| MeteredRow::of(l).key).collect::<Vec<_>>(),
            &top.iter().map(|l| l.bytes_out).collect::<Vec<_>>(),
            &size,
        );
        let cost = r.deduplicated_cost().map(|c| format!(", {c:.2} USD")).unwrap_or_default();
        Metered {
            group: r.group_by.as_str(),
            chart,
            rows: r.lines.iter().map(MeteredRow::of).collect(),
            total: MeteredRow::of(&r.total),
            priced: r.pricing.is_some(),
            deduplicated: format!("{:.4} GB-months{cost}", berth_registry::meter::gb_months(r.deduplicated_byte_hours)),
        }
    }
}

#[derive(Template)]
#[template(path = "usage.html")]
pub struct UsagePage {
    pub chrome: Chrome,
    pub repository: String,
    pub days: u32,
    pub blobs: u64,
    pub blob_bytes: String,
    pub storage_chart: String,
    pub transfer_chart: String,
    pub pulls_chart: String,
    pub day_rows: Vec<DayRow>,
    pub repositories_chart: String,
    pub rows: Vec<RepositoryRow>,
    pub next: Option<String>,
    pub metered: Metered,
}

fn day_label(day: i64) -> String {
    let format = time::macros::format_description!("[month repr:short] [day]");
    time::OffsetDateTime::from_unix_timestamp(day).ok().and_then(|t| t.format(&format).ok()).unwrap_or_default()
}

fn day_name(day: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::OffsetDateTime::from_unix_timestamp(day).ok().and_then(|t| t.format(&format).ok()).unwrap_or_default()
}

/// `GET /console/usage`.
pub async fn page(ctx: &Ctx<'_>, q: &UsageQuery) -> Result<Response, Failure> {
    let registry = &ctx.app.registry;
    if let Some(r) = &q.repository {
        registry.repository(r).await.map_err(|e| Failure::registry(e, r))?;
    }
    let days = registry.usage_days(q.repository.as_ref(), q.days).await.map_err(Failure::fault)?;
    let labels: Vec<String> = days.iter().map(|d| day_label(d.day)).collect();
    let bytes = |v: u64| size(v);
    let count = |v: u64| v.to_string();
    let whose = q.repository.as_ref().map_or("all repositories".to_string(), |r| r.to_string());
    let storage_chart = charts::line(
        &format!("Stored bytes per day, {whose}"),
        "chart-storage",
        &labels,
        &days.iter().map(|d| d.stored_bytes).collect::<Vec<_>>(),
        &bytes,
    );
    let transfer_chart = charts::bars(
        &format!("Bytes pushed and pulled per day, {whose}"),
        "chart-transfer",
        &labels,
        &[
            Series { name: "pushed", class: "bytes-in", values: days.iter().map(|d| d.usage.bytes_in).collect() },
            Series { name: "pulled", class: "bytes-out", values: days.iter().map(|d| d.usage.bytes_out).collect() },
        ],
        &bytes,
    );
    let pulls_chart = charts::bars(
        &format!("Pulls per day, {whose}"),
        "chart-pulls",
        &labels,
        &[Series { name: "pulls", class: "pulls", values: days.iter().map(|d| d.usage.pulls).collect() }],
        &count,
    );
    let day_rows = days
        .iter()
        .rev()
        .map(|d| DayRow {
            day: day_name(d.day),
            stored: d.stored_bytes.map(size).unwrap_or_else(|| "—".into()),
            images: d.images.map(|i| i.to_string()).unwrap_or_else(|| "—".into()),
            bytes_in: size(d.usage.bytes_in),
            bytes_out: size(d.usage.bytes_out),
            pulls: d.usage.pulls,
        })
        .collect();
    let page = registry.repository_usage(q.after.as_deref(), PAGE).await.map_err(Failure::fault)?;
    let next = page.more.then(|| page.entries.last().map(|r| r.name.to_string())).flatten();
    let repositories_chart = charts::hbars(
        "Stored bytes per repository (this page)",
        "chart-repositories",
        &page.entries.iter().map(|r| r.name.to_string()).collect::<Vec<_>>(),
        &page.entries.iter().map(|r| r.stored_bytes).collect::<Vec<_>>(),
        &bytes,
    );
    let rows = page
        .entries
        .into_iter()
        .map(|r| RepositoryRow {
            name: r.name.to_string(),
            stored: size(r.stored_bytes),
            images: r.images,
            bytes_in: size(r.usage.bytes_in),
            bytes_out: size(r.usage.bytes_out),
            pulls: r.usage.pulls,
        })
        .collect();
    let (blobs, blob_bytes) = registry.blob_totals().await.map_err(Failure::fault)?;
    let metered = Metered::of(&metered_report(ctx, q).await?);
    let page = UsagePage {
        chrome: ctx.chrome.clone(),
        repository: q.repository.as_ref().map(|r| r.to_string()).unwrap_or_default(),
        days: q.days,
        blobs,
        blob_bytes: size(blob_bytes),
        storage_chart,
        transfer_chart,
        pulls_chart,
        day_rows,
        repositories_chart,
        rows,
        next,
        metered,
    };
    Ok(html(StatusCode::OK, &page))
}

/// The metering report of the page's days (whole UTC days, today included).
async fn metered_report(ctx: &Ctx<'_>, q: &UsageQuery) -> Result<UsageReport, Failure> {
    let registry = &ctx.app.registry;
    // What this node counted but has not written yet is part of the answer.
    if let Err(e) = registry.meter().flush().await {
        tracing::warn!(error = %e, "writing metering counts before a report failed");
    }
    let today = registry.now() - registry.now().rem_euclid(berth_meta::DAY);
    let from = today - i64::from(q.days.saturating_sub(1)) * berth_meta::DAY;
    registry.usage_report(from, today + berth_meta::DAY, q.group).await.map_err(Failure::fault)
}
