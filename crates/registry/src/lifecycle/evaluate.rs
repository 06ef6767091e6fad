//! The evaluator: a pure function from a policy, a repository's images and the time to what the policy does
//! to them. It follows ECR's documented rules ("Lifecycle policy evaluation rules"):
//! - every rule identifies the images its selection matches (tags and storage class), among all images,
//!   as if no rule had marked any;
//! - rules then apply by priority, lowest `rulePriority` first; an image is acted on by at most one rule;
//! - an image that matched the tag selection of a rule cannot be acted on by a rule of lower priority
//!   (higher `rulePriority`), even if that first rule did not mark it;
//! - `imageCountMoreThan` keeps the most recently pushed images and marks the older ones; the `since*`
//!   counts mark images older than the number of days;
//! - with several `tagPrefixList`/`tagPatternList` entries an image must match every entry, each by any
//!   one of its tags.

use std::collections::HashSet;

use berth_meta::settings::wildcard_match;
use berth_oci::Digest;

use super::policy::{Action, Count, LifecyclePolicy, Rule, StorageClass, TagSelection};

const DAY: i64 = 86_400;

/// An image as the evaluator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub digest: Digest,
    pub tags: Vec<String>,
    pub pushed_at: i64,
    /// Last recorded pull; `None` when never pulled.
    pub last_pulled_at: Option<i64>,
    pub storage_class: StorageClass,
    /// When it moved to its storage class (archived), if it ever did.
    pub transitioned_at: Option<i64>,
}

/// What the policy does to one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub digest: Digest,
    pub action: Action,
    /// The `rulePriority` of the rule that decided it.
    pub rule_priority: u32,
}

fn selects(rule: &Rule, image: &Candidate) -> bool {
    if image.storage_class != rule.storage_class {
        return false;
    }
    let tags = &image.tags;
    match &rule.tags {
        TagSelection::Any => true,
        TagSelection::Untagged => tags.is_empty(),
        TagSelection::TaggedPrefixes(prefixes) => {
            !tags.is_empty() && prefixes.iter().all(|p| tags.iter().any(|t| t.starts_with(p.as_str())))
        }
        TagSelection::TaggedPatterns(patterns) => {
            !tags.is_empty() && patterns.iter().all(|p| tags.iter().any(|t| wildcard_match(p, t)))
        }
    }
}

/// Whether `at` (a time in Unix seconds) lies more than `days` days before `now`.
fn older_than(at: i64, days: u32, now: i64) -> bool {
    now.saturating_sub(at) > i64::from(days) * DAY
}

/// The images `rule` marks among those it selects (`selected`, most recently pushed first).
fn marked<'a>(rule: &Rule, selected: &[&'a Candidate], now: i64) -> Vec<&'a Candidate> {
    match rule.count {
        Count::ImageCountMoreThan(keep) => selected.iter().skip(keep as usize).copied().collect(),
        Count::SinceImagePushed(days) => {
            selected.iter().filter(|i| older_than(i.pushed_at, days, now)).copied().collect()
        }
        Count::SinceImagePulled(days) => selected
            .iter()
            .filter(|i| older_than(i.last_pulled_at.unwrap_or(i.pushed_at).max(i.pushed_at), days, now))
            .copied()
            .collect(),
        Count::SinceImageTransitioned(days) => {
            selected.iter().filter(|i| i.transitioned_at.is_some_and(|t| older_than(t, days, now))).copied().collect()
        }
    }
}

/// What `policy` does to `images` at `now`: one verdict per image acted on, in order of rule priority,
/// then oldest push first.
pub fn evaluate(policy: &LifecyclePolicy, images: &[Candidate], now: i64) -> Vec<Verdict> {
    let mut by_push: Vec<&Candidate> = images.iter().collect();
    // Most recently pushed first; the digest breaks ties so that the outcome never depends on input order.
    by_push.sort_by(|a, b| b.pushed_at.cmp(&a.pushed_at).then_with(|| a.digest.cmp(&b.digest)));
    let mut seen: HashSet<&Digest> = HashSet::new();
    let mut verdicts = Vec::new();
    for rule in &policy.rules {
        let selected: Vec<&Candidate> = by_push.iter().copied().filter(|i| selects(rule, i)).collect();
        let mut chosen: Vec<&Candidate> =
            marked(rule, &selected, now).into_iter().filter(|i| !seen.contains(&i.digest)).collect();
        chosen.reverse();
        verdicts.extend(chosen.into_iter().map(|i| Verdict {
            digest: i.digest.clone(),
            action: rule.action,
            rule_priority: rule.priority,
        }));
        seen.extend(selected.iter().map(|i| &i.digest));
    }
    verdicts
}
