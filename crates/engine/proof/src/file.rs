//! The proof file: JSON, every binary value the exact bytes the chain carries (base64), every
//! hash lowercase hex.

use base64::Engine as _;
use covenant_crypto::Hash;
use serde::{Deserialize, Serialize};

use crate::ProofError;

/// The format this crate writes and reads.
pub const FORMAT: &str = "covenant-proof/1";

/// A proof that a transaction is on a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofFile {
    /// [`FORMAT`].
    pub format: String,
    pub chain_id: String,
    /// The hash of the chain's genesis block (hex): the proof holds against that genesis only.
    pub genesis_hash: String,
    pub tx: TxProof,
    /// The header of the transaction's block and its commit certificate.
    pub block: CertifiedHeader,
    /// Every block that changed the chain's config before the transaction's block, oldest
    /// first.
    pub config_changes: Vec<ConfigStep>,
}

/// A transaction and its result with their Merkle paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxProof {
    /// The transaction id (hex): the suite hash of its payload.
    pub id: String,
    /// Its index in the block.
    pub index: u64,
    /// The encoded `Transaction`, as the block carries it (base64).
    pub transaction: String,
    /// The encoded `TxResult` (base64).
    pub result: String,
    /// Sibling hashes (hex) from the transaction's leaf up to the header's `tx_root`.
    pub tx_path: Vec<String>,
    /// Sibling hashes (hex) from the result's leaf up to the header's `results_root`.
    pub result_path: Vec<String>,
}

/// A block header and its commit certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertifiedHeader {
    /// The encoded `BlockHeader` (base64); the block hash is the suite hash of these bytes.
    pub header: String,
    /// The encoded `CommitCertificate` (base64).
    pub certificate: String,
}

/// A block that changed the config: its certified header and all its read/write sets (one of
/// them wrote the new config; all of them together give the header's `rwset_root`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigStep {
    pub header: String,
    pub certificate: String,
    /// The encoded `RwSet`s of the block, in block order (base64).
    pub rwsets: Vec<String>,
}

impl ProofFile {
    /// Read a proof file.
    pub fn from_json(bytes: &[u8]) -> Result<ProofFile, ProofError> {
        let p: ProofFile =
            serde_json::from_slice(bytes).map_err(|e| ProofError::Malformed(e.to_string()))?;
        if p.format != FORMAT {
            return Err(ProofError::Malformed(format!(
                "format {:?} is not {FORMAT}",
                p.format
            )));
        }
        Ok(p)
    }

    /// The file's text (indented JSON with a final newline).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Bytes from canonical base64 only: the same bytes have one spelling, so no character of a
/// file can change without changing what it says.
pub(crate) fn unb64(field: &str, s: &str) -> Result<Vec<u8>, ProofError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| ProofError::Malformed(format!("{field} is not base64: {e}")))?;
    if b64(&bytes) != s {
        return Err(ProofError::Malformed(format!(
            "{field} is not canonical base64"
        )));
    }
    Ok(bytes)
}

/// A hash from 64 lowercase hex digits only.
pub(crate) fn unhex(field: &str, s: &str) -> Result<Hash, ProofError> {
    if s.len() != 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(ProofError::Malformed(format!(
            "{field} is not 64 lowercase hex digits"
        )));
    }
    s.parse()
        .map_err(|_| ProofError::Malformed(format!("{field} is not a hash")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_hex_have_one_spelling() {
        assert_eq!(unb64("x", "AAE=").unwrap(), vec![0, 1]);
        // Non-zero trailing bits spell the same bytes another way: refused.
        assert!(unb64("x", "AAF=").is_err());
        assert!(unb64("x", "AAE").is_err());
        let h = "ab".repeat(32);
        assert!(unhex("h", &h).is_ok());
        assert!(unhex("h", &h.to_uppercase()).is_err());
        assert!(unhex("h", &h[..62]).is_err());
    }

    #[test]
    fn unknown_fields_and_formats_are_refused() {
        let e = ProofFile::from_json(br#"{"format":"covenant-proof/2"}"#).unwrap_err();
        assert_eq!(e.code(), "PROOF_MALFORMED");
        let e = ProofFile::from_json(b"not json").unwrap_err();
        assert_eq!(e.code(), "PROOF_MALFORMED");
    }
}
