//! berth's identity use cases: who is calling ([`authn`]), may they do this ([`authz`]), registry tokens and
//! login passwords ([`tokens`]), web console sessions ([`sessions`]), managing users, keys, groups, policies
//! and robot tokens ([`manage`]), the first administrator ([`bootstrap`]) and the audit trail ([`audit`]).
//!
//! Every surface (OCI API, token endpoint, ECR API, admin API) declares what a request needs as
//! [`Required`] permissions and has them decided by [`Identity::decide`] before anything runs; the use cases
//! here take the [`Authorized`] proof it returns. `authz` is the only caller of the policy engine. This crate knows no HTTP: the API layer turns headers into
//! credentials and [`IdentityError`]s into responses.

pub mod audit;
pub mod authn;
pub mod authz;
pub mod bootstrap;
mod error;
pub mod limiter;
pub mod manage;
pub mod principal;
pub mod ratelimit;
pub mod resource;
pub mod scope;
pub mod sessions;
pub mod tokens;

use std::sync::{Arc, RwLock};

use berth_auth::sealed::MasterKey;
use berth_auth::token::KeyRing;
use berth_meta::identity::IdentityMeta;

pub use audit::AuditSink;
pub use authz::{Authorized, Required, Resource, Target};
pub use error::IdentityError;
pub use principal::{Caller, Grant, Principal};
pub use resource::Account;

pub type Result<T, E = IdentityError> = std::result::Result<T, E>;

/// Lifetimes and names; defaults follow ECR and the Docker token spec.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    pub account: Account,
    /// `service` of registry tokens (the token's audience).
    pub service: String,
    /// `iss` of registry tokens.
    pub issuer: String,
    /// Registry bearer tokens (seconds).
    pub token_ttl: i64,
    /// Login passwords (seconds); ECR's are valid for 12 hours.
    pub login_password_ttl: i64,
    /// How long a signing key signs before a new one replaces it (seconds).
    pub key_rotation: i64,
    pub login_limits: limiter::Limits,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            account: Account { id: "000000000000".into(), region: "us-east-1".into() },
            service: "berth".into(),
            issuer: "berth".into(),
            token_ttl: 300,
            login_password_ttl: 12 * 3600,
            key_rotation: 7 * 24 * 3600,
            login_limits: limiter::Limits::default(),
        }
    }
}

/// The source of time, in Unix seconds.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    })
}

/// Identity and access for one registry. Cheap to share behind an `Arc`.
pub struct Identity {
    meta: Arc<dyn IdentityMeta>,
    master: MasterKey,
    keys: RwLock<KeyRing>,
    account: Account,
    config: IdentityConfig,
    clock: Clock,
    cache: authz::PolicyCache,
    credentials: authn::CredentialCache,
    limiter: limiter::LoginLimiter,
    audit: AuditSink,
}

impl Identity {
    /// Opens identity services over `meta`: loads (or creates) the token-signing keys and starts the audit
    /// writer. Call inside a tokio runtime.
    pub async fn open(
        meta: Arc<dyn IdentityMeta>,
        master: MasterKey,
        config: IdentityConfig,
        clock: Clock,
    ) -> Result<Identity> {
        let keys =
            tokens::load_key_ring(meta.as_ref(), &master, clock(), config.key_rotation, config.login_password_ttl)
                .await?;
        let audit = AuditSink::start(meta.clone());
        Ok(Identity {
            account: config.account.clone(),
            limiter: limiter::LoginLimiter::new(config.login_limits),
            meta,
            master,
            keys: RwLock::new(keys),
            config,
            clock,
            cache: Default::default(),
            credentials: Default::default(),
            audit,
        })
    }

    pub fn config(&self) -> &IdentityConfig {
        &self.config
    }

    pub fn account(&self) -> &Account {
        &self.account
    }

    pub fn audit(&self) -> &AuditSink {
        &self.audit
    }

    pub(crate) fn clock_now(&self) -> i64 {
        (self.clock)()
    }

    /// The identity service's time (Unix seconds), for records made on its behalf.
    pub fn now(&self) -> i64 {
        self.clock_now()
    }

    /// Seals a secret another surface must recover later (a webhook's signing secret) with the master key.
    pub fn seal_secret(&self, secret: &[u8]) -> Vec<u8> {
        berth_auth::sealed::seal(&self.master, secret)
    }

    /// Opens what [`Identity::seal_secret`] sealed.
    pub fn open_secret(&self, sealed: &[u8]) -> std::result::Result<Vec<u8>, berth_auth::sealed::SealError> {
        berth_auth::sealed::open(&self.master, sealed)
    }
}
