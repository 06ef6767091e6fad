//! Connection exhaustion: slow request heads, the per-address connection cap, idle keep-alive connections,
//! stalled request bodies and stalled readers. Timings are asserted only with generous bounds.

use std::time::{Duration, Instant};

use berth_oci::Digest;
use futures_util::{StreamExt, stream};
use reqwest::{Body, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

fn addr(s: &Server) -> String {
    s.base.strip_prefix("http://").unwrap().to_string()
}

/// Sends `GET path` on a raw keep-alive connection and reads the response; `None` if the server closed the
/// connection (or reset it) instead of answering.
async fn raw_get(conn: &mut TcpStream, path: &str) -> Option<u16> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    conn.write_all(req.as_bytes()).await.ok()?;
    read_response(conn).await
}

/// Reads one response (head and a Content-Length body); its status, or `None` on EOF or error.
async fn read_response(conn: &mut TcpStream) -> Option<u16> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match conn.read(&mut byte).await {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8(buf).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).await.ok()?;
    Some(status)
}

/// Waits until the server closes `conn` (EOF or reset), for at most `within`; how long that took.
async fn closed_within(conn: &mut TcpStream, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((start + within).into(), conn.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn slow_request_heads_are_cut_off_and_the_server_keeps_answering() {
    const SOCKETS: usize = 300;
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_with(
        &tmp.path().join("data"),
        &[("BERTH_HEADER_TIMEOUT_SECONDS", "2"), ("BERTH_MAX_CONNECTIONS_PER_ADDRESS", "1000")],
    );
    let addr = addr(&s);
    // Each socket trickles a request head, one byte a second, and reports how long it stayed open.
    let head = b"GET /v2/ HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut tricklers = Vec::new();
    for _ in 0..SOCKETS {
        let conn = TcpStream::connect(&addr).await.unwrap();
        tricklers.push(tokio::spawn(async move {
            let (mut read, mut write) = conn.into_split();
            let start = Instant::now();
            let trickle = async {
                for b in head {
                    if write.write_all(&[*b]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                std::future::pending::<()>().await;
            };
            let mut buf = [0u8; 1024];
            tokio::select! {
                _ = trickle => unreachable!(),
                _ = read.read(&mut buf) => {}
                _ = tokio::time::sleep(Duration::from_secs(40)) => {}
            }
            start.elapsed()
        }));
    }

    // While they trickle, an ordinary client is served promptly.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(5), anonymous_client().get(s.url("/healthz")).send())
        .await
        .expect("/healthz answers while slow clients hold connections")
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    eprintln!("/healthz with {SOCKETS} trickling connections open: {:?}", started.elapsed());

    let mut longest = Duration::ZERO;
    for t in tricklers {
        longest = longest.max(t.await.unwrap());
    }
    eprintln!("longest a trickling connection stayed open (header timeout 2 s): {longest:?}");
    assert!(longest < Duration::from_secs(10), "trickling connections are closed near the header timeout: {longest:?}");

    // A connection that sends nothing at all is closed too.
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(10)).await.is_some(), "a silent connection is closed");
}

#[tokio::test]
async fn connections_per_client_address_are_capped() {
    const CAP: usize = 8;
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_with(&tmp.path().join("data"), &[("BERTH_MAX_CONNECTIONS_PER_ADDRESS", "8")]);
    let addr = addr(&s);
    let mut open = Vec::new();
    for _ in 0..CAP {
        let mut conn = TcpStream::connect(&addr).await.unwrap();
        assert_eq!(raw_get(&mut conn, "/healthz").await, Some(200));
        open.push(conn);
    }
    // One more from the same address is closed without an answer.
    let mut extra = TcpStream::connect(&addr).await.unwrap();
    assert_eq!(raw_get(&mut extra, "/healthz").await, None, "a connection beyond the cap is refused");
    // Those already open keep working.
    for conn in &mut open {
        assert_eq!(raw_get(conn, "/healthz").await, Some(200));
    }
    // Closing one makes room (once the server has noticed).
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut conn = TcpStream::connect(&addr).await.unwrap();
        if raw_get(&mut conn, "/healthz").await == Some(200) {
            break;
        }
        assert!(Instant::now() < deadline, "a freed slot is available again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn idle_keep_alive_connections_live_until_the_idle_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_with(
        &tmp.path().join("data"),
        &[("BERTH_HEADER_TIMEOUT_SECONDS", "2"), ("BERTH_IDLE_TIMEOUT_SECONDS", "8")],
    );
    let mut conn = TcpStream::connect(addr(&s)).await.unwrap();
    assert_eq!(raw_get(&mut conn, "/healthz").await, Some(200));
    // Quiet for longer than the header timeout: still open, since no request has begun.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(raw_get(&mut conn, "/healthz").await, Some(200), "an idle connection outlives the header timeout");
    let closed = closed_within(&mut conn, Duration::from_secs(20)).await;
    eprintln!("idle connection closed after {closed:?} (idle timeout 8 s)");
    assert!(closed.is_some(), "an idle connection is closed after the idle timeout");
}

#[tokio::test]
async fn stalled_bodies_and_readers_are_cut_off_while_flowing_transfers_of_any_length_work() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_with(
        &tmp.path().join("data"),
        &[("BERTH_BODY_TIMEOUT_SECONDS", "2"), ("BERTH_HEADER_TIMEOUT_SECONDS", "2")],
    );
    let r = s.http.post(s.url("/v2/big/blobs/uploads/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let loc = header(&r, "location");

    // A chunked PATCH that sends one chunk and then nothing fails with BLOB_UPLOAD_INVALID.
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("admin:{ADMIN_PASSWORD}"));
    let mut conn = TcpStream::connect(addr(&s)).await.unwrap();
    let head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {basic}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(b"400\r\n").await.unwrap();
    conn.write_all(&[7u8; 0x400]).await.unwrap();
    conn.write_all(b"\r\n").await.unwrap();
    let started = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(15), read_response(&mut conn)).await.expect("an answer");
    eprintln!("stalled body answered after {:?} (body timeout 2 s)", started.elapsed());
    assert_eq!(status, Some(400));

    // A 64 MiB streamed (chunked) PATCH takes longer than the body timeout but its bytes flow: it works, and
    // starts at offset 0, as the stalled request recorded nothing.
    let chunk = bytes(64, 1 << 20);
    let mut hasher = berth_oci::DigestHasher::new(berth_oci::Algorithm::Sha256);
    for _ in 0..64 {
        hasher.update(&chunk);
    }
    let digest: Digest = hasher.finish();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..64).map(|_| Ok(chunk.clone())).collect();
    let started = Instant::now();
    let r = s.http.patch(s.url(&loc)).body(Body::wrap_stream(stream::iter(chunks))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    eprintln!("64 MiB streamed PATCH: {:?}", started.elapsed());
    assert_eq!(header(&r, "range"), format!("0-{}", (64 << 20) - 1));
    let r = s.http.put(s.url(&format!("{}?digest={digest}", header(&r, "location")))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    // A client that reads slowly but steadily, for longer than the body timeout, gets the whole blob.
    let started = Instant::now();
    let r = s.get(&format!("/v2/big/blobs/{digest}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let (mut got, mut since_pause) = (0usize, 0usize);
    let mut body = r.bytes_stream();
    while let Some(piece) = body.next().await {
        let n = piece.expect("a steady reader is not cut off").len();
        got += n;
        since_pause += n;
        if since_pause >= 8 << 20 {
            since_pause = 0;
            tokio::time::sleep(Duration::from_millis(600)).await;
        }
    }
    assert_eq!(got, 64 << 20);
    eprintln!("64 MiB read with pauses: {:?}", started.elapsed());

    // A client that stops reading altogether is cut off: the download ends early.
    let r = s.get(&format!("/v2/big/blobs/{digest}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut body = r.bytes_stream();
    let first = body.next().await.unwrap().unwrap().len();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let mut got = first;
    let mut failed = false;
    while let Some(piece) = body.next().await {
        match piece {
            Ok(b) => got += b.len(),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    eprintln!("a reader that stopped for 8 s got {got} of {} bytes", 64 << 20);
    assert!(failed && got < 64 << 20, "a stalled reader's download is ended ({got} bytes)");
}
