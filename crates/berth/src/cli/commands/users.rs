//! `berth user create|list|delete`.

use serde_json::{Value, json};

use crate::cli::client::Client;
use crate::cli::output::{self, Table};
use crate::cli::{CliError, UserCommand};

pub async fn run(client: &Client, command: UserCommand) -> Result<(), CliError> {
    match command {
        UserCommand::Create { name, admin, password_stdin } => {
            let mut body = json!({ "userName": name });
            if admin {
                body["admin"] = Value::Bool(true);
            }
            if password_stdin {
                body["password"] = Value::String(super::stdin_line("password")?);
            }
            let response = client.call("CreateUser", body).await?;
            let arn = response.pointer("/user/arn").and_then(Value::as_str).unwrap_or(&name);
            println!("created {}user {name} ({arn})", if admin { "admin " } else { "" });
        }
        UserCommand::List { json } => {
            let response = client.call("ListUsers", json!({})).await?;
            if json {
                output::print_json(&response);
            } else {
                table(&response).print();
            }
        }
        UserCommand::Delete { name } => {
            client.call("DeleteUser", json!({ "userName": name })).await?;
            println!("deleted user {name}");
        }
    }
    Ok(())
}

fn table(response: &Value) -> Table {
    let mut t = Table::new(&["NAME", "ADMIN", "GROUPS", "CREATED"]);
    for u in output::items(response, "users") {
        t.row(vec![
            output::text(u.get("userName")),
            output::yes_no(u.get("admin")),
            output::list(u.get("groups")),
            output::time(u.get("createdAt")),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn user_table() {
        let r = json!({"users": [
            {"userName": "admin", "admin": true, "createdAt": 0, "groups": [], "arn": "arn:x"},
            {"userName": "ci", "admin": false, "createdAt": 86400, "groups": ["builders", "readers"], "arn": "arn:y"},
        ]});
        assert_eq!(
            super::table(&r).render(),
            "NAME   ADMIN  GROUPS            CREATED\n\
             admin  yes    -                 1970-01-01T00:00:00Z\n\
             ci     no     builders,readers  1970-01-02T00:00:00Z\n"
        );
    }
}
