//! Package URLs (<https://github.com/package-url/purl-spec>): built for berth's packages, parsed from any SBOM.

use std::collections::BTreeMap;

use crate::{OsInfo, PackageKind};

/// Percent-encode everything but unreserved characters (and `:` when `colon` is set, as versions with a Debian
/// epoch keep it readable: `1:2.66-4`).
fn enc(s: &str, colon: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || (colon && b == b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn dec(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) =
                (bytes.get(i + 1).and_then(|&b| hex(b)), bytes.get(i + 2).and_then(|&b| hex(b)))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The distribution namespace for an OS package: the image's OS when it belongs to the package manager's
/// family, else the family's reference distribution.
pub(crate) fn distro_namespace(kind: PackageKind, os: Option<&OsInfo>) -> (&str, Option<String>) {
    let family: &[&str] = match kind {
        PackageKind::Deb => &["debian", "ubuntu"],
        PackageKind::Apk => &["alpine", "wolfi", "chainguard"],
        _ => &[],
    };
    match os {
        Some(os) if family.contains(&os.id.as_str()) => {
            (os.id.as_str(), os.version_id.as_ref().map(|v| format!("{}-{v}", os.id)))
        }
        _ => (family.first().copied().unwrap_or(""), None),
    }
}

pub(crate) fn build(kind: PackageKind, name: &str, version: &str, arch: Option<&str>, os: Option<&OsInfo>) -> String {
    let mut qualifiers: BTreeMap<&str, String> = BTreeMap::new();
    let (ty, path, version) = match kind {
        PackageKind::Deb | PackageKind::Apk | PackageKind::Rpm => {
            let (namespace, distro) = distro_namespace(kind, os);
            if let Some(arch) = arch {
                qualifiers.insert("arch", arch.to_string());
            }
            if let Some(distro) = distro {
                qualifiers.insert("distro", distro);
            }
            let ty = match kind {
                PackageKind::Deb => "deb",
                PackageKind::Apk => "apk",
                _ => "rpm",
            };
            (ty, format!("{}/{}", enc(namespace, false), enc(name, false)), version.to_string())
        }
        PackageKind::Python => {
            let normalised = name.to_ascii_lowercase().replace('_', "-");
            ("pypi", enc(&normalised, false), version.to_string())
        }
        PackageKind::Npm => {
            let path = match name.strip_prefix('@').and_then(|n| n.split_once('/')) {
                Some((scope, n)) => format!("{}/{}", enc(&format!("@{scope}"), false), enc(n, false)),
                None => enc(name, false),
            };
            ("npm", path, version.to_string())
        }
        PackageKind::Cargo => ("cargo", enc(name, false), version.to_string()),
        PackageKind::Go => {
            let path = name.split('/').map(|s| enc(s, false)).collect::<Vec<_>>().join("/");
            let version = if name == "stdlib" { version.to_string() } else { format!("v{version}") };
            ("golang", path, version)
        }
    };
    let mut purl = format!("pkg:{ty}/{path}@{}", enc(&version, true));
    let mut sep = '?';
    for (k, v) in qualifiers {
        purl.push(sep);
        purl.push_str(k);
        purl.push('=');
        purl.push_str(&enc(&v, false));
        sep = '&';
    }
    purl
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Purl {
    pub ty: String,
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
    pub qualifiers: BTreeMap<String, String>,
}

pub(crate) fn parse(s: &str) -> Option<Purl> {
    let rest = s.strip_prefix("pkg:")?.trim_start_matches('/');
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let (rest, qualifiers) = match rest.split_once('?') {
        Some((r, q)) => (r, q),
        None => (rest, ""),
    };
    let qualifiers = qualifiers
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_ascii_lowercase(), dec(v)))
        .collect();
    let (ty, rest) = rest.split_once('/')?;
    let (path, version) = match rest.rsplit_once('@') {
        Some((p, v)) if !p.is_empty() => (p, Some(dec(v))),
        _ => (rest, None),
    };
    let path = path.trim_end_matches('/');
    let (namespace, name) = match path.rsplit_once('/') {
        Some((ns, n)) => (Some(ns.split('/').map(dec).collect::<Vec<_>>().join("/")), dec(n)),
        None => (None, dec(path)),
    };
    if name.is_empty() {
        return None;
    }
    Some(Purl { ty: ty.to_ascii_lowercase(), namespace, name, version, qualifiers })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn debian() -> OsInfo {
        OsInfo {
            id: "debian".into(),
            version_id: Some("12".into()),
            pretty_name: None,
            ecosystem: Some("Debian:12".into()),
        }
    }

    #[test]
    fn builds_purls() {
        assert_eq!(
            build(PackageKind::Deb, "perl-base", "5.36.0-7+deb12u4", Some("amd64"), Some(&debian())),
            "pkg:deb/debian/perl-base@5.36.0-7%2Bdeb12u4?arch=amd64&distro=debian-12"
        );
        assert_eq!(build(PackageKind::Deb, "libcap2", "1:2.66-4", None, None), "pkg:deb/debian/libcap2@1:2.66-4");
        assert_eq!(build(PackageKind::Python, "PyYAML", "5.3.1", None, None), "pkg:pypi/pyyaml@5.3.1");
        assert_eq!(build(PackageKind::Npm, "@types/node", "20.1.0", None, None), "pkg:npm/%40types/node@20.1.0");
        assert_eq!(
            build(PackageKind::Go, "golang.org/x/net", "0.17.0", None, None),
            "pkg:golang/golang.org/x/net@v0.17.0"
        );
        assert_eq!(build(PackageKind::Go, "stdlib", "1.21.5", None, None), "pkg:golang/stdlib@1.21.5");
    }

    #[test]
    fn parses_purls() {
        let p = parse("pkg:deb/debian/perl-base@5.36.0-7%2Bdeb12u4?arch=amd64&distro=debian-12").unwrap();
        assert_eq!((p.ty.as_str(), p.namespace.as_deref(), p.name.as_str()), ("deb", Some("debian"), "perl-base"));
        assert_eq!(p.version.as_deref(), Some("5.36.0-7+deb12u4"));
        assert_eq!(p.qualifiers.get("distro").map(String::as_str), Some("debian-12"));
        let p = parse("pkg:npm/%40types/node@20.1.0").unwrap();
        assert_eq!((p.namespace.as_deref(), p.name.as_str()), (Some("@types"), "node"));
        let p = parse("pkg:golang/golang.org/x/net@v0.17.0#sub").unwrap();
        assert_eq!(
            (p.namespace.as_deref(), p.name.as_str(), p.version.as_deref()),
            (Some("golang.org/x"), "net", Some("v0.17.0"))
        );
        assert!(parse("notapurl").is_none());
        assert_eq!(dec("%"), "%");
    }
}
