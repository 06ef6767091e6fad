//! The files the scanner reads, how a path is recognised, and their parsers. Parsing happens once per layer
//! (the parsed form is what a [`crate::LayerAnalysis`] caches), so the parsers know nothing about the OS or
//! the other layers.

pub(crate) mod apk;
pub(crate) mod cargo_lock;
pub(crate) mod dpkg;
pub(crate) mod gobin;
pub(crate) mod npm;
pub(crate) mod os_release;
pub(crate) mod python;

use serde::{Deserialize, Serialize};

use crate::PackageKind;

/// A package record as a database states it, before the OS and the image give it an ecosystem and a purl.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(crate) struct FoundPackage {
    pub name: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
}

impl FoundPackage {
    pub(crate) fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        FoundPackage {
            name: name.into(),
            version: version.into(),
            source_name: None,
            source_version: None,
            arch: None,
            licenses: Vec::new(),
        }
    }

    /// Bytes of strings held, for the per-layer metadata budget.
    pub(crate) fn weight(&self) -> u64 {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        (self.name.len()
            + self.version.len()
            + opt(&self.source_name)
            + opt(&self.source_version)
            + opt(&self.arch)
            + self.licenses.iter().map(String::len).sum::<usize>()
            + 64) as u64
    }
}

/// The kind of file a package record was read from. The order is the priority when the same package is found
/// twice (an installed `node_modules/x/package.json` wins over a lockfile entry).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Source {
    DpkgStatus,
    Apk,
    PythonMetadata,
    NpmPackageJson,
    NpmLock,
    CargoLock,
    GoBinary,
}

impl Source {
    pub(crate) fn kind(self) -> PackageKind {
        match self {
            Source::DpkgStatus => PackageKind::Deb,
            Source::Apk => PackageKind::Apk,
            Source::PythonMetadata => PackageKind::Python,
            Source::NpmPackageJson | Source::NpmLock => PackageKind::Npm,
            Source::CargoLock => PackageKind::Cargo,
            Source::GoBinary => PackageKind::Go,
        }
    }
}

/// os-release fields the scanner uses.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct OsRelease {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
}

/// The parsed content of a captured file.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Captured {
    OsRelease(OsRelease),
    /// First line of `etc/debian_version` or `etc/alpine-release`.
    Release {
        text: String,
    },
    Packages {
        source: Source,
        packages: Vec<FoundPackage>,
    },
}

/// What to do with a file, decided by its path (and executable bit) alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    OsRelease,
    ReleaseFile,
    /// `var/lib/dpkg/status`, and the files of `var/lib/dpkg/status.d/` (distroless).
    DpkgStatus,
    Apk,
    PythonMetadata,
    NpmPackageJson,
    NpmLock,
    CargoLock,
    /// An executable: read it looking for Go build info.
    GoCandidate,
    /// A database berth does not read; its presence becomes a note.
    Unsupported(&'static str),
}

/// `path` is normalised (relative to the image root, no `.`/`..`, no trailing slash).
pub(crate) fn classify(path: &str, executable: bool) -> Option<Rule> {
    let (parent, name) = match path.rsplit_once('/') {
        Some((p, n)) => (p, n),
        None => ("", path),
    };
    let parent_name = parent.rsplit('/').next().unwrap_or("");
    match path {
        "etc/os-release" | "usr/lib/os-release" => return Some(Rule::OsRelease),
        "etc/debian_version" | "etc/alpine-release" => return Some(Rule::ReleaseFile),
        "var/lib/dpkg/status" => return Some(Rule::DpkgStatus),
        "lib/apk/db/installed" | "usr/lib/apk/db/installed" => return Some(Rule::Apk),
        "var/lib/rpm/Packages"
        | "var/lib/rpm/Packages.db"
        | "var/lib/rpm/rpmdb.sqlite"
        | "usr/lib/sysimage/rpm/Packages.db"
        | "usr/lib/sysimage/rpm/rpmdb.sqlite" => return Some(Rule::Unsupported("rpm database")),
        _ => {}
    }
    if parent == "var/lib/dpkg/status.d" && !name.ends_with(".md5sums") {
        return Some(Rule::DpkgStatus);
    }
    if (name == "METADATA" && parent_name.ends_with(".dist-info"))
        || (name == "PKG-INFO" && parent_name.ends_with(".egg-info"))
        || (name.ends_with(".egg-info") && name.len() > ".egg-info".len())
    {
        return Some(Rule::PythonMetadata);
    }
    if name == "package.json" && is_node_module_dir(parent) {
        return Some(Rule::NpmPackageJson);
    }
    if name == "package-lock.json"
        || name == "npm-shrinkwrap.json"
        || (name == ".package-lock.json" && parent_name == "node_modules")
    {
        return Some(Rule::NpmLock);
    }
    if name == "Cargo.lock" {
        return Some(Rule::CargoLock);
    }
    if name.ends_with(".jar") || name.ends_with(".war") || name.ends_with(".ear") {
        return Some(Rule::Unsupported("java archive"));
    }
    if executable {
        return Some(Rule::GoCandidate);
    }
    None
}

/// `.../node_modules/<name>` or `.../node_modules/@scope/<name>`.
fn is_node_module_dir(dir: &str) -> bool {
    let mut parts = dir.rsplit('/');
    let (Some(name), Some(up)) = (parts.next(), parts.next()) else { return false };
    if name.is_empty() || name.starts_with('.') {
        return false;
    }
    if up == "node_modules" {
        return !name.starts_with('@');
    }
    up.starts_with('@') && up.len() > 1 && parts.next() == Some("node_modules")
}

/// Parse captured bytes according to `rule`. Errors are messages for a note; the layer analysis goes on.
pub(crate) fn parse(rule: Rule, path: &str, data: &[u8]) -> Result<Captured, String> {
    let text = || String::from_utf8_lossy(data);
    match rule {
        Rule::OsRelease => Ok(Captured::OsRelease(os_release::parse(&text()))),
        Rule::ReleaseFile => {
            let text = text();
            let line = text.lines().next().unwrap_or("").trim();
            Ok(Captured::Release { text: line.chars().take(128).collect() })
        }
        Rule::DpkgStatus => Ok(packages(Source::DpkgStatus, dpkg::parse(&text()))),
        Rule::Apk => Ok(packages(Source::Apk, apk::parse(&text()))),
        Rule::PythonMetadata => Ok(packages(Source::PythonMetadata, python::parse(&text()).into_iter().collect())),
        Rule::NpmPackageJson => {
            Ok(packages(Source::NpmPackageJson, npm::parse_package_json(data)?.into_iter().collect()))
        }
        Rule::NpmLock => Ok(packages(Source::NpmLock, npm::parse_lockfile(data)?)),
        Rule::CargoLock => Ok(packages(Source::CargoLock, cargo_lock::parse(&text()))),
        Rule::GoCandidate | Rule::Unsupported(_) => Err(format!("{path}: not a parsed file type")),
    }
}

fn packages(source: Source, packages: Vec<FoundPackage>) -> Captured {
    Captured::Packages { source, packages }
}

/// Header/paragraph parser shared by dpkg and Python metadata ("Key: value", continuation lines start with
/// whitespace, paragraphs separated by blank lines). Yields `(key, first line of value, has continuation)`.
pub(crate) fn rfc822_fields(paragraph: &str) -> impl Iterator<Item = (&str, &str)> {
    paragraph.lines().filter(|l| !l.starts_with([' ', '\t'])).filter_map(|l| {
        let (k, v) = l.split_once(':')?;
        Some((k.trim(), v.trim()))
    })
}

/// Split on blank lines (lines that are empty or only whitespace).
pub(crate) fn paragraphs(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let blank = line.trim().is_empty();
        match (blank, start) {
            (true, Some(s)) => {
                out.push(&text[s..offset]);
                start = None;
            }
            (false, None) => start = Some(offset),
            _ => {}
        }
        offset += line.len();
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        assert_eq!(classify("etc/os-release", false), Some(Rule::OsRelease));
        assert_eq!(classify("var/lib/dpkg/status.d/base-files", false), Some(Rule::DpkgStatus));
        assert_eq!(classify("var/lib/dpkg/status.d/base-files.md5sums", false), None);
        assert_eq!(
            classify("usr/lib/python3/dist-packages/foo-1.0.dist-info/METADATA", false),
            Some(Rule::PythonMetadata)
        );
        assert_eq!(classify("usr/lib/python3/dist-packages/foo-1.0.egg-info", false), Some(Rule::PythonMetadata));
        assert_eq!(classify("usr/lib/python3/dist-packages/foo.egg-info/PKG-INFO", false), Some(Rule::PythonMetadata));
        assert_eq!(classify("x/METADATA", false), None);
        assert_eq!(classify("app/node_modules/lodash/package.json", false), Some(Rule::NpmPackageJson));
        assert_eq!(classify("app/node_modules/@types/node/package.json", false), Some(Rule::NpmPackageJson));
        assert_eq!(classify("app/node_modules/@types/package.json", false), None);
        assert_eq!(classify("app/node_modules/lodash/fp/package.json", false), None);
        assert_eq!(classify("app/node_modules/a/node_modules/b/package.json", false), Some(Rule::NpmPackageJson));
        assert_eq!(classify("app/package.json", false), None);
        assert_eq!(classify("package.json", false), None);
        assert_eq!(classify("app/package-lock.json", false), Some(Rule::NpmLock));
        assert_eq!(classify("app/node_modules/.package-lock.json", false), Some(Rule::NpmLock));
        assert_eq!(classify("app/.package-lock.json", false), None);
        assert_eq!(classify("src/Cargo.lock", false), Some(Rule::CargoLock));
        assert_eq!(classify("usr/bin/kubectl", true), Some(Rule::GoCandidate));
        assert_eq!(classify("usr/bin/kubectl", false), None);
        assert_eq!(classify("var/lib/rpm/rpmdb.sqlite", false), Some(Rule::Unsupported("rpm database")));
    }

    #[test]
    fn splits_paragraphs() {
        let p = paragraphs("\n\nA: 1\nB: 2\n \nC: 3\n continued\n\n\n");
        assert_eq!(p, vec!["A: 1\nB: 2\n", "C: 3\n continued\n"]);
        let fields: Vec<_> = rfc822_fields(p[1]).collect();
        assert_eq!(fields, vec![("C", "3")]);
    }
}
