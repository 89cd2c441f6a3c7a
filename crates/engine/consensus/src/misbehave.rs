//! A validator that breaks the protocol on command — for tests only.
//!
//! Compiled only with the `misbehave` feature, which is off by default and enabled by the
//! command-line crate's tests alone (`cargo build --release` never has it); an optimised
//! build that has it anyway ignores the command and says so. A debug build with it reads
//! `COVENANT_MISBEHAVE` at start, a comma-separated list of:
//!
//! - `equivocate-votes`: before each vote it sends, a second one for the same height, round
//!   and kind for another value (nil for a block, a block no one proposed for nil), signed.
//! - `equivocate-proposals`: before each proposal, a second one for the same round with
//!   another valid block (the same transactions, a later timestamp), signed.
//! - `invalid-blocks`: its proposals carry a block whose header claims a state root that
//!   execution does not give, properly signed, so only re-execution finds it out.
//! - `forged-certificates`: blocks it serves to syncing peers carry commit certificates whose
//!   signatures are altered (at even heights) or cut down to one (at odd heights).
//! - `foreign-chain`: each consensus message it broadcasts goes out a second time about a
//!   chain it does not host ([`FOREIGN_CHAIN`]), to every peer.
//! - `flood`: each consensus message it broadcasts goes out [`FLOOD_COPIES`] times more.
//! - `replay`: with each consensus message it broadcasts, one of its own from at least
//!   [`REPLAY_DEPTH`] heights before goes out again; after each commit, the transactions of the
//!   block [`REPLAY_DEPTH`] heights before are passed on to peers again as if just admitted.
//!
//! Honest nodes must keep safety and liveness and name the node: see the
//! `covenant_tbft_misbehaviour_total` and `covenant_peer_misbehaviour_total` metrics and the
//! warnings beside them.

use covenant_crypto::Suite;
use covenant_types::{
    BlockHeader,
    block::{DecodedBlock, block_hash},
    pb::{ConsensusMessage, TbftProposal, TbftVote, consensus_message::Body},
};
use prost::Message as _;
use tracing::{error, warn};

use crate::{
    port::NodeKeys,
    tbft::{
        driver::BlockValue,
        message::{Message, ProposalBody, VoteBody},
    },
};

/// What this node is told to do wrong.
#[derive(Debug, Default)]
pub struct Misbehave {
    equivocate_votes: bool,
    equivocate_proposals: bool,
    invalid_blocks: bool,
    forged_certificates: bool,
    foreign_chain: bool,
    flood: bool,
    replay: bool,
    /// Consensus messages this node sent, with their heights, newest last (for `replay`).
    sent: parking_lot::Mutex<std::collections::VecDeque<(u64, Vec<u8>)>>,
}

/// How many heights back a `replay` node reaches for what it sends again.
pub const REPLAY_DEPTH: u64 = 5;
/// Consensus messages a `replay` node keeps to send again.
const REPLAY_KEPT: usize = 512;

/// Extra copies of each consensus message a `flood` node sends.
pub const FLOOD_COPIES: usize = 300;

/// The chain id a `foreign-chain` node sends about: one it does not host.
pub const FOREIGN_CHAIN: &str = "a-chain-this-node-does-not-host";

impl Misbehave {
    /// This process's orders, read from the environment once.
    pub fn global() -> &'static Misbehave {
        static ORDERS: std::sync::OnceLock<Misbehave> = std::sync::OnceLock::new();
        ORDERS.get_or_init(Misbehave::from_env)
    }

    /// From `COVENANT_MISBEHAVE` (nothing when unset).
    fn from_env() -> Self {
        let mut m = Misbehave::default();
        let Ok(list) = std::env::var("COVENANT_MISBEHAVE") else {
            return m;
        };
        if !cfg!(debug_assertions) {
            error!("COVENANT_MISBEHAVE is ignored: an optimised build never misbehaves");
            return m;
        }
        for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match word {
                "equivocate-votes" => m.equivocate_votes = true,
                "equivocate-proposals" => m.equivocate_proposals = true,
                "invalid-blocks" => m.invalid_blocks = true,
                "forged-certificates" => m.forged_certificates = true,
                "foreign-chain" => m.foreign_chain = true,
                "flood" => m.flood = true,
                "replay" => m.replay = true,
                other => error!(
                    misbehaviour = other,
                    "COVENANT_MISBEHAVE names an unknown misbehaviour (known: equivocate-votes, equivocate-proposals, invalid-blocks, forged-certificates, foreign-chain, flood, replay)"
                ),
            }
        }
        if m.equivocate_votes
            || m.equivocate_proposals
            || m.invalid_blocks
            || m.forged_certificates
            || m.foreign_chain
            || m.flood
            || m.replay
        {
            warn!(misbehaviour = %list, "this node misbehaves on command (a test build)");
        }
        m
    }

    /// Whether each consensus message goes out again about a chain this node does not host.
    pub fn foreign_chain(&self) -> bool {
        self.foreign_chain
    }

    /// Whether this node replays old transactions and consensus messages.
    pub fn replays(&self) -> bool {
        self.replay
    }

    /// With `replay`: records `message` (a consensus message this node sends now) and returns
    /// one of its own from at least [`REPLAY_DEPTH`] heights before, to send again.
    pub fn replayed_message(&self, message: &[u8]) -> Option<Vec<u8>> {
        if !self.replay {
            return None;
        }
        let height = crate::tbft::wire_height(message)?;
        let mut sent = self.sent.lock();
        if sent.len() == REPLAY_KEPT {
            sent.pop_front();
        }
        sent.push_back((height, message.to_vec()));
        sent.iter()
            .rev()
            .find(|(h, _)| h + REPLAY_DEPTH <= height)
            .map(|(_, m)| m.clone())
    }

    /// How many extra copies of each consensus message to send.
    pub fn flood_copies(&self) -> usize {
        if self.flood { FLOOD_COPIES } else { 0 }
    }

    /// The bytes this node serves a syncing peer for the encoded block `bytes`: with
    /// `forged-certificates`, its certificate's signatures altered (even heights) or all but
    /// one dropped (odd heights).
    pub fn served_block(&self, bytes: Vec<u8>) -> Vec<u8> {
        if !self.forged_certificates {
            return bytes;
        }
        let Ok(mut block) = covenant_types::Block::decode(bytes.as_slice()) else {
            return bytes;
        };
        let height = BlockHeader::decode(block.header.as_slice()).map_or(0, |h| h.height);
        let Some(certificate) = block.certificate.as_mut() else {
            return bytes;
        };
        if height % 2 == 0 {
            for s in &mut certificate.signatures {
                if let Some(b) = s.signature.last_mut() {
                    *b ^= 0x01;
                }
            }
        } else {
            certificate.signatures.truncate(1);
            certificate.votes.truncate(1);
        }
        block.encode_to_vec()
    }

    /// The block this node proposes in place of `block`, if it is told to propose invalid
    /// ones: the header claims another state root, signed by the node.
    pub fn proposed_block(
        &self,
        block: DecodedBlock,
        node: &NodeKeys,
        suite: Suite,
    ) -> DecodedBlock {
        if !self.invalid_blocks {
            return block;
        }
        let mut header = block.header.clone();
        match header.state_root.first_mut() {
            Some(b) => *b ^= 0xff,
            None => header.state_root = vec![0xff; 32],
        }
        resign(block, header, node, suite)
    }

    /// A message conflicting with `m` to send before it, if this node is told to equivocate.
    pub fn conflicting(
        &self,
        m: &Message<BlockValue>,
        node: &NodeKeys,
        suite: Suite,
    ) -> Option<Vec<u8>> {
        let body = match m {
            Message::Vote(v) if self.equivocate_votes => {
                let other = VoteBody {
                    value: match v.vote.value {
                        Some(_) => None,
                        None => Some(suite.hash(b"a block no one proposed")),
                    },
                    ..v.vote.clone()
                };
                let bytes = other.encode();
                Body::Vote(TbftVote {
                    signature: node.key.sign(&bytes).ok()?,
                    body: bytes,
                    voter: node.id.as_bytes().to_vec(),
                })
            }
            Message::Proposal(p) if self.equivocate_proposals => {
                let mut header = p.value.block.header.clone();
                header.timestamp_ms = header.timestamp_ms.saturating_add(1);
                let block = resign((*p.value.block).clone(), header, node, suite);
                let other = ProposalBody {
                    value: block.hash,
                    ..p.proposal.clone()
                };
                let bytes = other.encode();
                Body::Proposal(TbftProposal {
                    signature: node.key.sign(&bytes).ok()?,
                    body: bytes,
                    proposer: node.id.as_bytes().to_vec(),
                    block: block.encode(),
                })
            }
            _ => return None,
        };
        Some(ConsensusMessage { body: Some(body) }.encode_to_vec())
    }
}

/// `block` with `header` in place of its own, signed by `node`, and its new hash.
fn resign(block: DecodedBlock, header: BlockHeader, node: &NodeKeys, suite: Suite) -> DecodedBlock {
    let bytes = header.encode_to_vec();
    let mut inner = block.block;
    inner.proposer_signature = node.key.sign(&bytes).unwrap_or_default();
    inner.header = bytes;
    DecodedBlock {
        hash: block_hash(suite, &inner.header),
        block: inner,
        header,
    }
}
