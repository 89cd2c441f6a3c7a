//! A block as a peer serves it in sync or proposes it: decoded under either suite (the first
//! byte picks), its body checked against its header (Merkle roots, DAG), and, for a genesis
//! block, its chain config read.
#![no_main]

use covenant_types::{block::DecodedBlock, genesis};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((suite, bytes)) = covenant_fuzz::split_suite(data) else {
        return;
    };
    if let Ok(block) = DecodedBlock::decode(suite, bytes, 1 << 22) {
        let _ = block.check_body(suite);
        let _ = block.check_link(suite, &[], &[]);
        let _ = block.dag();
        if block.height() == 0 {
            let _ = genesis::config_of(&block);
        }
    }
    let _ = genesis::decode(bytes);
});
