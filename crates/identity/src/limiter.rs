//! Slowing down password guessing without locking legitimate users out.
//!
//! Failures are counted per (user, address) pair and per user, in windows of a fixed length. Past a limit,
//! further attempts for that user from that address (or, past the per-user limit, for that user from
//! anywhere) are refused until the window ends. There is no per-address limit, so the users behind one NAT
//! address are not locked out together by one of them; the administrator is exempt from the per-user limit
//! (only the pair that guesses is slowed down), so nobody elsewhere can lock the registry's root out.
//!
//! An attempt is *reserved* before its (slow) password check and counted as a failure at once; a success
//! gives the reservation back. So concurrent guesses cannot all pass the check before any failure counts:
//! at most the limit's worth of checks ever run in a window.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// The administrator's user name (exempt from the per-user limit).
const ADMIN: &str = "admin";

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures allowed per (user, address) per window.
    pub per_user_address: u32,
    /// Failures allowed per user, from all addresses together, per window.
    pub per_user: u32,
    /// Window length in seconds.
    pub window: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { per_user_address: 10, per_user: 100, window: 300 }
    }
}

#[derive(Default)]
struct Counter {
    window_start: i64,
    failures: u32,
}

impl Counter {
    fn current(&mut self, now: i64, window: i64) -> &mut Self {
        if now - self.window_start >= window {
            self.window_start = now;
            self.failures = 0;
        }
        self
    }
}

#[derive(Default)]
struct Counters {
    by_pair: HashMap<(String, IpAddr), Counter>,
    by_user: HashMap<String, Counter>,
}

#[derive(Default)]
pub struct LoginLimiter {
    limits: Limits,
    counters: Mutex<Counters>,
}

/// A reserved attempt: counted as a failure until [`Attempt::succeeded`] gives it back.
#[must_use]
pub struct Attempt<'a> {
    limiter: &'a LoginLimiter,
    user: String,
    ip: IpAddr,
    window_start: (i64, i64),
}

impl Attempt<'_> {
    /// The check passed: the attempt does not count (if its window is still the current one).
    pub fn succeeded(self) {
        let mut c = self.limiter.counters.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = c.by_pair.get_mut(&(self.user.clone(), self.ip))
            && p.window_start == self.window_start.0
        {
            p.failures = p.failures.saturating_sub(1);
        }
        if let Some(u) = c.by_user.get_mut(&self.user)
            && u.window_start == self.window_start.1
        {
            u.failures = u.failures.saturating_sub(1);
        }
    }
}

impl LoginLimiter {
    pub fn new(limits: Limits) -> Self {
        LoginLimiter { limits, ..Default::default() }
    }

    /// Seconds until `user` may try again from `ip`, or `None` when an attempt may proceed.
    pub fn retry_after(&self, user: &str, ip: IpAddr, now: i64) -> Option<i64> {
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        self.blocked(&mut c, user, ip, now)
    }

    fn blocked(&self, c: &mut Counters, user: &str, ip: IpAddr, now: i64) -> Option<i64> {
        let w = self.limits.window;
        if let Some(p) = c.by_pair.get_mut(&(user.to_string(), ip)).map(|p| p.current(now, w))
            && p.failures >= self.limits.per_user_address
        {
            return Some(p.window_start + w - now);
        }
        if user != ADMIN
            && let Some(u) = c.by_user.get_mut(user).map(|u| u.current(now, w))
            && u.failures >= self.limits.per_user
        {
            return Some(u.window_start + w - now);
        }
        None
    }

    /// Reserves an attempt for `user` from `ip`, counted as a failure from now on; `Err(retry_after)` when
    /// a limit is reached.
    pub fn reserve(&self, user: &str, ip: IpAddr, now: i64) -> Result<Attempt<'_>, i64> {
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(retry_after) = self.blocked(&mut c, user, ip, now) {
            return Err(retry_after);
        }
        let window_start = self.count(&mut c, user, ip, now);
        Ok(Attempt { limiter: self, user: user.to_string(), ip, window_start })
    }

    /// Counts a failure that needed no reservation (a bad signature: cheap to check).
    pub fn record_failure(&self, user: &str, ip: IpAddr, now: i64) {
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        self.count(&mut c, user, ip, now);
    }

    fn count(&self, c: &mut Counters, user: &str, ip: IpAddr, now: i64) -> (i64, i64) {
        let w = self.limits.window;
        let pair = c.by_pair.entry((user.to_string(), ip)).or_default().current(now, w);
        pair.failures += 1;
        let pair_start = pair.window_start;
        let by_user = c.by_user.entry(user.to_string()).or_default().current(now, w);
        by_user.failures += 1;
        let user_start = by_user.window_start;
        // Keep memory bounded: forget windows that have ended.
        if c.by_pair.len() > 100_000 {
            c.by_pair.retain(|_, p| now - p.window_start < w);
        }
        if c.by_user.len() > 100_000 {
            c.by_user.retain(|_, u| now - u.window_start < w);
        }
        (pair_start, user_start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    fn limiter(per_user_address: u32, per_user: u32) -> LoginLimiter {
        LoginLimiter::new(Limits { per_user_address, per_user, window: 60 })
    }

    #[test]
    fn a_guessing_pair_is_slowed_but_others_are_not() {
        let l = limiter(3, 100);
        for _ in 0..3 {
            drop(l.reserve("alice", A, 1000).expect("under the limit"));
        }
        assert_eq!(l.retry_after("alice", A, 1010), Some(50));
        assert!(l.reserve("alice", A, 1010).is_err());
        assert_eq!(l.retry_after("alice", B, 1010), None, "alice from another address is not locked out");
        assert_eq!(l.retry_after("bob", A, 1010), None, "other users behind that address are not affected");
        assert_eq!(l.retry_after("alice", A, 1060), None, "the window ends");
    }

    #[test]
    fn reservations_count_before_the_check_finishes() {
        let l = limiter(10, 100);
        // 600 concurrent attempts: only 10 get to check a password.
        let held: Vec<_> = (0..600).filter_map(|_| l.reserve("admin", A, 5).ok()).collect();
        assert_eq!(held.len(), 10);
    }

    #[test]
    fn successes_give_their_reservation_back() {
        let l = limiter(2, 100);
        for _ in 0..10 {
            l.reserve("alice", A, 5).unwrap().succeeded();
        }
        assert_eq!(l.retry_after("alice", A, 5), None, "successful logins never lock out");
    }

    #[test]
    fn a_user_guessed_from_everywhere_is_slowed_except_the_administrator() {
        let l = limiter(100, 5);
        for i in 0..5u8 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::new(10, 1, 0, i));
            drop(l.reserve("alice", ip, 0).unwrap());
            drop(l.reserve("admin", ip, 0).unwrap());
        }
        assert!(l.retry_after("alice", B, 1).is_some(), "per-user limit");
        assert!(l.retry_after("admin", B, 1).is_none(), "admin is never locked out from elsewhere");
        assert!(l.retry_after("bob", B, 1).is_none());
    }
}
