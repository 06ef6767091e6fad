//! Upload sessions and usage counters.

use super::{blob, repo};
use crate::{MetaError, MetaStore, UploadSession, Usage};

fn session(id: &str, updated_at: i64) -> UploadSession {
    UploadSession {
        id: id.into(),
        repository: repo("conf-uploads/app"),
        size: 0,
        // Binary state with zero bytes and every byte value.
        hash_state: (0..=255u8).collect(),
        backend_state: vec![0, 0, 7, 0],
        created_at: 100,
        updated_at,
    }
}

pub async fn upload_sessions<S: MetaStore>(store: &S) {
    let (mut u1, u2) = (session("conf-uploads-1", 100), session("conf-uploads-2", 300));
    assert_eq!(store.get_upload(&u1.id).await.unwrap(), None, "unknown session");
    store.create_upload(&u1).await.expect("create_upload");
    store.create_upload(&u2).await.expect("create_upload");
    assert_eq!(store.get_upload(&u1.id).await.unwrap(), Some(u1.clone()), "round trip");
    assert!(
        matches!(store.create_upload(&u1).await, Err(MetaError::Conflict)),
        "creating a session id twice is a Conflict"
    );

    store.update_upload(&u1.id, 0, 10, b"hash", b"backend", 150).await.expect("update_upload");
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
    assert!(
        matches!(store.update_upload("conf-uploads-none", 0, 1, b"", b"", 160).await, Err(MetaError::Conflict)),
        "unknown session"
    );
    store.update_upload(&u1.id, 10, 10, b"same", b"same", 170).await.expect("a zero-length update");
    u1 = UploadSession { hash_state: b"same".to_vec(), backend_state: b"same".to_vec(), updated_at: 170, ..u1 };

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

/// Counters add up per repository; unknown repositories are ignored and read as zeros.
pub async fn usage_counters<S: MetaStore>(store: &S) {
    let r = repo("conf-usage/app");
    assert_eq!(store.usage(&r).await.unwrap(), Usage::default(), "unknown repository reads as zeros");
    store.add_usage(&r, 1, 2, 3).await.expect("add_usage on an unknown repository is ignored");
    assert_eq!(store.usage(&r).await.unwrap(), Usage::default());
    assert!(!store.repository_exists(&r).await.unwrap(), "add_usage creates nothing");

    store.link_blob(&r, &blob("conf-usage a"), 1, 1).await.unwrap();
    assert_eq!(store.usage(&r).await.unwrap(), Usage::default(), "known repository without traffic");
    store.add_usage(&r, 10, 20, 1).await.unwrap();
    store.add_usage(&r, 5, 0, 2).await.unwrap();
    assert_eq!(store.usage(&r).await.unwrap(), Usage { bytes_in: 15, bytes_out: 20, pulls: 3 });
    store.add_usage(&r, 1 << 40, 1 << 41, 0).await.unwrap();
    assert_eq!(store.usage(&r).await.unwrap(), Usage { bytes_in: 15 + (1 << 40), bytes_out: 20 + (1 << 41), pulls: 3 });
    assert_eq!(store.usage(&repo("conf-usage/other")).await.unwrap(), Usage::default(), "counters are per repository");
}
