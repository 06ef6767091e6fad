//! `berth repo set-visibility`, `set-pull-policy`, `get-pull-policy`.

use serde_json::json;

use crate::cli::client::Client;
use crate::cli::{CliError, RepoCommand};

pub async fn run(client: &Client, command: RepoCommand) -> Result<(), CliError> {
    match command {
        RepoCommand::SetVisibility { name, visibility } => {
            let visibility = visibility.as_str();
            client.call("SetRepositoryVisibility", json!({ "repositoryName": name, "visibility": visibility })).await?;
            println!("repository {name} is now {visibility}");
        }
        RepoCommand::SetPullPolicy { name, min_severity, allow, clear: _ } => {
            let mut body = json!({ "repositoryName": name });
            if let Some(s) = &min_severity {
                body["minSeverity"] = json!(s.to_uppercase());
                body["allow"] = json!(allow);
            }
            client.call("PutPullPolicy", body).await?;
            match min_severity {
                Some(s) => {
                    println!("pulls from {name} are refused for images with findings at or above {}", s.to_uppercase())
                }
                None => println!("repository {name} has no pull policy"),
            }
        }
        RepoCommand::GetPullPolicy { name } => {
            let policy = client.call("GetPullPolicy", json!({ "repositoryName": name })).await?;
            match policy.get("minSeverity").and_then(|v| v.as_str()) {
                Some(s) => {
                    let allow: Vec<&str> = policy["allow"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                        .unwrap_or_default();
                    println!(
                        "refuse pulls at or above {s}; allowed: {}",
                        if allow.is_empty() { "none".to_string() } else { allow.join(", ") }
                    );
                }
                None => println!("no pull policy"),
            }
        }
    }
    Ok(())
}
