//! A node's identity on the network, and the proof of it inside a TLS session.

use std::{fmt, time::Duration};

use covenant_crypto::{HashAlgorithm, KeyAlgorithm, PrivateKey};
use covenant_pki::{
    Certificate, CertificateSpec, Issuer, Role, issue_certificate, random_serial, subject_name,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::NetError;

/// The exporter label that binds a node identity to a TLS session.
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-covenant-peer-identity";
/// The domain of the identity signature.
pub const HELLO_DOMAIN: &[u8] = b"covenant/net/hello/v1";
/// Role byte of the side that dialled.
pub const ROLE_DIALER: u8 = 1;
/// Role byte of the side that accepted.
pub const ROLE_ACCEPTOR: u8 = 2;

/// A peer on the network: the SHA-256 of its node certificate (DER). Chains name nodes by
/// their own suite's hash; this id is the transport's, the same whatever the suite.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub [u8; 32]);

impl PeerId {
    /// The id of the node holding `certificate` (DER).
    pub fn of(certificate: &[u8]) -> Self {
        PeerId(HashAlgorithm::Sha256.digest(certificate).0)
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex()[..16])
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({self})")
    }
}

/// This node's identity: its node certificate and key, and what it shows in TLS handshakes.
pub struct NodeIdentity {
    certificate: Certificate,
    key: PrivateKey,
    id: PeerId,
    pub(crate) tls_chain: Vec<CertificateDer<'static>>,
    pub(crate) tls_key: PrivatePkcs8KeyDer<'static>,
    /// Whether the TLS certificate is an ephemeral stand-in (sm nodes).
    ephemeral: bool,
}

impl fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeIdentity")
            .field("id", &self.id)
            .field("subject", &self.certificate.subject_string())
            .field("ephemeral_tls_certificate", &self.ephemeral)
            .finish()
    }
}

impl NodeIdentity {
    /// The identity of the node holding `key`, whose certificate is `certificate`.
    pub fn new(certificate: Certificate, key: PrivateKey) -> Result<Self, NetError> {
        let cert_key = certificate
            .public_key()
            .map_err(|e| NetError::Config(format!("node certificate: {e}")))?;
        if &cert_key != key.public_key() {
            return Err(NetError::Config(
                "the node key does not belong to the node certificate".into(),
            ));
        }
        let (tls_chain, tls_key, ephemeral) = match key.algorithm() {
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::Ed25519 => {
                let der = key
                    .to_pkcs8_der()
                    .map_err(|e| NetError::Config(format!("node key: {e}")))?;
                (
                    vec![CertificateDer::from(certificate.der().to_vec())],
                    PrivatePkcs8KeyDer::from(der.to_vec()),
                    false,
                )
            }
            KeyAlgorithm::Sm2 => {
                let (cert, key) = ephemeral_tls_certificate(&certificate)?;
                (vec![cert], key, true)
            }
        };
        Ok(NodeIdentity {
            id: PeerId::of(certificate.der()),
            certificate,
            key,
            tls_chain,
            tls_key,
            ephemeral,
        })
    }

    pub fn id(&self) -> PeerId {
        self.id
    }

    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// Whether TLS handshakes use an ephemeral certificate (the node identity is proven in
    /// the session instead).
    pub fn ephemeral_tls(&self) -> bool {
        self.ephemeral
    }

    pub(crate) fn tls_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.tls_key.clone_key())
    }

    /// Sign the identity proof for a session whose exporter value is `exporter`, in `role`.
    pub fn sign_hello(&self, role: u8, exporter: &[u8]) -> Result<Vec<u8>, NetError> {
        self.key
            .sign(&hello_message(role, exporter))
            .map_err(|e| NetError::Handshake(format!("cannot sign: {e}")))
    }
}

/// The bytes an identity proof signs.
pub fn hello_message(role: u8, exporter: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(HELLO_DOMAIN.len() + 1 + exporter.len());
    m.extend_from_slice(HELLO_DOMAIN);
    m.push(role);
    m.extend_from_slice(exporter);
    m
}

/// Check a peer's identity proof: `certificate` (DER) must hold the key that made
/// `signature` over this session's `exporter` in `role`. Returns the parsed certificate.
pub fn verify_hello(
    certificate: &[u8],
    role: u8,
    exporter: &[u8],
    signature: &[u8],
) -> Result<Certificate, NetError> {
    let cert = Certificate::from_der(certificate.to_vec(), "peer certificate")
        .map_err(|e| NetError::Handshake(e.to_string()))?;
    let key = cert
        .public_key()
        .map_err(|e| NetError::Handshake(e.to_string()))?;
    key.verify(&hello_message(role, exporter), signature)
        .map_err(|_| NetError::Handshake("the identity signature does not verify".into()))?;
    Ok(cert)
}

/// A self-signed P-256 certificate for TLS handshakes of a node whose own key TLS cannot use.
/// It names the node (same organisation and common name) for diagnostics only: peers trust
/// the in-session proof, never this certificate.
fn ephemeral_tls_certificate(
    node: &Certificate,
) -> Result<(CertificateDer<'static>, PrivatePkcs8KeyDer<'static>), NetError> {
    let err =
        |e: covenant_pki::PkiError| NetError::Config(format!("ephemeral TLS certificate: {e}"));
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256)
        .map_err(|e| NetError::Config(format!("ephemeral TLS key: {e}")))?;
    let org = node.organization().unwrap_or_else(|| "covenant".into());
    let cn = node.common_name().unwrap_or_else(|| "node".into());
    let subject = subject_name(&org, Role::Node, &format!("{cn}-tls")).map_err(err)?;
    let now = std::time::SystemTime::now();
    let spec = CertificateSpec {
        subject: subject.clone(),
        public_key: key.public_key().clone(),
        role: Role::Node,
        hosts: vec![],
        not_before: now - Duration::from_secs(3600),
        not_after: now + Duration::from_secs(3650 * 86_400),
        path_len: None,
    };
    let serial = random_serial().map_err(err)?;
    let cert = issue_certificate(
        &spec,
        &serial,
        Issuer {
            name: &subject,
            key: &key,
            key_id: None,
        },
    )
    .map_err(err)?;
    let der = key
        .to_pkcs8_der()
        .map_err(|e| NetError::Config(format!("ephemeral TLS key: {e}")))?;
    Ok((
        CertificateDer::from(cert.der().to_vec()),
        PrivatePkcs8KeyDer::from(der.to_vec()),
    ))
}

/// A peer's readable name, `org/common name` from its node certificate (`unknown` when the
/// certificate names neither): for log lines that also give its [`PeerId`].
pub fn peer_name(certificate: &[u8]) -> String {
    match covenant_pki::Certificate::from_der(certificate.to_vec(), "peer certificate") {
        Ok(c) => match (c.organization(), c.common_name()) {
            (Some(o), Some(cn)) => format!("{o}/{cn}"),
            (None, Some(cn)) => cn,
            (Some(o), None) => o,
            (None, None) => "unknown".into(),
        },
        Err(_) => "unknown".into(),
    }
}
