//! The part of an upload session the S3 backend hands to the caller ([`crate::UploadState`]), which the
//! registry persists in the metadata store beside the session's size and hash state. It is all a node needs
//! to continue a session another node started: nothing about a session lives in one process's memory.

use serde::{Deserialize, Serialize};

use crate::StorageError;

/// Version of the serialised form; a state of another version is refused rather than misread.
const VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct SessionState {
    #[serde(rename = "v")]
    pub version: u32,
    /// The S3 multipart upload id, once the first part was uploaded.
    #[serde(rename = "mp", default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<String>,
    /// Uploaded parts in order (part number = index + 1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Part>,
    /// Name of the object (under the session's directory) holding the bytes after the last part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<String>,
    #[serde(default)]
    pub tail_len: u64,
    /// The tail this state replaced: still referenced by the state the caller held before, so deleted only
    /// by the append after (when the caller has shown it kept this state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_tail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Part {
    /// The part's ETag, as S3 answered the upload (checked by S3 again when completing).
    pub etag: String,
    pub size: u64,
}

impl SessionState {
    pub fn new() -> SessionState {
        SessionState { version: VERSION, ..SessionState::default() }
    }

    /// Parses a state; an empty one is a new session's.
    pub fn decode(bytes: &[u8]) -> Result<SessionState, StorageError> {
        if bytes.is_empty() {
            return Ok(SessionState::new());
        }
        let state: SessionState = serde_json::from_slice(bytes).map_err(|e| invalid(format!("not readable: {e}")))?;
        if state.version != VERSION {
            return Err(invalid(format!("version {} is not {VERSION}", state.version)));
        }
        if !state.parts.is_empty() && state.multipart.is_none() {
            return Err(invalid("parts without a multipart upload".into()));
        }
        Ok(state)
    }

    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Bytes in the uploaded parts.
    pub fn parts_len(&self) -> u64 {
        self.parts.iter().map(|p| p.size).sum()
    }

    /// Bytes the session holds.
    pub fn size(&self) -> u64 {
        self.parts_len() + self.tail_len
    }
}

fn invalid(what: String) -> StorageError {
    StorageError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("S3 upload state {what}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let mut s = SessionState::new();
        assert_eq!(SessionState::decode(&s.encode()).unwrap(), s);
        assert_eq!(SessionState::decode(b"").unwrap(), s);
        s.multipart = Some("mp-1".into());
        s.parts.push(Part { etag: "\"e1\"".into(), size: 5 << 20 });
        s.tail = Some("tail-1".into());
        s.tail_len = 7;
        assert_eq!(SessionState::decode(&s.encode()).unwrap(), s);
        assert_eq!(s.size(), (5 << 20) + 7);
        assert!(SessionState::decode(b"{").is_err());
        assert!(SessionState::decode(br#"{"v":2}"#).is_err());
        assert!(SessionState::decode(br#"{"v":1,"parts":[{"etag":"x","size":1}]}"#).is_err());
    }
}
