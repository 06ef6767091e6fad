//! Integration tests, compiled as one binary.

mod common;
mod fixture;
mod gobin;
mod hostile;
mod merge_semantics;
mod plain;
mod sbom;
mod scale;
