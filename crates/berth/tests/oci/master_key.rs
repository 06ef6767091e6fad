//! A node started with another master key than the one that sealed the store's secrets is refused at start
//! with an error naming the fix, and leaves the store as it was: on SQLite (a `master.key` replaced by
//! `BERTH_MASTER_KEY`) and on a PostgreSQL store shared by two nodes (the second one without the first one's
//! key, or with another).

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use berth_meta::pg_harness::PgServer;
use reqwest::StatusCode;

use crate::support::{ADMIN_PASSWORD, Server, anonymous_client, bytes};

const MISMATCH: &str = "the master key differs from the one that sealed this store's secrets";

fn key(byte: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

/// `berth serve` that is expected to refuse to start: its standard error.
fn serve_refused(dir: &Path, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("BERTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env_remove("BERTH_MASTER_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run berth");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "berth started with the wrong master key: {stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"), "it must not listen");
    stderr
}

fn names_the_fix(stderr: &str) {
    assert!(stderr.contains(MISMATCH), "{stderr}");
    assert!(stderr.contains("give every node the same BERTH_MASTER_KEY"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A bearer token from `issuer`'s token endpoint (its signing keys open and sign), as `verifier` accepts it.
async fn token_works(issuer: &Server, verifier: &Server) {
    let r = issuer.get("/token?service=berth&scope=repository:mk/app:pull").await;
    assert_eq!(r.status(), StatusCode::OK, "token endpoint");
    let token = r.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let r = anonymous_client().get(verifier.url("/v2/")).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the token is accepted");
}

#[tokio::test]
async fn another_master_key_is_refused_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut s = Server::start_in(&dir);
    s.push_image("mk/app", "v1", &bytes(3, 1000)).await;
    s.stop();
    let original = std::fs::read(dir.join("master.key")).unwrap();

    let stderr = serve_refused(&dir, &[("BERTH_MASTER_KEY", &key(7))]);
    names_the_fix(&stderr);
    // The refusal changed nothing: the installation's own key still opens everything.
    assert_eq!(std::fs::read(dir.join("master.key")).unwrap(), original);
    let s = Server::start_in(&dir);
    token_works(&s, &s).await;
    assert_eq!(s.get("/v2/mk/app/manifests/v1").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn nodes_sharing_postgres_need_the_same_master_key() {
    let pg = PgServer::start().unwrap_or_else(|e| panic!("cannot start a test PostgreSQL server: {e}"));
    let url = pg.create_database().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (first, second) = (tmp.path().join("node1"), tmp.path().join("node2"));
    let k1 = key(1);
    let node1 = Server::start_with(&first, &[("BERTH_METADATA_URL", &url), ("BERTH_MASTER_KEY", &k1)]);

    // The usual mistake: the second node has no BERTH_MASTER_KEY and makes its own master.key.
    names_the_fix(&serve_refused(&second, &[("BERTH_METADATA_URL", &url)]));
    // Or another key.
    std::fs::remove_file(second.join("master.key")).unwrap();
    names_the_fix(&serve_refused(&second, &[("BERTH_METADATA_URL", &url), ("BERTH_MASTER_KEY", &key(2))]));

    // With the same key it starts, and a token either node issues is accepted by the other.
    let node2 = Server::start_with(&second, &[("BERTH_METADATA_URL", &url), ("BERTH_MASTER_KEY", &k1)]);
    token_works(&node2, &node1).await;
    token_works(&node1, &node2).await;
}
