//! SQLite-specific tests: the shared conformance suite, plus what only this backend can show (pragmas,
//! rows left behind, persistence, corrupt rows).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use berth_oci::{Digest, Reference, RepositoryName, Tag};
use futures_util::future::join_all;
use tempfile::TempDir;

use super::SqliteMeta;
use super::barrier::Barrier;
use crate::identity::{
    AccessKey, AccessKeyStore, AuditEvent, AuditLog, GroupStore, PolicyStore, PolicyTarget, RobotToken, SigningKey,
    TokenStore, User, UserStore, Visibility,
};
use crate::{
    BlobIndex, ManifestStore, MetaError, NewManifest, RepositoryStore, UploadCaps, UploadSession, UploadStore,
    UsageStore,
};

async fn open() -> (TempDir, SqliteMeta) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteMeta::open(&dir.path().join("meta.db")).await.expect("open");
    (dir, store)
}

fn name(s: &str) -> RepositoryName {
    s.parse().unwrap()
}

fn manifest(repository: &RepositoryName, body: &str, blobs: Vec<Digest>, children: Vec<Digest>) -> NewManifest {
    NewManifest {
        repository: repository.clone(),
        digest: Digest::sha256_of(body.as_bytes()),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        content: body.as_bytes().to_vec(),
        artifact_type: None,
        subject: None,
        annotations: None,
        config_digest: None,
        blobs,
        children,
        platforms: None,
        pushed_at: 1,
    }
}

async fn count(store: &SqliteMeta, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&store.reader).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    let (_dir, store) = open().await;
    crate::conformance::run_all(&store).await;
    crate::conformance::run_identity(&store).await;
    store.close().await;
}

#[tokio::test]
async fn connections_are_configured() {
    let (_dir, store) = open().await;
    let int = async |pool: &sqlx::SqlitePool, p: &str| -> i64 {
        sqlx::query_scalar(&format!("PRAGMA {p}")).fetch_one(pool).await.unwrap()
    };
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&store.writer).await.unwrap();
    assert_eq!(journal, "wal");
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&store.reader).await.unwrap();
    assert_eq!(journal, "wal", "readers see the file's WAL mode");
    assert_eq!(int(&store.writer, "synchronous").await, 1, "writer uses synchronous = NORMAL (group commit)");
    assert_eq!(int(&store.writer, "wal_autocheckpoint").await, 1000, "automatic checkpoints stay on");
    assert_eq!(int(&store.writer, "journal_size_limit").await, -1);
    assert_eq!(int(&store.writer, "foreign_keys").await, 1);
    assert_eq!(int(&store.reader, "foreign_keys").await, 1);
    assert_eq!(int(&store.writer, "busy_timeout").await, 10_000);
    let write =
        sqlx::query("INSERT INTO blobs (digest, size, created_at) VALUES ('x', 1, 1)").execute(&store.reader).await;
    assert!(write.is_err(), "the read pool cannot write");
    assert_eq!(store.writer.options().get_max_connections(), 1);
}

#[tokio::test]
async fn refused_put_and_deletes_leave_no_rows() {
    let (_dir, store) = open().await;
    let repo = name("app");
    let a = Digest::sha256_of(b"a");
    let m1 = manifest(&repo, "m1", vec![a.clone()], vec![]);
    let missing_blob = manifest(&name("fresh"), "m2", vec![a.clone()], vec![]);
    assert!(matches!(store.put_manifest(&missing_blob, &["t".parse().unwrap()]).await, Err(MetaError::MissingBlob(_))));
    for table in ["repositories", "manifests", "manifest_blobs", "tags"] {
        assert_eq!(count(&store, table).await, 0, "{table} after a refused put");
    }

    store.link_blob(&repo, &a, 1, 1).await.unwrap();
    store.put_manifest(&m1, &["t".parse().unwrap()]).await.unwrap();
    let idx = manifest(&repo, "idx", vec![], vec![m1.digest.clone(), m1.digest.clone()]);
    store.put_manifest(&idx, &["i".parse().unwrap()]).await.unwrap();
    assert_eq!(count(&store, "manifest_children").await, 1, "a child listed twice is stored once");
    assert_eq!(count(&store, "manifest_blobs").await, 1);

    assert!(store.delete_manifest(&repo, &idx.digest).await.unwrap());
    assert!(store.delete_manifest(&repo, &m1.digest).await.unwrap());
    for table in ["manifests", "manifest_blobs", "manifest_children", "tags"] {
        assert_eq!(count(&store, table).await, 0, "{table} after deleting every manifest");
    }
    assert_eq!(count(&store, "repository_blobs").await, 1, "blob links stay");
}

#[tokio::test]
async fn data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested.db");
    let repo = name("app");
    let m = manifest(&repo, "m", vec![], vec![]);
    let tag: Tag = "v1".parse().unwrap();
    {
        let store = SqliteMeta::open(&path).await.unwrap();
        store.put_manifest(&m, std::slice::from_ref(&tag)).await.unwrap();
        // No close(): dropping the pools without a checkpoint is the crash-like path.
    }
    let store = SqliteMeta::open(&path).await.expect("reopen runs no migration twice");
    let got = store.get_manifest(&repo, &Reference::Tag(tag)).await.unwrap().expect("manifest after reopen");
    assert_eq!(got.digest, m.digest);
    assert!(store.repository_exists(&repo).await.unwrap());
}

#[tokio::test]
async fn unparsable_stored_values_are_corrupt() {
    let (_dir, store) = open().await;
    sqlx::query("INSERT INTO blobs (digest, size, created_at) VALUES ('sha256:nothex', 1, 1)")
        .execute(&store.writer)
        .await
        .unwrap();
    assert!(matches!(store.all_blobs().await, Err(MetaError::Corrupt(_))));

    sqlx::query(
        "INSERT INTO uploads (id, repository, size, hash_state, backend_state, created_at, updated_at) \
         VALUES ('u', 'Not/A/Name', 0, x'', x'', 1, 1)",
    )
    .execute(&store.writer)
    .await
    .unwrap();
    assert!(matches!(store.get_upload("u").await, Err(MetaError::Corrupt(_))));
}

#[tokio::test]
async fn sizes_beyond_the_integer_range_are_refused() {
    let (_dir, store) = open().await;
    let result = store.link_blob(&name("app"), &Digest::sha256_of(b"x"), u64::MAX, 1).await;
    assert!(matches!(result, Err(MetaError::Database(sqlx::Error::Encode(_)))), "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_links_are_all_durable_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let repo = name("app");
    let digests: Vec<Digest> = (0..200).map(|i| Digest::sha256_of(format!("blob {i}").as_bytes())).collect();
    {
        let store = SqliteMeta::open(&path).await.unwrap();
        let links = digests.iter().zip(1u64..).map(|(d, size)| store.link_blob(&repo, d, size, 1));
        for (i, result) in join_all(links).await.into_iter().enumerate() {
            result.unwrap_or_else(|e| panic!("link_blob #{i}: {e}"));
        }
        // Dropped without close(): no final checkpoint.
    }
    let store = SqliteMeta::open(&path).await.unwrap();
    for (d, size) in digests.iter().zip(1u64..) {
        assert_eq!(store.linked_blob_size(&repo, d).await.unwrap(), Some(size), "{d}");
    }
    assert_eq!(count(&store, "repository_blobs").await, 200);
    store.close().await;
}

/// Replaces the store's barrier with one that counts syncs (and does none).
fn count_syncs(store: &mut SqliteMeta) -> Arc<AtomicUsize> {
    let syncs = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&syncs);
    store.barrier = Barrier::new(Box::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }));
    syncs
}

#[tokio::test]
async fn mutations_wait_for_the_barrier_and_statistics_do_not() {
    let (_dir, mut store) = open().await;
    let syncs = count_syncs(&mut store);
    let repo = name("app");
    let a = Digest::sha256_of(b"a");
    let m = manifest(&repo, "m", vec![a.clone()], vec![]);
    let tag: Tag = "t".parse().unwrap();
    let session = UploadSession {
        id: "u".into(),
        repository: repo.clone(),
        size: 0,
        hash_state: vec![],
        backend_state: vec![],
        owner: "user/u".into(),
        created_at: 1,
        updated_at: 1,
    };

    let mut expected = 0;
    let mut synced = async |what: &str| {
        expected += 1;
        assert_eq!(syncs.load(Ordering::SeqCst), expected, "{what} waits for one sync");
    };
    store.link_blob(&repo, &a, 1, 1).await.unwrap();
    synced("link_blob").await;
    store.put_manifest(&m, std::slice::from_ref(&tag)).await.unwrap();
    synced("put_manifest").await;
    store.create_upload(&session, UploadCaps::default()).await.unwrap();
    synced("create_upload").await;
    store.update_upload("u", 0, 5, b"h", b"b", 2).await.unwrap();
    synced("update_upload").await;
    assert!(matches!(store.update_upload("u", 0, 6, b"h", b"b", 2).await, Err(MetaError::Conflict)));
    synced("a conflicting update_upload").await;
    store.delete_upload("u").await.unwrap();
    synced("delete_upload").await;
    assert!(store.delete_tag(&repo, &tag).await.unwrap());
    synced("delete_tag").await;
    assert!(store.delete_manifest(&repo, &m.digest).await.unwrap());
    synced("delete_manifest").await;
    assert!(store.unlink_blob(&repo, &a).await.unwrap());
    synced("unlink_blob").await;

    store.link_blob(&repo, &a, 1, 1).await.unwrap();
    store.put_manifest(&m, &[]).await.unwrap();
    let before = syncs.load(Ordering::SeqCst);
    store.record_pull(&repo, &m.digest, 5).await.unwrap();
    store.add_usage(&repo, 1, 2, 3, 5).await.unwrap();
    store.record_storage(5).await.unwrap();
    assert_eq!(syncs.load(Ordering::SeqCst), before, "statistics do not wait for a sync");

    let refused = manifest(&repo, "refused", vec![Digest::sha256_of(b"missing")], vec![]);
    assert!(store.put_manifest(&refused, &[]).await.is_err());
    assert_eq!(syncs.load(Ordering::SeqCst), before, "a rolled-back transaction has nothing to make durable");
}

#[tokio::test]
async fn the_wal_is_synced_where_sqlite_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.db");
    let store = SqliteMeta::open(&real).await.unwrap();
    store.close().await;
    #[cfg(unix)]
    {
        // Through a symbolic link, SQLite keeps the WAL next to the file the link points at.
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let store = SqliteMeta::open(&link).await.expect("open through a symlink");
        store.link_blob(&name("app"), &Digest::sha256_of(b"x"), 1, 1).await.unwrap();
        assert!(dir.path().join("real.db-wal").is_file());
        assert!(!dir.path().join("link.db-wal").exists());
        store.close().await;
    }
}

fn user(name: &str) -> User {
    User {
        id: format!("id-{name}"),
        name: name.into(),
        password_hash: Some("hash".into()),
        is_admin: false,
        created_at: 1,
    }
}

fn access_key(id: &str, user: &str) -> AccessKey {
    AccessKey {
        id: id.into(),
        user: user.into(),
        sealed_secret: vec![1, 2, 3],
        active: true,
        created_at: 1,
        last_used_at: None,
    }
}

fn robot_token(id: &str, owner: &str) -> RobotToken {
    RobotToken {
        id: id.into(),
        name: id.into(),
        owner: owner.into(),
        secret_hash: "hash".into(),
        scope: "{}".into(),
        expires_at: 100,
        created_at: 1,
    }
}

fn audit_event(action: &str) -> AuditEvent {
    AuditEvent {
        id: 0,
        at: 1,
        principal: "user/admin".into(),
        action: action.into(),
        resource: "*".into(),
        source_ip: "127.0.0.1".into(),
        outcome: "allowed".into(),
        status: 200,
        detail: None,
    }
}

#[tokio::test]
async fn identity_mutations_wait_for_the_barrier_and_statistics_do_not() {
    let (_dir, mut store) = open().await;
    let syncs = count_syncs(&mut store);
    let repo = name("app");
    let kid = SigningKey { kid: "k".into(), sealed_private: vec![1], created_at: 1, retired_at: None };

    let mut expected = 0;
    let mut synced = async |what: &str| {
        expected += 1;
        assert_eq!(syncs.load(Ordering::SeqCst), expected, "{what} waits for one sync");
    };
    store.create_user(&user("u")).await.unwrap();
    synced("create_user").await;
    store.set_password_hash("u", None).await.unwrap();
    synced("set_password_hash").await;
    assert!(matches!(store.set_password_hash("none", None).await, Err(MetaError::NotFound(_))));
    synced("set_password_hash of an unknown user").await;
    store.create_access_key(&access_key("AK", "u")).await.unwrap();
    synced("create_access_key").await;
    store.set_access_key_active("AK", false).await.unwrap();
    synced("set_access_key_active").await;
    store.create_group("g", 1).await.unwrap();
    synced("create_group").await;
    store.add_member("g", "u").await.unwrap();
    synced("add_member").await;
    store.remove_member("g", "u").await.unwrap();
    synced("remove_member").await;
    store.put_policy(&PolicyTarget::Group("g".into()), "{}", 1).await.unwrap();
    synced("put_policy").await;
    store.delete_policy(&PolicyTarget::Group("g".into())).await.unwrap();
    synced("delete_policy").await;
    store.set_visibility(&repo, Visibility::Public, 1).await.unwrap();
    synced("set_visibility").await;
    store.create_robot_token(&robot_token("t", "u")).await.unwrap();
    synced("create_robot_token").await;
    store.delete_robot_token("t").await.unwrap();
    synced("delete_robot_token").await;
    store.add_signing_key(&kid).await.unwrap();
    synced("add_signing_key").await;
    store.retire_signing_key("k", 2).await.unwrap();
    synced("retire_signing_key").await;
    store.prune_signing_keys(3).await.unwrap();
    synced("prune_signing_keys").await;
    store.append_audit(&[audit_event("a"), audit_event("b")]).await.unwrap();
    synced("append_audit (one sync for the batch)").await;
    store.delete_access_key("AK").await.unwrap();
    synced("delete_access_key").await;
    store.delete_group("g").await.unwrap();
    synced("delete_group").await;
    store.delete_user("u").await.unwrap();
    synced("delete_user").await;

    store.create_user(&user("u")).await.unwrap();
    store.create_access_key(&access_key("AK", "u")).await.unwrap();
    let before = syncs.load(Ordering::SeqCst);
    store.touch_access_key("AK", 5).await.unwrap();
    assert_eq!(syncs.load(Ordering::SeqCst), before, "touch_access_key is a statistic: no sync");
    assert_eq!(store.get_access_key("AK").await.unwrap().unwrap().last_used_at, Some(5));
    assert!(matches!(store.create_user(&user("u")).await, Err(MetaError::AlreadyExists(_))));
    assert!(matches!(store.add_member("none", "u").await, Err(MetaError::NotFound(_))));
    assert_eq!(syncs.load(Ordering::SeqCst), before, "a refused write has nothing to make durable");
}

#[tokio::test]
async fn deleting_users_and_groups_leaves_no_rows() {
    let (_dir, store) = open().await;
    store.create_user(&user("u")).await.unwrap();
    store.create_user(&user("other")).await.unwrap();
    store.create_group("g", 1).await.unwrap();
    store.create_access_key(&access_key("AK", "u")).await.unwrap();
    store.add_member("g", "u").await.unwrap();
    store.add_member("g", "other").await.unwrap();
    store.put_policy(&PolicyTarget::User("u".into()), "{}", 1).await.unwrap();
    store.put_policy(&PolicyTarget::Group("g".into()), "{}", 1).await.unwrap();
    store.create_robot_token(&robot_token("t", "u")).await.unwrap();

    assert!(store.delete_user("u").await.unwrap());
    for table in ["access_keys", "robot_tokens"] {
        assert_eq!(count(&store, table).await, 0, "{table} after deleting the user");
    }
    assert_eq!(count(&store, "group_members").await, 1, "only the other user's membership is left");
    assert_eq!(count(&store, "policies").await, 1, "only the group's policy is left");
    assert!(store.delete_group("g").await.unwrap());
    for table in ["group_members", "policies", "groups"] {
        assert_eq!(count(&store, table).await, 0, "{table} after deleting the group");
    }
}

#[tokio::test]
async fn visibility_and_repository_policies_create_bare_repository_rows() {
    let (_dir, store) = open().await;
    store.set_visibility(&name("seen"), Visibility::Public, 1).await.unwrap();
    store.put_policy(&PolicyTarget::Repository(name("guarded")), "{}", 1).await.unwrap();
    store.put_policy(&PolicyTarget::Repository(name("seen")), "{}", 2).await.unwrap();
    assert_eq!(count(&store, "repositories").await, 2, "one row each, reused");
    assert!(store.delete_policy(&PolicyTarget::Repository(name("guarded"))).await.unwrap());
    assert_eq!(count(&store, "repositories").await, 2, "deleting the policy keeps the row");
    // Rows created by pushes get the default.
    store.link_blob(&name("pushed"), &Digest::sha256_of(b"x"), 1, 1).await.unwrap();
    let visibility: String = sqlx::query_scalar("SELECT visibility FROM repositories WHERE name = 'pushed'")
        .fetch_one(&store.reader)
        .await
        .unwrap();
    assert_eq!(visibility, "private");
}

#[tokio::test]
async fn identity_values_are_checked_and_unparsable_ones_are_corrupt() {
    let (_dir, store) = open().await;
    let refused = [
        "INSERT INTO repositories (name, created_at, visibility) VALUES ('x', 1, 'secret')",
        "INSERT INTO audit_log (at, principal, action, resource, source_ip, outcome, status) \
         VALUES (1, 'p', 'a', 'r', 'i', 'o', 70000)",
        "INSERT INTO policies (target_kind, target_name, document, updated_at) VALUES ('registry', 'x', '{}', 1)",
        "INSERT INTO policies (target_kind, target_name, document, updated_at) VALUES ('user', '', '{}', 1)",
        "INSERT INTO policies (target_kind, target_name, document, updated_at) VALUES ('team', 'x', '{}', 1)",
    ];
    for sql in refused {
        assert!(sqlx::query(sql).execute(&store.writer).await.is_err(), "the schema refuses {sql}");
    }

    // Rows that slipped past the checks (written with them off) read as corrupt, not as something else.
    let mut conn = store.writer.acquire().await.unwrap();
    sqlx::query("PRAGMA ignore_check_constraints = ON").execute(&mut *conn).await.unwrap();
    sqlx::query("INSERT INTO repositories (name, created_at, visibility) VALUES ('x', 1, 'secret')")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO audit_log (at, principal, action, resource, source_ip, outcome, status) \
         VALUES (1, 'p', 'a', 'r', 'i', 'o', 70000)",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query("PRAGMA ignore_check_constraints = OFF").execute(&mut *conn).await.unwrap();
    drop(conn);
    assert!(matches!(store.visibility(&name("x")).await, Err(MetaError::Corrupt(_))));
    assert!(matches!(store.list_audit(None, 10).await, Err(MetaError::Corrupt(_))));
}

#[tokio::test]
async fn identity_data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    {
        let store = SqliteMeta::open(&path).await.unwrap();
        store.create_user(&user("u")).await.unwrap();
        store.append_audit(&[audit_event("a")]).await.unwrap();
        // Dropped without close(): no final checkpoint.
    }
    let store = SqliteMeta::open(&path).await.expect("reopen runs no migration twice");
    assert_eq!(store.get_user("u").await.unwrap(), Some(user("u")));
    let events = store.list_audit(None, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    store.append_audit(&[audit_event("b")]).await.unwrap();
    assert!(store.list_audit(Some(events[0].id), 10).await.unwrap()[0].id > events[0].id);
    store.close().await;
}
