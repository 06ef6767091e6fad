//! How webhooks behave on this node (`[webhooks]` in the config file).

use std::time::Duration;

/// Which pulls become `image.pull` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullEvents {
    /// None (the default: pulls are the most frequent thing a registry does).
    #[default]
    Off,
    /// Every pull.
    All,
    /// One pull in N, counted per node.
    Sample(u64),
}

impl PullEvents {
    /// Reads `off`, `all` or `sample:N`.
    pub fn parse(text: &str) -> Result<PullEvents, String> {
        match text.trim() {
            "off" | "" => Ok(PullEvents::Off),
            "all" => Ok(PullEvents::All),
            other => match other.strip_prefix("sample:").map(|n| n.trim().parse::<u64>()) {
                Some(Ok(n)) if n >= 1 => Ok(if n == 1 { PullEvents::All } else { PullEvents::Sample(n) }),
                _ => Err(format!("{text:?} is not off, all or sample:N (N ≥ 1)")),
            },
        }
    }
}

/// Webhook settings. The defaults suit production: 8 attempts, 30 s after the first failure doubling up to
/// 30 minutes (about an hour and a quarter from first to last attempt), disabled after 5 deliveries in a
/// row failed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Plain `http://` URLs and loopback, private, link-local and other non-public addresses are allowed
    /// (`BERTH_WEBHOOKS_ALLOW_PRIVATE`, `[webhooks] allow_private`).
    pub allow_private: bool,
    pub pull_events: PullEvents,
    /// Attempts per delivery, the first included.
    pub max_attempts: u32,
    /// Pause after the first failed attempt; doubles after each further one.
    pub retry_base: Duration,
    /// Longest pause between two attempts.
    pub retry_max: Duration,
    /// Deliveries in a row that failed for good before the subscription is disabled (0: never).
    pub disable_after: u32,
    /// Connecting to the receiver.
    pub connect_timeout: Duration,
    /// A whole attempt: connecting, sending, the receiver's answer.
    pub timeout: Duration,
    /// How long delivery attempts stay in the log.
    pub log_retention: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allow_private: false,
            pull_events: PullEvents::Off,
            max_attempts: 8,
            retry_base: Duration::from_secs(30),
            retry_max: Duration::from_secs(30 * 60),
            disable_after: 5,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            log_retention: Duration::from_secs(30 * 86_400),
        }
    }
}

impl WebhookSettings {
    /// Seconds to wait after failed attempt number `attempt` (1 for the first).
    pub fn retry_after(&self, attempt: u32) -> i64 {
        let base = self.retry_base.as_secs().max(1);
        let max = self.retry_max.as_secs().max(base);
        let pause = base.saturating_mul(1u64 << attempt.saturating_sub(1).min(30)).min(max);
        i64::try_from(pause).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_events_parse() {
        assert_eq!(PullEvents::parse("off"), Ok(PullEvents::Off));
        assert_eq!(PullEvents::parse("all"), Ok(PullEvents::All));
        assert_eq!(PullEvents::parse("sample:10"), Ok(PullEvents::Sample(10)));
        assert_eq!(PullEvents::parse("sample:1"), Ok(PullEvents::All));
        assert!(PullEvents::parse("sample:0").is_err());
        assert!(PullEvents::parse("some").is_err());
    }

    #[test]
    fn default_schedule_spans_about_an_hour() {
        let s = WebhookSettings::default();
        let pauses: Vec<i64> = (1..s.max_attempts).map(|a| s.retry_after(a)).collect();
        assert_eq!(pauses, [30, 60, 120, 240, 480, 960, 1800]);
        let total: i64 = pauses.iter().sum();
        assert!((3600..=5400).contains(&total), "{total}");
        let quick = WebhookSettings { retry_base: Duration::from_secs(1), ..s };
        assert_eq!(quick.retry_after(1), 1);
        assert_eq!(quick.retry_after(3), 4);
    }
}
