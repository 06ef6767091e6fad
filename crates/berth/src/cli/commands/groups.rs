//! `berth group create|delete|list|add-user|remove-user`.

use serde_json::{Value, json};

use crate::cli::client::Client;
use crate::cli::output::{self, Table};
use crate::cli::{CliError, GroupCommand};

pub async fn run(client: &Client, command: GroupCommand) -> Result<(), CliError> {
    match command {
        GroupCommand::Create { name } => {
            client.call("CreateGroup", json!({ "groupName": name })).await?;
            println!("created group {name}");
        }
        GroupCommand::Delete { name } => {
            client.call("DeleteGroup", json!({ "groupName": name })).await?;
            println!("deleted group {name}");
        }
        GroupCommand::List { json } => {
            let response = client.call("ListGroups", json!({})).await?;
            if json {
                output::print_json(&response);
            } else {
                table(&response).print();
            }
        }
        GroupCommand::AddUser { group, user } => {
            client.call("AddUserToGroup", json!({ "groupName": group, "userName": user })).await?;
            println!("added {user} to group {group}");
        }
        GroupCommand::RemoveUser { group, user } => {
            client.call("RemoveUserFromGroup", json!({ "groupName": group, "userName": user })).await?;
            println!("removed {user} from group {group}");
        }
    }
    Ok(())
}

fn table(response: &Value) -> Table {
    let mut t = Table::new(&["GROUP", "MEMBERS"]);
    for g in output::items(response, "groups") {
        t.row(vec![output::text(g.get("groupName")), output::list(g.get("members"))]);
    }
    t
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn group_table() {
        let r = json!({"groups": [{"groupName": "builders", "members": ["ci", "alice"]}, {"groupName": "x", "members": []}]});
        assert_eq!(super::table(&r).render(), "GROUP     MEMBERS\nbuilders  ci,alice\nx         -\n");
    }
}
