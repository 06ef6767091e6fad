//! `berth login` / `berth logout` with the real binary: from the administrator's password to a working CLI
//! and aws CLI, the credentials file's contents and mode, refusals, and global options after subcommands.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::json;

use crate::ecr::{aws, require};
use crate::support::*;

/// Runs `berth ARGS` with `config_dir` as its credentials directory and no credentials in the environment.
fn berth(config_dir: &Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .env("BERTH_CONFIG_DIR", config_dir)
        .env_remove("BERTH_ACCESS_KEY_ID")
        .env_remove("BERTH_SECRET_ACCESS_KEY")
        .env_remove("BERTH_ENDPOINT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    eprintln!("$ berth {} -> {:?}\n{stdout}{stderr}", args.join(" "), out.status.code());
    (out.status.success(), stdout, stderr)
}

fn profile_value(config_dir: &Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(config_dir.join("credentials")).ok()?;
    text.lines().find_map(|l| l.split_once('=').filter(|(k, _)| k.trim() == key).map(|(_, v)| v.trim().to_string()))
}

#[tokio::test]
async fn berth_login_turns_a_password_into_a_working_cli() {
    require("aws", &["--version"], "the AWS CLI (`pip install awscli`)");
    let s = Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("berth-home");

    // A wrong password: refused, nothing written.
    let (ok, _, err) = berth(&home, &["login", "--password-stdin", "--endpoint", &s.base], "wrong\n");
    assert!(!ok && err.contains("UnrecognizedClientException"), "{err}");
    assert!(!home.join("credentials").exists());

    // Global options after the subcommand; the password from stdin.
    let (ok, out, err) =
        berth(&home, &["login", "--password-stdin", "--endpoint", &s.base], &format!("{ADMIN_PASSWORD}\n"));
    assert!(ok, "{err}");
    assert!(out.contains("docker login"), "login prints the next commands: {out}");
    let mode = std::fs::metadata(home.join("credentials")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the credentials file is the owner's only");
    let key_id = profile_value(&home, "access_key_id").unwrap();
    let secret = profile_value(&home, "secret_access_key").unwrap();
    assert_eq!(profile_value(&home, "endpoint").as_deref(), Some(s.base.as_str()));

    // The profile works for the berth CLI (no flags, no environment) and the key for the aws CLI.
    let (ok, out, err) = berth(&home, &["user", "list", "--json"], "");
    assert!(ok, "{err}");
    assert!(out.contains("\"admin\""), "{out}");
    let described = aws(&s, tmp.path(), (&key_id, &secret), &["describe-repositories"]);
    assert_eq!(described.code, 0, "{}", described.stderr);

    // A user without berth:CreateAccessKey on themselves cannot sign in; with it (policy variable), can.
    s.admin("CreateUser", json!({"userName": "kim", "password": "kim-password"})).await;
    let other = tmp.path().join("kim-home");
    let (ok, _, err) =
        berth(&other, &["login", "--username", "kim", "--password-stdin", "--endpoint", &s.base], "kim-password\n");
    assert!(!ok && err.contains("AccessDeniedException"), "{err}");
    let own_keys = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["berth:CreateAccessKey", "berth:DeleteAccessKey"], "Resource": "arn:aws:iam::*:user/${aws:username}"}]});
    s.admin("PutPolicy", json!({"target": {"user": "kim"}, "policyText": own_keys.to_string()})).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (ok, _, err) =
        berth(&other, &["login", "--username", "kim", "--password-stdin", "--endpoint", &s.base], "kim-password\n");
    assert!(ok, "{err}");
    let kim_key = profile_value(&other, "access_key_id").unwrap();

    // Logout deletes the key on the registry and the profile.
    let (ok, out, err) = berth(&other, &["logout"], "");
    assert!(ok, "{err}");
    assert!(out.contains(&format!("deleted access key {kim_key}")), "{out}");
    assert!(profile_value(&other, "access_key_id").is_none());
    let keys = s.admin("ListAccessKeys", json!({"userName": "kim"})).await;
    assert_eq!(keys["accessKeys"], json!([]), "{keys}");
    let (ok, _, _) = berth(&home, &["logout"], "");
    assert!(ok);
    let (ok, _, err) = berth(&home, &["user", "list"], "");
    assert!(!ok && err.contains("no credentials"), "{err}");
}
