//! Points of the SM2 curve y² = x³ − 3x + b over GF(p): affine points (never the identity) and
//! Jacobian points (X/Z², Y/Z³; Z = 0 is the identity), with the formulas for a = −3.
//!
//! The group has prime order n, so there are no points of order two; the addition formulas
//! still handle equal and opposite inputs explicitly because wNAF evaluation can meet them.

use super::field::{Fe, limbs_from_be};

/// The coefficient b of the recommended curve (GM/T 0003.5), big-endian.
pub(crate) const B_BYTES: [u8; 32] =
    hex32("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93");
/// The base point G, big-endian coordinates.
pub(crate) const GX_BYTES: [u8; 32] =
    hex32("32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7");
pub(crate) const GY_BYTES: [u8; 32] =
    hex32("BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0");
/// The coefficient a = p − 3, big-endian (only hashed into Z; the formulas hard-code −3).
pub(crate) const A_BYTES: [u8; 32] =
    hex32("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC");

/// 64 hex digits to 32 bytes, at compile time.
const fn hex32(s: &str) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("not a hex digit"),
        }
    }
    let s = s.as_bytes();
    assert!(s.len() == 64);
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(s[2 * i]) << 4) | nibble(s[2 * i + 1]);
        i += 1;
    }
    out
}

fn curve_b() -> Fe {
    Fe::from_canonical_unchecked(limbs_from_be(&B_BYTES))
}

/// A point of the curve other than the identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Affine {
    pub(crate) x: Fe,
    pub(crate) y: Fe,
}

impl Affine {
    /// The base point G.
    pub(crate) fn generator() -> Affine {
        Affine {
            x: Fe::from_canonical_unchecked(limbs_from_be(&GX_BYTES)),
            y: Fe::from_canonical_unchecked(limbs_from_be(&GY_BYTES)),
        }
    }

    /// The point `(x, y)` if both coordinates are below p and it lies on the curve.
    pub(crate) fn from_coordinates(x: &[u8; 32], y: &[u8; 32]) -> Option<Affine> {
        let p = Affine {
            x: Fe::from_bytes(x)?,
            y: Fe::from_bytes(y)?,
        };
        p.is_on_curve().then_some(p)
    }

    /// The point with coordinate `x` whose `y` has the given parity (SEC1 compressed form).
    pub(crate) fn from_x(x: &[u8; 32], y_is_odd: bool) -> Option<Affine> {
        let x = Fe::from_bytes(x)?;
        let rhs = curve_rhs(&x);
        let y = rhs.sqrt()?;
        let y = if y.is_odd() == y_is_odd { y } else { y.neg() };
        // y = 0 has no "odd" twin; reject a parity that cannot be met.
        (y.is_odd() == y_is_odd).then_some(Affine { x, y })
    }

    pub(crate) fn is_on_curve(&self) -> bool {
        self.y.square() == curve_rhs(&self.x)
    }

    pub(crate) fn neg(&self) -> Affine {
        Affine {
            x: self.x,
            y: self.y.neg(),
        }
    }

    pub(crate) fn to_jacobian(self) -> Jacobian {
        Jacobian {
            x: self.x,
            y: self.y,
            z: Fe::ONE,
        }
    }
}

/// x³ − 3x + b.
fn curve_rhs(x: &Fe) -> Fe {
    let x3 = x.square().mul(x);
    let three_x = x.double().add(x);
    x3.sub(&three_x).add(&curve_b())
}

/// A point in Jacobian coordinates.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Jacobian {
    pub(crate) x: Fe,
    pub(crate) y: Fe,
    pub(crate) z: Fe,
}

impl Jacobian {
    pub(crate) const IDENTITY: Jacobian = Jacobian {
        x: Fe::ONE,
        y: Fe::ONE,
        z: Fe::ZERO,
    };

    pub(crate) fn is_identity(&self) -> bool {
        self.z.is_zero()
    }

    /// 2·self ("dbl-2001-b", 3M + 5S, a = −3). The identity doubles to itself (Z stays 0).
    pub(crate) fn double(&self) -> Jacobian {
        let delta = self.z.square();
        let gamma = self.y.square();
        let beta = self.x.mul(&gamma);
        let t = self.x.sub(&delta).mul(&self.x.add(&delta));
        let alpha = t.double().add(&t);
        let beta4 = beta.double().double();
        let x3 = alpha.square().sub(&beta4.double());
        let z3 = self.y.add(&self.z).square().sub(&gamma).sub(&delta);
        let gamma2_8 = gamma.square().double().double().double();
        let y3 = alpha.mul(&beta4.sub(&x3)).sub(&gamma2_8);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// self + q for an affine q ("madd-2007-bl", 7M + 4S).
    pub(crate) fn add_affine(&self, q: &Affine) -> Jacobian {
        if self.is_identity() {
            return q.to_jacobian();
        }
        let z1z1 = self.z.square();
        let u2 = q.x.mul(&z1z1);
        let s2 = q.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&self.x);
        let r = s2.sub(&self.y).double();
        if h.is_zero() {
            // Same x: either the same point (double it) or its negation (the sum is O).
            return if r.is_zero() {
                self.double()
            } else {
                Jacobian::IDENTITY
            };
        }
        let hh = h.square();
        let i = hh.double().double();
        let j = h.mul(&i);
        let v = self.x.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.double());
        let y3 = r.mul(&v.sub(&x3)).sub(&self.y.mul(&j).double());
        let z3 = self.z.add(&h).square().sub(&z1z1).sub(&hh);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// self + q for a Jacobian q ("add-2007-bl", 11M + 5S).
    pub(crate) fn add(&self, q: &Jacobian) -> Jacobian {
        if self.is_identity() {
            return *q;
        }
        if q.is_identity() {
            return *self;
        }
        let z1z1 = self.z.square();
        let z2z2 = q.z.square();
        let u1 = self.x.mul(&z2z2);
        let u2 = q.x.mul(&z1z1);
        let s1 = self.y.mul(&q.z).mul(&z2z2);
        let s2 = q.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&u1);
        let r = s2.sub(&s1).double();
        if h.is_zero() {
            return if r.is_zero() {
                self.double()
            } else {
                Jacobian::IDENTITY
            };
        }
        let i = h.double().square();
        let j = h.mul(&i);
        let v = u1.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.double());
        let y3 = r.mul(&v.sub(&x3)).sub(&s1.mul(&j).double());
        let z3 = self.z.add(&q.z).square().sub(&z1z1).sub(&z2z2).mul(&h);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// The affine point, or `None` for the identity.
    #[cfg(test)]
    pub(crate) fn to_affine(self) -> Option<Affine> {
        if self.is_identity() {
            return None;
        }
        let zinv = self.z.invert();
        let zinv2 = zinv.square();
        Some(Affine {
            x: self.x.mul(&zinv2),
            y: self.y.mul(&zinv2).mul(&zinv),
        })
    }
}

/// Convert many points to affine with one inversion (Montgomery's trick). `None` if any of
/// them is the identity.
pub(crate) fn batch_to_affine(points: &[Jacobian]) -> Option<Vec<Affine>> {
    if points.iter().any(Jacobian::is_identity) {
        return None;
    }
    // prefix[i] = z_0 · … · z_i
    let mut prefix = Vec::with_capacity(points.len());
    let mut acc = Fe::ONE;
    for p in points {
        acc = acc.mul(&p.z);
        prefix.push(acc);
    }
    let mut inv = acc.invert();
    let mut out = vec![
        Affine {
            x: Fe::ZERO,
            y: Fe::ZERO
        };
        points.len()
    ];
    for i in (0..points.len()).rev() {
        // inv = (z_0 · … · z_i)⁻¹ here.
        let zinv = if i == 0 { inv } else { inv.mul(&prefix[i - 1]) };
        inv = inv.mul(&points[i].z);
        let zinv2 = zinv.square();
        out[i] = Affine {
            x: points[i].x.mul(&zinv2),
            y: points[i].y.mul(&zinv2).mul(&zinv),
        };
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_is_on_the_curve_and_formulas_agree() {
        let g = Affine::generator();
        assert!(g.is_on_curve());
        let gj = g.to_jacobian();
        let g2 = gj.double();
        let g2_by_add = gj.add(&gj);
        let g2_by_madd = gj.add_affine(&g);
        let g3 = g2.add_affine(&g);
        let g3_full = g2.add(&gj);
        let a = batch_to_affine(&[g2, g2_by_add, g2_by_madd, g3, g3_full]).unwrap();
        assert_eq!(a[0], a[1]);
        assert_eq!(a[0], a[2]);
        assert_eq!(a[3], a[4]);
        assert!(a.iter().all(Affine::is_on_curve));
        assert_eq!(g3.to_affine(), Some(a[3]));
        // P + (−P) = O; O + P = P; 2·O = O.
        assert!(gj.add_affine(&g.neg()).is_identity());
        assert!(gj.add(&g.neg().to_jacobian()).is_identity());
        assert!(Jacobian::IDENTITY.double().is_identity());
        assert_eq!(Jacobian::IDENTITY.add_affine(&g).to_affine(), Some(g));
        assert!(batch_to_affine(&[gj, Jacobian::IDENTITY]).is_none());
    }

    #[test]
    fn decompression_finds_both_parities() {
        let g = Affine::generator();
        let x = g.x.to_bytes();
        let odd = g.y.is_odd();
        assert_eq!(Affine::from_x(&x, odd), Some(g));
        assert_eq!(Affine::from_x(&x, !odd), Some(g.neg()));
        assert_eq!(Affine::from_coordinates(&x, &g.y.to_bytes()), Some(g));
        assert!(Affine::from_coordinates(&x, &g.x.to_bytes()).is_none());
    }
}
