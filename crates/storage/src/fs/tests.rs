//! Tests of the filesystem backend: the conformance suite plus what only a filesystem can show.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_oci::{Algorithm, Digest, DigestHasher};
use bytes::Bytes;
use futures_util::StreamExt;

use super::FsBlobStore;
use crate::testsuite::{self, body, content, read_all, stream};
use crate::{BlobStore, ByteStream, StorageError, UploadState};

const ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

async fn store() -> (tempfile::TempDir, FsBlobStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsBlobStore::open(dir.path().join("store")).await.expect("open store");
    (dir, store)
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn put(store: &FsBlobStore, id: &str, data: &[u8]) -> Digest {
    let digest = Digest::sha256_of(data);
    let state = store.create_upload(id).await.expect("create_upload");
    let (_, state) = store.append_upload(id, &state, 0, body(&[data]), &mut |_: &[u8]| {}).await.expect("append");
    store.commit_upload(id, &state, &digest, data.len() as u64).await.expect("commit_upload");
    digest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    let (_dir, store) = store().await;
    testsuite::run_all(&store).await;
    assert!(names_in(&store.root().join("uploads")).is_empty(), "no upload files left behind");
}

#[tokio::test]
async fn conformance_on_a_current_thread_runtime() {
    let (_dir, store) = store().await;
    testsuite::run_all(&store).await;
}

#[tokio::test]
async fn open_creates_the_layout_and_reopening_keeps_blobs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("a/b/store");
    let store = FsBlobStore::open(&root).await.expect("open");
    assert_eq!(names_in(&root), ["blobs", "uploads"]);
    let digest = put(&store, ID, b"persistent").await;
    drop(store);

    let store = FsBlobStore::open(&root).await.expect("reopen");
    assert_eq!(store.stat(&digest).await.expect("stat"), Some(10));
    assert_eq!(store.list_blobs().await.expect("list_blobs"), [digest]);
}

#[tokio::test]
async fn blobs_live_at_their_digest_path() {
    let (_dir, store) = store().await;
    let digest = put(&store, ID, b"where am I").await;
    let hex = digest.hex();
    let expected = store.root().join("blobs/sha256").join(&hex[..2]).join(hex);
    assert_eq!(std::fs::read(&expected).expect("blob file"), b"where am I");
    assert_eq!(store.local_path(&digest), Some(expected));
    assert!(names_in(&store.root().join("uploads")).is_empty(), "commit moved the upload file");
}

#[tokio::test]
async fn upload_ids_cannot_escape_the_store() {
    let (dir, store) = store().await;
    for id in ["../escape", "..", "../store/blobs", "/tmp/escape", "a/../../escape"] {
        assert!(matches!(store.create_upload(id).await, Err(StorageError::UploadNotFound(_))), "{id}");
        let r = store.append_upload(id, &UploadState::new(), 0, body(&[b"x"]), &mut |_: &[u8]| {}).await;
        assert!(matches!(r, Err(StorageError::UploadNotFound(_))), "{id}");
        store.cancel_upload(id, &UploadState::new()).await.expect("cancel is a no-op");
    }
    assert_eq!(names_in(dir.path()), ["store"]);
    assert_eq!(names_in(store.root()), ["blobs", "uploads"]);
    assert!(names_in(&store.root().join("uploads")).is_empty());
}

#[tokio::test]
async fn listings_skip_foreign_files() {
    let (_dir, store) = store().await;
    let digest = put(&store, ID, b"real").await;
    let root = store.root();
    let hex = digest.hex();
    let junk = [
        "blobs/stray-file".to_string(),
        "blobs/md5/d4/d41d8cd98f00b204e9800998ecf8427e".to_string(),
        "blobs/sha256/zz/not-a-digest".to_string(),
        format!("blobs/sha256/{}/{}", if &hex[..2] == "00" { "01" } else { "00" }, hex),
        format!("blobs/sha256/{}/{}.tmp", &hex[..2], hex),
        "uploads/not_an_id.txt".to_string(),
    ];
    for path in &junk {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, b"junk").expect("write junk");
    }
    std::fs::create_dir_all(root.join("uploads/abcdef")).expect("a directory is not a session");
    assert_eq!(store.list_blobs().await.expect("list_blobs"), [digest]);
    assert!(store.list_uploads().await.expect("list_uploads").is_empty());
}

#[tokio::test]
async fn append_discards_bytes_beyond_the_offset_and_rolls_back_on_body_error() {
    let (_dir, store) = store().await;
    let state = store.create_upload(ID).await.expect("create_upload");
    let path = store.root().join("uploads").join(ID);

    // Bytes left by an earlier append whose result the caller never recorded.
    std::fs::write(&path, b"0123456789").expect("write");
    let (size, state) =
        store.append_upload(ID, &state, 4, body(&[b"abc"]), &mut |_: &[u8]| {}).await.expect("append at 4");
    assert_eq!(size, 7);
    assert_eq!(std::fs::read(&path).expect("read"), b"0123abc");

    // A failing body (after more than one write buffer) leaves the session as it was.
    let items = vec![Ok(Bytes::from(vec![b'x'; 3 << 20])), Err(std::io::Error::other("reset"))];
    let r = store.append_upload(ID, &state, 7, stream(items), &mut |_: &[u8]| {}).await;
    assert!(matches!(r, Err(StorageError::Body(_))));
    assert_eq!(std::fs::read(&path).expect("read"), b"0123abc");
    store.cancel_upload(ID, &state).await.expect("cancel");
}

/// A body fed by hand: send chunks (or an error) through the sender, drop it to end the body.
fn channel_body() -> (tokio::sync::mpsc::Sender<std::io::Result<Bytes>>, ByteStream) {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let body = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    (tx, Box::pin(body))
}

/// Starts appending a hand-fed body at `offset` on a spawned task, sends `first` bytes through it and waits a
/// moment, so that the append has written some of them and is now waiting for more.
async fn start_stalled_append(
    store: &Arc<FsBlobStore>,
    offset: u64,
    first: usize,
) -> (tokio::sync::mpsc::Sender<std::io::Result<Bytes>>, tokio::task::JoinHandle<crate::Result<(u64, UploadState)>>) {
    let (tx, body) = channel_body();
    let task = tokio::spawn({
        let store = Arc::clone(store);
        async move { store.append_upload(ID, &UploadState::new(), offset, body, &mut |_: &[u8]| {}).await }
    });
    tx.send(Ok(Bytes::from(vec![b'x'; first]))).await.expect("append is reading");
    tokio::time::sleep(Duration::from_millis(100)).await;
    (tx, task)
}

/// A request dropped mid-append (client gone, timeout): its bytes never count, and a retry works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_append_then_retry() {
    let (_dir, store) = store().await;
    let data = content("dropped append", 5 << 20);
    let state = store.create_upload(ID).await.expect("create_upload");

    // Sends 3 MiB, then stalls forever.
    let head = Bytes::copy_from_slice(&data[..3 << 20]);
    let stalled: ByteStream = Box::pin(
        futures_util::stream::iter(vec![Ok(head)]).chain(futures_util::stream::pending::<std::io::Result<Bytes>>()),
    );
    let mut ignore = |_: &[u8]| {};
    let attempt = store.append_upload(ID, &state, 0, stalled, &mut ignore);
    assert!(tokio::time::timeout(Duration::from_millis(200), attempt).await.is_err(), "the stalled append hangs");
    assert_eq!(store.upload_size(ID, &state).await.expect("upload_size"), 0, "its bytes were never acknowledged");
    match store.append_upload(ID, &state, 1, body(&[b"x"]), &mut |_: &[u8]| {}).await {
        Err(StorageError::UploadOffsetMismatch { expected: 1, actual: 0 }) => {}
        other => panic!("unacknowledged bytes cannot be adopted: {:?}", other.map(|(size, _)| size)),
    }

    let chunks: Vec<&[u8]> = data.chunks(64 << 10).collect();
    let (size, state) =
        store.append_upload(ID, &state, 0, body(&chunks), &mut |_: &[u8]| {}).await.expect("retry from 0");
    assert_eq!(size, data.len() as u64);
    assert_eq!(read_all(store.read_upload(ID, &state).await.expect("read_upload")).await, data);
    store.cancel_upload(ID, &state).await.expect("cancel");
}

/// Finishing an upload with no body after a dropped append commits only the acknowledged bytes (otherwise a
/// client could store bytes under a digest they do not have).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_append_is_never_committed() {
    let (_dir, store) = store().await;
    let store = Arc::new(store);
    let hello = content("acknowledged", 5);
    let state = store.create_upload(ID).await.expect("create_upload");
    store.append_upload(ID, &state, 0, body(&[&hello]), &mut |_: &[u8]| {}).await.expect("append");

    let (tx, task) = start_stalled_append(&store, 5, 3 << 20).await;
    task.abort();
    assert!(task.await.expect_err("aborted").is_cancelled());
    drop(tx);

    assert_eq!(store.upload_size(ID, &state).await.expect("upload_size"), 5);
    assert_eq!(read_all(store.read_upload(ID, &state).await.expect("read_upload")).await, hello);
    let digest = Digest::sha256_of(&hello);
    assert_eq!(store.commit_upload(ID, &state, &digest, 5).await.expect("commit"), 5);
    assert_eq!(read_all(store.open(&digest, None).await.expect("open")).await, hello);
}

/// A commit or cancel does not wait for an append stalled on its client, and the append's later bytes are
/// fenced off (they would otherwise land in the committed blob, through the renamed file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_append_loses_its_session_to_commit_or_cancel() {
    let (_dir, store) = store().await;
    let store = Arc::new(store);
    let hello = content("stalled", 5);
    let digest = Digest::sha256_of(&hello);

    for finish_by_commit in [true, false] {
        let state = store.create_upload(ID).await.expect("create_upload");
        store.append_upload(ID, &state, 0, body(&[&hello]), &mut |_: &[u8]| {}).await.expect("append");
        let (tx, task) = start_stalled_append(&store, 5, 3 << 20).await;

        let finish = async {
            if finish_by_commit {
                assert_eq!(store.commit_upload(ID, &state, &digest, 5).await.expect("commit"), 5);
            } else {
                store.cancel_upload(ID, &state).await.expect("cancel");
            }
        };
        tokio::time::timeout(Duration::from_secs(10), finish).await.expect("not blocked by the stalled append");

        // The client wakes up and sends the rest.
        for _ in 0..3 {
            if tx.send(Ok(Bytes::from(vec![b'y'; 1 << 20]))).await.is_err() {
                break;
            }
        }
        drop(tx);
        assert!(task.await.expect("task").is_err(), "the stalled append must fail");
        assert!(names_in(&store.root().join("uploads")).is_empty());
    }
    assert_eq!(read_all(store.open(&digest, None).await.expect("open")).await, hello, "the blob is untouched");
    assert_eq!(std::fs::metadata(store.local_path(&digest).expect("local")).expect("stat").len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_of_one_digest_leave_one_blob() {
    let (_dir, store) = store().await;
    let store = Arc::new(store);
    let data = Bytes::from(content("concurrent commits", 100_000));
    let digest = Digest::sha256_of(&data);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (store, data, digest) = (store.clone(), data.clone(), digest.clone());
        tasks.push(tokio::spawn(async move {
            let id = format!("{i:08x}-0000-0000-0000-000000000000");
            let state = store.create_upload(&id).await.expect("create_upload");
            let (_, state) =
                store.append_upload(&id, &state, 0, body(&[&data]), &mut |_: &[u8]| {}).await.expect("append");
            store.commit_upload(&id, &state, &digest, data.len() as u64).await.expect("commit")
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), 100_000);
    }
    assert_eq!(store.list_blobs().await.expect("list_blobs"), std::slice::from_ref(&digest));
    assert!(store.list_uploads().await.expect("list_uploads").is_empty());
    assert_eq!(read_all(store.open(&digest, None).await.expect("open")).await, data);
}

/// Streams `total` bytes in `chunk`-sized pieces (cycling through `data`) into one session, hashing in
/// `inspect`. Returns the digest seen by `inspect` and the elapsed time.
async fn stream_through(store: &FsBlobStore, id: &str, data: &Bytes, chunk: usize) -> (Digest, u64, Duration) {
    let chunks: Vec<Bytes> =
        (0..data.len()).step_by(chunk).map(|i| data.slice(i..(i + chunk).min(data.len()))).collect();
    let state = store.create_upload(id).await.expect("create_upload");
    let mut hasher = DigestHasher::new(Algorithm::Sha256);
    let started = Instant::now();
    let (size, _) = store
        .append_upload(id, &state, 0, stream(chunks.into_iter().map(Ok).collect()), &mut |c: &[u8]| hasher.update(c))
        .await
        .expect("append_upload");
    (hasher.finish(), size, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_64_mib_in_small_chunks() {
    let (_dir, store) = store().await;
    let data = Bytes::from(content("64 MiB", 64 << 20));
    let (seen, size, _) = stream_through(&store, ID, &data, 16 << 10).await;
    assert_eq!(size, 64 << 20);
    assert_eq!(seen, Digest::sha256_of(&data), "inspect saw every byte in order");
    let file = std::fs::read(store.root().join("uploads").join(ID)).expect("upload file");
    assert_eq!(Digest::sha256_of(&file), seen, "the file holds exactly what inspect saw");
    assert_eq!(store.commit_upload(ID, &UploadState::new(), &seen, 64 << 20).await.expect("commit"), 64 << 20);
}

/// `cargo test -p berth-storage --release -- --ignored --nocapture append_throughput`
///
/// Prints the throughput of `append_upload` (16 KiB chunks, no-op `inspect`, final `fdatasync` included)
/// next to the raw cost of the same write with `std::fs` in 1 MiB writes and of its `fdatasync`, and of
/// reading the blob back in 16 KiB reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "prints throughput; run by hand"]
async fn append_throughput() {
    use std::io::Write;
    use tokio::io::AsyncReadExt;

    const TOTAL: usize = 1 << 30;
    let gib_per_s = |bytes: u64, d: Duration| bytes as f64 / d.as_secs_f64() / f64::from(1 << 30);
    let (dir, store) = store().await;
    let data = Bytes::from(content("throughput", TOTAL));

    let raw = dir.path().join("raw");
    let started = Instant::now();
    let mut file = std::fs::File::create(&raw).expect("create");
    for part in data.chunks(1 << 20) {
        file.write_all(part).expect("write");
    }
    let written = started.elapsed();
    file.sync_data().expect("sync");
    let synced = started.elapsed();
    drop(file);
    std::fs::remove_file(&raw).expect("remove");
    eprintln!(
        "raw std::fs 1 MiB writes: {:.2} GiB/s to page cache, {:.2} GiB/s with fdatasync ({:?})",
        gib_per_s(TOTAL as u64, written),
        gib_per_s(TOTAL as u64, synced),
        synced - written
    );

    // The body records when it ends: by then all but the last buffer are in the page cache.
    let ended = std::sync::Arc::new(std::sync::Mutex::new(None));
    let chunks: Vec<std::io::Result<Bytes>> =
        (0..TOTAL).step_by(16 << 10).map(|i| Ok(data.slice(i..i + (16 << 10)))).collect();
    let end_marker = ended.clone();
    let body: ByteStream =
        Box::pin(futures_util::stream::iter(chunks).chain(futures_util::stream::poll_fn(move |_| {
            *end_marker.lock().expect("lock") = Some(Instant::now());
            std::task::Poll::Ready(None)
        })));
    let state = store.create_upload(ID).await.expect("create_upload");
    let started = Instant::now();
    let (size, _) = store.append_upload(ID, &state, 0, body, &mut |_: &[u8]| {}).await.expect("append_upload");
    let elapsed = started.elapsed();
    let streamed = ended.lock().expect("lock").map(|t| t - started).expect("body ended");
    eprintln!(
        "append_upload 16 KiB chunks: body consumed at {:.2} GiB/s, {:.2} GiB/s with fdatasync ({elapsed:?})",
        gib_per_s(size, streamed),
        gib_per_s(size, elapsed)
    );

    let digest = Digest::sha256_of(&data);
    store.commit_upload(ID, &UploadState::new(), &digest, data.len() as u64).await.expect("commit");
    let started = Instant::now();
    let mut reader = store.open(&digest, None).await.expect("open").reader;
    let mut buf = vec![0u8; 16 << 10];
    let mut read = 0u64;
    loop {
        let n = reader.read(&mut buf).await.expect("read");
        if n == 0 {
            break;
        }
        read += n as u64;
    }
    let elapsed = started.elapsed();
    eprintln!("open + 16 KiB reads: {:.2} GiB/s ({elapsed:?})", gib_per_s(read, elapsed));
}

/// Pushing a blob again repairs a damaged stored copy (truncated, or a flipped bit), atomically: the stored
/// copy is replaced by the pushed bytes (also a sound one, by identical bytes; a reader that opened it keeps
/// reading it).
#[tokio::test]
async fn a_commit_replaces_the_stored_copy_and_so_repairs_a_damaged_one() {
    let (_dir, store) = store().await;
    let data = content("damaged", 300_000);
    let digest = put(&store, ID, &data).await;
    let path = store.local_path(&digest).expect("local path");
    let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).expect("stat"));

    let sound = inode(&path);
    let mut open = store.open(&digest, None).await.expect("open");
    put(&store, "1d", &data).await;
    assert_ne!(inode(&path), sound, "the stored copy is replaced");
    let mut read = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut open.reader, &mut read).await.expect("read");
    assert_eq!(read, data, "a reader of the replaced copy reads it to its end");
    assert_eq!(std::fs::read(&path).expect("read"), data);

    let mut flipped = data.clone();
    flipped[123_456] ^= 0x10;
    std::fs::write(&path, &flipped).expect("flip a bit");
    put(&store, "2d", &data).await;
    assert_eq!(std::fs::read(&path).expect("read"), data, "a copy with a flipped bit is replaced");

    std::fs::write(&path, &data[..1000]).expect("truncate");
    let reader = store.open(&digest, None).await.expect("open");
    assert_eq!(reader.stored_size, 1000, "open reports the size as stored");
    put(&store, "3d", &data).await;
    assert_eq!(std::fs::read(&path).expect("read"), data, "a truncated copy is replaced");
    assert!(names_in(&store.root().join("uploads")).is_empty(), "no upload file left behind");
}

/// Journal files: temporary files are ignored, entries that do not match their name are reported.
#[tokio::test]
async fn journal_entries_that_do_not_match_are_reported_not_used() {
    let (_dir, store) = store().await;
    let repo: berth_oci::RepositoryName = "app".parse().unwrap();
    let manifest = b"{\"schemaVersion\":2}".to_vec();
    let digest = Digest::sha256_of(&manifest);
    let update = crate::JournalUpdate::Manifest {
        repository: repo.clone(),
        digest: digest.clone(),
        current: Some(("application/vnd.oci.image.manifest.v1+json".into(), manifest)),
    };
    store.journal_apply(vec![update]).await.expect("journal_apply");
    let dir = store.root().join("repositories/app");
    let file = dir.join("_manifests/sha256").join(digest.hex());
    let written = std::fs::read(&file).expect("journal file");
    assert!(written.starts_with(b"application/vnd.oci.image.manifest.v1+json\n{"), "media type, then bytes");

    std::fs::create_dir_all(dir.join("_tags")).unwrap();
    std::fs::write(dir.join("_tags/.latest.99.tmp"), "half-written").unwrap();
    std::fs::write(dir.join("_tags/broken"), "not a digest\n").unwrap();
    let mut damaged = written.clone();
    *damaged.last_mut().unwrap() ^= 1;
    std::fs::write(&file, damaged).unwrap();

    let read = store.journal_read(&repo).await.expect("journal_read");
    assert!(read.manifests.is_empty() && read.tags.is_empty(), "{read:?}");
    assert_eq!(read.unreadable.len(), 2, "{:?}", read.unreadable);
    assert_eq!(store.journal_repositories().await.expect("journal_repositories"), [repo]);
}

/// What committing costs a re-push of an existing blob, next to what the push itself costs (the
/// append, hashed as the registry hashes it, and a commit of a new blob). Run in release:
/// `cargo test -p berth-storage --release -- --ignored --nocapture re_push_cost`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement"]
async fn re_push_cost() {
    let (_dir, store) = store().await;
    for mib in [1usize, 16, 256] {
        let data = content("re_push_cost", mib << 20);
        let digest = Digest::sha256_of(&data);
        let mut timings = Vec::new();
        for (round, id) in ["a1", "a2", "a3"].into_iter().enumerate() {
            let state = store.create_upload(id).await.expect("create_upload");
            let chunks: Vec<&[u8]> = data.chunks(64 << 10).collect();
            let mut hasher = DigestHasher::new(Algorithm::Sha256);
            let started = Instant::now();
            let (size, state) = store
                .append_upload(id, &state, 0, body(&chunks), &mut |c: &[u8]| hasher.update(c))
                .await
                .expect("append");
            assert_eq!(hasher.finish(), digest);
            let appended = started.elapsed();
            let started = Instant::now();
            store.commit_upload(id, &state, &digest, size).await.expect("commit");
            let committed = started.elapsed();
            timings.push((if round == 0 { "new" } else { "existing" }, appended, committed));
        }
        for (kind, appended, committed) in timings {
            eprintln!(
                "{mib:>4} MiB: append+hash {:>8.1} ms, commit of a {kind:<8} blob {:>7.1} ms ({:.0}% of the push)",
                appended.as_secs_f64() * 1e3,
                committed.as_secs_f64() * 1e3,
                100.0 * committed.as_secs_f64() / (appended + committed).as_secs_f64()
            );
        }
        store.delete(&digest).await.expect("delete");
    }
}

/// Appends of every alignment (the staging buffers after the first are written with O_DIRECT where the
/// filesystem takes it, the first and the last through the page cache): the session holds exactly the bytes
/// appended, in order, and the committed blob reads back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_of_any_size_and_offset_store_exactly_their_bytes() {
    let (_dir, store) = store().await;
    let mib = 1 << 20;
    let sizes = [1, 4095, 3 * mib + 17, 2 * mib, 4096, mib - 1, 5, 2 * mib + 4096];
    let total: usize = sizes.iter().sum();
    let data = content("alignment", total);
    let state = store.create_upload(ID).await.expect("create_upload");
    let mut offset = 0usize;
    for (i, size) in sizes.into_iter().enumerate() {
        let part = &data[offset..offset + size];
        // Chunks of an odd size, as a client's body might arrive.
        let chunks: Vec<&[u8]> = part.chunks(7001 + i * 1000).collect();
        let mut seen = 0usize;
        let (held, _) = store
            .append_upload(ID, &state, offset as u64, body(&chunks), &mut |c: &[u8]| seen += c.len())
            .await
            .expect("append");
        offset += size;
        assert_eq!((held, seen), (offset as u64, size), "append {i}");
    }
    let upload = read_all(store.read_upload(ID, &state).await.expect("read_upload")).await;
    assert!(upload == data, "the session holds the bytes appended");
    let digest = Digest::sha256_of(&data);
    store.commit_upload(ID, &state, &digest, total as u64).await.expect("commit");
    assert!(read_all(store.open(&digest, None).await.expect("open")).await == data);
}
