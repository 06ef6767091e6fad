//! `/v2/...` paths parsed once into an [`Endpoint`].
//!
//! Repository names contain slashes, so routes cannot be matched segment by segment from the left; the
//! path is read from its right end instead (`.../manifests/<ref>`, `.../blobs/uploads/<id>`, ...). The
//! parsed endpoint also names the action it needs, which is what the policy engine will decide on.

use axum::http::Method;
use berth_oci::{Digest, DigestError, NameError, Reference, RepositoryName};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `/v2/`
    Base,
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/<name>/tags/list`
    Tags { name: RepositoryName },
    /// `/v2/<name>/manifests/<reference>`
    Manifest { name: RepositoryName, reference: Reference },
    /// `/v2/<name>/blobs/<digest>`
    Blob { name: RepositoryName, digest: Digest },
    /// `/v2/<name>/blobs/uploads/`
    UploadStart { name: RepositoryName },
    /// `/v2/<name>/blobs/uploads/<id>`
    Upload { name: RepositoryName, id: String },
    /// `/v2/<name>/referrers/<digest>`
    Referrers { name: RepositoryName, digest: Digest },
}

/// Why a path is not an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    NotFound,
    Name(NameError),
    Digest(DigestError),
    Reference(NameError),
}

impl Endpoint {
    /// Parses the part of the path after `/v2/`.
    pub fn parse(rest: &str) -> Result<Endpoint, RouteError> {
        if rest.is_empty() {
            return Ok(Endpoint::Base);
        }
        if rest == "_catalog" {
            return Ok(Endpoint::Catalog);
        }
        let name = |s: &str| s.parse::<RepositoryName>().map_err(RouteError::Name);
        let digest = |s: &str| s.parse::<Digest>().map_err(RouteError::Digest);
        if let Some(n) = rest.strip_suffix("/tags/list") {
            return Ok(Endpoint::Tags { name: name(n)? });
        }
        if let Some(n) = rest.strip_suffix("/blobs/uploads/").or_else(|| rest.strip_suffix("/blobs/uploads")) {
            return Ok(Endpoint::UploadStart { name: name(n)? });
        }
        let (head, last) = rest.rsplit_once('/').ok_or(RouteError::NotFound)?;
        let (prefix, kind) = head.rsplit_once('/').ok_or(RouteError::NotFound)?;
        match kind {
            "manifests" => {
                Ok(Endpoint::Manifest { name: name(prefix)?, reference: last.parse().map_err(RouteError::Reference)? })
            }
            "blobs" => Ok(Endpoint::Blob { name: name(prefix)?, digest: digest(last)? }),
            "referrers" => Ok(Endpoint::Referrers { name: name(prefix)?, digest: digest(last)? }),
            "uploads" => match prefix.rsplit_once('/') {
                Some((n, "blobs")) => Ok(Endpoint::Upload { name: name(n)?, id: last.to_string() }),
                _ => Err(RouteError::NotFound),
            },
            _ => Err(RouteError::NotFound),
        }
    }

    /// The route template, for logs and metrics: fixed per kind of endpoint, never a repository's name.
    pub fn route(&self) -> &'static str {
        match self {
            Endpoint::Base => "/v2/",
            Endpoint::Catalog => "/v2/_catalog",
            Endpoint::Tags { .. } => "/v2/{name}/tags/list",
            Endpoint::Manifest { .. } => "/v2/{name}/manifests/{reference}",
            Endpoint::Blob { .. } => "/v2/{name}/blobs/{digest}",
            Endpoint::UploadStart { .. } => "/v2/{name}/blobs/uploads/",
            Endpoint::Upload { .. } => "/v2/{name}/blobs/uploads/{uuid}",
            Endpoint::Referrers { .. } => "/v2/{name}/referrers/{digest}",
        }
    }

    /// Every template [`Endpoint::route`] returns.
    pub const ROUTES: [&'static str; 8] = [
        "/v2/",
        "/v2/_catalog",
        "/v2/{name}/tags/list",
        "/v2/{name}/manifests/{reference}",
        "/v2/{name}/blobs/{digest}",
        "/v2/{name}/blobs/uploads/",
        "/v2/{name}/blobs/uploads/{uuid}",
        "/v2/{name}/referrers/{digest}",
    ];

    pub fn repository(&self) -> Option<&RepositoryName> {
        match self {
            Endpoint::Base | Endpoint::Catalog => None,
            Endpoint::Tags { name }
            | Endpoint::Manifest { name, .. }
            | Endpoint::Blob { name, .. }
            | Endpoint::UploadStart { name }
            | Endpoint::Upload { name, .. }
            | Endpoint::Referrers { name, .. } => Some(name),
        }
    }

    /// The ECR-style action a request needs, for the policy engine. `None`: no permission needed (`/v2/`
    /// itself, which only tells a client whether it is authenticated) or the method is not supported.
    pub fn action(&self, method: &Method) -> Option<&'static str> {
        let read = method == Method::GET || method == Method::HEAD;
        Some(match self {
            Endpoint::Base => return None,
            Endpoint::Catalog if read => "ecr:DescribeRepositories",
            Endpoint::Tags { .. } if read => "ecr:ListImages",
            Endpoint::Manifest { .. } | Endpoint::Referrers { .. } if read => "ecr:BatchGetImage",
            Endpoint::Manifest { .. } if method == Method::PUT => "ecr:PutImage",
            Endpoint::Manifest { .. } if method == Method::DELETE => "ecr:BatchDeleteImage",
            Endpoint::Blob { .. } if read => "ecr:GetDownloadUrlForLayer",
            Endpoint::Blob { .. } if method == Method::DELETE => "ecr:BatchDeleteImage",
            Endpoint::UploadStart { .. } if method == Method::POST => "ecr:InitiateLayerUpload",
            Endpoint::Upload { .. } if method == Method::PATCH => "ecr:UploadLayerPart",
            Endpoint::Upload { .. } if method == Method::PUT => "ecr:CompleteLayerUpload",
            Endpoint::Upload { .. } if read || method == Method::DELETE => "ecr:UploadLayerPart",
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn name(s: &str) -> RepositoryName {
        s.parse().unwrap()
    }

    #[test]
    fn parses_every_endpoint() {
        assert_eq!(Endpoint::parse(""), Ok(Endpoint::Base));
        assert_eq!(Endpoint::parse("_catalog"), Ok(Endpoint::Catalog));
        assert_eq!(Endpoint::parse("a/b/tags/list"), Ok(Endpoint::Tags { name: name("a/b") }));
        assert_eq!(
            Endpoint::parse("team/app/manifests/latest"),
            Ok(Endpoint::Manifest { name: name("team/app"), reference: "latest".parse().unwrap() })
        );
        assert_eq!(
            Endpoint::parse(&format!("x/blobs/{D}")),
            Ok(Endpoint::Blob { name: name("x"), digest: D.parse().unwrap() })
        );
        assert_eq!(Endpoint::parse("x/blobs/uploads/"), Ok(Endpoint::UploadStart { name: name("x") }));
        assert_eq!(Endpoint::parse("x/blobs/uploads/abc"), Ok(Endpoint::Upload { name: name("x"), id: "abc".into() }));
        assert_eq!(
            Endpoint::parse(&format!("x/referrers/{D}")),
            Ok(Endpoint::Referrers { name: name("x"), digest: D.parse().unwrap() })
        );
    }

    #[test]
    fn names_may_contain_route_words() {
        assert_eq!(
            Endpoint::parse("blobs/manifests/manifests/v1"),
            Ok(Endpoint::Manifest { name: name("blobs/manifests"), reference: "v1".parse().unwrap() })
        );
        assert_eq!(Endpoint::parse("blobs/blobs/uploads/"), Ok(Endpoint::UploadStart { name: name("blobs") }));
    }

    #[test]
    fn rejects_bad_paths() {
        assert!(matches!(Endpoint::parse("../etc/manifests/latest"), Err(RouteError::Name(_))));
        // A traversal attempt spans segments, so it is not a route at all; within a segment it is a bad digest.
        assert_eq!(Endpoint::parse("x/blobs/sha256:../../etc"), Err(RouteError::NotFound));
        assert!(matches!(Endpoint::parse("x/blobs/sha256:..%2F..%2Fetc"), Err(RouteError::Digest(_))));
        assert!(matches!(Endpoint::parse("x/manifests/sha256:zz"), Err(RouteError::Reference(_))));
        assert!(matches!(Endpoint::parse("Upper/manifests/v1"), Err(RouteError::Name(_))));
        assert_eq!(Endpoint::parse("x"), Err(RouteError::NotFound));
        assert_eq!(Endpoint::parse("x/other/thing"), Err(RouteError::NotFound));
        assert_eq!(Endpoint::parse("x/uploads/id"), Err(RouteError::NotFound));
    }

    #[test]
    fn actions() {
        let m = Endpoint::parse("x/manifests/v1").unwrap();
        assert_eq!(m.action(&Method::GET), Some("ecr:BatchGetImage"));
        assert_eq!(m.action(&Method::PUT), Some("ecr:PutImage"));
        assert_eq!(m.action(&Method::POST), None);
        assert_eq!(Endpoint::Base.action(&Method::GET), None);
    }
}
