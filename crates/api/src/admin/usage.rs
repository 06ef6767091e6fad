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

/// `YYYY-MM-DD` as the Unix seconds of that day's 00:00 UTC.
pub(crate) fn parse_day(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) { part.parse::<i64>().ok() } else { None }
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&m) || d < 1 || d > days_in[(m - 1) as usize] {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400)
}

/// Unix seconds as `YYYY-MM-DD`.
fn day_string(at: i64) -> String {
    let days = at.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
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
