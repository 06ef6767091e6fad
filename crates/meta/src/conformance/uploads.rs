//! Upload sessions and usage counters.

use futures_util::future::join_all;

use super::{blob, repo};
use crate::{MetaError, MetaStore, UploadCaps, UploadSession, Usage};

fn session(id: &str, updated_at: i64) -> UploadSession {
    UploadSession {
        id: id.into(),
        repository: repo("conf-uploads/app"),
        size: 0,
        // Binary state with zero bytes and every byte value.
        hash_state: (0..=255u8).collect(),
        backend_state: vec![0, 0, 7, 0],
        owner: "user/conf-uploads".into(),
        created_at: 100,
        updated_at,
    }
}

pub async fn upload_sessions<S: MetaStore>(store: &S) {
    let (mut u1, u2) = (session("conf-uploads-1", 100), session("conf-uploads-2", 300));
    assert_eq!(store.get_upload(&u1.id).await.unwrap(), None, "unknown session");
    store.create_upload(&u1, UploadCaps::default()).await.expect("create_upload");
    store.create_upload(&u2, UploadCaps::default()).await.expect("create_upload");
    assert_eq!(store.get_upload(&u1.id).await.unwrap(), Some(u1.clone()), "round trip");
    assert!(
        matches!(store.create_upload(&u1, UploadCaps::default()).await, Err(MetaError::Conflict)),
        "creating a session id twice is a Conflict"
    );

    assert_eq!(store.upload_last_part(&u1.id).await.unwrap(), Some(0), "no part yet");
    assert_eq!(store.upload_last_part("conf-uploads-none").await.unwrap(), None, "unknown session");
    store.update_upload(&u1.id, 0, 10, b"hash", b"backend", 150).await.expect("update_upload");
    assert_eq!(store.upload_last_part(&u1.id).await.unwrap(), Some(10), "the last update added 10 bytes");
    u1 = UploadSession {
        size: 10,
        hash_state: b"hash".to_vec(),
        backend_state: b"backend".to_vec(),
        updated_at: 150,
        ..u1
    };
    assert_eq!(store.get_upload(&u1.id).await.unwrap(), Some(u1.clone()), "updated (created_at unchanged)");

    // Compare-and-set: the stored size is 10 now.
    assert!(
        matches!(store.update_upload(&u1.id, 0, 20, b"x", b"y", 160).await, Err(MetaError::Conflict)),
        "stale size"
    );
    assert!(
        matches!(store.update_upload(&u1.id, 11, 20, b"x", b"y", 160).await, Err(MetaError::Conflict)),
        "wrong size"
    );
    assert_eq!(store.get_upload(&u1.id).await.unwrap(), Some(u1.clone()), "a lost CAS changes nothing");
    assert_eq!(store.upload_last_part(&u1.id).await.unwrap(), Some(10), "a lost CAS records no part");
    assert!(
        matches!(store.update_upload("conf-uploads-none", 0, 1, b"", b"", 160).await, Err(MetaError::Conflict)),
        "unknown session"
    );
    store.update_upload(&u1.id, 10, 10, b"same", b"same", 170).await.expect("a zero-length update");
    u1 = UploadSession { hash_state: b"same".to_vec(), backend_state: b"same".to_vec(), updated_at: 170, ..u1 };
    assert_eq!(store.upload_last_part(&u1.id).await.unwrap(), Some(0), "the last update added nothing");

    let stale = async |before: i64| {
        let all = store.stale_uploads(before).await.expect("stale_uploads");
        all.into_iter().filter(|s| s.repository.as_str() == "conf-uploads/app").collect::<Vec<_>>()
    };
    assert_eq!(stale(170).await, [], "updated_at = before is not stale");
    assert_eq!(stale(171).await, [u1.clone()]);
    let mut both = stale(1000).await;
    both.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(both, [u1.clone(), u2.clone()]);

    let ids = store.all_upload_ids().await.expect("all_upload_ids");
    assert!(ids.contains(&u1.id) && ids.contains(&u2.id));

    store.delete_upload(&u1.id).await.expect("delete_upload");
    store.delete_upload(&u1.id).await.expect("deleting an unknown session is not an error");
    assert_eq!(store.get_upload(&u1.id).await.unwrap(), None);
    assert!(!store.all_upload_ids().await.unwrap().contains(&u1.id));
    assert!(matches!(store.update_upload(&u1.id, 10, 20, b"", b"", 200).await, Err(MetaError::Conflict)), "deleted");
    store.delete_upload(&u2.id).await.unwrap();
}

/// Caps on open sessions per repository and per owner are checked with the insert: nothing is created beyond
/// them, whoever asks, and concurrent creations never overshoot.
pub async fn upload_session_caps<S: MetaStore>(store: &S) {
    let caps = UploadCaps { per_repository: Some(3), per_owner: Some(4) };
    let new = |id: &str, repository: &str, owner: &str| UploadSession {
        repository: repo(repository),
        owner: owner.into(),
        ..session(id, 100)
    };
    let refused = |r: crate::Result<()>, naming: &str| {
        assert!(matches!(&r, Err(MetaError::LimitExceeded(m)) if m.contains(naming)), "refused naming {naming}: {r:?}");
    };
    // Three sessions in one repository, by two owners: a fourth is refused, whoever asks.
    for (id, owner) in [("conf-caps-1", "user/a"), ("conf-caps-2", "user/b"), ("conf-caps-3", "user/a")] {
        store.create_upload(&new(id, "conf-caps/one", owner), caps).await.expect("below the caps");
    }
    assert_eq!(store.get_upload("conf-caps-2").await.unwrap().unwrap().owner, "user/b", "the owner round-trips");
    refused(store.create_upload(&new("conf-caps-4", "conf-caps/one", "user/c"), caps).await, "conf-caps/one");
    assert_eq!(store.get_upload("conf-caps-4").await.unwrap(), None, "nothing created");

    // user/a has two; two more elsewhere reach its cap of four, in any repository.
    store.create_upload(&new("conf-caps-5", "conf-caps/two", "user/a"), caps).await.unwrap();
    store.create_upload(&new("conf-caps-6", "conf-caps/three", "user/a"), caps).await.unwrap();
    refused(store.create_upload(&new("conf-caps-7", "conf-caps/four", "user/a"), caps).await, "user/a");
    store
        .create_upload(&new("conf-caps-8", "conf-caps/four", "user/b"), caps)
        .await
        .expect("other owners are not held");

    // A session that ends frees its place; without caps nothing is refused.
    store.delete_upload("conf-caps-5").await.unwrap();
    store.create_upload(&new("conf-caps-9", "conf-caps/five", "user/a"), caps).await.expect("a place was freed");
    store.create_upload(&new("conf-caps-10", "conf-caps/one", "user/a"), UploadCaps::default()).await.expect("no caps");

    // 20 concurrent creations against a cap of 5: exactly 5 succeed.
    let caps = UploadCaps { per_repository: Some(5), per_owner: None };
    let sessions: Vec<_> = (0..20).map(|i| new(&format!("conf-caps-c{i}"), "conf-caps/race", "user/r")).collect();
    let results = join_all(sessions.iter().map(|s| store.create_upload(s, caps))).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 5, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(()) | Err(MetaError::LimitExceeded(_)))), "{results:?}");

    let ids = store.all_upload_ids().await.unwrap();
    for id in ids.iter().filter(|id| id.starts_with("conf-caps-")) {
        store.delete_upload(id).await.unwrap();
    }
}

/// Counters add up per repository; unknown repositories are ignored and read as zeros.
pub async fn usage_counters<S: MetaStore>(store: &S) {
    let r = repo("conf-usage/app");
    assert_eq!(store.usage(&r).await.unwrap(), Usage::default(), "unknown repository reads as zeros");
    store.add_usage(&r, 1, 2, 3, 1).await.expect("add_usage on an unknown repository is ignored");
    assert_eq!(store.usage(&r).await.unwrap(), Usage::default());
    assert!(!store.repository_exists(&r).await.unwrap(), "add_usage creates nothing");

    store.link_blob(&r, &blob("conf-usage a"), 1, 1).await.unwrap();
    assert_eq!(store.usage(&r).await.unwrap(), Usage::default(), "known repository without traffic");
    store.add_usage(&r, 10, 20, 1, 1).await.unwrap();
    store.add_usage(&r, 5, 0, 2, 1).await.unwrap();
    assert_eq!(store.usage(&r).await.unwrap(), Usage { bytes_in: 15, bytes_out: 20, pulls: 3 });
    store.add_usage(&r, 1 << 40, 1 << 41, 0, 1).await.unwrap();
    assert_eq!(store.usage(&r).await.unwrap(), Usage { bytes_in: 15 + (1 << 40), bytes_out: 20 + (1 << 41), pulls: 3 });
    assert_eq!(store.usage(&repo("conf-usage/other")).await.unwrap(), Usage::default(), "counters are per repository");
}

/// Daily transfer is added with the counters; storage snapshots replace the day's last one; days sum over
/// repositories; the per-repository report pages by name.
pub async fn usage_history<S: MetaStore>(store: &S) {
    use crate::{DAY, RepositoryUsage, UsageDay};
    let a = repo("conf-history/a");
    let b = repo("conf-history/b");
    // Day 10 and day 11 (made-up days, far from other checks' times).
    let (d10, d11) = (10 * DAY, 11 * DAY);
    store.link_blob(&a, &blob("conf-history one"), 100, 1).await.unwrap();
    store.link_blob(&b, &blob("conf-history two"), 7, 1).await.unwrap();
    store.link_blob(&b, &blob("conf-history one"), 100, 1).await.unwrap();
    let m = super::image(&b, "conf-history", vec![blob("conf-history two")], 1);
    store.put_manifest(&m, &[]).await.unwrap();
    let manifest_size = m.content.len() as u64;

    store.add_usage(&a, 10, 20, 1, d10 + 5).await.unwrap();
    store.add_usage(&a, 1, 2, 1, d10 + DAY - 1).await.unwrap();
    store.add_usage(&b, 0, 5, 1, d11).await.unwrap();
    store.record_storage(d10 + 60).await.unwrap();
    assert_eq!(store.usage(&a).await.unwrap(), Usage { bytes_in: 11, bytes_out: 22, pulls: 2 }, "the counters too");

    let days_of_a = store.usage_days(Some(&a), d10).await.unwrap();
    assert_eq!(
        days_of_a,
        [UsageDay {
            day: d10,
            stored_bytes: Some(100),
            images: Some(0),
            usage: Usage { bytes_in: 11, bytes_out: 22, pulls: 2 }
        },],
        "one repository's days"
    );
    // A later snapshot of the same day replaces the earlier one; another day gets its own.
    store.link_blob(&a, &blob("conf-history three"), 50, 1).await.unwrap();
    store.record_storage(d10 + 3600).await.unwrap();
    store.record_storage(d11 + 10).await.unwrap();
    let days_of_a = store.usage_days(Some(&a), d10).await.unwrap();
    assert_eq!(days_of_a.iter().map(|d| d.stored_bytes).collect::<Vec<_>>(), [Some(150), Some(150)]);
    assert_eq!(days_of_a[1].usage, Usage::default(), "no transfer on day 11");

    let b_size = 7 + 100 + manifest_size;
    let all = store.usage_days(None, d10).await.unwrap();
    let mine: Vec<&UsageDay> = all.iter().filter(|d| d.day == d10 || d.day == d11).collect();
    assert_eq!(mine.len(), 2, "{all:?}");
    // Other checks' repositories are snapshotted too: compare at least what these two add.
    assert!(mine[0].stored_bytes.unwrap() >= 150 + b_size, "{mine:?}");
    assert_eq!(mine[1].usage.bytes_out, 5, "day 11's transfer summed over repositories");
    assert_eq!(store.usage_days(Some(&a), d11 + 1).await.unwrap(), [], "days from `since` on");
    assert_eq!(store.usage_days(Some(&repo("conf-history/none")), 0).await.unwrap(), []);

    let page = store.repository_usage(crate::Page { last: Some("conf-history/"), n: 2 }).await.unwrap();
    assert_eq!(
        page,
        [
            RepositoryUsage {
                name: a.clone(),
                stored_bytes: 150,
                images: 0,
                usage: Usage { bytes_in: 11, bytes_out: 22, pulls: 2 }
            },
            RepositoryUsage {
                name: b.clone(),
                stored_bytes: b_size,
                images: 1,
                usage: Usage { bytes_in: 0, bytes_out: 5, pulls: 1 }
            },
        ]
    );
    let (blobs, bytes) = store.blob_totals().await.unwrap();
    assert!(blobs >= 3 && bytes >= 157, "every blob once: {blobs} {bytes}");
}
