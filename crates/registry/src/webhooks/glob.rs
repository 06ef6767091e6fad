//! A subscription's repository filter: a glob over repository names, `*` any run of characters (slashes
//! included: `team-a/*` covers `team-a/app` and `team-a/x/app`), `?` one character, anything else itself.

/// Whether `name` matches `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Iterative matching with backtracking to the last `*`: linear in practice, never exponential.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Checks a filter: non-empty, at most 256 characters, only characters a repository name may hold plus
/// `*` and `?`.
pub fn validate(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() || pattern.len() > 256 {
        return Err(format!("repository filter {pattern:?} must be 1 to 256 characters"));
    }
    match pattern.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/*?".contains(*c))) {
        Some(c) => Err(format!(
            "repository filter {pattern:?}: {c:?} is not allowed (lowercase letters, digits, . _ - / and the wildcards * ?)"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(matches("*", "a/b/c"));
        assert!(matches("team-a/*", "team-a/app"));
        assert!(matches("team-a/*", "team-a/x/app"));
        assert!(!matches("team-a/*", "team-b/app"));
        assert!(!matches("team-a/*", "team-a"));
        assert!(matches("team-?/app", "team-b/app"));
        assert!(matches("*/app", "x/y/app"));
        assert!(!matches("*/app", "x/y/apps"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("exact", "exact"));
        assert!(!matches("exact", "exactly"));
        assert!(matches("**", ""));
    }

    #[test]
    fn filters_are_checked() {
        assert!(validate("team-a/*").is_ok());
        assert!(validate("").is_err());
        assert!(validate("Team/*").is_err());
        assert!(validate("a b").is_err());
    }
}
