//! Image signing keys.

use crate::MetaError;
use crate::MetaStore;
use crate::image_signing::ImageSigningKey;

/// Keys are created once (a second key of the same name is `AlreadyExists` and changes nothing), listed in
/// name order with their sealed private key or none, and deleted once.
pub async fn image_signing_keys<S: MetaStore>(store: &S) {
    let mine = |all: Vec<ImageSigningKey>| -> Vec<ImageSigningKey> {
        all.into_iter().filter(|k| k.name.starts_with("conf-sign-")).collect()
    };
    let managed = ImageSigningKey {
        name: "conf-sign-b".into(),
        public_key: "-----BEGIN PUBLIC KEY-----\nb\n-----END PUBLIC KEY-----\n".into(),
        sealed_private: Some(vec![1, 0, 255, 7]),
        created_at: 5,
    };
    let trusted = ImageSigningKey {
        name: "conf-sign-a".into(),
        public_key: "-----BEGIN PUBLIC KEY-----\na\n-----END PUBLIC KEY-----\n".into(),
        sealed_private: None,
        created_at: 6,
    };
    store.create_image_signing_key(&managed).await.unwrap();
    store.create_image_signing_key(&trusted).await.unwrap();
    let again = ImageSigningKey { public_key: "other".into(), ..trusted.clone() };
    assert!(matches!(store.create_image_signing_key(&again).await, Err(MetaError::AlreadyExists(_))));
    assert_eq!(mine(store.list_image_signing_keys().await.unwrap()), [trusted.clone(), managed.clone()]);

    assert!(store.delete_image_signing_key("conf-sign-b").await.unwrap());
    assert!(!store.delete_image_signing_key("conf-sign-b").await.unwrap(), "already gone");
    assert_eq!(mine(store.list_image_signing_keys().await.unwrap()), [trusted]);
    assert!(store.delete_image_signing_key("conf-sign-a").await.unwrap());
}
