//! Object identifiers of the algorithms Covenant speaks.

use der::asn1::ObjectIdentifier as Oid;

/// `id-ecPublicKey` (RFC 5480): the SPKI algorithm of SM2 and P-256 keys.
pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
/// The SM2 curve (`sm2p256v1`, GM/T 0006).
pub const SM2_CURVE: Oid = Oid::new_unwrap("1.2.156.10197.1.301");
/// NIST P-256 (`prime256v1`).
pub const P256_CURVE: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
/// Ed25519 (RFC 8410), both the key and the signature algorithm.
pub const ED25519: Oid = Oid::new_unwrap("1.3.101.112");
/// `SM2-with-SM3` signature algorithm (GM/T 0006).
pub const SM2_WITH_SM3: Oid = Oid::new_unwrap("1.2.156.10197.1.501");
/// `ecdsa-with-SHA256` (RFC 5758).
pub const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
/// SM3 hash.
pub const SM3: Oid = Oid::new_unwrap("1.2.156.10197.1.401");
/// SHA-256 hash.
pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
