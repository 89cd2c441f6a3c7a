//! Small DER helpers: the signed-structure envelope, PEM blocks, names and times.
//!
//! Certificates, CSRs and CRLs share one shape, `SEQUENCE { tbs, signatureAlgorithm, signature }`,
//! and the signature covers the exact bytes of `tbs` as carried. [`split_signed`] finds those
//! bytes in the input instead of re-encoding a parsed value.

use std::{ops::Range, time::SystemTime};

use der::{
    Any, Encode, Tag,
    asn1::{BitString, ObjectIdentifier},
};
use x509_cert::{
    attr::AttributeTypeAndValue,
    name::{Name, RdnSequence, RelativeDistinguishedName},
    spki::AlgorithmIdentifierOwned,
    time::Time,
};

use crate::{PkiError, Result};

/// OIDs of the name attributes Covenant writes.
pub(crate) mod attr {
    use der::asn1::ObjectIdentifier as Oid;
    pub const COMMON_NAME: Oid = Oid::new_unwrap("2.5.4.3");
    pub const ORGANIZATION: Oid = Oid::new_unwrap("2.5.4.10");
    pub const ORGANIZATIONAL_UNIT: Oid = Oid::new_unwrap("2.5.4.11");
}

/// Parse one DER header at `pos`: returns the tag byte and the content range.
fn tlv(buf: &[u8], pos: usize) -> Option<(u8, Range<usize>)> {
    let tag = *buf.get(pos)?;
    if tag & 0x1f == 0x1f {
        return None; // high tag numbers never occur in these structures
    }
    let first = *buf.get(pos + 1)?;
    let (len, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None; // indefinite or absurd lengths
        }
        let bytes = buf.get(pos + 2..pos + 2 + n)?;
        if bytes[0] == 0 {
            return None; // non-minimal
        }
        let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        if len < 0x80 {
            return None; // non-minimal
        }
        (len, 2 + n)
    };
    let start = pos.checked_add(header)?;
    let end = start.checked_add(len)?;
    (end <= buf.len()).then_some((tag, start..end))
}

/// Locate the to-be-signed part of a signed structure: the first element of the outer
/// SEQUENCE, tag and length included. The outer SEQUENCE must span the whole input.
pub(crate) fn split_signed(der_bytes: &[u8]) -> Option<Range<usize>> {
    let (tag, outer) = tlv(der_bytes, 0)?;
    if tag != 0x30 || outer.end != der_bytes.len() {
        return None;
    }
    let (tag, inner) = tlv(der_bytes, outer.start)?;
    if tag != 0x30 {
        return None;
    }
    Some(outer.start..inner.end)
}

fn der_length(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Assemble `SEQUENCE { tbs, algorithm, BIT STRING signature }` around already-encoded `tbs`.
pub(crate) fn assemble_signed(
    tbs: &[u8],
    algorithm: &AlgorithmIdentifierOwned,
    signature: &[u8],
) -> Result<Vec<u8>> {
    let alg = algorithm.to_der().map_err(PkiError::encoding)?;
    let sig = BitString::from_bytes(signature)
        .and_then(|b| b.to_der())
        .map_err(PkiError::encoding)?;
    let content_len = tbs.len() + alg.len() + sig.len();
    let mut out = Vec::with_capacity(content_len + 6);
    out.push(0x30);
    der_length(content_len, &mut out);
    out.extend_from_slice(tbs);
    out.extend_from_slice(&alg);
    out.extend_from_slice(&sig);
    Ok(out)
}

/// The signature algorithm identifier for signatures made with `algorithm` keys. All three
/// algorithms leave the parameters absent (RFC 5758, RFC 8410, GM/T 0006 as OpenSSL writes it).
pub(crate) fn signature_algorithm(
    algorithm: covenant_crypto::KeyAlgorithm,
) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: algorithm.signature_oid(),
        parameters: None,
    }
}

/// All PEM blocks in `text` as `(label, der)`, ignoring text between them.
pub(crate) fn pem_blocks(text: &str) -> std::result::Result<Vec<(String, Vec<u8>)>, String> {
    const BEGIN: &str = "-----BEGIN ";
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let label_end = after.find("-----").ok_or("unterminated PEM header")?;
        let label = &after[..label_end];
        let end_marker = format!("-----END {label}-----");
        let end = rest[start..]
            .find(&end_marker)
            .ok_or_else(|| format!("PEM block {label:?} has no END line"))?
            + start
            + end_marker.len();
        let (decoded_label, der_bytes) = der::pem::decode_vec(&rest.as_bytes()[start..end])
            .map_err(|e| format!("bad PEM block {label:?}: {e}"))?;
        blocks.push((decoded_label.to_string(), der_bytes));
        rest = &rest[end..];
    }
    Ok(blocks)
}

/// Encode DER as PEM with `label`.
pub(crate) fn to_pem(label: &str, der_bytes: &[u8]) -> Result<String> {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der_bytes).map_err(PkiError::encoding)
}

/// The issuer Name of a CRL, tag and length included, as carried in its to-be-signed part
/// `tbs` (a range of `der_bytes`): after the optional version INTEGER and the signature
/// AlgorithmIdentifier.
pub(crate) fn crl_issuer(der_bytes: &[u8], tbs: Range<usize>) -> Option<Range<usize>> {
    let (tag, content) = tlv(der_bytes, tbs.start)?;
    if tag != 0x30 || content.end != tbs.end {
        return None;
    }
    let mut pos = content.start;
    let (mut tag, mut item) = tlv(der_bytes, pos)?;
    if tag == 0x02 {
        pos = item.end;
        (tag, item) = tlv(der_bytes, pos)?;
    }
    if tag != 0x30 {
        return None;
    }
    pos = item.end;
    let (tag, item) = tlv(der_bytes, pos)?;
    (tag == 0x30 && item.end <= content.end).then_some(pos..item.end)
}

/// A distinguished name in Covenant's own rendering: `CN=…,OU=…,O=…` in the order the
/// attributes appear, known attributes by their short names, others by dotted OID; values
/// that are not text appear as `#` and hex. Stable across library versions, so it may be
/// written to a chain.
pub fn describe_name(name: &Name) -> String {
    let mut parts = Vec::new();
    {
        for atv in name.iter() {
            let key = match atv.oid.to_string().as_str() {
                "2.5.4.3" => "CN".to_string(),
                "2.5.4.6" => "C".to_string(),
                "2.5.4.7" => "L".to_string(),
                "2.5.4.8" => "ST".to_string(),
                "2.5.4.10" => "O".to_string(),
                "2.5.4.11" => "OU".to_string(),
                other => other.to_string(),
            };
            let value = match der::Tagged::tag(&atv.value) {
                Tag::Utf8String | Tag::PrintableString | Tag::Ia5String => {
                    match std::str::from_utf8(atv.value.value()) {
                        Ok(v) => v.to_string(),
                        Err(_) => format!("#{}", hex::encode(atv.value.value())),
                    }
                }
                _ => format!("#{}", hex::encode(atv.value.value())),
            };
            parts.push(format!("{key}={value}"));
        }
    }
    parts.join(",")
}

/// Build a distinguished name, one attribute per RDN, values as UTF8String.
pub(crate) fn build_name(attrs: &[(ObjectIdentifier, &str)]) -> Result<Name> {
    let mut rdns = Vec::with_capacity(attrs.len());
    for (oid, value) in attrs {
        let value = Any::new(Tag::Utf8String, value.as_bytes()).map_err(PkiError::encoding)?;
        let atv = AttributeTypeAndValue { oid: *oid, value };
        rdns.push(RelativeDistinguishedName::try_from(vec![atv]).map_err(PkiError::encoding)?);
    }
    Ok(Name::hazmat_from_rdn_sequence(RdnSequence::from(rdns)))
}

/// The first value of attribute `oid` in `name`, as text.
pub(crate) fn name_attr(name: &Name, oid: ObjectIdentifier) -> Option<String> {
    name.iter().find(|atv| atv.oid == oid).and_then(|atv| {
        x509_cert::ext::pkix::name::DirectoryString::try_from(&atv.value)
            .ok()
            .map(|d| d.value().into_owned())
            .or_else(|| {
                std::str::from_utf8(atv.value.value())
                    .ok()
                    .map(String::from)
            })
    })
}

/// X.509 time from a system time (UTCTime through 2049, GeneralizedTime after).
pub(crate) fn x509_time(t: SystemTime) -> Result<Time> {
    Time::try_from(t).map_err(|e| PkiError::InvalidArgument(format!("time out of range: {e}")))
}

/// RFC 3339 text of a system time, second precision, UTC.
pub fn format_time(t: SystemTime) -> String {
    match der::DateTime::from_system_time(t) {
        Ok(dt) => dt.to_string(),
        Err(_) => "out-of-range".to_string(),
    }
}

/// Parse RFC 3339 UTC text (`2026-01-02T03:04:05Z`) into a system time.
pub fn parse_time(s: &str) -> Result<SystemTime> {
    s.parse::<der::DateTime>()
        .map(|d| d.to_system_time())
        .map_err(|_| {
            PkiError::InvalidArgument(format!(
                "invalid time {s:?}: expected RFC 3339 UTC, e.g. 2030-01-31T12:00:00Z"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_signed_finds_tbs() {
        // SEQUENCE { SEQUENCE { INTEGER 5 }, NULL }
        let bytes = [0x30, 0x07, 0x30, 0x03, 0x02, 0x01, 0x05, 0x05, 0x00];
        assert_eq!(split_signed(&bytes), Some(2..7));
        assert_eq!(split_signed(&bytes[..8]), None);
        let mut trailing = bytes.to_vec();
        trailing.push(0);
        assert_eq!(split_signed(&trailing), None);
        assert_eq!(split_signed(&[]), None);
        assert_eq!(split_signed(&[0x30, 0x80, 0x00, 0x00]), None);
        // Non-minimal long form length.
        assert_eq!(split_signed(&[0x30, 0x81, 0x02, 0x30, 0x00]), None);
    }

    #[test]
    fn long_lengths_encode_minimally() {
        let mut out = Vec::new();
        der_length(0x7f, &mut out);
        assert_eq!(out, [0x7f]);
        out.clear();
        der_length(0x80, &mut out);
        assert_eq!(out, [0x81, 0x80]);
        out.clear();
        der_length(0x1234, &mut out);
        assert_eq!(out, [0x82, 0x12, 0x34]);
    }

    #[test]
    fn pem_blocks_skip_text_between() {
        let pem = to_pem("CERTIFICATE", &[0x30, 0x00]).unwrap();
        let text = format!("subject=CN=x\n{pem}\nnoise\n{pem}");
        let blocks = pem_blocks(&text).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].0, "CERTIFICATE");
        assert_eq!(blocks[0].1, vec![0x30, 0x00]);
        assert!(pem_blocks("-----BEGIN CERTIFICATE-----\nAAAA").is_err());
        assert!(pem_blocks("no pem here").unwrap().is_empty());
    }

    #[test]
    fn names_build_and_read_back() {
        let n = build_name(&[
            (attr::ORGANIZATION, "Bank, of \"Test\""),
            (attr::ORGANIZATIONAL_UNIT, "node"),
            (attr::COMMON_NAME, "节点1"),
        ])
        .unwrap();
        assert_eq!(
            name_attr(&n, attr::ORGANIZATION).as_deref(),
            Some("Bank, of \"Test\"")
        );
        assert_eq!(name_attr(&n, attr::COMMON_NAME).as_deref(), Some("节点1"));
        assert_eq!(
            name_attr(&n, attr::ORGANIZATIONAL_UNIT).as_deref(),
            Some("node")
        );
    }

    #[test]
    fn times_round_trip() {
        let t = parse_time("2030-01-31T12:00:00Z").unwrap();
        assert_eq!(format_time(t), "2030-01-31T12:00:00Z");
        assert!(parse_time("yesterday").is_err());
    }
}
