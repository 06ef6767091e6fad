//! Human output: aligned tables and readable times; and `--json` output.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A table printed with columns aligned on the widest cell, two spaces apart.
#[derive(Debug)]
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Table {
        Table { headers: headers.to_vec(), rows: Vec::new() }
    }

    /// Adds a row; control characters in cells (e.g. escape sequences from the server) are shown as `?`.
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headers.len());
        self.rows.push(cells.into_iter().map(|c| sanitize(&c)).collect());
    }

    pub fn render(&self) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let header_cells: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        for row in std::iter::once(&header_cells).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate().take(columns) {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', widths[i] - cell.chars().count()));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    pub fn print(&self) {
        print!("{}", self.render());
    }
}

fn sanitize(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// Prints a response as pretty JSON.
pub fn print_json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()));
}

/// A field as text: strings as they are, numbers and booleans printed, missing or null as `-`.
pub fn text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".to_string(),
        Some(Value::String(s)) if s.is_empty() => "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A list of strings joined with commas, `-` when empty or missing.
pub fn list(value: Option<&Value>) -> String {
    match value {
        Some(Value::Array(items)) if !items.is_empty() => {
            items.iter().map(|v| text(Some(v))).collect::<Vec<_>>().join(",")
        }
        Some(Value::Array(_)) | None | Some(Value::Null) => "-".to_string(),
        other => text(other),
    }
}

/// `true` → `yes`, anything else → `no`.
pub fn yes_no(value: Option<&Value>) -> String {
    if value.and_then(Value::as_bool).unwrap_or(false) { "yes" } else { "no" }.to_string()
}

/// Unix seconds as an RFC 3339 UTC time (`2025-01-02T03:04:05Z`); `-` when missing.
pub fn time(value: Option<&Value>) -> String {
    match value.and_then(Value::as_i64) {
        Some(seconds) => format_unix(seconds),
        None => text(value),
    }
}

pub fn format_unix(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| seconds.to_string())
}

/// The array under `key` of a response (empty when absent).
pub fn items<'a>(response: &'a Value, key: &str) -> &'a [Value] {
    response.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn columns_align_on_the_widest_cell() {
        let mut t = Table::new(&["NAME", "ADMIN", "GROUPS"]);
        t.row(vec!["alice".into(), "yes".into(), "devs,ops".into()]);
        t.row(vec!["bo".into(), "no".into(), "-".into()]);
        t.row(vec!["émilie-long-name".into(), "no".into(), "".into()]);
        assert_eq!(
            t.render(),
            "NAME              ADMIN  GROUPS\n\
             alice             yes    devs,ops\n\
             bo                no     -\n\
             émilie-long-name  no\n"
        );
    }

    #[test]
    fn empty_table_prints_the_header_and_control_characters_are_neutralised() {
        assert_eq!(Table::new(&["ID", "NAME"]).render(), "ID  NAME\n");
        let mut t = Table::new(&["A", "B"]);
        t.row(vec!["x\u{1b}[31m".into(), "two\nlines".into()]);
        assert_eq!(t.render(), "A       B\nx?[31m  two?lines\n");
    }

    #[test]
    fn field_formatting() {
        let v = json!({"s": "x", "n": 7, "b": true, "null": null, "empty": "", "l": ["a", "b"], "e": [], "t": 0});
        assert_eq!(text(v.get("s")), "x");
        assert_eq!(text(v.get("n")), "7");
        assert_eq!(text(v.get("null")), "-");
        assert_eq!(text(v.get("empty")), "-");
        assert_eq!(text(v.get("missing")), "-");
        assert_eq!(list(v.get("l")), "a,b");
        assert_eq!(list(v.get("e")), "-");
        assert_eq!(yes_no(v.get("b")), "yes");
        assert_eq!(yes_no(v.get("missing")), "no");
        assert_eq!(time(v.get("t")), "1970-01-01T00:00:00Z");
        assert_eq!(time(v.get("missing")), "-");
        assert_eq!(format_unix(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(items(&json!({"users": [1, 2]}), "users").len(), 2);
        assert!(items(&json!({}), "users").is_empty());
    }
}
