//! Signing keys: created by berth (the private key sealed with the master key, exportable once in
//! cosign's encrypted format) or trusted (a client's public key).

use std::sync::Arc;
use std::time::Instant;

use berth_auth::sealed;
use berth_auth::signing::{SigningKey, VerifyingKey};
use berth_meta::MetaError;
use berth_meta::image_signing::ImageSigningKey;

use crate::{Registry, RegistryError, Result};

/// A key as listed: its name, public key and whether berth holds its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub name: String,
    /// PEM `PUBLIC KEY`.
    pub public_key: String,
    /// `sha256:` of the public key's DER.
    pub fingerprint: String,
    /// berth holds the private key (it can sign with it).
    pub managed: bool,
    pub created_at: i64,
}

/// What creating a managed key hands back.
pub struct NewKey {
    pub info: KeyInfo,
    /// The private key in cosign's encrypted PEM, when an export passphrase was given.
    pub exported_private_key: Option<String>,
}

/// Key names: what a signing profile's name may be (`[a-zA-Z0-9_]{2,64}`), so that a profile ARN names a key.
pub fn valid_key_name(name: &str) -> bool {
    (2..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The keys as this node last read them, with their public keys parsed.
pub(crate) struct KeyRing {
    keys: Vec<(KeyInfo, VerifyingKey)>,
}

impl KeyRing {
    pub(crate) fn get(&self, name: &str) -> Option<&KeyInfo> {
        self.keys.iter().find(|(k, _)| k.name == name).map(|(k, _)| k)
    }

    pub(crate) fn verifying_key(&self, name: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|(k, _)| k.name == name).map(|(_, v)| v)
    }
}

fn info(k: &ImageSigningKey) -> Result<(KeyInfo, VerifyingKey)> {
    let public = VerifyingKey::from_pem(&k.public_key)
        .map_err(|e| RegistryError::Meta(MetaError::Corrupt(format!("signing key {}: {e}", k.name))))?;
    let info = KeyInfo {
        name: k.name.clone(),
        public_key: k.public_key.clone(),
        fingerprint: public.fingerprint(),
        managed: k.sealed_private.is_some(),
        created_at: k.created_at,
    };
    Ok((info, public))
}

fn check_name(name: &str) -> Result<()> {
    if valid_key_name(name) {
        Ok(())
    } else {
        Err(RegistryError::InvalidSetting(format!(
            "signing key name {name:?}: 2 to 64 letters, digits or underscores (a signing profile's name)"
        )))
    }
}

fn exists(e: MetaError) -> RegistryError {
    match e {
        MetaError::AlreadyExists(what) => RegistryError::InvalidSetting(format!("{what} already exists")),
        e => RegistryError::Meta(e),
    }
}

impl Registry {
    /// Creates a key berth manages. With `export_passphrase`, also returns the private key in cosign's
    /// encrypted format (for clients that sign with the same key, e.g. skopeo).
    pub async fn create_signing_key(&self, name: &str, export_passphrase: Option<&[u8]>) -> Result<NewKey> {
        check_name(name)?;
        let master = self.signing.master.get().ok_or_else(|| {
            RegistryError::InvalidSetting("this server cannot create signing keys (no master key)".into())
        })?;
        let key = SigningKey::generate();
        let record = ImageSigningKey {
            name: name.to_string(),
            public_key: key.verifying_key().to_pem(),
            sealed_private: Some(sealed::seal(master, &key.to_pkcs8_der())),
            created_at: self.now(),
        };
        self.meta.create_image_signing_key(&record).await.map_err(exists)?;
        self.forget_signing_keys();
        let exported_private_key = export_passphrase.map(|p| key.to_encrypted_pem(p));
        Ok(NewKey { info: info(&record)?.0, exported_private_key })
    }

    /// Trusts a client's public key (PEM `PUBLIC KEY`, ECDSA P-256) under `name`.
    pub async fn trust_signing_key(&self, name: &str, public_key_pem: &str) -> Result<KeyInfo> {
        check_name(name)?;
        let public = VerifyingKey::from_pem(public_key_pem)
            .map_err(|e| RegistryError::InvalidSetting(format!("public key: {e}")))?;
        let record = ImageSigningKey {
            name: name.to_string(),
            public_key: public.to_pem(),
            sealed_private: None,
            created_at: self.now(),
        };
        self.meta.create_image_signing_key(&record).await.map_err(exists)?;
        self.forget_signing_keys();
        Ok(info(&record)?.0)
    }

    pub async fn list_signing_keys(&self) -> Result<Vec<KeyInfo>> {
        Ok(self.fresh_key_ring().await?.keys.iter().map(|(k, _)| k.clone()).collect())
    }

    /// Deletes a key; `false` when there was none. A key the signing configuration or a signature
    /// requirement names cannot be deleted.
    pub async fn delete_signing_key(&self, name: &str) -> Result<bool> {
        let config = self.signing_configuration().await?.unwrap_or_default();
        if config.rules.iter().any(|r| r.key_name() == name) {
            return Err(RegistryError::InvalidSetting(format!(
                "signing key {name} is used by the signing configuration; change it first"
            )));
        }
        if self.signature_requirement(None).await?.is_some_and(|r| r.key_names.iter().any(|k| k == name)) {
            return Err(RegistryError::InvalidSetting(format!(
                "signing key {name} is named by the registry's signature requirement; change it first"
            )));
        }
        let deleted = self.meta.delete_image_signing_key(name).await?;
        self.forget_signing_keys();
        Ok(deleted)
    }

    /// The private key of the managed key `name`, opened with the master key.
    pub(crate) async fn managed_signing_key(&self, name: &str) -> Result<SigningKey> {
        let stored = self.meta.list_image_signing_keys().await?;
        let record = stored
            .iter()
            .find(|k| k.name == name)
            .ok_or_else(|| RegistryError::InvalidSetting(format!("there is no signing key {name}")))?;
        let sealed_private = record.sealed_private.as_ref().ok_or_else(|| {
            RegistryError::InvalidSetting(format!(
                "signing key {name} is a trusted public key; berth cannot sign with it"
            ))
        })?;
        let master = self
            .signing
            .master
            .get()
            .ok_or_else(|| RegistryError::InvalidSetting("this server cannot sign (no master key)".into()))?;
        let der = zeroize::Zeroizing::new(sealed::open(master, sealed_private).map_err(|_| {
            RegistryError::Meta(MetaError::Corrupt(format!(
                "signing key {name} cannot be opened with this server's master key"
            )))
        })?);
        SigningKey::from_pkcs8_der(&der)
            .map_err(|e| RegistryError::Meta(MetaError::Corrupt(format!("signing key {name}: {e}"))))
    }

    /// The keys as read at most [`crate::settings::CONFIG_CACHE`] ago (a key trusted or deleted on another
    /// node counts within that time; on this node at once).
    pub(crate) async fn key_ring(&self) -> Result<Arc<KeyRing>> {
        if let Some((at, ring)) = self.signing.keys.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && at.elapsed() < crate::settings::CONFIG_CACHE
        {
            return Ok(ring.clone());
        }
        self.fresh_key_ring().await
    }

    pub(crate) async fn fresh_key_ring(&self) -> Result<Arc<KeyRing>> {
        let stored = self.meta.list_image_signing_keys().await?;
        let ring = Arc::new(KeyRing { keys: stored.iter().map(info).collect::<Result<_>>()? });
        *self.signing.keys.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), ring.clone()));
        Ok(ring)
    }

    fn forget_signing_keys(&self) {
        *self.signing.keys.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}
