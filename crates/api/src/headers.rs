//! Parsing the request headers the distribution API uses: `Range`, `Content-Range`, `Content-Length`,
//! `Accept`.

use axum::http::{HeaderMap, header};
use berth_registry::ByteRange;

/// A single `bytes=` range. Multi-range requests are served whole (RFC 9110 lets a server ignore Range).
pub fn range(headers: &HeaderMap) -> Result<Option<ByteRange>, ()> {
    let Some(v) = headers.get(header::RANGE) else { return Ok(None) };
    let v = v.to_str().map_err(|_| ())?.trim();
    let spec = v.strip_prefix("bytes=").ok_or(())?;
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let num = |s: &str| s.trim().parse::<u64>().map_err(|_| ());
    Ok(Some(match (a.trim().is_empty(), b.trim().is_empty()) {
        (false, false) => ByteRange::FromTo(num(a)?, num(b)?),
        (false, true) => ByteRange::From(num(a)?),
        (true, false) => ByteRange::Suffix(num(b)?),
        (true, true) => return Err(()),
    }))
}

/// `Content-Range: <start>-<end>` of an upload chunk (the spec's form; `bytes ` / `bytes=` prefixes, which
/// some clients send, are accepted). Returns the inclusive range.
pub fn content_range(headers: &HeaderMap) -> Result<Option<(u64, u64)>, ()> {
    let Some(v) = headers.get(header::CONTENT_RANGE) else { return Ok(None) };
    let v = v.to_str().map_err(|_| ())?.trim();
    let v = v.strip_prefix("bytes").map(|r| r.trim_start_matches([' ', '='])).unwrap_or(v);
    let v = v.split('/').next().unwrap_or(v);
    let (a, b) = v.split_once('-').ok_or(())?;
    let (a, b) = (a.trim().parse::<u64>().map_err(|_| ())?, b.trim().parse::<u64>().map_err(|_| ())?);
    if b < a {
        return Err(());
    }
    Ok(Some((a, b)))
}

pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

pub fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::CONTENT_TYPE)?.to_str().ok()
}

/// Whether a client's `Accept` header admits `media_type`. A client that names no manifest type at all (or
/// a wildcard) accepts whatever is stored.
pub fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    let mut named_manifest_type = false;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let t = item.split(';').next().unwrap_or("").trim();
            if t == media_type || t == "*/*" {
                return true;
            }
            named_manifest_type |= berth_oci::media_type::MANIFEST_TYPES.contains(&t);
        }
    }
    !named_manifest_type
}

/// Docker Hub's pull limit headers: `RateLimit-Limit: 100;w=21600` and `RateLimit-Remaining: 76;w=21600`
/// (the limit, what is left of it, and the window in seconds).
pub(crate) fn rate_limit(h: &mut HeaderMap, quota: &berth_identity::ratelimit::Quota) {
    let w = quota.rate.window;
    for (name, n) in [("ratelimit-limit", quota.rate.limit), ("ratelimit-remaining", quota.remaining)] {
        if let Ok(v) = axum::http::HeaderValue::from_str(&format!("{n};w={w}")) {
            h.insert(axum::http::HeaderName::from_static(name), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn h(name: header::HeaderName, v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(name, HeaderValue::from_str(v).unwrap());
        m
    }

    #[test]
    fn ranges() {
        assert_eq!(range(&HeaderMap::new()), Ok(None));
        assert_eq!(range(&h(header::RANGE, "bytes=0-9")), Ok(Some(ByteRange::FromTo(0, 9))));
        assert_eq!(range(&h(header::RANGE, "bytes=5-")), Ok(Some(ByteRange::From(5))));
        assert_eq!(range(&h(header::RANGE, "bytes=-5")), Ok(Some(ByteRange::Suffix(5))));
        assert_eq!(range(&h(header::RANGE, "bytes=0-1,4-5")), Ok(None));
        assert!(range(&h(header::RANGE, "items=0-9")).is_err());
        assert!(range(&h(header::RANGE, "bytes=a-b")).is_err());
        assert!(range(&h(header::RANGE, "bytes=-")).is_err());
    }

    #[test]
    fn content_ranges() {
        assert_eq!(content_range(&h(header::CONTENT_RANGE, "0-99")), Ok(Some((0, 99))));
        assert_eq!(content_range(&h(header::CONTENT_RANGE, "bytes 100-199/*")), Ok(Some((100, 199))));
        assert_eq!(content_range(&h(header::CONTENT_RANGE, "bytes=100-199")), Ok(Some((100, 199))));
        assert!(content_range(&h(header::CONTENT_RANGE, "9-1")).is_err());
        assert!(content_range(&h(header::CONTENT_RANGE, "x")).is_err());
    }

    #[test]
    fn accept_negotiation() {
        let oci = berth_oci::media_type::OCI_MANIFEST;
        assert!(accepts(&HeaderMap::new(), oci));
        assert!(accepts(&h(header::ACCEPT, "application/json"), oci));
        assert!(accepts(&h(header::ACCEPT, &format!("{oci}, application/x")), oci));
        assert!(!accepts(&h(header::ACCEPT, berth_oci::media_type::DOCKER_MANIFEST), oci));
        assert!(accepts(&h(header::ACCEPT, "*/*"), oci));
    }

    #[test]
    fn rate_limit_headers_are_docker_hubs() {
        use berth_identity::ratelimit::{Quota, Rate};
        let mut h = HeaderMap::new();
        rate_limit(&mut h, &Quota { rate: Rate::new(100, 21_600).unwrap(), remaining: 76 });
        assert_eq!(h["RateLimit-Limit"], "100;w=21600");
        assert_eq!(h["RateLimit-Remaining"], "76;w=21600");
    }
}
