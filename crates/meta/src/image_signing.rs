//! Keys that sign and verify images: keys berth manages (the private key sealed by the layer above with
//! the master key; the store never sees it in clear) and trusted public keys of clients. The store keeps
//! the key material and does not interpret it.

use async_trait::async_trait;

use crate::Result;

/// One key as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct ImageSigningKey {
    pub name: String,
    /// PEM `PUBLIC KEY`.
    pub public_key: String,
    /// The sealed private key of a key berth manages; `None` for a trusted client key.
    pub sealed_private: Option<Vec<u8>>,
    pub created_at: i64,
}

impl std::fmt::Debug for ImageSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageSigningKey")
            .field("name", &self.name)
            .field("managed", &self.sealed_private.is_some())
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait ImageSigningKeyStore: Send + Sync {
    /// Adds `key`; `AlreadyExists` (and no change) when a key of that name exists.
    async fn create_image_signing_key(&self, key: &ImageSigningKey) -> Result<()>;
    /// Every key, in lexical order of name.
    async fn list_image_signing_keys(&self) -> Result<Vec<ImageSigningKey>>;
    /// Removes the key `name`; `false` when there was none.
    async fn delete_image_signing_key(&self, name: &str) -> Result<bool>;
}
