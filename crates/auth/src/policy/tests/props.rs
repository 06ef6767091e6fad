//! Property tests over generated policy sets and requests.
//!
//! Policies are generated as a small model (effect, actions, resources, principal, condition drawn from
//! alphabets chosen to collide often), rendered to JSON and parsed, so the properties exercise the whole
//! engine. Property 2 uses an independent, naive wildcard matcher as its oracle.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::policy::{Decision, PolicyDocument, PolicyKind, Principal, Request, RequestContext, evaluate};

const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
const BOB: &str = "arn:aws:iam::123456789012:user/bob";

const ACTIONS: &[&str] = &[
    "*",
    "ecr:*",
    "ecr:BatchGetImage",
    "ECR:batchgetimage",
    "ecr:Batch*",
    "ecr:PutImage",
    "ecr:?utImage",
    "berth:*",
    "berth:ListUsers",
];
const REQUEST_ACTIONS: &[&str] =
    &["ecr:BatchGetImage", "ecr:PutImage", "ecr:DeleteRepository", "berth:ListUsers", "berth:CreateUser"];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:ecr:*:*:repository/team/*",
    "arn:aws:ecr:us-east-1:123456789012:repository/team/app",
    "arn:aws:ecr:*:*:repository/other",
    "arn:aws:ecr:*:*:repository/?eam/app",
    "arn:aws:ecr:*:*:repository/${aws:username}/*",
    "arn:aws:iam::*:user/*",
];
const REQUEST_RESOURCES: &[&str] = &[
    "arn:aws:ecr:us-east-1:123456789012:repository/team/app",
    "arn:aws:ecr:us-east-1:123456789012:repository/other",
    "arn:aws:ecr:us-east-1:123456789012:repository/alice/x",
    "arn:aws:iam::123456789012:user/bob",
    "*",
];
const PRINCIPALS: &[&str] = &["*", r#"{"AWS": "*"}"#, r#"{"AWS": "123456789012"}"#, ALICE, BOB];
const CONDITIONS: &[&str] = &[
    "",
    r#"{"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#,
    r#"{"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}}"#,
    r#"{"Bool": {"aws:SecureTransport": true}}"#,
    r#"{"DateLessThan": {"aws:CurrentTime": "2026-06-01T12:00:00Z"}}"#,
    r#"{"StringEquals": {"aws:username": "alice"}}"#,
    r#"{"StringNotEquals": {"aws:PrincipalType": "Anonymous"}}"#,
    r#"{"StringLikeIfExists": {"aws:username": "a*"}}"#,
];

/// A generated statement.
#[derive(Clone, Debug)]
struct St {
    deny: bool,
    not_action: bool,
    actions: Vec<&'static str>,
    not_resource: bool,
    /// `None`: no Resource element (resource policies only).
    resources: Option<Vec<&'static str>>,
    /// Resource policies only.
    principal: Option<&'static str>,
    condition: &'static str,
}

impl St {
    fn to_json(&self) -> Value {
        let mut st = json!({ "Effect": if self.deny { "Deny" } else { "Allow" } });
        st[if self.not_action { "NotAction" } else { "Action" }] = json!(self.actions);
        if let Some(resources) = &self.resources {
            st[if self.not_resource { "NotResource" } else { "Resource" }] = json!(resources);
        }
        if let Some(principal) = self.principal {
            st["Principal"] = if principal.starts_with('{') {
                serde_json::from_str(principal).unwrap()
            } else if principal == "*" {
                json!("*")
            } else {
                json!({ "AWS": principal })
            };
        }
        if !self.condition.is_empty() {
            st["Condition"] = serde_json::from_str(self.condition).unwrap();
        }
        st
    }
}

#[derive(Clone, Debug)]
struct Policies {
    identity: Vec<Vec<St>>,
    resource: Vec<Vec<St>>,
}

impl Policies {
    fn parse(&self) -> Vec<(String, PolicyDocument)> {
        let render = |docs: &[Vec<St>], kind: PolicyKind, label: &str| -> Vec<(String, PolicyDocument)> {
            docs.iter()
                .enumerate()
                .map(|(i, statements)| {
                    let text = json!({
                        "Version": "2012-10-17",
                        "Statement": statements.iter().map(St::to_json).collect::<Vec<_>>(),
                    })
                    .to_string();
                    let doc = PolicyDocument::parse(&text, kind).unwrap_or_else(|e| panic!("{e}\n{text}"));
                    (format!("{label}[{i}]"), doc)
                })
                .collect()
        };
        let mut all = render(&self.identity, PolicyKind::Identity, "identity");
        all.extend(render(&self.resource, PolicyKind::Resource, "resource"));
        all
    }
}

#[derive(Clone, Debug)]
struct Req {
    caller: Option<&'static str>,
    action: &'static str,
    resource: &'static str,
    ip: Option<&'static str>,
    now: OffsetDateTime,
    tls: bool,
}

fn decide(policies: &Policies, req: &Req) -> Decision {
    let parsed = policies.parse();
    let refs: Vec<(&str, &PolicyDocument)> = parsed.iter().map(|(l, d)| (l.as_str(), d)).collect();
    let context = RequestContext {
        source_ip: req.ip.map(|ip| ip.parse().unwrap()),
        current_time: req.now,
        secure_transport: req.tls,
    };
    let principal = match req.caller {
        Some(arn) => Principal::User { arn },
        None => Principal::Anonymous,
    };
    evaluate(&Request { principal, action: req.action, resource: req.resource, context: &context }, &refs)
}

/// The outcome without the statement reference.
fn outcome(d: &Decision) -> &'static str {
    match d {
        Decision::Allow { .. } => "Allow",
        Decision::ExplicitDeny { .. } => "ExplicitDeny",
        Decision::ImplicitDeny => "ImplicitDeny",
    }
}

fn statement(resource_policy: bool) -> impl Strategy<Value = St> {
    (
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.2),
        prop::collection::vec(select(ACTIONS), 1..3),
        prop::bool::weighted(0.2),
        prop::collection::vec(select(RESOURCES), 1..3),
        prop::bool::weighted(if resource_policy { 0.6 } else { 0.0 }),
        select(PRINCIPALS),
        select(CONDITIONS),
    )
        .prop_map(
            move |(deny, not_action, actions, not_resource, resources, omit_resource, principal, condition)| St {
                deny,
                not_action,
                actions,
                not_resource,
                resources: (!omit_resource).then_some(resources),
                principal: resource_policy.then_some(principal),
                condition,
            },
        )
}

fn policies() -> impl Strategy<Value = Policies> {
    (
        prop::collection::vec(prop::collection::vec(statement(false), 1..4), 0..3),
        prop::collection::vec(prop::collection::vec(statement(true), 1..4), 0..3),
    )
        .prop_map(|(identity, resource)| Policies { identity, resource })
}

fn request() -> impl Strategy<Value = Req> {
    (
        select(&[None, Some(ALICE), Some(BOB)][..]),
        select(REQUEST_ACTIONS),
        select(REQUEST_RESOURCES),
        select(&[None, Some("10.1.2.3"), Some("192.168.1.1"), Some("2001:db8::1")][..]),
        select(
            &[
                datetime!(2026-06-01 11:59:59 UTC),
                datetime!(2026-06-01 12:00:00 UTC),
                datetime!(2026-06-01 12:00:01 UTC),
            ][..],
        ),
        any::<bool>(),
    )
        .prop_map(|(caller, action, resource, ip, now, tls)| Req { caller, action, resource, ip, now, tls })
}

/// A naive recursive wildcard matcher, independent of the engine's.
fn naive_glob(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|skip| naive_glob(rest, &text[skip..])),
        Some(('?', rest)) => !text.is_empty() && naive_glob(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && naive_glob(rest, &text[1..]),
    }
}

fn glob_str(pattern: &str, text: &str) -> bool {
    naive_glob(&pattern.chars().collect::<Vec<_>>(), &text.chars().collect::<Vec<_>>())
}

/// Whether `st`'s Action and Resource could match `req`, by the oracle. A `${aws:username}` the caller
/// cannot fill counts as a possible match: the oracle errs towards "matches".
fn could_match(st: &St, req: &Req) -> bool {
    let action = st.actions.iter().any(|a| glob_str(&a.to_ascii_lowercase(), &req.action.to_ascii_lowercase()));
    if action == st.not_action {
        return false;
    }
    let Some(resources) = &st.resources else { return true };
    let user = req.caller.and_then(|arn| arn.rsplit_once('/')).map(|(_, name)| name);
    if user.is_none() && resources.iter().any(|r| r.contains("${")) {
        return true;
    }
    let resource =
        resources.iter().any(|r| glob_str(&r.replace("${aws:username}", user.unwrap_or_default()), req.resource));
    resource != st.not_resource
}

/// Fisher-Yates with a tiny LCG, so a shuffle is reproducible from the generated seed.
fn shuffle<T>(items: &mut [T], seed: &mut u64) {
    for i in (1..items.len()).rev() {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let j = ((*seed >> 33) % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

proptest! {
    // A failure prints its shrunk case; nothing is written next to the sources.
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// (1) A Deny statement that matches the request, added anywhere, always yields ExplicitDeny.
    #[test]
    fn a_matching_deny_always_denies(
        mut policies in policies(),
        req in request(),
        in_resource_policy in any::<bool>(),
        doc_pick in any::<prop::sample::Index>(),
        position in any::<prop::sample::Index>(),
    ) {
        let deny = St {
            deny: true,
            not_action: false,
            actions: vec![req.action],
            not_resource: false,
            resources: Some(vec![req.resource]),
            principal: in_resource_policy.then_some("*"),
            condition: "",
        };
        let docs = if in_resource_policy { &mut policies.resource } else { &mut policies.identity };
        if docs.is_empty() {
            docs.push(Vec::new());
        }
        let doc = doc_pick.get_mut(docs);
        doc.insert(position.index(doc.len() + 1), deny);
        prop_assert_eq!(outcome(&decide(&policies, &req)), "ExplicitDeny");
    }

    /// (2) Without a statement whose Action and Resource match, nothing is allowed (or denied).
    #[test]
    fn nothing_matching_means_implicit_deny(mut policies in policies(), req in request()) {
        for docs in [&mut policies.identity, &mut policies.resource] {
            for doc in docs.iter_mut() {
                doc.retain(|st| !could_match(st, &req));
            }
            docs.retain(|doc| !doc.is_empty());
        }
        let decision = decide(&policies, &req);
        prop_assert!(!decision.is_allowed());
        prop_assert_eq!(outcome(&decision), "ImplicitDeny");
    }

    /// (3) The outcome does not depend on the order of statements or of documents.
    #[test]
    fn order_does_not_matter(policies in policies(), req in request(), seed in any::<u64>()) {
        let before = outcome(&decide(&policies, &req));
        let mut shuffled = policies.clone();
        let mut seed = seed;
        for docs in [&mut shuffled.identity, &mut shuffled.resource] {
            shuffle(docs, &mut seed);
            for doc in docs.iter_mut() {
                shuffle(doc, &mut seed);
            }
        }
        prop_assert_eq!(outcome(&decide(&shuffled, &req)), before);
    }
}

/// The generators reach every outcome, so the properties are not vacuous.
#[test]
fn generated_cases_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..500 {
        let policies = policies().new_tree(&mut runner).unwrap().current();
        let req = request().new_tree(&mut runner).unwrap().current();
        seen.insert(outcome(&decide(&policies, &req)));
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
}
