//! The database against the shared OSV test data (`../shared/testdata`, next to the repository) and the package
//! fixtures there. Expectations were derived from the records themselves (see each test); a missing data directory
//! fails the tests rather than skipping them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use berth_vulndb::{ImportStats, Match, PackageRef, Severity, VulnDb, VulnDbError};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata");

fn testdata(rel: &str) -> PathBuf {
    let root = PathBuf::from(TESTDATA);
    assert!(
        root.is_dir(),
        "test data directory {} is missing: these tests need the shared test data checked out next to the \
         repository (<parent>/main and <parent>/shared)",
        root.display()
    );
    let path = root.join(rel);
    assert!(path.exists(), "test data file {} is missing", path.display());
    path
}

/// (directory under osv/, OSV ecosystem, records in the README, withdrawn among them).
const ZIPS: [(&str, &str, usize, usize); 5] = [
    ("PyPI", "PyPI", 2661, 10),
    ("crates", "crates.io", 1206, 13),
    ("Go", "Go", 4291, 17),
    ("npm", "npm", 12, 0),
    ("Debian", "Debian:12", 195, 0),
];

struct Loaded {
    db: VulnDb,
    stats: Vec<(&'static str, ImportStats)>,
    import_time: Duration,
}

fn loaded() -> &'static Loaded {
    static LOADED: OnceLock<Loaded> = OnceLock::new();
    LOADED.get_or_init(|| {
        let start = Instant::now();
        let mut builder = VulnDb::builder();
        let mut stats = Vec::new();
        for (dir, ..) in ZIPS {
            let s = builder
                .add_path(&testdata(&format!("osv/{dir}/all.zip")))
                .unwrap_or_else(|e| panic!("importing {dir}: {e}"));
            stats.push((dir, s));
        }
        let db = builder.build("shared/testdata/osv".into(), "2026-11-23T00:00:00Z".into());
        Loaded { db, stats, import_time: start.elapsed() }
    })
}

fn db() -> &'static VulnDb {
    &loaded().db
}

fn lookup(eco: &str, name: &str, version: &str) -> Vec<Match> {
    db().lookup(&PackageRef { ecosystem: eco, name, version })
}

/// `(id, fixed version)` of every match, sorted by id.
fn found(eco: &str, name: &str, version: &str) -> BTreeSet<(String, Option<String>)> {
    lookup(eco, name, version).into_iter().map(|m| (m.advisory.id.clone(), m.fixed_version)).collect()
}

fn expect(list: &[(&str, &str)]) -> BTreeSet<(String, Option<String>)> {
    list.iter().map(|(id, fix)| ((*id).to_owned(), (!fix.is_empty()).then(|| (*fix).to_owned()))).collect()
}

#[test]
fn imports_every_record_of_each_zip() {
    let loaded = loaded();
    for ((dir, eco, total, withdrawn), (_, stats)) in ZIPS.iter().zip(&loaded.stats) {
        assert_eq!(stats.withdrawn, *withdrawn, "{dir}: withdrawn");
        assert_eq!(stats.records, total - withdrawn, "{dir}: records");
        assert_eq!(stats.skipped, 0, "{dir}: skipped: {:?}", stats.problems);
        if *dir == "PyPI" {
            // Two PyPA records give a fixed version that is not PEP 440 ("0.2.0-n653", "2019-09-12") and list no
            // versions: their ranges cannot be evaluated and are dropped, with a reason naming the record.
            assert_eq!(stats.dropped_ranges, 2, "{:?}", stats.problems);
            assert!(stats.problems[0].contains("PYSEC-2021-371") && stats.problems[0].contains("0.2.0-n653"));
            assert!(stats.problems[1].contains("PYSEC-2019-125") && stats.problems[1].contains("2019-09-12"));
        } else {
            assert_eq!(stats.dropped_ranges, 0, "{dir}: dropped ranges: {:?}", stats.problems);
        }
        // Those two then have no package entry left; every other record is indexed under its ecosystem.
        let unindexed = if *dir == "PyPI" { 2 } else { 0 };
        let in_db = db().info().ecosystems.iter().find(|(e, _)| e == eco).map(|(_, n)| *n);
        assert_eq!(in_db, Some(total - withdrawn - unindexed), "{dir}: advisories indexed under {eco}");
    }
    let info = db().info();
    assert_eq!(info.records, 2651 + 1193 + 4274 + 12 + 195);
    // The npm GHSA records also name NuGet, RubyGems and Maven packages (jQuery).
    let ecosystems: Vec<&str> = info.ecosystems.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(ecosystems, ["Debian:12", "Go", "Maven", "NuGet", "PyPI", "RubyGems", "crates.io", "npm"]);
    assert!(info.digest.starts_with("sha256:") && info.digest.len() == 7 + 64, "{}", info.digest);
    // Withdrawn records are not in the database.
    let withdrawn = withdrawn_ids();
    assert_eq!(withdrawn.len(), 10 + 13 + 17);
    for id in withdrawn {
        assert!(db().advisory(&id).is_none_or(|a| a.id != id), "withdrawn {id} was imported");
    }
}

/// Ids of the withdrawn records, read straight from the zips.
fn withdrawn_ids() -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for (dir, ..) in ZIPS {
        let file = std::fs::File::open(testdata(&format!("osv/{dir}/all.zip"))).unwrap();
        let mut zip = zip::ZipArchive::new(file).unwrap();
        for i in 0..zip.len() {
            let entry = zip.by_index(i).unwrap();
            let v: serde_json::Value = serde_json::from_reader(entry).unwrap();
            if v.get("withdrawn").is_some_and(|w| !w.is_null()) {
                ids.insert(v["id"].as_str().unwrap().to_owned());
            }
        }
    }
    ids
}

/// Source packages (name → versions) of the installed packages in a dpkg status file. `Source:` names the source
/// package, with its version in parentheses when it differs from the binary's `Version:`.
fn dpkg_sources(status: &str) -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(testdata(status)).unwrap();
    let mut sources: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for paragraph in text.split("\n\n") {
        let field = |name: &str| {
            paragraph.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')).map(str::trim))
        };
        let (Some(package), Some(version)) = (field("Package"), field("Version")) else { continue };
        if !field("Status").is_some_and(|s| s.ends_with(" installed")) {
            continue;
        }
        let (source, source_version) = match field("Source") {
            Some(s) => match s.split_once(" (") {
                Some((name, v)) => (name.to_owned(), v.trim_end_matches(')').to_owned()),
                None => (s.to_owned(), version.to_owned()),
            },
            None => (package.to_owned(), version.to_owned()),
        };
        sources.entry(source).or_default().insert(source_version);
    }
    sources
}

fn debian_findings(status: &str) -> BTreeSet<(String, Option<String>)> {
    let mut all = BTreeSet::new();
    for (source, versions) in dpkg_sources(status) {
        for v in versions {
            all.extend(found("Debian:12", &source, &v));
        }
    }
    all
}

const PERL_DEB12U4: [&str; 13] = [
    "DEBCL-perl-CVE-2025-15649",
    "DEBCL-perl-CVE-2026-12087",
    "DEBCL-perl-CVE-2026-13221",
    "DEBCL-perl-CVE-2026-19487",
    "DEBCL-perl-CVE-2026-42496",
    "DEBCL-perl-CVE-2026-42497",
    "DEBCL-perl-CVE-2026-48959",
    "DEBCL-perl-CVE-2026-48962",
    "DEBCL-perl-CVE-2026-57432",
    "DEBCL-perl-CVE-2026-57433",
    "DEBCL-perl-CVE-2026-7010",
    "DEBCL-perl-CVE-2026-7017",
    "DEBCL-perl-CVE-2026-8376",
];

const DEBIAN_ALWAYS: [(&str, &str); 4] = [
    ("DEBCL-apt-CVE-2026-109518", "2.6.2"),
    ("DEBCL-pcre2-CVE-2026-103111", "10.42-1+deb12u2"),
    ("DEBCL-pcre2-GHSA-r9hj-j2rw-4q3m", "10.42-1+deb12u2"),
    ("DEBCL-xz-utils-GHSA-5qpq-xqfv-j9pg", "5.4.1-1+deb12u2"),
];

#[test]
fn debian_minbase_before_the_perl_upgrade() {
    // apt 2.6.1 < 2.6.2, pcre2 10.42-1 < 10.42-1+deb12u2, xz-utils 5.4.1-1+deb12u1 < 5.4.1-1+deb12u2, and perl
    // 5.36.0-7+deb12u3 < 5.36.0-7+deb12u4 for the 13 CVEs first fixed in deb12u4 (the changelog of the
    // bookworm-security .deb). The README counts "18 positives", but its own list (1 + 2 + 1 + 13) and the records
    // give 17; the other 178 records are negative controls.
    let mut want = expect(&DEBIAN_ALWAYS);
    want.extend(expect(&PERL_DEB12U4.map(|id| (id, "5.36.0-7+deb12u4"))));
    assert_eq!(debian_findings("fixtures/plain/debian12-minbase/dpkg-status"), want);
}

#[test]
fn debian_minbase_after_the_perl_upgrade() {
    // Only perl-base changes (5.36.0-7+deb12u4): the 13 perl findings go away, nothing new appears.
    assert_eq!(debian_findings("fixtures/plain/debian12-minbase-perl-upgraded/dpkg-status"), expect(&DEBIAN_ALWAYS));
}

#[test]
fn debian_negative_controls_are_real() {
    // Every Debian record names an installed source package, so the records that give no finding are genuine
    // negative controls (installed version at or above the fix), not misses of the package name.
    let sources = dpkg_sources("fixtures/plain/debian12-minbase/dpkg-status");
    let (mut named, mut total) = (0, 0);
    for a in db().advisories().filter(|a| a.id.starts_with("DEBCL-")) {
        total += 1;
        let package = sources.keys().find(|s| a.id.starts_with(&format!("DEBCL-{s}-")));
        named += usize::from(package.is_some());
    }
    assert_eq!((named, total), (195, 195));
    // Spot checks by hand. perl's CVE-2023-31484 was fixed in deb12u3, the installed version: not reported.
    assert!(found("Debian:12", "perl", "5.36.0-7+deb12u3").iter().all(|(id, _)| id != "DEBCL-perl-CVE-2023-31484"));
    // systemd is installed at 252.39-1~deb12u2, exactly the fix of four CVEs: nothing. One revision lower, those four.
    assert_eq!(sources["systemd"].iter().collect::<Vec<_>>(), ["252.39-1~deb12u2"]);
    assert!(found("Debian:12", "systemd", "252.39-1~deb12u2").is_empty());
    let fix = "252.39-1~deb12u2";
    assert_eq!(
        found("Debian:12", "systemd", "252.39-1~deb12u1"),
        expect(&[
            ("DEBCL-systemd-CVE-2026-29111", fix),
            ("DEBCL-systemd-CVE-2026-40225", fix),
            ("DEBCL-systemd-CVE-2026-40226", fix),
            ("DEBCL-systemd-CVE-2026-4105", fix),
        ])
    );
    // GHSA-6m6p-rjcq-334c is fixed in 252.17-1~deb12u1: "~" sorts below the plain revision.
    let ghsa =
        |v: &str| found("Debian:12", "systemd", v).iter().any(|(id, _)| id == "DEBCL-systemd-GHSA-6m6p-rjcq-334c");
    assert!(ghsa("252.17-1~deb11u1"));
    assert!(!ghsa("252.17-1~deb12u1"));
    assert!(!ghsa("252.17-1"));
    // Another release, and an upstream ecosystem, see none of it.
    assert!(found("Debian:11", "apt", "2.6.1").is_empty());
    assert!(found("Ubuntu:22.04:LTS", "apt", "2.6.1").is_empty());
}

/// Name and version of every `*.dist-info/METADATA` under the fixture.
fn python_packages() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(testdata("fixtures/plain/python")).unwrap() {
        let path = entry.unwrap().path().join("METADATA");
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let field = |n: &str| text.lines().find_map(|l| l.strip_prefix(n)).map(|v| v.trim().to_owned());
        out.push((field("Name:").unwrap(), field("Version:").unwrap()));
    }
    out.sort();
    out
}

#[test]
fn pypi_fixture() {
    let pkgs = python_packages();
    assert_eq!(pkgs.len(), 12);
    let mut all = BTreeMap::new();
    for (name, version) in &pkgs {
        all.insert(name.as_str(), found("PyPI", name, version));
    }
    assert_eq!(all["requests"], expect(&[("PYSEC-2018-28", "2.20.0"), ("PYSEC-2023-74", "2.31.0")]));
    assert_eq!(
        all["urllib3"],
        expect(&[
            ("PYSEC-2019-132", "1.24.3"),
            ("PYSEC-2019-133", "1.24.2"),
            ("PYSEC-2020-148", "1.25.9"),
            ("PYSEC-2021-108", "1.26.5"),
            ("PYSEC-2023-192", "1.26.17"),
            ("PYSEC-2023-207", "1.24.2"),
            ("PYSEC-2023-212", "1.26.18"),
        ])
    );
    assert_eq!(all["Jinja2"], expect(&[("PYSEC-2019-217", "2.10.1"), ("PYSEC-2021-66", "2.11.3")]));
    assert_eq!(all["PyYAML"], expect(&[("PYSEC-2021-142", "5.4")]));
    assert_eq!(
        all["Flask"],
        expect(&[("PYSEC-2018-66", "0.12.3"), ("PYSEC-2019-179", "1.0"), ("PYSEC-2023-62", "2.2.5")])
    );
    assert_eq!(
        all["Werkzeug"],
        expect(&[
            ("PYSEC-2019-140", "0.15.3"),
            ("PYSEC-2022-203", "2.1.1"),
            ("PYSEC-2023-221", "2.3.8"),
            ("PYSEC-2023-57", "2.2.3"),
            ("PYSEC-2023-58", "2.2.3"),
        ])
    );
    assert_eq!(all["idna"], expect(&[("PYSEC-2024-60", "3.7")]));
    assert_eq!(all["certifi"], expect(&[("PYSEC-2022-42986", "2022.12.7"), ("PYSEC-2023-135", "2023.7.22")]));
    for clean in ["MarkupSafe", "chardet", "click", "itsdangerous"] {
        assert!(all[clean].is_empty(), "{clean}: {:?}", all[clean]);
    }
    // The upgraded urllib3 of the fixture's last layer is clean.
    assert!(found("PyPI", "urllib3", "1.26.18").is_empty());

    // PyYAML 5.3.1 → PYSEC-2021-142 = CVE-2020-14343, fixed in 5.4; found under any spelling of the name.
    let m = &lookup("PyPI", "pyyaml", "5.3.1")[0];
    assert_eq!(m.advisory.id, "PYSEC-2021-142");
    assert_eq!(m.advisory.aliases, ["CVE-2020-14343", "GHSA-8q59-q68h-6hv4"]);
    assert_eq!(m.advisory.uri, "https://github.com/advisories/GHSA-8q59-q68h-6hv4");
    assert_eq!(m.advisory.severity, Severity::Undefined, "PyPA records carry no severity");
    assert_eq!(db().advisory("CVE-2020-14343").unwrap().id, "PYSEC-2021-142");
    assert_eq!(found("PyPI", "py_yaml", "5.3.1"), BTreeSet::new(), "py-yaml is another project");
    assert_eq!(found("PyPI", "PYYAML", "5.3.1"), expect(&[("PYSEC-2021-142", "5.4")]));
}

#[test]
fn crates_fixture() {
    let lock = std::fs::read_to_string(testdata("fixtures/plain/cargo/Cargo.lock")).unwrap();
    let mut findings = BTreeMap::new();
    for block in lock.split("[[package]]").skip(1) {
        let field = |n: &str| {
            block.lines().find_map(|l| l.strip_prefix(n)).map(|v| v.trim().trim_start_matches("= ").trim_matches('"'))
        };
        let (name, version) = (field("name ").unwrap(), field("version ").unwrap());
        let f = found("crates.io", name, version);
        if !f.is_empty() {
            findings.insert(format!("{name}@{version}"), f);
        }
    }
    let want: BTreeMap<String, _> = [
        (
            "tar@0.4.35",
            expect(&[
                ("RUSTSEC-2021-0080", "0.4.36"),
                ("RUSTSEC-2026-0067", "0.4.45"),
                ("RUSTSEC-2026-0068", "0.4.45"),
            ]),
        ),
        ("smallvec@1.6.0", expect(&[("RUSTSEC-2021-0003", "1.6.1")])),
        ("regex@1.5.4", expect(&[("RUSTSEC-2022-0013", "1.5.5")])),
        ("time@0.1.45", expect(&[("RUSTSEC-2020-0071", "0.2.0")])),
        ("chrono@0.4.19", expect(&[("RUSTSEC-2020-0159", "0.4.20")])),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(findings, want);
    // Severity from the RustSec CVSS vectors; none for RUSTSEC-2020-0159.
    let tar = db().advisory("RUSTSEC-2021-0080").unwrap();
    assert_eq!((tar.severity, tar.cvss_score), (Severity::High, Some(7.5)));
    assert_eq!(tar.uri, "https://rustsec.org/advisories/RUSTSEC-2021-0080.html");
    let time = db().advisory("RUSTSEC-2020-0071").unwrap();
    assert_eq!((time.severity, time.cvss_score), (Severity::Medium, Some(6.2)));
    assert_eq!(db().advisory("RUSTSEC-2020-0159").unwrap().severity, Severity::Undefined);
    // Sorted by severity, then id.
    let order: Vec<_> = lookup("crates.io", "tar", "0.4.35").iter().map(|m| m.advisory.severity).collect();
    assert!(order.windows(2).all(|w| w[0] >= w[1]), "{order:?}");
}

#[test]
fn npm_fixture() {
    for (state, minimist) in [("base", "1.2.0"), ("upgraded", "1.2.8")] {
        let lock: serde_json::Value = serde_json::from_slice(
            &std::fs::read(testdata(&format!("fixtures/plain/npm/{state}/package-lock.json"))).unwrap(),
        )
        .unwrap();
        let mut findings = BTreeMap::new();
        for (path, pkg) in lock["packages"].as_object().unwrap() {
            let Some(name) = path.strip_prefix("node_modules/") else { continue };
            let version = pkg["version"].as_str().unwrap();
            if name == "minimist" {
                assert_eq!(version, minimist);
            }
            let f = found("npm", name, version);
            if !f.is_empty() {
                findings.insert(name.to_owned(), f);
            }
        }
        let mut want: BTreeMap<String, _> = [
            (
                "lodash",
                expect(&[
                    ("GHSA-29mw-wpgm-hmr9", "4.17.21"),
                    ("GHSA-35jh-r3h4-6jhm", "4.17.21"),
                    ("GHSA-p6mc-m468-83gw", "4.17.20"),
                ]),
            ),
            // GHSA-r683-j2x4-v87g has ranges [1.0, 3.1.1) and [0, 2.6.7): 2.6.7 still lies in the first, so the
            // lowest version that leaves the advisory is 3.1.1.
            ("node-fetch", expect(&[("GHSA-r683-j2x4-v87g", "3.1.1"), ("GHSA-w7rc-rwvf-8q5r", "2.6.1")])),
            ("jquery", expect(&[("GHSA-gxr4-xjj5-5px2", "3.5.0"), ("GHSA-jpcq-cgw6-v4j6", "3.5.0")])),
            ("semver", expect(&[("GHSA-c2qf-rxjj-qqgw", "7.5.2")])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if state == "base" {
            want.insert(
                "minimist".into(),
                expect(&[("GHSA-vh95-rmgr-6w4m", "1.2.3"), ("GHSA-xvch-5gv4-984h", "1.2.6")]),
            );
        }
        assert_eq!(findings, want, "{state}");
    }
    // GHSA severities: the CVSS vector wins, and agrees with GitHub's own label on these records.
    let lodash = db().advisory("GHSA-p6mc-m468-83gw").unwrap();
    assert_eq!((lodash.severity, lodash.cvss_score), (Severity::High, Some(7.4)));
    assert_eq!(lodash.uri, "https://nvd.nist.gov/vuln/detail/CVE-2020-8203");
    let minimist = db().advisory("GHSA-xvch-5gv4-984h").unwrap();
    assert_eq!(minimist.severity, Severity::Critical);
    // last_affected: lodash.trim up to and including 4.5.1.
    assert_eq!(found("npm", "lodash.trim", "4.5.1"), expect(&[("GHSA-29mw-wpgm-hmr9", "")]));
    assert!(found("npm", "lodash.trim", "4.5.2").is_empty());
    // The same GHSA names packages of other ecosystems; each is matched in its own ordering.
    assert_eq!(found("NuGet", "jQuery", "3.4.1"), expect(&[("GHSA-gxr4-xjj5-5px2", "3.5.0")]));
    assert_eq!(found("RubyGems", "jquery-rails", "4.3.5"), expect(&[("GHSA-gxr4-xjj5-5px2", "4.4.0")]));
    assert_eq!(found("Maven", "org.webjars.npm:jquery", "3.4.1"), expect(&[("GHSA-gxr4-xjj5-5px2", "3.5.0")]));
    assert!(found("Maven", "org.webjars.npm:jquery", "1.1.0").is_empty());
}

#[test]
fn go_modules_and_stdlib() {
    // The toolchain's spelling (go1.25.12), the module spelling (v1.25.12) and the OSV one are the same version.
    let want = expect(&[
        ("GO-2026-5026", "1.25.13"),
        ("GO-2026-5972", "1.25.13"),
        ("GO-2026-6088", "1.25.13"),
        ("GO-2026-6089", "1.25.13"),
        ("GO-2026-6090", "1.25.13"),
        ("GO-2026-6091", "1.25.13"),
        ("GO-2026-6218", "1.25.13"),
    ]);
    assert_eq!(found("Go", "stdlib", "go1.25.12"), want);
    assert_eq!(found("Go", "stdlib", "v1.25.12"), want);
    assert_eq!(found("Go", "stdlib", "1.25.12"), want);
    let old = found("Go", "stdlib", "go1.20.1");
    assert_eq!(old.len(), 84);
    assert!(old.contains(&("GO-2023-1621".to_owned(), Some("1.20.2".to_owned()))));
    // A module; fixed versions come back without the "v".
    assert_eq!(found("Go", "github.com/gin-gonic/gin", "v1.9.0"), expect(&[("GO-2023-1737", "1.9.1")]));
    assert!(found("Go", "github.com/gin-gonic/gin", "v1.9.1").is_empty());
    // A pseudo-version, ordered by its timestamp.
    let crypto = found("Go", "golang.org/x/crypto", "v0.0.0-20200622213623-75b288015ac9");
    assert_eq!(crypto.len(), 24);
    assert!(crypto.contains(&("GO-2021-0227".to_owned(), Some("0.0.0-20201216223049-8b5274cf687f".to_owned()))));
    assert!(crypto.contains(&("GO-2023-2402".to_owned(), Some("0.17.0".to_owned()))));
    assert!(crypto.contains(&("GO-2026-5932".to_owned(), None)), "affected, no fix");
    // Module paths are case-sensitive.
    assert!(found("Go", "github.com/Gin-Gonic/gin", "v1.9.0").is_empty());
    // Go records carry no severity; duplicated aliases in the records are dropped.
    let a = db().advisory("GO-2025-3956").unwrap();
    assert_eq!(a.severity, Severity::Undefined);
    assert_eq!(a.aliases, ["CVE-2025-47906"]);
}

#[test]
fn unknown_packages_give_nothing() {
    assert!(lookup("PyPI", "no-such-package", "1.0").is_empty());
    assert!(lookup("npm", "lodash", "4.17.21").is_empty());
    assert!(lookup("Hackage", "lodash", "4.17.15").is_empty());
    assert!(lookup("npm", "lodash", "").is_empty());
}

#[test]
fn round_trip_gives_identical_lookups() {
    let db = db();
    let mut bytes = Vec::new();
    db.write_to(&mut bytes).unwrap();
    let back = VulnDb::read_from(Cursor::new(&bytes)).unwrap();
    assert_eq!(back.info(), db.info());
    let probes = [
        ("Debian:12", "perl", "5.36.0-7+deb12u3"),
        ("Debian:12", "apt", "2.6.1"),
        ("PyPI", "urllib3", "1.24.1"),
        ("PyPI", "PyYAML", "5.3.1"),
        ("crates.io", "tar", "0.4.35"),
        ("npm", "node-fetch", "2.6.0"),
        ("npm", "lodash.trim", "4.5.1"),
        ("Go", "stdlib", "go1.20.1"),
        ("Go", "golang.org/x/crypto", "v0.0.0-20200622213623-75b288015ac9"),
        ("Maven", "org.webjars.npm:jquery", "3.4.1"),
    ];
    for (eco, name, version) in probes {
        let p = PackageRef { ecosystem: eco, name, version };
        assert_eq!(back.lookup(&p), db.lookup(&p), "{eco} {name} {version}");
    }
    for a in db.advisories() {
        assert_eq!(back.advisory(&a.id).as_deref(), Some(&**a));
    }
    // Writing again gives the same bytes: the format is deterministic.
    let mut again = Vec::new();
    back.write_to(&mut again).unwrap();
    assert_eq!(again, bytes);
    println!("serialized database: {} bytes for {} advisories", bytes.len(), db.info().records);
}

#[test]
fn digest_identifies_content_not_import_time() {
    let build = |at: &str| {
        let mut b = VulnDb::builder();
        b.add_path(&testdata("osv/npm/all.zip")).unwrap();
        b.build("npm".into(), at.into())
    };
    let (a, b) = (build("2026-01-01T00:00:00Z"), build("2026-06-01T00:00:00Z"));
    assert_eq!(a.info().digest, b.info().digest);
    let mut c = VulnDb::builder();
    c.add_path(&testdata("osv/npm/all.zip")).unwrap();
    c.add_path(&testdata("osv/Debian/all.zip")).unwrap();
    assert_ne!(c.build("x".into(), "y".into()).info().digest, a.info().digest);
}

#[test]
fn rejects_other_formats_and_corruption() {
    let mut b = VulnDb::builder();
    b.add_path(&testdata("osv/npm/all.zip")).unwrap();
    let db = b.build("npm".into(), "2026-01-01T00:00:00Z".into());
    let mut bytes = Vec::new();
    db.write_to(&mut bytes).unwrap();

    let mut future = bytes.clone();
    future[8..12].copy_from_slice(&2u32.to_le_bytes());
    let err = VulnDb::read_from(Cursor::new(&future)).unwrap_err();
    assert!(matches!(err, VulnDbError::UnsupportedFormat { found: 2, supported: 1 }), "{err}");
    assert!(err.to_string().contains("format version 2 is not supported"), "{err}");

    let err = VulnDb::read_from(Cursor::new(b"PK\x03\x04 not a database".to_vec())).unwrap_err();
    assert!(matches!(err, VulnDbError::NotAVulnDb), "{err}");
    let err = VulnDb::read_from(Cursor::new(Vec::new())).unwrap_err();
    assert!(matches!(err, VulnDbError::NotAVulnDb), "{err}");

    let truncated = &bytes[..bytes.len() / 2];
    let err = VulnDb::read_from(Cursor::new(truncated)).unwrap_err();
    assert!(matches!(err, VulnDbError::Corrupt(_)), "{err}");

    // Content changed under an intact header: the digest catches it.
    let mut raw = Vec::new();
    use std::io::{Read, Write};
    flate2::read::GzDecoder::new(&bytes[12..]).read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap().replacen("4.17.21", "4.17.99", 1);
    let mut tampered = bytes[..12].to_vec();
    let mut gz = flate2::write::GzEncoder::new(&mut tampered, flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap();
    let err = VulnDb::read_from(Cursor::new(&tampered)).unwrap_err();
    assert!(matches!(err, VulnDbError::DigestMismatch { .. }), "{err}");
}

#[test]
#[ignore = "timing report; run with --ignored --nocapture (best with --release)"]
fn timing() {
    let loaded = loaded();
    println!("import of the five zips: {:?} ({} advisories)", loaded.import_time, loaded.db.info().records);
    let probes: Vec<(&str, String, String)> = [
        ("PyPI", "urllib3", "1.24.1"),
        ("PyPI", "requests", "2.19.1"),
        ("crates.io", "tar", "0.4.35"),
        ("npm", "lodash", "4.17.15"),
        ("Go", "stdlib", "go1.20.1"),
        ("Go", "golang.org/x/net", "v0.17.0"),
        ("Debian:12", "perl", "5.36.0-7+deb12u3"),
        ("Debian:12", "glibc", "2.36-9+deb12u10"),
        ("PyPI", "not-there", "1.0"),
    ]
    .iter()
    .map(|(e, n, v)| (*e, (*n).to_owned(), (*v).to_owned()))
    .collect();
    let rounds = 200;
    let start = Instant::now();
    let mut matches = 0;
    for _ in 0..rounds {
        for (eco, name, version) in &probes {
            matches += loaded.db.lookup(&PackageRef { ecosystem: eco, name, version }).len();
        }
    }
    let elapsed = start.elapsed();
    let n = rounds * probes.len();
    println!("{n} lookups ({matches} matches) in {elapsed:?}: {:.0} lookups/s", n as f64 / elapsed.as_secs_f64());
    for (eco, name, version) in &probes {
        let start = Instant::now();
        let mut found = 0;
        for _ in 0..rounds {
            found = loaded.db.lookup(&PackageRef { ecosystem: eco, name, version }).len();
        }
        println!("  {eco} {name} {version}: {found} matches, {:?} per lookup", start.elapsed() / rounds as u32);
    }
    let mut bytes = Vec::new();
    let start = Instant::now();
    loaded.db.write_to(&mut bytes).unwrap();
    let write = start.elapsed();
    let start = Instant::now();
    VulnDb::read_from(Cursor::new(&bytes)).unwrap();
    println!("write_to: {write:?}, read_from: {:?}, {} bytes", start.elapsed(), bytes.len());
}
