//! The node API's JSON bodies: a submission, a batch, a query, parsed as the handlers parse
//! them, and the base64 transactions they carry decoded.
#![no_main]

use covenant_api_types::json::{BatchSubmitRequest, QueryRequest, SubmitRequest, b64_decode};
use covenant_crypto::Suite;
use covenant_types::tx::DecodedTx;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = serde_json::from_slice::<SubmitRequest>(data)
        && let Some(bytes) = b64_decode(&r.tx)
    {
        let _ = DecodedTx::decode(Suite::Sm, &bytes, 1 << 20);
    }
    if let Ok(r) = serde_json::from_slice::<BatchSubmitRequest>(data) {
        for t in r.txs.iter().take(16) {
            if let Some(bytes) = b64_decode(t) {
                let _ = DecodedTx::decode(Suite::Intl, &bytes, 1 << 20);
            }
        }
    }
    if let Ok(q) = serde_json::from_slice::<QueryRequest>(data) {
        let _ = serde_json::to_vec(&q.args);
        if let Some(pem) = q.caller_cert {
            let _ = covenant_pki::Certificate::from_pem(&pem, "caller");
        }
    }
});
