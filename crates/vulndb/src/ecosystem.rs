//! OSV ecosystem strings and package names.
//!
//! An ecosystem string is a base name, optionally followed by `:` and a qualifier (`Debian:12`, `Alpine:v3.19`,
//! `Ubuntu:22.04:LTS`, `Maven:https://maven.google.com`). Records are indexed by the full string after
//! canonicalising the base's case (`pypi` → `PyPI`); names are normalised per ecosystem.

/// Canonical spellings of the ecosystems named by the OSV schema, for case-insensitive input.
const KNOWN: &[&str] = &[
    "AlmaLinux",
    "Alpaquita",
    "Alpine",
    "Android",
    "BellSoft Hardened Containers",
    "Bioconductor",
    "Bitnami",
    "Chainguard",
    "ConanCenter",
    "CRAN",
    "crates.io",
    "Debian",
    "GHC",
    "GitHub Actions",
    "Go",
    "Hackage",
    "Hex",
    "Linux",
    "Mageia",
    "Maven",
    "MinimOS",
    "npm",
    "NuGet",
    "openEuler",
    "openSUSE",
    "OSS-Fuzz",
    "Packagist",
    "Photon OS",
    "Pub",
    "PyPI",
    "Red Hat",
    "Rocky Linux",
    "RubyGems",
    "SUSE",
    "SwiftURL",
    "Ubuntu",
    "Wolfi",
];

/// Distributions whose records may omit the release (`Debian` applies to every `Debian:<release>`).
const RELEASE_FALLBACK: &[&str] = &["Debian", "Ubuntu", "Alpine", "AlmaLinux", "Rocky Linux", "Mageia", "openEuler"];

/// The base of an ecosystem string: the part before the first `:`.
pub fn base(ecosystem: &str) -> &str {
    ecosystem.split_once(':').map_or(ecosystem, |(base, _)| base).trim()
}

/// `ecosystem` with a known base spelled canonically and surrounding whitespace removed.
pub fn canonical(ecosystem: &str) -> String {
    let ecosystem = ecosystem.trim();
    let (b, rest) = match ecosystem.split_once(':') {
        Some((b, rest)) => (b.trim(), Some(rest)),
        None => (ecosystem, None),
    };
    let b = KNOWN.iter().find(|k| k.eq_ignore_ascii_case(b)).copied().unwrap_or(b);
    match rest {
        Some(rest) => format!("{b}:{rest}"),
        None => b.to_owned(),
    }
}

/// The index keys a lookup in `ecosystem` (already canonical) consults, most specific first: the ecosystem itself
/// and, for a distribution release such as `Debian:12`, the release-less `Debian`.
pub fn lookup_keys(ecosystem: &str) -> Vec<&str> {
    let mut keys = vec![ecosystem];
    let b = base(ecosystem);
    if b.len() != ecosystem.len() && RELEASE_FALLBACK.contains(&b) {
        keys.push(b);
    }
    keys
}

/// Normalises a package name for indexing and lookup: PyPI names per PEP 503 (lowercase, runs of `-`, `_`, `.`
/// become one `-`); npm, NuGet and Packagist names lowercase; all others unchanged (Go module paths and Maven
/// coordinates are case-sensitive).
pub fn normalize_name(ecosystem: &str, name: &str) -> String {
    let name = name.trim();
    match base(ecosystem).to_ascii_lowercase().as_str() {
        "pypi" => {
            let mut out = String::with_capacity(name.len());
            let mut in_separator = false;
            for c in name.chars() {
                if matches!(c, '-' | '_' | '.') {
                    if !in_separator {
                        out.push('-');
                    }
                    in_separator = true;
                } else {
                    out.extend(c.to_lowercase());
                    in_separator = false;
                }
            }
            out
        }
        "npm" | "nuget" | "packagist" => name.to_lowercase(),
        _ => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(normalize_name("PyPI", "PyYAML"), "pyyaml");
        assert_eq!(normalize_name("PyPI", "zope.interface"), "zope-interface");
        assert_eq!(normalize_name("PyPI", "Foo__Bar-.baz"), "foo-bar-baz");
        assert_eq!(normalize_name("npm", "JSONStream"), "jsonstream");
        assert_eq!(normalize_name("Go", "github.com/BurntSushi/toml"), "github.com/BurntSushi/toml");
        assert_eq!(normalize_name("crates.io", "serde_json"), "serde_json");
        assert_eq!(normalize_name("Debian:12", "perl"), "perl");
    }

    #[test]
    fn ecosystems() {
        assert_eq!(canonical("pypi"), "PyPI");
        assert_eq!(canonical("debian:12"), "Debian:12");
        assert_eq!(canonical(" Alpine:v3.19 "), "Alpine:v3.19");
        assert_eq!(canonical("Unknown"), "Unknown");
        assert_eq!(lookup_keys("Debian:12"), ["Debian:12", "Debian"]);
        assert_eq!(lookup_keys("Alpine:v3.19"), ["Alpine:v3.19", "Alpine"]);
        assert_eq!(lookup_keys("Debian"), ["Debian"]);
        assert_eq!(lookup_keys("Maven:https://maven.google.com"), ["Maven:https://maven.google.com"]);
        assert_eq!(lookup_keys("PyPI"), ["PyPI"]);
    }
}
