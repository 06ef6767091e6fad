//! `ListImages`.

use berth_identity::Resource;
use berth_meta::settings::{ImageId, TagStatus};
use serde_json::{Value, json};

use super::Ctx;
use super::errors::EcrError;
use super::input::{Input, decode_token, encode_token};

/// ListImages' page size when the client sends no `maxResults` (as ECR).
const DEFAULT_PAGE: u32 = 100;

/// A page position: the digest, and the tag after a newline for a tagged entry.
fn token_of(id: &ImageId) -> String {
    match &id.tag {
        Some(t) => encode_token(&format!("{}\n{t}", id.digest)),
        None => encode_token(&id.digest.to_string()),
    }
}

fn position_of(token: &str) -> Result<ImageId, EcrError> {
    let text = decode_token(token)?;
    let bad = || EcrError::invalid("Invalid parameter at 'nextToken': not a token this registry issued");
    let (digest, tag) = match text.split_once('\n') {
        Some((d, t)) => (d, Some(t.parse().map_err(|_| bad())?)),
        None => (text.as_str(), None),
    };
    Ok(ImageId { digest: digest.parse().map_err(|_| bad())?, tag })
}

pub async fn list(ctx: &Ctx<'_>, input: &Input<'_>) -> Result<Value, EcrError> {
    input.check_registry_id(ctx.registry_id())?;
    let name = input.repository_name("repositoryName")?;
    let want = input.max_results()?.unwrap_or(DEFAULT_PAGE);
    let after = input.opt_str("nextToken")?.map(position_of).transpose()?;
    let (status, archived_only) = match input.opt_object("filter")? {
        Some(f) => {
            let status = match f.opt_enum("tagStatus", &["TAGGED", "UNTAGGED", "ANY"])? {
                Some("TAGGED") => TagStatus::Tagged,
                Some("UNTAGGED") => TagStatus::Untagged,
                _ => TagStatus::Any,
            };
            // Every image berth holds is active: asking for archived (or activating) ones finds none.
            let image_status = f.opt_enum("imageStatus", &["ACTIVE", "ARCHIVED", "ACTIVATING", "ANY"])?;
            (status, matches!(image_status, Some("ARCHIVED" | "ACTIVATING")))
        }
        None => (TagStatus::Any, false),
    };
    ctx.authorize("ListImages", &Resource::Repository(&name)).await?;
    let page = ctx
        .app
        .registry
        .list_images(&name, status, after.as_ref(), want)
        .await
        .map_err(|e| EcrError::from_registry(e, name.as_str(), ctx.registry_id()))?;
    if archived_only {
        return Ok(json!({"imageIds": []}));
    }
    let ids: Vec<Value> = page
        .entries
        .iter()
        .map(|id| match &id.tag {
            Some(t) => json!({"imageDigest": id.digest.to_string(), "imageTag": t.as_str()}),
            None => json!({"imageDigest": id.digest.to_string()}),
        })
        .collect();
    let mut out = json!({"imageIds": ids});
    if page.more
        && let Some(last) = page.entries.last()
    {
        out["nextToken"] = json!(token_of(last));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_digest_and_tag() {
        let digest = berth_oci::Digest::sha256_of(b"x");
        for tag in [None, Some("v1.0".parse().unwrap())] {
            let id = ImageId { digest: digest.clone(), tag };
            assert_eq!(position_of(&token_of(&id)).unwrap(), id);
        }
        assert!(position_of(&encode_token("team/app")).is_err(), "a repository token is no image token");
        assert!(position_of(&encode_token(&format!("{digest}\nbad tag"))).is_err());
    }
}
