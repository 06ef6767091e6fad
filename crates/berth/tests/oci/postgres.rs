//! `berth serve` with its metadata in PostgreSQL (`BERTH_METADATA_URL`), against a real server the test
//! starts (`berth_meta::pg_harness`): a push and a pull, the content still there after a restart, `berth
//! fsck` over the same URL, a rebuild into a new database after the metadata was lost, and a clear refusal
//! to start when the database cannot be reached.

use std::process::Command;

use berth_meta::pg_harness::PgServer;
use reqwest::StatusCode;

use crate::support::{OCI_MANIFEST, Server, bytes};

#[tokio::test]
async fn push_and_pull_with_postgres_metadata() {
    let pg = PgServer::start().unwrap_or_else(|e| panic!("cannot start a test PostgreSQL server: {e}"));
    let url = pg.create_database().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let env = [("BERTH_METADATA_URL", url.as_str())];

    let mut s = Server::start_with(&dir, &env);
    let layer = bytes(12, 300_000);
    let (body, digest) = s.push_image("pg/app", "v1", &layer).await;
    let r = s.get("/v2/pg/app/manifests/v1").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["docker-content-digest"].to_str().unwrap(), digest.to_string());
    assert_eq!(r.bytes().await.unwrap(), body);
    let layer_digest = berth_oci::Digest::sha256_of(&layer);
    let r = s.get(&format!("/v2/pg/app/blobs/{layer_digest}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap(), layer);
    assert!(!dir.join("meta.db").exists(), "no SQLite database in the data directory");

    // Restarted on the same database: everything is still there.
    s.stop();
    let s = Server::start_with(&dir, &env);
    let r = s.get("/v2/pg/app/manifests/v1").await;
    assert_eq!(r.status(), StatusCode::OK, "the manifest survives a restart");
    let r = s.get("/v2/_catalog").await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["repositories"], serde_json::json!(["pg/app"]));
    let r = s.put_manifest("pg/app", "v2", OCI_MANIFEST, &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    drop(s);

    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["fsck", "--data-dir"])
        .arg(&dir)
        .args(["--metadata-url", &url])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "fsck over PostgreSQL: {report}{}", String::from_utf8_lossy(&out.stderr));
    assert!(report.contains("consistent"), "{report}");

    // The metadata is lost (a new, empty database): berth refuses to serve over the blobs it no longer
    // knows, and fsck rebuilds manifests and tags from the repository journal into the new database.
    let fresh = pg.create_database().unwrap();
    let serve = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .args(["--metadata-url", &fresh])
        .env("BERTH_ADMIN_PASSWORD", crate::support::ADMIN_PASSWORD)
        .output()
        .unwrap();
    assert!(!serve.status.success(), "berth refuses an empty database over known blobs");
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["fsck", "--rebuild-metadata", "--data-dir"])
        .arg(&dir)
        .args(["--metadata-url", &fresh])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "rebuild into PostgreSQL: {report}{}", String::from_utf8_lossy(&out.stderr));
    let s = Server::start_with(&dir, &[("BERTH_METADATA_URL", fresh.as_str())]);
    for tag in ["v1", "v2"] {
        let r = s.get(&format!("/v2/pg/app/manifests/{tag}")).await;
        assert_eq!(r.status(), StatusCode::OK, "{tag} rebuilt");
        assert_eq!(r.bytes().await.unwrap(), body);
    }
}

#[test]
fn an_unreachable_database_is_a_clear_error_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://berth:s3cret-pw@127.0.0.1:{port}/berth");
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path())
        .env("BERTH_METADATA_URL", &url)
        .env("BERTH_ADMIN_PASSWORD", "x-admin-password")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "berth must not start: {stderr}");
    assert!(stderr.contains(&format!("postgres://berth:***@127.0.0.1:{port}/berth")), "names the database: {stderr}");
    assert!(stderr.contains("BERTH_METADATA_URL"), "says what to fix: {stderr}");
    assert!(!stderr.contains("s3cret-pw"), "never shows the password: {stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path())
        .args(["--metadata-url", "mysql://u:p@db/berth"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("postgres://USER:PASS@HOST:PORT/DB"), "{stderr}");
}
