//! Go build info. There is no Go toolchain on the build machine, so the binaries are synthetic: a minimal ELF64
//! header whose program headers point at a writable segment holding a Go 1.18+ build-info blob, laid out as
//! Go's linker writes it (`\xff Go buildinf:`, pointer size, flags = 2 "inline strings", padding to 32 bytes,
//! then varint-prefixed version and module-info strings, the latter between 16-byte sentinels).

use berth_scan::{Limits, PackageKind, analyze_layer};

use crate::common::{E, TAR, inventory_of, layer, tar_bytes};

const SENTINEL_START: [u8; 16] =
    [0x30, 0x77, 0xaf, 0x0c, 0x92, 0x74, 0x08, 0x02, 0x41, 0xe1, 0xc1, 0x07, 0xe6, 0xd6, 0x18, 0xe6];
const SENTINEL_END: [u8; 16] =
    [0xf9, 0x32, 0x43, 0x31, 0x86, 0x18, 0x20, 0x72, 0x00, 0x82, 0x42, 0x10, 0x41, 0x16, 0xd8, 0xf2];

fn varint(mut n: usize, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn build_info(go: &str, modinfo: &str, flags: u8) -> Vec<u8> {
    let mut b = b"\xff Go buildinf:".to_vec();
    b.push(8);
    b.push(flags);
    b.resize(32, 0);
    varint(go.len(), &mut b);
    b.extend_from_slice(go.as_bytes());
    let mut m = SENTINEL_START.to_vec();
    m.extend_from_slice(modinfo.as_bytes());
    m.extend_from_slice(&SENTINEL_END);
    varint(m.len(), &mut b);
    b.extend(m);
    b
}

const MODINFO: &str = "path\texample.com/app/cmd/app\nmod\texample.com/app\tv1.2.3\th1:aaa=\n\
                       dep\tgolang.org/x/net\tv0.17.0\th1:bbb=\ndep\tgithub.com/a/b\tv1.0.0\th1:ccc=\n\
                       =>\tgithub.com/fork/b\tv1.0.1\th1:ddd=\nbuild\t-compiler=gc\nbuild\tGOOS=linux\n";

/// An ELF64 little-endian executable: program headers for a text segment and (when `data_at` is set) a
/// writable segment at that file offset; `payload` is written at `payload_at`; `len` bytes in all.
fn elf(data_at: Option<usize>, payload_at: usize, payload: &[u8], len: usize) -> Vec<u8> {
    let phnum: u16 = if data_at.is_some() { 2 } else { 1 };
    let mut f = vec![0u8; len];
    f[..4].copy_from_slice(b"\x7fELF");
    f[4] = 2; // 64-bit
    f[5] = 1; // little endian
    f[6] = 1;
    f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f[18..20].copy_from_slice(&0x3eu16.to_le_bytes()); // x86-64
    f[0x20..0x28].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    f[0x34..0x36].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    f[0x36..0x38].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    f[0x38..0x3a].copy_from_slice(&phnum.to_le_bytes());
    let ph = |f: &mut Vec<u8>, n: usize, flags: u32, offset: u64| {
        let at = 64 + 56 * n;
        f[at..at + 4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        f[at + 4..at + 8].copy_from_slice(&flags.to_le_bytes());
        f[at + 8..at + 16].copy_from_slice(&offset.to_le_bytes());
    };
    ph(&mut f, 0, 5, 0); // R+X
    if let Some(at) = data_at {
        ph(&mut f, 1, 6, at as u64); // R+W
    }
    f[payload_at..payload_at + payload.len()].copy_from_slice(payload);
    f
}

fn go_ids(inv: &berth_scan::Inventory) -> Vec<String> {
    let mut v: Vec<String> = inv
        .packages
        .iter()
        .filter(|p| p.kind == PackageKind::Go)
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect();
    v.sort();
    v
}

#[test]
fn reads_build_info_from_the_data_segment() {
    let mut payload = b"\xff Go buildinf:\x00\x00 a decoy with a bad pointer size".to_vec();
    payload.extend(build_info("go1.21.5", MODINFO, 2));
    let bin = elf(Some(0x3000), 0x3000 + 64, &payload, 300 * 1024);
    let inv = inventory_of(&[layer(&[E::Exec("usr/local/bin/app", &bin)])]);
    assert_eq!(
        go_ids(&inv),
        ["example.com/app@1.2.3", "github.com/fork/b@1.0.1", "golang.org/x/net@0.17.0", "stdlib@1.21.5"]
    );
    for p in &inv.packages {
        assert_eq!((p.ecosystem.as_str(), p.location.as_str()), ("Go", "/usr/local/bin/app"));
    }
    let net = inv.packages.iter().find(|p| p.name == "golang.org/x/net").unwrap();
    assert_eq!(net.purl, "pkg:golang/golang.org/x/net@v0.17.0");
    let stdlib = inv.packages.iter().find(|p| p.name == "stdlib").unwrap();
    assert_eq!(stdlib.purl, "pkg:golang/stdlib@1.21.5");

    // Not executable: not read.
    assert!(inventory_of(&[layer(&[E::File("usr/local/bin/app", &bin)])]).packages.is_empty());
    // A script is executable but not ELF.
    assert!(
        inventory_of(&[layer(&[E::Exec("usr/local/bin/run", b"#!/bin/sh\necho \xff Go buildinf:\n")])])
            .packages
            .is_empty()
    );
}

#[test]
fn searches_across_read_boundaries_without_program_headers() {
    // No writable segment: the search starts at the top of the file, and the magic straddles a 64 KiB read.
    let payload = build_info("go1.22", "mod\texample.com/x\t(devel)\t\n", 2);
    let bin = elf(None, 120 + 65536 - 6, &payload, 200 * 1024);
    let inv = inventory_of(&[layer(&[E::Exec("bin/x", &bin)])]);
    assert_eq!(go_ids(&inv), ["stdlib@1.22.0"], "(devel) main modules are not packages");
    // The search stops after max_file_bytes.
    let limits = Limits { max_file_bytes: 16 * 1024, ..Limits::default() };
    let a = analyze_layer(&tar_bytes(&[E::Exec("bin/x", &bin)])[..], TAR, &limits).unwrap();
    assert!(inventory_of(&[a]).packages.is_empty());
}

#[test]
fn pre_go_1_18_binaries_are_noted() {
    let bin = elf(Some(4096), 4096, &build_info("go1.16", "", 0), 16 * 1024);
    let a = layer(&[E::Exec("bin/old", &bin)]);
    assert_eq!(a.notes(), ["Go binary /bin/old was built before Go 1.18: its modules are not read"]);
    assert!(inventory_of(&[a]).packages.is_empty());
}

#[test]
fn hardlinks_and_upgrades() {
    let v1 = elf(Some(4096), 4096, &build_info("go1.21.5", MODINFO, 2), 16 * 1024);
    let v2 = elf(Some(4096), 4096, &build_info("go1.21.5", &MODINFO.replace("v0.17.0", "v0.23.0"), 2), 16 * 1024);
    // The hardlink keeps the content when the first name is deleted.
    let l1 = layer(&[E::Exec("usr/bin/app", &v1), E::Hardlink("usr/bin/app2", "usr/bin/app")]);
    let l2 = layer(&[E::File("usr/bin/.wh.app", b"")]);
    let inv = inventory_of(&[l1.clone(), l2]);
    assert_eq!(go_ids(&inv).len(), 4);
    assert!(inv.packages.iter().all(|p| p.location == "/usr/bin/app2" && p.layer_digest == "L1"));
    // An upgraded binary in a later layer: changed modules come from L2, the rest stay attributed to L1.
    let l2 = layer(&[E::Exec("usr/bin/app", &v2), E::Exec("usr/bin/app2", &v2)]);
    let inv = inventory_of(&[l1, l2]);
    let net = inv.packages.iter().find(|p| p.name == "golang.org/x/net").unwrap();
    assert_eq!((net.version.as_str(), net.layer_digest.as_str()), ("0.23.0", "L2"));
    let stdlib = inv.packages.iter().find(|p| p.name == "stdlib").unwrap();
    assert_eq!(stdlib.layer_digest, "L1");
}
