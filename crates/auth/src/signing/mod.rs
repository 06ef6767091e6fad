//! Image signatures in sigstore/cosign's "simple signing" format, so that berth's signatures verify in
//! cosign, skopeo and podman, and theirs in berth.
//!
//! - [`keys`]: ECDSA P-256 key pairs (cosign's default), the public key as a PEM `PUBLIC KEY` (PKIX) and the
//!   private key in cosign's passphrase-encrypted PEM (`ENCRYPTED SIGSTORE PRIVATE KEY`: scrypt + NaCl
//!   secretbox around the PKCS#8 DER), which `skopeo copy --sign-by-sigstore-private-key` reads.
//! - [`payload`]: the signed payload (`critical.image.docker-manifest-digest`, ...) and where a signature
//!   lives in a repository (the `sha256-<hex>.sig` tag, its layer media type and annotation).

pub mod keys;
pub mod payload;

pub use keys::{KeyError, SigningKey, VerifyingKey};
pub use payload::{PayloadError, SignedClaims};
