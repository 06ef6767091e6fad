//! The admin API's `GetUsageReport`: metered requests and bytes, and stored GB-months, over a range of days,
//! grouped by repository, principal, namespace or operation, priced with the configured price sheet.

use berth_registry::meter::{GroupBy, ReportLine, UsageReport, gb_months};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdminResult, validation};
use crate::AppState;
use crate::aws::errors::AwsError;

/// The longest report, in days (ten years).
const MAX_DAYS: i64 = 3660;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UsageReportInput {
    /// The first day, `YYYY-MM-DD` (UTC).
    pub(super) from: String,
    /// The last day, included.
    pub(super) to: String,
    pub(super) group_by: String,
}

/// A validated report request: the hours `[from, to)`.
pub(super) struct ReportRange {
    from: i64,
    to: i64,
    group_by: GroupBy,
}

/// A day as `YYYY-MM-DD` (UTC).
const DAY: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// `YYYY-MM-DD` as the Unix seconds of that day's 00:00 UTC.
pub(crate) fn parse_day(s: &str) -> Option<i64> {
    let date = time::Date::parse(s, DAY).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp())
}

/// Unix seconds as `YYYY-MM-DD`.
fn day_string(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at).ok().and_then(|t| t.date().format(DAY).ok()).unwrap_or_default()
}

pub(super) fn range(i: &UsageReportInput) -> Result<ReportRange, AwsError> {
    let day = |field: &str, v: &str| {
        parse_day(v).ok_or_else(|| validation(format!("{field} must be a day as YYYY-MM-DD (UTC), not {v:?}")))
    };
    let from = day("from", &i.from)?;
    let to = day("to", &i.to)? + 86_400;
    if to <= from {
        return Err(validation(format!("to ({}) is before from ({})", i.to, i.from)));
    }
    if (to - from) / 86_400 > MAX_DAYS {
        return Err(validation(format!("a report covers at most {MAX_DAYS} days")));
    }
    let group_by = GroupBy::parse(&i.group_by).ok_or_else(|| {
        validation(format!("groupBy must be repository, principal, namespace or operation, not {:?}", i.group_by))
    })?;
    Ok(ReportRange { from, to, group_by })
}

fn line(l: &ReportLine) -> Value {
    json!({
        "key": l.key,
        "requests": l.requests,
        "bytesIn": l.bytes_in,
        "bytesOut": l.bytes_out,
        "byteHoursStored": l.byte_hours,
        "gbIn": l.gb_in(),
        "gbOut": l.gb_out(),
        "gbMonthsStored": l.gb_months(),
        "cost": l.cost,
    })
}

pub(super) fn output(r: &UsageReport) -> Value {
    json!({
        "from": day_string(r.from),
        "to": day_string(r.to - 86_400),
        "hours": (r.to - r.from) / 3600,
        "groupBy": r.group_by.as_str(),
        "lines": r.lines.iter().map(line).collect::<Vec<_>>(),
        "total": line(&r.total),
        "deduplicatedByteHoursStored": r.deduplicated_byte_hours,
        "deduplicatedGbMonthsStored": gb_months(r.deduplicated_byte_hours),
        "deduplicatedStorageCost": r.deduplicated_cost(),
        "pricing": r.pricing.map(|p| json!({
            "currency": "USD",
            "storageGbMonth": p.storage_gb_month,
            "transferOutGb": p.transfer_out_gb,
            "freeTransferOutGb": p.free_transfer_out_gb,
        })),
    })
}

pub(super) async fn report(app: &AppState, r: ReportRange) -> AdminResult {
    // What this node counted but has not written yet is part of the answer.
    if let Err(e) = app.registry.meter().flush().await {
        tracing::warn!(error = %e, "writing metering counts before a report failed");
    }
    let report = app.registry.usage_report(r.from, r.to, r.group_by).await.map_err(|e| AwsError::server(&e))?;
    Ok(output(&report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_parse_and_print() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(parse_day("2026-12-03"), Some(1_796_256_000));
        assert_eq!(parse_day("2024-02-29"), Some(1_709_164_800));
        for bad in ["2025-02-29", "2026-13-01", "2026-00-10", "2026-1-01", "26-01-01", "2026-01-32", "２026-01-01"] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
        for s in ["1970-01-01", "2000-02-29", "2026-12-03", "2099-12-31"] {
            assert_eq!(day_string(parse_day(s).unwrap()), s);
        }
        let i = UsageReportInput { from: "2026-12-03".into(), to: "2026-12-02".into(), group_by: "repository".into() };
        assert!(range(&i).is_err(), "to before from");
        let i = UsageReportInput { from: "2026-12-03".into(), to: "2026-12-03".into(), group_by: "day".into() };
        assert!(range(&i).is_err(), "unknown grouping");
        let i = UsageReportInput { from: "2026-12-03".into(), to: "2026-12-03".into(), group_by: "principal".into() };
        let r = range(&i).unwrap();
        assert_eq!((r.to - r.from, r.group_by), (86_400, GroupBy::Principal), "to is included");
    }
}
