//! Where the S3 backend keeps things: every object key it touches is built here.
//!
//! ```text
//! <prefix>/
//! ├── blobs/<alg>/<xx>/<hex>           committed blobs, content-addressed (xx: first two hex characters)
//! ├── uploads/<id>/                    one upload session (id: a UUID string)
//! │   ├── session                      empty marker: the session exists
//! │   ├── tail-<n>                     bytes received after the last whole part (under 5 MiB), immutable
//! │   └── data                         the multipart upload's destination (exists only while committing)
//! ├── repositories/<name>/             the repository journal, as in the filesystem backend
//! │   ├── _manifests/<alg>/<hex>       `<media type>\n` then the manifest's bytes
//! │   └── _tags/<tag>                  `<digest>\n`
//! └── quarantine/<alg>/<hex>           damaged blobs moved aside by `berth fsck --verify --repair`
//! ```
//!
//! Digests are validated by [`Digest`]'s parser and upload ids by [`is_valid_upload_id`], so neither can
//! add a path component. Repository names and tags are validated by their parsers: their components are
//! never empty, `.` or `..`.

use berth_oci::{Digest, RepositoryName, Tag};
use object_store::path::Path;

pub(super) const MANIFESTS: &str = "_manifests";
pub(super) const TAGS: &str = "_tags";

/// Keys of one store under a bucket prefix.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    /// The prefix without leading or trailing `/` (empty: the bucket's root).
    prefix: String,
}

impl Layout {
    pub(super) fn new(prefix: &str) -> Layout {
        Layout { prefix: prefix.trim_matches('/').to_string() }
    }

    fn key(&self, rest: &str) -> Path {
        if self.prefix.is_empty() { Path::from(rest) } else { Path::from(format!("{}/{rest}", self.prefix)) }
    }

    /// The part of `key` after the prefix and `under` (`under` ends with `/`), or `None` when it is elsewhere.
    pub(super) fn strip<'a>(&self, key: &'a str, under: &str) -> Option<&'a str> {
        let rest = if self.prefix.is_empty() { key } else { key.strip_prefix(&self.prefix)?.strip_prefix('/')? };
        rest.strip_prefix(under)
    }

    pub(super) fn blobs(&self) -> Path {
        self.key("blobs")
    }

    pub(super) fn blob(&self, digest: &Digest) -> Path {
        let hex = digest.hex();
        let fanout = hex.get(..2).unwrap_or(hex);
        self.key(&format!("blobs/{}/{fanout}/{hex}", digest.algorithm().as_str()))
    }

    pub(super) fn quarantined(&self, digest: &Digest) -> Path {
        self.key(&format!("quarantine/{}/{}", digest.algorithm().as_str(), digest.hex()))
    }

    pub(super) fn uploads(&self) -> Path {
        self.key("uploads")
    }

    /// `uploads/<id>`, or `None` when `id` is not a plausible upload id.
    pub(super) fn upload_dir(&self, id: &str) -> Option<Path> {
        is_valid_upload_id(id).then(|| self.key(&format!("uploads/{id}")))
    }

    pub(super) fn upload_marker(&self, id: &str) -> Path {
        self.key(&format!("uploads/{id}/session"))
    }

    pub(super) fn upload_data(&self, id: &str) -> Path {
        self.key(&format!("uploads/{id}/data"))
    }

    pub(super) fn upload_tail(&self, id: &str, name: &str) -> Path {
        self.key(&format!("uploads/{id}/{name}"))
    }

    pub(super) fn journal(&self) -> Path {
        self.key("repositories")
    }

    pub(super) fn journal_section(&self, repo: &RepositoryName, section: &str) -> Path {
        self.key(&format!("repositories/{repo}/{section}"))
    }

    pub(super) fn journal_manifest(&self, repo: &RepositoryName, digest: &Digest) -> Path {
        self.key(&format!("repositories/{repo}/{MANIFESTS}/{}/{}", digest.algorithm().as_str(), digest.hex()))
    }

    pub(super) fn journal_tag(&self, repo: &RepositoryName, tag: &Tag) -> Path {
        self.key(&format!("repositories/{repo}/{TAGS}/{tag}"))
    }
}

/// Whether `id` may name an upload session: 1 to 64 characters of `[0-9a-fA-F-]` (the rule of the trait).
pub(super) fn is_valid_upload_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// Parses `<alg>/<xx>/<hex>` (a key below `blobs/`) back into its digest.
pub(super) fn parse_blob_key(rest: &str) -> Option<Digest> {
    let mut parts = rest.split('/');
    let (algorithm, fanout, hex) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let digest: Digest = format!("{algorithm}:{hex}").parse().ok()?;
    (digest.hex().get(..2) == Some(fanout)).then_some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_under_the_prefix() {
        let d = Digest::sha256_of(b"x");
        let hex = d.hex();
        for (prefix, expected) in [("", String::new()), ("/team/berth/", "team/berth/".to_string())] {
            let layout = Layout::new(prefix);
            let key = layout.blob(&d).to_string();
            assert_eq!(key, format!("{expected}blobs/sha256/{}/{hex}", &hex[..2]));
            assert_eq!(parse_blob_key(layout.strip(&key, "blobs/").unwrap()), Some(d.clone()));
            assert_eq!(layout.upload_dir("../x"), None);
            assert_eq!(layout.upload_dir("0f8f-ab").unwrap().to_string(), format!("{expected}uploads/0f8f-ab"));
        }
        let repo: RepositoryName = "library/alpine".parse().unwrap();
        let tag: Tag = "3.20".parse().unwrap();
        assert_eq!(Layout::new("p").journal_tag(&repo, &tag).to_string(), "p/repositories/library/alpine/_tags/3.20");
        assert_eq!(parse_blob_key(&format!("sha256/zz/{hex}")), None);
        assert_eq!(parse_blob_key("sha256/ab"), None);
    }
}
