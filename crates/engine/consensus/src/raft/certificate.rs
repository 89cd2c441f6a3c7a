//! Raft commit certificates: the leader's signature over the block header, made with the
//! term as the certificate's round.
//!
//! Raft tolerates crashes, not lies: consensus nodes are trusted to follow the protocol, and a
//! node's ledger holds only blocks the Raft log committed. What a certificate adds is that a
//! block served by anyone (a sync node, a relay) was produced by a consensus node of the
//! chain: nobody else can forge or alter it. Chains that must tolerate lying members use TBFT.

use covenant_crypto::{Hash, PrivateKey, Suite};
use covenant_types::{ChainConfig, CommitCertificate, block::DecodedBlock};

use crate::{ConsensusError, certificate};

/// The certificate a leader with `leader` id puts on `block` in `term`.
pub fn certificate(
    block: &DecodedBlock,
    term: u64,
    leader: Hash,
    key: &PrivateKey,
) -> Result<CommitCertificate, ConsensusError> {
    certificate::sign_header(block, term, leader, key)
}

/// Check `block`'s Raft certificate against `config`: any consensus node may have led.
pub fn check(
    suite: Suite,
    block: &DecodedBlock,
    config: &ChainConfig,
) -> Result<(), ConsensusError> {
    certificate::check_header_signature(suite, block, config, "raft leader", |_, _| true)
}
