//! Hostile and broken layers fail cleanly, quickly, and without holding what they claim to contain.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use berth_scan::{Limits, ScanError, analyze_layer};
use flate2::{Compress, FlushCompress};

use crate::common::{E, TAR, TAR_GZIP, TAR_ZSTD, fixture, gzip, inventory_of, layer, read_fixture, tar_bytes};

/// A tar header written byte by byte, for what `tar::Builder` refuses to write.
fn raw_header(name: &[u8], entry_type: tar::EntryType, size: u64, link: &[u8]) -> [u8; 512] {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(entry_type);
    h.set_mode(0o644);
    h.set_size(size);
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    h.set_cksum();
    *h.as_bytes()
}

fn raw_tar(members: &[([u8; 512], Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (header, data) in members {
        out.extend_from_slice(header);
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(512), 0);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

fn err(bytes: &[u8], media_type: &str, limits: &Limits) -> ScanError {
    match analyze_layer(bytes, media_type, limits) {
        Ok(a) => panic!("expected an error, got an analysis of {} entries", a.entries()),
        Err(e) => e,
    }
}

#[test]
fn path_traversal_is_rejected() {
    let tar = raw_tar(&[(raw_header(b"../../etc/passwd", tar::EntryType::Regular, 4, b""), b"root".to_vec())]);
    let e = err(&tar, TAR, &Limits::default());
    assert!(matches!(e, ScanError::PathTraversal { .. }), "{e:?}");
    assert_eq!(e.to_string(), "path traversal in tar entry '../../etc/passwd'");
    // Also through a hardlink target.
    let tar = raw_tar(&[(raw_header(b"etc/x", tar::EntryType::Link, 0, b"../../../etc/shadow"), Vec::new())]);
    assert!(matches!(err(&tar, TAR, &Limits::default()), ScanError::PathTraversal { .. }));
    // "a/../b" and "./", "/abs" stay inside the root and are accepted.
    let tar = raw_tar(&[
        (raw_header(b"./", tar::EntryType::Directory, 0, b""), Vec::new()),
        (raw_header(b"/etc/alpine-release", tar::EntryType::Regular, 7, b""), b"3.19.1\n".to_vec()),
        (raw_header(b"a/../lib/apk/db/installed", tar::EntryType::Regular, 14, b""), b"P:musl\nV:1.2\n\n".to_vec()),
    ]);
    let inv = inventory_of(&[analyze_layer(&tar[..], TAR, &Limits::default()).unwrap()]);
    assert_eq!(inv.os.unwrap().ecosystem.as_deref(), Some("Alpine:v3.19"));
    assert_eq!(inv.packages[0].location, "/lib/apk/db/installed");
    assert_eq!(inv.packages[0].purl, "pkg:apk/alpine/musl@1.2?distro=alpine-3.19.1");
}

const OS_RELEASE: &[u8] = b"ID=debian\nVERSION_ID=\"12\"\n";

#[test]
fn absolute_symlinks_resolve_inside_the_root() {
    for target in ["/usr/lib/os-release", "/../../../usr/lib/os-release", "../../../../usr/lib/./os-release"] {
        let inv = inventory_of(&[layer(&[
            E::Symlink("etc/os-release", target),
            E::File("usr/lib/os-release", b"ID=alpine\nVERSION_ID=3.20.0\n"),
        ])]);
        assert_eq!(inv.os.unwrap().id, "alpine", "{target}");
    }
    // A symlink replacing a directory in a later layer: etc/ of L1 is gone, etc/os-release is usr/lib/os-release.
    let inv = inventory_of(&[
        layer(&[
            E::File("etc/os-release", OS_RELEASE),
            E::File("usr/lib/os-release", b"ID=alpine\nVERSION_ID=3.20.0\n"),
        ]),
        layer(&[E::Symlink("etc", "usr/lib")]),
    ]);
    assert_eq!(inv.os.unwrap().id, "alpine");
}

#[test]
fn symlink_loops_are_bounded() {
    let inv = inventory_of(&[layer(&[
        E::Symlink("etc/os-release", "os-release2"),
        E::Symlink("etc/os-release2", "/etc/os-release"),
    ])]);
    assert!(inv.os.is_none());
    let inv = inventory_of(&[layer(&[E::Symlink("etc/os-release", "."), E::Symlink("usr", "usr/..")])]);
    assert!(inv.os.is_none());
}

#[test]
fn too_many_entries() {
    let names: Vec<String> = (0..2_000).map(|i| format!("f/{i}")).collect();
    let entries: Vec<E> = names.iter().map(|n| E::File(n, b"")).collect();
    let tar = gzip(&tar_bytes(&entries));
    let limits = Limits { max_entries: 1_000, ..Limits::default() };
    let e = err(&tar, TAR_GZIP, &limits);
    assert_eq!(e.to_string(), "layer has more than 1000 entries");
}

/// A gzip stream of a tar holding one file of `zeros` zero bytes (then 1 MiB of zeros as the end marker),
/// produced on the fly: the deflate encoding of 1 MiB of zeros after a window of zeros is the same everywhere,
/// so it is computed once and repeated.
struct GzipBomb {
    buf: Vec<u8>,
    pos: usize,
    repeat: Vec<u8>,
    left: u64,
    tail: Option<Vec<u8>>,
    crc: flate2::Crc,
    zeros: Vec<u8>,
}

const MIB: usize = 1 << 20;

fn deflate(c: &mut Compress, input: &[u8], flush: FlushCompress) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 100 + 1024);
    let before = c.total_in();
    loop {
        let consumed = (c.total_in() - before) as usize;
        c.compress_vec(&input[consumed..], &mut out, flush).unwrap();
        if c.total_in() - before == input.len() as u64 && out.len() < out.capacity() {
            return out;
        }
        out.reserve(64 * 1024);
    }
}

impl GzipBomb {
    fn new(zeros: u64) -> Self {
        let mut c = Compress::new(flate2::Compression::best(), false);
        let mut header = tar::Header::new_gnu();
        header.set_path("bomb.bin").unwrap();
        header.set_size(zeros);
        header.set_cksum();
        let mut first = header.as_bytes().to_vec();
        first.resize(512 + MIB, 0);
        let mut crc = flate2::Crc::new();
        crc.update(&first);
        let mut buf = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        buf.extend(deflate(&mut c, &first, FlushCompress::Sync));
        let repeat = deflate(&mut c, &[0; MIB], FlushCompress::Sync);
        let tail = Some(deflate(&mut c, &[], FlushCompress::Finish));
        GzipBomb { buf, pos: 0, repeat, left: zeros / MIB as u64, tail, crc, zeros: vec![0; MIB] }
    }
}

impl Read for GzipBomb {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.buf.len() {
            if self.left > 0 {
                self.left -= 1;
                self.crc.update(&self.zeros);
                self.buf.clone_from(&self.repeat);
            } else if let Some(mut tail) = self.tail.take() {
                tail.extend_from_slice(&self.crc.sum().to_le_bytes());
                tail.extend_from_slice(&self.crc.amount().to_le_bytes());
                self.buf = tail;
            } else {
                return Ok(0);
            }
            self.pos = 0;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn gzip_bomb_stops_at_the_byte_limit() {
    // 1 GiB of zeros in about 1 MiB of gzip.
    let bomb = GzipBomb::new(1 << 30);
    assert!(bomb.repeat.len() < 2048, "repeat unit is {} bytes", bomb.repeat.len());
    let limits = Limits { max_total_bytes: 64 << 20, ..Limits::default() };
    let started = Instant::now();
    let e = analyze_layer(bomb, TAR_GZIP, &limits).unwrap_err();
    eprintln!("gzip bomb rejected after {:?}", started.elapsed());
    assert!(matches!(e, ScanError::TooLarge { limit } if limit == 64 << 20), "{e:?}");
    assert_eq!(e.to_string(), format!("layer decompresses to more than {} bytes", 64 << 20));
    // The generator itself is sound: a small bomb under the limit is a valid layer.
    let a = analyze_layer(GzipBomb::new(4 << 20), TAR_GZIP, &limits).unwrap();
    assert_eq!(a.entries(), 1);
}

#[test]
fn time_limit() {
    let tar = tar_bytes(&[E::File("a", b"x")]);
    let e = err(&tar, TAR, &Limits { max_duration: Duration::ZERO, ..Limits::default() });
    assert_eq!(e.to_string(), "time limit of 0s exceeded");
}

#[test]
fn truncated_and_corrupt_streams() {
    let gz = read_fixture(
        "oci-scanner-fixture/blobs/sha256/7d2c829e9a548acb0cf38120f94cf8df8404e7ec8fe8b0104b0059c56055651b",
    );
    for cut in [gz.len() / 2, gz.len() - 4, 12] {
        let e = err(&gz[..cut], TAR_GZIP, &Limits::default());
        assert!(e.to_string().starts_with("corrupt gzip stream: "), "cut at {cut}: {e}");
    }
    let mut flipped = gz.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    let e = err(&flipped, TAR_GZIP, &Limits::default());
    assert!(matches!(e, ScanError::Decompress { format: "gzip", .. } | ScanError::CorruptTar { .. }), "{e}");

    let zst = read_fixture(
        "oci-scanner-fixture/blobs/sha256/543dad2c0eb3ec6820ce291ebc7394c4bdbba1a2457afbac54c6495382b468be",
    );
    for cut in [zst.len() / 2, zst.len() - 2] {
        let e = err(&zst[..cut], TAR_ZSTD, &Limits::default());
        assert!(e.to_string().starts_with("corrupt zstd stream: "), "cut at {cut}: {e}");
    }

    // Garbage: no magic, so read as a tar, which it is not.
    let mut x: u32 = 12345;
    let garbage: Vec<u8> = (0..10_000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect();
    let e = err(&garbage, TAR_GZIP, &Limits::default());
    let message = e.to_string();
    assert!(matches!(e, ScanError::CorruptTar { .. }), "{e:?}");
    // The tar reader quotes the garbage; the message stays printable and short.
    assert!(!message.chars().any(char::is_control) && message.chars().count() < 250, "{message}");
    let mut fake_gzip = vec![0x1f, 0x8b];
    fake_gzip.extend(&garbage);
    assert!(err(&fake_gzip, TAR_GZIP, &Limits::default()).to_string().starts_with("corrupt gzip stream: "));

    // A tar cut inside an entry's data.
    let tar = tar_bytes(&[E::File("a", &[7; 5000])]);
    let e = err(&tar[..2048], TAR, &Limits::default());
    assert!(matches!(e, ScanError::CorruptTar { .. }), "{e}");
}

#[test]
fn media_types() {
    let e = err(b"", "application/vnd.oci.image.layer.v1.tar+encrypted", &Limits::default());
    assert_eq!(e.to_string(), "unsupported layer media type 'application/vnd.oci.image.layer.v1.tar+encrypted'");
    // The magic bytes win over the media type.
    let gz = std::fs::read(fixture(
        "oci-scanner-fixture/blobs/sha256/859bd6d5d88e6e2abc40f91afb156fb7ad87b79431ab40177a74a380c059c54f",
    ))
    .unwrap();
    let a = analyze_layer(&gz[..], TAR, &Limits::default()).unwrap();
    assert_eq!(a.compression(), berth_scan::Compression::Gzip);
    assert_eq!(inventory_of(&[a]).packages.len(), 19);
    let a = analyze_layer(&tar_bytes(&[E::File("a", b"x")])[..], TAR_ZSTD, &Limits::default()).unwrap();
    assert_eq!(a.compression(), berth_scan::Compression::None);
    // An empty blob is an empty layer.
    assert_eq!(analyze_layer(&b""[..], TAR, &Limits::default()).unwrap().entries(), 0);
}

#[test]
fn oversized_extension_headers_are_refused() {
    // A PAX header of 2 MiB: the tar reader would buffer it whole.
    let pax = vec![b'a'; 2 << 20];
    let tar = raw_tar(&[(raw_header(b"PaxHeaders/x", tar::EntryType::XHeader, pax.len() as u64, b""), pax)]);
    let e = err(&gzip(&tar), TAR_GZIP, &Limits::default());
    assert!(matches!(e, ScanError::HeaderTooLarge { .. }), "{e:?}");
    // GNU long names are fine.
    let long = format!("{}/etc/os-release", "d".repeat(300));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(OS_RELEASE.len() as u64);
    b.append_data(&mut h, &long, OS_RELEASE).unwrap();
    let a = analyze_layer(&b.into_inner().unwrap()[..], TAR, &Limits::default()).unwrap();
    assert_eq!(a.entries(), 1);
}

#[test]
fn pax_paths_and_link_paths() {
    let pax_record = |key: &str, value: &str| {
        let body = format!(" {key}={value}\n");
        let mut len = body.len() + 1;
        while format!("{len}{body}").len() != len {
            len += 1;
        }
        format!("{len}{body}")
    };
    let long_dir = format!("app/{}/node_modules/lodash", "x".repeat(150));
    let records = pax_record("path", &format!("{long_dir}/package.json"));
    let link_records = pax_record("linkpath", &format!("/{long_dir}/../../../../../usr/lib/os-release"));
    let data = br#"{"name":"lodash","version":"4.17.15"}"#.to_vec();
    let tar = raw_tar(&[
        (raw_header(b"PaxHeaders/1", tar::EntryType::XHeader, records.len() as u64, b""), records.into_bytes()),
        (raw_header(b"placeholder", tar::EntryType::Regular, data.len() as u64, b""), data),
        (raw_header(b"usr/lib/os-release", tar::EntryType::Regular, OS_RELEASE.len() as u64, b""), OS_RELEASE.to_vec()),
        (
            raw_header(b"PaxHeaders/2", tar::EntryType::XHeader, link_records.len() as u64, b""),
            link_records.into_bytes(),
        ),
        (raw_header(b"etc/os-release", tar::EntryType::Symlink, 0, b"placeholder"), Vec::new()),
    ]);
    let inv = inventory_of(&[analyze_layer(&tar[..], TAR, &Limits::default()).unwrap()]);
    assert_eq!(inv.packages.len(), 1);
    assert_eq!(inv.packages[0].location, format!("/{long_dir}/package.json"));
    assert_eq!(inv.os.unwrap().id, "debian");
}

#[test]
fn oversized_captured_files_are_skipped_with_a_note() {
    let status = b"Package: a\nStatus: install ok installed\nVersion: 1\n".repeat(100);
    let limits = Limits { max_file_bytes: 1024, ..Limits::default() };
    let a = analyze_layer(&tar_bytes(&[E::File("var/lib/dpkg/status", &status)])[..], TAR, &limits).unwrap();
    assert_eq!(a.notes().len(), 1);
    let expected = format!("/var/lib/dpkg/status not read: {} bytes is more than the 1024 bytes limit", status.len());
    assert_eq!(a.notes(), [expected]);
    assert!(inventory_of(&[a]).packages.is_empty());
}

#[test]
fn zstd_multiple_frames_and_skippable_frames() {
    use ruzstd::encoding::{CompressionLevel, compress_to_vec};
    let status = b"Package: a\nStatus: install ok installed\nVersion: 1\n\nPackage: b\nStatus: install ok installed\nVersion: 2\n";
    let tar = tar_bytes(&[E::File("etc/debian_version", b"12.4\n"), E::File("var/lib/dpkg/status", status)]);
    let (one, two) = tar.split_at(700);
    let mut blob = compress_to_vec(one, CompressionLevel::Fastest);
    blob.extend_from_slice(&0x184D_2A50u32.to_le_bytes());
    blob.extend_from_slice(&5u32.to_le_bytes());
    blob.extend_from_slice(b"skip!");
    blob.extend(compress_to_vec(two, CompressionLevel::Fastest));
    let a = analyze_layer(&blob[..], TAR_ZSTD, &Limits::default()).unwrap();
    let inv = inventory_of(&[a]);
    assert_eq!(inv.packages.len(), 2);
    assert_eq!(inv.os.unwrap().ecosystem.as_deref(), Some("Debian:12"));
}

#[test]
fn source_errors_are_reported_as_such() {
    struct Failing(Vec<u8>, usize);
    impl Read for Failing {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.1 >= self.0.len() / 2 {
                return Err(io::Error::new(io::ErrorKind::ConnectionReset, "connection reset by peer"));
            }
            let n = out.len().min(100).min(self.0.len() / 2 - self.1);
            out[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }
    let gz = read_fixture(
        "oci-scanner-fixture/blobs/sha256/7d2c829e9a548acb0cf38120f94cf8df8404e7ec8fe8b0104b0059c56055651b",
    );
    let e = analyze_layer(Failing(gz, 0), TAR_GZIP, &Limits::default()).unwrap_err();
    assert_eq!(e.to_string(), "reading the layer failed: connection reset by peer");
}

#[test]
fn rpm_databases_are_noted() {
    let a = layer(&[
        E::File("var/lib/rpm/rpmdb.sqlite", b"SQLite format 3\0"),
        E::File("opt/app/lib/a.jar", b"PK"),
        E::File("opt/app/lib/b.jar", b"PK"),
        E::File("opt/app/lib/c.war", b"PK"),
    ]);
    assert_eq!(
        a.notes(),
        [
            "java archive found at /opt/app/lib/a.jar (and 2 more) but not read",
            "rpm database found at /var/lib/rpm/rpmdb.sqlite but not read"
        ]
    );
    let a = layer(&[E::File("var/lib/rpm/rpmdb.sqlite", b"SQLite format 3\0")]);
    let refs = [berth_scan::LayerRef { digest: "sha256:x", analysis: &a }];
    assert_eq!(berth_scan::notes(&refs), ["sha256:x: rpm database found at /var/lib/rpm/rpmdb.sqlite but not read"]);
}
