//! Faults of the SQLite backend: a write that fails on a full disk must leave the writer connection usable,
//! so the store recovers by itself once space returns.

use super::SqliteMeta;
use crate::identity::{AuditEvent, AuditLog};

fn event(i: usize) -> AuditEvent {
    AuditEvent {
        id: 0,
        at: i as i64,
        principal: "user/alice".into(),
        action: "ecr:PutImage".into(),
        resource: format!("repo/{i}"),
        source_ip: "127.0.0.1".into(),
        outcome: "allowed".into(),
        status: 201,
        // Large enough that every batch needs new pages.
        detail: Some("x".repeat(8 * 1024)),
    }
}

/// Caps the database at its current size on the writer connection (SQLite then fails allocations of new
/// pages with `SQLITE_FULL`, as on a full disk) or lifts the cap.
async fn cap_size(meta: &SqliteMeta, cap: bool) {
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count").fetch_one(&meta.writer).await.unwrap();
    let max = if cap { pages } else { 1_073_741_823 };
    sqlx::query(&format!("PRAGMA max_page_count = {max}")).execute(&meta.writer).await.unwrap();
}

#[tokio::test]
async fn a_write_refused_for_lack_of_space_leaves_the_writer_usable() {
    let dir = tempfile::tempdir().unwrap();
    let meta = SqliteMeta::open(&dir.path().join("meta.db")).await.unwrap();
    meta.append_audit(&[event(0)]).await.unwrap();

    let mut refused = 0;
    for i in 1..200 {
        // The cap is a setting of the connection, and a failure may have replaced the connection.
        cap_size(&meta, true).await;
        match meta.append_audit(&[event(i), event(i + 1000)]).await {
            Ok(()) => {}
            Err(e) => {
                assert!(e.is_out_of_space(), "a full database is reported as such: {e}");
                assert!(e.to_string().contains("full"), "{e}");
                refused += 1;
                if refused == 3 {
                    break;
                }
            }
        }
    }
    assert_eq!(refused, 3, "the capped database refused writes");

    // Space returns: the very next write succeeds, without reopening the store.
    cap_size(&meta, false).await;
    meta.append_audit(&[event(5000)]).await.expect("the writer recovers once space returns");
    let listed = meta.list_audit(None, 10_000).await.unwrap();
    assert!(listed.iter().any(|e| e.at == 5000));
    assert!(!listed.iter().any(|e| e.at == 1000 + 200), "nothing of a refused batch was half written");
}
