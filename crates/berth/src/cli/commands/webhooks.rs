//! `berth webhook create|list|delete|enable|test|deliveries`.

use clap::Subcommand;
use serde_json::{Value, json};

use crate::cli::CliError;
use crate::cli::client::Client;
use crate::cli::output::{self, Table};

#[derive(Subcommand, Debug)]
pub enum WebhookCommand {
    /// Send registry events to a URL, signed: `berth webhook create --url https://ci.example/hook --events
    /// image.push,scan.complete --repository 'team-a/*' --secret-stdin`.
    Create {
        /// Where to POST events (https; http and private addresses only when the server allows them).
        #[arg(long)]
        url: String,
        /// Comma-separated: image.push, tag.move, tag.delete, image.delete, image.expire, repository.create,
        /// repository.delete, scan.complete, quota.exceeded, image.pull.
        #[arg(long, value_delimiter = ',', required = true)]
        events: Vec<String>,
        /// Repositories whose events are sent, as a glob (`*` matches any characters) [default: every one].
        #[arg(long)]
        repository: Option<String>,
        /// Read the signing secret (at least 16 characters) from the first line of stdin; otherwise berth
        /// generates one and prints it once.
        #[arg(long)]
        secret_stdin: bool,
        /// Print the API's JSON response.
        #[arg(long)]
        json: bool,
    },
    /// List subscriptions with their state (a disabled one says why).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a subscription, its pending deliveries and its delivery log.
    Delete { id: i64 },
    /// Enable a subscription again (after it was disabled for failing).
    Enable { id: i64 },
    /// Send a test event to a subscription now.
    Test { id: i64 },
    /// A subscription's delivery attempts, newest first: time, event, attempt, status or error, duration.
    Deliveries {
        id: i64,
        /// At most this many [default: 100].
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(client: &Client, command: WebhookCommand) -> Result<(), CliError> {
    match command {
        WebhookCommand::Create { url, events, repository, secret_stdin, json } => {
            let mut body = json!({ "url": url, "events": events });
            if let Some(r) = repository {
                body["repositoryFilter"] = json!(r);
            }
            if secret_stdin {
                body["secret"] = json!(super::stdin_line("webhook secret")?);
            }
            let response = client.call("CreateWebhook", body).await?;
            if json {
                output::print_json(&response);
                return Ok(());
            }
            let id = output::text(response.pointer("/webhook/webhookId"));
            println!("webhook {id} created");
            if let Some(secret) = response.get("secret").and_then(Value::as_str) {
                println!("signing secret (shown once): {secret}");
            }
        }
        WebhookCommand::List { json } => {
            let response = client.call("ListWebhooks", json!({})).await?;
            if json {
                output::print_json(&response);
            } else {
                list_table(&response).print();
            }
        }
        WebhookCommand::Delete { id } => {
            client.call("DeleteWebhook", json!({ "webhookId": id })).await?;
            println!("webhook {id} deleted");
        }
        WebhookCommand::Enable { id } => {
            client.call("EnableWebhook", json!({ "webhookId": id })).await?;
            println!("webhook {id} enabled");
        }
        WebhookCommand::Test { id } => {
            let response = client.call("TestWebhook", json!({ "webhookId": id })).await?;
            let job = output::text(response.get("jobId"));
            println!("test event queued for webhook {id} (job {job}); see `berth webhook deliveries {id}`");
        }
        WebhookCommand::Deliveries { id, limit, json } => {
            let mut body = json!({ "webhookId": id });
            if let Some(n) = limit {
                body["maxResults"] = json!(n);
            }
            let response = client.call("ListWebhookDeliveries", body).await?;
            if json {
                output::print_json(&response);
            } else {
                deliveries_table(&response).print();
            }
        }
    }
    Ok(())
}

fn list_table(response: &Value) -> Table {
    let mut t = Table::new(&["ID", "STATE", "URL", "EVENTS", "REPOSITORY", "FAILURES", "REASON"]);
    for w in output::items(response, "webhooks") {
        t.row(vec![
            output::text(w.get("webhookId")),
            output::text(w.get("state")),
            output::text(w.get("url")),
            output::list(w.get("events")),
            output::text(w.get("repositoryFilter")),
            output::text(w.get("consecutiveFailures")),
            output::text(w.get("disabledReason")),
        ]);
    }
    t
}

fn deliveries_table(response: &Value) -> Table {
    let mut t = Table::new(&["TIME", "EVENT", "TYPE", "ATTEMPT", "STATUS", "DURATION", "ERROR"]);
    for d in output::items(response, "deliveries") {
        t.row(vec![
            output::time(d.get("at")),
            output::text(d.get("eventId")),
            output::text(d.get("eventType")),
            output::text(d.get("attempt")),
            output::text(d.get("statusCode")),
            format!("{}ms", output::text(d.get("durationMs"))),
            output::text(d.get("error")),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn tables() {
        let r = json!({"webhooks": [
            {"webhookId": 1, "state": "DISABLED", "url": "https://h.example/x", "events": ["image.push", "scan.complete"],
             "repositoryFilter": "team-a/*", "consecutiveFailures": 5, "disabledReason": "failing"},
        ]});
        assert_eq!(
            super::list_table(&r).render(),
            "ID  STATE     URL                  EVENTS                    REPOSITORY  FAILURES  REASON\n\
             1   DISABLED  https://h.example/x  image.push,scan.complete  team-a/*    5         failing\n"
        );
        let d = json!({"deliveries": [
            {"at": 0, "eventId": "e", "eventType": "image.push", "attempt": 2, "durationMs": 7, "error": "HTTP 500 Internal Server Error", "statusCode": 500},
        ]});
        let rendered = super::deliveries_table(&d).render();
        assert!(rendered.contains("1970-01-01T00:00:00Z  e      image.push  2        500     7ms"), "{rendered}");
    }
}
