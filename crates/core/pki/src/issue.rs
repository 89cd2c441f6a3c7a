//! Building and signing certificates.

use std::{fmt, net::IpAddr, str::FromStr, time::SystemTime};

use covenant_crypto::{HashAlgorithm, KeyAlgorithm, PrivateKey, PublicKey};
use der::{
    Decode, Encode, Sequence,
    asn1::{Ia5String, ObjectIdentifier, OctetString},
    oid::AssociatedOid,
};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::{
    ext::{
        Extension,
        pkix::{
            AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
            SubjectAltName, SubjectKeyIdentifier, name::GeneralName,
        },
    },
    name::Name,
    serial_number::SerialNumber,
    time::Validity,
};

use crate::{Certificate, PkiError, Result, Role, asn1};

/// `id-kp-serverAuth`.
pub const EKU_SERVER_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
/// `id-kp-clientAuth`.
pub const EKU_CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");

/// A host a node certificate names: a DNS name or an IP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Dns(String),
    Ip(IpAddr),
}

impl FromStr for Host {
    type Err = PkiError;

    fn from_str(s: &str) -> Result<Self> {
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Host::Ip(ip));
        }
        let valid_label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        let body = s.strip_prefix("*.").unwrap_or(s);
        if s.len() <= 253 && body.split('.').all(valid_label) {
            Ok(Host::Dns(s.to_ascii_lowercase()))
        } else {
            Err(PkiError::InvalidArgument(format!(
                "invalid host {s:?}: expected a DNS name or an IP address"
            )))
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Dns(d) => f.write_str(d),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl Host {
    pub(crate) fn to_general_name(&self) -> Result<GeneralName> {
        Ok(match self {
            Host::Dns(d) => GeneralName::DnsName(Ia5String::new(d).map_err(PkiError::encoding)?),
            Host::Ip(ip) => GeneralName::from(*ip),
        })
    }
}

/// The signer of a certificate: its name, key and key identifier.
#[derive(Debug, Clone, Copy)]
pub struct Issuer<'a> {
    pub name: &'a Name,
    pub key: &'a PrivateKey,
    pub key_id: Option<&'a [u8]>,
}

/// Everything a new certificate says.
#[derive(Debug, Clone)]
pub struct CertificateSpec {
    pub subject: Name,
    pub public_key: PublicKey,
    pub role: Role,
    pub hosts: Vec<Host>,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// For CA certificates: how many CAs may follow below this one.
    pub path_len: Option<u8>,
}

#[derive(Sequence)]
struct TbsCertificateOut {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    version: u8,
    serial_number: SerialNumber,
    signature: AlgorithmIdentifierOwned,
    issuer: Name,
    validity: Validity,
    subject: Name,
    subject_public_key_info: SubjectPublicKeyInfoOwned,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    extensions: Option<Vec<Extension>>,
}

/// A fresh random serial number: 16 bytes, positive, with a fixed length.
pub fn random_serial() -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; 16];
    covenant_crypto::random_bytes(&mut bytes)?;
    bytes[0] = 0x40 | (bytes[0] & 0x3f);
    Ok(bytes)
}

/// Key identifier of a public key: the leftmost 160 bits of the key algorithm's hash over the
/// subjectPublicKey bits (RFC 7093, method 1; SM3 for SM2 keys).
pub fn key_identifier(public_key: &PublicKey) -> Vec<u8> {
    let hash = match public_key.algorithm() {
        KeyAlgorithm::Sm2 => HashAlgorithm::Sm3,
        _ => HashAlgorithm::Sha256,
    };
    hash.digest(&public_key.to_bytes()).as_bytes()[..20].to_vec()
}

pub(crate) fn extension<T: Encode + AssociatedOid>(value: &T, critical: bool) -> Result<Extension> {
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der().map_err(PkiError::encoding)?)
            .map_err(PkiError::encoding)?,
    })
}

fn extensions_for(
    spec: &CertificateSpec,
    subject_key_id: &[u8],
    issuer_key_id: Option<&[u8]>,
) -> Result<Vec<Extension>> {
    let mut exts = Vec::new();
    let is_ca = spec.role == Role::Ca;
    exts.push(extension(
        &BasicConstraints {
            ca: is_ca,
            path_len_constraint: if is_ca { spec.path_len } else { None },
        },
        true,
    )?);
    let usage = match spec.role {
        Role::Ca => KeyUsages::KeyCertSign | KeyUsages::CRLSign | KeyUsages::DigitalSignature,
        Role::Node => KeyUsages::DigitalSignature | KeyUsages::KeyAgreement,
        Role::Admin | Role::Client => KeyUsages::DigitalSignature | KeyUsages::NonRepudiation,
    };
    exts.push(extension(&KeyUsage(usage), true)?);
    match spec.role {
        Role::Ca => {}
        Role::Node => exts.push(extension(
            &ExtendedKeyUsage(vec![EKU_SERVER_AUTH, EKU_CLIENT_AUTH]),
            false,
        )?),
        Role::Admin | Role::Client => {
            exts.push(extension(&ExtendedKeyUsage(vec![EKU_CLIENT_AUTH]), false)?)
        }
    }
    if !spec.hosts.is_empty() {
        let names = spec
            .hosts
            .iter()
            .map(Host::to_general_name)
            .collect::<Result<Vec<_>>>()?;
        exts.push(extension(&SubjectAltName(names), false)?);
    }
    exts.push(extension(
        &SubjectKeyIdentifier(OctetString::new(subject_key_id).map_err(PkiError::encoding)?),
        false,
    )?);
    if let Some(id) = issuer_key_id {
        exts.push(extension(
            &AuthorityKeyIdentifier {
                key_identifier: Some(OctetString::new(id).map_err(PkiError::encoding)?),
                ..Default::default()
            },
            false,
        )?);
    }
    Ok(exts)
}

/// Sign `spec` with `issuer` (or, with `None`, self-sign with `self_key`).
pub fn issue_certificate(
    spec: &CertificateSpec,
    serial: &[u8],
    issuer: Issuer<'_>,
) -> Result<Certificate> {
    if spec.not_after <= spec.not_before {
        return Err(PkiError::InvalidArgument(
            "the validity period must end after it starts".into(),
        ));
    }
    let subject_key_id = key_identifier(&spec.public_key);
    let sig_alg = asn1::signature_algorithm(issuer.key.algorithm());
    let spki_der = spec.public_key.to_spki_der()?;
    let tbs = TbsCertificateOut {
        version: 2,
        serial_number: SerialNumber::new(serial).map_err(PkiError::encoding)?,
        signature: sig_alg.clone(),
        issuer: issuer.name.clone(),
        validity: Validity::new(
            asn1::x509_time(spec.not_before)?,
            asn1::x509_time(spec.not_after)?,
        ),
        subject: spec.subject.clone(),
        subject_public_key_info: SubjectPublicKeyInfoOwned::from_der(&spki_der)
            .map_err(PkiError::encoding)?,
        extensions: Some(extensions_for(spec, &subject_key_id, issuer.key_id)?),
    };
    let tbs_der = tbs.to_der().map_err(PkiError::encoding)?;
    let signature = issuer.key.sign(&tbs_der)?;
    let der_bytes = asn1::assemble_signed(&tbs_der, &sig_alg, &signature)?;
    Certificate::from_der(der_bytes, "new certificate")
}

/// The subject name Covenant gives an org's certificates: `O=org, OU=role, CN=name`.
pub fn subject_name(org: &str, role: Role, common_name: &str) -> Result<Name> {
    asn1::build_name(&[
        (asn1::attr::ORGANIZATION, org),
        (asn1::attr::ORGANIZATIONAL_UNIT, role.name()),
        (asn1::attr::COMMON_NAME, common_name),
    ])
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn hosts_parse() {
        assert_eq!(
            "10.0.0.1".parse::<Host>().unwrap(),
            Host::Ip("10.0.0.1".parse().unwrap())
        );
        assert_eq!(
            "::1".parse::<Host>().unwrap(),
            Host::Ip("::1".parse().unwrap())
        );
        assert_eq!(
            "Node1.Example.com".parse::<Host>().unwrap(),
            Host::Dns("node1.example.com".into())
        );
        assert_eq!(
            "*.example.com".parse::<Host>().unwrap(),
            Host::Dns("*.example.com".into())
        );
        for bad in ["", "a..b", "-a.com", "a b", "ä.com"] {
            assert_eq!(
                bad.parse::<Host>().unwrap_err().code(),
                "INVALID_ARGUMENT",
                "{bad}"
            );
        }
    }

    #[test]
    fn self_signed_ca_and_node_cert() {
        for alg in KeyAlgorithm::ALL {
            let ca_key = PrivateKey::generate(alg).unwrap();
            let now = SystemTime::now();
            let ca_name = subject_name("Org1", Role::Ca, "Org1 Root CA").unwrap();
            let ca_kid = key_identifier(ca_key.public_key());
            let ca = issue_certificate(
                &CertificateSpec {
                    subject: ca_name.clone(),
                    public_key: ca_key.public_key().clone(),
                    role: Role::Ca,
                    hosts: vec![],
                    not_before: now,
                    not_after: now + Duration::from_secs(86400),
                    path_len: None,
                },
                &random_serial().unwrap(),
                Issuer {
                    name: &ca_name,
                    key: &ca_key,
                    key_id: Some(&ca_kid),
                },
            )
            .unwrap();
            assert!(ca.is_ca());
            assert!(ca.is_self_issued());
            assert_eq!(ca.role(), Some(Role::Ca));
            ca.verify_signed_by(ca_key.public_key()).unwrap();

            let node_key = PrivateKey::generate(alg).unwrap();
            let node = issue_certificate(
                &CertificateSpec {
                    subject: subject_name("Org1", Role::Node, "node1").unwrap(),
                    public_key: node_key.public_key().clone(),
                    role: Role::Node,
                    hosts: vec!["node1.org1".parse().unwrap(), "127.0.0.1".parse().unwrap()],
                    not_before: now,
                    not_after: now + Duration::from_secs(3600),
                    path_len: None,
                },
                &random_serial().unwrap(),
                Issuer {
                    name: ca.subject(),
                    key: &ca_key,
                    key_id: ca.subject_key_id().as_deref(),
                },
            )
            .unwrap();
            assert!(!node.is_ca());
            assert_eq!(node.role(), Some(Role::Node));
            assert_eq!(node.organization().as_deref(), Some("Org1"));
            assert_eq!(node.common_name().as_deref(), Some("node1"));
            assert_eq!(
                node.hosts(),
                vec!["node1.org1".to_string(), "127.0.0.1".to_string()]
            );
            assert_eq!(node.issuer(), ca.subject());
            assert_eq!(&node.public_key().unwrap(), node_key.public_key());
            node.verify_signed_by(ca_key.public_key()).unwrap();
            assert!(node.verify_signed_by(node_key.public_key()).is_err());
            let eku = node.extended_key_usage().unwrap();
            assert!(eku.contains(&EKU_SERVER_AUTH) && eku.contains(&EKU_CLIENT_AUTH));
        }
    }
}
