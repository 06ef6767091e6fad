//! Pull accounting: `last_pulled_at` per manifest and bytes moved per repository.
//!
//! Recording every pull with a database write would put one write on the hot path of every manifest GET
//! (and SQLite has one writer). Pulls are instead gathered in memory and written in one batch by
//! [`PullRecorder::flush`], which the server calls every second and at shutdown; a crash loses at most that
//! second of statistics, never registry content.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use berth_meta::{MetaStore, Usage};
use berth_oci::{Digest, RepositoryName};

use crate::Clock;

#[derive(Default)]
struct Pending {
    last_pulled: HashMap<(RepositoryName, Digest), i64>,
    usage: HashMap<RepositoryName, Usage>,
}

#[derive(Clone)]
pub struct PullRecorder {
    meta: Arc<dyn MetaStore>,
    clock: Arc<dyn Clock>,
    pending: Arc<Mutex<Pending>>,
}

impl PullRecorder {
    pub(crate) fn new(meta: Arc<dyn MetaStore>, clock: Arc<dyn Clock>) -> Self {
        PullRecorder { meta, clock, pending: Default::default() }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Pending) -> R) -> R {
        f(&mut self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub(crate) fn record_pull(&self, repo: &RepositoryName, digest: &Digest, now: i64, bytes: u64) {
        self.with(|p| {
            p.last_pulled.insert((repo.clone(), digest.clone()), now);
            let u = p.usage.entry(repo.clone()).or_default();
            u.pulls += 1;
            u.bytes_out += bytes;
        });
    }

    pub(crate) fn add_bytes_out(&self, repo: &RepositoryName, bytes: u64) {
        self.with(|p| p.usage.entry(repo.clone()).or_default().bytes_out += bytes);
    }

    pub(crate) fn add_bytes_in(&self, repo: &RepositoryName, bytes: u64) {
        self.with(|p| p.usage.entry(repo.clone()).or_default().bytes_in += bytes);
    }

    /// Writes the pending statistics to the metadata store.
    pub async fn flush(&self) -> Result<(), berth_meta::MetaError> {
        let pending = self.with(std::mem::take);
        // Traffic counts towards the day it is written in (at most a second late).
        let now = self.clock.now();
        for ((repo, digest), at) in pending.last_pulled {
            self.meta.record_pull(&repo, &digest, at).await?;
        }
        for (repo, u) in pending.usage {
            self.meta.add_usage(&repo, u.bytes_in, u.bytes_out, u.pulls, now).await?;
        }
        Ok(())
    }
}
