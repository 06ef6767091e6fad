//! Request metrics, recorded once per request by [`crate::observe`].
//!
//! The hot path takes no lock: the recorder's handle for each (route, method, status) is looked up once and
//! kept in a table of `OnceLock`s indexed by the interned route, the method and the status, so a request
//! costs a few atomic loads and adds. Labels outside the table (a route without an interned label, an
//! unusual method or status) go through the recorder's own registry, which is slower but still correct.

use std::sync::{LazyLock, OnceLock};
use std::time::Duration;

use axum::http::Method;
use metrics::{Counter, Gauge, Histogram};

use super::names::*;
use super::routes::{self, Route};

const METHODS: [&str; 7] = ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"];

/// The statuses berth answers, with their labels (sorted, for the binary search).
const STATUSES: [(u16, &str); 30] = [
    (200, "200"),
    (201, "201"),
    (202, "202"),
    (204, "204"),
    (206, "206"),
    (301, "301"),
    (302, "302"),
    (303, "303"),
    (304, "304"),
    (307, "307"),
    (308, "308"),
    (400, "400"),
    (401, "401"),
    (403, "403"),
    (404, "404"),
    (405, "405"),
    (406, "406"),
    (408, "408"),
    (409, "409"),
    (411, "411"),
    (412, "412"),
    (413, "413"),
    (415, "415"),
    (416, "416"),
    (422, "422"),
    (429, "429"),
    (500, "500"),
    (501, "501"),
    (503, "503"),
    (504, "504"),
];

fn method_index(m: &Method) -> Option<usize> {
    METHODS.iter().position(|x| *x == m.as_str())
}

fn status_index(status: u16) -> Option<usize> {
    STATUSES.binary_search_by_key(&status, |(s, _)| *s).ok()
}

struct Handles {
    /// route × method × status
    requests: Box<[OnceLock<Counter>]>,
    /// route × method
    durations: Box<[OnceLock<Histogram>]>,
    /// route
    received: Box<[OnceLock<Counter>]>,
    sent: Box<[OnceLock<Counter>]>,
}

fn slots<T>(n: usize) -> Box<[OnceLock<T>]> {
    (0..n).map(|_| OnceLock::new()).collect()
}

static HANDLES: LazyLock<Handles> = LazyLock::new(|| {
    let r = routes::count();
    Handles {
        requests: slots(r * METHODS.len() * STATUSES.len()),
        durations: slots(r * METHODS.len()),
        received: slots(r),
        sent: slots(r),
    }
});

static IN_FLIGHT: LazyLock<Gauge> = LazyLock::new(|| metrics::gauge!(HTTP_IN_FLIGHT));
static UPLOADS_IN_FLIGHT: LazyLock<Gauge> = LazyLock::new(|| metrics::gauge!(HTTP_UPLOADS_IN_FLIGHT));

/// One finished request.
pub(crate) struct Observation<'a> {
    pub route: &'a Route,
    pub method: &'a Method,
    pub status: u16,
    pub elapsed: Duration,
    pub bytes_in: u64,
    /// `None` for `HEAD` (its `Content-Length` describes a body not sent) and streamed bodies.
    pub bytes_out: Option<u64>,
}

pub(crate) fn record(o: &Observation<'_>) {
    let seconds = o.elapsed.as_secs_f64();
    let (Route::Known(r), Some(m)) = (o.route, method_index(o.method)) else {
        return record_slowly(o);
    };
    let h = &*HANDLES;
    let (route, method) = (routes::label(*r), METHODS[m]);
    let requests = status_index(o.status).map(|s| {
        h.requests[(r * METHODS.len() + m) * STATUSES.len() + s].get_or_init(
            || metrics::counter!(HTTP_REQUESTS, "route" => route, "method" => method, "status" => STATUSES[s].1),
        )
    });
    match requests {
        Some(c) => c.increment(1),
        None => {
            let status = o.status.to_string();
            metrics::counter!(HTTP_REQUESTS, "route" => route, "method" => method, "status" => status).increment(1)
        }
    }
    h.durations[r * METHODS.len() + m]
        .get_or_init(|| metrics::histogram!(HTTP_DURATION, "route" => route, "method" => method))
        .record(seconds);
    h.received[*r].get_or_init(|| metrics::counter!(HTTP_RECEIVED, "route" => route)).increment(o.bytes_in);
    if let Some(out) = o.bytes_out {
        h.sent[*r].get_or_init(|| metrics::counter!(HTTP_SENT, "route" => route)).increment(out);
    }
}

fn record_slowly(o: &Observation<'_>) {
    let route = o.route.label().to_string();
    let method = o.method.as_str().to_string();
    let status = o.status.to_string();
    metrics::counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "route" => route.clone(), "method" => method).record(o.elapsed.as_secs_f64());
    metrics::counter!(HTTP_RECEIVED, "route" => route.clone()).increment(o.bytes_in);
    if let Some(out) = o.bytes_out {
        metrics::counter!(HTTP_SENT, "route" => route).increment(out);
    }
}

/// Counts a request (and, for `upload`, an upload receiving bytes) as in flight until dropped, however the
/// request ends (a client that goes away drops it too).
pub(crate) struct InFlight {
    upload: bool,
}

impl InFlight {
    pub(crate) fn start(upload: bool) -> InFlight {
        IN_FLIGHT.increment(1.0);
        if upload {
            UPLOADS_IN_FLIGHT.increment(1.0);
        }
        InFlight { upload }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.decrement(1.0);
        if self.upload {
            UPLOADS_IN_FLIGHT.decrement(1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_sorted_and_labelled() {
        assert!(STATUSES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(STATUSES.iter().all(|(s, l)| s.to_string() == *l));
        assert_eq!(status_index(404).map(|i| STATUSES[i].1), Some("404"));
        assert_eq!(status_index(418), None);
        assert_eq!(method_index(&Method::PATCH), Some(4));
        assert_eq!(method_index(&Method::TRACE), None);
    }
}
