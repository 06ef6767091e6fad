//! IAM-style policies: parsing, validation and evaluation, as AWS IAM does for requests within one account.
//!
//! The engine is pure: it reads no clock and no socket (time, address and TLS come in a
//! [`RequestContext`]), and it knows nothing of admins, users or repositories beyond what a request says.
//!
//! ```
//! use berth_auth::policy::{evaluate, Decision, PolicyDocument, PolicyKind, Principal, Request, RequestContext};
//!
//! let repository_policy = PolicyDocument::parse(
//!     r#"{"Version": "2012-10-17", "Statement": [{"Sid": "PublicPull", "Effect": "Allow", "Principal": "*",
//!         "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]}"#,
//!     PolicyKind::Resource,
//! )?;
//! let context = RequestContext {
//!     source_ip: None,
//!     current_time: time::macros::datetime!(2026-01-01 0:00 UTC),
//!     secure_transport: true,
//! };
//! let request = Request {
//!     principal: Principal::Anonymous,
//!     action: "ecr:BatchGetImage",
//!     resource: "arn:aws:ecr:us-east-1:123456789012:repository/team/app",
//!     context: &context,
//! };
//! let decision = evaluate(&request, &[("repository policy", &repository_policy)]);
//! assert!(decision.is_allowed());
//! # Ok::<(), berth_auth::policy::PolicyError>(())
//! ```
//!
//! What is supported:
//! - Documents: `Version` (`2012-10-17`, or `2008-10-17`/missing which disables policy variables), `Id`,
//!   `Statement` (an object or an array); statements with `Sid`, `Effect`, `Action`/`NotAction`,
//!   `Resource`/`NotResource`, `Principal` (resource policies), `Condition`.
//! - Actions of the `ecr` and `berth` services, matched case-insensitively; resources `*` and `arn:aws:ecr:`,
//!   `arn:aws:iam:`, `arn:aws:berth:` ARNs, matched case-sensitively; both with `*` and `?` wildcards.
//! - Principals `"*"`, `{"AWS": "*"}` (both include anonymous callers), account ids,
//!   `arn:aws:iam::ACCOUNT:root`, `arn:aws:iam::ACCOUNT:user/NAME`.
//! - Condition operators `String(Not)Equals`, `String(Not)EqualsIgnoreCase`, `String(Not)Like`,
//!   `(Not)IpAddress`, `DateLessThan(Equals)`, `DateGreaterThan(Equals)`, `Bool`, each with `IfExists`; keys
//!   `aws:SourceIp`, `aws:CurrentTime`, `aws:EpochTime`, `aws:SecureTransport`, `aws:username`,
//!   `aws:PrincipalArn`, `aws:PrincipalType`.
//! - Policy variables (`${aws:username}`, `${*}`, `${?}`, `${$}`) in `Resource`/`NotResource` and string
//!   condition values of `2012-10-17` documents.
//!
//! Anything else (`NotPrincipal`, other principal types, numeric/ARN/`Null` operators, set operators,
//! other keys and services) is rejected when parsing, with a [`PolicyError`] naming it.

mod condition;
mod context;
mod document;
mod error;
mod evaluate;
mod json;
mod pattern;
mod principal;
mod tri;

#[cfg(test)]
mod tests;

pub use context::RequestContext;
pub use document::{PolicyDocument, PolicyKind};
pub use error::PolicyError;
pub use evaluate::{Decision, Request, StatementRef, evaluate};
pub use principal::Principal;
