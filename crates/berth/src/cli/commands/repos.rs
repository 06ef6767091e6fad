//! `berth repo set-visibility`, `set-pull-policy`, `get-pull-policy`, `usage` (`deleted`, `restore`: see
//! [`super::deleted`]).

use serde_json::{Value, json};

use crate::cli::client::Client;
use crate::cli::output::{self, Table};
use crate::cli::size::human;
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
        RepoCommand::Usage { name, json } => usage(client, name, json).await?,
        RepoCommand::Deleted { json } => super::deleted::repositories(client, json).await?,
        RepoCommand::Restore { name } => super::deleted::restore_repository(client, &name).await?,
    }
    Ok(())
}

/// `berth repo usage [REPO]`: every page of accounts when no repository is named.
async fn usage(client: &Client, name: Option<String>, json: bool) -> Result<(), CliError> {
    if let Some(name) = name {
        let response = client.call("GetStorageUsage", json!({ "repositoryName": name })).await?;
        if json {
            output::print_json(&response);
        } else {
            accounts(output::items(&response, "repositories")).print();
        }
        return Ok(());
    }
    let mut body = json!({});
    let mut all = Vec::new();
    let registry = loop {
        let response = client.call("GetStorageUsage", body.clone()).await?;
        all.extend(output::items(&response, "repositories").iter().cloned());
        match response.get("nextToken").and_then(Value::as_str) {
            Some(next) => body["nextToken"] = json!(next),
            None => break response.get("registry").cloned().unwrap_or(Value::Null),
        }
    };
    if json {
        output::print_json(&json!({ "registry": registry, "repositories": all }));
    } else {
        accounts(&all).print();
        println!();
        print!("{}", totals(&registry));
    }
    Ok(())
}

fn bytes(v: Option<&Value>) -> String {
    human(v.and_then(Value::as_u64).unwrap_or(0))
}

fn accounts(list: &[Value]) -> Table {
    let mut t = Table::new(&["REPOSITORY", "TOTAL", "EXCLUSIVE", "SHARED", "RECLAIMABLE", "IMAGES", "BLOBS"]);
    for a in list {
        t.row(vec![
            output::text(a.get("repositoryName")),
            bytes(a.get("totalBytes")),
            bytes(a.get("exclusiveBytes")),
            bytes(a.get("sharedBytes")),
            bytes(a.get("reclaimableBytes")),
            output::text(a.get("images")),
            output::text(a.get("blobs")),
        ]);
    }
    t
}

fn totals(registry: &Value) -> String {
    let ratio = registry.get("dedupRatio").and_then(Value::as_f64).unwrap_or(1.0);
    let mut out = format!(
        "stored (deduplicated): {}\nlogical (sum of repositories): {}\ndeduplication ratio: {ratio:.2}\n\
         unlinked (awaiting garbage collection): {}\n",
        bytes(registry.get("storedBytes")),
        bytes(registry.get("logicalBytes")),
        bytes(registry.get("unlinkedBytes")),
    );
    if registry.get("deletedBytes").and_then(Value::as_u64).is_some_and(|n| n > 0) {
        out.push_str(&format!("held by deleted images (until purged): {}\n", bytes(registry.get("deletedBytes"))));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn usage_output() {
        let list = [json!({"repositoryName": "team-a/app", "totalBytes": 3072, "exclusiveBytes": 2048,
            "sharedBytes": 1024, "reclaimableBytes": 0, "images": 1, "blobs": 2})];
        assert_eq!(
            super::accounts(&list).render(),
            "REPOSITORY  TOTAL    EXCLUSIVE  SHARED   RECLAIMABLE  IMAGES  BLOBS\n\
             team-a/app  3.0 KiB  2.0 KiB    1.0 KiB  0 B          1       2\n"
        );
        let registry = json!({"storedBytes": 2048, "logicalBytes": 3072, "unlinkedBytes": 0, "dedupRatio": 1.5});
        assert_eq!(
            super::totals(&registry),
            "stored (deduplicated): 2.0 KiB\nlogical (sum of repositories): 3.0 KiB\ndeduplication ratio: 1.50\n\
             unlinked (awaiting garbage collection): 0 B\n"
        );
        let registry = json!({"storedBytes": 2048, "logicalBytes": 2048, "unlinkedBytes": 0, "deletedBytes": 1024});
        assert!(super::totals(&registry).ends_with("held by deleted images (until purged): 1.0 KiB\n"));
    }
}
