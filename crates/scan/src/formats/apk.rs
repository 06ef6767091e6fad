//! apk's `lib/apk/db/installed`: paragraphs of single-letter `K:value` lines.

use super::FoundPackage;

/// Fields: `P` name, `V` version, `A` arch, `o` origin (the source package), `L` license.
pub(crate) fn parse(text: &str) -> Vec<FoundPackage> {
    let mut out = Vec::new();
    for paragraph in super::paragraphs(text) {
        let mut p = FoundPackage::new("", "");
        for line in paragraph.lines() {
            let Some((key, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            match key {
                "P" => p.name = value.to_string(),
                "V" => p.version = value.to_string(),
                "A" => p.arch = Some(value.to_string()),
                "o" => p.source_name = Some(value.to_string()),
                "L" if !value.is_empty() => p.licenses = vec![value.to_string()],
                _ => {}
            }
        }
        if p.name.is_empty() || p.version.is_empty() {
            continue;
        }
        if p.source_name.is_some() {
            p.source_version = Some(p.version.clone());
        }
        out.push(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_packages() {
        let text = "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\np:so:libc.musl-x86_64.so.1=1\n\nP:busybox\nV:1.36.1-r15\nA:x86_64\nL:GPL-2.0-only\no:busybox\n";
        let p = parse(text);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "musl");
        assert_eq!(p[0].version, "1.2.4-r2");
        assert_eq!(p[0].source_name.as_deref(), Some("musl"));
        assert_eq!(p[0].licenses, vec!["MIT"]);
        assert_eq!(p[1].arch.as_deref(), Some("x86_64"));
    }
}
