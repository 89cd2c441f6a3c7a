//! Contract checks before any vote: a module is inspected against every rule of the VM
//! (covenant-vm's `inspect`: it decodes, imports only the host API, no floating point, SIMD
//! or threads, memory and table limits, `memory` and `call` exported, no start function, and
//! the engine accepts it). A finding of severity `error` blocks proposing its install or
//! upgrade; the report lists every finding with where it is.

use serde::Serialize;

use crate::{
    error::{Error, Result},
    time::{sha256_hex, unb64},
};

/// One finding, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FindingView {
    /// `error` (blocks the proposal), `warning` or `info`.
    pub severity: &'static str,
    pub rule: &'static str,
    pub message: String,
    pub location: Option<String>,
}

/// What the checks found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// No finding of severity `error`.
    pub ok: bool,
    pub size: usize,
    pub sha256: String,
    pub functions: usize,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    pub findings: Vec<FindingView>,
}

/// Inspect a module.
pub fn check(code: &[u8]) -> Result<Report> {
    let vm = covenant_vm::Vm::new()
        .map_err(|e| Error::internal(format!("the contract VM does not start: {e}")))?;
    let i = vm.inspect(code);
    Ok(Report {
        ok: i.ok(),
        size: i.size,
        sha256: sha256_hex(code),
        functions: i.functions,
        imports: i.imports,
        exports: i.exports,
        findings: i
            .findings
            .into_iter()
            .map(|f| FindingView {
                severity: f.severity.name(),
                rule: f.rule,
                message: f.message,
                location: f.location,
            })
            .collect(),
    })
}

/// Decode a module sent as base64 (standard alphabet).
pub fn decode(code_b64: &str) -> Result<Vec<u8>> {
    unb64(code_b64)
        .filter(|b| !b.is_empty())
        .ok_or_else(|| Error::invalid("code is the WASM module in base64"))
}

/// Refuse a module with an error finding, saying every one of them.
pub fn require_clean(code: &[u8]) -> Result<Report> {
    let r = check(code)?;
    if r.ok {
        return Ok(r);
    }
    let errors: Vec<String> = r
        .findings
        .iter()
        .filter(|f| f.severity == "error")
        .map(|f| match &f.location {
            Some(at) => format!("{} ({at}): {}", f.rule, f.message),
            None => format!("{}: {}", f.rule, f.message),
        })
        .collect();
    Err(Error::invalid_as(
        "CONTRACT_CHECK_FAILED",
        format!(
            "the module has {} error finding{}; fix {} before proposing it: {}",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            if errors.len() == 1 { "it" } else { "them" },
            errors.join("; ")
        ),
    ))
}
