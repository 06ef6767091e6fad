//! Every metric berth exports: its name, and the help text `/metrics` shows for it. The README's metric
//! table lists the same.

pub(crate) const HTTP_REQUESTS: &str = "berth_http_requests_total";
pub(crate) const HTTP_DURATION: &str = "berth_http_request_duration_seconds";
pub(crate) const HTTP_RECEIVED: &str = "berth_http_request_bytes_total";
pub(crate) const HTTP_SENT: &str = "berth_http_response_bytes_total";
pub(crate) const HTTP_IN_FLIGHT: &str = "berth_http_requests_in_flight";
pub(crate) const HTTP_UPLOADS_IN_FLIGHT: &str = "berth_http_uploads_in_flight";

/// Buckets of request latency histograms, in seconds: from a cached manifest read to a large blob.
pub(crate) const LATENCY_BUCKETS: [f64; 16] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// (name, help) of every counter.
pub(crate) const COUNTERS: &[(&str, &str)] = &[
    (HTTP_REQUESTS, "HTTP requests answered, by route template (or API operation), method and status."),
    (HTTP_RECEIVED, "Request body bytes received (as declared by Content-Length), by route."),
    (HTTP_SENT, "Response body bytes sent (as declared by Content-Length), by route."),
];

/// (name, help) of every gauge.
pub(crate) const GAUGES: &[(&str, &str)] = &[
    (HTTP_IN_FLIGHT, "HTTP requests being answered by this node."),
    (HTTP_UPLOADS_IN_FLIGHT, "Requests streaming blob data into this node (upload PATCH/PUT, monolithic POST)."),
];

/// (name, help) of every histogram.
pub(crate) const HISTOGRAMS: &[(&str, &str)] =
    &[(HTTP_DURATION, "Time from a request's arrival to its response's head, by route and method.")];
