//! `Cargo.lock` (all versions): `[[package]]` tables with `name`, `version`, `source`.
//!
//! Only crates from crates.io are reported: local crates (no `source`, the project itself) have no advisories,
//! and crates from git or other registries are not what crates.io advisories describe.

use super::FoundPackage;

pub(crate) fn parse(text: &str) -> Vec<FoundPackage> {
    let mut out = Vec::new();
    let mut current: Option<(Option<String>, Option<String>, Option<String>)> = None;
    let mut flush = |entry: Option<(Option<String>, Option<String>, Option<String>)>| {
        if let Some((Some(name), Some(version), Some(source))) = entry
            && is_crates_io(&source)
        {
            out.push(FoundPackage::new(name, version));
        }
    };
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            flush(current.take());
            if line == "[[package]]" {
                current = Some((None, None, None));
            }
            continue;
        }
        let Some(entry) = current.as_mut() else { continue };
        let Some((key, value)) = line.split_once('=') else { continue };
        let Some(value) = value.trim().strip_prefix('"').and_then(|v| v.strip_suffix('"')) else { continue };
        match key.trim() {
            "name" => entry.0 = Some(value.to_string()),
            "version" => entry.1 = Some(value.to_string()),
            "source" => entry.2 = Some(value.to_string()),
            _ => {}
        }
    }
    flush(current.take());
    out
}

fn is_crates_io(source: &str) -> bool {
    matches!(
        source.trim_end_matches('/'),
        "registry+https://github.com/rust-lang/crates.io-index" | "sparse+https://index.crates.io"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_crates_io_packages() {
        let text = "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\n \"tar\",\n]\n\n\
                    [[package]]\nname = \"tar\"\nversion = \"0.4.35\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n\
                    [[package]]\nname = \"fork\"\nversion = \"1.0.0\"\nsource = \"git+https://example.com/fork#abc\"\n\n\
                    [[package]]\nname = \"serde\"\nversion = \"1.0.0\"\nsource = \"sparse+https://index.crates.io/\"\n\n[metadata]\n\"checksum x\" = \"y\"\n";
        let p = parse(text);
        let names: Vec<_> = p.iter().map(|p| (p.name.as_str(), p.version.as_str())).collect();
        assert_eq!(names, vec![("tar", "0.4.35"), ("serde", "1.0.0")]);
    }
}
