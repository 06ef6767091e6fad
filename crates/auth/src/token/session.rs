//! Web console sessions: a signed token in the session cookie, so that any node verifies a session with the
//! shared signing keys and no node keeps session state in memory.
//!
//! A session names its user by id (never reused), so it dies with the user, and carries the session's CSRF
//! token: forms echo it, and a request whose form does not carry the value its own signed cookie names is
//! refused. It cannot stand in for a registry token or a login password, nor they for it: the header's
//! `typ` ([`SESSION_TYP`]) and the audience ([`SESSION_AUDIENCE`]) differ, and both are checked.
//!
//! A session also carries a stamp of the credential it was opened with (the caller derives it from the
//! user's stored password hash): the verifier compares it with the stamp of the credential the user has
//! now, so changing a password ends every session opened with the old one, on every node.

use serde::{Deserialize, Serialize};

use super::{TokenError, check_claims, random_hex, sign, verify_signed};
use crate::secret::Secret;

/// Audience of console sessions.
pub const SESSION_AUDIENCE: &str = "berth-console";
/// Issuer of console sessions.
pub const SESSION_ISSUER: &str = "berth";
/// Header `typ` of console sessions.
pub const SESSION_TYP: &str = "berth-console+jwt";

#[derive(Debug, Serialize, Deserialize)]
struct SessionClaims {
    iss: String,
    /// The user's id.
    sub: String,
    aud: String,
    exp: i64,
    nbf: i64,
    iat: i64,
    jti: String,
    /// The session's CSRF token.
    csrf: String,
    /// Stamp of the credential the session was opened with.
    cred: String,
}

/// A verified session: whose it is, its CSRF token and when it ends. `Debug` hides the CSRF token.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: String,
    /// Echoed by every form of the session (it is in the pages, not a credential by itself).
    pub csrf: String,
    pub expires_at: i64,
    /// Stamp of the credential the session was opened with (compare with
    /// [`Session::opened_with`]).
    credential_stamp: String,
}

impl Session {
    /// Whether the session was opened with the credential whose stamp is `stamp` (constant time).
    pub fn opened_with(&self, stamp: &str) -> bool {
        crate::secret::constant_time_eq(self.credential_stamp.as_bytes(), stamp.as_bytes())
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("user_id", &self.user_id).field("expires_at", &self.expires_at).finish()
    }
}

/// A new session of `user_id`, opened with the credential whose stamp is `credential_stamp`, valid for `ttl`
/// seconds from `now`, with a random CSRF token: the signed token (the cookie's value) and the session it
/// stands for.
pub fn issue_session(
    keys: &super::KeyRing,
    user_id: &str,
    credential_stamp: &str,
    now: i64,
    ttl: i64,
) -> Result<(Secret, Session), TokenError> {
    if user_id.is_empty() {
        return Err(TokenError::Signing("a session needs a user id".into()));
    }
    let claims = SessionClaims {
        iss: SESSION_ISSUER.into(),
        sub: user_id.to_string(),
        aud: SESSION_AUDIENCE.into(),
        exp: now.saturating_add(ttl),
        nbf: now,
        iat: now,
        jti: random_hex(16),
        csrf: random_hex(32),
        cred: credential_stamp.to_string(),
    };
    let token = sign(keys, SESSION_TYP, &claims)?;
    let session =
        Session { user_id: claims.sub, csrf: claims.csrf, expires_at: claims.exp, credential_stamp: claims.cred };
    Ok((token, session))
}

/// Checks a session token at time `now`.
pub fn verify_session(keys: &super::KeyRing, token: &str, now: i64) -> Result<Session, TokenError> {
    let claims: SessionClaims = verify_signed(keys, token, SESSION_TYP)?;
    check_claims(&claims.aud, SESSION_AUDIENCE, &claims.iss, Some(SESSION_ISSUER), claims.exp, claims.nbf, now)?;
    if claims.sub.is_empty() || claims.csrf.len() < 32 {
        return Err(TokenError::Malformed("incomplete session".into()));
    }
    Ok(Session { user_id: claims.sub, csrf: claims.csrf, expires_at: claims.exp, credential_stamp: claims.cred })
}

#[cfg(test)]
mod tests {
    use super::super::{KeyRing, SigningKeyPair, issue_login_password, verify_login_password};
    use super::*;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn sessions_round_trip_and_expire() {
        let keys = KeyRing::single(SigningKeyPair::generate());
        let (token, issued) = issue_session(&keys, "u-1", "stamp-1", NOW, 3600).unwrap();
        let s = verify_session(&keys, token.expose(), NOW + 10).unwrap();
        assert_eq!(s, issued);
        assert_eq!((s.user_id.as_str(), s.expires_at), ("u-1", NOW + 3600));
        assert_eq!(s.csrf.len(), 64);
        assert_eq!(verify_session(&keys, token.expose(), NOW + 3600), Err(TokenError::Expired));
        let (_, other) = issue_session(&keys, "u-1", "stamp-1", NOW, 3600).unwrap();
        assert_ne!(other.csrf, issued.csrf, "each session has its own CSRF token");
        assert!(!format!("{s:?}").contains(&s.csrf));
        assert!(s.opened_with("stamp-1"));
        assert!(!s.opened_with("stamp-2"), "a session opened with another credential");
    }

    #[test]
    fn sessions_and_login_passwords_do_not_stand_in_for_each_other() {
        let keys = KeyRing::single(SigningKeyPair::generate());
        let (session, _) = issue_session(&keys, "u-1", "stamp-1", NOW, 3600).unwrap();
        assert_eq!(verify_login_password(&keys, session.expose(), NOW), Err(TokenError::WrongType));
        let password = issue_login_password(&keys, "u-1", NOW, 3600).unwrap();
        assert!(verify_session(&keys, password.expose(), NOW).is_err());
        let foreign = KeyRing::single(SigningKeyPair::generate());
        assert!(verify_session(&foreign, session.expose(), NOW).is_err(), "another registry's key");
        // A signature character changed (not the last one: its low bits are padding a decoder may ignore).
        let mut altered: Vec<char> = session.expose().chars().collect();
        let i = altered.len() - 10;
        altered[i] = if altered[i] == 'A' { 'B' } else { 'A' };
        let altered: String = altered.into_iter().collect();
        assert!(verify_session(&keys, &altered, NOW).is_err());
    }
}
