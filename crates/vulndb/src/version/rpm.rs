//! RPM versions: `[epoch:]version[-release]`, ordered as rpm's `rpmvercmp` does.
//!
//! Each of version and release is split into alternating alphabetic and numeric segments; other characters only
//! separate segments. Numbers compare numerically and are newer than letters; `~` sorts before everything (even the
//! end of the string, for pre-releases) and `^` sorts after the end of the string but before any other segment
//! (for post-release snapshots).

use std::cmp::Ordering;

/// A parsed RPM version (epoch, version, release).
#[derive(Clone, Debug)]
pub struct RpmVersion {
    epoch: u64,
    version: String,
    release: String,
}

impl RpmVersion {
    /// Parses `[epoch:]version[-release]`; `None` if empty, with a non-numeric epoch or with whitespace.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.is_empty() || s.chars().any(char::is_whitespace) {
            return None;
        }
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => {
                if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (e.parse().ok()?, rest)
            }
            None => (0, s),
        };
        let (version, release) = rest.rsplit_once('-').unwrap_or((rest, ""));
        if version.is_empty() {
            return None;
        }
        Some(Self { epoch, version: version.to_owned(), release: release.to_owned() })
    }
}

impl PartialEq for RpmVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for RpmVersion {}

impl PartialOrd for RpmVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| rpmvercmp(&self.release, &other.release))
    }
}

fn is_separator(c: u8) -> bool {
    !c.is_ascii_alphanumeric() && c != b'~' && c != b'^'
}

/// rpm's segment-wise comparison of one version or release string.
pub(crate) fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    loop {
        while i < a.len() && is_separator(a[i]) {
            i += 1;
        }
        while j < b.len() && is_separator(b[j]) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        // Tilde: sorts before everything else, including the end.
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        // Caret: sorts after the end, but before anything else.
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Ordering::Less;
            }
            if cb.is_none() {
                return Ordering::Greater;
            }
            if ca != Some(b'^') {
                return Ordering::Greater;
            }
            if cb != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        let (Some(ca), Some(_)) = (ca, cb) else { break };
        let numeric = ca.is_ascii_digit();
        let in_segment = |c: u8| if numeric { c.is_ascii_digit() } else { c.is_ascii_alphabetic() };
        let (si, sj) = (i, j);
        while i < a.len() && in_segment(a[i]) {
            i += 1;
        }
        while j < b.len() && in_segment(b[j]) {
            j += 1;
        }
        // Segments of different types: numeric is newer than alphabetic.
        if j == sj {
            return if numeric { Ordering::Greater } else { Ordering::Less };
        }
        let (mut sa, mut sb) = (&a[si..i], &b[sj..j]);
        if numeric {
            while sa.first() == Some(&b'0') {
                sa = &sa[1..];
            }
            while sb.first() == Some(&b'0') {
                sb = &sb[1..];
            }
            match sa.len().cmp(&sb.len()) {
                Ordering::Equal => {}
                other => return other,
            }
        }
        match sa.cmp(sb) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    // Everything compared equal so far; whichever still has characters left is newer.
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpmvercmp_cases() {
        // From rpm's own test suite (tests/rpmvercmp.at).
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.0", "1.0", Ordering::Equal),
            ("1.0", "2.0", Ordering::Less),
            ("2.0.1", "2.0.1", Ordering::Equal),
            ("2.0", "2.0.1", Ordering::Less),
            ("2.0.1a", "2.0.1a", Ordering::Equal),
            ("2.0.1a", "2.0.1", Ordering::Greater),
            ("5.5p1", "5.5p2", Ordering::Less),
            ("5.5p10", "5.5p1", Ordering::Greater),
            ("10xyz", "10.1xyz", Ordering::Less),
            ("xyz10", "xyz10.1", Ordering::Less),
            ("xyz.4", "8", Ordering::Less),
            ("8", "xyz.4", Ordering::Greater),
            ("xyz.4", "2", Ordering::Less),
            ("5.5p2", "5.6p1", Ordering::Less),
            ("6.0", "6.0.rc1", Ordering::Less),
            ("10b2", "10a1", Ordering::Greater),
            ("1.0aa", "1.0a", Ordering::Greater),
            ("10.0001", "10.1", Ordering::Equal),
            ("10.0001", "10.0039", Ordering::Less),
            ("4.999.9", "5.0", Ordering::Less),
            ("20101121", "20101122", Ordering::Less),
            ("2_0", "2_0", Ordering::Equal),
            ("2.0", "2_0", Ordering::Equal),
            ("a", "a", Ordering::Equal),
            ("a+", "a_", Ordering::Equal),
            ("+", "_", Ordering::Equal),
            ("1.0~rc1", "1.0~rc1", Ordering::Equal),
            ("1.0~rc1", "1.0", Ordering::Less),
            ("1.0", "1.0~rc1", Ordering::Greater),
            ("1.0~rc1", "1.0~rc2", Ordering::Less),
            ("1.0~rc1~git123", "1.0~rc1", Ordering::Less),
            ("1.0^", "1.0", Ordering::Greater),
            ("1.0^git1", "1.0", Ordering::Greater),
            ("1.0^git1", "1.01", Ordering::Less),
            ("1.0^20160101", "1.0.1", Ordering::Less),
            ("1.0^20160102", "1.0^20160101^git1", Ordering::Greater),
            ("1.0~rc1^git1", "1.0~rc1", Ordering::Greater),
            ("1.0^git1~pre", "1.0^git1", Ordering::Less),
        ];
        for &(a, b, want) in cases {
            assert_eq!(rpmvercmp(a, b), want, "rpmvercmp({a:?}, {b:?})");
            assert_eq!(rpmvercmp(b, a), want.reverse(), "rpmvercmp({b:?}, {a:?})");
        }
    }

    #[test]
    fn epoch_version_release() {
        let v = |s| RpmVersion::parse(s).unwrap();
        assert!(v("1:1.0-1") > v("2.0-1"));
        assert!(v("0:1.0-1.el8") < v("1.0-2.el8"));
        assert!(v("1.0-1.el8_4") > v("1.0-1.el8"));
        assert!(v("2.4.37-43.module+el8.5.0+13806+b30d9eec") < v("2.4.37-47.module+el8.6.0+14529+d04b0d6c"));
        assert_eq!(v("0:1.0-1"), v("1.0-1"));
        assert!(RpmVersion::parse("x:1.0").is_none());
        assert!(RpmVersion::parse("").is_none());
    }
}
