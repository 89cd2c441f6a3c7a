//! Which peers may talk about which chain.

/// Why a peer was refused on a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Stable code: `NOT_HOSTED`, `UNTRUSTED`, `REVOKED`, `FROZEN`, `EXPIRED`, `NOT_A_MEMBER`,
    /// `NOT_A_NODE`, ...
    pub code: String,
    pub reason: String,
}

impl Refusal {
    pub fn new(code: impl Into<String>, reason: impl Into<String>) -> Self {
        Refusal {
            code: code.into(),
            reason: reason.into(),
        }
    }
}

/// The node's rule for admitting a peer on a chain. Called at every handshake, and again for
/// connected peers when [`Network::readmit`](crate::Network::readmit) says a chain's
/// membership changed.
pub trait Admission: Send + Sync + 'static {
    /// Admit the holder of `peer_certificate` (DER; the holder proved it owns the key) on
    /// `chain`, or say why not.
    fn admit(&self, chain: &str, peer_certificate: &[u8]) -> Result<(), Refusal>;
}
