//! Serving HTTP connections: accepting, TLS, per-connection timeouts and the per-address connection cap.
//!
//! `axum::serve` runs hyper without a timer, so it has no deadline at all: a client that opens a socket and
//! trickles a request head one byte a second (slowloris), or sends nothing, holds a socket and a file
//! descriptor for as long as it likes, and a few hundred of them exhaust the process's descriptors. This module
//! serves each connection itself (hyper-util's automatic HTTP/1.1 + HTTP/2 builder; HTTP/2 over TLS via ALPN)
//! and watches it:
//!
//! - **Request head**: a request must arrive complete within `header_timeout` of the connection opening (after
//!   its TLS handshake), or of the first byte received after the previous response. A connection that sends
//!   nothing, or trickles a head, is closed then. hyper's own `header_read_timeout` is not used: it starts when
//!   the connection goes idle, so it would also close idle keep-alive connections after a few seconds, and it
//!   does not cover the bytes read before hyper knows whether the client speaks HTTP/1.1 or HTTP/2. An HTTP/2
//!   client exchanges control frames (window updates, pings) between requests, so once a connection has
//!   carried an HTTP/2 request only the idle timeout applies to it; the h2 codec bounds a header block's size,
//!   and the per-address cap bounds how many such connections one client holds.
//! - **Idle keep-alive**: a connection with no request in flight and no bytes received for `idle_timeout` is
//!   closed gracefully (an HTTP/2 GOAWAY; HTTP/1.1 simply closes, as it is between requests). If a client does
//!   not let go, it is dropped a moment later.
//! - **Stalled request body**: the body handed to the handlers fails (400 `BLOB_UPLOAD_INVALID` for an
//!   upload) when it yields no byte for `body_timeout` while the handler waits for it. The clock runs only while
//!   the handler waits, so time spent writing, hashing or syncing is not counted, and an upload of any size
//!   works as long as bytes keep coming. A timer on reads of the socket would be wrong: hyper keeps a read
//!   pending while it writes a response (to notice the client hanging up), so it would end downloads.
//! - **Stalled response**: a write to the socket that cannot proceed for `body_timeout` (the client reads
//!   nothing at all, its receive window stays full) fails and ends the connection. A slow but steady reader
//!   drains the window now and then and is never cut off, however long the download takes.
//! - **Per-address cap**: at most `max_per_address` open connections (TLS handshakes included) per client IPv4
//!   address or IPv6 /64; further connections are closed as soon as they are accepted, while the address's
//!   open ones keep working. One client cannot take all descriptors; `raise_open_file_limit` makes the
//!   process's share as large as the system allows.
//!
//! Zero-copy blob downloads: on plaintext HTTP/1.1 connections, a `GET` response that carries a
//! [`berth_api::FileRegion`] (a blob served from local disk) has its bytes sent with `sendfile(2)` from the page
//! cache to the socket ([`sendfile`]); over TLS and HTTP/2 the response's own body is copied as usual.
//!
//! While a request is in flight the connection itself has no deadline (a handler may legitimately take long,
//! and a large download may stream for hours); only the body and write stall timers apply. Every request
//! carries `ConnectInfo<SocketAddr>` with the client's address, as `into_make_service_with_connect_info` would.
//!
//! Graceful shutdown: when `shutdown` resolves, the listener is closed, every connection is asked to finish
//! (idle ones close at once, in-flight requests complete), and `serve` returns when the last one has ended.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::Response;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;

use self::sendfile::{Pending, SendfileBody};

mod sendfile;

/// How long a connection asked to close while idle may linger before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The limits every connection is held to (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From connecting (or the first byte after a response) to a complete request head.
    pub header_timeout: Duration,
    /// A connection without a request in flight is closed after this long.
    pub idle_timeout: Duration,
    /// A request body that yields nothing, or a response the client does not read, for this long.
    pub body_timeout: Duration,
    /// Open connections per client address (IPv4 address or IPv6 /64); 0 for no cap.
    pub max_per_address: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            body_timeout: Duration::from_secs(60),
            max_per_address: 256,
        }
    }
}

/// Serves `app` on `listener` (TLS when `tls` is given) until `shutdown` resolves and the open connections
/// have finished.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let addresses = Arc::new(PerAddress::new(limits.max_per_address));
    // Every connection task holds a receiver of `open`; when all are gone, every connection has ended.
    let (open_tx, open_rx) = watch::channel(());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors (EMFILE) or a connection reset before it was accepted: retry shortly
                    // rather than spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some(slot) = addresses.acquire(peer.ip()) else {
            drop(stream);
            continue;
        };
        let conn = Conn {
            peer,
            app: app.clone(),
            limits,
            activity: Arc::new(Activity::new()),
            stop: stop_rx.clone(),
            _slot: slot,
            _open: open_rx.clone(),
        };
        let tls = tls.clone();
        tokio::spawn(conn.run(stream, tls));
    }
    drop(listener);
    drop(open_rx);
    let _ = stop_tx.send(true);
    open_tx.closed().await;
}

/// Raises the soft limit on open files to the hard limit, so that connections are bounded by the per-address
/// cap and the system rather than by a conservative default (often 1024). Returns (before, after).
pub fn raise_open_file_limit() -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        let before = limit.rlim_cur;
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every platform
        Ok((before as u64, limit.rlim_cur as u64))
    }
}

/// One accepted connection and what it needs.
struct Conn {
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    activity: Arc<Activity>,
    stop: watch::Receiver<bool>,
    _slot: Slot,
    _open: watch::Receiver<()>,
}

impl Conn {
    async fn run(self, stream: TcpStream, tls: Option<TlsAcceptor>) {
        match tls {
            None => {
                // Plaintext: responses may send file regions with sendfile.
                let pending = Arc::new(Pending::default());
                let io = WatchedIo::new(stream, self.activity.clone(), self.limits.body_timeout, Some(pending.clone()));
                self.drive(io, Some(pending)).await
            }
            Some(acceptor) => {
                let io = WatchedIo::new(stream, self.activity.clone(), self.limits.body_timeout, None);
                // The handshake is held to the same deadline as a request head.
                match tokio::time::timeout(self.limits.header_timeout, acceptor.accept(io)).await {
                    Ok(Ok(tls)) => self.drive(tls, None).await,
                    Ok(Err(e)) => tracing::debug!(peer = %self.peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(peer = %self.peer, "TLS handshake timed out"),
                }
            }
        }
    }

    /// Serves HTTP on `io`; `sendfile` is the queue of file pieces when `io` is a plaintext [`WatchedIo`].
    async fn drive<I>(mut self, io: I, sendfile: Option<Arc<Pending>>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        self.activity.reset(Instant::now());
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // Request heads are timed by the watchdog below (see the module documentation).
        builder.http1().header_read_timeout(None);
        if sendfile.is_some() {
            // Vectored writes make hyper queue body frames as they are instead of copying them into its own
            // buffer, which zero-copy bodies rely on (see `sendfile`). A TCP socket takes them anyway.
            builder.http1().writev(true);
        }
        builder.http2().timer(TokioTimer::new());
        let service = PerConnection {
            app: self.app.clone(),
            peer: self.peer,
            activity: self.activity.clone(),
            body_timeout: self.limits.body_timeout,
            sendfile,
        };
        let conn = builder.serve_connection(TokioIo::new(io), service);
        let mut conn = std::pin::pin!(conn);
        let mut closing = false;
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(peer = %self.peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = self.stop.wait_for(|stop| *stop), if !closing => {
                    closing = true;
                    self.activity.closing(Instant::now());
                    conn.as_mut().graceful_shutdown();
                }
                expiry = self.activity.expired(&self.limits) => match expiry {
                    Expiry::Close(why) if !closing => {
                        tracing::debug!(peer = %self.peer, why, "closing connection");
                        closing = true;
                        self.activity.closing(Instant::now());
                        conn.as_mut().graceful_shutdown();
                    }
                    Expiry::Close(_) => {}
                    Expiry::Drop => {
                        tracing::debug!(peer = %self.peer, "dropping a connection that did not close");
                        return;
                    }
                },
            }
        }
    }
}

/// What a connection is doing, shared by its IO, its service and its watchdog.
struct Activity {
    state: Mutex<State>,
    changed: Notify,
}

struct State {
    /// Requests being handled (their response not yet fully sent).
    in_flight: usize,
    /// When the last request finished (or the connection started).
    idle_since: Instant,
    /// Running while a request head is awaited: since the connection started, or since the first byte read
    /// after a response. `None` while a request is in flight or the connection is quietly idle.
    awaiting_head_since: Option<Instant>,
    /// When the connection was asked to close.
    closing_since: Option<Instant>,
    /// The connection speaks HTTP/2 (known from its first request).
    http2: bool,
}

enum Expiry {
    /// Ask the connection to close gracefully.
    Close(&'static str),
    /// It was asked and is still open without a request in flight: drop it.
    Drop,
}

impl Activity {
    fn new() -> Activity {
        let now = Instant::now();
        Activity {
            state: Mutex::new(State {
                in_flight: 0,
                idle_since: now,
                awaiting_head_since: Some(now),
                closing_since: None,
                http2: false,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the clocks afresh (after a TLS handshake).
    fn reset(&self, now: Instant) {
        let mut s = self.lock();
        s.idle_since = now;
        s.awaiting_head_since = Some(now);
    }

    fn bytes_read(&self) {
        let mut s = self.lock();
        if s.in_flight == 0 && s.awaiting_head_since.is_none() && !s.http2 {
            s.awaiting_head_since = Some(Instant::now());
            drop(s);
            self.changed.notify_one();
        }
    }

    fn request_started(self: &Arc<Self>, http2: bool) -> InFlight {
        let mut s = self.lock();
        s.in_flight += 1;
        s.http2 |= http2;
        s.awaiting_head_since = None;
        InFlight(self.clone())
    }

    fn request_ended(&self) {
        let mut s = self.lock();
        s.in_flight -= 1;
        if s.in_flight == 0 {
            s.idle_since = Instant::now();
            drop(s);
            self.changed.notify_one();
        }
    }

    fn closing(&self, now: Instant) {
        self.lock().closing_since = Some(now);
        self.changed.notify_one();
    }

    /// `Err` when a limit has passed, else when to look again (`None`: when something changes).
    fn check(&self, limits: &Limits, now: Instant) -> Result<Option<Instant>, Expiry> {
        let s = self.lock();
        if s.in_flight > 0 {
            return Ok(None);
        }
        let (deadline, expiry) = if let Some(closing) = s.closing_since {
            (closing.max(s.idle_since) + CLOSE_GRACE, Expiry::Drop)
        } else if let Some(since) = s.awaiting_head_since {
            (since + limits.header_timeout, Expiry::Close("no complete request head in time"))
        } else {
            (s.idle_since + limits.idle_timeout, Expiry::Close("idle"))
        };
        if now >= deadline { Err(expiry) } else { Ok(Some(deadline)) }
    }

    /// Resolves when a limit has passed.
    async fn expired(&self, limits: &Limits) -> Expiry {
        loop {
            let changed = self.changed.notified();
            match self.check(limits, Instant::now()) {
                Err(expiry) => return expiry,
                Ok(Some(at)) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = changed => {}
                    }
                }
                Ok(None) => changed.await,
            }
        }
    }
}

/// Held while a request is in flight, until its response body is sent or dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

/// The service of one connection: adds `ConnectInfo`, the body stall timer and in-flight accounting to the app.
#[derive(Clone)]
struct PerConnection {
    app: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
    body_timeout: Duration,
    /// The connection's queue of file pieces, on plaintext connections.
    sendfile: Option<Arc<Pending>>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for PerConnection {
    type Response = Response<Tracked>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        let in_flight = self.activity.request_started(req.version() == hyper::Version::HTTP_2);
        // Zero-copy only for HTTP/1 GETs: hyper writes every frame of their 200/206 bodies (or closes the
        // connection), so no queued piece is ever skipped.
        let http1 = matches!(req.version(), hyper::Version::HTTP_10 | hyper::Version::HTTP_11);
        let sendfile = self.sendfile.clone().filter(|_| http1 && req.method() == hyper::Method::GET);
        let mut req = req.map(|body| StallTimeout::new(body, self.body_timeout));
        req.extensions_mut().insert(ConnectInfo(self.peer));
        // `Router` is always ready (its `poll_ready` returns `Ready` unconditionally).
        let response = tower::Service::call(&mut self.app.clone(), req);
        Box::pin(async move {
            let mut response = response.await?;
            if let Some(region) = response.extensions_mut().remove::<berth_api::FileRegion>()
                && let Some(pending) = sendfile
                && matches!(response.status(), hyper::StatusCode::OK | hyper::StatusCode::PARTIAL_CONTENT)
                && content_length(&response) == Some(region.len)
            {
                *response.body_mut() = axum::body::Body::new(SendfileBody::new(pending, region));
            }
            Ok(response.map(|body| Tracked { body, _in_flight: in_flight }))
        })
    }
}

/// The response's `Content-Length`, when it has a valid one.
fn content_length(response: &Response) -> Option<u64> {
    response.headers().get(hyper::header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// A response body that keeps its request counted as in flight until it is sent or dropped.
struct Tracked {
    body: axum::body::Body,
    _in_flight: InFlight,
}

impl HttpBody for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body that fails when the handler has waited `after` for its next frame.
struct StallTimeout<B> {
    body: B,
    after: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<B> StallTimeout<B> {
    fn new(body: B, after: Duration) -> StallTimeout<B> {
        StallTimeout { body, after, timer: None }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the request body sent nothing for {0:?}")]
struct BodyStalled(Duration);

impl<B> HttpBody for StallTimeout<B>
where
    B: HttpBody + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = B::Data;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            this.timer = None;
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let after = this.after;
        let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(after)));
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(Some(Err(Box::new(BodyStalled(after)))))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The raw TCP stream (beneath TLS): reports bytes read to the watchdog, fails a write that has been
/// blocked for `write_stall` (the client reads nothing), and, on plaintext connections, sends the placeholder
/// frames of zero-copy bodies from their files.
struct WatchedIo {
    stream: TcpStream,
    activity: Arc<Activity>,
    write_stall: Duration,
    write_blocked: Option<Pin<Box<Sleep>>>,
    sendfile: Option<Arc<Pending>>,
}

impl WatchedIo {
    fn new(
        stream: TcpStream,
        activity: Arc<Activity>,
        write_stall: Duration,
        sendfile: Option<Arc<Pending>>,
    ) -> WatchedIo {
        WatchedIo { stream, activity, write_stall, write_blocked: None, sendfile }
    }

    fn on_write<T>(&mut self, cx: &mut Context<'_>, result: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if result.is_ready() {
            self.write_blocked = None;
            return result;
        }
        let stall = self.write_stall;
        let timer = self.write_blocked.get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, format!("the client read nothing for {stall:?}"))))
    }
}

impl AsyncRead for WatchedIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        result
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = match &self.sendfile {
            Some(pending) => pending.poll_write_vectored(&self.stream, cx, &[io::IoSlice::new(buf)]),
            None => Pin::new(&mut self.stream).poll_write(cx, buf),
        };
        self.on_write(cx, result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = match &self.sendfile {
            Some(pending) => pending.poll_write_vectored(&self.stream, cx, bufs),
            None => Pin::new(&mut self.stream).poll_write_vectored(cx, bufs),
        };
        self.on_write(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.stream).poll_flush(cx);
        self.on_write(cx, result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Open connections per client address.
struct PerAddress {
    max: usize,
    open: Mutex<HashMap<IpAddr, Open>>,
}

struct Open {
    count: usize,
    /// A refusal was logged since the address last had no connection.
    warned: bool,
}

/// One open connection of an address; released when dropped.
struct Slot {
    table: Arc<PerAddress>,
    key: IpAddr,
}

impl PerAddress {
    fn new(max: usize) -> PerAddress {
        PerAddress { max, open: Mutex::new(HashMap::new()) }
    }

    /// The key an address counts under: IPv4 addresses (also IPv4-mapped IPv6) by themselves, IPv6 by their
    /// /64, the unit one subscriber is usually given.
    fn key(ip: IpAddr) -> IpAddr {
        match ip.to_canonical() {
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
            v4 => v4,
        }
    }

    fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let key = PerAddress::key(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let entry = open.entry(key).or_insert(Open { count: 0, warned: false });
        if self.max > 0 && entry.count >= self.max {
            if !entry.warned {
                entry.warned = true;
                tracing::warn!(
                    client = %key,
                    limit = self.max,
                    "refusing connections: this client address has the maximum number open"
                );
            }
            return None;
        }
        entry.count += 1;
        Some(Slot { table: self.clone(), key })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = open.get_mut(&self.key) {
            entry.count -= 1;
            if entry.count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(PerAddress::key(a), PerAddress::key(b));
        assert_ne!(PerAddress::key(a), PerAddress::key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(PerAddress::key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn the_cap_counts_open_connections() {
        let table = Arc::new(PerAddress::new(2));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let first = table.acquire(ip).unwrap();
        let _second = table.acquire(ip).unwrap();
        assert!(table.acquire(ip).is_none());
        assert!(table.acquire("192.0.2.2".parse().unwrap()).is_some(), "other addresses are not affected");
        drop(first);
        assert!(table.acquire(ip).is_some(), "a closed connection frees its slot");
        let unlimited = Arc::new(PerAddress::new(0));
        let held: Vec<_> = (0..1000).map(|_| unlimited.acquire(ip).unwrap()).collect();
        assert_eq!(held.len(), 1000);
    }

    /// The deadline `check` gives, which must lie within `limit` of the span [before, after].
    fn deadline_within(a: &Activity, limits: &Limits, before: Instant, after: Instant, limit: Duration) {
        let at = a.check(limits, after).ok().flatten().expect("a deadline");
        assert!(at >= before + limit && at <= after + limit, "deadline {:?} after", at - before);
    }

    #[test]
    fn the_head_clock_runs_until_a_request_and_after_the_first_byte_of_the_next() {
        let limits = Limits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(100),
            ..Limits::default()
        };
        let before = Instant::now();
        let a = Arc::new(Activity::new());
        deadline_within(&a, &limits, before, Instant::now(), limits.header_timeout);
        assert!(matches!(a.check(&limits, Instant::now() + Duration::from_secs(11)), Err(Expiry::Close(_))));
        let request = a.request_started(false);
        a.bytes_read();
        assert!(matches!(a.check(&limits, Instant::now() + Duration::from_secs(1000)), Ok(None)), "none in flight");
        let before = Instant::now();
        drop(request);
        deadline_within(&a, &limits, before, Instant::now(), limits.idle_timeout);
        let before = Instant::now();
        a.bytes_read();
        deadline_within(&a, &limits, before, Instant::now(), limits.header_timeout);
        let before = Instant::now();
        a.closing(before);
        deadline_within(&a, &limits, before, Instant::now(), CLOSE_GRACE);
        assert!(matches!(a.check(&limits, Instant::now() + CLOSE_GRACE), Err(Expiry::Drop)));

        // HTTP/2: after the first request, frames between requests leave the connection quietly idle.
        let a = Arc::new(Activity::new());
        let before = Instant::now();
        drop(a.request_started(true));
        a.bytes_read();
        deadline_within(&a, &limits, before, Instant::now(), limits.idle_timeout);
    }
}
