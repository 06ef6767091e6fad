//! ECDSA P-256 signing keys in the formats cosign and containers/image use.
//!
//! Public key: PEM `PUBLIC KEY` around the PKIX (SubjectPublicKeyInfo) DER — what `cosign.pub` holds and a
//! `policy.json` `keyPath` names. Private key, for export: PEM `ENCRYPTED SIGSTORE PRIVATE KEY` whose body
//! is the JSON envelope of go-securesystemslib's `encrypted` package:
//! `{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":B64},"cipher":{"name":"nacl/secretbox",
//! "nonce":B64},"ciphertext":B64}` where the secretbox key is scrypt(passphrase, salt) and the plaintext the
//! PKCS#8 DER of the key (secretbox output: the 16-byte tag, then the ciphertext, as NaCl lays it out).
//! Signatures: ECDSA over SHA-256 of the message, ASN.1 DER encoded.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2_010::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// PEM label of cosign's encrypted private key (cosign 2+, containers/image).
pub const ENCRYPTED_PRIVATE_KEY_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The label cosign 1 wrote; read too.
const LEGACY_PRIVATE_KEY_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
const PUBLIC_KEY_LABEL: &str = "PUBLIC KEY";
/// scrypt parameters cosign writes (go-securesystemslib's defaults): N = 2^15, r = 8, p = 1.
const SCRYPT_LOG_N: u8 = 15;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
/// scrypt costs 128·N·r bytes of memory; refuse imported envelopes asking for more than this N.
const SCRYPT_MAX_LOG_N: u8 = 20;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("not a PEM block labelled {0}")]
    NotPem(&'static str),
    #[error("the encrypted key envelope is malformed: {0}")]
    Envelope(String),
    /// One error for both, as for any AEAD: a wrong passphrase looks like tampered data.
    #[error("the private key cannot be decrypted: wrong passphrase or corrupted key")]
    Decrypt,
    #[error("not an ECDSA P-256 key: {0}")]
    NotP256(String),
}

/// A private signing key. `Debug` does not print it; its memory is zeroed on drop (by `p256`).
#[derive(Clone)]
pub struct SigningKey(p256::ecdsa::SigningKey);

/// A public key that verifies signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey(p256::ecdsa::VerifyingKey);

impl SigningKey {
    /// A new random key from the operating system's CSPRNG.
    pub fn generate() -> SigningKey {
        loop {
            let mut bytes = Zeroizing::new([0u8; 32]);
            rand::rng().fill_bytes(bytes.as_mut());
            // Fails only for zero or a value at or above the group order (probability ~2^-32).
            if let Ok(k) = p256::ecdsa::SigningKey::from_slice(bytes.as_ref()) {
                return SigningKey(k);
            }
        }
    }

    /// The PKCS#8 DER encoding (what berth seals with its master key).
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        let doc = self.0.to_pkcs8_der().expect("a P-256 key encodes as PKCS#8");
        Zeroizing::new(doc.as_bytes().to_vec())
    }

    pub fn from_pkcs8_der(der: &[u8]) -> Result<SigningKey, KeyError> {
        p256::ecdsa::SigningKey::from_pkcs8_der(der).map(SigningKey).map_err(|e| KeyError::NotP256(e.to_string()))
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey(*self.0.verifying_key())
    }

    /// ECDSA-P256-SHA256 over `message`, ASN.1 DER encoded (as cosign and containers/image sign).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let signature: p256::ecdsa::Signature = self.0.sign(message);
        signature.to_der().as_bytes().to_vec()
    }

    /// cosign's passphrase-encrypted PEM (see the module documentation).
    pub fn to_encrypted_pem(&self, passphrase: &[u8]) -> String {
        let mut salt = [0u8; 32];
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut salt);
        rand::rng().fill_bytes(&mut nonce);
        let key =
            derive(passphrase, &salt, SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P).expect("the default parameters are valid");
        let ciphertext = XSalsa20Poly1305::new((&*key).into())
            .encrypt(Nonce::from_slice(&nonce), self.to_pkcs8_der().as_slice())
            .unwrap_or_else(|_| unreachable!("secretbox cannot fail for a small message"));
        let envelope = Envelope {
            kdf: Kdf {
                name: "scrypt".into(),
                params: ScryptParams { n: 1 << SCRYPT_LOG_N, r: SCRYPT_R, p: SCRYPT_P },
                salt: B64.encode(salt),
            },
            cipher: Cipher { name: "nacl/secretbox".into(), nonce: B64.encode(nonce) },
            ciphertext: B64.encode(ciphertext),
        };
        let json = serde_json::to_vec(&envelope).expect("the envelope serialises");
        pem_encode(ENCRYPTED_PRIVATE_KEY_LABEL, &json)
    }

    /// Reads cosign's encrypted PEM (either label) with `passphrase`.
    pub fn from_encrypted_pem(pem: &str, passphrase: &[u8]) -> Result<SigningKey, KeyError> {
        let json = pem_decode(pem, ENCRYPTED_PRIVATE_KEY_LABEL)
            .or_else(|_| pem_decode(pem, LEGACY_PRIVATE_KEY_LABEL))
            .map_err(|_| KeyError::NotPem(ENCRYPTED_PRIVATE_KEY_LABEL))?;
        let envelope: Envelope = serde_json::from_slice(&json).map_err(|e| KeyError::Envelope(e.to_string()))?;
        if envelope.kdf.name != "scrypt" || envelope.cipher.name != "nacl/secretbox" {
            return Err(KeyError::Envelope(format!(
                "unsupported kdf {} or cipher {}",
                envelope.kdf.name, envelope.cipher.name
            )));
        }
        let ScryptParams { n, r, p } = envelope.kdf.params;
        let log_n = (n.is_power_of_two() && n > 1).then(|| n.trailing_zeros() as u8);
        let log_n = log_n
            .filter(|l| *l <= SCRYPT_MAX_LOG_N)
            .ok_or_else(|| KeyError::Envelope(format!("unsupported scrypt N {n}")))?;
        let field = |what: &str, v: &str| B64.decode(v).map_err(|e| KeyError::Envelope(format!("{what}: {e}")));
        let salt = field("salt", &envelope.kdf.salt)?;
        let nonce = field("nonce", &envelope.cipher.nonce)?;
        let ciphertext = field("ciphertext", &envelope.ciphertext)?;
        if nonce.len() != 24 {
            return Err(KeyError::Envelope(format!("nonce of {} bytes, not 24", nonce.len())));
        }
        let key = derive(passphrase, &salt, log_n, r, p)?;
        let der = XSalsa20Poly1305::new((&*key).into())
            .decrypt(Nonce::from_slice(&nonce), ciphertext.as_slice())
            .map_err(|_| KeyError::Decrypt)?;
        SigningKey::from_pkcs8_der(&Zeroizing::new(der))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

impl VerifyingKey {
    /// The PKIX (SubjectPublicKeyInfo) DER encoding.
    pub fn to_der(&self) -> Vec<u8> {
        self.0.to_public_key_der().expect("a P-256 key encodes as PKIX").as_bytes().to_vec()
    }

    /// PEM `PUBLIC KEY`, as `cosign.pub`.
    pub fn to_pem(&self) -> String {
        pem_encode(PUBLIC_KEY_LABEL, &self.to_der())
    }

    pub fn from_pem(pem: &str) -> Result<VerifyingKey, KeyError> {
        let der = pem_decode(pem, PUBLIC_KEY_LABEL)?;
        p256::ecdsa::VerifyingKey::from_public_key_der(&der)
            .map(VerifyingKey)
            .map_err(|e| KeyError::NotP256(e.to_string()))
    }

    /// Whether `signature` (ASN.1 DER) is this key's ECDSA-P256-SHA256 signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match p256::ecdsa::Signature::from_der(signature) {
            Ok(sig) => self.0.verify(message, &sig).is_ok(),
            Err(_) => false,
        }
    }

    /// `sha256:` of the PKIX DER: names the key in listings and in the verification cache.
    pub fn fingerprint(&self) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(self.to_der())))
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({})", self.fingerprint())
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Serialize, Deserialize, Clone, Copy)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

fn derive(passphrase: &[u8], salt: &[u8], log_n: u8, r: u32, p: u32) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let params = scrypt::Params::new(log_n, r, p, 32).map_err(|e| KeyError::Envelope(format!("scrypt: {e}")))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(passphrase, salt, &params, key.as_mut()).map_err(|e| KeyError::Envelope(format!("scrypt: {e}")))?;
    Ok(key)
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_decode(pem: &str, label: &'static str) -> Result<Vec<u8>, KeyError> {
    let (begin, end) = (format!("-----BEGIN {label}-----"), format!("-----END {label}-----"));
    let start = pem.find(&begin).ok_or(KeyError::NotPem(label))? + begin.len();
    let stop = pem[start..].find(&end).ok_or(KeyError::NotPem(label))? + start;
    let body: String = pem[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    B64.decode(body).map_err(|_| KeyError::NotPem(label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_pem_round_trips_and_has_cosign_shape() {
        let key = SigningKey::generate();
        let pem = key.to_encrypted_pem(b"correct horse");
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        let json: serde_json::Value =
            serde_json::from_slice(&pem_decode(&pem, ENCRYPTED_PRIVATE_KEY_LABEL).unwrap()).unwrap();
        assert_eq!(json["kdf"]["name"], "scrypt");
        assert_eq!(json["kdf"]["params"], serde_json::json!({"N": 32768, "r": 8, "p": 1}));
        assert_eq!(B64.decode(json["kdf"]["salt"].as_str().unwrap()).unwrap().len(), 32);
        assert_eq!(json["cipher"]["name"], "nacl/secretbox");
        assert_eq!(B64.decode(json["cipher"]["nonce"].as_str().unwrap()).unwrap().len(), 24);
        // The PKCS#8 DER of a P-256 key (138 bytes) plus the 16-byte secretbox tag.
        assert_eq!(B64.decode(json["ciphertext"].as_str().unwrap()).unwrap().len(), key.to_pkcs8_der().len() + 16);

        let back = SigningKey::from_encrypted_pem(&pem, b"correct horse").unwrap();
        assert_eq!(back.verifying_key(), key.verifying_key());
        assert_eq!(SigningKey::from_encrypted_pem(&pem, b"wrong").unwrap_err(), KeyError::Decrypt);
    }

    #[test]
    fn secretbox_lays_the_tag_first_as_nacl_does() {
        // NaCl's crypto_secretbox (and Go's x/crypto secretbox.Seal) output tag || ciphertext; the XSalsa20
        // keystream XOR of a zero plaintext therefore appears after the first 16 bytes.
        let (key, nonce) = ([7u8; 32], [9u8; 24]);
        let zeros = [0u8; 32];
        let sealed = XSalsa20Poly1305::new((&key).into()).encrypt(Nonce::from_slice(&nonce), &zeros[..]).unwrap();
        let mut stream = [0u8; 64];
        use crypto_secretbox::cipher::{KeyIvInit, StreamCipher};
        let mut cipher = salsa20::XSalsa20::new((&key).into(), (&nonce).into());
        cipher.apply_keystream(&mut stream);
        // secretbox uses the first 32 keystream bytes as the Poly1305 key, the rest to encrypt.
        assert_eq!(&sealed[16..], &stream[32..64]);
    }

    #[test]
    fn tampered_envelopes_are_refused() {
        let key = SigningKey::generate();
        let pem = key.to_encrypted_pem(b"pw");
        let mut json: serde_json::Value =
            serde_json::from_slice(&pem_decode(&pem, ENCRYPTED_PRIVATE_KEY_LABEL).unwrap()).unwrap();
        let mut ct = B64.decode(json["ciphertext"].as_str().unwrap()).unwrap();
        ct[20] ^= 1;
        json["ciphertext"] = B64.encode(&ct).into();
        let bad = pem_encode(ENCRYPTED_PRIVATE_KEY_LABEL, json.to_string().as_bytes());
        assert_eq!(SigningKey::from_encrypted_pem(&bad, b"pw").unwrap_err(), KeyError::Decrypt);
        json["kdf"]["params"]["N"] = (1u64 << 30).into();
        let huge = pem_encode(ENCRYPTED_PRIVATE_KEY_LABEL, json.to_string().as_bytes());
        assert!(matches!(SigningKey::from_encrypted_pem(&huge, b"pw"), Err(KeyError::Envelope(_))));
        assert_eq!(
            SigningKey::from_encrypted_pem("junk", b"pw").unwrap_err(),
            KeyError::NotPem(ENCRYPTED_PRIVATE_KEY_LABEL)
        );
    }

    #[test]
    fn signatures_verify_only_for_their_key_and_message() {
        let key = SigningKey::generate();
        let sig = key.sign(b"payload");
        let public = VerifyingKey::from_pem(&key.verifying_key().to_pem()).unwrap();
        assert!(public.verify(b"payload", &sig));
        assert!(!public.verify(b"payload!", &sig));
        assert!(!SigningKey::generate().verifying_key().verify(b"payload", &sig));
        assert!(!public.verify(b"payload", b"not der"));
    }

    #[test]
    fn verifies_a_signature_made_by_openssl() {
        // `openssl ec -pubout` and `openssl dgst -sha256 -sign` of a P-256 key: the PKIX PEM cosign writes to
        // cosign.pub and the ASN.1 DER signature it puts (base64) in the signature annotation.
        let pem = "-----BEGIN PUBLIC KEY-----\n\
            MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAELPw9B7yYsEcVNJNqw9e+XCegG4pT\n\
            Rte6194HW2cgFzSnsJncX1ejBPTeplkSMOJ6ZfeThAo5KMLMDkSi0pY4Cg==\n\
            -----END PUBLIC KEY-----\n";
        let sig = B64
            .decode("MEYCIQDLVkBldwXqvfLbKyvdjAJEQeBa7QF6OJrKrJ/HSfObIwIhANjXTOzMbdO05cg2GrzDMpQGR7n6BvBL2hvrZ+UT65BL")
            .unwrap();
        let key = VerifyingKey::from_pem(pem).unwrap();
        assert_eq!(key.to_pem(), pem);
        assert!(key.verify(b"berth signing vector", &sig));
        assert!(!key.verify(b"berth signing vector.", &sig));
    }

    #[test]
    fn private_keys_do_not_print() {
        assert_eq!(format!("{:?}", SigningKey::generate()), "SigningKey(***)");
    }
}
