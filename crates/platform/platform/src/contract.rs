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

/// One proposed version of a contract: its code's hash, who proposed it, the votes, and what
/// became of it.
#[derive(Debug, Clone, Serialize)]
pub struct VersionView {
    pub proposal_id: String,
    /// `contract.install` or `contract.upgrade`.
    pub kind: String,
    pub version: Option<String>,
    pub code_sha256: Option<String>,
    pub size: Option<usize>,
    pub proposer_org: String,
    pub proposer_account: String,
    /// The proposal's state: `executed` when the chain took it.
    pub state: String,
    pub votes: Vec<VoteSummary>,
    pub created_at: i64,
    pub executed_at: Option<i64>,
    pub tx_id: Option<String>,
    /// The height of the block that installed it.
    pub height: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VoteSummary {
    pub org_id: String,
    pub decision: String,
    pub offline: bool,
    pub certificate_fingerprint: String,
    pub created_at: i64,
}

/// Every version of contract `name` proposed on `chain`, oldest first, for a member of the
/// chain's consortium.
pub async fn versions(
    p: &crate::Platform,
    org_id: &str,
    chain: &str,
    name: &str,
) -> Result<Vec<VersionView>> {
    use sqlx::Row;
    crate::network::chain_for(p, org_id, chain).await?;
    let ids: Vec<String> = sqlx::query(
        "SELECT id FROM proposals WHERE chain_id = $1 AND kind IN ('contract.install', 'contract.upgrade') ORDER BY created_at, id",
    )
    .bind(chain)
    .fetch_all(p.db().pool())
    .await?
    .iter()
    .map(|r| r.try_get("id"))
    .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for id in ids {
        let v = crate::proposal::get(p, &id).await?;
        if v.params["name"] != name {
            continue;
        }
        let code = v.params["code"].as_str().and_then(unb64);
        out.push(VersionView {
            proposal_id: v.id,
            kind: v.kind,
            version: v.params["version"].as_str().map(str::to_string),
            code_sha256: code.as_deref().map(sha256_hex),
            size: code.as_ref().map(Vec::len),
            proposer_org: v.proposer_org,
            proposer_account: v.proposer_account,
            state: v.state,
            votes: v
                .votes
                .into_iter()
                .map(|x| VoteSummary {
                    org_id: x.org_id,
                    decision: x.decision,
                    offline: x.offline,
                    certificate_fingerprint: x.certificate_fingerprint,
                    created_at: x.created_at,
                })
                .collect(),
            created_at: v.created_at,
            executed_at: v.executed_at,
            tx_id: v.tx_id,
            height: v.outcome.as_ref().and_then(|o| o["height"].as_u64()),
        });
    }
    Ok(out)
}
