//! `os-release(5)`: shell-style `KEY=value` lines, values optionally quoted.

use super::OsRelease;

pub(crate) fn parse(text: &str) -> OsRelease {
    let mut out = OsRelease::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else { continue };
        let value = unquote(raw.trim());
        if value.is_empty() {
            continue;
        }
        let slot = match key.trim() {
            "ID" => &mut out.id,
            "VERSION_ID" => &mut out.version_id,
            "PRETTY_NAME" => &mut out.pretty_name,
            _ => continue,
        };
        *slot = Some(value.chars().take(256).collect());
    }
    out
}

/// `"a \"b\""` → `a "b"`, `'x'` → `x`, bare words unchanged.
fn unquote(v: &str) -> String {
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        let inner = &v[1..v.len() - 1];
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\'
                && let Some(next) = chars.next()
            {
                if !matches!(next, '\\' | '"' | '$' | '`') {
                    out.push('\\');
                }
                out.push(next);
            } else {
                out.push(c);
            }
        }
        out
    } else if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quoted_values() {
        let os = parse(
            "# comment\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID='12'\nX=\"a \\\"b\\\"\"\n",
        );
        assert_eq!(os.id.as_deref(), Some("debian"));
        assert_eq!(os.version_id.as_deref(), Some("12"));
        assert_eq!(os.pretty_name.as_deref(), Some("Debian GNU/Linux 12 (bookworm)"));
        assert_eq!(unquote("\"a \\\"b\\\"\""), "a \"b\"");
    }
}
