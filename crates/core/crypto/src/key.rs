//! Private and public keys of the three signature algorithms, with PKCS#8 / SPKI encodings.

use std::{fmt, str::FromStr};

use der::{Decode, Encode, asn1::ObjectIdentifier};
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use getrandom::SysRng;
use pkcs8::{LineEnding, PrivateKeyInfoRef};
use serde::{Deserialize, Serialize};
use signature_traits::*;
use spki::{EncodePublicKey as _, SubjectPublicKeyInfoRef};
use zeroize::Zeroizing;

use crate::{CryptoError, HashAlgorithm, SM2_DEFAULT_DISTID, Suite, ecsig, oid, sm2_verify};

/// The signature traits, re-exported by the curve crates.
mod signature_traits {
    pub(super) use p256::ecdsa::signature::{RandomizedSigner, Signer, Verifier};
}

/// A signature (and key) algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyAlgorithm {
    /// SM2 with SM3 and the default distinguishing ID (GM/T 0003, GM/T 0009).
    Sm2,
    /// ECDSA over NIST P-256 with SHA-256.
    #[serde(rename = "p256")]
    EcdsaP256,
    /// Ed25519 (RFC 8032).
    Ed25519,
}

impl KeyAlgorithm {
    /// All algorithms, in a stable order.
    pub const ALL: [KeyAlgorithm; 3] = [
        KeyAlgorithm::Sm2,
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::Ed25519,
    ];

    /// The algorithm's short name (`sm2`, `p256`, `ed25519`).
    pub fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::Sm2 => "sm2",
            KeyAlgorithm::EcdsaP256 => "p256",
            KeyAlgorithm::Ed25519 => "ed25519",
        }
    }

    /// The suite whose chains accept this algorithm.
    pub fn suite(self) -> Suite {
        match self {
            KeyAlgorithm::Sm2 => Suite::Sm,
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::Ed25519 => Suite::Intl,
        }
    }

    /// The X.509 signature algorithm OID of signatures made with these keys.
    pub fn signature_oid(self) -> ObjectIdentifier {
        match self {
            KeyAlgorithm::Sm2 => oid::SM2_WITH_SM3,
            KeyAlgorithm::EcdsaP256 => oid::ECDSA_WITH_SHA256,
            KeyAlgorithm::Ed25519 => oid::ED25519,
        }
    }

    /// The algorithm whose signatures carry `signature_oid`, if Covenant knows it.
    pub fn from_signature_oid(signature_oid: &ObjectIdentifier) -> Option<Self> {
        KeyAlgorithm::ALL
            .into_iter()
            .find(|a| a.signature_oid() == *signature_oid)
    }

    /// The hash the signature algorithm applies to the message (Ed25519's internal SHA-512 aside).
    pub fn message_hash(self) -> Option<HashAlgorithm> {
        match self {
            KeyAlgorithm::Sm2 => Some(HashAlgorithm::Sm3),
            KeyAlgorithm::EcdsaP256 => Some(HashAlgorithm::Sha256),
            KeyAlgorithm::Ed25519 => None,
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "sm2" => Ok(KeyAlgorithm::Sm2),
            "p256" | "p-256" | "ecdsa" | "ecdsa-p256" | "prime256v1" | "secp256r1" => {
                Ok(KeyAlgorithm::EcdsaP256)
            }
            "ed25519" => Ok(KeyAlgorithm::Ed25519),
            _ => Err(CryptoError::UnsupportedAlgorithm(format!(
                "{s:?} (expected sm2, p256 or ed25519)"
            ))),
        }
    }
}

#[derive(Clone)]
enum SecretInner {
    Sm2(sm2::dsa::SigningKey),
    P256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

/// A private signing key. Zeroized on drop by the underlying key types.
#[derive(Clone)]
pub struct PrivateKey {
    inner: SecretInner,
    public: PublicKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm())
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

fn malformed(e: impl fmt::Display) -> CryptoError {
    CryptoError::MalformedKey(e.to_string())
}

impl PrivateKey {
    /// Generate a fresh key from the operating system's random number generator.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, CryptoError> {
        use p256::elliptic_curve::Generate;
        let rng_err = |e: getrandom::Error| CryptoError::Rng(e.to_string());
        let inner = match algorithm {
            KeyAlgorithm::Sm2 => {
                let secret = sm2::SecretKey::try_generate().map_err(rng_err)?;
                SecretInner::Sm2(
                    sm2::dsa::SigningKey::new(SM2_DEFAULT_DISTID, &secret).map_err(malformed)?,
                )
            }
            KeyAlgorithm::EcdsaP256 => {
                SecretInner::P256(p256::ecdsa::SigningKey::try_generate().map_err(rng_err)?)
            }
            KeyAlgorithm::Ed25519 => {
                let mut seed = Zeroizing::new([0u8; 32]);
                crate::random_bytes(seed.as_mut())?;
                SecretInner::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed))
            }
        };
        Ok(Self::from_inner(inner))
    }

    fn from_inner(inner: SecretInner) -> Self {
        let public = match &inner {
            SecretInner::Sm2(k) => PublicKey {
                inner: PublicInner::Sm2(Sm2Public::new(k.verifying_key().clone())),
            },
            SecretInner::P256(k) => PublicKey {
                inner: PublicInner::P256(*k.verifying_key()),
            },
            SecretInner::Ed25519(k) => PublicKey {
                inner: PublicInner::Ed25519(k.verifying_key()),
            },
        };
        PrivateKey { inner, public }
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.public.algorithm()
    }

    /// The matching public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Sign `message`. SM2 and ECDSA signatures are hedged (RFC 6979 nonce mixed with fresh
    /// randomness) and DER-encoded; Ed25519 signatures are deterministic, 64 raw bytes.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match &self.inner {
            SecretInner::Sm2(k) => {
                let sig: sm2::dsa::Signature = k
                    .try_sign_with_rng(&mut SysRng, message)
                    .map_err(|e| CryptoError::Rng(e.to_string()))?;
                ecsig::encode(&sig.r_bytes().into(), &sig.s_bytes().into())
            }
            SecretInner::P256(k) => {
                let sig: p256::ecdsa::Signature = k
                    .try_sign_with_rng(&mut SysRng, message)
                    .map_err(|e| CryptoError::Rng(e.to_string()))?;
                let (r, s) = sig.split_bytes();
                ecsig::encode(&r.into(), &s.into())
            }
            SecretInner::Ed25519(k) => {
                let sig: ed25519_dalek::Signature = k.sign(message);
                Ok(sig.to_bytes().to_vec())
            }
        }
    }

    /// Encode as PKCS#8 DER.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let doc = match &self.inner {
            SecretInner::Sm2(k) => {
                use sm2::pkcs8::EncodePrivateKey as _;
                let secret = sm2::SecretKey::from(k.as_nonzero_scalar());
                secret.to_pkcs8_der().map_err(malformed)?
            }
            SecretInner::P256(k) => {
                use p256::pkcs8::EncodePrivateKey as _;
                k.to_pkcs8_der().map_err(malformed)?
            }
            SecretInner::Ed25519(k) => {
                // PKCS#8 v1 (no embedded public key), the form OpenSSL writes and reads.
                let bytes = ed25519_dalek::pkcs8::KeypairBytes {
                    secret_key: k.to_bytes(),
                    public_key: None,
                };
                bytes.to_pkcs8_der().map_err(malformed)?
            }
        };
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// Encode as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, CryptoError> {
        let der_bytes = self.to_pkcs8_der()?;
        let pem = der::pem::encode_string("PRIVATE KEY", LineEnding::LF, &der_bytes)
            .map_err(malformed)?;
        Ok(Zeroizing::new(pem))
    }

    /// Decode PKCS#8 DER of any supported algorithm.
    pub fn from_pkcs8_der(der_bytes: &[u8]) -> Result<Self, CryptoError> {
        let info = PrivateKeyInfoRef::from_der(der_bytes)
            .map_err(|e| malformed(format!("not a PKCS#8 private key: {e}")))?;
        let algorithm = key_algorithm_of(
            &info.algorithm.oid,
            info.algorithm.parameters.map(|p| p.to_der()).transpose(),
        )?;
        let inner = match algorithm {
            KeyAlgorithm::Sm2 => {
                use sm2::pkcs8::DecodePrivateKey as _;
                let secret = sm2::SecretKey::from_pkcs8_der(der_bytes).map_err(malformed)?;
                SecretInner::Sm2(
                    sm2::dsa::SigningKey::new(SM2_DEFAULT_DISTID, &secret).map_err(malformed)?,
                )
            }
            KeyAlgorithm::EcdsaP256 => {
                use p256::pkcs8::DecodePrivateKey as _;
                SecretInner::P256(
                    p256::ecdsa::SigningKey::from_pkcs8_der(der_bytes).map_err(malformed)?,
                )
            }
            KeyAlgorithm::Ed25519 => SecretInner::Ed25519(
                ed25519_dalek::SigningKey::from_pkcs8_der(der_bytes).map_err(malformed)?,
            ),
        };
        Ok(Self::from_inner(inner))
    }

    /// Decode PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, CryptoError> {
        let (label, der_bytes) =
            der::pem::decode_vec(pem.as_bytes()).map_err(|e| malformed(format!("not PEM: {e}")))?;
        let der_bytes = Zeroizing::new(der_bytes);
        match label {
            "PRIVATE KEY" => Self::from_pkcs8_der(&der_bytes),
            "ENCRYPTED PRIVATE KEY" => Err(malformed(
                "encrypted private keys are not supported; decrypt it with `openssl pkcs8`",
            )),
            "EC PRIVATE KEY" => Err(malformed(
                "SEC1 EC private key; convert it with `openssl pkcs8 -topk8 -nocrypt`",
            )),
            other => Err(malformed(format!(
                "PEM label {other:?} is not a private key (expected PRIVATE KEY)"
            ))),
        }
    }
}

/// Work out the key algorithm from an SPKI / PKCS#8 algorithm identifier.
fn key_algorithm_of(
    algorithm: &ObjectIdentifier,
    parameters: Result<Option<Vec<u8>>, der::Error>,
) -> Result<KeyAlgorithm, CryptoError> {
    if *algorithm == oid::ED25519 {
        return Ok(KeyAlgorithm::Ed25519);
    }
    if *algorithm == oid::EC_PUBLIC_KEY {
        let params = parameters
            .map_err(malformed)?
            .ok_or_else(|| malformed("EC key without curve parameters"))?;
        let curve = ObjectIdentifier::from_der(&params)
            .map_err(|_| CryptoError::UnsupportedAlgorithm("EC key with explicit curve".into()))?;
        if curve == oid::SM2_CURVE {
            return Ok(KeyAlgorithm::Sm2);
        }
        if curve == oid::P256_CURVE {
            return Ok(KeyAlgorithm::EcdsaP256);
        }
        return Err(CryptoError::UnsupportedAlgorithm(format!(
            "EC curve {curve}"
        )));
    }
    Err(CryptoError::UnsupportedAlgorithm(format!(
        "key algorithm {algorithm}"
    )))
}

/// An SM2 public key: the RustCrypto key (with `Z` for the default ID) and its uncompressed
/// SEC1 bytes, which key the fast verifier's cache.
#[derive(Clone)]
struct Sm2Public {
    key: sm2::dsa::VerifyingKey,
    sec1: Box<[u8]>,
}

impl Sm2Public {
    fn new(key: sm2::dsa::VerifyingKey) -> Self {
        let sec1 = key.to_sec1_bytes();
        Sm2Public { key, sec1 }
    }
}

#[derive(Clone)]
enum PublicInner {
    Sm2(Sm2Public),
    P256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// A public key that verifies signatures.
#[derive(Clone)]
pub struct PublicKey {
    inner: PublicInner,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.algorithm() == other.algorithm() && self.to_bytes() == other.to_bytes()
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicKey({}:{})",
            self.algorithm(),
            hex::encode(self.to_bytes())
        )
    }
}

impl PublicKey {
    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self.inner {
            PublicInner::Sm2(_) => KeyAlgorithm::Sm2,
            PublicInner::P256(_) => KeyAlgorithm::EcdsaP256,
            PublicInner::Ed25519(_) => KeyAlgorithm::Ed25519,
        }
    }

    /// The raw public key: the uncompressed SEC1 point for SM2 and P-256, 32 bytes for Ed25519.
    pub fn to_bytes(&self) -> Vec<u8> {
        match &self.inner {
            PublicInner::Sm2(k) => k.sec1.to_vec(),
            PublicInner::P256(k) => k.to_sec1_bytes().into_vec(),
            PublicInner::Ed25519(k) => k.to_bytes().to_vec(),
        }
    }

    /// Parse a raw public key of `algorithm` (the form [`to_bytes`](Self::to_bytes) writes).
    pub fn from_bytes(algorithm: KeyAlgorithm, bytes: &[u8]) -> Result<Self, CryptoError> {
        let inner = match algorithm {
            KeyAlgorithm::Sm2 => PublicInner::Sm2(Sm2Public::new(
                sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DEFAULT_DISTID, bytes)
                    .map_err(|_| malformed("not an SM2 curve point"))?,
            )),
            KeyAlgorithm::EcdsaP256 => PublicInner::P256(
                p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                    .map_err(|_| malformed("not a P-256 curve point"))?,
            ),
            KeyAlgorithm::Ed25519 => {
                let arr: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::KeyLength {
                    expected: 32,
                    actual: bytes.len(),
                })?;
                PublicInner::Ed25519(
                    ed25519_dalek::VerifyingKey::from_bytes(&arr)
                        .map_err(|_| malformed("not an Ed25519 point"))?,
                )
            }
        };
        Ok(PublicKey { inner })
    }

    /// Encode as SubjectPublicKeyInfo DER.
    pub fn to_spki_der(&self) -> Result<Vec<u8>, CryptoError> {
        let doc = match &self.inner {
            PublicInner::Sm2(k) => {
                let pk = sm2::PublicKey::from_affine(*k.key.as_affine()).map_err(malformed)?;
                pk.to_public_key_der().map_err(malformed)?
            }
            PublicInner::P256(k) => k.to_public_key_der().map_err(malformed)?,
            PublicInner::Ed25519(k) => k.to_public_key_der().map_err(malformed)?,
        };
        Ok(doc.into_vec())
    }

    /// Encode as SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn to_spki_pem(&self) -> Result<String, CryptoError> {
        der::pem::encode_string("PUBLIC KEY", LineEnding::LF, &self.to_spki_der()?)
            .map_err(malformed)
    }

    /// Decode SubjectPublicKeyInfo DER of any supported algorithm.
    pub fn from_spki_der(der_bytes: &[u8]) -> Result<Self, CryptoError> {
        let spki = SubjectPublicKeyInfoRef::from_der(der_bytes)
            .map_err(|e| malformed(format!("not a SubjectPublicKeyInfo: {e}")))?;
        Self::from_spki(&spki)
    }

    /// Decode from a parsed SubjectPublicKeyInfo.
    pub fn from_spki(spki: &SubjectPublicKeyInfoRef<'_>) -> Result<Self, CryptoError> {
        let algorithm = key_algorithm_of(
            &spki.algorithm.oid,
            spki.algorithm.parameters.map(|p| p.to_der()).transpose(),
        )?;
        let bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| malformed("public key BIT STRING has unused bits"))?;
        Self::from_bytes(algorithm, bits)
    }

    /// Decode SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_spki_pem(pem: &str) -> Result<Self, CryptoError> {
        let (label, der_bytes) =
            der::pem::decode_vec(pem.as_bytes()).map_err(|e| malformed(format!("not PEM: {e}")))?;
        if label != "PUBLIC KEY" {
            return Err(malformed(format!(
                "PEM label {label:?} is not a public key (expected PUBLIC KEY)"
            )));
        }
        Self::from_spki_der(&der_bytes)
    }

    /// Verify `signature` over `message`.
    ///
    /// Inputs are checked strictly: DER must be minimal with no trailing bytes, `r` and `s` must
    /// lie in `[1, n-1]`, Ed25519 signatures must be canonical. SM2 signatures are checked by
    /// the fast verifier ([`crate::sm2_verify`]) with the default distinguishing ID.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        match &self.inner {
            PublicInner::Sm2(k) => {
                sm2_verify::verify(&k.sec1, SM2_DEFAULT_DISTID, message, signature)
            }
            PublicInner::P256(k) => {
                let (r, s) = ecsig::decode(signature)?;
                let sig = p256::ecdsa::Signature::from_scalars(r, s).map_err(|_| {
                    CryptoError::MalformedSignature("r or s outside [1, n-1]".into())
                })?;
                k.verify(message, &sig)
                    .map_err(|_| CryptoError::BadSignature)
            }
            PublicInner::Ed25519(k) => {
                let arr: [u8; 64] = signature.try_into().map_err(|_| {
                    CryptoError::MalformedSignature(format!(
                        "Ed25519 signatures are 64 bytes, got {}",
                        signature.len()
                    ))
                })?;
                let sig = ed25519_dalek::Signature::from_bytes(&arr);
                k.verify_strict(message, &sig)
                    .map_err(|_| CryptoError::BadSignature)
            }
        }
    }

    /// Verify an SM2 signature made under distinguishing ID `distid` instead of the default.
    /// For other algorithms `distid` plays no part and this is [`verify`](Self::verify).
    pub fn verify_with_distid(
        &self,
        message: &[u8],
        signature: &[u8],
        distid: &str,
    ) -> Result<(), CryptoError> {
        match &self.inner {
            PublicInner::Sm2(k) => sm2_verify::verify(&k.sec1, distid, message, signature),
            _ => self.verify(message, signature),
        }
    }

    /// The SM2 verifying key (with its precomputed `Z` value), for SM2 keys.
    pub fn as_sm2(&self) -> Option<&sm2::dsa::VerifyingKey> {
        match &self.inner {
            PublicInner::Sm2(k) => Some(&k.key),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_every_algorithm() {
        for alg in KeyAlgorithm::ALL {
            let key = PrivateKey::generate(alg).unwrap();
            assert_eq!(key.algorithm(), alg);
            let sig = key.sign(b"covenant").unwrap();
            key.public_key().verify(b"covenant", &sig).unwrap();
            assert_eq!(
                key.public_key().verify(b"covenanT", &sig).unwrap_err(),
                CryptoError::BadSignature
            );
        }
    }

    #[test]
    fn pkcs8_and_spki_round_trip() {
        for alg in KeyAlgorithm::ALL {
            let key = PrivateKey::generate(alg).unwrap();
            let pem = key.to_pkcs8_pem().unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
            let back = PrivateKey::from_pkcs8_pem(&pem).unwrap();
            assert_eq!(back.public_key(), key.public_key());
            let spki = key.public_key().to_spki_pem().unwrap();
            let pk = PublicKey::from_spki_pem(&spki).unwrap();
            assert_eq!(&pk, key.public_key());
            let sig = back.sign(b"m").unwrap();
            pk.verify(b"m", &sig).unwrap();
        }
    }

    #[test]
    fn wrong_key_rejects_signature() {
        let a = PrivateKey::generate(KeyAlgorithm::Sm2).unwrap();
        let b = PrivateKey::generate(KeyAlgorithm::Sm2).unwrap();
        let sig = a.sign(b"m").unwrap();
        assert_eq!(
            b.public_key().verify(b"m", &sig).unwrap_err(),
            CryptoError::BadSignature
        );
    }

    #[test]
    fn garbage_inputs_are_errors_not_panics() {
        assert_eq!(
            PrivateKey::from_pkcs8_pem("hello").unwrap_err().code(),
            "KEY_MALFORMED"
        );
        assert!(PrivateKey::from_pkcs8_der(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
        assert!(PublicKey::from_spki_der(&[]).is_err());
        let key = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
        assert_eq!(
            key.public_key().verify(b"m", &[0; 10]).unwrap_err().code(),
            "SIGNATURE_MALFORMED"
        );
        let sm2 = PrivateKey::generate(KeyAlgorithm::Sm2).unwrap();
        assert_eq!(
            sm2.public_key()
                .verify(b"m", &[0x30, 0x00])
                .unwrap_err()
                .code(),
            "SIGNATURE_MALFORMED"
        );
    }

    #[test]
    fn sm2_rejects_r_or_s_out_of_range() {
        let key = PrivateKey::generate(KeyAlgorithm::Sm2).unwrap();
        // n of the SM2 curve.
        let n: [u8; 32] =
            hex::decode("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123")
                .unwrap()
                .try_into()
                .unwrap();
        let one = {
            let mut b = [0u8; 32];
            b[31] = 1;
            b
        };
        for (r, s) in [(n, one), (one, n), ([0u8; 32], one), (one, [0u8; 32])] {
            let sig = ecsig::encode(&r, &s).unwrap();
            assert_eq!(
                key.public_key().verify(b"m", &sig).unwrap_err().code(),
                "SIGNATURE_MALFORMED"
            );
        }
    }

    #[test]
    fn sm2_distid_is_part_of_the_signature() {
        let key = PrivateKey::generate(KeyAlgorithm::Sm2).unwrap();
        let sig = key.sign(b"m").unwrap();
        let pk = key.public_key();
        pk.verify_with_distid(b"m", &sig, SM2_DEFAULT_DISTID)
            .unwrap();
        assert_eq!(
            pk.verify_with_distid(b"m", &sig, "").unwrap_err(),
            CryptoError::BadSignature
        );
        let ed = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let sig = ed.sign(b"m").unwrap();
        ed.public_key().verify_with_distid(b"m", &sig, "").unwrap();
    }

    #[test]
    fn key_algorithm_names() {
        for alg in KeyAlgorithm::ALL {
            assert_eq!(alg.name().parse::<KeyAlgorithm>().unwrap(), alg);
            assert_eq!(
                KeyAlgorithm::from_signature_oid(&alg.signature_oid()),
                Some(alg)
            );
            assert!(alg.suite().allows(alg));
        }
        assert!("rsa".parse::<KeyAlgorithm>().is_err());
    }
}
