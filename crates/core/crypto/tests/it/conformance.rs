use covenant_crypto::{HashAlgorithm, Suite, cipher::Sm4Block};

fn block(s: &str) -> [u8; 16] {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// GB/T 32907-2016 Appendix A, example 1: one encryption and its inverse.
#[test]
fn sm4_gbt32907_single_block() {
    let key = block("0123456789abcdeffedcba9876543210");
    let sm4 = Sm4Block::new(&key);
    let mut b = key;
    sm4.encrypt_block(&mut b);
    assert_eq!(hex::encode(b), "681edf34d206965e86b3e94f536e4246");
    sm4.decrypt_block(&mut b);
    assert_eq!(b, key);
}

/// GB/T 32907-2016 Appendix A, example 2: the same plaintext encrypted 1,000,000 times.
#[test]
fn sm4_gbt32907_one_million_iterations() {
    let key = block("0123456789abcdeffedcba9876543210");
    let sm4 = Sm4Block::new(&key);
    let mut b = key;
    for _ in 0..1_000_000 {
        sm4.encrypt_block(&mut b);
    }
    assert_eq!(hex::encode(b), "595298c7c6fd271f0402f804c33d3f66");
}

/// GB/T 32905-2016 Appendix A through the suite API.
#[test]
fn sm3_gbt32905_vectors_through_the_suite() {
    assert_eq!(Suite::Sm.hash_algorithm(), HashAlgorithm::Sm3);
    assert_eq!(
        Suite::Sm.hash(b"abc").to_hex(),
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    );
    assert_eq!(
        Suite::Sm.hash(&b"abcd".repeat(16)).to_hex(),
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    );
    assert_eq!(
        Suite::Intl.hash(b"abc").to_hex(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
