//! Per-repository storage figures on `/metrics`: each repository's total, exclusive, shared and reclaimable
//! bytes and its image count (`berth_meta::accounting` defines them), for the largest
//! [`MAX_REPOSITORIES`] repositories by total.
//!
//! They are rendered here as exposition text rather than kept in the process-wide recorder: the recorder
//! cannot forget a series, and a deleted repository must vanish from the next scrape. The accounts are
//! computed in SQL over every repository, so the text is reused for [`TTL`].

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use berth_meta::accounting::StorageAccount;
use berth_registry::Registry;
use tokio::sync::Mutex;

use super::names::{REPOSITORY_BYTES, REPOSITORY_IMAGES};

/// How long the per-repository figures are reused.
const TTL: Duration = Duration::from_secs(300);
/// Repositories exported (the largest by total bytes): bounds the number of series.
pub(crate) const MAX_REPOSITORIES: usize = 1000;
/// Accounts read per query.
const PAGE: u32 = 500;

struct Cached {
    at: Option<Instant>,
    text: String,
}

static CACHE: Mutex<Cached> = Mutex::const_new(Cached { at: None, text: String::new() });

/// The per-repository families as exposition text (empty when there is no repository).
pub(crate) async fn text(registry: &Registry) -> String {
    let mut cache = CACHE.lock().await;
    if cache.at.is_none_or(|at| at.elapsed() >= TTL) {
        match accounts(registry).await {
            Ok(accounts) => {
                cache.text = render(&accounts);
                cache.at = Some(Instant::now());
            }
            // Keeps the last text; the next scrape tries again.
            Err(e) => tracing::warn!(error = %e, "metrics: could not read repository storage figures"),
        }
    }
    cache.text.clone()
}

/// Every repository's account, then the largest [`MAX_REPOSITORIES`] in name order.
async fn accounts(registry: &Registry) -> berth_registry::Result<Vec<StorageAccount>> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = registry.storage_accounts(after.as_deref(), PAGE).await?;
        after = page.entries.last().map(|a| a.name.to_string());
        all.extend(page.entries);
        if !page.more {
            break;
        }
    }
    if all.len() > MAX_REPOSITORIES {
        all.sort_by(|a, b| b.total_bytes.cmp(&a.total_bytes).then_with(|| a.name.as_str().cmp(b.name.as_str())));
        all.truncate(MAX_REPOSITORIES);
        all.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
    }
    Ok(all)
}

fn render(accounts: &[StorageAccount]) -> String {
    if accounts.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP {REPOSITORY_BYTES} Bytes a repository stores, by kind: total (its blobs once, plus manifests), \
         exclusive (not linked elsewhere), shared (also linked elsewhere), reclaimable (by deleting its untagged \
         images). The largest {MAX_REPOSITORIES} repositories, refreshed at most every {} s.",
        TTL.as_secs()
    );
    let _ = writeln!(out, "# TYPE {REPOSITORY_BYTES} gauge");
    for a in accounts {
        let name = a.name.as_str();
        for (kind, bytes) in [
            ("total", a.total_bytes),
            ("exclusive", a.exclusive_bytes),
            ("shared", a.shared_bytes),
            ("reclaimable", a.reclaimable_bytes),
        ] {
            let _ = writeln!(out, "{REPOSITORY_BYTES}{{repository=\"{name}\",kind=\"{kind}\"}} {bytes}");
        }
    }
    let _ = writeln!(out, "# HELP {REPOSITORY_IMAGES} Manifests (images, indexes, artifacts) a repository holds.");
    let _ = writeln!(out, "# TYPE {REPOSITORY_IMAGES} gauge");
    for a in accounts {
        let _ = writeln!(out, "{REPOSITORY_IMAGES}{{repository=\"{}\"}} {}", a.name.as_str(), a.images);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(name: &str, total: u64) -> StorageAccount {
        StorageAccount {
            name: name.parse().unwrap(),
            total_bytes: total,
            exclusive_bytes: total - 1,
            shared_bytes: 1,
            reclaimable_bytes: 0,
            manifest_bytes: 1,
            blobs: 2,
            images: 3,
        }
    }

    #[test]
    fn one_series_per_repository_and_kind() {
        let text = render(&[account("team-a/app", 10), account("web", 5)]);
        assert!(text.contains("berth_repository_bytes{repository=\"team-a/app\",kind=\"total\"} 10\n"), "{text}");
        assert!(text.contains("berth_repository_bytes{repository=\"web\",kind=\"exclusive\"} 4\n"), "{text}");
        assert!(text.contains("berth_repository_images{repository=\"web\"} 3\n"), "{text}");
        assert_eq!(text.matches("# TYPE").count(), 2);
        assert_eq!(render(&[]), "");
    }
}
