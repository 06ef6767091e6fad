//! The S3 backend against real S3 API servers (moto, and s3s-fs, started by each test): the conformance suite,
//! and what only S3 has (parts and tails, a session continued by another store, presigned URLs, start errors).

use berth_oci::{Algorithm, Digest, DigestHasher};

use super::*;
use crate::s3_server::S3Server;
use crate::testsuite::{body, content, read_all};

fn moto() -> S3Server {
    S3Server::moto().unwrap_or_else(|e| panic!("{e}"))
}

fn s3s_fs() -> S3Server {
    S3Server::s3s_fs().unwrap_or_else(|e| panic!("{e}"))
}

async fn store(server: &S3Server, bucket: &str, prefix: &str) -> S3BlobStore {
    server.create_bucket(bucket).unwrap_or_else(|e| panic!("{e}"));
    S3BlobStore::connect(&server.config(bucket, prefix)).await.expect("connect")
}

#[tokio::test]
async fn conforms_with_and_without_a_prefix() {
    let server = moto();
    crate::testsuite::run_all(&store(&server, "berth-blobs", "team/registry").await).await;
    crate::testsuite::run_all(&store(&server, "berth-root", "").await).await;
}

/// The second S3 implementation: the conformance suite, a multipart session across two stores, presigned URLs.
#[tokio::test]
async fn conforms_on_s3s_fs() {
    let server = s3s_fs();
    crate::testsuite::run_all(&store(&server, "berth-blobs", "team/registry").await).await;
    multipart_session_continued_by_another_store_on(&server).await;
    presigned_downloads_on(&server).await;
}

/// Appends `data` in `chunks` (sizes), each append resuming from the state the previous one returned,
/// alternating between two stores (two nodes) over the same bucket. Returns the final state.
async fn append_across(nodes: [&S3BlobStore; 2], id: &str, data: &[u8], chunks: &[usize]) -> (UploadState, Digest) {
    let mut state = nodes[0].create_upload(id).await.expect("create_upload");
    let mut offset = 0usize;
    let mut hasher = DigestHasher::new(Algorithm::Sha256);
    for (i, len) in chunks.iter().enumerate() {
        let node = nodes[i % 2];
        // The hash state travels as the registry stores it.
        let saved = hasher.save();
        let mut resumed = DigestHasher::restore(&saved).unwrap();
        let piece = &data[offset..offset + len];
        let (size, next) = node
            .append_upload(id, &state, offset as u64, body(&piece.chunks(100_000).collect::<Vec<_>>()), &mut |c| {
                resumed.update(c)
            })
            .await
            .expect("append_upload");
        offset += len;
        assert_eq!(size, offset as u64);
        assert_eq!(node.upload_size(id, &next).await.unwrap(), size);
        (state, hasher) = (next, resumed);
    }
    (state, hasher.finish())
}

#[tokio::test]
async fn multipart_session_continued_by_another_store() {
    multipart_session_continued_by_another_store_on(&moto()).await;
}

async fn multipart_session_continued_by_another_store_on(server: &S3Server) {
    let a = store(server, "berth-parts", "p").await;
    let b = S3BlobStore::connect(&server.config("berth-parts", "p")).await.expect("second store");
    let mib = 1 << 20;
    // A part, a small chunk carried as a tail, a chunk that completes a part with the tail, a last small one.
    let chunks = [6 * mib, mib, 4 * mib + 123, 1_000];
    let data = content("s3 multipart", chunks.iter().sum());
    let id = "5e55a0e5-0000-4000-8000-000000000001";
    let (state, digest) = append_across([&a, &b], id, &data, &chunks).await;
    assert_eq!(digest, Digest::sha256_of(&data), "the hash state carried across appends");
    let st = SessionState::decode(&state).unwrap();
    assert_eq!(st.parts.iter().map(|p| p.size).collect::<Vec<_>>(), [6 * mib as u64, 5 * mib as u64 + 123]);
    assert_eq!(st.tail_len, 1_000);
    // Only the current tail and the one it replaced are kept.
    let tails = a.list_keys(&a.layout.upload_dir(id).unwrap()).await.unwrap();
    assert!(tails.iter().filter(|k| k.as_ref().contains("/tail-")).count() <= 2, "{tails:?}");
    assert_eq!(read_all(b.read_upload(id, &state).await.unwrap()).await, data, "read_upload across parts");

    assert_eq!(a.commit_upload(id, &state, &digest, data.len() as u64).await.unwrap(), data.len() as u64);
    assert_eq!(read_all(b.open(&digest, None).await.unwrap()).await, data);
    let r = (6 * mib as u64 - 10)..(6 * mib as u64 + 10);
    assert_eq!(
        read_all(b.open(&digest, Some(r.clone())).await.unwrap()).await,
        &data[r.start as usize..r.end as usize]
    );
    assert!(a.list_keys(&a.layout.upload_dir(id).unwrap()).await.unwrap().is_empty(), "the session is gone");
    assert!(!a.list_uploads().await.unwrap().contains(&id.to_string()));
}

#[tokio::test]
async fn multipart_commit_and_cancel_edge_cases() {
    let server = moto();
    let mut s = store(&server, "berth-edges", "").await;
    s.part_size = MIN_PART;
    let mib = 1 << 20;
    // Two parts uploaded by one append (the second while the first is still running), and a tail.
    let data = content("s3 edges", 10 * mib + 500);

    // A commit of fewer bytes than the parts hold (never done by the registry) is copied through berth.
    let id = "5e55a0e5-0000-4000-8000-000000000002";
    let state = s.create_upload(id).await.unwrap();
    let (_, state) =
        s.append_upload(id, &state, 0, body(&data.chunks(65_536).collect::<Vec<_>>()), &mut |_| {}).await.unwrap();
    assert_eq!(SessionState::decode(&state).unwrap().parts.len(), 2);
    let short = &data[..5 * mib + 7];
    let digest = Digest::sha256_of(short);
    assert_eq!(s.commit_upload(id, &state, &digest, short.len() as u64).await.unwrap(), short.len() as u64);
    assert_eq!(read_all(s.open(&digest, None).await.unwrap()).await, short);

    // An append rewinding into a part is refused; cancelling aborts the multipart upload.
    let id = "5e55a0e5-0000-4000-8000-000000000003";
    let state = s.create_upload(id).await.unwrap();
    let (_, state) = s.append_upload(id, &state, 0, body(&[&data]), &mut |_| {}).await.unwrap();
    assert!(s.append_upload(id, &state, 10, body(&[b"x"]), &mut |_| {}).await.is_err());
    let multipart = SessionState::decode(&state).unwrap().multipart.unwrap();
    s.cancel_upload(id, &state).await.unwrap();
    let path = s.layout.upload_data(id);
    assert!(s.s3.put_part(&path, &multipart, 5, PutPayload::from_static(b"late")).await.is_err(), "aborted");
    assert!(!s.list_uploads().await.unwrap().contains(&id.to_string()));
}

#[tokio::test]
async fn presigned_downloads_and_start_errors() {
    let server = moto();
    presigned_downloads_on(&server).await;

    let missing = S3BlobStore::connect(&server.config("no-such-bucket", "")).await.unwrap_err().to_string();
    assert!(missing.contains("s3://no-such-bucket") && missing.contains("bucket exists"), "{missing}");
    let mut nowhere = server.config("berth-signed", "");
    nowhere.endpoint = Some("http://127.0.0.1:9".to_string());
    let unreachable = S3BlobStore::connect(&nowhere).await.unwrap_err().to_string();
    assert!(unreachable.contains("http://127.0.0.1:9") && unreachable.contains("BERTH_S3_ENDPOINT"), "{unreachable}");
}

/// A server that stops answering makes operations fail as unavailable (not as bugs), and the same store works
/// again once the server is back, without reconnecting.
#[tokio::test]
async fn an_unreachable_server_is_unavailable_until_it_returns() {
    let mut server = s3s_fs();
    let s = store(&server, "berth-outage", "").await;
    let data = content("s3 outage", 1_000);
    let digest = Digest::sha256_of(&data);
    let id = "5e55a0e5-0000-4000-8000-000000000005";
    let state = s.create_upload(id).await.unwrap();
    server.stop();
    let err = s.append_upload(id, &state, 0, body(&[&data]), &mut |_| {}).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(s.stat(&digest).await.unwrap_err().is_unavailable());
    server.restart().unwrap();
    let (size, state) = s.append_upload(id, &state, 0, body(&[&data]), &mut |_| {}).await.unwrap();
    assert_eq!(s.commit_upload(id, &state, &digest, size).await.unwrap(), 1_000);
    assert_eq!(read_all(s.open(&digest, None).await.unwrap()).await, data);
}

async fn presigned_downloads_on(server: &S3Server) {
    let mut config = server.config("berth-signed", "x");
    server.create_bucket("berth-signed").unwrap();
    let plain = S3BlobStore::connect(&config).await.unwrap();
    let data = content("s3 presigned", 10_000);
    let id = "5e55a0e5-0000-4000-8000-000000000004";
    let state = plain.create_upload(id).await.unwrap();
    let (_, state) = plain.append_upload(id, &state, 0, body(&[&data]), &mut |_| {}).await.unwrap();
    let digest = Digest::sha256_of(&data);
    plain.commit_upload(id, &state, &digest, 10_000).await.unwrap();
    assert_eq!(plain.download_url(&digest).await.unwrap(), None, "no redirects unless configured");

    config.redirect = true;
    let redirecting = S3BlobStore::connect(&config).await.unwrap();
    let url = redirecting.download_url(&digest).await.unwrap().expect("a presigned URL");
    assert!(url.starts_with(&server.endpoint()) && url.contains("X-Amz-Signature="), "{url}");
    let got = fetch(&url, None).await;
    assert_eq!(got, data, "the presigned URL serves the blob");
    assert_eq!(fetch(&url, Some("bytes=100-199")).await, &data[100..200], "and ranges of it");
    redirecting.delete(&digest).await.unwrap();
}

/// A GET of `url` through a plain client (no S3 credentials), optionally with a `Range` header.
async fn fetch(url: &str, range: Option<&str>) -> Vec<u8> {
    let parsed: http::Uri = url.parse().unwrap();
    let authority = parsed.authority().unwrap().to_string();
    let path = parsed.path_and_query().unwrap().to_string();
    let mut stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let range = range.map(|r| format!("Range: {r}\r\n")).unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\n{range}Connection: close\r\n\r\n");
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    assert!(head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.1 206"), "{head}");
    assert!(!head.to_ascii_lowercase().contains("transfer-encoding: chunked"), "{head}");
    response[split + 4..].to_vec()
}
