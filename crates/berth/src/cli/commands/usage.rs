//! `berth usage report`: the admin API's `GetUsageReport` as a table, CSV or JSON.

use serde_json::{Value, json};

use crate::cli::client::Client;
use crate::cli::output::{self, Table};
use crate::cli::{CliError, UsageCommand, UsageFormat, UsageGroup};

pub async fn run(client: &Client, command: UsageCommand) -> Result<(), CliError> {
    let UsageCommand::Report { from, to, group_by, format } = command;
    let group = match group_by {
        UsageGroup::Repository => "repository",
        UsageGroup::Principal => "principal",
        UsageGroup::Namespace => "namespace",
        UsageGroup::Operation => "operation",
    };
    let response = client.call("GetUsageReport", json!({ "from": from, "to": to, "groupBy": group })).await?;
    match format {
        UsageFormat::Json => output::print_json(&response),
        UsageFormat::Csv => print!("{}", csv(&response)),
        UsageFormat::Table => print!("{}", table(&response)),
    }
    Ok(())
}

/// Which columns a report has: storage for repositories and namespaces, cost with a price sheet.
fn columns(r: &Value) -> (bool, bool) {
    let storage = matches!(r.get("groupBy").and_then(Value::as_str), Some("repository" | "namespace"));
    let priced = r.get("pricing").is_some_and(|p| !p.is_null());
    (storage, priced)
}

fn number(v: Option<&Value>) -> f64 {
    v.and_then(Value::as_f64).unwrap_or(0.0)
}

fn key(line: &Value) -> String {
    match line.get("key").and_then(Value::as_str) {
        Some("") | None => "-".to_string(),
        Some(k) => k.to_string(),
    }
}

fn lines(r: &Value) -> impl Iterator<Item = &Value> {
    r.get("lines").and_then(Value::as_array).into_iter().flatten()
}

fn table(r: &Value) -> String {
    let (storage, priced) = columns(r);
    let group = match r.get("groupBy").and_then(Value::as_str) {
        Some("repository") => "REPOSITORY",
        Some("principal") => "PRINCIPAL",
        Some("namespace") => "NAMESPACE",
        Some("operation") => "OPERATION",
        _ => "KEY",
    };
    let mut headers = vec![group, "REQUESTS", "GB IN", "GB OUT"];
    if storage {
        headers.push("GB-MONTHS STORED");
    }
    if priced {
        headers.push("COST (USD)");
    }
    let mut t = Table::new(&headers);
    let row = |line: &Value, name: String| {
        let mut cells = vec![
            name,
            output::text(line.get("requests")),
            format!("{:.3}", number(line.get("gbIn"))),
            format!("{:.3}", number(line.get("gbOut"))),
        ];
        if storage {
            cells.push(format!("{:.4}", number(line.get("gbMonthsStored"))));
        }
        if priced {
            cells.push(format!("{:.2}", number(line.get("cost"))));
        }
        cells
    };
    for line in lines(r) {
        t.row(row(line, key(line)));
    }
    if let Some(total) = r.get("total") {
        t.row(row(total, "TOTAL".into()));
    }
    let mut out = t.render();
    out.push_str(&format!(
        "\n{} to {} ({} hours, UTC)\n",
        output::text(r.get("from")),
        output::text(r.get("to")),
        output::text(r.get("hours"))
    ));
    out.push_str(&format!(
        "stored (deduplicated, the whole registry): {:.4} GB-months",
        number(r.get("deduplicatedGbMonthsStored"))
    ));
    if priced {
        out.push_str(&format!(", {:.2} USD", number(r.get("deduplicatedStorageCost"))));
        let p = &r["pricing"];
        out.push_str(&format!(
            "\nprices: {} USD per GB-month stored, {} USD per GB out beyond {} GB a month free",
            number(p.get("storageGbMonth")),
            number(p.get("transferOutGb")),
            number(p.get("freeTransferOutGb"))
        ));
    }
    out.push('\n');
    out
}

/// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// One line per group, exact integers (bytes, byte-hours) beside the GB figures; no total line.
fn csv(r: &Value) -> String {
    let (storage, priced) = columns(r);
    let group = r.get("groupBy").and_then(Value::as_str).unwrap_or("key");
    let mut header = vec![group, "requests", "bytes_in", "bytes_out", "gb_in", "gb_out"];
    if storage {
        header.extend(["byte_hours_stored", "gb_months_stored"]);
    }
    if priced {
        header.push("cost_usd");
    }
    let mut out = header.join(",");
    out.push('\n');
    for line in lines(r) {
        let mut cells = vec![
            field(line.get("key").and_then(Value::as_str).unwrap_or("")),
            output::text(line.get("requests")),
            output::text(line.get("bytesIn")),
            output::text(line.get("bytesOut")),
            number(line.get("gbIn")).to_string(),
            number(line.get("gbOut")).to_string(),
        ];
        if storage {
            cells.push(output::text(line.get("byteHoursStored")));
            cells.push(number(line.get("gbMonthsStored")).to_string());
        }
        if priced {
            cells.push(format!("{:.6}", number(line.get("cost"))));
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn report(priced: bool) -> serde_json::Value {
        json!({
            "from": "2026-12-01", "to": "2026-12-02", "hours": 48, "groupBy": "repository",
            "lines": [
                {"key": "", "requests": 3, "bytesIn": 0, "bytesOut": 10, "byteHoursStored": 0,
                 "gbIn": 0.0, "gbOut": 0.0, "gbMonthsStored": 0.0, "cost": if priced { json!(0.0) } else { json!(null) }},
                {"key": "team-a/app,x", "requests": 12, "bytesIn": 1073741824u64, "bytesOut": 2147483648u64,
                 "byteHoursStored": 783819069440u64, "gbIn": 1.0, "gbOut": 2.0, "gbMonthsStored": 1.0,
                 "cost": if priced { json!(0.28) } else { json!(null) }},
            ],
            "total": {"key": "TOTAL", "requests": 15, "bytesIn": 1073741824u64, "bytesOut": 2147483658u64,
                      "gbIn": 1.0, "gbOut": 2.0, "gbMonthsStored": 1.0, "cost": if priced { json!(0.28) } else { json!(null) }},
            "deduplicatedGbMonthsStored": 1.0,
            "deduplicatedStorageCost": if priced { json!(0.1) } else { json!(null) },
            "pricing": if priced { json!({"currency": "USD", "storageGbMonth": 0.1, "transferOutGb": 0.09, "freeTransferOutGb": 0.0}) } else { json!(null) },
        })
    }

    #[test]
    fn report_table() {
        assert_eq!(
            super::table(&report(true)),
            "REPOSITORY    REQUESTS  GB IN  GB OUT  GB-MONTHS STORED  COST (USD)\n\
             -             3         0.000  0.000   0.0000            0.00\n\
             team-a/app,x  12        1.000  2.000   1.0000            0.28\n\
             TOTAL         15        1.000  2.000   1.0000            0.28\n\
             \n2026-12-01 to 2026-12-02 (48 hours, UTC)\n\
             stored (deduplicated, the whole registry): 1.0000 GB-months, 0.10 USD\n\
             prices: 0.1 USD per GB-month stored, 0.09 USD per GB out beyond 0 GB a month free\n"
        );
        assert!(!super::table(&report(false)).contains("COST"), "no price sheet, no cost column");
    }

    #[test]
    fn report_csv() {
        assert_eq!(
            super::csv(&report(false)),
            "repository,requests,bytes_in,bytes_out,gb_in,gb_out,byte_hours_stored,gb_months_stored\n\
             ,3,0,10,0,0,0,0\n\
             \"team-a/app,x\",12,1073741824,2147483648,1,2,783819069440,1\n"
        );
    }
}
