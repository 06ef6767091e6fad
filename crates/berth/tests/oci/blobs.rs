//! Reading and deleting blobs.

use berth_oci::{Algorithm, Digest};
use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn get_and_head_a_blob() {
    let s = Server::start();
    let data = bytes(1, 100_000);
    let d = s.push_blob("lib/app", &data).await;

    let r = s.head(&format!("/v2/lib/app/blobs/{d}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "content-length"), "100000");
    assert_eq!(header(&r, "docker-content-digest"), d.to_string());
    assert_eq!(header(&r, "docker-distribution-api-version"), "registry/2.0");

    let r = s.get(&format!("/v2/lib/app/blobs/{d}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "accept-ranges"), "bytes");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[..]);
}

#[tokio::test]
async fn blobs_are_scoped_to_their_repository() {
    let s = Server::start();
    let d = s.push_blob("a", b"only in a").await;
    let r = s.get(&format!("/v2/b/blobs/{d}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "BLOB_UNKNOWN");
    assert_eq!(s.head(&format!("/v2/b/blobs/{d}")).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn range_requests() {
    let s = Server::start();
    let data = bytes(2, 1000);
    let d = s.push_blob("r", &data).await;
    let get_range = |range: &'static str| {
        let req = s.http.get(s.url(&format!("/v2/r/blobs/{d}"))).header("range", range);
        async move { req.send().await.unwrap() }
    };

    let r = get_range("bytes=10-19").await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&r, "content-range"), "bytes 10-19/1000");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[10..20]);

    let r = get_range("bytes=990-").await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[990..]);

    let r = get_range("bytes=-5").await;
    assert_eq!(header(&r, "content-range"), "bytes 995-999/1000");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[995..]);

    let r = get_range("bytes=1000-2000").await;
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&r, "content-range"), "bytes */1000");
    assert_eq!(error_code(r).await, "RANGE_INVALID");

    let r = get_range("bytes=oops").await;
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
}

#[tokio::test]
async fn delete_a_blob() {
    let s = Server::start();
    let d = s.push_blob("del", b"bye").await;
    let r = s.http.delete(s.url(&format!("/v2/del/blobs/{d}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(s.head(&format!("/v2/del/blobs/{d}")).await.status(), StatusCode::NOT_FOUND);
    let r = s.http.delete(s.url(&format!("/v2/del/blobs/{d}"))).send().await.unwrap();
    assert_eq!(error_code(r).await, "BLOB_UNKNOWN");
}

#[tokio::test]
async fn invalid_digests_are_400_never_500() {
    let s = Server::start();
    for bad in ["sha256:abc", "sha256:../../../../etc/passwd", "md5:d41d8cd98f00b204e9800998ecf8427e", "nocolon"] {
        let r = s.get(&format!("/v2/x/blobs/{bad}")).await;
        let status = r.status();
        // A digest with a slash changes the route; either way it is a client error.
        assert!(status.is_client_error(), "{bad}: {status}");
        if !bad.contains('/') {
            assert_eq!(error_code(r).await, "DIGEST_INVALID", "{bad}");
        }
    }
    let r = s.http.post(s.url("/v2/x/blobs/uploads/?digest=sha256:nothex")).body("x").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
}

#[tokio::test]
async fn sha512_blobs() {
    let s = Server::start();
    let data = bytes(3, 5000);
    let d = Digest::compute(Algorithm::Sha512, &data);
    let r = s.http.post(s.url(&format!("/v2/x/blobs/uploads/?digest={d}"))).body(data.clone()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(s.get(&format!("/v2/x/blobs/{d}")).await.bytes().await.unwrap().as_ref(), &data[..]);
}

#[tokio::test]
async fn bad_names_are_name_invalid() {
    let s = Server::start();
    for bad in ["UPPER/case", "a//b", "a/..b", "-lead", "a%2Fb"] {
        let r = s.get(&format!("/v2/{bad}/tags/list")).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error_code(r).await, "NAME_INVALID", "{bad}");
    }
    let r = s.get("/v2/x/nothing/here").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = s.http.patch(s.url("/v2/x/tags/list")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(r).await, "UNSUPPORTED");
}

#[tokio::test]
async fn base_endpoint_and_metrics() {
    let s = Server::start();
    let r = s.get("/v2/").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "docker-distribution-api-version"), "registry/2.0");
    s.push_blob("m", b"count me").await;
    let text = s.get("/metrics").await.text().await.unwrap();
    assert!(text.contains("berth_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/v2/{name}/blobs/uploads/\""), "{text}");
}

/// A minimal HTTP/1.1 client on one socket, to see exactly which bytes a keep-alive connection carries.
mod raw {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;

    pub struct Conn {
        reader: BufReader<TcpStream>,
        auth: String,
    }

    pub struct Reply {
        pub status: u16,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    impl Reply {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
        }
    }

    impl Conn {
        pub fn open(base: &str, auth: String) -> Conn {
            let stream = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
            // Read in small pieces, so the server's writes often find the socket full (partial writes).
            Conn { reader: BufReader::with_capacity(16 * 1024, stream), auth }
        }

        pub fn send(&mut self, method: &str, path: &str, extra: &[(&str, &str)]) {
            let mut req = format!("{method} {path} HTTP/1.1\r\nhost: test\r\nauthorization: {}\r\n", self.auth);
            for (k, v) in extra {
                req.push_str(&format!("{k}: {v}\r\n"));
            }
            req.push_str("\r\n");
            self.reader.get_mut().write_all(req.as_bytes()).unwrap();
        }

        /// Reads a response head; the body is left on the socket.
        pub fn head(&mut self) -> Reply {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            let status = line.split(' ').nth(1).unwrap_or_else(|| panic!("status line {line:?}")).parse().unwrap();
            let mut headers = Vec::new();
            loop {
                line.clear();
                self.reader.read_line(&mut line).unwrap();
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                let (k, v) = l.split_once(':').unwrap();
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
            Reply { status, headers, body: Vec::new() }
        }

        /// Sends a request and reads its whole response (the body by `Content-Length`; none for `HEAD`).
        pub fn request(&mut self, method: &str, path: &str, extra: &[(&str, &str)]) -> Reply {
            self.send(method, path, extra);
            let mut reply = self.head();
            let len: usize = reply.header("content-length").map_or(0, |v| v.parse().unwrap());
            if method != "HEAD" {
                reply.body = vec![0; len];
                self.reader.read_exact(&mut reply.body).unwrap();
            }
            reply
        }

        /// Reads `n` bytes of a body.
        pub fn read(&mut self, n: usize) -> Vec<u8> {
            let mut buf = vec![0; n];
            self.reader.read_exact(&mut buf).unwrap();
            buf
        }
    }
}

/// Large blobs are sent from their files without copying on plaintext HTTP/1.1: the bytes must be exactly the
/// blob's, for whole blobs and ranges (across the sender's 1 MiB pieces, at the end, small and large), with
/// HEADs, small responses and errors in between, many times over one keep-alive connection.
#[tokio::test]
async fn large_blobs_arrive_intact_over_one_keep_alive_connection() {
    let s = Server::start();
    let data = bytes(7, 5 * 1024 * 1024 + 12_345);
    let d = s.push_blob("zc/app", &data).await;
    let small = b"a small blob, sent by copying";
    let ds = s.push_blob("zc/app", small).await;
    let path = format!("/v2/zc/app/blobs/{d}");
    let auth = base64_basic("admin", ADMIN_PASSWORD);

    let data2 = data.clone();
    let base = s.base.clone();
    let path2 = path.clone();
    tokio::task::spawn_blocking(move || {
        let (data, path) = (data2, path2);
        let mut c = raw::Conn::open(&base, auth);
        let len = data.len();
        let mib = 1024 * 1024;
        let ranges: &[(usize, usize)] = &[
            (0, len - 1),
            (mib - 10, mib + 10),         // across a piece boundary, below the zero-copy minimum
            (mib - 100_000, 3 * mib + 7), // several pieces, unaligned
            (len - 70_000, len - 1),      // the end
            (123, 123),                   // one byte
            (2 * mib, 3 * mib - 1),       // exactly one piece
        ];
        for round in 0..4 {
            let r = c.request("GET", &path, &[]);
            assert_eq!(r.status, 200);
            assert_eq!(r.body.len(), len);
            assert!(r.body == data, "round {round}: full body differs");

            let r = c.request("HEAD", &path, &[]);
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-length"), Some(len.to_string().as_str()));

            for &(a, b) in ranges {
                let r = c.request("GET", &path, &[("range", &format!("bytes={a}-{b}"))]);
                assert_eq!(r.status, 206, "range {a}-{b}");
                assert_eq!(r.header("content-range"), Some(format!("bytes {a}-{b}/{len}").as_str()));
                assert!(r.body == data[a..=b], "round {round}: range {a}-{b} differs");
            }

            let r = c.request("GET", &format!("/v2/zc/app/blobs/{ds}"), &[]);
            assert_eq!(r.body, small);
            let r = c.request(
                "GET",
                "/v2/zc/app/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000",
                &[],
            );
            assert_eq!(r.status, 404);
            let r = c.request("GET", &path, &[("range", &format!("bytes={len}-"))]);
            assert_eq!(r.status, 416);
        }
    })
    .await
    .unwrap();

    // The same through an ordinary client, several requests in parallel on its pool.
    let gets = (0..4).map(|_| async { s.get(&path).await.bytes().await.unwrap() });
    for body in futures_util::future::join_all(gets).await {
        assert!(body.as_ref() == &data[..]);
    }
}

/// A client that hangs up in the middle of a large download (or stops reading and then hangs up) costs the
/// server nothing: its other connections and later ones get whole, correct blobs.
#[tokio::test]
async fn clients_hanging_up_mid_download_leave_the_server_serving() {
    let s = Server::start();
    let data = bytes(8, 8 * 1024 * 1024);
    let d = s.push_blob("zc/abort", &data).await;
    let path = format!("/v2/zc/abort/blobs/{d}");
    let auth = base64_basic("admin", ADMIN_PASSWORD);

    let base = s.base.clone();
    let data2 = data.clone();
    let path2 = path.clone();
    tokio::task::spawn_blocking(move || {
        let path = path2;
        let mut other = raw::Conn::open(&base, auth.clone());
        for n in [0, 1, 100_000, 3 * 1024 * 1024] {
            let mut c = raw::Conn::open(&base, auth.clone());
            c.send("GET", &path, &[]);
            assert_eq!(c.head().status, 200);
            if n > 0 {
                assert!(c.read(n) == data2[..n], "the first {n} bytes");
            }
            drop(c);
            // A range on another, long-lived connection in between.
            let r = other.request("GET", &path, &[("range", "bytes=1000000-2999999")]);
            assert!(r.body == data2[1_000_000..3_000_000]);
        }
        // Pipelined: a second request sent before the first response is read.
        let mut c = raw::Conn::open(&base, auth);
        c.send("GET", &path, &[("range", "bytes=0-99999")]);
        c.send("GET", &path, &[]);
        let first = c.head();
        assert_eq!(first.status, 206);
        assert!(c.read(100_000) == data2[..100_000]);
        assert_eq!(c.head().status, 200);
        assert!(c.read(data2.len()) == data2[..]);
    })
    .await
    .unwrap();
    assert!(s.get(&path).await.bytes().await.unwrap().as_ref() == &data[..]);
}

/// HTTP/2 (cleartext, prior knowledge) and TLS (HTTP/1.1 and HTTP/2) send large blobs by copying; the bytes
/// are the same.
#[tokio::test]
async fn large_blobs_over_http2_and_tls_are_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let data = bytes(9, 3 * 1024 * 1024 + 5);
    let file = tmp.path().join("blob");
    std::fs::write(&file, &data).unwrap();
    let d = Digest::sha256_of(&data);
    let admin = format!("admin:{ADMIN_PASSWORD}");
    let curl = |args: &[&str], url: &str| {
        let out = std::process::Command::new("curl")
            .args(["-s", "-f", "-u", &admin])
            .args(args)
            .arg(url)
            .output()
            .expect("curl is installed");
        assert!(out.status.success(), "curl {args:?} {url}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };

    let plain = Server::start();
    plain.push_blob("zc/h2", &data).await;
    let url = plain.url(&format!("/v2/zc/h2/blobs/{d}"));
    assert!(curl(&["--http2-prior-knowledge"], &url) == data);
    assert!(curl(&["--http2-prior-knowledge", "-r", "1000-2000999"], &url) == data[1000..2_001_000]);
    assert!(curl(&["--http1.1"], &url) == data);

    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_path, key_path) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let tls = Server::start_with_args(
        &tmp.path().join("data"),
        &["--tls-cert", cert_path.to_str().unwrap(), "--tls-key", key_path.to_str().unwrap()],
    );
    let base = tls.base.replace("127.0.0.1", "localhost");
    let ca = cert_path.to_str().unwrap();
    let upload = format!("{base}/v2/zc/tls/blobs/uploads/?digest={d}");
    curl(&["--cacert", ca, "-X", "POST", "--data-binary", &format!("@{}", file.display())], &upload);
    let url = format!("{base}/v2/zc/tls/blobs/{d}");
    for version in ["--http1.1", "--http2"] {
        assert!(curl(&["--cacert", ca, version], &url) == data, "{version}");
        assert!(curl(&["--cacert", ca, version, "-r", "5-1500004"], &url) == data[5..1_500_005], "{version}");
    }
}
