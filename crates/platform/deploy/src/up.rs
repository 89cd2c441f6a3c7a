//! Bring a consortium up: create it (or resume it), start its nodes, wait until every chain
//! commits, and install the example contracts. What `covenant up` does, and what the
//! platform does for a consortium it deploys on this machine.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use covenant_api_types::json::{SubmitResponse, b64_encode};
use covenant_sdk::{Client, Profile};
use covenant_types::{Transaction, tx::TxBuilder};
use prost::Message;
use serde_json::json;

use crate::{
    DeployError,
    consortium::{Consortium, Plan, Started},
    contract_build,
    driver::{Driver, Progress},
    local::runtime,
};

/// The example contracts installed when their sources are given.
pub const EXAMPLES: [&str; 3] = ["kv", "token", "evidence"];

/// What to bring up.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// The consortium to create if none exists yet.
    pub plan: Plan,
    /// A directory holding the example contract crates, to build and install.
    pub contracts: Option<PathBuf>,
    /// How long the nodes and the first commits may take.
    pub timeout: Duration,
}

/// What [`up`] did.
#[derive(Debug, Clone)]
pub struct UpReport {
    pub consortium: Consortium,
    /// An existing consortium was resumed (not created).
    pub resumed: bool,
    pub started: Started,
    /// The first chain's height at the end.
    pub height: u64,
    /// Contracts installed now, with the height of their install.
    pub installed: Vec<(String, u64)>,
}

/// Bring the consortium of `driver` up. If anything fails once nodes were started, the nodes
/// this call started are stopped again.
pub fn up(
    driver: &dyn Driver,
    options: &UpOptions,
    progress: Progress<'_>,
) -> Result<UpReport, DeployError> {
    let deadline = Instant::now() + options.timeout;
    let resumed = driver.exists();
    let consortium = if resumed {
        let c = driver.load()?;
        progress(&format!(
            "Resuming consortium {} in {} ({} consensus, {} suite, {} nodes)",
            c.chain,
            driver.location(),
            c.consensus,
            c.suite,
            c.nodes.len()
        ));
        c
    } else {
        driver.create(&options.plan, progress)?
    };
    // Contracts are built before any node starts: a build that fails (no toolchain, a
    // compile error) leaves no process behind.
    let mut wasm = Vec::new();
    if let Some(dir) = &options.contracts {
        for name in EXAMPLES {
            progress(&format!(
                "Building contract {name} (the first build takes a while)…"
            ));
            let path = contract_build::build(&dir.join(name), None)?;
            let code = std::fs::read(&path).map_err(DeployError::io(&path))?;
            wasm.push((name, code));
        }
    }
    progress("Starting nodes…");
    let started = driver.start(&consortium, deadline, progress)?;
    match settle(driver, &consortium, &wasm, deadline, progress) {
        Ok((height, installed)) => Ok(UpReport {
            consortium,
            resumed,
            started,
            height,
            installed,
        }),
        Err(e) => {
            progress("Stopping the nodes this run started…");
            driver.stop(
                &consortium,
                Some(&started.started),
                Duration::from_secs(20),
                progress,
            );
            Err(e)
        }
    }
}

/// Wait until every chain commits, then install the contracts not yet installed.
fn settle(
    driver: &dyn Driver,
    c: &Consortium,
    wasm: &[(&str, Vec<u8>)],
    deadline: Instant,
    progress: Progress<'_>,
) -> Result<(u64, Vec<(String, u64)>), DeployError> {
    let profile = driver.profile(c)?;
    let rt = runtime()?;
    progress("Waiting for the chain to commit…");
    // A real transaction proves the nodes agree: register the admin's certificate
    // (idempotent; later transactions can then name it by hash).
    let admin_cert = profile
        .identities
        .get("admin")
        .map(|f| profile.resolve(&f.cert))
        .ok_or_else(|| DeployError::Other("the profile has no admin identity".into()))?;
    let pem = std::fs::read_to_string(&admin_cert).map_err(DeployError::io(&admin_cert))?;
    for chain in &c.chains {
        let r = commit(
            &rt,
            &profile,
            chain,
            || TxBuilder::new(chain, "sys.certs", "register").args_json(&json!({"cert": pem})),
            deadline,
        )?;
        progress(&format!(
            "  {chain} committed at height {}",
            r.height.unwrap_or_default()
        ));
    }
    let chain_id = c.chain.clone();
    let client = Client::new(&profile.endpoint, &chain_id)?;
    let deployed = rt.block_on(client.contracts()).unwrap_or_default();
    let mut installed = Vec::new();
    for (name, code) in wasm {
        let exists = deployed
            .as_array()
            .is_some_and(|l| l.iter().any(|k| k["name"] == *name));
        if exists {
            continue;
        }
        let code = b64_encode(code);
        let r = commit(
            &rt,
            &profile,
            &chain_id,
            || {
                TxBuilder::new(&chain_id, "sys.contracts", "install").args_json(
                    &json!({"name": name, "version": "1.0.0", "code": code, "methods": []}),
                )
            },
            deadline,
        )?;
        let height = r.height.unwrap_or_default();
        progress(&format!("  installed {name} at height {height}"));
        installed.push((name.to_string(), height));
    }
    let height = rt.block_on(client.info()).map(|i| i.height).unwrap_or(0);
    Ok((height, installed))
}

/// Submit a transaction as the profile's admin and wait for its commit, retrying while the
/// consensus nodes find each other.
fn commit(
    rt: &tokio::runtime::Runtime,
    profile: &Profile,
    chain: &str,
    builder: impl Fn() -> TxBuilder,
    deadline: Instant,
) -> Result<SubmitResponse, DeployError> {
    let signer = profile.signer(None)?;
    loop {
        let mut last = String::new();
        for endpoint in std::iter::once(&profile.endpoint).chain(&profile.endpoints) {
            let client = Client::new(endpoint, chain)?;
            let payload = builder().build()?;
            let tx: Transaction = signer
                .sign_payload(payload)
                .map_err(|e| DeployError::Other(format!("cannot sign: {e}")))?;
            match rt.block_on(client.submit(&tx.encode_to_vec(), true)) {
                Ok(r) if r.height.is_some() => return Ok(r),
                Ok(r) => last = format!("not committed: {}", r.status),
                Err(e) => last = e.to_string(),
            }
        }
        if Instant::now() > deadline {
            return Err(DeployError::Timeout(format!(
                "the chain did not commit in time ({last}); see the nodes' node.log"
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
