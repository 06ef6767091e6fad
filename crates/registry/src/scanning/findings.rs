//! Matching an inventory against the vulnerability database.

use std::collections::BTreeMap;

use berth_scan::{Inventory, PackageKind};
use berth_vulndb::{PackageRef, Severity, VulnDb};
use serde::{Deserialize, Serialize};

/// One advisory affecting one installed package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub aliases: Vec<String>,
    pub severity: Severity,
    pub summary: Option<String>,
    pub details: Option<String>,
    pub uri: String,
    pub cvss_score: Option<f64>,
    pub cvss_vector: Option<String>,
    pub package_name: String,
    pub package_version: String,
    /// `deb`, `python`, `npm`...
    pub package_kind: String,
    /// The package the advisory names (dpkg's source package for Debian).
    pub matched_name: String,
    pub matched_version: String,
    pub ecosystem: String,
    pub purl: String,
    /// `None`: no fixed version is known.
    pub fixed_version: Option<String>,
    /// The layer that introduced the package.
    pub layer_digest: String,
    pub location: String,
    pub published: Option<String>,
}

/// The findings of `inventory` in `db`, most severe first, then by id and package.
pub fn evaluate(inventory: &Inventory, db: &VulnDb) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in &inventory.packages {
        // Distribution advisories name source packages (dpkg `Source:`, apk origin).
        let by_source = matches!(p.kind, PackageKind::Deb | PackageKind::Apk | PackageKind::Rpm);
        let (name, version) = if by_source {
            (p.source_name.as_deref().unwrap_or(&p.name), p.source_version.as_deref().unwrap_or(&p.version))
        } else {
            (p.name.as_str(), p.version.as_str())
        };
        for m in db.lookup(&PackageRef { ecosystem: &p.ecosystem, name, version }) {
            let a = &m.advisory;
            out.push(Finding {
                id: a.id.clone(),
                aliases: a.aliases.clone(),
                severity: a.severity,
                summary: a.summary.clone(),
                details: a.details.as_deref().map(shorten),
                uri: a.uri.clone(),
                cvss_score: a.cvss_score,
                cvss_vector: a.cvss_vector.clone(),
                package_name: p.name.clone(),
                package_version: p.version.clone(),
                package_kind: p.kind.as_str().to_string(),
                matched_name: name.to_string(),
                matched_version: version.to_string(),
                ecosystem: p.ecosystem.clone(),
                purl: p.purl.clone(),
                fixed_version: m.fixed_version.clone(),
                layer_digest: p.layer_digest.clone(),
                location: p.location.clone(),
                published: a.published.clone(),
            });
        }
    }
    out.sort_by(|a, b| {
        b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)).then_with(|| a.package_name.cmp(&b.package_name))
    });
    out
}

/// Details are kept short in findings: every image stores its own, and the advisory database has the full
/// text.
const DETAILS_KEPT: usize = 480;

fn shorten(text: &str) -> String {
    if text.len() <= DETAILS_KEPT {
        return text.to_string();
    }
    let mut end = DETAILS_KEPT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", text[..end].trim_end())
}

/// Findings per severity name (`CRITICAL`, `HIGH`...), only the severities that occur.
pub fn severity_counts(findings: &[Finding]) -> BTreeMap<&'static str, u64> {
    let mut counts = BTreeMap::new();
    for f in findings {
        *counts.entry(f.severity.as_str()).or_default() += 1;
    }
    counts
}
