//! Alpine (apk) versions, Gentoo style: `digit{.digit}...{letter}{_suffix{number}}...{-rN}`, ordered as apk-tools 2
//! does.
//!
//! The string is read as a sequence of typed tokens. The first token is a number; after it come dot-separated
//! numbers (a number with leading zeros after a dot compares like a decimal fraction: `1.01 < 1.1`), one optional
//! lowercase letter, suffixes (`_alpha`, `_beta`, `_pre`, `_rc` before the release; `_cvs`, `_svn`, `_git`, `_hg`,
//! `_p` after it), each with an optional number, and finally a package revision `-rN`. Two versions are compared
//! token by token; when one runs out first, the longer one is newer unless its next token is a pre-release suffix.

use std::cmp::Ordering;

/// Token kinds in the order apk-tools gives them; a version must use them in non-decreasing order (with a few
/// allowed steps back, see [`Lexer::advance`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    DigitOrZero,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    RevisionNo,
    End,
    Invalid,
}

const PRE_SUFFIXES: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST_SUFFIXES: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

struct Lexer<'a> {
    rest: &'a [u8],
    kind: Kind,
}

impl<'a> Lexer<'a> {
    fn new(s: &'a str) -> Self {
        Self { rest: s.as_bytes(), kind: if s.is_empty() { Kind::End } else { Kind::Digit } }
    }

    /// Reads the value of the current token and moves to the next one.
    fn token(&mut self) -> i64 {
        if self.rest.is_empty() {
            self.kind = Kind::End;
            return 0;
        }
        let mut value: i64 = 0;
        let mut len = 0;
        let mut next = None;
        match self.kind {
            Kind::DigitOrZero if self.rest[0] == b'0' => {
                // Leading zeros after a dot: the more zeros, the smaller ("1.001 < 1.01 < 1.1").
                while len < self.rest.len() && self.rest[len] == b'0' {
                    len += 1;
                }
                value = -(len as i64);
                next = Some(Kind::Digit);
            }
            Kind::DigitOrZero | Kind::Digit | Kind::SuffixNo | Kind::RevisionNo => {
                while len < self.rest.len() && self.rest[len].is_ascii_digit() {
                    value = value.saturating_mul(10).saturating_add(i64::from(self.rest[len] - b'0'));
                    len += 1;
                }
            }
            Kind::Letter => {
                value = i64::from(self.rest[0]);
                len = 1;
            }
            Kind::Suffix => {
                if let Some(i) = PRE_SUFFIXES.iter().position(|s| self.rest.starts_with(s.as_bytes())) {
                    value = i as i64 - PRE_SUFFIXES.len() as i64;
                    len = PRE_SUFFIXES[i].len();
                } else if let Some(i) = POST_SUFFIXES.iter().position(|s| self.rest.starts_with(s.as_bytes())) {
                    value = i as i64;
                    len = POST_SUFFIXES[i].len();
                } else {
                    self.kind = Kind::Invalid;
                    return -1;
                }
            }
            Kind::End | Kind::Invalid => {
                self.kind = Kind::Invalid;
                return -1;
            }
        }
        self.rest = &self.rest[len..];
        if self.rest.is_empty() {
            self.kind = Kind::End;
        } else if let Some(next) = next {
            self.kind = next;
        } else {
            self.advance();
        }
        value
    }

    /// Works out the kind of the next token from the separator or character class, consuming separators.
    fn advance(&mut self) {
        let c = self.rest[0];
        let prev = self.kind;
        let mut next = Kind::Invalid;
        if matches!(prev, Kind::Digit | Kind::DigitOrZero) && c.is_ascii_lowercase() {
            next = Kind::Letter;
        } else if prev == Kind::Letter && c.is_ascii_digit() {
            next = Kind::Digit;
        } else if prev == Kind::Suffix && c.is_ascii_digit() {
            next = Kind::SuffixNo;
        } else {
            match c {
                b'.' => next = Kind::DigitOrZero,
                b'_' => next = Kind::Suffix,
                b'-' if self.rest.get(1) == Some(&b'r') => {
                    next = Kind::RevisionNo;
                    self.rest = &self.rest[1..];
                }
                _ => {}
            }
            self.rest = &self.rest[1..];
        }
        // Tokens must come in order; only these steps back are allowed.
        if next < prev {
            let allowed = matches!(
                (next, prev),
                (Kind::DigitOrZero, Kind::Digit) | (Kind::Suffix, Kind::SuffixNo) | (Kind::Digit, Kind::Letter)
            );
            if !allowed {
                next = Kind::Invalid;
            }
        }
        self.kind = next;
    }
}

/// Whether `s` is a well-formed apk version. Like apk-tools' own check, but a version must also start with a digit.
pub fn is_valid(s: &str) -> bool {
    if !s.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    let mut lexer = Lexer::new(s);
    while !matches!(lexer.kind, Kind::End | Kind::Invalid) {
        lexer.token();
    }
    lexer.kind == Kind::End
}

/// Compares two apk versions (apk-tools' `apk_version_compare`).
pub fn compare(a: &str, b: &str) -> Ordering {
    let mut la = Lexer::new(a);
    let mut lb = Lexer::new(b);
    let (mut va, mut vb) = (0, 0);
    while la.kind == lb.kind && !matches!(la.kind, Kind::End | Kind::Invalid) && va == vb {
        va = la.token();
        vb = lb.token();
    }
    if va != vb {
        return va.cmp(&vb);
    }
    if la.kind == lb.kind {
        return Ordering::Equal;
    }
    // Equal so far and one continues: it is newer, unless what follows is a pre-release suffix.
    if la.kind == Kind::Suffix && peek_suffix(&la) < 0 {
        return Ordering::Less;
    }
    if lb.kind == Kind::Suffix && peek_suffix(&lb) < 0 {
        return Ordering::Greater;
    }
    lb.kind.cmp(&la.kind)
}

fn peek_suffix(lexer: &Lexer<'_>) -> i64 {
    let mut copy = Lexer { rest: lexer.rest, kind: lexer.kind };
    copy.token()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering() {
        // Ascending; every version is lower than every later one. Alpine package versions always carry `-rN`.
        let ascending = [
            "0.9-r0",
            "1.0_alpha-r0",
            "1.0_alpha1-r0",
            "1.0_alpha2-r0",
            "1.0_beta-r0",
            "1.0_beta3-r0",
            "1.0_pre1-r0",
            "1.0_rc1-r0",
            "1.0_rc1-r1",
            "1.0-r0",
            "1.0-r1",
            "1.0-r2",
            "1.0-r10",
            "1.0_cvs1-r0",
            "1.0_git20230101-r0",
            "1.0_p1-r0",
            "1.0_p1-r1",
            "1.0_p2-r0",
            "1.0a-r0",
            "1.0b-r0",
            "1.01-r0",
            "1.1_alpha1-r0",
            "1.1-r0",
            "1.2-r0",
            "1.2.3-r0",
            "1.10-r0",
            "2-r0",
            "2.0_rc1-r0",
            "3.0.8-r0",
            "3.0.8-r1",
            "3.0.12-r0",
            "20230101-r0",
        ];
        for (i, a) in ascending.iter().enumerate() {
            assert!(is_valid(a), "{a} is valid");
            assert_eq!(compare(a, a), Ordering::Equal, "{a} == {a}");
            for b in &ascending[i + 1..] {
                assert_eq!(compare(a, b), Ordering::Less, "{a} < {b}");
                assert_eq!(compare(b, a), Ordering::Greater, "{b} > {a}");
            }
        }
    }

    #[test]
    fn known_pairs() {
        use Ordering::*;
        // Checked against apk-tools 2 (`apk version -t`) and its version.data test table.
        let cases = [
            ("3.1.4-r5", "3.1.4-r6", Less),
            ("1.36.1-r15", "1.36.1-r2", Greater),
            ("1.2.4_git20230717-r4", "1.2.4-r4", Greater),
            ("1.2.4_git20230717-r4", "1.2.5-r0", Less),
            ("9.4_p1-r0", "9.4-r5", Greater),
            ("1.1", "1.1_alpha1", Greater),
            ("1.2.1", "1.2", Greater),
            ("1.0.4-r4", "1.6", Less),
            ("0.7-r1", "1.0.0", Less),
            ("2.3.0b-r1", "2.3.0b-r2", Less),
            ("3.1_p16", "3.1_p17", Less),
            ("1.06-r6", "006", Less),
            ("2.01.01_alpha10", "0.94", Greater),
            ("1.0", "0.99.3.20040818", Greater),
            ("2.5.1-r8", "2.5.1a-r1", Less),
            ("0.10.0", "0.10.1_rc1", Less),
            ("1.2.07.8", "1.2.12.04", Less),
            ("0.20070118", "0.20070207_rc1", Less),
            ("4.5_p1-r1", "4.5_p1", Greater),
            ("2.9.11_pre20051101-r3", "2.9.11_pre20051101", Greater),
            ("0.9.28.1", "087-r1", Less),
            ("20040406-r1", "2.12r-r4", Greater),
            ("1.0.0_pre20191002222144-r0", "1.0.0_pre20210530193627-r0", Less),
            ("1.0_p10-r0", "1.0_p9-r0", Greater),
            ("1.3-r0", "1.3.1-r0", Less),
            // Leading zeros after a dot compare like decimal fractions.
            ("1.01", "1.1", Less),
            ("1.001", "1.01", Less),
            ("2.15.05-r0", "2.16.01-r0", Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
            assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn zero_component_quirk() {
        // apk-tools 2 reads a ".0" component as a zero-run token after which a suffix is not seen as a
        // pre-release when the other version ends there: "1.0_alpha" > "1.0" but "1.1_alpha" < "1.1". Real Alpine
        // versions carry "-rN", which hides the quirk.
        assert_eq!(compare("1.0_alpha", "1.0"), Ordering::Greater);
        assert_eq!(compare("1.1_alpha", "1.1"), Ordering::Less);
        assert_eq!(compare("1.0_alpha-r0", "1.0-r0"), Ordering::Less);
        assert_eq!(compare("1.0", "1.0-r0"), Ordering::Less);
    }

    #[test]
    fn invalid() {
        for bad in ["", "1.0-beta", "1.0_foo", "1.0A", "v1.0", "1.0-r1a", "abc", "1.0 r1"] {
            assert!(!is_valid(bad), "{bad:?} should be invalid");
        }
    }
}
