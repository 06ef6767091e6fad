//! Three-valued logic for matching.
//!
//! A policy variable (`${aws:username}`) that the request cannot fill (an anonymous caller has no user name)
//! makes the element that uses it neither match nor fail to match: it is `Unknown`. Combining with Kleene's
//! rules keeps a definite answer wherever one exists (`Unknown OR Yes` is `Yes`, `Unknown AND No` is `No`),
//! and the evaluator settles whatever is left by the statement's effect (see `evaluate`).

/// A match result: `No < Unknown < Yes`, so AND is `min` and OR is `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Tri {
    No,
    Unknown,
    Yes,
}

impl Tri {
    pub(crate) fn and(self, other: Tri) -> Tri {
        self.min(other)
    }

    /// Negation; `Unknown` stays unknown.
    pub(crate) fn not(self) -> Tri {
        match self {
            Tri::No => Tri::Yes,
            Tri::Unknown => Tri::Unknown,
            Tri::Yes => Tri::No,
        }
    }

    /// OR over `items` (`No` when empty).
    pub(crate) fn any(items: impl IntoIterator<Item = Tri>) -> Tri {
        let mut result = Tri::No;
        for item in items {
            result = result.max(item);
            if result == Tri::Yes {
                break;
            }
        }
        result
    }

    /// AND over `items` (`Yes` when empty).
    pub(crate) fn all(items: impl IntoIterator<Item = Tri>) -> Tri {
        let mut result = Tri::Yes;
        for item in items {
            result = result.min(item);
            if result == Tri::No {
                break;
            }
        }
        result
    }
}

impl From<bool> for Tri {
    fn from(b: bool) -> Tri {
        if b { Tri::Yes } else { Tri::No }
    }
}

#[cfg(test)]
mod tests {
    use super::Tri::{self, *};

    #[test]
    fn kleene_tables() {
        assert_eq!(Unknown.and(Yes), Unknown);
        assert_eq!(Unknown.and(No), No);
        assert_eq!(Tri::any([No, Unknown]), Unknown);
        assert_eq!(Tri::any([Unknown, Yes]), Yes);
        assert_eq!(Tri::any([]), No);
        assert_eq!(Tri::all([]), Yes);
        assert_eq!(Tri::all([Yes, Unknown]), Unknown);
        assert_eq!(Tri::all([Unknown, No]), No);
        assert_eq!(Unknown.not(), Unknown);
        assert_eq!(Yes.not(), No);
        assert_eq!(Tri::from(true), Yes);
    }
}
