//! Registry bearer tokens (Docker token auth), login passwords, and the signing keys behind both.
//!
//! Signing keys live in the metadata store, sealed with the master key, so every node signs and verifies
//! with the same set. A key signs for `key_rotation` seconds; then a new key takes over and the old one only
//! verifies until everything it signed has expired.

use berth_auth::sealed::{self, MasterKey};
use berth_auth::secret::Secret;
use berth_auth::token::{self, Access, KeyRing, RegistryClaims, SigningKeyPair};
use berth_meta::identity::{SigningKey, TokenStore};

use crate::authz::{Authorized, Resource};
use crate::principal::{Caller, Principal};
use crate::scope::{DELETE, PULL, PUSH, Scope, defining_action, ecr_actions_of};
use crate::{Identity, IdentityError, Result};

/// A token as the token endpoint returns it.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: Secret,
    pub expires_in: i64,
    pub issued_at: i64,
}

fn crypto(e: impl std::fmt::Display) -> IdentityError {
    IdentityError::Crypto(e.to_string())
}

/// Loads the signing keys, creating a new active key when there is none young enough.
pub(crate) async fn load_key_ring(
    meta: &dyn TokenStore,
    master: &MasterKey,
    now: i64,
    rotation: i64,
    max_token_ttl: i64,
) -> Result<KeyRing> {
    let mut stored = meta.signing_keys().await?;
    // A stored key that does not open means another master key sealed this store: stop before sealing
    // anything new with this one (a key sealed with each would leave the store unusable by either).
    if let Some(newest) = stored.first()
        && sealed::open(master, &newest.sealed_private).is_err()
    {
        return Err(IdentityError::MasterKeyMismatch);
    }
    let active_young = stored.iter().any(|k| k.retired_at.is_none() && now - k.created_at < rotation);
    if !active_young {
        let pair = SigningKeyPair::generate();
        let key = SigningKey {
            kid: pair.kid().to_string(),
            sealed_private: sealed::seal(master, &pair.to_private_bytes()),
            created_at: now,
            retired_at: None,
        };
        meta.add_signing_key(&key).await?;
        for old in stored.iter().filter(|k| k.retired_at.is_none()) {
            meta.retire_signing_key(&old.kid, now).await?;
        }
        meta.prune_signing_keys(now - 2 * max_token_ttl).await?;
        stored = meta.signing_keys().await?;
    }
    let mut pairs = Vec::new();
    let mut active = None;
    // Newest first: the newest unretired key signs.
    for k in &stored {
        if k.retired_at.is_some_and(|r| r < now - 2 * max_token_ttl) {
            continue;
        }
        let private = sealed::open(master, &k.sealed_private).map_err(|_| IdentityError::MasterKeyMismatch)?;
        let pair = SigningKeyPair::from_private_bytes(&k.kid, &private).map_err(crypto)?;
        if active.is_none() && k.retired_at.is_none() {
            active = Some(k.kid.clone());
        }
        pairs.push(pair);
    }
    let active = active.ok_or_else(|| crypto("no active signing key"))?;
    KeyRing::new(pairs, &active).map_err(crypto)
}

impl Identity {
    /// Re-reads the signing keys (other nodes may have rotated them) and rotates when due.
    pub async fn refresh_keys(&self) -> Result<()> {
        let ring = load_key_ring(
            self.meta.as_ref(),
            &self.master,
            self.clock_now(),
            self.config.key_rotation,
            self.config.login_password_ttl,
        )
        .await?;
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = ring;
        Ok(())
    }

    /// Issues a registry token granting, of the requested scopes, what `caller` is allowed. Asking for more
    /// than allowed is not an error: the token simply carries less (the Docker token spec's behaviour).
    ///
    /// Each Docker action stands for several ECR actions (`pull`: `ecr:BatchGetImage`,
    /// `ecr:GetDownloadUrlForLayer`, ...); the token carries exactly those the policies allow, so a Deny on
    /// one of them holds for token clients as it does for Basic ones. Only bearer tokens of the caller's own
    /// kind are issued: a token cannot be traded for another (the endpoint refuses bearer credentials).
    pub async fn issue_registry_token(&self, caller: &Caller, scopes: &[Scope]) -> Result<IssuedToken> {
        let mut access = Vec::new();
        for scope in scopes {
            match scope {
                Scope::Repository { name, actions } => {
                    let (mut granted, mut ecr_actions) = (Vec::new(), Vec::new());
                    for a in actions {
                        let wanted: &[&str] = if a == "*" { &[PULL, PUSH, DELETE] } else { &[a.as_str()] };
                        for &w in wanted {
                            if granted.iter().any(|g| g == w) {
                                continue;
                            }
                            for &action in ecr_actions_of(w) {
                                if !ecr_actions.iter().any(|e| e == action)
                                    && self.is_allowed(caller, action, &Resource::Repository(name)).await?
                                {
                                    ecr_actions.push(action.to_string());
                                }
                            }
                            if defining_action(w).is_some_and(|d| ecr_actions.iter().any(|e| e == d)) {
                                granted.push(w.to_string());
                            }
                        }
                    }
                    access.push(Access {
                        kind: "repository".into(),
                        name: name.to_string(),
                        actions: granted,
                        ecr_actions,
                    });
                }
                // The catalog is open to every caller and lists only what each may see; the grant is recorded
                // for clients that look for it, and allows nothing else.
                Scope::Catalog if !caller.principal.is_anonymous() => access.push(Access {
                    kind: "registry".into(),
                    name: "catalog".into(),
                    actions: vec!["*".into()],
                    ecr_actions: Vec::new(),
                }),
                Scope::Catalog => {}
            }
        }
        let now = self.clock_now();
        let claims = RegistryClaims::new(
            &self.config.issuer,
            &caller.principal.label(),
            &self.config.service,
            now,
            self.config.token_ttl,
            access,
        );
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let token = token::issue_registry_token(&keys, &claims).map_err(crypto)?;
        Ok(IssuedToken { token, expires_in: self.config.token_ttl, issued_at: now })
    }

    /// A short-lived password for `docker login --username AWS` (like `aws ecr get-login-password`).
    pub async fn login_password(&self, _: &Authorized, caller: &Caller) -> Result<(Secret, i64)> {
        let Principal::User { id, .. } = &caller.principal else {
            return Err(IdentityError::Invalid("login passwords are issued to users, not tokens".into()));
        };
        let now = self.clock_now();
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let password = token::issue_login_password(&keys, id, now, self.config.login_password_ttl).map_err(crypto)?;
        Ok((password, now + self.config.login_password_ttl))
    }

    /// A token for one blob of one repository (`GetDownloadUrlForLayer`'s URL), valid as long as registry
    /// tokens. Its audience is [`DOWNLOAD_AUDIENCE`], so it is not a bearer token for `/v2`. The caller must
    /// have been authorised for the download already.
    pub fn issue_download_token(&self, caller: &Caller, repo: &str, digest: &str) -> Result<IssuedToken> {
        let now = self.clock_now();
        let access = vec![Access {
            kind: "blob".into(),
            name: format!("{repo}@{digest}"),
            actions: vec!["pull".into()],
            ecr_actions: vec!["ecr:GetDownloadUrlForLayer".into()],
        }];
        let claims = RegistryClaims::new(
            &self.config.issuer,
            &caller.principal.label(),
            DOWNLOAD_AUDIENCE,
            now,
            self.config.token_ttl,
            access,
        );
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let token = token::issue_registry_token(&keys, &claims).map_err(crypto)?;
        Ok(IssuedToken { token, expires_in: self.config.token_ttl, issued_at: now })
    }

    /// Checks a download token for the blob `digest` of `repo`; returns whom it was issued to (the
    /// [`Principal::label`] of the caller of `GetDownloadUrlForLayer`).
    pub fn verify_download_token(&self, token: &str, repo: &str, digest: &str) -> Result<String> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let claims = token::verify_registry_token_issued_by(
            &keys,
            token,
            &self.config.issuer,
            DOWNLOAD_AUDIENCE,
            self.clock_now(),
        )
        .map_err(|_| IdentityError::BadCredentials)?;
        let want = format!("{repo}@{digest}");
        let granted =
            claims.access.iter().any(|a| a.kind == "blob" && a.name == want && a.actions.iter().any(|x| x == "pull"));
        if granted { Ok(claims.sub) } else { Err(IdentityError::BadCredentials) }
    }
}

/// The audience of download tokens (never a registry service name).
pub const DOWNLOAD_AUDIENCE: &str = "berth-download";
