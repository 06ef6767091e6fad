//! npm: a package's own `node_modules/<name>/package.json`, and lockfiles (`package-lock.json`,
//! `npm-shrinkwrap.json`, the hidden `node_modules/.package-lock.json`) in versions 1, 2 and 3.
//!
//! Lockfile entries marked `"dev": true` are skipped: whether they are installed is unknown, and when they are,
//! their `package.json` under `node_modules` reports them. Linked (workspace) entries and entries whose version
//! is not a registry version (git, file, URL) are skipped too.

use serde_json::Value;

use super::FoundPackage;

pub(crate) fn parse_package_json(data: &[u8]) -> Result<Option<FoundPackage>, String> {
    let doc: Value = serde_json::from_slice(data).map_err(|e| format!("invalid package.json: {e}"))?;
    let (Some(name), Some(version)) = (str_field(&doc, "name"), str_field(&doc, "version")) else {
        return Ok(None);
    };
    let mut p = FoundPackage::new(name, version);
    p.licenses = licenses(&doc);
    Ok(Some(p))
}

pub(crate) fn parse_lockfile(data: &[u8]) -> Result<Vec<FoundPackage>, String> {
    let doc: Value = serde_json::from_slice(data).map_err(|e| format!("invalid npm lockfile: {e}"))?;
    let mut out = Vec::new();
    if let Some(packages) = doc.get("packages").and_then(Value::as_object) {
        // Lockfile v2 and v3: keys are install paths.
        for (key, entry) in packages {
            let Some(idx) = key.rfind("node_modules/") else { continue }; // "" is the project, others are workspaces
            if is_true(entry, "link") || is_true(entry, "dev") {
                continue;
            }
            let name = str_field(entry, "name").unwrap_or(&key[idx + "node_modules/".len()..]);
            if let Some(p) = registry_package(name, entry) {
                out.push(p);
            }
        }
    } else if let Some(deps) = doc.get("dependencies").and_then(Value::as_object) {
        // Lockfile v1: a tree of "dependencies".
        let mut stack: Vec<&serde_json::Map<String, Value>> = vec![deps];
        while let Some(deps) = stack.pop() {
            for (name, entry) in deps {
                if !is_true(entry, "dev")
                    && let Some(p) = registry_package(name, entry)
                {
                    out.push(p);
                }
                if let Some(nested) = entry.get("dependencies").and_then(Value::as_object) {
                    stack.push(nested);
                }
            }
        }
    }
    Ok(out)
}

fn registry_package(name: &str, entry: &Value) -> Option<FoundPackage> {
    let version = str_field(entry, "version")?;
    if name.is_empty() || version.contains([':', '/']) {
        return None;
    }
    let mut p = FoundPackage::new(name, version);
    p.licenses = licenses(entry);
    Some(p)
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

fn is_true(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool) == Some(true)
}

/// `"license": "MIT"`, `"license": {"type": "MIT"}`, or the old `"licenses": [{"type": "MIT"}, "ISC"]`.
fn licenses(v: &Value) -> Vec<String> {
    let one = |l: &Value| match l {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Object(o) => o.get("type").and_then(Value::as_str).map(|s| s.trim().to_string()),
        _ => None,
    };
    let mut out: Vec<String> = match (v.get("license"), v.get("licenses")) {
        (Some(l), _) => one(l).into_iter().collect(),
        (None, Some(Value::Array(ls))) => ls.iter().filter_map(one).collect(),
        _ => Vec::new(),
    };
    out.retain(|s| !s.is_empty() && s.len() <= 200);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockfile_v1_tree() {
        let lock =
            br#"{"lockfileVersion":1,"dependencies":{"a":{"version":"1.0.0","dependencies":{"b":{"version":"2.0.0"}}},
            "devonly":{"version":"1.0.0","dev":true},"gitdep":{"version":"github:x/y#abc"}}}"#;
        let mut names: Vec<_> =
            parse_lockfile(lock).unwrap().into_iter().map(|p| format!("{}@{}", p.name, p.version)).collect();
        names.sort();
        assert_eq!(names, vec!["a@1.0.0", "b@2.0.0"]);
    }

    #[test]
    fn lockfile_v3_paths_and_aliases() {
        let lock = br#"{"lockfileVersion":3,"packages":{"":{"name":"app","version":"1.0.0"},
            "node_modules/@scope/x":{"version":"1.0.0","license":"MIT"},
            "node_modules/a/node_modules/b":{"version":"2.0.0"},
            "node_modules/alias":{"name":"real","version":"3.0.0"},
            "node_modules/ws":{"resolved":"packages/ws","link":true},
            "packages/ws":{"version":"0.0.1"},
            "node_modules/d":{"version":"1.0.0","dev":true}}}"#;
        let found = parse_lockfile(lock).unwrap();
        let mut names: Vec<_> = found.iter().map(|p| format!("{}@{}", p.name, p.version)).collect();
        names.sort();
        assert_eq!(names, vec!["@scope/x@1.0.0", "b@2.0.0", "real@3.0.0"]);
        assert_eq!(found.iter().find(|p| p.name == "@scope/x").unwrap().licenses, vec!["MIT"]);
    }

    #[test]
    fn package_json_licenses() {
        let p = parse_package_json(br#"{"name":"x","version":"1.0.0","licenses":[{"type":"MIT"},"ISC"]}"#)
            .unwrap()
            .unwrap();
        assert_eq!(p.licenses, vec!["MIT", "ISC"]);
        assert!(parse_package_json(br#"{"name":"x"}"#).unwrap().is_none());
        assert!(parse_package_json(b"not json").is_err());
    }
}
