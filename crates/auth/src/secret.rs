//! Generated credentials and the [`Secret`] wrapper that keeps them out of logs.
//!
//! Every generator draws from `rand::rng()`, a ChaCha-based CSPRNG seeded (and periodically reseeded) from
//! the operating system, and samples characters uniformly (rejection sampling, no modulo bias).
//!
//! Formats, chosen so that each kind of credential is recognisable at a glance (and by secret scanners)
//! and never contains `:` (Basic auth splits on the first one) or characters a shell would interpret:
//!
//! | credential | format | entropy |
//! | --- | --- | --- |
//! | access key id | `BKIA` + 16 of `A-Z2-7` | 80 bits (an identifier, not a secret) |
//! | secret access key | 40 of `A-Za-z0-9` | ~238 bits |
//! | robot token | `berth_rt_` + id (16 of `a-z2-7`) + `_` + secret (32 of `A-Za-z0-9`) | ~190 bits in the secret |
//! | generated password | `len` of `A-Za-z0-9` | ~5.95 bits per character |

use std::fmt;

use rand::Rng;
use rand::distr::Alphanumeric;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// A plaintext secret (password, secret access key, token). `Debug` and `Display` print `***`, so a secret
/// that ends up in a log line or an error message by accident is not disclosed; reading it takes an explicit
/// [`Secret::expose`]. The memory is zeroed on drop.
///
/// Deliberately not `PartialEq`, `Serialize` or `Deserialize`: comparing secrets must be constant-time
/// ([`constant_time_eq`]) and writing one anywhere must be a visible decision.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The plaintext. Call it only where the secret is used (hashing, signing, showing it once).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Takes the plaintext out (the `Secret` is left empty, so its drop zeroes nothing useful).
    pub fn into_inner(mut self) -> String {
        std::mem::take(&mut self.0)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Prefix of access key ids ("berth" in place of AWS's `AKIA`), so they are recognisable in logs and
/// never collide with a real AWS key id.
pub const ACCESS_KEY_PREFIX: &str = "BKIA";
/// Prefix of robot tokens.
pub const ROBOT_TOKEN_PREFIX: &str = "berth_rt_";

const ACCESS_KEY_ID_LEN: usize = 16;
const SECRET_ACCESS_KEY_LEN: usize = 40;
const ROBOT_ID_LEN: usize = 16;
const ROBOT_SECRET_LEN: usize = 32;

const BASE32_UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE32_LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())])).collect()
}

fn random_alphanumeric(len: usize) -> String {
    rand::rng().sample_iter(Alphanumeric).take(len).map(char::from).collect()
}

/// A new access key: `(id, secret)`. The id is public (it names the key in SigV4 `Credential=`); the
/// secret is shown once and stored sealed (SigV4 verification needs it back, so it cannot be hashed).
pub fn new_access_key() -> (String, Secret) {
    let id = format!("{ACCESS_KEY_PREFIX}{}", random_from(BASE32_UPPER, ACCESS_KEY_ID_LEN));
    (id, Secret(random_alphanumeric(SECRET_ACCESS_KEY_LEN)))
}

/// A new robot token: `(id, token, secret part)`. The token (`berth_rt_<id>_<secret>`) is what the robot
/// presents as its password; the server stores the id and an argon2 hash of the secret part only, and finds
/// the record by the id that [`parse_robot_token`] extracts.
pub fn new_robot_token() -> (String, Secret, String) {
    let id = random_from(BASE32_LOWER, ROBOT_ID_LEN);
    let secret = random_alphanumeric(ROBOT_SECRET_LEN);
    let token = Secret(format!("{ROBOT_TOKEN_PREFIX}{id}_{secret}"));
    (id, token, secret)
}

/// Splits a presented robot token into `(id, secret part)`; `None` when `token` does not have the robot
/// token format (so it is some other kind of credential).
pub fn parse_robot_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(ROBOT_TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let ok = |s: &str, max: usize| !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric());
    (ok(id, 64) && ok(secret, 128)).then_some((id, secret))
}

/// A new identifier that is never reused (26 base32 characters, 130 random bits): not a secret, just unique.
pub fn new_id() -> String {
    random_from(BASE32_LOWER, 26)
}

/// A random password of `len` alphanumeric characters (e.g. the bootstrap administrator's, shown once).
/// Use at least 16 characters (~95 bits).
pub fn random_password(len: usize) -> Secret {
    Secret(random_alphanumeric(len))
}

/// Compares two secrets without leaking, through timing, how long a prefix they share. Only the lengths
/// may leak (they are not secret for any credential berth generates).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_hidden_in_debug_and_display() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(***)");
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(s.into_inner(), "hunter2");
    }

    #[test]
    fn access_key_format() {
        let (id, secret) = new_access_key();
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("BKIA"));
        assert!(id[4..].bytes().all(|b| BASE32_UPPER.contains(&b)));
        assert_eq!(secret.expose().len(), 40);
        assert!(secret.expose().bytes().all(|b| b.is_ascii_alphanumeric()));
        let (id2, secret2) = new_access_key();
        assert_ne!(id, id2);
        assert_ne!(secret.expose(), secret2.expose());
    }

    #[test]
    fn robot_token_round_trips() {
        let (id, token, secret) = new_robot_token();
        assert_eq!(id.len(), 16);
        assert_eq!(secret.len(), 32);
        assert_eq!(token.expose(), format!("berth_rt_{id}_{secret}"));
        assert!(!token.expose().contains(':'));
        assert_eq!(parse_robot_token(token.expose()), Some((id.as_str(), secret.as_str())));
    }

    #[test]
    fn parse_robot_token_rejects_other_credentials() {
        for bad in [
            "",
            "berth_rt_",
            "berth_rt_abc",
            "berth_rt_abc_",
            "berth_rt__secret",
            "berth_rt_abc_sec_ret",
            "berth_rt_abc_sec:ret",
            "berth_rt_ab c_secret",
            "BERTH_RT_abc_secret",
            "hunter2",
            "eyJhbGciOiJFZERTQSJ9.e30.sig",
        ] {
            assert_eq!(parse_robot_token(bad), None, "{bad:?}");
        }
        assert_eq!(parse_robot_token("berth_rt_abc_def"), Some(("abc", "def")));
    }

    #[test]
    fn random_password_has_requested_length() {
        let p = random_password(24);
        assert_eq!(p.expose().len(), 24);
        assert!(p.expose().bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(random_password(0).expose(), "");
        assert_ne!(random_password(24).expose(), p.expose());
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"abc", b""));
    }
}
