//! A frame from a peer: the frame itself (hello, welcome, chain frames), the certificate a
//! hello carries, and a chain frame's payload as each kind of message the node reads from it
//! (transaction gossip, chain status, block requests and batches, consensus messages), down
//! to the blocks and transactions those carry.
#![no_main]

use covenant_crypto::Suite;
use covenant_types::{
    block::DecodedBlock,
    pb::{BlockBatch, BlockRequest, ChainStatus, ConsensusMessage, TxBatch, peer_frame::Body},
    tx::DecodedTx,
};
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = covenant_net::wire::decode(data) else {
        return;
    };
    match frame.body {
        Some(Body::Hello(hello)) => {
            let _ = covenant_pki::Certificate::from_der(hello.certificate, "peer certificate");
        }
        Some(Body::Chain(chain)) => {
            let payload = chain.payload.as_slice();
            let _ = ChainStatus::decode(payload);
            let _ = BlockRequest::decode(payload);
            let _ = ConsensusMessage::decode(payload);
            let _ = covenant_consensus::raft::check_peer_bytes(payload);
            if let Ok(batch) = BlockBatch::decode(payload) {
                for b in batch.blocks.iter().take(4) {
                    for suite in [Suite::Sm, Suite::Intl] {
                        if let Ok(block) = DecodedBlock::decode(suite, b, 1 << 22) {
                            let _ = block.check_body(suite);
                        }
                    }
                }
            }
            if let Ok(batch) = TxBatch::decode(payload) {
                for t in batch.transactions.iter().take(16) {
                    let _ = DecodedTx::decode(Suite::Intl, t, 1 << 20);
                }
            }
        }
        Some(Body::Welcome(_) | Body::Readmitted(_)) | None => {}
    }
});
