//! Precomputed multiples for wNAF evaluation, and the joint multiplication that uses them.
//!
//! A wNAF digit `d` (odd, `|d| < 2^(w−1)`) selects `|d|·Q` from a table of the odd multiples
//! `Q, 3Q, 5Q, …, (2^(w−1) − 1)·Q`, negated when `d < 0`. Tables are affine so every table
//! addition is a mixed (Jacobian + affine) addition.
//!
//! The base point's tables are built once per process. Besides G, they hold G·2^64, G·2^128
//! and G·2^192, so a scalar `s = Σ s_j·2^(64j)` (64-bit parts `s_j`) can be evaluated as
//! `Σ s_j·(2^(64j)·G)` with 64 doublings instead of 256; keys that verify more than once get
//! the same split (see `VerifyingKey`).

use std::sync::OnceLock;

use super::{
    point::{Affine, Jacobian, batch_to_affine},
    scalar::Wnaf,
};

/// wNAF width for the base point: 64 odd multiples per table.
pub(crate) const BASE_WINDOW: u32 = 8;
/// wNAF width for public keys: 8 odd multiples per table.
pub(crate) const KEY_WINDOW: u32 = 5;

/// Parts a scalar is split into on the split path, and the bits of each part.
pub(crate) const PARTS: usize = 4;
pub(crate) const PART_BITS: usize = 64;

/// Number of odd multiples in a table for window `w`.
pub(crate) const fn table_len(w: u32) -> usize {
    1 << (w - 2)
}

/// `Q, 3Q, …, (2·count − 1)·Q`, affine. `None` only if `q` has tiny order, which no point of
/// the prime-order SM2 group does.
pub(crate) fn odd_multiples(q: &Jacobian, count: usize) -> Option<Vec<Affine>> {
    let mut points = Vec::with_capacity(count);
    points.push(*q);
    let two_q = q.double();
    for i in 1..count {
        points.push(points[i - 1].add(&two_q));
    }
    batch_to_affine(&points)
}

/// Odd multiples of several points, normalised together with one inversion.
pub(crate) fn odd_multiples_many(qs: &[Jacobian], count: usize) -> Option<Vec<Vec<Affine>>> {
    let mut points = Vec::with_capacity(count * qs.len());
    for q in qs {
        let start = points.len();
        points.push(*q);
        let two_q = q.double();
        for i in 1..count {
            points.push(points[start + i - 1].add(&two_q));
        }
    }
    let affine = batch_to_affine(&points)?;
    Some(affine.chunks(count).map(<[Affine]>::to_vec).collect())
}

/// `2^k · q`.
pub(crate) fn double_times(q: &Jacobian, k: usize) -> Jacobian {
    let mut r = *q;
    for _ in 0..k {
        r = r.double();
    }
    r
}

/// `q, 2^64·q, 2^128·q, 2^192·q`: the bases of the split scalar parts.
pub(crate) fn part_bases(q: &Jacobian) -> Vec<Jacobian> {
    let mut bases = Vec::with_capacity(PARTS);
    bases.push(*q);
    for j in 1..PARTS {
        bases.push(double_times(&bases[j - 1], PART_BITS));
    }
    bases
}

/// The base point's tables: `parts[j]` holds the odd multiples of `2^(64j)·G`.
pub(crate) struct BaseTables {
    pub(crate) parts: Vec<Vec<Affine>>,
}

impl BaseTables {
    /// The odd multiples of `2^(64j)·G` (empty if missing, which fails any lookup).
    pub(crate) fn part(&self, j: usize) -> &[Affine] {
        self.parts.get(j).map_or(&[], Vec::as_slice)
    }
}

/// The process-wide base point tables, built on first use (a few milliseconds' work).
pub(crate) fn base_tables() -> &'static BaseTables {
    static TABLES: OnceLock<BaseTables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let g = Affine::generator().to_jacobian();
        // Empty tables (unreachable: G has prime order n) would fail every verification
        // rather than panic.
        let parts = odd_multiples_many(&part_bases(&g), table_len(BASE_WINDOW)).unwrap_or_default();
        BaseTables { parts }
    })
}

/// One term `k·Q` of a linear combination: the wNAF of `k` and the odd multiples of `Q`.
pub(crate) struct Term<'a> {
    pub(crate) naf: &'a Wnaf,
    pub(crate) table: &'a [Affine],
}

/// `Σ k_i·Q_i` by interleaved wNAF: one shared chain of doublings, one mixed addition per
/// nonzero digit. Variable time (public inputs only). `None` if a digit has no table entry
/// (an empty or short table), which callers treat as a failed verification.
pub(crate) fn linear_combination(terms: &[Term<'_>]) -> Option<Jacobian> {
    let top = terms.iter().map(|t| t.naf.len).max().unwrap_or(0);
    let mut acc = Jacobian::IDENTITY;
    for i in (0..top).rev() {
        if !acc.is_identity() {
            acc = acc.double();
        }
        for term in terms {
            let d = term.naf.digits[i];
            if d > 0 {
                acc = acc.add_affine(term.table.get((d as usize) >> 1)?);
            } else if d < 0 {
                acc = acc.add_affine(&term.table.get((d.unsigned_abs() as usize) >> 1)?.neg());
            }
        }
    }
    Some(acc)
}
