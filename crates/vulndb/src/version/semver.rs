//! SemVer 2.0 precedence, parsed leniently: a leading `v`, fewer (`1.2`) or more (`1.2.3.4`, NuGet) numeric
//! components than three, and leading zeros are accepted; build metadata (`+incompatible`, `+build.5`) is ignored.
//! Go toolchain spellings (`go1.21.3`, `1.21rc2`, `1.9beta1`) are normalised by [`parse_go`].

use std::cmp::Ordering;

/// A parsed SemVer-like version. Missing numeric components count as zero (`1.2 == 1.2.0`).
#[derive(Clone, Debug)]
pub struct SemVer {
    core: Vec<u64>,
    pre: Vec<Ident>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Ident {
    /// Digits with leading zeros removed, compared numerically without overflow.
    Numeric(String),
    Alpha(String),
}

impl Ord for Ident {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Ident::Numeric(a), Ident::Numeric(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Ident::Numeric(_), Ident::Alpha(_)) => Ordering::Less,
            (Ident::Alpha(_), Ident::Numeric(_)) => Ordering::Greater,
            (Ident::Alpha(a), Ident::Alpha(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Ident {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl SemVer {
    /// Parses a version; `None` unless it is `[v]N(.N)*[-pre][+build]`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
        let s = s.split_once('+').map_or(s, |(v, _build)| v);
        let (core, pre) = match s.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (s, None),
        };
        let core = core
            .split('.')
            .map(|part| {
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                part.parse::<u64>().ok()
            })
            .collect::<Option<Vec<_>>>()?;
        let pre = match pre {
            None => Vec::new(),
            Some(pre) => pre
                .split('.')
                .map(|id| {
                    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                        None
                    } else if id.bytes().all(|b| b.is_ascii_digit()) {
                        let trimmed = id.trim_start_matches('0');
                        Some(Ident::Numeric(trimmed.to_owned()))
                    } else {
                        Some(Ident::Alpha(id.to_owned()))
                    }
                })
                .collect::<Option<Vec<_>>>()?,
        };
        Some(Self { core, pre })
    }
}

/// Parses a Go module or toolchain version: `v1.2.3`, `v0.0.0-20200622213623-75b288015ac9`,
/// `v2.0.0+incompatible`, and for `stdlib`/`toolchain` also `go1.21.3`, `1.21rc2` (= `1.21.0-rc.2`), `go1.20`.
pub fn parse_go(s: &str) -> Option<SemVer> {
    let s = s.trim();
    let s = s.strip_prefix("go").unwrap_or(s);
    if let Some(normalised) = go_toolchain_prerelease(s) {
        return SemVer::parse(&normalised);
    }
    SemVer::parse(s)
}

/// `1.21rc2` → `1.21.0-rc.2`, `1.9beta1` → `1.9.0-beta.1` (Go release tags have no hyphen before the pre-release).
fn go_toolchain_prerelease(s: &str) -> Option<String> {
    let at = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (core, rest) = s.split_at(at);
    if core.is_empty() || !core.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let kind_len = rest.find(|c: char| c.is_ascii_digit())?;
    let (kind, num) = rest.split_at(kind_len);
    if !matches!(kind, "alpha" | "beta" | "rc") || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut parts: Vec<&str> = core.trim_end_matches('.').split('.').collect();
    while parts.len() < 3 {
        parts.push("0");
    }
    Some(format!("{}-{kind}.{num}", parts.join(".")))
}

impl PartialEq for SemVer {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SemVer {}

impl PartialOrd for SemVer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SemVer {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.core.len().max(other.core.len());
        for i in 0..len {
            let a = self.core.get(i).copied().unwrap_or(0);
            let b = other.core.get(i).copied().unwrap_or(0);
            match a.cmp(&b) {
                Ordering::Equal => {}
                other => return other,
            }
        }
        match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => self.pre.cmp(&other.pre),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> SemVer {
        SemVer::parse(s).unwrap_or_else(|| panic!("{s} parses"))
    }

    #[test]
    fn precedence_from_the_spec() {
        let ascending = [
            "0.0.0-0",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.2.0",
            "1.10.0",
            "2.0.0",
        ];
        for (i, a) in ascending.iter().enumerate() {
            for b in &ascending[i + 1..] {
                assert!(v(a) < v(b), "{a} < {b}");
            }
        }
    }

    #[test]
    fn lenient_forms() {
        assert_eq!(v("1.0"), v("1.0.0"));
        assert_eq!(v("1"), v("1.0.0"));
        assert_eq!(v("v1.2.3"), v("1.2.3"));
        assert_eq!(v("1.2.3+build.7"), v("1.2.3"));
        assert_eq!(v("01.2.3"), v("1.2.3"));
        assert!(v("1.2.3.4") > v("1.2.3"));
        assert!(v("1.2.3.4") < v("1.2.4"));
        assert!(v("1.0-rc1") < v("1.0"));
        for bad in ["", "x", "1.x", "1..2", "1.2.3-", "1.2.3-a..b", "1.2 3", "latest"] {
            assert!(SemVer::parse(bad).is_none(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn go_versions() {
        let g = |s| parse_go(s).unwrap_or_else(|| panic!("{s} parses"));
        assert_eq!(g("v1.2.3"), g("1.2.3"));
        assert_eq!(g("go1.20.1"), g("1.20.1"));
        assert_eq!(g("v2.0.0+incompatible"), g("2.0.0"));
        assert!(g("v10.11.0-rc1+incompatible") < g("10.11.0+incompatible"));
        // Pseudo-versions sort before the release they precede and after the one they are based on.
        assert!(g("v0.0.0-20200622213623-75b288015ac9") < g("v0.0.1"));
        assert!(g("v0.0.0-20200622213623-75b288015ac9") > g("v0.0.0-20190101000000-aaaaaaaaaaaa"));
        assert!(g("v1.2.4-0.20200101000000-abcdefabcdef") > g("v1.2.3"));
        assert!(g("v1.2.4-0.20200101000000-abcdefabcdef") < g("v1.2.4"));
        // Toolchain spellings.
        assert_eq!(g("go1.21rc2"), g("1.21.0-rc.2"));
        assert_eq!(g("1.9beta1"), g("1.9.0-beta.1"));
        assert!(g("go1.21rc2") < g("go1.21.0"));
        assert!(g("go1.21rc2") > g("1.21.0-0"));
        assert_eq!(g("go1.20"), g("1.20.0"));
    }
}
