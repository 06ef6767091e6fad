//! The immutable database and lookups.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::sync::Arc;

use crate::builder::DbBuilder;
use crate::ecosystem;
use crate::error::VulnDbError;
use crate::format;
use crate::model::{Affected, Bound, Event, Installed};
use crate::version::Scheme;
use crate::{Advisory, DbInfo, Match, PackageRef};

/// Index: canonical ecosystem → normalised package name → affected entries.
pub(crate) type Index = HashMap<String, HashMap<String, Vec<Affected>>>;

/// An immutable vulnerability database. Cheap to share (`Send + Sync`; wrap it in an `Arc`), lookups take no
/// locks and do no I/O.
pub struct VulnDb {
    info: DbInfo,
    advisories: Vec<Arc<Advisory>>,
    by_id: HashMap<String, u32>,
    by_alias: HashMap<String, Vec<u32>>,
    index: Index,
}

impl std::fmt::Debug for VulnDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VulnDb").field("info", &self.info).finish_non_exhaustive()
    }
}

impl VulnDb {
    /// A builder to import OSV records into.
    pub fn builder() -> DbBuilder {
        DbBuilder::new()
    }

    /// Puts a database together; `digest` is computed from the content when not given (a fresh build).
    pub(crate) fn assemble(
        source: String,
        imported_at: String,
        advisories: Vec<Arc<Advisory>>,
        index: Index,
        digest: Option<String>,
    ) -> Result<VulnDb, VulnDbError> {
        let mut by_id = HashMap::with_capacity(advisories.len());
        let mut by_alias: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, a) in advisories.iter().enumerate() {
            let i = u32::try_from(i).map_err(|_| VulnDbError::Corrupt("too many advisories".into()))?;
            by_id.insert(a.id.clone(), i);
            for alias in &a.aliases {
                by_alias.entry(alias.clone()).or_default().push(i);
            }
        }
        let mut ecosystems: Vec<(String, usize)> = index
            .iter()
            .map(|(eco, packages)| {
                let distinct: HashSet<u32> = packages.values().flatten().map(|a| a.advisory).collect();
                (eco.clone(), distinct.len())
            })
            .collect();
        ecosystems.sort();
        let mut db = VulnDb {
            info: DbInfo { source, imported_at, digest: String::new(), records: advisories.len(), ecosystems },
            advisories,
            by_id,
            by_alias,
            index,
        };
        db.info.digest = match digest {
            Some(d) => d,
            None => format::digest(&format::content_bytes(&db)?),
        };
        Ok(db)
    }

    /// What the database holds and where it came from.
    pub fn info(&self) -> &DbInfo {
        &self.info
    }

    /// The advisory with this id, else the first (by id) that has it as an alias (`CVE-…`, `GHSA-…`).
    pub fn advisory(&self, id: &str) -> Option<Arc<Advisory>> {
        let id = id.trim();
        let i = self.by_id.get(id).or_else(|| self.by_alias.get(id).and_then(|v| v.first()))?;
        Some(self.advisories[*i as usize].clone())
    }

    /// Every advisory that has `alias` as an alias, by id.
    pub fn advisories_with_alias(&self, alias: &str) -> Vec<Arc<Advisory>> {
        let ids = self.by_alias.get(alias.trim()).map(Vec::as_slice).unwrap_or_default();
        ids.iter().map(|i| self.advisories[*i as usize].clone()).collect()
    }

    /// All advisories, sorted by id.
    pub fn advisories(&self) -> impl Iterator<Item = &Arc<Advisory>> {
        self.advisories.iter()
    }

    /// The advisories affecting one installed package, most severe first, then by id. Empty for an unknown
    /// package or ecosystem.
    pub fn lookup(&self, pkg: &PackageRef<'_>) -> Vec<Match> {
        let eco = ecosystem::canonical(pkg.ecosystem);
        let name = ecosystem::normalize_name(&eco, pkg.name);
        let scheme = Scheme::for_ecosystem(&eco);
        let mut by_advisory: BTreeMap<u32, Vec<&Affected>> = BTreeMap::new();
        for key in ecosystem::lookup_keys(&eco) {
            if let Some(entries) = self.index.get(key).and_then(|packages| packages.get(&name)) {
                for entry in entries {
                    by_advisory.entry(entry.advisory).or_default().push(entry);
                }
            }
        }
        let mut installed = Installed::new(pkg.version);
        let mut matches = Vec::new();
        for (advisory, entries) in by_advisory {
            if !entries.iter().any(|e| e.evaluate(&mut installed, scheme)) {
                continue;
            }
            let mut candidates: Vec<(Scheme, &Event)> = Vec::new();
            for entry in &entries {
                entry.fixes_above(&mut installed, &mut candidates);
            }
            matches.push(Match {
                advisory: self.advisories[advisory as usize].clone(),
                fixed_version: lowest_clean_fix(candidates, &entries, scheme),
            });
        }
        matches.sort_by(|a, b| {
            b.advisory.severity.cmp(&a.advisory.severity).then_with(|| a.advisory.id.cmp(&b.advisory.id))
        });
        matches
    }

    /// Writes the database in its compact serialized form (see [`crate::FORMAT_VERSION`]).
    pub fn write_to(&self, w: impl Write) -> Result<(), VulnDbError> {
        format::write(self, w)
    }

    /// Reads a database written by [`VulnDb::write_to`]; rejects other format versions and corrupt input.
    pub fn read_from(r: impl Read) -> Result<VulnDb, VulnDbError> {
        format::read(r)
    }

    pub(crate) fn parts(&self) -> (&[Arc<Advisory>], &Index) {
        (&self.advisories, &self.index)
    }
}

/// The lowest `fixed` version above the installed one (from any of the advisory's ranges for the package) that
/// none of the advisory's entries marks as affected — a fix of one range may lie inside another range; `None` if
/// there is none.
fn lowest_clean_fix(
    mut candidates: Vec<(Scheme, &Event)>,
    entries: &[&Affected],
    scheme: Option<Scheme>,
) -> Option<String> {
    candidates.sort_by(|(_, a), (_, b)| match (&a.bound, &b.bound) {
        (Bound::At(x), Bound::At(y)) => x.compare(y).unwrap_or(Ordering::Equal),
        _ => Ordering::Equal,
    });
    candidates.dedup_by(|(_, a), (_, b)| a.raw == b.raw);
    candidates.into_iter().find_map(|(parsed_in, c)| {
        let Bound::At(v) = &c.bound else { return None };
        let affected = entries.iter().any(|e| e.affects(&c.raw, parsed_in, v, scheme));
        (!affected).then(|| c.raw.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(records: &[&str]) -> VulnDb {
        let mut b = VulnDb::builder();
        for (i, r) in records.iter().enumerate() {
            b.add_record_json(r.as_bytes(), &format!("test-{i}")).unwrap();
        }
        b.build("test".into(), "2026-01-01T00:00:00Z".into())
    }

    fn ids(db: &VulnDb, eco: &str, name: &str, version: &str) -> Vec<(String, Option<String>)> {
        db.lookup(&PackageRef { ecosystem: eco, name, version })
            .into_iter()
            .map(|m| (m.advisory.id.clone(), m.fixed_version))
            .collect()
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<VulnDb>();
        assert_send_sync::<Match>();
    }

    #[test]
    fn fix_inside_another_range_is_not_offered() {
        // As GHSA-r683-j2x4-v87g has it: [1.0, 3.1.1) and [0, 2.6.7). 2.6.7 is still affected; 3.1.1 is not.
        let db = db(&[r#"{"id":"A","affected":[
            {"package":{"ecosystem":"npm","name":"node-fetch"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"1.0"},{"fixed":"3.1.1"}]}]},
            {"package":{"ecosystem":"npm","name":"node-fetch"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.6.7"}]}]}]}"#]);
        assert_eq!(ids(&db, "npm", "node-fetch", "2.6.0"), [("A".into(), some("3.1.1"))]);
        // Below both ranges' start the lowest fix, 2.6.7, still lies in [1.0, 3.1.1).
        assert_eq!(ids(&db, "npm", "node-fetch", "0.9.0"), [("A".into(), some("3.1.1"))]);
        assert!(ids(&db, "npm", "node-fetch", "3.1.1").is_empty());
    }

    #[test]
    fn fix_inside_unfixed_range_means_no_fix() {
        let db = db(&[r#"{"id":"A","affected":[{"package":{"ecosystem":"PyPI","name":"x"},"ranges":[
            {"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.5"}]},
            {"type":"ECOSYSTEM","events":[{"introduced":"1.2"}]}]}]}"#]);
        // 1.5 ends the first range but lies in the second: upgrading does not help.
        assert_eq!(ids(&db, "PyPI", "x", "1.3"), [("A".into(), None)]);
        assert_eq!(ids(&db, "PyPI", "x", "1.0"), [("A".into(), None)]);
        let db = super::tests::db(&[r#"{"id":"A","affected":[{"package":{"ecosystem":"PyPI","name":"x"},"ranges":[
            {"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.5"}]},
            {"type":"ECOSYSTEM","events":[{"introduced":"2.0"}]}]}]}"#]);
        assert_eq!(ids(&db, "PyPI", "x", "1.0"), [("A".into(), some("1.5"))]);
        assert_eq!(ids(&db, "PyPI", "x", "2.1"), [("A".into(), None)]);
        assert!(ids(&db, "PyPI", "x", "1.7").is_empty());
    }

    #[test]
    fn versions_list_and_redundancy() {
        let db = db(&[r#"{"id":"A","affected":[{"package":{"ecosystem":"PyPI","name":"Foo.Bar"},
            "ranges":[{"type":"GIT","repo":"https://x","events":[{"introduced":"abc"}]},
                      {"type":"ECOSYSTEM","events":[{"introduced":"1.0"},{"fixed":"1.2"}]}],
            "versions":["1.0","1.1","0.5-beta","weird!"]}]}"#]);
        assert_eq!(ids(&db, "PyPI", "foo-bar", "1.1"), [("A".into(), some("1.2"))]);
        assert_eq!(ids(&db, "PyPI", "FOO_BAR", "1.1.0"), [("A".into(), some("1.2"))]);
        // Listed but outside the ranges; normalised spelling (0.5b0) matches too.
        assert_eq!(ids(&db, "PyPI", "foo.bar", "0.5b0"), [("A".into(), some("1.2"))]);
        assert_eq!(ids(&db, "PyPI", "foo.bar", "weird!"), [("A".into(), None)]);
        assert!(ids(&db, "PyPI", "foo.bar", "1.2").is_empty());
        let entries = &db.index["PyPI"]["foo-bar"];
        let kept: Vec<_> = entries[0].versions.iter().map(|l| l.raw.as_str()).collect();
        assert_eq!(kept, ["0.5-beta", "weird!"]);
    }

    #[test]
    fn distro_release_fallback() {
        let db = db(&[
            r#"{"id":"D12","affected":[{"package":{"ecosystem":"Debian:12","name":"zlib"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:1.2.13.dfsg-2"}]}]}]}"#,
            r#"{"id":"D11","affected":[{"package":{"ecosystem":"Debian:11","name":"zlib"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:1.2.13.dfsg-9"}]}]}]}"#,
            r#"{"id":"DALL","affected":[{"package":{"ecosystem":"Debian","name":"zlib"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}"#,
            r#"{"id":"UP","affected":[{"package":{"ecosystem":"PyPI","name":"zlib"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}"#,
        ]);
        let got = ids(&db, "Debian:12", "zlib", "1:1.2.13.dfsg-1");
        assert_eq!(got, [("D12".into(), some("1:1.2.13.dfsg-2")), ("DALL".into(), None)]);
        assert_eq!(ids(&db, "debian:12", "zlib", "1:1.2.13.dfsg-3"), [("DALL".into(), None)]);
        assert_eq!(ids(&db, "Debian", "zlib", "1:1.2.13.dfsg-3"), [("DALL".into(), None)]);
        assert!(ids(&db, "Ubuntu:22.04:LTS", "zlib", "1.0").is_empty());
    }

    #[test]
    fn one_match_per_advisory_sorted_by_severity_then_id() {
        let rec = |id: &str, sev: &str| {
            format!(
                r#"{{"id":"{id}","database_specific":{{"severity":"{sev}"}},"affected":[
                {{"package":{{"ecosystem":"npm","name":"p"}},"ranges":[{{"type":"SEMVER","events":[{{"introduced":"0"}},{{"fixed":"2.0.0"}}]}}]}},
                {{"package":{{"ecosystem":"npm","name":"p"}},"ranges":[{{"type":"SEMVER","events":[{{"introduced":"1.0.0"}},{{"fixed":"1.5.0"}}]}}]}}]}}"#
            )
        };
        let (a, b, c) = (rec("B-2", "LOW"), rec("A-1", "LOW"), rec("C-3", "CRITICAL"));
        let db = db(&[&a, &b, &c]);
        let got = ids(&db, "npm", "p", "1.2.0");
        assert_eq!(got, [("C-3".into(), some("2.0.0")), ("A-1".into(), some("2.0.0")), ("B-2".into(), some("2.0.0"))]);
    }

    #[test]
    fn unknown_package_ecosystem_or_version() {
        let db = db(&[
            r#"{"id":"A","affected":[{"package":{"ecosystem":"npm","name":"p"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}"#,
        ]);
        assert!(ids(&db, "npm", "q", "1.0.0").is_empty());
        assert!(ids(&db, "PyPI", "p", "1.0.0").is_empty());
        assert!(ids(&db, "Nonexistent", "p", "1.0.0").is_empty());
        assert!(ids(&db, "npm", "p", "not a version").is_empty());
        assert_eq!(ids(&db, "npm", "P", "1.0.0").len(), 1, "npm names are case-insensitive");
    }

    #[test]
    fn advisory_by_id_or_alias() {
        let db = db(&[
            r#"{"id":"PYSEC-1","aliases":["CVE-1","GHSA-x","CVE-1","PYSEC-1"]}"#,
            r#"{"id":"GHSA-x","aliases":["CVE-1"]}"#,
        ]);
        assert_eq!(db.advisory("PYSEC-1").unwrap().aliases, ["CVE-1", "GHSA-x"]);
        assert_eq!(db.advisory("GHSA-x").unwrap().id, "GHSA-x");
        assert_eq!(db.advisory("CVE-1").unwrap().id, "GHSA-x");
        assert_eq!(db.advisories_with_alias("CVE-1").len(), 2);
        assert!(db.advisory("CVE-2").is_none());
        assert_eq!(db.info().records, 2);
        assert_eq!(db.advisory("PYSEC-1").unwrap().uri, "https://osv.dev/vulnerability/PYSEC-1");
    }
}
