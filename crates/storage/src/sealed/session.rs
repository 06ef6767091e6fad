//! A sealed upload session's state, persisted by the caller beside the session (see `UploadState`).
//!
//! Only whole segments go to the backend: the unfinished last one (1 to `SEGMENT` bytes) travels here, sealed
//! under the blob's data key with its own random nonce, until a later chunk completes it or the commit writes
//! it as the last segment. So no stored segment is ever rewritten with other bytes, and what the metadata store
//! holds of an upload is ciphertext too.

use std::io;

use crate::{StorageError, UploadState};

/// First byte of a sealed session's state. A backend's own state (empty for the filesystem, JSON for S3) never
/// starts with it, so a session begun before encryption was enabled is recognised and continued unsealed.
const TAG: u8 = 0xB5;
const VERSION: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The inner backend's state.
    pub inner: UploadState,
    /// The object header (with the wrapped data key), written before the first segment.
    pub header: Vec<u8>,
    /// Plaintext bytes the session holds.
    pub size: u64,
    /// Segments written to the inner session.
    pub flushed: u64,
    /// The unfinished last segment, sealed (empty when there is none).
    pub tail: Vec<u8>,
}

impl Session {
    pub fn encode(&self) -> UploadState {
        let mut out = Vec::with_capacity(32 + self.header.len() + self.inner.len() + self.tail.len());
        out.extend_from_slice(&[TAG, VERSION]);
        out.extend_from_slice(&self.size.to_be_bytes());
        out.extend_from_slice(&self.flushed.to_be_bytes());
        for part in [&self.header, &self.inner, &self.tail] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part);
        }
        out
    }

    /// The sealed session `state` describes, `None` for a session begun unsealed.
    pub fn decode(state: &[u8]) -> Result<Option<Session>, StorageError> {
        if state.first() != Some(&TAG) {
            return Ok(None);
        }
        let corrupt = || StorageError::Io(io::Error::new(io::ErrorKind::InvalidData, "sealed upload state is corrupt"));
        let mut r = &state[1..];
        let mut take = |n: usize| -> Result<&[u8], StorageError> {
            if r.len() < n {
                return Err(corrupt());
            }
            let (head, rest) = r.split_at(n);
            r = rest;
            Ok(head)
        };
        if take(1)?[0] != VERSION {
            return Err(corrupt());
        }
        let size = u64::from_be_bytes(take(8)?.try_into().expect("8 bytes"));
        let flushed = u64::from_be_bytes(take(8)?.try_into().expect("8 bytes"));
        let mut part = || -> Result<Vec<u8>, StorageError> {
            let len = u32::from_be_bytes(take(4)?.try_into().expect("4 bytes")) as usize;
            Ok(take(len)?.to_vec())
        };
        let header = part()?;
        let inner = part()?;
        let tail = part()?;
        Ok(Some(Session { inner, header, size, flushed, tail }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_foreign_states() {
        let s = Session {
            inner: b"{\"v\":1}".to_vec(),
            header: vec![1, 2, 3],
            size: 70_000,
            flushed: 1,
            tail: vec![9; 40],
        };
        assert_eq!(Session::decode(&s.encode()).unwrap(), Some(s.clone()));
        assert_eq!(Session::decode(b"").unwrap(), None, "the filesystem backend's state");
        assert_eq!(Session::decode(b"{\"v\":1}").unwrap(), None, "the S3 backend's state");
        let encoded = s.encode();
        assert!(Session::decode(&encoded[..encoded.len() - 1]).is_err(), "a cut state is an error");
    }
}
