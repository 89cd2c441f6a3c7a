//! The suites' authenticated ciphers: SM4-GCM and AES-256-GCM, 96-bit nonces, 128-bit tags.

use std::fmt;

use aes_gcm::{
    AesGcm, KeyInit,
    aead::{Aead, Payload, consts::U12},
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{CryptoError, random_bytes};

/// Nonce length of both ciphers.
pub const NONCE_LEN: usize = 12;
/// Authentication tag length of both ciphers.
pub const TAG_LEN: usize = 16;

type Sm4Gcm = AesGcm<sm4::Sm4, U12>;
type Aes256Gcm = aes_gcm::Aes256Gcm;

/// An authenticated symmetric cipher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CipherAlgorithm {
    /// SM4 (GB/T 32907) in Galois/Counter Mode (RFC 8998), 128-bit key.
    Sm4Gcm,
    /// AES-256 in Galois/Counter Mode.
    Aes256Gcm,
}

impl CipherAlgorithm {
    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            CipherAlgorithm::Sm4Gcm => 16,
            CipherAlgorithm::Aes256Gcm => 32,
        }
    }

    /// The algorithm's name.
    pub fn name(self) -> &'static str {
        match self {
            CipherAlgorithm::Sm4Gcm => "sm4-gcm",
            CipherAlgorithm::Aes256Gcm => "aes-256-gcm",
        }
    }
}

/// A symmetric key for one [`CipherAlgorithm`]. Zeroized on drop.
#[derive(Clone)]
pub struct SymmetricKey {
    algorithm: CipherAlgorithm,
    bytes: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for SymmetricKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SymmetricKey({}, <redacted>)", self.algorithm.name())
    }
}

impl SymmetricKey {
    /// A fresh random key.
    pub fn generate(algorithm: CipherAlgorithm) -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new(vec![0u8; algorithm.key_len()]);
        random_bytes(&mut bytes)?;
        Ok(SymmetricKey { algorithm, bytes })
    }

    /// A key from its bytes; the length must match the algorithm.
    pub fn from_bytes(algorithm: CipherAlgorithm, bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != algorithm.key_len() {
            return Err(CryptoError::KeyLength {
                expected: algorithm.key_len(),
                actual: bytes.len(),
            });
        }
        Ok(SymmetricKey {
            algorithm,
            bytes: Zeroizing::new(bytes.to_vec()),
        })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> CipherAlgorithm {
        self.algorithm
    }

    /// Encrypt with an explicit nonce; returns `ciphertext || tag`. Never reuse a nonce with
    /// one key: prefer [`seal`](Self::seal), which picks a random one.
    pub fn encrypt_with_nonce(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let payload = Payload {
            msg: plaintext,
            aad,
        };
        let nonce = nonce.into();
        match self.algorithm {
            CipherAlgorithm::Sm4Gcm => Sm4Gcm::new_from_slice(&self.bytes)
                .map_err(|_| CryptoError::Encrypt)?
                .encrypt(nonce, payload),
            CipherAlgorithm::Aes256Gcm => Aes256Gcm::new_from_slice(&self.bytes)
                .map_err(|_| CryptoError::Encrypt)?
                .encrypt(nonce, payload),
        }
        .map_err(|_| CryptoError::Encrypt)
    }

    /// Decrypt `ciphertext || tag` with an explicit nonce.
    pub fn decrypt_with_nonce(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let payload = Payload {
            msg: ciphertext,
            aad,
        };
        let nonce = nonce.into();
        match self.algorithm {
            CipherAlgorithm::Sm4Gcm => Sm4Gcm::new_from_slice(&self.bytes)
                .map_err(|_| CryptoError::Decrypt)?
                .decrypt(nonce, payload),
            CipherAlgorithm::Aes256Gcm => Aes256Gcm::new_from_slice(&self.bytes)
                .map_err(|_| CryptoError::Decrypt)?
                .decrypt(nonce, payload),
        }
        .map_err(|_| CryptoError::Decrypt)
    }

    /// Encrypt under a fresh random nonce; returns `nonce || ciphertext || tag`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce)?;
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&self.encrypt_with_nonce(&nonce, aad, plaintext)?);
        Ok(out)
    }

    /// Decrypt what [`seal`](Self::seal) produced.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Decrypt)?;
        self.decrypt_with_nonce(nonce, aad, rest)
    }
}

/// The raw SM4 block cipher (GB/T 32907): one key schedule, any number of 16-byte blocks.
/// Used by conformance tests and benchmarks; data encryption goes through [`SymmetricKey`].
pub struct Sm4Block(sm4::Sm4);

impl fmt::Debug for Sm4Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sm4Block(<redacted>)")
    }
}

impl Sm4Block {
    /// Expand `key`.
    pub fn new(key: &[u8; 16]) -> Self {
        use sm4::cipher::KeyInit as _;
        Sm4Block(sm4::Sm4::new(key.into()))
    }

    /// Encrypt one block in place.
    pub fn encrypt_block(&self, block: &mut [u8; 16]) {
        use sm4::cipher::BlockCipherEncrypt as _;
        self.0.encrypt_block(block.into());
    }

    /// Decrypt one block in place.
    pub fn decrypt_block(&self, block: &mut [u8; 16]) {
        use sm4::cipher::BlockCipherDecrypt as _;
        self.0.decrypt_block(block.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    // RFC 8998, Appendix A.1: SM4-GCM test vector.
    #[test]
    fn sm4_gcm_rfc8998_vector() {
        let key = SymmetricKey::from_bytes(
            CipherAlgorithm::Sm4Gcm,
            &h("0123456789ABCDEFFEDCBA9876543210"),
        )
        .unwrap();
        let nonce: [u8; 12] = h("00001234567800000000ABCD").try_into().unwrap();
        let aad = h("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2");
        let pt = h(
            "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD\
                    EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
        );
        let expected_ct = h(
            "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735\
                             D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D",
        );
        let expected_tag = h("83DE3541E4C2B58177E065A9BF7B62EC");
        let out = key.encrypt_with_nonce(&nonce, &aad, &pt).unwrap();
        assert_eq!(&out[..pt.len()], &expected_ct[..]);
        assert_eq!(&out[pt.len()..], &expected_tag[..]);
        assert_eq!(key.decrypt_with_nonce(&nonce, &aad, &out).unwrap(), pt);
    }

    // NIST GCM test case 16 (AES-256, 60-byte plaintext with AAD).
    #[test]
    fn aes256_gcm_nist_vector() {
        let key = SymmetricKey::from_bytes(
            CipherAlgorithm::Aes256Gcm,
            &h("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"),
        )
        .unwrap();
        let nonce: [u8; 12] = h("cafebabefacedbaddecaf888").try_into().unwrap();
        let pt = h(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                    1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        );
        let aad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let out = key.encrypt_with_nonce(&nonce, &aad, &pt).unwrap();
        assert_eq!(
            hex::encode(&out[..pt.len()]),
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
             8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
        );
        assert_eq!(
            hex::encode(&out[pt.len()..]),
            "76fc6ece0f4e1768cddf8853bb2d551b"
        );
    }

    #[test]
    fn seal_open_round_trip_and_tamper_detection() {
        for alg in [CipherAlgorithm::Sm4Gcm, CipherAlgorithm::Aes256Gcm] {
            let key = SymmetricKey::generate(alg).unwrap();
            let sealed = key.seal(b"aad", b"secret ledger entry").unwrap();
            assert_eq!(key.open(b"aad", &sealed).unwrap(), b"secret ledger entry");
            assert_eq!(key.open(b"AAD", &sealed).unwrap_err(), CryptoError::Decrypt);
            let mut bad = sealed.clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert_eq!(key.open(b"aad", &bad).unwrap_err(), CryptoError::Decrypt);
            assert_eq!(
                key.open(b"aad", &[1, 2, 3]).unwrap_err(),
                CryptoError::Decrypt
            );
        }
    }

    #[test]
    fn key_length_is_checked() {
        assert_eq!(
            SymmetricKey::from_bytes(CipherAlgorithm::Sm4Gcm, &[0; 32])
                .unwrap_err()
                .code(),
            "KEY_LENGTH"
        );
    }
}
