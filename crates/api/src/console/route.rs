//! Every console request parsed into a [`Route`] before anything runs, and what each needs
//! ([`Route::required`]): the ECR action (or berth action) the page or form amounts to, on the repository it
//! names. The dispatcher has that decided by [`crate::access::decide`], as the ECR and admin APIs do.

use axum::http::Method;
use berth_identity::{Required, Target};
use berth_meta::identity::Visibility;
use berth_meta::settings::TagMutability;
use berth_oci::{Digest, RepositoryName};

use super::form::Form;

/// The path segment that separates a repository's name from what is asked of it
/// (`/console/repositories/team/app/-/delete`): a name component can never be `-`.
pub const ACTIONS: &str = "/-/";

/// A listing's page: names starting with `prefix`, after `after`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub prefix: String,
    pub after: Option<RepositoryName>,
}

/// The create form as submitted: valid, or the values to show again with what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRepository {
    pub name: RepositoryName,
    pub mutability: TagMutability,
    pub scan_on_push: bool,
    pub visibility: Visibility,
}

/// A create form that did not validate: the values as typed and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub form: Form,
    pub message: String,
}

/// Settings to change; a field left out of the form is not changed (and its permission not needed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub mutability: Option<TagMutability>,
    pub scan_on_push: Option<bool>,
    pub visibility: Option<Visibility>,
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
    Gallery(Listing),
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
    Settings {
        name: RepositoryName,
        settings: Settings,
    },
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
    Ok(Listing { prefix, after })
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

/// The create form, validated as `CreateRepository` validates its input (the same name rules).
fn new_repository(form: &Form) -> Result<NewRepository, Rejected> {
    let reject = |message: String| Rejected { form: form.clone(), message };
    let name = form.get("name").unwrap_or("").trim();
    let name = crate::aws::input::repository_name("repositoryName", name).map_err(|e| reject(e.message))?;
    let mutability = mutability(form.get("tag_mutability").unwrap_or("MUTABLE")).map_err(reject)?;
    let scan_on_push = form.get("scan_on_push") == Some("true");
    let visibility = visibility(form.get("visibility").unwrap_or("private")).map_err(reject)?;
    Ok(NewRepository { name, mutability, scan_on_push, visibility })
}

fn settings(form: &Form) -> Result<Settings, NoRoute> {
    let bad = NoRoute::BadRequest;
    let settings = Settings {
        mutability: form.get("tag_mutability").map(mutability).transpose().map_err(bad)?,
        scan_on_push: form.get("scan_on_push").map(switch).transpose().map_err(bad)?,
        visibility: form.get("visibility").map(visibility).transpose().map_err(bad)?,
    };
    if settings == (Settings { mutability: None, scan_on_push: None, visibility: None }) {
        return Err(NoRoute::BadRequest("the form changes no setting".into()));
    }
    Ok(settings)
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
            "/public" => return only(get, Route::Gallery(listing(query)?)),
            "/repositories/new" => return only(get, Route::NewRepository),
            "/repositories" => return only(post, Route::CreateRepository(new_repository(form))),
            _ => {}
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
            Some("settings") => Err(NoRoute::MethodNotAllowed),
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
            Route::PushCommands(name) => Declared::All(vec![on("ecr:DescribeRepositories", name)]),
            Route::ConfirmDelete(name) | Route::Delete { name, .. } => {
                Declared::All(vec![on("ecr:DeleteRepository", name)])
            }
            Route::Settings { name, settings } => {
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
                Declared::All(required)
            }
        }
    }

    /// Whether the route changes something (a form post: CSRF-checked and audited).
    pub fn changes(&self) -> bool {
        matches!(
            self,
            Route::Login | Route::Logout | Route::CreateRepository(_) | Route::Delete { .. } | Route::Settings { .. }
        )
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
        assert_eq!(parse(Method::GET, "/repositories/a/-/settings", "", ""), Err(NoRoute::MethodNotAllowed));
        assert_eq!(parse(Method::DELETE, "/", "", ""), Err(NoRoute::MethodNotAllowed));
    }

    #[test]
    fn settings_declare_what_they_change() {
        let r = parse(Method::POST, "/repositories/a/b/-/settings", "", "tag_mutability=IMMUTABLE").unwrap();
        assert_eq!(actions(r.required()), ["ecr:PutImageTagMutability"]);
        let form = "tag_mutability=MUTABLE&scan_on_push=true&visibility=public";
        let r = parse(Method::POST, "/repositories/a/b/-/settings", "", form).unwrap();
        assert_eq!(
            actions(r.required()),
            ["ecr:PutImageTagMutability", "ecr:PutImageScanningConfiguration", "berth:SetRepositoryVisibility"]
        );
        assert!(matches!(parse(Method::POST, "/repositories/a/b/-/settings", "", ""), Err(NoRoute::BadRequest(_))));
        let bad = parse(Method::POST, "/repositories/a/b/-/settings", "", "tag_mutability=SOMETIMES");
        assert!(matches!(bad, Err(NoRoute::BadRequest(_))));
    }

    #[test]
    fn creation_is_validated_as_the_api_validates_it() {
        let r = parse(Method::POST, "/repositories", "", "name=team/app&visibility=public&scan_on_push=true").unwrap();
        let Route::CreateRepository(Ok(new)) = &r else { panic!("{r:?}") };
        assert_eq!((new.name.as_str(), new.scan_on_push, new.visibility), ("team/app", true, Visibility::Public));
        assert_eq!(actions(r.required()), ["ecr:CreateRepository", "berth:SetRepositoryVisibility"]);
        for bad in ["name=a", "name=Team/app", "name=team//app", "name=team/app&tag_mutability=x"] {
            let r = parse(Method::POST, "/repositories", "", bad).unwrap();
            assert!(matches!(&r, Route::CreateRepository(Err(_))), "{bad}");
            assert_eq!(r.required(), Declared::All(Vec::new()), "nothing runs for {bad}");
        }
    }

    #[test]
    fn public_and_filtered_routes() {
        assert_eq!(parse(Method::GET, "/public", "prefix=te", "").unwrap().required(), Declared::Public);
        assert_eq!(parse(Method::GET, "/", "", "").unwrap().required(), Declared::Filtered);
        assert_eq!(parse(Method::GET, "/login", "", "").unwrap().required(), Declared::Public);
        assert!(matches!(parse(Method::GET, "/", "after=NOT A NAME", ""), Err(NoRoute::BadRequest(_))));
        assert!(parse(Method::POST, "/logout", "", "").unwrap().changes());
        assert!(!parse(Method::GET, "/", "", "").unwrap().changes());
    }
}
