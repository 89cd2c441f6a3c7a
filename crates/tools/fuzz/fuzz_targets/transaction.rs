//! A transaction as a client or a peer sends it: decoded under either suite (the first byte
//! picks), its id and signatures' shape checked as admission does.
#![no_main]

use covenant_types::tx::DecodedTx;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((suite, bytes)) = covenant_fuzz::split_suite(data) else {
        return;
    };
    if let Ok(tx) = DecodedTx::decode(suite, bytes, 1 << 20) {
        // What admission reads next.
        let _ = tx.id.to_hex();
        let _ = tx.payload.contract.len() + tx.payload.method.len();
    }
});
