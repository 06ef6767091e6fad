//! Webhook subscriptions and their delivery log.

use crate::MetaStore;
use crate::webhooks::{DeliveryAttempt, FailureCount, NewWebhook};

fn new(url: &str) -> NewWebhook {
    NewWebhook {
        url: url.into(),
        events: vec!["image.push".into(), "scan.complete".into()],
        repository_filter: "conf-webhooks/*".into(),
        sealed_secret: vec![1, 2, 3, 0, 255],
        created_by: "user/admin".into(),
        now: 100,
    }
}

fn attempt(webhook_id: i64, n: u32, at: i64, succeeded: bool) -> DeliveryAttempt {
    DeliveryAttempt {
        id: 0,
        webhook_id,
        event_id: format!("ev-{n}"),
        event_type: "image.push".into(),
        attempt: n,
        at,
        status_code: if succeeded { Some(204) } else { Some(500) },
        error: (!succeeded).then(|| "HTTP 500".to_string()),
        duration_ms: 12,
        succeeded,
    }
}

/// Subscriptions round-trip (the sealed secret byte for byte); only enabled ones are matched; attempts are
/// listed newest first and paged; a success resets the failure count; failures that reach the limit disable
/// the subscription with its reason, and enabling clears both; deleting removes the log; pruning drops old
/// attempts only.
pub async fn webhooks<S: MetaStore>(store: &S) {
    let a = store.create_webhook(&new("https://a.example/hook")).await.unwrap();
    let b = store.create_webhook(&new("https://b.example/hook")).await.unwrap();
    assert!(b.id > a.id, "ids increase");
    assert_eq!(a.events, ["image.push", "scan.complete"]);
    assert_eq!(a.repository_filter, "conf-webhooks/*");
    assert_eq!(a.sealed_secret, [1, 2, 3, 0, 255], "the sealed secret is kept byte for byte");
    assert!(a.enabled && a.disabled_reason.is_none() && a.consecutive_failures == 0);
    assert_eq!((a.created_at, a.updated_at, a.created_by.as_str()), (100, 100, "user/admin"));
    assert_eq!(store.webhook(a.id).await.unwrap().as_ref(), Some(&a));
    assert!(store.webhook(b.id + 1000).await.unwrap().is_none());
    let listed: Vec<i64> =
        store.webhooks().await.unwrap().into_iter().filter(|w| w.id == a.id || w.id == b.id).map(|w| w.id).collect();
    assert_eq!(listed, [a.id, b.id]);

    // Attempts: newest first, paged by id, a success resets the count.
    store.record_webhook_attempt(&attempt(a.id, 1, 200, false)).await.unwrap();
    store.record_webhook_attempt(&attempt(a.id, 2, 210, false)).await.unwrap();
    assert_eq!(store.count_webhook_failure(a.id, 3, "failing", 211).await.unwrap(), FailureCount::Counted(1));
    store.record_webhook_attempt(&attempt(a.id, 3, 230, true)).await.unwrap();
    assert_eq!(store.webhook(a.id).await.unwrap().unwrap().consecutive_failures, 0, "a success resets the count");
    let log = store.webhook_deliveries(a.id, None, 10).await.unwrap();
    assert_eq!(log.iter().map(|d| d.attempt).collect::<Vec<_>>(), [3, 2, 1], "newest first");
    assert_eq!(log[0].status_code, Some(204));
    assert!(log[0].succeeded && log[0].error.is_none());
    assert_eq!((log[1].status_code, log[1].error.as_deref(), log[1].duration_ms), (Some(500), Some("HTTP 500"), 12));
    let page = store.webhook_deliveries(a.id, Some(log[0].id), 1).await.unwrap();
    assert_eq!(page.iter().map(|d| d.attempt).collect::<Vec<_>>(), [2], "paged strictly before an id");
    assert!(store.webhook_deliveries(b.id, None, 10).await.unwrap().is_empty(), "logs are per subscription");
    let mut none = attempt(b.id, 1, 240, false);
    none.status_code = None;
    none.error = Some("connection refused".into());
    store.record_webhook_attempt(&none).await.unwrap();
    assert_eq!(store.webhook_deliveries(b.id, None, 10).await.unwrap()[0].status_code, None);

    // Failures disable at the limit; only enabled subscriptions are matched.
    assert_eq!(
        store.count_webhook_failure(b.id, 2, "2 deliveries failed", 300).await.unwrap(),
        FailureCount::Counted(1)
    );
    assert_eq!(
        store.count_webhook_failure(b.id, 2, "2 deliveries failed", 301).await.unwrap(),
        FailureCount::Disabled(2)
    );
    let disabled = store.webhook(b.id).await.unwrap().unwrap();
    assert!(!disabled.enabled);
    assert_eq!(disabled.disabled_reason.as_deref(), Some("2 deliveries failed"));
    assert_eq!(disabled.updated_at, 301);
    let enabled: Vec<i64> = store.enabled_webhooks().await.unwrap().into_iter().map(|w| w.id).collect();
    assert!(enabled.contains(&a.id) && !enabled.contains(&b.id));
    assert_eq!(store.count_webhook_failure(a.id, 0, "never", 302).await.unwrap(), FailureCount::Counted(1), "0: never");
    let again = store.set_webhook_enabled(b.id, true, None, 400).await.unwrap().unwrap();
    assert!(again.enabled && again.disabled_reason.is_none() && again.consecutive_failures == 0);
    let off = store.set_webhook_enabled(b.id, false, Some("by hand"), 401).await.unwrap().unwrap();
    assert_eq!((off.enabled, off.disabled_reason.as_deref()), (false, Some("by hand")));
    assert!(store.set_webhook_enabled(b.id + 1000, true, None, 402).await.unwrap().is_none());
    assert_eq!(store.count_webhook_failure(b.id + 1000, 1, "x", 403).await.unwrap(), FailureCount::NotFound);

    // Pruning by time; deleting removes the subscription and its log, and later attempts are dropped.
    assert!(store.prune_webhook_deliveries(205).await.unwrap() >= 1);
    let kept = store.webhook_deliveries(a.id, None, 10).await.unwrap();
    assert_eq!(kept.iter().map(|d| d.attempt).collect::<Vec<_>>(), [3, 2], "only attempts before the time go");
    assert!(store.delete_webhook(a.id).await.unwrap());
    assert!(!store.delete_webhook(a.id).await.unwrap());
    assert!(store.webhook(a.id).await.unwrap().is_none());
    store.record_webhook_attempt(&attempt(a.id, 4, 500, true)).await.unwrap();
    assert!(store.webhook_deliveries(a.id, None, 10).await.unwrap().is_empty(), "no log outlives its subscription");
    assert!(store.delete_webhook(b.id).await.unwrap());
}
