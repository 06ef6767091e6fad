//! Offline vulnerability database: OSV records indexed by (ecosystem, package) and matched by version.
//!
//! # Model
//! - **Import.** A [`DbBuilder`] reads OSV records (an osv.dev `all.zip` export, a directory of `*.json` files, single
//!   records, or a zip fetched from an OCI artifact). Each record becomes one [`Advisory`] (what a finding shows)
//!   and one index entry per `affected[]` package. Withdrawn records are counted and dropped; a malformed record is
//!   skipped with a reason ([`ImportStats`]) and never aborts the import; a corrupt zip is an error.
//! - **Index.** Entries are keyed by the canonical ecosystem string (`Debian:12`, `PyPI`, `crates.io`...) and the
//!   package name normalised per ecosystem ([`normalize_name`]). Range events are parsed with the ecosystem's
//!   version ordering and sorted once, at import. Versions listed in `versions[]` that the ranges already cover are
//!   dropped (same answers, much smaller for PyPI). A range whose versions do not parse is dropped with a warning;
//!   ranges of ecosystems with no known ordering are stored but never match (listed versions still do).
//! - **Lookup.** [`VulnDb::lookup`] evaluates the installed version against every entry for the package, per the
//!   OSV schema: affected if listed, or inside a range (`introduced` ≤ v < `fixed`, or ≤ `last_affected`, below any
//!   `limit`). Distribution packages are looked up by source package and version; a lookup in `Debian:12` also
//!   consults release-less `Debian` records, never another release and never upstream ecosystems. One [`Match`] per
//!   advisory, with the lowest `fixed` version above the installed one that the advisory does not itself mark as
//!   affected (`None`: no fix).
//! - **Storage.** [`VulnDb::write_to`] writes a versioned, gzip-compressed JSON snapshot; [`VulnDb::read_from`]
//!   reads it back to the same lookups. [`DbInfo::digest`] identifies the content (not the import time), so a
//!   re-import of unchanged data does not trigger rescans.
//!
//! The crate does no network or metadata-store I/O; fetching bundles and scheduling rescans live elsewhere.

mod builder;
mod db;
mod ecosystem;
mod error;
mod format;
mod model;
mod osv;
mod severity;
mod version;

use std::cmp::Ordering;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use builder::{DbBuilder, ImportStats};
pub use db::VulnDb;
pub use ecosystem::normalize_name;
pub use error::VulnDbError;
pub use format::FORMAT_VERSION;
pub use severity::Severity;

/// One installed package to look up.
///
/// `ecosystem` is the OSV ecosystem string: `Debian:12`, `Alpine:v3.19`, `PyPI`, `npm`, `crates.io`, `Go`,
/// `Maven`, `RubyGems`... For distribution packages the caller passes the source package name and the source
/// version (dpkg `Source:`); matching never falls back to upstream ecosystems.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PackageRef<'a> {
    pub ecosystem: &'a str,
    pub name: &'a str,
    pub version: &'a str,
}

/// What a match reports about one OSV record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    /// The OSV id (`PYSEC-2021-142`, `GHSA-…`, `RUSTSEC-…`, `GO-…`, `DEBCL-…`).
    pub id: String,
    /// Other ids of the same vulnerability (CVE, GHSA...), without duplicates or the id itself.
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    /// The record's details (CommonMark), cut at [`Advisory::DETAILS_LIMIT`] bytes (then ending in `…`).
    pub details: Option<String>,
    pub severity: Severity,
    /// The CVSS base score the severity was derived from, if any.
    pub cvss_score: Option<f64>,
    /// The CVSS vector the score was computed from, if any.
    pub cvss_vector: Option<String>,
    /// The first `ADVISORY` reference, else the first `WEB` reference, else `https://osv.dev/vulnerability/<id>`.
    pub uri: String,
    pub published: Option<String>,
    pub modified: Option<String>,
}

impl Advisory {
    /// Maximum stored length of `details`, in bytes.
    pub const DETAILS_LIMIT: usize = 4096;
}

/// One advisory affecting one looked-up package.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Match {
    pub advisory: Arc<Advisory>,
    /// The lowest `fixed` version above the installed one that the advisory does not mark as affected; `None`
    /// when there is no fix.
    pub fixed_version: Option<String>,
}

/// What a database holds and where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbInfo {
    /// Where the records came from, as given to [`DbBuilder::build`].
    pub source: String,
    /// When the records were imported (RFC 3339), as given to [`DbBuilder::build`].
    pub imported_at: String,
    /// `sha256:<hex>` of the serialized content (advisories and index; not `source` or `imported_at`).
    pub digest: String,
    /// Number of advisories.
    pub records: usize,
    /// Advisories per ecosystem string (`Debian:12`, `PyPI`...), sorted by ecosystem.
    pub ecosystems: Vec<(String, usize)>,
}

/// Orders two versions in an ecosystem's ordering (`None` if the ecosystem is unknown or either version does not
/// parse in it). For `Go`, a `v` or `go` prefix is accepted.
pub fn compare_versions(ecosystem: &str, a: &str, b: &str) -> Option<Ordering> {
    let scheme = version::Scheme::for_ecosystem(&ecosystem::canonical(ecosystem))?;
    scheme.parse(a)?.compare(&scheme.parse(b)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_versions_per_ecosystem() {
        use Ordering::*;
        assert_eq!(compare_versions("Debian:12", "1.0~rc1", "1.0"), Some(Less));
        assert_eq!(compare_versions("Debian:12", "1:0.9", "2.0"), Some(Greater));
        assert_eq!(compare_versions("Ubuntu:22.04:LTS", "2.6.1", "2.6.2"), Some(Less));
        assert_eq!(compare_versions("PyPI", "1.0.dev1", "1.0a1"), Some(Less));
        assert_eq!(compare_versions("PyPI", "1.0a1", "1.0"), Some(Less));
        assert_eq!(compare_versions("PyPI", "1.0", "1.0.post1"), Some(Less));
        assert_eq!(compare_versions("pypi", "2.0RC1", "2.0rc1"), Some(Equal));
        assert_eq!(compare_versions("npm", "1.2.8", "1.2.10"), Some(Less));
        assert_eq!(compare_versions("crates.io", "0.4.35", "0.4.36"), Some(Less));
        assert_eq!(compare_versions("Go", "v1.20.1", "1.20.2"), Some(Less));
        assert_eq!(compare_versions("Go", "go1.21rc2", "1.21.0"), Some(Less));
        assert_eq!(compare_versions("Alpine:v3.19", "3.1.4-r5", "3.1.4-r6"), Some(Less));
        assert_eq!(compare_versions("Rocky Linux:9", "1:1.0-1", "2.0-1"), Some(Greater));
        assert_eq!(compare_versions("Maven", "1.0-SNAPSHOT", "1.0"), Some(Less));
        assert_eq!(compare_versions("RubyGems", "1.0.a", "1.0"), Some(Less));
        assert_eq!(compare_versions("npm", "not-a-version", "1.0.0"), None);
        assert_eq!(compare_versions("Hackage", "1.0", "1.0"), None);
    }
}
