//! Wildcard patterns (`*`, `?`) with policy variables (`${aws:username}`).
//!
//! One representation serves actions (case-insensitive, wildcards), resources (case-sensitive, wildcards,
//! variables) and string condition values (wildcards only for `StringLike`, case folding only for
//! `...IgnoreCase`). `*` matches any run of characters, `/` and `:` included, `?` exactly one character.
//!
//! A variable is substituted by the request's value as *literal* text: a user named `a*` gets the resource
//! `repository/a*/...` matched literally, never as a wildcard. `${*}`, `${?}` and `${$}` write those
//! characters literally. Variables need `"Version": "2012-10-17"`; in a 2008-10-17 (or versionless) document
//! `${` is refused rather than read as text that could never match a berth ARN.

use std::borrow::Cow;

use super::context::{ContextKey, Facts};
use super::tri::Tri;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `*`: any run of characters, possibly empty.
    Any,
    /// `?`: exactly one character.
    One,
    /// `${key}`: the request's value of `key`, literally.
    Var(ContextKey),
}

/// How to read a pattern's source text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Syntax {
    /// `*` and `?` are wildcards (else literal).
    pub(crate) wildcards: bool,
    /// `${...}` is a policy variable (else an error).
    pub(crate) variables: bool,
    /// Compare case-insensitively.
    pub(crate) fold_case: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    tokens: Vec<Token>,
    fold_case: bool,
    has_vars: bool,
}

impl Pattern {
    /// Parses `source`; the error is the problem, for the caller to place at a path.
    pub(crate) fn parse(source: &str, syntax: Syntax) -> Result<Pattern, String> {
        let mut tokens = Vec::with_capacity(source.len());
        let push_literal = |tokens: &mut Vec<Token>, c: char| {
            if syntax.fold_case {
                tokens.extend(c.to_lowercase().map(Token::Literal));
            } else {
                tokens.push(Token::Literal(c));
            }
        };
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '$' if chars.peek() == Some(&'{') => {
                    chars.next();
                    let mut inner = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        inner.push(c);
                    }
                    if !syntax.variables {
                        return Err(format!(
                            r#""{source}": policy variables ("${{...}}") need "Version": "2012-10-17""#
                        ));
                    }
                    if !closed {
                        return Err(format!(r#""{source}": unterminated policy variable "${{{inner}""#));
                    }
                    match inner.trim() {
                        "*" => push_literal(&mut tokens, '*'),
                        "?" => push_literal(&mut tokens, '?'),
                        "$" => push_literal(&mut tokens, '$'),
                        name => match ContextKey::parse(name) {
                            Some(key) => tokens.push(Token::Var(key)),
                            None if name.contains(',') => {
                                return Err(format!(
                                    r#""{source}": default values in policy variables ("${{{inner}}}") are unsupported"#
                                ));
                            }
                            None => {
                                return Err(format!(
                                    r#""{source}": unknown policy variable "${{{inner}}}" (known: {})"#,
                                    ContextKey::known_names()
                                ));
                            }
                        },
                    }
                }
                '*' if syntax.wildcards => tokens.push(Token::Any),
                '?' if syntax.wildcards => tokens.push(Token::One),
                c => push_literal(&mut tokens, c),
            }
        }
        let has_vars = tokens.iter().any(|t| matches!(t, Token::Var(_)));
        Ok(Pattern { tokens, fold_case: syntax.fold_case, has_vars })
    }

    /// Whether `text` matches; `Unknown` when a variable has no value in this request.
    pub(crate) fn matches(&self, text: &str, facts: &Facts<'_>) -> Tri {
        let tokens: Cow<[Token]> = if self.has_vars {
            let mut expanded = Vec::with_capacity(self.tokens.len() + 16);
            for token in &self.tokens {
                match token {
                    Token::Var(key) => {
                        let Some(value) = facts.render(*key) else {
                            return Tri::Unknown;
                        };
                        self.fold(&value, &mut expanded);
                    }
                    other => expanded.push(other.clone()),
                }
            }
            Cow::Owned(expanded)
        } else {
            Cow::Borrowed(&self.tokens)
        };
        let text: Vec<char> =
            if self.fold_case { text.chars().flat_map(char::to_lowercase).collect() } else { text.chars().collect() };
        Tri::from(glob(&tokens, &text))
    }

    fn fold(&self, value: &str, out: &mut Vec<Token>) {
        if self.fold_case {
            out.extend(value.chars().flat_map(char::to_lowercase).map(Token::Literal));
        } else {
            out.extend(value.chars().map(Token::Literal));
        }
    }
}

/// Wildcard matching without recursion: on a mismatch, backtrack to the last `*` and let it swallow one
/// more character. Linear in practice, `O(pattern × text)` at worst; there is no exponential case.
fn glob(pattern: &[Token], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Token::Literal(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            Some(Token::One) => {
                p += 1;
                t += 1;
            }
            Some(Token::Any) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|token| *token == Token::Any)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::context::RequestContext;
    use crate::policy::principal::Principal;
    use time::macros::datetime;

    const LIKE: Syntax = Syntax { wildcards: true, variables: true, fold_case: false };
    const EXACT: Syntax = Syntax { wildcards: false, variables: true, fold_case: false };
    const ACTION: Syntax = Syntax { wildcards: true, variables: false, fold_case: true };

    fn context() -> RequestContext {
        RequestContext { source_ip: None, current_time: datetime!(2026-01-01 0:00 UTC), secure_transport: false }
    }

    fn check(pattern: &str, syntax: Syntax, principal: Principal<'_>, text: &str) -> Tri {
        let ctx = context();
        Pattern::parse(pattern, syntax).unwrap().matches(text, &Facts::new(&principal, &ctx))
    }

    fn like(pattern: &str, text: &str) -> bool {
        check(pattern, LIKE, Principal::Anonymous, text) == Tri::Yes
    }

    #[test]
    fn wildcards() {
        assert!(like("*", ""));
        assert!(like("*", "anything/at:all"));
        assert!(like("arn:aws:ecr:*:*:repository/team/*", "arn:aws:ecr:us-east-1:123456789012:repository/team/a/b"));
        assert!(!like("arn:aws:ecr:*:*:repository/team/*", "arn:aws:ecr:us-east-1:123456789012:repository/teams/a"));
        assert!(like("a?c", "abc"));
        assert!(!like("a?c", "ac"));
        assert!(!like("a?c", "abbc"));
        assert!(like("a*b*c", "aXXbYYbZc"));
        assert!(!like("a*b*c", "aXXbYYbZ"));
        assert!(like("**a", "ba"));
        assert!(!like("abc", "abcd"));
        assert!(!like("abcd", "abc"));
        assert!(like("", ""));
        assert!(!like("", "x"));
        assert!(like("é?", "éü"));
    }

    #[test]
    fn matching_is_case_sensitive_unless_folded() {
        assert!(!like("Repo", "repo"));
        let anon = Principal::Anonymous;
        assert_eq!(check("ECR:Batch*", ACTION, anon, "ecr:batchgetimage"), Tri::Yes);
        assert_eq!(check("ecr:batchgetimage", ACTION, anon, "ECR:BatchGetImage"), Tri::Yes);
    }

    #[test]
    fn literal_syntax_treats_wildcards_as_text() {
        let anon = Principal::Anonymous;
        assert_eq!(check("a*", EXACT, anon, "a*"), Tri::Yes);
        assert_eq!(check("a*", EXACT, anon, "ab"), Tri::No);
        assert_eq!(check("a?", EXACT, anon, "ab"), Tri::No);
    }

    #[test]
    fn variables_substitute_literally() {
        let alice = Principal::User { arn: "arn:aws:iam::123456789012:user/alice" };
        let star = Principal::User { arn: "arn:aws:iam::123456789012:user/a*" };
        let p = "repository/${aws:username}/*";
        assert_eq!(check(p, LIKE, alice, "repository/alice/app"), Tri::Yes);
        assert_eq!(check(p, LIKE, alice, "repository/bob/app"), Tri::No);
        // A user named "a*" must not match "alice"'s namespace through their name.
        assert_eq!(check(p, LIKE, star, "repository/alice/app"), Tri::No);
        assert_eq!(check(p, LIKE, star, "repository/a*/app"), Tri::Yes);
        assert_eq!(check(p, LIKE, Principal::Anonymous, "repository/alice/app"), Tri::Unknown);
        assert_eq!(check("${ AWS:UserName }", EXACT, alice, "alice"), Tri::Yes);
        assert_eq!(check("a${*}b${?}${$}", LIKE, alice, "a*b?$"), Tri::Yes);
        assert_eq!(check("a${*}", LIKE, alice, "ab"), Tri::No);
    }

    #[test]
    fn variable_errors() {
        let err = |s: &str, syntax: Syntax| Pattern::parse(s, syntax).unwrap_err();
        assert!(err("x/${aws:userid}", LIKE).contains(r#"unknown policy variable "${aws:userid}""#));
        assert!(err("x/${aws:username", LIKE).contains("unterminated policy variable"));
        assert!(err("${aws:username, 'x'}", LIKE).contains("default values"));
        assert!(err("x/${aws:username}", ACTION).contains(r#"need "Version": "2012-10-17""#));
        assert!(Pattern::parse("cost$5", LIKE).is_ok());
    }

    #[test]
    fn backtracking_is_not_exponential() {
        let pattern = "*a".repeat(30) + "b";
        let text = "a".repeat(200);
        assert!(!like(&pattern, &text));
    }
}
