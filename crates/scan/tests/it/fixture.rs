//! The OCI image layout `fixtures/oci-scanner-fixture`: five layers (gzip and zstd) with a symlinked
//! os-release, a dpkg upgrade, a whiteout and an opaque directory.

use std::collections::BTreeSet;
use std::io::BufReader;
use std::time::Instant;

use berth_scan::{
    Compression, Inventory, LayerAnalysis, LayerRef, Limits, OsInfo, PackageKind, analyze_layer, inventory,
};
use serde_json::Value;

use crate::common::{fixture, read_fixture};

pub struct Image {
    pub manifest_digest: String,
    pub layers: Vec<(String, LayerAnalysis)>,
}

fn blob_path(digest: &str) -> String {
    format!("oci-scanner-fixture/blobs/sha256/{}", digest.strip_prefix("sha256:").unwrap())
}

/// index.json → manifest → each layer blob analysed by its media type, streamed from the file.
pub fn load() -> Image {
    let index: Value = serde_json::from_slice(&read_fixture("oci-scanner-fixture/index.json")).unwrap();
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap().to_string();
    let manifest: Value = serde_json::from_slice(&read_fixture(&blob_path(&manifest_digest))).unwrap();
    let layers = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let digest = l["digest"].as_str().unwrap().to_string();
            let file = std::fs::File::open(fixture(&blob_path(&digest))).unwrap();
            let analysis = analyze_layer(BufReader::new(file), l["mediaType"].as_str().unwrap(), &Limits::default())
                .unwrap_or_else(|e| panic!("scan failed: {e}"));
            (digest, analysis)
        })
        .collect();
    Image { manifest_digest, layers }
}

impl Image {
    pub fn inventory(&self, top: usize) -> Inventory {
        let refs: Vec<LayerRef> = self.layers[..top].iter().map(|(d, a)| LayerRef { digest: d, analysis: a }).collect();
        inventory(&refs)
    }

    pub fn digest(&self, layer: usize) -> &str {
        &self.layers[layer - 1].0
    }
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()
}

#[test]
fn full_fixture() {
    let started = Instant::now();
    let image = load();
    let analysed = started.elapsed();
    let inv = image.inventory(image.layers.len());
    let total = started.elapsed();
    let bytes: u64 = image.layers.iter().map(|(_, a)| a.decompressed_bytes()).sum();
    eprintln!(
        "fixture: analysed 5 layers ({bytes} bytes decompressed) in {analysed:?}, inventory in {:?}; peak RSS {} KiB",
        total - analysed,
        peak_rss_kib().map_or("?".to_string(), |k| k.to_string())
    );

    assert_eq!(image.layers.len(), 5);
    assert_eq!(image.layers[2].1.compression(), Compression::Zstd);
    assert!(image.layers.iter().enumerate().all(|(i, (_, a))| i == 2 || a.compression() == Compression::Gzip));
    for (_, a) in &image.layers {
        assert!(a.is_current());
        assert!(a.notes().is_empty(), "{:?}", a.notes());
        // The cache form round-trips.
        let json = serde_json::to_string(a).unwrap();
        assert_eq!(&serde_json::from_str::<LayerAnalysis>(&json).unwrap(), a);
    }

    // Debian 12 through the relative symlink etc/os-release -> ../usr/lib/os-release.
    assert_eq!(
        inv.os,
        Some(OsInfo {
            id: "debian".into(),
            version_id: Some("12".into()),
            pretty_name: Some("Debian GNU/Linux 12 (bookworm)".into()),
            ecosystem: Some("Debian:12".into()),
        })
    );
    let named = |kind: PackageKind, name: &str| -> Vec<_> {
        inv.packages.iter().filter(|p| p.kind == kind && p.name == name).collect()
    };

    // dpkg: perl-base upgraded in L5 (the status file replaced whole), everything else still from L1.
    let perl = named(PackageKind::Deb, "perl-base");
    assert_eq!(perl.len(), 1);
    assert_eq!(perl[0].version, "5.36.0-7+deb12u4");
    assert_eq!(perl[0].source_name.as_deref(), Some("perl"));
    assert_eq!(perl[0].layer_digest, image.digest(5));
    assert_eq!(perl[0].purl, "pkg:deb/debian/perl-base@5.36.0-7%2Bdeb12u4?arch=amd64&distro=debian-12");
    let debs: Vec<_> = inv.packages.iter().filter(|p| p.kind == PackageKind::Deb).collect();
    assert_eq!(debs.len(), 88);
    for p in &debs {
        if p.name != "perl-base" {
            assert_eq!(p.layer_digest, image.digest(1), "{} should come from L1", p.name);
        }
        assert_eq!(p.ecosystem, "Debian:12");
    }

    // Python: 12 distributions from L2; urllib3 1.24.1 whited out, 1.26.18 from L5.
    let urllib3 = named(PackageKind::Python, "urllib3");
    assert_eq!(urllib3.len(), 1, "{urllib3:?}");
    assert_eq!(urllib3[0].version, "1.26.18");
    assert_eq!(urllib3[0].layer_digest, image.digest(5));
    let pythons: Vec<_> = inv.packages.iter().filter(|p| p.kind == PackageKind::Python).collect();
    assert_eq!(pythons.len(), 12);
    assert!(pythons.iter().filter(|p| p.name != "urllib3").all(|p| p.layer_digest == image.digest(2)));

    // npm: minimist 1.2.0 hidden by the opaque directory, 1.2.8 from L5; lodash from the zstd layer L3.
    let minimist = named(PackageKind::Npm, "minimist");
    assert_eq!(minimist.len(), 1, "{minimist:?}");
    assert_eq!(minimist[0].version, "1.2.8");
    assert_eq!(minimist[0].layer_digest, image.digest(5));
    assert_eq!(minimist[0].location, "/app/node_modules/minimist/package.json");
    let lodash = named(PackageKind::Npm, "lodash");
    assert_eq!(lodash.len(), 1);
    assert_eq!((lodash[0].version.as_str(), lodash[0].layer_digest.as_str()), ("4.17.15", image.digest(3)));
    assert_eq!(lodash[0].location, "/app/node_modules/lodash/package.json");
    let npm: BTreeSet<String> = inv
        .packages
        .iter()
        .filter(|p| p.kind == PackageKind::Npm)
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect();
    let expected: BTreeSet<String> = [
        "jquery@3.4.0",
        "lodash@4.17.15",
        "lru-cache@6.0.0",
        "minimist@1.2.8",
        "node-fetch@2.6.0",
        "semver@7.3.7",
        "yallist@4.0.0",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(npm, expected);

    // Cargo: all from L4.
    let crates: Vec<_> = inv.packages.iter().filter(|p| p.kind == PackageKind::Cargo).collect();
    assert_eq!(crates.len(), 19);
    assert!(crates.iter().all(|p| p.layer_digest == image.digest(4) && p.location == "/src/rust-app/Cargo.lock"));

    assert_eq!(inv.packages.len(), 88 + 12 + 7 + 19);
    let purls: BTreeSet<&str> = inv.packages.iter().map(|p| p.purl.as_str()).collect();
    assert_eq!(purls.len(), inv.packages.len(), "purls are unique");
}

#[test]
fn fixture_before_the_last_layer() {
    let image = load();
    let inv = image.inventory(4);
    let find = |name: &str| inv.packages.iter().find(|p| p.name == name).unwrap();
    assert_eq!(find("perl-base").version, "5.36.0-7+deb12u3");
    assert_eq!(find("urllib3").version, "1.24.1");
    assert_eq!(find("minimist").version, "1.2.0");
    assert_eq!(find("minimist").layer_digest, image.digest(3));
    // Only the OS layer: no language packages yet.
    let first = image.inventory(1);
    assert_eq!(first.packages.len(), 88);
    assert_eq!(first.os.unwrap().ecosystem.as_deref(), Some("Debian:12"));
}
