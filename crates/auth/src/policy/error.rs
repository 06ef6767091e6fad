//! The one error a policy document can fail with.
//!
//! Callers hand the message straight to the person who wrote the policy (the admin API answers with
//! `MalformedPolicyDocumentException` and this text), so every error says *where* the problem is, in the
//! document's own vocabulary (`Statement[1].Resource[0]`), and *what* is wrong with it.

/// Why a policy document was rejected. Its `Display` is `<path>: <problem>`, e.g.
/// `Statement[1].Effect: must be "Allow" or "Deny", got "allow"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", join(.path, .problem))]
pub struct PolicyError {
    path: String,
    problem: String,
}

impl PolicyError {
    /// An error at `path` (a JSON path in policy terms, e.g. `Statement[0].Action[2]`; empty for the whole
    /// document).
    pub(crate) fn at(path: impl Into<String>, problem: impl Into<String>) -> Self {
        PolicyError { path: path.into(), problem: problem.into() }
    }

    /// Where in the document the problem is, e.g. `Statement[0].Condition.IpAddress.aws:SourceIp[1]`; empty
    /// when it concerns the document as a whole (invalid JSON).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong, without the path.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

fn join(path: &str, problem: &str) -> String {
    if path.is_empty() { problem.to_owned() } else { format!("{path}: {problem}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_joins_path_and_problem() {
        let e = PolicyError::at("Statement[1].Effect", r#"must be "Allow" or "Deny", got "allow""#);
        assert_eq!(e.to_string(), r#"Statement[1].Effect: must be "Allow" or "Deny", got "allow""#);
        assert_eq!(e.path(), "Statement[1].Effect");
        assert_eq!(PolicyError::at("", "invalid JSON").to_string(), "invalid JSON");
    }
}
