//! ECR's documented examples ("Examples of lifecycle policies", "Lifecycle policy evaluation rules") as
//! scenarios with chosen push and pull times, and one malformed document per kind of mistake.

use berth_oci::Digest;
use serde_json::json;

use super::evaluate::{Candidate, evaluate};
use super::policy::{Action, LifecyclePolicy, StorageClass};

const DAY: i64 = 86_400;
const NOW: i64 = 1_800_000_000;

fn image(name: &str, tags: &[&str], pushed_days_ago: i64) -> Candidate {
    Candidate {
        digest: Digest::sha256_of(name.as_bytes()),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        pushed_at: NOW - pushed_days_ago * DAY,
        last_pulled_at: None,
        storage_class: StorageClass::Standard,
        transitioned_at: None,
    }
}

fn pulled(mut c: Candidate, days_ago: i64) -> Candidate {
    c.last_pulled_at = Some(NOW - days_ago * DAY);
    c
}

fn rule(priority: u32, selection: serde_json::Value) -> serde_json::Value {
    json!({"rulePriority": priority, "description": format!("Rule {priority}"), "selection": selection,
           "action": {"type": "expire"}})
}

fn policy(rules: Vec<serde_json::Value>) -> LifecyclePolicy {
    LifecyclePolicy::parse(&json!({ "rules": rules }).to_string()).expect("a valid policy")
}

/// The names of the images `policy` expires (each with the priority of its rule), sorted by name.
fn expired(policy: &LifecyclePolicy, images: &[(&str, Candidate)]) -> Vec<(String, u32)> {
    let all: Vec<Candidate> = images.iter().map(|(_, c)| c.clone()).collect();
    let mut out: Vec<(String, u32)> = evaluate(policy, &all, NOW)
        .into_iter()
        .map(|v| {
            assert_eq!(v.action, Action::Expire);
            let name = images.iter().find(|(_, c)| c.digest == v.digest).unwrap().0;
            (name.to_string(), v.rule_priority)
        })
        .collect();
    out.sort();
    out
}

fn names(v: &[(&str, u32)]) -> Vec<(String, u32)> {
    v.iter().map(|(n, p)| (n.to_string(), *p)).collect()
}

#[test]
fn filtering_on_image_age_untagged() {
    // "expires untagged images older than 14 days"
    let p = policy(vec![rule(
        1,
        json!({"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14}),
    )]);
    let images = [
        ("old", image("old", &[], 15)),
        ("edge", image("edge", &[], 14)),
        ("young", image("young", &[], 2)),
        ("old-tagged", image("old-tagged", &["v1"], 30)),
    ];
    assert_eq!(expired(&p, &images), names(&[("old", 1)]));
}

#[test]
fn filtering_on_image_age_with_a_tag_pattern() {
    // "expires images with a tag starting with prod by using a tagPatternList of prod* that are also older
    // than 14 days"
    let p = policy(vec![rule(
        1,
        json!({"tagStatus": "tagged", "tagPatternList": ["prod*"], "countType": "sinceImagePushed",
               "countUnit": "days", "countNumber": 14}),
    )]);
    let images = [
        ("prod-old", image("prod-old", &["prod-1"], 20)),
        ("prod-young", image("prod-young", &["prod-2"], 3)),
        ("beta-old", image("beta-old", &["beta-1"], 20)),
        ("untagged-old", image("untagged-old", &[], 20)),
        ("both-old", image("both-old", &["beta-9", "prod"], 20)),
    ];
    assert_eq!(expired(&p, &images), names(&[("both-old", 1), ("prod-old", 1)]));
}

#[test]
fn filtering_on_image_count() {
    // "keeps only one untagged image and expires all others"
    let p =
        policy(vec![rule(1, json!({"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}))]);
    let images = [
        ("a", image("a", &[], 3)),
        ("b", image("b", &[], 2)),
        ("c", image("c", &[], 1)),
        ("tagged", image("tagged", &["v1"], 9)),
    ];
    assert_eq!(expired(&p, &images), names(&[("a", 1), ("b", 1)]));
}

fn multiple_rules_repository() -> [(&'static str, Candidate); 3] {
    [
        ("A", image("A", &["beta-1", "prod-1"], 10)),
        ("B", image("B", &["beta-2", "prod-2"], 9)),
        ("C", image("C", &["beta-3"], 8)),
    ]
}

#[test]
fn multiple_rules_example_a() {
    // Rule 1 (prod) marks A; rule 2 (beta) would mark A and B, but both were seen by rule 1: only A expires.
    for (key, prod, beta) in [("tagPrefixList", "prod", "beta"), ("tagPatternList", "prod*", "beta*")] {
        let p = policy(vec![
            rule(1, json!({"tagStatus": "tagged", key: [prod], "countType": "imageCountMoreThan", "countNumber": 1})),
            rule(2, json!({"tagStatus": "tagged", key: [beta], "countType": "imageCountMoreThan", "countNumber": 1})),
        ]);
        assert_eq!(expired(&p, &multiple_rules_repository()), names(&[("A", 1)]), "{key}");
    }
}

#[test]
fn multiple_rules_example_b() {
    // Priorities swapped: rule 1 (beta) marks A and B; rule 2 (prod) sees nothing new: A and B expire.
    for (key, prod, beta) in [("tagPrefixList", "prod", "beta"), ("tagPatternList", "prod*", "beta*")] {
        let p = policy(vec![
            rule(1, json!({"tagStatus": "tagged", key: [beta], "countType": "imageCountMoreThan", "countNumber": 1})),
            rule(2, json!({"tagStatus": "tagged", key: [prod], "countType": "imageCountMoreThan", "countNumber": 1})),
        ]);
        assert_eq!(expired(&p, &multiple_rules_repository()), names(&[("A", 1), ("B", 1)]), "{key}");
    }
}

#[test]
fn multiple_tags_in_one_rule_example_a() {
    // Images must match every prefix: C and F do; only C is older than five days.
    let images = [
        ("A", image("A", &["alpha-1"], 12)),
        ("B", image("B", &["beta-1"], 11)),
        ("C", image("C", &["alpha-2", "beta-2"], 10)),
        ("D", image("D", &["alpha-3"], 4)),
        ("E", image("E", &["beta-3"], 3)),
        ("F", image("F", &["alpha-4", "beta-4"], 2)),
    ];
    for (key, list) in [("tagPrefixList", json!(["alpha", "beta"])), ("tagPatternList", json!(["alpha*", "beta*"]))] {
        let p = policy(vec![rule(
            1,
            json!({"tagStatus": "tagged", key: list, "countType": "sinceImagePushed", "countNumber": 5,
                   "countUnit": "days"}),
        )]);
        assert_eq!(expired(&p, &images), names(&[("C", 1)]), "{key}");
    }
}

#[test]
fn multiple_tags_in_one_rule_example_b() {
    // Tags are not exclusive: all three match alpha and beta; the newest (C) is kept.
    let images = [
        ("A", image("A", &["alpha-1", "beta-1", "gamma-1"], 10)),
        ("B", image("B", &["alpha-2", "beta-2"], 9)),
        ("C", image("C", &["alpha-3", "beta-3", "gamma-2"], 8)),
    ];
    for (key, list) in [("tagPrefixList", json!(["alpha", "beta"])), ("tagPatternList", json!(["alpha*", "beta*"]))] {
        let p = policy(vec![rule(
            1,
            json!({"tagStatus": "tagged", key: list, "countType": "imageCountMoreThan", "countNumber": 1}),
        )]);
        assert_eq!(expired(&p, &images), names(&[("A", 1), ("B", 1)]), "{key}");
    }
}

#[test]
fn any_rule_last_and_rules_protect_what_they_match() {
    // A tagged rule that keeps 9999 release images protects them from the `any` rule after it, which keeps
    // the three most recently pushed images of the whole repository and expires the other ones.
    let p = policy(vec![
        rule(
            1,
            json!({"tagStatus": "tagged", "tagPatternList": ["release-*"], "countType": "imageCountMoreThan",
                       "countNumber": 9999}),
        ),
        rule(5, json!({"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 3})),
    ]);
    let images = [
        ("r1", image("r1", &["release-1"], 50)),
        ("r2", image("r2", &["release-2", "latest"], 1)),
        ("dev-old", image("dev-old", &["dev"], 40)),
        ("untagged-old", image("untagged-old", &[], 30)),
        ("dev-new", image("dev-new", &["dev-2"], 3)),
        ("untagged-new", image("untagged-new", &[], 2)),
    ];
    assert_eq!(expired(&p, &images), names(&[("dev-old", 5), ("untagged-old", 5)]));
}

#[test]
fn since_image_pulled_uses_the_last_pull_or_the_push() {
    let p = policy(vec![rule(
        1,
        json!({"tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 30}),
    )]);
    let images = [
        ("pulled-recently", pulled(image("pulled-recently", &["a"], 100), 5)),
        ("pulled-long-ago", pulled(image("pulled-long-ago", &["b"], 100), 45)),
        ("never-pulled-old", image("never-pulled-old", &[], 31)),
        ("never-pulled-new", image("never-pulled-new", &[], 10)),
    ];
    assert_eq!(expired(&p, &images), names(&[("never-pulled-old", 1), ("pulled-long-ago", 1)]));
}

#[test]
fn transitions_and_archived_images() {
    let p = policy(vec![
        json!({"rulePriority": 1, "selection": {"tagStatus": "tagged", "tagPatternList": ["*"], "storageClass": "archive",
               "countType": "sinceImageTransitioned", "countUnit": "days", "countNumber": 90},
               "action": {"type": "expire"}}),
        json!({"rulePriority": 2, "selection": {"tagStatus": "any", "countType": "sinceImagePulled",
               "countUnit": "days", "countNumber": 30}, "action": {"type": "transition", "targetStorageClass": "archive"}}),
    ]);
    let mut archived_long = image("archived-long", &["x"], 400);
    archived_long.storage_class = StorageClass::Archive;
    archived_long.transitioned_at = Some(NOW - 100 * DAY);
    let mut archived_recent = archived_long.clone();
    archived_recent.digest = Digest::sha256_of(b"archived-recent");
    archived_recent.transitioned_at = Some(NOW - 10 * DAY);
    let idle = image("idle", &["y"], 60);
    let busy = pulled(image("busy", &["z"], 60), 1);
    let v = evaluate(&p, &[archived_long.clone(), archived_recent, idle.clone(), busy], NOW);
    let got: Vec<_> = v.iter().map(|v| (v.digest.clone(), v.action, v.rule_priority)).collect();
    assert_eq!(got, [(archived_long.digest, Action::Expire, 1), (idle.digest, Action::Transition, 2)]);
}

#[test]
fn an_image_is_acted_on_by_one_rule_at_most_and_ties_are_stable() {
    let p = policy(vec![
        rule(1, json!({"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1})),
        rule(2, json!({"tagStatus": "any", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1})),
    ]);
    let images = [("u1", image("u1", &[], 5)), ("u2", image("u2", &[], 5)), ("t", image("t", &["v"], 5))];
    let first = expired(&p, &images);
    // Of two untagged images pushed at the same second, one is kept by rule 1; rule 2 may not act on it
    // (rule 1's tag selection matched it); the tagged one falls to rule 2.
    assert_eq!(first.len(), 2);
    assert!(first.contains(&("t".to_string(), 2)));
    let mut reversed = images.clone();
    reversed.reverse();
    assert_eq!(expired(&p, &reversed), first, "the input order does not matter");
}

/// Each kind of mistake ECR refuses, with words the message must contain.
#[test]
fn malformed_policies_are_refused_naming_the_problem() {
    let ok_sel = json!({"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1});
    let with = |sel: serde_json::Value| json!({"rules": [{"rulePriority": 1, "selection": sel, "action": {"type": "expire"}}]});
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (json!("not an object"), "JSON object"),
        (json!({}), "'rules' is required"),
        (json!({"rules": []}), "at least one rule"),
        (json!({"rules": [], "extra": 1}), "unknown property 'extra'"),
        (json!({"rules": [{"selection": ok_sel, "action": {"type": "expire"}}]}), "'rulePriority' is required"),
        (
            json!({"rules": [{"rulePriority": 0, "selection": ok_sel, "action": {"type": "expire"}}]}),
            "positive integer",
        ),
        (
            json!({"rules": [{"rulePriority": -3, "selection": ok_sel, "action": {"type": "expire"}}]}),
            "positive integer",
        ),
        (
            json!({"rules": [{"rulePriority": 1.5, "selection": ok_sel, "action": {"type": "expire"}}]}),
            "positive integer",
        ),
        (
            json!({"rules": [{"rulePriority": 1, "selection": ok_sel, "action": {"type": "expire"}},
                             {"rulePriority": 1, "selection": ok_sel, "action": {"type": "expire"}}]}),
            "rulePriority 1 is used by more than one rule",
        ),
        (
            json!({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}},
                             {"rulePriority": 2, "selection": ok_sel, "action": {"type": "expire"}}]}),
            "'any' must have the highest rulePriority",
        ),
        (json!({"rules": [{"rulePriority": 1, "selection": ok_sel}]}), "'action' is required"),
        (json!({"rules": [{"rulePriority": 1, "action": {"type": "expire"}}]}), "'selection' is required"),
        (
            json!({"rules": [{"rulePriority": 1, "selection": ok_sel, "action": {"type": "expire"}, "x": 1}]}),
            "unknown property 'x'",
        ),
        (with(json!({"countType": "imageCountMoreThan", "countNumber": 1})), "'tagStatus' is required"),
        (
            with(json!({"tagStatus": "TAGGED", "countType": "imageCountMoreThan", "countNumber": 1})),
            "tagStatus 'TAGGED'",
        ),
        (
            with(json!({"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 1})),
            "requires tagPrefixList or tagPatternList",
        ),
        (
            with(
                json!({"tagStatus": "tagged", "tagPrefixList": ["a"], "tagPatternList": ["a*"], "countType": "imageCountMoreThan", "countNumber": 1}),
            ),
            "not both",
        ),
        (
            with(
                json!({"tagStatus": "tagged", "tagPrefixList": [], "countType": "imageCountMoreThan", "countNumber": 1}),
            ),
            "non-empty list",
        ),
        (
            with(
                json!({"tagStatus": "tagged", "tagPrefixList": "prod", "countType": "imageCountMoreThan", "countNumber": 1}),
            ),
            "non-empty list",
        ),
        (
            with(
                json!({"tagStatus": "tagged", "tagPatternList": ["test*1*2*3*4*5*6"], "countType": "imageCountMoreThan", "countNumber": 1}),
            ),
            "more than 4 wildcards",
        ),
        (
            with(
                json!({"tagStatus": "untagged", "tagPrefixList": ["a"], "countType": "imageCountMoreThan", "countNumber": 1}),
            ),
            "only allowed with tagStatus 'tagged'",
        ),
        (
            with(
                json!({"tagStatus": "any", "tagPatternList": ["a*"], "countType": "imageCountMoreThan", "countNumber": 1}),
            ),
            "only allowed with tagStatus 'tagged'",
        ),
        (with(json!({"tagStatus": "untagged", "countNumber": 1})), "'countType' is required"),
        (
            with(json!({"tagStatus": "untagged", "countType": "imageCountLessThan", "countNumber": 1})),
            "countType 'imageCountLessThan'",
        ),
        (with(json!({"tagStatus": "untagged", "countType": "imageCountMoreThan"})), "'countNumber' is required"),
        (
            with(json!({"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 0})),
            "positive integer",
        ),
        (
            with(json!({"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": "5"})),
            "positive integer",
        ),
        (
            with(
                json!({"tagStatus": "untagged", "countType": "imageCountMoreThan", "countUnit": "days", "countNumber": 1}),
            ),
            "must not be given",
        ),
        (
            with(json!({"tagStatus": "untagged", "countType": "sinceImagePushed", "countNumber": 1})),
            "requires countUnit 'days'",
        ),
        (
            with(
                json!({"tagStatus": "untagged", "countType": "sinceImagePulled", "countUnit": "hours", "countNumber": 1}),
            ),
            "countUnit 'hours'",
        ),
        (
            with(
                json!({"tagStatus": "untagged", "countType": "sinceImageTransitioned", "countUnit": "days", "countNumber": 1}),
            ),
            "requires storageClass 'archive'",
        ),
        (
            with(
                json!({"tagStatus": "untagged", "storageClass": "glacier", "countType": "imageCountMoreThan", "countNumber": 1}),
            ),
            "storageClass 'glacier'",
        ),
        (
            with(
                json!({"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1, "tagFilter": "x"}),
            ),
            "unknown property 'tagFilter'",
        ),
        (
            json!({"rules": [{"rulePriority": 1, "selection": ok_sel, "action": {"type": "delete"}}]}),
            "action type 'delete'",
        ),
        (json!({"rules": [{"rulePriority": 1, "selection": ok_sel, "action": {}}]}), "action 'type' is required"),
        (
            json!({"rules": [{"rulePriority": 1, "selection": ok_sel, "action": {"type": "transition"}}]}),
            "requires targetStorageClass 'archive'",
        ),
        (
            json!({"rules": [{"rulePriority": 1, "selection": ok_sel, "action": {"type": "transition", "targetStorageClass": "cold"}}]}),
            "targetStorageClass 'cold'",
        ),
        (
            json!({"rules": [{"rulePriority": 1, "selection": ok_sel, "action": {"type": "expire", "targetStorageClass": "archive"}}]}),
            "only allowed with action 'transition'",
        ),
        (
            json!({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", "storageClass": "archive", "countType": "imageCountMoreThan", "countNumber": 1},
                              "action": {"type": "transition", "targetStorageClass": "archive"}}]}),
            "storageClass 'standard' images only",
        ),
    ];
    for (doc, words) in cases {
        let text = if doc.is_string() { "not json".to_string() } else { doc.to_string() };
        let text = if doc == json!("not an object") { "[1]".to_string() } else { text };
        match LifecyclePolicy::parse(&text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => assert!(e.0.contains(words), "{text}: {e} should say {words:?}"),
        }
    }
    assert!(LifecyclePolicy::parse("{").unwrap_err().0.contains("not valid JSON"));
}

#[test]
fn valid_documents_from_ecr_docs_parse() {
    let p = policy(vec![
        json!({"rulePriority": 10, "description": "last", "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 100},
               "action": {"type": "expire"}}),
        json!({"rulePriority": 2, "selection": {"tagStatus": "tagged", "tagPatternList": ["*test*1*2*3", "test*1*2*3*"],
               "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7}, "action": {"type": "expire"}}),
    ]);
    assert_eq!(p.rules.iter().map(|r| r.priority).collect::<Vec<_>>(), [2, 10], "ordered by priority");
}
