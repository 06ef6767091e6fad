//! The crate's error type.

use std::path::PathBuf;

/// Why an import, a read or a write of the database failed. Every message names the file, zip entry or record
/// concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VulnDbError {
    /// A file or directory could not be read.
    #[error("reading {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `add_path` was given something that is neither a directory, a `.zip` nor a `.json` file.
    #[error("{}: not an OSV record (.json), a zip of records (.zip) or a directory", path.display())]
    UnsupportedInput { path: PathBuf },
    /// A zip archive is corrupt or unreadable.
    #[error("zip archive {label}: {message}")]
    Zip { label: String, message: String },
    /// A zip entry decompresses to more than the per-entry limit (a zip bomb or not an OSV record).
    #[error("zip archive {label}: entry {entry} is larger than {limit} bytes when decompressed")]
    EntryTooLarge { label: String, entry: String, limit: u64 },
    /// A single OSV record could not be used.
    #[error("OSV record {origin}: {reason}")]
    Record { origin: String, reason: String },
    /// The input of `read_from` does not start with the database's magic bytes.
    #[error("not a berth vulnerability database (bad magic bytes)")]
    NotAVulnDb,
    /// The serialized database has a format version this build does not read.
    #[error("vulnerability database format version {found} is not supported (this build reads version {supported})")]
    UnsupportedFormat { found: u32, supported: u32 },
    /// The serialized database is truncated or malformed.
    #[error("corrupt vulnerability database: {0}")]
    Corrupt(String),
    /// The content of a serialized database does not match the digest stored with it.
    #[error("vulnerability database digest mismatch: header says {expected}, content is {actual}")]
    DigestMismatch { expected: String, actual: String },
    /// Writing the serialized database failed.
    #[error("writing the vulnerability database: {0}")]
    Write(#[source] std::io::Error),
}
