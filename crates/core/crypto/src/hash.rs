//! The suites' hash functions. Both SM3 and SHA-256 produce 32 bytes.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest as _;

use crate::CryptoError;

/// Length in bytes of every hash Covenant uses.
pub const HASH_LEN: usize = 32;

/// A hash algorithm of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlgorithm {
    /// SM3 (GB/T 32905).
    Sm3,
    /// SHA-256 (FIPS 180-4).
    Sha256,
}

impl HashAlgorithm {
    /// The algorithm's name.
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sm3 => "sm3",
            HashAlgorithm::Sha256 => "sha256",
        }
    }

    /// Hash `data` in one call.
    pub fn digest(self, data: &[u8]) -> Hash {
        let mut h = self.hasher();
        h.update(data);
        h.finalize()
    }

    /// An incremental hasher.
    pub fn hasher(self) -> Hasher {
        match self {
            HashAlgorithm::Sm3 => Hasher::Sm3(sm3::Sm3::new()),
            HashAlgorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
        }
    }
}

/// An incremental hasher for one of the suites' hash functions.
#[derive(Clone)]
pub enum Hasher {
    Sm3(sm3::Sm3),
    Sha256(sha2::Sha256),
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hasher::Sm3(_) => f.write_str("Hasher(sm3)"),
            Hasher::Sha256(_) => f.write_str("Hasher(sha256)"),
        }
    }
}

impl Hasher {
    /// Feed more bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sm3(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
        }
    }

    /// Finish and return the hash.
    pub fn finalize(self) -> Hash {
        let out: [u8; HASH_LEN] = match self {
            Hasher::Sm3(h) => h.finalize().into(),
            Hasher::Sha256(h) => h.finalize().into(),
        };
        Hash(out)
    }
}

/// A 32-byte hash value. Displays and serializes as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; HASH_LEN]);

impl Hash {
    /// The all-zero value.
    pub const ZERO: Hash = Hash([0; HASH_LEN]);

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parse from a slice of exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; HASH_LEN] = bytes.try_into().map_err(|_| CryptoError::KeyLength {
            expected: HASH_LEN,
            actual: bytes.len(),
        })?;
        Ok(Hash(arr))
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl FromStr for Hash {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = hex::decode(s.trim()).map_err(|e| CryptoError::MalformedKey(e.to_string()))?;
        Hash::from_slice(&bytes)
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex32(s: &str) -> Hash {
        s.replace(' ', "").parse().unwrap()
    }

    // GB/T 32905-2016, Appendix A, example 1: "abc".
    #[test]
    fn sm3_gbt32905_abc() {
        assert_eq!(
            HashAlgorithm::Sm3.digest(b"abc"),
            hex32("66c7f0f4 62eeedd9 d1f2d46b dc10e4e2 4167c487 5cf2f7a2 297da02b 8f4ba8e0")
        );
    }

    // GB/T 32905-2016, Appendix A, example 2: "abcd" repeated 16 times (64 bytes).
    #[test]
    fn sm3_gbt32905_64_bytes() {
        let msg = b"abcd".repeat(16);
        assert_eq!(msg.len(), 64);
        assert_eq!(
            HashAlgorithm::Sm3.digest(&msg),
            hex32("debe9ff9 2275b8a1 38604889 c18e5a4d 6fdb70e5 387e5765 293dcba3 9c0c5732")
        );
    }

    #[test]
    fn sha256_fips_abc() {
        assert_eq!(
            HashAlgorithm::Sha256.digest(b"abc"),
            hex32("ba7816bf 8f01cfea 414140de 5dae2223 b00361a3 96177a9c b410ff61 f20015ad")
        );
    }

    #[test]
    fn incremental_matches_one_shot() {
        for alg in [HashAlgorithm::Sm3, HashAlgorithm::Sha256] {
            let mut h = alg.hasher();
            h.update(b"ab");
            h.update(b"c");
            assert_eq!(h.finalize(), alg.digest(b"abc"));
        }
    }

    #[test]
    fn hash_hex_and_serde_round_trip() {
        let h = HashAlgorithm::Sm3.digest(b"x");
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{}\"", h.to_hex()));
        assert_eq!(serde_json::from_str::<Hash>(&json).unwrap(), h);
        assert_eq!(h.to_hex().parse::<Hash>().unwrap(), h);
        assert!("00".parse::<Hash>().is_err());
        assert!("zz".parse::<Hash>().is_err());
    }
}
