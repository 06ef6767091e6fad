//! Each inventory format from `fixtures/plain`, placed where an image would have it. Expectations are computed
//! from the files with deliberately simple code of their own, plus a few values checked by hand.

use std::collections::BTreeSet;

use berth_scan::{OsInfo, PackageKind};

use crate::common::{E, fixture, ids, inventory_of, layer, read_fixture};

/// (name, version) of the paragraphs whose Status line is "install ok installed".
fn installed_in_status(text: &str) -> BTreeSet<String> {
    text.split("\n\n")
        .filter(|p| p.lines().any(|l| l == "Status: install ok installed"))
        .map(|p| {
            let field = |k: &str| p.lines().find_map(|l| l.strip_prefix(k)).unwrap().trim().to_string();
            format!("{}@{}", field("Package:"), field("Version:"))
        })
        .collect()
}

#[test]
fn dpkg_status_and_os_release() {
    for (dir, perl) in
        [("debian12-minbase", "5.36.0-7+deb12u3"), ("debian12-minbase-perl-upgraded", "5.36.0-7+deb12u4")]
    {
        let status = read_fixture(&format!("plain/{dir}/dpkg-status"));
        let os_release = read_fixture("plain/debian12-minbase/os-release");
        let inv =
            inventory_of(&[layer(&[E::File("etc/os-release", &os_release), E::File("var/lib/dpkg/status", &status)])]);
        assert_eq!(
            inv.os,
            Some(OsInfo {
                id: "debian".into(),
                version_id: Some("12".into()),
                pretty_name: Some("Debian GNU/Linux 12 (bookworm)".into()),
                ecosystem: Some("Debian:12".into()),
            })
        );
        let expected = installed_in_status(&String::from_utf8(status).unwrap());
        assert_eq!(expected.len(), 88, "the fixture has 88 installed packages");
        assert_eq!(ids(&inv).into_iter().collect::<BTreeSet<_>>(), expected);
        assert!(inv.packages.iter().all(|p| p.kind == PackageKind::Deb && p.ecosystem == "Debian:12"));
        assert!(inv.packages.iter().all(|p| p.location == "/var/lib/dpkg/status" && p.licenses.is_empty()));

        let perl_base = inv.packages.iter().find(|p| p.name == "perl-base").unwrap();
        assert_eq!(perl_base.version, perl);
        assert_eq!((perl_base.source_name.as_deref(), perl_base.source_version.as_deref()), (Some("perl"), Some(perl)));
        assert_eq!(
            perl_base.purl,
            format!("pkg:deb/debian/perl-base@{}?arch=amd64&distro=debian-12", perl.replace('+', "%2B"))
        );
        // "Source: name (version)" where the binary version differs.
        let bsdutils = inv.packages.iter().find(|p| p.name == "bsdutils").unwrap();
        assert_eq!(bsdutils.version, "1:2.38.1-5+deb12u3");
        assert_eq!(bsdutils.source_name.as_deref(), Some("util-linux"));
        assert_eq!(bsdutils.source_version.as_deref(), Some("2.38.1-5+deb12u3"));
        let libcap2 = inv.packages.iter().find(|p| p.name == "libcap2").unwrap();
        assert_eq!(libcap2.version, "1:2.66-4+deb12u3+b1");
        assert_eq!(libcap2.source_version.as_deref(), Some("1:2.66-4+deb12u3"));
        assert_eq!(libcap2.purl, "pkg:deb/debian/libcap2@1:2.66-4%2Bdeb12u3%2Bb1?arch=amd64&distro=debian-12");
    }
}

#[test]
fn python_metadata() {
    let dir = fixture("plain/python");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        if entry.path().is_dir() {
            let name = entry.file_name().into_string().unwrap();
            files.push((
                format!("usr/local/lib/python3.11/site-packages/{name}/METADATA"),
                std::fs::read(entry.path().join("METADATA")).unwrap(),
            ));
        }
    }
    assert_eq!(files.len(), 12);
    let entries: Vec<E> = files.iter().map(|(p, d)| E::File(p, d)).collect();
    let inv = inventory_of(&[layer(&entries)]);
    // requirements.txt pins exactly the installed distributions, with the names as their metadata writes them.
    let requirements = std::fs::read_to_string(dir.join("requirements.txt")).unwrap();
    let expected: Vec<String> = {
        let mut v: Vec<String> = requirements.lines().filter(|l| !l.is_empty()).map(|l| l.replace("==", "@")).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&inv), expected);
    assert!(inv.packages.iter().all(|p| p.kind == PackageKind::Python && p.ecosystem == "PyPI"));
    let get = |n: &str| inv.packages.iter().find(|p| p.name == n).unwrap();
    assert_eq!(get("PyYAML").purl, "pkg:pypi/pyyaml@5.3.1");
    assert_eq!(get("Flask").licenses, vec!["BSD"]);
    assert_eq!(get("requests").licenses, vec!["Apache 2.0"]);
    // "License: UNKNOWN" falls back to the classifier; itsdangerous has only the classifier.
    assert_eq!(get("click").licenses, vec!["BSD License"]);
    assert_eq!(get("itsdangerous").licenses, vec!["BSD License"]);
    assert_eq!(get("urllib3").location, "/usr/local/lib/python3.11/site-packages/urllib3-1.24.1.dist-info/METADATA");
    assert!(inv.os.is_none());
}

/// (name, version) of the `node_modules/...` entries of a lockfile, read with serde_json directly.
fn lockfile_packages(lock: &[u8]) -> BTreeSet<String> {
    let doc: serde_json::Value = serde_json::from_slice(lock).unwrap();
    doc["packages"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| Some(format!("{}@{}", k.strip_prefix("node_modules/")?, v["version"].as_str()?)))
        .collect()
}

#[test]
fn npm_lockfiles() {
    for (state, minimist) in [("base", "1.2.0"), ("upgraded", "1.2.8")] {
        let lock = read_fixture(&format!("plain/npm/{state}/package-lock.json"));
        let manifest = read_fixture(&format!("plain/npm/{state}/package.json"));
        let inv =
            inventory_of(&[layer(&[E::File("app/package.json", &manifest), E::File("app/package-lock.json", &lock)])]);
        let expected = lockfile_packages(&lock);
        assert_eq!(expected.len(), 7);
        assert_eq!(ids(&inv).into_iter().collect::<BTreeSet<_>>(), expected);
        assert!(
            !inv.packages.iter().any(|p| p.name == "scanner-fixture-npm"),
            "the project itself is not a dependency"
        );
        let m = inv.packages.iter().find(|p| p.name == "minimist").unwrap();
        assert_eq!(
            (m.version.as_str(), m.ecosystem.as_str(), m.purl.as_str()),
            (minimist, "npm", &*format!("pkg:npm/minimist@{minimist}"))
        );
        assert_eq!(m.licenses, vec!["MIT"]);
        assert_eq!(m.location, "/app/package-lock.json");
    }
}

#[test]
fn cargo_lock() {
    let lock = read_fixture("plain/cargo/Cargo.lock");
    let manifest = read_fixture("plain/cargo/Cargo.toml");
    let inv = inventory_of(&[layer(&[
        E::File("src/rust-app/Cargo.toml", &manifest),
        E::File("src/rust-app/Cargo.lock", &lock),
    ])]);
    let text = String::from_utf8(lock).unwrap();
    let from_registry = text.split("[[package]]").filter(|t| t.contains("source = \"registry+")).count();
    assert_eq!(from_registry, 19);
    assert_eq!(inv.packages.len(), from_registry);
    let ids = ids(&inv);
    for pinned in ["tar@0.4.35", "smallvec@1.6.0", "chrono@0.4.19", "regex@1.5.4", "time@0.1.45"] {
        assert!(ids.contains(&pinned.to_string()), "{pinned} in {ids:?}");
    }
    assert!(!ids.iter().any(|i| i.starts_with("scanner-fixture-cargo@")), "the local crate is not a dependency");
    assert!(inv.packages.iter().all(|p| p.kind == PackageKind::Cargo && p.ecosystem == "crates.io"));
    let wasi = inv.packages.iter().find(|p| p.name == "wasi").unwrap();
    assert_eq!(wasi.purl, "pkg:cargo/wasi@0.10.0%2Bwasi-snapshot-preview1");
}
