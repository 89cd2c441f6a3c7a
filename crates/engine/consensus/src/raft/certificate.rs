//! Raft commit certificates: the leader's signature over the block header, made with the
//! term as the certificate's round.
//!
//! Raft tolerates crashes, not lies: consensus nodes are trusted to follow the protocol, and a
//! node's ledger holds only blocks the Raft log committed. What a certificate adds is that a
//! block served by anyone (a sync node, a relay) was produced by a consensus node of the
//! chain: nobody else can forge or alter it. Chains that must tolerate lying members use TBFT.

use covenant_crypto::{Hash, PrivateKey, Suite};
use covenant_types::{
    ChainConfig, CommitCertificate, Endorsement, block::DecodedBlock, pb::sender,
    tx::sender_by_hash,
};

use crate::{Consensus, ConsensusError, node_key};

/// The certificate a leader with `leader` id puts on `block` in `term`.
pub fn certificate(
    block: &DecodedBlock,
    term: u64,
    leader: Hash,
    key: &PrivateKey,
) -> Result<CommitCertificate, ConsensusError> {
    let signature = key
        .sign(&block.block.header)
        .map_err(|e| ConsensusError::Signing(e.to_string()))?;
    Ok(CommitCertificate {
        round: term,
        signatures: vec![Endorsement {
            signer: Some(sender_by_hash(leader)),
            signature,
        }],
        votes: vec![],
    })
}

/// Check `block`'s Raft certificate against `config`.
pub fn check(
    suite: Suite,
    block: &DecodedBlock,
    config: &ChainConfig,
) -> Result<(), ConsensusError> {
    let bad = |s: &str| ConsensusError::BadCertificate(s.to_string());
    let cert = block
        .block
        .certificate
        .as_ref()
        .ok_or_else(|| bad("the block has none"))?;
    let [sig] = cert.signatures.as_slice() else {
        return Err(bad("a raft certificate has exactly one signature"));
    };
    if !cert.votes.is_empty() {
        return Err(bad("a raft certificate carries no votes"));
    }
    let leader = match sig.signer.as_ref().and_then(|s| s.id.as_ref()) {
        Some(sender::Id::CertificateHash(h)) => {
            Hash::from_slice(h).map_err(|_| bad("bad leader id"))?
        }
        _ => return Err(bad("the certificate does not name its leader by hash")),
    };
    let node = config
        .consensus
        .as_ref()
        .and_then(|c| {
            c.nodes
                .iter()
                .find(|n| suite.hash(&n.certificate) == leader)
        })
        .ok_or_else(|| bad("signed by a node that is not a consensus node"))?;
    let key = node_key(&node.certificate).map_err(|e| bad(&e))?;
    key.verify(&block.block.header, &sig.signature)
        .map_err(|_| bad("the leader's signature does not verify"))
}

/// The Raft engine as the chain sees it: blocks are ordered by the node's Raft driver; the
/// chain only checks their certificates.
#[derive(Debug)]
pub struct RaftCertificates {
    suite: Suite,
}

impl RaftCertificates {
    pub fn new(suite: Suite) -> Self {
        RaftCertificates { suite }
    }
}

impl Consensus for RaftCertificates {
    fn kind(&self) -> &'static str {
        "raft"
    }

    fn is_proposer(&self, _height: u64) -> bool {
        false
    }

    fn order(&self, block: DecodedBlock) -> Result<DecodedBlock, ConsensusError> {
        Err(ConsensusError::NotProposer(block.height()))
    }

    fn check_certificate(
        &self,
        block: &DecodedBlock,
        config: &ChainConfig,
    ) -> Result<(), ConsensusError> {
        check(self.suite, block, config)
    }
}
