//! Python core metadata (`*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, `*.egg-info` files): RFC 822 headers,
//! read up to the blank line that starts the description body.

use super::{FoundPackage, rfc822_fields};

pub(crate) fn parse(text: &str) -> Option<FoundPackage> {
    let headers = super::paragraphs(text).into_iter().next()?;
    let (mut name, mut version, mut expression, mut license, mut classifier) = (None, None, None, None, None);
    for (key, value) in rfc822_fields(headers) {
        match key {
            "Name" => name = Some(value),
            "Version" => version = Some(value),
            "License-Expression" => expression = Some(value),
            "License" => license = Some(value),
            "Classifier" => {
                if let Some(rest) = value.strip_prefix("License ::") {
                    classifier = rest.rsplit("::").next().map(str::trim);
                }
            }
            _ => {}
        }
    }
    let (name, version) = (name.filter(|n| !n.is_empty())?, version.filter(|v| !v.is_empty())?);
    let mut p = FoundPackage::new(name, version);
    // `License:` sometimes holds a whole licence text; only a short first line is a name.
    let license = license.filter(|l| !l.is_empty() && l.len() <= 100 && !l.eq_ignore_ascii_case("UNKNOWN"));
    if let Some(l) = expression.filter(|l| !l.is_empty()).or(license).or(classifier.filter(|c| !c.is_empty())) {
        p.licenses.push(l.to_string());
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_headers_only() {
        let p = parse("Metadata-Version: 2.1\nName: Foo_Bar\nVersion: 1.0\nLicense: UNKNOWN\nClassifier: License :: OSI Approved :: BSD License\n\nName: not-this\n").unwrap();
        assert_eq!((p.name.as_str(), p.version.as_str()), ("Foo_Bar", "1.0"));
        assert_eq!(p.licenses, vec!["BSD License"]);
        let p = parse("Name: x\nVersion: 2\nLicense-Expression: MIT OR Apache-2.0\nLicense: MIT\n").unwrap();
        assert_eq!(p.licenses, vec!["MIT OR Apache-2.0"]);
        assert!(parse("Name: x\n\nVersion: 2\n").is_none());
    }
}
