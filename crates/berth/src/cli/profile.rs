//! The credentials file, in the aws CLI's INI form:
//!
//! ```ini
//! [default]
//! access_key_id = BKIA...
//! secret_access_key = ...
//! endpoint = https://registry.example.com
//! region = us-east-1
//! ```
//!
//! `#` and `;` start comment lines; `[profile NAME]` is accepted as a synonym of `[NAME]`; keys are
//! case-insensitive; a section that appears twice is merged (later keys win). Parse errors name the line but
//! never repeat its text, which may hold a secret.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The file's location: `$BERTH_CONFIG_DIR/credentials`, else `$HOME/.berth/credentials`.
pub fn default_path() -> Option<PathBuf> {
    config_path(std::env::var_os("BERTH_CONFIG_DIR"), std::env::var_os("HOME"))
}

fn config_path(config_dir: Option<std::ffi::OsString>, home: Option<std::ffi::OsString>) -> Option<PathBuf> {
    match (config_dir.filter(|d| !d.is_empty()), home.filter(|h| !h.is_empty())) {
        (Some(dir), _) => Some(PathBuf::from(dir).join("credentials")),
        (None, Some(home)) => Some(Path::new(&home).join(".berth").join("credentials")),
        (None, None) => None,
    }
}

/// One `[section]`: its keys (lower-cased) and values.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Profile {
    values: HashMap<String, String>,
}

impl Profile {
    /// The value of `key`, if present and not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }
}

/// All sections of a credentials file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Profiles {
    sections: HashMap<String, Profile>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl Profiles {
    pub fn parse(text: &str) -> Result<Profiles, ParseError> {
        let mut profiles = Profiles::default();
        let mut current: Option<String> = None;
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(rest) = line.strip_prefix('[') {
                let Some(name) = rest.strip_suffix(']') else {
                    return Err(ParseError { line: line_no, message: "a section header must end with ']'" });
                };
                let name = name.trim();
                let name = name.strip_prefix("profile ").map(str::trim).unwrap_or(name);
                if name.is_empty() {
                    return Err(ParseError { line: line_no, message: "empty section name" });
                }
                profiles.sections.entry(name.to_string()).or_default();
                current = Some(name.to_string());
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(ParseError { line: line_no, message: "expected `key = value`, a [section] or a comment" });
            };
            let key = key.trim().to_ascii_lowercase();
            if key.is_empty() {
                return Err(ParseError { line: line_no, message: "empty key before '='" });
            }
            let Some(section) = &current else {
                return Err(ParseError { line: line_no, message: "`key = value` before any [section]" });
            };
            let profile = profiles.sections.entry(section.clone()).or_default();
            profile.values.insert(key, value.trim().to_string());
        }
        Ok(profiles)
    }

    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.sections.get(name)
    }
}

/// `text` (a credentials file) with section `name` holding exactly `values`: the section's old lines are
/// replaced where it stood (every occurrence, since repeated sections merge), or it is appended. Other
/// sections and comments are kept as they are.
pub fn with_section(text: &str, name: &str, values: &[(&str, &str)]) -> String {
    let mut out = without_section(text, name);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    out.push_str(&format!("[{name}]\n"));
    for (k, v) in values {
        out.push_str(&format!("{k} = {v}\n"));
    }
    out
}

/// `text` without section `name` (`[name]` or `[profile name]`) and its lines.
pub fn without_section(text: &str, name: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        let t = line.trim();
        if let Some(header) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            let header = header.trim();
            let header = header.strip_prefix("profile ").map(str::trim).unwrap_or(header);
            skipping = header == name;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// Writes the credentials file readable by its owner only (it holds secrets), creating its directory.
pub fn write(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_replaced_appended_and_removed_keeping_the_rest() {
        let text =
            "# mine\n[default]\naccess_key_id = OLD\nregion = eu-west-1\n\n[profile prod]\nendpoint = https://p\n";
        let new = with_section(text, "default", &[("access_key_id", "NEW"), ("secret_access_key", "S")]);
        let parsed = Profiles::parse(&new).unwrap();
        assert_eq!(parsed.get("default").unwrap().get("access_key_id"), Some("NEW"));
        assert_eq!(parsed.get("default").unwrap().get("region"), None, "the section is replaced whole");
        assert_eq!(parsed.get("prod").unwrap().get("endpoint"), Some("https://p"));
        assert!(new.starts_with("# mine\n"), "{new}");
        let added = with_section("", "ci", &[("endpoint", "http://x")]);
        assert_eq!(added, "[ci]\nendpoint = http://x\n");
        let removed = without_section(&new, "prod");
        assert!(Profiles::parse(&removed).unwrap().get("prod").is_none());
        assert!(Profiles::parse(&removed).unwrap().get("default").is_some());
    }

    #[test]
    fn parses_sections_keys_and_comments() {
        let text = "\
# berth credentials
[default]
access_key_id = BKIAEXAMPLE
secret_access_key=abc/def+ghi=
endpoint = http://127.0.0.1:5000

; another one
[profile prod]
Access_Key_ID =  BKIAPROD  
region = eu-west-1
empty =
";
        let p = Profiles::parse(text).unwrap();
        let d = p.get("default").unwrap();
        assert_eq!(d.get("access_key_id"), Some("BKIAEXAMPLE"));
        assert_eq!(d.get("secret_access_key"), Some("abc/def+ghi="), "only the first '=' separates");
        assert_eq!(d.get("endpoint"), Some("http://127.0.0.1:5000"));
        assert_eq!(d.get("region"), None);
        let prod = p.get("prod").unwrap();
        assert_eq!(prod.get("access_key_id"), Some("BKIAPROD"));
        assert_eq!(prod.get("region"), Some("eu-west-1"));
        assert_eq!(prod.get("empty"), None);
        assert!(p.get("staging").is_none());
    }

    #[test]
    fn repeated_sections_merge_and_later_keys_win() {
        let p = Profiles::parse("[a]\nx = 1\ny = 2\n[b]\nx = 3\n[a]\nx = 4\n").unwrap();
        assert_eq!(p.get("a").unwrap().get("x"), Some("4"));
        assert_eq!(p.get("a").unwrap().get("y"), Some("2"));
        assert_eq!(p.get("b").unwrap().get("x"), Some("3"));
    }

    #[test]
    fn empty_file_and_crlf() {
        assert_eq!(Profiles::parse("").unwrap(), Profiles::default());
        let p = Profiles::parse("[default]\r\naccess_key_id = K\r\n").unwrap();
        assert_eq!(p.get("default").unwrap().get("access_key_id"), Some("K"));
    }

    #[test]
    fn errors_name_the_line_but_not_its_text() {
        let cases = [
            ("access_key_id = K\n", 1),
            ("[default]\nsecret-without-equals\n", 2),
            ("[default\nx = 1\n", 1),
            ("[]\n", 1),
            ("[default]\n\n = v\n", 3),
        ];
        for (text, line) in cases {
            let e = Profiles::parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}");
            assert!(!e.to_string().contains("secret-without-equals"));
        }
    }

    #[test]
    fn location() {
        assert_eq!(
            config_path(Some("/etc/berth".into()), Some("/home/u".into())),
            Some("/etc/berth/credentials".into())
        );
        assert_eq!(config_path(None, Some("/home/u".into())), Some("/home/u/.berth/credentials".into()));
        assert_eq!(config_path(Some("".into()), Some("/home/u".into())), Some("/home/u/.berth/credentials".into()));
        assert_eq!(config_path(None, None), None);
    }
}
