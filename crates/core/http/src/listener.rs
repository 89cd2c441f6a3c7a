//! Listeners bounded so that no amount of client traffic can stop the service behind them.
//!
//! A process's descriptors are shared: a node's block files, state database and peer links (or
//! the platform's database) need them as much as clients do. So:
//!
//! - at start the soft descriptor limit is raised to the hard one where allowed
//!   ([`raise_descriptor_limit`]) and [`FD_RESERVE`] descriptors are kept for storage and
//!   peers; each listener accepts at most its share of the rest ([`connection_budget`]).
//!   While a listener is at its limit it stops accepting: new clients wait in the kernel's
//!   backlog, which costs the node no descriptor;
//! - a client that does not send its request headers within [`Limits::header_read`] is cut
//!   off (REST), as is one that says nothing at all for [`Limits::idle`] (gRPC before and
//!   between its HTTP/2 pings), and a REST connection that sits idle with no request in
//!   flight for [`Limits::idle`] is closed;
//! - an upgraded connection (a WebSocket subscription) keeps counting against the limit until
//!   it closes.

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, watch},
};
use tower::ServiceExt;
use tracing::{debug, warn};

/// Descriptors kept for storage (segment files, databases) and peer links.
pub const FD_RESERVE: u64 = 256;
/// A listener accepts at least this many connections, whatever the descriptor limit.
const MIN_CONNECTIONS: usize = 16;

/// How a listener bounds its clients.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once (upgraded ones included).
    pub max_connections: usize,
    /// Time a client has to send a request's headers.
    pub header_read: Duration,
    /// Time a connection may sit idle (no request in flight, nothing received).
    pub idle: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(30),
        }
    }
}

/// Raise the soft limit on open descriptors to the hard limit where allowed; the soft limit
/// in force afterwards (`None` if it cannot be read).
pub fn raise_descriptor_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
        && current < maximum
    {
        let raised = rustix::process::Rlimit {
            current: Some(maximum),
            maximum: Some(maximum),
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            debug!(error = %e, "cannot raise the descriptor limit");
        }
    }
    getrlimit(Resource::Nofile).current
}

/// Connections each of `listeners` listeners may hold: `configured`, but never more than
/// their share of the descriptors left once [`FD_RESERVE`] are kept aside.
pub fn connection_budget(configured: usize, listeners: usize, soft_limit: Option<u64>) -> usize {
    let share = match soft_limit {
        Some(soft) => (soft.saturating_sub(FD_RESERVE) / listeners.max(1) as u64) as usize,
        None => configured,
    };
    configured.min(share).max(MIN_CONNECTIONS)
}

/// The address of the client that sent a request: an extension on every request
/// [`serve_rest`] hands its router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAddr(pub Option<SocketAddr>);

/// What a connection has been doing.
#[derive(Debug)]
struct Activity {
    started: Instant,
    /// Milliseconds since `started` of the last byte read or written.
    last_ms: AtomicU64,
    /// Requests being answered.
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Activity {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        })
    }

    fn touch(&self) {
        self.last_ms
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let now = self.started.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// A client connection: notes its activity, holds its slot until dropped, and (if given a
/// silence limit) fails a read once nothing arrived for that long.
pub struct ClientIo {
    inner: TcpStream,
    activity: Arc<Activity>,
    _slot: OwnedSemaphorePermit,
    remote: Option<SocketAddr>,
    silence: Option<(Duration, Pin<Box<tokio::time::Sleep>>)>,
}

impl ClientIo {
    fn new(inner: TcpStream, slot: OwnedSemaphorePermit, silence: Option<Duration>) -> Self {
        let remote = inner.peer_addr().ok();
        ClientIo {
            inner,
            activity: Activity::new(),
            _slot: slot,
            remote,
            silence: silence.map(|d| (d, Box::pin(tokio::time::sleep(d)))),
        }
    }

    fn heard(&mut self) {
        self.activity.touch();
        if let Some((d, sleep)) = self.silence.as_mut() {
            sleep.as_mut().reset(tokio::time::Instant::now() + *d);
        }
    }
}

impl AsyncRead for ClientIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.heard();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if let Some((d, sleep)) = self.silence.as_mut()
                    && sleep.as_mut().poll(cx).is_ready()
                {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("the client said nothing for {d:?}"),
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for ClientIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(feature = "grpc")]
impl tonic::transport::server::Connected for ClientIo {
    type ConnectInfo = Option<SocketAddr>;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.remote
    }
}

/// Accept the next client once a slot is free. Accept errors (out of descriptors, a client
/// that left at once) are waited out, never returned: the listener keeps serving.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> (TcpStream, OwnedSemaphorePermit) {
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            // The semaphore is never closed; wait forever rather than spin.
            std::future::pending::<()>().await;
            continue;
        };
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                return (stream, slot);
            }
            Err(e) => {
                drop(slot);
                warn!(error = %e, "accepting a client failed; retrying shortly");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serve `router` (REST and WebSocket) on `listener` within `limits` until `stop` turns true.
pub async fn serve_rest(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.idle / 2))
        .keep_alive_timeout(limits.idle / 2);
    let builder = Arc::new(builder);
    loop {
        let (stream, slot) = tokio::select! {
            c = accept(&listener, &slots) => c,
            _ = stop.changed() => return,
        };
        let io = ClientIo::new(stream, slot, None);
        let remote = RemoteAddr(io.remote);
        let activity = io.activity.clone();
        let router = router.clone();
        let svc_activity = activity.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(remote);
            let router = router.clone();
            let activity = svc_activity.clone();
            activity.in_flight.fetch_add(1, Ordering::Relaxed);
            async move {
                let r = router.oneshot(req.map(axum::body::Body::new)).await;
                activity.touch();
                activity.in_flight.fetch_sub(1, Ordering::Relaxed);
                r
            }
        });
        let builder = builder.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
            tokio::pin!(conn);
            let mut check = tokio::time::interval(Duration::from_secs(1));
            let mut closing = false;
            loop {
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            debug!(error = %e, "client connection ended");
                        }
                        return;
                    }
                    _ = check.tick(), if !closing => {
                        if activity.in_flight.load(Ordering::Relaxed) == 0
                            && activity.idle_for() >= limits.idle
                        {
                            closing = true;
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                    _ = stop.changed(), if !closing => {
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        });
    }
}

/// Serve the gRPC `service` on `listener` within `limits` until `stop` turns true.
#[cfg(feature = "grpc")]
pub async fn serve_grpc<S>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    stop: watch::Receiver<bool>,
) -> Result<(), tonic::transport::Error>
where
    S: tower::Service<
            tonic::codegen::http::Request<tonic::body::Body>,
            Response = tonic::codegen::http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let silence = limits.idle;
    let incoming =
        futures::stream::unfold((listener, slots), move |(listener, slots)| async move {
            let (stream, slot) = accept(&listener, &slots).await;
            // Silent clients are cut off; live ones answer the server's pings well within it.
            let io = ClientIo::new(stream, slot, Some(silence));
            Some((Ok::<_, io::Error>(io), (listener, slots)))
        });
    let mut stop = stop;
    tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(limits.idle / 3))
        .http2_keepalive_timeout(Some(limits.idle / 3))
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
}
