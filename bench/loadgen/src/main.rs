//! berth-loadgen: the load generator behind `bench/run.sh`.
//!
//! Talks plain HTTP to any OCI Distribution registry at `--registry HOST:PORT`. Every
//! subcommand prints exactly one JSON object on stdout (its measurements) and exits 0, or
//! prints an error on stderr and exits 1. It never asserts on timings.
//!
//! Subcommands (options are `--name value`):
//! - `gen-blob --out FILE --size-mib N`: writes N MiB of pseudo-random bytes to FILE once
//!   and hashes them once (`FILE.sha256` caches the digest; an existing FILE of the right
//!   size is reused).
//! - `push-blob --registry A --repo R --file FILE --digest D --mode monolithic|chunked|streamed
//!   [--chunk-mib 16]`: one blob upload, streamed from disk.
//!   monolithic = POST, then one PUT ?digest= carrying the body (Content-Length set);
//!   chunked = POST, PATCHes of chunk-mib with Content-Range, then an empty PUT ?digest=;
//!   streamed = POST, one PATCH without Content-Range (chunked transfer encoding), empty PUT.
//! - `pull-blob --registry A --repo R --digest D --size BYTES --mode full|range
//!   [--chunk-mib 16] [--verify 1]`: reads the blob back (one GET, or sequential Range GETs).
//! - `small-blobs --registry A --repo R --count N --size BYTES --concurrency C --seed S
//!   [--keep-going 1]`: N distinct blobs, each pushed with POST + PUT ?digest=, by C concurrent
//!   clients; with --keep-going a failed push is counted in `errors` instead of ending the run.
//! - `manifest-get --registry A --repo R --connections C --duration-s T`: pushes a small
//!   image manifest as tag `bench`, then C connections GET it by tag for T seconds.
//! - `sink --listen ADDR`: a do-nothing registry stand-in that answers every request at
//!   once, to measure what the client itself can do (`bench/run.sh --client-check`).
//! - `loopback --size-mib N`: the physical reference for transfers: N MiB written through a
//!   plain loopback TCP socket (1 MiB writes) and read (and discarded) on the other end, both
//!   in this process; MiB/s.

use std::collections::HashMap;
use std::convert::Infallible;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use reqwest::{Client, StatusCode, Url};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const MIB: u64 = 1024 * 1024;
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCTET: &str = "application/octet-stream";

// ------------------------------------------------------------------------------------------
// command line

struct Args(HashMap<String, String>);

impl Args {
    fn parse(argv: &[String]) -> Res<Self> {
        let mut map = HashMap::new();
        let mut it = argv.iter();
        while let Some(key) = it.next() {
            let name = key.strip_prefix("--").ok_or(format!("unexpected argument {key}"))?;
            let value = it.next().ok_or(format!("--{name} needs a value"))?;
            map.insert(name.to_owned(), value.clone());
        }
        Ok(Self(map))
    }

    fn str(&self, name: &str) -> Res<&str> {
        Ok(self.0.get(name).ok_or(format!("--{name} is required"))?)
    }

    fn num<T: FromStr>(&self, name: &str, default: Option<T>) -> Res<T> {
        match self.0.get(name) {
            Some(v) => v.parse().map_err(|_| format!("--{name}: cannot parse {v:?}").into()),
            None => default.ok_or_else(|| format!("--{name} is required").into()),
        }
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = argv.first().cloned() else {
        eprintln!("usage: berth-loadgen gen-blob|push-blob|pull-blob|small-blobs|manifest-get|sink --option value ...");
        return ExitCode::from(2);
    };
    let result = Args::parse(&argv[1..]).and_then(|args| {
        let threads = args.num("threads", Some(2usize))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?;
        rt.block_on(run(&cmd, &args))
    });
    match result {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("berth-loadgen {cmd}: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cmd: &str, args: &Args) -> Res<Value> {
    match cmd {
        "gen-blob" => gen_blob(args),
        "push-blob" => push_blob(args).await,
        "pull-blob" => pull_blob(args).await,
        "small-blobs" => small_blobs(args).await,
        "manifest-get" => manifest_get(args).await,
        "sink" => sink(args).await,
        "loopback" => loopback(args).await,
        _ => Err(format!("unknown subcommand {cmd}").into()),
    }
}

// ------------------------------------------------------------------------------------------
// data

/// splitmix64: fast, seedable, good enough to make incompressible, distinct test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

fn gen_blob(args: &Args) -> Res<Value> {
    use std::io::Write;
    let out = args.str("out")?;
    let size = args.num::<u64>("size-mib", None)? * MIB;
    let sidecar = format!("{out}.sha256");
    if let (Ok(meta), Ok(digest)) = (std::fs::metadata(out), std::fs::read_to_string(&sidecar)) {
        if meta.len() == size && digest.starts_with("sha256:") {
            return Ok(json!({"file": out, "size": size, "digest": digest.trim(), "reused": true}));
        }
    }
    let started = Instant::now();
    let mut file = std::io::BufWriter::with_capacity(4 * MIB as usize, std::fs::File::create(out)?);
    let mut hasher = Sha256::new();
    let mut rng = Rng(size ^ 0xB357_B10B);
    let mut buf = vec![0u8; 4 * MIB as usize];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill(&mut buf[..n]);
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])?;
        left -= n as u64;
    }
    file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    let digest = format!("sha256:{:x}", hasher.finalize());
    std::fs::write(&sidecar, &digest)?;
    Ok(json!({"file": out, "size": size, "digest": digest, "reused": false,
              "seconds": started.elapsed().as_secs_f64()}))
}

// ------------------------------------------------------------------------------------------
// HTTP helpers

/// `REGISTRY_AUTH=user:password` sends Basic credentials with every request (registries that need them).
fn client(pool: usize) -> Res<Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(auth) = std::env::var("REGISTRY_AUTH").ok().filter(|a| !a.is_empty()) {
        use base64::Engine as _;
        let value = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(auth));
        headers.insert(reqwest::header::AUTHORIZATION, value.parse()?);
    }
    Ok(Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(pool)
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()?)
}

fn base_url(args: &Args) -> Res<Url> {
    Ok(Url::parse(&format!("http://{}/", args.str("registry")?))?)
}

async fn expect(resp: reqwest::Response, want: StatusCode, what: &str) -> Res<reqwest::Response> {
    if resp.status() == want {
        return Ok(resp);
    }
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    Err(format!("{what}: HTTP {status} (want {want}): {}", body.chars().take(300).collect::<String>()).into())
}

fn location(base: &Url, resp: &reqwest::Response) -> Res<Url> {
    let loc = resp.headers().get(LOCATION).ok_or("upload response has no Location")?;
    Ok(base.join(loc.to_str()?)?)
}

fn with_digest(mut url: Url, digest: &str) -> Url {
    url.query_pairs_mut().append_pair("digest", digest);
    url
}

async fn start_upload(c: &Client, base: &Url, repo: &str) -> Res<Url> {
    let url = base.join(&format!("v2/{repo}/blobs/uploads/"))?;
    let resp = c.post(url).header(CONTENT_LENGTH, 0).send().await?;
    let resp = expect(resp, StatusCode::ACCEPTED, "POST blobs/uploads/").await?;
    location(base, &resp)
}

async fn finish_upload(c: &Client, base: &Url, loc: Url, digest: &str) -> Res<()> {
    let resp = c.put(with_digest(loc, digest)).header(CONTENT_LENGTH, 0).send().await?;
    expect(resp, StatusCode::CREATED, "PUT ?digest= (closing the upload)").await?;
    let _ = base;
    Ok(())
}

fn file_stream(file: tokio::fs::File) -> reqwest::Body {
    reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(file, MIB as usize))
}

fn percentile(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * (sorted_us.len() - 1) as f64).round() as usize;
    sorted_us[idx] as f64 / 1000.0
}

// ------------------------------------------------------------------------------------------
// large blobs

async fn push_blob(args: &Args) -> Res<Value> {
    let base = base_url(args)?;
    let repo = args.str("repo")?;
    let path = args.str("file")?;
    let digest = args.str("digest")?;
    let mode = args.str("mode")?;
    let chunk = args.num::<u64>("chunk-mib", Some(16))? * MIB;
    let size = tokio::fs::metadata(path).await?.len();
    let c = client(4)?;
    // per-request latencies (chunked: each PATCH)
    let mut lat: Vec<u64> = Vec::new();

    let started = Instant::now();
    let loc = start_upload(&c, &base, repo).await?;
    match mode {
        "monolithic" => {
            let file = tokio::fs::File::open(path).await?;
            let resp = c
                .put(with_digest(loc, digest))
                .header(CONTENT_LENGTH, size)
                .header(CONTENT_TYPE, OCTET)
                .body(file_stream(file))
                .send()
                .await?;
            expect(resp, StatusCode::CREATED, "monolithic PUT").await?;
        }
        "chunked" => {
            let mut file = tokio::fs::File::open(path).await?;
            let mut loc = loc;
            let mut offset = 0u64;
            while offset < size {
                let sent = Instant::now();
                let n = chunk.min(size - offset);
                let mut buf = vec![0u8; n as usize];
                file.read_exact(&mut buf).await?;
                let resp = c
                    .patch(loc)
                    .header(CONTENT_RANGE, format!("{}-{}", offset, offset + n - 1))
                    .header(CONTENT_LENGTH, n)
                    .header(CONTENT_TYPE, OCTET)
                    .body(buf)
                    .send()
                    .await?;
                let resp = expect(resp, StatusCode::ACCEPTED, "PATCH chunk").await?;
                loc = location(&base, &resp)?;
                offset += n;
                lat.push(sent.elapsed().as_micros() as u64);
            }
            finish_upload(&c, &base, loc, digest).await?;
        }
        "streamed" => {
            let file = tokio::fs::File::open(path).await?;
            let resp = c
                .patch(loc)
                .header(CONTENT_TYPE, OCTET)
                .body(file_stream(file))
                .send()
                .await?;
            let resp = expect(resp, StatusCode::ACCEPTED, "streamed PATCH").await?;
            let loc = location(&base, &resp)?;
            finish_upload(&c, &base, loc, digest).await?;
        }
        _ => return Err(format!("--mode must be monolithic, chunked or streamed, not {mode}").into()),
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    let mut out = json!({"metric": format!("push_{mode}"), "bytes": size, "seconds": secs,
              "mib_s": size as f64 / MIB as f64 / secs});
    if !lat.is_empty() {
        out["p99_ms"] = json!(percentile(&lat, 99.0));
    }
    Ok(out)
}

async fn read_body(resp: reqwest::Response, hasher: &mut Option<Sha256>) -> Res<u64> {
    let mut resp = resp;
    let mut n = 0u64;
    while let Some(chunk) = resp.chunk().await? {
        n += chunk.len() as u64;
        if let Some(h) = hasher.as_mut() {
            h.update(&chunk);
        }
    }
    Ok(n)
}

async fn pull_blob(args: &Args) -> Res<Value> {
    let base = base_url(args)?;
    let repo = args.str("repo")?;
    let digest = args.str("digest")?;
    let size = args.num::<u64>("size", None)?;
    let mode = args.str("mode")?;
    let chunk = args.num::<u64>("chunk-mib", Some(16))? * MIB;
    let verify = args.num::<u8>("verify", Some(0))? == 1;
    let url = base.join(&format!("v2/{repo}/blobs/{digest}"))?;
    let c = client(4)?;
    let mut hasher = verify.then(Sha256::new);
    let mut lat: Vec<u64> = Vec::new();

    let started = Instant::now();
    let mut got = 0u64;
    let mut requests = 0u64;
    match mode {
        "full" => {
            let resp = expect(c.get(url).send().await?, StatusCode::OK, "GET blob").await?;
            got = read_body(resp, &mut hasher).await?;
            requests = 1;
        }
        "range" => {
            while got < size {
                let sent = Instant::now();
                let end = (got + chunk).min(size) - 1;
                let resp = c.get(url.clone()).header(RANGE, format!("bytes={got}-{end}")).send().await?;
                let resp = expect(resp, StatusCode::PARTIAL_CONTENT, "GET blob with Range").await?;
                let n = read_body(resp, &mut hasher).await?;
                if n != end - got + 1 {
                    return Err(format!("Range {got}-{end} returned {n} bytes").into());
                }
                got += n;
                requests += 1;
                lat.push(sent.elapsed().as_micros() as u64);
            }
        }
        _ => return Err(format!("--mode must be full or range, not {mode}").into()),
    }
    let secs = started.elapsed().as_secs_f64();
    if got != size {
        return Err(format!("read {got} bytes, expected {size}").into());
    }
    if let Some(h) = hasher {
        let seen = format!("sha256:{:x}", h.finalize());
        if seen != digest {
            return Err(format!("pulled bytes hash to {seen}, not {digest}").into());
        }
    }
    lat.sort_unstable();
    let mut out = json!({"metric": format!("pull_{mode}"), "bytes": got, "requests": requests,
              "seconds": secs, "mib_s": got as f64 / MIB as f64 / secs, "verified": verify});
    if !lat.is_empty() {
        out["p99_ms"] = json!(percentile(&lat, 99.0));
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------
// many small blobs

async fn small_blobs(args: &Args) -> Res<Value> {
    let base = base_url(args)?;
    let repo = args.str("repo")?.to_owned();
    let count = args.num::<usize>("count", Some(2000))?;
    let size = args.num::<usize>("size", Some(4096))?;
    let concurrency = args.num::<usize>("concurrency", Some(32))?;
    let seed = args.num::<u64>("seed", None)?;
    // `--keep-going 1`: a failed push is counted (`errors`) instead of ending the run.
    let keep_going = args.num::<u8>("keep-going", Some(0))? == 1;

    let mut rng = Rng(seed);
    let blobs: Arc<Vec<(Bytes, String)>> = Arc::new(
        (0..count)
            .map(|_| {
                let mut b = vec![0u8; size];
                rng.fill(&mut b);
                let d = sha256_digest(&b);
                (Bytes::from(b), d)
            })
            .collect(),
    );
    let c = client(concurrency * 2)?;
    let next = Arc::new(AtomicUsize::new(0));

    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (c, base, repo, blobs, next) = (c.clone(), base.clone(), repo.clone(), blobs.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= blobs.len() {
                    return Ok::<_, Box<dyn std::error::Error + Send + Sync>>(lat);
                }
                let (data, digest) = &blobs[i];
                let t = Instant::now();
                let pushed = async {
                    let loc = start_upload(&c, &base, &repo).await?;
                    let resp = c
                        .put(with_digest(loc, digest))
                        .header(CONTENT_TYPE, OCTET)
                        .body(data.clone())
                        .send()
                        .await?;
                    expect(resp, StatusCode::CREATED, "PUT ?digest= (small blob)").await?;
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
                };
                match pushed.await {
                    Ok(()) => lat.push(t.elapsed().as_micros() as u64),
                    Err(_) if keep_going => {} // counted at the end: count - successes
                    Err(e) => return Err(e),
                }
            }
        }));
    }
    let mut lat = Vec::with_capacity(count);
    for t in tasks {
        lat.extend(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    let errors = count - lat.len();
    if lat.is_empty() {
        return Err(format!("no small blob was pushed ({errors} errors)").into());
    }
    Ok(json!({"metric": "small_blobs", "count": lat.len(), "errors": errors, "size": size,
              "concurrency": concurrency, "seconds": secs, "ops_s": lat.len() as f64 / secs,
              "p50_ms": percentile(&lat, 50.0), "p99_ms": percentile(&lat, 99.0)}))
}

// ------------------------------------------------------------------------------------------
// manifest GETs

async fn push_blob_bytes(c: &Client, base: &Url, repo: &str, data: Bytes) -> Res<(String, usize)> {
    let digest = sha256_digest(&data);
    let len = data.len();
    let loc = start_upload(c, base, repo).await?;
    let resp = c.put(with_digest(loc, &digest)).header(CONTENT_TYPE, OCTET).body(data).send().await?;
    expect(resp, StatusCode::CREATED, "PUT ?digest=").await?;
    Ok((digest, len))
}

async fn push_small_image(c: &Client, base: &Url, repo: &str, seed: u64) -> Res<()> {
    let config = json!({"architecture": "amd64", "os": "linux",
                        "rootfs": {"type": "layers", "diff_ids": []},
                        "config": {"Labels": {"berth.bench.seed": seed.to_string()}}});
    let mut layer = vec![0u8; 1024];
    Rng(seed).fill(&mut layer);
    let (cd, cs) = push_blob_bytes(c, base, repo, Bytes::from(serde_json::to_vec(&config)?)).await?;
    let (ld, ls) = push_blob_bytes(c, base, repo, Bytes::from(layer)).await?;
    let manifest = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls}],
    });
    let resp = c
        .put(base.join(&format!("v2/{repo}/manifests/bench"))?)
        .header(CONTENT_TYPE, OCI_MANIFEST)
        .body(serde_json::to_vec(&manifest)?)
        .send()
        .await?;
    expect(resp, StatusCode::CREATED, "PUT manifest").await?;
    Ok(())
}

async fn manifest_get(args: &Args) -> Res<Value> {
    let base = base_url(args)?;
    let repo = args.str("repo")?.to_owned();
    let conns = args.num::<usize>("connections", Some(64))?;
    let duration = Duration::from_secs_f64(args.num::<f64>("duration-s", Some(10.0))?);
    let c = client(conns * 2)?;
    if args.num::<u8>("push", Some(1))? == 1 {
        push_small_image(&c, &base, &repo, args.num::<u64>("seed", Some(1))?).await?;
    }
    let url = base.join(&format!("v2/{repo}/manifests/bench"))?;

    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (c, url) = (c.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(1 << 16);
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                match c.get(url.clone()).header(ACCEPT, OCI_MANIFEST).send().await {
                    Ok(resp) if resp.status() == StatusCode::OK => {
                        if resp.bytes().await.is_ok() {
                            lat.push(t.elapsed().as_micros() as u64);
                        } else {
                            errors += 1;
                        }
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        lat.extend(l);
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    if lat.is_empty() {
        return Err(format!("no successful manifest GET ({errors} errors)").into());
    }
    Ok(json!({"metric": "manifest_get", "requests": lat.len(), "errors": errors,
              "connections": conns, "seconds": secs, "req_s": lat.len() as f64 / secs,
              "p50_ms": percentile(&lat, 50.0), "p99_ms": percentile(&lat, 99.0)}))
}

// ------------------------------------------------------------------------------------------
// sink: a do-nothing registry stand-in to measure the client alone

async fn sink(args: &Args) -> Res<Value> {
    use hyper::{body::Incoming, Method, Request, Response};
    let listener = tokio::net::TcpListener::bind(args.str("listen")?).await?;
    let uploads = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let uploads = uploads.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let uploads = uploads.clone();
                async move {
                    let method = req.method().clone();
                    let path = req.uri().path().to_owned();
                    let _ = req.into_body().collect().await;
                    let resp = match method {
                        Method::POST | Method::PATCH => {
                            let n = uploads.fetch_add(1, Ordering::Relaxed);
                            Response::builder()
                                .status(202)
                                .header("Location", format!("/v2/sink/blobs/uploads/{n}"))
                                .body(Full::new(Bytes::new()))
                        }
                        Method::PUT => Response::builder().status(201).body(Full::new(Bytes::new())),
                        _ if path == "/v2/" => Response::builder().status(200).body(Full::new(Bytes::from_static(b"{}"))),
                        _ => Response::builder()
                            .status(200)
                            .header("Content-Type", OCI_MANIFEST)
                            .body(Full::new(Bytes::from_static(&[b' '; 600]))),
                    };
                    Ok::<_, Infallible>(resp.expect("static response"))
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, svc).await;
        });
    }
}

// ------------------------------------------------------------------------------------------
// loopback: the plain TCP reference

async fn loopback(args: &Args) -> Res<Value> {
    use tokio::io::AsyncWriteExt;
    let total = args.num::<u64>("size-mib", Some(2048))? * MIB;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let reader = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await?;
        let mut buf = vec![0u8; MIB as usize];
        let mut n = 0u64;
        loop {
            match s.read(&mut buf).await? {
                0 => return Ok::<u64, std::io::Error>(n),
                k => n += k as u64,
            }
        }
    });
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let buf = vec![0x5au8; MIB as usize];
    let started = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        s.write_all(&buf).await?;
        sent += MIB;
    }
    s.shutdown().await?;
    drop(s);
    let got = reader.await??;
    let secs = started.elapsed().as_secs_f64();
    if got != sent {
        return Err(format!("loopback read {got} bytes of {sent}").into());
    }
    Ok(json!({"metric": "loopback_tcp", "bytes": got, "seconds": secs, "mib_s": got as f64 / MIB as f64 / secs}))
}
