//! ECR's lifecycle policy document, parsed and validated as ECR documents it ("Lifecycle policy
//! properties"): every problem is a [`PolicyError`] naming the rule and the property.

use serde_json::{Map, Value};

/// At most this many `*` in one `tagPatternList` entry (as ECR).
pub const MAX_WILDCARDS: usize = 4;
/// At most this many rules in one policy (ECR's quota).
pub const MAX_RULES: usize = 50;

/// Why a policy document is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

/// Which images a rule selects by their tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagSelection {
    /// Images with at least one tag, that match every prefix (each by any of the image's tags).
    TaggedPrefixes(Vec<String>),
    /// Images with at least one tag, that match every pattern (each by any of the image's tags).
    TaggedPatterns(Vec<String>),
    Untagged,
    Any,
}

/// ECR's storage classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageClass {
    Standard,
    Archive,
}

/// What a rule counts: how many images to keep, or an age in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Keep the `n` most recently pushed images the rule selects.
    ImageCountMoreThan(u32),
    /// Images pushed more than `n` days ago.
    SinceImagePushed(u32),
    /// Images last pulled (or, never pulled, pushed) more than `n` days ago.
    SinceImagePulled(u32),
    /// Images moved to their storage class more than `n` days ago.
    SinceImageTransitioned(u32),
}

/// What a rule does to the images it marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Expire,
    /// Move to the archive storage class.
    Transition,
}

impl Action {
    /// As `GetLifecyclePolicyPreview` names it (`ImageActionType`).
    pub fn ecr_name(self) -> &'static str {
        match self {
            Action::Expire => "EXPIRE",
            Action::Transition => "TRANSITION",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub priority: u32,
    pub description: Option<String>,
    pub tags: TagSelection,
    pub storage_class: StorageClass,
    pub count: Count,
    pub action: Action,
}

/// A valid lifecycle policy: its rules in order of priority (lowest `rulePriority` first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecyclePolicy {
    pub rules: Vec<Rule>,
}

fn err(what: impl Into<String>) -> PolicyError {
    PolicyError(what.into())
}

/// Refuses members not in `known` (ECR refuses unknown properties).
fn only(obj: &Map<String, Value>, known: &[&str], at: &str) -> Result<(), PolicyError> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(err(format!("{at} has an unknown property '{k}'"))),
        None => Ok(()),
    }
}

fn string<'a>(obj: &'a Map<String, Value>, key: &str, at: &str) -> Result<Option<&'a str>, PolicyError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(err(format!("{at}: '{key}' must be a string"))),
    }
}

fn positive(obj: &Map<String, Value>, key: &str, at: &str) -> Result<u32, PolicyError> {
    let v = obj.get(key).ok_or_else(|| err(format!("{at}: '{key}' is required")))?;
    match v.as_u64() {
        Some(n @ 1..=0x7fff_ffff) if v.is_u64() => Ok(n as u32),
        _ => Err(err(format!("{at}: '{key}' must be a positive integer, not {v}"))),
    }
}

fn string_list(obj: &Map<String, Value>, key: &str, at: &str) -> Result<Option<Vec<String>>, PolicyError> {
    let Some(v) = obj.get(key) else { return Ok(None) };
    let bad = || err(format!("{at}: '{key}' must be a non-empty list of non-empty strings"));
    let list = v.as_array().filter(|l| !l.is_empty()).ok_or_else(bad)?;
    list.iter()
        .map(|s| s.as_str().filter(|s| !s.is_empty()).map(str::to_string).ok_or_else(bad))
        .collect::<Result<_, _>>()
        .map(Some)
}

impl LifecyclePolicy {
    /// Parses and validates a `lifecyclePolicyText`.
    pub fn parse(text: &str) -> Result<LifecyclePolicy, PolicyError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| err(format!("the policy is not valid JSON: {e}")))?;
        let doc = doc.as_object().ok_or_else(|| err("the policy must be a JSON object with 'rules'"))?;
        only(doc, &["rules"], "the policy")?;
        let rules =
            doc.get("rules").and_then(Value::as_array).ok_or_else(|| err("'rules' is required and must be a list"))?;
        if rules.is_empty() {
            return Err(err("'rules' must have at least one rule"));
        }
        if rules.len() > MAX_RULES {
            return Err(err(format!("a policy has at most {MAX_RULES} rules, this one has {}", rules.len())));
        }
        let mut parsed = rules.iter().enumerate().map(|(i, r)| parse_rule(i, r)).collect::<Result<Vec<_>, _>>()?;
        parsed.sort_by_key(|r| r.priority);
        if let Some(w) = parsed.windows(2).find(|w| w[0].priority == w[1].priority) {
            return Err(err(format!(
                "rulePriority {} is used by more than one rule: priorities must be unique",
                w[0].priority
            )));
        }
        let last = parsed.len() - 1;
        if let Some(r) = parsed[..last].iter().find(|r| r.tags == TagSelection::Any) {
            return Err(err(format!(
                "rule {}: a rule with tagStatus 'any' must have the highest rulePriority (rule {} is higher)",
                r.priority, parsed[last].priority
            )));
        }
        Ok(LifecyclePolicy { rules: parsed })
    }
}

fn parse_rule(index: usize, rule: &Value) -> Result<Rule, PolicyError> {
    let at = format!("rule #{}", index + 1);
    let rule = rule.as_object().ok_or_else(|| err(format!("{at} must be an object")))?;
    only(rule, &["rulePriority", "description", "selection", "action"], &at)?;
    let priority = positive(rule, "rulePriority", &at)?;
    let at = format!("rule {priority}");
    let description = string(rule, "description", &at)?.map(str::to_string);
    let selection = rule
        .get("selection")
        .and_then(Value::as_object)
        .ok_or_else(|| err(format!("{at}: 'selection' is required and must be an object")))?;
    let action = rule
        .get("action")
        .and_then(Value::as_object)
        .ok_or_else(|| err(format!("{at}: 'action' is required and must be an object")))?;
    only(
        selection,
        &["tagStatus", "tagPrefixList", "tagPatternList", "storageClass", "countType", "countUnit", "countNumber"],
        &format!("{at} selection"),
    )?;
    only(action, &["type", "targetStorageClass"], &format!("{at} action"))?;

    let prefixes = string_list(selection, "tagPrefixList", &at)?;
    let patterns = string_list(selection, "tagPatternList", &at)?;
    let tags = match string(selection, "tagStatus", &at)? {
        Some("tagged") => match (prefixes, patterns) {
            (Some(_), Some(_)) => {
                return Err(err(format!("{at}: specify tagPrefixList or tagPatternList, not both")));
            }
            (Some(p), None) => TagSelection::TaggedPrefixes(p),
            (None, Some(p)) => {
                if let Some(bad) = p.iter().find(|p| p.matches('*').count() > MAX_WILDCARDS) {
                    return Err(err(format!(
                        "{at}: tagPatternList entry '{bad}' has more than {MAX_WILDCARDS} wildcards (*)"
                    )));
                }
                TagSelection::TaggedPatterns(p)
            }
            (None, None) => {
                return Err(err(format!("{at}: tagStatus 'tagged' requires tagPrefixList or tagPatternList")));
            }
        },
        Some(status @ ("untagged" | "any")) => {
            if prefixes.is_some() || patterns.is_some() {
                return Err(err(format!(
                    "{at}: tagPrefixList and tagPatternList are only allowed with tagStatus 'tagged', not '{status}'"
                )));
            }
            if status == "any" { TagSelection::Any } else { TagSelection::Untagged }
        }
        Some(other) => {
            return Err(err(format!("{at}: tagStatus '{other}' is not one of 'tagged', 'untagged', 'any'")));
        }
        None => return Err(err(format!("{at}: 'tagStatus' is required"))),
    };

    let storage_class = match string(selection, "storageClass", &at)? {
        None | Some("standard") => StorageClass::Standard,
        Some("archive") => StorageClass::Archive,
        Some(other) => {
            return Err(err(format!("{at}: storageClass '{other}' is not one of 'standard', 'archive'")));
        }
    };
    let count_type =
        string(selection, "countType", &at)?.ok_or_else(|| err(format!("{at}: 'countType' is required")))?;
    let unit = string(selection, "countUnit", &at)?;
    let number = positive(selection, "countNumber", &at)?;
    let count = match count_type {
        "imageCountMoreThan" => {
            if let Some(unit) = unit {
                return Err(err(format!(
                    "{at}: countUnit ('{unit}') must not be given with countType 'imageCountMoreThan'"
                )));
            }
            Count::ImageCountMoreThan(number)
        }
        kind @ ("sinceImagePushed" | "sinceImagePulled" | "sinceImageTransitioned") => {
            match unit {
                Some("days") => {}
                Some(other) => return Err(err(format!("{at}: countUnit '{other}' is not 'days'"))),
                None => return Err(err(format!("{at}: countType '{kind}' requires countUnit 'days'"))),
            }
            match kind {
                "sinceImagePushed" => Count::SinceImagePushed(number),
                "sinceImagePulled" => Count::SinceImagePulled(number),
                _ => {
                    if selection.get("storageClass").is_none() || storage_class != StorageClass::Archive {
                        return Err(err(format!(
                            "{at}: countType 'sinceImageTransitioned' requires storageClass 'archive'"
                        )));
                    }
                    Count::SinceImageTransitioned(number)
                }
            }
        }
        other => {
            return Err(err(format!(
                "{at}: countType '{other}' is not one of 'imageCountMoreThan', 'sinceImagePushed', \
                 'sinceImagePulled', 'sinceImageTransitioned'"
            )));
        }
    };

    let target = string(action, "targetStorageClass", &at)?;
    let action = match string(action, "type", &at)? {
        Some("expire") => {
            if let Some(t) = target {
                return Err(err(format!("{at}: targetStorageClass ('{t}') is only allowed with action 'transition'")));
            }
            Action::Expire
        }
        Some("transition") => {
            match target {
                Some("archive") => {}
                Some(other) => {
                    return Err(err(format!("{at}: targetStorageClass '{other}' is not 'archive'")));
                }
                None => return Err(err(format!("{at}: action 'transition' requires targetStorageClass 'archive'"))),
            }
            if storage_class != StorageClass::Standard {
                return Err(err(format!("{at}: action 'transition' applies to storageClass 'standard' images only")));
            }
            Action::Transition
        }
        Some(other) => return Err(err(format!("{at}: action type '{other}' is not one of 'expire', 'transition'"))),
        None => return Err(err(format!("{at}: action 'type' is required"))),
    };
    Ok(Rule { priority, description, tags, storage_class, count, action })
}
