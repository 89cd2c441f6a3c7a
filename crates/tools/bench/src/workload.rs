//! What a benchmark sends: the workloads, the client identities that sign them, and the
//! transactions, all signed before the clock starts.

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use covenant_crypto::{KeyAlgorithm, Suite};
use covenant_pki::{CertificateAuthority, Role, authority::IssueOptions};
use covenant_sdk::{Profile, Signer};
use covenant_types::tx::{TxBuilder, tx_id};
use prost::Message as _;
use serde_json::{Value, json};

use crate::{BenchError, Result};

/// The workloads of `covenant bench run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Token transfers between many accounts (`token.transfer`, 1 unit each).
    Transfer,
    /// Key-value puts, each to a new key (`kv.put`).
    Kv,
    /// Evidence records: a document hash with metadata (`evidence.put`).
    Evidence,
    /// Every transaction writes the same key (`kv.put` on one key): all conflict.
    Hotkey,
    /// Read-only queries (`kv.get`), answered by the node without a transaction.
    Query,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Transfer => "transfer",
            Workload::Kv => "kv",
            Workload::Evidence => "evidence",
            Workload::Hotkey => "hotkey",
            Workload::Query => "query",
        }
    }

    /// The contract the workload calls.
    pub fn contract(self) -> &'static str {
        match self {
            Workload::Transfer => "token",
            Workload::Kv | Workload::Hotkey | Workload::Query => "kv",
            Workload::Evidence => "evidence",
        }
    }
}

/// A signed transaction and its id (hex hash of its payload).
#[derive(Debug, Clone)]
pub struct SignedTx {
    pub id: String,
    pub bytes: Vec<u8>,
}

/// Sign `builder`'s payload as `signer`.
pub fn sign(suite: Suite, signer: &Signer, builder: TxBuilder) -> Result<SignedTx> {
    let payload = builder.build()?;
    let id = tx_id(suite, &payload).to_hex();
    let tx = signer
        .sign_payload(payload)
        .map_err(|e| BenchError::new("SIGNING_FAILED", e))?;
    Ok(SignedTx {
        id,
        bytes: tx.encode_to_vec(),
    })
}

/// Makes the transactions of a workload. Keys carry the run's tag so that runs never collide.
pub struct Generator {
    pub workload: Workload,
    pub chain: String,
    pub suite: Suite,
    pub tag: String,
    /// Token accounts of the clients (transfer).
    pub accounts: Vec<String>,
}

impl Generator {
    /// The call of transaction `seq`, sent by client `client`.
    pub fn call(&self, client: usize, seq: u64) -> (&'static str, &'static str, Value) {
        match self.workload {
            Workload::Transfer => {
                let n = self.accounts.len();
                // Pay someone else: the payee rotates so that blocks mix many accounts.
                let to = if n > 1 {
                    (client + 1 + (seq as usize % (n - 1))) % n
                } else {
                    client
                };
                (
                    "token",
                    "transfer",
                    json!({"to": self.accounts[to], "amount": 1}),
                )
            }
            Workload::Kv => (
                "kv",
                "put",
                json!({"key": format!("bench/{}/{seq}", self.tag), "value": format!("value-{seq:016}")}),
            ),
            Workload::Hotkey => (
                "kv",
                "put",
                json!({"key": "bench/hot", "value": format!("{}-{seq}", self.tag)}),
            ),
            Workload::Evidence => {
                let hash = self
                    .suite
                    .hash(format!("{}/{seq}", self.tag).as_bytes())
                    .to_hex();
                (
                    "evidence",
                    "put",
                    json!({"hash": hash, "meta": format!("bench {} document {seq}", self.tag)}),
                )
            }
            Workload::Query => (
                "kv",
                "get",
                json!({"key": format!("bench/query/{}", seq % QUERY_KEYS)}),
            ),
        }
    }

    /// Sign transactions `first..first + count`, spread over the signers in rotation, on every
    /// core.
    pub fn sign_range(
        &self,
        signers: &[Signer],
        first: u64,
        count: usize,
    ) -> Result<Vec<SignedTx>> {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 8);
        let per = count.div_ceil(threads).max(1);
        let parts: Vec<Result<Vec<SignedTx>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    scope.spawn(move || {
                        let lo = (t * per).min(count);
                        let hi = ((t + 1) * per).min(count);
                        (lo..hi)
                            .map(|k| {
                                let seq = first + k as u64;
                                let client = (seq as usize) % signers.len();
                                let (contract, method, args) = self.call(client, seq);
                                sign(
                                    self.suite,
                                    &signers[client],
                                    TxBuilder::new(&self.chain, contract, method).args_json(&args),
                                )
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(BenchError::Internal("a signing thread failed".into()))
                    })
                })
                .collect()
        });
        let mut all = Vec::with_capacity(count);
        for p in parts {
            all.extend(p?);
        }
        Ok(all)
    }
}

/// Keys the query workload reads (written during its setup).
pub const QUERY_KEYS: u64 = 100;

/// The CA directories behind the profile's identities (`…/ca/identities/NAME/cert.pem`).
fn ca_dirs(profile: &Profile) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for files in profile.identities.values() {
        let cert = profile.resolve(&files.cert);
        if let Some(dir) = cert.parent().and_then(Path::parent).and_then(Path::parent)
            && dir.join("ca.json").is_file()
            && !dirs.iter().any(|d| d == dir)
        {
            dirs.push(dir.to_path_buf());
        }
    }
    dirs.sort();
    dirs
}

/// `count` client identities for the benchmark, issued by the orgs' CAs in rotation and kept
/// under each CA's `identities/` so that later runs reuse them.
pub fn client_identities(
    profile: &Profile,
    algorithm: KeyAlgorithm,
    count: usize,
    progress: &dyn Fn(String),
) -> Result<Vec<Signer>> {
    let dirs = ca_dirs(profile);
    if dirs.is_empty() {
        return Err(BenchError::new(
            "NO_CA",
            "bench run issues its client identities from the orgs' CAs, and none was found beside \
the profile's identities (a profile written by covenant up or covenant node init has them)",
        ));
    }
    let mut cas = Vec::new();
    for d in &dirs {
        cas.push(CertificateAuthority::open(d).map_err(|e| {
            BenchError::new(
                "CA_UNAVAILABLE",
                format!("cannot open the CA in {}: {e}", d.display()),
            )
        })?);
    }
    let mut signers = Vec::with_capacity(count);
    let mut issued = 0;
    for i in 0..count {
        let k = i % cas.len();
        let name = format!("bench-{}-{}", algorithm.name(), i / cas.len());
        let dir = dirs[k].join("identities").join(&name);
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        if !(cert.is_file() && key.is_file()) {
            cas[k]
                .issue(&IssueOptions {
                    role: Role::Client,
                    name: name.clone(),
                    hosts: vec![],
                    days: 3650,
                    key_algorithm: Some(algorithm),
                    out: None,
                    force: true,
                })
                .map_err(|e| {
                    BenchError::new(
                        "IDENTITY_ISSUE_FAILED",
                        format!("cannot issue {name} in {}: {e}", dirs[k].display()),
                    )
                })?;
            issued += 1;
        }
        signers.push(
            Signer::load(&cert, &key).map_err(|e| {
                BenchError::new("IDENTITY_INVALID", format!("{}: {e}", dir.display()))
            })?,
        );
    }
    progress(format!(
        "{count} client identities ({}) from {} org CA(s), {issued} newly issued",
        algorithm.name(),
        cas.len()
    ));
    Ok(signers)
}
