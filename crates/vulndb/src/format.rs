//! The serialized database.
//!
//! ```text
//! "BERTHVDB"                 8 bytes, magic
//! format version             u32, little endian (FORMAT_VERSION)
//! gzip stream of:
//!   header                   one line of JSON: {"source", "imported_at", "digest", "records"}, then "\n"
//!   content                  JSON: {"advisories": [Advisory, ...] sorted by id,
//!                                   "packages": [{"ecosystem", "name", "affected": [
//!                                       {"a": advisory index, "r": [{"s": true if SEMVER, "e": [["i"|"f"|"l"|"x", version], ...]}],
//!                                        "v": [listed versions not covered by the ranges]}]}] sorted by ecosystem, name}
//! ```
//! The content is deterministic (sorted, events in evaluation order), and `digest` is `sha256:` of its bytes, so
//! the same records give the same digest whatever the import time. A reader checks magic, version and digest, and
//! rebuilds the index (parsing versions) from the content.

use std::io::{Read, Write};
use std::sync::Arc;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::Advisory;
use crate::db::{Index, VulnDb};
use crate::error::VulnDbError;
use crate::model::{Affected, EventKind, Listed, Range};
use crate::version::Scheme;

/// Magic bytes at the start of a serialized database.
const MAGIC: &[u8; 8] = b"BERTHVDB";

/// The serialized format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Upper bound on the decompressed size read back, against corrupt or hostile input.
const MAX_DECOMPRESSED: u64 = 2 * 1024 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
struct Header {
    source: String,
    imported_at: String,
    digest: String,
    records: usize,
}

#[derive(Serialize)]
struct ContentOut<'a> {
    advisories: &'a [Arc<Advisory>],
    packages: Vec<PackageOut<'a>>,
}

#[derive(Serialize)]
struct PackageOut<'a> {
    ecosystem: &'a str,
    name: &'a str,
    affected: Vec<AffectedOut<'a>>,
}

#[derive(Serialize)]
struct AffectedOut<'a> {
    a: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    r: Vec<RangeOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    v: Vec<&'a str>,
}

#[derive(Serialize)]
struct RangeOut<'a> {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    s: bool,
    e: Vec<(EventKind, &'a str)>,
}

#[derive(Deserialize)]
struct ContentIn {
    advisories: Vec<Advisory>,
    packages: Vec<PackageIn>,
}

#[derive(Deserialize)]
struct PackageIn {
    ecosystem: String,
    name: String,
    affected: Vec<AffectedIn>,
}

#[derive(Deserialize)]
struct AffectedIn {
    a: u32,
    #[serde(default)]
    r: Vec<RangeIn>,
    #[serde(default)]
    v: Vec<String>,
}

#[derive(Deserialize)]
struct RangeIn {
    #[serde(default)]
    s: bool,
    e: Vec<(EventKind, String)>,
}

/// `sha256:<hex>` of `bytes`.
pub(crate) fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The deterministic content bytes of a database.
pub(crate) fn content_bytes(db: &VulnDb) -> Result<Vec<u8>, VulnDbError> {
    let (advisories, index) = db.parts();
    let mut packages = Vec::new();
    let mut ecosystems: Vec<&String> = index.keys().collect();
    ecosystems.sort();
    for eco in ecosystems {
        let mut names: Vec<(&String, &Vec<Affected>)> = index[eco].iter().collect();
        names.sort_by(|a, b| a.0.cmp(b.0));
        for (name, entries) in names {
            let affected = entries
                .iter()
                .map(|e| AffectedOut {
                    a: e.advisory,
                    r: e.ranges
                        .iter()
                        .map(|r| RangeOut {
                            s: r.semver,
                            e: r.events.iter().map(|ev| (ev.kind, ev.raw.as_str())).collect(),
                        })
                        .collect(),
                    v: e.versions.iter().map(|l| l.raw.as_str()).collect(),
                })
                .collect();
            packages.push(PackageOut { ecosystem: eco, name, affected });
        }
    }
    serde_json::to_vec(&ContentOut { advisories, packages })
        .map_err(|e| VulnDbError::Corrupt(format!("serializing the content: {e}")))
}

pub(crate) fn write(db: &VulnDb, mut w: impl Write) -> Result<(), VulnDbError> {
    let content = content_bytes(db)?;
    let info = db.info();
    let header = Header {
        source: info.source.clone(),
        imported_at: info.imported_at.clone(),
        digest: info.digest.clone(),
        records: info.records,
    };
    w.write_all(MAGIC).map_err(VulnDbError::Write)?;
    w.write_all(&FORMAT_VERSION.to_le_bytes()).map_err(VulnDbError::Write)?;
    let mut gz = GzEncoder::new(w, Compression::default());
    serde_json::to_writer(&mut gz, &header).map_err(|e| VulnDbError::Write(e.into()))?;
    gz.write_all(b"\n").map_err(VulnDbError::Write)?;
    gz.write_all(&content).map_err(VulnDbError::Write)?;
    gz.finish().map_err(VulnDbError::Write)?.flush().map_err(VulnDbError::Write)?;
    Ok(())
}

pub(crate) fn read(mut r: impl Read) -> Result<VulnDb, VulnDbError> {
    let mut prefix = [0u8; 12];
    let mut filled = 0;
    while filled < prefix.len() {
        match r.read(&mut prefix[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(VulnDbError::Corrupt(format!("reading the header: {e}"))),
        }
    }
    if filled < MAGIC.len() || &prefix[..8] != MAGIC {
        return Err(VulnDbError::NotAVulnDb);
    }
    if filled < prefix.len() {
        return Err(VulnDbError::Corrupt("truncated before the format version".into()));
    }
    let version = u32::from_le_bytes(prefix[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(VulnDbError::UnsupportedFormat { found: version, supported: FORMAT_VERSION });
    }
    let mut bytes = Vec::new();
    GzDecoder::new(r)
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| VulnDbError::Corrupt(format!("decompressing: {e}")))?;
    if bytes.len() as u64 > MAX_DECOMPRESSED {
        return Err(VulnDbError::Corrupt(format!("larger than {MAX_DECOMPRESSED} bytes decompressed")));
    }
    let newline =
        bytes.iter().position(|&b| b == b'\n').ok_or_else(|| VulnDbError::Corrupt("no header line".into()))?;
    let header: Header =
        serde_json::from_slice(&bytes[..newline]).map_err(|e| VulnDbError::Corrupt(format!("header: {e}")))?;
    let content = &bytes[newline + 1..];
    let actual = digest(content);
    if actual != header.digest {
        return Err(VulnDbError::DigestMismatch { expected: header.digest, actual });
    }
    let content: ContentIn =
        serde_json::from_slice(content).map_err(|e| VulnDbError::Corrupt(format!("content: {e}")))?;
    if content.advisories.len() != header.records {
        return Err(VulnDbError::Corrupt(format!(
            "header says {} records, content has {}",
            header.records,
            content.advisories.len()
        )));
    }
    let count = content.advisories.len();
    let mut index = Index::new();
    for p in content.packages {
        let scheme = Scheme::for_ecosystem(&p.ecosystem);
        let mut entries = Vec::with_capacity(p.affected.len());
        for a in p.affected {
            if a.a as usize >= count {
                return Err(VulnDbError::Corrupt(format!(
                    "{}/{}: advisory index {} out of range",
                    p.ecosystem, p.name, a.a
                )));
            }
            let ranges =
                a.r.into_iter()
                    .map(|r| {
                        let range_scheme = if r.s {
                            Some(if scheme == Some(Scheme::Go) { Scheme::Go } else { Scheme::Semver })
                        } else {
                            scheme
                        };
                        Range::new(range_scheme, r.s, r.e)
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| VulnDbError::Corrupt(format!("{}/{}: {e}", p.ecosystem, p.name)))?;
            let versions =
                a.v.into_iter().map(|raw| Listed { parsed: scheme.and_then(|s| s.parse(&raw)), raw }).collect();
            entries.push(Affected { advisory: a.a, ranges, versions });
        }
        index.entry(p.ecosystem).or_default().insert(p.name, entries);
    }
    let advisories = content.advisories.into_iter().map(Arc::new).collect();
    VulnDb::assemble(header.source, header.imported_at, advisories, index, Some(header.digest))
}
