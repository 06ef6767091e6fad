//! The route label of a request: the template of the route it matched (`/v2/{name}/manifests/{reference}`),
//! or the ECR operation it names (`ecr:BatchGetImage`), never the raw path, so the number of series stays
//! bounded whatever clients send.
//!
//! Known labels are interned once in a table ([`label_id`]) whose position is the label's slot in the
//! recorder's handle table ([`super::http`]); a label outside it (a route added without a row here) is still
//! recorded, by name, on the slower path.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::{MatchedPath, Request};

use crate::endpoint::Endpoint;
use crate::observe::Parsed;

/// A `/v2` path that is no endpoint (an invalid name, digest or shape).
const INVALID_V2: &str = "/v2/{invalid}";
/// A request that matched no route at all.
const UNMATCHED: &str = "unmatched";
/// `POST /` whose `X-Amz-Target` names no operation berth knows.
const UNKNOWN_TARGET: &str = "/";

/// The routes of [`crate::router`] other than `/v2` (labelled by endpoint) and `POST /` (by operation).
const PATHS: [&str; 9] = [
    "/token",
    "/admin/v1/{op}",
    "/auth/v1/Login",
    "/metrics",
    "/healthz",
    "/console",
    "/console/",
    "/console/{*rest}",
    "/ecr-download/{*rest}",
];

/// A request's route label: an interned one (its id) or, for a route missing from the table, its template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Known(usize),
    Other(String),
}

impl Route {
    pub(crate) fn label(&self) -> &str {
        match self {
            Route::Known(id) => LABELS.all[*id],
            Route::Other(s) => s,
        }
    }
}

struct Labels {
    all: Vec<&'static str>,
    by_name: HashMap<&'static str, usize>,
    /// ECR operation name → id of its `ecr:<Operation>` label.
    ecr: HashMap<&'static str, usize>,
    /// ECR Public operation name → id of its `ecr-public:<Operation>` label.
    ecr_public: HashMap<&'static str, usize>,
}

static LABELS: LazyLock<Labels> = LazyLock::new(|| {
    let fixed = Endpoint::ROUTES.iter().chain(&PATHS).chain(&[INVALID_V2, UNMATCHED, UNKNOWN_TARGET]).copied();
    let mut all: Vec<&'static str> = fixed.collect();
    // A fixed set, made once for the life of the process.
    let mut operations = |prefix: &str, names: &[&'static str]| -> HashMap<&'static str, usize> {
        names
            .iter()
            .map(|op| {
                all.push(Box::leak(format!("{prefix}:{op}").into_boxed_str()));
                (*op, all.len() - 1)
            })
            .collect()
    };
    let ecr = operations("ecr", &crate::ecr::OPERATIONS);
    let ecr_public = operations("ecr-public", &crate::ecr::PUBLIC_OPERATIONS);
    let by_name = all.iter().enumerate().map(|(i, l)| (*l, i)).collect();
    Labels { all, by_name, ecr, ecr_public }
});

/// The interned label `id`.
pub(crate) fn label(id: usize) -> &'static str {
    LABELS.all[id]
}

/// How many interned labels there are (the handle table's first dimension).
pub(crate) fn count() -> usize {
    LABELS.all.len()
}

fn known(label: &str) -> Route {
    match LABELS.by_name.get(label) {
        Some(id) => Route::Known(*id),
        None => Route::Other(label.to_string()),
    }
}

/// The label of `req`, whose `/v2` path (if any) was parsed into `parsed`.
pub(crate) fn of(req: &Request, parsed: Option<&Parsed>) -> Route {
    match parsed {
        Some(Parsed(Ok(endpoint))) => return known(endpoint.route()),
        Some(Parsed(Err(_))) => return known(INVALID_V2),
        None => {}
    }
    let Some(matched) = req.extensions().get::<MatchedPath>() else {
        return known(UNMATCHED);
    };
    if matched.as_str() != "/" {
        return known(matched.as_str());
    }
    let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    let (prefix, operation) = target.split_once('.').unwrap_or(("", ""));
    let table = match prefix {
        crate::ecr::TARGET_PREFIX => &LABELS.ecr,
        crate::ecr::PUBLIC_TARGET_PREFIX => &LABELS.ecr_public,
        _ => return known(UNKNOWN_TARGET),
    };
    table.get(operation).map_or_else(|| known(UNKNOWN_TARGET), |id| Route::Known(*id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_unique_and_operations_are_interned() {
        let mut seen = std::collections::HashSet::new();
        assert!(LABELS.all.iter().all(|l| seen.insert(*l)), "a label is interned twice");
        assert_eq!(LABELS.all[LABELS.ecr["BatchGetImage"]], "ecr:BatchGetImage");
        assert_eq!(LABELS.all[LABELS.ecr_public["GetRepositoryCatalogData"]], "ecr-public:GetRepositoryCatalogData");
        assert_eq!(known("/v2/{name}/manifests/{reference}").label(), "/v2/{name}/manifests/{reference}");
        assert_eq!(known("/somewhere/{new}"), Route::Other("/somewhere/{new}".into()));
    }
}
