//! Manifest parsing and validation: OCI image manifest and index, Docker schema 2 manifest and list.
//!
//! [`ParsedManifest::parse`] decides what a manifest is and which blobs and child manifests it references.
//! Whether those references exist is the registry's question, not this module's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::media_type as mt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    OciManifest,
    OciIndex,
    DockerManifest,
    DockerManifestList,
}

impl ManifestKind {
    pub fn media_type(self) -> &'static str {
        match self {
            ManifestKind::OciManifest => mt::OCI_MANIFEST,
            ManifestKind::OciIndex => mt::OCI_INDEX,
            ManifestKind::DockerManifest => mt::DOCKER_MANIFEST,
            ManifestKind::DockerManifestList => mt::DOCKER_MANIFEST_LIST,
        }
    }

    pub fn from_media_type(s: &str) -> Option<Self> {
        match s {
            mt::OCI_MANIFEST => Some(ManifestKind::OciManifest),
            mt::OCI_INDEX => Some(ManifestKind::OciIndex),
            mt::DOCKER_MANIFEST => Some(ManifestKind::DockerManifest),
            mt::DOCKER_MANIFEST_LIST => Some(ManifestKind::DockerManifestList),
            _ => None,
        }
    }

    pub fn is_index(self) -> bool {
        matches!(self, ManifestKind::OciIndex | ManifestKind::DockerManifestList)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "os.version")]
    pub os_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "os.features")]
    pub os_features: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// Foreign layers (e.g. Windows base layers) are fetched from their `urls`, not from the registry.
    pub fn is_foreign(&self) -> bool {
        self.urls.as_ref().is_some_and(|u| !u.is_empty())
    }
}

/// The fields of every manifest kind; which are required depends on the kind.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: Option<serde_json::Value>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is not valid JSON: {0}")]
    Json(String),
    #[error("schemaVersion must be 2")]
    SchemaVersion,
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedMediaType(String),
    #[error("mediaType {body:?} in the manifest does not match Content-Type {header:?}")]
    MediaTypeMismatch { body: String, header: String },
    #[error("cannot tell the manifest's media type: set Content-Type or mediaType")]
    UnknownMediaType,
    #[error("{kind} requires the field {field:?}")]
    MissingField { kind: &'static str, field: &'static str },
    #[error("{kind} must not have the field {field:?}")]
    UnexpectedField { kind: &'static str, field: &'static str },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedManifest {
    pub kind: ManifestKind,
    pub config: Option<Descriptor>,
    pub layers: Vec<Descriptor>,
    pub manifests: Vec<Descriptor>,
    pub subject: Option<Descriptor>,
    /// `artifactType` as the referrers API reports it: the manifest's own field, else the config's media type
    /// for an image manifest.
    pub artifact_type: Option<String>,
    pub annotations: Option<BTreeMap<String, String>>,
}

impl ParsedManifest {
    /// Parses `body` sent with `content_type` (the request's Content-Type, if any).
    pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<Self, ManifestError> {
        let raw: RawManifest = serde_json::from_slice(body).map_err(|e| ManifestError::Json(e.to_string()))?;
        if raw.schema_version.as_ref().and_then(|v| v.as_i64()) != Some(2) {
            return Err(ManifestError::SchemaVersion);
        }
        // Content-Type parameters (e.g. "; charset=utf-8") are not part of the media type.
        let header = content_type
            .map(|c| c.split(';').next().unwrap_or("").trim())
            .filter(|c| ManifestKind::from_media_type(c).is_some());
        let kind = match (header, raw.media_type.as_deref()) {
            (Some(h), Some(b)) if h != b => {
                return Err(ManifestError::MediaTypeMismatch { body: b.to_string(), header: h.to_string() });
            }
            (Some(h), _) => ManifestKind::from_media_type(h),
            (None, Some(b)) => Some(
                ManifestKind::from_media_type(b).ok_or_else(|| ManifestError::UnsupportedMediaType(b.to_string()))?,
            ),
            // OCI allows omitting mediaType; fall back to the shape.
            (None, None) if raw.manifests.is_some() => Some(ManifestKind::OciIndex),
            (None, None) if raw.config.is_some() => Some(ManifestKind::OciManifest),
            (None, None) => None,
        }
        .ok_or(ManifestError::UnknownMediaType)?;
        if let Some(b) = raw.media_type.as_deref()
            && b != kind.media_type()
        {
            return Err(ManifestError::MediaTypeMismatch {
                body: b.to_string(),
                header: kind.media_type().to_string(),
            });
        }
        let name = kind.media_type();
        if kind.is_index() {
            if raw.config.is_some() {
                return Err(ManifestError::UnexpectedField { kind: name, field: "config" });
            }
            if raw.layers.is_some() {
                return Err(ManifestError::UnexpectedField { kind: name, field: "layers" });
            }
            let manifests = raw.manifests.ok_or(ManifestError::MissingField { kind: name, field: "manifests" })?;
            Ok(ParsedManifest {
                kind,
                config: None,
                layers: Vec::new(),
                manifests,
                subject: raw.subject,
                artifact_type: raw.artifact_type,
                annotations: raw.annotations,
            })
        } else {
            if raw.manifests.is_some() {
                return Err(ManifestError::UnexpectedField { kind: name, field: "manifests" });
            }
            let config = raw.config.ok_or(ManifestError::MissingField { kind: name, field: "config" })?;
            let layers = raw.layers.ok_or(ManifestError::MissingField { kind: name, field: "layers" })?;
            let artifact_type = raw.artifact_type.or_else(|| Some(config.media_type.clone()));
            Ok(ParsedManifest {
                kind,
                config: Some(config),
                layers,
                manifests: Vec::new(),
                subject: raw.subject,
                artifact_type,
                annotations: raw.annotations,
            })
        }
    }

    /// Blobs this manifest needs in the registry: config and non-foreign layers.
    pub fn referenced_blobs(&self) -> impl Iterator<Item = &Descriptor> {
        self.config.iter().chain(self.layers.iter().filter(|d| !d.is_foreign()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    const D2: &str = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4";

    fn image(media_type: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{media_type}",
            "config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{D1}","size":7}},
            "layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{D2}","size":32}},
                      {{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"{D2}","size":1,"urls":["https://example.com/l"]}}]}}"#
        )
    }

    #[test]
    fn parses_an_image_manifest() {
        let m = ParsedManifest::parse(image(mt::OCI_MANIFEST).as_bytes(), Some(mt::OCI_MANIFEST)).unwrap();
        assert_eq!(m.kind, ManifestKind::OciManifest);
        assert_eq!(m.referenced_blobs().count(), 2, "config + one non-foreign layer");
        assert_eq!(m.artifact_type.as_deref(), Some(mt::OCI_CONFIG));
    }

    #[test]
    fn media_type_comes_from_header_or_body() {
        let body = image(mt::DOCKER_MANIFEST);
        assert_eq!(ParsedManifest::parse(body.as_bytes(), None).unwrap().kind, ManifestKind::DockerManifest);
        assert!(matches!(
            ParsedManifest::parse(body.as_bytes(), Some(mt::OCI_MANIFEST)),
            Err(ManifestError::MediaTypeMismatch { .. })
        ));
        // Content-Type parameters are ignored.
        let with_param = format!("{}; charset=utf-8", mt::DOCKER_MANIFEST);
        assert!(ParsedManifest::parse(body.as_bytes(), Some(&with_param)).is_ok());
    }

    #[test]
    fn parses_an_index_with_subject_and_artifact_type() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","artifactType":"application/x.sig",
            "manifests":[{{"mediaType":"{}","digest":"{D1}","size":7,"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}],
            "subject":{{"mediaType":"{}","digest":"{D2}","size":9}}}}"#,
            mt::OCI_INDEX,
            mt::OCI_MANIFEST,
            mt::OCI_MANIFEST
        );
        let m = ParsedManifest::parse(body.as_bytes(), Some(mt::OCI_INDEX)).unwrap();
        assert!(m.kind.is_index());
        assert_eq!(m.manifests[0].platform.as_ref().unwrap().variant.as_deref(), Some("v8"));
        assert_eq!(m.subject.unwrap().digest.to_string(), D2);
        assert_eq!(m.artifact_type.as_deref(), Some("application/x.sig"));
    }

    #[test]
    fn rejects_invalid_manifests() {
        let cases: &[(&str, Option<&str>)] = &[
            ("not json", None),
            (r#"{"schemaVersion":1}"#, None),
            (r#"{"schemaVersion":2}"#, None),
            (r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#, None),
            (r#"{"schemaVersion":2,"mediaType":"text/plain","config":{}}"#, None),
            (r#"{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:zz","size":1}]}"#, None),
            (r#"{"schemaVersion":2,"manifests":[],"layers":[]}"#, Some(mt::OCI_INDEX)),
            (r#"{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:0","size":-1},"layers":[]}"#, None),
        ];
        for (body, ct) in cases {
            assert!(ParsedManifest::parse(body.as_bytes(), *ct).is_err(), "{body} must be rejected");
        }
    }
}
