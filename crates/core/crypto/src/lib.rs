//! Covenant's algorithm suites.
//!
//! A chain picks one [`Suite`] in its genesis and every hash, signature and symmetric cipher on
//! that chain comes from it:
//!
//! | suite  | signatures                          | hash    | cipher       |
//! |--------|-------------------------------------|---------|--------------|
//! | `sm`   | SM2 with SM3 and the default distid | SM3     | SM4-GCM      |
//! | `intl` | ECDSA P-256 with SHA-256, Ed25519   | SHA-256 | AES-256-GCM  |
//!
//! Keys load and save as PKCS#8 PEM, public keys as SPKI. Signatures use the encodings other
//! tools expect: DER `SEQUENCE { r, s }` for SM2 and ECDSA, the raw 64 bytes for Ed25519.
//! The [`merkle`] module builds Merkle trees over the suite's hash with standalone inclusion
//! proofs.

#![forbid(unsafe_code)]

pub mod calibrate;
pub mod cipher;
mod ecsig;
mod error;
pub mod hash;
pub mod key;
pub mod merkle;
pub mod oid;
pub mod sm2_verify;
mod suite;

pub use cipher::{CipherAlgorithm, SymmetricKey};
pub use error::CryptoError;
pub use hash::{Hash, HashAlgorithm, Hasher};
pub use key::{KeyAlgorithm, PrivateKey, PublicKey};
pub use suite::Suite;

/// The SM2 distinguishing identifier every Covenant SM2 signature uses: the default ID of
/// GM/T 0009 and RFC 8998's `1234567812345678`, which OpenSSL's `distid:` option also names.
pub const SM2_DEFAULT_DISTID: &str = "1234567812345678";

/// Fill `buf` from the operating system's random number generator.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(buf).map_err(|e| CryptoError::Rng(e.to_string()))
}
