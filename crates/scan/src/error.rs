//! The one error type of the crate. Messages are written to read well after "scan failed: ".

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("unsupported layer media type '{media_type}'")]
    UnsupportedMediaType { media_type: String },
    #[error("layer has more than {limit} entries")]
    TooManyEntries { limit: u64 },
    #[error("layer decompresses to more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("layer holds more than {limit} package records")]
    TooManyPackages { limit: u64 },
    #[error("layer metadata (paths, link targets, package records) exceeds {limit} bytes")]
    MetadataTooLarge { limit: u64 },
    #[error("time limit of {}s exceeded", limit.as_secs())]
    TimeLimit { limit: Duration },
    #[error("path traversal in tar entry '{path}'")]
    PathTraversal { path: String },
    #[error("tar entry path longer than {limit} bytes: '{path}...'")]
    PathTooLong { path: String, limit: usize },
    #[error("tar extension header larger than {limit} bytes (before '{after}')")]
    HeaderTooLarge { limit: u64, after: String },
    #[error("corrupt {format} stream: {message}")]
    Decompress { format: &'static str, message: String },
    #[error("corrupt tar archive: {message}")]
    CorruptTar { message: String },
    #[error("reading the layer failed: {0}")]
    Io(#[source] std::io::Error),
    #[error("invalid CycloneDX document: {0}")]
    InvalidSbom(String),
}

/// Paths (and messages quoting archive bytes) come from untrusted archives: escape control characters and cut
/// them short.
pub(crate) fn display_path(raw: &str) -> String {
    const MAX: usize = 200;
    let mut out = String::new();
    let mut len = 0;
    for c in raw.chars() {
        if len >= MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            let escaped: String = c.escape_debug().collect();
            len += escaped.chars().count();
            out.push_str(&escaped);
        } else {
            len += 1;
            out.push(c);
        }
    }
    out
}
