//! One peer connection: handshake, identity proof, admission, then a reader and a writer.

use std::{
    collections::{BTreeSet, HashMap},
    net::SocketAddr,
    sync::{Arc, atomic::Ordering},
};

use covenant_crypto::KeyAlgorithm;
use covenant_types::pb::{
    ChainFrame, PeerFrame, PeerHello, PeerRefusal, PeerWelcome, peer_frame::Body,
};
use parking_lot::{Mutex, RwLock};
use rustls::pki_types::ServerName;
use tokio::{
    io::{AsyncWriteExt, ReadHalf, WriteHalf},
    net::TcpStream,
    sync::{mpsc, oneshot, watch},
};
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};
use tracing::{debug, info, warn};

use crate::{
    NetError, PeerId,
    identity::{EXPORTER_LABEL, ROLE_ACCEPTOR, ROLE_DIALER, verify_hello},
    network::{Inbound, PeerInfo, Reply, Shared},
    tls::SERVER_NAME,
    wire::{self, WireError},
};

/// The largest handshake frame (a certificate and a few chain ids).
const MAX_HANDSHAKE_FRAME: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Dialer,
    Acceptor,
}

type Pending = Mutex<HashMap<u64, oneshot::Sender<Result<Vec<u8>, NetError>>>>;

/// A live connection to a peer.
pub(crate) struct Conn {
    pub peer: PeerId,
    pub certificate: Arc<Vec<u8>>,
    pub serial: u64,
    side: Side,
    remote: SocketAddr,
    listen_address: String,
    /// Chains the peer hosts (from its hello).
    remote_chains: BTreeSet<String>,
    /// Chains this node admitted the peer on.
    admitted: RwLock<BTreeSet<String>>,
    /// Chains the peer admitted this node on.
    admitted_by_peer: RwLock<BTreeSet<String>>,
    tx: mpsc::Sender<PeerFrame>,
    pub pending: Pending,
    closed: watch::Sender<bool>,
    /// The peer sent a frame about a chain it does not host (warned once per connection).
    foreign_warned: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("peer", &self.peer)
            .field("remote", &self.remote)
            .field("side", &self.side)
            .finish()
    }
}

impl Conn {
    /// The id of the node that dialled this connection.
    pub fn dialer_id(&self, me: PeerId) -> PeerId {
        match self.side {
            Side::Dialer => me,
            Side::Acceptor => self.peer,
        }
    }

    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    pub fn queue(&self, frame: PeerFrame) -> Result<(), NetError> {
        if self.is_closed() {
            return Err(NetError::Closed);
        }
        self.tx.try_send(frame).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => NetError::QueueFull(self.peer),
            mpsc::error::TrySendError::Closed(_) => NetError::Closed,
        })
    }

    /// Queue a frame on `chain` whether or not this node admitted the peer on it (a test build
    /// that misbehaves on command).
    #[cfg(feature = "misbehave")]
    pub fn send_unchecked(&self, chain: &str, kind: u32, payload: Vec<u8>) -> Result<(), NetError> {
        self.queue(PeerFrame {
            body: Some(Body::Chain(ChainFrame {
                chain_id: chain.to_string(),
                kind,
                request_id: 0,
                response: false,
                payload,
                error: String::new(),
            })),
        })
    }

    /// Queue a frame on `chain`, only if this node admitted the peer on it.
    pub fn send_chain(
        &self,
        chain: &str,
        kind: u32,
        request_id: u64,
        payload: Vec<u8>,
    ) -> Result<(), NetError> {
        if !self.admitted.read().contains(chain) {
            return Err(NetError::NotAdmitted {
                peer: self.peer,
                chain: chain.to_string(),
            });
        }
        self.queue(PeerFrame {
            body: Some(Body::Chain(ChainFrame {
                chain_id: chain.to_string(),
                kind,
                request_id,
                response: false,
                payload,
                error: String::new(),
            })),
        })
    }

    pub fn info(&self) -> PeerInfo {
        PeerInfo {
            id: self.peer,
            certificate: self.certificate.clone(),
            admitted: self.admitted.read().clone(),
            admitted_by_peer: self.admitted_by_peer.read().clone(),
            listen_address: self.listen_address.clone(),
            remote: self.remote,
            outbound: self.side == Side::Dialer,
        }
    }

    fn fail_pending(&self) {
        for (_, tx) in self.pending.lock().drain() {
            let _ = tx.send(Err(NetError::Closed));
        }
    }
}

fn refusal_frames(refused: &[PeerRefusal]) -> String {
    refused
        .iter()
        .map(|r| format!("{}: {} ({})", r.chain_id, r.code, r.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

fn count_rejection(shared: &Shared, peer: PeerId, chain: &str, code: &str, reason: &str) {
    shared.stats.rejections.fetch_add(1, Ordering::Relaxed);
    metrics::counter!(
        "covenant_net_rejections_total",
        "chain" => chain.to_string(),
        "code" => code.to_string()
    )
    .increment(1);
    warn!(%peer, chain, code, reason, "peer refused on chain");
}

async fn read_handshake_frame(
    rd: &mut ReadHalf<TlsStream<TcpStream>>,
    timeout: std::time::Duration,
) -> Result<PeerFrame, NetError> {
    match tokio::time::timeout(timeout, wire::read_frame(rd, MAX_HANDSHAKE_FRAME)).await {
        Err(_) => Err(NetError::Timeout(timeout.as_millis() as u64)),
        Ok(Err(WireError::Closed)) => Err(NetError::Closed),
        Ok(Err(e)) => Err(NetError::Handshake(e.to_string())),
        Ok(Ok(f)) => Ok(f),
    }
}

/// Run the handshake on a fresh TCP connection and, if the peer is admitted on any chain,
/// start its reader and writer. Returns a receiver that completes when the connection ends.
pub(crate) async fn establish(
    shared: Arc<Shared>,
    tcp: TcpStream,
    remote: SocketAddr,
    side: Side,
    expected: Option<PeerId>,
) -> Result<oneshot::Receiver<()>, NetError> {
    let timeout = shared.config.handshake_timeout;
    let tls_err = |e: std::io::Error| NetError::Tls(e.to_string());
    tcp.set_nodelay(true)
        .map_err(|e| NetError::Io(e.to_string()))?;
    let handshake = async {
        let mut exporter = [0u8; 32];
        let (stream, tls_cert) = match side {
            Side::Dialer => {
                let name =
                    ServerName::try_from(SERVER_NAME).map_err(|e| NetError::Tls(e.to_string()))?;
                let s = TlsConnector::from(shared.client.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(tls_err)?;
                let (_, conn) = s.get_ref();
                conn.export_keying_material(&mut exporter, EXPORTER_LABEL, None)
                    .map_err(|e| NetError::Tls(e.to_string()))?;
                let cert = conn
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| c.as_ref().to_vec());
                (TlsStream::from(s), cert)
            }
            Side::Acceptor => {
                let s = TlsAcceptor::from(shared.server.clone())
                    .accept(tcp)
                    .await
                    .map_err(tls_err)?;
                let (_, conn) = s.get_ref();
                conn.export_keying_material(&mut exporter, EXPORTER_LABEL, None)
                    .map_err(|e| NetError::Tls(e.to_string()))?;
                let cert = conn
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| c.as_ref().to_vec());
                (TlsStream::from(s), cert)
            }
        };
        Ok::<_, NetError>((stream, tls_cert, exporter))
    };
    let (stream, tls_cert, exporter) = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| NetError::Timeout(timeout.as_millis() as u64))??;
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (my_role, peer_role) = match side {
        Side::Dialer => (ROLE_DIALER, ROLE_ACCEPTOR),
        Side::Acceptor => (ROLE_ACCEPTOR, ROLE_DIALER),
    };
    let hosted = shared.hosted();
    let hello = PeerFrame {
        body: Some(Body::Hello(PeerHello {
            certificate: shared.identity.certificate().der().to_vec(),
            chains: hosted.clone(),
            signature: shared.identity.sign_hello(my_role, &exporter)?,
            listen_address: shared.advertise.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        })),
    };
    wire::write_frame(&mut wr, &hello)
        .await
        .map_err(|e| NetError::Io(e.to_string()))?;
    wr.flush().await.map_err(|e| NetError::Io(e.to_string()))?;
    let Some(Body::Hello(peer_hello)) = read_handshake_frame(&mut rd, timeout).await?.body else {
        return Err(NetError::Handshake("the first frame is not a hello".into()));
    };
    let cert = verify_hello(
        &peer_hello.certificate,
        peer_role,
        &exporter,
        &peer_hello.signature,
    )?;
    let algorithm = cert
        .public_key()
        .map(|k| k.algorithm())
        .map_err(|e| NetError::Handshake(e.to_string()))?;
    if algorithm != KeyAlgorithm::Sm2 && tls_cert.as_deref() != Some(cert.der()) {
        return Err(NetError::Handshake(
            "the TLS certificate is not the node certificate".into(),
        ));
    }
    let peer = PeerId::of(cert.der());
    if peer == shared.identity.id() {
        return Err(NetError::Handshake("connected to itself".into()));
    }
    if let Some(want) = expected
        && want != peer
    {
        return Err(NetError::Handshake(format!(
            "expected peer {want} at {remote}, reached {peer}"
        )));
    }
    // Admission, chain by chain.
    let mut admitted = BTreeSet::new();
    let mut refused = Vec::new();
    let remote_chains: BTreeSet<String> = peer_hello.chains.iter().cloned().collect();
    for chain in &remote_chains {
        if !hosted.contains(chain) {
            refused.push(PeerRefusal {
                chain_id: chain.clone(),
                code: "NOT_HOSTED".into(),
                reason: "this node does not host the chain".into(),
            });
            continue;
        }
        match shared.admission.admit(chain, cert.der()) {
            Ok(()) => {
                admitted.insert(chain.clone());
            }
            Err(r) => {
                count_rejection(&shared, peer, chain, &r.code, &r.reason);
                refused.push(PeerRefusal {
                    chain_id: chain.clone(),
                    code: r.code,
                    reason: r.reason,
                });
            }
        }
    }
    let welcome = PeerFrame {
        body: Some(Body::Welcome(PeerWelcome {
            admitted: admitted.iter().cloned().collect(),
            refused: refused.clone(),
        })),
    };
    wire::write_frame(&mut wr, &welcome)
        .await
        .map_err(|e| NetError::Io(e.to_string()))?;
    wr.flush().await.map_err(|e| NetError::Io(e.to_string()))?;
    let Some(Body::Welcome(peer_welcome)) = read_handshake_frame(&mut rd, timeout).await?.body
    else {
        return Err(NetError::Handshake(
            "the second frame is not a welcome".into(),
        ));
    };
    let refused_by_peer: Vec<&PeerRefusal> = peer_welcome
        .refused
        .iter()
        .filter(|r| r.code != "NOT_HOSTED")
        .collect();
    if !refused_by_peer.is_empty() {
        warn!(%peer, refusals = %refusal_frames(&peer_welcome.refused), "the peer refused this node");
    }
    if admitted.is_empty() {
        let _ = wr.shutdown().await;
        return Err(NetError::Handshake(format!(
            "no chain to share with {peer}: {}",
            refusal_frames(&refused)
        )));
    }
    let (tx, rx) = mpsc::channel(shared.config.send_queue);
    let (closed, _) = watch::channel(false);
    let conn = Arc::new(Conn {
        peer,
        certificate: Arc::new(cert.der().to_vec()),
        serial: shared.next_id.fetch_add(1, Ordering::Relaxed),
        side,
        remote,
        listen_address: peer_hello.listen_address.clone(),
        remote_chains,
        admitted: RwLock::new(admitted),
        admitted_by_peer: RwLock::new(peer_welcome.admitted.iter().cloned().collect()),
        tx,
        pending: Mutex::new(HashMap::new()),
        closed,
        foreign_warned: std::sync::atomic::AtomicBool::new(false),
    });
    if !shared.register(&conn) {
        let _ = wr.shutdown().await;
        return Err(NetError::Closed);
    }
    info!(%peer, %remote, outbound = (side == Side::Dialer), chains = ?conn.admitted.read(), "peer connected");
    metrics::gauge!("covenant_net_peers").set(shared.conns.lock().len() as f64);
    let (done_tx, done_rx) = oneshot::channel();
    tokio::spawn(writer(conn.clone(), wr, rx));
    tokio::spawn(reader(shared, conn, rd, done_tx));
    Ok(done_rx)
}

async fn writer(
    conn: Arc<Conn>,
    mut wr: WriteHalf<TlsStream<TcpStream>>,
    mut rx: mpsc::Receiver<PeerFrame>,
) {
    let mut closed = conn.closed.subscribe();
    loop {
        tokio::select! {
            frame = rx.recv() => {
                let Some(frame) = frame else { break };
                if wire::write_frame(&mut wr, &frame).await.is_err() {
                    break;
                }
                if rx.is_empty() && wr.flush().await.is_err() {
                    break;
                }
            }
            _ = closed.changed() => break,
        }
    }
    let _ = wr.shutdown().await;
    conn.close();
}

async fn reader(
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    mut rd: ReadHalf<TlsStream<TcpStream>>,
    done: oneshot::Sender<()>,
) {
    let mut closed = conn.closed.subscribe();
    let limit = shared.config.max_frame_bytes;
    loop {
        let frame = tokio::select! {
            f = wire::read_frame(&mut rd, limit) => f,
            _ = closed.changed() => break,
        };
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                if matches!(e, WireError::TooLarge { .. } | WireError::Decode(_)) {
                    bad_frame(&shared, &conn, &e.to_string(), e.code());
                } else {
                    debug!(peer = %conn.peer, error = %e, "connection ended");
                }
                break;
            }
        };
        match frame.body {
            Some(Body::Chain(f)) => deliver(&shared, &conn, f),
            Some(Body::Readmitted(w)) => {
                let refused: Vec<&PeerRefusal> = w.refused.iter().collect();
                if !refused.is_empty() {
                    warn!(peer = %conn.peer, refusals = %refusal_frames(&w.refused), "the peer changed its admission of this node");
                }
                *conn.admitted_by_peer.write() = w.admitted.into_iter().collect();
            }
            Some(Body::Hello(_)) | Some(Body::Welcome(_)) | None => {
                bad_frame(&shared, &conn, "unexpected handshake frame", "protocol");
                break;
            }
        }
    }
    conn.close();
    conn.fail_pending();
    shared.unregister(&conn);
    metrics::gauge!("covenant_net_peers").set(shared.conns.lock().len() as f64);
    info!(peer = %conn.peer, "peer disconnected");
    let _ = done.send(());
}

fn bad_frame(shared: &Shared, conn: &Conn, detail: &str, code: &'static str) {
    shared.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
    metrics::counter!("covenant_net_bad_frames_total", "code" => code).increment(1);
    warn!(peer = %conn.peer, detail, "closing the connection: bad frame");
}

fn dropped(shared: &Shared, reason: &'static str) {
    shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
    metrics::counter!("covenant_net_dropped_total", "reason" => reason).increment(1);
}

fn deliver(shared: &Shared, conn: &Arc<Conn>, f: ChainFrame) {
    if f.response {
        if let Some(tx) = conn.pending.lock().remove(&f.request_id) {
            let r = if f.error.is_empty() {
                Ok(f.payload)
            } else {
                Err(NetError::Remote(f.error))
            };
            let _ = tx.send(r);
        }
        return;
    }
    if !conn.admitted.read().contains(&f.chain_id) {
        dropped(shared, "not_admitted");
        // A chain the peer said it hosts may be one it was just added to or removed from
        // (admission follows each side's view of the membership); a chain it never named in
        // its hello is one no honest node talks about.
        if !conn.remote_chains.contains(&f.chain_id) {
            metrics::counter!(
                "covenant_peer_misbehaviour_total",
                "chain" => "",
                "peer" => conn.peer.to_hex(),
                "kind" => "frame for a chain it does not host",
            )
            .increment(1);
            if !conn.foreign_warned.swap(true, Ordering::Relaxed) {
                warn!(
                    peer = %conn.peer,
                    name = %crate::peer_name(&conn.certificate),
                    kind = "frame for a chain it does not host",
                    "a peer sent a frame about a chain it does not host (further ones are only counted)"
                );
            }
        }
        return;
    }
    let Some(queue) = shared.chains.read().get(&f.chain_id).cloned() else {
        dropped(shared, "not_hosted");
        return;
    };
    let reply = (f.request_id != 0).then(|| Reply {
        conn: conn.clone(),
        chain: f.chain_id.clone(),
        kind: f.kind,
        request_id: f.request_id,
    });
    let inbound = Inbound {
        peer: conn.peer,
        session: conn.serial,
        certificate: conn.certificate.clone(),
        kind: f.kind,
        payload: f.payload,
        reply,
    };
    if let Err(e) = queue.try_send(inbound) {
        dropped(shared, "queue_full");
        let inbound = match e {
            mpsc::error::TrySendError::Full(i) | mpsc::error::TrySendError::Closed(i) => i,
        };
        if let Some(r) = inbound.reply {
            r.fail("the node is busy");
        }
    }
}

/// Re-run admission of `conn`'s peer on `chain`.
pub(crate) fn readmit(shared: &Arc<Shared>, conn: &Arc<Conn>, chain: &str) {
    if !conn.remote_chains.contains(chain) || !shared.chains.read().contains_key(chain) {
        return;
    }
    let verdict = shared.admission.admit(chain, &conn.certificate);
    let was = conn.admitted.read().contains(chain);
    let mut refused = Vec::new();
    match &verdict {
        Ok(()) if !was => {
            conn.admitted.write().insert(chain.to_string());
            info!(peer = %conn.peer, chain, "peer admitted on chain");
        }
        Err(r) if was => {
            conn.admitted.write().remove(chain);
            count_rejection(shared, conn.peer, chain, &r.code, &r.reason);
        }
        _ => return,
    }
    if let Err(r) = verdict {
        refused.push(PeerRefusal {
            chain_id: chain.to_string(),
            code: r.code,
            reason: r.reason,
        });
    }
    let admitted: Vec<String> = conn.admitted.read().iter().cloned().collect();
    let empty = admitted.is_empty();
    let _ = conn.queue(PeerFrame {
        body: Some(Body::Readmitted(PeerWelcome { admitted, refused })),
    });
    if empty {
        // Let the writer send the notice first.
        let c = conn.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            c.close();
        });
    }
}
