//! Every console request parsed into a [`Route`] before anything runs, and what each needs
//! ([`Route::required`]): the ECR action (or berth action) the page or form amounts to, on the repository it
//! names. The dispatcher has that decided by [`crate::access::decide`], as the ECR and admin APIs do.

use axum::http::Method;
use berth_identity::{Required, Target};
use berth_meta::catalog::CatalogData;
use berth_meta::identity::Visibility;
use berth_meta::settings::{RepositorySettings, TagMutability};
use berth_oci::{Digest, RepositoryName};
use berth_registry::scanning::{PullPolicy, Severity};
use serde_json::{Map, Value, json};

use super::form::Form;

/// The path segment that separates a repository's name from what is asked of it
/// (`/console/repositories/team/app/-/delete`): a name component can never be `-`.
pub const ACTIONS: &str = "/-/";

/// A listing's page: names starting with `prefix`, after `after`; the repository list also filters by
/// visibility, scan on push and tag mutability.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub prefix: String,
    pub after: Option<RepositoryName>,
    pub visibility: Option<Visibility>,
    pub scan_on_push: Option<bool>,
    pub mutability: Option<TagMutability>,
}

/// A gallery page: public repositories whose name or description contains `text`, after `after`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    pub text: String,
    pub after: Option<RepositoryName>,
}

/// The findings table's columns, to sort by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FindingsSort {
    #[default]
    Severity,
    Advisory,
    Package,
    Version,
    Fix,
}

impl FindingsSort {
    pub const ALL: [(FindingsSort, &'static str); 5] = [
        (FindingsSort::Severity, "severity"),
        (FindingsSort::Advisory, "advisory"),
        (FindingsSort::Package, "package"),
        (FindingsSort::Version, "version"),
        (FindingsSort::Fix, "fix"),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(s, _)| *s == self).map_or("severity", |(_, n)| n)
    }
}

/// The severities a finding may have, most severe first (ECR's names).
pub const SEVERITIES: [&str; 6] = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"];

/// How the image page shows its findings (its query parameters): only those of `severity` (all when
/// `None`), sorted by `sort`, page `page` (from 1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingsView {
    pub severity: Option<&'static str>,
    pub sort: FindingsSort,
    pub descending: bool,
    pub page: u32,
}

/// The create form as submitted: valid, or the values to show again with what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRepository {
    pub name: RepositoryName,
    /// Tag mutability with its exclusion filters, scan on push and resource tags, as `CreateRepository`
    /// validated them.
    pub settings: RepositorySettings,
    pub visibility: Visibility,
}

/// A form that did not validate: the values as typed and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub form: Form,
    pub message: String,
}

/// Settings to change; a field left out of the form is not changed (and its permission not needed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The mode and its exclusion filters (`PutImageTagMutability`).
    pub mutability: Option<(TagMutability, Vec<String>)>,
    pub scan_on_push: Option<bool>,
    pub visibility: Option<Visibility>,
    /// The pull policy: `Some(None)` removes it.
    pub pull_policy: Option<Option<PullPolicy>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Stylesheet,
    /// `GET /console` without the slash.
    Home,
    LoginForm,
    Login,
    Logout,
    /// The public gallery: public repositories, decided per repository for an anonymous caller.
    Gallery(Search),
    /// Repositories the caller may describe, decided per repository.
    Repositories(Listing),
    NewRepository,
    CreateRepository(Result<NewRepository, Rejected>),
    Repository {
        name: RepositoryName,
        after: Option<Digest>,
    },
    PushCommands(RepositoryName),
    ConfirmDelete(RepositoryName),
    Delete {
        name: RepositoryName,
        confirmed: bool,
        force: bool,
    },
    /// The Settings tab.
    SettingsPage(RepositoryName),
    Settings {
        name: RepositoryName,
        settings: Result<Settings, Rejected>,
    },
    /// An image (manifest) of a repository: layers, config, platforms, referrers, findings.
    Image {
        name: RepositoryName,
        digest: Digest,
        view: FindingsView,
    },
    /// The CycloneDX SBOM stored as a referrer of the image, as a download.
    Sbom {
        name: RepositoryName,
        digest: Digest,
    },
    DeleteImage {
        name: RepositoryName,
        digest: Digest,
    },
    /// The repository's catalog data (what the public gallery shows), replaced by the form's.
    PutCatalogData {
        name: RepositoryName,
        data: CatalogData,
    },
    /// The Permissions tab: the repository policy.
    Permissions(RepositoryName),
    SetPolicy {
        name: RepositoryName,
        policy: Result<String, Rejected>,
    },
    DeletePolicy(RepositoryName),
    /// The administration pages (`/console/admin/...`).
    Admin(super::admin::route::AdminRoute),
    /// The usage report (`/console/usage`).
    Usage(super::usage::UsageQuery),
}

/// What a route needs before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Declared {
    /// Readable by anyone, signed in or not (the sign-in page, the stylesheet, the gallery).
    Public,
    /// A signed-in user, and all of these allowed.
    All(Vec<Required>),
    /// A signed-in user; the listing shows only what the engine allows, repository by repository.
    Filtered,
}

/// Why a request names no route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRoute {
    NotFound,
    MethodNotAllowed,
    BadRequest(String),
}

fn repository(name: &str) -> Result<RepositoryName, NoRoute> {
    name.parse().map_err(|_| NoRoute::NotFound)
}

fn listing(query: &Form) -> Result<Listing, NoRoute> {
    let prefix = query.get("prefix").unwrap_or("").trim().to_string();
    if prefix.len() > 256 {
        return Err(NoRoute::BadRequest("the search is longer than any repository name".into()));
    }
    let after = match query.get("after").filter(|a| !a.is_empty()) {
        Some(a) => Some(a.parse().map_err(|_| NoRoute::BadRequest("after is not a repository name".into()))?),
        None => None,
    };
    let bad = NoRoute::BadRequest;
    let chosen = |field: &str| query.get(field).filter(|v| !v.is_empty());
    Ok(Listing {
        prefix,
        after,
        visibility: chosen("visibility").map(visibility).transpose().map_err(bad)?,
        scan_on_push: chosen("scan_on_push").map(switch).transpose().map_err(bad)?,
        mutability: chosen("mutability").map(mutability).transpose().map_err(bad)?,
    })
}

fn search(query: &Form) -> Result<Search, NoRoute> {
    // `prefix`, as the gallery's search was once named, still works.
    let text = query.get("q").or_else(|| query.get("prefix")).unwrap_or("").trim().to_string();
    if text.chars().count() > 256 {
        return Err(NoRoute::BadRequest("the search is longer than 256 characters".into()));
    }
    let after = match query.get("after").filter(|a| !a.is_empty()) {
        Some(a) => Some(a.parse().map_err(|_| NoRoute::BadRequest("after is not a repository name".into()))?),
        None => None,
    };
    Ok(Search { text, after })
}

fn findings_view(query: &Form) -> Result<FindingsView, NoRoute> {
    let bad = |m: String| NoRoute::BadRequest(m);
    let severity = match query.get("severity").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            *SEVERITIES
                .iter()
                .find(|k| k.eq_ignore_ascii_case(s))
                .ok_or_else(|| bad(format!("severity must be one of {}, not {s:?}", SEVERITIES.join(", "))))?,
        ),
    };
    let sort =
        match query.get("sort").filter(|s| !s.is_empty()) {
            None => FindingsSort::default(),
            Some(s) => FindingsSort::ALL.iter().find(|(_, n)| *n == s).map(|(k, _)| *k).ok_or_else(|| {
                bad(format!("sort must be one of severity, advisory, package, version, fix, not {s:?}"))
            })?,
        };
    let descending = match query.get("order") {
        None | Some("" | "asc") => false,
        Some("desc") => true,
        Some(o) => return Err(bad(format!("order must be asc or desc, not {o:?}"))),
    };
    let page = match query.get("page").filter(|p| !p.is_empty()) {
        None => 1,
        Some(p) => p
            .parse::<u32>()
            .ok()
            .filter(|p| (1..=100_000).contains(p))
            .ok_or_else(|| bad("page must be a number from 1".into()))?,
    };
    Ok(FindingsView { severity, sort, descending, page })
}

/// The catalog data form, validated as `PutRepositoryCatalogData` validates it.
fn catalog_data(form: &Form) -> Result<CatalogData, NoRoute> {
    // Browsers send line breaks as CRLF; they are stored as LF.
    let text = |field: &str| form.get(field).unwrap_or("").replace("\r\n", "\n");
    let data = CatalogData {
        description: text("description").trim().to_string(),
        about_text: text("about_text"),
        usage_text: text("usage_text"),
        architectures: form.all("architectures").map(str::to_string).collect(),
        operating_systems: form.all("operating_systems").map(str::to_string).collect(),
    };
    berth_registry::catalog::validate(&data).map_err(|e| NoRoute::BadRequest(e.to_string()))?;
    Ok(data)
}

fn image_action(name: RepositoryName, rest: &str, get: bool, post: bool, query: &Form) -> Result<Route, NoRoute> {
    let (digest, what) = match rest.split_once('/') {
        Some((d, w)) => (d, Some(w)),
        None => (rest, None),
    };
    let digest: Digest = digest.parse().map_err(|_| NoRoute::NotFound)?;
    let only = |ok: bool, route: Route| if ok { Ok(route) } else { Err(NoRoute::MethodNotAllowed) };
    match what {
        None => only(get, Route::Image { view: findings_view(query)?, name, digest }),
        Some("sbom") => only(get, Route::Sbom { name, digest }),
        Some("delete") => only(post, Route::DeleteImage { name, digest }),
        Some(_) => Err(NoRoute::NotFound),
    }
}

fn mutability(value: &str) -> Result<TagMutability, String> {
    match value {
        "MUTABLE" => Ok(TagMutability::Mutable),
        "IMMUTABLE" => Ok(TagMutability::Immutable),
        other => Err(format!("tag mutability must be MUTABLE or IMMUTABLE, not {other:?}")),
    }
}

fn visibility(value: &str) -> Result<Visibility, String> {
    match value {
        "private" => Ok(Visibility::Private),
        "public" => Ok(Visibility::Public),
        other => Err(format!("visibility must be private or public, not {other:?}")),
    }
}

fn switch(value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("scan on push must be true or false, not {other:?}")),
    }
}

/// Items of a list typed into a text field: separated by commas, spaces or lines.
fn items(text: &str) -> Vec<&str> {
    text.split(|c: char| c == ',' || c.is_whitespace()).filter(|i| !i.is_empty()).collect()
}

/// `imageTagMutability` and its `imageTagMutabilityExclusionFilters` from a form's `tag_mutability` and
/// `exclusions` (filters make the mode `*_WITH_EXCLUSION`), into `input`.
fn mutability_input(form: &Form, input: &mut Map<String, Value>) {
    let mode = form.get("tag_mutability").unwrap_or("MUTABLE");
    let filters = items(form.get("exclusions").unwrap_or(""));
    if filters.is_empty() {
        input.insert("imageTagMutability".into(), json!(mode));
    } else {
        input.insert("imageTagMutability".into(), json!(format!("{mode}_WITH_EXCLUSION")));
        let filters: Vec<Value> = filters.iter().map(|f| json!({"filterType": "WILDCARD", "filter": f})).collect();
        input.insert("imageTagMutabilityExclusionFilters".into(), Value::Array(filters));
    }
}

/// Resource tags typed one `key=value` a line.
fn resource_tags(text: &str) -> Result<Vec<Value>, String> {
    let mut tags = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (key, value) =
            line.split_once('=').ok_or_else(|| format!("tag {line:?} is not key=value (one tag a line)"))?;
        tags.push(json!({"Key": key.trim(), "Value": value.trim()}));
    }
    Ok(tags)
}

/// The create form, validated by the code that validates `CreateRepository`'s input (name rules, tag
/// mutability with exclusion filters, encryption, resource tags), so the console accepts what the API
/// accepts and says what it says.
fn new_repository(form: &Form) -> Result<NewRepository, Rejected> {
    let reject = |message: String| Rejected { form: form.clone(), message };
    let name = form.get("name").unwrap_or("").trim();
    let name = crate::aws::input::repository_name("repositoryName", name).map_err(|e| reject(e.message))?;
    let mut input = Map::new();
    mutability_input(form, &mut input);
    input.insert("imageScanningConfiguration".into(), json!({"scanOnPush": form.get("scan_on_push") == Some("true")}));
    input.insert(
        "encryptionConfiguration".into(),
        json!({"encryptionType": form.get("encryption").unwrap_or("AES256")}),
    );
    let tags = resource_tags(form.get("tags").unwrap_or("")).map_err(reject)?;
    if !tags.is_empty() {
        input.insert("tags".into(), Value::Array(tags));
    }
    let settings =
        crate::ecr::repositories::settings(&crate::aws::input::Input(&input)).map_err(|e| reject(e.message))?;
    let visibility = visibility(form.get("visibility").unwrap_or("private")).map_err(reject)?;
    Ok(NewRepository { name, settings, visibility })
}

/// The pull policy fields: `pull_severity` (empty: no policy) and the advisories `pull_allow`ed.
fn pull_policy(form: &Form) -> Result<Option<PullPolicy>, String> {
    let severity = form.get("pull_severity").unwrap_or("");
    if severity.is_empty() {
        return Ok(None);
    }
    let min_severity = Severity::from_label(severity).filter(|s| *s != Severity::Undefined).ok_or_else(|| {
        format!("the pull policy's severity {severity:?} is not CRITICAL, HIGH, MEDIUM, LOW or INFORMATIONAL")
    })?;
    let allow = items(form.get("pull_allow").unwrap_or("")).into_iter().map(String::from).collect();
    Ok(Some(PullPolicy { min_severity, allow }))
}

/// The Settings form: each field it carries (a field left out is not changed), validated as the API
/// validates it.
fn settings(form: &Form) -> Result<Result<Settings, Rejected>, NoRoute> {
    let reject = |message: String| Rejected { form: form.clone(), message };
    let parsed = (|| {
        let mutability = match form.get("tag_mutability") {
            None => None,
            Some(_) => {
                let mut input = Map::new();
                mutability_input(form, &mut input);
                let (m, filters) = crate::ecr::repositories::tag_mutability(&crate::aws::input::Input(&input))
                    .map_err(|e| e.message)?;
                Some((m, filters))
            }
        };
        Ok::<_, String>(Settings {
            mutability,
            scan_on_push: form.get("scan_on_push").map(switch).transpose()?,
            visibility: form.get("visibility").map(visibility).transpose()?,
            pull_policy: form.get("pull_severity").map(|_| pull_policy(form)).transpose()?,
        })
    })();
    match parsed {
        Ok(Settings { mutability: None, scan_on_push: None, visibility: None, pull_policy: None }) => {
            Err(NoRoute::BadRequest("the form changes no setting".into()))
        }
        Ok(s) => Ok(Ok(s)),
        Err(message) => Ok(Err(reject(message))),
    }
}

/// The policy editor's text, within ECR's size limit (its syntax is the policy engine's to judge).
fn policy(form: &Form) -> Result<String, Rejected> {
    let text = form.get("policy").unwrap_or("").trim();
    let reject = |message: String| Rejected { form: form.clone(), message };
    if text.is_empty() {
        return Err(reject("The policy is empty: write one, or delete the repository's policy.".into()));
    }
    if text.len() > crate::ecr::policies::MAX_POLICY {
        return Err(reject(format!("The policy is longer than {} bytes.", crate::ecr::policies::MAX_POLICY)));
    }
    Ok(text.to_string())
}

impl Route {
    /// `path` is what follows `/console`; `query` the URL's parameters; `form` a POST's body.
    pub fn parse(method: &Method, path: &str, query: &Form, form: &Form) -> Result<Route, NoRoute> {
        let get = method == Method::GET || method == Method::HEAD;
        let post = method == Method::POST;
        let only = |ok: bool, route: Route| if ok { Ok(route) } else { Err(NoRoute::MethodNotAllowed) };
        match path {
            "" => return only(get, Route::Home),
            "/" => return only(get, Route::Repositories(listing(query)?)),
            "/static/console.css" => return only(get, Route::Stylesheet),
            "/login" if post => return Ok(Route::Login),
            "/login" => return only(get, Route::LoginForm),
            "/logout" => return only(post, Route::Logout),
            "/public" => return only(get, Route::Gallery(search(query)?)),
            "/repositories/new" => return only(get, Route::NewRepository),
            "/repositories" => return only(post, Route::CreateRepository(new_repository(form))),
            "/usage" => return only(get, Route::Usage(super::usage::UsageQuery::parse(query)?)),
            _ => {}
        }
        if let Some(admin) = path.strip_prefix("/admin").filter(|a| a.is_empty() || a.starts_with('/')) {
            return super::admin::route::AdminRoute::parse(method, admin, query, form).map(Route::Admin);
        }
        let rest = path.strip_prefix("/repositories/").ok_or(NoRoute::NotFound)?;
        // `NAME` or `NAME/-/ACTION`, read from the right as names contain slashes.
        let (name, action) = match rest.rsplit_once(ACTIONS) {
            Some((name, action)) => (name, Some(action)),
            None => (rest, None),
        };
        let name = repository(name)?;
        match action {
            None => {
                let after = match query.get("after").filter(|a| !a.is_empty()) {
                    Some(d) => Some(d.parse().map_err(|_| NoRoute::BadRequest("after is not a digest".into()))?),
                    None => None,
                };
                only(get, Route::Repository { name, after })
            }
            Some("push-commands") => only(get, Route::PushCommands(name)),
            Some("delete") if post => {
                let confirmed = form.get("confirm").map(str::trim) == Some(name.as_str());
                Ok(Route::Delete { name, confirmed, force: form.get("force") == Some("true") })
            }
            Some("delete") => only(get, Route::ConfirmDelete(name)),
            Some("settings") if post => Ok(Route::Settings { settings: settings(form)?, name }),
            Some("catalog") if post => Ok(Route::PutCatalogData { data: catalog_data(form)?, name }),
            Some("catalog") => Err(NoRoute::MethodNotAllowed),
            Some(a) if a.starts_with("images/") => image_action(name, &a["images/".len()..], get, post, query),
            Some("settings") => only(get, Route::SettingsPage(name)),
            Some("permissions") if post => Ok(Route::SetPolicy { policy: policy(form), name }),
            Some("permissions") => only(get, Route::Permissions(name)),
            Some("permissions/delete") => only(post, Route::DeletePolicy(name)),
            Some(_) => Err(NoRoute::NotFound),
        }
    }

    /// What the route needs, declared from the request alone, before anything runs.
    pub fn required(&self) -> Declared {
        let on = |action: &str, name: &RepositoryName| Required::new(action, Target::Repository(name.clone()));
        match self {
            Route::Stylesheet | Route::Home | Route::LoginForm | Route::Login | Route::Gallery(_) => Declared::Public,
            Route::Repositories(_) => Declared::Filtered,
            // Signing out and the empty create form need a session and nothing else.
            Route::Logout | Route::NewRepository => Declared::All(Vec::new()),
            Route::CreateRepository(Ok(new)) => {
                let mut required = vec![on("ecr:CreateRepository", &new.name)];
                // As the API: tagging at creation needs ecr:TagResource too.
                if !new.settings.tags.is_empty() {
                    required.push(on("ecr:TagResource", &new.name));
                }
                if new.visibility == Visibility::Public {
                    required.push(on("berth:SetRepositoryVisibility", &new.name));
                }
                Declared::All(required)
            }
            // Nothing runs: the form is shown again with what is wrong.
            Route::CreateRepository(Err(_)) => Declared::All(Vec::new()),
            Route::Repository { name, .. } => {
                Declared::All(vec![on("ecr:DescribeRepositories", name), on("ecr:DescribeImages", name)])
            }
            Route::PushCommands(name) | Route::SettingsPage(name) => {
                Declared::All(vec![on("ecr:DescribeRepositories", name)])
            }
            Route::Permissions(name) => {
                Declared::All(vec![on("ecr:DescribeRepositories", name), on("ecr:GetRepositoryPolicy", name)])
            }
            Route::SetPolicy { name, .. } => Declared::All(vec![on("ecr:SetRepositoryPolicy", name)]),
            Route::DeletePolicy(name) => Declared::All(vec![on("ecr:DeleteRepositoryPolicy", name)]),
            // Nothing changes: the form is shown again with what is wrong.
            Route::Settings { name, settings: Err(_) } => Declared::All(vec![on("ecr:DescribeRepositories", name)]),
            Route::ConfirmDelete(name) | Route::Delete { name, .. } => {
                Declared::All(vec![on("ecr:DeleteRepository", name)])
            }
            Route::Settings { name, settings: Ok(settings) } => {
                let mut required = Vec::new();
                if settings.mutability.is_some() {
                    required.push(on("ecr:PutImageTagMutability", name));
                }
                if settings.scan_on_push.is_some() {
                    required.push(on("ecr:PutImageScanningConfiguration", name));
                }
                if settings.visibility.is_some() {
                    required.push(on("berth:SetRepositoryVisibility", name));
                }
                if settings.pull_policy.is_some() {
                    required.push(on("berth:PutPullPolicy", name));
                }
                Declared::All(required)
            }
            // The manifest and its config are read (`BatchGetImage`); findings are shown where the caller may
            // `ecr:DescribeImageScanFindings`, and the delete button where it may `ecr:BatchDeleteImage`.
            Route::Image { name, .. } => {
                Declared::All(vec![on("ecr:DescribeImages", name), on("ecr:BatchGetImage", name)])
            }
            // The SBOM is an artifact's layer: reading it is a pull of the manifest and a blob.
            Route::Sbom { name, .. } => {
                Declared::All(vec![on("ecr:BatchGetImage", name), on("ecr:GetDownloadUrlForLayer", name)])
            }
            Route::DeleteImage { name, .. } => Declared::All(vec![on("ecr:BatchDeleteImage", name)]),
            Route::PutCatalogData { name, .. } => Declared::All(vec![on("ecr:PutRepositoryCatalogData", name)]),
            Route::Admin(admin) => Declared::All(admin.required()),
            Route::Usage(_) => Declared::All(vec![Required::new(super::usage::ACTION, Target::Any)]),
        }
    }

    /// Whether the route changes something (a form post: CSRF-checked and audited).
    pub fn changes(&self) -> bool {
        match self {
            Route::Admin(admin) => admin.changes(),
            _ => matches!(
                self,
                Route::Login
                    | Route::Logout
                    | Route::CreateRepository(_)
                    | Route::Delete { .. }
                    | Route::Settings { .. }
                    | Route::DeleteImage { .. }
                    | Route::PutCatalogData { .. }
                    | Route::SetPolicy { .. }
                    | Route::DeletePolicy(_)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(method: Method, path: &str, query: &str, form: &str) -> Result<Route, NoRoute> {
        Route::parse(&method, path, &Form::parse(query), &Form::parse(form))
    }

    fn repo(n: &str) -> RepositoryName {
        n.parse().unwrap()
    }

    fn actions(d: Declared) -> Vec<String> {
        match d {
            Declared::All(r) => r.into_iter().map(|r| r.action).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names_with_slashes_are_read_from_the_right() {
        let r = parse(Method::POST, "/repositories/team/app/-/delete", "", "confirm=team/app&force=true").unwrap();
        assert_eq!(r, Route::Delete { name: repo("team/app"), confirmed: true, force: true });
        assert_eq!(actions(r.required()), ["ecr:DeleteRepository"]);
        let r = parse(Method::POST, "/repositories/team/app/-/delete", "", "confirm=team/other").unwrap();
        assert!(matches!(r, Route::Delete { confirmed: false, force: false, .. }));
        let r = parse(Method::GET, "/repositories/a/b/c", "", "").unwrap();
        assert_eq!(r, Route::Repository { name: repo("a/b/c"), after: None });
        assert_eq!(actions(r.required()), ["ecr:DescribeRepositories", "ecr:DescribeImages"]);
        assert_eq!(parse(Method::GET, "/repositories/a/b/-/nothing", "", ""), Err(NoRoute::NotFound));
        assert_eq!(parse(Method::GET, "/repositories/Bad", "", ""), Err(NoRoute::NotFound));
        assert_eq!(parse(Method::DELETE, "/", "", ""), Err(NoRoute::MethodNotAllowed));
    }

    #[test]
    fn settings_declare_what_they_change() {
        let r = parse(Method::POST, "/repositories/a/b/-/settings", "", "tag_mutability=IMMUTABLE").unwrap();
        assert_eq!(actions(r.required()), ["ecr:PutImageTagMutability"]);
        let form =
            "tag_mutability=MUTABLE&scan_on_push=true&visibility=public&pull_severity=HIGH&pull_allow=CVE-1,+CVE-2";
        let r = parse(Method::POST, "/repositories/a/b/-/settings", "", form).unwrap();
        assert_eq!(
            actions(r.required()),
            [
                "ecr:PutImageTagMutability",
                "ecr:PutImageScanningConfiguration",
                "berth:SetRepositoryVisibility",
                "berth:PutPullPolicy"
            ]
        );
        let Route::Settings { settings: Ok(s), .. } = &r else { panic!("{r:?}") };
        let policy = s.pull_policy.clone().flatten().unwrap();
        assert_eq!((policy.min_severity, policy.allow), (Severity::High, vec!["CVE-1".into(), "CVE-2".into()]));
        // An empty severity removes the pull policy.
        let r = parse(Method::POST, "/repositories/a/-/settings", "", "pull_severity=").unwrap();
        assert!(matches!(&r, Route::Settings { settings: Ok(Settings { pull_policy: Some(None), .. }), .. }));
        // Exclusion filters make the mode *_WITH_EXCLUSION, validated as PutImageTagMutability validates them.
        let form = "tag_mutability=IMMUTABLE&exclusions=latest,+dev-*";
        let r = parse(Method::POST, "/repositories/a/-/settings", "", form).unwrap();
        let Route::Settings { settings: Ok(s), .. } = &r else { panic!("{r:?}") };
        assert_eq!(s.mutability, Some((TagMutability::Immutable, vec!["latest".into(), "dev-*".into()])));
        for bad in [
            "tag_mutability=SOMETIMES",
            "tag_mutability=MUTABLE&exclusions=a,b,c,d,e,f",
            "tag_mutability=MUTABLE&exclusions=a/b",
            "pull_severity=UNDEFINED",
        ] {
            let r = parse(Method::POST, "/repositories/a/b/-/settings", "", bad).unwrap();
            let Route::Settings { settings: Err(rejected), .. } = &r else { panic!("{bad}: {r:?}") };
            assert!(!rejected.message.is_empty());
            assert_eq!(actions(r.required()), ["ecr:DescribeRepositories"], "nothing changes for {bad}");
        }
        assert!(matches!(parse(Method::POST, "/repositories/a/b/-/settings", "", ""), Err(NoRoute::BadRequest(_))));
        assert_eq!(parse(Method::GET, "/repositories/a/-/settings", "", ""), Ok(Route::SettingsPage(repo("a"))));
    }

    #[test]
    fn repository_policies_declare_their_actions() {
        let r = parse(Method::GET, "/repositories/a/b/-/permissions", "", "").unwrap();
        assert_eq!(actions(r.required()), ["ecr:DescribeRepositories", "ecr:GetRepositoryPolicy"]);
        let r = parse(Method::POST, "/repositories/a/b/-/permissions", "", "policy=%7B%7D").unwrap();
        assert_eq!(r, Route::SetPolicy { name: repo("a/b"), policy: Ok("{}".into()) });
        assert_eq!(actions(r.required()), ["ecr:SetRepositoryPolicy"]);
        assert!(r.changes());
        let r = parse(Method::POST, "/repositories/a/b/-/permissions", "", "policy=+").unwrap();
        assert!(matches!(r, Route::SetPolicy { policy: Err(_), .. }), "an empty policy is refused before it runs");
        let long = format!("policy={}", "x".repeat(10241));
        let r = parse(Method::POST, "/repositories/a/-/permissions", "", &long);
        assert!(matches!(r, Ok(Route::SetPolicy { policy: Err(_), .. })));
        let r = parse(Method::POST, "/repositories/a/b/-/permissions/delete", "", "").unwrap();
        assert_eq!(actions(r.required()), ["ecr:DeleteRepositoryPolicy"]);
        assert!(r.changes());
        let get = parse(Method::GET, "/repositories/a/-/permissions/delete", "", "");
        assert_eq!(get, Err(NoRoute::MethodNotAllowed));
    }

    #[test]
    fn creation_is_validated_as_the_api_validates_it() {
        let form = "name=team/app&visibility=public&scan_on_push=true&tag_mutability=IMMUTABLE&exclusions=latest\
                    &encryption=AES256&tags=team%3Dpay%0D%0Aenv+%3D+dev";
        let r = parse(Method::POST, "/repositories", "", form).unwrap();
        let Route::CreateRepository(Ok(new)) = &r else { panic!("{r:?}") };
        let s = &new.settings;
        assert_eq!((new.name.as_str(), s.scan_on_push, new.visibility), ("team/app", true, Visibility::Public));
        assert_eq!(
            (s.tag_mutability, s.tag_mutability_exclusions.as_slice()),
            (TagMutability::Immutable, &["latest".to_string()][..])
        );
        assert_eq!(s.tags, [("team".to_string(), "pay".to_string()), ("env".into(), "dev".into())]);
        assert_eq!(actions(r.required()), ["ecr:CreateRepository", "ecr:TagResource", "berth:SetRepositoryVisibility"]);
        let r = parse(Method::POST, "/repositories", "", "name=team/app").unwrap();
        assert_eq!(actions(r.required()), ["ecr:CreateRepository"], "no tags, no ecr:TagResource");
        for bad in [
            "name=a",
            "name=Team/app",
            "name=team//app",
            "name=team/app&tag_mutability=x",
            "name=team/app&encryption=KMS",
            "name=team/app&tags=novalue",
            "name=team/app&tags=aws%3Ax%3D1",
            "name=team/app&exclusions=a,b,c,d,e,f",
        ] {
            let r = parse(Method::POST, "/repositories", "", bad).unwrap();
            assert!(matches!(&r, Route::CreateRepository(Err(_))), "{bad}");
            assert_eq!(r.required(), Declared::All(Vec::new()), "nothing runs for {bad}");
        }
        let r = parse(Method::POST, "/repositories", "", "name=team/app&encryption=KMS").unwrap();
        let Route::CreateRepository(Err(rejected)) = r else { panic!() };
        assert!(rejected.message.contains("not supported by berth"), "the API's message: {}", rejected.message);
    }

    #[test]
    fn public_and_filtered_routes() {
        assert_eq!(parse(Method::GET, "/public", "prefix=te", "").unwrap().required(), Declared::Public);
        assert_eq!(parse(Method::GET, "/", "", "").unwrap().required(), Declared::Filtered);
        assert_eq!(parse(Method::GET, "/login", "", "").unwrap().required(), Declared::Public);
        assert!(matches!(parse(Method::GET, "/", "after=NOT A NAME", ""), Err(NoRoute::BadRequest(_))));
        let r = parse(Method::GET, "/", "prefix=te&visibility=public&scan_on_push=&mutability=IMMUTABLE", "").unwrap();
        let Route::Repositories(l) = r else { panic!() };
        assert_eq!(
            (l.prefix.as_str(), l.visibility, l.scan_on_push, l.mutability),
            ("te", Some(Visibility::Public), None, Some(TagMutability::Immutable)),
            "an empty filter is no filter"
        );
        assert!(matches!(parse(Method::GET, "/", "visibility=secret", ""), Err(NoRoute::BadRequest(_))));
        assert!(parse(Method::POST, "/logout", "", "").unwrap().changes());
        assert!(!parse(Method::GET, "/", "", "").unwrap().changes());
    }

    #[test]
    fn image_routes_declare_their_ecr_actions() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = parse(
            Method::GET,
            &format!("/repositories/team/app/-/images/{d}"),
            "severity=high&sort=fix&order=desc&page=2",
            "",
        )
        .unwrap();
        let Route::Image { name, view, .. } = &r else { panic!("{r:?}") };
        assert_eq!(name.as_str(), "team/app");
        assert_eq!(*view, FindingsView { severity: Some("HIGH"), sort: FindingsSort::Fix, descending: true, page: 2 });
        assert_eq!(actions(r.required()), ["ecr:DescribeImages", "ecr:BatchGetImage"]);
        assert!(!r.changes());
        let r = parse(Method::GET, &format!("/repositories/team/app/-/images/{d}/sbom"), "", "").unwrap();
        assert_eq!(actions(r.required()), ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]);
        let r = parse(Method::POST, &format!("/repositories/team/app/-/images/{d}/delete"), "", "").unwrap();
        assert_eq!(actions(r.required()), ["ecr:BatchDeleteImage"]);
        assert!(r.changes());
        let delete = format!("/repositories/team/app/-/images/{d}/delete");
        assert_eq!(parse(Method::GET, &delete, "", ""), Err(NoRoute::MethodNotAllowed));
        assert_eq!(parse(Method::GET, "/repositories/team/app/-/images/sha256:nothex", "", ""), Err(NoRoute::NotFound));
        for bad in ["severity=SEVERE", "sort=color", "order=up", "page=0", "page=x"] {
            let r = parse(Method::GET, &format!("/repositories/a/-/images/{d}"), bad, "");
            assert!(matches!(r, Err(NoRoute::BadRequest(_))), "{bad}: {r:?}");
        }
    }

    #[test]
    fn catalog_data_is_validated_and_declared() {
        let form = "description=Web+%3Cb%3E&about_text=a%0D%0Ab&architectures=ARM+64&architectures=x86-64&operating_systems=Linux";
        let r = parse(Method::POST, "/repositories/team/app/-/catalog", "", form).unwrap();
        let Route::PutCatalogData { data, .. } = &r else { panic!("{r:?}") };
        assert_eq!((data.description.as_str(), data.about_text.as_str()), ("Web <b>", "a\nb"));
        assert_eq!(data.architectures, ["ARM 64", "x86-64"]);
        assert_eq!(actions(r.required()), ["ecr:PutRepositoryCatalogData"]);
        assert!(r.changes());
        let bad = parse(Method::POST, "/repositories/team/app/-/catalog", "", "architectures=sparc");
        assert!(matches!(bad, Err(NoRoute::BadRequest(_))), "{bad:?}");
        let long = format!("description={}", "x".repeat(1025));
        assert!(matches!(parse(Method::POST, "/repositories/a/-/catalog", "", &long), Err(NoRoute::BadRequest(_))));
        assert_eq!(parse(Method::GET, "/repositories/a/-/catalog", "", ""), Err(NoRoute::MethodNotAllowed));
        let r = parse(Method::GET, "/public", "q=web+server&after=team/app", "").unwrap();
        assert_eq!(r, Route::Gallery(Search { text: "web server".into(), after: Some(repo("team/app")) }));
    }
}
