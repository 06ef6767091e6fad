//! `berth token create|list|delete`.

use serde_json::{Value, json};

use crate::cli::client::Client;
use crate::cli::output::{self, Table};
use crate::cli::{CliError, TokenCommand};

pub async fn run(client: &Client, command: TokenCommand) -> Result<(), CliError> {
    match command {
        TokenCommand::Create { name, repositories, actions, expires_in, json } => {
            let mut action_names: Vec<&str> = Vec::new();
            for a in actions {
                if !action_names.contains(&a.as_str()) {
                    action_names.push(a.as_str());
                }
            }
            let body = json!({
                "name": name,
                "repositories": repositories,
                "actions": action_names,
                "expiresInSeconds": expires_in,
            });
            let response = client.call("CreateRobotToken", body).await?;
            if json {
                output::print_json(&response);
            } else {
                let Some(token) = response.get("token").and_then(Value::as_str) else {
                    return Err(CliError::Failed("CreateRobotToken: the response has no token".into()));
                };
                println!("{token}");
                eprintln!(
                    "robot token {} ({name}) expires {}; it cannot be shown again",
                    output::text(response.get("tokenId")),
                    output::time(response.get("expiresAt"))
                );
            }
        }
        TokenCommand::List { json } => {
            let response = client.call("ListRobotTokens", json!({})).await?;
            if json {
                output::print_json(&response);
            } else {
                table(&response).print();
            }
        }
        TokenCommand::Delete { id } => {
            client.call("DeleteRobotToken", json!({ "tokenId": id })).await?;
            println!("deleted robot token {id}");
        }
    }
    Ok(())
}

fn table(response: &Value) -> Table {
    let mut t = Table::new(&["ID", "NAME", "OWNER", "REPOSITORIES", "EXPIRES", "CREATED"]);
    for token in output::items(response, "robotTokens") {
        t.row(vec![
            output::text(token.get("tokenId")),
            output::text(token.get("name")),
            output::text(token.get("owner")),
            scope_repositories(token.get("scope")),
            output::time(token.get("expiresAt")),
            output::time(token.get("createdAt")),
        ]);
    }
    t
}

/// The repositories a token's scope (a policy document, as JSON text or an object) names, from the
/// `Resource`s of its statements: `arn:...:repository/team/app` is shown as `team/app`.
fn scope_repositories(scope: Option<&Value>) -> String {
    let document = match scope {
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(v) => v,
            Err(_) => return output::text(scope),
        },
        Some(v @ Value::Object(_)) => v.clone(),
        other => return output::text(other),
    };
    let statements = match document.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    let mut names: Vec<String> = Vec::new();
    for statement in &statements {
        let resources = match statement.get("Resource") {
            Some(Value::String(r)) => vec![r.clone()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            _ => Vec::new(),
        };
        for resource in resources {
            let name = match resource.split_once(":repository/") {
                Some((_, name)) => name.to_string(),
                None => resource,
            };
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    if names.is_empty() { "-".to_string() } else { names.join(",") }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn scope_summaries() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:BatchGetImage"],
            "Resource":["arn:aws:ecr:us-east-1:000000000000:repository/team/app","arn:aws:ecr:us-east-1:000000000000:repository/base/*"]}]}"#;
        assert_eq!(scope_repositories(Some(&json!(doc))), "team/app,base/*");
        let obj = json!({"Statement": {"Resource": "arn:aws:ecr:r:1:repository/x"}});
        assert_eq!(scope_repositories(Some(&obj)), "x");
        assert_eq!(scope_repositories(None), "-");
        assert_eq!(scope_repositories(Some(&json!("not json"))), "not json");
    }

    #[test]
    fn token_table() {
        let r = json!({"robotTokens": [{"tokenId": "rt1", "name": "ci", "owner": "alice", "expiresAt": 86400,
            "createdAt": 0, "scope": {"Statement": [{"Resource": "arn:aws:ecr:r:1:repository/team/app"}]}}]});
        assert_eq!(
            table(&r).render(),
            "ID   NAME  OWNER  REPOSITORIES  EXPIRES               CREATED\n\
             rt1  ci    alice  team/app      1970-01-02T00:00:00Z  1970-01-01T00:00:00Z\n"
        );
    }
}
