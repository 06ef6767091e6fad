//! Authenticated encryption of secrets that must be recoverable: SigV4 secret access keys (verification
//! recomputes the signature, so a hash will not do) and token signing keys.
//!
//! Format of a sealed value: `version (1 byte, 0x01) || nonce (24 bytes) || ciphertext || tag (16 bytes)`,
//! XChaCha20-Poly1305 with the version byte as associated data. XChaCha's 192-bit nonce is large enough to
//! be drawn at random for every seal without any practical risk of reuse, so no counter has to be kept
//! (and shared between nodes). The version byte leaves room for a future algorithm or key-id scheme.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::Zeroize;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Length of a [`MasterKey`] in bytes.
pub const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("master key must be {KEY_LEN} bytes, got {0}")]
    KeyLength(usize),
    #[error("sealed value is too short")]
    Truncated,
    #[error("sealed value has unknown format version {0}")]
    UnknownVersion(u8),
    /// Deliberately one error for both: AEAD cannot tell a wrong key from tampered data.
    #[error("sealed value cannot be opened: wrong master key or corrupted data")]
    Decrypt,
}

/// The server's 256-bit master key. `Debug` does not print it; it is zeroed on drop.
#[derive(Clone)]
pub struct MasterKey([u8; KEY_LEN]);

impl MasterKey {
    /// A new random key from the operating system's CSPRNG (via `rand::rng()`).
    pub fn generate() -> Self {
        let mut k = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut k);
        MasterKey(k)
    }

    /// A key from its raw bytes (exactly [`KEY_LEN`]), e.g. read from a key file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        let k: [u8; KEY_LEN] = bytes.try_into().map_err(|_| SealError::KeyLength(bytes.len()))?;
        Ok(MasterKey(k))
    }

    /// A 256-bit key for one purpose, derived from this one: HMAC-SHA256 of `label` (HKDF-Expand's single block,
    /// with the master key as its pseudorandom key). Each purpose has its own label, so the master key itself
    /// encrypts nothing but sealed secrets.
    pub fn derive(&self, label: &str) -> [u8; KEY_LEN] {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2_010::Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(label.as_bytes());
        mac.update(&[1]);
        mac.finalize().into_bytes().into()
    }

    /// The raw bytes, to write to a key file.
    pub fn to_bytes(&self) -> [u8; KEY_LEN] {
        self.0
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

fn cipher(key: &MasterKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new((&key.0).into())
}

/// Encrypts and authenticates `plaintext` under `key` with a fresh random nonce.
pub fn seal(key: &MasterKey, plaintext: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let aad = [VERSION];
    // Encryption only fails when the plaintext exceeds the cipher's limit (~256 GiB); secrets are tiny.
    let ciphertext = cipher(key)
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad })
        .unwrap_or_else(|_| unreachable!("XChaCha20-Poly1305 cannot fail for inputs under 256 GiB"));
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

/// Decrypts a value made by [`seal`]. Any change to it, or a different key, is an error (never a panic).
pub fn open(key: &MasterKey, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
    let (&version, rest) = sealed.split_first().ok_or(SealError::Truncated)?;
    if version != VERSION {
        return Err(SealError::UnknownVersion(version));
    }
    if rest.len() < NONCE_LEN + TAG_LEN {
        return Err(SealError::Truncated);
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    cipher(key)
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: &[version] })
        .map_err(|_| SealError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn derived_keys_differ_by_label_and_master_key() {
        let k = MasterKey::from_bytes(&[7; KEY_LEN]).unwrap();
        assert_eq!(k.derive("a"), k.derive("a"), "deterministic");
        assert_ne!(k.derive("a"), k.derive("b"));
        assert_ne!(k.derive("a"), MasterKey::from_bytes(&[8; KEY_LEN]).unwrap().derive("a"));
        assert_ne!(k.derive("a"), k.to_bytes());
    }

    #[test]
    fn round_trip() {
        let k = MasterKey::generate();
        for msg in [&b""[..], b"x", b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &[0u8; 4096]] {
            let s = seal(&k, msg);
            assert_eq!(s.len(), 1 + 24 + msg.len() + 16);
            assert_eq!(s[0], 1);
            assert_eq!(open(&k, &s).unwrap(), msg);
        }
    }

    #[test]
    fn nonces_are_fresh() {
        let k = MasterKey::generate();
        assert_ne!(seal(&k, b"same"), seal(&k, b"same"));
    }

    #[test]
    fn wrong_key_fails() {
        let s = seal(&MasterKey::generate(), b"secret");
        assert_eq!(open(&MasterKey::generate(), &s), Err(SealError::Decrypt));
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let k = MasterKey::generate();
        let s = seal(&k, b"secret access key");
        for i in 0..s.len() {
            for bit in 0..8 {
                let mut t = s.clone();
                t[i] ^= 1 << bit;
                assert!(open(&k, &t).is_err(), "byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn short_and_foreign_inputs() {
        let k = MasterKey::generate();
        assert_eq!(open(&k, b""), Err(SealError::Truncated));
        assert_eq!(open(&k, &[1u8; 40]), Err(SealError::Truncated));
        assert_eq!(open(&k, &[1u8; 41]), Err(SealError::Decrypt));
        assert_eq!(open(&k, &[2u8; 100]), Err(SealError::UnknownVersion(2)));
        let s = seal(&k, b"abc");
        assert_eq!(open(&k, &s[..s.len() - 1]), Err(SealError::Decrypt));
    }

    #[test]
    fn key_bytes_round_trip_and_debug_hides() {
        let k = MasterKey::generate();
        let k2 = MasterKey::from_bytes(&k.to_bytes()).unwrap();
        assert_eq!(open(&k2, &seal(&k, b"m")).unwrap(), b"m");
        assert_eq!(MasterKey::from_bytes(&[0u8; 31]).err(), Some(SealError::KeyLength(31)));
        assert_eq!(MasterKey::from_bytes(&[0u8; 33]).err(), Some(SealError::KeyLength(33)));
        let shown = format!("{k:?}");
        assert_eq!(shown, "MasterKey(***)");
        assert!(!shown.contains(&hex::encode(k.to_bytes())));
    }

    proptest! {
        #[test]
        fn open_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let k = MasterKey::from_bytes(&[7u8; 32]).unwrap();
            let _ = open(&k, &bytes);
        }

        #[test]
        fn round_trips_any_plaintext(msg in proptest::collection::vec(any::<u8>(), 0..300)) {
            let k = MasterKey::generate();
            prop_assert_eq!(open(&k, &seal(&k, &msg)).unwrap(), msg);
        }
    }
}
