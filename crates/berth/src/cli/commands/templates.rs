//! `berth templates list|show`, over the ECR-compatible API (`DescribeRepositoryCreationTemplates`).

use serde_json::{Value, json};

use crate::cli::client::Client;
use crate::cli::output::{self, Table};
use crate::cli::{CliError, TemplatesCommand};

pub async fn run(client: &Client, command: TemplatesCommand) -> Result<(), CliError> {
    match command {
        TemplatesCommand::List { json } => {
            let mut all = Vec::new();
            let mut next: Option<String> = None;
            loop {
                let mut body = json!({"maxResults": 1000});
                if let Some(t) = &next {
                    body["nextToken"] = json!(t);
                }
                let page = client.call_ecr("DescribeRepositoryCreationTemplates", body).await?;
                all.extend(page["repositoryCreationTemplates"].as_array().cloned().unwrap_or_default());
                next = page.get("nextToken").and_then(Value::as_str).map(str::to_string);
                if next.is_none() {
                    break;
                }
            }
            if json {
                output::print_json(&json!({"repositoryCreationTemplates": all}));
            } else {
                let mut t =
                    Table::new(&["PREFIX", "APPLIED FOR", "MUTABILITY", "POLICY", "LIFECYCLE", "TAGS", "DESCRIPTION"]);
                for tpl in &all {
                    t.row(vec![
                        output::text(tpl.get("prefix")),
                        output::list(tpl.get("appliedFor")),
                        output::text(tpl.get("imageTagMutability")),
                        output::yes_no(Some(&json!(tpl.get("repositoryPolicy").is_some()))),
                        output::yes_no(Some(&json!(tpl.get("lifecyclePolicy").is_some()))),
                        tags(tpl),
                        output::text(tpl.get("description")),
                    ]);
                }
                t.print();
            }
        }
        TemplatesCommand::Show { prefix, json } => {
            let page = client.call_ecr("DescribeRepositoryCreationTemplates", json!({"prefixes": [prefix]})).await?;
            let Some(tpl) = page["repositoryCreationTemplates"].as_array().and_then(|a| a.first()).cloned() else {
                return Err(CliError::Failed(format!("no repository creation template has prefix {prefix}")));
            };
            if json {
                output::print_json(&tpl);
            } else {
                print!("{}", details(&tpl));
            }
        }
    }
    Ok(())
}

/// `key=value, ...`, or `-`.
fn tags(tpl: &Value) -> String {
    let tags: Vec<String> = tpl["resourceTags"]
        .as_array()
        .map(|a| a.iter().map(|t| format!("{}={}", output::text(t.get("Key")), output::text(t.get("Value")))).collect())
        .unwrap_or_default();
    if tags.is_empty() { "-".into() } else { tags.join(", ") }
}

fn details(tpl: &Value) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<22}{v}\n"));
    line("prefix", output::text(tpl.get("prefix")));
    line("description", output::text(tpl.get("description")));
    line("applied for", output::list(tpl.get("appliedFor")));
    line("tag mutability", output::text(tpl.get("imageTagMutability")));
    let filters: Vec<String> = tpl["imageTagMutabilityExclusionFilters"]
        .as_array()
        .map(|a| a.iter().map(|f| output::text(f.get("filter"))).collect())
        .unwrap_or_default();
    if !filters.is_empty() {
        line("exclusion filters", filters.join(", "));
    }
    line("resource tags", tags(tpl));
    line("custom role", output::text(tpl.get("customRoleArn")));
    line("created", output::time(tpl.get("createdAt")));
    line("updated", output::time(tpl.get("updatedAt")));
    for (key, title) in [("repositoryPolicy", "repository policy"), ("lifecyclePolicy", "lifecycle policy")] {
        match tpl.get(key).and_then(Value::as_str) {
            Some(text) => {
                let pretty = serde_json::from_str::<Value>(text)
                    .ok()
                    .and_then(|v| serde_json::to_string_pretty(&v).ok())
                    .unwrap_or_else(|| text.to_string());
                out.push_str(&format!("{title}:\n{pretty}\n"));
            }
            None => out.push_str(&format!("{title:<22}-\n")),
        }
    }
    out
}
