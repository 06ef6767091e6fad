//! Strict JSON reading for policy documents.
//!
//! `serde_json::Value` silently keeps the last of two equal keys. In a policy that is a security problem: a
//! reader (a person, another tool) can see `"Effect": "Deny"` while the engine enforces a later
//! `"Effect": "Allow"`. So documents are read with a visitor that rejects duplicate keys at any depth, and
//! every element is then checked by hand with errors that name its path.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::error::PolicyError;

/// Parses `text` as JSON, rejecting duplicate object keys.
pub(crate) fn parse_strict(text: &str) -> Result<Value, PolicyError> {
    serde_json::from_str::<Strict>(text).map(|s| s.0).map_err(|e| PolicyError::at("", format!("invalid JSON: {e}")))
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key \"{key}\"")));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// The JSON type of `value`, with an article, for messages ("got a number").
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value that may be one item or a non-empty array of items (`"Action": "ecr:*"` or `"Action": [...]`),
/// with each item's path: `path` for a single item, `path[i]` for array items.
pub(crate) fn one_or_many<'v>(value: &'v Value, path: &str) -> Result<Vec<(String, &'v Value)>, PolicyError> {
    match value {
        Value::Array(items) if items.is_empty() => Err(PolicyError::at(path, "must not be empty")),
        Value::Array(items) => Ok(items.iter().enumerate().map(|(i, v)| (format!("{path}[{i}]"), v)).collect()),
        single => Ok(vec![(path.to_owned(), single)]),
    }
}

/// A string or a non-empty array of strings, with each string's path.
pub(crate) fn strings<'v>(value: &'v Value, path: &str) -> Result<Vec<(String, &'v str)>, PolicyError> {
    one_or_many(value, path)?
        .into_iter()
        .map(|(p, v)| match v {
            Value::String(s) => Ok((p, s.as_str())),
            other => Err(PolicyError::at(p, format!("must be a string, got {}", type_name(other)))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_rejected_at_any_depth() {
        let e = parse_strict(r#"{"Statement": {"Effect": "Deny", "Effect": "Allow"}}"#).unwrap_err();
        assert!(e.to_string().contains(r#"duplicate key "Effect""#), "{e}");
        assert!(parse_strict(r#"{"a": 1, "a": 1}"#).is_err());
        assert!(parse_strict(r#"[{"a": 1}, {"a": 2}]"#).is_ok());
    }

    #[test]
    fn values_round_trip() {
        let v =
            parse_strict(r#"{"s": "x", "n": -3, "u": 18446744073709551615, "f": 1.5, "b": true, "z": null, "a": [1]}"#)
                .unwrap();
        assert_eq!(v, serde_json::json!({"s": "x", "n": -3, "u": u64::MAX, "f": 1.5, "b": true, "z": null, "a": [1]}));
    }

    #[test]
    fn syntax_errors_say_where() {
        let e = parse_strict("{\"Version\": }").unwrap_err();
        assert!(e.to_string().starts_with("invalid JSON: "), "{e}");
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    #[test]
    fn one_or_many_paths() {
        let v = serde_json::json!(["a", "b"]);
        let items = strings(&v, "Action").unwrap();
        assert_eq!(items, vec![("Action[0]".to_owned(), "a"), ("Action[1]".to_owned(), "b")]);
        let v = serde_json::json!("a");
        assert_eq!(strings(&v, "Action").unwrap(), vec![("Action".to_owned(), "a")]);
        assert_eq!(strings(&serde_json::json!([]), "Action").unwrap_err().to_string(), "Action: must not be empty");
        assert_eq!(
            strings(&serde_json::json!(["a", 1]), "Action").unwrap_err().to_string(),
            "Action[1]: must be a string, got a number"
        );
    }
}
