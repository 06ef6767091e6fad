//! Every metric berth exports: its name, and the help text `/metrics` shows for it. The README's metric
//! table lists the same.

pub(crate) const HTTP_REQUESTS: &str = "berth_http_requests_total";
pub(crate) const HTTP_DURATION: &str = "berth_http_request_duration_seconds";
pub(crate) const HTTP_RECEIVED: &str = "berth_http_request_bytes_total";
pub(crate) const HTTP_SENT: &str = "berth_http_response_bytes_total";
pub(crate) const HTTP_IN_FLIGHT: &str = "berth_http_requests_in_flight";
pub(crate) const HTTP_UPLOADS_IN_FLIGHT: &str = "berth_http_uploads_in_flight";
/// Recorded by the job runtime (`berth_registry::jobs`), described here.
pub(crate) const JOB_RUNS: &str = "berth_job_runs_total";
pub(crate) const JOB_DURATION: &str = "berth_job_duration_seconds";
pub(crate) const AUTH_FAILURES: &str = "berth_auth_failures_total";
pub(crate) const RATE_LIMITED: &str = "berth_rate_limited_total";
pub(crate) const STORAGE_STORED: &str = "berth_storage_stored_bytes";
pub(crate) const STORAGE_LOGICAL: &str = "berth_storage_logical_bytes";
pub(crate) const STORAGE_UNLINKED: &str = "berth_storage_unlinked_bytes";
pub(crate) const STORAGE_BLOBS: &str = "berth_storage_blobs";
pub(crate) const REPOSITORIES: &str = "berth_repositories";
/// Rendered per scrape by `repositories` (not through the recorder).
pub(crate) const REPOSITORY_BYTES: &str = "berth_repository_bytes";
pub(crate) const REPOSITORY_IMAGES: &str = "berth_repository_images";
pub(crate) const JOBS: &str = "berth_jobs";
pub(crate) const GC_RUNS: &str = "berth_gc_runs_total";
pub(crate) const GC_BLOBS_DELETED: &str = "berth_gc_blobs_deleted_total";
pub(crate) const GC_BYTES_RECLAIMED: &str = "berth_gc_reclaimed_bytes_total";
pub(crate) const GC_QUEUED: &str = "berth_gc_queued_blobs";
pub(crate) const GC_DELETING: &str = "berth_gc_deleting_blobs";
pub(crate) const GC_COMMITS: &str = "berth_gc_blob_commits_in_flight";
pub(crate) const DB_POOL_CONNECTIONS: &str = "berth_db_pool_connections";
pub(crate) const DB_POOL_MAX: &str = "berth_db_pool_max_connections";

/// Buckets of request latency histograms, in seconds: from a cached manifest read to a large blob.
pub(crate) const LATENCY_BUCKETS: [f64; 16] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// (name, help) of every counter.
pub(crate) const COUNTERS: &[(&str, &str)] = &[
    (HTTP_REQUESTS, "HTTP requests answered, by route template (or API operation), method and status."),
    (HTTP_RECEIVED, "Request body bytes received (as declared by Content-Length), by route."),
    (HTTP_SENT, "Response body bytes sent (as declared by Content-Length), by route."),
    (JOB_RUNS, "Job runs ended on this node, by kind and outcome (succeeded, retried, failed, cancelled)."),
    (
        crate::webhooks::DELIVERIES,
        "Webhook delivery attempts made by this node, by outcome (delivered: a 2xx answer; failed: anything else).",
    ),
    (AUTH_FAILURES, "Refused authentications and access decisions on this node, by reason."),
    (
        RATE_LIMITED,
        "Requests refused by a rate limit on this node, by limit (manifest_pulls, anonymous_manifest_pulls, requests).",
    ),
    (GC_RUNS, "Garbage collection runs finished (whole registry)."),
    (GC_BLOBS_DELETED, "Blobs garbage collection deleted (whole registry)."),
    (GC_BYTES_RECLAIMED, "Bytes garbage collection reclaimed (whole registry)."),
];

/// (name, help) of every gauge.
pub(crate) const GAUGES: &[(&str, &str)] = &[
    (HTTP_IN_FLIGHT, "HTTP requests being answered by this node."),
    (HTTP_UPLOADS_IN_FLIGHT, "Requests streaming blob data into this node (upload PATCH/PUT, monolithic POST)."),
    (STORAGE_STORED, "Bytes stored: every blob once, plus manifests (refreshed at most every 30 s)."),
    (STORAGE_LOGICAL, "Sum of the repositories' sizes (a blob in n repositories counts n times)."),
    (STORAGE_UNLINKED, "Bytes of stored blobs linked to no repository (garbage collection's to reclaim)."),
    (STORAGE_BLOBS, "Stored blobs."),
    (REPOSITORIES, "Existing repositories."),
    (JOBS, "Jobs in the queue by kind and state (whole registry; finished jobs until pruned)."),
    (GC_QUEUED, "Blobs waiting for garbage collection's review."),
    (GC_DELETING, "Blobs whose row is gone and whose bytes are being deleted."),
    (GC_COMMITS, "Blob commits in flight."),
    (DB_POOL_CONNECTIONS, "Metadata store connections of this node by pool and state (idle, in_use)."),
    (DB_POOL_MAX, "Most connections each pool of this node may open."),
];

/// (name, help) of every histogram.
pub(crate) const HISTOGRAMS: &[(&str, &str)] = &[
    (HTTP_DURATION, "Time from a request's arrival to its response's head, by route and method."),
    (JOB_DURATION, "How long job runs on this node took, by kind (scan, ...) and outcome."),
];
