//! The administration pages' requests, parsed before anything runs, and the berth or ECR action each
//! amounts to — the action the admin API (or the ECR API) decides for the same operation. Names travel in
//! query and form fields (user and group names may hold `+`, `=`, `,`, `@`), never in the path.
//!
//! Access keys and robot tokens are decided on the user the request names as their owner; the page then
//! checks that the key or token really belongs to that user (otherwise it is "not found"), so a caller who
//! may manage only some users' keys cannot reach others' by naming someone else.

use axum::http::Method;
use berth_identity::manage::policy_permission;
use berth_identity::{Required, Target};
use berth_meta::identity::PolicyTarget;

use super::super::form::Form;
use super::super::route::NoRoute;

/// The sections of the administration pages: what opening each needs.
pub const SECTIONS: [(&str, &str, &str); 7] = [
    ("Users", "/console/admin/users", "berth:ListUsers"),
    ("Groups", "/console/admin/groups", "berth:ListGroups"),
    ("Robot tokens", "/console/admin/tokens", "berth:ListRobotTokens"),
    ("Audit log", "/console/admin/audit", "berth:ListAuditEvents"),
    ("Registry settings", "/console/admin/settings", "ecr:GetRegistryScanningConfiguration"),
    ("Vulnerability database", "/console/admin/vulndb", "berth:GetVulnerabilityDatabase"),
    ("Registry policy", "/console/admin/policy?registry=1", "ecr:GetRegistryPolicy"),
];

/// The target of a section's action: the registry for ECR's registry-wide actions, `*` for berth's.
pub fn section_target(action: &str) -> Target {
    if action.starts_with("ecr:") { Target::Registry } else { Target::Any }
}

/// The audit log's filters as given (empty: not filtered).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilters {
    pub principal: String,
    pub action: String,
    pub repository: String,
    pub outcome: String,
    /// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM` (UTC), as `<input type=datetime-local>` sends it.
    pub since: String,
    pub until: String,
    pub before: Option<i64>,
}

/// A new robot token as submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub owner: String,
    pub name: String,
    pub repositories: Vec<String>,
    pub actions: Vec<String>,
    pub expires_days: i64,
}

/// The scanning rules form: the scan type and up to two rules (frequency, comma- or space-separated
/// filters), as ECR's `PutRegistryScanningConfiguration` takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanningForm {
    pub scan_type: String,
    pub rules: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminRoute {
    Home,
    Users { after: Option<String> },
    CreateUser { name: String, password: String, admin: bool },
    User(String),
    SetPassword { name: String, password: Option<String> },
    DeleteUser { name: String, confirmed: bool },
    CreateKey(String),
    SetKeyActive { user: String, key: String, active: bool },
    DeleteKey { user: String, key: String },
    Groups { after: Option<String> },
    CreateGroup(String),
    DeleteGroup(String),
    AddMember { group: String, user: String },
    RemoveMember { group: String, user: String },
    Policy(PolicyTarget),
    PutPolicy { target: PolicyTarget, document: String },
    DeletePolicy(PolicyTarget),
    Tokens { after: Option<String> },
    CreateToken(NewToken),
    RevokeToken { owner: String, token: String },
    Audit(AuditFilters),
    Settings,
    PutScanning(ScanningForm),
    PutAccountSetting { name: String, value: String },
    VulnDb,
}

fn field(form: &Form, name: &str) -> String {
    form.get(name).unwrap_or("").trim().to_string()
}

/// A field that must be there.
fn required_field(form: &Form, name: &str) -> Result<String, NoRoute> {
    let v = field(form, name);
    if v.is_empty() { Err(NoRoute::BadRequest(format!("the form has no {name}"))) } else { Ok(v) }
}

fn after(query: &Form) -> Option<String> {
    query.get("after").filter(|a| !a.is_empty()).map(str::to_string)
}

/// `?user=NAME`, `?group=NAME` or `?registry=1` (or the same form fields).
fn policy_target(fields: &Form) -> Result<PolicyTarget, NoRoute> {
    if let Some(u) = fields.get("user").filter(|u| !u.is_empty()) {
        Ok(PolicyTarget::User(u.to_string()))
    } else if let Some(g) = fields.get("group").filter(|g| !g.is_empty()) {
        Ok(PolicyTarget::Group(g.to_string()))
    } else if fields.get("registry").is_some() {
        Ok(PolicyTarget::Registry)
    } else {
        Err(NoRoute::BadRequest("name a user, a group or the registry".into()))
    }
}

fn new_token(form: &Form) -> Result<NewToken, NoRoute> {
    let repositories: Vec<String> =
        field(form, "repositories").split([',', ' ', '\n']).filter(|s| !s.is_empty()).map(str::to_string).collect();
    let actions =
        ["pull", "push", "delete"].into_iter().filter(|a| form.get(a) == Some("true")).map(str::to_string).collect();
    let expires_days = field(form, "expires_days")
        .parse()
        .map_err(|_| NoRoute::BadRequest("the expiry must be a whole number of days".into()))?;
    Ok(NewToken {
        owner: required_field(form, "owner")?,
        name: field(form, "name"),
        repositories,
        actions,
        expires_days,
    })
}

impl AdminRoute {
    /// `path` is what follows `/console/admin`.
    pub fn parse(method: &Method, path: &str, query: &Form, form: &Form) -> Result<AdminRoute, NoRoute> {
        let get = method == Method::GET || method == Method::HEAD;
        let post = method == Method::POST;
        let only = |ok: bool, route: AdminRoute| if ok { Ok(route) } else { Err(NoRoute::MethodNotAllowed) };
        // Reading pages take their names from the query, forms from the body.
        let name = |fields: &Form, key: &str| required_field(fields, key);
        match path {
            "" | "/" => only(get, AdminRoute::Home),
            "/users" => only(get, AdminRoute::Users { after: after(query) }),
            "/users/create" if post => Ok(AdminRoute::CreateUser {
                name: required_field(form, "name")?,
                password: form.get("password").unwrap_or("").to_string(),
                admin: form.get("admin") == Some("true"),
            }),
            "/user" => only(get, AdminRoute::User(name(query, "name")?)),
            "/user/password" if post => {
                let password = form.get("password").filter(|p| !p.is_empty()).map(str::to_string);
                if password.is_none() && form.get("remove") != Some("true") {
                    return Err(NoRoute::BadRequest("enter the new password".into()));
                }
                Ok(AdminRoute::SetPassword { name: name(form, "name")?, password })
            }
            "/user/delete" if post => {
                let n = name(form, "name")?;
                Ok(AdminRoute::DeleteUser { confirmed: field(form, "confirm") == n, name: n })
            }
            "/user/keys/create" if post => Ok(AdminRoute::CreateKey(name(form, "name")?)),
            "/user/keys/status" if post => Ok(AdminRoute::SetKeyActive {
                user: name(form, "name")?,
                key: name(form, "key")?,
                active: match form.get("active") {
                    Some("true") => true,
                    Some("false") => false,
                    _ => return Err(NoRoute::BadRequest("active must be true or false".into())),
                },
            }),
            "/user/keys/delete" if post => {
                Ok(AdminRoute::DeleteKey { user: name(form, "name")?, key: name(form, "key")? })
            }
            "/groups" => only(get, AdminRoute::Groups { after: after(query) }),
            "/groups/create" if post => Ok(AdminRoute::CreateGroup(name(form, "group")?)),
            "/group/delete" if post => Ok(AdminRoute::DeleteGroup(name(form, "group")?)),
            "/group/members/add" if post => {
                Ok(AdminRoute::AddMember { group: name(form, "group")?, user: name(form, "user")? })
            }
            "/group/members/remove" if post => {
                Ok(AdminRoute::RemoveMember { group: name(form, "group")?, user: name(form, "user")? })
            }
            "/policy" => only(get, AdminRoute::Policy(policy_target(query)?)),
            "/policy/put" if post => {
                Ok(AdminRoute::PutPolicy { target: policy_target(form)?, document: field(form, "document") })
            }
            "/policy/delete" if post => Ok(AdminRoute::DeletePolicy(policy_target(form)?)),
            "/tokens" => only(get, AdminRoute::Tokens { after: after(query) }),
            "/tokens/create" if post => Ok(AdminRoute::CreateToken(new_token(form)?)),
            "/tokens/revoke" if post => {
                Ok(AdminRoute::RevokeToken { owner: name(form, "owner")?, token: name(form, "token")? })
            }
            "/audit" => {
                let before = match query.get("before").filter(|b| !b.is_empty()) {
                    Some(b) => Some(b.parse().map_err(|_| NoRoute::BadRequest("before is not an event id".into()))?),
                    None => None,
                };
                only(
                    get,
                    AdminRoute::Audit(AuditFilters {
                        principal: field(query, "principal"),
                        action: field(query, "action"),
                        repository: field(query, "repository"),
                        outcome: field(query, "outcome"),
                        since: field(query, "since"),
                        until: field(query, "until"),
                        before,
                    }),
                )
            }
            "/settings" => only(get, AdminRoute::Settings),
            "/settings/scanning" if post => Ok(AdminRoute::PutScanning(ScanningForm {
                scan_type: field(form, "scan_type"),
                rules: (1..=2)
                    .map(|i| (field(form, &format!("frequency{i}")), field(form, &format!("filters{i}"))))
                    .filter(|(_, filters)| !filters.is_empty())
                    .collect(),
            })),
            "/settings/account" if post => Ok(AdminRoute::PutAccountSetting {
                name: required_field(form, "setting")?,
                value: required_field(form, "value")?,
            }),
            "/vulndb" => only(get, AdminRoute::VulnDb),
            "/users/create"
            | "/user/password"
            | "/user/delete"
            | "/user/keys/create"
            | "/user/keys/status"
            | "/user/keys/delete"
            | "/groups/create"
            | "/group/delete"
            | "/group/members/add"
            | "/group/members/remove"
            | "/policy/put"
            | "/policy/delete"
            | "/tokens/create"
            | "/tokens/revoke"
            | "/settings/scanning"
            | "/settings/account" => Err(NoRoute::MethodNotAllowed),
            _ => Err(NoRoute::NotFound),
        }
    }

    /// What the page or form needs: the action of the admin (or ECR) operation it amounts to.
    pub fn required(&self) -> Vec<Required> {
        let on = |action: &str, target: Target| vec![Required::new(action, target)];
        let user = |u: &str| Target::User(u.to_string());
        let group = |g: &str| Target::Group(g.to_string());
        match self {
            // Each section the page lists is decided as it is listed.
            AdminRoute::Home => Vec::new(),
            AdminRoute::Users { .. } => on("berth:ListUsers", Target::Any),
            AdminRoute::CreateUser { name, .. } => on("berth:CreateUser", user(name)),
            AdminRoute::User(name) => {
                vec![Required::new("berth:ListUsers", Target::Any), Required::new("berth:ListAccessKeys", user(name))]
            }
            AdminRoute::SetPassword { name, .. } => on("berth:SetUserPassword", user(name)),
            AdminRoute::DeleteUser { name, .. } => on("berth:DeleteUser", user(name)),
            AdminRoute::CreateKey(name) => on("berth:CreateAccessKey", user(name)),
            AdminRoute::SetKeyActive { user: u, .. } => on("berth:UpdateAccessKey", user(u)),
            AdminRoute::DeleteKey { user: u, .. } => on("berth:DeleteAccessKey", user(u)),
            AdminRoute::Groups { .. } => on("berth:ListGroups", Target::Any),
            AdminRoute::CreateGroup(g) => on("berth:CreateGroup", group(g)),
            AdminRoute::DeleteGroup(g) => on("berth:DeleteGroup", group(g)),
            AdminRoute::AddMember { group: g, .. } => on("berth:AddUserToGroup", group(g)),
            AdminRoute::RemoveMember { group: g, .. } => on("berth:RemoveUserFromGroup", group(g)),
            AdminRoute::Policy(t) => vec![policy_permission(t, "Get")],
            AdminRoute::PutPolicy { target, .. } => vec![policy_permission(target, "Put")],
            AdminRoute::DeletePolicy(t) => vec![policy_permission(t, "Delete")],
            AdminRoute::Tokens { .. } => on("berth:ListRobotTokens", Target::Any),
            AdminRoute::CreateToken(t) => on("berth:CreateRobotToken", user(&t.owner)),
            AdminRoute::RevokeToken { owner, .. } => on("berth:DeleteRobotToken", user(owner)),
            AdminRoute::Audit(_) => on("berth:ListAuditEvents", Target::Any),
            AdminRoute::Settings => vec![
                Required::new("ecr:GetRegistryScanningConfiguration", Target::Registry),
                Required::new("ecr:GetAccountSetting", Target::Registry),
            ],
            AdminRoute::PutScanning(_) => on("ecr:PutRegistryScanningConfiguration", Target::Registry),
            AdminRoute::PutAccountSetting { .. } => on("ecr:PutAccountSetting", Target::Registry),
            AdminRoute::VulnDb => on("berth:GetVulnerabilityDatabase", Target::Any),
        }
    }

    /// Whether the route is a form post (CSRF-checked and audited).
    pub fn changes(&self) -> bool {
        !matches!(
            self,
            AdminRoute::Home
                | AdminRoute::Users { .. }
                | AdminRoute::User(_)
                | AdminRoute::Groups { .. }
                | AdminRoute::Policy(_)
                | AdminRoute::Tokens { .. }
                | AdminRoute::Audit(_)
                | AdminRoute::Settings
                | AdminRoute::VulnDb
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(method: Method, path: &str, query: &str, form: &str) -> Result<AdminRoute, NoRoute> {
        AdminRoute::parse(&method, path, &Form::parse(query), &Form::parse(form))
    }

    fn actions(r: &AdminRoute) -> Vec<(String, Target)> {
        r.required().into_iter().map(|r| (r.action, r.target)).collect()
    }

    #[test]
    fn forms_are_decided_as_the_admin_operations_they_amount_to() {
        let r = parse(Method::POST, "/users/create", "", "name=alice&password=secret-password").unwrap();
        assert_eq!(actions(&r), [("berth:CreateUser".into(), Target::User("alice".into()))]);
        assert!(r.changes());
        let r = parse(Method::POST, "/user/keys/delete", "", "name=a%2Bb&key=AKIA1").unwrap();
        assert_eq!(r, AdminRoute::DeleteKey { user: "a+b".into(), key: "AKIA1".into() });
        assert_eq!(actions(&r), [("berth:DeleteAccessKey".into(), Target::User("a+b".into()))]);
        let r = parse(Method::POST, "/tokens/revoke", "", "owner=bob&token=abc").unwrap();
        assert_eq!(actions(&r), [("berth:DeleteRobotToken".into(), Target::User("bob".into()))]);
        let r = parse(Method::POST, "/policy/put", "", "group=ci&document=%7B%7D").unwrap();
        assert_eq!(actions(&r), [("berth:PutGroupPolicy".into(), Target::Group("ci".into()))]);
        let r = parse(Method::GET, "/policy", "registry=1", "").unwrap();
        assert_eq!(actions(&r), [("ecr:GetRegistryPolicy".into(), Target::Registry)]);
        assert!(!r.changes());
        let r =
            parse(Method::POST, "/settings/scanning", "", "scan_type=BASIC&frequency1=SCAN_ON_PUSH&filters1=prod/*")
                .unwrap();
        assert_eq!(actions(&r), [("ecr:PutRegistryScanningConfiguration".into(), Target::Registry)]);
        let r = parse(Method::GET, "/audit", "principal=alice&before=12", "").unwrap();
        assert_eq!(actions(&r), [("berth:ListAuditEvents".into(), Target::Any)]);
    }

    #[test]
    fn bad_requests_name_what_is_wrong() {
        assert!(matches!(parse(Method::POST, "/users/create", "", ""), Err(NoRoute::BadRequest(_))));
        assert!(matches!(parse(Method::GET, "/audit", "before=x", ""), Err(NoRoute::BadRequest(_))));
        assert!(matches!(parse(Method::GET, "/policy", "", ""), Err(NoRoute::BadRequest(_))));
        assert_eq!(parse(Method::GET, "/users/create", "", ""), Err(NoRoute::MethodNotAllowed));
        assert_eq!(parse(Method::POST, "/users", "", ""), Err(NoRoute::MethodNotAllowed));
        assert_eq!(parse(Method::GET, "/nothing", "", ""), Err(NoRoute::NotFound));
        let r = parse(Method::POST, "/user/delete", "", "name=alice&confirm=alicia").unwrap();
        assert_eq!(r, AdminRoute::DeleteUser { name: "alice".into(), confirmed: false });
    }
}
