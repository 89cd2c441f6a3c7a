//! DER encoding of `(r, s)` signature values for SM2 and ECDSA:
//! `SEQUENCE { r INTEGER, s INTEGER }`, parsed strictly (minimal, positive, no trailing data).

use der::{Decode, Encode, Sequence, asn1::UintRef};

use crate::CryptoError;

#[derive(Sequence)]
struct RsRef<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// Encode 32-byte big-endian `r` and `s` as DER.
pub(crate) fn encode(r: &[u8; 32], s: &[u8; 32]) -> Result<Vec<u8>, CryptoError> {
    let rs = RsRef {
        r: UintRef::new(r).map_err(|e| CryptoError::MalformedSignature(e.to_string()))?,
        s: UintRef::new(s).map_err(|e| CryptoError::MalformedSignature(e.to_string()))?,
    };
    rs.to_der()
        .map_err(|e| CryptoError::MalformedSignature(e.to_string()))
}

/// Decode DER into 32-byte big-endian `r` and `s`. Range checks against the group order are the
/// caller's (the curve types do them).
pub(crate) fn decode(der_bytes: &[u8]) -> Result<([u8; 32], [u8; 32]), CryptoError> {
    let rs = RsRef::from_der(der_bytes)
        .map_err(|e| CryptoError::MalformedSignature(format!("not a DER (r, s) value: {e}")))?;
    Ok((to32(rs.r.as_bytes())?, to32(rs.s.as_bytes())?))
}

fn to32(v: &[u8]) -> Result<[u8; 32], CryptoError> {
    if v.len() > 32 {
        return Err(CryptoError::MalformedSignature(
            "integer longer than 32 bytes".into(),
        ));
    }
    let mut out = [0u8; 32];
    out[32 - v.len()..].copy_from_slice(v);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_high_bits_and_leading_zeros() {
        let mut r = [0u8; 32];
        r[0] = 0x80;
        let mut s = [0u8; 32];
        s[31] = 1;
        let der_bytes = encode(&r, &s).unwrap();
        assert_eq!(decode(&der_bytes).unwrap(), (r, s));
    }

    #[test]
    fn rejects_trailing_bytes_and_non_minimal_integers() {
        let r = [1u8; 32];
        let s = [2u8; 32];
        let mut der_bytes = encode(&r, &s).unwrap();
        der_bytes.push(0);
        assert!(decode(&der_bytes).is_err());
        // INTEGER with a superfluous leading zero: 30 06 02 02 00 01 02 01 01
        assert!(decode(&[0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01]).is_err());
        // Negative INTEGER.
        assert!(decode(&[0x30, 0x06, 0x02, 0x01, 0xff, 0x02, 0x01, 0x01]).is_err());
        assert!(decode(&[]).is_err());
        // 33-byte value.
        let mut long = vec![0x30, 0x26, 0x02, 0x21, 0x01];
        long.extend_from_slice(&[0x55; 32]);
        long.extend_from_slice(&[0x02, 0x01, 0x01]);
        assert!(decode(&long).is_err());
    }
}
