//! Severity levels and how an OSV record's severity is derived.

use std::cmp::Ordering;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::osv::{OsvRecord, OsvSeverity};

/// How severe an advisory is, in the levels ECR reports. Ordered from `Undefined` (lowest) to `Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Informational,
    Undefined,
}

impl Severity {
    /// The upper-case name: `CRITICAL`, `HIGH`, `MEDIUM`, `LOW`, `INFORMATIONAL`, `UNDEFINED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::High => "HIGH",
            Severity::Medium => "MEDIUM",
            Severity::Low => "LOW",
            Severity::Informational => "INFORMATIONAL",
            Severity::Undefined => "UNDEFINED",
        }
    }

    fn rank(self) -> u8 {
        match self {
            Severity::Critical => 5,
            Severity::High => 4,
            Severity::Medium => 3,
            Severity::Low => 2,
            Severity::Informational => 1,
            Severity::Undefined => 0,
        }
    }

    /// The level for a CVSS base score: CRITICAL ≥ 9, HIGH ≥ 7, MEDIUM ≥ 4, LOW > 0, else INFORMATIONAL.
    pub fn from_cvss_score(score: f64) -> Severity {
        if score >= 9.0 {
            Severity::Critical
        } else if score >= 7.0 {
            Severity::High
        } else if score >= 4.0 {
            Severity::Medium
        } else if score > 0.0 {
            Severity::Low
        } else {
            Severity::Informational
        }
    }

    /// A qualitative rating as databases write it (`HIGH`, `MODERATE`, `important`, `negligible`...), or `None`.
    pub fn from_label(label: &str) -> Option<Severity> {
        Some(match label.trim().to_ascii_uppercase().as_str() {
            "CRITICAL" => Severity::Critical,
            "HIGH" | "IMPORTANT" => Severity::High,
            "MODERATE" | "MEDIUM" => Severity::Medium,
            "LOW" | "NEGLIGIBLE" => Severity::Low,
            "NONE" | "INFO" | "INFORMATIONAL" | "UNIMPORTANT" => Severity::Informational,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "UNDEFINED" => Ok(Severity::Undefined),
            other => Severity::from_label(other).ok_or_else(|| format!("unknown severity {s:?}")),
        }
    }
}

impl PartialOrd for Severity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Severity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank().cmp(&other.rank())
    }
}

/// The severity of a record, with the CVSS score and vector it came from (if any).
pub(crate) struct Derived {
    pub severity: Severity,
    pub score: Option<f64>,
    pub vector: Option<String>,
}

/// Derives a record's severity:
/// 1. a CVSS vector from `severity[]` (top level, else any `affected[].severity[]`), preferring v3, then v4,
///    then v2, scored with the `cvss` crate;
/// 2. else an `Ubuntu` priority from those lists;
/// 3. else a label in `database_specific.severity` (GHSA), `affected[].ecosystem_specific.severity` or
///    `affected[].database_specific.severity`;
/// 4. else INFORMATIONAL for RustSec informational advisories (`unmaintained`, `unsound`, `notice`);
/// 5. else UNDEFINED.
pub(crate) fn derive(record: &OsvRecord) -> Derived {
    let mut entries: Vec<&OsvSeverity> = record.severity.iter().collect();
    for affected in &record.affected {
        entries.extend(affected.severity.iter());
    }
    for kind in ["CVSS_V3", "CVSS_V4", "CVSS_V2"] {
        for entry in entries.iter().filter(|e| e.kind.eq_ignore_ascii_case(kind)) {
            if let Ok(cvss) = cvss::Cvss::from_str(entry.score.trim()) {
                let score = cvss.score();
                return Derived {
                    severity: Severity::from_cvss_score(score),
                    score: Some(score),
                    vector: Some(entry.score.trim().to_owned()),
                };
            }
        }
    }
    let label =
        |v: Option<&Value>| v.and_then(|v| v.get("severity")).and_then(Value::as_str).and_then(Severity::from_label);
    let found = entries
        .iter()
        .filter(|e| e.kind.eq_ignore_ascii_case("Ubuntu"))
        .find_map(|e| Severity::from_label(&e.score))
        .or_else(|| label(record.database_specific.as_ref()))
        .or_else(|| record.affected.iter().find_map(|a| label(a.ecosystem_specific.as_ref())))
        .or_else(|| record.affected.iter().find_map(|a| label(a.database_specific.as_ref())))
        .or_else(|| {
            let informational = record.affected.iter().any(|a| {
                a.database_specific.as_ref().and_then(|d| d.get("informational")).is_some_and(Value::is_string)
            });
            informational.then_some(Severity::Informational)
        });
    Derived { severity: found.unwrap_or(Severity::Undefined), score: None, vector: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_and_names() {
        let mut all = [
            Severity::Low,
            Severity::Undefined,
            Severity::Critical,
            Severity::Informational,
            Severity::High,
            Severity::Medium,
        ];
        all.sort_by(|a, b| b.cmp(a));
        let names: Vec<_> = all.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"]);
        assert_eq!(serde_json::to_string(&Severity::Informational).unwrap(), "\"INFORMATIONAL\"");
        assert_eq!(serde_json::from_str::<Severity>("\"CRITICAL\"").unwrap(), Severity::Critical);
        assert_eq!("moderate".parse::<Severity>().unwrap(), Severity::Medium);
    }

    #[test]
    fn scores() {
        assert_eq!(Severity::from_cvss_score(9.8), Severity::Critical);
        assert_eq!(Severity::from_cvss_score(9.0), Severity::Critical);
        assert_eq!(Severity::from_cvss_score(8.9), Severity::High);
        assert_eq!(Severity::from_cvss_score(7.0), Severity::High);
        assert_eq!(Severity::from_cvss_score(4.0), Severity::Medium);
        assert_eq!(Severity::from_cvss_score(0.1), Severity::Low);
        assert_eq!(Severity::from_cvss_score(0.0), Severity::Informational);
    }

    fn derived(json: &str) -> Derived {
        derive(&serde_json::from_str::<OsvRecord>(json).unwrap())
    }

    #[test]
    fn derivation_order() {
        let d = derived(
            r#"{"id":"X","severity":[{"type":"CVSS_V2","score":"AV:N/AC:L/Au:N/C:C/I:C/A:C"},
                {"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N"}],
               "database_specific":{"severity":"CRITICAL"}}"#,
        );
        assert_eq!(d.severity, Severity::Low);
        assert_eq!(d.score, Some(3.7));
        assert!(d.vector.unwrap().starts_with("CVSS:3.1/"));

        let d = derived(r#"{"id":"X","severity":[{"type":"CVSS_V2","score":"AV:N/AC:L/Au:N/C:C/I:C/A:C"}]}"#);
        assert_eq!((d.severity, d.score), (Severity::Critical, Some(10.0)));

        let d = derived(
            r#"{"id":"X","severity":[{"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}]}"#,
        );
        assert_eq!(d.severity, Severity::Critical);

        let d = derived(
            r#"{"id":"X","severity":[{"type":"CVSS_V3","score":"garbage"}],"database_specific":{"severity":"MODERATE"}}"#,
        );
        assert_eq!((d.severity, d.score), (Severity::Medium, None));

        let d = derived(r#"{"id":"X","affected":[{"ecosystem_specific":{"severity":"low"}}]}"#);
        assert_eq!(d.severity, Severity::Low);

        let d = derived(r#"{"id":"X","severity":[{"type":"Ubuntu","score":"high"}]}"#);
        assert_eq!(d.severity, Severity::High);

        let d = derived(r#"{"id":"X","affected":[{"database_specific":{"informational":"unmaintained"}}]}"#);
        assert_eq!(d.severity, Severity::Informational);

        let d = derived(r#"{"id":"X","affected":[{"database_specific":{"informational":null}}]}"#);
        assert_eq!(d.severity, Severity::Undefined);
    }
}
