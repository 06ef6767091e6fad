//! `[webhooks]`: how subscriptions are delivered (see the README's "Webhooks").

use berth_registry::webhooks::{PullEvents, WebhookSettings};
use serde::Deserialize;

use super::{ResolveError, parse_duration};

/// Durations as `30s`, `5m`, `1h`, `30d` (a bare number is seconds).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWebhooks {
    /// Allow plain `http://` URLs and loopback/private addresses (also `BERTH_WEBHOOKS_ALLOW_PRIVATE`).
    pub allow_private: Option<bool>,
    /// Pulls as `image.pull` events: `off` (default), `all` or `sample:N` (one pull in N per node).
    pub pull_events: Option<String>,
    /// Attempts per delivery, the first included (default 8).
    pub max_attempts: Option<u32>,
    /// Pause after the first failed attempt, doubling after each further one (default 30s).
    pub retry_base: Option<String>,
    /// Longest pause between attempts (default 30m).
    pub retry_max: Option<String>,
    /// Deliveries in a row that failed after every retry before the subscription is disabled; 0 never
    /// (default 5).
    pub disable_after: Option<u32>,
    /// Connecting to a receiver (default 5s).
    pub connect_timeout: Option<String>,
    /// A whole attempt (default 15s).
    pub timeout: Option<String>,
    /// How long delivery attempts stay in the log (default 30d).
    pub log_retention: Option<String>,
}

impl FileWebhooks {
    /// These settings over the defaults, `allow_private` from flags/environment winning over the file.
    pub fn resolve(self, allow_private: Option<bool>) -> Result<WebhookSettings, ResolveError> {
        let d = WebhookSettings::default();
        let err = |setting: &'static str| move |message: String| ResolveError::Webhooks { setting, message };
        let duration = |setting: &'static str, value: Option<String>, default| match value {
            Some(v) if !v.trim().is_empty() => parse_duration(&v).map_err(err(setting)),
            _ => Ok(default),
        };
        let max_attempts = self.max_attempts.unwrap_or(d.max_attempts);
        if max_attempts == 0 {
            return Err(err("[webhooks] max_attempts")("must be at least 1".into()));
        }
        Ok(WebhookSettings {
            allow_private: allow_private.or(self.allow_private).unwrap_or(d.allow_private),
            pull_events: self
                .pull_events
                .map_or(Ok(d.pull_events), |p| PullEvents::parse(&p))
                .map_err(err("[webhooks] pull_events"))?,
            max_attempts,
            retry_base: duration("[webhooks] retry_base", self.retry_base, d.retry_base)?,
            retry_max: duration("[webhooks] retry_max", self.retry_max, d.retry_max)?,
            disable_after: self.disable_after.unwrap_or(d.disable_after),
            connect_timeout: duration("[webhooks] connect_timeout", self.connect_timeout, d.connect_timeout)?,
            timeout: duration("[webhooks] timeout", self.timeout, d.timeout)?,
            log_retention: duration("[webhooks] log_retention", self.log_retention, d.log_retention)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::FileConfig;

    #[test]
    fn reads_the_section() {
        let file = FileConfig::parse(
            "[webhooks]\nallow_private = true\npull_events = \"sample:10\"\nretry_base = \"1s\"\nmax_attempts = 3\n",
        )
        .unwrap();
        let s = file.webhooks.resolve(None).unwrap();
        assert!(s.allow_private);
        assert_eq!(s.pull_events, PullEvents::Sample(10));
        assert_eq!((s.retry_base, s.max_attempts), (Duration::from_secs(1), 3));
        assert_eq!(s.disable_after, 5, "defaults for what is left out");
        assert!(FileConfig::parse("[webhooks]\nallow_privat = true\n").is_err(), "unknown keys are errors");
        let off = FileConfig::parse("[webhooks]\nallow_private = true\n").unwrap().webhooks.resolve(Some(false));
        assert!(!off.unwrap().allow_private, "the environment wins over the file");
        assert!(FileWebhooks { pull_events: Some("often".into()), ..Default::default() }.resolve(None).is_err());
        assert_eq!(FileWebhooks::default().resolve(None).unwrap(), WebhookSettings::default());
    }
}
