//! Parsing the `Authorization` header and the `x-amz-date` timestamp. Both come from the network, so
//! every malformation is an error and lengths are bounded.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use super::{ALGORITHM, SigV4Auth, SigV4Error};

const MAX_HEADER_LEN: usize = 4096;
const MAX_SIGNED_HEADERS: usize = 64;

/// Parses `AWS4-HMAC-SHA256 Credential=<key id>/<YYYYMMDD>/<region>/<service>/aws4_request,
/// SignedHeaders=<a;b;c>, Signature=<64 hex>` (components in any order, spaces after commas optional).
pub fn parse_authorization(header: &str) -> Result<SigV4Auth, SigV4Error> {
    let malformed = SigV4Error::Malformed;
    if header.len() > MAX_HEADER_LEN {
        return Err(malformed("too long"));
    }
    let header = header.trim();
    let (algorithm, rest) = header.split_once(char::is_whitespace).ok_or(malformed("no credentials"))?;
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm);
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=').ok_or(malformed("component without '='"))?;
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(malformed("unknown component")),
        };
        if slot.replace(value).is_some() {
            return Err(malformed("repeated component"));
        }
    }
    let credential = credential.ok_or(malformed("no Credential"))?;
    let signed_headers = signed_headers.ok_or(malformed("no SignedHeaders"))?;
    let signature = signature.ok_or(malformed("no Signature"))?;

    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = scope[..] else {
        return Err(malformed("Credential must be <key id>/<date>/<region>/<service>/aws4_request"));
    };
    if terminator != "aws4_request" {
        return Err(malformed("Credential must end with aws4_request"));
    }
    let word = |s: &str| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic());
    if !word(access_key_id) || !word(region) || !word(service) {
        return Err(malformed("empty or invalid credential scope part"));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed("credential scope date must be YYYYMMDD"));
    }

    let names: Vec<String> = signed_headers.split(';').map(str::to_string).collect();
    if names.len() > MAX_SIGNED_HEADERS {
        return Err(malformed("too many signed headers"));
    }
    let token_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b);
    if names.iter().any(|n| n.is_empty() || !n.bytes().all(token_char)) {
        return Err(malformed("signed header names must be lower-case header names"));
    }
    if names.iter().enumerate().any(|(i, n)| names[..i].contains(n)) {
        return Err(malformed("repeated signed header"));
    }

    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed("Signature must be 64 hex digits"));
    }

    Ok(SigV4Auth {
        access_key_id: access_key_id.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers: names,
        signature: signature.to_ascii_lowercase(),
    })
}

/// `YYYYMMDDTHHMMSSZ` (UTC) to Unix seconds.
pub(super) fn parse_amz_date(s: &str) -> Result<i64, SigV4Error> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Result<u32, SigV4Error> {
        let part = b.get(r).ok_or(SigV4Error::BadDate)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(SigV4Error::BadDate);
        }
        Ok(part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return Err(SigV4Error::BadDate);
    }
    let narrow = |n: u32| u8::try_from(n).map_err(|_| SigV4Error::BadDate);
    let year = i32::try_from(digits(0..4)?).map_err(|_| SigV4Error::BadDate)?;
    let month = Month::try_from(narrow(digits(4..6)?)?).map_err(|_| SigV4Error::BadDate)?;
    let date = Date::from_calendar_date(year, month, narrow(digits(6..8)?)?).map_err(|_| SigV4Error::BadDate)?;
    let time = Time::from_hms(narrow(digits(9..11)?)?, narrow(digits(11..13)?)?, narrow(digits(13..15)?)?)
        .map_err(|_| SigV4Error::BadDate)?;
    Ok(PrimitiveDateTime::new(date, time).assume_utc().unix_timestamp())
}

/// Unix seconds to `YYYYMMDDTHHMMSSZ` (UTC); years outside 0..=9999 cannot be written that way.
pub(super) fn format_amz_date(unix: i64) -> Result<String, SigV4Error> {
    let t = OffsetDateTime::from_unix_timestamp(unix).map_err(|_| SigV4Error::BadDate)?;
    if !(0..=9999).contains(&t.year()) {
        return Err(SigV4Error::BadDate);
    }
    Ok(format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}
