//! The Covenant node: hosts the chains of a config file and serves them.
//!
//! [`Node::open`] opens every chain (verifying the ledger, recovering from a crash);
//! [`serve`] starts their consensus drivers and the network, and serves the node's API
//! (covenant-api: REST/JSON + WebSocket with `/metrics`, `/healthz` and `/openapi.json`, and
//! gRPC) on bounded listeners until it is told to stop (Ctrl-C or SIGTERM) or a chain halts,
//! then stops producing after the block in progress.

#![forbid(unsafe_code)]

pub mod admin;
mod admission;
pub mod config;
mod host;
pub mod links;
pub mod metrics;

use std::{net::SocketAddr, sync::Arc, time::Duration};

pub use config::NodeConfig;
pub use host::{Node, read_genesis};
use thiserror::Error;
use tokio::net::TcpListener;
use tracing::{debug, error, info, warn};

/// Errors starting or running a node. Each has a stable [`code`](NodeError::code).
#[derive(Debug, Error)]
pub enum NodeError {
    #[error("configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Chain(#[from] covenant_chain::ChainError),
    #[error(transparent)]
    Types(#[from] covenant_types::TypesError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(String),
    #[error("the node stopped: {0}")]
    Halted(String),
    #[error("cannot start: {0}")]
    Start(String),
}

impl NodeError {
    pub fn code(&self) -> &'static str {
        match self {
            NodeError::Config(_) => "NODE_CONFIG",
            NodeError::Chain(e) => e.code(),
            NodeError::Types(e) => e.code(),
            NodeError::Bind { source, .. } if source.kind() == std::io::ErrorKind::AddrInUse => {
                "PORT_IN_USE"
            }
            NodeError::Bind { .. } => "BIND_FAILED",
            NodeError::Serve(_) => "SERVE_FAILED",
            NodeError::Halted(_) => "NODE_HALTED",
            NodeError::Start(_) => "NODE_START_FAILED",
        }
    }
}

/// Addresses the node listens on.
#[derive(Debug, Clone)]
pub struct Listening {
    pub api: SocketAddr,
    pub grpc: Option<SocketAddr>,
}

async fn bind(addr: &str) -> Result<TcpListener, NodeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| NodeError::Bind {
            addr: addr.to_string(),
            source,
        })
}

/// Feed the metrics from committed blocks and refresh the gauges every second.
fn spawn_metrics(node: &Arc<Node>, metrics: &Arc<metrics::Metrics>) {
    for (id, chain) in node.chains() {
        let mut rx = chain.subscribe();
        let m = metrics.clone();
        let id = id.clone();
        let c = chain.clone();
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(b) => {
                        let now = covenant_types::tx::now_ms();
                        let latencies: Vec<u64> = b
                            .block
                            .block
                            .transactions
                            .iter()
                            .filter_map(|t| {
                                covenant_types::tx::DecodedTx::decode(c.suite(), t, usize::MAX).ok()
                            })
                            .map(|t| now.saturating_sub(t.payload.timestamp_ms))
                            .collect();
                        let failed = b.results.iter().filter(|r| r.code != "OK").count();
                        m.committed(
                            &id,
                            latencies.len(),
                            failed,
                            c.stats().last_commit_ms,
                            &latencies,
                        );
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return,
                }
            }
        });
    }
    let m = metrics.clone();
    let n = node.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            m.refresh(&n);
        }
    });
}

/// State entries the scrub holds to their blocks each second, per chain (reading at most 16
/// blocks): a million entries are all checked in under ten minutes.
const STATE_SCRUB_PER_SECOND: usize = 2_000;
/// Transactions whose index entries the scrub checks each second, per chain.
const INDEX_SCRUB_PER_SECOND: usize = 2_000;
/// State entries digested each second, per chain, for the checkpoint compared with peers.
const DIGEST_PER_SECOND: usize = 10_000;
/// Blocks the link walk holds to the chain's anchor each second, per chain (at most about 8 MiB
/// of them).
const LINK_WALK_PER_SECOND: u64 = 16;

/// Each second, per chain: rebuild the indexes from the blocks if one was found pointing at
/// the wrong place, repair the state entries found damaged (by a read or the scrub) from the
/// blocks that wrote them, then scrub the next slice of the indexes, digest the next slice of
/// the checkpoint's state (compared with peers by the sync loop), and scrub the next slice of
/// the state.
fn spawn_self_checks(node: &Arc<Node>) {
    for (id, chain) in node.chains() {
        let id = id.clone();
        let c = chain.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let c = c.clone();
                let id = id.clone();
                let checked = tokio::task::spawn_blocking(move || self_check(&id, c.store())).await;
                if checked.is_err() {
                    return;
                }
            }
        });
    }
}

fn self_check(chain: &str, store: &covenant_storage::Store) {
    let failed = |what: &str, e: covenant_storage::StorageError| {
        warn!(chain, error = %e, code = e.code(), "{what} failed; trying again in a second");
    };
    if store.indexes_damaged().is_some()
        && let Err(e) = store.rebuild_indexes()
    {
        failed("rebuilding the indexes", e);
    }
    if let Err(e) = store.repair_state() {
        failed("repairing the state", e);
    }
    match store.verify_links(LINK_WALK_PER_SECOND) {
        Ok(walk) if walk.divergent > 0 || walk.corrected > 0 => {
            warn!(
                chain,
                divergent = walk.divergent,
                corrected = walk.corrected,
                "the link walk found this node's ledger differing from the chain most consensus nodes hold"
            )
        }
        Ok(_) => {}
        Err(e) => debug!(chain, error = %e, "the link walk could not read; trying again"),
    }
    if store.needs_rebuild()
        && let Err(e) = store.rebuild_after_divergence()
    {
        failed(
            "deriving the indexes and state after replacing divergent blocks",
            e,
        );
    }
    if let Err(e) = store.scrub_indexes(INDEX_SCRUB_PER_SECOND) {
        debug!(chain, error = %e, "the index scrub could not read; trying again");
    }
    match store.digest_state(DIGEST_PER_SECOND) {
        Ok(Some((height, digest))) => {
            debug!(chain, height, digest = %hex::encode(digest), "digested the state at a checkpoint")
        }
        Ok(None) => {}
        Err(e) => debug!(chain, error = %e, "the state digest could not read; trying again"),
    }
    match store.scrub_state(STATE_SCRUB_PER_SECOND) {
        Ok(s) if s.pass_complete => {
            debug!(
                chain,
                damaged = store.damaged_state().len(),
                "a state scrub pass completed"
            )
        }
        Ok(_) => {}
        Err(e) => debug!(chain, error = %e, "the state scrub could not read; trying again"),
    }
}

/// The node as its API sees it.
struct NodeHost {
    node: Arc<Node>,
    metrics: Arc<metrics::Metrics>,
}

impl covenant_api::Host for NodeHost {
    fn node_name(&self) -> String {
        self.node.config.node.name.clone()
    }

    fn chain(&self, id: &str) -> Option<covenant_chain::Chain> {
        self.node.chain(id).cloned()
    }

    fn chains(&self) -> Vec<covenant_chain::Chain> {
        self.node.chains().map(|(_, c)| c.clone()).collect()
    }

    fn metrics(&self) -> String {
        self.metrics.refresh(&self.node);
        self.metrics.render()
    }

    fn admitted(&self, chain: &str, count: usize) {
        self.metrics.admitted(chain, count);
    }
}

/// Start serving `node`; `ready` gets the bound addresses. Returns when `shutdown` resolves.
pub async fn serve(
    node: Arc<Node>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(&Listening),
) -> Result<(), NodeError> {
    let metrics = metrics::Metrics::install();
    let api_listener = bind(&node.config.node.api_listen).await?;
    let grpc_listener = match &node.config.node.grpc_listen {
        Some(a) => Some(bind(a).await?),
        None => None,
    };
    let listening = Listening {
        api: api_listener
            .local_addr()
            .map_err(|e| NodeError::Serve(e.to_string()))?,
        grpc: grpc_listener.as_ref().and_then(|l| l.local_addr().ok()),
    };
    node.start().await?;
    spawn_metrics(&node, &metrics);
    spawn_self_checks(&node);
    ready(&listening);

    // Client connections are bounded: the descriptors storage and peers need stay free.
    let soft_limit = covenant_http::raise_descriptor_limit();
    let listeners = 1 + usize::from(grpc_listener.is_some());
    let conf = &node.config.api;
    let limits = covenant_http::Limits {
        max_connections: covenant_http::connection_budget(
            conf.max_connections,
            listeners,
            soft_limit,
        ),
        header_read: Duration::from_millis(conf.header_read_ms),
        idle: Duration::from_millis(conf.idle_ms),
    };
    info!(
        descriptors = ?soft_limit,
        max_connections = limits.max_connections,
        "API client connections bounded"
    );
    let api = covenant_api::Api::new(Arc::new(NodeHost {
        node: node.clone(),
        metrics,
    }));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let rest = tokio::spawn(covenant_http::serve_rest(
        api_listener,
        covenant_api::rest::router(api.clone()),
        limits,
        stop_rx.clone(),
    ));
    tokio::spawn(admin::serve(
        node.clone(),
        node.config.admin_socket(),
        stop_rx.clone(),
    ));
    let grpc = grpc_listener.map(|l| {
        let svc = covenant_api::grpc::ChainService::new(api.clone()).server();
        tokio::spawn(covenant_http::serve_grpc(l, svc, limits, stop_rx.clone()))
    });
    // Stop on the signal, or when a chain halted (it cannot go on correctly).
    let mut halted = node.halted();
    let halt = async move {
        loop {
            if let Some(reason) = halted.borrow().clone() {
                return reason;
            }
            if halted.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    let halt_reason = tokio::select! {
        _ = shutdown => None,
        r = halt => Some(r),
    };
    match &halt_reason {
        Some(reason) => error!(%reason, "stopping: a chain halted"),
        None => info!("stopping: finishing the block in progress"),
    }
    let _ = stop_tx.send(true);
    let n = node.clone();
    let _ = tokio::task::spawn_blocking(move || n.stop()).await;
    if let Ok(Err(e)) = tokio::time::timeout(Duration::from_secs(5), rest).await {
        error!(error = %e, "API task");
    }
    if let Some(g) = grpc
        && let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_secs(5), g).await
    {
        error!(error = %e, "gRPC server");
    }
    match halt_reason {
        Some(reason) => Err(NodeError::Halted(reason)),
        None => Ok(()),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
