//! Certificate revocation lists: revoke by serial, publish a signed list.

use std::{fmt, ops::Range, path::Path, str::FromStr, time::SystemTime};

use covenant_crypto::PrivateKey;
use der::{Decode, Encode, asn1::OctetString};
use serde::{Deserialize, Serialize};
use x509_cert::{
    certificate::Version,
    crl::{CertificateList, RevokedCert, TbsCertList},
    ext::pkix::{AuthorityKeyIdentifier, CrlNumber, CrlReason},
    name::Name,
    serial_number::SerialNumber,
};

use crate::{
    Certificate, PkiError, Result, asn1,
    cert::{SignatureProblem, check_signature},
    issue::extension,
};

/// Why a certificate was revoked (RFC 5280 §5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevocationReason {
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    CertificateHold,
    PrivilegeWithdrawn,
}

impl RevocationReason {
    /// All reasons, in a stable order.
    pub const ALL: [RevocationReason; 8] = [
        RevocationReason::Unspecified,
        RevocationReason::KeyCompromise,
        RevocationReason::CaCompromise,
        RevocationReason::AffiliationChanged,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::CertificateHold,
        RevocationReason::PrivilegeWithdrawn,
    ];

    /// Kebab-case name, as `--reason` takes it.
    pub fn name(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "key-compromise",
            RevocationReason::CaCompromise => "ca-compromise",
            RevocationReason::AffiliationChanged => "affiliation-changed",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessation-of-operation",
            RevocationReason::CertificateHold => "certificate-hold",
            RevocationReason::PrivilegeWithdrawn => "privilege-withdrawn",
        }
    }

    fn to_x509(self) -> CrlReason {
        match self {
            RevocationReason::Unspecified => CrlReason::Unspecified,
            RevocationReason::KeyCompromise => CrlReason::KeyCompromise,
            RevocationReason::CaCompromise => CrlReason::CaCompromise,
            RevocationReason::AffiliationChanged => CrlReason::AffiliationChanged,
            RevocationReason::Superseded => CrlReason::Superseded,
            RevocationReason::CessationOfOperation => CrlReason::CessationOfOperation,
            RevocationReason::CertificateHold => CrlReason::CertificateHold,
            RevocationReason::PrivilegeWithdrawn => CrlReason::PrivilegeWithdrawn,
        }
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RevocationReason {
    type Err = PkiError;

    fn from_str(s: &str) -> Result<Self> {
        let norm = s.to_ascii_lowercase().replace('_', "-");
        RevocationReason::ALL
            .into_iter()
            .find(|r| r.name() == norm || r.name().replace('-', "") == norm)
            .ok_or_else(|| {
                PkiError::InvalidArgument(format!(
                    "unknown revocation reason {s:?} (expected one of: {})",
                    RevocationReason::ALL.map(|r| r.name()).join(", ")
                ))
            })
    }
}

/// One entry of a CRL to be issued.
#[derive(Debug, Clone)]
pub struct RevokedEntry {
    pub serial: Vec<u8>,
    pub revoked_at: SystemTime,
    pub reason: RevocationReason,
}

/// A certificate revocation list with the exact DER it was read from.
#[derive(Clone)]
pub struct Crl {
    der: Vec<u8>,
    tbs: Range<usize>,
    /// The issuer Name as carried.
    issuer: Range<usize>,
    inner: CertificateList,
}

impl fmt::Debug for Crl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crl")
            .field("issuer", &self.issuer().to_string())
            .field("entries", &self.revoked_serials().len())
            .finish()
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let skip = b
        .iter()
        .take_while(|x| **x == 0)
        .count()
        .min(b.len().saturating_sub(1));
    &b[skip..]
}

impl Crl {
    /// Issue a CRL signed by `issuer` (whose key is `key`).
    pub fn issue(
        issuer: &Certificate,
        key: &PrivateKey,
        crl_number: u64,
        this_update: SystemTime,
        next_update: SystemTime,
        entries: &[RevokedEntry],
    ) -> Result<Self> {
        if next_update <= this_update {
            return Err(PkiError::InvalidArgument(
                "the CRL's next update must come after this update".into(),
            ));
        }
        let revoked = entries
            .iter()
            .map(|e| {
                Ok(RevokedCert {
                    serial_number: SerialNumber::<x509_cert::certificate::Rfc5280>::new(&e.serial)
                        .map_err(PkiError::encoding)?,
                    revocation_date: asn1::x509_time(e.revoked_at)?,
                    crl_entry_extensions: Some(vec![extension(&e.reason.to_x509(), false)?]),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut crl_exts = vec![extension(
            &CrlNumber(
                der::asn1::Uint::new(&crl_number.to_be_bytes()).map_err(PkiError::encoding)?,
            ),
            false,
        )?];
        if let Some(kid) = issuer.subject_key_id() {
            crl_exts.push(extension(
                &AuthorityKeyIdentifier {
                    key_identifier: Some(OctetString::new(kid).map_err(PkiError::encoding)?),
                    ..Default::default()
                },
                false,
            )?);
        }
        let sig_alg = asn1::signature_algorithm(key.algorithm());
        let tbs = TbsCertList {
            version: Version::V2,
            signature: sig_alg.clone(),
            issuer: issuer.subject().clone(),
            this_update: asn1::x509_time(this_update)?,
            next_update: Some(asn1::x509_time(next_update)?),
            revoked_certificates: (!revoked.is_empty()).then_some(revoked),
            crl_extensions: Some(crl_exts),
        };
        let tbs_der = tbs.to_der().map_err(PkiError::encoding)?;
        let signature = key.sign(&tbs_der)?;
        let der_bytes = asn1::assemble_signed(&tbs_der, &sig_alg, &signature)?;
        Crl::from_der(der_bytes, "new CRL")
    }

    /// Parse DER.
    pub fn from_der(der_bytes: Vec<u8>, what: &str) -> Result<Self> {
        let not_crl = |detail: String| PkiError::NotACrl {
            what: what.to_string(),
            detail,
        };
        let tbs = asn1::split_signed(&der_bytes)
            .ok_or_else(|| not_crl("not a DER signed structure".into()))?;
        let inner = CertificateList::from_der(&der_bytes)
            .map_err(|e| not_crl(format!("CRL decoding failed: {e}")))?;
        let issuer = asn1::crl_issuer(&der_bytes, tbs.clone())
            .ok_or_else(|| not_crl("no issuer name in the to-be-signed list".into()))?;
        Ok(Crl {
            der: der_bytes,
            tbs,
            issuer,
            inner,
        })
    }

    /// Parse PEM (`X509 CRL`).
    pub fn from_pem(text: &str, what: &str) -> Result<Self> {
        let not_crl = |detail: String| PkiError::NotACrl {
            what: what.to_string(),
            detail,
        };
        let blocks = asn1::pem_blocks(text).map_err(not_crl)?;
        let (label, der_bytes) = blocks
            .into_iter()
            .next()
            .ok_or_else(|| not_crl("no PEM block found".into()))?;
        if label != "X509 CRL" {
            return Err(not_crl(format!("found a {label} PEM block")));
        }
        Crl::from_der(der_bytes, what)
    }

    /// Read a PEM or DER file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| PkiError::io(path, e))?;
        let what = path.display().to_string();
        match std::str::from_utf8(&bytes) {
            Ok(text) if text.contains("-----BEGIN") => Crl::from_pem(text, &what),
            _ => Crl::from_der(bytes, &what),
        }
    }

    /// The exact DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// PEM text.
    pub fn to_pem(&self) -> Result<String> {
        asn1::to_pem("X509 CRL", &self.der)
    }

    /// The CA that issued the list.
    pub fn issuer(&self) -> &Name {
        &self.inner.tbs_cert_list.issuer
    }

    /// The issuer's Name exactly as the CRL carries it (DER, tag and length included).
    pub fn issuer_der(&self) -> &[u8] {
        &self.der[self.issuer.clone()]
    }

    /// The issuer in Covenant's own rendering ([`describe_name`](crate::describe_name)).
    pub fn issuer_text(&self) -> String {
        crate::asn1::describe_name(self.issuer())
    }

    /// When the list was issued.
    pub fn this_update(&self) -> SystemTime {
        self.inner.tbs_cert_list.this_update.to_system_time()
    }

    /// When the next list is due, if stated.
    pub fn next_update(&self) -> Option<SystemTime> {
        self.inner
            .tbs_cert_list
            .next_update
            .map(|t| t.to_system_time())
    }

    /// The CRL number, if present and at most 64 bits.
    pub fn number(&self) -> Option<u64> {
        let exts = self.inner.tbs_cert_list.crl_extensions.as_ref()?;
        let ext = exts
            .iter()
            .find(|e| e.extn_id == <CrlNumber as der::oid::AssociatedOid>::OID)?;
        let n = CrlNumber::from_der(ext.extn_value.as_bytes()).ok()?;
        let bytes = strip_zeros(n.0.as_bytes());
        (bytes.len() <= 8).then(|| bytes.iter().fold(0u64, |acc, b| (acc << 8) | *b as u64))
    }

    /// Serial numbers on the list (leading zeros stripped).
    pub fn revoked_serials(&self) -> Vec<&[u8]> {
        self.inner
            .tbs_cert_list
            .revoked_certificates
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|r| strip_zeros(r.serial_number.as_bytes()))
            .collect()
    }

    /// When `serial` was revoked, if it is on the list.
    pub fn revocation_of(&self, serial: &[u8]) -> Option<SystemTime> {
        let serial = strip_zeros(serial);
        self.inner
            .tbs_cert_list
            .revoked_certificates
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|r| strip_zeros(r.serial_number.as_bytes()) == serial)
            .map(|r| r.revocation_date.to_system_time())
    }

    /// Check that `issuer` signed this list: names match, the key verifies the signature,
    /// and the issuer may sign CRLs.
    pub fn verify_signed_by(
        &self,
        issuer: &Certificate,
    ) -> std::result::Result<(), SignatureProblem> {
        if issuer.subject() != self.issuer() {
            return Err(SignatureProblem::AlgorithmMismatch(
                "the CRL names a different issuer".into(),
            ));
        }
        if !issuer.may_sign_crls() {
            return Err(SignatureProblem::AlgorithmMismatch(
                "the issuer's key usage does not allow signing CRLs".into(),
            ));
        }
        let key = issuer
            .public_key()
            .map_err(|e| SignatureProblem::Unsupported(e.to_string()))?;
        check_signature(
            &key,
            &self.inner.signature_algorithm,
            Some(&self.inner.tbs_cert_list.signature),
            &self.der[self.tbs.clone()],
            &self.inner.signature,
        )
    }
}
