//! The RustCrypto `sm2` verifier, kept as the reference the fast verifier is checked against
//! (differential tests, the fuzzer) and measured against (benchmarks, `covenant bench
//! calibrate`). This is the path Covenant used before the fast verifier: strict DER, `r` and
//! `s` range-checked by `Signature::from_scalars`, then `VerifyingKey::verify`.

use p256::ecdsa::signature::Verifier as _;

use crate::{CryptoError, ecsig};

/// Prepare a RustCrypto verifying key (computes `Z`) from SEC1 bytes and a distinguishing ID.
pub fn prepare(public_key: &[u8], distid: &str) -> Result<sm2::dsa::VerifyingKey, CryptoError> {
    if distid.len() > super::MAX_DISTID_LEN {
        return Err(CryptoError::MalformedKey(
            "distinguishing ID too long".into(),
        ));
    }
    sm2::dsa::VerifyingKey::from_sec1_bytes(distid, public_key)
        .map_err(|_| CryptoError::MalformedKey("not an SM2 curve point".into()))
}

/// Verify a DER `(r, s)` signature with a prepared RustCrypto key.
pub fn verify_with(
    key: &sm2::dsa::VerifyingKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    let (r, s) = ecsig::decode(signature)?;
    let sig = sm2::dsa::Signature::from_scalars(r, s)
        .map_err(|_| CryptoError::MalformedSignature("r or s outside [1, n-1]".into()))?;
    key.verify(message, &sig)
        .map_err(|_| CryptoError::BadSignature)
}

/// Verify a DER `(r, s)` signature under a SEC1 public key and distinguishing ID, preparing
/// the key each time. Same inputs and errors as [`super::verify`].
pub fn verify(
    public_key: &[u8],
    distid: &str,
    message: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    let (r, s) = ecsig::decode(signature)?;
    let key = prepare(public_key, distid)?;
    let sig = sm2::dsa::Signature::from_scalars(r, s)
        .map_err(|_| CryptoError::MalformedSignature("r or s outside [1, n-1]".into()))?;
    key.verify(message, &sig)
        .map_err(|_| CryptoError::BadSignature)
}
