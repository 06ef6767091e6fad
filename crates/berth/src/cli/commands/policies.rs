//! `berth policy put|get|delete`.

use serde_json::{Value, json};

use crate::cli::client::Client;
use crate::cli::{CliError, PolicyCommand, PolicyTarget};

pub async fn run(client: &Client, command: PolicyCommand) -> Result<(), CliError> {
    match command {
        PolicyCommand::Put { target, file } => {
            let text = super::read_input(&file)?;
            let source = if file.as_os_str() == "-" { "stdin".to_string() } else { file.display().to_string() };
            if let Err(e) = serde_json::from_str::<Value>(&text) {
                return Err(CliError::Failed(format!("{source}: not a JSON policy document: {e}")));
            }
            client.call("PutPolicy", json!({ "target": target_json(&target), "policyText": text })).await?;
            println!("set the policy of {}", describe(&target));
        }
        PolicyCommand::Get { target } => {
            let response = client.call("GetPolicy", json!({ "target": target_json(&target) })).await?;
            let Some(text) = response.get("policyText").and_then(Value::as_str) else {
                return Err(CliError::Failed("GetPolicy: the response has no policyText".into()));
            };
            match serde_json::from_str::<Value>(text) {
                Ok(document) => println!("{}", serde_json::to_string_pretty(&document).unwrap_or_else(|_| text.into())),
                Err(_) => println!("{text}"),
            }
        }
        PolicyCommand::Delete { target } => {
            client.call("DeletePolicy", json!({ "target": target_json(&target) })).await?;
            println!("deleted the policy of {}", describe(&target));
        }
    }
    Ok(())
}

/// The API's `Target`: `{"user": U}`, `{"group": G}`, `{"repository": R}` or `{"registry": true}`.
fn target_json(target: &PolicyTarget) -> Value {
    match target {
        PolicyTarget { user: Some(u), .. } => json!({ "user": u }),
        PolicyTarget { group: Some(g), .. } => json!({ "group": g }),
        PolicyTarget { repository: Some(r), .. } => json!({ "repository": r }),
        PolicyTarget { .. } => json!({ "registry": true }),
    }
}

fn describe(target: &PolicyTarget) -> String {
    match target {
        PolicyTarget { user: Some(u), .. } => format!("user {u}"),
        PolicyTarget { group: Some(g), .. } => format!("group {g}"),
        PolicyTarget { repository: Some(r), .. } => format!("repository {r}"),
        PolicyTarget { .. } => "the registry".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn target(user: Option<&str>, group: Option<&str>, repository: Option<&str>, registry: bool) -> PolicyTarget {
        PolicyTarget {
            user: user.map(Into::into),
            group: group.map(Into::into),
            repository: repository.map(Into::into),
            registry,
        }
    }

    #[test]
    fn targets() {
        assert_eq!(target_json(&target(Some("alice"), None, None, false)), json!({"user": "alice"}));
        assert_eq!(target_json(&target(None, Some("devs"), None, false)), json!({"group": "devs"}));
        assert_eq!(target_json(&target(None, None, Some("team/app"), false)), json!({"repository": "team/app"}));
        assert_eq!(target_json(&target(None, None, None, true)), json!({"registry": true}));
        assert_eq!(describe(&target(None, None, Some("team/app"), false)), "repository team/app");
        assert_eq!(describe(&target(None, None, None, true)), "the registry");
    }
}
