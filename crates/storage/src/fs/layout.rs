//! Where the filesystem backend keeps things. Every path the backend touches is built here.
//!
//! ```text
//! <root>/
//! ├── blobs/                      committed blobs: content-addressed, immutable, one file per digest
//! │   ├── sha256/
//! │   │   └── <xx>/               first two hex characters of the digest (keeps directories small)
//! │   │       └── <hex>           the blob's bytes; the file name is the full hex digest
//! │   └── sha512/ …
//! ├── uploads/
//! │   └── <id>                    bytes received so far by an upload session (id: a UUID string)
//! ├── repositories/               the repository journal (see `journal`): what rebuilding the metadata needs
//! │   └── <name>/                 the repository's name, `/` and all (`library/alpine/`)
//! │       ├── _manifests/<alg>/<hex>   `<media type>\n` then the manifest's bytes
//! │       └── _tags/<tag>              `<digest>\n` of the manifest the tag points at
//! └── quarantine/<alg>/<hex>      damaged blobs moved aside by `berth fsck --verify --repair`
//! ```
//!
//! Repository name components start with a letter or digit, so `_manifests` and `_tags` never clash with a
//! nested repository; tags start with a word character, so `.`-prefixed temporary files never clash with
//! journal entries.
//!
//! `uploads/` and `blobs/` live on the same filesystem, so committing an upload is a single `rename(2)`:
//! a blob file appears under its digest whole or not at all. No scratch directory is needed.
//!
//! Digests are validated by [`Digest`]'s parser (fixed-length lowercase hex), so they are always safe as
//! path components. Upload ids come from callers and are checked by [`Layout::upload`].

use std::path::{Path, PathBuf};

use berth_oci::{Digest, RepositoryName, Tag};

/// The journal directory of a repository's manifests.
pub(crate) const MANIFESTS: &str = "_manifests";
/// The journal directory of a repository's tags.
pub(crate) const TAGS: &str = "_tags";

/// Longest upload id accepted (a hyphenated UUID has 36 characters).
const MAX_UPLOAD_ID_LEN: usize = 64;

/// Paths of one store rooted at a directory.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
}

impl Layout {
    pub(crate) fn new(root: PathBuf) -> Self {
        Layout { root }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/blobs`
    pub(crate) fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs")
    }

    /// `<root>/uploads`
    pub(crate) fn uploads_dir(&self) -> PathBuf {
        self.root.join("uploads")
    }

    /// `<root>/repositories`
    pub(crate) fn journal_dir(&self) -> PathBuf {
        self.root.join("repositories")
    }

    /// `<root>/repositories/<name>`
    pub(crate) fn journal_repository(&self, repo: &RepositoryName) -> PathBuf {
        // A validated name has no empty, `.` or `..` component and no backslash: its components are path
        // components as they are.
        let mut dir = self.journal_dir();
        dir.extend(repo.as_str().split('/'));
        dir
    }

    /// `<root>/repositories/<name>/_manifests/<alg>/<hex>`
    pub(crate) fn journal_manifest(&self, repo: &RepositoryName, digest: &Digest) -> PathBuf {
        self.journal_repository(repo).join(MANIFESTS).join(digest.algorithm().as_str()).join(digest.hex())
    }

    /// `<root>/repositories/<name>/_tags/<tag>`
    pub(crate) fn journal_tag(&self, repo: &RepositoryName, tag: &Tag) -> PathBuf {
        self.journal_repository(repo).join(TAGS).join(tag.as_str())
    }

    /// `<root>/quarantine/<alg>/<hex>`
    pub(crate) fn quarantined(&self, digest: &Digest) -> PathBuf {
        self.root.join("quarantine").join(digest.algorithm().as_str()).join(digest.hex())
    }

    /// `<root>/blobs/<alg>/<xx>/<hex>`
    pub(crate) fn blob(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        // A `Digest` always has at least 64 hex characters; `get` keeps this panic-free regardless.
        let fanout = hex.get(..2).unwrap_or(hex);
        self.blobs_dir().join(digest.algorithm().as_str()).join(fanout).join(hex)
    }

    /// `<root>/uploads/<id>`, or `None` when `id` is not a plausible upload id. Only ASCII hex digits and
    /// `-` are accepted, so an id can never contain a separator, `.` or `..`, and never escapes `uploads/`.
    pub(crate) fn upload(&self, id: &str) -> Option<PathBuf> {
        is_valid_upload_id(id).then(|| self.uploads_dir().join(id))
    }
}

/// Whether `id` may name an upload session: 1 to 64 characters of `[0-9a-fA-F-]`.
pub(crate) fn is_valid_upload_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_UPLOAD_ID_LEN && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// Parses the path components of a committed blob back into its digest. Returns `None` for anything that is
/// not a well-formed blob name, including a file under the wrong fan-out directory (which `stat` and `open`
/// would never find).
pub(crate) fn parse_blob_name(algorithm: &str, fanout: &str, file_name: &str) -> Option<Digest> {
    let digest: Digest = format!("{algorithm}:{file_name}").parse().ok()?;
    (digest.hex().get(..2) == Some(fanout)).then_some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_ids_never_escape() {
        let layout = Layout::new(PathBuf::from("/srv/berth"));
        let ok = "0f8fad5b-d9cb-469f-a165-70867728950e";
        assert_eq!(layout.upload(ok), Some(PathBuf::from("/srv/berth/uploads").join(ok)));
        for bad in ["", ".", "..", "../etc", "a/b", "/etc/passwd", "abc\0", "0f8fad5b d9cb", "xyz", &"a".repeat(65)] {
            assert_eq!(layout.upload(bad), None, "{bad:?} must be rejected");
        }
        assert!(layout.upload(&"A".repeat(64)).is_some());
    }

    #[test]
    fn blob_paths_fan_out_and_parse_back() {
        let layout = Layout::new(PathBuf::from("/r"));
        let d = Digest::sha256_of(b"x");
        let path = layout.blob(&d);
        let hex = d.hex();
        assert_eq!(path, PathBuf::from(format!("/r/blobs/sha256/{}/{hex}", &hex[..2])));
        assert_eq!(parse_blob_name("sha256", &hex[..2], hex), Some(d.clone()));
        assert_eq!(parse_blob_name("sha256", "zz", hex), None);
        assert_eq!(parse_blob_name("md5", &hex[..2], hex), None);
        assert_eq!(parse_blob_name("sha256", &hex[..2], "not-hex"), None);
    }

    #[test]
    fn journal_paths_follow_the_repository_name() {
        let layout = Layout::new(PathBuf::from("/r"));
        let d = Digest::sha256_of(b"m");
        let repo: RepositoryName = "library/alpine".parse().unwrap();
        let tag: Tag = "3.20".parse().unwrap();
        assert_eq!(
            layout.journal_manifest(&repo, &d),
            PathBuf::from(format!("/r/repositories/library/alpine/_manifests/sha256/{}", d.hex()))
        );
        assert_eq!(layout.journal_tag(&repo, &tag), PathBuf::from("/r/repositories/library/alpine/_tags/3.20"));
        assert_eq!(layout.quarantined(&d), PathBuf::from(format!("/r/quarantine/sha256/{}", d.hex())));
    }
}
