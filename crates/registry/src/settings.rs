//! Registry-wide settings: account settings (ECR's `GetAccountSetting`/`PutAccountSetting`) and the
//! registry scanning configuration, stored as JSON documents in the metadata store.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_meta::settings::wildcard_match;
use berth_oci::RepositoryName;
use serde::{Deserialize, Serialize};

use crate::{Registry, RegistryError, Result};

/// How long a node keeps the registry scanning configuration before reading it again.
pub const CONFIG_CACHE: Duration = Duration::from_secs(5);

/// The scanning configuration this node read last, and when.
pub(crate) type CachedScanning = Arc<Mutex<Option<(Instant, Arc<ScanningConfiguration>)>>>;

/// A registry-wide switch with a fixed set of values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountSetting {
    /// The basic scanner's version. berth has one scanner; `AWS_NATIVE` is the name ECR gives its own.
    BasicScanTypeVersion,
    /// Which actions a registry policy governs. berth enforces registry policies on every action (`V2`).
    RegistryPolicyScope,
    /// Whether cross-repository blob mounts are done (`ENABLED`) or answered with a normal upload.
    BlobMounting,
}

impl AccountSetting {
    pub const ALL: [AccountSetting; 3] =
        [AccountSetting::BasicScanTypeVersion, AccountSetting::RegistryPolicyScope, AccountSetting::BlobMounting];

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            AccountSetting::BasicScanTypeVersion => "BASIC_SCAN_TYPE_VERSION",
            AccountSetting::RegistryPolicyScope => "REGISTRY_POLICY_SCOPE",
            AccountSetting::BlobMounting => "BLOB_MOUNTING",
        }
    }

    /// The values berth honours; the first is the default.
    pub fn values(self) -> &'static [&'static str] {
        match self {
            AccountSetting::BasicScanTypeVersion => &["AWS_NATIVE"],
            AccountSetting::RegistryPolicyScope => &["V2"],
            AccountSetting::BlobMounting => &["ENABLED", "DISABLED"],
        }
    }

    fn key(self) -> String {
        format!("account/{}", self.name())
    }
}

/// How often images are scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScanFrequency {
    Manual,
    ScanOnPush,
    /// On push and again whenever the vulnerability database changes.
    ContinuousScan,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScanType {
    #[default]
    Basic,
    Enhanced,
}

/// One rule: repositories matching one of `filters` (wildcards) are scanned at `frequency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRule {
    pub frequency: ScanFrequency,
    pub filters: Vec<String>,
}

/// The registry's scanning configuration (ECR's `PutRegistryScanningConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ScanningConfiguration {
    pub scan_type: ScanType,
    pub rules: Vec<ScanRule>,
}

/// What applies to one repository: its own scan-on-push flag combined with the registry's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryScanning {
    pub scan_on_push: bool,
    pub frequency: ScanFrequency,
    /// The registry rule filters that matched.
    pub applied_filters: Vec<String>,
}

impl ScanningConfiguration {
    const KEY: &str = "scanning/registry";

    /// The most frequent scanning any rule (or the repository's own flag) asks for.
    pub fn for_repository(&self, repo: &RepositoryName, repo_scan_on_push: bool) -> RepositoryScanning {
        let mut frequency = if repo_scan_on_push { ScanFrequency::ScanOnPush } else { ScanFrequency::Manual };
        let mut applied_filters = Vec::new();
        for rule in &self.rules {
            let matched: Vec<&String> = rule.filters.iter().filter(|f| wildcard_match(f, repo.as_str())).collect();
            if !matched.is_empty() {
                frequency = frequency.max(rule.frequency);
                applied_filters.extend(matched.into_iter().cloned());
            }
        }
        RepositoryScanning { scan_on_push: frequency >= ScanFrequency::ScanOnPush, frequency, applied_filters }
    }
}

impl Registry {
    /// The value of an account setting (its default when never set).
    pub async fn account_setting(&self, setting: AccountSetting) -> Result<String> {
        Ok(self.meta.registry_setting(&setting.key()).await?.unwrap_or_else(|| setting.values()[0].to_string()))
    }

    /// Sets an account setting; `value` must be one of [`AccountSetting::values`].
    pub async fn put_account_setting(&self, setting: AccountSetting, value: &str) -> Result<()> {
        if !setting.values().contains(&value) {
            return Err(RegistryError::InvalidSetting(format!(
                "{} can be {} in berth",
                setting.name(),
                setting.values().join(" or ")
            )));
        }
        Ok(self.meta.put_registry_setting(&setting.key(), value, self.now()).await?)
    }

    pub async fn scanning_configuration(&self) -> Result<ScanningConfiguration> {
        match self.meta.registry_setting(ScanningConfiguration::KEY).await? {
            None => Ok(ScanningConfiguration::default()),
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                RegistryError::Meta(berth_meta::MetaError::Corrupt(format!("scanning configuration: {e}")))
            }),
        }
    }

    pub async fn put_scanning_configuration(&self, config: &ScanningConfiguration) -> Result<()> {
        let json = serde_json::to_string(config).expect("the configuration serialises");
        self.meta.put_registry_setting(ScanningConfiguration::KEY, &json, self.now()).await?;
        *self.scanning_config.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }

    /// The scanning configuration as of at most [`CONFIG_CACHE`] ago (what every manifest push consults; a
    /// change made on another node applies within that time).
    pub(crate) async fn cached_scanning_configuration(&self) -> Result<Arc<ScanningConfiguration>> {
        if let Some((at, c)) = self.scanning_config.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && at.elapsed() < CONFIG_CACHE
        {
            return Ok(c.clone());
        }
        let fresh = Arc::new(self.scanning_configuration().await?);
        *self.scanning_config.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), fresh.clone()));
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_scanning_takes_the_most_frequent_rule() {
        let config = ScanningConfiguration {
            scan_type: ScanType::Basic,
            rules: vec![
                ScanRule { frequency: ScanFrequency::ScanOnPush, filters: vec!["prod/*".into(), "*".into()] },
                ScanRule { frequency: ScanFrequency::ContinuousScan, filters: vec!["prod/*".into()] },
            ],
        };
        let prod: RepositoryName = "prod/api".parse().unwrap();
        let s = config.for_repository(&prod, false);
        assert_eq!((s.frequency, s.scan_on_push), (ScanFrequency::ContinuousScan, true));
        assert_eq!(s.applied_filters, ["prod/*", "*", "prod/*"]);
        let dev: RepositoryName = "dev/api".parse().unwrap();
        assert_eq!(config.for_repository(&dev, false).frequency, ScanFrequency::ScanOnPush);
        let none = ScanningConfiguration::default();
        assert_eq!(none.for_repository(&dev, false).frequency, ScanFrequency::Manual);
        assert!(none.for_repository(&dev, true).scan_on_push);
    }

    #[test]
    fn account_settings_have_names_and_defaults() {
        for s in AccountSetting::ALL {
            assert_eq!(AccountSetting::parse(s.name()), Some(s));
            assert!(!s.values().is_empty());
        }
        assert_eq!(AccountSetting::parse("NOPE"), None);
    }
}
