//! Web console sessions: a user who signed in with a password gets a signed session token (the cookie's
//! value, see `berth_auth::token::session`), verified by any node with the shared signing keys. A session
//! names its user by id, so deleting the user ends it; it lasts [`SESSION_TTL`] and cannot be extended.

use berth_auth::secret::Secret;
use berth_auth::token::session::{self, Session};
use berth_meta::identity::User;
use sha2::{Digest, Sha256};

use crate::principal::Principal;
use crate::{Identity, IdentityError, Result};

/// How long a console session lasts (seconds).
pub const SESSION_TTL: i64 = 8 * 3600;

impl Identity {
    /// Opens a console session for a signed-in user: the cookie's value and the session. Only users have
    /// sessions (robot tokens and bearer tokens never sign in).
    pub async fn start_console_session(&self, principal: &Principal) -> Result<(Secret, Session)> {
        let Principal::User { id, .. } = principal else {
            return Err(IdentityError::BadCredentials);
        };
        let user = self.meta.get_user_by_id(id).await?.ok_or(IdentityError::BadCredentials)?;
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        session::issue_session(&keys, id, &credential_stamp(&user), self.clock_now(), SESSION_TTL)
            .map_err(|e| IdentityError::Crypto(e.to_string()))
    }

    /// The user a session cookie stands for, as they are now (a deleted user's sessions fail, and so do
    /// sessions opened before the user's password changed), and the session (its CSRF token).
    /// `BadCredentials` for anything else.
    pub async fn console_session(&self, token: &str) -> Result<(Principal, Session)> {
        let s = {
            let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
            session::verify_session(&keys, token, self.clock_now()).map_err(|_| IdentityError::BadCredentials)?
        };
        let u = self.meta.get_user_by_id(&s.user_id).await?.ok_or(IdentityError::BadCredentials)?;
        if !s.opened_with(&credential_stamp(&u)) {
            return Err(IdentityError::BadCredentials);
        }
        Ok((Principal::user(u), s))
    }
}

/// What a session remembers of the credential it was opened with: a domain-separated hash of the stored
/// password hash (salted, so it changes with every password set, even to the same password). It reveals
/// nothing about the password and is only compared for equality.
fn credential_stamp(user: &User) -> String {
    let mut h = Sha256::new();
    h.update(b"berth-console-session\0");
    h.update(user.password_hash.as_deref().unwrap_or("").as_bytes());
    h.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
}
