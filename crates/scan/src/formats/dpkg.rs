//! dpkg's `var/lib/dpkg/status` (and distroless `status.d/*` files): RFC 822 paragraphs.

use super::{FoundPackage, paragraphs, rfc822_fields};

/// Installed packages only: a paragraph whose `Status:` third word is not `installed` (e.g.
/// `deinstall ok config-files`) is skipped. Paragraphs without `Status:` (distroless `status.d`) count as
/// installed. The source package is always filled in: `Source: name (version)`, `Source: name` (the package
/// version), or no `Source:` at all (the package's own name and version).
pub(crate) fn parse(text: &str) -> Vec<FoundPackage> {
    let mut out = Vec::new();
    for paragraph in paragraphs(text) {
        let (mut name, mut version, mut status, mut source, mut arch) = (None, None, None, None, None);
        for (key, value) in rfc822_fields(paragraph) {
            match key.to_ascii_lowercase().as_str() {
                "package" => name = Some(value),
                "version" => version = Some(value),
                "status" => status = Some(value),
                "source" => source = Some(value),
                "architecture" => arch = Some(value),
                _ => {}
            }
        }
        let (Some(name), Some(version)) = (name, version) else { continue };
        if name.is_empty() || version.is_empty() {
            continue;
        }
        if let Some(status) = status
            && status.split_whitespace().nth(2) != Some("installed")
        {
            continue;
        }
        let (source_name, source_version) = match source.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => match s.split_once('(') {
                Some((n, v)) => (n.trim(), v.trim_end_matches(')').trim()),
                None => (s, version),
            },
            None => (name, version),
        };
        let mut p = FoundPackage::new(name, version);
        p.source_name = Some(source_name.to_string());
        p.source_version = Some(source_version.to_string());
        p.arch = arch.filter(|a| !a.is_empty()).map(str::to_string);
        out.push(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_installed_packages_and_sources() {
        let text = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9\nDescription: x\n more\n\n\
                    Package: old\nStatus: deinstall ok config-files\nVersion: 1\n\n\
                    Package: bash\nStatus: install ok installed\nSource: bash (5.2.15-2)\nVersion: 5.2.15-2+b2\n\n\
                    Package: held\nStatus: hold ok installed\nVersion: 3\n";
        let p = parse(text);
        assert_eq!(p.len(), 3);
        assert_eq!((p[0].source_name.as_deref(), p[0].source_version.as_deref()), (Some("glibc"), Some("2.36-9")));
        assert_eq!(p[0].arch.as_deref(), Some("amd64"));
        assert_eq!((p[1].source_name.as_deref(), p[1].source_version.as_deref()), (Some("bash"), Some("5.2.15-2")));
        assert_eq!((p[2].name.as_str(), p[2].source_name.as_deref()), ("held", Some("held")));
    }
}
