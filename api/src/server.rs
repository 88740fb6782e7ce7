//! The HTTP server: accepts connections under caps and serves each with hyper under
//! timeouts, so that a slow or stuck client never holds more than its share.
//!
//! - A request head must arrive whole within [`ServerLimits::header_timeout`], counted from
//!   when the server starts waiting for it: a socket that sends half a request, or sits idle
//!   between keep-alive requests, is closed then.
//! - A request body must arrive whole within [`ServerLimits::body_timeout`] (the JSON
//!   extractor enforces it, answering 408).
//! - At most [`ServerLimits::max_connections`] connections are open at once, and at most
//!   [`ServerLimits::max_connections_per_ip`] from one client address. A connection over
//!   either cap is answered with a canned 503 and closed at once, before any parsing, so a
//!   flood costs an accept and a write, not a task.
//!
//! Nothing here reads a proxy header: the client address is the socket's peer. Behind a
//! load balancer the per-address cap applies to the balancer; set it accordingly.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

use crate::metrics::ApiMetrics;

/// Caps and timeouts of the HTTP server. The defaults suit one API process on a small
/// machine; every one is a setting (see `docs/security.md`).
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// Time allowed to receive a request head, counted from when the server waits for it
    /// (so it also closes keep-alive connections idle this long).
    pub header_timeout: Duration,
    /// Time allowed to receive a whole request body.
    pub body_timeout: Duration,
    /// Connections open at once, in all.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_ip: usize,
    /// How long shutdown waits for open connections (event streams end at once; requests
    /// in flight get this long to finish).
    pub drain_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_connections_per_ip: 256,
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// What a handler may learn of the connection's limits: the body deadline, read by the JSON
/// extractor.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// The canned answer for a connection over a cap: written without waiting, then the socket
/// is closed. The body is JSON in the API's error shape.
fn canned_answer(code: &str, message: &str) -> Vec<u8> {
    let body = format!("{{\"error\":{{\"code\":\"{code}\",\"message\":\"{message}\"}}}}");
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Open connections per client address; an address leaves the map with its last connection,
/// so the map never holds more entries than there are open connections.
#[derive(Default)]
struct PerIp {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// Holds one connection's place under both caps; dropping it frees them.
struct Slot {
    per_ip: Arc<PerIp>,
    ip: IpAddr,
    _total: OwnedSemaphorePermit,
    metrics: Option<ApiMetrics>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.per_ip.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
        if let Some(metrics) = &self.metrics {
            metrics.connections_open.dec();
        }
    }
}

enum Refusal {
    Total,
    PerIp,
}

impl Refusal {
    fn label(&self) -> &'static str {
        match self {
            Refusal::Total => "total",
            Refusal::PerIp => "per_ip",
        }
    }

    fn answer(&self) -> Vec<u8> {
        match self {
            Refusal::Total => {
                canned_answer("server_busy", "the server has too many open connections")
            }
            Refusal::PerIp => canned_answer(
                "too_many_connections",
                "too many open connections from your address",
            ),
        }
    }
}

struct Gate {
    limits: ServerLimits,
    total: Arc<Semaphore>,
    per_ip: Arc<PerIp>,
    metrics: Option<ApiMetrics>,
}

impl Gate {
    fn admit(&self, ip: IpAddr) -> Result<Slot, Refusal> {
        let total = self
            .total
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::Total)?;
        {
            let mut open = self.per_ip.open.lock().unwrap_or_else(|e| e.into_inner());
            let count = open.entry(ip).or_insert(0);
            if *count >= self.limits.max_connections_per_ip {
                return Err(Refusal::PerIp);
            }
            *count += 1;
        }
        if let Some(metrics) = &self.metrics {
            metrics.connections_open.inc();
        }
        Ok(Slot {
            per_ip: self.per_ip.clone(),
            ip,
            _total: total,
            metrics: self.metrics.clone(),
        })
    }
}

/// Serves `router` on `listener` under `limits` until `shutdown` resolves, then stops
/// accepting, asks every connection to finish its request in flight, and waits for them (at
/// most [`ServerLimits::drain_timeout`]).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    metrics: Option<ApiMetrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let gate = Gate {
        total: Arc::new(Semaphore::new(limits.max_connections.max(1))),
        per_ip: Arc::default(),
        limits,
        metrics,
    };
    // Every connection task holds a receiver: `closed()` resolves when the last one ends.
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    let mut emfile_logged = false;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                // Out of file descriptors (or a transient accept error): wait a little
                // instead of spinning; connections that end free descriptors.
                if !emfile_logged {
                    tracing::warn!(error = %err, "cannot accept a connection; pausing accepts briefly");
                    emfile_logged = true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        emfile_logged = false;
        let slot = match gate.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(refusal) => {
                if let Some(metrics) = &gate.metrics {
                    metrics
                        .connections_refused
                        .with_label_values(&[refusal.label()])
                        .inc();
                }
                // Best effort and without waiting: a client that does not read loses the
                // answer, not our time.
                let _ = stream.try_write(&refusal.answer());
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            peer,
            router.clone(),
            gate.limits.clone(),
            slot,
            stop_rx.clone(),
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(stop_rx);
    let drain = gate.limits.drain_timeout;
    if tokio::time::timeout(drain, stop_tx.closed()).await.is_err() {
        tracing::warn!(
            timeout_s = drain.as_secs(),
            "connections still open after the drain timeout; closing them"
        );
    }
    Ok(())
}

/// One connection: HTTP/1.1 with the head timeout, each request carrying the client address
/// and the body deadline.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ServerLimits,
    slot: Slot,
    mut stop: watch::Receiver<bool>,
) {
    let body_timeout = BodyTimeout(limits.body_timeout);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(body_timeout);
        let router = router.clone();
        async move { Ok::<_, Infallible>(router.oneshot(request).await.unwrap_or_else(|e| match e {})) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(err) = served {
                    tracing::trace!(error = %err, "connection ended with an error");
                }
                break;
            }
            changed = stop.changed(), if !stopping => {
                if changed.is_err() || *stop.borrow() {
                    stopping = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
    drop(slot);
}
