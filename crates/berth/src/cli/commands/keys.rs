//! `berth key create|list|delete|deactivate|activate`.

use serde_json::{Value, json};

use crate::cli::client::Client;
use crate::cli::output::{self, Table};
use crate::cli::{CliError, KeyCommand};

pub async fn run(client: &Client, command: KeyCommand) -> Result<(), CliError> {
    match command {
        KeyCommand::Create { user, json } => {
            let body = match user {
                Some(user) => json!({ "userName": user }),
                None => json!({}),
            };
            let response = client.call("CreateAccessKey", body).await?;
            let field = |name: &str| {
                response
                    .get(name)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| CliError::Failed(format!("CreateAccessKey: the response has no {name}")))
            };
            let (id, secret) = (field("accessKeyId")?, field("secretAccessKey")?);
            if json {
                println!("{}", key_json(&id, &secret));
            } else {
                println!("access key id:     {id}");
                println!("secret access key: {secret}");
                println!("user:              {}", output::text(response.get("userName")));
                eprintln!("Store the secret access key now: it cannot be shown again.");
            }
        }
        KeyCommand::List { user, json } => {
            let body = match user {
                Some(user) => json!({ "userName": user }),
                None => json!({}),
            };
            let response = client.call("ListAccessKeys", body).await?;
            if json {
                output::print_json(&response);
            } else {
                table(&response).print();
            }
        }
        KeyCommand::Delete { id } => {
            client.call("DeleteAccessKey", json!({ "accessKeyId": id })).await?;
            println!("deleted access key {id}");
        }
        KeyCommand::Deactivate { id } => {
            client.call("UpdateAccessKey", json!({ "accessKeyId": id, "status": "Inactive" })).await?;
            println!("deactivated access key {id}");
        }
        KeyCommand::Activate { id } => {
            client.call("UpdateAccessKey", json!({ "accessKeyId": id, "status": "Active" })).await?;
            println!("activated access key {id}");
        }
    }
    Ok(())
}

/// Exactly `{"accessKeyId": "...", "secretAccessKey": "..."}`.
fn key_json(id: &str, secret: &str) -> String {
    format!("{{\"accessKeyId\": {}, \"secretAccessKey\": {}}}", Value::from(id), Value::from(secret))
}

fn table(response: &Value) -> Table {
    let mut t = Table::new(&["ACCESS KEY ID", "USER", "STATUS", "CREATED", "LAST USED"]);
    for k in output::items(response, "accessKeys") {
        t.row(vec![
            output::text(k.get("accessKeyId")),
            output::text(k.get("userName")),
            output::text(k.get("status")),
            output::time(k.get("createdAt")),
            output::time(k.get("lastUsedAt")),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    #[test]
    fn key_json_is_exactly_the_two_fields() {
        let text = super::key_json("BKIA1", "a/b+\"c");
        assert_eq!(text, r#"{"accessKeyId": "BKIA1", "secretAccessKey": "a/b+\"c"}"#);
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed, json!({"accessKeyId": "BKIA1", "secretAccessKey": "a/b+\"c"}));
    }

    #[test]
    fn key_table() {
        let r = json!({"accessKeys": [
            {"accessKeyId": "BKIA1", "userName": "ci", "status": "Active", "createdAt": 0, "lastUsedAt": 60},
            {"accessKeyId": "BKIA22", "userName": "admin", "status": "Inactive", "createdAt": 0},
        ]});
        assert_eq!(
            super::table(&r).render(),
            "ACCESS KEY ID  USER   STATUS    CREATED               LAST USED\n\
             BKIA1          ci     Active    1970-01-01T00:00:00Z  1970-01-01T00:01:00Z\n\
             BKIA22         admin  Inactive  1970-01-01T00:00:00Z  -\n"
        );
    }
}
