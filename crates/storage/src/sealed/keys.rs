//! Key-encryption keys: who wraps and unwraps the data keys sealed objects carry.
//!
//! [`KeyProvider`] is the seam for an external key service (AWS KMS `Encrypt`/`Decrypt`, Vault Transit
//! `encrypt`/`decrypt`): the storage layer only ever hands it a 32-byte data key to wrap, and a wrapped key
//! (with the key id and version the header names) to unwrap. [`LocalKeys`] keeps the key-encryption keys in
//! memory, as given at start.

use std::collections::HashMap;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::KeyInit;
use async_trait::async_trait;

use super::format::{DataKey, KEY_LEN, WrappedKey, open_with, seal_with};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("encryption key {0} is not known to this registry")]
    Unknown(String),
    #[error("the data key cannot be unwrapped with encryption key {0} (wrong key or damaged header)")]
    Unwrap(String),
}

#[async_trait]
pub trait KeyProvider: Send + Sync + 'static {
    /// The key new blobs are sealed under.
    fn current_key(&self) -> &str;

    /// Wraps `key` with the current version of key-encryption key `key_id`.
    async fn wrap(&self, key_id: &str, key: &DataKey) -> Result<WrappedKey, KeyError>;

    /// Unwraps a data key wrapped by [`KeyProvider::wrap`].
    async fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, KeyError>;
}

/// Key-encryption keys held in memory: (id, version) → 256-bit key.
pub struct LocalKeys {
    current: String,
    keys: HashMap<String, Vec<(u32, Aes256Gcm)>>,
}

impl LocalKeys {
    /// Keys with `current` (version 1, `material`) as the key new blobs are sealed under.
    pub fn new(current: &str, material: [u8; KEY_LEN]) -> LocalKeys {
        let mut keys = LocalKeys { current: current.to_string(), keys: HashMap::new() };
        keys.add(current, 1, material);
        keys
    }

    /// Adds a key (or another version of one; the highest version wraps new data keys).
    pub fn add(&mut self, id: &str, version: u32, material: [u8; KEY_LEN]) {
        let versions = self.keys.entry(id.to_string()).or_default();
        versions.push((version, Aes256Gcm::new((&material).into())));
        versions.sort_by_key(|(v, _)| *v);
    }

    fn version(&self, id: &str, version: Option<u32>) -> Result<(u32, &Aes256Gcm), KeyError> {
        let versions = self.keys.get(id).ok_or_else(|| KeyError::Unknown(id.to_string()))?;
        let found = match version {
            Some(v) => versions.iter().find(|(have, _)| *have == v),
            None => versions.last(),
        };
        found.map(|(v, c)| (*v, c)).ok_or_else(|| KeyError::Unknown(format!("{id} version {}", version.unwrap_or(0))))
    }
}

/// The wrapped key is bound to the key id and version that wrap it.
fn wrap_aad(id: &str, version: u32) -> Vec<u8> {
    let mut aad = b"berth data key\0".to_vec();
    aad.extend_from_slice(id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

#[async_trait]
impl KeyProvider for LocalKeys {
    fn current_key(&self) -> &str {
        &self.current
    }

    async fn wrap(&self, key_id: &str, key: &DataKey) -> Result<WrappedKey, KeyError> {
        let (version, kek) = self.version(key_id, None)?;
        let mut bytes = Vec::with_capacity(KEY_LEN + 28);
        seal_with(kek, &wrap_aad(key_id, version), &key.0, &mut bytes);
        Ok(WrappedKey { key_id: key_id.to_string(), version, bytes })
    }

    async fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, KeyError> {
        let (version, kek) = self.version(&wrapped.key_id, Some(wrapped.version))?;
        let mut buf = wrapped.bytes.clone();
        open_with(kek, &wrap_aad(&wrapped.key_id, version), &mut buf)
            .map_err(|()| KeyError::Unwrap(wrapped.key_id.clone()))?;
        let key = DataKey::from_bytes(&buf).ok_or_else(|| KeyError::Unwrap(wrapped.key_id.clone()));
        zeroize::Zeroize::zeroize(&mut buf);
        key
    }
}
