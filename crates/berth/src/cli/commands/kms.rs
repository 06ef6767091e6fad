//! `berth kms encrypt-existing [--wait]`.

use std::time::Duration;

use serde_json::{Value, json};

use super::jobs;
use crate::cli::client::Client;
use crate::cli::output;
use crate::cli::{CliError, KmsCommand};

/// How long `--wait` waits (encrypting a large installation takes as long as reading and writing it once).
const WAIT_LIMIT: Duration = Duration::from_secs(6 * 3600);

pub async fn run(client: &Client, command: KmsCommand) -> Result<(), CliError> {
    let KmsCommand::EncryptExisting { wait, json } = command;
    let queued = client.call("EncryptExistingBlobs", json!({})).await?;
    let id = queued["jobId"].as_i64().unwrap_or_default();
    if !wait {
        if json {
            output::print_json(&queued);
        } else {
            println!("encrypting existing blobs: job {id} (`berth jobs show {id}` shows its progress)");
        }
        return Ok(());
    }
    let job = jobs::wait_for(client, id, WAIT_LIMIT).await?;
    if job["state"] != "succeeded" {
        return Err(jobs::not_succeeded("encrypting existing blobs", &job));
    }
    let result = job["result"].as_str().and_then(|r| serde_json::from_str::<Value>(r).ok()).unwrap_or(Value::Null);
    if json {
        output::print_json(&result);
    } else {
        println!(
            "{} blobs: {} encrypted now, {} encrypted already, {} deleted meanwhile",
            output::text(result.get("blobs")),
            output::text(result.get("sealed")),
            output::text(result.get("alreadySealed")),
            output::text(result.get("missing"))
        );
        for damaged in result["damaged"].as_array().into_iter().flatten() {
            println!("left unencrypted (damaged; see `berth fsck --verify-digests`): {}", output::text(Some(damaged)));
        }
    }
    Ok(())
}
