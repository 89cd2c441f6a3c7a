//! What the engines' commit certificates share.
//!
//! Every certificate names its signers by the suite hash of their node certificates and is
//! checked against the consensus nodes of the config the block was decided under. Solo and
//! Raft certificates are one consensus node's signature over the block header (Solo: the
//! chain's one node, round 0; Raft: the leader, the term as the round); TBFT's carry 2f+1
//! precommits (see [`crate::tbft::certificate`]).

use covenant_crypto::{Hash, PrivateKey, Suite};
use covenant_types::{
    ChainConfig, CommitCertificate, ConsensusNode, Endorsement, block::DecodedBlock, pb::sender,
    tx::sender_by_hash,
};

use crate::{ConsensusError, node_key};

pub(crate) fn bad(detail: impl Into<String>) -> ConsensusError {
    ConsensusError::BadCertificate(detail.into())
}

/// The block's certificate, or an error if it has none.
pub fn present(block: &DecodedBlock) -> Result<&CommitCertificate, ConsensusError> {
    block
        .block
        .certificate
        .as_ref()
        .ok_or_else(|| bad("the block has none"))
}

/// The consensus nodes of `config` (an error if there are none).
pub fn consensus_nodes(config: &ChainConfig) -> Result<&[ConsensusNode], ConsensusError> {
    let nodes = config
        .consensus
        .as_ref()
        .map(|c| c.nodes.as_slice())
        .unwrap_or_default();
    if nodes.is_empty() {
        return Err(bad("the chain names no consensus node"));
    }
    Ok(nodes)
}

/// The id a certificate signature names its signer by (the hash of its node certificate).
pub fn signer_id(signature: &Endorsement) -> Result<Hash, ConsensusError> {
    match signature.signer.as_ref().and_then(|s| s.id.as_ref()) {
        Some(sender::Id::CertificateHash(h)) => {
            Hash::from_slice(h).map_err(|_| bad("a signer id is not a hash"))
        }
        _ => Err(bad("a signature does not name its signer by hash")),
    }
}

/// A certificate of one node's signature over the block header, made in `round`.
pub fn sign_header(
    block: &DecodedBlock,
    round: u64,
    signer: Hash,
    key: &PrivateKey,
) -> Result<CommitCertificate, ConsensusError> {
    let signature = key
        .sign(&block.block.header)
        .map_err(|e| ConsensusError::Signing(e.to_string()))?;
    Ok(CommitCertificate {
        round,
        signatures: vec![Endorsement {
            signer: Some(sender_by_hash(signer)),
            signature,
        }],
        votes: vec![],
    })
}

/// Check a one-signature certificate: exactly one signature, no votes, by a consensus node
/// that `allowed` accepts, verifying over the header.
pub fn check_header_signature(
    suite: Suite,
    block: &DecodedBlock,
    config: &ChainConfig,
    who: &str,
    allowed: impl Fn(usize, &ConsensusNode) -> bool,
) -> Result<(), ConsensusError> {
    let cert = present(block)?;
    let [sig] = cert.signatures.as_slice() else {
        return Err(bad(format!(
            "a {who} certificate has exactly one signature"
        )));
    };
    if !cert.votes.is_empty() {
        return Err(bad(format!("a {who} certificate carries no votes")));
    }
    let signer = signer_id(sig)?;
    let node = consensus_nodes(config)?
        .iter()
        .enumerate()
        .find(|(i, n)| allowed(*i, n) && suite.hash(&n.certificate) == signer)
        .map(|(_, n)| n)
        .ok_or_else(|| {
            bad(format!(
                "signed by a node that may not sign {who} certificates"
            ))
        })?;
    let key = node_key(&node.certificate).map_err(bad)?;
    key.verify(&block.block.header, &sig.signature)
        .map_err(|_| bad(format!("the {who}'s signature does not verify")))
}
