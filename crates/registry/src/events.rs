//! Registry events: what happened, as typed values, published by the use cases once the change they
//! describe has committed ([`Registry::publish`]). Webhook subscriptions ([`crate::webhooks`]) are what
//! listens to them.

use std::collections::BTreeMap;

use berth_oci::Digest;
use serde::{Deserialize, Serialize};

/// Why an image went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeleteCause {
    /// A client asked (`/v2` DELETE, `BatchDeleteImage`, the console).
    Request,
    /// The repository's lifecycle policy expired it.
    Lifecycle,
}

/// One thing that happened in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A manifest was pushed (tags: the tags the push pointed at it, possibly none).
    ImagePushed {
        repository: String,
        digest: Digest,
        media_type: String,
        tags: Vec<String>,
    },
    /// A push moved `tag` from the image `from` to the image `to`.
    TagMoved {
        repository: String,
        tag: String,
        from: Digest,
        to: Digest,
    },
    /// A tag was removed from an image that stays (a `/v2` DELETE by tag, `BatchDeleteImage` of a tag that is
    /// not the image's last).
    TagDeleted {
        repository: String,
        tag: String,
        digest: Digest,
    },
    /// An image (manifest and its tags) was deleted, by a request or by a lifecycle policy.
    ImageDeleted {
        repository: String,
        digest: Digest,
        tags: Vec<String>,
        cause: DeleteCause,
    },
    RepositoryCreated {
        repository: String,
    },
    RepositoryDeleted {
        repository: String,
    },
    /// A scan ended: `status` `COMPLETE` (with the findings counted by severity) or `FAILED`.
    ScanCompleted {
        repository: String,
        digest: Digest,
        tags: Vec<String>,
        status: String,
        severity_counts: BTreeMap<String, u64>,
    },
    /// A push was refused by a storage quota (one event per refusal).
    QuotaExceeded {
        repository: String,
        message: String,
    },
    /// An image was pulled (only when pull events are on: every pull, or a sample).
    ImagePulled {
        repository: String,
        digest: Digest,
        principal: Option<String>,
    },
    /// Sent on request to one subscription, to try it (`berth webhook test`).
    Test {
        message: String,
    },
}

/// Every event name a subscription may ask for, as `--events` takes them.
pub const EVENT_NAMES: &[&str] = &[
    "image.push",
    "tag.move",
    "tag.delete",
    "image.delete",
    "image.expire",
    "repository.create",
    "repository.delete",
    "scan.complete",
    "quota.exceeded",
    "image.pull",
];

impl Event {
    /// The event's name (`image.push`, ...); a subscription's filter lists names, and the CloudEvents
    /// `type` is `io.berth.` followed by it.
    pub fn name(&self) -> &'static str {
        match self {
            Event::ImagePushed { .. } => "image.push",
            Event::TagMoved { .. } => "tag.move",
            Event::TagDeleted { .. } => "tag.delete",
            Event::ImageDeleted { cause: DeleteCause::Request, .. } => "image.delete",
            Event::ImageDeleted { cause: DeleteCause::Lifecycle, .. } => "image.expire",
            Event::RepositoryCreated { .. } => "repository.create",
            Event::RepositoryDeleted { .. } => "repository.delete",
            Event::ScanCompleted { .. } => "scan.complete",
            Event::QuotaExceeded { .. } => "quota.exceeded",
            Event::ImagePulled { .. } => "image.pull",
            Event::Test { .. } => "webhook.test",
        }
    }

    /// The repository it is about (`None` for a test event).
    pub fn repository(&self) -> Option<&str> {
        match self {
            Event::ImagePushed { repository, .. }
            | Event::TagMoved { repository, .. }
            | Event::TagDeleted { repository, .. }
            | Event::ImageDeleted { repository, .. }
            | Event::RepositoryCreated { repository }
            | Event::RepositoryDeleted { repository }
            | Event::ScanCompleted { repository, .. }
            | Event::QuotaExceeded { repository, .. }
            | Event::ImagePulled { repository, .. } => Some(repository.as_str()),
            Event::Test { .. } => None,
        }
    }
}
