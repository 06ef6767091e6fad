//! Importing OSV records: files, directories, zips, single records.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;
use std::sync::Arc;

use crate::ecosystem;
use crate::error::VulnDbError;
use crate::model::{Affected, EventKind, Listed, Range};
use crate::osv::OsvRecord;
use crate::severity;
use crate::version::Scheme;
use crate::{Advisory, VulnDb};

/// Largest decompressed zip entry accepted; anything bigger is a zip bomb, not an OSV record.
pub const MAX_ENTRY_BYTES: u64 = 16 * 1024 * 1024;

/// How many problem descriptions [`ImportStats::problems`] keeps (all are logged).
const MAX_PROBLEMS: usize = 200;

/// What one import call did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportStats {
    /// Records added (not withdrawn, not skipped). A record whose id was already added counts again; the database
    /// keeps one of the two (see [`DbBuilder`]).
    pub records: usize,
    /// Withdrawn records, ignored.
    pub withdrawn: usize,
    /// Records that could not be used (not JSON, not an OSV record); the reasons are in `problems`.
    pub skipped: usize,
    /// Ranges dropped from otherwise good records because a version in them does not parse in the ecosystem's
    /// ordering; the reasons are in `problems`.
    pub dropped_ranges: usize,
    /// Human-readable reasons for skipped records and dropped ranges, each naming the file or record (at most 200;
    /// every one is also logged with `tracing::warn!`).
    pub problems: Vec<String>,
}

impl ImportStats {
    fn problem(&mut self, message: String) {
        tracing::warn!(target: "berth_vulndb", "{message}");
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(message);
        }
    }

    fn merge(&mut self, other: ImportStats) {
        self.records += other.records;
        self.withdrawn += other.withdrawn;
        self.skipped += other.skipped;
        self.dropped_ranges += other.dropped_ranges;
        let room = MAX_PROBLEMS.saturating_sub(self.problems.len());
        self.problems.extend(other.problems.into_iter().take(room));
    }
}

/// One affected package of a pending record.
pub(crate) struct Entry {
    pub ecosystem: String,
    pub name: String,
    pub ranges: Vec<Range>,
    pub versions: Vec<Listed>,
}

struct Pending {
    advisory: Advisory,
    entries: Vec<Entry>,
}

enum Outcome {
    Added { problems: Vec<String> },
    Withdrawn,
}

/// Collects OSV records, then builds an immutable [`VulnDb`].
///
/// When two records share an id, the one with the later `modified` time is kept (on a tie, the one added last).
#[derive(Default)]
pub struct DbBuilder {
    records: HashMap<String, Pending>,
}

impl DbBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Imports an `all.zip`-style archive, a directory (recursively: every `*.json` record and every `*.zip`
    /// archive in it), or a single `.json` record. A malformed record is skipped and counted; an unreadable file
    /// or a corrupt zip is an error.
    pub fn add_path(&mut self, path: &Path) -> Result<ImportStats, VulnDbError> {
        let io_err = |source| VulnDbError::Io { path: path.to_owned(), source };
        let meta = std::fs::metadata(path).map_err(io_err)?;
        let mut stats = ImportStats::default();
        if meta.is_dir() {
            let mut children: Vec<_> = std::fs::read_dir(path)
                .map_err(io_err)?
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<_, _>>()
                .map_err(io_err)?;
            children.sort();
            for child in children {
                let is_dir = std::fs::metadata(&child)
                    .map_err(|source| VulnDbError::Io { path: child.clone(), source })?
                    .is_dir();
                if is_dir || has_extension(&child, "json") || has_extension(&child, "zip") {
                    stats.merge(self.add_path(&child)?);
                }
            }
        } else if has_extension(path, "zip") {
            let file = File::open(path).map_err(io_err)?;
            stats = self.add_zip(std::io::BufReader::new(file), &path.display().to_string())?;
        } else if has_extension(path, "json") {
            let bytes = std::fs::read(path).map_err(io_err)?;
            self.add_one(&bytes, &path.display().to_string(), &mut stats);
        } else {
            return Err(VulnDbError::UnsupportedInput { path: path.to_owned() });
        }
        Ok(stats)
    }

    /// Imports every `*.json` entry of a zip archive (other entries are ignored). `label` names the archive in
    /// errors and problems. An entry larger than 16 MiB decompressed, or one that fails to decompress, makes the
    /// whole call fail (records added before that stay added).
    pub fn add_zip(&mut self, r: impl Read + Seek, label: &str) -> Result<ImportStats, VulnDbError> {
        let zip_err = |e: zip::result::ZipError| VulnDbError::Zip { label: label.to_owned(), message: e.to_string() };
        let mut archive = zip::ZipArchive::new(r).map_err(zip_err)?;
        let mut stats = ImportStats::default();
        let mut buf = Vec::new();
        for i in 0..archive.len() {
            let entry = archive.by_index(i).map_err(zip_err)?;
            let name = entry.name().map_err(zip_err)?.into_owned();
            if entry.is_dir() || !name.to_ascii_lowercase().ends_with(".json") {
                continue;
            }
            buf.clear();
            let read = entry
                .take(MAX_ENTRY_BYTES + 1)
                .read_to_end(&mut buf)
                .map_err(|e| VulnDbError::Zip { label: label.to_owned(), message: format!("entry {name}: {e}") })?;
            if read as u64 > MAX_ENTRY_BYTES {
                return Err(VulnDbError::EntryTooLarge {
                    label: label.to_owned(),
                    entry: name,
                    limit: MAX_ENTRY_BYTES,
                });
            }
            self.add_one(&buf, &format!("{label}:{name}"), &mut stats);
        }
        Ok(stats)
    }

    /// Adds one OSV record. A withdrawn record is accepted and ignored; a malformed one is an error naming
    /// `origin`. Ranges whose versions do not parse are dropped with a warning in the log.
    pub fn add_record_json(&mut self, bytes: &[u8], origin: &str) -> Result<(), VulnDbError> {
        match self.add_record(bytes, origin) {
            Ok(Outcome::Added { problems }) => {
                for p in problems {
                    tracing::warn!(target: "berth_vulndb", "{p}");
                }
                Ok(())
            }
            Ok(Outcome::Withdrawn) => Ok(()),
            Err(reason) => Err(VulnDbError::Record { origin: origin.to_owned(), reason }),
        }
    }

    fn add_one(&mut self, bytes: &[u8], origin: &str, stats: &mut ImportStats) {
        match self.add_record(bytes, origin) {
            Ok(Outcome::Added { problems }) => {
                stats.records += 1;
                stats.dropped_ranges += problems.len();
                for p in problems {
                    stats.problem(p);
                }
            }
            Ok(Outcome::Withdrawn) => stats.withdrawn += 1,
            Err(reason) => {
                stats.skipped += 1;
                stats.problem(format!("{origin}: skipped: {reason}"));
            }
        }
    }

    fn add_record(&mut self, bytes: &[u8], origin: &str) -> Result<Outcome, String> {
        let record: OsvRecord = serde_json::from_slice(bytes).map_err(|e| format!("not an OSV record: {e}"))?;
        let id = record.id.trim().to_owned();
        if id.is_empty() {
            return Err("empty \"id\"".to_owned());
        }
        if record.withdrawn.as_deref().is_some_and(|w| !w.trim().is_empty()) {
            return Ok(Outcome::Withdrawn);
        }
        let mut problems = Vec::new();
        let entries = convert_affected(&record, origin, &mut problems);
        let advisory = advisory_from(&record, id.clone());
        let replace = match self.records.get(&id) {
            // RFC 3339 times in UTC order lexically; keep the newer record, the later one on a tie.
            Some(old) => old.advisory.modified <= advisory.modified,
            None => true,
        };
        if replace {
            self.records.insert(id, Pending { advisory, entries });
        }
        Ok(Outcome::Added { problems })
    }

    /// Builds the database. `source` says where the records came from (a path, an OCI reference); `imported_at`
    /// is the import time (RFC 3339), passed in so that builds are reproducible.
    pub fn build(self, source: String, imported_at: String) -> VulnDb {
        let mut pending: Vec<Pending> = self.records.into_values().collect();
        pending.sort_by(|a, b| a.advisory.id.cmp(&b.advisory.id));
        let mut advisories = Vec::with_capacity(pending.len());
        let mut index: HashMap<String, HashMap<String, Vec<Affected>>> = HashMap::new();
        for (i, p) in pending.into_iter().enumerate() {
            let idx = u32::try_from(i).expect("fewer than 2^32 advisories");
            advisories.push(Arc::new(p.advisory));
            for e in p.entries {
                index.entry(e.ecosystem).or_default().entry(e.name).or_default().push(Affected {
                    advisory: idx,
                    ranges: e.ranges,
                    versions: e.versions,
                });
            }
        }
        VulnDb::assemble(source, imported_at, advisories, index, None).expect("a freshly built database is consistent")
    }
}

fn has_extension(path: &Path, ext: &str) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// Converts `affected[]` into index entries, reporting dropped ranges in `problems`.
fn convert_affected(record: &OsvRecord, origin: &str, problems: &mut Vec<String>) -> Vec<Entry> {
    let mut entries = Vec::new();
    for affected in &record.affected {
        let Some(package) = &affected.package else { continue };
        if package.ecosystem.trim().is_empty() || package.name.trim().is_empty() {
            problems.push(format!("{origin}: {}: affected package without ecosystem or name ignored", record.id));
            continue;
        }
        let eco = ecosystem::canonical(&package.ecosystem);
        let name = ecosystem::normalize_name(&eco, &package.name);
        let scheme = Scheme::for_ecosystem(&eco);
        let mut ranges = Vec::new();
        for range in &affected.ranges {
            let (range_scheme, semver) = match range.kind.to_ascii_uppercase().as_str() {
                "ECOSYSTEM" => (scheme, false),
                "SEMVER" => (Some(if scheme == Some(Scheme::Go) { Scheme::Go } else { Scheme::Semver }), true),
                // Commit ranges need the repository; the versions list covers them for matching.
                _ => continue,
            };
            let mut events = Vec::new();
            for event in &range.events {
                for (key, value) in event {
                    let (Some(kind), Some(value)) = (EventKind::from_key(key), value.as_str()) else { continue };
                    events.push((kind, value.to_owned()));
                }
            }
            match Range::new(range_scheme, semver, events) {
                Ok(r) => ranges.push(r),
                Err(reason) => problems
                    .push(format!("{origin}: {}: {eco}/{name}: {} range dropped: {reason}", record.id, range.kind)),
            }
        }
        let mut versions: Vec<Listed> = affected
            .versions
            .iter()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(|v| Listed { raw: v.to_owned(), parsed: scheme.and_then(|s| s.parse(v)) })
            .collect();
        versions.dedup_by(|a, b| a.raw == b.raw);
        let probe = Affected { advisory: 0, ranges, versions: Vec::new() };
        versions.retain(|l| match (&l.parsed, scheme) {
            (Some(parsed), Some(s)) => !probe.affects(&l.raw, s, parsed, scheme),
            _ => true,
        });
        if probe.ranges.is_empty() && versions.is_empty() {
            continue;
        }
        entries.push(Entry { ecosystem: eco, name, ranges: probe.ranges, versions });
    }
    entries
}

fn advisory_from(record: &OsvRecord, id: String) -> Advisory {
    let mut aliases: Vec<String> = Vec::new();
    for alias in &record.aliases {
        let alias = alias.trim();
        if !alias.is_empty() && alias != id && !aliases.iter().any(|a| a == alias) {
            aliases.push(alias.to_owned());
        }
    }
    let text = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let details = text(&record.details).map(|d| truncate(d, Advisory::DETAILS_LIMIT));
    let reference =
        |kind: &str| record.references.iter().find(|r| r.kind.eq_ignore_ascii_case(kind) && !r.url.trim().is_empty());
    let uri = reference("ADVISORY")
        .or_else(|| reference("WEB"))
        .map(|r| r.url.trim().to_owned())
        .unwrap_or_else(|| format!("https://osv.dev/vulnerability/{id}"));
    let derived = severity::derive(record);
    Advisory {
        aliases,
        summary: text(&record.summary),
        details,
        severity: derived.severity,
        cvss_score: derived.score,
        cvss_vector: derived.vector,
        uri,
        published: text(&record.published),
        modified: text(&record.modified),
        id,
    }
}

/// Cuts `s` to at most `limit` bytes on a character boundary, ending in `…` when cut.
fn truncate(mut s: String, limit: usize) -> String {
    if s.len() <= limit {
        return s;
    }
    let ellipsis = '…';
    let mut end = limit - ellipsis.len_utf8();
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push(ellipsis);
    s
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use zip::write::SimpleFileOptions;

    use super::*;
    use crate::PackageRef;

    const GOOD: &str = r#"{"id":"GOOD-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"p"},
        "ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]}]}"#;

    fn zip_of(files: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default().compression_method(method);
        for (name, bytes) in files {
            if name.ends_with('/') {
                w.add_directory(*name, options).unwrap();
            } else {
                w.start_file(*name, options).unwrap();
                w.write_all(bytes).unwrap();
            }
        }
        w.finish().unwrap().into_inner()
    }

    fn ids(db: &VulnDb, name: &str, version: &str) -> Vec<String> {
        db.lookup(&PackageRef { ecosystem: "npm", name, version }).iter().map(|m| m.advisory.id.clone()).collect()
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("abc".into(), 10), "abc");
        let cut = truncate("é".repeat(10), 8);
        assert!(cut.len() <= 8, "{cut}");
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn malformed_records_are_skipped_and_counted() {
        let zip = zip_of(
            &[
                ("GOOD-1.json", GOOD.as_bytes()),
                ("bad.json", b"{ not json"),
                ("empty-id.json", br#"{"id":" "}"#),
                ("wrong-type.json", br#"{"id":"X","affected":"everything"}"#),
                ("withdrawn.json", br#"{"id":"W-1","withdrawn":"2024-01-01T00:00:00Z"}"#),
                ("README.txt", b"not a record"),
                ("nested/", b""),
                (
                    "nested/GOOD-2.JSON",
                    br#"{"id":"GOOD-2","affected":[{"package":{"ecosystem":"npm","name":"q"},"versions":["1.0.0"]}]}"#,
                ),
                (
                    "bad-range.json",
                    br#"{"id":"R-1","affected":[{"package":{"ecosystem":"npm","name":"r"},
                    "ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"soon"}]},
                              {"type":"SEMVER","events":[{"introduced":"2.0.0"}]}]}]}"#,
                ),
            ],
            zip::CompressionMethod::Deflated,
        );
        let mut b = VulnDb::builder();
        let stats = b.add_zip(Cursor::new(zip), "bundle.zip").unwrap();
        assert_eq!((stats.records, stats.withdrawn, stats.skipped, stats.dropped_ranges), (3, 1, 3, 1), "{stats:?}");
        assert!(stats.problems.iter().any(|p| p.starts_with("bundle.zip:bad.json: skipped: not an OSV record")));
        assert!(stats.problems.iter().any(|p| p.contains("bundle.zip:empty-id.json") && p.contains("empty \"id\"")));
        assert!(stats.problems.iter().any(|p| p.contains("wrong-type.json")));
        assert!(stats.problems.iter().any(|p| p.contains("R-1") && p.contains("\"soon\"")));
        let db = b.build("test".into(), "now".into());
        assert_eq!(db.info().records, 3);
        assert_eq!(ids(&db, "p", "0.9.0"), ["GOOD-1"]);
        assert_eq!(ids(&db, "q", "1.0.0"), ["GOOD-2"]);
        assert!(ids(&db, "q", "1.0.1").is_empty());
        // The good range of R-1 survives; the dropped one does not match anything.
        assert_eq!(ids(&db, "r", "2.1.0"), ["R-1"]);
        assert!(ids(&db, "r", "0.1.0").is_empty());
        assert!(db.advisory("W-1").is_none());
    }

    #[test]
    fn corrupt_zip_is_an_error_naming_it() {
        let mut b = VulnDb::builder();
        let err = b.add_zip(Cursor::new(b"PK\x03\x04 garbage".to_vec()), "osv/PyPI/all.zip").unwrap_err();
        assert!(matches!(err, VulnDbError::Zip { .. }), "{err}");
        assert!(err.to_string().contains("osv/PyPI/all.zip"), "{err}");

        // A damaged compressed entry (the central directory intact).
        let mut zip = zip_of(&[("A.json", GOOD.repeat(50).as_bytes())], zip::CompressionMethod::Deflated);
        let at = zip.windows(6).position(|w| w == b"A.json").unwrap() + 6 + 10;
        for byte in &mut zip[at..at + 20] {
            *byte ^= 0x5a;
        }
        let err = b.add_zip(Cursor::new(zip), "damaged.zip").unwrap_err();
        assert!(err.to_string().contains("damaged.zip"), "{err}");
    }

    #[test]
    fn oversized_entry_fails_cleanly() {
        let big = vec![b' '; MAX_ENTRY_BYTES as usize + 1];
        let zip = zip_of(&[("bomb.json", &big)], zip::CompressionMethod::Stored);
        let mut b = VulnDb::builder();
        let err = b.add_zip(Cursor::new(zip), "bomb.zip").unwrap_err();
        assert!(matches!(&err, VulnDbError::EntryTooLarge { entry, .. } if entry == "bomb.json"), "{err}");
        assert!(err.to_string().contains("bomb.zip"), "{err}");
    }

    #[test]
    fn paths_directories_and_single_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("GOOD-1.json"), GOOD).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/notes.txt"), "ignored").unwrap();
        std::fs::write(dir.path().join("sub/broken.json"), "[").unwrap();
        let zip = zip_of(&[("Z-1.json", br#"{"id":"Z-1"}"#)], zip::CompressionMethod::Deflated);
        std::fs::write(dir.path().join("sub/more.zip"), zip).unwrap();

        let mut b = VulnDb::builder();
        let stats = b.add_path(dir.path()).unwrap();
        assert_eq!((stats.records, stats.skipped), (2, 1), "{stats:?}");
        assert!(stats.problems[0].contains("broken.json"), "{:?}", stats.problems);
        let stats = b.add_path(&dir.path().join("GOOD-1.json")).unwrap();
        assert_eq!(stats.records, 1);
        let db = b.build("dir".into(), "now".into());
        assert_eq!(db.info().records, 2);

        let mut b = VulnDb::builder();
        let err = b.add_path(&dir.path().join("sub/notes.txt")).unwrap_err();
        assert!(matches!(err, VulnDbError::UnsupportedInput { .. }), "{err}");
        let err = b.add_path(&dir.path().join("missing.zip")).unwrap_err();
        assert!(matches!(err, VulnDbError::Io { .. }) && err.to_string().contains("missing.zip"), "{err}");
    }

    #[test]
    fn single_records() {
        let mut b = VulnDb::builder();
        let err = b.add_record_json(b"{}", "inline").unwrap_err();
        assert!(err.to_string().starts_with("OSV record inline: not an OSV record"), "{err}");
        b.add_record_json(br#"{"id":"W","withdrawn":"2024-01-01T00:00:00Z"}"#, "w").unwrap();
        // The same id twice: the later `modified` wins, whatever the order of import.
        let v = |m: &str, fixed: &str| {
            format!(
                r#"{{"id":"D","modified":"{m}","affected":[{{"package":{{"ecosystem":"npm","name":"p"}},
                "ranges":[{{"type":"SEMVER","events":[{{"introduced":"0"}},{{"fixed":"{fixed}"}}]}}]}}]}}"#
            )
        };
        b.add_record_json(v("2024-02-01T00:00:00Z", "2.0.0").as_bytes(), "new").unwrap();
        b.add_record_json(v("2024-01-01T00:00:00Z", "1.0.0").as_bytes(), "old").unwrap();
        let db = b.build("x".into(), "y".into());
        assert!(db.advisory("W").is_none());
        assert_eq!(ids(&db, "p", "1.5.0"), ["D"]);
        assert_eq!(db.info().records, 1);
    }
}
