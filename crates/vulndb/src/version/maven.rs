//! Maven versions, ordered like Maven's `ComparableVersion`: the string is split at `.` and `-` and at every
//! switch between digits and letters; `-` and a digit/letter switch open a nested list. Numbers compare
//! numerically; known qualifiers order `alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release <
//! sp`, unknown qualifiers come after them (alphabetically); trailing zeros and release qualifiers are insignificant.

use std::cmp::Ordering;

#[derive(Clone, Debug)]
enum Item {
    /// Digits without leading zeros.
    Int(String),
    /// The comparable form of a qualifier: its index among the known qualifiers, or `7-<name>`.
    Str(String),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const RELEASE: &str = "5";

fn qualifier(s: &str, followed_by_digit: bool) -> Item {
    let s = match s {
        "a" if followed_by_digit => "alpha",
        "b" if followed_by_digit => "beta",
        "m" if followed_by_digit => "milestone",
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    };
    match QUALIFIERS.iter().position(|q| *q == s) {
        Some(i) => Item::Str(i.to_string()),
        None => Item::Str(format!("{}-{s}", QUALIFIERS.len())),
    }
}

fn item(s: &str, digits: bool) -> Item {
    if digits { Item::Int(s.trim_start_matches('0').to_owned()) } else { qualifier(s, false) }
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Int(n) => n.is_empty(),
            Item::Str(s) => s == RELEASE,
            Item::List(l) => l.is_empty(),
        }
    }

    /// Compares with another item, `None` standing for "nothing" (padding).
    fn compare(&self, other: Option<&Item>) -> Ordering {
        match (self, other) {
            (Item::Int(n), None) => {
                if n.is_empty() {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Item::Int(a), Some(Item::Int(b))) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Item::Int(_), Some(_)) => Ordering::Greater,
            (Item::Str(s), None) => s.as_str().cmp(RELEASE),
            (Item::Str(_), Some(Item::Int(_))) => Ordering::Less,
            (Item::Str(a), Some(Item::Str(b))) => a.cmp(b),
            (Item::Str(_), Some(Item::List(_))) => Ordering::Less,
            (Item::List(l), None) => match l.first() {
                None => Ordering::Equal,
                Some(first) => first.compare(None),
            },
            (Item::List(_), Some(Item::Int(_))) => Ordering::Less,
            (Item::List(_), Some(Item::Str(_))) => Ordering::Greater,
            (Item::List(a), Some(Item::List(b))) => compare_lists(a, b),
        }
    }
}

fn compare_lists(a: &[Item], b: &[Item]) -> Ordering {
    for i in 0..a.len().max(b.len()) {
        let ord = match (a.get(i), b.get(i)) {
            (Some(l), r) => l.compare(r),
            (None, Some(r)) => r.compare(None).reverse(),
            (None, None) => Ordering::Equal,
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Removes trailing null items (zeros, release qualifiers, empty lists) up to the last nested list.
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if list[i].is_null() {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

/// A parsed Maven version.
#[derive(Clone, Debug)]
pub struct MavenVersion {
    items: Vec<Item>,
}

impl MavenVersion {
    /// Parses a version; `None` only for an empty string or whitespace inside.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        if s.is_empty() || s.chars().any(char::is_whitespace) {
            return None;
        }
        // A stack of open lists; each nested list is attached to its parent when closed.
        let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
        let mut digits = false;
        let mut start = 0;
        let bytes = s.as_bytes();
        for (i, &c) in bytes.iter().enumerate() {
            if c == b'.' || c == b'-' {
                let list = stack.last_mut().expect("stack never empty");
                if i == start {
                    list.push(Item::Int(String::new()));
                } else {
                    list.push(item(&s[start..i], digits));
                }
                start = i + 1;
                if c == b'-' {
                    stack.push(Vec::new());
                }
            } else if c.is_ascii_digit() {
                if !digits && i > start {
                    stack.last_mut().expect("stack never empty").push(qualifier(&s[start..i], true));
                    start = i;
                    stack.push(Vec::new());
                }
                digits = true;
            } else {
                if digits && i > start {
                    stack.last_mut().expect("stack never empty").push(item(&s[start..i], true));
                    start = i;
                    stack.push(Vec::new());
                }
                digits = false;
            }
        }
        if s.len() > start {
            // A trailing ".X" qualifier counts as "-X" (1.0.0.X1 < 1.0.0-X2).
            if !digits && !stack.last().expect("stack never empty").is_empty() {
                stack.push(Vec::new());
            }
            stack.last_mut().expect("stack never empty").push(item(&s[start..], digits));
        }
        while stack.len() > 1 {
            let mut list = stack.pop().expect("checked length");
            normalize(&mut list);
            stack.last_mut().expect("checked length").push(Item::List(list));
        }
        let mut items = stack.pop().expect("stack never empty");
        normalize(&mut items);
        Some(Self { items })
    }
}

impl PartialEq for MavenVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for MavenVersion {}

impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_lists(&self.items, &other.items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> MavenVersion {
        MavenVersion::parse(s).unwrap()
    }

    fn assert_ascending(list: &[&str]) {
        for (i, a) in list.iter().enumerate() {
            for b in &list[i + 1..] {
                assert_eq!(v(a).cmp(&v(b)), Ordering::Less, "{a} < {b}");
                assert_eq!(v(b).cmp(&v(a)), Ordering::Greater, "{b} > {a}");
            }
        }
    }

    #[test]
    fn qualifiers() {
        // From Maven's ComparableVersionTest.
        assert_ascending(&[
            "1-alpha2snapshot",
            "1-alpha2",
            "1-alpha-123",
            "1-beta-2",
            "1-beta123",
            "1-m2",
            "1-m11",
            "1-rc",
            "1-cr2",
            "1-rc123",
            "1-SNAPSHOT",
            "1",
            "1-sp",
            "1-sp2",
            "1-sp123",
            "1-abc",
            "1-def",
            "1-pom-1",
            "1-1-snapshot",
            "1-1",
            "1-2",
            "1-123",
        ]);
    }

    #[test]
    fn numbers() {
        assert_ascending(&[
            "2.0", "2.0.a", "2-1", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b", "2.1-c", "2.1-1", "2.1.0.1", "2.2",
            "2.123", "11.a2", "11.a11", "11.b2", "11.b11", "11.m2", "11.m11", "11", "11.a", "11b", "11c", "11m",
        ]);
    }

    #[test]
    fn equivalences() {
        for (a, b) in [
            ("1", "1.0.0"),
            ("1", "1-0"),
            ("1.0", "1-ga"),
            ("1", "1.final"),
            ("1", "1-RELEASE"),
            ("1a", "1-a"),
            ("1a1", "1-alpha-1"),
            ("1b2", "1-beta-2"),
            ("1m3", "1-milestone-3"),
            ("1X", "1x"),
            ("1-cr1", "1-rc-1"),
            ("2.12.7.1", "2.12.7.1"),
        ] {
            assert_eq!(v(a), v(b), "{a} == {b}");
        }
        // Versions seen in GHSA records.
        assert!(v("2.9.10.8") < v("2.9.10.9"));
        assert!(v("5.3.0.RELEASE") < v("5.3.18"));
        assert!(v("1.4.0-rc.1") < v("1.4.0"));
        assert!(v("31.1-jre") < v("32.0.0-android"));
    }
}
