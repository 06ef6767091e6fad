//! The canonical request, the string to sign and the signing-key derivation: the part of SigV4 that client
//! and server must compute byte for byte alike.

use hmac::{Hmac, Mac};
use sha2_010::{Digest as _, Sha256};

use super::{ALGORITHM, CanonicalInput, SigV4Error, header_values};
use crate::secret::Secret;

/// The credential scope: `<date>/<region>/<service>/aws4_request`.
pub(super) struct Scope<'a> {
    pub date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

/// The hex signature of `input` over `signed_headers` at `amz_date` within `scope`.
pub(super) fn signature(
    input: &CanonicalInput,
    signed_headers: &[String],
    amz_date: &str,
    scope: &Scope<'_>,
    secret: &Secret,
) -> Result<String, SigV4Error> {
    let canonical = canonical_request(input, signed_headers, scope.service)?;
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{}/{}/{}/aws4_request\n{}",
        scope.date,
        scope.region,
        scope.service,
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = signing_key(secret, scope);
    Ok(hex::encode(hmac(&key, string_to_sign.as_bytes())))
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail; the fallback keeps this panic-free.
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(msg);
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0; 32],
    }
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
fn signing_key(secret: &Secret, scope: &Scope<'_>) -> [u8; 32] {
    let k_secret = Secret::new(format!("AWS4{}", secret.expose()));
    let k_date = hmac(k_secret.expose().as_bytes(), scope.date.as_bytes());
    let k_region = hmac(&k_date, scope.region.as_bytes());
    let k_service = hmac(&k_region, scope.service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// `METHOD \n URI \n QUERY \n HEADERS \n \n SIGNED-HEADERS \n PAYLOAD-HASH`.
pub(super) fn canonical_request(
    input: &CanonicalInput,
    signed_headers: &[String],
    service: &str,
) -> Result<String, SigV4Error> {
    let mut out = String::with_capacity(256);
    out.push_str(&input.method);
    out.push('\n');
    out.push_str(&canonical_uri(&input.path, service));
    out.push('\n');
    out.push_str(&canonical_query(&input.query));
    out.push('\n');
    for name in signed_headers {
        let values: Vec<String> = header_values(&input.headers, name).map(trim_all).collect();
        if values.is_empty() {
            return Err(SigV4Error::MissingHeader(name.clone()));
        }
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(&input.payload_sha256);
    Ok(out)
}

/// Trims a header value and collapses each inner run of whitespace to one space (SigV4's "Trimall").
fn trim_all(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical URI: for `s3` the path as received; for every other service the received (encoded) path
/// with dot and empty segments removed, encoded again.
fn canonical_uri(path: &str, service: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    if service == "s3" {
        return path.to_string();
    }
    let normalized = remove_dot_segments(path);
    if normalized.is_empty() {
        return "/".into();
    }
    uri_encode(normalized.as_bytes(), false)
}

/// RFC 3986 section 5.2.4 plus removal of empty segments (`//`), as botocore does: `/a/./b/../c//d/`
/// becomes `/a/c/d/`.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut s = String::with_capacity(path.len());
    if path.starts_with('/') {
        s.push('/');
    }
    s.push_str(&out.join("/"));
    if path.ends_with('/') && !out.is_empty() {
        s.push('/');
    }
    s
}

/// The canonical query: every `name=value` pair (a bare `name` has an empty value) decoded, re-encoded with
/// [`uri_encode`], sorted by name, then value.
fn canonical_query(query: &str) -> String {
    if query.is_empty() {
        return String::new();
    }
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (uri_encode(&percent_decode(k), true), uri_encode(&percent_decode(v), true))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// AWS URI encoding: unreserved characters (`A-Za-z0-9-_.~`) as they are, every other byte as `%XX`
/// (upper-case hex); `/` too when `encode_slash`.
fn uri_encode(bytes: &[u8], encode_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (b == b'/' && !encode_slash) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits stays a literal `%`. `+` is not a space here.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16).and_then(|d| u8::try_from(d).ok());
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex))
        {
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_paths() {
        for (raw, service, want) in [
            ("", "ecr", "/"),
            ("/", "ecr", "/"),
            ("//", "ecr", "/"),
            ("/v2/a/b", "ecr", "/v2/a/b"),
            ("/v2/a/b/", "ecr", "/v2/a/b/"),
            ("/a%20b/c", "ecr", "/a%2520b/c"),
            ("/a/./b/../c//d/", "ecr", "/a/c/d/"),
            ("/..", "ecr", "/"),
            ("/example/..", "service", "/"),
            ("/-._~", "ecr", "/-._~"),
            ("/a b", "ecr", "/a%20b"),
            ("/a%20b//c", "s3", "/a%20b//c"),
            ("", "s3", "/"),
        ] {
            assert_eq!(canonical_uri(raw, service), want, "{raw:?} {service}");
        }
    }

    #[test]
    fn queries() {
        for (raw, want) in [
            ("", ""),
            ("Param2=value2&Param1=value1", "Param1=value1&Param2=value2"),
            ("b=1%202&a=%2F&a=0", "a=%2F&a=0&b=1%202"),
            ("a=b/c", "a=b%2Fc"),
            ("x", "x="),
            ("a=%zz", "a=%25zz"),
            ("a=1+2", "a=1%2B2"),
            ("k=%E2%82%AC", "k=%E2%82%AC"),
            ("k=\u{20ac}", "k=%E2%82%AC"),
            ("B=1&a=2", "B=1&a=2"),
        ] {
            assert_eq!(canonical_query(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn trimall() {
        assert_eq!(trim_all("  a   b \t c  "), "a b c");
        assert_eq!(trim_all(""), "");
    }

    #[test]
    fn percent_decode_edge_cases() {
        assert_eq!(percent_decode("%"), b"%");
        assert_eq!(percent_decode("%4"), b"%4");
        assert_eq!(percent_decode("%41%4a%4A"), b"AJJ");
        assert_eq!(percent_decode("%%41"), b"%A");
    }
}
