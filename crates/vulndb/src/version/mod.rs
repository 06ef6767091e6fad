//! Version orderings, one per ecosystem family.
//!
//! A [`Scheme`] parses version strings into [`Version`]s; two versions compare only if they come from the same
//! scheme. Parsing is strict enough to reject garbage (so an unparseable bound never silently matches) and lenient
//! where real data is sloppy (a `v` prefix, missing SemVer components).

pub mod apk;
pub mod dpkg;
pub mod maven;
pub mod rpm;
pub mod rubygems;
pub mod semver;

use std::cmp::Ordering;
use std::str::FromStr;

/// How versions of an ecosystem are ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Debian, Ubuntu: `dpkg --compare-versions`.
    Dpkg,
    /// Red Hat, Rocky, AlmaLinux, SUSE, openSUSE, Mageia, openEuler, Photon OS: `rpmvercmp` with epoch.
    Rpm,
    /// Alpine, Wolfi, Chainguard: apk-tools.
    Apk,
    /// PyPI: PEP 440.
    Pep440,
    /// SemVer 2.0 (lenient): npm, crates.io, NuGet, Hex, Pub, SwiftURL, GitHub Actions, and `SEMVER` ranges.
    Semver,
    /// Go modules and toolchain: SemVer with `v`/`go` prefixes and `+incompatible`.
    Go,
    /// Maven `ComparableVersion`.
    Maven,
    /// RubyGems `Gem::Version`.
    RubyGems,
}

/// A parsed version. Comparing versions of different schemes yields `None`.
#[derive(Clone, Debug)]
pub enum Version {
    Dpkg(dpkg::DpkgVersion),
    Rpm(rpm::RpmVersion),
    Apk(String),
    Pep440(pep440_rs::Version),
    Semver(semver::SemVer),
    Maven(maven::MavenVersion),
    RubyGems(rubygems::GemVersion),
}

impl Scheme {
    /// The ordering used for `ECOSYSTEM` ranges of an OSV ecosystem (with or without a `:release` suffix).
    pub fn for_ecosystem(ecosystem: &str) -> Option<Scheme> {
        let base = crate::ecosystem::base(ecosystem);
        let scheme = match base.to_ascii_lowercase().as_str() {
            "debian" | "ubuntu" => Scheme::Dpkg,
            "red hat" | "rocky linux" | "almalinux" | "suse" | "opensuse" | "mageia" | "openeuler" | "photon os"
            | "azure linux" | "openmandriva" => Scheme::Rpm,
            "alpine" | "wolfi" | "chainguard" | "alpaquita" | "bellsoft hardened containers" | "minimos" => Scheme::Apk,
            "pypi" => Scheme::Pep440,
            "npm" | "crates.io" | "nuget" | "hex" | "pub" | "swifturl" | "github actions" | "bitnami" => Scheme::Semver,
            "go" => Scheme::Go,
            "maven" => Scheme::Maven,
            "rubygems" => Scheme::RubyGems,
            _ => return None,
        };
        Some(scheme)
    }

    /// Parses `s`; `None` if it is not a valid version in this scheme.
    pub fn parse(self, s: &str) -> Option<Version> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        match self {
            Scheme::Dpkg => dpkg::DpkgVersion::parse(s).map(Version::Dpkg),
            Scheme::Rpm => rpm::RpmVersion::parse(s).map(Version::Rpm),
            Scheme::Apk => apk::is_valid(s).then(|| Version::Apk(s.to_owned())),
            Scheme::Pep440 => pep440_rs::Version::from_str(s).ok().map(Version::Pep440),
            Scheme::Semver => semver::SemVer::parse(s).map(Version::Semver),
            Scheme::Go => semver::parse_go(s).map(Version::Semver),
            Scheme::Maven => maven::MavenVersion::parse(s).map(Version::Maven),
            Scheme::RubyGems => rubygems::GemVersion::parse(s).map(Version::RubyGems),
        }
    }
}

impl Version {
    /// Orders two versions of the same scheme; `None` across schemes.
    pub fn compare(&self, other: &Version) -> Option<Ordering> {
        Some(match (self, other) {
            (Version::Dpkg(a), Version::Dpkg(b)) => a.cmp(b),
            (Version::Rpm(a), Version::Rpm(b)) => a.cmp(b),
            (Version::Apk(a), Version::Apk(b)) => apk::compare(a, b),
            (Version::Pep440(a), Version::Pep440(b)) => a.cmp(b),
            (Version::Semver(a), Version::Semver(b)) => a.cmp(b),
            (Version::Maven(a), Version::Maven(b)) => a.cmp(b),
            (Version::RubyGems(a), Version::RubyGems(b)) => a.cmp(b),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(scheme: Scheme, a: &str, b: &str) -> Ordering {
        scheme.parse(a).unwrap().compare(&scheme.parse(b).unwrap()).unwrap()
    }

    #[test]
    fn pep440() {
        let ascending = [
            "0.9",
            "1.0.dev1",
            "1.0a1",
            "1.0a2.dev1",
            "1.0a2",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0+local.1",
            "1.0.post1",
            "1.0.1",
            "1.1.dev0",
            "1.1",
            "2!0.1",
        ];
        for (i, a) in ascending.iter().enumerate() {
            for b in &ascending[i + 1..] {
                assert_eq!(cmp(Scheme::Pep440, a, b), Ordering::Less, "{a} < {b}");
            }
        }
        // Normalised spellings are equal.
        for (a, b) in [
            ("1.0", "1.0.0"),
            ("2.0rc1", "2.0-RC1"),
            ("2.0rc1", "2.0.c1"),
            ("1.0.post1", "1.0-1"),
            ("1.0.post1", "1.0.POST1"),
            ("1.0a1", "1.0alpha1"),
            ("v1.0", "1.0"),
            ("1.0.dev0", "1.0dev"),
        ] {
            assert_eq!(cmp(Scheme::Pep440, a, b), Ordering::Equal, "{a} == {b}");
        }
        assert!(Scheme::Pep440.parse("not a version").is_none());
    }

    #[test]
    fn schemes_by_ecosystem() {
        assert_eq!(Scheme::for_ecosystem("Debian:12"), Some(Scheme::Dpkg));
        assert_eq!(Scheme::for_ecosystem("Ubuntu:22.04:LTS"), Some(Scheme::Dpkg));
        assert_eq!(Scheme::for_ecosystem("Alpine:v3.19"), Some(Scheme::Apk));
        assert_eq!(Scheme::for_ecosystem("Red Hat:enterprise_linux:9::appstream"), Some(Scheme::Rpm));
        assert_eq!(Scheme::for_ecosystem("PyPI"), Some(Scheme::Pep440));
        assert_eq!(Scheme::for_ecosystem("crates.io"), Some(Scheme::Semver));
        assert_eq!(Scheme::for_ecosystem("Go"), Some(Scheme::Go));
        assert_eq!(Scheme::for_ecosystem("Maven"), Some(Scheme::Maven));
        assert_eq!(Scheme::for_ecosystem("RubyGems"), Some(Scheme::RubyGems));
        assert_eq!(Scheme::for_ecosystem("Hackage"), None);
    }

    #[test]
    fn no_cross_scheme_comparison() {
        let a = Scheme::Dpkg.parse("1.0").unwrap();
        let b = Scheme::Semver.parse("1.0").unwrap();
        assert_eq!(a.compare(&b), None);
    }
}
