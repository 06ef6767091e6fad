//! Who is asking ([`Principal`]) and whom a resource-policy statement is about (`Principal` element).
//!
//! berth has one account and two kinds of callers: users (`arn:aws:iam::ACCOUNT:user/NAME`) and anonymous
//! callers. The `Principal` element therefore accepts only the forms that can name them: `"*"` (everyone,
//! anonymous included: this is how a repository is made publicly pullable the ECR way), an account (every
//! authenticated user of it) and a user ARN. Wildcards inside ARNs are refused rather than guessed at: a
//! pattern principal that silently matched nobody (or everybody) is the worst kind of surprise.

use serde_json::Value;

use super::error::PolicyError;
use super::json::{strings, type_name};

/// The caller of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal<'a> {
    /// No credentials. Only resource-policy statements with `"Principal": "*"` (or `{"AWS": "*"}`) can allow
    /// an anonymous request.
    Anonymous,
    /// An authenticated user, by ARN: `arn:aws:iam::<ACCOUNT>:user/<name>`. The account and the user name
    /// (`aws:username`) are read from the ARN; an ARN of another shape still matches its exact ARN in
    /// `Principal`, but no account principal and no `aws:username` condition.
    User { arn: &'a str },
}

impl<'a> Principal<'a> {
    /// The caller's ARN; `None` for anonymous callers.
    pub fn arn(&self) -> Option<&'a str> {
        match self {
            Principal::Anonymous => None,
            Principal::User { arn } => Some(arn),
        }
    }

    /// The account in the caller's ARN.
    pub(crate) fn account(&self) -> Option<&'a str> {
        parse_user_arn(self.arn()?).map(|(account, _)| account)
    }

    /// The user name in the caller's ARN (`aws:username`).
    pub(crate) fn user_name(&self) -> Option<&'a str> {
        parse_user_arn(self.arn()?).map(|(_, name)| name)
    }
}

/// Splits `arn:aws:iam::ACCOUNT:user/NAME` into `(ACCOUNT, NAME)`.
fn parse_user_arn(arn: &str) -> Option<(&str, &str)> {
    let (account, resource) = arn.strip_prefix("arn:aws:iam::")?.split_once(':')?;
    let name = resource.strip_prefix("user/")?;
    (!account.is_empty() && !name.is_empty()).then_some((account, name))
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A parsed `Principal` element.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PrincipalSpec {
    /// `"*"`: every caller, anonymous ones included.
    everyone: bool,
    /// Account ids (from `ACCOUNT`, or `arn:aws:iam::ACCOUNT:root`): every user of the account.
    accounts: Vec<String>,
    /// User ARNs, compared exactly.
    users: Vec<String>,
}

impl PrincipalSpec {
    pub(crate) fn parse(value: &Value, path: &str) -> Result<PrincipalSpec, PolicyError> {
        let object = match value {
            Value::String(s) if s == "*" => return Ok(PrincipalSpec { everyone: true, ..Default::default() }),
            Value::String(s) => {
                return Err(PolicyError::at(path, format!(r#"must be "*" or {{"AWS": ...}}, got "{s}""#)));
            }
            Value::Object(object) => object,
            other => {
                return Err(PolicyError::at(
                    path,
                    format!(r#"must be "*" or {{"AWS": ...}}, got {}"#, type_name(other)),
                ));
            }
        };
        if object.is_empty() {
            return Err(PolicyError::at(path, r#"must name at least one principal, e.g. {"AWS": "*"}"#));
        }
        let mut spec = PrincipalSpec::default();
        for (kind, principals) in object {
            match kind.as_str() {
                "AWS" => {}
                "Service" | "Federated" | "CanonicalUser" => {
                    return Err(PolicyError::at(
                        path,
                        format!(r#"principal type "{kind}" is not supported (berth knows only "AWS" principals)"#),
                    ));
                }
                _ => return Err(PolicyError::at(path, format!(r#"unknown principal type "{kind}" (expected "AWS")"#))),
            }
            for (item_path, s) in strings(principals, &format!("{path}.AWS"))? {
                spec.add(s).map_err(|problem| PolicyError::at(item_path, problem))?;
            }
        }
        Ok(spec)
    }

    fn add(&mut self, s: &str) -> Result<(), String> {
        if s == "*" {
            self.everyone = true;
        } else if s.contains("${") {
            return Err(format!(r#"policy variables are not allowed in Principal, got "{s}""#));
        } else if s.contains(['*', '?']) {
            return Err(format!(r#"wildcards are only allowed as the whole principal "*", got "{s}""#));
        } else if is_account_id(s) {
            self.accounts.push(s.to_owned());
        } else if let Some(account) =
            s.strip_prefix("arn:aws:iam::").and_then(|rest| rest.strip_suffix(":root")).filter(|a| is_account_id(a))
        {
            self.accounts.push(account.to_owned());
        } else if parse_user_arn(s).is_some_and(|(account, name)| is_account_id(account) && !name.contains(':')) {
            self.users.push(s.to_owned());
        } else {
            return Err(format!(
                "\"{s}\" is not a principal (expected \"*\", a 12-digit account id, arn:aws:iam::ACCOUNT:root or \
                 arn:aws:iam::ACCOUNT:user/NAME)"
            ));
        }
        Ok(())
    }

    /// Whether the statement is about `principal`.
    pub(crate) fn matches(&self, principal: &Principal<'_>) -> bool {
        if self.everyone {
            return true;
        }
        match principal {
            Principal::Anonymous => false,
            Principal::User { arn } => {
                self.users.iter().any(|u| u == arn)
                    || principal.account().is_some_and(|account| self.accounts.iter().any(|a| a == account))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ALICE: Principal = Principal::User { arn: "arn:aws:iam::123456789012:user/alice" };
    const BOB: Principal = Principal::User { arn: "arn:aws:iam::123456789012:user/bob" };
    const OTHER: Principal = Principal::User { arn: "arn:aws:iam::210987654321:user/alice" };

    fn spec(v: Value) -> PrincipalSpec {
        PrincipalSpec::parse(&v, "Statement[0].Principal").unwrap()
    }

    fn error(v: Value) -> String {
        PrincipalSpec::parse(&v, "Statement[0].Principal").unwrap_err().to_string()
    }

    #[test]
    fn star_forms_match_everyone_including_anonymous() {
        for v in [json!("*"), json!({"AWS": "*"}), json!({"AWS": ["arn:aws:iam::123456789012:user/bob", "*"]})] {
            let s = spec(v);
            assert!(s.matches(&Principal::Anonymous));
            assert!(s.matches(&ALICE));
            assert!(s.matches(&OTHER));
        }
    }

    #[test]
    fn user_arn_matches_that_user_only() {
        let s = spec(json!({"AWS": "arn:aws:iam::123456789012:user/alice"}));
        assert!(s.matches(&ALICE));
        assert!(!s.matches(&BOB));
        assert!(!s.matches(&OTHER));
        assert!(!s.matches(&Principal::Anonymous));
    }

    #[test]
    fn account_forms_match_authenticated_users_of_the_account() {
        for v in [json!({"AWS": "123456789012"}), json!({"AWS": ["arn:aws:iam::123456789012:root"]})] {
            let s = spec(v);
            assert!(s.matches(&ALICE));
            assert!(s.matches(&BOB));
            assert!(!s.matches(&OTHER));
            assert!(!s.matches(&Principal::Anonymous));
        }
    }

    #[test]
    fn principal_derivations() {
        assert_eq!(ALICE.account(), Some("123456789012"));
        assert_eq!(ALICE.user_name(), Some("alice"));
        assert_eq!(Principal::Anonymous.arn(), None);
        let odd = Principal::User { arn: "arn:aws:iam::123456789012:role/x" };
        assert_eq!(odd.user_name(), None);
        assert!(!spec(json!({"AWS": "123456789012"})).matches(&odd));
    }

    #[test]
    fn malformed_principals_are_named() {
        assert_eq!(
            error(json!({"AWS": ["*", "arn:aws:iam::123456789012:user/dev-*"]})),
            r#"Statement[0].Principal.AWS[1]: wildcards are only allowed as the whole principal "*", got "arn:aws:iam::123456789012:user/dev-*""#
        );
        assert!(
            error(json!({"Service": "ecr.amazonaws.com"})).contains(r#"principal type "Service" is not supported"#)
        );
        assert!(error(json!({"aws": "*"})).contains(r#"unknown principal type "aws""#));
        assert!(error(json!("arn:aws:iam::123456789012:root")).contains(r#"must be "*" or {"AWS": ...}"#));
        assert!(error(json!({})).contains("at least one principal"));
        assert!(error(json!({"AWS": []})).contains("Principal.AWS: must not be empty"));
        assert!(error(json!({"AWS": "12345"})).contains(r#""12345" is not a principal"#));
        assert!(error(json!({"AWS": "arn:aws:iam::123456789012:group/devs"})).contains("is not a principal"));
        assert!(error(json!({"AWS": "arn:aws:iam::123456789012:user/${aws:username}"})).contains("policy variables"));
        assert!(error(json!(7)).contains("got a number"));
    }
}
