//! Slowing down password guessing without locking legitimate users out.
//!
//! Failures are counted per source address and per (user, address) pair, in windows of a fixed length.
//! Past the limit, further attempts from that address (or for that user from that address) are refused
//! until the window ends. An attacker elsewhere therefore cannot lock a user out: only the pair or the
//! address that failed is slowed down. Successful logins do not count.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures allowed per address per window.
    pub per_address: u32,
    /// Failures allowed per (user, address) per window.
    pub per_user_address: u32,
    /// Window length in seconds.
    pub window: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { per_address: 30, per_user_address: 10, window: 300 }
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
pub struct LoginLimiter {
    limits: Limits,
    by_address: Mutex<HashMap<IpAddr, Counter>>,
    by_pair: Mutex<HashMap<(String, IpAddr), Counter>>,
}

impl LoginLimiter {
    pub fn new(limits: Limits) -> Self {
        LoginLimiter { limits, ..Default::default() }
    }

    /// Seconds until `user` may try again from `ip`, or `None` when an attempt may proceed.
    pub fn retry_after(&self, user: &str, ip: IpAddr, now: i64) -> Option<i64> {
        let w = self.limits.window;
        let mut a = self.by_address.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = a.get_mut(&ip).map(|c| c.current(now, w))
            && c.failures >= self.limits.per_address
        {
            return Some(c.window_start + w - now);
        }
        drop(a);
        let mut p = self.by_pair.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = p.get_mut(&(user.to_string(), ip)).map(|c| c.current(now, w))
            && c.failures >= self.limits.per_user_address
        {
            return Some(c.window_start + w - now);
        }
        None
    }

    pub fn record_failure(&self, user: &str, ip: IpAddr, now: i64) {
        let w = self.limits.window;
        let mut a = self.by_address.lock().unwrap_or_else(|p| p.into_inner());
        a.entry(ip).or_default().current(now, w).failures += 1;
        // Keep memory bounded: forget windows that have ended.
        if a.len() > 100_000 {
            a.retain(|_, c| now - c.window_start < w);
        }
        drop(a);
        let mut p = self.by_pair.lock().unwrap_or_else(|p| p.into_inner());
        p.entry((user.to_string(), ip)).or_default().current(now, w).failures += 1;
        if p.len() > 100_000 {
            p.retain(|_, c| now - c.window_start < w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn a_guessing_address_is_slowed_but_others_are_not() {
        let l = LoginLimiter::new(Limits { per_address: 100, per_user_address: 3, window: 60 });
        for _ in 0..3 {
            assert_eq!(l.retry_after("alice", A, 1000), None);
            l.record_failure("alice", A, 1000);
        }
        assert_eq!(l.retry_after("alice", A, 1010), Some(50));
        assert_eq!(l.retry_after("alice", B, 1010), None, "alice from another address is not locked out");
        assert_eq!(l.retry_after("bob", A, 1010), None, "other users from that address are not affected");
        assert_eq!(l.retry_after("alice", A, 1060), None, "the window ends");
    }

    #[test]
    fn an_address_spraying_many_users_is_slowed() {
        let l = LoginLimiter::new(Limits { per_address: 5, per_user_address: 100, window: 60 });
        for i in 0..5 {
            l.record_failure(&format!("user{i}"), A, 0);
        }
        assert!(l.retry_after("someone-else", A, 1).is_some());
        assert!(l.retry_after("someone-else", B, 1).is_none());
    }
}
