//! `berth quota set|list|delete`.

use serde_json::{Value, json};

use crate::cli::client::Client;
use crate::cli::output::{self, Table};
use crate::cli::size::human;
use crate::cli::{CliError, QuotaCommand};

pub async fn run(client: &Client, command: QuotaCommand) -> Result<(), CliError> {
    match command {
        QuotaCommand::Set { prefix, limit } => {
            client.call("PutQuota", json!({ "prefix": prefix, "limitBytes": limit })).await?;
            println!("quota on {prefix}: {} ({limit} bytes)", human(limit));
        }
        QuotaCommand::List { json } => {
            let response = client.call("ListQuotas", json!({})).await?;
            if json {
                output::print_json(&response);
            } else {
                table(&response).print();
            }
        }
        QuotaCommand::Delete { prefix } => {
            client.call("DeleteQuota", json!({ "prefix": prefix })).await?;
            println!("quota on {prefix} removed");
        }
    }
    Ok(())
}

fn bytes(v: Option<&Value>) -> u64 {
    v.and_then(Value::as_u64).unwrap_or(0)
}

fn table(response: &Value) -> Table {
    let mut t = Table::new(&["PREFIX", "LIMIT", "USED", "USED %", "REPOSITORIES"]);
    for q in output::items(response, "quotas") {
        let (limit, used) = (bytes(q.get("limitBytes")), bytes(q.get("usedBytes")));
        let percent = if limit == 0 { "-".to_string() } else { format!("{:.0}%", used as f64 * 100.0 / limit as f64) };
        t.row(vec![
            output::text(q.get("prefix")),
            human(limit),
            human(used),
            percent,
            output::text(q.get("repositories")),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn quota_table() {
        let r = json!({"quotas": [
            {"prefix": "team-a/", "limitBytes": 53687091200u64, "usedBytes": 1073741824, "repositories": 2, "updatedAt": 0},
            {"prefix": "team-a/app", "limitBytes": 0, "usedBytes": 0, "repositories": 0, "updatedAt": 0},
        ]});
        assert_eq!(
            super::table(&r).render(),
            "PREFIX      LIMIT     USED     USED %  REPOSITORIES\n\
             team-a/     50.0 GiB  1.0 GiB  2%      2\n\
             team-a/app  0 B       0 B      -       0\n"
        );
    }
}
