//! Arithmetic in GF(p) for the SM2 prime p = 2^256 − 2^224 − 2^96 + 2^64 − 1.
//!
//! Elements are four little-endian 64-bit limbs in Montgomery form (`a·R mod p`, R = 2^256),
//! always fully reduced into `[0, p)`, so equality of limbs is equality of elements.
//!
//! The shape of p makes Montgomery reduction cheap. Its lowest limb is 2^64 − 1, so
//! −p⁻¹ ≡ 1 (mod 2^64) and each reduction step's quotient digit `q` is just the lowest limb.
//! Adding `q·p` then needs no multiplication: with `T` the running value and `q` its lowest limb,
//!
//! ```text
//! T + q·p = (T − q) + q·(2^256 − 2^224 − 2^96 + 2^64)
//!         = (T − q) + 2^64 · q·(2^32 − 1)·(2^160 − 1)
//! ```
//!
//! `T − q` just clears the lowest limb, and with `w = q·(2^32 − 1) = (q << 32) − q` (96 bits)
//! the rest is `(w << 160) − w`: a shift and two subtractions, added one limb up.
//!
//! Nothing here is constant time: the verifier only handles public data.

/// p, little-endian limbs.
pub(crate) const P: [u64; 4] = [
    0xffff_ffff_ffff_ffff,
    0xffff_ffff_0000_0000,
    0xffff_ffff_ffff_ffff,
    0xffff_fffe_ffff_ffff,
];

/// R² mod p, to bring canonical values into Montgomery form.
const R2: [u64; 4] = [
    0x0000_0002_0000_0003,
    0x0000_0002_ffff_ffff,
    0x0000_0001_0000_0001,
    0x0000_0004_0000_0002,
];

/// R mod p: the Montgomery form of 1.
const R: [u64; 4] = [
    0x0000_0000_0000_0001,
    0x0000_0000_ffff_ffff,
    0x0000_0000_0000_0000,
    0x0000_0001_0000_0000,
];

#[inline(always)]
fn adc(a: u64, b: u64, carry: u64) -> (u64, u64) {
    let t = (a as u128) + (b as u128) + (carry as u128);
    (t as u64, (t >> 64) as u64)
}

#[inline(always)]
fn sbb(a: u64, b: u64, borrow: u64) -> (u64, u64) {
    let t = (a as u128).wrapping_sub((b as u128) + (borrow as u128));
    (t as u64, ((t >> 64) as u64) & 1)
}

/// `a·b + c + d` as (low, high); never overflows 128 bits.
#[inline(always)]
fn mac(a: u64, b: u64, c: u64, d: u64) -> (u64, u64) {
    let t = (a as u128) * (b as u128) + (c as u128) + (d as u128);
    (t as u64, (t >> 64) as u64)
}

/// Whether the 256-bit little-endian `a` is below p.
pub(crate) fn is_below_p(a: &[u64; 4]) -> bool {
    let (_, b) = sbb(a[0], P[0], 0);
    let (_, b) = sbb(a[1], P[1], b);
    let (_, b) = sbb(a[2], P[2], b);
    let (_, b) = sbb(a[3], P[3], b);
    b == 1
}

/// Subtract p from `(top, a)` when that value is at least p. The value must be below 2p.
#[inline(always)]
fn reduce_once(top: u64, a: [u64; 4]) -> [u64; 4] {
    let (s0, b) = sbb(a[0], P[0], 0);
    let (s1, b) = sbb(a[1], P[1], b);
    let (s2, b) = sbb(a[2], P[2], b);
    let (s3, b) = sbb(a[3], P[3], b);
    // (top, a) − p borrows only when top = 0 and a < p.
    let (_, b) = sbb(top, 0, b);
    if b == 1 { a } else { [s0, s1, s2, s3] }
}

/// One Montgomery reduction step's addend for quotient digit `q`: the four limbs of
/// `v = (w << 160) − w` with `w = q·(2^32 − 1)`, so that `T + q·p = (T − q) + 2^64·v`.
///
/// The top limb `(w >> 32) − borrow` is at most `q − 1 ≤ 2^64 − 2`, so the caller can add a
/// pending carry bit to it without overflow.
#[inline(always)]
fn reduction_addend(q: u64) -> (u64, u64, u64, u64) {
    let w = ((q as u128) << 32) - (q as u128);
    let (w_lo, w_hi) = (w as u64, (w >> 64) as u64);
    let (v0, b) = sbb(0, w_lo, 0);
    let (v1, b) = sbb(0, w_hi, b);
    let (v2, b) = sbb(w_lo << 32, 0, b);
    let (v3, _) = sbb((w >> 32) as u64, 0, b);
    (v0, v1, v2, v3)
}

/// Montgomery reduction of the 512-bit `t0..t7`: `t·R⁻¹ mod p`, for `t < p·2^256`.
///
/// Step i clears limb i and adds its addend to limbs i+1..i+4; the carry out of limb i+4 is
/// folded into the next step's top limb (limb i+5), and the last one becomes bit 256.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn montgomery_reduce(
    t0: u64,
    t1: u64,
    t2: u64,
    t3: u64,
    t4: u64,
    t5: u64,
    t6: u64,
    t7: u64,
) -> [u64; 4] {
    let (v0, v1, v2, v3) = reduction_addend(t0);
    let (t1, c) = adc(t1, v0, 0);
    let (t2, c) = adc(t2, v1, c);
    let (t3, c) = adc(t3, v2, c);
    let (t4, pending) = adc(t4, v3, c);

    let (v0, v1, v2, v3) = reduction_addend(t1);
    let (t2, c) = adc(t2, v0, 0);
    let (t3, c) = adc(t3, v1, c);
    let (t4, c) = adc(t4, v2, c);
    let (t5, pending) = adc(t5, v3 + pending, c);

    let (v0, v1, v2, v3) = reduction_addend(t2);
    let (t3, c) = adc(t3, v0, 0);
    let (t4, c) = adc(t4, v1, c);
    let (t5, c) = adc(t5, v2, c);
    let (t6, pending) = adc(t6, v3 + pending, c);

    let (v0, v1, v2, v3) = reduction_addend(t3);
    let (t4, c) = adc(t4, v0, 0);
    let (t5, c) = adc(t5, v1, c);
    let (t6, c) = adc(t6, v2, c);
    let (t7, top) = adc(t7, v3 + pending, c);

    reduce_once(top, [t4, t5, t6, t7])
}

/// An element of GF(p) in Montgomery form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fe([u64; 4]);

impl Fe {
    pub(crate) const ZERO: Fe = Fe([0; 4]);
    pub(crate) const ONE: Fe = Fe(R);

    /// The element with canonical (non-Montgomery) little-endian limbs `a`, if `a < p`.
    pub(crate) fn from_canonical(a: [u64; 4]) -> Option<Fe> {
        is_below_p(&a).then(|| Fe(a).mul(&Fe(R2)))
    }

    /// The element with canonical little-endian limbs `a`, which the caller knows is below p.
    pub(crate) fn from_canonical_unchecked(a: [u64; 4]) -> Fe {
        Fe(a).mul(&Fe(R2))
    }

    /// Parse 32 big-endian bytes; `None` unless the value is below p.
    pub(crate) fn from_bytes(bytes: &[u8; 32]) -> Option<Fe> {
        Fe::from_canonical(limbs_from_be(bytes))
    }

    /// The canonical little-endian limbs.
    pub(crate) fn to_canonical(self) -> [u64; 4] {
        let a = &self.0;
        montgomery_reduce(a[0], a[1], a[2], a[3], 0, 0, 0, 0)
    }

    /// 32 big-endian bytes of the canonical value.
    pub(crate) fn to_bytes(self) -> [u8; 32] {
        limbs_to_be(&self.to_canonical())
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.0 == [0; 4]
    }

    pub(crate) fn add(&self, b: &Fe) -> Fe {
        let a = &self.0;
        let (s0, c) = adc(a[0], b.0[0], 0);
        let (s1, c) = adc(a[1], b.0[1], c);
        let (s2, c) = adc(a[2], b.0[2], c);
        let (s3, c) = adc(a[3], b.0[3], c);
        Fe(reduce_once(c, [s0, s1, s2, s3]))
    }

    pub(crate) fn sub(&self, b: &Fe) -> Fe {
        let a = &self.0;
        let (d0, bw) = sbb(a[0], b.0[0], 0);
        let (d1, bw) = sbb(a[1], b.0[1], bw);
        let (d2, bw) = sbb(a[2], b.0[2], bw);
        let (d3, bw) = sbb(a[3], b.0[3], bw);
        // Wrapped below zero: add p back (the carry out cancels the borrow). Branch-free, as
        // the borrow is a coin flip the branch predictor cannot learn.
        let mask = 0u64.wrapping_sub(bw);
        let (d0, c) = adc(d0, P[0] & mask, 0);
        let (d1, c) = adc(d1, P[1] & mask, c);
        let (d2, c) = adc(d2, P[2] & mask, c);
        let (d3, _) = adc(d3, P[3] & mask, c);
        Fe([d0, d1, d2, d3])
    }

    pub(crate) fn neg(&self) -> Fe {
        Fe::ZERO.sub(self)
    }

    pub(crate) fn double(&self) -> Fe {
        self.add(self)
    }

    #[inline(always)]
    pub(crate) fn mul(&self, b: &Fe) -> Fe {
        let [a0, a1, a2, a3] = self.0;
        let [b0, b1, b2, b3] = b.0;
        let (t0, c) = mac(a0, b0, 0, 0);
        let (t1, c) = mac(a0, b1, 0, c);
        let (t2, c) = mac(a0, b2, 0, c);
        let (t3, t4) = mac(a0, b3, 0, c);

        let (t1, c) = mac(a1, b0, t1, 0);
        let (t2, c) = mac(a1, b1, t2, c);
        let (t3, c) = mac(a1, b2, t3, c);
        let (t4, t5) = mac(a1, b3, t4, c);

        let (t2, c) = mac(a2, b0, t2, 0);
        let (t3, c) = mac(a2, b1, t3, c);
        let (t4, c) = mac(a2, b2, t4, c);
        let (t5, t6) = mac(a2, b3, t5, c);

        let (t3, c) = mac(a3, b0, t3, 0);
        let (t4, c) = mac(a3, b1, t4, c);
        let (t5, c) = mac(a3, b2, t5, c);
        let (t6, t7) = mac(a3, b3, t6, c);

        Fe(montgomery_reduce(t0, t1, t2, t3, t4, t5, t6, t7))
    }

    #[inline(always)]
    pub(crate) fn square(&self) -> Fe {
        let a = &self.0;
        // Off-diagonal products a_i·a_j (i < j), once.
        let (t1, c) = mac(a[0], a[1], 0, 0);
        let (t2, c) = mac(a[0], a[2], 0, c);
        let (t3, t4) = mac(a[0], a[3], 0, c);
        let (t3, c) = mac(a[1], a[2], t3, 0);
        let (t4, t5) = mac(a[1], a[3], t4, c);
        let (t5, t6) = mac(a[2], a[3], t5, 0);
        // Double them.
        let t7 = t6 >> 63;
        let t6 = (t6 << 1) | (t5 >> 63);
        let t5 = (t5 << 1) | (t4 >> 63);
        let t4 = (t4 << 1) | (t3 >> 63);
        let t3 = (t3 << 1) | (t2 >> 63);
        let t2 = (t2 << 1) | (t1 >> 63);
        let t1 = t1 << 1;
        // Add the squares a_i².
        let (t0, c) = mac(a[0], a[0], 0, 0);
        let (t1, c) = adc(t1, c, 0);
        let (lo, hi) = mac(a[1], a[1], 0, 0);
        let (t2, c2) = adc(t2, lo, c);
        let (t3, c) = adc(t3, hi, c2);
        let (lo, hi) = mac(a[2], a[2], 0, 0);
        let (t4, c2) = adc(t4, lo, c);
        let (t5, c) = adc(t5, hi, c2);
        let (lo, hi) = mac(a[3], a[3], 0, 0);
        let (t6, c2) = adc(t6, lo, c);
        let (t7, _) = adc(t7, hi, c2);
        Fe(montgomery_reduce(t0, t1, t2, t3, t4, t5, t6, t7))
    }

    /// `self^(2^k)`.
    fn square_times(&self, k: u32) -> Fe {
        let mut x = *self;
        for _ in 0..k {
            x = x.square();
        }
        x
    }

    /// The multiplicative inverse by Fermat, `self^(p−2)`; zero maps to zero.
    ///
    /// p − 2 in binary, from the top: 31 ones, a zero, 128 ones, 32 zeros, 62 ones, `01`.
    pub(crate) fn invert(&self) -> Fe {
        let x1 = *self;
        let x2 = x1.square().mul(&x1);
        let x3 = x2.square().mul(&x1);
        let x6 = x3.square_times(3).mul(&x3);
        let x12 = x6.square_times(6).mul(&x6);
        let x24 = x12.square_times(12).mul(&x12);
        let x30 = x24.square_times(6).mul(&x6);
        let x31 = x30.square().mul(&x1);
        let x32 = x31.square().mul(&x1);
        let mut t = x31.square();
        for _ in 0..4 {
            t = t.square_times(32).mul(&x32);
        }
        t = t.square_times(32);
        t = t.square_times(31).mul(&x31);
        t = t.square_times(31).mul(&x31);
        t.square_times(2).mul(&x1)
    }

    /// A square root, if one exists: `self^((p+1)/4)` (p ≡ 3 mod 4), checked by squaring.
    pub(crate) fn sqrt(&self) -> Option<Fe> {
        // (p + 1) / 4 = 2^254 − 2^222 − 2^94 + 2^62, little-endian limbs.
        const EXP: [u64; 4] = [
            0x4000_0000_0000_0000,
            0xffff_ffff_c000_0000,
            0xffff_ffff_ffff_ffff,
            0x3fff_ffff_bfff_ffff,
        ];
        let mut r = Fe::ONE;
        for limb in EXP.iter().rev() {
            for bit in (0..64).rev() {
                r = r.square();
                if (limb >> bit) & 1 == 1 {
                    r = r.mul(self);
                }
            }
        }
        (r.square() == *self).then_some(r)
    }

    /// Whether the canonical value is odd (the SEC1 `y` parity).
    pub(crate) fn is_odd(&self) -> bool {
        self.to_canonical()[0] & 1 == 1
    }
}

/// Little-endian limbs of 32 big-endian bytes.
pub(crate) fn limbs_from_be(bytes: &[u8; 32]) -> [u64; 4] {
    let mut out = [0u64; 4];
    for (i, limb) in out.iter_mut().enumerate() {
        let start = 32 - 8 * (i + 1);
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[start..start + 8]);
        *limb = u64::from_be_bytes(word);
    }
    out
}

/// 32 big-endian bytes of little-endian limbs.
pub(crate) fn limbs_to_be(limbs: &[u64; 4]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, limb) in limbs.iter().enumerate() {
        let start = 32 - 8 * (i + 1);
        out[start..start + 8].copy_from_slice(&limb.to_be_bytes());
    }
    out
}

#[cfg(test)]
pub(crate) use tests::TestRng;

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator for test values (splitmix64).
    pub(crate) struct TestRng(u64);

    impl TestRng {
        pub(crate) fn new(seed: u64) -> Self {
            TestRng(seed)
        }
        pub(crate) fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn fe(&mut self) -> Fe {
            loop {
                let a = [
                    self.next_u64(),
                    self.next_u64(),
                    self.next_u64(),
                    self.next_u64(),
                ];
                if let Some(f) = Fe::from_canonical(a) {
                    return f;
                }
            }
        }
    }

    /// Schoolbook reference: (a·b) mod p over canonical values, by shift-and-add with u64 limbs.
    fn reference_mul(a: [u64; 4], b: [u64; 4]) -> [u64; 4] {
        let add_mod = |x: [u64; 4], y: [u64; 4]| -> [u64; 4] {
            let (s0, c) = adc(x[0], y[0], 0);
            let (s1, c) = adc(x[1], y[1], c);
            let (s2, c) = adc(x[2], y[2], c);
            let (s3, c) = adc(x[3], y[3], c);
            reduce_once(c, [s0, s1, s2, s3])
        };
        let mut acc = [0u64; 4];
        for i in (0..256).rev() {
            acc = add_mod(acc, acc);
            if (b[i / 64] >> (i % 64)) & 1 == 1 {
                acc = add_mod(acc, a);
            }
        }
        acc
    }

    #[test]
    fn constants_are_consistent() {
        assert_eq!(Fe::ONE.to_canonical(), [1, 0, 0, 0]);
        assert_eq!(Fe::from_canonical_unchecked([1, 0, 0, 0]), Fe::ONE);
        assert!(Fe::from_canonical(P).is_none());
        let p_minus_1 = [P[0] - 1, P[1], P[2], P[3]];
        let m1 = Fe::from_canonical(p_minus_1).unwrap();
        assert_eq!(m1, Fe::ONE.neg());
        assert_eq!(m1.square(), Fe::ONE);
        assert_eq!(m1.mul(&m1), Fe::ONE);
        assert_eq!(m1.add(&Fe::ONE), Fe::ZERO);
    }

    #[test]
    fn mul_and_square_match_the_reference() {
        let mut rng = TestRng::new(1);
        let mut edge = vec![
            [0, 0, 0, 0],
            [1, 0, 0, 0],
            [P[0] - 1, P[1], P[2], P[3]],
            [P[0] - 2, P[1], P[2], P[3]],
            [u64::MAX, u64::MAX, u64::MAX, 0],
            [0, 0, 0, 1 << 63],
            R,
            R2,
        ];
        for _ in 0..200 {
            edge.push(rng.fe().to_canonical());
        }
        for (i, a) in edge.iter().enumerate() {
            let b = &edge[(i * 7 + 3) % edge.len()];
            let fa = Fe::from_canonical(*a).unwrap();
            let fb = Fe::from_canonical(*b).unwrap();
            assert_eq!(
                fa.mul(&fb).to_canonical(),
                reference_mul(*a, *b),
                "{a:x?}·{b:x?}"
            );
            assert_eq!(fa.square().to_canonical(), reference_mul(*a, *a), "{a:x?}²");
            assert_eq!(fa.square(), fa.mul(&fa));
        }
    }

    #[test]
    fn add_sub_neg_invert_sqrt() {
        let mut rng = TestRng::new(2);
        for _ in 0..100 {
            let a = rng.fe();
            let b = rng.fe();
            assert_eq!(a.add(&b).sub(&b), a);
            assert_eq!(a.sub(&b).add(&b), a);
            assert_eq!(a.add(&a.neg()), Fe::ZERO);
            assert_eq!(a.double(), a.add(&a));
            assert_eq!(a.mul(&a.invert()), Fe::ONE);
            let sq = a.square();
            let root = sq.sqrt().unwrap();
            assert!(root == a || root == a.neg());
            assert_eq!(Fe::from_bytes(&a.to_bytes()), Some(a));
        }
        assert_eq!(Fe::ZERO.invert(), Fe::ZERO);
        // −1 is not a square mod p (p ≡ 3 mod 4).
        assert!(Fe::ONE.neg().sqrt().is_none());
        assert!(Fe::from_bytes(&[0xff; 32]).is_none());
    }
}
