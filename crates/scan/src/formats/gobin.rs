//! Go build info in executables (Go 1.18 and later).
//!
//! The linker writes a 32-byte header starting with the magic `\xff Go buildinf:` (then the pointer size and a
//! flags byte; flag 2 means "strings inline") at the start of the `.go.buildinfo` section, which lives in the
//! first writable segment. Since Go 1.18 the header is followed by two varint-prefixed strings: the toolchain
//! version (`go1.21.5`) and the module info (`path`/`mod`/`dep`/`=>`/`build` lines between 16-byte sentinels).
//!
//! The file is read as a stream: the ELF program headers say where the first writable segment starts, the
//! reader skips to it and searches from there, at most `max_scan` bytes. Only the build info is kept.

use std::io::{self, Read};

use super::FoundPackage;

const MAGIC: &[u8] = b"\xff Go buildinf:";
const HEADER_LEN: usize = 32;
const FLAG_INLINE: u8 = 2;
/// Bytes kept after the magic: version + module info. Large binaries have a few tens of KiB.
const MAX_INFO: usize = 1024 * 1024;
const CHUNK: usize = 64 * 1024;
const MAX_PROGRAM_HEADERS_END: u64 = 64 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum GoScan {
    NotGo,
    /// Go build info in the pre-1.18 pointer format, which needs random access to read.
    Old,
    Found {
        go_version: String,
        packages: Vec<FoundPackage>,
    },
}

pub(crate) fn scan(r: &mut impl Read, max_scan: u64) -> io::Result<GoScan> {
    let mut head = Vec::with_capacity(64);
    (&mut *r).take(64).read_to_end(&mut head)?;
    if head.len() < 64 || &head[..4] != b"\x7fELF" {
        return Ok(GoScan::NotGo);
    }
    let data_start = first_writable_segment(r, &mut head)?;
    let consumed = head.len() as u64;
    let mut window: Vec<u8> = match data_start {
        Some(off) if off < consumed => head[off as usize..].to_vec(),
        Some(off) => {
            io::copy(&mut (&mut *r).take(off - consumed), &mut io::sink())?;
            Vec::new()
        }
        None => head,
    };
    let mut scanned = window.len() as u64;
    let mut from = 0;
    loop {
        while let Some(i) = find(&window[from..], MAGIC).map(|i| i + from) {
            if window.len() < i + MAX_INFO {
                let want = (i + MAX_INFO - window.len()) as u64;
                (&mut *r).take(want).read_to_end(&mut window)?;
            }
            match parse_info(&window[i..]) {
                Some(found) => return Ok(found),
                None => from = i + 1,
            }
        }
        if scanned >= max_scan {
            return Ok(GoScan::NotGo);
        }
        // Keep the tail that could hold the start of a magic split across reads.
        let keep = window.len().min(MAGIC.len() - 1).min(window.len() - from.min(window.len()));
        window.drain(..window.len() - keep);
        from = 0;
        let before = window.len();
        (&mut *r).take(CHUNK as u64).read_to_end(&mut window)?;
        let n = window.len() - before;
        if n == 0 {
            return Ok(GoScan::NotGo);
        }
        scanned += n as u64;
    }
}

/// Reads the program headers (appending to `head`) and returns the file offset of the first writable `PT_LOAD`.
fn first_writable_segment(r: &mut impl Read, head: &mut Vec<u8>) -> io::Result<Option<u64>> {
    let (is64, le) = (head[4] == 2, head[5] == 1);
    let u16_at = |b: &[u8], o: usize| {
        let v = [b[o], b[o + 1]];
        if le { u16::from_le_bytes(v) } else { u16::from_be_bytes(v) }
    };
    let u32_at = |b: &[u8], o: usize| {
        let v = [b[o], b[o + 1], b[o + 2], b[o + 3]];
        if le { u32::from_le_bytes(v) } else { u32::from_be_bytes(v) }
    };
    let u64_at = |b: &[u8], o: usize| {
        let v: [u8; 8] = b[o..o + 8].try_into().expect("8 bytes");
        if le { u64::from_le_bytes(v) } else { u64::from_be_bytes(v) }
    };
    let (phoff, phentsize, phnum) = if is64 {
        (u64_at(head, 0x20), u16_at(head, 0x36), u16_at(head, 0x38))
    } else {
        (u64::from(u32_at(head, 0x1c)), u16_at(head, 0x2a), u16_at(head, 0x2c))
    };
    let min_entry = if is64 { 56 } else { 32 };
    let end = phoff.saturating_add(u64::from(phentsize) * u64::from(phnum));
    if phoff < 64 || usize::from(phentsize) < min_entry || end > MAX_PROGRAM_HEADERS_END {
        return Ok(None);
    }
    (&mut *r).take(end - head.len() as u64).read_to_end(head)?;
    if (head.len() as u64) < end {
        return Ok(None);
    }
    for n in 0..usize::from(phnum) {
        let ph = &head[phoff as usize + n * usize::from(phentsize)..];
        let (p_type, flags, offset) = if is64 {
            (u32_at(ph, 0), u32_at(ph, 4), u64_at(ph, 8))
        } else {
            (u32_at(ph, 0), u32_at(ph, 24), u64::from(u32_at(ph, 4)))
        };
        const PT_LOAD: u32 = 1;
        const PF_W: u32 = 2;
        if p_type == PT_LOAD && flags & PF_W != 0 {
            return Ok(Some(offset));
        }
    }
    Ok(None)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(i) = haystack.get(at..)?.iter().position(|&b| b == needle[0]) {
        let start = at + i;
        if haystack.get(start..start + needle.len())? == needle {
            return Some(start);
        }
        at = start + 1;
    }
    None
}

/// `buf` starts at the magic. `None` when this is not a valid header (keep searching).
fn parse_info(buf: &[u8]) -> Option<GoScan> {
    if buf.len() < HEADER_LEN {
        return None;
    }
    let (ptr_size, flags) = (buf[14], buf[15]);
    if ptr_size != 4 && ptr_size != 8 {
        return None;
    }
    if flags & FLAG_INLINE == 0 {
        return Some(GoScan::Old);
    }
    let mut rest = &buf[HEADER_LEN..];
    let version = read_string(&mut rest)?;
    let modinfo = read_string(&mut rest)?;
    let go_version = String::from_utf8_lossy(version).into_owned();
    if !go_version.starts_with("go") && !go_version.starts_with("devel") {
        return None;
    }
    let modinfo = String::from_utf8_lossy(strip_sentinels(modinfo)).into_owned();
    Some(GoScan::Found { packages: packages(&go_version, &modinfo), go_version })
}

fn read_string<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    let mut len: u64 = 0;
    for (i, &b) in buf.iter().enumerate().take(10) {
        len |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let start = i + 1;
            let end = start.checked_add(usize::try_from(len).ok()?)?;
            let s = buf.get(start..end)?;
            *buf = &buf[end..];
            return Some(s);
        }
    }
    None
}

/// Module info is framed by two 16-byte sentinels; the byte before the closing one is a newline.
fn strip_sentinels(m: &[u8]) -> &[u8] {
    if m.len() >= 33 && m[m.len() - 17] == b'\n' { &m[16..m.len() - 16] } else { m }
}

/// The toolchain as package "stdlib", the main module unless it is "(devel)", and the dependencies with their
/// replacements applied. Versions lose their leading "v" (OSV's Go versions have none).
fn packages(go_version: &str, modinfo: &str) -> Vec<FoundPackage> {
    let mut out = Vec::new();
    if let Some(v) = stdlib_version(go_version) {
        out.push(FoundPackage::new("stdlib", v));
    }
    let mut modules: Vec<(String, String)> = Vec::new();
    for line in modinfo.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["mod" | "dep", path, version, ..] => modules.push((path.to_string(), version.to_string())),
            ["=>", path, version, ..] => {
                if let Some(last) = modules.last_mut() {
                    *last = (path.to_string(), version.to_string());
                }
            }
            _ => {}
        }
    }
    for (path, version) in modules {
        if path.is_empty() || version.is_empty() || version == "(devel)" {
            continue;
        }
        let version = version.strip_prefix('v').unwrap_or(&version);
        out.push(FoundPackage::new(path, version));
    }
    out
}

/// "go1.21.5" → "1.21.5"; "go1.20" → "1.20.0"; "go1.22.1 X:boringcrypto" → "1.22.1"; "devel ..." → None.
fn stdlib_version(go_version: &str) -> Option<String> {
    let v = go_version.split_whitespace().next()?.strip_prefix("go")?;
    if v.is_empty() || !v.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let numeric = v.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    Some(if numeric && v.split('.').count() == 2 { format!("{v}.0") } else { v.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdlib_versions() {
        assert_eq!(stdlib_version("go1.21.5").as_deref(), Some("1.21.5"));
        assert_eq!(stdlib_version("go1.20").as_deref(), Some("1.20.0"));
        assert_eq!(stdlib_version("go1.22.1 X:boringcrypto").as_deref(), Some("1.22.1"));
        assert_eq!(stdlib_version("devel go1.23-abc"), None);
    }

    #[test]
    fn replacements_apply() {
        let info = "path\texample.com/cmd\nmod\texample.com\t(devel)\t\ndep\tgolang.org/x/net\tv0.17.0\th1:x=\ndep\tgithub.com/a/b\tv1.0.0\th1:y=\n=>\tgithub.com/fork/b\tv1.0.1\th1:z=\nbuild\t-compiler=gc\n";
        let p = packages("go1.21.5", info);
        let got: Vec<_> = p.iter().map(|p| format!("{}@{}", p.name, p.version)).collect();
        assert_eq!(got, vec!["stdlib@1.21.5", "golang.org/x/net@0.17.0", "github.com/fork/b@1.0.1"]);
    }
}
