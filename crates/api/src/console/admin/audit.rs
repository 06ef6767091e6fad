//! The audit log, filtered by principal, action, repository, outcome and time, newest first, a page at a
//! time: the store returns one page (and one row to know whether another follows), never the whole log.

use axum::http::StatusCode;
use axum::response::Response;
use berth_meta::identity::AuditQuery;
use berth_oci::RepositoryName;

use super::super::views::{html, when};
use super::route::AuditFilters;
use super::views::{self, AuditRow};
use super::{Ctx, Failure, identity_failure, urlencoded};

/// Events per page.
const PAGE: u32 = 50;

/// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS]` (UTC) as Unix seconds.
fn parse_time(value: &str) -> Result<i64, String> {
    let bad = || format!("{value:?} is not a time: use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)");
    let (date, clock) = value.split_once(['T', ' ']).unwrap_or((value, "00:00"));
    let d: Vec<&str> = date.split('-').collect();
    let c: Vec<&str> = clock.split(':').collect();
    if d.len() != 3 || !(2..=3).contains(&c.len()) {
        return Err(bad());
    }
    let num = |s: &str| s.parse::<u8>().map_err(|_| bad());
    let year: i32 = d[0].parse().map_err(|_| bad())?;
    let month = time::Month::try_from(num(d[1])?).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(year, month, num(d[2])?).map_err(|_| bad())?;
    let seconds = if c.len() == 3 { num(c[2])? } else { 0 };
    let t = time::Time::from_hms(num(c[0])?, num(c[1])?, seconds).map_err(|_| bad())?;
    Ok(date.with_time(t).assume_utc().unix_timestamp())
}

/// The filters as the store takes them, or what is wrong with them.
fn query(ctx: &Ctx<'_>, f: &AuditFilters) -> Result<AuditQuery, String> {
    let some = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
    // A bare name is a user's; `robot/NAME`, `anonymous` and failed logins' names are given as recorded.
    let principal = some(&f.principal).map(|p| {
        if p.contains('/') || p == "anonymous" || p.starts_with('=') {
            p.trim_start_matches('=').to_string()
        } else {
            format!("user/{p}")
        }
    });
    let (action, action_prefix) = match f.action.strip_suffix('*') {
        Some(prefix) => (some(prefix), true),
        None => (some(&f.action), false),
    };
    let resource = match some(&f.repository) {
        None => None,
        Some(r) => {
            let name: RepositoryName = r.parse().map_err(|e| format!("repository {r:?}: {e}"))?;
            Some(ctx.app.identity.account().repository_arn(&name))
        }
    };
    let outcome = match f.outcome.as_str() {
        "" => None,
        o @ ("allowed" | "denied" | "error" | "auth-failed") => Some(o.to_string()),
        other => return Err(format!("outcome {other:?} is not allowed, denied, error or auth-failed")),
    };
    let since = some(&f.since).map(|s| parse_time(&s)).transpose()?;
    let until = some(&f.until).map(|s| parse_time(&s)).transpose()?;
    Ok(AuditQuery {
        principal,
        action,
        action_prefix,
        resource,
        outcome,
        since,
        until,
        before: f.before,
        limit: PAGE + 1,
    })
}

/// `GET /console/admin/audit`.
pub async fn page(ctx: &Ctx<'_>, f: &AuditFilters) -> Result<Response, Failure> {
    let (rows, next, error) = match query(ctx, f) {
        Err(e) => (Vec::new(), None, e),
        Ok(q) => {
            let mut events = ctx.app.identity.search_audit(&ctx.authorized, &q).await.map_err(identity_failure)?;
            let next = (events.len() > PAGE as usize).then(|| {
                events.truncate(PAGE as usize);
                let before = events.last().map(|e| e.id).unwrap_or_default();
                let keep = [
                    ("principal", &f.principal),
                    ("action", &f.action),
                    ("repository", &f.repository),
                    ("outcome", &f.outcome),
                    ("since", &f.since),
                    ("until", &f.until),
                ];
                let mut link = String::from("/console/admin/audit?");
                for (k, v) in keep {
                    link.push_str(&format!("{k}={}&", urlencoded(v)));
                }
                link.push_str(&format!("before={before}"));
                link
            });
            let rows = events
                .into_iter()
                .map(|e| AuditRow {
                    id: e.id,
                    at: when(e.at),
                    principal: e.principal,
                    action: e.action,
                    resource: e.resource,
                    source_ip: e.source_ip,
                    outcome: e.outcome,
                    status: e.status,
                })
                .collect();
            (rows, next, String::new())
        }
    };
    let status = if error.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let page = views::Audit {
        chrome: ctx.chrome.clone(),
        principal: f.principal.clone(),
        action: f.action.clone(),
        repository: f.repository.clone(),
        outcome: f.outcome.clone(),
        since: f.since.clone(),
        until: f.until.clone(),
        rows,
        next,
        error,
    };
    Ok(html(status, &page))
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times_are_read_as_utc() {
        assert_eq!(parse_time("1970-01-02"), Ok(86_400));
        assert_eq!(parse_time("1970-01-01T01:02"), Ok(3720));
        assert_eq!(parse_time("1970-01-01T00:00:05"), Ok(5));
        for bad in ["yesterday", "2026-13-01", "2026-01-01T25:00", "2026-01"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
