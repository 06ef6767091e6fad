//! Throwaway S3 API servers for tests (feature `testsuite`), on a free port of 127.0.0.1, stopped when the
//! [`S3Server`] is dropped; each starts empty:
//!
//! - moto (`moto_server` from PyPI `moto[server]`, installed by `scripts/install-deps.sh`; or the binary
//!   `BERTH_MOTO_SERVER` names), in memory;
//! - s3s-fs (`cargo install s3s-fs --features binary`; or `BERTH_S3S_FS`), over a temporary directory.
//!
//! ```no_run
//! # async fn f() {
//! use berth_storage::s3_server::S3Server;
//! let server = S3Server::moto().unwrap_or_else(|e| panic!("{e}"));
//! server.create_bucket("blobs").unwrap();
//! let store = berth_storage::S3BlobStore::connect(&server.config("blobs", "prefix")).await.unwrap();
//! # }
//! ```

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::S3Config;

/// How long the server may take to answer after it was started (moto imports a lot of Python at start).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Credentials the tests use (moto accepts any; s3s-fs is started with them).
pub const ACCESS_KEY_ID: &str = "berth-test";
pub const SECRET_ACCESS_KEY: &str = "berth-test-secret";

/// A running S3 API server. Dropping it stops the server.
#[derive(Debug)]
pub struct S3Server {
    name: &'static str,
    port: u16,
    /// The command line, to start the server again on the same port.
    bin: String,
    args: Vec<String>,
    child: Child,
    log: tempfile::NamedTempFile,
    /// s3s-fs: the directory it serves (a bucket is a directory in it).
    root: Option<tempfile::TempDir>,
}

impl S3Server {
    /// Starts moto's server. Fails with a message saying what to install.
    pub fn moto() -> Result<S3Server, String> {
        let bin = std::env::var("BERTH_MOTO_SERVER").unwrap_or_else(|_| "moto_server".to_string());
        let install = "The S3 tests need moto's server: `python3 -m pip install 'moto[server]'` \
                       (scripts/install-deps.sh does it), or set BERTH_MOTO_SERVER to its path";
        S3Server::start("moto_server", &bin, install, None, |port| {
            vec!["-H".into(), "127.0.0.1".into(), "-p".into(), port.to_string()]
        })
    }

    /// Starts s3s-fs over a new temporary directory. Fails with a message saying what to install.
    pub fn s3s_fs() -> Result<S3Server, String> {
        let bin = std::env::var("BERTH_S3S_FS").unwrap_or_else(|_| "s3s-fs".to_string());
        let install = "The S3 tests need s3s-fs: `cargo install s3s-fs --version 0.14.1 --locked --features binary` \
                       (scripts/install-deps.sh does it), or set BERTH_S3S_FS to its path";
        let root = tempfile::Builder::new()
            .prefix("berth-s3s-")
            .tempdir()
            .map_err(|e| format!("creating a directory for s3s-fs: {e}"))?;
        let dir = root.path().to_path_buf();
        S3Server::start("s3s-fs", &bin, install, Some(root), move |port| {
            let mut args: Vec<String> = ["--host", "127.0.0.1", "--port"].map(String::from).into();
            args.extend([port.to_string(), "--access-key".into(), ACCESS_KEY_ID.into()]);
            args.extend(["--secret-key".into(), SECRET_ACCESS_KEY.into(), dir.display().to_string()]);
            args
        })
    }

    fn start(
        name: &'static str,
        bin: &str,
        install: &str,
        mut root: Option<tempfile::TempDir>,
        args: impl Fn(u16) -> Vec<String>,
    ) -> Result<S3Server, String> {
        let mut last = String::new();
        // The port is free when chosen but could be taken before the server binds it: try a few.
        for _ in 0..3 {
            let port = free_port()?;
            let log = tempfile::Builder::new()
                .prefix("berth-s3-server-")
                .suffix(".log")
                .tempfile()
                .map_err(|e| format!("creating the {name} log file: {e}"))?;
            let args = args(port);
            let child = spawn(bin, &args, &log).map_err(|e| format!("starting {bin:?}: {e}. {install}"))?;
            let mut server = S3Server { name, port, bin: bin.to_string(), args, child, log, root: root.take() };
            match server.wait_ready() {
                Ok(()) => return Ok(server),
                Err(e) => {
                    last = e;
                    root = server.root.take();
                }
            }
        }
        Err(last)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("{} exited ({status}) at start: {}", self.name, self.log_text()));
            }
            // Any HTTP answer will do (s3s-fs refuses the unsigned request, moto lists its buckets).
            if self.request("GET", "/").is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("{} did not answer within {READY_TIMEOUT:?}: {}", self.name, self.log_text()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The directory s3s-fs serves (each bucket a directory in it, each object a file); `None` for moto.
    pub fn root(&self) -> Option<&std::path::Path> {
        self.root.as_ref().map(|r| r.path())
    }

    /// Stops the server (SIGKILL); [`S3Server::restart`] starts it again on the same port.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on its port (moto starts empty; s3s-fs finds its directory as it was).
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        self.child = spawn(&self.bin, &self.args, &self.log).map_err(|e| format!("restarting {}: {e}", self.name))?;
        self.wait_ready()
    }

    /// `moto_server` or `s3s-fs`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (moto does not check signatures, so a plain request does; s3s-fs keeps each bucket
    /// as a directory).
    pub fn create_bucket(&self, bucket: &str) -> Result<(), String> {
        if let Some(root) = &self.root {
            return std::fs::create_dir(root.path().join(bucket)).map_err(|e| format!("creating bucket {bucket}: {e}"));
        }
        match self.request("PUT", &format!("/{bucket}")) {
            Ok((200, _)) => Ok(()),
            Ok((status, body)) => Err(format!("creating bucket {bucket}: HTTP {status}: {body}")),
            Err(e) => Err(format!("creating bucket {bucket}: {e}")),
        }
    }

    /// A store configuration for `bucket` and `prefix` on this server (path style, test credentials).
    pub fn config(&self, bucket: &str, prefix: &str) -> S3Config {
        let mut config = S3Config::from_url(&format!("s3://{bucket}/{prefix}")).expect("a valid test bucket name");
        config.endpoint = Some(self.endpoint());
        config.region = Some("us-east-1".to_string());
        config.path_style = Some(true);
        config.credentials = Some((ACCESS_KEY_ID.to_string(), SECRET_ACCESS_KEY.to_string()));
        config
    }

    /// A minimal HTTP/1.1 request without a body; returns the status and the body.
    fn request(&self, method: &str, path: &str) -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:.200}")))?;
        let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        Ok((status, body))
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(bin: &str, args: &[String], log: &tempfile::NamedTempFile) -> std::io::Result<Child> {
    Command::new(bin)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.reopen()?)
        .stderr(log.reopen()?)
        .spawn()
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("finding a free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| format!("finding a free port: {e}"))
}
