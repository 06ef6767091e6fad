//! Rate limits: how many manifest pulls (per principal, or per address for anonymous callers) and how many
//! API requests a caller may make per fixed window, enforced across nodes by a bounded approximation.
//!
//! Windows are fixed and aligned to the epoch (`start = now - now % window`), so every node agrees on them
//! without talking. Each node counts what it admits in memory and reports the counts to the metadata store
//! (`berth_meta::ratelimits`), which adds them up and answers each counter's total; a node decides on the last
//! total it read plus what it admitted since. It reports every second ([`RateLimiter::sync`], from the
//! server's upkeep) and, before admitting more, whenever what it admitted since its last read reaches the
//! limit's *slack* (a tenth of the limit, at least 1) — so no node ever runs more than the slack ahead of
//! what it knows. A counter new to the node (a new window, a restarted node) is read before its first
//! request is admitted. Requests waiting for a read at the same time share one report.
//!
//! Hence the bound: with N nodes, a window admits at most `limit + (N - 1) × slack` requests (see
//! [`Rate::slack`]; one node is exact, across restarts too). Why: take the node whose last read reached the
//! store last; its read saw every count reported before it, and it admits only while that total plus what it
//! admitted since stays under the limit; every other node's counts missing from that read are ones it admitted
//! after starting its own last report, at most a slack. A refusal is always right: totals only grow within a
//! window, so a node's view never overstates them.
//!
//! The metadata store being unreachable does not refuse requests (they would fail on it anyway where they
//! need it); the node then decides on what it counted itself and reports when the store is back.
//!
//! Administrators are never limited ([`Identity::rate_limit_subject`]). What is counted is decided by the API
//! layer's one access decision (`berth_api::access`), right after a request was allowed: refused requests
//! count for nothing. Time is passed in.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use berth_meta::ratelimits::{RateCount, RateLimitStore};

use crate::{Caller, Identity, Principal, Result};

/// Which limit a count is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    /// `GET /v2/<name>/manifests/<ref>` by an authenticated principal.
    ManifestPulls,
    /// The same by an anonymous caller, per client address.
    AnonymousManifestPulls,
    /// Every API request of every surface (but the separate metrics listener).
    Requests,
}

impl LimitKind {
    pub const ALL: [LimitKind; 3] = [LimitKind::ManifestPulls, LimitKind::AnonymousManifestPulls, LimitKind::Requests];

    /// The name in the configuration, the metadata store and the `limit` label of metrics.
    pub fn label(self) -> &'static str {
        match self {
            LimitKind::ManifestPulls => "manifest_pulls",
            LimitKind::AnonymousManifestPulls => "anonymous_manifest_pulls",
            LimitKind::Requests => "requests",
        }
    }

    fn counted(self) -> &'static str {
        match self {
            LimitKind::ManifestPulls | LimitKind::AnonymousManifestPulls => "manifest pulls",
            LimitKind::Requests => "requests",
        }
    }
}

/// `limit` requests per `window` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub limit: u64,
    pub window: u64,
}

impl Rate {
    /// A rate of at least one request per window of at least one second.
    pub fn new(limit: u64, window: u64) -> Result<Rate, String> {
        if limit == 0 {
            return Err("the limit must be at least 1 (leave the setting out for no limit)".into());
        }
        if window == 0 || i64::try_from(window).is_err() {
            return Err("the window must be at least one second".into());
        }
        Ok(Rate { limit, window })
    }

    /// How far one node may run ahead of the total it last read: a tenth of the limit, at least 1. With N nodes
    /// a window admits at most `limit + (N - 1) × slack`.
    pub fn slack(self) -> u64 {
        self.limit.div_ceil(10).max(1)
    }

    /// The window `now` lies in: `[start, end)`.
    pub fn window_at(self, now: i64) -> (i64, i64) {
        let w = self.window as i64;
        let start = now - now.rem_euclid(w);
        (start, start.saturating_add(w))
    }

    /// The window as configured: `6h`, `1m`, `90s`, `1d`.
    pub fn window_label(self) -> String {
        let w = self.window;
        if w.is_multiple_of(86_400) {
            format!("{}d", w / 86_400)
        } else if w.is_multiple_of(3600) {
            format!("{}h", w / 3600)
        } else if w.is_multiple_of(60) {
            format!("{}m", w / 60)
        } else {
            format!("{w}s")
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} per {}", self.limit, self.window_label())
    }
}

/// The configured limits; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    pub manifest_pulls: Option<Rate>,
    pub anonymous_manifest_pulls: Option<Rate>,
    pub requests: Option<Rate>,
}

impl RateLimits {
    pub fn get(&self, kind: LimitKind) -> Option<Rate> {
        match kind {
            LimitKind::ManifestPulls => self.manifest_pulls,
            LimitKind::AnonymousManifestPulls => self.anonymous_manifest_pulls,
            LimitKind::Requests => self.requests,
        }
    }

    pub fn is_off(&self) -> bool {
        LimitKind::ALL.iter().all(|k| self.get(*k).is_none())
    }
}

/// Whom the limits count.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// An authenticated principal, by ARN (a user, whichever credential it used; a robot token).
    Principal(String),
    /// An anonymous caller, by client address (`ip:ADDRESS`; an IPv6 caller by its /64, as the connection cap
    /// counts it, since one host commonly holds a whole /64).
    Address(String),
}

impl Subject {
    pub fn address(ip: Option<IpAddr>) -> Subject {
        Subject::Address(match ip.map(|ip| ip.to_canonical()) {
            Some(IpAddr::V4(v4)) => format!("ip:{v4}"),
            Some(IpAddr::V6(v6)) => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("ip:{net}/64")
            }
            None => "ip:unknown".into(),
        })
    }

    /// The key in the metadata store and in messages.
    pub fn key(&self) -> &str {
        match self {
            Subject::Principal(arn) => arn,
            Subject::Address(a) => a,
        }
    }

    pub fn is_anonymous(&self) -> bool {
        matches!(self, Subject::Address(_))
    }

    /// The manifest pull limit that applies to this subject.
    pub fn pull_kind(&self) -> LimitKind {
        if self.is_anonymous() { LimitKind::AnonymousManifestPulls } else { LimitKind::ManifestPulls }
    }
}

impl Identity {
    /// Whom `caller`'s requests count against, `None` for an administrator (never limited). A bearer token
    /// counts as the user or robot it was issued to (so `docker pull` and a direct Basic call share one
    /// quota), an anonymous one as its address.
    pub async fn rate_limit_subject(&self, caller: &Caller) -> Result<Option<Subject>> {
        if self.is_administrator(&caller.principal).await? {
            return Ok(None);
        }
        Ok(Some(self.subject_of(caller)))
    }

    /// Whom `caller` is to the rate limits and to metering, administrators included: a user (whichever
    /// credential) or robot by ARN, a bearer token as the user or robot it was issued to, an anonymous caller
    /// as its address.
    pub fn subject_of(&self, caller: &Caller) -> Subject {
        let account = self.account();
        match &caller.principal {
            Principal::Anonymous => Subject::address(caller.source_ip),
            Principal::User { name, .. } => Subject::Principal(account.user_arn(name)),
            Principal::Robot { name, .. } => Subject::Principal(account.robot_arn(name)),
            Principal::Token { subject, .. } => {
                if let Some(user) = subject.strip_prefix("user/") {
                    Subject::Principal(account.user_arn(user))
                } else if let Some(robot) = subject.strip_prefix("robot/") {
                    Subject::Principal(account.robot_arn(robot))
                } else {
                    Subject::address(caller.source_ip)
                }
            }
        }
    }
}

/// What is left of a limit after a request: the `RateLimit-Limit` / `RateLimit-Remaining` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub rate: Rate,
    pub remaining: u64,
}

/// A refusal: the limit is used up until the window ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    pub kind: LimitKind,
    pub rate: Rate,
    pub subject: String,
    /// Seconds until the window ends (at least 1).
    pub retry_after: u64,
    /// Whether this is the first refusal of this subject in this window on this node (worth an audit record;
    /// the others are not).
    pub first: bool,
}

impl fmt::Display for Throttled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.kind == LimitKind::Requests { "request rate limit" } else { "pull rate limit" };
        write!(
            f,
            "{what} reached: {} allows {} {} per {} (limit {}); retry in {} seconds",
            self.subject,
            self.rate.limit,
            self.kind.counted(),
            self.rate.window_label(),
            self.kind.label(),
            self.retry_after
        )
    }
}

type Key = (LimitKind, String);

/// One counter of this node: the window it counts, the total the store last answered for it, and what this
/// node admitted since (reported and awaiting the answer, or not reported yet).
#[derive(Debug, Clone, Default)]
struct Counter {
    window_start: i64,
    window_end: i64,
    total: u64,
    in_flight: u64,
    pending: u64,
    /// Whether `total` was ever read (a new counter — a new window, a restarted node — reads before it admits).
    read: bool,
    /// A request waits for the next report to read this counter's total.
    wants_read: bool,
    refused: bool,
}

impl Counter {
    fn used(&self) -> u64 {
        self.total.saturating_add(self.in_flight).saturating_add(self.pending)
    }

    fn ahead(&self) -> u64 {
        self.in_flight.saturating_add(self.pending)
    }
}

/// How many times one request reports before it is decided anyway (only under a flood of concurrent requests
/// of one subject).
const MAX_SYNCS: usize = 3;
/// After a failed report, requests stop reporting themselves (the upkeep keeps trying) for this long.
const STORE_PAUSE_SECS: i64 = 5;

/// The rate limits of one node. See the module docs.
pub struct RateLimiter {
    limits: RateLimits,
    store: Arc<dyn RateLimitStore>,
    counters: Mutex<HashMap<Key, Counter>>,
    /// One report at a time on this node, so a counter has at most one report in flight.
    gate: tokio::sync::Mutex<()>,
    /// Until when requests do not report themselves (the store failed).
    paused_until: Mutex<i64>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits, store: Arc<dyn RateLimitStore>) -> RateLimiter {
        RateLimiter {
            limits,
            store,
            counters: Mutex::default(),
            gate: tokio::sync::Mutex::new(()),
            paused_until: Mutex::new(i64::MIN),
        }
    }

    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    fn counters(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Counter>> {
        self.counters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The counter of `key` for the window of `now` (a new one when the window changed).
    fn counter<'a>(map: &'a mut HashMap<Key, Counter>, key: &Key, rate: Rate, now: i64) -> &'a mut Counter {
        let (start, end) = rate.window_at(now);
        let c = map.entry(key.clone()).or_default();
        if c.window_start != start || c.window_end != end {
            *c = Counter { window_start: start, window_end: end, ..Counter::default() };
        }
        c
    }

    /// Counts one request of `subject` against `kind` at `now`, or refuses it when the limit is used up.
    /// `Ok(None)` when that limit is not configured.
    pub async fn admit(&self, kind: LimitKind, subject: &Subject, now: i64) -> Result<Option<Quota>, Throttled> {
        let Some(rate) = self.limits.get(kind) else { return Ok(None) };
        let key = (kind, subject.key().to_string());
        for attempt in 0..=MAX_SYNCS {
            {
                let mut map = self.counters();
                let c = Self::counter(&mut map, &key, rate, now);
                if c.used() >= rate.limit {
                    let first = !c.refused;
                    c.refused = true;
                    let retry_after = (c.window_end - now).max(1) as u64;
                    return Err(Throttled { kind, rate, subject: key.1, retry_after, first });
                }
                if (c.read && c.ahead() < rate.slack()) || attempt == MAX_SYNCS || self.paused(now) {
                    c.pending += 1;
                    return Ok(Some(Quota { rate, remaining: rate.limit - c.used() }));
                }
                // Never read, or as far ahead of the last total as this node may be: read it (reporting what
                // this node admitted), then decide again.
                c.wants_read = true;
            }
            self.read_wanted(now).await;
        }
        unreachable!("the last attempt decides")
    }

    /// What is left of `kind` for `subject` at `now`, counting nothing (`HEAD` requests carry the headers
    /// too). `None` when that limit is not configured.
    pub async fn peek(&self, kind: LimitKind, subject: &Subject, now: i64) -> Option<Quota> {
        let rate = self.limits.get(kind)?;
        let key = (kind, subject.key().to_string());
        for attempt in 0..=1 {
            {
                let mut map = self.counters();
                let c = Self::counter(&mut map, &key, rate, now);
                if c.read || attempt == 1 || self.paused(now) {
                    return Some(Quota { rate, remaining: rate.limit.saturating_sub(c.used()) });
                }
                c.wants_read = true;
            }
            self.read_wanted(now).await;
        }
        unreachable!("the last attempt answers")
    }

    /// Reads the totals requests wait for. Requests that wait at once share one report: whoever gets the gate
    /// first reads for all of them, the others find their counter read.
    async fn read_wanted(&self, now: i64) {
        if let Err(e) = self.report(|_, c| c.wants_read, now).await {
            tracing::warn!(error = %e, "reporting rate limit counts failed; deciding on this node's counts");
        }
    }

    fn paused(&self, now: i64) -> bool {
        now < *self.paused_until.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reports every counter with unreported counts and reads back their totals, then forgets the counters
    /// of ended windows. The server's upkeep calls it every second.
    pub async fn sync(&self, now: i64) -> berth_meta::Result<()> {
        let reported = self.report(|_, c| c.pending > 0, now).await;
        self.counters().retain(|_, c| c.window_end > now);
        reported
    }

    /// Deletes the store's counters of ended windows (any node may; the upkeep does, every minute).
    pub async fn prune(&self, now: i64) -> berth_meta::Result<u64> {
        self.store.prune_rate_counts(now).await
    }

    /// Reports the counters `select` picks (their unreported counts, 0 for none: then it only reads) and
    /// takes the totals the store answers.
    async fn report(&self, select: impl Fn(&Key, &Counter) -> bool + Send, now: i64) -> berth_meta::Result<()> {
        let _one_at_a_time = self.gate.lock().await;
        let (keys, counts): (Vec<(Key, i64)>, Vec<RateCount>) = {
            let mut map = self.counters();
            map.iter_mut()
                .filter(|(k, c)| select(k, c))
                .map(|(k, c)| {
                    c.wants_read = false;
                    c.in_flight = std::mem::take(&mut c.pending);
                    let count = RateCount {
                        limit: k.0.label().to_string(),
                        subject: k.1.clone(),
                        window_start: c.window_start,
                        window_end: c.window_end,
                        delta: c.in_flight,
                    };
                    ((k.clone(), c.window_start), count)
                })
                .unzip()
        };
        if counts.is_empty() {
            return Ok(());
        }
        let answer = self.store.add_rate_counts(&counts).await;
        let mut map = self.counters();
        match answer {
            Ok(totals) => {
                *self.paused_until.lock().unwrap_or_else(|p| p.into_inner()) = i64::MIN;
                for ((key, start), total) in keys.iter().zip(totals) {
                    // A counter whose window moved on meanwhile starts over; the report was for the old one.
                    if let Some(c) = map.get_mut(key).filter(|c| c.window_start == *start) {
                        c.total = c.total.max(total);
                        c.in_flight = 0;
                        c.read = true;
                    }
                }
                Ok(())
            }
            Err(e) => {
                *self.paused_until.lock().unwrap_or_else(|p| p.into_inner()) = now + STORE_PAUSE_SECS;
                for (key, start) in &keys {
                    if let Some(c) = map.get_mut(key).filter(|c| c.window_start == *start) {
                        c.pending += std::mem::take(&mut c.in_flight);
                    }
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests;
