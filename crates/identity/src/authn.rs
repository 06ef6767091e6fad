//! Authentication: turning presented credentials into a [`Principal`].
//!
//! Basic credentials may be a user's password, `AWS` + a login password, an access key id + secret, or a
//! robot token (any user name). Password and robot-token checks run argon2, which is deliberately slow, so a
//! successful check is remembered for a minute under a hash of the credentials (never the credentials
//! themselves); every failure counts towards the login rate limit and is audited.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_auth::policy::{PolicyDocument, PolicyKind};
use berth_auth::{password, secret, sigv4, token};
use berth_meta::identity::AuditEvent;
use sha2::{Digest as _, Sha256};

use crate::principal::{Grant, Principal};
use crate::{Identity, IdentityError, Result};

const CACHE_TTL: Duration = Duration::from_secs(60);

/// Recently verified Basic credentials, keyed by a hash of user name and secret.
#[derive(Default)]
pub(crate) struct CredentialCache {
    verified: Mutex<HashMap<[u8; 32], (Instant, Principal)>>,
    /// One verification per credential at a time: concurrent requests with the same credentials (a client
    /// opening many connections at once) wait for the first check instead of repeating it.
    in_flight: Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>,
}

impl CredentialCache {
    fn key(user: &str, secret: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(user.as_bytes());
        h.update([0]);
        h.update(secret.as_bytes());
        h.finalize().into()
    }

    fn get(&self, key: &[u8; 32]) -> Option<Principal> {
        let m = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        m.get(key).filter(|(at, _)| at.elapsed() < CACHE_TTL).map(|(_, p)| p.clone())
    }

    fn put(&self, key: [u8; 32], p: Principal) {
        let mut m = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() > 10_000 {
            m.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
        }
        m.insert(key, (Instant::now(), p));
    }

    /// Forgets everything (after a user, key or token is deleted or deactivated).
    pub(crate) fn clear(&self) {
        self.verified.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn flight(&self, key: &[u8; 32]) -> Arc<tokio::sync::Mutex<()>> {
        let mut m = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        // Entries nobody waits on any more are dropped as the map grows.
        if m.len() > 1_000 {
            m.retain(|_, f| Arc::strong_count(f) > 1);
        }
        m.entry(*key).or_default().clone()
    }
}

/// An argon2 hash verified when the user is unknown, so that the response time does not tell which user names
/// exist. Made once with the current parameters, so that it costs what a real user's hash costs.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            berth_auth::password::hash_password("not a password anyone has").unwrap_or_else(|_| {
                "$argon2id$v=19$m=7168,t=5,p=1$c29tZXNhbHRzb21lc2FsdA$2nP3bNuRnoQyF2AwOa3BrFmDwFf0Vb7gX2w0sW6s1+o"
                    .into()
            })
        })
        .clone()
}

/// argon2 runs at most this many at once: each takes ~7 MiB and a core for tens of milliseconds, so an
/// unbounded number would let a burst of logins (or an attacker) exhaust memory and CPU.
const MAX_CONCURRENT_HASHES: usize = 2;

static HASH_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_CONCURRENT_HASHES);

/// One hash at a time per client address: a burst from one address queues behind itself, so another
/// client waits for at most the hashes already running (the global queue is FIFO and holds at most one
/// waiter per address).
static PER_ADDRESS: std::sync::LazyLock<Mutex<HashMap<Option<IpAddr>, Arc<tokio::sync::Semaphore>>>> =
    std::sync::LazyLock::new(Default::default);

fn address_gate(ip: Option<IpAddr>) -> Arc<tokio::sync::Semaphore> {
    let mut m = PER_ADDRESS.lock().unwrap_or_else(|p| p.into_inner());
    // Gates nobody holds or waits on any more are dropped as the map grows.
    if m.len() > 1_000 {
        m.retain(|_, g| Arc::strong_count(g) > 1);
    }
    m.entry(ip).or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(1))).clone()
}

async fn verify_slow(secret: String, hash: String, ip: Option<IpAddr>) -> bool {
    let gate = address_gate(ip);
    let Ok(_mine) = gate.acquire().await else { return false };
    let Ok(_slot) = HASH_SLOTS.acquire().await else { return false };
    tokio::task::spawn_blocking(move || password::verify_password(&secret, &hash)).await.unwrap_or(false)
}

impl Identity {
    /// Checks Basic credentials. Attempts are rate limited per (user, address) and per user ([`crate::limiter`]):
    /// each is reserved before its check, so concurrent guesses cannot outrun the limit. Failures are audited.
    pub async fn authenticate_basic(&self, username: &str, pass: &str, ip: Option<IpAddr>) -> Result<Principal> {
        let now = self.clock_now();
        let key = CredentialCache::key(username, pass);
        if let Some(p) = self.credentials.get(&key) {
            return Ok(p);
        }
        // Requests with the same credentials (a client opening many connections at once) wait for the
        // first check instead of each reserving an attempt of their own.
        let flight = self.credentials.flight(&key);
        let _one_at_a_time = flight.lock().await;
        if let Some(p) = self.credentials.get(&key) {
            return Ok(p);
        }
        let attempt = match ip.map(|ip| self.limiter.reserve(username, ip, now)).transpose() {
            Ok(attempt) => attempt,
            Err(retry_after) => return Err(IdentityError::RateLimited { retry_after }),
        };
        match self.check_basic(username, pass, ip, now).await {
            Ok(p) => {
                if let Some(a) = attempt {
                    a.succeeded();
                }
                self.credentials.put(key, p.clone());
                Ok(p)
            }
            Err(IdentityError::BadCredentials) => {
                // Already counted by the reservation.
                self.audit_login_failure(username, ip, "wrong credentials").await;
                Err(IdentityError::BadCredentials)
            }
            Err(e) => {
                if let Some(a) = attempt {
                    a.succeeded();
                }
                Err(e)
            }
        }
    }

    async fn check_basic(&self, username: &str, pass: &str, ip: Option<IpAddr>, now: i64) -> Result<Principal> {
        if username == "AWS" {
            let user_id = {
                let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
                token::verify_login_password(&keys, pass, now).map_err(|_| IdentityError::BadCredentials)?
            };
            // By id: the password dies with its user and never passes for a new user of the same name.
            let u = self.meta.get_user_by_id(&user_id).await?.ok_or(IdentityError::BadCredentials)?;
            return Ok(Principal::user(u));
        }
        if let Some((id, secret_part)) = secret::parse_robot_token(pass) {
            let Some(t) = self.meta.get_robot_token(id).await? else {
                verify_slow(secret_part.to_string(), dummy_hash(), ip).await;
                return Err(IdentityError::BadCredentials);
            };
            if !verify_slow(secret_part.to_string(), t.secret_hash.clone(), ip).await || t.expires_at <= now {
                return Err(IdentityError::BadCredentials);
            }
            let scope = PolicyDocument::parse(&t.scope, PolicyKind::Identity)
                .map_err(|e| IdentityError::MalformedPolicy(e.to_string()))?;
            let owner = self.meta.get_user(&t.owner).await?.ok_or(IdentityError::BadCredentials)?;
            return Ok(Principal::Robot {
                id: t.id,
                name: t.name,
                owner: owner.name,
                owner_is_admin: owner.is_admin,
                scope: Arc::new(scope),
            });
        }
        if let Some(k) = self.meta.get_access_key(username).await? {
            let stored = self.unseal_secret(&k.sealed_secret)?;
            if !k.active || !secret::constant_time_eq(stored.as_bytes(), pass.as_bytes()) {
                return Err(IdentityError::BadCredentials);
            }
            let _ = self.meta.touch_access_key(&k.id, now).await;
            return self.access_key_principal(&k.user, &k.id).await;
        }
        match self.meta.get_user(username).await? {
            Some(u) => match u.password_hash.clone() {
                Some(hash) if verify_slow(pass.to_string(), hash.clone(), ip).await => Ok(Principal::user(u)),
                _ => Err(IdentityError::BadCredentials),
            },
            None => {
                verify_slow(pass.to_string(), dummy_hash(), ip).await;
                Err(IdentityError::BadCredentials)
            }
        }
    }

    /// The user `name` owning the access key `key_id` the request was authenticated with.
    async fn access_key_principal(&self, name: &str, key_id: &str) -> Result<Principal> {
        let u = self.meta.get_user(name).await?.ok_or(IdentityError::BadCredentials)?;
        Ok(Principal::User { id: u.id, name: u.name, is_admin: u.is_admin, access_key: Some(key_id.to_string()) })
    }

    fn unseal_secret(&self, sealed: &[u8]) -> Result<String> {
        let bytes = berth_auth::sealed::open(&self.master, sealed).map_err(|e| IdentityError::Crypto(e.to_string()))?;
        String::from_utf8(bytes).map_err(|_| IdentityError::Crypto("sealed secret is not UTF-8".into()))
    }

    /// A failed login that was not reserved (a SigV4 failure): counted, logged and audited.
    async fn login_failed(&self, claimed: &str, ip: Option<IpAddr>, why: &str) {
        if let Some(ip) = ip {
            self.limiter.record_failure(claimed, ip, self.clock_now());
        }
        self.audit_login_failure(claimed, ip, why).await;
    }

    async fn audit_login_failure(&self, claimed: &str, ip: Option<IpAddr>, why: &str) {
        let now = self.clock_now();
        tracing::warn!(user = claimed, ip = ?ip, "authentication failed");
        self.audit
            .record(AuditEvent {
                id: 0,
                at: now,
                principal: claimed.chars().take(128).collect(),
                action: "login".into(),
                resource: "*".into(),
                source_ip: ip.map(|i| i.to_string()).unwrap_or_default(),
                outcome: "auth-failed".into(),
                status: 401,
                detail: Some(why.into()),
            })
            .await;
    }

    /// Checks a registry bearer token issued by this registry.
    pub fn authenticate_bearer(&self, bearer: &str) -> Result<Principal> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let claims = token::verify_registry_token_issued_by(
            &keys,
            bearer,
            &self.config.issuer,
            &self.config.service,
            self.clock_now(),
        )
        .map_err(|_| IdentityError::BadCredentials)?;
        let grants = claims
            .access
            .into_iter()
            .map(|a| Grant { kind: a.kind, name: a.name, ecr_actions: a.ecr_actions })
            .collect();
        Ok(Principal::Token { subject: claims.sub, grants: Arc::new(grants) })
    }

    /// Checks an AWS SigV4-signed request made with a berth access key.
    pub async fn authenticate_sigv4(
        &self,
        request: &sigv4::CanonicalInput,
        authorization: &str,
        ip: Option<IpAddr>,
    ) -> Result<Principal> {
        let auth = sigv4::parse_authorization(authorization).map_err(|e| IdentityError::Signature(e.to_string()))?;
        let key = match self.meta.get_access_key(&auth.access_key_id).await? {
            Some(k) if k.active => k,
            _ => {
                self.login_failed(&auth.access_key_id, ip, "unknown or inactive access key").await;
                return Err(IdentityError::BadCredentials);
            }
        };
        let secret = berth_auth::secret::Secret::new(self.unseal_secret(&key.sealed_secret)?);
        if let Err(e) = sigv4::verify(request, &auth, &secret, self.clock_now()) {
            self.login_failed(&key.id, ip, "bad signature").await;
            return Err(IdentityError::Signature(e.to_string()));
        }
        let _ = self.meta.touch_access_key(&key.id, self.clock_now()).await;
        self.access_key_principal(&key.user, &key.id).await
    }

    pub(crate) fn forget_credentials(&self) {
        self.credentials.clear();
        self.cache.invalidate();
    }
}
