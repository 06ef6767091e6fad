//! The OSV record format as read from files (only the fields the database uses), parsed leniently: missing or
//! `null` lists are empty, unknown fields are ignored.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Deserialize)]
pub(crate) struct OsvRecord {
    pub id: String,
    #[serde(default)]
    pub modified: Option<String>,
    #[serde(default)]
    pub published: Option<String>,
    #[serde(default)]
    pub withdrawn: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub severity: Vec<OsvSeverity>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub affected: Vec<OsvAffected>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub references: Vec<OsvReference>,
    #[serde(default)]
    pub database_specific: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OsvSeverity {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OsvAffected {
    #[serde(default)]
    pub package: Option<OsvPackage>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub severity: Vec<OsvSeverity>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub ranges: Vec<OsvRange>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub versions: Vec<String>,
    #[serde(default)]
    pub ecosystem_specific: Option<Value>,
    #[serde(default)]
    pub database_specific: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OsvPackage {
    pub ecosystem: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OsvRange {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub events: Vec<serde_json::Map<String, Value>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OsvReference {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub url: String,
}
