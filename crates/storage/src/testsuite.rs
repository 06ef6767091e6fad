//! A conformance suite for [`BlobStore`] backends: every backend must pass it unchanged.
//!
//! Enabled by the `testsuite` cargo feature (and always in this crate's own tests). A backend runs it
//! against a fresh or existing store from an async test:
//!
//! ```ignore
//! #[tokio::test]
//! async fn conforms() {
//!     let store = MyBackend::connect(/* … */).await.unwrap();
//!     berth_storage::testsuite::run_all(&store).await;
//! }
//! ```
//!
//! The cases panic on the first violation, with a message naming the contract that was broken. They do not
//! assume an empty store: blob contents include a per-process nonce (so digests are new), upload ids carry
//! a per-process prefix, and every case cleans up what it created, except the empty blob (its digest is the
//! same for everybody, so deleting it could break a concurrent user of the store).

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use berth_oci::{Algorithm, Digest, DigestHasher, RepositoryName, Tag};
use bytes::Bytes;
use tokio::io::AsyncReadExt;

use crate::{BlobReader, BlobStore, ByteStream, Result, StorageError, UploadState};

/// Runs every case, in order, then checks that no upload session of this run is left behind.
pub async fn run_all(store: &dyn BlobStore) {
    round_trip(store).await;
    multiple_appends(store).await;
    offset_mismatch_and_truncating_retry(store).await;
    commit_of_existing_digest_keeps_one_copy(store).await;
    ranges(store).await;
    empty_blob(store).await;
    delete(store).await;
    cancel(store).await;
    create_twice_fails(store).await;
    unknown_and_malicious_ids(store).await;
    body_error_then_retry(store).await;
    commit_takes_exactly_the_recorded_size(store).await;
    listing(store).await;
    quarantine(store).await;
    journal(store).await;
    leaves_no_uploads(store).await;
}

/// Create, append in many chunks, inspect, read back, commit, stat, open, local path.
pub async fn round_trip(store: &dyn BlobStore) {
    let data = content("round_trip", 300_000);
    let digest = Digest::sha256_of(&data);
    let id = new_id();
    let state = store.create_upload(&id).await.expect("create_upload");
    assert_eq!(store.upload_size(&id, &state).await.expect("upload_size"), 0, "a new session is empty");
    assert!(store.list_uploads().await.expect("list_uploads").contains(&id), "list_uploads shows a new session");

    let chunks: Vec<&[u8]> = data.chunks(7_000).collect();
    let mut hasher = DigestHasher::new(Algorithm::Sha256);
    let mut seen = Vec::new();
    let (size, state) = store
        .append_upload(&id, &state, 0, body(&chunks), &mut |c: &[u8]| {
            hasher.update(c);
            seen.push(c.len());
        })
        .await
        .expect("append_upload");
    assert_eq!(size, data.len() as u64, "append returns the new size");
    assert_eq!(seen, chunks.iter().map(|c| c.len()).collect::<Vec<_>>(), "inspect sees every chunk, in order");
    assert_eq!(hasher.finish(), digest, "inspect sees the bytes as sent");
    assert_eq!(store.upload_size(&id, &state).await.expect("upload_size"), size);
    assert_eq!(read_all(store.read_upload(&id, &state).await.expect("read_upload")).await, data);

    assert_eq!(store.stat(&digest).await.expect("stat"), None, "nothing is visible before commit");
    assert_eq!(store.commit_upload(&id, &state, &digest, size).await.expect("commit_upload"), size);
    assert_eq!(store.stat(&digest).await.expect("stat"), Some(size));
    let reader = store.open(&digest, None).await.expect("open");
    assert_eq!(reader.len, size, "BlobReader::len of a whole blob");
    assert_eq!(reader.stored_size, size, "BlobReader::stored_size of a whole blob");
    assert_eq!(read_all(reader).await, data, "committed content");
    if let Some(path) = store.local_path(&digest) {
        assert_eq!(std::fs::read(&path).expect("read local_path"), data, "local_path holds the blob");
    }

    assert!(!store.list_uploads().await.expect("list_uploads").contains(&id), "commit ends the session");
    assert_not_found(store.upload_size(&id, &state).await, "upload_size after commit");
    assert_not_found(store.commit_upload(&id, &state, &digest, size).await, "second commit of one session");
    store.delete(&digest).await.expect("delete");
}

/// Several appends, including ones spanning many write buffers, an empty body and empty chunks.
pub async fn multiple_appends(store: &dyn BlobStore) {
    let data = content("multiple_appends", 2_600_011);
    let (a, rest) = data.split_at(10);
    let (b, c) = rest.split_at(2_500_000);
    let id = new_id();
    let mut state = store.create_upload(&id).await.expect("create_upload");
    let mut offset = 0;
    for part in [a, &[][..], b, c] {
        let mut chunks: Vec<&[u8]> = part.chunks(65_536).collect();
        chunks.insert(0, &[]);
        let (size, next) = append(store, &id, &state, offset, &chunks).await.expect("append_upload");
        assert_eq!(size, offset + part.len() as u64, "each append adds its bytes");
        assert_eq!(store.upload_size(&id, &next).await.expect("upload_size"), size);
        (offset, state) = (size, next);
    }
    assert_eq!(read_all(store.read_upload(&id, &state).await.expect("read_upload")).await, data);
    let digest = Digest::sha256_of(&data);
    assert_eq!(
        store.commit_upload(&id, &state, &digest, data.len() as u64).await.expect("commit_upload"),
        data.len() as u64
    );
    assert_eq!(read_all(store.open(&digest, None).await.expect("open")).await, data);
    store.delete(&digest).await.expect("delete");
}

/// An append past the end is refused untouched; an append before the end replaces what follows.
pub async fn offset_mismatch_and_truncating_retry(store: &dyn BlobStore) {
    let data = content("offset_mismatch", 100);
    let id = new_id();
    let state = store.create_upload(&id).await.expect("create_upload");
    let (_, state) = append(store, &id, &state, 0, &[&data]).await.expect("append_upload");

    let mut inspected = 0;
    let r = store.append_upload(&id, &state, 200, body(&[b"late"]), &mut |c: &[u8]| inspected += c.len()).await;
    match r {
        Err(StorageError::UploadOffsetMismatch { expected: 200, actual: 100 }) => {}
        other => panic!("append past the end must be UploadOffsetMismatch{{200, 100}}, got {}", describe(&other)),
    }
    assert_eq!(inspected, 0, "a refused append inspects nothing");
    assert_eq!(store.upload_size(&id, &state).await.expect("upload_size"), 100, "a refused append writes nothing");

    let retry = content("offset_mismatch retry", 30);
    let (size, state) = append(store, &id, &state, 50, &[&retry]).await.expect("append at an earlier offset");
    assert_eq!(size, 80);
    let expected = [&data[..50], &retry[..]].concat();
    assert_eq!(read_all(store.read_upload(&id, &state).await.expect("read_upload")).await, expected);
    let digest = Digest::sha256_of(&expected);
    assert_eq!(store.commit_upload(&id, &state, &digest, 80).await.expect("commit_upload"), 80);
    assert_eq!(read_all(store.open(&digest, None).await.expect("open")).await, expected);
    store.delete(&digest).await.expect("delete");
}

/// Committing a digest that already exists discards the session and keeps the existing (sound) blob, once.
pub async fn commit_of_existing_digest_keeps_one_copy(store: &dyn BlobStore) {
    let data = content("duplicate_commit", 5_000);
    let digest = Digest::sha256_of(&data);
    let first = upload(store, &data).await;
    assert_eq!(first, digest);

    let id = new_id();
    let state = store.create_upload(&id).await.expect("create_upload");
    let (_, state) = append(store, &id, &state, 0, &[&data]).await.expect("append_upload");
    assert_eq!(
        store.commit_upload(&id, &state, &digest, data.len() as u64).await.expect("second commit"),
        data.len() as u64
    );
    assert_not_found(store.upload_size(&id, &state).await, "session after a deduplicated commit");

    // Even bytes that do not match (the caller is trusted to have verified) never replace an existing blob.
    let id = new_id();
    let state = store.create_upload(&id).await.expect("create_upload");
    let (_, state) = append(store, &id, &state, 0, &[b"other bytes"]).await.expect("append_upload");
    assert_eq!(store.commit_upload(&id, &state, &digest, 11).await.expect("third commit"), data.len() as u64);
    assert_not_found(store.upload_size(&id, &state).await, "session after a deduplicated commit");

    assert_eq!(read_all(store.open(&digest, None).await.expect("open")).await, data, "the first blob is kept");
    let copies = store.list_blobs().await.expect("list_blobs").iter().filter(|d| **d == digest).count();
    assert_eq!(copies, 1, "a digest is listed once");
    store.delete(&digest).await.expect("delete");
}

/// Byte ranges: start, middle, end, empty, whole; outside the blob or inverted → RangeNotSatisfiable.
pub async fn ranges(store: &dyn BlobStore) {
    let data = content("ranges", 1000);
    let digest = upload(store, &data).await;
    for range in [0..10, 100..200, 990..1000, 0..1000, 500..500, 0..0, 1000..1000] {
        let reader = store.open(&digest, Some(range.clone())).await.expect("open a range");
        assert_eq!(reader.len, range.end - range.start, "BlobReader::len of range {range:?}");
        let got = read_all(reader).await;
        assert_eq!(got, data[range.start as usize..range.end as usize], "content of range {range:?}");
    }
    #[allow(clippy::reversed_empty_ranges)]
    let bad = [990..1001, 1000..1001, 1001..1001, 2000..3000, 10..5];
    for range in bad {
        match store.open(&digest, Some(range.clone())).await {
            Err(StorageError::RangeNotSatisfiable { size: 1000 }) => {}
            other => panic!("range {range:?} of 1000 bytes must be RangeNotSatisfiable, got {}", describe(&other)),
        }
    }
    store.delete(&digest).await.expect("delete");
    match store.open(&digest, Some(0..1)).await {
        Err(StorageError::BlobNotFound(d)) if d == digest => {}
        other => panic!("range of a missing blob must be BlobNotFound, got {}", describe(&other)),
    }
}

/// A session committed without any append makes the empty blob.
pub async fn empty_blob(store: &dyn BlobStore) {
    let digest = Digest::sha256_of(b"");
    let id = new_id();
    let state = store.create_upload(&id).await.expect("create_upload");
    assert_eq!(store.commit_upload(&id, &state, &digest, 0).await.expect("commit_upload"), 0);
    assert_eq!(store.stat(&digest).await.expect("stat"), Some(0));
    let reader = store.open(&digest, None).await.expect("open");
    assert_eq!(reader.len, 0);
    assert_eq!(read_all(reader).await, b"");
    assert_eq!(store.open(&digest, Some(0..0)).await.expect("open 0..0").len, 0);
    match store.open(&digest, Some(0..1)).await {
        Err(StorageError::RangeNotSatisfiable { size: 0 }) => {}
        other => panic!("0..1 of the empty blob must be RangeNotSatisfiable, got {}", describe(&other)),
    }
}

/// Deleting removes the blob; deleting a missing blob is fine.
pub async fn delete(store: &dyn BlobStore) {
    let data = content("delete", 4_321);
    let digest = upload(store, &data).await;
    store.delete(&digest).await.expect("delete");
    assert_eq!(store.stat(&digest).await.expect("stat"), None, "a deleted blob is gone");
    match store.open(&digest, None).await {
        Err(StorageError::BlobNotFound(d)) if d == digest => {}
        other => panic!("open of a deleted blob must be BlobNotFound, got {}", describe(&other)),
    }
    assert!(!store.list_blobs().await.expect("list_blobs").contains(&digest), "a deleted blob is not listed");
    store.delete(&digest).await.expect("deleting a missing blob is not an error");
}

/// Cancelling discards the session's bytes; cancelling twice (or a session never created) is fine.
pub async fn cancel(store: &dyn BlobStore) {
    let id = new_id();
    let state = store.create_upload(&id).await.expect("create_upload");
    let (_, state) = append(store, &id, &state, 0, &[b"some bytes"]).await.expect("append_upload");
    store.cancel_upload(&id, &state).await.expect("cancel_upload");
    assert_not_found(store.upload_size(&id, &state).await, "upload_size after cancel");
    assert_not_found(append(store, &id, &state, 0, &[b"x"]).await, "append after cancel");
    assert_not_found(store.read_upload(&id, &state).await, "read_upload after cancel");
    assert!(!store.list_uploads().await.expect("list_uploads").contains(&id), "a cancelled session is not listed");
    store.cancel_upload(&id, &state).await.expect("cancelling twice is not an error");
    store.cancel_upload(&new_id(), &UploadState::new()).await.expect("cancelling an unknown session is not an error");

    // The id is free again.
    let state = store.create_upload(&id).await.expect("create_upload after cancel");
    assert_eq!(store.upload_size(&id, &state).await.expect("upload_size"), 0, "a re-created session starts empty");
    store.cancel_upload(&id, &state).await.expect("cancel_upload");
}

/// Creating a session that exists is an error and leaves it intact.
pub async fn create_twice_fails(store: &dyn BlobStore) {
    let id = new_id();
    let state = store.create_upload(&id).await.expect("create_upload");
    let (_, state) = append(store, &id, &state, 0, &[b"keep me"]).await.expect("append_upload");
    assert!(store.create_upload(&id).await.is_err(), "creating an existing session must fail");
    assert_eq!(store.upload_size(&id, &state).await.expect("upload_size"), 7, "the session is untouched");
    store.cancel_upload(&id, &state).await.expect("cancel_upload");
}

/// Ids that are not upload ids (path tricks included) and ids never created → UploadNotFound everywhere.
pub async fn unknown_and_malicious_ids(store: &dyn BlobStore) {
    let long = "a".repeat(65);
    let malformed = [
        "",
        ".",
        "..",
        "../etc",
        "../../../../etc/passwd",
        "..%2f..%2fetc",
        "a/b",
        "/tmp/x",
        "0f8fad5b-d9cb-469f-a165-70867728950e/../x",
        "abc\0",
        "not-hex",
        " 0f8fad5b",
        long.as_str(),
    ];
    let state = UploadState::new();
    let digest = Digest::sha256_of(b"never stored");
    for id in malformed {
        assert_not_found(store.create_upload(id).await, &format!("create_upload({id:?})"));
    }
    let unknown = new_id();
    for id in malformed.iter().copied().chain([unknown.as_str()]) {
        let what = |op: &str| format!("{op}({id:?})");
        assert_not_found(store.upload_size(id, &state).await, &what("upload_size"));
        let mut inspected = 0;
        let r = store.append_upload(id, &state, 0, body(&[b"data"]), &mut |c: &[u8]| inspected += c.len()).await;
        assert_not_found(r, &what("append_upload"));
        assert_eq!(inspected, 0, "{} inspected bytes", what("append_upload"));
        assert_not_found(store.commit_upload(id, &state, &digest, 4).await, &what("commit_upload"));
        assert_not_found(store.read_upload(id, &state).await, &what("read_upload"));
        store.cancel_upload(id, &state).await.unwrap_or_else(|e| panic!("{}: {e}", what("cancel_upload")));
    }
    assert_eq!(store.stat(&digest).await.expect("stat"), None);
}

/// A body that fails midway → Body error; a retry at the old offset then gives exactly the right content.
pub async fn body_error_then_retry(store: &dyn BlobStore) {
    let hello = content("body_error hello", 6);
    let world = content("body_error world", 5);
    let id = new_id();
    let state = store.create_upload(&id).await.expect("create_upload");
    let (size, state) = append(store, &id, &state, 0, &[&hello]).await.expect("append_upload");
    assert_eq!(size, 6);

    // Enough bytes before the failure that a backend buffering writes has written some of them.
    let junk = content("body_error junk", 3 << 20);
    let items = vec![
        Ok(Bytes::from_static(b"wor")),
        Ok(Bytes::from(junk)),
        Err(io::Error::new(io::ErrorKind::ConnectionReset, "client went away")),
        Ok(Bytes::from_static(b"never read")),
    ];
    let mut inspected = 0;
    let r = store.append_upload(&id, &state, 6, stream(items), &mut |c: &[u8]| inspected += c.len()).await;
    match &r {
        Err(StorageError::Body(msg)) if msg.contains("client went away") => {}
        other => panic!("a failing body must be StorageError::Body, got {}", describe(other)),
    }
    assert_eq!(inspected, 3 + (3 << 20), "inspect saw the chunks that arrived before the failure");
    let held = store.upload_size(&id, &state).await.expect("upload_size after a failed append");
    assert!(held >= 6, "a failed append keeps the bytes before its offset (session holds {held})");

    let (size, state) = append(store, &id, &state, 6, &[&world]).await.expect("retry at the old offset");
    assert_eq!(size, 11);
    let expected = [hello, world].concat();
    assert_eq!(read_all(store.read_upload(&id, &state).await.expect("read_upload")).await, expected);
    let digest = Digest::sha256_of(&expected);
    assert_eq!(store.commit_upload(&id, &state, &digest, 11).await.expect("commit_upload"), 11);
    assert_eq!(read_all(store.open(&digest, None).await.expect("open")).await, expected);
    store.delete(&digest).await.expect("delete");

    // A body failing before its first chunk.
    let id = new_id();
    let state = store.create_upload(&id).await.expect("create_upload");
    let r = store.append_upload(&id, &state, 0, stream(vec![Err(io::Error::other("boom"))]), &mut |_: &[u8]| {}).await;
    assert!(matches!(r, Err(StorageError::Body(_))), "an immediately failing body must be Body, got {}", describe(&r));
    let (size, state) = append(store, &id, &state, 0, &[b"ok"]).await.expect("append after a failed one");
    assert_eq!(size, 2);
    store.cancel_upload(&id, &state).await.expect("cancel_upload");
}

/// `list_blobs` and `list_uploads` show what exists.
/// `commit_upload` stores exactly the first `size` bytes: bytes behind them (a failed append's leftovers) are
/// cut off, and a session holding fewer bytes than recorded cannot be committed.
pub async fn commit_takes_exactly_the_recorded_size(store: &dyn BlobStore) {
    let data = content("commit_size", 1_000);
    let id = new_id();
    let state = store.create_upload(&id).await.expect("create_upload");
    let (_, state) = append(store, &id, &state, 0, &[&data]).await.expect("append_upload");
    let short = Digest::sha256_of(&data[..600]);
    match store.commit_upload(&id, &state, &short, 2_000).await {
        Err(StorageError::UploadOffsetMismatch { expected: 2_000, actual: 1_000 }) => {}
        other => panic!("commit beyond the held bytes: expected UploadOffsetMismatch, got {}", describe(&other)),
    }
    assert_eq!(store.commit_upload(&id, &state, &short, 600).await.expect("commit_upload"), 600);
    assert_eq!(store.stat(&short).await.expect("stat"), Some(600));
    assert_eq!(read_all(store.open(&short, None).await.expect("open")).await, &data[..600]);
    store.delete(&short).await.expect("delete");
}

pub async fn listing(store: &dyn BlobStore) {
    let blobs = [upload(store, &content("listing 1", 10)).await, upload(store, &content("listing 2", 20)).await];
    let listed = store.list_blobs().await.expect("list_blobs");
    for d in &blobs {
        assert!(listed.contains(d), "list_blobs must contain {d}");
    }

    let (a, b) = (new_id(), new_id());
    let state_a = store.create_upload(&a).await.expect("create_upload");
    let state_b = store.create_upload(&b).await.expect("create_upload");
    let (_, state_b) = append(store, &b, &state_b, 0, &[b"bytes"]).await.expect("append_upload");
    let listed = store.list_uploads().await.expect("list_uploads");
    assert!(listed.contains(&a) && listed.contains(&b), "list_uploads must contain {a} and {b}: {listed:?}");

    store.cancel_upload(&a, &state_a).await.expect("cancel_upload");
    store.cancel_upload(&b, &state_b).await.expect("cancel_upload");
    for d in &blobs {
        store.delete(d).await.expect("delete");
    }
    let listed = store.list_blobs().await.expect("list_blobs");
    assert!(blobs.iter().all(|d| !listed.contains(d)), "deleted blobs are not listed");
}

/// No session created by this process's suite runs is left in the store.
pub async fn leaves_no_uploads(store: &dyn BlobStore) {
    let prefix = id_prefix();
    let left: Vec<String> =
        store.list_uploads().await.expect("list_uploads").into_iter().filter(|id| id.starts_with(&prefix)).collect();
    assert!(left.is_empty(), "the suite left upload sessions behind: {left:?}");
}

// ----- helpers -----

/// A random-looking per-process value, so that contents and ids of one run differ from any other run's.
fn nonce() -> u64 {
    static NONCE: OnceLock<u64> = OnceLock::new();
    *NONCE.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        splitmix(nanos ^ (u64::from(std::process::id()) << 32))
    })
}

/// A quarantined blob is gone from the store (and can be stored again); quarantining a missing one is a no-op.
pub async fn quarantine(store: &dyn BlobStore) {
    let data = content("quarantine", 3_000);
    let digest = upload(store, &data).await;
    assert!(store.quarantine(&digest).await.expect("quarantine"), "a stored blob is quarantined");
    assert_eq!(store.stat(&digest).await.expect("stat"), None, "a quarantined blob is not stat-able");
    assert!(matches!(store.open(&digest, None).await, Err(StorageError::BlobNotFound(_))), "nor open-able");
    assert!(!store.list_blobs().await.expect("list_blobs").contains(&digest), "nor listed");
    assert!(!store.quarantine(&digest).await.expect("quarantine"), "quarantining a missing blob is a no-op");
    assert_eq!(upload(store, &data).await, digest, "the blob can be pushed again");
    assert_eq!(read_all(store.open(&digest, None).await.expect("open")).await, data);
    store.delete(&digest).await.expect("delete");
}

/// The repository journal: manifests and tags written, moved, removed and read back, per repository.
pub async fn journal(store: &dyn BlobStore) {
    use crate::JournalUpdate::{Manifest, Tag as TagUpdate};
    let prefix = format!("suite{:x}", nonce() & 0xffff_ffff);
    let app: RepositoryName = format!("{prefix}/team/app").parse().unwrap();
    let other: RepositoryName = prefix.parse().unwrap();
    let tag = |t: &str| t.parse::<Tag>().unwrap();
    let (m1, m2) = (content("journal m1", 700), content("journal m2", 50));
    let (d1, d2) = (Digest::sha256_of(&m1), Digest::sha256_of(&m2));
    let oci = "application/vnd.oci.image.manifest.v1+json".to_string();
    let current = |m: &[u8]| Some((oci.clone(), m.to_vec()));
    store
        .journal_apply(vec![
            Manifest { repository: app.clone(), digest: d1.clone(), current: current(&m1) },
            Manifest { repository: app.clone(), digest: d2.clone(), current: current(&m2) },
            TagUpdate { repository: app.clone(), tag: tag("latest"), target: Some(d1.clone()) },
            TagUpdate { repository: app.clone(), tag: tag("v1.0"), target: Some(d1.clone()) },
            // Moved within the batch: the last update wins.
            TagUpdate { repository: app.clone(), tag: tag("latest"), target: Some(d2.clone()) },
            Manifest { repository: other.clone(), digest: d1.clone(), current: current(&m1) },
            // Removing what was never journaled is a no-op.
            TagUpdate { repository: other.clone(), tag: tag("gone"), target: None },
        ])
        .await
        .expect("journal_apply");
    let repositories = store.journal_repositories().await.expect("journal_repositories");
    assert!(repositories.contains(&app) && repositories.contains(&other), "{repositories:?}");

    let read = store.journal_read(&app).await.expect("journal_read");
    assert!(read.unreadable.is_empty(), "{:?}", read.unreadable);
    let mut expected = vec![(d1.clone(), m1.clone()), (d2.clone(), m2.clone())];
    expected.sort();
    let manifests: Vec<_> = read.manifests.iter().map(|m| (m.digest.clone(), m.content.clone())).collect();
    assert_eq!(manifests, expected, "manifests with their bytes, in digest order");
    assert!(read.manifests.iter().all(|m| m.media_type == oci), "media types are kept");
    assert_eq!(read.tags, [(tag("latest"), d2.clone()), (tag("v1.0"), d1.clone())]);
    let nested = store.journal_read(&other).await.expect("journal_read");
    assert_eq!((nested.manifests.len(), nested.tags.len()), (1, 0), "a parent repository has its own journal");

    store
        .journal_apply(vec![
            TagUpdate { repository: app.clone(), tag: tag("v1.0"), target: None },
            Manifest { repository: app.clone(), digest: d1.clone(), current: None },
            Manifest { repository: other.clone(), digest: d1.clone(), current: None },
        ])
        .await
        .expect("journal_apply removals");
    let read = store.journal_read(&app).await.expect("journal_read");
    assert_eq!(read.manifests.iter().map(|m| &m.digest).collect::<Vec<_>>(), [&d2]);
    assert_eq!(read.tags, [(tag("latest"), d2.clone())]);
    store
        .journal_apply(vec![
            TagUpdate { repository: app.clone(), tag: tag("latest"), target: None },
            Manifest { repository: app.clone(), digest: d2, current: None },
        ])
        .await
        .expect("journal_apply removals");
    assert_eq!(store.journal_read(&app).await.expect("journal_read"), Default::default());
}

/// Prefix of every upload id this process's suite creates (hex and `-` only, like a UUID).
fn id_prefix() -> String {
    format!("7e57{:012x}-", nonce() & 0xffff_ffff_ffff)
}

/// A fresh upload id.
fn new_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("{}{:016x}", id_prefix(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// `len` pseudo-random bytes, distinct for each `label` and each process.
pub fn content(label: &str, len: usize) -> Vec<u8> {
    let mut state = label.bytes().fold(nonce(), |h, b| splitmix(h ^ u64::from(b)));
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = splitmix(state);
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A body stream yielding `items` in order.
pub fn stream(items: Vec<io::Result<Bytes>>) -> ByteStream {
    Box::pin(futures_util::stream::iter(items))
}

/// A body stream yielding `chunks`.
pub fn body(chunks: &[&[u8]]) -> ByteStream {
    stream(chunks.iter().map(|c| Ok(Bytes::copy_from_slice(c))).collect())
}

/// Appends `chunks` and checks that `inspect` saw exactly them.
async fn append(
    store: &dyn BlobStore,
    id: &str,
    state: &UploadState,
    offset: u64,
    chunks: &[&[u8]],
) -> Result<(u64, UploadState)> {
    let mut seen = Vec::new();
    let r = store.append_upload(id, state, offset, body(chunks), &mut |c: &[u8]| seen.extend_from_slice(c)).await;
    if r.is_ok() {
        assert_eq!(seen, chunks.concat(), "inspect sees exactly the appended bytes");
    }
    r
}

/// Stores `data` through a one-append session; returns its digest.
async fn upload(store: &dyn BlobStore, data: &[u8]) -> Digest {
    let digest = Digest::sha256_of(data);
    let id = new_id();
    let state = store.create_upload(&id).await.expect("create_upload");
    let (_, state) = append(store, &id, &state, 0, &[data]).await.expect("append_upload");
    assert_eq!(
        store.commit_upload(&id, &state, &digest, data.len() as u64).await.expect("commit_upload"),
        data.len() as u64
    );
    digest
}

/// Reads a whole [`BlobReader`], checking that it yields exactly `len` bytes.
pub async fn read_all(mut blob: BlobReader) -> Vec<u8> {
    let mut out = Vec::new();
    blob.reader.read_to_end(&mut out).await.expect("reading a blob");
    assert_eq!(out.len() as u64, blob.len, "a BlobReader yields exactly `len` bytes");
    out
}

fn describe<T>(r: &Result<T>) -> String {
    match r {
        Ok(_) => "Ok(..)".to_string(),
        Err(e) => format!("Err({e:?})"),
    }
}

#[track_caller]
fn assert_not_found<T>(r: Result<T>, what: &str) {
    if !matches!(r, Err(StorageError::UploadNotFound(_))) {
        panic!("{what} must be UploadNotFound, got {}", describe(&r));
    }
}
