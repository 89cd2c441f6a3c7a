//! Raft's wire format: a peer's request (decoded and checked as a node does before acting on
//! it) and a peer's reply.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = covenant_consensus::raft::check_peer_bytes(data);
});
