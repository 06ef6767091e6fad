//! The simple signing payload cosign and containers/image sign, and where a signature lives.
//!
//! A signature of image `sha256:HEX` in a repository is a layer of the OCI image manifest tagged
//! `sha256-HEX.sig` in the same repository: the layer's blob is the payload below, its media type
//! [`SIMPLE_SIGNING_MEDIA_TYPE`], and its annotation [`SIGNATURE_ANNOTATION`] the base64 of the ECDSA
//! signature of the blob's bytes. Several signatures are several layers.
//!
//! ```json
//! {"critical":{"identity":{"docker-reference":"HOST/REPO"},
//!              "image":{"docker-manifest-digest":"sha256:HEX"},
//!              "type":"cosign container image signature"},
//!  "optional":{"creator":"berth","timestamp":1700000000}}
//! ```

use serde_json::{Value, json};

pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// `critical.type` of every cosign signature payload.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";
/// The artifact type of the OCI referrer berth stores beside the `.sig` tag (cosign's, for signatures).
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("the signature payload is not JSON")]
    NotJson,
    #[error("the signature payload lacks {0}")]
    Missing(&'static str),
    #[error("the signature payload is of type {0:?}, not a cosign container image signature")]
    WrongType(String),
}

/// What a verified payload asserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedClaims {
    /// `critical.identity.docker-reference`: the repository (with host) the signer meant.
    pub docker_reference: String,
    /// `critical.image.docker-manifest-digest`: the signed manifest's digest.
    pub manifest_digest: String,
}

/// The payload signing `digest` (a manifest digest, `sha256:HEX`) for `docker_reference` (`HOST/REPO`).
pub fn payload(docker_reference: &str, digest: &str, creator: &str, timestamp: i64) -> Vec<u8> {
    let v = json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": SIGNATURE_TYPE,
        },
        "optional": {"creator": creator, "timestamp": timestamp},
    });
    serde_json::to_vec(&v).expect("serialises")
}

/// Reads a payload's claims. Only call it on bytes whose signature verified: until then they are the
/// pusher's word.
pub fn parse(bytes: &[u8]) -> Result<SignedClaims, PayloadError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|_| PayloadError::NotJson)?;
    let critical = v.get("critical").ok_or(PayloadError::Missing("critical"))?;
    let kind = critical.get("type").and_then(Value::as_str).ok_or(PayloadError::Missing("critical.type"))?;
    if kind != SIGNATURE_TYPE {
        return Err(PayloadError::WrongType(kind.to_string()));
    }
    let digest = critical
        .pointer("/image/docker-manifest-digest")
        .and_then(Value::as_str)
        .ok_or(PayloadError::Missing("critical.image.docker-manifest-digest"))?;
    let reference = critical
        .pointer("/identity/docker-reference")
        .and_then(Value::as_str)
        .ok_or(PayloadError::Missing("critical.identity.docker-reference"))?;
    Ok(SignedClaims { docker_reference: reference.to_string(), manifest_digest: digest.to_string() })
}

/// The tag holding the signatures of the manifest `digest` (`sha256:HEX` → `sha256-HEX.sig`).
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}

/// Whether `tag` is a signature tag (`ALG-HEX.sig`).
pub fn is_signature_tag(tag: &str) -> bool {
    tag.strip_suffix(".sig").and_then(|t| t.split_once('-')).is_some_and(|(alg, hex)| {
        matches!(alg, "sha256" | "sha512") && !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0f1ab2f6d7ee4d9d1d5d3bca8d26c49e4dc36b9ac1e29ff9f1b0d8b32bd12ab9";

    #[test]
    fn payload_round_trips() {
        let p = payload("registry.example:5000/team/app", DIGEST, "berth", 1_700_000_000);
        let v: Value = serde_json::from_slice(&p).unwrap();
        assert_eq!(v["critical"]["type"], SIGNATURE_TYPE);
        assert_eq!(v["optional"]["timestamp"], 1_700_000_000);
        let claims = parse(&p).unwrap();
        assert_eq!(claims.manifest_digest, DIGEST);
        assert_eq!(claims.docker_reference, "registry.example:5000/team/app");
    }

    #[test]
    fn reads_cosigns_own_payload() {
        // What `cosign sign` writes: `optional` is null.
        let p = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"ghcr.io/x/y"}},"image":{{"docker-manifest-digest":"{DIGEST}"}},"type":"cosign container image signature"}},"optional":null}}"#
        );
        assert_eq!(parse(p.as_bytes()).unwrap().manifest_digest, DIGEST);
    }

    #[test]
    fn refuses_other_payloads() {
        assert_eq!(parse(b"nope"), Err(PayloadError::NotJson));
        assert_eq!(parse(b"{}"), Err(PayloadError::Missing("critical")));
        let atomic = br#"{"critical":{"type":"atomic container signature","image":{"docker-manifest-digest":"x"},"identity":{"docker-reference":"y"}}}"#;
        assert!(matches!(parse(atomic), Err(PayloadError::WrongType(_))));
        let no_digest =
            br#"{"critical":{"type":"cosign container image signature","identity":{"docker-reference":"y"}}}"#;
        assert_eq!(parse(no_digest), Err(PayloadError::Missing("critical.image.docker-manifest-digest")));
    }

    #[test]
    fn signature_tags() {
        assert_eq!(signature_tag(DIGEST), format!("sha256-{}.sig", &DIGEST[7..]));
        assert!(is_signature_tag(&signature_tag(DIGEST)));
        for t in ["latest", "sha256-.sig", "sha256-xyz.sig", "md5-abcd.sig", "sha256-abcd.att"] {
            assert!(!is_signature_tag(t), "{t}");
        }
    }
}
