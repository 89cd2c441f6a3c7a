//! TBFT commit certificates: the precommits of more than two thirds of the consensus nodes.
//!
//! A certificate carries each precommit as the exact bytes its voter signed, so checking it
//! re-encodes nothing: every vote body is parsed, must say "precommit this block at this
//! height and round on this chain", must come from a distinct consensus node of the chain
//! config the block was decided under, and must verify under that node's key.

use std::collections::BTreeSet;

use covenant_crypto::{Hash, Suite};
use covenant_types::{
    ChainConfig, CommitCertificate, Endorsement, block::DecodedBlock, tx::sender_by_hash,
};

use super::message::{SignedVote, VoteBody, VoteKind};
use crate::{
    ConsensusError,
    certificate::{self, bad},
    node_key,
};

/// The certificate of a block decided in `round` by `precommits`.
pub fn certificate(round: u32, precommits: &[SignedVote]) -> CommitCertificate {
    CommitCertificate {
        round: round as u64,
        signatures: precommits
            .iter()
            .map(|v| Endorsement {
                signer: Some(sender_by_hash(v.voter)),
                signature: v.signature.clone(),
            })
            .collect(),
        votes: precommits.iter().map(|v| v.body.clone()).collect(),
    }
}

/// Votes needed among `n` validators: more than two thirds.
pub fn quorum(n: usize) -> usize {
    n * 2 / 3 + 1
}

/// Check `block`'s TBFT certificate against `config` (the config the block was decided under).
pub fn check(
    suite: Suite,
    block: &DecodedBlock,
    config: &ChainConfig,
) -> Result<(), ConsensusError> {
    let cert = certificate::present(block)?;
    let nodes = certificate::consensus_nodes(config)?;
    if cert.votes.len() != cert.signatures.len() {
        return Err(bad("votes and signatures differ in number"));
    }
    if cert.votes.len() > nodes.len() {
        return Err(bad("more votes than consensus nodes"));
    }
    let round = u32::try_from(cert.round).map_err(|_| bad("round out of range"))?;
    let ids: Vec<Hash> = nodes.iter().map(|n| suite.hash(&n.certificate)).collect();
    let mut seen = BTreeSet::new();
    for (i, (body, sig)) in cert.votes.iter().zip(&cert.signatures).enumerate() {
        let vote = VoteBody::decode(body).ok_or_else(|| bad(format!("vote {i} is malformed")))?;
        if vote.chain_id != block.header.chain_id
            || vote.height != block.height()
            || vote.round != round
            || vote.kind != VoteKind::Precommit
            || vote.value != Some(block.hash)
        {
            return Err(bad(format!("vote {i} is not a precommit of this block")));
        }
        let voter =
            certificate::signer_id(sig).map_err(|_| bad(format!("vote {i}: bad voter id")))?;
        let index = ids.iter().position(|id| *id == voter).ok_or_else(|| {
            bad(format!(
                "vote {i} is from a node that is not a consensus node"
            ))
        })?;
        if !seen.insert(index) {
            return Err(bad(format!("vote {i} repeats a voter")));
        }
        let key = node_key(&nodes[index].certificate).map_err(bad)?;
        key.verify(body, &sig.signature)
            .map_err(|_| bad(format!("vote {i}: the signature does not verify")))?;
    }
    let need = quorum(nodes.len());
    if seen.len() < need {
        return Err(bad(format!(
            "{} precommits, {need} of {} nodes needed",
            seen.len(),
            nodes.len()
        )));
    }
    Ok(())
}
