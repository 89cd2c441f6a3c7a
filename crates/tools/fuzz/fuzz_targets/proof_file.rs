//! A proof file and a genesis block from anyone, verified offline as `covenant proof verify`
//! does. The input is a genesis block's length (4 bytes, big-endian), the block, then the
//! proof file's JSON, so that the fuzzer can pair real ones (the seeds) and alter either.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let len = u32::from_be_bytes(*len) as usize;
    if len > rest.len() {
        return;
    }
    let (genesis, proof) = rest.split_at(len);
    if let Ok(proof) = covenant_proof::ProofFile::from_json(proof) {
        let _ = covenant_proof::verify(&proof, genesis);
    }
});
