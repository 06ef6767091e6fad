//! Password hashing with argon2id, stored as PHC strings (`$argon2id$v=19$m=7168,t=5,p=1$<salt>$<hash>`).
//!
//! Parameters: m = 7 MiB (7168 KiB), t = 5 passes, p = 1 lane, 32-byte output, 16-byte random salt. OWASP
//! lists this among its equivalent minimum configurations for argon2id (with m = 19 MiB, t = 2 and others of
//! the same memory × passes): about 20-40 ms per hash on one core of a server, which makes offline guessing
//! expensive while a login (or a robot token check) stays cheap. Of the equivalent ones it needs the least
//! memory, which is the server's peak memory while it hashes (berth's whole working set is smaller than 19 MiB). The parameters are
//! recorded in each PHC string, so they can be raised later without invalidating stored hashes: verification
//! always uses the parameters of the stored hash.
//!
//! Both functions are CPU-bound for tens of milliseconds: async callers should run them on a blocking thread.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;

/// Memory cost in KiB (7 MiB).
pub const M_COST_KIB: u32 = 7 * 1024;
/// Number of passes.
pub const T_COST: u32 = 5;
/// Degree of parallelism.
pub const P_COST: u32 = 1;
const OUTPUT_LEN: usize = 32;
const SALT_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
}

fn hasher() -> Result<Argon2<'static>, PasswordError> {
    let params =
        Params::new(M_COST_KIB, T_COST, P_COST, Some(OUTPUT_LEN)).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` with a fresh random salt; returns the PHC string to store.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; SALT_LEN];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    let hash = hasher()?.hash_password(password.as_bytes(), &salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the stored PHC string `phc`. A malformed `phc` is a mismatch, not an error:
/// the caller's answer is the same ("wrong credentials"). The final comparison is constant-time (argon2's).
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    // Only argon2id hashes are accepted: a stored hash of a weaker variant would be a sign of tampering.
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return false;
    }
    // `Argon2::default()` takes the version and cost parameters from the PHC string.
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let phc = hash_password("correct horse battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{phc}");
        assert!(verify_password("correct horse battery staple", &phc));
        assert!(!verify_password("correct horse battery stapl", &phc));
        assert!(!verify_password("", &phc));
    }

    #[test]
    fn salts_differ() {
        let a = hash_password("same").unwrap();
        let b = hash_password("same").unwrap();
        assert_ne!(a, b);
        assert!(verify_password("same", &a) && verify_password("same", &b));
    }

    #[test]
    fn empty_and_unicode_passwords() {
        let phc = hash_password("").unwrap();
        assert!(verify_password("", &phc));
        let phc = hash_password("pässwörd 🔑").unwrap();
        assert!(verify_password("pässwörd 🔑", &phc));
        assert!(!verify_password("passwörd 🔑", &phc));
    }

    #[test]
    fn malformed_or_foreign_hashes_never_verify() {
        for bad in
            ["", "plaintext", "$argon2id$", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$", "$2b$12$abcdefghijklmnopqrstuv"]
        {
            assert!(!verify_password("x", bad), "{bad:?}");
        }
        // A valid argon2i hash is refused: only argon2id is accepted.
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::new(1024, 1, 1, None).unwrap());
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let phc = argon2i.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(!verify_password("pw", &phc));
    }

    #[test]
    fn verifies_hashes_with_other_parameters() {
        // Hashes made with earlier (or later) parameters keep working.
        let cheap = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(1024, 1, 1, None).unwrap());
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let phc = cheap.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(verify_password("pw", &phc));
        assert!(!verify_password("pX", &phc));
    }
}
