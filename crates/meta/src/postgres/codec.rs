//! Conversions between Rust values and their stored form (as in the SQLite backend). Stored text is parsed
//! back with the same validation as request input; anything that does not parse is [`MetaError::Corrupt`].

use std::fmt::Display;
use std::str::FromStr;

use crate::{MetaError, Result};

/// Parses a stored string (digest, repository name, ...) back into its type.
pub(super) fn parse<T>(column: &str, value: &str) -> Result<T>
where
    T: FromStr,
    T::Err: Display,
{
    value.parse().map_err(|e| MetaError::Corrupt(format!("{column} {value:?}: {e}")))
}

/// Parses an optional stored string.
pub(super) fn parse_opt<T>(column: &str, value: Option<&str>) -> Result<Option<T>>
where
    T: FromStr,
    T::Err: Display,
{
    value.map(|v| parse(column, v)).transpose()
}

/// A size or counter as a BIGINT. Nothing berth counts gets near 2^63, so a larger value is a caller bug
/// and is refused (as an encoding error) rather than wrapped.
pub(super) fn to_db(what: &str, value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| {
        MetaError::Database(sqlx::Error::Encode(format!("{what} {value} exceeds the BIGINT range").into()))
    })
}

/// A stored size or counter; negative values cannot be written (CHECK constraints), so one is corruption.
pub(super) fn from_db(column: &str, value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| MetaError::Corrupt(format!("{column} is negative: {value}")))
}
