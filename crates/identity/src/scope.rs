//! Docker token-auth scopes (`repository:team/app:pull,push`) and how they map onto ECR actions.

use berth_oci::RepositoryName;

/// Actions a registry token can grant, in the Docker token vocabulary.
pub const PULL: &str = "pull";
pub const PUSH: &str = "push";
pub const DELETE: &str = "delete";

/// ECR actions that `pull` stands for.
pub const PULL_ACTIONS: &[&str] =
    &["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability", "ecr:ListImages"];
/// ECR actions that `push` stands for (a push also reads: it checks which layers exist).
pub const PUSH_ACTIONS: &[&str] = &[
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchCheckLayerAvailability",
];
pub const DELETE_ACTIONS: &[&str] = &["ecr:BatchDeleteImage"];

/// The ECR action whose permission a token's Docker action name reports (`pull` is listed when the token
/// carries `ecr:BatchGetImage`, ...): informational, only the ECR actions themselves are honoured.
pub fn defining_action(token_action: &str) -> Option<&'static str> {
    match token_action {
        PULL => Some("ecr:BatchGetImage"),
        PUSH => Some("ecr:PutImage"),
        DELETE => Some("ecr:BatchDeleteImage"),
        _ => None,
    }
}

/// The ECR actions a Docker token action stands for (none for an unknown one). A token carries those of
/// them the policies allow, each checked on its own.
pub fn ecr_actions_of(token_action: &str) -> &'static [&'static str] {
    match token_action {
        PULL => PULL_ACTIONS,
        PUSH => PUSH_ACTIONS,
        DELETE => DELETE_ACTIONS,
        _ => &[],
    }
}

/// One requested scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Repository {
        name: RepositoryName,
        actions: Vec<String>,
    },
    /// `registry:catalog:*`
    Catalog,
}

/// Parses a `scope` parameter. Unknown resource types and unparsable names are skipped, as the Docker
/// token spec expects (the token simply does not grant them).
pub fn parse_scope(s: &str) -> Option<Scope> {
    let mut parts = s.splitn(3, ':');
    let (kind, rest) = (parts.next()?, parts.next()?);
    // Names may hold a port-less host prefix with ':'? No: repository names cannot contain ':', so the
    // actions are everything after the last ':'.
    let (name, actions) = match parts.next() {
        Some(actions) => (rest, actions),
        None => return None,
    };
    match kind {
        "repository" => {
            let name = name.parse().ok()?;
            let actions = actions.split(',').map(str::trim).filter(|a| !a.is_empty()).map(String::from).collect();
            Some(Scope::Repository { name, actions })
        }
        "registry" if name == "catalog" => Some(Scope::Catalog),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scopes() {
        assert_eq!(
            parse_scope("repository:team/app:pull,push"),
            Some(Scope::Repository { name: "team/app".parse().unwrap(), actions: vec!["pull".into(), "push".into()] })
        );
        assert_eq!(parse_scope("registry:catalog:*"), Some(Scope::Catalog));
        assert_eq!(parse_scope("repository:Bad:pull"), None);
        assert_eq!(parse_scope("repository:x"), None);
        assert_eq!(parse_scope("garbage"), None);
    }

    #[test]
    fn token_actions_stand_for_ecr_actions() {
        assert!(ecr_actions_of(PULL).contains(&"ecr:BatchGetImage"));
        assert!(!ecr_actions_of(PULL).contains(&"ecr:PutImage"));
        assert!(ecr_actions_of(PUSH).contains(&"ecr:UploadLayerPart"));
        assert!(!ecr_actions_of(PUSH).contains(&"ecr:BatchDeleteImage"));
        assert_eq!(ecr_actions_of(DELETE), ["ecr:BatchDeleteImage"]);
        assert!(ecr_actions_of("*").is_empty(), "the caller expands `*` first");
    }
}
