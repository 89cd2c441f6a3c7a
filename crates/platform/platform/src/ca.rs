//! An org's certificate authority kept by the platform: its root certificate in the `orgs`
//! row, its key sealed under the master key. It issues the org's signing identities (admins
//! whose keys the platform keeps or who sent a CSR) and its nodes' certificates, with the
//! same subjects and extensions as `covenant ca` (covenant-pki), so nodes treat them alike.

use std::time::{Duration, SystemTime};

use covenant_crypto::{PrivateKey, Suite};
use covenant_pki::{
    Certificate, CertificateSpec, Crl, Csr, Host, Issuer, RevokedEntry, Role, issue_certificate,
    key_identifier, random_serial, subject_name,
};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

const DAY: Duration = Duration::from_secs(86_400);
/// Certificates start an hour in the past: clocks of nodes and clients differ.
const BACKDATE: Duration = Duration::from_secs(3_600);
/// How long an org root lasts.
pub const ROOT_DAYS: u32 = 3650;
/// How long an identity or node certificate lasts at most (and by default).
pub const LEAF_DAYS: u32 = 825;
/// How long a CRL is valid: a newer one replaces it at every revocation.
pub const CRL_DAYS: u32 = 30;

/// An org CA in memory (its key is zeroized on drop).
pub struct OrgCa {
    pub cert: Certificate,
    key: PrivateKey,
}

impl std::fmt::Debug for OrgCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgCa")
            .field("subject", &self.cert.subject_string())
            .finish()
    }
}

impl OrgCa {
    /// A new self-signed root for `org`.
    pub fn create(org: &str, suite: Suite) -> Result<OrgCa> {
        let key = PrivateKey::generate(suite.default_key_algorithm())?;
        let subject = subject_name(org, Role::Ca, &format!("{org} Root CA"))?;
        let now = SystemTime::now();
        let kid = key_identifier(key.public_key());
        let cert = issue_certificate(
            &CertificateSpec {
                subject: subject.clone(),
                public_key: key.public_key().clone(),
                role: Role::Ca,
                hosts: vec![],
                not_before: now - BACKDATE,
                not_after: now + DAY * ROOT_DAYS,
                path_len: None,
            },
            &random_serial()?,
            Issuer {
                name: &subject,
                key: &key,
                key_id: Some(&kid),
            },
        )?;
        Ok(OrgCa { cert, key })
    }

    /// The root again for `days`: the same key and subject, a new serial and validity. What the
    /// old root issued verifies under the new one (same issuer name, same key).
    pub fn renew_root(&self, org: &str, days: u32) -> Result<Certificate> {
        if !(1..=ROOT_DAYS).contains(&days) {
            return Err(Error::invalid_as(
                "CERT_DAYS_INVALID",
                format!("an org root lasts 1 to {ROOT_DAYS} days"),
            ));
        }
        let subject = subject_name(org, Role::Ca, &format!("{org} Root CA"))?;
        if subject.to_string() != self.cert.subject_string() {
            return Err(Error::conflict(
                "CERT_NOT_RENEWABLE",
                "the org's root has a subject the platform did not give it; import a new root instead",
            ));
        }
        let now = SystemTime::now();
        let kid = key_identifier(self.key.public_key());
        Ok(issue_certificate(
            &CertificateSpec {
                subject: subject.clone(),
                public_key: self.key.public_key().clone(),
                role: Role::Ca,
                hosts: vec![],
                not_before: now - BACKDATE,
                not_after: now + DAY * days,
                path_len: None,
            },
            &random_serial()?,
            Issuer {
                name: &subject,
                key: &self.key,
                key_id: Some(&kid),
            },
        )?)
    }

    /// A CA from its certificate and PKCS#8 key (PEM).
    pub fn from_parts(cert_pem: &str, key_pem: &str) -> Result<OrgCa> {
        let cert = Certificate::from_pem(cert_pem, "org CA certificate")?;
        let key = PrivateKey::from_pkcs8_pem(key_pem)
            .map_err(|e| Error::internal(format!("the org CA key does not load: {e}")))?;
        if key.public_key().to_bytes() != cert.public_key()?.to_bytes() {
            return Err(Error::invalid_as(
                "CA_KEY_MISMATCH",
                "the CA key does not belong to the CA certificate",
            ));
        }
        Ok(OrgCa { cert, key })
    }

    /// The key as PKCS#8 PEM, to seal.
    pub fn key_pem(&self) -> Result<Zeroizing<String>> {
        Ok(self.key.to_pkcs8_pem()?)
    }

    /// Certify `public_key` as `name` with `role` for `days` (at most [`LEAF_DAYS`], and never
    /// past the CA's own expiry).
    pub fn certify(
        &self,
        org: &str,
        role: Role,
        name: &str,
        public_key: &covenant_crypto::PublicKey,
        hosts: Vec<Host>,
        days: u32,
    ) -> Result<Certificate> {
        if role == Role::Ca {
            return Err(Error::invalid(
                "an org CA does not issue CA certificates here",
            ));
        }
        check_days(days)?;
        let now = SystemTime::now();
        let not_after = (now + DAY * days).min(self.cert.not_after());
        let kid = self.cert.subject_key_id();
        Ok(issue_certificate(
            &CertificateSpec {
                subject: subject_name(org, role, name)?,
                public_key: public_key.clone(),
                role,
                hosts,
                not_before: now - BACKDATE,
                not_after,
                path_len: None,
            },
            &random_serial()?,
            Issuer {
                name: self.cert.subject(),
                key: &self.key,
                key_id: kid.as_deref(),
            },
        )?)
    }

    /// A new key and its certificate, valid for `days`.
    pub fn issue(
        &self,
        org: &str,
        role: Role,
        name: &str,
        hosts: Vec<Host>,
        days: u32,
    ) -> Result<(Certificate, PrivateKey)> {
        let key = PrivateKey::generate(self.key.algorithm())?;
        let cert = self.certify(org, role, name, key.public_key(), hosts, days)?;
        Ok((cert, key))
    }

    /// A CRL numbered `number` listing `entries`, valid for [`CRL_DAYS`].
    pub fn crl(&self, number: u64, entries: &[RevokedEntry]) -> Result<Crl> {
        let now = SystemTime::now();
        Ok(Crl::issue(
            &self.cert,
            &self.key,
            number,
            now - BACKDATE,
            now + DAY * CRL_DAYS,
            entries,
        )?)
    }

    /// Certify the key of a CSR (its proof of possession checked) as `role` for `days`; the
    /// name comes from the CSR.
    pub fn sign_csr(&self, org: &str, role: Role, csr: &Csr, days: u32) -> Result<Certificate> {
        let public_key = csr.verify()?;
        let suite_ok = public_key.algorithm().suite() == self.key.algorithm().suite();
        if !suite_ok {
            return Err(Error::invalid_as(
                "CSR_WRONG_SUITE",
                format!(
                    "the CSR's key is {} but the org's CA uses the {} suite",
                    public_key.algorithm().name(),
                    self.key.algorithm().suite().name()
                ),
            ));
        }
        let name = csr.common_name().unwrap_or_default();
        covenant_pki::authority::validate_name(&name).map_err(|_| {
            Error::invalid_as(
                "CSR_INVALID",
                "the CSR's common name must be 1 to 64 letters, digits, '.', '_' or '-'",
            )
        })?;
        self.certify(org, role, &name, &public_key, vec![], days)
    }
}

/// Refuse a validity outside 1 to [`LEAF_DAYS`] days.
pub fn check_days(days: u32) -> Result<()> {
    if (1..=LEAF_DAYS).contains(&days) {
        Ok(())
    } else {
        Err(Error::invalid_as(
            "CERT_DAYS_INVALID",
            format!("a certificate lasts 1 to {LEAF_DAYS} days"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use covenant_pki::{TrustStore, VerifyOptions};

    #[test]
    fn issued_certificates_chain_to_the_root_with_org_and_role() {
        for suite in [Suite::Sm, Suite::Intl] {
            let ca = OrgCa::create("bank-a", suite).unwrap();
            let (cert, _key) = ca
                .issue("bank-a", Role::Admin, "admin", vec![], LEAF_DAYS)
                .unwrap();
            assert_eq!(cert.organization().as_deref(), Some("bank-a"));
            assert_eq!(cert.role(), Some(Role::Admin));
            let mut store = TrustStore::new();
            store.add_anchor(ca.cert.clone());
            store.verify(&cert, &[], &VerifyOptions::default()).unwrap();
            let again = OrgCa::from_parts(&ca.cert.to_pem(), &ca.key_pem().unwrap()).unwrap();
            assert_eq!(again.cert.der(), ca.cert.der());
        }
    }
}
