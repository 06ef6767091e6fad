//! RubyGems versions, ordered as `Gem::Version#<=>`: dot-separated segments, a letter starts a pre-release
//! (`1.0.a < 1.0`), `-` means `.pre.`, trailing zeros of the release and of the pre-release part are insignificant.

use std::cmp::Ordering;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Number(String),
    Text(String),
}

/// A parsed gem version.
#[derive(Clone, Debug)]
pub struct GemVersion {
    segments: Vec<Segment>,
}

impl GemVersion {
    /// Parses a version as `Gem::Version.correct?` accepts it (an empty string is `0`).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let s = if s.is_empty() { "0" } else { s };
        let (release, pre) = match s.split_once('-') {
            Some((r, p)) => (r, Some(p)),
            None => (s, None),
        };
        let mut parts = release.split('.');
        let first = parts.next()?;
        if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if !parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric())) {
            return None;
        }
        if let Some(pre) = pre
            && !pre.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        {
            return None;
        }
        let text = s.replace('-', ".pre.");
        let mut raw = Vec::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let start = i;
            if bytes[i].is_ascii_digit() {
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                let digits = text[start..i].trim_start_matches('0');
                raw.push(Segment::Number(digits.to_owned()));
            } else if bytes[i].is_ascii_alphabetic() {
                while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                    i += 1;
                }
                raw.push(Segment::Text(text[start..i].to_owned()));
            } else {
                i += 1;
            }
        }
        // Canonical segments: drop trailing zeros of the numeric part and of the part from the first text on.
        let split = raw.iter().position(|s| matches!(s, Segment::Text(_))).unwrap_or(raw.len());
        let strings = raw.split_off(split);
        let mut segments = trim_zeros(raw);
        segments.extend(trim_zeros(strings));
        Some(Self { segments })
    }
}

fn trim_zeros(mut segments: Vec<Segment>) -> Vec<Segment> {
    while matches!(segments.last(), Some(Segment::Number(n)) if n.is_empty()) {
        segments.pop();
    }
    segments
}

fn cmp_segment(a: &Segment, b: &Segment) -> Ordering {
    match (a, b) {
        (Segment::Number(a), Segment::Number(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
        (Segment::Text(_), Segment::Number(_)) => Ordering::Less,
        (Segment::Number(_), Segment::Text(_)) => Ordering::Greater,
        (Segment::Text(a), Segment::Text(b)) => a.cmp(b),
    }
}

impl PartialEq for GemVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for GemVersion {}

impl PartialOrd for GemVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for GemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let zero = Segment::Number(String::new());
        let len = self.segments.len().max(other.segments.len());
        for i in 0..len {
            let a = self.segments.get(i).unwrap_or(&zero);
            let b = other.segments.get(i).unwrap_or(&zero);
            match cmp_segment(a, b) {
                Ordering::Equal => {}
                other => return other,
            }
        }
        Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> GemVersion {
        GemVersion::parse(s).unwrap_or_else(|| panic!("{s} parses"))
    }

    #[test]
    fn ordering() {
        // Cases from RubyGems' test_gem_version.rb.
        let ascending =
            ["0.9", "1.0.a", "1.0.a.1", "1.0.b1", "1.0.rc1", "1.0", "1.0.1", "1.2.a", "1.2.b", "1.2", "1.8.2", "1.10"];
        for (i, a) in ascending.iter().enumerate() {
            for b in &ascending[i + 1..] {
                assert!(v(a) < v(b), "{a} < {b}");
            }
        }
        assert_eq!(v("1.0"), v("1"));
        assert_eq!(v("1.0.0"), v("1"));
        assert_eq!(v("1.0.a"), v("1.0.a.0"));
        assert_eq!(v("1.0-rc1"), v("1.0.pre.rc1"));
        assert!(v("1.0-1") < v("1.0"));
        assert!(v("5.a") < v("5.0.0.rc2"));
        assert!(v("5.x") > v("5.0.0.rc2"));
        assert_eq!(v(""), v("0"));
    }

    #[test]
    fn invalid() {
        for bad in ["junk", "1.0\n2.0", "1..2", "1.2 3", "a1"] {
            assert!(GemVersion::parse(bad).is_none(), "{bad:?} should not parse");
        }
    }
}
