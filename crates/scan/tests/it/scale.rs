//! A large synthetic layer, for timings and the size of the cached analysis. Ignored by default; run with
//! `cargo test --release -p berth-scan -- --ignored --nocapture scale`.

use std::time::Instant;

use berth_scan::{Limits, analyze_layer};

use crate::common::{E, TAR_GZIP, gzip, ids, inventory_of, tar_bytes};

#[test]
#[ignore]
fn scale() {
    let filler = [b'x'; 300];
    let mut names = Vec::new();
    for d in 0..2_000 {
        for f in 0..75 {
            names.push(format!("usr/share/pkg{d}/some/deeper/directory/file-{f}.txt"));
        }
    }
    let npm: Vec<(String, Vec<u8>)> = (0..3_000)
        .map(|i| {
            (
                format!("srv/app/node_modules/module-{i}/package.json"),
                format!(r#"{{"name":"module-{i}","version":"1.0.{i}","license":"MIT"}}"#).into_bytes(),
            )
        })
        .collect();
    let py: Vec<(String, Vec<u8>)> = (0..500)
        .map(|i| {
            (
                format!("usr/lib/python3/dist-packages/dist{i}-2.0.dist-info/METADATA"),
                format!("Name: dist{i}\nVersion: 2.0\n\n").into_bytes(),
            )
        })
        .collect();
    let status: String = (0..400)
        .map(|i| format!("Package: deb{i}\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.{i}-1\n\n"))
        .collect();
    let mut entries: Vec<E> = names.iter().map(|n| E::File(n, &filler)).collect();
    entries.extend(npm.iter().map(|(p, d)| E::File(p, d)));
    entries.extend(py.iter().map(|(p, d)| E::File(p, d)));
    entries.push(E::File("var/lib/dpkg/status", status.as_bytes()));
    let tar = tar_bytes(&entries);
    let blob = gzip(&tar);
    eprintln!("scale: {} entries, {} bytes of tar, {} bytes gzip", entries.len(), tar.len(), blob.len());

    let started = Instant::now();
    let a = analyze_layer(&blob[..], TAR_GZIP, &Limits::default()).unwrap();
    let analysed = started.elapsed();
    let json = serde_json::to_vec(&a).unwrap();
    let started = Instant::now();
    let back: berth_scan::LayerAnalysis = serde_json::from_slice(&json).unwrap();
    let parsed = started.elapsed();
    let started = Instant::now();
    let layers = vec![back.clone(), back.clone(), back.clone(), back];
    let inv = inventory_of(&layers);
    let inventoried = started.elapsed();
    eprintln!(
        "scale: analyse {analysed:?}; cached analysis {} bytes (JSON), parsed back in {parsed:?}; inventory of 4 such layers {inventoried:?}, {} packages",
        json.len(),
        inv.packages.len()
    );
    assert_eq!(ids(&inv).len(), 3_000 + 500 + 400);
}
