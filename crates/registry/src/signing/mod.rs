//! Image signing: keys, the registry's signing configuration (ECR's `PutSigningConfiguration`: which
//! repositories' images berth signs, with which key), signature requirements ("only images signed by these
//! keys may be pulled") and their verification.
//!
//! Signatures are cosign's (`berth_auth::signing`): a `sha256-HEX.sig` tag in the image's repository. A
//! signing profile of ECR's model (`arn:aws:signer:REGION:ACCOUNT:/signing-profiles/NAME`) names the berth
//! key `NAME`. Keys live in the metadata store (`image_signing_keys`); a managed key's private half sealed
//! with the master key. The configuration and the requirements are registry settings (JSON documents).
//!
//! - [`sign`]: signing after a push (the `image-sign` job kind) and each image's signing status.
//! - [`verify`]: the requirement check every manifest pull and `HEAD` goes through, cached.

mod keys;
mod sign;
mod verify;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use berth_auth::sealed::MasterKey;
use berth_meta::settings::wildcard_match;
use berth_oci::RepositoryName;
use serde::{Deserialize, Serialize};

pub use keys::{KeyInfo, NewKey, valid_key_name};
pub use sign::{SIGN_JOB, SignHandler, SigningStatus, StatusKind};
pub use verify::VerifyCache;

use crate::{Registry, RegistryError, Result};

/// At most this many rules (as ECR).
pub const MAX_RULES: usize = 10;

/// One rule of the signing configuration: images pushed to repositories matching a filter (all
/// repositories when there is none) are signed with the profile's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningRule {
    pub signing_profile_arn: String,
    /// `WILDCARD_MATCH` filters (`*` matches any run of characters).
    pub repository_filters: Vec<String>,
}

impl SigningRule {
    pub fn matches(&self, repo: &RepositoryName) -> bool {
        self.repository_filters.is_empty() || self.repository_filters.iter().any(|f| wildcard_match(f, repo.as_str()))
    }

    /// The berth key a profile ARN names (the part after `/signing-profiles/`).
    pub fn key_name(&self) -> &str {
        profile_key_name(&self.signing_profile_arn).unwrap_or_default()
    }
}

/// The key name of a signing profile ARN, `None` when it is not one.
pub fn profile_key_name(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let (_, name) = rest.split_once(":/signing-profiles/")?;
    valid_key_name(name).then_some(name)
}

/// The registry's signing configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SigningConfiguration {
    pub rules: Vec<SigningRule>,
}

/// Which keys an image must be signed by to be pulled (any one of them).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SignatureRequirement {
    pub key_names: Vec<String>,
}

/// A repository's effective requirement as read at a time.
type CachedRequirement = (Instant, Option<Arc<SignatureRequirement>>);

/// What the registry keeps for signing: the master key (to seal and open managed keys) and caches.
#[derive(Default)]
pub(crate) struct SigningState {
    master: OnceLock<MasterKey>,
    keys: Mutex<Option<(Instant, Arc<keys::KeyRing>)>>,
    requirements: Mutex<std::collections::HashMap<RepositoryName, CachedRequirement>>,
    verified: VerifyCache,
}

const CONFIG_KEY: &str = "signing/configuration";
const REGISTRY_REQUIREMENT_KEY: &str = "signing/requirement";

fn requirement_key(repo: &RepositoryName) -> String {
    format!("signing/requirement/{repo}")
}

fn corrupt(what: &str, e: serde_json::Error) -> RegistryError {
    RegistryError::Meta(berth_meta::MetaError::Corrupt(format!("{what}: {e}")))
}

impl Registry {
    /// Gives the registry the master key that seals managed signing keys (the server's, as for every
    /// other sealed secret). Without it keys can be trusted and signatures verified, but not made.
    pub fn enable_signing(&self, master: MasterKey) {
        let _ = self.signing.master.set(master);
    }

    /// The signing configuration; `None` when none was put (or it was deleted).
    pub async fn signing_configuration(&self) -> Result<Option<SigningConfiguration>> {
        match self.meta.registry_setting(CONFIG_KEY).await?.as_deref() {
            None | Some("null") => Ok(None),
            Some(json) => serde_json::from_str(json).map(Some).map_err(|e| corrupt("signing configuration", e)),
        }
    }

    /// Replaces the signing configuration. Each rule's profile must name a key berth manages.
    pub async fn put_signing_configuration(&self, config: &SigningConfiguration) -> Result<()> {
        if config.rules.len() > MAX_RULES {
            return Err(RegistryError::InvalidSetting(format!("at most {MAX_RULES} signing rules")));
        }
        let ring = self.fresh_key_ring().await?;
        for rule in &config.rules {
            let name = profile_key_name(&rule.signing_profile_arn).ok_or_else(|| {
                RegistryError::InvalidSetting(format!(
                    "{} is not a signing profile ARN (arn:aws:signer:REGION:ACCOUNT:/signing-profiles/NAME)",
                    rule.signing_profile_arn
                ))
            })?;
            match ring.get(name) {
                Some(k) if k.managed => {}
                Some(_) => {
                    return Err(RegistryError::InvalidSetting(format!(
                        "signing key {name} is a trusted public key; berth can sign only with keys it manages"
                    )));
                }
                None => {
                    return Err(RegistryError::InvalidSetting(format!(
                        "there is no signing key {name}; create it with `berth signing create-key --name {name}`"
                    )));
                }
            }
        }
        let json = serde_json::to_string(config).expect("serialises");
        Ok(self.meta.put_registry_setting(CONFIG_KEY, &json, self.now()).await?)
    }

    /// Removes the signing configuration, returning it; `None` when there was none.
    pub async fn delete_signing_configuration(&self) -> Result<Option<SigningConfiguration>> {
        let old = self.signing_configuration().await?;
        if old.is_some() {
            self.meta.put_registry_setting(CONFIG_KEY, "null", self.now()).await?;
        }
        Ok(old)
    }

    /// The signature requirement of `repo` (its own), or of the registry (`None`); `None` when unset.
    pub async fn signature_requirement(&self, repo: Option<&RepositoryName>) -> Result<Option<SignatureRequirement>> {
        let key = repo.map_or_else(|| REGISTRY_REQUIREMENT_KEY.to_string(), requirement_key);
        match self.meta.registry_setting(&key).await?.as_deref() {
            None | Some("null") => Ok(None),
            Some(json) => serde_json::from_str(json).map(Some).map_err(|e| corrupt("signature requirement", e)),
        }
    }

    /// Sets (or with `None` removes) the signature requirement of `repo`, or of the registry. The keys must
    /// exist. A repository's own requirement replaces the registry's for it.
    pub async fn put_signature_requirement(
        &self,
        repo: Option<&RepositoryName>,
        requirement: Option<&SignatureRequirement>,
    ) -> Result<()> {
        if let Some(r) = requirement {
            if r.key_names.is_empty() {
                return Err(RegistryError::InvalidSetting("a signature requirement names at least one key".into()));
            }
            let ring = self.fresh_key_ring().await?;
            if let Some(missing) = r.key_names.iter().find(|n| ring.get(n).is_none()) {
                return Err(RegistryError::InvalidSetting(format!("there is no signing key {missing}")));
            }
        }
        let key = repo.map_or_else(|| REGISTRY_REQUIREMENT_KEY.to_string(), requirement_key);
        let json = requirement.map_or_else(|| "null".to_string(), |r| serde_json::to_string(r).expect("serialises"));
        self.meta.put_registry_setting(&key, &json, self.now()).await?;
        self.signing.requirements.lock().unwrap_or_else(|p| p.into_inner()).clear();
        Ok(())
    }

    /// What applies to `repo`: its own requirement, else the registry's; read at most
    /// [`crate::settings::CONFIG_CACHE`] ago (a change on another node applies within that time).
    pub(crate) async fn effective_requirement(
        &self,
        repo: &RepositoryName,
    ) -> Result<Option<Arc<SignatureRequirement>>> {
        if let Some((at, r)) = self.signing.requirements.lock().unwrap_or_else(|p| p.into_inner()).get(repo)
            && at.elapsed() < crate::settings::CONFIG_CACHE
        {
            return Ok(r.clone());
        }
        let own = self.signature_requirement(Some(repo)).await?;
        let effective = match own {
            Some(r) => Some(r),
            None => self.signature_requirement(None).await?,
        }
        .map(Arc::new);
        let mut cache = self.signing.requirements.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(repo.clone(), (Instant::now(), effective.clone()));
        Ok(effective)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_arns_name_keys() {
        assert_eq!(
            profile_key_name("arn:aws:signer:us-east-1:123456789012:/signing-profiles/release"),
            Some("release")
        );
        assert_eq!(profile_key_name("arn:aws:signer:us-east-1:123456789012:/signing-profiles/a"), None, "too short");
        assert_eq!(profile_key_name("arn:aws:signer:us-east-1:123456789012:/other/release"), None);
        assert_eq!(profile_key_name("release"), None);
    }

    #[test]
    fn rules_match_by_wildcard_or_everything() {
        let repo: RepositoryName = "team/app".parse().unwrap();
        let rule = |f: &[&str]| SigningRule {
            signing_profile_arn: "arn:aws:signer:r:1:/signing-profiles/k1".into(),
            repository_filters: f.iter().map(|s| s.to_string()).collect(),
        };
        assert!(rule(&[]).matches(&repo));
        assert!(rule(&["team/*"]).matches(&repo));
        assert!(rule(&["other", "*app"]).matches(&repo));
        assert!(!rule(&["other/*"]).matches(&repo));
        assert_eq!(rule(&[]).key_name(), "k1");
    }
}
