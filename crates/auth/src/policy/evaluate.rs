//! Deciding a request against a set of policies, as AWS IAM does within one account.
//!
//! 1. Every statement that applies to the request is collected: its `Action`, `Resource`, `Principal`
//!    (resource policies) and every condition match.
//! 2. Any applicable `Deny` → [`Decision::ExplicitDeny`]: nothing can override it.
//! 3. Else any applicable `Allow`, from an identity or a resource policy → [`Decision::Allow`].
//! 4. Else [`Decision::ImplicitDeny`]: nothing is allowed unless a policy says so.
//!
//! Identity policies are about the caller (the caller of `evaluate` passes only the caller's policies);
//! resource policies are about whoever their `Principal` names. An anonymous caller has no identity, so an
//! identity-policy `Allow` never applies to one (its `Deny`s still do): anonymous callers are allowed only by
//! resource policies whose `Principal` is `"*"`.
//!
//! A statement whose match depends on a policy variable the request cannot fill (`${aws:username}` for an
//! anonymous caller) applies if it is a `Deny` and not if it is an `Allow`: a policy that cannot be read for
//! this request never grants anything, and never stops denying.

use std::fmt;

use super::context::{Facts, RequestContext};
use super::document::{Effect, PolicyDocument, PolicyKind, Statement};
use super::principal::Principal;
use super::tri::Tri;

/// One request to decide.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub principal: Principal<'a>,
    /// The action, e.g. `ecr:BatchGetImage`; matched case-insensitively.
    pub action: &'a str,
    /// The resource's ARN, e.g. `arn:aws:ecr:us-east-1:123456789012:repository/team/app`, or `*` for
    /// actions on no particular resource (`berth:ListUsers`); matched case-sensitively.
    pub resource: &'a str,
    pub context: &'a RequestContext,
}

/// The statement behind a decision, for error messages and the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementRef {
    /// The label the caller gave the document (e.g. `"user policy"`, `"repository policy"`).
    pub source: String,
    /// The statement's position in the document's `Statement` list (0 when it is a single object).
    pub index: usize,
    pub sid: Option<String>,
}

impl fmt::Display for StatementRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} Statement[{}]", self.source, self.index)?;
        match &self.sid {
            Some(sid) if !sid.is_empty() => write!(f, r#" (Sid "{sid}")"#),
            _ => Ok(()),
        }
    }
}

/// The outcome of [`evaluate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed by this statement (the first applicable `Allow`), and no `Deny` applies.
    Allow { by: StatementRef },
    /// Denied by this statement (the first applicable `Deny`).
    ExplicitDeny { by: StatementRef },
    /// No statement allows the request.
    ImplicitDeny,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }
}

/// Decides `request` against `policies`, each with a label for [`StatementRef::source`]. Identity policies
/// (by [`PolicyDocument::kind`]) must be the caller's own; resource policies are those of the resource (the
/// repository's policy and the registry's). "First" in a decision follows the order of `policies`, then of
/// statements; the outcome (allow or deny) does not depend on any order.
///
/// To *limit* an identity (a robot token scoped below its owner's rights, a permissions boundary), evaluate
/// the limit separately and require both decisions to allow: policies passed together are a union.
pub fn evaluate(request: &Request<'_>, policies: &[(&str, &PolicyDocument)]) -> Decision {
    let facts = Facts::new(&request.principal, request.context);
    let mut allowed_by = None;
    for (label, document) in policies {
        for (index, statement) in document.statements.iter().enumerate() {
            if !applies(document.kind, statement, request, &facts) {
                continue;
            }
            let by = || StatementRef { source: (*label).to_owned(), index, sid: statement.sid.clone() };
            match statement.effect {
                Effect::Deny => return Decision::ExplicitDeny { by: by() },
                Effect::Allow if allowed_by.is_none() => allowed_by = Some(by()),
                Effect::Allow => {}
            }
        }
    }
    match allowed_by {
        Some(by) => Decision::Allow { by },
        None => Decision::ImplicitDeny,
    }
}

/// Whether `statement`, from a document of `kind`, applies to `request`.
fn applies(kind: PolicyKind, statement: &Statement, request: &Request<'_>, facts: &Facts<'_>) -> bool {
    let about_caller = match (kind, &statement.principal) {
        (PolicyKind::Resource, Some(principal)) => principal.matches(&request.principal),
        (PolicyKind::Resource, None) => false,
        (PolicyKind::Identity, _) => !(request.principal == Principal::Anonymous && statement.effect == Effect::Allow),
    };
    if !about_caller {
        return false;
    }
    let mut matched = statement.actions.matches(request.action, facts);
    if matched == Tri::No {
        return false;
    }
    if let Some(resources) = &statement.resources {
        matched = matched.and(resources.matches(request.resource, facts));
        if matched == Tri::No {
            return false;
        }
    }
    matched = matched.and(Tri::all(statement.conditions.iter().map(|c| c.evaluate(facts))));
    match matched {
        Tri::Yes => true,
        Tri::No => false,
        Tri::Unknown => statement.effect == Effect::Deny,
    }
}
