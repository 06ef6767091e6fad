//! `berth audit list`.

use serde_json::{Value, json};

use crate::cli::client::Client;
use crate::cli::output::{self, Table};
use crate::cli::{AuditCommand, CliError};

pub async fn run(client: &Client, command: AuditCommand) -> Result<(), CliError> {
    match command {
        AuditCommand::List { after, limit, json } => {
            let mut body = json!({});
            if let Some(after) = after {
                body["after"] = json!(after);
            }
            if let Some(limit) = limit {
                body["limit"] = json!(limit);
            }
            let response = client.call("ListAuditEvents", body).await?;
            if json {
                output::print_json(&response);
            } else {
                table(&response).print();
                if let Some(next) = response.get("nextAfter").filter(|v| !v.is_null()) {
                    eprintln!("more events: berth audit list --after {}", output::text(Some(next)));
                }
            }
        }
    }
    Ok(())
}

fn table(response: &Value) -> Table {
    let mut t =
        Table::new(&["ID", "TIME", "PRINCIPAL", "ACTION", "RESOURCE", "SOURCE IP", "OUTCOME", "STATUS", "DETAIL"]);
    for e in output::items(response, "events") {
        t.row(vec![
            output::text(e.get("id")),
            output::time(e.get("at")),
            output::text(e.get("principal")),
            output::text(e.get("action")),
            output::text(e.get("resource")),
            output::text(e.get("sourceIp")),
            output::text(e.get("outcome")),
            output::text(e.get("status")),
            output::text(e.get("detail")),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn audit_table() {
        let r = json!({"events": [
            {"id": 7, "at": 0, "principal": "user/alice", "action": "berth:CreateUser", "resource": "arn:u/bob",
             "sourceIp": "10.0.0.1", "outcome": "allowed", "status": 200},
            {"id": 8, "at": 1, "principal": "anonymous", "action": "login", "resource": "*",
             "sourceIp": "10.0.0.2", "outcome": "auth-failed", "status": 401, "detail": "bad password"},
        ], "nextAfter": 8});
        assert_eq!(
            super::table(&r).render(),
            "ID  TIME                  PRINCIPAL   ACTION            RESOURCE   SOURCE IP  OUTCOME      STATUS  DETAIL\n\
             7   1970-01-01T00:00:00Z  user/alice  berth:CreateUser  arn:u/bob  10.0.0.1   allowed      200     -\n\
             8   1970-01-01T00:00:01Z  anonymous   login             *          10.0.0.2   auth-failed  401     bad password\n"
        );
    }
}
