//! Fast SM2 signature verification: SM2 with SM3 and a distinguishing ID (GM/T 0003.2,
//! GM/T 0009) on the recommended curve (GM/T 0003.5), in pure Rust.
//!
//! Every SM2 signature Covenant checks goes through here ([`crate::PublicKey::verify`] and
//! [`crate::PublicKey::verify_with_distid`] route to [`verify`]). Signing stays on the RustCrypto
//! `sm2` crate's constant-time path; verification only sees public data, so this code is
//! variable time. The RustCrypto verifier remains available as [`reference`] for differential
//! tests, the fuzzer and benchmarks.
//!
//! For a signature `(r, s)` on message `M` under public key `P`:
//!
//! 1. `r` and `s` must lie in `[1, n − 1]` (the DER must be strict, see `ecsig`).
//! 2. `e = SM3(Z ‖ M) mod n`, with `Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xP ‖ yP)` cached per key.
//! 3. `t = (r + s) mod n`, which must not be 0.
//! 4. `(x₁, y₁) = s·G + t·P`, which must not be the identity. Computed by interleaved wNAF over
//!    precomputed odd multiples of G (window 8, built once per process) and of P (window 5, per
//!    key), in Jacobian coordinates with the a = −3 doubling and mixed additions.
//! 5. Accept iff `(e + x₁) mod n = r`. No inversion: with `c = (r − e) mod n`, `x₁ mod n = c`
//!    means `x₁ = c` or `x₁ = c + n` (the latter only if `c + n < p`), and `x₁ = X/Z²` is
//!    checked as `X = c·Z²`.
//!
//! Keys that verify more than once also get odd multiples of `2^64·P`, `2^128·P` and
//! `2^192·P`; with the base point's matching tables, both scalars split into four 64-bit parts
//! and the doubling chain shrinks from 256 to 64 steps.
//! Prepared keys live in a bounded, thread-safe LRU cache keyed by (public key, distid), see
//! [`KeyCache`].
//!
//! Module map: `field` (GF(p), Montgomery form with the special-form reduction), `scalar`
//! (mod n, wNAF), `point` (affine and Jacobian points), `table` (precomputed multiples and the
//! joint multiplication), `cache` (the LRU of prepared keys).

mod cache;
mod field;
mod point;
pub mod reference;
mod scalar;
mod table;

use std::sync::{
    OnceLock,
    atomic::{AtomicBool, Ordering},
};

use sm3::{Digest, Sm3};

pub use cache::{DEFAULT_CAPACITY, KeyCache};

use crate::{CryptoError, ecsig};
use point::{A_BYTES, Affine, B_BYTES, GX_BYTES, GY_BYTES, Jacobian};
use scalar::{Scalar, Wnaf, split_limbs, wnaf};
use table::{
    BASE_WINDOW, KEY_WINDOW, PARTS, Term, base_tables, linear_combination, part_bases, table_len,
};

/// The longest distinguishing ID SM2 allows: its bit length must fit ENTL's 16 bits.
pub const MAX_DISTID_LEN: usize = (u16::MAX / 8) as usize;

/// An SM2 public key prepared for verification under one distinguishing ID: the point, its
/// `Z` value and its odd multiples (plus those of `2^64·P`, `2^128·P`, `2^192·P` once the key
/// is used again: about 2 KiB in all).
pub struct VerifyingKey {
    point: Affine,
    z: [u8; 32],
    /// Odd multiples of P.
    table: Vec<Affine>,
    /// Odd multiples of `2^(64j)·P` for j = 1, 2, 3.
    part_tables: OnceLock<Vec<Vec<Affine>>>,
    used: AtomicBool,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("public_key", &hex::encode(self.to_sec1_bytes()))
            .field("z", &hex::encode(self.z))
            .finish_non_exhaustive()
    }
}

fn bad_key(reason: &str) -> CryptoError {
    CryptoError::MalformedKey(reason.to_string())
}

/// Parse a SEC1 point: `04 ‖ x ‖ y` (65 bytes) or `02|03 ‖ x` (33 bytes). The identity
/// (`00`), coordinates not below p and points off the curve are rejected.
fn parse_sec1(bytes: &[u8]) -> Result<Affine, CryptoError> {
    let coordinate = |range: std::ops::Range<usize>| -> Result<[u8; 32], CryptoError> {
        bytes
            .get(range)
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| bad_key("SM2 public key has the wrong length"))
    };
    match (bytes.first(), bytes.len()) {
        (Some(0x04), 65) => Affine::from_coordinates(&coordinate(1..33)?, &coordinate(33..65)?)
            .ok_or_else(|| bad_key("not an SM2 curve point")),
        (Some(tag @ (0x02 | 0x03)), 33) => Affine::from_x(&coordinate(1..33)?, *tag == 0x03)
            .ok_or_else(|| bad_key("not an SM2 curve point")),
        (Some(0x00), _) => Err(bad_key("the identity is not a public key")),
        _ => Err(bad_key("not a SEC1 encoded SM2 public key")),
    }
}

/// `Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xP ‖ yP)`.
fn compute_z(distid: &str, point: &Affine) -> Result<[u8; 32], CryptoError> {
    if distid.len() > MAX_DISTID_LEN {
        return Err(bad_key("distinguishing ID too long"));
    }
    let entl = (distid.len() * 8) as u16;
    let mut h = Sm3::new();
    h.update(entl.to_be_bytes());
    h.update(distid.as_bytes());
    h.update(A_BYTES);
    h.update(B_BYTES);
    h.update(GX_BYTES);
    h.update(GY_BYTES);
    h.update(point.x.to_bytes());
    h.update(point.y.to_bytes());
    Ok(h.finalize().into())
}

impl VerifyingKey {
    /// Prepare a SEC1-encoded public key (uncompressed or compressed) for signatures made
    /// under `distid`. Fails with [`CryptoError::MalformedKey`] for anything but a curve point
    /// other than the identity, or an ID longer than [`MAX_DISTID_LEN`] bytes.
    pub fn from_sec1_bytes(bytes: &[u8], distid: &str) -> Result<Self, CryptoError> {
        let point = parse_sec1(bytes)?;
        let z = compute_z(distid, &point)?;
        let table = table::odd_multiples(&point.to_jacobian(), table_len(KEY_WINDOW))
            .ok_or_else(|| bad_key("not an SM2 curve point"))?;
        Ok(VerifyingKey {
            point,
            z,
            table,
            part_tables: OnceLock::new(),
            used: AtomicBool::new(false),
        })
    }

    /// The uncompressed SEC1 encoding `04 ‖ x ‖ y`.
    pub fn to_sec1_bytes(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[0] = 0x04;
        out[1..33].copy_from_slice(&self.point.x.to_bytes());
        out[33..].copy_from_slice(&self.point.y.to_bytes());
        out
    }

    /// The signer's `Z` value for this key's distinguishing ID.
    pub fn z(&self) -> [u8; 32] {
        self.z
    }

    /// `e = SM3(Z ‖ message)`, the digest that is signed.
    pub fn digest(&self, message: &[u8]) -> [u8; 32] {
        let mut h = Sm3::new_with_prefix(self.z);
        h.update(message);
        h.finalize().into()
    }

    /// Verify a DER `SEQUENCE { r, s }` signature over `message`.
    ///
    /// Errors: [`CryptoError::MalformedSignature`] for DER that is not strict or `r`, `s`
    /// outside `[1, n − 1]`; [`CryptoError::BadSignature`] when the signature does not verify.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        let (r, s) = ecsig::decode(signature)?;
        self.verify_digest(&self.digest(message), &r, &s)
    }

    /// Verify `(r, s)` (32 big-endian bytes each) against the digest `e = SM3(Z ‖ M)`.
    pub fn verify_digest(
        &self,
        e: &[u8; 32],
        r: &[u8; 32],
        s: &[u8; 32],
    ) -> Result<(), CryptoError> {
        let (r, s) = match (
            Scalar::from_signature_component(r),
            Scalar::from_signature_component(s),
        ) {
            (Some(r), Some(s)) => (r, s),
            _ => {
                return Err(CryptoError::MalformedSignature(
                    "r or s outside [1, n-1]".into(),
                ));
            }
        };
        let e = Scalar::reduce_bytes(e);
        // A key seen before gets (once) the 2^(64j)·P tables and the 64-step doubling chain.
        let split = self.used.swap(true, Ordering::Relaxed);
        if check(&e, &r, &s, |s, t| self.combine(s, t, split)) {
            Ok(())
        } else {
            Err(CryptoError::BadSignature)
        }
    }

    /// `s·G + t·P`, either with one 256-step doubling chain or split into 64-bit parts.
    fn combine(&self, s: &Scalar, t: &Scalar, split: bool) -> Option<Jacobian> {
        let base = base_tables();
        if !split {
            return combine_plain(base.part(0), &self.table, s, t);
        }
        let parts = self.part_tables.get_or_init(|| {
            let bases = part_bases(&self.point.to_jacobian());
            table::odd_multiples_many(bases.get(1..).unwrap_or(&[]), table_len(KEY_WINDOW))
                .unwrap_or_default()
        });
        let key_part = |j: usize| -> &[Affine] {
            if j == 0 {
                &self.table
            } else {
                parts.get(j - 1).map_or(&[], Vec::as_slice)
            }
        };
        let s_parts = split_limbs(&s.0);
        let t_parts = split_limbs(&t.0);
        let s_naf: [Wnaf; PARTS] = std::array::from_fn(|j| wnaf(&s_parts[j], BASE_WINDOW));
        let t_naf: [Wnaf; PARTS] = std::array::from_fn(|j| wnaf(&t_parts[j], KEY_WINDOW));
        let terms: Vec<Term<'_>> = (0..PARTS)
            .flat_map(|j| {
                [
                    Term {
                        naf: &s_naf[j],
                        table: base.part(j),
                    },
                    Term {
                        naf: &t_naf[j],
                        table: key_part(j),
                    },
                ]
            })
            .collect();
        linear_combination(&terms)
    }
}

/// `s·G + t·P` with one doubling chain.
fn combine_plain(g: &[Affine], p: &[Affine], s: &Scalar, t: &Scalar) -> Option<Jacobian> {
    let s_naf = wnaf(&s.0, BASE_WINDOW);
    let t_naf = wnaf(&t.0, KEY_WINDOW);
    linear_combination(&[
        Term {
            naf: &s_naf,
            table: g,
        },
        Term {
            naf: &t_naf,
            table: p,
        },
    ])
}

/// Steps 3–5 of verification, given `combine(s, t) = s·G + t·P`.
fn check(
    e: &Scalar,
    r: &Scalar,
    s: &Scalar,
    combine: impl FnOnce(&Scalar, &Scalar) -> Option<Jacobian>,
) -> bool {
    let t = r.add(s);
    if t.is_zero() {
        return false;
    }
    let Some(point) = combine(s, &t) else {
        return false;
    };
    if point.is_identity() {
        return false;
    }
    x_matches(&point, &r.sub(e))
}

/// Whether the affine x of `point` (not the identity) is congruent to `c` mod n, without an
/// inversion: x ∈ [0, p) and p < 2n, so x ≡ c means x = c or x = c + n.
fn x_matches(point: &Jacobian, c: &Scalar) -> bool {
    let z2 = point.z.square();
    // c < n < p is a field element as it stands.
    if field::Fe::from_canonical_unchecked(c.0).mul(&z2) == point.x {
        return true;
    }
    c.plus_n_below_p()
        .is_some_and(|c_n| field::Fe::from_canonical_unchecked(c_n).mul(&z2) == point.x)
}

/// The process-wide cache of prepared keys.
fn global_cache() -> &'static KeyCache {
    static CACHE: OnceLock<KeyCache> = OnceLock::new();
    CACHE.get_or_init(|| KeyCache::new(DEFAULT_CAPACITY))
}

/// Verify an SM2 signature (DER `(r, s)`) over `message` under a SEC1-encoded public key and
/// distinguishing ID, through the process-wide cache of prepared keys.
///
/// Errors: [`CryptoError::MalformedKey`] for a key that is not a curve point (or an ID that is
/// too long), [`CryptoError::MalformedSignature`] for non-strict DER or `r`, `s` outside
/// `[1, n − 1]`, [`CryptoError::BadSignature`] when the signature does not verify.
pub fn verify(
    public_key: &[u8],
    distid: &str,
    message: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    // Parse the signature first: garbage signatures cost no key preparation.
    let (r, s) = ecsig::decode(signature)?;
    let key = global_cache().get_or_prepare(public_key, distid)?;
    key.verify_digest(&key.digest(message), &r, &s)
}

#[cfg(test)]
mod tests;
