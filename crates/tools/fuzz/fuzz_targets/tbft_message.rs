//! A TBFT consensus message from a peer: the envelope, the signed vote or proposal body in
//! it, and a proposal's block.
#![no_main]

use covenant_consensus::tbft::{ProposalBody, SignedVote, VoteBody};
use covenant_crypto::Suite;
use covenant_types::{
    block::DecodedBlock,
    pb::{ConsensusMessage, consensus_message::Body},
};
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let _ = VoteBody::decode(data);
    let _ = ProposalBody::decode(data);
    let Ok(msg) = ConsensusMessage::decode(data) else {
        return;
    };
    match msg.body {
        Some(Body::Vote(v)) => {
            let _ = SignedVote::parse(v.body, Default::default(), v.signature);
        }
        Some(Body::Proposal(p)) => {
            let _ = ProposalBody::decode(&p.body);
            for suite in [Suite::Sm, Suite::Intl] {
                let _ = DecodedBlock::decode(suite, &p.block, 1 << 22);
            }
        }
        None => {}
    }
});
