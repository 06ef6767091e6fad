//! Identity and access decisions for berth, with no IO: everything here is a pure function of its inputs,
//! so the rules are tested with plain data.
//!
//! - [`policy`]: IAM-style policy documents and their evaluation (explicit Deny wins, then any Allow,
//!   else deny).
//! - [`password`]: argon2id password hashing.
//! - [`secret`]: generated credentials (access keys, robot tokens) and constant-time comparison.
//! - [`sealed`]: authenticated encryption of secrets that must be recoverable (SigV4 secret keys).
//! - [`token`]: signed, short-lived tokens (registry bearer tokens, login passwords) with key rotation.
//! - [`signing`]: image signatures in cosign's formats (keys, the simple signing payload).
//! - [`sigv4`]: AWS Signature Version 4 verification (server) and signing (berth's CLI).

pub mod password;
pub mod policy;
pub mod sealed;
pub mod secret;
pub mod signing;
pub mod sigv4;
pub mod token;
pub mod webhook_signature;
