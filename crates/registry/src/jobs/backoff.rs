//! How long a failed attempt waits before the next.

/// First pause after a failed attempt.
const BASE_SECS: i64 = 30;
/// Longest pause.
const CAP_SECS: i64 = 3600;

/// Seconds to wait after failed attempt number `attempt` (1 for the first): 30 s, doubling each time, at
/// most an hour.
pub fn backoff(attempt: u32) -> i64 {
    let doublings = attempt.saturating_sub(1).min(20);
    (BASE_SECS << doublings).min(CAP_SECS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn doubles_up_to_a_cap() {
        let pauses: Vec<i64> = (1..10).map(super::backoff).collect();
        assert_eq!(pauses, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(super::backoff(0), 30);
        assert_eq!(super::backoff(u32::MAX), 3600);
    }
}
