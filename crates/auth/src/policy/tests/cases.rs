//! Evaluation cases: policies and a request in, the decision out.

use time::OffsetDateTime;
use time::macros::datetime;

use crate::policy::{Decision, PolicyDocument, PolicyKind, Principal, Request, RequestContext, evaluate};

const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
const BOB: &str = "arn:aws:iam::123456789012:user/bob";
const STRANGER: &str = "arn:aws:iam::999999999999:user/alice";
const APP: &str = "arn:aws:ecr:us-east-1:123456789012:repository/team/app";
const NOON: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Allowed by `(label, statement index)`.
    Allow(&'static str, usize),
    /// Explicitly denied by `(label, statement index)`.
    Deny(&'static str, usize),
    Implicit,
}
use Expect::*;

#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    /// Identity policies, labelled `identity[i]`.
    identity: &'static [&'static str],
    /// Resource policies, labelled `resource[i]`.
    resource: &'static [&'static str],
    /// The caller's ARN; `None` for anonymous.
    caller: Option<&'static str>,
    action: &'static str,
    target: &'static str,
    ip: Option<&'static str>,
    now: OffsetDateTime,
    tls: bool,
    expect: Expect,
}

const BASE: Case = Case {
    name: "",
    identity: &[],
    resource: &[],
    caller: Some(ALICE),
    action: "ecr:BatchGetImage",
    target: APP,
    ip: Some("10.1.2.3"),
    now: NOON,
    tls: true,
    expect: Implicit,
};

const ALLOW_PULL_TEAM: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Resource": "arn:aws:ecr:*:*:repository/team/*"}]}"#;
const ALLOW_ALL: &str =
    r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#;
const PUBLIC_PULL: &str = r#"{"Version": "2012-10-17", "Statement": [{"Sid": "Public", "Effect": "Allow",
    "Principal": "*", "Action": "ecr:BatchGetImage"}]}"#;

fn cases() -> Vec<Case> {
    vec![
        Case { name: "no policies: implicit deny", ..BASE },
        Case { name: "identity allow", identity: &[ALLOW_PULL_TEAM], expect: Allow("identity[0]", 0), ..BASE },
        Case { name: "identity allow, other action", identity: &[ALLOW_PULL_TEAM], action: "ecr:PutImage", ..BASE },
        Case {
            name: "identity allow, other repository",
            identity: &[ALLOW_PULL_TEAM],
            target: "arn:aws:ecr:us-east-1:123456789012:repository/other/app",
            ..BASE
        },
        Case {
            name: "resource * matches across /",
            identity: &[ALLOW_PULL_TEAM],
            target: "arn:aws:ecr:us-east-1:123456789012:repository/team/a/b/c",
            expect: Allow("identity[0]", 0),
            ..BASE
        },
        Case {
            name: "resource matching is case-sensitive",
            identity: &[ALLOW_PULL_TEAM],
            target: "arn:aws:ecr:us-east-1:123456789012:repository/Team/app",
            ..BASE
        },
        Case {
            name: "action matching is case-insensitive",
            identity: &[ALLOW_PULL_TEAM],
            action: "ECR:batchgetimage",
            expect: Allow("identity[0]", 0),
            ..BASE
        },
        Case {
            name: "action prefix wildcard",
            identity: &[r#"{"Statement": {"Effect": "Allow", "Action": "ecr:Batch*", "Resource": "*"}}"#],
            action: "ecr:BatchCheckLayerAvailability",
            expect: Allow("identity[0]", 0),
            ..BASE
        },
        Case {
            name: "action ? wildcard is one character",
            identity: &[r#"{"Statement": {"Effect": "Allow", "Action": "ecr:?utImage", "Resource": "*"}}"#],
            action: "ecr:PutImage",
            expect: Allow("identity[0]", 0),
            ..BASE
        },
        Case {
            name: "action ? wildcard does not match two",
            identity: &[r#"{"Statement": {"Effect": "Allow", "Action": "ecr:?Image", "Resource": "*"}}"#],
            action: "ecr:PutImage",
            ..BASE
        },
        Case {
            name: "service wildcard does not cross services",
            identity: &[r#"{"Statement": {"Effect": "Allow", "Action": "berth:*", "Resource": "*"}}"#],
            ..BASE
        },
        Case {
            name: "NotAction allows the others",
            identity: &[r#"{"Statement": {"Effect": "Allow", "NotAction": "ecr:Delete*", "Resource": "*"}}"#],
            expect: Allow("identity[0]", 0),
            ..BASE
        },
        Case {
            name: "NotAction excludes its actions",
            identity: &[r#"{"Statement": {"Effect": "Allow", "NotAction": ["ecr:Delete*"], "Resource": "*"}}"#],
            action: "ecr:DeleteRepository",
            ..BASE
        },
        Case {
            name: "NotResource allows the others",
            identity: &[r#"{"Statement": {"Effect": "Allow", "Action": "ecr:*",
                "NotResource": "arn:aws:ecr:*:*:repository/secret/*"}}"#],
            expect: Allow("identity[0]", 0),
            ..BASE
        },
        Case {
            name: "NotResource excludes its resources",
            identity: &[r#"{"Statement": {"Effect": "Allow", "Action": "ecr:*",
                "NotResource": "arn:aws:ecr:*:*:repository/secret/*"}}"#],
            target: "arn:aws:ecr:us-east-1:123456789012:repository/secret/x",
            ..BASE
        },
        Case {
            name: "Deny NotResource fences a user in",
            identity: &[
                ALLOW_ALL,
                r#"{"Statement": {"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:ecr:*:*:repository/sandbox/*"}}"#,
            ],
            expect: Deny("identity[1]", 0),
            ..BASE
        },
        Case {
            name: "identity deny overrides resource allow",
            identity: &[r#"{"Statement": {"Effect": "Deny", "Action": "ecr:*", "Resource": "*"}}"#],
            resource: &[PUBLIC_PULL],
            expect: Deny("identity[0]", 0),
            ..BASE
        },
        Case {
            name: "resource deny overrides identity allow",
            identity: &[ALLOW_ALL],
            resource: &[
                r#"{"Statement": {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::123456789012:user/alice"},
                "Action": "ecr:BatchGetImage"}}"#,
            ],
            expect: Deny("resource[0]", 0),
            ..BASE
        },
        Case {
            name: "resource allow alone suffices",
            resource: &[
                r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::123456789012:user/alice"]},
                "Action": "ecr:*"}}"#,
            ],
            expect: Allow("resource[0]", 0),
            ..BASE
        },
        Case {
            name: "resource allow for another user",
            resource: &[
                r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/bob"},
                "Action": "ecr:*"}}"#,
            ],
            ..BASE
        },
        Case {
            name: "account principal: user of the account",
            resource: &[r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "ecr:*"}}"#],
            caller: Some(BOB),
            expect: Allow("resource[0]", 0),
            ..BASE
        },
        Case {
            name: "account principal: user of another account",
            resource: &[
                r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "ecr:*"}}"#,
            ],
            caller: Some(STRANGER),
            ..BASE
        },
        Case {
            name: "account principal: not anonymous",
            resource: &[
                r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "ecr:*"}}"#,
            ],
            caller: None,
            ..BASE
        },
        Case {
            name: "public pull: anonymous",
            resource: &[PUBLIC_PULL],
            caller: None,
            expect: Allow("resource[0]", 0),
            ..BASE
        },
        Case {
            name: "public pull via {AWS: *}: anonymous",
            resource: &[
                r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "ecr:BatchGetImage"}}"#,
            ],
            caller: None,
            expect: Allow("resource[0]", 0),
            ..BASE
        },
        Case {
            name: "public pull: anonymous cannot push",
            resource: &[PUBLIC_PULL],
            caller: None,
            action: "ecr:PutImage",
            ..BASE
        },
        Case { name: "anonymous: identity allows do not apply", identity: &[ALLOW_ALL], caller: None, ..BASE },
        Case {
            name: "anonymous: identity denies still apply",
            identity: &[r#"{"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}}"#],
            resource: &[PUBLIC_PULL],
            caller: None,
            expect: Deny("identity[0]", 0),
            ..BASE
        },
        Case {
            name: "resource policy with Resource: other resource",
            resource: &[r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "ecr:*",
                "Resource": "arn:aws:ecr:*:*:repository/other"}}"#],
            ..BASE
        },
        Case {
            name: "resource * on a resource-less action",
            identity: &[r#"{"Statement": {"Effect": "Allow", "Action": "berth:List*", "Resource": "*"}}"#],
            action: "berth:ListUsers",
            target: "*",
            expect: Allow("identity[0]", 0),
            ..BASE
        },
        Case {
            name: "an ARN pattern does not match the resource *",
            identity: &[
                r#"{"Statement": {"Effect": "Allow", "Action": "berth:*", "Resource": "arn:aws:iam::*:user/*"}}"#,
            ],
            action: "berth:ListUsers",
            target: "*",
            ..BASE
        },
        Case {
            name: "IpAddress condition: inside",
            identity: &[r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": ["192.168.0.0/16", "10.0.0.0/8"]}}}}"#],
            expect: Allow("identity[0]", 0),
            ..BASE
        },
        Case {
            name: "IpAddress condition: outside",
            identity: &[r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "192.168.0.0/16"}}}}"#],
            ..BASE
        },
        Case {
            name: "IpAddress condition: unknown address",
            identity: &[r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}}}"#],
            ip: None,
            ..BASE
        },
        Case {
            name: "IpAddressIfExists condition: unknown address",
            identity: &[r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
                "Condition": {"IpAddressIfExists": {"aws:SourceIp": "192.168.0.0/16"}}}}"#],
            ip: None,
            expect: Allow("identity[0]", 0),
            ..BASE
        },
        Case {
            name: "deny outside the network: IPv6 client inside",
            identity: &[
                ALLOW_ALL,
                r#"{"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*",
                    "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}}}}"#,
            ],
            ip: Some("2001:db8:1::5"),
            expect: Allow("identity[0]", 0),
            ..BASE
        },
        Case {
            name: "deny outside the network: IPv6 client outside",
            identity: &[
                ALLOW_ALL,
                r#"{"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*",
                    "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}}}}"#,
            ],
            ip: Some("2001:db9::5"),
            expect: Deny("identity[1]", 0),
            ..BASE
        },
        Case {
            name: "deny plain HTTP",
            identity: &[ALLOW_ALL],
            resource: &[r#"{"Statement": {"Effect": "Deny", "Principal": "*", "Action": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}}"#],
            tls: false,
            expect: Deny("resource[0]", 0),
            ..BASE
        },
        Case {
            name: "deny plain HTTP: over TLS",
            identity: &[ALLOW_ALL],
            resource: &[r#"{"Statement": {"Effect": "Deny", "Principal": "*", "Action": "*",
                "Condition": {"Bool": {"aws:SecureTransport": false}}}}"#],
            expect: Allow("identity[0]", 0),
            ..BASE
        },
        Case {
            name: "time window: at the start",
            identity: &[r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {
                "DateGreaterThanEquals": {"aws:CurrentTime": "2026-06-01T12:00:00Z"},
                "DateLessThan": {"aws:CurrentTime": "2026-06-01T13:00:00Z"}}}}"#],
            expect: Allow("identity[0]", 0),
            ..BASE
        },
        Case {
            name: "time window: at the end",
            identity: &[r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {
                "DateGreaterThanEquals": {"aws:CurrentTime": "2026-06-01T11:00:00Z"},
                "DateLessThan": {"aws:CurrentTime": "2026-06-01T12:00:00Z"}}}}"#],
            ..BASE
        },
        Case {
            name: "expiry in epoch seconds",
            identity: &[r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
                "Condition": {"DateLessThanEquals": {"aws:EpochTime": 1780315200}}}}"#],
            expect: Allow("identity[0]", 0),
            ..BASE
        },
        Case {
            name: "expiry in epoch seconds: one second late",
            identity: &[r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
                "Condition": {"DateLessThanEquals": {"aws:EpochTime": 1780315199}}}}"#],
            ..BASE
        },
        Case {
            name: "users' own namespaces: own",
            identity: &[r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "ecr:*",
                "Resource": "arn:aws:ecr:*:*:repository/${aws:username}/*"}}"#],
            target: "arn:aws:ecr:us-east-1:123456789012:repository/alice/app",
            expect: Allow("identity[0]", 0),
            ..BASE
        },
        Case {
            name: "users' own namespaces: someone else's",
            identity: &[r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "ecr:*",
                "Resource": "arn:aws:ecr:*:*:repository/${aws:username}/*"}}"#],
            caller: Some(BOB),
            target: "arn:aws:ecr:us-east-1:123456789012:repository/alice/app",
            ..BASE
        },
        Case {
            name: "unresolvable variable: an Allow does not apply",
            resource: &[r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": "*", "Action": "*",
                "Resource": "arn:aws:ecr:*:*:repository/${aws:username}/*"}}"#],
            caller: None,
            target: "arn:aws:ecr:us-east-1:123456789012:repository/alice/app",
            ..BASE
        },
        Case {
            name: "unresolvable variable: a Deny applies",
            resource: &[
                PUBLIC_PULL,
                r#"{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Principal": "*", "Action": "*",
                    "NotResource": "arn:aws:ecr:*:*:repository/${aws:username}/*"}}"#,
            ],
            caller: None,
            expect: Deny("resource[1]", 0),
            ..BASE
        },
        Case {
            name: "authenticated only, via a condition",
            resource: &[r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*",
                "Condition": {"StringEquals": {"aws:PrincipalType": "User"}}}}"#],
            caller: None,
            ..BASE
        },
        Case {
            name: "StringLike on the principal ARN",
            resource: &[r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*",
                "Condition": {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::123456789012:user/a*"}}}}"#],
            expect: Allow("resource[0]", 0),
            ..BASE
        },
        Case {
            name: "StringNotEquals on a missing key is true",
            resource: &[
                r#"{"Statement": {"Effect": "Deny", "Principal": "*", "Action": "*",
                "Condition": {"StringNotEquals": {"aws:username": "alice"}}}}"#,
                PUBLIC_PULL,
            ],
            caller: None,
            expect: Deny("resource[0]", 0),
            ..BASE
        },
        Case {
            name: "the first applicable Allow is reported",
            identity: &[
                r#"{"Statement": [{"Effect": "Allow", "Action": "ecr:PutImage", "Resource": "*"},
                    {"Sid": "Pull", "Effect": "Allow", "Action": "ecr:BatchGetImage", "Resource": "*"}]}"#,
                ALLOW_ALL,
            ],
            expect: Allow("identity[0]", 1),
            ..BASE
        },
        Case {
            name: "the first applicable Deny is reported, wherever the Allows are",
            identity: &[ALLOW_ALL],
            resource: &[
                PUBLIC_PULL,
                r#"{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "ecr:PutImage"},
                    {"Effect": "Deny", "Principal": "*", "Action": "ecr:Batch*"},
                    {"Effect": "Deny", "Principal": "*", "Action": "*"}]}"#,
            ],
            expect: Deny("resource[1]", 1),
            ..BASE
        },
    ]
}

fn run(case: &Case) -> Decision {
    let identity: Vec<(String, PolicyDocument)> = (case.identity.iter().enumerate())
        .map(|(i, text)| (format!("identity[{i}]"), PolicyDocument::parse(text, PolicyKind::Identity).unwrap()))
        .collect();
    let resource: Vec<(String, PolicyDocument)> = (case.resource.iter().enumerate())
        .map(|(i, text)| (format!("resource[{i}]"), PolicyDocument::parse(text, PolicyKind::Resource).unwrap()))
        .collect();
    let policies: Vec<(&str, &PolicyDocument)> =
        identity.iter().chain(&resource).map(|(label, doc)| (label.as_str(), doc)).collect();
    let context = RequestContext {
        source_ip: case.ip.map(|ip| ip.parse().unwrap()),
        current_time: case.now,
        secure_transport: case.tls,
    };
    let principal = match case.caller {
        Some(arn) => Principal::User { arn },
        None => Principal::Anonymous,
    };
    evaluate(&Request { principal, action: case.action, resource: case.target, context: &context }, &policies)
}

#[test]
fn evaluation_cases() {
    let mut failures = Vec::new();
    let cases = cases();
    for case in &cases {
        let decision = run(case);
        let ok = match (&decision, case.expect) {
            (Decision::Allow { by }, Allow(label, index)) | (Decision::ExplicitDeny { by }, Deny(label, index)) => {
                by.source == label && by.index == index
            }
            (Decision::ImplicitDeny, Implicit) => true,
            _ => false,
        };
        if !ok {
            failures.push(format!("{}: expected {:?}, got {:?}", case.name, case.expect, decision));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn decisions_carry_sids() {
    let doc = PolicyDocument::parse(PUBLIC_PULL, PolicyKind::Resource).unwrap();
    let context = RequestContext { source_ip: None, current_time: NOON, secure_transport: true };
    let request =
        Request { principal: Principal::Anonymous, action: "ecr:BatchGetImage", resource: APP, context: &context };
    let Decision::Allow { by } = evaluate(&request, &[("repository policy", &doc)]) else { panic!("not allowed") };
    assert_eq!(by.sid.as_deref(), Some("Public"));
    assert_eq!(by.to_string(), r#"repository policy Statement[0] (Sid "Public")"#);
}
