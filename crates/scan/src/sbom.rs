//! CycloneDX 1.6 JSON: written from an [`Inventory`], read back into the same inventory.
//!
//! Layout of a document written by [`cyclonedx`]:
//! - `metadata.component`: the image, type `container`, `name` = repository, `version` and `bom-ref` = manifest
//!   digest, properties `berth:tag` (one per tag) and `org.opencontainers.image.created`;
//! - `metadata.tools.components`: berth and its version;
//! - `components[0]` (when the OS is known): type `operating-system`, `name` = os-release ID, `version` =
//!   VERSION_ID, `description` = PRETTY_NAME, property `berth:ecosystem`;
//! - one component per package, type `library`, `bom-ref` = `purl` (unique), `licenses` by name, properties
//!   `berth:layer_digest`, `berth:ecosystem`, `berth:location`, `berth:source_name`, `berth:source_version`.
//!
//! `serialNumber` is derived from the content (the same image, inventory and options give the same document,
//! so storing it again as a referrer is idempotent) unless [`BomOptions::serial_number`] is given.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::{Inventory, OsInfo, Package, PackageKind, ScanError, merge, purl};

pub const CYCLONEDX_MEDIA_TYPE: &str = "application/vnd.cyclonedx+json";

/// The image an SBOM describes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    pub repository: String,
    pub manifest_digest: String,
    pub tags: Vec<String>,
    /// When the image was created (RFC 3339, from its config); omitted when empty.
    pub created: String,
}

/// Optional parts of a document that are not derived from its content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BomOptions {
    /// `urn:uuid:...`; derived from the content when `None`.
    pub serial_number: Option<String>,
    /// `metadata.timestamp` (RFC 3339): when the scan ran. The caller passes the clock in; omitted when `None`.
    pub timestamp: Option<String>,
}

/// CycloneDX 1.6 JSON for `inv`, describing `image`.
pub fn cyclonedx(inv: &Inventory, image: &ImageInfo) -> Value {
    cyclonedx_with(inv, image, &BomOptions::default())
}

pub fn cyclonedx_with(inv: &Inventory, image: &ImageInfo, options: &BomOptions) -> Value {
    let mut components = Vec::with_capacity(inv.packages.len() + 1);
    if let Some(os) = &inv.os {
        components.push(os_component(os));
    }
    let mut refs = std::collections::HashSet::new();
    for p in &inv.packages {
        let mut bom_ref = p.purl.clone();
        let mut n = 1;
        while !refs.insert(bom_ref.clone()) {
            n += 1;
            bom_ref = format!("{}#{n}", p.purl);
        }
        components.push(package_component(p, &bom_ref));
    }

    let mut image_props: Vec<Value> = image.tags.iter().map(|t| property("berth:tag", t)).collect();
    if !image.created.is_empty() {
        image_props.push(property("org.opencontainers.image.created", &image.created));
    }
    let mut image_component = json!({
        "type": "container",
        "bom-ref": image.manifest_digest,
        "name": image.repository,
        "version": image.manifest_digest,
    });
    if !image_props.is_empty() {
        image_component["properties"] = Value::Array(image_props);
    }
    let mut metadata = json!({
        "tools": {"components": [{"type": "application", "name": "berth", "version": env!("CARGO_PKG_VERSION")}]},
        "component": image_component,
    });
    if let Some(ts) = &options.timestamp {
        metadata["timestamp"] = Value::String(ts.clone());
    }
    let mut doc = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": metadata,
        "components": components,
    });
    let serial = match &options.serial_number {
        Some(s) => s.clone(),
        None => content_serial(&doc),
    };
    doc["serialNumber"] = Value::String(serial);
    doc
}

/// `urn:uuid:` of a version-8 (custom) UUID made of the document's SHA-256.
fn content_serial(doc: &Value) -> String {
    let hash = Sha256::digest(doc.to_string().as_bytes());
    let mut b: [u8; 16] = hash[..16].try_into().expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("urn:uuid:{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

fn property(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value})
}

fn os_component(os: &OsInfo) -> Value {
    let mut c = json!({"type": "operating-system", "bom-ref": "os", "name": os.id});
    if let Some(v) = &os.version_id {
        c["version"] = json!(v);
    }
    if let Some(d) = &os.pretty_name {
        c["description"] = json!(d);
    }
    if let Some(e) = &os.ecosystem {
        c["properties"] = json!([property("berth:ecosystem", e)]);
    }
    c
}

fn package_component(p: &Package, bom_ref: &str) -> Value {
    let mut props = vec![
        property("berth:layer_digest", &p.layer_digest),
        property("berth:ecosystem", &p.ecosystem),
        property("berth:location", &p.location),
    ];
    if let Some(s) = &p.source_name {
        props.push(property("berth:source_name", s));
    }
    if let Some(s) = &p.source_version {
        props.push(property("berth:source_version", s));
    }
    let mut c = json!({
        "type": "library",
        "bom-ref": bom_ref,
        "name": p.name,
        "version": p.version,
        "purl": p.purl,
        "properties": props,
    });
    if !p.licenses.is_empty() {
        c["licenses"] = Value::Array(p.licenses.iter().map(|l| json!({"license": {"name": l}})).collect());
    }
    c
}

/// Parse a CycloneDX JSON document back into an [`Inventory`]. A document written by [`cyclonedx`] gives back
/// exactly the inventory it was written from. Documents from other tools are read best-effort: components with
/// a purl of a known type (deb, apk, rpm, pypi, npm, cargo, golang) become packages, with kind, name, version
/// and ecosystem taken from the purl; components without a purl or of other types are skipped.
pub fn inventory_from_cyclonedx(doc: &Value) -> Result<Inventory, ScanError> {
    let obj = doc.as_object().ok_or_else(|| ScanError::InvalidSbom("not a JSON object".into()))?;
    if obj.get("bomFormat").and_then(Value::as_str) != Some("CycloneDX") {
        return Err(ScanError::InvalidSbom("bomFormat is not \"CycloneDX\"".into()));
    }
    let spec = obj.get("specVersion").and_then(Value::as_str).unwrap_or("");
    if !spec.starts_with("1.") {
        return Err(ScanError::InvalidSbom(format!("unsupported specVersion {spec:?}")));
    }
    let mut all = Vec::new();
    match obj.get("components") {
        None | Some(Value::Null) => {}
        Some(Value::Array(cs)) => flatten(cs, &mut all),
        Some(_) => return Err(ScanError::InvalidSbom("components is not an array".into())),
    }
    let os =
        all.iter().find(|c| c.get("type").and_then(Value::as_str) == Some("operating-system")).and_then(|c| read_os(c));
    let packages = all.iter().filter_map(|c| read_package(c, os.as_ref())).collect();
    Ok(Inventory { os, packages })
}

fn flatten<'a>(components: &'a [Value], out: &mut Vec<&'a Map<String, Value>>) {
    for c in components {
        if let Some(obj) = c.as_object() {
            out.push(obj);
            if let Some(Value::Array(nested)) = obj.get("components") {
                flatten(nested, out);
            }
        }
    }
}

fn str_of<'a>(c: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    c.get(key).and_then(Value::as_str)
}

fn prop<'a>(c: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    c.get("properties")?
        .as_array()?
        .iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|p| p.get("value").and_then(Value::as_str))
}

fn read_os(c: &Map<String, Value>) -> Option<OsInfo> {
    let id = str_of(c, "name")?.to_string();
    let version_id = str_of(c, "version").map(str::to_string);
    let ecosystem = match prop(c, "berth:ecosystem") {
        Some(e) => Some(e.to_string()),
        None => merge::os_ecosystem(&id, version_id.as_deref()),
    };
    Some(OsInfo { id, version_id, pretty_name: str_of(c, "description").map(str::to_string), ecosystem })
}

fn read_package(c: &Map<String, Value>, os: Option<&OsInfo>) -> Option<Package> {
    if str_of(c, "type") == Some("operating-system") {
        return None;
    }
    let purl_text = str_of(c, "purl")?;
    let purl = purl::parse(purl_text)?;
    let kind = match purl.ty.as_str() {
        "deb" => PackageKind::Deb,
        "apk" => PackageKind::Apk,
        "rpm" => PackageKind::Rpm,
        "pypi" => PackageKind::Python,
        "npm" => PackageKind::Npm,
        "cargo" => PackageKind::Cargo,
        "golang" => PackageKind::Go,
        _ => return None,
    };
    let ours = prop(c, "berth:ecosystem");
    let (name, version) = match (ours, str_of(c, "name"), str_of(c, "version")) {
        (Some(_), Some(name), Some(version)) => (name.to_string(), version.to_string()),
        _ => {
            let name = match (kind, &purl.namespace) {
                (PackageKind::Npm | PackageKind::Go, Some(ns)) => format!("{ns}/{}", purl.name),
                _ => purl.name.clone(),
            };
            let version = purl.version.clone().or_else(|| str_of(c, "version").map(str::to_string))?;
            let version = match kind {
                PackageKind::Go => version.trim_start_matches("go").trim_start_matches('v').to_string(),
                _ => version,
            };
            (name, version)
        }
    };
    let ecosystem = match ours {
        Some(e) => e.to_string(),
        None => purl
            .qualifiers
            .get("distro")
            .and_then(|d| {
                let (id, v) = d.split_once('-')?;
                merge::os_ecosystem(id, Some(v))
            })
            .unwrap_or_else(|| merge::ecosystem(kind, os)),
    };
    let upstream = purl.qualifiers.get("upstream").map(|u| match u.split_once('@') {
        Some((n, v)) => (n.to_string(), Some(v.to_string())),
        None => (u.clone(), None),
    });
    let source_name = prop(c, "berth:source_name")
        .or_else(|| if ours.is_none() { prop(c, "aquasecurity:trivy:SrcName") } else { None })
        .map(str::to_string)
        .or_else(|| if ours.is_none() { upstream.as_ref().map(|u| u.0.clone()) } else { None });
    let source_version = prop(c, "berth:source_version")
        .or_else(|| if ours.is_none() { prop(c, "aquasecurity:trivy:SrcVersion") } else { None })
        .map(str::to_string)
        .or_else(|| if ours.is_none() { upstream.and_then(|u| u.1) } else { None });
    let layer_digest =
        prop(c, "berth:layer_digest").or_else(|| prop(c, "aquasecurity:trivy:LayerDigest")).unwrap_or("");
    let location = prop(c, "berth:location").or_else(|| prop(c, "syft:location:0:path")).unwrap_or("");
    let licenses = c
        .get("licenses")
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .filter_map(|l| {
                    let lic = l.get("license");
                    lic.and_then(|x| x.get("id"))
                        .or_else(|| lic.and_then(|x| x.get("name")))
                        .or_else(|| l.get("expression"))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Package {
        kind,
        name,
        version,
        source_name,
        source_version,
        ecosystem,
        purl: purl_text.to_string(),
        layer_digest: layer_digest.to_string(),
        location: location.to_string(),
        licenses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_foreign_documents() {
        let doc = json!({
            "bomFormat": "CycloneDX", "specVersion": "1.5",
            "components": [
                {"type": "operating-system", "name": "alpine", "version": "3.19.1"},
                {"type": "library", "name": "musl", "version": "1.2.4-r2", "purl": "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1&upstream=musl",
                 "licenses": [{"license": {"id": "MIT"}}]},
                {"type": "library", "name": "node", "purl": "pkg:npm/%40types/node@20.1.0"},
                {"type": "library", "name": "net", "purl": "pkg:golang/golang.org/x/net@v0.17.0",
                 "properties": [{"name": "syft:location:0:path", "value": "/usr/bin/app"}]},
                {"type": "library", "name": "junit", "purl": "pkg:maven/junit/junit@4.12"},
                {"type": "library", "name": "nopurl", "version": "1"}
            ]
        });
        let inv = inventory_from_cyclonedx(&doc).unwrap();
        let os = inv.os.unwrap();
        assert_eq!(os.ecosystem.as_deref(), Some("Alpine:v3.19"));
        assert_eq!(inv.packages.len(), 3);
        let musl = &inv.packages[0];
        assert_eq!(
            (musl.kind, musl.ecosystem.as_str(), musl.source_name.as_deref()),
            (PackageKind::Apk, "Alpine:v3.19", Some("musl"))
        );
        assert_eq!(musl.licenses, vec!["MIT"]);
        assert_eq!((inv.packages[1].name.as_str(), inv.packages[1].ecosystem.as_str()), ("@types/node", "npm"));
        let net = &inv.packages[2];
        assert_eq!(
            (net.name.as_str(), net.version.as_str(), net.location.as_str()),
            ("golang.org/x/net", "0.17.0", "/usr/bin/app")
        );
        assert!(inventory_from_cyclonedx(&json!({"bomFormat": "SPDX"})).is_err());
        assert!(inventory_from_cyclonedx(&json!([])).is_err());
    }
}
