//! A clock the black-box tests can move: `BERTH_TEST_CLOCK_FILE` names a file holding a number of seconds
//! added to the system time, re-read at every reading (a missing or unreadable file counts as 0). Lifecycle
//! tests push images "days apart" by writing the file between pushes instead of sleeping.
//!
//! Honoured only by debug builds (the test suite's): a release binary ignores the variable, so time cannot be
//! moved on a production server. Only the registry's clock moves; authentication keeps the system time (SigV4
//! signatures and tokens are checked against real time).

use std::path::PathBuf;
use std::sync::Arc;

use berth_registry::{Clock, SystemClock};

struct FileOffsetClock(PathBuf);

impl Clock for FileOffsetClock {
    fn now(&self) -> i64 {
        let offset = std::fs::read_to_string(&self.0).ok().and_then(|s| s.trim().parse::<i64>().ok()).unwrap_or(0);
        SystemClock.now() + offset
    }
}

/// The registry's clock: the system's, or in a debug build with `BERTH_TEST_CLOCK_FILE` set, the movable one.
pub fn registry_clock() -> Arc<dyn Clock> {
    if cfg!(debug_assertions)
        && let Some(path) = std::env::var_os("BERTH_TEST_CLOCK_FILE")
    {
        tracing::warn!(file = ?path, "the registry's clock is moved by a test file (BERTH_TEST_CLOCK_FILE)");
        return Arc::new(FileOffsetClock(PathBuf::from(path)));
    }
    Arc::new(SystemClock)
}
