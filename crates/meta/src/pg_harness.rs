//! A throwaway PostgreSQL server for tests (feature `conformance`): a new cluster (`initdb`) in a temporary
//! directory, served on a free port of 127.0.0.1 with trust authentication, stopped and removed when the
//! [`PgServer`] is dropped. No system service is needed, only the server binaries (Debian's `postgresql`
//! package: `/usr/lib/postgresql/<version>/bin`, or the directory named by `BERTH_PG_BIN`).
//!
//! PostgreSQL refuses to run as root; when the tests run as root, the cluster belongs to the `postgres`
//! user and `initdb`/`postgres` run as that user.
//!
//! ```no_run
//! # async fn f() {
//! use berth_meta::pg_harness::PgServer;
//! let server = PgServer::start().unwrap_or_else(|e| panic!("{e}"));
//! let url = server.create_database().unwrap(); // postgres://postgres@127.0.0.1:PORT/berth_N
//! let store = berth_meta::PgMeta::connect(&url).await.unwrap();
//! # }
//! ```
//!
//! The server runs with `fsync = off` by default (tests need speed, not crash safety of the host; a killed
//! or restarted server loses nothing either way); [`PgServer::start_with`] passes other settings.

use std::fs::File;
use std::io::{self, Read as _};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long a server may take to accept connections after it was started.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a fast shutdown may take before the server is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// Settings every test server gets unless [`PgServer::start_with`] overrides them.
const DEFAULT_SETTINGS: &[(&str, &str)] =
    &[("fsync", "off"), ("full_page_writes", "off"), ("max_connections", "300"), ("shared_buffers", "64MB")];

/// A running test server. Dropping it stops the server and deletes its cluster.
#[derive(Debug)]
pub struct PgServer {
    bin: PathBuf,
    /// Owns the cluster (`data/`), the socket directory and `server.log`.
    dir: tempfile::TempDir,
    port: u16,
    settings: Vec<(String, String)>,
    /// `(uid, gid)` of the `postgres` user when the tests run as root.
    run_as: Option<(u32, u32)>,
    child: Option<Child>,
}

impl PgServer {
    /// Creates a cluster and starts a server on a free port, waiting until it accepts connections. Fails
    /// with a message saying what to install or fix.
    pub fn start() -> Result<PgServer, String> {
        PgServer::start_with(&[])
    }

    /// [`PgServer::start`] with extra `postgres -c NAME=VALUE` settings (they win over the defaults).
    pub fn start_with(settings: &[(&str, &str)]) -> Result<PgServer, String> {
        let bin = find_bin()?;
        let run_as = if running_as_root() { Some(postgres_user()?) } else { None };
        let dir = tempfile::Builder::new()
            .prefix("berth-pg-")
            .tempdir()
            .map_err(|e| format!("creating a directory for the test PostgreSQL cluster: {e}"))?;
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .map_err(|e| format!("giving {} to the postgres user: {e}", dir.path().display()))?;
        }
        let mut all: Vec<(String, String)> =
            DEFAULT_SETTINGS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        for (k, v) in settings {
            all.retain(|(key, _)| key != k);
            all.push((k.to_string(), v.to_string()));
        }
        let mut server = PgServer { bin, dir, port: 0, settings: all, run_as, child: None };
        server.initdb()?;
        // The port is free when chosen but could be taken before the server binds it: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            server.port = free_port()?;
            match server.launch() {
                Ok(()) => return Ok(server),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of `database` on this server, as the superuser `postgres` (trust authentication).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a new, empty database and returns its URL. Each call gives a database of its own, so tests
    /// sharing a server do not see each other's rows.
    pub fn create_database(&self) -> Result<String, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("berth_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        self.psql(&format!("CREATE DATABASE {name}"))?;
        Ok(self.url(&name))
    }

    /// Runs one SQL command in the `postgres` database (as the superuser) and returns what `psql` printed
    /// (unaligned, tuples only).
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        let output = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres"])
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-d", "postgres", "-c", sql])
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .map_err(|e| format!("running {}: {e}", self.bin.join("psql").display()))?;
        if !output.status.success() {
            return Err(format!("psql -c {sql:?}: {}", String::from_utf8_lossy(&output.stderr).trim()));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    }

    /// Stops the server (fast shutdown: sessions are ended, committed work is kept). The cluster stays;
    /// [`PgServer::restart`] serves it again on the same port.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        // SIGINT: fast shutdown. `Child::kill` would SIGKILL the postmaster and leave its backends behind.
        let _ = Command::new("kill").arg("-INT").arg(child.id().to_string()).status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").arg("-QUIT").arg(child.id().to_string()).status();
        std::thread::sleep(Duration::from_secs(1));
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts the stopped server again on the same port, with the same cluster.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        self.launch()
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = File::open(self.log_path()) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// A command that runs as the cluster's owner.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        cmd.current_dir(self.dir.path()).env("LC_ALL", "C").stdin(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    fn initdb(&self) -> Result<(), String> {
        let output = self
            .command("initdb")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"])
            .output()
            .map_err(|e| format!("running {}: {e}", self.bin.join("initdb").display()))?;
        if !output.status.success() {
            return Err(format!(
                "initdb failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(())
    }

    /// Starts `postgres` on `self.port` and waits until it accepts connections.
    fn launch(&mut self) -> Result<(), String> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("opening {}: {e}", self.log_path().display()))?;
        let log_err = log.try_clone().map_err(|e| format!("duplicating the log descriptor: {e}"))?;
        let mut cmd = self.command("postgres");
        cmd.arg("-D")
            .arg(self.data_dir())
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", "listen_addresses=127.0.0.1"]);
        for (k, v) in &self.settings {
            cmd.arg("-c").arg(format!("{k}={v}"));
        }
        let child = cmd
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.bin.join("postgres").display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                return Err(format!("PostgreSQL exited ({status}) on port {}; its log:\n{}", self.port, self.log()));
            }
            if self.ready() {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.stop();
                return Err(format!(
                    "PostgreSQL did not accept connections on port {} within {READY_TIMEOUT:?}; its log:\n{}",
                    self.port,
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn ready(&self) -> bool {
        Command::new(self.bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-t", "2"])
            .arg("-p")
            .arg(self.port.to_string())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The directory holding `initdb`, `postgres`, `psql` and `pg_isready`: `BERTH_PG_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian's layout), else `pg_config --bindir`.
fn find_bin() -> Result<PathBuf, String> {
    let has_all = |dir: &Path| ["initdb", "postgres", "psql", "pg_isready"].iter().all(|p| dir.join(p).is_file());
    if let Some(dir) = std::env::var_os("BERTH_PG_BIN") {
        let dir = PathBuf::from(dir);
        return if has_all(&dir) {
            Ok(dir)
        } else {
            Err(format!("BERTH_PG_BIN={} lacks one of initdb, postgres, psql, pg_isready", dir.display()))
        };
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| has_all(bin))
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_all(&dir) {
            return Ok(dir);
        }
    }
    Err("PostgreSQL server binaries not found (no initdb, postgres, psql and pg_isready under \
         /usr/lib/postgresql/<version>/bin, nor from pg_config): install Debian's postgresql package \
         (`apt-get install -y postgresql`, as scripts/install-deps.sh does), or point BERTH_PG_BIN at the \
         directory holding them"
        .to_string())
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `(uid, gid)` of the `postgres` user, from `/etc/passwd`.
fn postgres_user() -> Result<(u32, u32), String> {
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| format!("reading /etc/passwd: {e}"))?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&"postgres") && f.len() > 3)
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        .ok_or_else(|| {
            "PostgreSQL refuses to run as root, and there is no postgres user to run it as (Debian's \
             postgresql package creates one): run the tests as another user, or create it"
                .to_string()
        })
}

fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e: io::Error| format!("finding a port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| format!("finding a port: {e}"))
}
