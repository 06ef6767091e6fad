//! `berth images deleted|restore`, `berth repo deleted|restore`: soft-deleted images and repositories.

use serde_json::{Value, json};

use crate::cli::client::Client;
use crate::cli::output::{self, Table};
use crate::cli::size::human;
use crate::cli::{CliError, ImagesCommand};

pub async fn images(client: &Client, command: ImagesCommand) -> Result<(), CliError> {
    match command {
        ImagesCommand::Deleted { repository, json } => {
            let response = client.call("ListDeletedImages", json!({ "repositoryName": repository })).await?;
            if json {
                output::print_json(&response);
            } else {
                deleted_images(output::items(&response, "images")).print();
            }
        }
        ImagesCommand::Restore { image } => {
            let Some((repository, digest)) = image.split_once('@') else {
                return Err(CliError::Usage(format!("{image:?} is not REPOSITORY@DIGEST")));
            };
            let body = json!({ "repositoryName": repository, "imageDigest": digest });
            let response = client.call("RestoreImage", body).await?;
            print!("{}", restored(&format!("{repository}@{digest}"), &response));
        }
    }
    Ok(())
}

pub async fn repositories(client: &Client, json: bool) -> Result<(), CliError> {
    let response = client.call("ListDeletedRepositories", json!({})).await?;
    if json {
        output::print_json(&response);
        return Ok(());
    }
    let mut t = Table::new(&["REPOSITORY", "IMAGES", "SIZE", "DELETED", "PURGED AFTER"]);
    for r in output::items(&response, "repositories") {
        t.row(vec![
            output::text(r.get("repositoryName")),
            output::text(r.get("images")),
            human(r.get("sizeInBytes").and_then(Value::as_u64).unwrap_or(0)),
            output::time(r.get("deletedAt")),
            output::time(r.get("purgeAfter")),
        ]);
    }
    t.print();
    Ok(())
}

pub async fn restore_repository(client: &Client, name: &str) -> Result<(), CliError> {
    let response = client.call("RestoreRepository", json!({ "repositoryName": name })).await?;
    let images = response.get("images").and_then(Value::as_u64).unwrap_or(0);
    print!("{}", restored(&format!("repository {name} ({images} image(s))"), &response));
    Ok(())
}

fn deleted_images(list: &[Value]) -> Table {
    let mut t = Table::new(&["DIGEST", "TAGS", "SIZE", "DELETED", "PURGED AFTER"]);
    for i in list {
        t.row(vec![
            output::text(i.get("imageDigest")),
            output::list(i.get("imageTags")),
            human(i.get("imageSizeInBytes").and_then(Value::as_u64).unwrap_or(0)),
            output::time(i.get("deletedAt")),
            output::time(i.get("purgeAfter")),
        ]);
    }
    t
}

/// What a restore answered, in words: the tags back, and those another image took meanwhile.
fn restored(what: &str, response: &Value) -> String {
    let strings = |key: &str| -> Vec<String> {
        output::items(response, key).iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
    };
    let (back, taken) = (strings("restoredTags"), strings("tagsTakenMeanwhile"));
    let mut out = format!("restored {what}");
    if !back.is_empty() {
        out.push_str(&format!(" with tags {}", back.join(", ")));
    }
    out.push('\n');
    for tag in taken {
        out.push_str(&format!("tag {tag} now points at another image: left as it is\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn restore_output_names_taken_tags() {
        let response = json!({"restoredTags": ["v2"], "tagsTakenMeanwhile": ["v1"]});
        assert_eq!(
            super::restored("app@sha256:ab", &response),
            "restored app@sha256:ab with tags v2\ntag v1 now points at another image: left as it is\n"
        );
        assert_eq!(super::restored("app@sha256:ab", &json!({})), "restored app@sha256:ab\n");
    }
}
