//! The OCI vocabulary berth speaks: digests, repository names, references, media types, manifest parsing
//! and the distribution-spec error table.
//!
//! This crate does no IO. Everything here is a pure function of its input, so the rules that decide what a
//! registry accepts are tested with plain data (`cargo test -p berth-oci`).

pub mod digest;
pub mod error;
pub mod manifest;
pub mod media_type;
pub mod name;

pub use digest::{Algorithm, Digest, DigestError, DigestHasher};
pub use error::ErrorCode;
pub use manifest::{Descriptor, ManifestError, ManifestKind, ParsedManifest, Platform};
pub use name::{NameError, Reference, RepositoryName, Tag};
