//! TBFT messages. Each signed message carries the exact bytes that were signed (`body`), and
//! its fields are parsed from those bytes — nothing is re-encoded before verifying.

use covenant_crypto::Hash;

/// A validator, named by the suite hash of its node certificate.
pub type NodeId = Hash;

/// Which vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VoteKind {
    Prevote,
    Precommit,
}

impl VoteKind {
    fn tag(self) -> u8 {
        match self {
            VoteKind::Prevote => 1,
            VoteKind::Precommit => 2,
        }
    }

    fn from_tag(t: u8) -> Option<Self> {
        match t {
            1 => Some(VoteKind::Prevote),
            2 => Some(VoteKind::Precommit),
            _ => None,
        }
    }
}

const VOTE_DOMAIN: &[u8] = b"covenant/tbft/vote/v1";
const PROPOSAL_DOMAIN: &[u8] = b"covenant/tbft/proposal/v1";

/// What a vote says.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VoteBody {
    pub chain_id: String,
    pub height: u64,
    pub round: u32,
    pub kind: VoteKind,
    /// The block voted for; `None` is a vote for nil.
    pub value: Option<Hash>,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.b.len() < n {
            return None;
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Some(h)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_be_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
    }
    fn str(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        if n > 256 {
            return None;
        }
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
    fn hash(&mut self) -> Option<Hash> {
        Hash::from_slice(self.take(32)?).ok()
    }
    fn opt_hash(&mut self) -> Option<Option<Hash>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(self.hash()?)),
            _ => None,
        }
    }
    fn done(&self) -> bool {
        self.b.is_empty()
    }
}

impl VoteBody {
    /// The canonical bytes a voter signs.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        out.extend_from_slice(VOTE_DOMAIN);
        put_str(&mut out, &self.chain_id);
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.round.to_be_bytes());
        out.push(self.kind.tag());
        match &self.value {
            None => out.push(0),
            Some(h) => {
                out.push(1);
                out.extend_from_slice(h.as_bytes());
            }
        }
        out
    }

    /// Parse signed bytes.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader {
            b: bytes.strip_prefix(VOTE_DOMAIN)?,
        };
        let v = VoteBody {
            chain_id: r.str()?,
            height: r.u64()?,
            round: r.u32()?,
            kind: VoteKind::from_tag(r.u8()?)?,
            value: r.opt_hash()?,
        };
        r.done().then_some(v)
    }
}

/// A vote with its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedVote {
    /// The signed bytes.
    pub body: Vec<u8>,
    pub vote: VoteBody,
    pub voter: NodeId,
    pub signature: Vec<u8>,
}

impl SignedVote {
    /// Parse a vote from its wire parts.
    pub fn parse(body: Vec<u8>, voter: NodeId, signature: Vec<u8>) -> Option<Self> {
        let vote = VoteBody::decode(&body)?;
        Some(SignedVote {
            body,
            vote,
            voter,
            signature,
        })
    }
}

/// What a proposal says (the block travels beside it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalBody {
    pub chain_id: String,
    pub height: u64,
    pub round: u32,
    /// The round in which the value got a polka, re-proposed; `None` for a fresh value.
    pub pol_round: Option<u32>,
    pub value: Hash,
}

impl ProposalBody {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        out.extend_from_slice(PROPOSAL_DOMAIN);
        put_str(&mut out, &self.chain_id);
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.round.to_be_bytes());
        match self.pol_round {
            None => out.push(0),
            Some(r) => {
                out.push(1);
                out.extend_from_slice(&r.to_be_bytes());
            }
        }
        out.extend_from_slice(self.value.as_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader {
            b: bytes.strip_prefix(PROPOSAL_DOMAIN)?,
        };
        let chain_id = r.str()?;
        let height = r.u64()?;
        let round = r.u32()?;
        let pol_round = match r.u8()? {
            0 => None,
            1 => Some(r.u32()?),
            _ => return None,
        };
        let value = r.hash()?;
        r.done().then_some(ProposalBody {
            chain_id,
            height,
            round,
            pol_round,
            value,
        })
    }
}

/// The height a consensus message from the wire (`ConsensusMessage`) is about, read without
/// checking its signature (for the network's bookkeeping of what a peer sends; the driver
/// verifies every message it acts on).
pub fn wire_height(payload: &[u8]) -> Option<u64> {
    use covenant_types::pb::{ConsensusMessage, consensus_message::Body};
    use prost::Message as _;
    match ConsensusMessage::decode(payload).ok()?.body? {
        Body::Vote(v) => VoteBody::decode(&v.body).map(|b| b.height),
        Body::Proposal(p) => ProposalBody::decode(&p.body).map(|b| b.height),
    }
}

/// A proposal: the signed body and the proposed value.
#[derive(Debug, Clone)]
pub struct SignedProposal<V> {
    pub body: Vec<u8>,
    pub proposal: ProposalBody,
    pub value: V,
    pub proposer: NodeId,
    pub signature: Vec<u8>,
}

/// A message between validators.
#[derive(Debug, Clone)]
pub enum Message<V> {
    Proposal(SignedProposal<V>),
    Vote(SignedVote),
}

impl<V> Message<V> {
    pub fn height(&self) -> u64 {
        match self {
            Message::Proposal(p) => p.proposal.height,
            Message::Vote(v) => v.vote.height,
        }
    }

    pub fn round(&self) -> u32 {
        match self {
            Message::Proposal(p) => p.proposal.round,
            Message::Vote(v) => v.vote.round,
        }
    }

    pub fn sender(&self) -> NodeId {
        match self {
            Message::Proposal(p) => p.proposer,
            Message::Vote(v) => v.voter,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_and_reject_garbage() {
        let v = VoteBody {
            chain_id: "main".into(),
            height: 7,
            round: 2,
            kind: VoteKind::Precommit,
            value: Some(Hash([9; 32])),
        };
        assert_eq!(VoteBody::decode(&v.encode()), Some(v.clone()));
        let nil = VoteBody {
            value: None,
            ..v.clone()
        };
        assert_eq!(VoteBody::decode(&nil.encode()), Some(nil));
        let mut long = v.encode();
        long.push(0);
        assert_eq!(VoteBody::decode(&long), None);
        for n in 0..v.encode().len() {
            assert_eq!(VoteBody::decode(&v.encode()[..n]), None);
        }
        let p = ProposalBody {
            chain_id: "main".into(),
            height: 1,
            round: 0,
            pol_round: Some(3),
            value: Hash([1; 32]),
        };
        assert_eq!(ProposalBody::decode(&p.encode()), Some(p.clone()));
        // A vote body never parses as a proposal and the other way round.
        assert_eq!(ProposalBody::decode(&v.encode()), None);
        assert_eq!(VoteBody::decode(&p.encode()), None);
    }
}
