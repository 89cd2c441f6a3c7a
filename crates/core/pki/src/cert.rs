//! Parsed X.509 certificates that keep the exact bytes they came from.

use std::{fmt, net::IpAddr, ops::Range, path::Path, time::SystemTime};

use covenant_crypto::{KeyAlgorithm, PublicKey};
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use x509_cert::{
    ext::pkix::{
        BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName,
        SubjectKeyIdentifier, name::GeneralName,
    },
    name::Name,
};

use crate::{PkiError, Result, Role, asn1};

/// Why a signature over a certificate, CRL or CSR did not check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureProblem {
    /// The signature algorithm is not one Covenant verifies (e.g. RSA).
    Unsupported(String),
    /// The algorithm does not match the signer's key, or the two algorithm fields disagree.
    AlgorithmMismatch(String),
    /// The signature value does not verify.
    Invalid,
}

impl fmt::Display for SignatureProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureProblem::Unsupported(s) => write!(f, "unsupported signature algorithm {s}"),
            SignatureProblem::AlgorithmMismatch(s) => f.write_str(s),
            SignatureProblem::Invalid => f.write_str("signature does not verify"),
        }
    }
}

/// Check a signature over `tbs` made with `algorithm_oid` by `key`.
pub(crate) fn check_signature(
    key: &PublicKey,
    outer_alg: &spki::AlgorithmIdentifierOwned,
    inner_alg: Option<&spki::AlgorithmIdentifierOwned>,
    tbs: &[u8],
    signature: &der::asn1::BitString,
) -> std::result::Result<(), SignatureProblem> {
    if let Some(inner) = inner_alg
        && inner != outer_alg
    {
        return Err(SignatureProblem::AlgorithmMismatch(
            "signature algorithm inside and outside the signed part differ".into(),
        ));
    }
    let alg = KeyAlgorithm::from_signature_oid(&outer_alg.oid)
        .ok_or_else(|| SignatureProblem::Unsupported(outer_alg.oid.to_string()))?;
    if alg != key.algorithm() {
        return Err(SignatureProblem::AlgorithmMismatch(format!(
            "signed with {alg} but the issuer's key is {}",
            key.algorithm()
        )));
    }
    let sig = signature.as_bytes().ok_or(SignatureProblem::Invalid)?;
    match key.verify(tbs, sig) {
        Ok(()) => Ok(()),
        // OpenSSL 3 signs SM2 certificates, CSRs and CRLs with an empty distinguishing ID
        // unless told otherwise; accept that form too (docs/design/0001-sm2-distid.md).
        Err(_) if alg == KeyAlgorithm::Sm2 => key
            .verify_with_distid(tbs, sig, OPENSSL_SM2_DISTID)
            .map_err(|_| SignatureProblem::Invalid),
        Err(_) => Err(SignatureProblem::Invalid),
    }
}

/// The distinguishing ID OpenSSL 3 uses for X.509 SM2 signatures when none is configured.
pub const OPENSSL_SM2_DISTID: &str = "";

/// An X.509 certificate with the exact DER it was read from.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    tbs: Range<usize>,
    inner: x509_cert::Certificate,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject_string())
            .field("serial", &self.serial_hex())
            .finish()
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Certificate {}

impl Certificate {
    /// Parse DER. `what` names the source in errors (a path, "input").
    pub fn from_der(der_bytes: Vec<u8>, what: &str) -> Result<Self> {
        let not_cert = |detail: String| PkiError::NotACertificate {
            what: what.to_string(),
            detail,
        };
        let tbs = asn1::split_signed(&der_bytes)
            .ok_or_else(|| not_cert("not a DER signed structure".into()))?;
        let inner = x509_cert::Certificate::from_der(&der_bytes)
            .map_err(|e| not_cert(format!("X.509 decoding failed: {e}")))?;
        Ok(Certificate {
            der: der_bytes,
            tbs,
            inner,
        })
    }

    /// Parse every certificate in PEM text, in order. Fails if there is none, or if any PEM
    /// block is not a certificate.
    pub fn chain_from_pem(text: &str, what: &str) -> Result<Vec<Self>> {
        let blocks = asn1::pem_blocks(text).map_err(|detail| PkiError::NotACertificate {
            what: what.to_string(),
            detail,
        })?;
        if blocks.is_empty() {
            return Err(PkiError::NotACertificate {
                what: what.to_string(),
                detail: "no PEM block found".into(),
            });
        }
        blocks
            .into_iter()
            .map(|(label, der_bytes)| {
                if label != "CERTIFICATE" {
                    return Err(PkiError::NotACertificate {
                        what: what.to_string(),
                        detail: format!("found a {label} PEM block"),
                    });
                }
                Certificate::from_der(der_bytes, what)
            })
            .collect()
    }

    /// Parse exactly the first certificate of PEM text.
    pub fn from_pem(text: &str, what: &str) -> Result<Self> {
        let mut chain = Self::chain_from_pem(text, what)?;
        Ok(chain.remove(0))
    }

    /// Read a PEM or DER file holding one or more certificates (leaf first).
    pub fn load_chain(path: &Path) -> Result<Vec<Self>> {
        let bytes = std::fs::read(path).map_err(|e| PkiError::io(path, e))?;
        let what = path.display().to_string();
        match std::str::from_utf8(&bytes) {
            Ok(text) if text.contains("-----BEGIN") => Self::chain_from_pem(text, &what),
            _ => Ok(vec![Self::from_der(bytes, &what)?]),
        }
    }

    /// Read the first certificate of a file.
    pub fn load(path: &Path) -> Result<Self> {
        let mut chain = Self::load_chain(path)?;
        Ok(chain.remove(0))
    }

    /// The exact DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// PEM text.
    pub fn to_pem(&self) -> String {
        // Encoding known-good DER as PEM cannot fail; fall back to an empty string rather
        // than panic if the encoder ever disagrees.
        asn1::to_pem("CERTIFICATE", &self.der).unwrap_or_default()
    }

    /// The exact bytes the issuer signed.
    pub fn tbs_bytes(&self) -> &[u8] {
        &self.der[self.tbs.clone()]
    }

    /// The parsed certificate.
    pub fn x509(&self) -> &x509_cert::Certificate {
        &self.inner
    }

    /// Serial number as uppercase hex without leading zero bytes.
    pub fn serial_hex(&self) -> String {
        hex::encode_upper(self.serial_bytes())
    }

    /// Serial number bytes (big-endian, leading zeros stripped).
    pub fn serial_bytes(&self) -> &[u8] {
        let b = self.inner.tbs_certificate().serial_number().as_bytes();
        let skip = b
            .iter()
            .take_while(|x| **x == 0)
            .count()
            .min(b.len().saturating_sub(1));
        &b[skip..]
    }

    /// Subject name.
    pub fn subject(&self) -> &Name {
        self.inner.tbs_certificate().subject()
    }

    /// Issuer name.
    pub fn issuer(&self) -> &Name {
        self.inner.tbs_certificate().issuer()
    }

    /// Subject as RFC 4514 text.
    pub fn subject_string(&self) -> String {
        self.subject().to_string()
    }

    /// Issuer as RFC 4514 text.
    pub fn issuer_string(&self) -> String {
        self.issuer().to_string()
    }

    /// Start of the validity period.
    pub fn not_before(&self) -> SystemTime {
        self.inner
            .tbs_certificate()
            .validity()
            .not_before
            .to_system_time()
    }

    /// End of the validity period.
    pub fn not_after(&self) -> SystemTime {
        self.inner
            .tbs_certificate()
            .validity()
            .not_after
            .to_system_time()
    }

    /// The subject's organization (`O`).
    pub fn organization(&self) -> Option<String> {
        asn1::name_attr(self.subject(), asn1::attr::ORGANIZATION)
    }

    /// The subject's common name (`CN`).
    pub fn common_name(&self) -> Option<String> {
        asn1::name_attr(self.subject(), asn1::attr::COMMON_NAME)
    }

    /// The role carried in the subject's `OU`, if it names one.
    pub fn role(&self) -> Option<Role> {
        asn1::name_attr(self.subject(), asn1::attr::ORGANIZATIONAL_UNIT)
            .and_then(|ou| ou.parse().ok())
    }

    /// The subject public key.
    pub fn public_key(&self) -> Result<PublicKey> {
        let spki = self
            .inner
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(PkiError::encoding)?;
        Ok(PublicKey::from_spki_der(&spki)?)
    }

    /// The algorithm the issuer signed this certificate with, if Covenant knows it.
    pub fn signature_algorithm(&self) -> Option<KeyAlgorithm> {
        KeyAlgorithm::from_signature_oid(&self.inner.signature_algorithm().oid)
    }

    fn extension<'a, T: Decode<'a> + der::oid::AssociatedOid>(&'a self) -> Option<T> {
        self.inner
            .tbs_certificate()
            .get_extension::<T>()
            .ok()
            .flatten()
            .map(|(_, v)| v)
    }

    /// Basic constraints, when present and well formed.
    pub fn basic_constraints(&self) -> Option<BasicConstraints> {
        self.extension::<BasicConstraints>()
    }

    /// Whether the certificate may issue certificates: basic constraints with `cA`, and a key
    /// usage (if present) that includes `keyCertSign`.
    pub fn is_ca(&self) -> bool {
        let bc = self.basic_constraints().is_some_and(|bc| bc.ca);
        let ku_ok = self
            .extension::<KeyUsage>()
            .is_none_or(|ku| ku.0.contains(KeyUsages::KeyCertSign));
        bc && ku_ok
    }

    /// Whether the key usage (if present) allows signing CRLs.
    pub fn may_sign_crls(&self) -> bool {
        self.extension::<KeyUsage>()
            .is_none_or(|ku| ku.0.contains(KeyUsages::CRLSign))
    }

    /// Extended key usages, if the extension is present.
    pub fn extended_key_usage(&self) -> Option<Vec<der::asn1::ObjectIdentifier>> {
        self.extension::<ExtendedKeyUsage>().map(|e| e.0)
    }

    /// Host names and IP addresses from the subject alternative names.
    pub fn hosts(&self) -> Vec<String> {
        self.extension::<SubjectAltName>()
            .map(|san| general_names_to_hosts(&san.0))
            .unwrap_or_default()
    }

    /// Subject key identifier, if present.
    pub fn subject_key_id(&self) -> Option<Vec<u8>> {
        self.extension::<SubjectKeyIdentifier>()
            .map(|s| s.0.as_bytes().to_vec())
    }

    /// Whether subject and issuer are the same name.
    pub fn is_self_issued(&self) -> bool {
        self.subject() == self.issuer()
    }

    /// SHA-256 of the DER, lowercase hex: the usual certificate fingerprint.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(&self.der))
    }

    /// Whether `at` lies inside the validity period.
    pub fn valid_at(&self, at: SystemTime) -> bool {
        self.not_before() <= at && at <= self.not_after()
    }

    /// Check that `issuer_key` signed this certificate.
    pub fn verify_signed_by(
        &self,
        issuer_key: &PublicKey,
    ) -> std::result::Result<(), SignatureProblem> {
        check_signature(
            issuer_key,
            self.inner.signature_algorithm(),
            Some(self.inner.tbs_certificate().signature()),
            self.tbs_bytes(),
            self.inner.signature(),
        )
    }
}

/// Text forms of DNS names and IP addresses in general names.
pub(crate) fn general_names_to_hosts(names: &[GeneralName]) -> Vec<String> {
    names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DnsName(d) => Some(d.to_string()),
            GeneralName::IpAddress(ip) => match ip.as_bytes().len() {
                4 => <[u8; 4]>::try_from(ip.as_bytes())
                    .ok()
                    .map(|b| IpAddr::from(b).to_string()),
                16 => <[u8; 16]>::try_from(ip.as_bytes())
                    .ok()
                    .map(|b| IpAddr::from(b).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}
