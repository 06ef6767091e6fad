//! Debian package versions: `[epoch:]upstream[-revision]`, ordered as `dpkg --compare-versions` does.
//!
//! Both the upstream part and the revision are compared with dpkg's `verrevcmp`: alternating runs of non-digits
//! (compared character by character, where `~` sorts before everything, even the end of the string, and letters sort
//! before other characters) and runs of digits (compared as numbers).

use std::cmp::Ordering;

/// A parsed Debian version.
#[derive(Clone, Debug)]
pub struct DpkgVersion {
    epoch: u64,
    upstream: String,
    revision: String,
}

impl DpkgVersion {
    /// Parses a version; `None` if it is empty, has a non-numeric epoch or characters dpkg does not allow.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => {
                if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                (e.parse().ok()?, rest)
            }
            None => (0, s),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        if upstream.is_empty() || rest.ends_with('-') {
            return None;
        }
        // Upstream may contain hyphens (a revision then exists) and colons (an epoch then exists).
        let upstream_ok = upstream.bytes().all(|b| b.is_ascii_alphanumeric() || b".+~-:".contains(&b));
        let revision_ok = revision.bytes().all(|b| b.is_ascii_alphanumeric() || b".+~".contains(&b));
        if !upstream_ok || !revision_ok {
            return None;
        }
        Some(Self { epoch, upstream: upstream.to_owned(), revision: revision.to_owned() })
    }
}

impl PartialEq for DpkgVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DpkgVersion {}

impl PartialOrd for DpkgVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DpkgVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(&self.upstream, &other.upstream))
            .then_with(|| verrevcmp(&self.revision, &other.revision))
    }
}

/// The weight of a non-digit character: `~` lowest (below the end of the string), then the end, then letters,
/// then everything else.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // Non-digit prefix, compared character by character.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        // Digit run, compared numerically (without overflow: skip zeros, then longer wins, then lexically).
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let si = i;
        let sj = j;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let ord = (i - si).cmp(&(j - sj)).then_with(|| a[si..i].cmp(&b[sj..j]));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        DpkgVersion::parse(a).unwrap().cmp(&DpkgVersion::parse(b).unwrap())
    }

    #[test]
    fn orders_like_dpkg() {
        // Each pair was checked with `dpkg --compare-versions`.
        let less = [
            ("1.0~rc1", "1.0"),
            ("1.0~rc1", "1.0~rc2"),
            ("1.0~~", "1.0~"),
            ("1.0~", "1.0"),
            ("1.0", "1.0a"),
            ("1.0a", "1.0+"),
            ("1.0", "1.0.1"),
            ("1.0", "1.0-1"),
            ("2.0", "1:0.9"),
            ("1:0.9", "2:0.1"),
            ("1.2.3", "1.2.10"),
            ("5.36.0-7+deb12u3", "5.36.0-7+deb12u4"),
            ("5.36.0-7", "5.36.0-7+deb12u1"),
            ("252.17-1~deb12u1", "252.17-1"),
            ("252.16-1", "252.17-1~deb12u1"),
            ("10.42-1", "10.42-1+deb12u2"),
            ("2.6.1", "2.6.2"),
            ("2026b-0+deb12u1", "2026f-0+deb12u1"),
            ("1.0-1", "1.0-1.1"),
            ("1.0-1", "1.0-1a"),
            ("9", "10"),
            ("1.0-9", "1.0-10"),
            ("0.99999999999999999999999", "0.100000000000000000000000"),
            ("1.2.3-1ubuntu1", "1.2.3-1ubuntu2"),
            ("1.0+dfsg-1", "1.0.1-1"),
            ("4.3-1", "4.3-b"),
            ("1.18.25", "1.18.25+b1"),
        ];
        for (a, b) in less {
            assert_eq!(cmp(a, b), Ordering::Less, "{a} < {b}");
            assert_eq!(cmp(b, a), Ordering::Greater, "{b} > {a}");
        }
        let equal = [("1.0", "1.0"), ("0:1.0", "1.0"), ("1.0-0", "1.0"), ("1.01", "1.1"), ("1.0-00", "1.0")];
        for (a, b) in equal {
            assert_eq!(cmp(a, b), Ordering::Equal, "{a} == {b}");
        }
    }

    #[test]
    fn hyphens_and_colons_in_upstream() {
        // The revision is after the last hyphen; the epoch before the first colon.
        assert_eq!(cmp("1:1.0-rc-1", "1:1.0-rc-2"), Ordering::Less);
        assert_eq!(cmp("1:2:3-1", "1:2:4-1"), Ordering::Less);
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "a:1.0", ":1.0", "1.0-", "-1", "1.0 beta", "1.0-1_2", "1.0/2"] {
            assert!(DpkgVersion::parse(bad).is_none(), "{bad:?} should not parse");
        }
    }
}
