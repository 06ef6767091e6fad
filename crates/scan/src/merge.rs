//! Layers applied bottom to top with container-runtime semantics (OCI image-spec layer changesets), without
//! materialising the merged tree: a path is looked up from the top layer down.
//!
//! In layer `j`, a path `p`
//! - **exists** if the layer has an entry at `p`, or any entry under `p/` (then `p` is a directory);
//! - **hides `p` in lower layers** if the layer whites out `p` or an ancestor, marks an ancestor opaque
//!   (`.wh..wh..opq` hides lower content of that directory, not the layer's own), or has a non-directory
//!   (file, symlink, ...) at an ancestor — a file replacing a directory deletes what was under it. An entry
//!   at `p` itself replaces the lower one, whatever the kinds (file replaces directory and vice versa).
//!
//! Whiteouts apply to lower layers only: an entry in the same layer as its whiteout stays.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;

use crate::formats::{Captured, FoundPackage, OsRelease, Source};
use crate::layer::{Kind, LayerAnalysis};
use crate::{Inventory, LayerRef, OsInfo, Package, PackageKind, purl};

/// Symlinks followed while resolving one path (Linux allows 40).
const MAX_SYMLINK_HOPS: usize = 40;

pub(crate) fn inventory(layers: &[LayerRef]) -> Inventory {
    if layers.is_empty() {
        return Inventory::default();
    }
    let view = View { layers };
    // Captured package files visible in the current cumulative view: path → layer index.
    let mut visible: BTreeMap<&str, usize> = BTreeMap::new();
    // (kind, name, version) → the layer from which on every cumulative view contains it.
    let mut since: HashMap<(PackageKind, &str, &str), usize> = HashMap::new();
    let mut present: HashSet<(PackageKind, &str, &str)> = HashSet::new();
    for (k, layer) in layers.iter().enumerate() {
        let a = layer.analysis;
        visible.retain(|path, _| !replaces_or_hides(a, path));
        for (path, captured) in &a.files {
            if matches!(captured, Captured::Packages { .. }) {
                visible.insert(path, k);
            }
        }
        let now: HashSet<(PackageKind, &str, &str)> = visible
            .iter()
            .flat_map(|(path, &i)| view.packages_at(i, path))
            .map(|(source, p)| (source.kind(), p.name.as_str(), p.version.as_str()))
            .collect();
        for key in &now {
            if !present.contains(key) {
                since.insert(*key, k);
            }
        }
        present = now;
    }

    let top = layers.len() - 1;
    let os = view.os(top);
    let mut found: Vec<(Source, &str, &FoundPackage)> =
        visible.iter().flat_map(|(path, &i)| view.packages_at(i, path).map(move |(s, p)| (s, *path, p))).collect();
    // The first of duplicates is kept: installed files before lockfiles, then by path.
    found.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let mut seen = HashSet::new();
    let mut packages = Vec::new();
    for (source, path, p) in found {
        let kind = source.kind();
        let purl = purl::build(kind, &p.name, &p.version, p.arch.as_deref(), os.as_ref());
        if !seen.insert(purl.clone()) {
            continue;
        }
        let introduced = since.get(&(kind, p.name.as_str(), p.version.as_str())).copied().unwrap_or(top);
        packages.push(Package {
            kind,
            name: p.name.clone(),
            version: p.version.clone(),
            source_name: p.source_name.clone(),
            source_version: p.source_version.clone(),
            ecosystem: ecosystem(kind, os.as_ref()),
            purl,
            layer_digest: layers[introduced].digest.to_string(),
            location: format!("/{path}"),
            licenses: p.licenses.clone(),
        });
    }
    packages.sort_by(|a, b| (a.kind, &a.name, &a.version, &a.purl).cmp(&(b.kind, &b.name, &b.version, &b.purl)));
    Inventory { os, packages }
}

/// The OSV ecosystem of a package kind in an image with this OS.
pub(crate) fn ecosystem(kind: PackageKind, os: Option<&OsInfo>) -> String {
    let (namespace, _) = purl::distro_namespace(kind, os);
    let os_ecosystem = os.filter(|os| os.id == namespace).and_then(|os| os.ecosystem.clone());
    match kind {
        PackageKind::Deb => os_ecosystem.unwrap_or_else(|| "Debian".into()),
        PackageKind::Apk => os_ecosystem.unwrap_or_else(|| "Alpine".into()),
        PackageKind::Rpm => os_ecosystem.unwrap_or_default(),
        PackageKind::Python => "PyPI".into(),
        PackageKind::Npm => "npm".into(),
        PackageKind::Cargo => "crates.io".into(),
        PackageKind::Go => "Go".into(),
    }
}

/// Does layer `a` delete or replace what lower layers have at `path`?
fn replaces_or_hides(a: &LayerAnalysis, path: &str) -> bool {
    a.paths.0.contains_key(path) || has_children(a, path) || hides_lower(a, path)
}

/// Any entry under `path/` in this layer (then `path` is a directory here).
fn has_children(a: &LayerAnalysis, path: &str) -> bool {
    let prefix = format!("{path}/");
    a.paths
        .0
        .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
        .next()
        .is_some_and(|(k, _)| k.starts_with(&prefix))
}

/// Whiteout of `path` or an ancestor, an opaque ancestor, or a non-directory at an ancestor.
fn hides_lower(a: &LayerAnalysis, path: &str) -> bool {
    if a.whiteouts.contains(path) || a.opaque_dirs.contains("") {
        return true;
    }
    path.match_indices('/').any(|(i, _)| {
        let ancestor = &path[..i];
        a.whiteouts.contains(ancestor)
            || a.opaque_dirs.contains(ancestor)
            || a.paths.0.get(ancestor).is_some_and(|k| *k != Kind::Dir)
    })
}

struct View<'a> {
    layers: &'a [LayerRef<'a>],
}

impl<'a> View<'a> {
    fn packages_at(&self, layer: usize, path: &str) -> impl Iterator<Item = (Source, &'a FoundPackage)> + use<'a> {
        let captured = self.layers[layer].analysis.files.get(path);
        let (source, packages) = match captured {
            Some(Captured::Packages { source, packages }) => (Some(*source), packages.as_slice()),
            _ => (None, [].as_slice()),
        };
        packages.iter().filter_map(move |p| Some((source?, p)))
    }

    /// The topmost entry at exactly `path` in the view of layers `0..=k` (no symlinks followed).
    fn top_entry(&self, k: usize, path: &str) -> Option<(usize, Kind)> {
        if path.is_empty() {
            return Some((k, Kind::Dir));
        }
        for j in (0..=k).rev() {
            let a = self.layers[j].analysis;
            if let Some(kind) = a.paths.0.get(path) {
                return Some((j, *kind));
            }
            if has_children(a, path) {
                return Some((j, Kind::Dir));
            }
            if hides_lower(a, path) {
                return None;
            }
        }
        None
    }

    /// Resolve `path` in the view of layers `0..=k`, following symlinks in every component, inside the image
    /// root: absolute targets start at the image root, `..` stops at it. Returns the layer and physical path
    /// of the entry, `None` if it does not exist, a component is not a directory, or there are too many hops.
    fn resolve(&self, k: usize, path: &str) -> Option<(usize, String)> {
        let mut pending: Vec<String> = path.split('/').rev().map(str::to_string).collect();
        let mut resolved: Vec<String> = Vec::new();
        let mut hops = 0;
        let mut last = (k, Kind::Dir);
        while let Some(component) = pending.pop() {
            match component.as_str() {
                "" | "." => continue,
                ".." => {
                    resolved.pop();
                    last = (k, Kind::Dir);
                    continue;
                }
                _ => {}
            }
            if last.1 != Kind::Dir {
                return None; // a file used as a directory
            }
            let candidate =
                if resolved.is_empty() { component.clone() } else { format!("{}/{component}", resolved.join("/")) };
            let (layer, kind) = self.top_entry(k, &candidate)?;
            match kind {
                Kind::Symlink => {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return None;
                    }
                    let target = self.layers[layer].analysis.links.get(&candidate)?;
                    if target.starts_with('/') {
                        resolved.clear();
                    }
                    pending.extend(target.split('/').rev().map(str::to_string));
                    last = (k, Kind::Dir);
                }
                kind => {
                    resolved.push(component);
                    last = (layer, kind);
                }
            }
        }
        Some((last.0, resolved.join("/")))
    }

    fn captured(&self, k: usize, path: &str) -> Option<&'a Captured> {
        let (layer, physical) = self.resolve(k, path)?;
        self.layers[layer].analysis.files.get(&physical)
    }

    fn os(&self, k: usize) -> Option<OsInfo> {
        let release = |path| match self.captured(k, path) {
            Some(Captured::OsRelease(r)) if r.id.is_some() => Some(r.clone()),
            _ => None,
        };
        let text = |path| match self.captured(k, path) {
            Some(Captured::Release { text }) if !text.is_empty() => Some(text.clone()),
            _ => None,
        };
        let os = release("etc/os-release").or_else(|| release("usr/lib/os-release"));
        let debian_version = text("etc/debian_version");
        let alpine_release = text("etc/alpine-release");
        let OsRelease { id, version_id, pretty_name } = match os {
            Some(os) => os,
            None if alpine_release.is_some() => {
                OsRelease { id: Some("alpine".into()), version_id: alpine_release.clone(), pretty_name: None }
            }
            None if debian_version.is_some() => {
                let major = debian_version.as_deref().and_then(numeric_major);
                OsRelease { id: Some("debian".into()), version_id: major, pretty_name: None }
            }
            None => return None,
        };
        let id = id?;
        let ecosystem_version = match id.as_str() {
            "debian" => version_id.clone().or(debian_version),
            "alpine" => version_id.clone().or(alpine_release),
            _ => version_id.clone(),
        };
        let ecosystem = os_ecosystem(&id, ecosystem_version.as_deref());
        Some(OsInfo { id, version_id, pretty_name, ecosystem })
    }
}

/// The OSV ecosystem of a distribution: debian 12 → "Debian:12", ubuntu 22.04 → "Ubuntu:22.04", alpine 3.19.1 →
/// "Alpine:v3.19". `None` for distributions berth does not map.
pub(crate) fn os_ecosystem(id: &str, version: Option<&str>) -> Option<String> {
    match id {
        "debian" => version.and_then(numeric_major).map(|v| format!("Debian:{v}")),
        "ubuntu" => version.map(|v| format!("Ubuntu:{v}")),
        "alpine" => version.and_then(major_minor).map(|v| format!("Alpine:v{v}")),
        "wolfi" => Some("Wolfi".into()),
        "chainguard" => Some("Chainguard".into()),
        _ => None,
    }
}

/// "12.15" → "12"; "trixie/sid" → None.
fn numeric_major(v: &str) -> Option<String> {
    let major = v.split('.').next()?;
    (!major.is_empty() && major.bytes().all(|b| b.is_ascii_digit())).then(|| major.to_string())
}

/// "3.19.1" → "3.19".
fn major_minor(v: &str) -> Option<String> {
    let mut parts = v.split('.');
    let (major, minor) = (parts.next()?, parts.next()?);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(major) && digits(minor)).then(|| format!("{major}.{minor}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Limits, analyze_layer};

    fn layer_with(links: &[(String, String)], files: &[&str]) -> LayerAnalysis {
        let mut b = tar::Builder::new(Vec::new());
        for (path, target) in links {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, path, target).unwrap();
        }
        for path in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(0);
            b.append_data(&mut h, path, std::io::empty()).unwrap();
        }
        let tar = b.into_inner().unwrap();
        analyze_layer(&tar[..], "application/vnd.oci.image.layer.v1.tar", &Limits::default()).unwrap()
    }

    #[test]
    fn symlink_hops_are_bounded() {
        for (hops, resolves) in [(MAX_SYMLINK_HOPS, true), (MAX_SYMLINK_HOPS + 1, false)] {
            let links: Vec<(String, String)> = (0..hops)
                .map(|i| (format!("l{i}"), if i + 1 < hops { format!("l{}", i + 1) } else { "dir/file".into() }))
                .collect();
            let a = layer_with(&links, &["dir/file"]);
            let refs = [LayerRef { digest: "L1", analysis: &a }];
            let view = View { layers: &refs };
            let resolved = view.resolve(0, "l0");
            assert_eq!(resolved.is_some(), resolves, "{hops} hops");
            if resolves {
                assert_eq!(resolved.unwrap(), (0, "dir/file".to_string()));
            }
            assert_eq!(view.resolve(0, "l0/x"), None, "a file is not a directory");
        }
    }

    /// Layer 1 of the shared OCI fixture: `etc/os-release` is a relative symlink to `../usr/lib/os-release`.
    #[test]
    fn fixture_os_release_resolves_through_its_symlink() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/testdata/fixtures/oci-scanner-fixture/blobs/sha256/",
            "7d2c829e9a548acb0cf38120f94cf8df8404e7ec8fe8b0104b0059c56055651b"
        );
        let blob = std::fs::read(path).unwrap_or_else(|e| panic!("test data missing: {path}: {e}"));
        let a = analyze_layer(&blob[..], "application/vnd.oci.image.layer.v1.tar+gzip", &Limits::default()).unwrap();
        assert_eq!(a.links.get("etc/os-release").map(String::as_str), Some("../usr/lib/os-release"));
        let refs = [LayerRef { digest: "L1", analysis: &a }];
        let view = View { layers: &refs };
        assert_eq!(view.resolve(0, "etc/os-release"), Some((0, "usr/lib/os-release".to_string())));
        assert!(
            matches!(view.captured(0, "etc/os-release"), Some(Captured::OsRelease(r)) if r.id.as_deref() == Some("debian"))
        );
    }

    #[test]
    fn absolute_and_escaping_targets_stay_in_the_root() {
        for target in ["/usr/lib/os-release", "/../../usr/lib/os-release", "../../../../usr/./lib/os-release"] {
            let a = layer_with(&[("etc/os-release".into(), target.into())], &["usr/lib/os-release"]);
            let refs = [LayerRef { digest: "L1", analysis: &a }];
            let view = View { layers: &refs };
            assert_eq!(view.resolve(0, "etc/os-release"), Some((0, "usr/lib/os-release".to_string())), "{target}");
        }
    }

    #[test]
    fn version_helpers() {
        assert_eq!(numeric_major("12.15").as_deref(), Some("12"));
        assert_eq!(numeric_major("trixie/sid"), None);
        assert_eq!(major_minor("3.19.1").as_deref(), Some("3.19"));
        assert_eq!(major_minor("3.20_alpha20240329"), None);
    }
}
