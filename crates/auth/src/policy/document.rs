//! Policy documents: parsing and validation.
//!
//! Everything that can be checked without a request is checked here, so that a document accepted by
//! [`PolicyDocument::parse`] cannot fail or surprise at evaluation time: element names and types, effects,
//! action and resource syntax, principals, condition operators, keys and values. Anything berth does not
//! support is rejected by name instead of being ignored, because an ignored element changes what a policy
//! means (an ignored `Condition` widens an Allow; an ignored `NotPrincipal` widens a Deny's exemption).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::condition::{self, Condition};
use super::context::Facts;
use super::error::PolicyError;
use super::json::{parse_strict, strings, type_name};
use super::pattern::{Pattern, Syntax};
use super::principal::PrincipalSpec;
use super::tri::Tri;

/// Who a policy is attached to, which decides whom it is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to an identity (a user, a group, a robot token's scope): it is about that identity, so its
    /// statements must not have `Principal`, and must say which resources they cover (`Resource` or
    /// `NotResource`).
    Identity,
    /// Attached to a resource (a repository policy, the registry policy): its statements say whom they are
    /// about with `Principal` (required). `Resource` is optional and, when missing, covers every resource
    /// (in practice: the one the policy is attached to).
    Resource,
}

/// The policy language version. `2012-10-17` enables policy variables; AWS reads a document without
/// `Version` as `2008-10-17`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Version {
    V2008,
    V2012,
}

/// A parsed, validated policy document, ready for [`evaluate`](super::evaluate).
#[derive(Clone, Debug)]
pub struct PolicyDocument {
    pub(crate) kind: PolicyKind,
    pub(crate) statements: Vec<Statement>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

#[derive(Clone, Debug)]
pub(crate) struct Statement {
    pub(crate) sid: Option<String>,
    pub(crate) effect: Effect,
    pub(crate) actions: Targets,
    /// `None`: a resource-policy statement without `Resource`, which covers every resource.
    pub(crate) resources: Option<Targets>,
    /// `Some` exactly for resource-policy statements.
    pub(crate) principal: Option<PrincipalSpec>,
    /// All must hold.
    pub(crate) conditions: Vec<Condition>,
}

/// `Action`/`NotAction` or `Resource`/`NotResource`: patterns, of which one must match (or, negated, none).
#[derive(Clone, Debug)]
pub(crate) struct Targets {
    negated: bool,
    patterns: Vec<Pattern>,
}

impl Targets {
    pub(crate) fn matches(&self, text: &str, facts: &Facts<'_>) -> Tri {
        let any = Tri::any(self.patterns.iter().map(|p| p.matches(text, facts)));
        if self.negated { any.not() } else { any }
    }
}

const TOP_LEVEL_KEYS: [&str; 3] = ["Version", "Id", "Statement"];
const STATEMENT_KEYS: [&str; 9] =
    ["Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal", "Condition"];
const SERVICES: [&str; 2] = ["ecr", "berth"];
const ARN_PREFIXES: [&str; 3] = ["arn:aws:ecr:", "arn:aws:iam:", "arn:aws:berth:"];

impl PolicyDocument {
    /// Parses and validates a policy document of `kind`. The error names the element at fault and the
    /// problem, e.g. `Statement[0].Resource[1]: "arn:aws:s3:::b" is not a berth ARN (...)`.
    pub fn parse(json: &str, kind: PolicyKind) -> Result<PolicyDocument, PolicyError> {
        let value = parse_strict(json)?;
        let Value::Object(top) = value else {
            return Err(PolicyError::at(
                "",
                format!("a policy document must be a JSON object, got {}", type_name(&value)),
            ));
        };
        check_keys(&top, &TOP_LEVEL_KEYS, "", "top-level key")?;
        let version = match top.get("Version") {
            None => Version::V2008,
            Some(Value::String(v)) if v == "2012-10-17" => Version::V2012,
            Some(Value::String(v)) if v == "2008-10-17" => Version::V2008,
            Some(Value::String(v)) => {
                return Err(PolicyError::at("Version", format!(r#"must be "2012-10-17" or "2008-10-17", got "{v}""#)));
            }
            Some(other) => {
                return Err(PolicyError::at("Version", format!("must be a string, got {}", type_name(other))));
            }
        };
        if let Some(id) = top.get("Id").filter(|id| !id.is_string()) {
            return Err(PolicyError::at("Id", format!("must be a string, got {}", type_name(id))));
        }
        let items: Vec<&Value> = match top.get("Statement") {
            None => return Err(PolicyError::at("", "missing Statement")),
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(PolicyError::at("Statement", "must contain at least one statement"));
            }
            Some(Value::Array(items)) => items.iter().collect(),
            Some(single) => vec![single],
        };
        let mut statements = Vec::with_capacity(items.len());
        let mut sids: HashMap<String, usize> = HashMap::new();
        for (index, item) in items.into_iter().enumerate() {
            let path = format!("Statement[{index}]");
            let statement = parse_statement(item, &path, kind, version)?;
            // Sids name statements in decisions and audit records, so two statements must not share one.
            if let Some(sid) = statement.sid.as_ref().filter(|sid| !sid.is_empty())
                && let Some(first) = sids.insert(sid.clone(), index)
            {
                return Err(PolicyError::at(
                    format!("{path}.Sid"),
                    format!(r#"duplicate Sid "{sid}" (also Statement[{first}])"#),
                ));
            }
            statements.push(statement);
        }
        Ok(PolicyDocument { kind, statements })
    }

    /// The kind the document was parsed as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The number of statements.
    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// Always `false`: a document has at least one statement. (For clippy's `len_without_is_empty`.)
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }
}

/// Rejects keys outside `known`, hinting at the right spelling when only the case is wrong.
fn check_keys(object: &Map<String, Value>, known: &[&str], path: &str, what: &str) -> Result<(), PolicyError> {
    for key in object.keys() {
        if known.contains(&key.as_str()) {
            continue;
        }
        let problem = match known.iter().find(|k| k.eq_ignore_ascii_case(key)) {
            Some(right) => format!(r#"unknown {what} "{key}" (keys are case-sensitive: "{right}")"#),
            None => format!(r#"unknown {what} "{key}" (expected one of {})"#, known.join(", ")),
        };
        return Err(PolicyError::at(path, problem));
    }
    Ok(())
}

fn parse_statement(value: &Value, path: &str, kind: PolicyKind, version: Version) -> Result<Statement, PolicyError> {
    let Value::Object(st) = value else {
        return Err(PolicyError::at(path, format!("must be an object, got {}", type_name(value))));
    };
    check_keys(st, &STATEMENT_KEYS, path, "key")?;

    let sid = match st.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(PolicyError::at(format!("{path}.Sid"), format!("must be a string, got {}", type_name(other))));
        }
    };

    let effect = match st.get("Effect") {
        None => return Err(PolicyError::at(path, "missing Effect")),
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(Value::String(e)) => {
            return Err(PolicyError::at(format!("{path}.Effect"), format!(r#"must be "Allow" or "Deny", got "{e}""#)));
        }
        Some(other) => {
            return Err(PolicyError::at(
                format!("{path}.Effect"),
                format!(r#"must be "Allow" or "Deny", got {}"#, type_name(other)),
            ));
        }
    };

    let principal = match kind {
        PolicyKind::Identity => {
            for element in ["Principal", "NotPrincipal"] {
                if st.contains_key(element) {
                    return Err(PolicyError::at(
                        path,
                        format!(
                            "{element} is not allowed in an identity policy (it applies to the user or group it is \
                             attached to; grant by principal in a repository or registry policy)"
                        ),
                    ));
                }
            }
            None
        }
        PolicyKind::Resource => {
            if st.contains_key("NotPrincipal") {
                return Err(PolicyError::at(
                    path,
                    "NotPrincipal is not supported (use Principal, and a condition on aws:PrincipalArn to exclude \
                     callers)",
                ));
            }
            let Some(p) = st.get("Principal") else {
                return Err(PolicyError::at(path, "missing Principal (required in a resource policy)"));
            };
            Some(PrincipalSpec::parse(p, &format!("{path}.Principal"))?)
        }
    };

    let actions = match one_of(st, "Action", "NotAction", path)? {
        None => return Err(PolicyError::at(path, "missing Action (or NotAction)")),
        Some((element, negated, value)) => {
            let element_path = format!("{path}.{element}");
            let patterns = strings(value, &element_path)?
                .into_iter()
                .map(|(p, s)| action_pattern(s, &p))
                .collect::<Result<_, _>>()?;
            Targets { negated, patterns }
        }
    };

    let resources = match one_of(st, "Resource", "NotResource", path)? {
        None if kind == PolicyKind::Identity => {
            return Err(PolicyError::at(path, "missing Resource (or NotResource), required in an identity policy"));
        }
        None => None,
        Some((element, negated, value)) => {
            let element_path = format!("{path}.{element}");
            let patterns = strings(value, &element_path)?
                .into_iter()
                .map(|(p, s)| resource_pattern(s, &p, version))
                .collect::<Result<_, _>>()?;
            Some(Targets { negated, patterns })
        }
    };

    let conditions = match st.get("Condition") {
        None => Vec::new(),
        Some(block) => condition::parse_block(block, &format!("{path}.Condition"), version)?,
    };

    Ok(Statement { sid, effect, actions, resources, principal, conditions })
}

/// Which of `positive`/`negative` (e.g. `Action`/`NotAction`) the statement has: at most one.
fn one_of<'v>(
    st: &'v Map<String, Value>,
    positive: &'static str,
    negative: &'static str,
    path: &str,
) -> Result<Option<(&'static str, bool, &'v Value)>, PolicyError> {
    match (st.get(positive), st.get(negative)) {
        (Some(_), Some(_)) => Err(PolicyError::at(path, format!("has both {positive} and {negative}; use one"))),
        (Some(v), None) => Ok(Some((positive, false, v))),
        (None, Some(v)) => Ok(Some((negative, true, v))),
        (None, None) => Ok(None),
    }
}

/// `*`, or `service:Name` with `service` one of berth's (`ecr`, `berth`) and `Name` letters, digits and
/// wildcards. Matched case-insensitively, as AWS does.
fn action_pattern(s: &str, path: &str) -> Result<Pattern, PolicyError> {
    let syntax = Syntax { wildcards: true, variables: false, fold_case: true };
    if s != "*" {
        let Some((service, name)) = s.split_once(':') else {
            return Err(PolicyError::at(
                path,
                format!(r#""{s}" is not an action (expected "service:Name", e.g. "ecr:BatchGetImage", or "*")"#),
            ));
        };
        if !SERVICES.iter().any(|known| known.eq_ignore_ascii_case(service)) {
            return Err(PolicyError::at(
                path,
                format!(r#"unknown service "{service}" in "{s}" (berth policies know "ecr" and "berth" actions)"#),
            ));
        }
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?') {
            return Err(PolicyError::at(
                path,
                format!(
                    r#""{s}" is not an action name (letters, digits and the wildcards * and ? after "{service}:")"#
                ),
            ));
        }
    }
    Pattern::parse(s, syntax).map_err(|problem| PolicyError::at(path, problem))
}

/// `*`, or an ARN of a berth service (`arn:aws:ecr:`, `arn:aws:iam:`, `arn:aws:berth:`) with all six parts.
fn resource_pattern(s: &str, path: &str, version: Version) -> Result<Pattern, PolicyError> {
    let syntax = Syntax { wildcards: true, variables: version == Version::V2012, fold_case: false };
    if s != "*" {
        if !ARN_PREFIXES.iter().any(|prefix| s.starts_with(prefix)) {
            return Err(PolicyError::at(
                path,
                format!(
                    r#""{s}" is not a berth ARN (expected "*" or an ARN starting with {})"#,
                    ARN_PREFIXES.join(", ")
                ),
            ));
        }
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        if parts.len() < 6 || parts[5].is_empty() {
            return Err(PolicyError::at(
                path,
                format!(r#""{s}" is not a complete ARN (expected arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE)"#),
            ));
        }
    }
    Pattern::parse(s, syntax).map_err(|problem| PolicyError::at(path, problem))
}
