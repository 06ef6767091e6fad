//! CycloneDX: structure, round trip, determinism.

use std::collections::HashSet;

use berth_scan::sbom::{
    BomOptions, CYCLONEDX_MEDIA_TYPE, ImageInfo, cyclonedx, cyclonedx_with, inventory_from_cyclonedx,
};
use serde_json::Value;

use crate::fixture;

fn image(manifest_digest: &str) -> ImageInfo {
    ImageInfo {
        repository: "team/scanner-fixture".into(),
        manifest_digest: manifest_digest.into(),
        tags: vec!["1".into(), "latest".into()],
        created: "2023-11-14T22:13:20Z".into(),
    }
}

/// The parts of the CycloneDX 1.6 schema berth relies on, checked by hand.
fn assert_valid(doc: &Value) {
    assert_eq!(doc["bomFormat"], "CycloneDX");
    assert_eq!(doc["specVersion"], "1.6");
    assert_eq!(doc["version"], 1);
    let serial = doc["serialNumber"].as_str().unwrap();
    let uuid = serial.strip_prefix("urn:uuid:").unwrap();
    let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "{serial}");
    assert!(uuid.chars().all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    let tool = &doc["metadata"]["tools"]["components"][0];
    assert_eq!((tool["type"].as_str(), tool["name"].as_str()), (Some("application"), Some("berth")));
    let image = &doc["metadata"]["component"];
    assert_eq!(image["type"], "container");
    let mut refs = HashSet::new();
    refs.insert(image["bom-ref"].as_str().unwrap().to_string());
    let mut purls = HashSet::new();
    for c in doc["components"].as_array().unwrap() {
        let ty = c["type"].as_str().unwrap();
        assert!(["library", "operating-system"].contains(&ty), "{ty}");
        assert!(c["name"].as_str().is_some_and(|n| !n.is_empty()));
        assert!(refs.insert(c["bom-ref"].as_str().unwrap().to_string()), "duplicate bom-ref {}", c["bom-ref"]);
        if ty == "library" {
            let purl = c["purl"].as_str().unwrap();
            assert!(purl.starts_with("pkg:"));
            assert!(purls.insert(purl.to_string()), "duplicate purl {purl}");
            for p in c["properties"].as_array().unwrap() {
                assert!(p["name"].is_string() && p["value"].is_string());
            }
            for l in c["licenses"].as_array().into_iter().flatten() {
                assert!(l["license"]["name"].is_string());
            }
        }
    }
}

#[test]
fn fixture_sbom_round_trips() {
    let img = fixture::load();
    let inv = img.inventory(img.layers.len());
    let info = image(&img.manifest_digest);
    let doc = cyclonedx(&inv, &info);
    assert_valid(&doc);
    assert_eq!(doc["components"][0]["type"], "operating-system");
    assert_eq!(doc["components"][0]["name"], "debian");
    assert_eq!(doc["components"].as_array().unwrap().len(), inv.packages.len() + 1);
    assert_eq!(doc["metadata"]["component"]["version"], img.manifest_digest);
    assert_eq!(CYCLONEDX_MEDIA_TYPE, "application/vnd.cyclonedx+json");

    // Exact round trip, also through the serialised text.
    assert_eq!(inventory_from_cyclonedx(&doc).unwrap(), inv);
    let text = serde_json::to_vec_pretty(&doc).unwrap();
    eprintln!("fixture SBOM: {} components, {} bytes", inv.packages.len() + 1, text.len());
    assert_eq!(inventory_from_cyclonedx(&serde_json::from_slice(&text).unwrap()).unwrap(), inv);

    // The serial number is derived from the content; options override it and add a timestamp.
    assert_eq!(cyclonedx(&inv, &info), doc);
    let other = cyclonedx(&inv, &image("sha256:0000"));
    assert_ne!(other["serialNumber"], doc["serialNumber"]);
    let options = BomOptions {
        serial_number: Some("urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79".into()),
        timestamp: Some("2026-11-23T12:00:00Z".into()),
    };
    let stamped = cyclonedx_with(&inv, &info, &options);
    assert_eq!(stamped["serialNumber"], "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79");
    assert_eq!(stamped["metadata"]["timestamp"], "2026-11-23T12:00:00Z");
    assert_valid(&stamped);
}

#[test]
fn empty_inventory() {
    let inv = berth_scan::Inventory::default();
    let doc = cyclonedx(&inv, &image("sha256:abc"));
    assert_valid(&doc);
    assert_eq!(inventory_from_cyclonedx(&doc).unwrap(), inv);
}
