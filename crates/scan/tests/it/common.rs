//! Helpers: test data location, in-memory layers.

use std::path::PathBuf;

use berth_scan::{Inventory, LayerAnalysis, LayerRef, Limits, analyze_layer, inventory};

pub const TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const TAR_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// `<parent>/shared/testdata/fixtures/<rel>`; fails the test with a clear message when the data is missing.
pub fn fixture(rel: &str) -> PathBuf {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata/fixtures"));
    let path = root.join(rel);
    assert!(
        path.exists(),
        "test data missing: {} (expected the shared test data next to the checkout, at <parent>/shared/testdata)",
        path.display()
    );
    path
}

pub fn read_fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(rel)).unwrap()
}

/// One entry of a layer built in memory.
pub enum E<'a> {
    File(&'a str, &'a [u8]),
    Exec(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
}

pub fn tar_bytes(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        match e {
            E::File(path, data) | E::Exec(path, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(if matches!(e, E::Exec(..)) { 0o755 } else { 0o644 });
                h.set_size(data.len() as u64);
                h.set_cksum();
                b.append_data(&mut h, path, *data).unwrap();
            }
            E::Dir(path) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                h.set_cksum();
                b.append_data(&mut h, path, std::io::empty()).unwrap();
            }
            E::Symlink(path, target) | E::Hardlink(path, target) => {
                h.set_entry_type(if matches!(e, E::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, path, target).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

pub fn layer(entries: &[E]) -> LayerAnalysis {
    analyze_layer(&tar_bytes(entries)[..], TAR, &Limits::default()).unwrap()
}

/// Inventory of layers named "L1", "L2", ... bottom first.
pub fn inventory_of(layers: &[LayerAnalysis]) -> Inventory {
    let names: Vec<String> = (1..=layers.len()).map(|i| format!("L{i}")).collect();
    let refs: Vec<LayerRef> = layers.iter().zip(&names).map(|(a, d)| LayerRef { digest: d, analysis: a }).collect();
    inventory(&refs)
}

/// "name@version" of every package, sorted.
pub fn ids(inv: &Inventory) -> Vec<String> {
    let mut v: Vec<String> = inv.packages.iter().map(|p| format!("{}@{}", p.name, p.version)).collect();
    v.sort();
    v
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}
