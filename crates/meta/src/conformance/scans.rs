//! Scans: queued as jobs (one live job per image) with the image marked `IN_PROGRESS`, results replacing the
//! previous scan, cascade on image deletion; the layer analysis cache.

use super::{image, repo, tags};
use crate::MetaStore;
use crate::jobs::{JobEnd, JobFilter, JobState, NewJob};
use crate::scans::{Evaluation, ImageScan, IndexEntry, IndexKind, ScanIndex, ScanStatus};
use berth_oci::{Digest, RepositoryName};

/// A scan job of `digest` as the registry queues it.
fn scan_job(r: &RepositoryName, digest: &Digest, now: i64) -> NewJob {
    NewJob {
        kind: "scan".into(),
        key: format!("{r}@{digest}"),
        payload: "{}".into(),
        max_attempts: 3,
        run_after: now,
        unless_created_since: None,
    }
}

pub async fn scan_queue<S: MetaStore>(store: &S) {
    let r = repo("conf-scans/app");
    let (m1, m2) = (image(&r, "conf-scans 1", vec![], 10), image(&r, "conf-scans 2", vec![], 11));
    store.put_manifest(&m1, &tags(&["v1"])).await.unwrap();
    store.put_manifest(&m2, &tags(&["v2"])).await.unwrap();
    let missing = image(&r, "conf-scans missing", vec![], 12);
    let queue = |d: &Digest, now| scan_job(&r, d, now);
    assert!(!store.enqueue_scan(&r, &missing.digest, &queue(&missing.digest, 20), 20).await.unwrap(), "no manifest");
    assert!(store.enqueue_scan(&r, &m1.digest, &queue(&m1.digest, 20), 20).await.unwrap());
    assert!(!store.enqueue_scan(&r, &m1.digest, &queue(&m1.digest, 21), 21).await.unwrap(), "one job per image");
    assert!(store.enqueue_scan(&r, &m2.digest, &queue(&m2.digest, 22), 22).await.unwrap());
    store.scan_progress(&r, &m1.digest, "layer 1 of 2").await.unwrap();
    let queued = store.image_scan(&r, &m1.digest).await.unwrap().unwrap();
    assert_eq!(queued.description.as_deref(), Some("layer 1 of 2"));
    assert_eq!((queued.status, queued.started_at, queued.findings), (ScanStatus::InProgress, 20, None));
    let live = JobFilter { kind: Some("scan".into()), state: Some(JobState::Queued), limit: 10, ..Default::default() };
    assert_eq!(store.list_jobs(&live).await.unwrap().len(), 2, "the missing image queued nothing");

    // The scan queue is the job queue: oldest first, one claim at a time.
    let a = store.claim_job(&["scan"], "node-a", 30, 120).await.unwrap().unwrap();
    assert_eq!(a.key, format!("{r}@{}", m1.digest));
    let b = store.claim_job(&["scan"], "node-b", 31, 121).await.unwrap().unwrap();
    assert_eq!(b.key, format!("{r}@{}", m2.digest));

    let done = ImageScan {
        repository: r.clone(),
        digest: m1.digest.clone(),
        status: ScanStatus::Complete,
        description: None,
        started_at: 30,
        completed_at: Some(45),
        inventory: Some(br#"{"packages":[]}"#.to_vec()),
        findings: Some(b"[]".to_vec()),
        sbom_digest: Some(m2.digest.clone()),
        vulndb: Some("db-1".into()),
        evaluated_at: Some(45),
    };
    store.finish_scan(&done, &ScanIndex::default()).await.unwrap();
    assert!(store.finish_job(a.id, "node-a", &JobEnd::Succeeded { result: None }, 45).await.unwrap());
    assert_eq!(store.image_scan(&r, &m1.digest).await.unwrap().unwrap(), done);
    let advisories = [IndexEntry { key: "X".into(), detail: "p 1 (X)".into() }];
    let gone = image(&r, "conf-scans never pushed", vec![], 16);
    let evaluations = [
        Evaluation { repository: &r, digest: &m1.digest, findings: br#"[{"id":"X"}]"#, advisories: &advisories },
        Evaluation { repository: &r, digest: &gone.digest, findings: b"[]", advisories: &[] },
    ];
    store.update_findings(&evaluations, "db-2", 60).await.unwrap();
    let hits = store.lookup_scan_index(IndexKind::Advisory, "X", 10).await.unwrap();
    assert_eq!(hits.iter().map(|h| &h.digest).collect::<Vec<_>>(), [&m1.digest], "index written with the findings");
    let re = store.image_scan(&r, &m1.digest).await.unwrap().unwrap();
    assert_eq!(
        (re.findings.as_deref(), re.vulndb.as_deref(), re.evaluated_at),
        (Some(&br#"[{"id":"X"}]"#[..]), Some("db-2"), Some(60))
    );
    let complete = store.complete_scans(None, 10).await.unwrap();
    assert!(complete.iter().any(|s| s.digest == m1.digest), "listed for re-evaluation");
    assert!(complete.iter().all(|s| s.status == ScanStatus::Complete));

    // A re-queued scan shows IN_PROGRESS but keeps the previous results until replaced.
    assert!(store.enqueue_scan(&r, &m1.digest, &queue(&m1.digest, 70), 70).await.unwrap(), "the last one ended");
    let again = store.image_scan(&r, &m1.digest).await.unwrap().unwrap();
    assert_eq!((again.status, again.findings.is_some()), (ScanStatus::InProgress, true));

    // Deleting an image deletes its scan.
    store.delete_manifest(&r, &m1.digest).await.unwrap();
    assert_eq!(store.image_scan(&r, &m1.digest).await.unwrap(), None);
    // Finishing a scan whose image is gone records nothing.
    store.delete_manifest(&r, &m2.digest).await.unwrap();
    let scan = ImageScan { digest: m2.digest.clone(), ..done.clone() };
    store.finish_scan(&scan, &ScanIndex::default()).await.unwrap();
    assert!(store.finish_job(b.id, "node-b", &JobEnd::Succeeded { result: None }, 80).await.unwrap());
    // The re-queued scan of the deleted m1 is still a job (its handler finds the image gone).
    let requeued = store.claim_job(&["scan"], "node-a", 81, 200).await.unwrap().unwrap();
    assert_eq!(requeued.key, format!("{r}@{}", m1.digest));
    assert!(store.finish_job(requeued.id, "node-a", &JobEnd::Succeeded { result: None }, 82).await.unwrap());
    assert_eq!(store.image_scan(&r, &m2.digest).await.unwrap(), None);

    let pushed = repo("conf-scans/pushed");
    store.put_manifest(&image(&pushed, "conf-scans pushed", vec![], 13), &tags(&["v1"])).await.unwrap();
    assert!(!store.scan_on_push(&pushed).await.unwrap(), "no settings row: off");
    store.set_scan_on_push(&pushed, true).await.unwrap().expect("the repository exists");
    assert!(store.scan_on_push(&pushed).await.unwrap());
    store.delete_repository(&pushed, true).await.unwrap();
    assert!(!store.scan_on_push(&repo("conf-scans/none")).await.unwrap());

    // The scan index: replaced per kind, looked up by key, deleted with the image.
    let idx = repo("conf-scans/index");
    let (i1, i2) = (image(&idx, "conf-scans index 1", vec![], 14), image(&idx, "conf-scans index 2", vec![], 15));
    store.put_manifest(&i1, &tags(&["a"])).await.unwrap();
    store.put_manifest(&i2, &tags(&["b"])).await.unwrap();
    let e = |k: &str, d: &str| IndexEntry { key: k.into(), detail: d.into() };
    // i1 holds 300 packages (more than one INSERT's worth) and two advisories; i2 one package.
    let mut packages: Vec<IndexEntry> = (0..300).map(|n| e(&format!("pkg{n}"), &format!("pkg{n} 1"))).collect();
    packages.push(e("openssl", "openssl 3.0.1 Debian:12"));
    let advisories = vec![e("CVE-1", "openssl 3.0.1"), e("GHSA-x", "openssl 3.0.1")];
    for (m, index) in [
        (&i1, ScanIndex { packages, advisories }),
        (&i2, ScanIndex { packages: vec![e("openssl", "openssl 3.0.2 Debian:12")], advisories: vec![] }),
    ] {
        assert!(store.enqueue_scan(&idx, &m.digest, &scan_job(&idx, &m.digest, 200), 200).await.unwrap());
        let job = store.claim_job(&["scan"], "node-a", 201, 300).await.unwrap().unwrap();
        assert_eq!(job.key, format!("{idx}@{}", m.digest));
        let scan = ImageScan { repository: idx.clone(), digest: m.digest.clone(), ..done.clone() };
        store.finish_scan(&scan, &index).await.unwrap();
        assert!(store.finish_job(job.id, "node-a", &JobEnd::Succeeded { result: None }, 202).await.unwrap());
    }
    assert_eq!(store.lookup_scan_index(IndexKind::Package, "pkg299", 10).await.unwrap().len(), 1);
    let hits = store.lookup_scan_index(IndexKind::Package, "openssl", 10).await.unwrap();
    let mut expected =
        vec![(i1.digest.clone(), "openssl 3.0.1 Debian:12"), (i2.digest.clone(), "openssl 3.0.2 Debian:12")];
    expected.sort();
    assert_eq!(hits.iter().map(|h| (h.digest.clone(), h.detail.as_str())).collect::<Vec<_>>(), expected);
    assert_eq!(store.lookup_scan_index(IndexKind::Advisory, "GHSA-x", 10).await.unwrap().len(), 1);
    assert!(store.lookup_scan_index(IndexKind::Advisory, "openssl", 10).await.unwrap().is_empty(), "kinds apart");
    let evaluation = Evaluation { repository: &idx, digest: &i1.digest, findings: b"[]", advisories: &[] };
    store.update_findings(&[evaluation], "db-3", 300).await.unwrap();
    assert!(store.lookup_scan_index(IndexKind::Advisory, "CVE-1", 10).await.unwrap().is_empty(), "replaced");
    assert_eq!(store.lookup_scan_index(IndexKind::Package, "openssl", 10).await.unwrap().len(), 2, "other kind kept");
    store.delete_manifest(&idx, &i2.digest).await.unwrap();
    assert_eq!(
        store.lookup_scan_index(IndexKind::Package, "openssl", 10).await.unwrap().len(),
        1,
        "deleted with the image"
    );
    store.delete_repository(&idx, true).await.unwrap();

    let layer = m1.digest.clone();
    assert_eq!(store.layer_analysis(&layer).await.unwrap(), None);
    store.put_layer_analysis(&layer, b"{\"v\":1}", 1).await.unwrap();
    store.put_layer_analysis(&layer, b"{\"v\":2}", 2).await.unwrap();
    assert_eq!(store.layer_analysis(&layer).await.unwrap().as_deref(), Some(&b"{\"v\":2}"[..]));
}
