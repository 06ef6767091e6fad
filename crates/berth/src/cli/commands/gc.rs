//! `berth gc run [--wait]` and `berth gc status`.

use std::time::Duration;

use serde_json::{Value, json};

use super::jobs;
use crate::cli::client::Client;
use crate::cli::output;
use crate::cli::{CliError, GcCommand};

/// How long `berth gc run --wait` waits for the collection to finish.
const WAIT_LIMIT: Duration = Duration::from_secs(600);

pub async fn run(client: &Client, command: GcCommand) -> Result<(), CliError> {
    match command {
        GcCommand::Run { wait, json } => {
            let requested = client.call("RunGarbageCollection", json!({})).await?;
            let id = requested["jobId"].as_i64().unwrap_or_default();
            if !wait {
                if json {
                    output::print_json(&requested);
                } else {
                    println!("garbage collection queued as job {id} (`berth gc status`, `berth jobs show {id}`)");
                }
                return Ok(());
            }
            if !json {
                println!("garbage collection: job {id}");
            }
            let job = jobs::wait_for(client, id, WAIT_LIMIT).await?;
            if job["state"] != "succeeded" {
                return Err(jobs::not_succeeded("garbage collection", &job));
            }
            let status = client.call("GetGarbageCollectionStatus", json!({})).await?;
            if json {
                output::print_json(&status);
            } else {
                if let Some(r) = job["result"].as_str().and_then(|r| serde_json::from_str::<Value>(r).ok()) {
                    println!(
                        "this collection: {} blobs reviewed, {} deleted, {} bytes reclaimed",
                        output::text(r.get("reviewed")),
                        output::text(r.get("blobsDeleted")),
                        output::text(r.get("bytesReclaimed"))
                    );
                }
                print_status(&status);
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
    match s.get("job").filter(|j| !j.is_null()) {
        Some(job) if running => println!("state:            running (job {})", output::text(job.get("jobId"))),
        Some(job) => println!(
            "state:            idle (last job {}: {})",
            output::text(job.get("jobId")),
            output::text(job.get("state"))
        ),
        None => println!("state:            {}", if running { "running" } else { "idle" }),
    }
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
