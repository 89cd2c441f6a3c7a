//! Covenant's consortium PKI.
//!
//! Every org runs its own certificate authority. The CA issues certificates for three roles
//! (`admin`, `client`, `node`); the role travels in the subject's `OU` and the verifier reads it
//! back. A node certificate both signs (blocks, votes) and authenticates TLS, so it carries the
//! node's host names. Members can keep their private keys by sending a CSR instead. Revocation
//! goes out as signed CRLs, and [`TrustStore::verify`] checks a chain against trust roots, CRLs
//! and the validity period, answering with a typed [`Rejection`] when it fails.
//!
//! Both suites work end to end: SM2 certificates carry `SM2-with-SM3` signatures as DER
//! `(r, s)`, the form OpenSSL 3 accepts.

#![forbid(unsafe_code)]

mod asn1;
pub mod authority;
mod cert;
mod crl;
mod csr;
mod error;
pub mod files;
mod issue;
mod role;
mod verify;

pub use asn1::{describe_name, format_time, parse_time};
pub use authority::CertificateAuthority;
pub use cert::{Certificate, SignatureProblem};
pub use crl::{Crl, RevocationReason, RevokedEntry};
pub use csr::Csr;
pub use error::{PkiError, Result};
pub use issue::{
    CertificateSpec, EKU_CLIENT_AUTH, EKU_SERVER_AUTH, Host, Issuer, issue_certificate,
    key_identifier, random_serial, subject_name,
};
pub use role::Role;
pub use verify::{Rejection, TrustStore, VerifiedChain, VerifyOptions, check_trust_root};
