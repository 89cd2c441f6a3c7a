//! Node-to-node transport.
//!
//! Every pair of nodes shares one mutually authenticated TLS 1.3 connection (rustls); the
//! chains both host are logical channels on it, multiplexed by chain id. A node's identity
//! is its org-issued node certificate:
//!
//! - **intl** nodes (ECDSA P-256 or Ed25519 certificates) present that certificate in the TLS
//!   handshake itself, so TLS proves the peer holds its key.
//! - **sm** nodes (SM2 certificates, which rustls cannot use in a handshake) present an
//!   ephemeral P-256 certificate in TLS and prove their SM2 node identity inside the session:
//!   the first frame each side sends carries its node certificate and an SM2 signature over a
//!   value exported from this TLS session ([`identity`]). A signature made for one session is
//!   worthless on any other, so the identity cannot be replayed or relayed.
//!
//! Both kinds send that first frame ([`PeerHello`](covenant_types::pb::PeerHello)), so one
//! code path checks every peer. Trust is decided per chain after the handshake, by the
//! node's [`Admission`]: a peer talks about a chain only if its certificate chains to a trust
//! root of that chain, is not revoked or frozen, and the chain's config lists it. A node never
//! sends a chain's frames to a peer it has not admitted on that chain, and drops frames a peer
//! sends about a chain it was not admitted on.
//!
//! Frames are length-prefixed protobuf ([`wire`]); an oversized or undecodable frame closes
//! the connection and is counted, never more. Dialers reconnect with exponential backoff.
//!
//! On top of the links, per chain: block [`sync`] (heights announced, missing blocks fetched
//! and checked, requests served within bounds) and transaction [`gossip`], both over the
//! chain's [`Ledger`].

#![forbid(unsafe_code)]

mod admission;
pub mod chain_link;
pub mod checkpoint;
mod connection;
pub mod gossip;
pub mod identity;
mod network;
pub mod sync;
pub mod tls;
pub mod wire;

pub use admission::{Admission, Refusal};
pub use chain_link::{ChainLink, Ledger, PeerTx, SyncRejection, kind};
pub use identity::{NodeIdentity, PeerId, peer_name};
pub use network::{Inbound, NetConfig, NetStats, Network, PeerInfo, PeerTarget, Reply};

use thiserror::Error;

/// Errors of the transport.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NetError {
    #[error("network configuration: {0}")]
    Config(String),
    #[error("cannot listen on {address}: {detail}")]
    Listen { address: String, detail: String },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("I/O: {0}")]
    Io(String),
    #[error("not connected to peer {0}")]
    NotConnected(PeerId),
    #[error("peer {peer} is not admitted on chain {chain}")]
    NotAdmitted { peer: PeerId, chain: String },
    #[error("the send queue to peer {0} is full")]
    QueueFull(PeerId),
    #[error("no answer within {0} ms")]
    Timeout(u64),
    #[error("the peer answered with an error: {0}")]
    Remote(String),
    #[error("the connection closed")]
    Closed,
    #[error("bad handshake: {0}")]
    Handshake(String),
}

impl NetError {
    /// A stable code for logs, metrics and API errors.
    pub fn code(&self) -> &'static str {
        match self {
            NetError::Config(_) => "NET_CONFIG",
            NetError::Listen { .. } => "PORT_IN_USE",
            NetError::Tls(_) => "TLS",
            NetError::Io(_) => "IO",
            NetError::NotConnected(_) => "NOT_CONNECTED",
            NetError::NotAdmitted { .. } => "NOT_ADMITTED",
            NetError::QueueFull(_) => "QUEUE_FULL",
            NetError::Timeout(_) => "TIMEOUT",
            NetError::Remote(_) => "REMOTE",
            NetError::Closed => "CLOSED",
            NetError::Handshake(_) => "BAD_HANDSHAKE",
        }
    }
}
