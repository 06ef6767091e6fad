//! The sealed store over the filesystem backend (and S3): the conformance suite, and what sealing adds.

use std::path::Path;
use std::sync::Arc;

use berth_oci::Digest;
use tokio::io::AsyncReadExt as _;

use super::format::sealed_len;

use super::*;
use crate::FsBlobStore;
use crate::testsuite::{self, body, content, read_all};

const MARKER: &[u8] = b"berth-sealing-test-marker: this plaintext must never be stored";

fn keys(material: u8) -> Arc<LocalKeys> {
    Arc::new(LocalKeys::new("default", [material; KEY_LEN]))
}

async fn stores(dir: &Path) -> (Arc<FsBlobStore>, SealedBlobStore) {
    let inner = Arc::new(FsBlobStore::open(dir.join("store")).await.expect("open store"));
    let sealed = SealedBlobStore::new(inner.clone(), keys(1));
    (inner, sealed)
}

async fn put(store: &dyn BlobStore, id: &str, chunks: &[&[u8]]) -> Digest {
    let data = chunks.concat();
    let digest = Digest::sha256_of(&data);
    let state = store.create_upload(id).await.expect("create_upload");
    let (size, state) = store.append_upload(id, &state, 0, body(chunks), &mut |_: &[u8]| {}).await.expect("append");
    assert_eq!(size, data.len() as u64);
    store.commit_upload(id, &state, &digest, size).await.expect("commit_upload");
    digest
}

/// Layer-like content with the marker repeated throughout, so any plaintext segment on disk would show it.
fn marked(len: usize) -> Vec<u8> {
    MARKER.iter().copied().cycle().take(len).collect()
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conforms_over_the_filesystem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, sealed) = stores(dir.path()).await;
    testsuite::run_all(&sealed).await;
}

#[tokio::test]
async fn conforms_over_s3() {
    let server = crate::s3_server::S3Server::moto().unwrap_or_else(|e| panic!("{e}"));
    server.create_bucket("sealed").unwrap_or_else(|e| panic!("{e}"));
    let inner = crate::S3BlobStore::connect(&server.config("sealed", "p")).await.expect("connect");
    testsuite::run_all(&SealedBlobStore::new(Arc::new(inner), keys(1))).await;
}

/// Neither committed blobs nor an upload in progress leave plaintext on disk.
#[tokio::test]
async fn no_plaintext_is_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, sealed) = stores(dir.path()).await;
    let data = marked(5 * SEGMENT as usize + 1234);
    let digest = put(&sealed, "00000000-0000-0000-0000-000000000001", &[&data[..100_000], &data[100_000..]]).await;
    // An unfinished session: segments stored, and a tail (in the state, which the caller persists).
    let id = "00000000-0000-0000-0000-000000000002";
    let state = sealed.create_upload(id).await.expect("create");
    let (_, state) =
        sealed.append_upload(id, &state, 0, body(&[&data[..150_000]]), &mut |_: &[u8]| {}).await.expect("append");
    assert!(!contains(&state, &MARKER[..20]), "the upload state holds no plaintext");

    let mut files = Vec::new();
    files_under(dir.path(), &mut files);
    assert!(files.len() >= 2, "the blob and the session are on disk: {files:?}");
    for file in &files {
        let bytes = std::fs::read(file).expect("read");
        assert!(!contains(&bytes, &MARKER[..20]), "{} holds plaintext", file.display());
    }
    assert_eq!(read_all(sealed.open(&digest, None).await.expect("open")).await, data);
    assert_eq!(read_all(sealed.read_upload(id, &state).await.expect("read_upload")).await, data[..150_000]);
    sealed.cancel_upload(id, &state).await.expect("cancel");
}

/// Ranges starting, ending and crossing segment boundaries return exactly the asked bytes.
#[tokio::test]
async fn ranges_across_segment_boundaries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, sealed) = stores(dir.path()).await;
    let data = content("sealed ranges", 4 * SEGMENT as usize + 100);
    let digest = put(&sealed, "00000000-0000-0000-0000-000000000003", &[&data]).await;
    let s = SEGMENT;
    let len = data.len() as u64;
    for range in [0..1, 0..s, s - 1..s + 1, s..2 * s, s - 10..3 * s + 10, 2 * s + 5..len, len - 1..len, 0..len, 7..7] {
        let blob = sealed.open(&digest, Some(range.clone())).await.expect("open range");
        assert_eq!(blob.stored_size, len);
        let got = read_all(blob).await;
        assert_eq!(got, data[range.start as usize..range.end as usize], "range {range:?}");
    }
    assert!(matches!(
        sealed.open(&digest, Some(0..len + 1)).await,
        Err(StorageError::RangeNotSatisfiable { size }) if size == len
    ));
}

fn blob_file(dir: &Path, digest: &Digest) -> std::path::PathBuf {
    let hex = digest.hex();
    dir.join("store/blobs").join(digest.algorithm().as_str()).join(&hex[..2]).join(hex)
}

async fn read_result(store: &SealedBlobStore, digest: &Digest) -> Result<Vec<u8>, io::Error> {
    let mut blob = store.open(digest, None).await.map_err(|e| match e {
        StorageError::Io(e) => e,
        other => panic!("unexpected {other:?}"),
    })?;
    let mut out = Vec::new();
    blob.reader.read_to_end(&mut out).await.map(|_| out)
}

/// A flipped byte in any segment is an `InvalidData` error; the damaged segment's bytes are never returned. In
/// the first segment it fails `open` itself (before a response would start).
#[tokio::test]
async fn a_flipped_byte_is_detected_never_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, sealed) = stores(dir.path()).await;
    let data = content("sealed flip", 3 * SEGMENT as usize);
    let digest = put(&sealed, "00000000-0000-0000-0000-000000000004", &[&data]).await;
    let path = blob_file(dir.path(), &digest);
    let original = std::fs::read(&path).expect("read blob file");
    let header = original.len() as u64 - sealed_len(0, data.len() as u64);

    // In the first segment: `open` fails.
    let mut bytes = original.clone();
    bytes[header as usize + 100] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();
    match sealed.open(&digest, None).await {
        Err(StorageError::Io(e)) => {
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            assert!(e.to_string().contains("segment 0 fails authentication"), "{e}");
        }
        other => panic!("expected InvalidData, got {:?}", other.map(|b| b.len)),
    }
    // In the last segment: the read fails after the sound segments, without the damaged one's bytes.
    let mut bytes = original.clone();
    let at = bytes.len() - 20;
    bytes[at] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let mut blob = sealed.open(&digest, None).await.expect("the first segment is sound");
    let mut got = Vec::new();
    let err = blob.reader.read_to_end(&mut got).await.expect_err("the damaged segment is an error");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(got.len() <= 2 * SEGMENT as usize && data.starts_with(&got), "only sound bytes were returned");
    // A range that avoids the damage still reads.
    assert_eq!(
        read_all(sealed.open(&digest, Some(10..SEGMENT + 10)).await.unwrap()).await,
        data[10..SEGMENT as usize + 10]
    );
    // Cut short: the last segment is missing.
    std::fs::write(&path, &original[..original.len() - (SEGMENT as usize + 28)]).unwrap();
    assert!(read_result(&sealed, &digest).await.is_err(), "a truncated object does not read");
    // A damaged header.
    let mut bytes = original.clone();
    bytes[10] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    assert!(sealed.stat(&digest).await.is_err(), "a damaged header is an error");
    // Pushing the blob again repairs it.
    std::fs::write(&path, &original[..original.len() - 1]).unwrap();
    put(&sealed, "00000000-0000-0000-0000-000000000005", &[&data]).await;
    assert_eq!(read_result(&sealed, &digest).await.unwrap(), data);
}

/// A store opened with another key-encryption key cannot read the blobs (an error, not garbage).
#[tokio::test]
async fn another_key_cannot_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (inner, sealed) = stores(dir.path()).await;
    let digest = put(&sealed, "00000000-0000-0000-0000-000000000006", &[b"secret layer"]).await;
    let other = SealedBlobStore::new(inner.clone(), keys(2));
    assert!(other.open(&digest, None).await.is_err());
    let unknown = SealedBlobStore::new(inner, Arc::new(LocalKeys::new("other", [1; KEY_LEN])));
    let err = unknown.open(&digest, None).await.err().expect("unknown key");
    assert!(err.to_string().contains("encryption key default is not known"), "{err}");
}

/// Blobs and sessions from before encryption was enabled stay readable and usable.
#[tokio::test]
async fn plaintext_blobs_and_sessions_keep_working() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (inner, sealed) = stores(dir.path()).await;
    let old = content("plain blob", 100_000);
    let digest = put(inner.as_ref(), "00000000-0000-0000-0000-000000000007", &[&old]).await;
    assert_eq!(sealed.stat(&digest).await.unwrap(), Some(100_000));
    assert_eq!(read_all(sealed.open(&digest, Some(70_000..70_010)).await.unwrap()).await, old[70_000..70_010]);

    // A session begun unsealed is continued and committed unsealed.
    let id = "00000000-0000-0000-0000-000000000008";
    let data = content("plain session", 5_000);
    let state = inner.create_upload(id).await.unwrap();
    let (_, state) = inner.append_upload(id, &state, 0, body(&[&data[..1000]]), &mut |_: &[u8]| {}).await.unwrap();
    let (size, state) =
        sealed.append_upload(id, &state, 1000, body(&[&data[1000..]]), &mut |_: &[u8]| {}).await.unwrap();
    let d = Digest::sha256_of(&data);
    assert_eq!(sealed.commit_upload(id, &state, &d, size).await.unwrap(), 5_000);
    assert_eq!(read_all(sealed.open(&d, None).await.unwrap()).await, data);
}

/// Data kept beside a session (the running hash state) is sealed under the session's key and opens again;
/// data kept unsealed (before encryption was enabled) opens as it is.
#[tokio::test]
async fn session_data_is_sealed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, sealed) = stores(dir.path()).await;
    let id = "00000000-0000-0000-0000-000000000009";
    let state = sealed.create_upload(id).await.expect("create");
    let data = MARKER.to_vec();
    let kept = sealed.seal_upload_data(&state, data.clone()).await.unwrap();
    assert!(!contains(&kept, &MARKER[..20]), "sealed session data holds no plaintext");
    assert_eq!(sealed.open_upload_data(&state, kept.clone()).await.unwrap(), data);
    assert_eq!(sealed.open_upload_data(&state, vec![1, 2, 3]).await.unwrap(), [1, 2, 3], "unsealed data");
    let mut damaged = kept;
    damaged[20] ^= 1;
    assert!(sealed.open_upload_data(&state, damaged).await.is_err());
    sealed.cancel_upload(id, &state).await.expect("cancel");
}

/// `reseal` replaces a plaintext copy with a sealed one, once; a plaintext copy that does not match its digest
/// is left as it is.
#[tokio::test]
async fn reseal_encrypts_plaintext_blobs_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (inner, sealed) = stores(dir.path()).await;
    let data = marked(2 * SEGMENT as usize + 77);
    let digest = put(inner.as_ref(), "00000000-0000-0000-0000-00000000000a", &[&data]).await;
    let path = blob_file(dir.path(), &digest);
    assert!(contains(&std::fs::read(&path).unwrap(), &MARKER[..20]), "stored in plaintext at first");

    assert_eq!(sealed.reseal(&digest).await.unwrap(), crate::Resealed::Sealed);
    assert!(!contains(&std::fs::read(&path).unwrap(), &MARKER[..20]), "sealed afterwards");
    assert_eq!(read_all(sealed.open(&digest, None).await.unwrap()).await, data);
    assert_eq!(sealed.stat(&digest).await.unwrap(), Some(data.len() as u64));
    assert_eq!(sealed.reseal(&digest).await.unwrap(), crate::Resealed::AlreadySealed);
    let absent = Digest::sha256_of(b"absent");
    assert_eq!(sealed.reseal(&absent).await.unwrap(), crate::Resealed::Missing);
    assert_eq!(inner.reseal(&digest).await.unwrap(), crate::Resealed::NotSealing);

    let rotten = content("rotten", 1000);
    let rotten_digest = put(inner.as_ref(), "00000000-0000-0000-0000-00000000000b", &[&rotten]).await;
    let rotten_path = blob_file(dir.path(), &rotten_digest);
    let mut bytes = std::fs::read(&rotten_path).unwrap();
    bytes[3] ^= 1;
    std::fs::write(&rotten_path, &bytes).unwrap();
    assert!(sealed.reseal(&rotten_digest).await.is_err(), "a damaged plaintext copy is not sealed");
    assert_eq!(std::fs::read(&rotten_path).unwrap(), bytes, "and is left as it was");
    assert!(sealed.list_uploads().await.unwrap().is_empty(), "no session is left behind");
}
