//! A throwaway S3 API server for tests (feature `testsuite`): `moto_server` (PyPI `moto[server]`, installed
//! by `scripts/install-deps.sh`) on a free port of 127.0.0.1, stopped when the [`MotoServer`] is dropped.
//! moto keeps everything in memory, so each server starts empty. The binary is `moto_server` on `PATH` or
//! the one `BERTH_MOTO_SERVER` names.
//!
//! ```no_run
//! # async fn f() {
//! use berth_storage::moto::MotoServer;
//! let server = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
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

/// Credentials the tests use (moto accepts any).
pub const ACCESS_KEY_ID: &str = "berth-test";
pub const SECRET_ACCESS_KEY: &str = "berth-test-secret";

/// A running moto server. Dropping it stops the server.
#[derive(Debug)]
pub struct MotoServer {
    port: u16,
    child: Child,
    log: tempfile::NamedTempFile,
}

impl MotoServer {
    /// Starts a server on a free port and waits until it answers. Fails with a message saying what to install.
    pub fn start() -> Result<MotoServer, String> {
        let bin = std::env::var("BERTH_MOTO_SERVER").unwrap_or_else(|_| "moto_server".to_string());
        let mut last = String::new();
        // The port is free when chosen but could be taken before moto binds it: try a few.
        for _ in 0..3 {
            let port = free_port()?;
            let log = tempfile::Builder::new()
                .prefix("berth-moto-")
                .suffix(".log")
                .tempfile()
                .map_err(|e| format!("creating the moto log file: {e}"))?;
            let stderr = log.reopen().map_err(|e| format!("opening the moto log file: {e}"))?;
            let child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .map_err(|e| {
                    format!(
                        "starting {bin:?}: {e}. The S3 tests need moto's server: `python3 -m pip install \
                         'moto[server]'` (scripts/install-deps.sh does it), or set BERTH_MOTO_SERVER to its path"
                    )
                })?;
            let mut server = MotoServer { port, child, log };
            match server.wait_ready() {
                Ok(()) => return Ok(server),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("moto_server exited ({status}) at start: {}", self.log_text()));
            }
            if self.request("GET", "/").is_ok_and(|(status, _)| status == 200) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("moto_server did not answer within {READY_TIMEOUT:?}: {}", self.log_text()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
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

    /// Creates a bucket (moto does not check signatures, so a plain request does).
    pub fn create_bucket(&self, bucket: &str) -> Result<(), String> {
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

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("finding a free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| format!("finding a free port: {e}"))
}
