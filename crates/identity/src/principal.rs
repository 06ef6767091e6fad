//! Who is calling.

use std::net::IpAddr;
use std::sync::Arc;

use berth_auth::policy::PolicyDocument;

/// An authenticated (or anonymous) caller.
#[derive(Debug, Clone)]
pub enum Principal {
    Anonymous,
    User {
        /// The user's id, never reused ([`berth_meta::identity::User::id`]).
        id: String,
        name: String,
        is_admin: bool,
        /// The access key the request was signed or authenticated with; `None` for a password, a login
        /// password or a console session. Usage is metered per access key; permissions are the user's.
        access_key: Option<String>,
    },
    /// A robot token: never more than its owner may do, and only what its scope allows.
    Robot {
        id: String,
        name: String,
        owner: String,
        owner_is_admin: bool,
        scope: Arc<PolicyDocument>,
    },
    /// A registry bearer token (`/v2` only): what it may do was decided when it was issued, as the exact ECR
    /// actions the policies allowed for each repository then.
    Token {
        subject: String,
        grants: Arc<Vec<Grant>>,
    },
}

/// One `access` entry of a registry token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `repository` or `registry`.
    pub kind: String,
    pub name: String,
    /// The ECR actions the policies allowed when the token was issued; nothing else is granted.
    pub ecr_actions: Vec<String>,
}

impl Grant {
    /// Whether this grant allows `action` on repository `repository`.
    pub fn allows(&self, repository: &str, action: &str) -> bool {
        self.kind == "repository" && self.name == repository && self.ecr_actions.iter().any(|a| a == action)
    }
}

impl Principal {
    /// The user `u`, authenticated by a credential other than an access key.
    pub fn user(u: berth_meta::identity::User) -> Principal {
        Principal::User { id: u.id, name: u.name, is_admin: u.is_admin, access_key: None }
    }

    /// How the principal appears in logs, audit records and token subjects.
    pub fn label(&self) -> String {
        match self {
            Principal::Anonymous => "anonymous".into(),
            Principal::User { name, .. } => format!("user/{name}"),
            Principal::Robot { name, .. } => format!("robot/{name}"),
            Principal::Token { subject, .. } => subject.clone(),
        }
    }

    /// The label of a principal that has a name (`user/NAME`, `robot/NAME`, a token's subject), `None` for
    /// an anonymous one: who a pull is recorded as (pull time update exclusions name these principals).
    pub fn puller(&self) -> Option<String> {
        (!self.is_anonymous()).then(|| self.label())
    }

    pub fn is_anonymous(&self) -> bool {
        matches!(self, Principal::Anonymous)
    }
}

/// A principal with the facts about its request that conditions may test.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub source_ip: Option<IpAddr>,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure: bool,
}

impl Caller {
    pub fn anonymous(source_ip: Option<IpAddr>, secure: bool) -> Caller {
        Caller { principal: Principal::Anonymous, source_ip, secure }
    }
}
