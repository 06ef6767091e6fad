//! `berth repo set-visibility`.

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
    }
    Ok(())
}
