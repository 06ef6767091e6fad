//! `berth lifecycle run REPO [--wait]`: runs a repository's lifecycle policy now (the admin API's
//! `RunLifecyclePolicy`).

use serde_json::json;

use crate::cli::client::Client;
use crate::cli::{CliError, LifecycleCommand};

pub async fn run(client: &Client, command: LifecycleCommand) -> Result<(), CliError> {
    match command {
        LifecycleCommand::Run { name, wait, json } => {
            let out = client.call("RunLifecyclePolicy", json!({ "repositoryName": name, "wait": wait })).await?;
            if json {
                println!("{out}");
                return Ok(());
            }
            if !wait {
                println!("lifecycle policy of {name}: run started");
                return Ok(());
            }
            let expired = out["expired"].as_array().cloned().unwrap_or_default();
            let archived = out["archived"].as_array().cloned().unwrap_or_default();
            for (what, images) in [("expired", &expired), ("archived", &archived)] {
                for e in images {
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
            if archived.is_empty() {
                println!("lifecycle policy of {name}: {} image(s) expired", expired.len());
            } else {
                println!("lifecycle policy of {name}: {} image(s) expired, {} archived", expired.len(), archived.len());
            }
        }
    }
    Ok(())
}
