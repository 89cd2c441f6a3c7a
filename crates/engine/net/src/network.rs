//! The network: listener, dialers, connected peers and the chain channels on them.

use std::{
    collections::{BTreeSet, HashMap},
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use covenant_types::pb::{ChainFrame, PeerFrame, peer_frame::Body};
use parking_lot::{Mutex, RwLock};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{mpsc, oneshot, watch},
    task::JoinHandle,
};
use tracing::{debug, info, warn};

use crate::{
    Admission, NetError, NodeIdentity, PeerId,
    connection::{self, Conn, Side},
    tls, wire,
};

/// Transport settings.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Where to accept peer connections (`host:port`); `None` to only dial.
    pub listen: Option<String>,
    /// The address peers should dial, announced in the handshake (default: `listen`).
    pub advertise: Option<String>,
    /// The local address connections to peers leave from (default: the one the system picks
    /// for the route). On a host with several addresses, the one peers' firewalls allow.
    pub source: Option<std::net::IpAddr>,
    /// The largest frame accepted; a bigger one closes the connection.
    pub max_frame_bytes: usize,
    /// Reconnect delays: the first, doubling up to the last.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Time allowed for TCP connect, TLS handshake and identity exchange.
    pub handshake_timeout: Duration,
    /// Inbound connections still in their handshake at once; more are closed at accept, so
    /// connections that open and stall cannot take every descriptor of the node.
    pub max_pending_handshakes: usize,
    /// Frames queued per connection before sends fail with `QUEUE_FULL`.
    pub send_queue: usize,
    /// Frames queued per chain for the node before arrivals are dropped.
    pub receive_queue: usize,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            listen: None,
            advertise: None,
            source: None,
            max_frame_bytes: wire::DEFAULT_MAX_FRAME_BYTES,
            backoff_min: Duration::from_millis(200),
            backoff_max: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            max_pending_handshakes: 128,
            send_queue: 4096,
            receive_queue: 16_384,
        }
    }
}

/// A frame for a chain from an admitted peer.
#[derive(Debug)]
pub struct Inbound {
    pub peer: PeerId,
    /// The connection it came on (a number unique in this process): frames of one connection
    /// arrive in the order the peer sent them; a reconnected peer (perhaps restarted, perhaps
    /// with its data wiped) is on a new one.
    pub session: u64,
    /// The peer's node certificate (DER).
    pub certificate: Arc<Vec<u8>>,
    pub kind: u32,
    pub payload: Vec<u8>,
    /// Set when the peer expects an answer.
    pub reply: Option<Reply>,
}

/// The way back to a peer that asked something.
#[derive(Debug)]
pub struct Reply {
    pub(crate) conn: Arc<Conn>,
    pub(crate) chain: String,
    pub(crate) kind: u32,
    pub(crate) request_id: u64,
}

impl Reply {
    /// Answer; false if the connection is gone or its queue is full.
    pub fn send(self, payload: Vec<u8>) -> bool {
        self.answer(payload, String::new())
    }

    /// Answer with an error.
    pub fn fail(self, error: impl Into<String>) -> bool {
        self.answer(Vec::new(), error.into())
    }

    fn answer(self, payload: Vec<u8>, error: String) -> bool {
        let frame = PeerFrame {
            body: Some(Body::Chain(ChainFrame {
                chain_id: self.chain,
                kind: self.kind,
                request_id: self.request_id,
                response: true,
                payload,
                error,
            })),
        };
        self.conn.queue(frame).is_ok()
    }
}

/// A peer a chain wants to be connected to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerTarget {
    /// The peer's node certificate (DER).
    pub certificate: Vec<u8>,
    /// `host:port` to dial; empty if the peer only dials (then it comes to us).
    pub address: String,
}

/// A connected peer, as the node sees it.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub id: PeerId,
    pub certificate: Arc<Vec<u8>>,
    /// Chains this node admitted the peer on.
    pub admitted: BTreeSet<String>,
    /// Chains the peer admitted this node on.
    pub admitted_by_peer: BTreeSet<String>,
    pub listen_address: String,
    pub remote: SocketAddr,
    /// Whether this node dialled.
    pub outbound: bool,
}

/// Counters (also exported as metrics).
#[derive(Debug, Default)]
pub struct NetStats {
    pub connections: AtomicU64,
    pub handshake_failures: AtomicU64,
    /// Inbound connections closed at accept because too many were in their handshake.
    pub refused_inbound: AtomicU64,
    /// Chain admissions refused (a peer asked for a chain this node hosts and was refused).
    pub rejections: AtomicU64,
    /// Connections closed for an oversized or undecodable frame or a protocol error.
    pub bad_frames: AtomicU64,
    /// Frames dropped: about a chain the peer is not admitted on, or a full receive queue.
    pub dropped: AtomicU64,
}

impl NetStats {
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

pub(crate) struct Shared {
    pub identity: NodeIdentity,
    pub config: NetConfig,
    pub admission: Arc<dyn Admission>,
    pub client: Arc<rustls::ClientConfig>,
    pub server: Arc<rustls::ServerConfig>,
    pub chains: RwLock<HashMap<String, mpsc::Sender<Inbound>>>,
    pub conns: Mutex<HashMap<PeerId, Arc<Conn>>>,
    targets: Mutex<HashMap<String, Vec<(PeerId, String)>>>,
    dialers: Mutex<HashMap<PeerId, (String, JoinHandle<()>)>>,
    pub stats: NetStats,
    pub next_id: AtomicU64,
    pub shutdown: watch::Sender<bool>,
    pub advertise: String,
    /// Signalled whenever a connection is registered or closed.
    pub changed: tokio::sync::Notify,
}

impl Shared {
    pub fn hosted(&self) -> Vec<String> {
        let mut c: Vec<String> = self.chains.read().keys().cloned().collect();
        c.sort();
        c
    }

    /// Keep `conn` as the link to its peer, or refuse it in favour of one already there.
    /// Both ends apply the same rule, so they keep the same connection: the one dialled by
    /// the smaller id.
    pub fn register(&self, conn: &Arc<Conn>) -> bool {
        let me = self.identity.id();
        let preferred_dialer = me.min(conn.peer);
        let mut conns = self.conns.lock();
        if let Some(old) = conns.get(&conn.peer)
            && !old.is_closed()
        {
            let old_ok = old.dialer_id(me) == preferred_dialer;
            let new_ok = conn.dialer_id(me) == preferred_dialer;
            if old_ok && !new_ok {
                return false;
            }
            old.close();
        }
        conns.insert(conn.peer, conn.clone());
        drop(conns);
        self.stats.connections.fetch_add(1, Ordering::Relaxed);
        self.changed.notify_waiters();
        true
    }

    pub fn unregister(&self, conn: &Conn) {
        let mut conns = self.conns.lock();
        if conns
            .get(&conn.peer)
            .is_some_and(|c| c.serial == conn.serial)
        {
            conns.remove(&conn.peer);
        }
        drop(conns);
        self.changed.notify_waiters();
    }

    fn connected(&self, peer: &PeerId) -> bool {
        self.conns.lock().get(peer).is_some_and(|c| !c.is_closed())
    }
}

/// The node's network. Cheap to clone.
#[derive(Clone)]
pub struct Network {
    shared: Arc<Shared>,
    local: Option<SocketAddr>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("id", &self.shared.identity.id())
            .field("listen", &self.local)
            .finish()
    }
}

impl Network {
    /// Start: bind the listener (if any) and accept peers. Chains join with [`Network::join`]
    /// and say whom to dial with [`Network::set_peers`].
    pub async fn start(
        identity: NodeIdentity,
        config: NetConfig,
        admission: Arc<dyn Admission>,
    ) -> Result<Self, NetError> {
        let (client, server) = tls::configs(&identity)?;
        let listener = match &config.listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| NetError::Listen {
                        address: addr.clone(),
                        detail: e.to_string(),
                    })?,
            ),
            None => None,
        };
        let local = listener.as_ref().and_then(|l| l.local_addr().ok());
        let advertise = config
            .advertise
            .clone()
            .or_else(|| local.map(|a| a.to_string()))
            .unwrap_or_default();
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            identity,
            config,
            admission,
            client,
            server,
            chains: RwLock::new(HashMap::new()),
            conns: Mutex::new(HashMap::new()),
            targets: Mutex::new(HashMap::new()),
            dialers: Mutex::new(HashMap::new()),
            stats: NetStats::default(),
            next_id: AtomicU64::new(1),
            shutdown,
            advertise,
            changed: tokio::sync::Notify::new(),
        });
        if let Some(listener) = listener {
            let s = shared.clone();
            tokio::spawn(accept_loop(s, listener));
        }
        info!(id = %shared.identity.id(), listen = ?local, "network started");
        Ok(Network { shared, local })
    }

    /// This node's id.
    pub fn id(&self) -> PeerId {
        self.shared.identity.id()
    }

    /// The bound listen address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }

    pub fn stats(&self) -> &NetStats {
        &self.shared.stats
    }

    /// Host `chain`: frames for it from admitted peers arrive on the returned queue. Join
    /// every chain before peers connect; a peer learns the chains of a node at handshake.
    pub fn join(&self, chain: &str) -> mpsc::Receiver<Inbound> {
        let (tx, rx) = mpsc::channel(self.shared.config.receive_queue);
        self.shared.chains.write().insert(chain.to_string(), tx);
        rx
    }

    /// The peers `chain` wants: dial those with an address (and keep redialling while they
    /// are wanted by any chain).
    pub fn set_peers(&self, chain: &str, peers: &[PeerTarget]) {
        let me = self.id();
        let list: Vec<(PeerId, String)> = peers
            .iter()
            .map(|p| (PeerId::of(&p.certificate), p.address.clone()))
            .filter(|(id, _)| *id != me)
            .collect();
        let wanted: HashMap<PeerId, String> = {
            let mut targets = self.shared.targets.lock();
            targets.insert(chain.to_string(), list);
            let mut w = HashMap::new();
            for l in targets.values() {
                for (id, addr) in l {
                    if !addr.is_empty() {
                        w.insert(*id, addr.clone());
                    }
                }
            }
            w
        };
        let mut dialers = self.shared.dialers.lock();
        dialers.retain(|id, (addr, handle)| {
            let keep = wanted.get(id) == Some(addr);
            if !keep {
                handle.abort();
            }
            keep
        });
        for (id, addr) in wanted {
            if !dialers.contains_key(&id) {
                let s = self.shared.clone();
                let a = addr.clone();
                let handle = tokio::spawn(async move { dial_loop(s, id, a).await });
                dialers.insert(id, (addr, handle));
            }
        }
    }

    /// Run admission again for `chain` on every connected peer that hosts it (after the
    /// chain's membership changed): newly admitted peers join the channel, refused ones leave
    /// it, and a connection left with no chain closes.
    pub fn readmit(&self, chain: &str) {
        let conns: Vec<Arc<Conn>> = self.shared.conns.lock().values().cloned().collect();
        for c in conns {
            connection::readmit(&self.shared, &c, chain);
        }
    }

    fn conn(&self, peer: &PeerId) -> Result<Arc<Conn>, NetError> {
        self.shared
            .conns
            .lock()
            .get(peer)
            .filter(|c| !c.is_closed())
            .cloned()
            .ok_or(NetError::NotConnected(*peer))
    }

    /// Send a frame on `chain` to `peer`.
    pub fn send(
        &self,
        peer: &PeerId,
        chain: &str,
        kind: u32,
        payload: Vec<u8>,
    ) -> Result<(), NetError> {
        let conn = self.conn(peer)?;
        conn.send_chain(chain, kind, 0, payload)
    }

    /// Send a frame on `chain` to every peer admitted on it; returns how many were queued.
    pub fn broadcast(&self, chain: &str, kind: u32, payload: &[u8]) -> usize {
        let conns: Vec<Arc<Conn>> = self.shared.conns.lock().values().cloned().collect();
        conns
            .iter()
            .filter(|c| c.send_chain(chain, kind, 0, payload.to_vec()).is_ok())
            .count()
    }

    /// Send a frame on `chain` to every connected peer, admitted or not, hosting it or not: a
    /// test build that misbehaves on command (feature `misbehave`).
    #[cfg(feature = "misbehave")]
    pub fn broadcast_unchecked(&self, chain: &str, kind: u32, payload: &[u8]) -> usize {
        let conns: Vec<Arc<Conn>> = self.shared.conns.lock().values().cloned().collect();
        conns
            .iter()
            .filter(|c| c.send_unchecked(chain, kind, payload.to_vec()).is_ok())
            .count()
    }

    /// Ask `peer` on `chain` and wait for its answer.
    pub async fn request(
        &self,
        peer: &PeerId,
        chain: &str,
        kind: u32,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, NetError> {
        let conn = self.conn(peer)?;
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        conn.pending.lock().insert(id, tx);
        if let Err(e) = conn.send_chain(chain, kind, id, payload) {
            conn.pending.lock().remove(&id);
            return Err(e);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(NetError::Closed),
            Err(_) => {
                conn.pending.lock().remove(&id);
                Err(NetError::Timeout(timeout.as_millis() as u64))
            }
        }
    }

    /// Connected peers admitted on `chain` (all connected peers with `None`).
    /// The readable name (`org/CN`) of a connected peer, for log lines.
    pub fn peer_name(&self, peer: &PeerId) -> String {
        self.shared
            .conns
            .lock()
            .get(peer)
            .map_or_else(|| "unknown".into(), |c| crate::peer_name(&c.certificate))
    }

    pub fn peers(&self, chain: Option<&str>) -> Vec<PeerInfo> {
        let mut out: Vec<PeerInfo> = self
            .shared
            .conns
            .lock()
            .values()
            .filter(|c| !c.is_closed())
            .map(|c| c.info())
            .filter(|p| chain.is_none_or(|ch| p.admitted.contains(ch)))
            .collect();
        out.sort_by_key(|p| p.id);
        out
    }

    /// Wait until a connection is registered or closed (or `timeout` passes).
    pub async fn changed(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.shared.changed.notified()).await;
    }

    /// Stop accepting and dialling and close every connection.
    pub fn shutdown(&self) {
        self.shared.shutdown.send_replace(true);
        for (_, (_, h)) in self.shared.dialers.lock().drain() {
            h.abort();
        }
        let conns: Vec<Arc<Conn>> = self.shared.conns.lock().drain().map(|(_, c)| c).collect();
        for c in conns {
            c.close();
        }
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut stop = shared.shutdown.subscribe();
    let pending = Arc::new(tokio::sync::Semaphore::new(
        shared.config.max_pending_handshakes.max(1),
    ));
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((tcp, remote)) => {
                    // A handshake slot, held until the handshake ends (it is bounded by the
                    // handshake timeout); without one the connection is closed at once.
                    let Ok(permit) = pending.clone().try_acquire_owned() else {
                        drop(tcp);
                        shared.stats.refused_inbound.fetch_add(1, Ordering::Relaxed);
                        metrics::counter!("covenant_net_inbound_refused_total").increment(1);
                        debug!(%remote, "inbound connection closed: too many handshakes in progress");
                        continue;
                    };
                    let s = shared.clone();
                    tokio::spawn(async move {
                        let outcome = connection::establish(s.clone(), tcp, remote, Side::Acceptor, None).await;
                        drop(permit);
                        if let Err(e) = outcome {
                            s.stats.handshake_failures.fetch_add(1, Ordering::Relaxed);
                            metrics::counter!("covenant_net_handshake_failures_total", "code" => e.code()).increment(1);
                            debug!(%remote, error = %e, "inbound connection failed");
                        }
                    });
                }
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = stop.changed() => return,
        }
    }
}

/// A TCP connection to `address`, from `source` when one is set.
async fn dial(address: &str, source: Option<std::net::IpAddr>) -> std::io::Result<TcpStream> {
    let Some(source) = source else {
        return TcpStream::connect(address).await;
    };
    let mut last = None;
    for target in tokio::net::lookup_host(address).await? {
        if target.is_ipv4() != source.is_ipv4() {
            continue;
        }
        let socket = if source.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.bind(SocketAddr::new(source, 0))?;
        match socket.connect(target).await {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            format!("{address} has no address of the source address's family ({source})"),
        )
    }))
}

async fn dial_loop(shared: Arc<Shared>, peer: PeerId, address: String) {
    let mut backoff = shared.config.backoff_min;
    let mut stop = shared.shutdown.subscribe();
    loop {
        if *stop.borrow() {
            return;
        }
        if shared.connected(&peer) {
            // Wait for the link to go away (or re-check now and then).
            let notified = shared.changed.notified();
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => return,
            }
            continue;
        }
        let started = std::time::Instant::now();
        let attempt = async {
            let tcp = tokio::time::timeout(
                shared.config.handshake_timeout,
                dial(&address, shared.config.source),
            )
            .await
            .map_err(|_| NetError::Timeout(shared.config.handshake_timeout.as_millis() as u64))?
            .map_err(|e| NetError::Io(e.to_string()))?;
            let remote = tcp.peer_addr().map_err(|e| NetError::Io(e.to_string()))?;
            connection::establish(shared.clone(), tcp, remote, Side::Dialer, Some(peer)).await
        };
        match attempt.await {
            Ok(closed) => {
                // Connected; wait until this connection ends.
                let _ = closed.await;
                if started.elapsed() > Duration::from_secs(10) {
                    backoff = shared.config.backoff_min;
                }
            }
            Err(e) => {
                if !matches!(e, NetError::Io(_) | NetError::Timeout(_)) {
                    shared
                        .stats
                        .handshake_failures
                        .fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("covenant_net_handshake_failures_total", "code" => e.code())
                        .increment(1);
                }
                debug!(%peer, %address, error = %e, "dial failed");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(shared.config.backoff_max);
    }
}
