//! `berth migrate --to-config`: a default SQLite + filesystem installation (images, a user, a repository
//! policy) copied into PostgreSQL + S3 (moto), killed once in the middle of the blob copy and run again
//! (it continues, skipping what is there), then served from the target: every image pulls with its digests
//! verified, the user still logs in and the policy still decides. A second installation is refused.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use berth_meta::pg_harness::PgServer;
use berth_oci::Digest;
use berth_storage::s3_server::{self as moto, S3Server};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Server, bytes, client_as};

const IMAGES: usize = 16;

fn migrate_cmd(source: &Path, to_config: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.arg("migrate")
        .arg("--data-dir")
        .arg(source)
        .arg("--to-config")
        .arg(to_config)
        .env_remove("BERTH_MASTER_KEY")
        .env("AWS_ACCESS_KEY_ID", moto::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", moto::SECRET_ACCESS_KEY)
        .env("AWS_REGION", "us-east-1");
    cmd
}

/// "done: C blobs copied (..), S already in the target" -> (C, S).
fn summary(stderr: &str) -> (u64, u64) {
    let line = stderr.lines().find(|l| l.contains("done: ")).unwrap_or_else(|| panic!("no summary in {stderr}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = |w: &str| words.iter().position(|x| *x == w).unwrap();
    let copied = words[at("done:") + 1].parse().unwrap();
    let skipped_at = words.iter().position(|x| *x == "already").unwrap() - 1;
    (copied, words[skipped_at].parse().unwrap())
}

#[tokio::test]
async fn migrate_sqlite_and_files_into_postgres_and_s3_resuming_after_a_kill() {
    let s3 = S3Server::moto().unwrap_or_else(|e| panic!("cannot start the test S3 server: {e}"));
    s3.create_bucket("berth-migrate").unwrap();
    let pg = PgServer::start().unwrap_or_else(|e| panic!("cannot start a test PostgreSQL server: {e}"));
    let url = pg.create_database().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("source");

    // The source: images (one layer big enough for several S3 parts), a user, a repository policy.
    let mut s = Server::start_in(&source);
    let mut images = Vec::new();
    for i in 0..IMAGES {
        let len = if i == 0 { 12 << 20 } else { 300_000 + i * 1000 };
        let layer = bytes(100 + i as u64, len);
        let repo = if i == 0 { "team/shared".to_string() } else { format!("apps/app{i}") };
        let (body, digest) = s.push_image(&repo, "v1", &layer).await;
        images.push((repo, body, digest, layer));
    }
    s.admin("CreateUser", json!({"userName": "alice", "password": "alice-password"})).await;
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::000000000000:user/alice"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]});
    s.admin("PutPolicy", json!({"target": {"repository": "team/shared"}, "policyText": policy.to_string()})).await;
    let alice = client_as("alice", "alice-password");
    let r = alice.get(s.url("/v2/team/shared/manifests/v1")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the policy lets alice pull team/shared");
    let denied = alice.get(s.url("/v2/apps/app1/manifests/v1")).send().await.unwrap().status();
    assert!(denied == StatusCode::FORBIDDEN || denied == StatusCode::UNAUTHORIZED, "{denied}");
    s.stop();

    let config = tmp.path().join("scaleout.toml");
    std::fs::write(
        &config,
        format!(
            "[metadata]\nurl = \"{url}\"\n\n[storage]\nurl = \"s3://berth-migrate/registry\"\nendpoint = \"{}\"\n\
             path_style = true\nregion = \"us-east-1\"\n",
            s3.endpoint()
        ),
    )
    .unwrap();

    // First run, killed (SIGKILL) as soon as it reports a copied blob.
    let mut child = migrate_cmd(&source, &config).stderr(Stdio::piped()).spawn().unwrap();
    let mut seen = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(" copied sha256:") {
            child.kill().unwrap();
            break;
        }
    }
    let status = child.wait().unwrap();
    assert!(!status.success(), "the first run was killed mid-copy:\n{seen}");
    assert!(!seen.contains("done: "), "killed before it finished:\n{seen}");

    // Second run: continues (skips what the first stored) and finishes.
    let out = migrate_cmd(&source, &config).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let (copied, skipped) = summary(&stderr);
    assert!(skipped >= 1, "blobs stored by the killed run are skipped:\n{stderr}");
    assert!(copied >= 1, "the rest is copied:\n{stderr}");
    assert_eq!(copied + skipped, IMAGES as u64 + 1, "every layer plus the shared config:\n{stderr}");
    assert!(stderr.contains("metadata rows copied"), "{stderr}");

    // Third run: nothing left to do.
    let out = migrate_cmd(&source, &config).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(summary(&stderr), (0, IMAGES as u64 + 1), "{stderr}");
    assert!(stderr.contains("metadata copied earlier"), "{stderr}");

    // Another installation is refused, saying what to do.
    let other = tmp.path().join("other");
    Server::start_in(&other).stop();
    let out = migrate_cmd(&other, &config).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("another installation") && stderr.contains("empty database"), "{stderr}");

    // The target serves everything.
    let key = std::fs::read_to_string(source.join("master.key")).unwrap();
    let endpoint = s3.endpoint();
    let env = [
        ("BERTH_METADATA_URL", url.as_str()),
        ("BERTH_STORAGE_URL", "s3://berth-migrate/registry"),
        ("BERTH_S3_ENDPOINT", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", moto::ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", moto::SECRET_ACCESS_KEY),
        ("AWS_REGION", "us-east-1"),
        ("BERTH_MASTER_KEY", key.trim()),
    ];
    let t = Server::start_with(&tmp.path().join("target-node"), &env);
    for (repo, body, digest, layer) in &images {
        let r = t.get(&format!("/v2/{repo}/manifests/v1")).await;
        assert_eq!(r.status(), StatusCode::OK, "{repo}");
        let got = r.bytes().await.unwrap();
        assert_eq!(Digest::sha256_of(&got), *digest);
        assert_eq!(&got[..], &body[..]);
        let layer_digest = Digest::sha256_of(layer);
        let r = t.get(&format!("/v2/{repo}/blobs/{layer_digest}")).await;
        assert_eq!(r.status(), StatusCode::OK, "{repo} layer");
        let got = r.bytes().await.unwrap();
        assert_eq!(Digest::sha256_of(&got), layer_digest, "{repo}: pulled bytes match the digest");
    }
    let catalog: serde_json::Value = t.get("/v2/_catalog?n=100").await.json().await.unwrap();
    assert_eq!(catalog["repositories"].as_array().unwrap().len(), IMAGES);
    let r = alice.get(t.url("/v2/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "alice still logs in");
    let r = alice.get(t.url("/v2/team/shared/manifests/v1")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the repository policy still lets alice pull");
    let denied = alice.get(t.url("/v2/apps/app1/manifests/v1")).send().await.unwrap().status();
    assert!(denied == StatusCode::FORBIDDEN || denied == StatusCode::UNAUTHORIZED, "{denied}");
    // New pushes on the target get ids past the copied ones.
    t.push_image("apps/new", "v1", &bytes(999, 1000)).await;
}
