//! PKCS#10 certificate signing requests: a member makes its key and CSR locally, the CA signs
//! the CSR, and the private key never leaves its owner.

use std::{fmt, ops::Range, path::Path};

use covenant_crypto::{PrivateKey, PublicKey};
use der::{Decode, Encode, asn1::SetOfVec, oid::AssociatedOid};
use x509_cert::{
    attr::Attribute,
    ext::pkix::SubjectAltName,
    request::{CertReq, CertReqInfo, ExtensionReq, Version},
    spki::SubjectPublicKeyInfoOwned,
};

use crate::{
    PkiError, Result, asn1,
    cert::{SignatureProblem, check_signature, general_names_to_hosts},
    issue::{Host, extension},
};

/// A certificate signing request with the exact DER it was read from.
#[derive(Clone)]
pub struct Csr {
    der: Vec<u8>,
    info: Range<usize>,
    inner: CertReq,
}

impl fmt::Debug for Csr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Csr")
            .field("subject", &self.inner.info.subject.to_string())
            .finish()
    }
}

impl Csr {
    /// Make a CSR for `common_name` (and, for nodes, `hosts`) signed by `key`.
    pub fn create(key: &PrivateKey, common_name: &str, hosts: &[Host]) -> Result<Self> {
        let subject = asn1::build_name(&[(asn1::attr::COMMON_NAME, common_name)])?;
        let mut attributes = SetOfVec::new();
        if !hosts.is_empty() {
            let names = hosts
                .iter()
                .map(Host::to_general_name)
                .collect::<Result<Vec<_>>>()?;
            let req = ExtensionReq(vec![extension(&SubjectAltName(names), false)?]);
            let attr = Attribute::try_from(req).map_err(PkiError::encoding)?;
            attributes.insert(attr).map_err(PkiError::encoding)?;
        }
        let info = CertReqInfo {
            version: Version::V1,
            subject,
            public_key: SubjectPublicKeyInfoOwned::from_der(&key.public_key().to_spki_der()?)
                .map_err(PkiError::encoding)?,
            attributes,
        };
        let info_der = info.to_der().map_err(PkiError::encoding)?;
        let signature = key.sign(&info_der)?;
        let alg = asn1::signature_algorithm(key.algorithm());
        let der_bytes = asn1::assemble_signed(&info_der, &alg, &signature)?;
        Csr::from_der(der_bytes, "new CSR")
    }

    /// Parse DER.
    pub fn from_der(der_bytes: Vec<u8>, what: &str) -> Result<Self> {
        let not_csr = |detail: String| PkiError::NotACsr {
            what: what.to_string(),
            detail,
        };
        let info = asn1::split_signed(&der_bytes)
            .ok_or_else(|| not_csr("not a DER signed structure".into()))?;
        let inner = CertReq::from_der(&der_bytes)
            .map_err(|e| not_csr(format!("PKCS#10 decoding failed: {e}")))?;
        Ok(Csr {
            der: der_bytes,
            info,
            inner,
        })
    }

    /// Parse PEM (`CERTIFICATE REQUEST` or the older `NEW CERTIFICATE REQUEST`).
    pub fn from_pem(text: &str, what: &str) -> Result<Self> {
        let not_csr = |detail: String| PkiError::NotACsr {
            what: what.to_string(),
            detail,
        };
        let blocks = asn1::pem_blocks(text).map_err(not_csr)?;
        let (label, der_bytes) = blocks
            .into_iter()
            .next()
            .ok_or_else(|| not_csr("no PEM block found".into()))?;
        if label != "CERTIFICATE REQUEST" && label != "NEW CERTIFICATE REQUEST" {
            return Err(not_csr(format!("found a {label} PEM block")));
        }
        Csr::from_der(der_bytes, what)
    }

    /// Read a PEM or DER file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| PkiError::io(path, e))?;
        let what = path.display().to_string();
        match std::str::from_utf8(&bytes) {
            Ok(text) if text.contains("-----BEGIN") => Csr::from_pem(text, &what),
            _ => Csr::from_der(bytes, &what),
        }
    }

    /// PEM text.
    pub fn to_pem(&self) -> Result<String> {
        asn1::to_pem("CERTIFICATE REQUEST", &self.der)
    }

    /// The requested subject's common name.
    pub fn common_name(&self) -> Option<String> {
        asn1::name_attr(&self.inner.info.subject, asn1::attr::COMMON_NAME)
    }

    /// Host names and IP addresses requested as subject alternative names.
    pub fn hosts(&self) -> Vec<String> {
        let mut hosts = Vec::new();
        for attr in self.inner.info.attributes.iter() {
            if attr.oid != ExtensionReq::OID {
                continue;
            }
            for value in attr.values.iter() {
                let Ok(req) = value.to_der().and_then(|d| ExtensionReq::from_der(&d)) else {
                    continue;
                };
                for ext in req.0 {
                    if ext.extn_id == SubjectAltName::OID
                        && let Ok(san) = SubjectAltName::from_der(ext.extn_value.as_bytes())
                    {
                        hosts.extend(general_names_to_hosts(&san.0));
                    }
                }
            }
        }
        hosts
    }

    /// The requester's public key.
    pub fn public_key(&self) -> Result<PublicKey> {
        let spki = self
            .inner
            .info
            .public_key
            .to_der()
            .map_err(PkiError::encoding)?;
        Ok(PublicKey::from_spki_der(&spki)?)
    }

    /// Check the self-signature (proof that the requester holds the private key) and return
    /// the public key it proves.
    pub fn verify(&self) -> Result<PublicKey> {
        let key = self.public_key()?;
        check_signature(
            &key,
            &self.inner.algorithm,
            None,
            &self.der[self.info.clone()],
            &self.inner.signature,
        )
        .map_err(|p| match p {
            SignatureProblem::Invalid => PkiError::CsrBadSignature,
            other => PkiError::NotACsr {
                what: "CSR".into(),
                detail: other.to_string(),
            },
        })?;
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use covenant_crypto::KeyAlgorithm;

    use super::*;

    #[test]
    fn create_parse_verify() {
        for alg in KeyAlgorithm::ALL {
            let key = PrivateKey::generate(alg).unwrap();
            let csr = Csr::create(
                &key,
                "alice",
                &["10.1.2.3".parse().unwrap(), "a.example".parse().unwrap()],
            )
            .unwrap();
            let pem = csr.to_pem().unwrap();
            let back = Csr::from_pem(&pem, "test").unwrap();
            assert_eq!(back.common_name().as_deref(), Some("alice"));
            assert_eq!(
                back.hosts(),
                vec!["10.1.2.3".to_string(), "a.example".to_string()]
            );
            assert_eq!(&back.verify().unwrap(), key.public_key());
        }
    }

    #[test]
    fn tampered_csr_fails_proof_of_possession() {
        let key = PrivateKey::generate(KeyAlgorithm::Sm2).unwrap();
        let csr = Csr::create(&key, "mallory", &[]).unwrap();
        let mut der_bytes = csr.der.clone();
        // Flip a byte inside the common name.
        let pos = der_bytes.windows(7).position(|w| w == b"mallory").unwrap();
        der_bytes[pos] = b'M';
        let tampered = Csr::from_der(der_bytes, "t").unwrap();
        assert_eq!(tampered.verify().unwrap_err().code(), "CSR_BAD_SIGNATURE");
    }

    #[test]
    fn garbage_is_not_a_csr() {
        assert_eq!(Csr::from_pem("junk", "x").unwrap_err().code(), "NOT_A_CSR");
        assert_eq!(
            Csr::from_der(vec![1, 2, 3], "x").unwrap_err().code(),
            "NOT_A_CSR"
        );
    }
}
