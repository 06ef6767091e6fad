//! What a receiver gets: a CloudEvents 1.0 structured-mode JSON document whose `data` is the Amazon
//! EventBridge event ECR would send for the same change (`ECR Image Action`, `ECR Image Scan`, with AWS's
//! field names in `detail`), so tooling written for ECR events reads it. Changes ECR has no event for get a
//! berth `detail-type` and source `berth` with a detail in the same style.

use berth_identity::Account;
use berth_registry::events::{DeleteCause, Event};
use berth_registry::webhooks::Delivery;
use serde_json::{Value, json};

/// The CloudEvents `type` of an event: `io.berth.image.push`, ...
pub fn cloudevent_type(event: &Event) -> String {
    format!("io.berth.{}", event.name())
}

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// The EventBridge `detail-type`, `source` and `detail` of an event.
fn eventbridge(event: &Event) -> (&'static str, &'static str, Value) {
    match event {
        Event::ImagePushed { repository, digest, tags, media_type } => {
            let mut detail = json!({
                "result": "SUCCESS",
                "repository-name": repository,
                "image-digest": digest.to_string(),
                "action-type": "PUSH",
                "manifest-media-type": media_type,
            });
            // ECR sends one event per tag pushed; berth sends one per push, naming the first tag there and
            // every tag in `image-tags`.
            if let Some(tag) = tags.first() {
                detail["image-tag"] = json!(tag);
            }
            detail["image-tags"] = json!(tags);
            ("ECR Image Action", "aws.ecr", detail)
        }
        Event::ImageDeleted { repository, digest, tags, cause } => {
            let cause = match cause {
                DeleteCause::Request => "REQUEST",
                DeleteCause::Lifecycle => "LIFECYCLE",
            };
            let mut detail = json!({
                "result": "SUCCESS",
                "repository-name": repository,
                "image-digest": digest.to_string(),
                "action-type": "DELETE",
                "image-tags": tags,
                "berth-cause": cause,
            });
            if let Some(tag) = tags.first() {
                detail["image-tag"] = json!(tag);
            }
            ("ECR Image Action", "aws.ecr", detail)
        }
        // ECR sends an image action DELETE for a tag removed by BatchDeleteImage; `berth-cause` tells that the
        // image itself stays.
        Event::TagDeleted { repository, tag, digest } => (
            "ECR Image Action",
            "aws.ecr",
            json!({
                "result": "SUCCESS",
                "repository-name": repository,
                "image-digest": digest.to_string(),
                "action-type": "DELETE",
                "image-tag": tag,
                "image-tags": [tag],
                "berth-cause": "UNTAG",
            }),
        ),
        Event::ScanCompleted { repository, digest, tags, status, severity_counts } => (
            "ECR Image Scan",
            "aws.ecr",
            json!({
                "scan-status": status,
                "repository-name": repository,
                "finding-severity-counts": severity_counts,
                "image-digest": digest.to_string(),
                "image-tags": tags,
            }),
        ),
        Event::TagMoved { repository, tag, from, to } => (
            "Berth Tag Moved",
            "berth",
            json!({
                "repository-name": repository,
                "image-tag": tag,
                "previous-image-digest": from.to_string(),
                "image-digest": to.to_string(),
            }),
        ),
        Event::RepositoryCreated { repository } => (
            "Berth Repository Action",
            "berth",
            json!({"result": "SUCCESS", "repository-name": repository, "action-type": "CREATE"}),
        ),
        Event::RepositoryDeleted { repository } => (
            "Berth Repository Action",
            "berth",
            json!({"result": "SUCCESS", "repository-name": repository, "action-type": "DELETE"}),
        ),
        Event::QuotaExceeded { repository, message } => {
            ("Berth Quota Exceeded", "berth", json!({"repository-name": repository, "message": message}))
        }
        Event::ImagePulled { repository, digest, principal } => (
            "Berth Image Pull",
            "berth",
            json!({
                "result": "SUCCESS",
                "repository-name": repository,
                "image-digest": digest.to_string(),
                "action-type": "PULL",
                "principal": principal,
            }),
        ),
        Event::Test { message } => ("Berth Webhook Test", "berth", json!({"message": message})),
    }
}

/// The body sent for `delivery`: the same bytes on every attempt.
/// The CloudEvents `source` is the registry's ARN (a URI).
pub fn render(delivery: &Delivery, account: &Account) -> Vec<u8> {
    let event = &delivery.event;
    let time = rfc3339(delivery.time);
    let (detail_type, source, detail) = eventbridge(event);
    let resources: Vec<String> = match event.repository().and_then(|r| r.parse().ok()) {
        Some(repo) => vec![account.repository_arn(&repo)],
        None => Vec::new(),
    };
    let data = json!({
        "version": "0",
        "id": delivery.event_id,
        "detail-type": detail_type,
        "source": source,
        "account": account.id,
        "time": time,
        "region": account.region,
        "resources": resources,
        "detail": detail,
    });
    let mut cloudevent = json!({
        "specversion": "1.0",
        "id": delivery.event_id,
        "source": account.registry_arn(),
        "type": cloudevent_type(event),
        "time": time,
        "datacontenttype": "application/json",
        "data": data,
    });
    if let Some(repo) = event.repository() {
        cloudevent["subject"] = json!(repo);
    }
    serde_json::to_vec(&cloudevent).expect("serialises")
}

#[cfg(test)]
mod tests {
    use berth_oci::Digest;

    use super::*;

    fn account() -> Account {
        Account { id: "123456789012".into(), region: "us-east-1".into() }
    }

    fn rendered(event: Event) -> Value {
        let d = Delivery { webhook_id: 1, event_id: "e-1".into(), time: 1_700_000_000, event };
        serde_json::from_slice(&render(&d, &account())).unwrap()
    }

    #[test]
    fn a_push_is_an_ecr_image_action_in_a_cloudevent() {
        let digest = Digest::sha256_of(b"m");
        let v = rendered(Event::ImagePushed {
            repository: "team-a/app".into(),
            digest: digest.clone(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            tags: vec!["v1".into()],
        });
        assert_eq!(v["specversion"], "1.0");
        assert_eq!(v["type"], "io.berth.image.push");
        assert_eq!(v["subject"], "team-a/app");
        assert_eq!(v["id"], "e-1");
        assert_eq!(v["source"], "arn:aws:ecr:us-east-1:123456789012:registry");
        assert_eq!(v["time"], "2023-11-14T22:13:20Z");
        assert_eq!(v["datacontenttype"], "application/json");
        let data = &v["data"];
        assert_eq!(data["detail-type"], "ECR Image Action");
        assert_eq!(data["source"], "aws.ecr");
        assert_eq!(data["account"], "123456789012");
        assert_eq!(data["region"], "us-east-1");
        assert_eq!(data["resources"][0], "arn:aws:ecr:us-east-1:123456789012:repository/team-a/app");
        assert_eq!(data["detail"]["action-type"], "PUSH");
        assert_eq!(data["detail"]["result"], "SUCCESS");
        assert_eq!(data["detail"]["repository-name"], "team-a/app");
        assert_eq!(data["detail"]["image-digest"], digest.to_string());
        assert_eq!(data["detail"]["image-tag"], "v1");
    }

    #[test]
    fn a_scan_is_an_ecr_image_scan() {
        let v = rendered(Event::ScanCompleted {
            repository: "r".into(),
            digest: Digest::sha256_of(b"m"),
            tags: vec!["latest".into()],
            status: "COMPLETE".into(),
            severity_counts: [("HIGH".to_string(), 2u64)].into_iter().collect(),
        });
        assert_eq!(v["type"], "io.berth.scan.complete");
        assert_eq!(v["data"]["detail-type"], "ECR Image Scan");
        assert_eq!(v["data"]["detail"]["scan-status"], "COMPLETE");
        assert_eq!(v["data"]["detail"]["finding-severity-counts"]["HIGH"], 2);
        assert_eq!(v["data"]["detail"]["image-tags"][0], "latest");
    }

    #[test]
    fn an_expiry_is_a_delete_with_its_cause() {
        let v = rendered(Event::ImageDeleted {
            repository: "r".into(),
            digest: Digest::sha256_of(b"m"),
            tags: vec![],
            cause: DeleteCause::Lifecycle,
        });
        assert_eq!(v["type"], "io.berth.image.expire");
        assert_eq!(v["data"]["detail"]["action-type"], "DELETE");
        assert_eq!(v["data"]["detail"]["berth-cause"], "LIFECYCLE");
        assert!(v["data"]["detail"].get("image-tag").is_none());
        let test = rendered(Event::Test { message: "hi".into() });
        assert!(test.get("subject").is_none());
        assert_eq!(test["data"]["resources"], json!([]));
    }
}
