//! One layer: stream the tar, record every path's kind, links, whiteouts and opaque directories, and capture
//! (parse) the few files that matter.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tar::EntryType;

use crate::decompress::{self, SharedMeter};
use crate::error::display_path;
use crate::formats::{self, Captured, Rule, gobin};
use crate::{Limits, ScanError};

/// Longest path or link target accepted (Linux `PATH_MAX`).
const MAX_PATH: usize = 4096;
/// Bytes of paths, link targets and package strings one analysis may hold.
const MAX_METADATA_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// The compression a layer media type declares. Encrypted and non-layer media types are refused.
    pub fn from_media_type(media_type: &str) -> Result<Compression, ScanError> {
        let essence = media_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.docker.image.rootfs.diff.tar" => Ok(Compression::None),
            "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Ok(Compression::Gzip),
            "application/vnd.oci.image.layer.v1.tar+zstd"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
            | "application/vnd.docker.image.rootfs.diff.tar.zstd" => Ok(Compression::Zstd),
            _ => Err(ScanError::UnsupportedMediaType { media_type: display_path(media_type) }),
        }
    }
}

/// What is at a path in one layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    File,
    Symlink,
    Hardlink,
    /// Devices, FIFOs, unknown entry types.
    Other,
}

impl Kind {
    fn code(self) -> char {
        match self {
            Kind::Dir => 'd',
            Kind::File => 'f',
            Kind::Symlink => 'l',
            Kind::Hardlink => 'h',
            Kind::Other => 'o',
        }
    }

    fn from_code(c: char) -> Option<Kind> {
        Some(match c {
            'd' => Kind::Dir,
            'f' => Kind::File,
            'l' => Kind::Symlink,
            'h' => Kind::Hardlink,
            'o' => Kind::Other,
            _ => return None,
        })
    }
}

/// What one layer contributes, independent of other layers — cacheable by the layer's digest (serde JSON round
/// trip). Paths are relative to the image root, normalised, without a leading or trailing slash; "" is the root.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct LayerAnalysis {
    format_version: u32,
    compression: Compression,
    entries: u64,
    decompressed_bytes: u64,
    /// Every entry of the layer (whiteout markers excepted) and its kind.
    pub(crate) paths: PathTable,
    /// Symlink targets as written; hardlink targets normalised.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) links: BTreeMap<String, String>,
    /// Paths deleted from lower layers by `.wh.NAME` markers.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub(crate) whiteouts: BTreeSet<String>,
    /// Directories whose lower-layer content is hidden by `.wh..wh..opq` markers ("" is the root).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub(crate) opaque_dirs: BTreeSet<String>,
    /// Parsed content of the captured files.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) files: BTreeMap<String, Captured>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
}

impl LayerAnalysis {
    /// Bumped whenever what is captured or how it is parsed changes; cached analyses of another version must be
    /// recomputed.
    pub const FORMAT_VERSION: u32 = 1;

    pub fn format_version(&self) -> u32 {
        self.format_version
    }

    pub fn is_current(&self) -> bool {
        self.format_version == Self::FORMAT_VERSION
    }

    /// The compression actually found (magic bytes), whatever the media type said.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    pub fn entries(&self) -> u64 {
        self.entries
    }

    pub fn decompressed_bytes(&self) -> u64 {
        self.decompressed_bytes
    }

    /// Things worth telling a user: unsupported databases present, files too large to read, unreadable files.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    fn empty(compression: Compression) -> Self {
        LayerAnalysis {
            format_version: Self::FORMAT_VERSION,
            compression,
            entries: 0,
            decompressed_bytes: 0,
            paths: PathTable::default(),
            links: BTreeMap::new(),
            whiteouts: BTreeSet::new(),
            opaque_dirs: BTreeSet::new(),
            files: BTreeMap::new(),
            notes: Vec::new(),
        }
    }
}

/// Every path of a layer with its kind. Serialised front-coded, sorted: each element is
/// `<bytes shared with the previous path><kind letter><rest of the path>`, e.g. `["0dusr", "3d/bin", "7f/bash"]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct PathTable(pub(crate) BTreeMap<String, Kind>);

impl Serialize for PathTable {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut prev = "";
        let mut coded = Vec::with_capacity(self.0.len());
        for (path, kind) in &self.0 {
            let shared = common_prefix(prev, path);
            coded.push(format!("{shared}{}{}", kind.code(), &path[shared..]));
            prev = path;
        }
        coded.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for PathTable {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let coded = Vec::<String>::deserialize(deserializer)?;
        let mut map = BTreeMap::new();
        let mut prev = String::new();
        for item in coded {
            let digits = item.bytes().take_while(u8::is_ascii_digit).count();
            let shared: usize =
                item[..digits].parse().map_err(|_| D::Error::custom("path table: bad prefix length"))?;
            let mut rest = item[digits..].chars();
            let kind = rest.next().and_then(Kind::from_code).ok_or_else(|| D::Error::custom("path table: bad kind"))?;
            if shared > prev.len() || !prev.is_char_boundary(shared) {
                return Err(D::Error::custom("path table: prefix longer than the previous path"));
            }
            let path = format!("{}{}", &prev[..shared], rest.as_str());
            map.insert(path.clone(), kind);
            prev = path;
        }
        Ok(PathTable(map))
    }
}

fn common_prefix(a: &str, b: &str) -> usize {
    let mut n = 0;
    for (x, y) in a.chars().zip(b.chars()) {
        if x != y {
            break;
        }
        n += x.len_utf8();
    }
    n
}

/// Normalise a tar entry path: strip leading `/` and `./`, resolve `.` and `..` lexically. `Ok(None)` is the
/// root itself; going above the root is an error.
pub(crate) fn normalize(raw: &str) -> Result<Option<String>, ScanError> {
    let mut parts: Vec<&str> = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(ScanError::PathTraversal { path: display_path(raw) });
                }
            }
            p => parts.push(p),
        }
    }
    Ok(if parts.is_empty() { None } else { Some(parts.join("/")) })
}

/// Synchronous, streaming: reads the blob once, never extracts to disk, never holds the whole blob in memory.
/// Decompression is chosen by media type and confirmed or overridden by magic bytes (gzip `1f8b`, zstd
/// `28b52ffd`, else tar). The blob is read to its end, so a corrupt compressed stream is detected even after the
/// tar end-of-archive marker.
pub fn analyze_layer(reader: impl Read, media_type: &str, limits: &Limits) -> Result<LayerAnalysis, ScanError> {
    let declared = Compression::from_media_type(media_type)?;
    let meter = decompress::Meter::new(limits);
    let (compression, decoded) = decompress::open(reader, declared, &meter)?;
    let mut archive = tar::Archive::new(decoded);
    let mut walker = Walker {
        limits,
        meter: &meter,
        analysis: LayerAnalysis::empty(compression),
        metadata_bytes: 0,
        packages: 0,
        unsupported: BTreeMap::new(),
    };
    let walked = walker.walk(&mut archive);
    let failure = meter.borrow_mut().take_failure();
    if let Some(err) = failure {
        return Err(err);
    }
    walked?;
    // Read to the end: the tar end marker may be followed by padding, and the gzip/zstd trailer carries the checksum.
    let drained = io::copy(&mut archive.into_inner(), &mut io::sink());
    let failure = meter.borrow_mut().take_failure();
    if let Some(err) = failure {
        return Err(err);
    }
    drained.map_err(ScanError::Io)?;
    let mut analysis = walker.analysis;
    analysis.decompressed_bytes = meter.borrow().total();
    for (what, (first, count)) in walker.unsupported {
        let more = if count > 1 { format!(" (and {} more)", count - 1) } else { String::new() };
        analysis.notes.push(format!("{what} found at /{first}{more} but not read"));
    }
    Ok(analysis)
}

struct Walker<'a> {
    limits: &'a Limits,
    meter: &'a SharedMeter,
    analysis: LayerAnalysis,
    metadata_bytes: u64,
    packages: u64,
    /// Files of a kind berth does not read: the first path and how many.
    unsupported: BTreeMap<&'static str, (String, u64)>,
}

impl Walker<'_> {
    fn walk<R: Read>(&mut self, archive: &mut tar::Archive<R>) -> Result<(), ScanError> {
        let mut entries = archive.entries().map_err(tar_error)?;
        let mut last_path = String::from("(start of archive)");
        loop {
            self.meter.borrow_mut().begin_header();
            let next = entries.next();
            let overrun = self.meter.borrow().header_overrun();
            self.meter.borrow_mut().end_header();
            if overrun {
                return Err(ScanError::HeaderTooLarge { limit: decompress::HEADER_BUDGET, after: last_path });
            }
            let Some(entry) = next else { break };
            let mut entry = entry.map_err(tar_error)?;
            self.analysis.entries += 1;
            if self.analysis.entries > self.limits.max_entries {
                return Err(ScanError::TooManyEntries { limit: self.limits.max_entries });
            }
            self.meter.borrow().check_time()?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            last_path = display_path(&raw);
            self.entry(&raw, &mut entry)?;
            // Whatever was not read is skipped here, so that the next header read stays within its budget.
            io::copy(&mut entry, &mut io::sink()).map_err(tar_error)?;
        }
        Ok(())
    }

    fn entry<R: Read>(&mut self, raw: &str, entry: &mut tar::Entry<R>) -> Result<(), ScanError> {
        if raw.len() > MAX_PATH {
            return Err(ScanError::PathTooLong {
                path: display_path(&raw[..raw.floor_char_boundary(200)]),
                limit: MAX_PATH,
            });
        }
        let entry_type = entry.header().entry_type();
        if matches!(
            entry_type,
            EntryType::XGlobalHeader | EntryType::XHeader | EntryType::GNULongName | EntryType::GNULongLink
        ) {
            return Ok(());
        }
        let Some(path) = normalize(raw)? else { return Ok(()) }; // the root directory itself
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        if let Some(hidden) = name.strip_prefix(".wh.") {
            if hidden == ".wh..opq" {
                self.mark_parent_dir(parent);
                self.analysis.opaque_dirs.insert(parent.to_string());
            } else if hidden.starts_with(".wh.") {
                // Other aufs metadata (.wh..wh.plnk, .wh..wh.aufs): not part of the filesystem.
            } else if hidden.is_empty() || hidden == "." || hidden == ".." {
                self.analysis.notes.push(format!("ignored malformed whiteout '{}'", display_path(&path)));
            } else {
                self.mark_parent_dir(parent);
                let target = if parent.is_empty() { hidden.to_string() } else { format!("{parent}/{hidden}") };
                self.charge(target.len() as u64)?;
                self.analysis.whiteouts.insert(target);
            }
            return Ok(());
        }
        self.charge(path.len() as u64 + 16)?;
        match entry_type {
            EntryType::Directory => self.set(&path, Kind::Dir),
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.set(&path, Kind::File);
                let executable = entry.header().mode().map(|m| m & 0o111 != 0).unwrap_or(false);
                if let Some(rule) = formats::classify(&path, executable) {
                    self.capture(&path, rule, entry)?;
                }
            }
            EntryType::Symlink => {
                let target = link_target(entry)?;
                self.set(&path, Kind::Symlink);
                self.charge(target.len() as u64)?;
                self.analysis.links.insert(path, target);
            }
            EntryType::Link => {
                let target = link_target(entry)?;
                let target = normalize(&target)?.unwrap_or_default();
                self.set(&path, Kind::Hardlink);
                self.charge(target.len() as u64)?;
                // A hardlink to a file captured earlier in this layer has the same content.
                if let Some(captured) = self.analysis.files.get(&target).cloned() {
                    self.analysis.files.insert(path.clone(), captured);
                }
                self.analysis.links.insert(path, target);
            }
            _ => self.set(&path, Kind::Other),
        }
        Ok(())
    }

    /// A later entry for the same path in the same layer replaces the earlier one.
    fn set(&mut self, path: &str, kind: Kind) {
        self.analysis.paths.0.insert(path.to_string(), kind);
        self.analysis.links.remove(path);
        self.analysis.files.remove(path);
    }

    /// The directory holding a whiteout marker exists in this layer even if the tar has no entry for it.
    fn mark_parent_dir(&mut self, parent: &str) {
        if !parent.is_empty() && !self.analysis.paths.0.contains_key(parent) {
            self.analysis.paths.0.insert(parent.to_string(), Kind::Dir);
        }
    }

    fn charge(&mut self, bytes: u64) -> Result<(), ScanError> {
        self.metadata_bytes += bytes;
        if self.metadata_bytes > MAX_METADATA_BYTES {
            return Err(ScanError::MetadataTooLarge { limit: MAX_METADATA_BYTES });
        }
        Ok(())
    }

    fn capture<R: Read>(&mut self, path: &str, rule: Rule, entry: &mut tar::Entry<R>) -> Result<(), ScanError> {
        let size = entry.size();
        let captured = match rule {
            Rule::Unsupported(what) => {
                self.unsupported.entry(what).or_insert_with(|| (display_path(path), 0)).1 += 1;
                return Ok(());
            }
            Rule::GoCandidate => match gobin::scan(entry, self.limits.max_file_bytes).map_err(tar_error)? {
                gobin::GoScan::NotGo => return Ok(()),
                gobin::GoScan::Old => {
                    self.analysis.notes.push(format!(
                        "Go binary /{} was built before Go 1.18: its modules are not read",
                        display_path(path)
                    ));
                    return Ok(());
                }
                gobin::GoScan::Found { packages, .. } => {
                    Captured::Packages { source: formats::Source::GoBinary, packages }
                }
            },
            _ if size > self.limits.max_file_bytes => {
                self.analysis.notes.push(format!(
                    "/{} not read: {size} bytes is more than the {} bytes limit",
                    display_path(path),
                    self.limits.max_file_bytes
                ));
                return Ok(());
            }
            _ => {
                let mut data = Vec::with_capacity(size as usize);
                entry.read_to_end(&mut data).map_err(tar_error)?;
                match formats::parse(rule, path, &data) {
                    Ok(captured) => captured,
                    Err(reason) => {
                        self.analysis.notes.push(format!("/{} not read: {reason}", display_path(path)));
                        return Ok(());
                    }
                }
            }
        };
        if let Captured::Packages { packages, .. } = &captured {
            self.packages += packages.len() as u64;
            if self.packages > self.limits.max_entries {
                return Err(ScanError::TooManyPackages { limit: self.limits.max_entries });
            }
            self.charge(packages.iter().map(formats::FoundPackage::weight).sum())?;
        }
        self.analysis.files.insert(path.to_string(), captured);
        Ok(())
    }
}

fn link_target<R: Read>(entry: &tar::Entry<R>) -> Result<String, ScanError> {
    let target = entry.link_name_bytes().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    if target.len() > MAX_PATH {
        return Err(ScanError::PathTooLong {
            path: display_path(&target[..target.floor_char_boundary(200)]),
            limit: MAX_PATH,
        });
    }
    Ok(target)
}

/// Errors of the tar reader that are not a recorded source/decompression/limit failure.
fn tar_error(e: io::Error) -> ScanError {
    // The tar reader quotes header bytes in its messages: they are untrusted.
    ScanError::CorruptTar { message: display_path(&e.to_string()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_paths() {
        assert_eq!(normalize("./etc/os-release").unwrap().as_deref(), Some("etc/os-release"));
        assert_eq!(normalize("/usr//lib/./x/").unwrap().as_deref(), Some("usr/lib/x"));
        assert_eq!(normalize("a/../b").unwrap().as_deref(), Some("b"));
        assert_eq!(normalize("./").unwrap(), None);
        assert!(matches!(normalize("../../etc/passwd"), Err(ScanError::PathTraversal { .. })));
        assert!(matches!(normalize("a/../../b"), Err(ScanError::PathTraversal { .. })));
    }

    #[test]
    fn path_table_round_trip() {
        let mut t = PathTable::default();
        for (p, k) in [
            ("usr", Kind::Dir),
            ("usr/bin", Kind::Dir),
            ("usr/bin/bash", Kind::File),
            ("usr/bin/sh", Kind::Symlink),
            ("é/1x", Kind::Other),
            ("é/2", Kind::Hardlink),
        ] {
            t.0.insert(p.to_string(), k);
        }
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"["0dusr","3d/bin","7f/bash","8lsh","0oé/1x","3h2"]"#);
        let back: PathTable = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        assert!(serde_json::from_str::<PathTable>(r#"["5fabc"]"#).is_err());
    }
}
