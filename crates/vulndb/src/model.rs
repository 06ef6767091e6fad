//! The in-memory form of affected ranges and how a version is evaluated against them (the OSV schema's
//! `IsVulnerable`, with events pre-sorted by the ecosystem's ordering).

use std::borrow::Cow;
use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::version::{Scheme, Version};

/// The kind of a range event, serialized as one letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum EventKind {
    #[serde(rename = "i")]
    Introduced,
    #[serde(rename = "f")]
    Fixed,
    #[serde(rename = "l")]
    LastAffected,
    #[serde(rename = "x")]
    Limit,
}

impl EventKind {
    pub fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "introduced" => EventKind::Introduced,
            "fixed" => EventKind::Fixed,
            "last_affected" => EventKind::LastAffected,
            "limit" => EventKind::Limit,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Bound {
    /// `introduced: "0"`: before every version.
    Zero,
    /// A `limit` containing `*`: after every version.
    Infinite,
    At(Version),
    /// Kept only in ranges whose ecosystem has no known ordering; never evaluated.
    Unparsed,
}

impl Bound {
    /// How `v` compares with this bound; `None` if they cannot be compared.
    fn version_cmp(&self, v: &Version) -> Option<Ordering> {
        match self {
            Bound::Zero => Some(Ordering::Greater),
            Bound::Infinite => Some(Ordering::Less),
            Bound::At(b) => v.compare(b),
            Bound::Unparsed => None,
        }
    }

    fn sort_key_cmp(&self, other: &Bound) -> Ordering {
        match (self, other) {
            (Bound::Zero, Bound::Zero) | (Bound::Infinite, Bound::Infinite) => Ordering::Equal,
            (Bound::Zero, _) | (_, Bound::Infinite) => Ordering::Less,
            (_, Bound::Zero) | (Bound::Infinite, _) => Ordering::Greater,
            (Bound::At(a), Bound::At(b)) => a.compare(b).unwrap_or(Ordering::Equal),
            _ => Ordering::Equal,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Event {
    pub kind: EventKind,
    pub raw: String,
    pub bound: Bound,
}

/// One `ECOSYSTEM` or `SEMVER` range with its events sorted by version (ties keep the file's order).
#[derive(Clone, Debug)]
pub(crate) struct Range {
    /// `None` when the ecosystem's ordering is unknown: the range is stored but never matches.
    pub scheme: Option<Scheme>,
    /// The range was of type `SEMVER` (rather than `ECOSYSTEM`).
    pub semver: bool,
    pub events: Vec<Event>,
}

impl Range {
    /// Builds a range, parsing and sorting its events; an error names the first version that does not parse.
    pub fn new(scheme: Option<Scheme>, semver: bool, raw: Vec<(EventKind, String)>) -> Result<Range, String> {
        let mut events = Vec::with_capacity(raw.len());
        for (kind, raw) in raw {
            let bound = if kind == EventKind::Introduced && raw.trim() == "0" {
                Bound::Zero
            } else if kind == EventKind::Limit && raw.contains('*') {
                Bound::Infinite
            } else if let Some(scheme) = scheme {
                match scheme.parse(&raw) {
                    Some(v) => Bound::At(v),
                    None => return Err(format!("version {raw:?} is not valid for this ecosystem")),
                }
            } else {
                Bound::Unparsed
            };
            events.push(Event { kind, raw, bound });
        }
        if !events.iter().any(|e| e.kind == EventKind::Introduced) {
            return Err("range has no \"introduced\" event".to_owned());
        }
        if scheme.is_some() {
            events.sort_by(|a, b| a.bound.sort_key_cmp(&b.bound));
        }
        Ok(Range { scheme, semver, events })
    }

    /// Whether `v` lies in this range (the OSV schema's `IncludedInRanges` for one range).
    pub fn contains(&self, v: &Version) -> bool {
        if self.scheme.is_none() {
            return false;
        }
        let mut limits = self.events.iter().filter(|e| e.kind == EventKind::Limit).peekable();
        if limits.peek().is_some() && !limits.any(|l| l.bound.version_cmp(v) == Some(Ordering::Less)) {
            return false;
        }
        let mut vulnerable = false;
        for e in &self.events {
            let ord = e.bound.version_cmp(v);
            match e.kind {
                EventKind::Introduced if matches!(ord, Some(Ordering::Greater | Ordering::Equal)) => vulnerable = true,
                EventKind::Fixed if matches!(ord, Some(Ordering::Greater | Ordering::Equal)) => vulnerable = false,
                EventKind::LastAffected if ord == Some(Ordering::Greater) => vulnerable = false,
                _ => {}
            }
        }
        vulnerable
    }
}

/// An explicitly listed affected version.
#[derive(Clone, Debug)]
pub(crate) struct Listed {
    pub raw: String,
    pub parsed: Option<Version>,
}

/// One `affected[]` entry of one advisory for one package.
#[derive(Clone, Debug)]
pub(crate) struct Affected {
    /// Index of the advisory in the database.
    pub advisory: u32,
    pub ranges: Vec<Range>,
    /// Listed versions not already covered by `ranges` (covered ones are dropped at import: same result, smaller).
    pub versions: Vec<Listed>,
}

/// An installed version, parsed lazily for each scheme a range asks for.
pub(crate) struct Installed<'a> {
    raw: &'a str,
    parsed: Vec<(Scheme, Option<Cow<'a, Version>>)>,
}

impl<'a> Installed<'a> {
    pub fn new(raw: &'a str) -> Self {
        Self { raw: raw.trim(), parsed: Vec::with_capacity(2) }
    }

    pub fn raw(&self) -> &'a str {
        self.raw
    }

    pub fn get(&mut self, scheme: Scheme) -> Option<&Version> {
        let i = match self.parsed.iter().position(|(s, _)| *s == scheme) {
            Some(i) => i,
            None => {
                self.parsed.push((scheme, scheme.parse(self.raw).map(Cow::Owned)));
                self.parsed.len() - 1
            }
        };
        self.parsed[i].1.as_deref()
    }
}

impl Affected {
    /// Whether the installed version is affected by this entry (listed, or inside any range). `scheme` is the
    /// ecosystem's ordering, used to compare listed versions.
    pub fn evaluate(&self, installed: &mut Installed<'_>, scheme: Option<Scheme>) -> bool {
        for range in &self.ranges {
            let Some(range_scheme) = range.scheme else { continue };
            if installed.get(range_scheme).is_some_and(|v| range.contains(v)) {
                return true;
            }
        }
        self.is_listed(installed, scheme)
    }

    /// The `fixed` events above the installed version, each with the scheme its version is in.
    pub fn fixes_above<'s>(&'s self, installed: &mut Installed<'_>, out: &mut Vec<(Scheme, &'s Event)>) {
        for range in &self.ranges {
            let Some(range_scheme) = range.scheme else { continue };
            let Some(v) = installed.get(range_scheme) else { continue };
            out.extend(
                range
                    .events
                    .iter()
                    .filter(|e| e.kind == EventKind::Fixed && e.bound.version_cmp(v) == Some(Ordering::Less))
                    .map(|e| (range_scheme, e)),
            );
        }
    }

    fn is_listed(&self, installed: &mut Installed<'_>, scheme: Option<Scheme>) -> bool {
        if self.versions.is_empty() {
            return false;
        }
        let raw = installed.raw();
        let parsed = scheme.and_then(|s| installed.get(s));
        self.versions.iter().any(|l| {
            l.raw == raw || matches!((&l.parsed, parsed), (Some(a), Some(b)) if a.compare(b) == Some(Ordering::Equal))
        })
    }

    /// Whether a version (as text, and already parsed in `parsed_in`) is affected by this entry; `scheme` is the
    /// ecosystem's ordering, used for listed versions.
    pub fn affects(&self, raw: &str, parsed_in: Scheme, parsed: &Version, scheme: Option<Scheme>) -> bool {
        let mut installed = Installed::new(raw);
        installed.parsed.push((parsed_in, Some(Cow::Borrowed(parsed))));
        self.evaluate(&mut installed, scheme)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(scheme: Scheme, events: &[(EventKind, &str)]) -> Range {
        Range::new(Some(scheme), false, events.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()).unwrap()
    }

    fn contains(r: &Range, v: &str) -> bool {
        r.contains(&r.scheme.unwrap().parse(v).unwrap())
    }

    use EventKind::*;

    #[test]
    fn unsorted_events_and_multiple_pairs() {
        let r =
            range(Scheme::Semver, &[(Fixed, "3.2.5"), (Introduced, "1.0.0"), (Introduced, "3.0.0"), (Fixed, "1.0.2")]);
        assert!(!contains(&r, "0.9.0"));
        assert!(contains(&r, "1.0.0"));
        assert!(contains(&r, "1.0.1"));
        assert!(!contains(&r, "1.0.2"));
        assert!(!contains(&r, "2.9.9"));
        assert!(contains(&r, "3.0.0"));
        assert!(!contains(&r, "3.2.5"));
    }

    #[test]
    fn introduced_zero_and_no_fix() {
        let r = range(Scheme::Dpkg, &[(Introduced, "0")]);
        assert!(contains(&r, "0"));
        assert!(contains(&r, "1:99.0-1"));
    }

    #[test]
    fn last_affected_is_inclusive() {
        let r = range(Scheme::Pep440, &[(Introduced, "0"), (LastAffected, "2.0")]);
        assert!(contains(&r, "2.0"));
        assert!(contains(&r, "2.0.0"));
        assert!(!contains(&r, "2.0.post1"));
    }

    #[test]
    fn limit() {
        let r = range(Scheme::Semver, &[(Introduced, "1.0.0"), (Limit, "2.0.0")]);
        assert!(contains(&r, "1.5.0"));
        assert!(!contains(&r, "2.0.0"));
        let r = range(Scheme::Semver, &[(Introduced, "1.0.0"), (Limit, "*")]);
        assert!(contains(&r, "99.0.0"));
        // Several limits: below any of them.
        let r = range(Scheme::Semver, &[(Introduced, "0"), (Limit, "1.0.0"), (Limit, "3.0.0")]);
        assert!(contains(&r, "2.0.0"));
        assert!(!contains(&r, "3.0.0"));
    }

    #[test]
    fn unparseable_bound_is_an_error() {
        let err = Range::new(Some(Scheme::Semver), true, vec![(Introduced, "0".into()), (Fixed, "banana".into())]);
        assert!(err.unwrap_err().contains("banana"));
        let err = Range::new(Some(Scheme::Semver), true, vec![(Fixed, "1.0.0".into())]);
        assert!(err.unwrap_err().contains("introduced"));
    }

    #[test]
    fn unknown_scheme_never_matches() {
        let r = Range::new(None, false, vec![(Introduced, "0".into())]).unwrap();
        let v = Scheme::Semver.parse("1.0.0").unwrap();
        assert!(!r.contains(&v));
    }
}
