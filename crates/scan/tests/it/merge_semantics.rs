//! Layer merge semantics (OCI image-spec changesets) and package attribution, on small synthetic layers.

use berth_scan::PackageKind;

use crate::common::{E, ids, inventory_of, layer};

fn pkg_json(name: &str, version: &str) -> Vec<u8> {
    format!(r#"{{"name":"{name}","version":"{version}","license":"MIT"}}"#).into_bytes()
}

const SITE: &str = "usr/local/lib/python3.11/site-packages";

fn metadata(name: &str, version: &str) -> Vec<u8> {
    format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nbody\n").into_bytes()
}

#[test]
fn file_replaces_directory_and_back() {
    let (x, y, z) = (pkg_json("x", "1.0.0"), pkg_json("y", "1.0.0"), pkg_json("z", "1.0.0"));
    let l1 = layer(&[E::File("app/node_modules/x/package.json", &x), E::File("app/node_modules/y/package.json", &y)]);
    let l2 = layer(&[E::File("app/node_modules", b"not a directory any more")]);
    let l3 = layer(&[E::Dir("app/node_modules"), E::File("app/node_modules/z/package.json", &z)]);
    assert_eq!(ids(&inventory_of(std::slice::from_ref(&l1))), ["x@1.0.0", "y@1.0.0"]);
    assert!(inventory_of(&[l1.clone(), l2.clone()]).packages.is_empty());
    assert_eq!(ids(&inventory_of(&[l1, l2, l3])), ["z@1.0.0"]);
}

#[test]
fn directory_or_symlink_replaces_file() {
    let egg = format!("{SITE}/foo-1.0.egg-info");
    let l1 = layer(&[E::File(&egg, &metadata("foo", "1.0"))]);
    assert_eq!(ids(&inventory_of(std::slice::from_ref(&l1))), ["foo@1.0"]);
    assert!(inventory_of(&[l1.clone(), layer(&[E::Dir(&egg)])]).packages.is_empty());
    assert!(inventory_of(&[l1.clone(), layer(&[E::Symlink(SITE, "/opt/elsewhere")])]).packages.is_empty());
    // An executable that is not a Go binary replaces a Go binary's build info just the same.
    assert!(inventory_of(&[l1, layer(&[E::Exec(&egg, b"#!/bin/sh\n")])]).packages.is_empty());
}

#[test]
fn whiteouts_delete_lower_layers_only() {
    let dist = format!("{SITE}/foo-1.0.dist-info/METADATA");
    let l1 = layer(&[
        E::File(&dist, &metadata("foo", "1.0")),
        E::File(&format!("{SITE}/bar-2.0.dist-info/METADATA"), &metadata("bar", "2.0")),
    ]);
    // Whiteout of one distribution.
    let l2 = layer(&[E::File(&format!("{SITE}/.wh.foo-1.0.dist-info"), b"")]);
    assert_eq!(ids(&inventory_of(&[l1.clone(), l2])), ["bar@2.0"]);
    // Whiteout of an ancestor directory.
    let l2 = layer(&[E::File("usr/local/lib/.wh.python3.11", b"")]);
    assert!(inventory_of(&[l1.clone(), l2]).packages.is_empty());
    // A whiteout and a new entry at the same path in one layer: the new entry stays.
    let l2 = layer(&[E::File(&format!("{SITE}/.wh.foo-1.0.dist-info"), b""), E::File(&dist, &metadata("foo", "1.1"))]);
    assert_eq!(ids(&inventory_of(&[l1, l2])), ["bar@2.0", "foo@1.1"]);
}

#[test]
fn opaque_directories_hide_lower_content_but_keep_their_own() {
    let (x, y, z) = (pkg_json("x", "1.0.0"), pkg_json("y", "1.0.0"), pkg_json("z", "1.0.0"));
    let l1 = layer(&[E::File("app/node_modules/x/package.json", &x), E::File("app/node_modules/y/package.json", &y)]);
    // The marker after the layer's own entry: order within a layer does not matter.
    let l2 = layer(&[E::File("app/node_modules/z/package.json", &z), E::File("app/node_modules/.wh..wh..opq", b"")]);
    assert_eq!(ids(&inventory_of(&[l1.clone(), l2])), ["z@1.0.0"]);
    // An opaque root hides everything below.
    let l2 = layer(&[E::File(".wh..wh..opq", b""), E::File("app/node_modules/z/package.json", &z)]);
    assert_eq!(ids(&inventory_of(&[l1, l2])), ["z@1.0.0"]);
}

#[test]
fn attribution_follows_continuous_presence() {
    let x = pkg_json("x", "1.0.0");
    let l1 = layer(&[E::File("a/node_modules/x/package.json", &x)]);
    let gone = layer(&[E::File("a/node_modules/.wh.x", b"")]);
    let back = layer(&[E::File("a/node_modules/x/package.json", &x)]);
    let inv = inventory_of(&[l1.clone(), gone, back]);
    assert_eq!(inv.packages[0].layer_digest, "L3", "deleted then installed again: introduced by L3");

    // Installed elsewhere in L2, removed from the first place in L3: present all along, so from L1.
    let elsewhere = layer(&[E::File("b/node_modules/x/package.json", &x)]);
    let removed = layer(&[E::File("a/.wh.node_modules", b"")]);
    let inv = inventory_of(&[l1, elsewhere, removed]);
    assert_eq!(inv.packages.len(), 1);
    assert_eq!(
        (inv.packages[0].layer_digest.as_str(), inv.packages[0].location.as_str()),
        ("L1", "/b/node_modules/x/package.json")
    );
}

#[test]
fn installed_packages_win_over_lockfiles() {
    let lock = br#"{"lockfileVersion":3,"packages":{"":{"name":"app"},"node_modules/x":{"version":"1.0.0"},"node_modules/w":{"version":"2.0.0"}}}"#;
    let inv = inventory_of(&[
        layer(&[E::File("app/package-lock.json", lock)]),
        layer(&[E::File("app/node_modules/x/package.json", &pkg_json("x", "1.0.0"))]),
    ]);
    assert_eq!(ids(&inv), ["w@2.0.0", "x@1.0.0"]);
    let x = inv.packages.iter().find(|p| p.name == "x").unwrap();
    // Found first in the lockfile of L1, so introduced by L1; read from the installed package.json.
    assert_eq!((x.layer_digest.as_str(), x.location.as_str()), ("L1", "/app/node_modules/x/package.json"));
    assert_eq!(x.licenses, ["MIT"]);
}

#[test]
fn distroless_status_d() {
    let inv = inventory_of(&[layer(&[
        E::File("etc/os-release", b"PRETTY_NAME=\"Distroless\"\nID=debian\nVERSION_ID=\"12\"\n"),
        E::File(
            "var/lib/dpkg/status.d/base-files",
            b"Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n",
        ),
        E::File("var/lib/dpkg/status.d/base-files.md5sums", b"abc  etc/issue\n"),
        E::File(
            "var/lib/dpkg/status.d/libc6",
            b"Package: libc6\nVersion: 2.36-9+deb12u7\nSource: glibc\nArchitecture: amd64\n",
        ),
    ])]);
    assert_eq!(ids(&inv), ["base-files@12.4+deb12u5", "libc6@2.36-9+deb12u7"]);
    assert_eq!(inv.packages[1].location, "/var/lib/dpkg/status.d/libc6");
    assert_eq!(inv.packages[1].source_name.as_deref(), Some("glibc"));
}

#[test]
fn ubuntu_and_alpine_ecosystems() {
    let inv = inventory_of(&[layer(&[
        E::File("usr/lib/os-release", b"NAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\nID_LIKE=debian\n"),
        E::File(
            "var/lib/dpkg/status",
            b"Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.1-6ubuntu1\n",
        ),
    ])]);
    let os = inv.os.unwrap();
    assert_eq!((os.id.as_str(), os.ecosystem.as_deref()), ("ubuntu", Some("Ubuntu:22.04")));
    assert_eq!(inv.packages[0].ecosystem, "Ubuntu:22.04");
    assert_eq!(inv.packages[0].purl, "pkg:deb/ubuntu/bash@5.1-6ubuntu1?arch=amd64&distro=ubuntu-22.04");

    let inv = inventory_of(&[layer(&[
        E::File("etc/os-release", b"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\n"),
        E::File("lib/apk/db/installed", b"P:musl\nV:1.2.4_git20230717-r4\nA:x86_64\nL:MIT\no:musl\n\nP:zlib\nV:1.3.1-r0\nA:x86_64\nL:Zlib\no:zlib\n"),
    ])]);
    assert_eq!(inv.os.unwrap().ecosystem.as_deref(), Some("Alpine:v3.19"));
    let musl = &inv.packages[0];
    assert_eq!((musl.kind, musl.ecosystem.as_str()), (PackageKind::Apk, "Alpine:v3.19"));
    assert_eq!(musl.purl, "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1");
    assert_eq!((musl.source_name.as_deref(), musl.licenses.as_slice()), (Some("musl"), ["MIT".to_string()].as_slice()));

    // Without os-release, etc/debian_version still gives the Debian release.
    let inv = inventory_of(&[layer(&[E::File("etc/debian_version", b"11.9\n")])]);
    assert_eq!(inv.os.unwrap().ecosystem.as_deref(), Some("Debian:11"));
}
