//! `berth signing create-key|trust-key|list-keys|delete-key|require|requirement|status`.

use std::path::Path;

use serde_json::{Value, json};

use crate::cli::client::Client;
use crate::cli::output::{self, Table};
use crate::cli::{CliError, SigningCommand};

fn read(path: &Path, what: &str) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::Usage(format!("reading the {what} {}: {e}", path.display())))
}

/// Writes `contents` to a new file (never over an existing one), owner-only for a private key.
fn write_new(path: &str, contents: &str, private: bool) -> Result<(), CliError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| CliError::Usage(format!("writing {path}: {e}")))?;
    file.write_all(contents.as_bytes()).map_err(|e| CliError::Failed(format!("writing {path}: {e}")))
}

pub async fn run(client: &Client, command: SigningCommand) -> Result<(), CliError> {
    match command {
        SigningCommand::CreateKey { name, export, passphrase_file, output_key_prefix } => {
            let mut body = json!({"keyName": name});
            if export && let Some(file) = &passphrase_file {
                let passphrase = read(file, "passphrase file")?;
                let passphrase = passphrase.lines().next().unwrap_or_default();
                if passphrase.is_empty() {
                    return Err(CliError::Usage(format!("the passphrase file {} is empty", file.display())));
                }
                body["exportPassphrase"] = json!(passphrase);
            }
            let response = client.call("CreateSigningKey", body).await?;
            let public = output::text(response.pointer("/key/publicKey"));
            if export {
                let prefix = output_key_prefix.unwrap_or_else(|| name.clone());
                let private = output::text(response.get("privateKey"));
                write_new(&format!("{prefix}.key"), &private, true)?;
                write_new(&format!("{prefix}.pub"), &public, false)?;
                eprintln!("signing key {name} created; wrote {prefix}.key (encrypted) and {prefix}.pub");
            } else {
                eprintln!("signing key {name} created");
            }
            print!("{public}");
        }
        SigningCommand::TrustKey { name, public_key_file } => {
            let pem = read(&public_key_file, "public key")?;
            let response = client.call("TrustSigningKey", json!({"keyName": name, "publicKey": pem})).await?;
            println!("trusted key {name} ({})", output::text(response.pointer("/key/fingerprint")));
        }
        SigningCommand::ListKeys { json } => {
            let response = client.call("ListSigningKeys", json!({})).await?;
            if json {
                output::print_json(&response);
            } else {
                key_table(&response).print();
            }
        }
        SigningCommand::DeleteKey { name } => {
            client.call("DeleteSigningKey", json!({"keyName": name})).await?;
            println!("signing key {name} deleted");
        }
        SigningCommand::Require { repository, keys, off } => {
            let keys = if off { Vec::new() } else { keys };
            let mut body = json!({"keyNames": keys});
            if let Some(r) = &repository {
                body["repositoryName"] = json!(r);
            }
            client.call("PutSignatureRequirement", body).await?;
            let scope = repository.map_or_else(|| "the registry".to_string(), |r| format!("repository {r}"));
            if keys.is_empty() {
                println!("{scope}: no signature requirement");
            } else {
                println!("{scope}: only images signed by {} may be pulled", keys.join(" or "));
            }
        }
        SigningCommand::Requirement { repository } => {
            let body = repository.as_ref().map_or_else(|| json!({}), |r| json!({"repositoryName": r}));
            let response = client.call("GetSignatureRequirement", body).await?;
            output::print_json(&response);
        }
        SigningCommand::Status { repository, image } => {
            let id =
                if image.starts_with("sha256:") { json!({"imageDigest": image}) } else { json!({"imageTag": image}) };
            let response = client
                .call_ecr("DescribeImageSigningStatus", json!({"repositoryName": repository, "imageId": id}))
                .await?;
            status_table(&response).print();
        }
    }
    Ok(())
}

fn key_table(response: &Value) -> Table {
    let mut t = Table::new(&["NAME", "KIND", "FINGERPRINT", "CREATED"]);
    for k in output::items(response, "keys") {
        let kind = if k.get("managed").and_then(Value::as_bool) == Some(true) { "managed" } else { "trusted" };
        t.row(vec![
            output::text(k.get("keyName")),
            kind.into(),
            output::text(k.get("fingerprint")),
            output::time(k.get("createdAt")),
        ]);
    }
    t
}

fn status_table(response: &Value) -> Table {
    let mut t = Table::new(&["SIGNING PROFILE", "STATUS", "REASON"]);
    for s in output::items(response, "signingStatuses") {
        t.row(vec![
            output::text(s.get("signingProfileArn")),
            output::text(s.get("status")),
            s.get("failureReason").map(|r| output::text(Some(r))).unwrap_or_default(),
        ]);
    }
    t
}
