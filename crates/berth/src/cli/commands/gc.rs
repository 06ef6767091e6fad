//! `berth gc run [--wait]` and `berth gc status`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::client::Client;
use crate::cli::output;
use crate::cli::{CliError, GcCommand};

/// How long `berth gc run --wait` waits for the collection to finish.
const WAIT_LIMIT: Duration = Duration::from_secs(600);

pub async fn run(client: &Client, command: GcCommand) -> Result<(), CliError> {
    match command {
        GcCommand::Run { wait, json } => {
            let requested = client.call("RunGarbageCollection", json!({})).await?;
            let request = requested["request"].as_u64().unwrap_or(0);
            if !wait {
                if json {
                    output::print_json(&requested);
                } else {
                    println!(
                        "garbage collection requested; the server starts it within a few seconds (`berth gc status`)"
                    );
                }
                return Ok(());
            }
            let deadline = Instant::now() + WAIT_LIMIT;
            loop {
                let status = client.call("GetGarbageCollectionStatus", json!({})).await?;
                if status["served"].as_u64().unwrap_or(0) >= request {
                    if json {
                        output::print_json(&status);
                    } else {
                        print_status(&status);
                    }
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    return Err(CliError::Failed(
                        "the collection has not finished after 10 minutes (is the server running it? see `berth gc status`)"
                            .into(),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
        GcCommand::Status { json } => {
            let status = client.call("GetGarbageCollectionStatus", json!({})).await?;
            if json {
                output::print_json(&status);
            } else {
                print_status(&status);
            }
        }
    }
    Ok(())
}

fn print_status(s: &Value) {
    let running = s["running"].as_bool().unwrap_or(false);
    println!("state:            {}", if running { "running" } else { "idle" });
    println!("runs:             {}", output::text(s.get("runs")));
    println!("last started:     {}", output::time(s.get("lastStartedAt")));
    println!("last finished:    {}", output::time(s.get("lastFinishedAt")));
    println!("blobs deleted:    {}", output::text(s.get("blobsDeleted")));
    println!("bytes reclaimed:  {}", output::text(s.get("bytesReclaimed")));
    println!("links removed:    {}", output::text(s.get("linksRemoved")));
    println!(
        "pending:          {} blobs queued for review ({} due now), {} being deleted, {} commits in flight",
        output::text(s.get("queued")),
        output::text(s.get("due")),
        output::text(s.get("deleting")),
        output::text(s.get("commitsInFlight"))
    );
    println!("grace period:     {}s", output::text(s.get("graceSeconds")));
}
