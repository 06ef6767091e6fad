//! Malformed documents: each is rejected with a message that names the element and the problem.

use crate::policy::{PolicyDocument, PolicyKind};

use PolicyKind::{Identity, Resource};

/// `(kind, document, expected message)`. A message ending in `…` is a prefix.
const CASES: &[(PolicyKind, &str, &str)] = &[
    (Identity, "", "invalid JSON: EOF while parsing a value at line 1 column 0"),
    (Identity, r#"{"Statement": [}"#, "invalid JSON: expected value at line 1 column 16"),
    (Identity, "[]", "a policy document must be a JSON object, got an array"),
    (
        Identity,
        r#"{"Statement": {"Effect": "Allow", "Effect": "Deny", "Action": "*", "Resource": "*"}}"#,
        r#"invalid JSON: duplicate key "Effect" at line 1 column 42"#,
    ),
    (Identity, r#"{"Version": "2012-10-17"}"#, "missing Statement"),
    (
        Identity,
        r#"{"Version": "2020-01-01", "Statement": []}"#,
        r#"Version: must be "2012-10-17" or "2008-10-17", got "2020-01-01""#,
    ),
    (Identity, r#"{"Version": 2012, "Statement": []}"#, "Version: must be a string, got a number"),
    (Identity, r#"{"Id": 1, "Statement": []}"#, "Id: must be a string, got a number"),
    (Identity, r#"{"Statement": []}"#, "Statement: must contain at least one statement"),
    (
        Identity,
        r#"{"Statements": []}"#,
        r#"unknown top-level key "Statements" (expected one of Version, Id, Statement)"#,
    ),
    (
        Identity,
        r#"{"version": "2012-10-17"}"#,
        r#"unknown top-level key "version" (keys are case-sensitive: "Version")"#,
    ),
    (Identity, r#"{"Statement": ["Allow"]}"#, "Statement[0]: must be an object, got a string"),
    (
        Identity,
        r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "allow", "Action": "*", "Resource": "*"}]}"#,
        r#"Statement[1].Effect: must be "Allow" or "Deny", got "allow""#,
    ),
    (
        Identity,
        r#"{"Statement": {"Effect": true, "Action": "*", "Resource": "*"}}"#,
        r#"Statement[0].Effect: must be "Allow" or "Deny", got a boolean"#,
    ),
    (Identity, r#"{"Statement": {"Action": "*", "Resource": "*"}}"#, "Statement[0]: missing Effect"),
    (
        Identity,
        r#"{"Statement": {"Effect": "Allow", "Actions": "*", "Resource": "*"}}"#,
        r#"Statement[0]: unknown key "Actions" (expected one of Sid, Effect, Action, NotAction, Resource, NotResource, Principal, NotPrincipal, Condition)"#,
    ),
    (
        Identity,
        r#"{"Statement": {"effect": "Allow", "Action": "*", "Resource": "*"}}"#,
        r#"Statement[0]: unknown key "effect" (keys are case-sensitive: "Effect")"#,
    ),
    (
        Identity,
        r#"{"Statement": {"Sid": 1, "Effect": "Allow", "Action": "*", "Resource": "*"}}"#,
        "Statement[0].Sid: must be a string, got a number",
    ),
    (
        Identity,
        r#"{"Statement": [{"Sid": "A", "Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Sid": "B", "Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Sid": "A", "Effect": "Deny", "Action": "*", "Resource": "*"}]}"#,
        r#"Statement[2].Sid: duplicate Sid "A" (also Statement[0])"#,
    ),
    (
        Identity,
        r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}}"#,
        "Statement[0]: Principal is not allowed in an identity policy …",
    ),
    (
        Identity,
        r#"{"Statement": {"Effect": "Allow", "NotPrincipal": "*", "Action": "*", "Resource": "*"}}"#,
        "Statement[0]: NotPrincipal is not allowed in an identity policy …",
    ),
    (
        Resource,
        r#"{"Statement": {"Effect": "Deny", "NotPrincipal": {"AWS": "123456789012"}, "Action": "*"}}"#,
        "Statement[0]: NotPrincipal is not supported …",
    ),
    (
        Resource,
        r#"{"Statement": {"Effect": "Allow", "Action": "*"}}"#,
        "Statement[0]: missing Principal (required in a resource policy)",
    ),
    (
        Resource,
        r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/*"}, "Action": "*"}}"#,
        r#"Statement[0].Principal.AWS: wildcards are only allowed as the whole principal "*", got "arn:aws:iam::123456789012:user/*""#,
    ),
    (
        Resource,
        r#"{"Statement": {"Effect": "Allow", "Principal": {"Service": "ecr.amazonaws.com"}, "Action": "*"}}"#,
        r#"Statement[0].Principal: principal type "Service" is not supported (berth knows only "AWS" principals)"#,
    ),
    (Identity, r#"{"Statement": {"Effect": "Allow", "Resource": "*"}}"#, "Statement[0]: missing Action (or NotAction)"),
    (
        Identity,
        r#"{"Statement": {"Effect": "Allow", "Action": "*", "NotAction": "ecr:*", "Resource": "*"}}"#,
        "Statement[0]: has both Action and NotAction; use one",
    ),
    (
        Identity,
        r#"{"Statement": {"Effect": "Allow", "Action": [], "Resource": "*"}}"#,
        "Statement[0].Action: must not be empty",
    ),
    (
        Identity,
        r#"{"Statement": {"Effect": "Allow", "Action": ["ecr:*", 7], "Resource": "*"}}"#,
        "Statement[0].Action[1]: must be a string, got a number",
    ),
    (
        Identity,
        r#"{"Statement": {"Effect": "Allow", "Action": ["ecr:*", "s3:GetObject"], "Resource": "*"}}"#,
        r#"Statement[0].Action[1]: unknown service "s3" in "s3:GetObject" (berth policies know "ecr" and "berth" actions)"#,
    ),
    (
        Identity,
        r#"{"Statement": {"Effect": "Allow", "Action": "BatchGetImage", "Resource": "*"}}"#,
        r#"Statement[0].Action: "BatchGetImage" is not an action (expected "service:Name", e.g. "ecr:BatchGetImage", or "*")"#,
    ),
    (
        Identity,
        r#"{"Statement": {"Effect": "Allow", "Action": "ecr:", "Resource": "*"}}"#,
        r#"Statement[0].Action: "ecr:" is not an action name …"#,
    ),
    (
        Identity,
        r#"{"Statement": {"Effect": "Allow", "Action": "*"}}"#,
        "Statement[0]: missing Resource (or NotResource), required in an identity policy",
    ),
    (
        Identity,
        r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "NotResource": "*"}}"#,
        "Statement[0]: has both Resource and NotResource; use one",
    ),
    (
        Identity,
        r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": ["*", "arn:aws:s3:::b"]}}"#,
        r#"Statement[0].Resource[1]: "arn:aws:s3:::b" is not a berth ARN (expected "*" or an ARN starting with arn:aws:ecr:, arn:aws:iam:, arn:aws:berth:)"#,
    ),
    (
        Identity,
        r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:ecr:us-east-1"}}"#,
        r#"Statement[0].Resource: "arn:aws:ecr:us-east-1" is not a complete ARN (expected arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE)"#,
    ),
    (
        Identity,
        r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:ecr:*:*:repository/${aws:username}"}}"#,
        r#"Statement[0].Resource: "arn:aws:ecr:*:*:repository/${aws:username}": policy variables ("${...}") need "Version": "2012-10-17""#,
    ),
    (
        Identity,
        r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:ecr:*:*:repository/${aws:userid}"}}"#,
        r#"Statement[0].Resource: "arn:aws:ecr:*:*:repository/${aws:userid}": unknown policy variable "${aws:userid}" …"#,
    ),
    (
        Identity,
        r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"NumericEquals": {"aws:EpochTime": 1}}}]}"#,
        r#"Statement[2].Condition: unsupported operator "NumericEquals""#,
    ),
    (
        Identity,
        r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"aws:RequestTag/x": "y"}}}}"#,
        r#"Statement[0].Condition.StringEquals: unknown condition key "aws:RequestTag/x" …"#,
    ),
    (
        Identity,
        r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/40"}}}}"#,
        r#"Statement[0].Condition.IpAddress.aws:SourceIp: "10.0.0.0/40" is not an IP address or CIDR block"#,
    ),
    (
        Identity,
        r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"DateLessThan": {"aws:CurrentTime": ["2026-01-01T00:00:00Z", "2026-13-01T00:00:00Z"]}}}}"#,
        r#"Statement[0].Condition.DateLessThan.aws:CurrentTime[1]: "2026-13-01T00:00:00Z" is not a date …"#,
    ),
    (
        Identity,
        r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SourceIp": "true"}}}}"#,
        "Statement[0].Condition.Bool.aws:SourceIp: Bool cannot test aws:SourceIp, which is an IP address; use one of IpAddress, NotIpAddress",
    ),
    (
        Identity,
        r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": "aws:SecureTransport"}}"#,
        "Statement[0].Condition: must be an object of operators, got a string",
    ),
];

#[test]
fn malformed_documents_are_rejected_with_precise_messages() {
    let mut failures = Vec::new();
    for (kind, text, expected) in CASES {
        let message = match PolicyDocument::parse(text, *kind) {
            Ok(_) => "<accepted>".to_owned(),
            Err(e) => e.to_string(),
        };
        let ok = match expected.strip_suffix(" …") {
            Some(prefix) => message.starts_with(prefix),
            None => message == *expected,
        };
        if !ok {
            failures.push(format!("{text}\n  expected: {expected}\n  got:      {message}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), CASES.len(), failures.join("\n"));
    assert!(CASES.len() >= 15);
}

#[test]
fn well_formed_documents_are_accepted() {
    let ok = [
        (Identity, r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#),
        (
            Identity,
            r#"{"Version": "2008-10-17", "Id": "x", "Statement": [{"Sid": "", "Effect": "Deny", "NotAction": ["ECR:Batch*", "berth:?ist*"],
                "NotResource": ["arn:aws:iam::123456789012:user/*", "arn:aws:berth:us-east-1:123456789012:registry"]},
                {"Sid": "", "Effect": "Allow", "Action": "ecr:*", "Resource": "*", "Condition": {}}]}"#,
        ),
        (
            Resource,
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["123456789012",
            "arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:user/alice"]}, "Action": "ecr:*",
            "Resource": "arn:aws:ecr:us-east-1:123456789012:repository/${aws:username}/*",
            "Condition": {"StringLikeIfExists": {"aws:PrincipalArn": ["${aws:PrincipalArn}", "arn:*"]},
                "DateGreaterThan": {"aws:CurrentTime": "2026-01-01"}, "BoolIfExists": {"aws:SecureTransport": true},
                "NotIpAddressIfExists": {"aws:SourceIp": ["::1", "fe80::/10", "127.0.0.1"]}}}]}"#,
        ),
    ];
    for (kind, text) in ok {
        let doc = PolicyDocument::parse(text, kind).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(doc.kind(), kind);
        assert!(!doc.is_empty());
    }
}
