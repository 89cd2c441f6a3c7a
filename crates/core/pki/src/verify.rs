//! Chain validation against trust roots and CRLs, with a typed reason on rejection.

use std::time::SystemTime;

use serde::Serialize;
use thiserror::Error;

use crate::{Certificate, Crl, PkiError, Role, asn1::format_time, cert::SignatureProblem};

/// Why a certificate was not accepted. [`reason`](Rejection::reason) is a stable code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Rejection {
    #[error("no trusted issuer {issuer:?} found for {subject:?}")]
    UnknownIssuer { subject: String, issuer: String },
    #[error("the signature on {subject:?} does not verify: {detail}")]
    BadSignature { subject: String, detail: String },
    #[error("{subject:?} expired at {not_after}")]
    Expired { subject: String, not_after: String },
    #[error("{subject:?} is not valid before {not_before}")]
    NotYetValid { subject: String, not_before: String },
    #[error("{subject:?} (serial {serial}) was revoked at {revoked_at}")]
    Revoked {
        subject: String,
        serial: String,
        revoked_at: String,
    },
    #[error("{subject:?} has role {} but {expected} is required", found.map(|r| r.name()).unwrap_or("none"))]
    WrongRole {
        subject: String,
        expected: Role,
        found: Option<Role>,
    },
    #[error("{subject:?} issued a certificate but is not a CA")]
    NotACa { subject: String },
    #[error("{subject:?} uses an unsupported algorithm: {detail}")]
    UnsupportedAlgorithm { subject: String, detail: String },
    #[error("the chain is longer than {limit} certificates or violates a path length constraint")]
    PathTooLong { limit: usize },
}

impl Rejection {
    /// Stable reason code.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::UnknownIssuer { .. } => "unknown_issuer",
            Rejection::BadSignature { .. } => "bad_signature",
            Rejection::Expired { .. } => "expired",
            Rejection::NotYetValid { .. } => "not_yet_valid",
            Rejection::Revoked { .. } => "revoked",
            Rejection::WrongRole { .. } => "wrong_role",
            Rejection::NotACa { .. } => "not_a_ca",
            Rejection::UnsupportedAlgorithm { .. } => "unsupported_algorithm",
            Rejection::PathTooLong { .. } => "path_too_long",
        }
    }
}

/// Options of one validation.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The time at which the chain must be valid.
    pub at: SystemTime,
    /// The role the leaf must carry, if any.
    pub role: Option<Role>,
    /// Longest chain accepted, leaf and trust root included.
    pub max_depth: usize,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            at: SystemTime::now(),
            role: None,
            max_depth: 8,
        }
    }
}

/// A validated chain, leaf first, trust root last.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedChain {
    #[serde(skip)]
    pub certificates: Vec<Certificate>,
    /// The leaf's role, read from its certificate.
    pub role: Option<Role>,
}

/// Trust roots and the CRLs that go with them.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    anchors: Vec<Certificate>,
    crls: Vec<Crl>,
}

impl TrustStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trust `cert` as a root. Duplicates are ignored.
    pub fn add_anchor(&mut self, cert: Certificate) {
        if !self.anchors.contains(&cert) {
            self.anchors.push(cert);
        }
    }

    /// Consult `crl` when validating.
    pub fn add_crl(&mut self, crl: Crl) {
        self.crls.push(crl);
    }

    /// The trust roots.
    pub fn anchors(&self) -> &[Certificate] {
        &self.anchors
    }

    /// Check that every CRL was signed by a CA among the roots or `intermediates`, so a
    /// forged or foreign list is an error rather than silently ignored.
    pub fn check_crls(&self, intermediates: &[Certificate]) -> Result<(), PkiError> {
        for crl in &self.crls {
            let signed = self
                .anchors
                .iter()
                .chain(intermediates)
                .any(|ca| crl.verify_signed_by(ca).is_ok());
            if !signed {
                return Err(PkiError::CrlUntrusted {
                    issuer: crl.issuer().to_string(),
                });
            }
        }
        Ok(())
    }

    fn is_anchor(&self, cert: &Certificate) -> bool {
        self.anchors.contains(cert)
    }

    /// Build and check the chain from `leaf` through `intermediates` to a trust root.
    ///
    /// Checks, in order: the path (each issuer found by name and verified by signature, each
    /// intermediate a CA), validity periods at `options.at`, revocation by the CRLs of each
    /// issuer, path length constraints, and the leaf's role.
    pub fn verify(
        &self,
        leaf: &Certificate,
        intermediates: &[Certificate],
        options: &VerifyOptions,
    ) -> Result<VerifiedChain, Rejection> {
        let chain = self.build_path(leaf, intermediates, options.max_depth)?;

        for cert in &chain {
            if options.at < cert.not_before() {
                return Err(Rejection::NotYetValid {
                    subject: cert.subject_string(),
                    not_before: format_time(cert.not_before()),
                });
            }
            if options.at > cert.not_after() {
                return Err(Rejection::Expired {
                    subject: cert.subject_string(),
                    not_after: format_time(cert.not_after()),
                });
            }
        }

        for pair in chain.windows(2) {
            let (cert, issuer) = (&pair[0], &pair[1]);
            for crl in self.crls.iter().filter(|c| c.issuer() == cert.issuer()) {
                if crl.verify_signed_by(issuer).is_err() {
                    continue;
                }
                if let Some(at) = crl.revocation_of(cert.serial_bytes()) {
                    return Err(Rejection::Revoked {
                        subject: cert.subject_string(),
                        serial: cert.serial_hex(),
                        revoked_at: format_time(at),
                    });
                }
            }
        }

        // Path length: a CA with pathLen n may have at most n CAs below it (excluding the leaf).
        for (i, ca) in chain.iter().enumerate().skip(1) {
            let cas_below = i - 1;
            if let Some(limit) = ca.basic_constraints().and_then(|bc| bc.path_len_constraint)
                && cas_below > limit as usize
            {
                return Err(Rejection::PathTooLong {
                    limit: options.max_depth,
                });
            }
        }

        let role = leaf.role();
        if let Some(expected) = options.role
            && role != Some(expected)
        {
            return Err(Rejection::WrongRole {
                subject: leaf.subject_string(),
                expected,
                found: role,
            });
        }
        Ok(VerifiedChain {
            certificates: chain,
            role,
        })
    }

    fn build_path(
        &self,
        leaf: &Certificate,
        intermediates: &[Certificate],
        max_depth: usize,
    ) -> Result<Vec<Certificate>, Rejection> {
        let mut chain = vec![leaf.clone()];
        let mut current = leaf.clone();
        while !self.is_anchor(&current) {
            if chain.len() >= max_depth {
                return Err(Rejection::PathTooLong { limit: max_depth });
            }
            let candidates: Vec<&Certificate> = self
                .anchors
                .iter()
                .chain(intermediates.iter().filter(|c| **c != current))
                .filter(|c| c.subject() == current.issuer())
                .collect();
            if candidates.is_empty() {
                return Err(Rejection::UnknownIssuer {
                    subject: current.subject_string(),
                    issuer: current.issuer_string(),
                });
            }
            let mut problem = None;
            let mut found = None;
            for cand in candidates {
                let key = match cand.public_key() {
                    Ok(k) => k,
                    Err(e) => {
                        problem = Some(SignatureProblem::Unsupported(e.to_string()));
                        continue;
                    }
                };
                match current.verify_signed_by(&key) {
                    Ok(()) => {
                        found = Some(cand.clone());
                        break;
                    }
                    Err(p) => problem = Some(p),
                }
            }
            let Some(issuer) = found else {
                return Err(match problem {
                    Some(SignatureProblem::Unsupported(detail)) => {
                        Rejection::UnsupportedAlgorithm {
                            subject: current.subject_string(),
                            detail,
                        }
                    }
                    Some(p) => Rejection::BadSignature {
                        subject: current.subject_string(),
                        detail: p.to_string(),
                    },
                    None => Rejection::UnknownIssuer {
                        subject: current.subject_string(),
                        issuer: current.issuer_string(),
                    },
                });
            };
            // Intermediates must be CAs. A trust root is trusted as given, but one that says
            // outright it is not a CA (basic constraints with cA false) cannot issue.
            let anchor = self.is_anchor(&issuer);
            let allowed = if anchor {
                issuer.basic_constraints().is_none_or(|bc| bc.ca)
            } else {
                issuer.is_ca()
            };
            if !allowed {
                return Err(Rejection::NotACa {
                    subject: issuer.subject_string(),
                });
            }
            if chain.contains(&issuer) {
                // A loop among intermediates.
                return Err(Rejection::PathTooLong { limit: max_depth });
            }
            chain.push(issuer.clone());
            current = issuer;
        }
        Ok(chain)
    }
}

/// Check that `cert` can serve as a trust root at `now`: a supported key, a CA (or a v1
/// certificate without basic constraints), a valid self-signature if self-issued, and a
/// validity period that includes `now`.
pub fn check_trust_root(cert: &Certificate, now: SystemTime) -> Result<(), PkiError> {
    let fail = |detail: String| PkiError::NotATrustRoot {
        subject: cert.subject_string(),
        detail,
    };
    let key = cert
        .public_key()
        .map_err(|e| fail(format!("its key cannot be used: {e}")))?;
    if cert.basic_constraints().is_some_and(|bc| !bc.ca) {
        return Err(fail("it is not a CA certificate".into()));
    }
    if cert.is_self_issued() {
        cert.verify_signed_by(&key)
            .map_err(|p| fail(format!("its self-signature is bad: {p}")))?;
    }
    if !cert.valid_at(now) {
        return Err(fail(format!(
            "it is valid only from {} to {}",
            format_time(cert.not_before()),
            format_time(cert.not_after())
        )));
    }
    Ok(())
}
