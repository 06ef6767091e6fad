//! The signature requirement every manifest pull and `HEAD` goes through (from `Registry::get_manifest`, so
//! `/v2`, `BatchGetImage` and the console alike): an image of a repository that requires signatures is
//! handed out only when its `sha256-HEX.sig` manifest holds a valid signature of its digest by one of the
//! required keys. Signature artifacts themselves (the `.sig` manifests, referrers) stay readable, so that
//! clients can verify.
//!
//! Verifying reads the signature payloads and checks ECDSA signatures: its verdict is cached per image,
//! keyed by the digest of the `.sig` manifest and the required keys' fingerprints, so a pull costs one tag
//! lookup once verified, and a new signature, a removed one or a changed key is seen at once.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use berth_auth::signing::payload::{self, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE};
use berth_meta::StoredManifest;
use berth_oci::media_type::{DOCKER_CONFIG, OCI_CONFIG};
use berth_oci::{Digest, Reference, RepositoryName, Tag};
use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::SignatureRequirement;
use crate::{Registry, RegistryError, Result};

/// A signature payload larger than this is not read (cosign's are a few hundred bytes).
const MAX_PAYLOAD: u64 = 64 * 1024;
/// At most this many signatures of one image are checked.
const MAX_SIGNATURES: usize = 64;
const CACHE_ENTRIES: usize = 50_000;

/// Layer media types of signature artifacts (cosign signatures and DSSE attestations).
const SIGNATURE_LAYER_TYPES: [&str; 2] = [SIMPLE_SIGNING_MEDIA_TYPE, "application/vnd.dsse.envelope.v1+json"];

/// A cached verdict: the `.sig` manifest's digest and the keys' fingerprint it holds for, and the key that
/// signed (none: no valid signature).
struct Verdict {
    signatures: Digest,
    keys: String,
    signer: Option<String>,
}

/// Verdicts by image.
#[derive(Default)]
pub struct VerifyCache(Mutex<HashMap<(RepositoryName, Digest), Verdict>>);

/// Whether `m` is a signature artifact or another artifact about an image (a referrer): never gated.
pub(crate) fn is_signature_artifact(m: &StoredManifest) -> bool {
    // `artifact_type` is the config's media type for an image: only another one marks an artifact.
    let artifact = m.artifact_type.as_deref().is_some_and(|t| !matches!(t, OCI_CONFIG | DOCKER_CONFIG));
    if m.subject.is_some() || artifact {
        return true;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&m.content) else { return false };
    let Some(layers) = v.get("layers").and_then(Value::as_array) else { return false };
    !layers.is_empty()
        && layers
            .iter()
            .all(|l| l.get("mediaType").and_then(Value::as_str).is_some_and(|t| SIGNATURE_LAYER_TYPES.contains(&t)))
}

impl Registry {
    /// Refuses `m` (of `repo`) when a signature requirement applies and no required key signed it.
    pub(crate) async fn check_signature_requirement(&self, repo: &RepositoryName, m: &StoredManifest) -> Result<()> {
        let Some(requirement) = self.effective_requirement(repo).await? else { return Ok(()) };
        if is_signature_artifact(m) {
            return Ok(());
        }
        match self.signed_by(repo, &m.digest, &requirement).await? {
            Ok(_) => Ok(()),
            Err(why) => Err(RegistryError::PullBlocked(format!(
                "{repo}@{} is not signed by a trusted key: {why}; the signature requirement asks for a signature \
                 by {} (cosign format, tag {})",
                m.digest,
                requirement.key_names.join(" or "),
                payload::signature_tag(&m.digest.to_string()),
            ))),
        }
    }

    /// The required key that signed `digest` in `repo`, or why none did.
    pub(crate) async fn signed_by(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        requirement: &SignatureRequirement,
    ) -> Result<std::result::Result<String, String>> {
        let ring = self.key_ring().await?;
        let keys: Vec<(&str, &berth_auth::signing::VerifyingKey)> =
            requirement.key_names.iter().filter_map(|n| ring.verifying_key(n).map(|k| (n.as_str(), k))).collect();
        if keys.is_empty() {
            return Ok(Err("none of the required keys exists any more".into()));
        }
        let fingerprint = keys.iter().map(|(n, k)| format!("{n}={}", k.fingerprint())).collect::<Vec<_>>().join(",");
        let tag: Tag = payload::signature_tag(&digest.to_string()).parse().expect("a signature tag is a valid tag");
        let Some(sig) = self.meta.get_manifest(repo, &Reference::Tag(tag)).await? else {
            return Ok(Err("it has no signature".into()));
        };
        let cache_key = (repo.clone(), digest.clone());
        if let Some(v) = self.signing.verified.0.lock().unwrap_or_else(|p| p.into_inner()).get(&cache_key)
            && v.signatures == sig.digest
            && v.keys == fingerprint
        {
            return Ok(v.signer.clone().ok_or_else(|| "none of its signatures is valid for a required key".into()));
        }
        let verdict = self.verify_signatures(digest, &sig, &keys).await?;
        let mut cache = self.signing.verified.0.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(cache_key, Verdict { signatures: sig.digest.clone(), keys: fingerprint, signer: verdict.clone() });
        Ok(verdict.ok_or_else(|| "none of its signatures is valid for a required key".into()))
    }

    /// The first of `keys` that made a valid signature of `digest` among the layers of `sig`.
    async fn verify_signatures(
        &self,
        digest: &Digest,
        sig: &StoredManifest,
        keys: &[(&str, &berth_auth::signing::VerifyingKey)],
    ) -> Result<Option<String>> {
        let Ok(v) = serde_json::from_slice::<Value>(&sig.content) else { return Ok(None) };
        let layers = v.get("layers").and_then(Value::as_array).cloned().unwrap_or_default();
        for layer in layers.iter().take(MAX_SIGNATURES) {
            if layer.get("mediaType").and_then(Value::as_str) != Some(SIMPLE_SIGNING_MEDIA_TYPE) {
                continue;
            }
            let Some(signature) = layer
                .pointer(&format!("/annotations/{}", SIGNATURE_ANNOTATION.replace('/', "~1")))
                .and_then(Value::as_str)
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            else {
                continue;
            };
            let Some(blob) = layer.get("digest").and_then(Value::as_str).and_then(|d| d.parse::<Digest>().ok()) else {
                continue;
            };
            let Some(payload_bytes) = self.read_small_blob(&blob).await? else { continue };
            for (name, key) in keys {
                if key.verify(&payload_bytes, &signature)
                    && payload::parse(&payload_bytes).is_ok_and(|c| c.manifest_digest == digest.to_string())
                {
                    return Ok(Some(name.to_string()));
                }
            }
        }
        Ok(None)
    }

    /// A blob's bytes when it is at most [`MAX_PAYLOAD`] long (`None` when larger or missing).
    pub(crate) async fn read_small_blob(&self, digest: &Digest) -> Result<Option<Vec<u8>>> {
        let mut blob = match self.blobs.open(digest, None).await {
            Ok(b) => b,
            Err(berth_storage::StorageError::BlobNotFound(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if blob.len > MAX_PAYLOAD {
            return Ok(None);
        }
        let mut bytes = Vec::with_capacity(blob.len as usize);
        blob.reader.read_to_end(&mut bytes).await.map_err(|e| RegistryError::Storage(e.into()))?;
        Ok(Some(bytes))
    }
}
