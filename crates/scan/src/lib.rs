//! Image content analysis for the vulnerability scanner: layers → merged file view → package inventory → SBOM.
//!
//! # The model
//!
//! 1. [`analyze_layer`] reads one layer blob **once, as a stream**: it never extracts to disk and never holds the
//!    blob in memory. It records what the layer *contributes*, independent of every other layer, so the result
//!    ([`LayerAnalysis`]) can be cached by the layer's digest (it round-trips through serde JSON):
//!    - the path and kind (dir, file, symlink, hardlink, other) of **every** entry, front-coded when serialised,
//!      because a plain file or a symlink at `a/b` deletes whatever lower layers had under `a/b`;
//!    - symlink and hardlink targets, whiteouts (`.wh.NAME`) and opaque directories (`.wh..wh..opq`);
//!    - the **parsed** content of the few files that matter (os-release, dpkg/apk databases, Python metadata,
//!      npm `package.json` / lockfiles, `Cargo.lock`, Go build info of executables). Everything else is skipped
//!      without buffering. Parsers are versioned with [`LayerAnalysis::FORMAT_VERSION`]; a cached analysis of
//!      another version must be recomputed ([`LayerAnalysis::is_current`]).
//! 2. [`inventory`] applies the layers bottom to top with container-runtime semantics (OCI image-spec
//!    changesets: a later entry replaces a path, a file replaces a directory and vice versa, whiteouts delete,
//!    opaque directories hide lower content; symlinks are resolved inside the image root with a bounded hop
//!    count) and reads the package inventory from the merged view. Each package is attributed to the layer
//!    that introduced it: the lowest layer from which on every cumulative view contains it.
//! 3. [`sbom`] writes the inventory as CycloneDX 1.6 JSON and reads it back, so a rescan after a vulnerability
//!    database update re-matches the stored SBOM instead of re-reading layers.
//!
//! Architecture invariants: no HTTP, no metadata store, no vulnerability matching here; no clock other than the
//! per-layer time limit; every size an archive controls is bounded — by [`Limits`], and by two fixed internal
//! bounds: 1 MiB of tar extension headers (PAX, GNU long names) per entry, and 256 MiB of recorded metadata
//! (paths, link targets, package strings) per layer.
//!
//! What is read: os-release (`etc/os-release`, `usr/lib/os-release`, symlinks followed), `etc/debian_version`,
//! `etc/alpine-release`; dpkg (`var/lib/dpkg/status`, `var/lib/dpkg/status.d/*`); apk
//! (`lib/apk/db/installed`); Python (`*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, `*.egg-info` files); npm
//! (`node_modules/<name>/package.json`, `package-lock.json` v1–v3, `npm-shrinkwrap.json`,
//! `node_modules/.package-lock.json`); Cargo (`Cargo.lock`, crates.io sources); Go (build info of executables
//! built with Go 1.18 or later).
//!
//! Not read: RPM databases (BerkeleyDB, NDB and SQLite `rpmdb`) and Java archives — their presence is reported
//! as a note ([`notes`]); yarn and pnpm lockfiles; Go binaries built before Go 1.18 (noted). Package databases
//! are found at their own path, not through symlinked directories; a hardlink has its target's content only
//! when the target is in the same layer.
//!
//! Duplicates: the same package (same purl) found in several files is reported once, from the most direct
//! evidence — an installed `node_modules/x/package.json` before a lockfile entry, then by path.

mod decompress;
mod error;
mod formats;
mod layer;
mod merge;
mod purl;
pub mod sbom;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use error::ScanError;
pub use layer::{Compression, LayerAnalysis, analyze_layer};

/// Bounds on what one layer may cost. Exceeding any of them fails the layer with a clear [`ScanError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Tar entries per layer. Also bounds the number of package records a layer may contribute.
    pub max_entries: u64,
    /// Largest file whose content is captured (a bigger `dpkg/status` is skipped with a note). Also bounds how
    /// far into one executable the Go build-info search reads.
    pub max_file_bytes: u64,
    /// Decompressed bytes read per layer (defeats gzip/zstd bombs).
    pub max_total_bytes: u64,
    /// Wall-clock time per layer, checked while reading.
    pub max_duration: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 500_000,
            max_file_bytes: 64 * 1024 * 1024,
            max_total_bytes: 8 * 1024 * 1024 * 1024,
            max_duration: Duration::from_secs(600),
        }
    }
}

/// One layer of an image, bottom first, as given to [`inventory`].
#[derive(Debug, Clone, Copy)]
pub struct LayerRef<'a> {
    pub digest: &'a str,
    pub analysis: &'a LayerAnalysis,
}

/// Apply layers bottom to top (runtime semantics), then read inventories from the merged view.
pub fn inventory(layers: &[LayerRef]) -> Inventory {
    merge::inventory(layers)
}

/// Notes from every layer (unsupported databases, oversized or unreadable files), prefixed with the layer digest.
pub fn notes(layers: &[LayerRef]) -> Vec<String> {
    layers.iter().flat_map(|l| l.analysis.notes().iter().map(move |n| format!("{}: {n}", l.digest))).collect()
}

/// What an image contains: its operating system and its packages.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Inventory {
    pub os: Option<OsInfo>,
    pub packages: Vec<Package>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct OsInfo {
    /// os-release `ID`, e.g. "debian".
    pub id: String,
    /// os-release `VERSION_ID`, e.g. "12".
    pub version_id: Option<String>,
    pub pretty_name: Option<String>,
    /// OSV ecosystem of the distribution's packages: "Debian:12", "Alpine:v3.19", "Ubuntu:22.04".
    pub ecosystem: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum PackageKind {
    Deb,
    Apk,
    /// Present for SBOMs from other tools; berth does not read RPM databases.
    Rpm,
    Python,
    Npm,
    Cargo,
    Go,
}

impl PackageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PackageKind::Deb => "deb",
            PackageKind::Apk => "apk",
            PackageKind::Rpm => "rpm",
            PackageKind::Python => "python",
            PackageKind::Npm => "npm",
            PackageKind::Cargo => "cargo",
            PackageKind::Go => "go",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Package {
    pub kind: PackageKind,
    /// As written by the package manager (normalisation is the matcher's job).
    pub name: String,
    /// As written, except Go: without the leading "v" (OSV's Go versions), and the toolchain "go1.21.5" as
    /// package "stdlib" version "1.21.5".
    pub version: String,
    /// dpkg `Source:` (the package's own name when absent), apk origin. Matching Debian advisories uses it.
    pub source_name: Option<String>,
    /// dpkg: the version in parentheses after `Source:`, else the package version. apk: the package version.
    pub source_version: Option<String>,
    /// OSV ecosystem used for matching: "Debian:12", "PyPI", "npm", "crates.io", "Go", "Alpine:v3.19".
    pub ecosystem: String,
    /// Package URL, unique within an inventory.
    pub purl: String,
    /// The layer that introduced this package (name and version).
    pub layer_digest: String,
    /// Absolute path, inside the image, of the file the package was read from.
    pub location: String,
    /// When the package database states them cheaply (apk, Python, npm); empty otherwise.
    pub licenses: Vec<String>,
}
