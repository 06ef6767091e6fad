//! `berth lifecycle run REPO [--wait]`: queues a run of a repository's lifecycle policy now (a `lifecycle`
//! job, through the admin API's `RunLifecyclePolicy`) and, with `--wait`, waits for the job and lists what it
//! expired.

use std::time::Duration;

use serde_json::{Value, json};

use super::jobs;
use crate::cli::client::Client;
use crate::cli::output;
use crate::cli::{CliError, LifecycleCommand};

/// How long `--wait` waits for the run.
const WAIT_LIMIT: Duration = Duration::from_secs(600);

pub async fn run(client: &Client, command: LifecycleCommand) -> Result<(), CliError> {
    match command {
        LifecycleCommand::Run { name, wait, json } => {
            let out = client.call("RunLifecyclePolicy", json!({ "repositoryName": name, "wait": false })).await?;
            let id = out["jobId"].as_i64().unwrap_or_default();
            if !wait {
                if json {
                    output::print_json(&out);
                } else {
                    println!("lifecycle policy of {name}: run queued as job {id} (`berth jobs show {id}`)");
                }
                return Ok(());
            }
            if !json {
                println!("lifecycle policy of {name}: job {id}");
            }
            let job = jobs::wait_for(client, id, WAIT_LIMIT).await?;
            if job["state"] != "succeeded" {
                return Err(jobs::not_succeeded("lifecycle run", &job));
            }
            let mut result: Value =
                job["result"].as_str().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_else(|| json!({}));
            if json {
                result["status"] = json!("COMPLETE");
                result["jobId"] = json!(id);
                output::print_json(&result);
                return Ok(());
            }
            for what in ["expired", "archived"] {
                for e in output::items(&result, what) {
                    let tags: Vec<&str> = e["imageTags"]
                        .as_array()
                        .map(|t| t.iter().filter_map(|v| v.as_str()).collect())
                        .unwrap_or_default();
                    println!(
                        "{what} {} ({}) by rule {}",
                        e["imageDigest"].as_str().unwrap_or(""),
                        if tags.is_empty() { "untagged".to_string() } else { tags.join(", ") },
                        e["appliedRulePriority"]
                    );
                }
            }
            let expired = output::text(result.get("expiredCount"));
            match result.get("archivedCount").and_then(Value::as_u64) {
                Some(n) if n > 0 => println!("lifecycle policy of {name}: {expired} image(s) expired, {n} archived"),
                _ => println!("lifecycle policy of {name}: {expired} image(s) expired"),
            }
        }
    }
    Ok(())
}
