//! Reading and validating request members the way botocore's model constrains them (types, lengths,
//! patterns, enums, ranges). SDKs validate before sending, but raw clients do not: every violation is a 400
//! `InvalidParameterException` naming the member.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use berth_oci::RepositoryName;
use serde_json::{Map, Value};

use super::errors::{AwsError, ErrorType};

/// ECR's limits on repository names: 2 to 256 characters (berth's own grammar is the same pattern, up to 256).
const NAME_MIN: usize = 2;

/// A request body: a JSON object.
pub struct Input<'a>(pub &'a Map<String, Value>);

fn constraint(member: &str, what: &str) -> AwsError {
    AwsError::invalid(format!("Invalid parameter at '{member}' failed to satisfy constraint: '{what}'"))
}

impl<'a> Input<'a> {
    fn get(&self, member: &str) -> Option<&'a Value> {
        self.0.get(member).filter(|v| !v.is_null())
    }

    pub fn opt_str(&self, member: &str) -> Result<Option<&'a str>, AwsError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(constraint(member, "must be a string")),
        }
    }

    pub fn opt_bool(&self, member: &str) -> Result<Option<bool>, AwsError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(constraint(member, "must be a boolean")),
        }
    }

    pub fn opt_object(&self, member: &str) -> Result<Option<Input<'a>>, AwsError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Input(m))),
            Some(_) => Err(constraint(member, "must be a structure")),
        }
    }

    pub fn opt_list(&self, member: &str) -> Result<Option<&'a Vec<Value>>, AwsError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(constraint(member, "must be a list")),
        }
    }

    /// An optional string member restricted to `allowed`.
    pub fn opt_enum(&self, member: &str, allowed: &[&str]) -> Result<Option<&'a str>, AwsError> {
        match self.opt_str(member)? {
            Some(v) if !allowed.contains(&v) => {
                Err(constraint(member, &format!("Member must satisfy enum value set: [{}]", allowed.join(", "))))
            }
            v => Ok(v),
        }
    }

    /// `maxResults`: an integer in 1..=1000.
    pub fn opt_u64(&self, member: &str) -> Result<Option<u64>, AwsError> {
        match self.get(member) {
            None => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| constraint(member, "must be a non-negative integer")),
        }
    }

    /// A required member (`Member must not be null` when absent).
    pub fn required<T>(&self, member: &str, value: Option<T>) -> Result<T, AwsError> {
        value.ok_or_else(|| constraint(member, "Member must not be null"))
    }

    pub fn max_results(&self) -> Result<Option<u32>, AwsError> {
        match self.get("maxResults") {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n @ 1..=1000) => Ok(Some(n as u32)),
                _ => Err(constraint("maxResults", "Member must have value between 1 and 1000")),
            },
        }
    }

    /// A required repository name (`repositoryName`).
    pub fn repository_name(&self, member: &str) -> Result<RepositoryName, AwsError> {
        let name = self.opt_str(member)?.ok_or_else(|| constraint(member, "Member must not be null"))?;
        repository_name(member, name)
    }

    /// `registryId`, if given, must be this registry's account id.
    pub fn check_registry_id(&self, account_id: &str) -> Result<(), AwsError> {
        match self.opt_str("registryId")? {
            Some(id) => check_registry_id("registryId", id, account_id),
            None => Ok(()),
        }
    }
}

pub fn repository_name(member: &str, name: &str) -> Result<RepositoryName, AwsError> {
    if name.len() < NAME_MIN {
        return Err(constraint(member, "Member must have length greater than or equal to 2"));
    }
    name.parse().map_err(|e: berth_oci::NameError| constraint(member, &e.to_string()))
}

pub fn check_registry_id(member: &str, id: &str, account_id: &str) -> Result<(), AwsError> {
    if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(constraint(member, "Member must satisfy regular expression pattern: [0-9]{12}"));
    }
    if id != account_id {
        return Err(AwsError::invalid(format!(
            "registry id '{id}' is not this registry's ('{account_id}'): berth serves one registry"
        )));
    }
    Ok(())
}

/// Pagination tokens are opaque to clients: the position (a name, or a digest and a tag) base64url-encoded.
pub fn encode_token(position: &str) -> String {
    URL_SAFE_NO_PAD.encode(position)
}

pub fn decode_token(token: &str) -> Result<String, AwsError> {
    URL_SAFE_NO_PAD.decode(token).ok().and_then(|b| String::from_utf8(b).ok()).filter(|s| !s.is_empty()).ok_or_else(
        || {
            AwsError::new(
                ErrorType::InvalidParameter,
                "Invalid parameter at 'nextToken': not a token this registry issued",
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn input(v: &Value) -> Input<'_> {
        Input(v.as_object().unwrap())
    }

    #[test]
    fn members_are_type_checked() {
        let v = json!({"s": "x", "b": true, "n": 5, "o": {}, "l": [], "nul": null});
        let i = input(&v);
        assert_eq!(i.opt_str("s").unwrap(), Some("x"));
        assert_eq!(i.opt_str("nul").unwrap(), None, "null is absent");
        assert_eq!(i.opt_str("missing").unwrap(), None);
        assert!(i.opt_str("b").is_err());
        assert_eq!(i.opt_bool("b").unwrap(), Some(true));
        assert!(i.opt_bool("s").is_err());
        assert!(i.opt_object("o").unwrap().is_some());
        assert!(i.opt_object("l").is_err());
        assert!(i.opt_list("l").unwrap().is_some());
        assert!(i.opt_list("o").is_err());
        let e = i.opt_enum("s", &["A", "B"]).unwrap_err();
        assert_eq!(e.kind, ErrorType::InvalidParameter);
        assert!(e.message.contains("'s'") && e.message.contains("[A, B]"), "{}", e.message);
    }

    #[test]
    fn max_results_is_1_to_1000() {
        for (v, ok) in [
            (json!(1), true),
            (json!(1000), true),
            (json!(0), false),
            (json!(1001), false),
            (json!(-1), false),
            (json!("5"), false),
        ] {
            let body = json!({"maxResults": v});
            assert_eq!(input(&body).max_results().is_ok(), ok, "{v}");
        }
        assert_eq!(input(&json!({})).max_results().unwrap(), None);
    }

    #[test]
    fn repository_names_and_registry_ids() {
        assert!(repository_name("repositoryName", "team/app").is_ok());
        assert!(repository_name("repositoryName", &"a".repeat(256)).is_ok(), "ECR's maximum");
        for bad in ["a", "Team/app", "team//app", "-x", &"a".repeat(257)] {
            let e = repository_name("repositoryName", bad).unwrap_err();
            assert_eq!(e.kind, ErrorType::InvalidParameter, "{bad}");
            assert!(e.message.contains("'repositoryName'"), "{}", e.message);
        }
        assert!(check_registry_id("registryId", "123456789012", "123456789012").is_ok());
        assert!(check_registry_id("registryId", "12345678901", "123456789012").is_err());
        assert!(check_registry_id("registryId", "000000000000", "123456789012").is_err());
    }

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let t = encode_token("sha256:abc\nv1");
        assert_eq!(decode_token(&t).unwrap(), "sha256:abc\nv1");
        assert!(!t.contains(['\n', '/', '+', '=']));
        assert!(decode_token("!!!").is_err());
        assert!(decode_token("").is_err());
    }
}
