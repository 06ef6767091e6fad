//! Black-box fault injection: each test starts the real `berth` binary and damages its environment (a full
//! disk, lost metadata, damaged blob files), then checks berth notices, answers clearly and recovers.
//! Compiled as one test binary; the server helpers are the OCI suite's.

#[allow(dead_code)]
#[path = "../oci/support.rs"]
mod support;

mod damaged_blob;
mod disk_full;
mod lost_metadata;
