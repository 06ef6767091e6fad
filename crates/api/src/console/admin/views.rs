//! The administration pages' templates (`templates/admin_*.html`) and what each shows.

use askama::Template;

use super::super::views::Chrome;

#[derive(Template)]
#[template(path = "admin_home.html")]
pub struct Home {
    pub chrome: Chrome,
    pub sections: Vec<(&'static str, &'static str)>,
}

pub struct UserRow {
    pub name: String,
    pub admin: bool,
    pub has_password: bool,
    pub groups: Vec<String>,
    pub created: String,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
pub struct Users {
    pub chrome: Chrome,
    pub rows: Vec<UserRow>,
    pub next: Option<String>,
    pub may_create: bool,
    pub notice: &'static str,
    pub error: String,
    /// The create form's name, kept when it failed.
    pub name: String,
}

pub struct KeyRow {
    pub id: String,
    pub active: bool,
    pub created: String,
    pub last_used: String,
}

#[derive(Template)]
#[template(path = "admin_user.html")]
pub struct User {
    pub chrome: Chrome,
    pub name: String,
    pub arn: String,
    pub admin: bool,
    pub has_password: bool,
    pub groups: Vec<String>,
    pub created: String,
    pub keys: Vec<KeyRow>,
    pub may_create_key: bool,
    pub may_update_key: bool,
    pub may_delete_key: bool,
    pub may_set_password: bool,
    pub may_delete: bool,
    pub may_policy: bool,
    pub notice: &'static str,
    pub error: String,
}

/// A credential shown once, on the page that answers its creation.
#[derive(Template)]
#[template(path = "admin_secret.html")]
pub struct Secret {
    pub chrome: Chrome,
    pub title: &'static str,
    /// (label, value) pairs shown as they are: the id, the secret.
    pub facts: Vec<(&'static str, String)>,
    pub secret_label: &'static str,
    pub secret: String,
    pub usage: Vec<String>,
    pub back: String,
    pub back_label: &'static str,
}

pub struct GroupRow {
    pub name: String,
    pub members: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin_groups.html")]
pub struct Groups {
    pub chrome: Chrome,
    pub rows: Vec<GroupRow>,
    pub next: Option<String>,
    pub may_create: bool,
    pub notice: &'static str,
    pub error: String,
}

#[derive(Template)]
#[template(path = "admin_policy.html")]
pub struct Policy {
    pub chrome: Chrome,
    /// "user alice", "group ci", "the registry".
    pub subject: String,
    /// The hidden fields naming the target: ("user", "alice"), ("registry", "1").
    pub target: (&'static str, String),
    pub kind: &'static str,
    pub document: String,
    pub exists: bool,
    pub may_put: bool,
    pub may_delete: bool,
    pub notice: &'static str,
    pub error: String,
    pub back: String,
}

pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub scope: String,
    pub created: String,
    pub expires: String,
    pub expired: bool,
    pub may_revoke: bool,
}

#[derive(Template)]
#[template(path = "admin_tokens.html")]
pub struct Tokens {
    pub chrome: Chrome,
    pub rows: Vec<TokenRow>,
    pub next: Option<String>,
    pub may_create: bool,
    pub notice: &'static str,
    pub error: String,
}

pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub source_ip: String,
    pub outcome: String,
    pub status: u16,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
pub struct Audit {
    pub chrome: Chrome,
    pub principal: String,
    pub action: String,
    pub repository: String,
    pub outcome: String,
    pub since: String,
    pub until: String,
    pub rows: Vec<AuditRow>,
    /// The next (older) page's link, when there is one.
    pub next: Option<String>,
    pub error: String,
}

pub struct RuleRow {
    pub frequency: String,
    pub filters: String,
}

#[derive(Template)]
#[template(path = "admin_settings.html")]
pub struct Settings {
    pub chrome: Chrome,
    pub enhanced: bool,
    /// Always two (the second may be empty): ECR allows two rules.
    pub rules: Vec<RuleRow>,
    pub blob_mounting: String,
    pub may_put_scanning: bool,
    pub may_put_setting: bool,
    pub notice: &'static str,
    /// No error: the page answers 200.
    pub status_error: bool,
    pub error: String,
}

pub struct Database {
    pub digest: String,
    pub source: String,
    pub imported: String,
    pub advisories: usize,
}

#[derive(Template)]
#[template(path = "admin_vulndb.html")]
pub struct VulnDb {
    pub chrome: Chrome,
    pub imported: Option<Database>,
    pub loaded: Option<Database>,
}
