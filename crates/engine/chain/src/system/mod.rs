//! System contracts: native Rust, called like any contract, governed by the chain's policies.
//!
//! | contract | methods |
//! |---|---|
//! | `sys.config` | `get`, `update` (policy `config.update`) |
//! | `sys.certs` | `register`, `get`, `freeze`/`unfreeze` (`certs.freeze`), `revoke`/`submit_crl` (`certs.revoke`), `list` |
//! | `sys.contracts` | `install` (`contracts.install`), `upgrade` (`contracts.upgrade`), `freeze`/`unfreeze` (`contracts.freeze`), `revoke` (`contracts.revoke`), `get`, `list` |
//! | `sys.governance` | `list`: the record of every governed action applied |
//!
//! A governed method succeeds only if the signatures on the transaction (sender and
//! endorsements) meet the resource's policy; each success leaves a governance record.

pub mod certs;
pub mod config;
pub mod contracts;
pub mod governance;

use std::sync::Arc;

use covenant_types::{names, policy};
use covenant_vm::Vm;
use serde::de::DeserializeOwned;

use crate::{
    error::result_code,
    host::TxHost,
    identity::{Identity, Membership},
};

/// Name of the governance record contract.
pub const SYS_GOVERNANCE: &str = "sys.governance";

/// Gas a system call costs: a base plus a price per argument byte.
pub fn gas_of(args: &[u8]) -> u64 {
    10_000 + 10 * args.len() as u64
}

/// A failed system call: a result code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysError {
    pub code: &'static str,
    pub message: String,
}

impl SysError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        SysError {
            code,
            message: message.into(),
        }
    }

    pub fn args(message: impl Into<String>) -> Self {
        Self::new(result_code::INVALID_ARGS, message)
    }

    pub fn state(message: impl Into<String>) -> Self {
        Self::new(result_code::STATE_ERROR, message)
    }
}

/// What a system call can see.
pub struct SysCtx<'a> {
    pub host: &'a mut TxHost,
    pub membership: &'a Membership,
    /// Everyone who validly signed the transaction, sender first.
    pub signers: &'a [Arc<Identity>],
    pub vm: &'a Vm,
    pub contract: &'a str,
    pub method: &'a str,
    pub args: &'a [u8],
    /// Read-only query: governed methods refuse.
    pub query: bool,
}

impl SysCtx<'_> {
    /// Decode the JSON arguments.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, SysError> {
        let args = if self.args.is_empty() {
            &b"{}"[..]
        } else {
            self.args
        };
        // serde_json's message (and serde's "missing field ...") is a dependency's text: it
        // goes to the log, and the result says what is wrong in Covenant's words.
        serde_json::from_slice(args).map_err(|e| {
            tracing::debug!(contract = self.contract, method = self.method, error = %e, "bad arguments");
            SysError::args(match e.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    "the arguments are not valid JSON".to_string()
                }
                _ => format!(
                    "the arguments are not the JSON object {}.{} takes (wrong or missing fields)",
                    self.contract, self.method
                ),
            })
        })
    }

    /// Require the resource's policy to be met by the signers; `owner` is the org owning the
    /// target (for the OWNER rule).
    pub fn require(&self, resource: &str, owner: Option<&str>) -> Result<(), SysError> {
        if self.query {
            return Err(SysError::new(
                result_code::METHOD_NOT_ALLOWED,
                "governed methods cannot run as queries",
            ));
        }
        let p = self.membership.policy(resource);
        let signers: Vec<policy::Signer> = self.signers.iter().map(|s| s.signer()).collect();
        let outcome = policy::evaluate(&p, &self.membership.org_ids(), owner, &signers)
            .map_err(|e| SysError::new(result_code::POLICY_NOT_MET, e.to_string()))?;
        if outcome.satisfied {
            Ok(())
        } else {
            Err(SysError::new(
                result_code::POLICY_NOT_MET,
                format!(
                    "{resource} needs {} under rule {} ({} of {} required orgs' {} signed)",
                    if p.rule.eq_ignore_ascii_case("OWNER") {
                        format!("an admin of {}", owner.unwrap_or("the owning org"))
                    } else {
                        "more signatures".into()
                    },
                    p.rule,
                    outcome.have,
                    outcome.need,
                    if p.roles.is_empty() {
                        "admins".to_string()
                    } else {
                        p.roles.join("/")
                    }
                ),
            ))
        }
    }

    /// Write a governance record for this (successful) call.
    pub fn record(&mut self, resource: &str, detail: serde_json::Value) {
        governance::record(self, resource, detail);
    }
}

/// Run a system contract method. Returns the JSON result.
pub fn call(ctx: &mut SysCtx<'_>) -> Result<Vec<u8>, SysError> {
    let out = match ctx.contract {
        names::SYS_CONFIG => config::call(ctx)?,
        names::SYS_CERTS => certs::call(ctx)?,
        names::SYS_CONTRACTS => contracts::call(ctx)?,
        SYS_GOVERNANCE => governance::call(ctx)?,
        other => {
            return Err(SysError::new(
                result_code::CONTRACT_NOT_FOUND,
                format!("no system contract named {other:?}"),
            ));
        }
    };
    Ok(out.to_string().into_bytes())
}

/// Whether `name` is one of the system contracts.
pub fn exists(name: &str) -> bool {
    matches!(
        name,
        names::SYS_CONFIG | names::SYS_CERTS | names::SYS_CONTRACTS | SYS_GOVERNANCE
    )
}

pub(crate) fn unknown_method(ctx: &SysCtx<'_>) -> SysError {
    SysError::new(
        result_code::UNKNOWN_METHOD,
        format!("{} has no method {:?}", ctx.contract, ctx.method),
    )
}

/// A certificate given as PEM or base64 DER.
pub(crate) fn cert_from_text(
    text: &str,
    what: &str,
) -> Result<covenant_pki::Certificate, SysError> {
    use base64::Engine as _;
    let t = text.trim();
    if t.contains("-----BEGIN") {
        return covenant_pki::Certificate::from_pem(t, what)
            .map_err(|e| SysError::args(crate::error::pki_problem(what, &e)));
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(t)
        .map_err(|_| SysError::args(format!("{what} is neither PEM nor base64 DER")))?;
    covenant_pki::Certificate::from_der(der, what)
        .map_err(|e| SysError::args(crate::error::pki_problem(what, &e)))
}
