//! Integers modulo the SM2 group order n, and their width-w non-adjacent forms.
//!
//! Verification needs only additions and subtractions mod n (SM2 has no `s⁻¹`), so scalars are
//! plain canonical little-endian limbs in `[0, n)`.

/// The group order n, little-endian limbs.
pub(crate) const N: [u64; 4] = [
    0x53bb_f409_39d5_4123,
    0x7203_df6b_21c6_052b,
    0xffff_ffff_ffff_ffff,
    0xffff_fffe_ffff_ffff,
];

use super::field::{P, limbs_from_be};

/// `a − b` and the borrow out.
fn sub_limbs(a: &[u64; 4], b: &[u64; 4]) -> ([u64; 4], bool) {
    let mut out = [0u64; 4];
    let mut borrow = false;
    for i in 0..4 {
        let (d, b1) = a[i].overflowing_sub(b[i]);
        let (d, b2) = d.overflowing_sub(u64::from(borrow));
        out[i] = d;
        borrow = b1 | b2;
    }
    (out, borrow)
}

/// `a + b` and the carry out.
fn add_limbs(a: &[u64; 4], b: &[u64; 4]) -> ([u64; 4], bool) {
    let mut out = [0u64; 4];
    let mut carry = false;
    for i in 0..4 {
        let (s, c1) = a[i].overflowing_add(b[i]);
        let (s, c2) = s.overflowing_add(u64::from(carry));
        out[i] = s;
        carry = c1 | c2;
    }
    (out, carry)
}

/// Whether `a < b` as 256-bit integers.
pub(crate) fn less_than(a: &[u64; 4], b: &[u64; 4]) -> bool {
    sub_limbs(a, b).1
}

/// A scalar in `[0, n)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Scalar(pub(crate) [u64; 4]);

impl Scalar {
    /// Parse 32 big-endian bytes as a signature component: `None` unless `1 ≤ value ≤ n − 1`.
    pub(crate) fn from_signature_component(bytes: &[u8; 32]) -> Option<Scalar> {
        let v = limbs_from_be(bytes);
        (v != [0; 4] && less_than(&v, &N)).then_some(Scalar(v))
    }

    /// 32 big-endian bytes (a hash value) reduced mod n. The value is below 2^256 < 2n, so one
    /// conditional subtraction suffices.
    pub(crate) fn reduce_bytes(bytes: &[u8; 32]) -> Scalar {
        let v = limbs_from_be(bytes);
        let (d, borrow) = sub_limbs(&v, &N);
        Scalar(if borrow { v } else { d })
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.0 == [0; 4]
    }

    /// `(self + other) mod n`.
    pub(crate) fn add(&self, other: &Scalar) -> Scalar {
        let (s, carry) = add_limbs(&self.0, &other.0);
        let (d, borrow) = sub_limbs(&s, &N);
        // Subtract n when the true sum (carry, s) is at least n.
        Scalar(if carry || !borrow { d } else { s })
    }

    /// `(self − other) mod n`.
    pub(crate) fn sub(&self, other: &Scalar) -> Scalar {
        let (d, borrow) = sub_limbs(&self.0, &other.0);
        Scalar(if borrow { add_limbs(&d, &N).0 } else { d })
    }

    /// `self + n` when that is still below p (the other x-coordinate with the same value mod n).
    pub(crate) fn plus_n_below_p(&self) -> Option<[u64; 4]> {
        let (s, carry) = add_limbs(&self.0, &N);
        (!carry && less_than(&s, &P)).then_some(s)
    }
}

/// Signed digits of a width-w NAF of a value below 2^256: each nonzero digit is odd with
/// `|d| < 2^(w−1)`, and any two nonzero digits are at least w positions apart.
#[derive(Clone, Debug)]
pub(crate) struct Wnaf {
    pub(crate) digits: [i8; 257],
    /// One past the highest nonzero digit (0 for the value zero).
    pub(crate) len: usize,
}

/// `count ≤ 32` bits of `k` starting at bit `pos`, zero past bit 255.
fn bits(k: &[u64; 4], pos: usize, count: u32) -> u64 {
    if pos >= 256 {
        return 0;
    }
    let (limb, off) = (pos / 64, pos % 64);
    let mut v = k[limb] >> off;
    if off + count as usize > 64 && limb + 1 < 4 {
        v |= k[limb + 1] << (64 - off);
    }
    v & ((1u64 << count) - 1)
}

/// The width-`w` NAF of `k` (2 ≤ w ≤ 8).
///
/// Walks the bits upwards with a pending carry: where the running value is even the digit is
/// zero; where it is odd the next `w` bits (plus the carry) give a digit in `(−2^(w−1), 2^(w−1))`
/// and the carry records whether the window was taken from above.
pub(crate) fn wnaf(k: &[u64; 4], w: u32) -> Wnaf {
    debug_assert!((2..=8).contains(&w));
    let mut digits = [0i8; 257];
    let mut len = 0;
    let mut carry = 0u64;
    let mut i = 0usize;
    while i < 257 {
        if bits(k, i, 1) == carry {
            i += 1;
            continue;
        }
        let word = bits(k, i, w) + carry;
        carry = (word >> (w - 1)) & 1;
        let digit = word as i64 - ((carry << w) as i64);
        digits[i] = digit as i8;
        len = i + 1;
        i += w as usize;
    }
    // Above bit 255 the value is zero, so a window taken there never leaves a carry behind.
    debug_assert_eq!(carry, 0);
    Wnaf { digits, len }
}

/// The four 64-bit parts of `k` (`k = Σ part_j·2^(64j)`), each as a 256-bit value.
pub(crate) fn split_limbs(k: &[u64; 4]) -> [[u64; 4]; 4] {
    [
        [k[0], 0, 0, 0],
        [k[1], 0, 0, 0],
        [k[2], 0, 0, 0],
        [k[3], 0, 0, 0],
    ]
}

#[cfg(test)]
mod tests {
    use super::super::field::TestRng;
    use super::*;

    /// Σ digits[i]·2^i, evaluated mod 2^320 with wrapping limb arithmetic.
    fn evaluate(naf: &Wnaf) -> [u64; 4] {
        let mut acc = [0u64; 5];
        for i in (0..257).rev() {
            // acc *= 2
            let mut carry = 0;
            for limb in acc.iter_mut() {
                let next = *limb >> 63;
                *limb = (*limb << 1) | carry;
                carry = next;
            }
            // acc += digit (sign-extended)
            let d = naf.digits[i] as i64;
            let ext = if d < 0 { u64::MAX } else { 0 };
            let mut c = 0u64;
            for (j, limb) in acc.iter_mut().enumerate() {
                let add = if j == 0 { d as u64 } else { ext };
                let t = (*limb as u128) + (add as u128) + (c as u128);
                *limb = t as u64;
                c = (t >> 64) as u64;
            }
        }
        assert_eq!(acc[4], 0, "wNAF evaluates to a negative or oversized value");
        [acc[0], acc[1], acc[2], acc[3]]
    }

    fn check(k: [u64; 4], w: u32) {
        let naf = wnaf(&k, w);
        assert_eq!(evaluate(&naf), k, "w={w} k={k:x?}");
        let mut last: Option<usize> = None;
        for (i, &d) in naf.digits.iter().enumerate() {
            if d != 0 {
                assert_eq!(d.rem_euclid(2), 1, "even digit");
                assert!(
                    (d as i32).abs() < (1 << (w - 1)),
                    "digit {d} too large for w={w}"
                );
                if let Some(l) = last {
                    assert!(i - l >= w as usize, "digits too close");
                }
                last = Some(i);
                assert!(i < naf.len);
            }
        }
        assert_eq!(last.map_or(0, |l| l + 1), naf.len);
    }

    #[test]
    fn wnaf_reconstructs_the_scalar() {
        let mut rng = TestRng::new(3);
        let mut values = vec![
            [0; 4],
            [1, 0, 0, 0],
            [u64::MAX; 4],
            N,
            [N[0] - 1, N[1], N[2], N[3]],
            [0, 0, 0, 1 << 63],
            [u64::MAX, u64::MAX, 0, 0],
        ];
        for _ in 0..300 {
            values.push([
                rng.next_u64(),
                rng.next_u64(),
                rng.next_u64(),
                rng.next_u64(),
            ]);
        }
        for k in values {
            for w in 2..=8 {
                check(k, w);
            }
            for part in split_limbs(&k) {
                check(part, 5);
                check(part, 8);
            }
        }
    }

    #[test]
    fn modular_add_and_sub() {
        let n_minus_1 = Scalar([N[0] - 1, N[1], N[2], N[3]]);
        let one = Scalar([1, 0, 0, 0]);
        assert!(n_minus_1.add(&one).is_zero());
        assert_eq!(n_minus_1.add(&n_minus_1), n_minus_1.sub(&one));
        assert_eq!(Scalar([0; 4]).sub(&one), n_minus_1);
        assert_eq!(
            Scalar::reduce_bytes(&[0xff; 32])
                .add(&Scalar(N).sub(&one))
                .0,
            {
                // (2^256 − 1) mod n + (n − 1) ≡ 2^256 − 2 (mod n)
                let (d, _) = sub_limbs(&[u64::MAX - 1, u64::MAX, u64::MAX, u64::MAX], &N);
                d
            }
        );
        let mut n_bytes = [0u8; 32];
        for (i, limb) in N.iter().enumerate() {
            n_bytes[32 - 8 * (i + 1)..32 - 8 * i].copy_from_slice(&limb.to_be_bytes());
        }
        assert!(Scalar::from_signature_component(&n_bytes).is_none());
        assert!(Scalar::reduce_bytes(&n_bytes).is_zero());
        assert!(Scalar::from_signature_component(&[0; 32]).is_none());
        n_bytes[31] -= 1;
        assert_eq!(Scalar::from_signature_component(&n_bytes), Some(n_minus_1));
        // x = c + n exists below p only for c < p − n.
        assert!(one.plus_n_below_p().is_some());
        assert!(n_minus_1.plus_n_below_p().is_none());
    }
}
