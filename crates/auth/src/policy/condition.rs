//! The `Condition` element: `{ "Operator": { "key": value-or-list } }`.
//!
//! All operators of a block must hold, and all keys within an operator; the values listed for one key are
//! alternatives. Every operator takes an `IfExists` suffix. Operators are checked against the key's type when
//! the document is parsed (`IpAddress` on `aws:username` is an error, not a condition that is always false),
//! and so are values (an invalid CIDR block or date is an error).
//!
//! A key the request does not have (no source address, an anonymous caller's `aws:username`) makes the
//! condition false, except that `...IfExists` operators and negated operators (`StringNotEquals`,
//! `StringNotLike`, `NotIpAddress`, ...) are then true: AWS's rules.

use ipnet::IpNet;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use super::context::{ContextKey, Facts, KeyKind, KeyValue};
use super::document::Version;
use super::error::PolicyError;
use super::json::{one_or_many, type_name};
use super::pattern::{Pattern, Syntax};
use super::tri::Tri;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    IpAddress,
    NotIpAddress,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
}

const OPERATORS: [(&str, Operator); 13] = [
    ("StringEquals", Operator::StringEquals),
    ("StringNotEquals", Operator::StringNotEquals),
    ("StringEqualsIgnoreCase", Operator::StringEqualsIgnoreCase),
    ("StringNotEqualsIgnoreCase", Operator::StringNotEqualsIgnoreCase),
    ("StringLike", Operator::StringLike),
    ("StringNotLike", Operator::StringNotLike),
    ("IpAddress", Operator::IpAddress),
    ("NotIpAddress", Operator::NotIpAddress),
    ("DateLessThan", Operator::DateLessThan),
    ("DateLessThanEquals", Operator::DateLessThanEquals),
    ("DateGreaterThan", Operator::DateGreaterThan),
    ("DateGreaterThanEquals", Operator::DateGreaterThanEquals),
    ("Bool", Operator::Bool),
];

impl Operator {
    /// The type of key the operator tests.
    fn kind(self) -> KeyKind {
        use Operator::*;
        match self {
            StringEquals
            | StringNotEquals
            | StringEqualsIgnoreCase
            | StringNotEqualsIgnoreCase
            | StringLike
            | StringNotLike => KeyKind::String,
            IpAddress | NotIpAddress => KeyKind::Ip,
            DateLessThan | DateLessThanEquals | DateGreaterThan | DateGreaterThanEquals => KeyKind::Date,
            Bool => KeyKind::Bool,
        }
    }

    /// Negated operators hold when *no* value matches, and when the key is missing.
    fn negated(self) -> bool {
        matches!(
            self,
            Operator::StringNotEquals
                | Operator::StringNotEqualsIgnoreCase
                | Operator::StringNotLike
                | Operator::NotIpAddress
        )
    }

    fn operators_for(kind: KeyKind) -> String {
        let names: Vec<&str> = OPERATORS.iter().filter(|(_, op)| op.kind() == kind).map(|(n, _)| *n).collect();
        names.join(", ")
    }
}

/// One `operator` test of one key, with its alternative values.
#[derive(Clone, Debug)]
pub(crate) struct Condition {
    operator: Operator,
    if_exists: bool,
    key: ContextKey,
    values: Values,
}

#[derive(Clone, Debug)]
enum Values {
    Strings(Vec<Pattern>),
    Nets(Vec<IpNet>),
    Times(Vec<OffsetDateTime>),
    Bools(Vec<bool>),
}

/// Parses a `Condition` block at `path` (`Statement[i].Condition`) into the list of tests it requires.
pub(crate) fn parse_block(value: &Value, path: &str, version: Version) -> Result<Vec<Condition>, PolicyError> {
    let Value::Object(block) = value else {
        return Err(PolicyError::at(path, format!("must be an object of operators, got {}", type_name(value))));
    };
    let mut conditions = Vec::new();
    for (name, tests) in block {
        let (operator, if_exists) = parse_operator(name).map_err(|problem| PolicyError::at(path, problem))?;
        let op_path = format!("{path}.{name}");
        let Value::Object(tests) = tests else {
            return Err(PolicyError::at(
                op_path,
                format!("must be an object of condition keys, got {}", type_name(tests)),
            ));
        };
        if tests.is_empty() {
            return Err(PolicyError::at(op_path, "must test at least one condition key"));
        }
        for (key_name, values) in tests {
            let Some(key) = ContextKey::parse(key_name) else {
                return Err(PolicyError::at(
                    op_path,
                    format!(r#"unknown condition key "{key_name}" (known: {})"#, ContextKey::known_names()),
                ));
            };
            let key_path = format!("{op_path}.{key_name}");
            if key.kind() != operator.kind() {
                return Err(PolicyError::at(
                    key_path,
                    format!(
                        "{name} cannot test {}, which is {}; use one of {}",
                        key.name(),
                        key.kind().describe(),
                        Operator::operators_for(key.kind())
                    ),
                ));
            }
            let values = parse_values(operator, values, &key_path, version)?;
            conditions.push(Condition { operator, if_exists, key, values });
        }
    }
    Ok(conditions)
}

/// `StringEqualsIfExists` → `(StringEquals, true)`.
fn parse_operator(name: &str) -> Result<(Operator, bool), String> {
    let (base, if_exists) = match name.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (name, false),
    };
    if let Some((_, op)) = OPERATORS.iter().find(|(n, _)| *n == base) {
        return Ok((*op, if_exists));
    }
    if name.starts_with("ForAnyValue:") || name.starts_with("ForAllValues:") {
        return Err(format!(r#"unsupported operator "{name}" (every berth condition key has a single value)"#));
    }
    let lower = name.to_ascii_lowercase();
    let (lower_base, suffix) = match lower.strip_suffix("ifexists") {
        Some(base) => (base, "IfExists"),
        None => (lower.as_str(), ""),
    };
    if let Some((n, _)) = OPERATORS.iter().find(|(n, _)| n.eq_ignore_ascii_case(lower_base)) {
        return Err(format!(r#"unsupported operator "{name}" (operators are case-sensitive: "{n}{suffix}")"#));
    }
    Err(format!(r#"unsupported operator "{name}""#))
}

fn parse_values(operator: Operator, value: &Value, path: &str, version: Version) -> Result<Values, PolicyError> {
    let items = one_or_many(value, path)?;
    let fail = |item_path: &str, problem: String| PolicyError::at(item_path, problem);
    Ok(match operator.kind() {
        KeyKind::String => {
            let syntax = Syntax {
                wildcards: matches!(operator, Operator::StringLike | Operator::StringNotLike),
                variables: version == Version::V2012,
                fold_case: matches!(operator, Operator::StringEqualsIgnoreCase | Operator::StringNotEqualsIgnoreCase),
            };
            let mut patterns = Vec::with_capacity(items.len());
            for (item_path, item) in items {
                // AWS reads numbers and booleans in string conditions as their text.
                let text = match item {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    other => return Err(fail(&item_path, format!("must be a string, got {}", type_name(other)))),
                };
                patterns.push(Pattern::parse(&text, syntax).map_err(|problem| fail(&item_path, problem))?);
            }
            Values::Strings(patterns)
        }
        KeyKind::Ip => Values::Nets(
            items
                .into_iter()
                .map(|(item_path, item)| parse_net(item).map_err(|problem| fail(&item_path, problem)))
                .collect::<Result<_, _>>()?,
        ),
        KeyKind::Date => Values::Times(
            items
                .into_iter()
                .map(|(item_path, item)| parse_time(item).map_err(|problem| fail(&item_path, problem)))
                .collect::<Result<_, _>>()?,
        ),
        KeyKind::Bool => Values::Bools(
            items
                .into_iter()
                .map(|(item_path, item)| parse_bool(item).map_err(|problem| fail(&item_path, problem)))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// A CIDR block (`10.0.0.0/8`, `2001:db8::/32`) or a single address (`/32` or `/128`).
fn parse_net(value: &Value) -> Result<IpNet, String> {
    let Value::String(s) = value else {
        return Err(format!("must be an IP address or CIDR block string, got {}", type_name(value)));
    };
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net);
    }
    s.parse::<std::net::IpAddr>().map(IpNet::from).map_err(|_| format!(r#""{s}" is not an IP address or CIDR block"#))
}

/// RFC 3339 (`2026-01-01T00:00:00Z`), a date (`2026-01-01`, midnight UTC), or Unix seconds (a number or a
/// string of digits).
fn parse_time(value: &Value) -> Result<OffsetDateTime, String> {
    const EXPECTED: &str =
        r#"expected RFC 3339 like "2026-01-01T00:00:00Z", a date like "2026-01-01", or Unix seconds"#;
    let from_epoch = |secs: i64| OffsetDateTime::from_unix_timestamp(secs).ok();
    let parsed = match value {
        Value::Number(n) => n.as_i64().and_then(from_epoch),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<i64>().ok().and_then(from_epoch)
        }
        Value::String(s) => OffsetDateTime::parse(s, &Rfc3339).ok().or_else(|| {
            Date::parse(s, format_description!("[year]-[month]-[day]")).ok().map(|d| d.midnight().assume_utc())
        }),
        other => return Err(format!("must be a date, got {}; {EXPECTED}", type_name(other))),
    };
    parsed.ok_or_else(|| format!("{value} is not a date ({EXPECTED})"))
}

fn parse_bool(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(format!(r#"{other} is not a boolean (expected true, false, "true" or "false")"#)),
    }
}

impl Condition {
    /// Whether the request satisfies this test.
    pub(crate) fn evaluate(&self, facts: &Facts<'_>) -> Tri {
        let Some(actual) = facts.get(self.key) else {
            return Tri::from(self.if_exists || self.operator.negated());
        };
        let any = match (&self.values, actual) {
            (Values::Strings(patterns), KeyValue::Str(s)) => Tri::any(patterns.iter().map(|p| p.matches(s, facts))),
            (Values::Nets(nets), KeyValue::Ip(ip)) => Tri::from(nets.iter().any(|net| net.contains(&ip))),
            (Values::Times(times), KeyValue::Time(now)) => Tri::from(times.iter().any(|t| match self.operator {
                Operator::DateLessThan => now < *t,
                Operator::DateLessThanEquals => now <= *t,
                Operator::DateGreaterThan => now > *t,
                Operator::DateGreaterThanEquals => now >= *t,
                _ => false,
            })),
            (Values::Bools(bools), KeyValue::Bool(b)) => Tri::from(bools.contains(&b)),
            // Unreachable: parse_block checks that the operator fits the key's type.
            _ => Tri::No,
        };
        if self.operator.negated() { any.not() } else { any }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::context::RequestContext;
    use crate::policy::principal::Principal;
    use serde_json::json;
    use time::macros::datetime;

    const ALICE: Principal = Principal::User { arn: "arn:aws:iam::123456789012:user/alice" };

    fn context(ip: Option<&str>) -> RequestContext {
        RequestContext {
            source_ip: ip.map(|s| s.parse().unwrap()),
            current_time: datetime!(2026-01-01 00:00:00 UTC),
            secure_transport: true,
        }
    }

    /// Evaluates a Condition block (parsed as 2012-10-17) for `principal` and `ctx`.
    fn holds(block: Value, principal: Principal<'_>, ctx: &RequestContext) -> Tri {
        let conditions = parse_block(&block, "Condition", Version::V2012).unwrap();
        let facts = Facts::new(&principal, ctx);
        Tri::all(conditions.iter().map(|c| c.evaluate(&facts)))
    }

    fn user(block: Value) -> Tri {
        holds(block, ALICE, &context(Some("10.1.2.3")))
    }

    fn anon(block: Value) -> Tri {
        holds(block, Principal::Anonymous, &context(None))
    }

    fn error(block: Value) -> String {
        parse_block(&block, "Statement[2].Condition", Version::V2012).unwrap_err().to_string()
    }

    #[test]
    fn string_operators() {
        use Tri::*;
        assert_eq!(user(json!({"StringEquals": {"aws:username": "alice"}})), Yes);
        assert_eq!(user(json!({"StringEquals": {"aws:username": "Alice"}})), No);
        assert_eq!(user(json!({"StringEquals": {"aws:username": ["bob", "alice"]}})), Yes);
        assert_eq!(user(json!({"StringEquals": {"aws:username": "ali*"}})), No);
        assert_eq!(user(json!({"StringNotEquals": {"aws:username": ["bob", "carol"]}})), Yes);
        assert_eq!(user(json!({"StringNotEquals": {"aws:username": ["bob", "alice"]}})), No);
        assert_eq!(user(json!({"StringEqualsIgnoreCase": {"aws:username": "ALICE"}})), Yes);
        assert_eq!(user(json!({"StringEqualsIgnoreCase": {"aws:username": "AL*"}})), No);
        assert_eq!(user(json!({"StringNotEqualsIgnoreCase": {"aws:username": "ALICE"}})), No);
        assert_eq!(user(json!({"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/a?ice"}})), Yes);
        assert_eq!(user(json!({"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/b*"}})), No);
        assert_eq!(user(json!({"StringNotLike": {"aws:PrincipalArn": "*:user/b*"}})), Yes);
        assert_eq!(user(json!({"StringNotLike": {"aws:PrincipalArn": ["*:user/b*", "*:user/a*"]}})), No);
        assert_eq!(user(json!({"StringEquals": {"aws:PrincipalType": "User"}})), Yes);
        assert_eq!(anon(json!({"StringEquals": {"aws:PrincipalType": "Anonymous"}})), Yes);
        assert_eq!(user(json!({"StringEquals": {"AWS:USERNAME": "alice"}})), Yes, "keys are case-insensitive");
    }

    #[test]
    fn all_operators_and_keys_must_hold() {
        use Tri::*;
        let both = json!({
            "StringEquals": {"aws:username": "alice", "aws:PrincipalType": "User"},
            "Bool": {"aws:SecureTransport": true}
        });
        assert_eq!(user(both), Yes);
        let one_fails = json!({"StringEquals": {"aws:username": "alice", "aws:PrincipalType": "Anonymous"}});
        assert_eq!(user(one_fails), No);
        let other_op_fails = json!({"StringEquals": {"aws:username": "alice"}, "Bool": {"aws:SecureTransport": false}});
        assert_eq!(user(other_op_fails), No);
    }

    #[test]
    fn missing_keys_follow_aws_rules() {
        use Tri::*;
        assert_eq!(anon(json!({"StringEquals": {"aws:username": "alice"}})), No);
        assert_eq!(anon(json!({"StringLike": {"aws:username": "*"}})), No);
        assert_eq!(anon(json!({"StringEqualsIfExists": {"aws:username": "alice"}})), Yes);
        assert_eq!(anon(json!({"StringNotEquals": {"aws:username": "alice"}})), Yes);
        assert_eq!(anon(json!({"StringNotLike": {"aws:PrincipalArn": "*"}})), Yes);
        assert_eq!(anon(json!({"StringNotEqualsIgnoreCase": {"aws:username": "alice"}})), Yes);
        assert_eq!(anon(json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})), No);
        assert_eq!(anon(json!({"IpAddressIfExists": {"aws:SourceIp": "10.0.0.0/8"}})), Yes);
        assert_eq!(anon(json!({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})), Yes);
        // Present keys are tested normally, IfExists or not.
        assert_eq!(user(json!({"StringEqualsIfExists": {"aws:username": "bob"}})), No);
        assert_eq!(user(json!({"IpAddressIfExists": {"aws:SourceIp": "10.0.0.0/8"}})), Yes);
    }

    #[test]
    fn ip_operators_v4_and_v6() {
        use Tri::*;
        let at = |ip: &str, block: Value| holds(block, ALICE, &context(Some(ip)));
        assert_eq!(at("10.1.2.3", json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})), Yes);
        assert_eq!(at("11.1.2.3", json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})), No);
        assert_eq!(at("11.1.2.3", json!({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "11.1.2.3"]}})), Yes);
        assert_eq!(at("11.1.2.4", json!({"IpAddress": {"aws:SourceIp": "11.1.2.3"}})), No);
        assert_eq!(at("10.1.2.3", json!({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})), No);
        assert_eq!(at("192.168.0.1", json!({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}})), Yes);
        assert_eq!(at("2001:db8::1", json!({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}})), Yes);
        assert_eq!(at("2001:db9::1", json!({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}})), No);
        assert_eq!(at("2001:db8::1", json!({"IpAddress": {"aws:SourceIp": "2001:db8::1"}})), Yes);
        assert_eq!(at("2001:db8::1", json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})), No);
        assert_eq!(at("10.0.0.1", json!({"IpAddress": {"aws:SourceIp": "::/0"}})), No, "families do not mix");
        // A dual-stack listener reports IPv4 clients as IPv4-mapped IPv6 addresses.
        assert_eq!(at("::ffff:10.1.2.3", json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})), Yes);
        // Host bits in a CIDR block are ignored, as in AWS.
        assert_eq!(at("10.9.9.9", json!({"IpAddress": {"aws:SourceIp": "10.1.2.3/8"}})), Yes);
    }

    #[test]
    fn date_operators_at_boundaries() {
        use Tri::*;
        let at = |now: OffsetDateTime, block: Value| {
            let ctx = RequestContext { current_time: now, ..context(None) };
            holds(block, ALICE, &ctx)
        };
        let t = datetime!(2026-01-01 00:00:00 UTC);
        let before = datetime!(2025-12-31 23:59:59.999 UTC);
        let after = datetime!(2026-01-01 00:00:00.001 UTC);
        for value in [json!("2026-01-01T00:00:00Z"), json!(1767225600), json!("1767225600"), json!("2026-01-01")] {
            let k = "aws:CurrentTime";
            assert_eq!(at(before, json!({"DateLessThan": {k: value}})), Yes);
            assert_eq!(at(t, json!({"DateLessThan": {k: value}})), No);
            assert_eq!(at(t, json!({"DateLessThanEquals": {k: value}})), Yes);
            assert_eq!(at(after, json!({"DateLessThanEquals": {k: value}})), No);
            assert_eq!(at(t, json!({"DateGreaterThan": {k: value}})), No);
            assert_eq!(at(after, json!({"DateGreaterThan": {k: value}})), Yes);
            assert_eq!(at(t, json!({"DateGreaterThanEquals": {k: value}})), Yes);
            assert_eq!(at(before, json!({"DateGreaterThanEquals": {k: value}})), No);
        }
        // Offsets are honoured: 01:00+01:00 is midnight UTC.
        assert_eq!(at(t, json!({"DateGreaterThanEquals": {"aws:CurrentTime": "2026-01-01T01:00:00+01:00"}})), Yes);
        assert_eq!(at(before, json!({"DateGreaterThanEquals": {"aws:CurrentTime": "2026-01-01T01:00:00+01:00"}})), No);
        // aws:EpochTime is whole seconds: 00:00:00.001 is still 1767225600.
        assert_eq!(at(after, json!({"DateLessThanEquals": {"aws:EpochTime": 1767225600}})), Yes);
        assert_eq!(at(after, json!({"DateLessThanEquals": {"aws:CurrentTime": 1767225600}})), No);
        // Values are alternatives.
        assert_eq!(at(t, json!({"DateLessThan": {"aws:CurrentTime": ["2020-01-01", "2027-01-01"]}})), Yes);
    }

    #[test]
    fn bool_operator() {
        use Tri::*;
        let tls = context(None);
        let plain = RequestContext { secure_transport: false, ..context(None) };
        for (value, on_tls) in [(json!(true), Yes), (json!("true"), Yes), (json!(false), No), (json!("False"), No)] {
            assert_eq!(holds(json!({"Bool": {"aws:SecureTransport": value}}), ALICE, &tls), on_tls);
            assert_eq!(holds(json!({"Bool": {"aws:SecureTransport": value}}), ALICE, &plain), on_tls.not());
        }
        assert_eq!(holds(json!({"BoolIfExists": {"aws:SecureTransport": "true"}}), ALICE, &plain), No);
    }

    #[test]
    fn variables_in_condition_values() {
        use Tri::*;
        assert_eq!(user(json!({"StringLike": {"aws:PrincipalArn": "*:user/${aws:username}"}})), Yes);
        assert_eq!(anon(json!({"StringEquals": {"aws:PrincipalType": "${aws:username}"}})), Unknown);
        assert_eq!(anon(json!({"StringEquals": {"aws:PrincipalType": ["${aws:username}", "Anonymous"]}})), Yes);
        assert_eq!(anon(json!({"StringNotEquals": {"aws:PrincipalType": "${aws:username}"}})), Unknown);
        let v2008 = parse_block(&json!({"StringEquals": {"aws:username": "${aws:username}"}}), "C", Version::V2008);
        assert!(v2008.unwrap_err().to_string().contains(r#"need "Version": "2012-10-17""#));
    }

    #[test]
    fn malformed_conditions_are_named() {
        assert_eq!(
            error(json!({"NumericEquals": {"aws:EpochTime": 1}})),
            r#"Statement[2].Condition: unsupported operator "NumericEquals""#
        );
        assert!(error(json!({"stringEquals": {"aws:username": "a"}})).contains(r#"case-sensitive: "StringEquals""#));
        assert!(error(json!({"stringequalsifexists": {"aws:username": "a"}})).contains(r#""StringEqualsIfExists""#));
        assert!(error(json!({"ForAnyValue:StringEquals": {"aws:username": "a"}})).contains("single value"));
        assert_eq!(
            error(json!({"StringEquals": {"aws:userid": "a"}})),
            format!(
                r#"Statement[2].Condition.StringEquals: unknown condition key "aws:userid" (known: {})"#,
                ContextKey::known_names()
            )
        );
        assert_eq!(
            error(json!({"IpAddress": {"aws:username": "10.0.0.0/8"}})),
            "Statement[2].Condition.IpAddress.aws:username: IpAddress cannot test aws:username, which is a string; \
             use one of StringEquals, StringNotEquals, StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike, \
             StringNotLike"
        );
        assert_eq!(
            error(json!({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "10.0.0.0/33"]}})),
            r#"Statement[2].Condition.IpAddress.aws:SourceIp[1]: "10.0.0.0/33" is not an IP address or CIDR block"#
        );
        assert!(error(json!({"IpAddress": {"aws:SourceIp": 10}})).contains("got a number"));
        assert!(
            error(json!({"DateLessThan": {"aws:CurrentTime": "tomorrow"}}))
                .starts_with(r#"Statement[2].Condition.DateLessThan.aws:CurrentTime: "tomorrow" is not a date"#)
        );
        assert!(error(json!({"DateLessThan": {"aws:CurrentTime": 1.5}})).contains("1.5 is not a date"));
        assert!(error(json!({"Bool": {"aws:SecureTransport": "yes"}})).contains(r#""yes" is not a boolean"#));
        assert!(error(json!({"StringEquals": {"aws:username": []}})).contains("aws:username: must not be empty"));
        assert!(error(json!({"StringEquals": {"aws:username": null}})).contains("must be a string, got null"));
        assert!(error(json!({"StringEquals": {}})).contains("at least one condition key"));
        assert!(error(json!({"StringEquals": "alice"})).contains("must be an object of condition keys"));
        assert!(error(json!(["StringEquals"])).contains("must be an object of operators"));
        assert!(parse_block(&json!({}), "C", Version::V2012).unwrap().is_empty());
    }
}
