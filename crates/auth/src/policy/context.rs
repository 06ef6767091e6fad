//! What a condition can ask about a request: the condition keys, and their values for one request.
//!
//! The caller supplies only what berth cannot derive ([`RequestContext`]: address, clock, TLS); everything
//! about the caller (`aws:username`, `aws:PrincipalArn`, `aws:PrincipalType`) is derived from the request's
//! [`Principal`], so the two can never disagree.

use std::net::IpAddr;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::principal::Principal;

/// Facts about a request that policies may test and that the engine cannot know by itself: it reads no
/// clock and sees no socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    /// The client's address (`aws:SourceIp`); `None` when unknown (conditions on it then see a missing key).
    /// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are tested as the IPv4 address they carry.
    pub source_ip: Option<IpAddr>,
    /// The time of the request (`aws:CurrentTime`, and `aws:EpochTime` in whole seconds).
    pub current_time: OffsetDateTime,
    /// Whether the request arrived over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
}

/// A condition key berth knows. Names are matched case-insensitively, as in AWS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ContextKey {
    SourceIp,
    CurrentTime,
    EpochTime,
    SecureTransport,
    Username,
    PrincipalArn,
    PrincipalType,
}

/// The type of a key's value, which decides the operators that may test it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    String,
    Ip,
    Date,
    Bool,
}

impl KeyKind {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            KeyKind::String => "a string",
            KeyKind::Ip => "an IP address",
            KeyKind::Date => "a date",
            KeyKind::Bool => "a boolean",
        }
    }
}

const KEYS: [(&str, ContextKey); 7] = [
    ("aws:SourceIp", ContextKey::SourceIp),
    ("aws:CurrentTime", ContextKey::CurrentTime),
    ("aws:EpochTime", ContextKey::EpochTime),
    ("aws:SecureTransport", ContextKey::SecureTransport),
    ("aws:username", ContextKey::Username),
    ("aws:PrincipalArn", ContextKey::PrincipalArn),
    ("aws:PrincipalType", ContextKey::PrincipalType),
];

impl ContextKey {
    pub(crate) fn parse(name: &str) -> Option<ContextKey> {
        KEYS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, k)| *k)
    }

    /// The canonical spelling, for messages.
    pub(crate) fn name(self) -> &'static str {
        KEYS.iter().find(|(_, k)| *k == self).map_or("?", |(n, _)| n)
    }

    /// All keys' names, for "unknown key" messages.
    pub(crate) fn known_names() -> String {
        KEYS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
    }

    pub(crate) fn kind(self) -> KeyKind {
        match self {
            ContextKey::SourceIp => KeyKind::Ip,
            ContextKey::CurrentTime | ContextKey::EpochTime => KeyKind::Date,
            ContextKey::SecureTransport => KeyKind::Bool,
            ContextKey::Username | ContextKey::PrincipalArn | ContextKey::PrincipalType => KeyKind::String,
        }
    }
}

/// The value of a key in one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyValue<'a> {
    Str(&'a str),
    Ip(IpAddr),
    Time(OffsetDateTime),
    Bool(bool),
}

/// Every key's value for one request, computed once per evaluation.
#[derive(Clone, Debug)]
pub(crate) struct Facts<'a> {
    principal_arn: Option<&'a str>,
    username: Option<&'a str>,
    principal_type: &'static str,
    source_ip: Option<IpAddr>,
    now: OffsetDateTime,
    secure_transport: bool,
}

impl<'a> Facts<'a> {
    pub(crate) fn new(principal: &Principal<'a>, context: &RequestContext) -> Facts<'a> {
        Facts {
            principal_arn: principal.arn(),
            username: principal.user_name(),
            principal_type: match principal {
                Principal::Anonymous => "Anonymous",
                Principal::User { .. } => "User",
            },
            source_ip: context.source_ip.map(|ip| ip.to_canonical()),
            now: context.current_time,
            secure_transport: context.secure_transport,
        }
    }

    /// The value of `key`, or `None` when the request does not have it (no address known, anonymous caller).
    pub(crate) fn get(&self, key: ContextKey) -> Option<KeyValue<'a>> {
        match key {
            ContextKey::SourceIp => self.source_ip.map(KeyValue::Ip),
            ContextKey::CurrentTime => Some(KeyValue::Time(self.now)),
            // Epoch time is whole seconds: `DateLessThan 1767225600` must not be decided by nanoseconds.
            ContextKey::EpochTime => Some(KeyValue::Time(self.now.replace_nanosecond(0).unwrap_or(self.now))),
            ContextKey::SecureTransport => Some(KeyValue::Bool(self.secure_transport)),
            ContextKey::Username => self.username.map(KeyValue::Str),
            ContextKey::PrincipalArn => self.principal_arn.map(KeyValue::Str),
            ContextKey::PrincipalType => Some(KeyValue::Str(self.principal_type)),
        }
    }

    /// The value of `key` as text, for policy variables (`${aws:username}`).
    pub(crate) fn render(&self, key: ContextKey) -> Option<String> {
        match self.get(key)? {
            KeyValue::Str(s) => Some(s.to_owned()),
            KeyValue::Ip(ip) => Some(ip.to_string()),
            KeyValue::Time(t) if key == ContextKey::EpochTime => Some(t.unix_timestamp().to_string()),
            KeyValue::Time(t) => t.format(&Rfc3339).ok(),
            KeyValue::Bool(b) => Some(b.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn context() -> RequestContext {
        RequestContext {
            source_ip: Some("::ffff:10.1.2.3".parse().unwrap()),
            current_time: datetime!(2026-01-01 00:00:00.5 UTC),
            secure_transport: true,
        }
    }

    #[test]
    fn keys_are_case_insensitive() {
        assert_eq!(ContextKey::parse("AWS:SOURCEIP"), Some(ContextKey::SourceIp));
        assert_eq!(ContextKey::parse("aws:UserName"), Some(ContextKey::Username));
        assert_eq!(ContextKey::parse("aws:userid"), None);
        assert_eq!(ContextKey::Username.name(), "aws:username");
    }

    #[test]
    fn facts_for_a_user() {
        let ctx = context();
        let facts = Facts::new(&Principal::User { arn: "arn:aws:iam::123456789012:user/alice" }, &ctx);
        assert_eq!(facts.get(ContextKey::Username), Some(KeyValue::Str("alice")));
        assert_eq!(facts.get(ContextKey::PrincipalType), Some(KeyValue::Str("User")));
        assert_eq!(facts.get(ContextKey::SourceIp), Some(KeyValue::Ip("10.1.2.3".parse().unwrap())));
        assert_eq!(facts.render(ContextKey::EpochTime).as_deref(), Some("1767225600"));
        assert_eq!(facts.render(ContextKey::CurrentTime).as_deref(), Some("2026-01-01T00:00:00.5Z"));
        assert_eq!(facts.render(ContextKey::SecureTransport).as_deref(), Some("true"));
        assert_eq!(facts.render(ContextKey::SourceIp).as_deref(), Some("10.1.2.3"));
    }

    #[test]
    fn anonymous_has_no_name_or_arn() {
        let ctx = RequestContext { source_ip: None, ..context() };
        let facts = Facts::new(&Principal::Anonymous, &ctx);
        assert_eq!(facts.get(ContextKey::Username), None);
        assert_eq!(facts.get(ContextKey::PrincipalArn), None);
        assert_eq!(facts.get(ContextKey::SourceIp), None);
        assert_eq!(facts.get(ContextKey::PrincipalType), Some(KeyValue::Str("Anonymous")));
    }
}
