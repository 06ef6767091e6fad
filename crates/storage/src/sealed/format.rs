//! The sealed object format: a header, then the blob's bytes as AES-256-GCM segments.
//!
//! ```text
//! header   magic (8) | version (1) | log2 segment size (1) | key id length (1) | key id
//!          | key version (4, big-endian) | wrapped data key length (1) | wrapped data key
//! segment  nonce (12, random) | ciphertext (≤ SEGMENT bytes) | tag (16)
//! ```
//! Every segment but the last holds exactly [`SEGMENT`] plaintext bytes; the last holds 1 to [`SEGMENT`] (0 only
//! for an empty blob, which is one empty segment). Each segment's associated data is its index (big-endian u64)
//! and a last-segment flag, as in the STREAM construction: moving, dropping or repeating a segment, cutting the
//! object short or appending to it fails authentication. The nonce is drawn at random for every segment rather
//! than derived from the index: an upload chunk that fails half-written is retried with other bytes at the same
//! index, and a counter nonce would then encrypt two plaintexts under one (key, nonce). With a fresh key per blob
//! and 96 random bits, a repeat is out of reach (below 2^-40 even for a 16 TiB blob).

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use rand::RngCore;
use zeroize::Zeroize;

pub const MAGIC: [u8; 8] = *b"\x89BSEAL\r\n";
const VERSION: u8 = 1;
const SEGMENT_LOG2: u8 = 16;
/// Plaintext bytes per segment.
pub const SEGMENT: u64 = 1 << SEGMENT_LOG2;
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
/// Bytes a segment adds to its plaintext.
pub const OVERHEAD: u64 = (NONCE_LEN + TAG_LEN) as u64;
/// A stored segment of [`SEGMENT`] plaintext bytes.
pub const SEALED_SEGMENT: u64 = SEGMENT + OVERHEAD;
/// No header is longer (key ids are at most 64 bytes, wrapped keys at most 128).
pub const MAX_HEADER: u64 = 8 + 3 + 64 + 4 + 1 + 128;
pub const KEY_LEN: usize = 32;

/// A blob's data key. Zeroed on drop, never printed.
pub struct DataKey(pub(crate) [u8; KEY_LEN]);

impl DataKey {
    pub fn generate() -> DataKey {
        let mut k = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut k);
        DataKey(k)
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<DataKey> {
        bytes.try_into().ok().map(DataKey)
    }

    pub fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new((&self.0).into())
    }
}

impl Drop for DataKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(***)")
    }
}

/// A data key wrapped by a key-encryption key (named by id and version), as the header stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub key_id: String,
    pub version: u32,
    pub bytes: Vec<u8>,
}

/// The parsed header of a sealed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub wrapped: WrappedKey,
    /// Length of the header as stored.
    pub len: u64,
}

/// Why stored bytes could not be read as a sealed object.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("sealed header is malformed: {0}")]
    Header(&'static str),
    #[error("sealed object of {0} bytes has no valid segment layout")]
    Layout(u64),
    #[error("segment {0} fails authentication (the stored bytes are damaged or were tampered with)")]
    Segment(u64),
}

impl Header {
    pub fn new(wrapped: WrappedKey) -> Header {
        let len = (8 + 3 + wrapped.key_id.len() + 4 + 1 + wrapped.bytes.len()) as u64;
        Header { wrapped, len }
    }

    pub fn encode(&self) -> Vec<u8> {
        let w = &self.wrapped;
        let mut out = Vec::with_capacity(self.len as usize);
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(SEGMENT_LOG2);
        out.push(w.key_id.len() as u8);
        out.extend_from_slice(w.key_id.as_bytes());
        out.extend_from_slice(&w.version.to_be_bytes());
        out.push(w.bytes.len() as u8);
        out.extend_from_slice(&w.bytes);
        out
    }

    /// Whether `prefix` (the first bytes of a stored object) starts a sealed object. Anything else is a
    /// plaintext blob stored before encryption was enabled.
    pub fn is_sealed(prefix: &[u8]) -> bool {
        prefix.starts_with(&MAGIC)
    }

    /// Parses the header at the start of `prefix`.
    pub fn parse(prefix: &[u8]) -> Result<Header, FormatError> {
        let mut r = prefix.strip_prefix(&MAGIC).ok_or(FormatError::Header("no magic"))?;
        let mut take = |n: usize| -> Result<&[u8], FormatError> {
            if r.len() < n {
                return Err(FormatError::Header("truncated"));
            }
            let (head, rest) = r.split_at(n);
            r = rest;
            Ok(head)
        };
        if take(1)?[0] != VERSION {
            return Err(FormatError::Header("unknown version"));
        }
        if take(1)?[0] != SEGMENT_LOG2 {
            return Err(FormatError::Header("unsupported segment size"));
        }
        let id_len = take(1)?[0] as usize;
        let key_id = std::str::from_utf8(take(id_len)?).map_err(|_| FormatError::Header("key id is not UTF-8"))?;
        let key_id = key_id.to_string();
        let version = u32::from_be_bytes(take(4)?.try_into().expect("4 bytes"));
        let wrapped_len = take(1)?[0] as usize;
        let bytes = take(wrapped_len)?.to_vec();
        Ok(Header::new(WrappedKey { key_id, version, bytes }))
    }
}

/// Number of segments that hold `plain` bytes (an empty blob is one empty segment).
pub fn segments(plain: u64) -> u64 {
    plain.div_ceil(SEGMENT).max(1)
}

/// Stored size of a blob of `plain` bytes under a header of `header` bytes.
#[cfg(test)]
pub fn sealed_len(header: u64, plain: u64) -> u64 {
    header + plain + segments(plain) * OVERHEAD
}

/// Plaintext size of a stored object of `stored` bytes under a header of `header` bytes.
pub fn plain_len(header: u64, stored: u64) -> Result<u64, FormatError> {
    let body = stored.checked_sub(header).ok_or(FormatError::Layout(stored))?;
    let n = body.div_ceil(SEALED_SEGMENT).max(1);
    let plain = body.checked_sub(n * OVERHEAD).ok_or(FormatError::Layout(stored))?;
    // Only an empty blob has an empty (last) segment.
    if segments(plain) != n || (plain == 0 && body != OVERHEAD) {
        return Err(FormatError::Layout(stored));
    }
    Ok(plain)
}

fn segment_aad(index: u64, last: bool) -> [u8; 9] {
    let mut aad = [0u8; 9];
    aad[..8].copy_from_slice(&index.to_be_bytes());
    aad[8] = u8::from(last);
    aad
}

/// Appends segment `index` sealing `plain` to `out`.
pub fn seal_segment(cipher: &Aes256Gcm, index: u64, last: bool, plain: &[u8], out: &mut Vec<u8>) {
    seal_with(cipher, &segment_aad(index, last), plain, out);
}

/// Opens stored segment `index` (nonce, ciphertext, tag) in place; returns the plaintext's length (a prefix of
/// `sealed` after removing the nonce, which this shifts out).
pub fn open_segment(cipher: &Aes256Gcm, index: u64, last: bool, sealed: &mut Vec<u8>) -> Result<(), FormatError> {
    open_with(cipher, &segment_aad(index, last), sealed).map_err(|()| FormatError::Segment(index))
}

/// Seals a session's unfinished last segment for the upload state. Its associated data has another length than
/// a segment's, so neither can stand in for the other.
pub fn seal_tail(cipher: &Aes256Gcm, offset: u64, plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(plain.len() + OVERHEAD as usize);
    seal_with(cipher, &tail_aad(offset), plain, &mut out);
    out
}

pub fn open_tail(cipher: &Aes256Gcm, offset: u64, sealed: &[u8]) -> Result<Vec<u8>, FormatError> {
    let mut buf = sealed.to_vec();
    open_with(cipher, &tail_aad(offset), &mut buf)
        .map_err(|()| FormatError::Header("upload tail fails authentication"))?;
    Ok(buf)
}

fn tail_aad(offset: u64) -> [u8; 12] {
    let mut aad = [0u8; 12];
    aad[..4].copy_from_slice(b"tail");
    aad[4..].copy_from_slice(&offset.to_be_bytes());
    aad
}

/// `nonce || ciphertext || tag` of `plain`, appended to `out`, under a fresh random nonce.
pub fn seal_with(cipher: &Aes256Gcm, aad: &[u8], plain: &[u8], out: &mut Vec<u8>) {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    out.extend_from_slice(&nonce);
    let start = out.len();
    out.extend_from_slice(plain);
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), aad, &mut out[start..])
        .unwrap_or_else(|_| unreachable!("AES-GCM cannot fail for inputs under 64 GiB"));
    out.extend_from_slice(&tag);
}

/// Opens `nonce || ciphertext || tag` in place: `sealed` holds the plaintext afterwards.
pub fn open_with(cipher: &Aes256Gcm, aad: &[u8], sealed: &mut Vec<u8>) -> Result<(), ()> {
    if sealed.len() < OVERHEAD as usize {
        return Err(());
    }
    let tag_at = sealed.len() - TAG_LEN;
    let tag = Tag::clone_from_slice(&sealed[tag_at..]);
    let nonce = Nonce::clone_from_slice(&sealed[..NONCE_LEN]);
    cipher.decrypt_in_place_detached(&nonce, aad, &mut sealed[NONCE_LEN..tag_at], &tag).map_err(|_| ())?;
    sealed.truncate(tag_at);
    sealed.drain(..NONCE_LEN);
    Ok(())
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
