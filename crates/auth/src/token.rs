//! Signed, short-lived tokens: registry bearer tokens (Docker token authentication) and login passwords
//! (berth's `aws ecr get-login-password`), both JWTs signed with Ed25519 (`alg: EdDSA`).
//!
//! Why Ed25519: small keys and signatures, deterministic signing (no nonce to get wrong), and a pure-Rust
//! implementation. Registry clients never look inside the token (they only send it back), so the algorithm
//! only has to suit berth itself.
//!
//! Key rotation: a [`KeyRing`] holds every key still trusted; the active one signs, and a token is checked
//! with the key its header's `kid` names. A retired key stays in the ring (verify-only) until everything it
//! signed has expired.
//!
//! The two kinds of token cannot stand in for each other: they differ in the header's `typ` (`JWT` and
//! [`LOGIN_TYP`]) and in the audience (the registry's service name and [`LOGIN_AUDIENCE`]), and both are
//! checked. Web console sessions ([`session`]) are a third kind, apart from both in the same way.
//!
//! Nothing here reads the clock: `now` (Unix seconds) is always a parameter, so expiry is tested exactly.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::secret::Secret;

/// Audience of login passwords; a registry's service name must not be this.
pub const LOGIN_AUDIENCE: &str = "berth-login";
/// Issuer of login passwords.
pub const LOGIN_ISSUER: &str = "berth";
/// Header `typ` of login passwords (registry tokens have the usual `JWT`).
pub const LOGIN_TYP: &str = "berth-login+jwt";
const REGISTRY_TYP: &str = "JWT";
const ALG: &str = "EdDSA";
/// How far in the future `nbf` may be, to absorb clock differences between nodes. `exp` gets no leeway.
pub const NBF_LEEWAY_SECS: i64 = 60;
/// Longer tokens are refused before any parsing.
const MAX_TOKEN_LEN: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token: {0}")]
    Malformed(String),
    /// Anything but `EdDSA`, including `none`.
    #[error("unsupported token algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    #[error("token header has no key id")]
    MissingKeyId,
    #[error("unknown signing key {0:?}")]
    UnknownKey(String),
    /// The signature does not match: signed by another key under a known kid, or the token was altered.
    #[error("invalid token signature")]
    BadSignature,
    /// A login password presented as a registry token, or the reverse.
    #[error("wrong kind of token")]
    WrongType,
    #[error("token is for another audience")]
    WrongAudience,
    #[error("token is from another issuer")]
    WrongIssuer,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("invalid signing key: {0}")]
    InvalidKey(String),
    #[error("duplicate signing key id {0:?}")]
    DuplicateKeyId(String),
    #[error("token signing failed: {0}")]
    Signing(String),
}

/// Shortens attacker-controlled text before it goes into an error (and from there into logs).
fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// An Ed25519 signing key with its id. `Debug` shows the kid only.
#[derive(Clone)]
pub struct SigningKeyPair {
    kid: String,
    signing: SigningKey,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl SigningKeyPair {
    /// A new key pair with a random 128-bit kid.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        let signing = SigningKey::from_bytes(&seed);
        seed.zeroize();
        Self::from_signing_key(random_hex(16), signing)
    }

    /// Restores a key pair from [`SigningKeyPair::to_private_bytes`] output and its kid.
    pub fn from_private_bytes(kid: &str, pkcs8_der: &[u8]) -> Result<Self, TokenError> {
        if kid.is_empty() || kid.len() > 128 {
            return Err(TokenError::InvalidKey("kid must have 1 to 128 characters".into()));
        }
        let signing = SigningKey::from_pkcs8_der(pkcs8_der)
            .map_err(|_| TokenError::InvalidKey("not a PKCS#8 DER Ed25519 private key".into()))?;
        Ok(Self::from_signing_key(kid.to_string(), signing))
    }

    fn from_signing_key(kid: String, signing: SigningKey) -> Self {
        // `to_pkcs8_der` only fails on allocation or encoder bugs; a fixed 48-byte structure cannot.
        let der = signing.to_pkcs8_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default();
        let encoding = EncodingKey::from_ed_der(&der);
        let decoding = DecodingKey::from_ed_der(signing.verifying_key().as_bytes());
        SigningKeyPair { kid, signing, encoding, decoding }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key as PKCS#8 DER (RFC 8410 / RFC 5958 v2, with the public key: 83 bytes), for storage:
    /// seal it ([`crate::sealed::seal`]) first. [`SigningKeyPair::from_private_bytes`] reads v1 and v2.
    pub fn to_private_bytes(&self) -> Vec<u8> {
        self.signing.to_pkcs8_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default()
    }

    /// The raw 32-byte Ed25519 public key (e.g. to publish as a JWK `x`).
    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }
}

impl fmt::Debug for SigningKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyPair").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// The keys trusted for verification, one of which (the active one) signs.
#[derive(Debug, Clone)]
pub struct KeyRing {
    keys: Vec<SigningKeyPair>,
    active: usize,
}

impl KeyRing {
    /// Errors when `active_kid` is not among `keys` or two keys share a kid.
    pub fn new(keys: Vec<SigningKeyPair>, active_kid: &str) -> Result<Self, TokenError> {
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|o| o.kid == k.kid) {
                return Err(TokenError::DuplicateKeyId(k.kid.clone()));
            }
        }
        let active =
            keys.iter().position(|k| k.kid == active_kid).ok_or_else(|| TokenError::UnknownKey(clip(active_kid)))?;
        Ok(KeyRing { keys, active })
    }

    /// A ring of one key, which signs.
    pub fn single(key: SigningKeyPair) -> Self {
        KeyRing { keys: vec![key], active: 0 }
    }

    pub fn active(&self) -> &SigningKeyPair {
        &self.keys[self.active]
    }

    pub fn active_kid(&self) -> &str {
        &self.keys[self.active].kid
    }

    pub fn get(&self, kid: &str) -> Option<&SigningKeyPair> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    pub fn keys(&self) -> &[SigningKeyPair] {
        &self.keys
    }
}

/// One grant of a registry token, as in the Docker registry token spec's `access` claim:
/// `{"type": "repository", "name": "team/app", "actions": ["pull", "push"], "ecr": ["ecr:BatchGetImage", ...]}`.
///
/// `actions` is the Docker vocabulary clients asked for; `ecr` lists exactly the ECR actions the policies
/// allowed when the token was issued, and only those are honoured (a token that lacks it grants nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
    #[serde(default, rename = "ecr", skip_serializing_if = "Vec::is_empty")]
    pub ecr_actions: Vec<String>,
}

/// The claims of a registry bearer token (Docker token authentication).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryClaims {
    pub iss: String,
    /// The principal: `user/alice`, `robot/ci`, `anonymous`.
    pub sub: String,
    /// The registry's service name.
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    #[serde(default)]
    pub access: Vec<Access>,
}

impl RegistryClaims {
    /// Claims valid from `now` for `ttl` seconds, with a random `jti`.
    pub fn new(issuer: &str, subject: &str, audience: &str, now: i64, ttl: i64, access: Vec<Access>) -> Self {
        RegistryClaims {
            iss: issuer.to_string(),
            sub: subject.to_string(),
            aud: audience.to_string(),
            exp: now.saturating_add(ttl),
            nbf: now,
            iat: now,
            jti: random_hex(16),
            access,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct LoginClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    nbf: i64,
    iat: i64,
    jti: String,
}

fn sign<T: Serialize>(keys: &KeyRing, typ: &str, claims: &T) -> Result<Secret, TokenError> {
    let key = keys.active();
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some(typ.to_string());
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding)
        .map(Secret::new)
        .map_err(|e| TokenError::Signing(e.to_string()))
}

/// The header fields looked at before the signature is checked (which key, which algorithm).
#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
    typ: Option<String>,
}

/// Checks structure, algorithm, key id, signature and `typ`; returns the claims (not yet validated).
fn verify_signed<T: DeserializeOwned>(keys: &KeyRing, token: &str, typ: &str) -> Result<T, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed("too long".into()));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed("not a JWS compact serialization".into()));
    };
    let header = URL_SAFE_NO_PAD.decode(header).map_err(|_| TokenError::Malformed("header is not base64url".into()))?;
    let header: RawHeader =
        serde_json::from_slice(&header).map_err(|_| TokenError::Malformed("header is not a JSON object".into()))?;
    match header.alg.as_deref() {
        Some(ALG) => {}
        other => return Err(TokenError::UnsupportedAlgorithm(clip(other.unwrap_or("")))),
    }
    let kid = header.kid.ok_or(TokenError::MissingKeyId)?;
    let key = keys.get(&kid).ok_or_else(|| TokenError::UnknownKey(clip(&kid)))?;

    let mut validation = Validation::new(Algorithm::EdDSA);
    // Claims are checked below against the caller's `now`; jsonwebtoken would read the system clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<T>(token, &key.decoding, &validation).map_err(|e| match e.kind() {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidAlgorithm => TokenError::UnsupportedAlgorithm(ALG.into()),
        _ => TokenError::Malformed(e.to_string()),
    })?;
    if header.typ.as_deref() != Some(typ) {
        return Err(TokenError::WrongType);
    }
    Ok(data.claims)
}

/// The checks common to both kinds: audience, issuer (when one is expected), expiry, not-before.
fn check_claims(
    aud: &str,
    expected_aud: &str,
    iss: &str,
    expected_iss: Option<&str>,
    exp: i64,
    nbf: i64,
    now: i64,
) -> Result<(), TokenError> {
    if aud != expected_aud {
        return Err(TokenError::WrongAudience);
    }
    if expected_iss.is_some_and(|e| e != iss) {
        return Err(TokenError::WrongIssuer);
    }
    if now >= exp {
        return Err(TokenError::Expired);
    }
    if nbf > now.saturating_add(NBF_LEEWAY_SECS) {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

/// Signs `claims` with the active key. The token is a bearer credential, hence a [`Secret`].
pub fn issue_registry_token(keys: &KeyRing, claims: &RegistryClaims) -> Result<Secret, TokenError> {
    if claims.aud == LOGIN_AUDIENCE {
        return Err(TokenError::Signing(format!("{LOGIN_AUDIENCE:?} is reserved for login passwords")));
    }
    sign(keys, REGISTRY_TYP, claims)
}

/// Verifies a registry token for the service `audience` at time `now`, accepting any issuer (only berth
/// holds the keys, so the signature already says who issued it). See [`verify_registry_token_issued_by`].
pub fn verify_registry_token(
    keys: &KeyRing,
    token: &str,
    audience: &str,
    now: i64,
) -> Result<RegistryClaims, TokenError> {
    verify_registry(keys, token, None, audience, now)
}

/// Like [`verify_registry_token`], also requiring the `iss` claim to be `issuer`.
pub fn verify_registry_token_issued_by(
    keys: &KeyRing,
    token: &str,
    issuer: &str,
    audience: &str,
    now: i64,
) -> Result<RegistryClaims, TokenError> {
    verify_registry(keys, token, Some(issuer), audience, now)
}

fn verify_registry(
    keys: &KeyRing,
    token: &str,
    issuer: Option<&str>,
    audience: &str,
    now: i64,
) -> Result<RegistryClaims, TokenError> {
    let claims: RegistryClaims = verify_signed(keys, token, REGISTRY_TYP)?;
    check_claims(&claims.aud, audience, &claims.iss, issuer, claims.exp, claims.nbf, now)?;
    Ok(claims)
}

/// A password for `docker login --username AWS`, valid for `ttl` seconds from `now`. It is a JWT, so it
/// contains no `:` (Basic auth splits user and password on the first one).
pub fn issue_login_password(keys: &KeyRing, user: &str, now: i64, ttl: i64) -> Result<Secret, TokenError> {
    let claims = LoginClaims {
        iss: LOGIN_ISSUER.into(),
        sub: user.to_string(),
        aud: LOGIN_AUDIENCE.into(),
        exp: now.saturating_add(ttl),
        nbf: now,
        iat: now,
        jti: random_hex(16),
    };
    sign(keys, LOGIN_TYP, &claims)
}

/// Checks a login password at time `now`; returns the user it was issued to.
pub fn verify_login_password(keys: &KeyRing, password: &str, now: i64) -> Result<String, TokenError> {
    let claims: LoginClaims = verify_signed(keys, password, LOGIN_TYP)?;
    check_claims(&claims.aud, LOGIN_AUDIENCE, &claims.iss, Some(LOGIN_ISSUER), claims.exp, claims.nbf, now)?;
    if claims.sub.is_empty() {
        return Err(TokenError::Malformed("empty subject".into()));
    }
    Ok(claims.sub)
}

pub mod session;

#[cfg(test)]
mod tests;
