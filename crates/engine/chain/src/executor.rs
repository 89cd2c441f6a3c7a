//! Executing transactions: one at a time, a proposer's batch in parallel, or a validator's
//! block following its DAG.
//!
//! Semantics are those of executing the block's transactions one after another in order.
//! Parallelism never changes a result:
//!
//! - The proposer runs the batch in small chunks, each chunk's transactions in parallel over
//!   the block's writes so far, then walks the chunk in order: a transaction that read a key
//!   (or a range) written by an earlier one of its chunk runs again, serially. It then builds
//!   the canonical dependency DAG from the final read/write sets.
//! - A validator runs the block level by level of its DAG (a transaction's level is one more
//!   than its deepest dependency), each level in parallel, and accepts the block only if it
//!   reproduces the results, the read/write sets and the DAG exactly.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::Arc,
};

use covenant_storage::Version;
use covenant_types::{ContractInfo, Dag, DagNode, RwSet, TxResult, names, tx::DecodedTx};
use covenant_vm::{Call, Vm};
use prost::Message;
use rayon::prelude::*;

use crate::{
    TxError,
    error::result_code,
    host::{CodeCache, Effects, TxEnv, TxHost},
    identity::{Identity, Membership, time_of_ms},
    state::{Overlay, StateRead},
    system::{self, SysCtx, contracts as registry},
};

/// Where a block executes.
#[derive(Debug, Clone, Copy)]
pub struct BlockEnv {
    pub height: u64,
    pub time_ms: u64,
}

/// The result of one transaction and what it did to state.
#[derive(Debug, Clone)]
pub struct TxOutcome {
    pub result: TxResult,
    pub effects: Effects,
}

impl TxOutcome {
    /// Whether the transaction succeeded.
    pub fn ok(&self) -> bool {
        self.result.code == result_code::OK
    }
}

/// The execution of a whole block.
#[derive(Debug, Clone)]
pub struct BlockOutput {
    pub outcomes: Vec<TxOutcome>,
    pub dag: Dag,
}

impl BlockOutput {
    /// Whether this node failed to read its state while executing (see
    /// [`Effects::fault`](crate::host::Effects::fault)): such an output is not the block's.
    pub fn fault(&self) -> bool {
        self.outcomes.iter().any(|o| o.effects.fault)
    }
}

/// A read-only call.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    /// The identity the contract sees, if any.
    pub caller: Option<Arc<Identity>>,
    pub contract: &'a str,
    pub method: &'a str,
    pub args: &'a [u8],
}

/// Runs transactions. Cheap to clone; shareable across threads.
#[derive(Clone)]
pub struct Executor {
    vm: Vm,
    codes: Arc<CodeCache>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Executor")
    }
}

fn failed(
    tx_id: [u8; 32],
    code: &str,
    message: impl Into<String>,
    gas_used: u64,
    effects: Effects,
) -> TxOutcome {
    TxOutcome {
        result: TxResult {
            tx_id: tx_id.to_vec(),
            code: code.to_string(),
            message: message.into(),
            return_data: vec![],
            events: vec![],
            gas_used,
        },
        effects,
    }
}

/// Whether `who` may call `method` under the contract's method policies. Without a policy for
/// the method, clients and admins of every member org may.
pub fn method_allowed(info: &ContractInfo, method: &str, org: &str, role: &str) -> bool {
    match info.methods.iter().find(|m| m.method == method) {
        Some(p) => {
            (p.org_ids.is_empty() || p.org_ids.iter().any(|o| o == org))
                && if p.roles.is_empty() {
                    role == "client" || role == "admin"
                } else {
                    p.roles.iter().any(|r| r == role)
                }
        }
        None => role == "client" || role == "admin",
    }
}

impl Executor {
    /// An executor on `vm`.
    pub fn new(vm: Vm) -> Self {
        Executor {
            vm,
            codes: Arc::new(CodeCache::default()),
        }
    }

    /// The runtime.
    pub fn vm(&self) -> &Vm {
        &self.vm
    }

    /// The gas limit a transaction gets.
    fn gas_limit(membership: &Membership, requested: u64) -> u64 {
        let max = membership.config().max_gas_per_tx;
        if requested == 0 {
            max
        } else {
            requested.min(max)
        }
    }

    /// Execute one transaction whose signatures were already checked. Identities are resolved
    /// against `base` (the state at the start of the block); contract state is read through
    /// `view` (the block's writes so far over `base`).
    pub fn execute_tx(
        &self,
        membership: &Membership,
        view: Arc<dyn StateRead>,
        base: &dyn StateRead,
        env: BlockEnv,
        tx: &DecodedTx,
    ) -> TxOutcome {
        let tx_id = tx.id.0;
        let at = time_of_ms(env.time_ms);
        let mut signers: Vec<Arc<Identity>> = Vec::with_capacity(1 + tx.tx.endorsements.len());
        // A sender this node could not look up (its state read failed) is a fault, not an
        // invalid sender.
        let effects = |e: &TxError| Effects {
            fault: matches!(e, TxError::Internal(_)),
            ..Effects::default()
        };
        match membership.resolve(tx.tx.sender.as_ref(), base, at) {
            Ok(s) => signers.push(s),
            Err(e) => {
                return failed(
                    tx_id,
                    result_code::SENDER_INVALID,
                    e.result_message(),
                    0,
                    effects(&e),
                );
            }
        }
        for (i, e) in tx.tx.endorsements.iter().enumerate() {
            match membership.resolve(e.signer.as_ref(), base, at) {
                Ok(s) => signers.push(s),
                Err(err) => {
                    return failed(
                        tx_id,
                        result_code::SENDER_INVALID,
                        format!("endorsement {i}: {}", err.result_message()),
                        0,
                        effects(&err),
                    );
                }
            }
        }
        let p = &tx.payload;
        let window = membership.config().tx_expiry_window_ms;
        let expiry = if p.expiry_ms > 0 {
            p.expiry_ms
        } else {
            p.timestamp_ms.saturating_add(window)
        };
        if env.time_ms > expiry {
            return failed(
                tx_id,
                result_code::TX_EXPIRED,
                format!("expired at {expiry}, block time {}", env.time_ms),
                0,
                Effects::default(),
            );
        }
        let gas_limit = Self::gas_limit(membership, p.gas_limit);
        let host = TxHost::new(
            view,
            TxEnv {
                tx_id,
                height: env.height,
                time_ms: env.time_ms,
                sender: Some(signers[0].clone()),
            },
            self.codes.clone(),
        );
        self.run(
            membership,
            host,
            &signers,
            &p.contract,
            &p.method,
            &p.args,
            gas_limit,
            false,
        )
    }

    /// Run a read-only call against `view` (nothing is kept).
    pub fn query(
        &self,
        membership: &Membership,
        view: Arc<dyn StateRead>,
        env: BlockEnv,
        q: Query<'_>,
    ) -> TxOutcome {
        let Query {
            caller,
            contract,
            method,
            args,
        } = q;
        let signers: Vec<Arc<Identity>> = caller.iter().cloned().collect();
        let host = TxHost::new(
            view,
            TxEnv {
                tx_id: [0; 32],
                height: env.height,
                time_ms: env.time_ms,
                sender: caller,
            },
            self.codes.clone(),
        );
        let gas = membership.config().max_gas_per_tx;
        self.run(
            membership, host, &signers, contract, method, args, gas, true,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        membership: &Membership,
        mut host: TxHost,
        signers: &[Arc<Identity>],
        contract: &str,
        method: &str,
        args: &[u8],
        gas_limit: u64,
        query: bool,
    ) -> TxOutcome {
        let tx_id = host.env().tx_id;
        if names::is_system(contract) {
            if !system::exists(contract) {
                return failed(
                    tx_id,
                    result_code::CONTRACT_NOT_FOUND,
                    format!("no system contract named {contract:?}"),
                    0,
                    host.finish(),
                );
            }
            let gas = system::gas_of(args);
            if gas > gas_limit {
                host.discard();
                return failed(tx_id, "OUT_OF_GAS", "out of gas", gas_limit, host.finish());
            }
            let mut ctx = SysCtx {
                host: &mut host,
                membership,
                signers,
                vm: &self.vm,
                contract,
                method,
                args,
                query,
            };
            return match system::call(&mut ctx) {
                Ok(ret) => {
                    let effects = host.finish();
                    TxOutcome {
                        result: TxResult {
                            tx_id: tx_id.to_vec(),
                            code: result_code::OK.into(),
                            message: String::new(),
                            return_data: ret,
                            events: effects.events.clone(),
                            gas_used: gas,
                        },
                        effects,
                    }
                }
                Err(e) => {
                    host.discard();
                    failed(tx_id, e.code, e.message, gas, host.finish())
                }
            };
        }

        // A WASM contract: its record decides status and who may call what.
        let info = match host.read(&registry::info_key(contract)) {
            Ok(Some(bytes)) => match ContractInfo::decode(bytes.as_slice()) {
                Ok(i) => i,
                Err(_) => {
                    return failed(
                        tx_id,
                        result_code::STATE_ERROR,
                        format!("the record of contract {contract} does not decode"),
                        0,
                        host.finish(),
                    );
                }
            },
            Ok(None) => {
                return failed(
                    tx_id,
                    result_code::CONTRACT_NOT_FOUND,
                    format!("no contract named {contract:?}"),
                    0,
                    host.finish(),
                );
            }
            Err(e) => return failed(tx_id, result_code::STATE_ERROR, e, 0, host.finish()),
        };
        match info.status.as_str() {
            registry::STATUS_ACTIVE => {}
            registry::STATUS_FROZEN => {
                return failed(
                    tx_id,
                    result_code::CONTRACT_FROZEN,
                    format!("contract {contract} is frozen"),
                    0,
                    host.finish(),
                );
            }
            _ => {
                return failed(
                    tx_id,
                    result_code::CONTRACT_REVOKED,
                    format!("contract {contract} is revoked"),
                    0,
                    host.finish(),
                );
            }
        }
        if !query {
            let (org, role) = signers
                .first()
                .map(|s| (s.org.clone(), s.role.name().to_string()))
                .unwrap_or_default();
            if !method_allowed(&info, method, &org, &role) {
                return failed(
                    tx_id,
                    result_code::METHOD_NOT_ALLOWED,
                    format!("{role} of {org} may not call {contract}.{method}"),
                    0,
                    host.finish(),
                );
            }
        }
        let code = match host.contract(contract) {
            Ok((_, code)) => code,
            Err(e) => return failed(tx_id, result_code::STATE_ERROR, e, 0, host.finish()),
        };
        let call = Call {
            contract,
            code: &code,
            method,
            args,
            gas_limit,
        };
        let (h, outcome) = self.vm.execute(Box::new(host), &call);
        let mut host = match h.into_any().downcast::<TxHost>() {
            Ok(h) => *h,
            Err(_) => {
                return failed(
                    tx_id,
                    result_code::STATE_ERROR,
                    "host lost",
                    outcome.gas_used,
                    Effects::default(),
                );
            }
        };
        match outcome.result {
            Ok(ret) => {
                let effects = host.finish();
                TxOutcome {
                    result: TxResult {
                        tx_id: tx_id.to_vec(),
                        code: result_code::OK.into(),
                        message: String::new(),
                        return_data: ret,
                        events: effects.events.clone(),
                        gas_used: outcome.gas_used,
                    },
                    effects,
                }
            }
            Err(e) => {
                host.discard();
                failed(
                    tx_id,
                    e.code(),
                    e.to_string(),
                    outcome.gas_used,
                    host.finish(),
                )
            }
        }
    }

    /// The proposer's path: execute `txs` in chunks; each chunk runs in parallel over the
    /// block's writes so far, then in order a transaction that read what an earlier one of
    /// its chunk wrote runs again, serially. Small chunks keep those re-runs rare even when
    /// most transactions touch a few hot accounts. Then the DAG is built.
    pub fn execute_batch(
        &self,
        membership: &Membership,
        base: Arc<dyn StateRead>,
        env: BlockEnv,
        txs: &[Arc<DecodedTx>],
    ) -> BlockOutput {
        let chunk = (rayon::current_num_threads() * 8).max(8);
        let mut overlay = Arc::new(Overlay::new(base.clone()));
        let mut outcomes = Vec::with_capacity(txs.len());
        for (c, part) in txs.chunks(chunk).enumerate() {
            let view = overlay.clone();
            let first: Vec<TxOutcome> = part
                .par_iter()
                .map(|tx| {
                    let v: Arc<dyn StateRead> = view.clone();
                    self.execute_tx(membership, v, &*base, env, tx)
                })
                .collect();
            drop(view);
            // Keys written by earlier transactions of this chunk.
            let mut written: BTreeSet<Vec<u8>> = BTreeSet::new();
            for (j, (tx, out)) in part.iter().zip(first).enumerate() {
                let rw = &out.effects.rwset;
                let stale = rw.reads.iter().any(|r| written.contains(&r.key))
                    || rw
                        .ranges
                        .iter()
                        .any(|r| written_in(&written, &r.start, &r.end));
                let out = if stale {
                    let view: Arc<dyn StateRead> = overlay.clone();
                    self.execute_tx(membership, view, &*base, env, tx)
                } else {
                    out
                };
                let o = Arc::make_mut(&mut overlay);
                for (k, v) in &out.effects.writes {
                    written.insert(k.clone());
                    o.apply(
                        k.clone(),
                        Version {
                            height: env.height,
                            index: (c * chunk + j) as u32,
                        },
                        v.clone(),
                    );
                }
                outcomes.push(out);
            }
        }
        let dag = build_dag(outcomes.iter().map(|o| &o.effects.rwset));
        BlockOutput { outcomes, dag }
    }

    /// The validator's path: execute `txs` following `dag`, level by level.
    pub fn execute_with_dag(
        &self,
        membership: &Membership,
        base: Arc<dyn StateRead>,
        env: BlockEnv,
        txs: &[Arc<DecodedTx>],
        dag: &Dag,
    ) -> BlockOutput {
        let n = txs.len();
        let mut level = vec![0usize; n];
        for i in 0..n {
            if let Some(node) = dag.nodes.get(i) {
                level[i] = node
                    .deps
                    .iter()
                    .filter_map(|d| level.get(*d as usize).map(|l| l + 1))
                    .max()
                    .unwrap_or(0);
            }
        }
        let mut by_level: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, l) in level.iter().enumerate() {
            by_level.entry(*l).or_default().push(i);
        }
        let mut outcomes: Vec<Option<TxOutcome>> = vec![None; n];
        let mut overlay = Arc::new(Overlay::new(base.clone()));
        for (_, members) in by_level {
            let view = overlay.clone();
            let done: Vec<(usize, TxOutcome)> = members
                .par_iter()
                .map(|&i| {
                    let v: Arc<dyn StateRead> = view.clone();
                    (i, self.execute_tx(membership, v, &*base, env, &txs[i]))
                })
                .collect();
            drop(view);
            let o = Arc::make_mut(&mut overlay);
            for (i, out) in done {
                for (k, v) in &out.effects.writes {
                    o.apply(
                        k.clone(),
                        Version {
                            height: env.height,
                            index: i as u32,
                        },
                        v.clone(),
                    );
                }
                outcomes[i] = Some(out);
            }
        }
        let outcomes: Vec<TxOutcome> = outcomes.into_iter().flatten().collect();
        let dag = build_dag(outcomes.iter().map(|o| &o.effects.rwset));
        BlockOutput { outcomes, dag }
    }
}

/// Whether a key of `keys` falls in `[start, end)` (empty `end`: unbounded).
fn written_in(keys: &BTreeSet<Vec<u8>>, start: &[u8], end: &[u8]) -> bool {
    if end.is_empty() {
        keys.range(start.to_vec()..).next().is_some()
    } else if end <= start {
        false
    } else {
        keys.range(start.to_vec()..end.to_vec()).next().is_some()
    }
}

/// The canonical DAG of a block from its read/write sets: tx i depends on the last earlier
/// writer of every key it reads or writes, on the last earlier writer of every key inside a
/// range it scans, and — for each key it writes — on every earlier reader of that key since
/// its last writer and every earlier scan covering it.
pub fn build_dag<'a>(rwsets: impl Iterator<Item = &'a RwSet>) -> Dag {
    let mut last_writer: HashMap<&'a [u8], usize> = HashMap::new();
    let mut readers: HashMap<&'a [u8], Vec<usize>> = HashMap::new();
    let mut written: BTreeMap<&'a [u8], usize> = BTreeMap::new();
    let mut scans: Vec<(&'a [u8], &'a [u8], usize)> = Vec::new();
    let mut nodes = Vec::new();
    for (i, rw) in rwsets.enumerate() {
        let mut deps = BTreeSet::new();
        for r in &rw.reads {
            if let Some(w) = last_writer.get(r.key.as_slice()) {
                deps.insert(*w);
            }
        }
        for r in &rw.ranges {
            let (s, e) = (r.start.as_slice(), r.end.as_slice());
            let iter: Box<dyn Iterator<Item = (&&[u8], &usize)>> =
                if e.is_empty() {
                    Box::new(written.range::<[u8], _>((
                        std::ops::Bound::Included(s),
                        std::ops::Bound::Unbounded,
                    )))
                } else if e <= s {
                    Box::new(std::iter::empty())
                } else {
                    Box::new(written.range::<[u8], _>((
                        std::ops::Bound::Included(s),
                        std::ops::Bound::Excluded(e),
                    )))
                };
            for (_, w) in iter {
                deps.insert(*w);
            }
        }
        for w in &rw.writes {
            let k = w.key.as_slice();
            if let Some(lw) = last_writer.get(k) {
                deps.insert(*lw);
            }
            if let Some(rs) = readers.get(k) {
                deps.extend(rs.iter().copied());
            }
            for (s, e, j) in &scans {
                if k >= *s && (e.is_empty() || k < *e) {
                    deps.insert(*j);
                }
            }
        }
        deps.remove(&i);
        for r in &rw.reads {
            readers.entry(r.key.as_slice()).or_default().push(i);
        }
        for r in &rw.ranges {
            scans.push((r.start.as_slice(), r.end.as_slice(), i));
        }
        for w in &rw.writes {
            let k = w.key.as_slice();
            last_writer.insert(k, i);
            readers.remove(k);
            written.insert(k, i);
        }
        nodes.push(DagNode {
            deps: deps.into_iter().map(|d| d as u32).collect(),
        });
    }
    Dag { nodes }
}

#[cfg(test)]
mod tests {
    use covenant_types::{RangeRead, ReadEntry, WriteEntry};

    use super::*;

    fn rw(reads: &[&str], writes: &[&str], ranges: &[(&str, &str)]) -> RwSet {
        RwSet {
            reads: reads
                .iter()
                .map(|k| ReadEntry {
                    key: k.as_bytes().to_vec(),
                    version: None,
                })
                .collect(),
            ranges: ranges
                .iter()
                .map(|(s, e)| RangeRead {
                    start: s.as_bytes().to_vec(),
                    end: e.as_bytes().to_vec(),
                })
                .collect(),
            writes: writes
                .iter()
                .map(|k| WriteEntry {
                    key: k.as_bytes().to_vec(),
                    value: vec![],
                    delete: false,
                })
                .collect(),
        }
    }

    fn deps(d: &Dag) -> Vec<Vec<u32>> {
        d.nodes.iter().map(|n| n.deps.clone()).collect()
    }

    #[test]
    fn independent_transactions_have_no_edges() {
        let sets = [
            rw(&["a"], &["a"], &[]),
            rw(&["b"], &["b"], &[]),
            rw(&["c"], &[], &[]),
        ];
        assert_eq!(deps(&build_dag(sets.iter())), vec![Vec::<u32>::new(); 3]);
    }

    #[test]
    fn hot_key_forms_a_chain() {
        let sets: Vec<RwSet> = (0..4).map(|_| rw(&["hot"], &["hot"], &[])).collect();
        assert_eq!(
            deps(&build_dag(sets.iter())),
            vec![vec![], vec![0], vec![1], vec![2]]
        );
    }

    #[test]
    fn read_write_and_write_read_orders() {
        // 0 reads x; 1 writes x (after the read); 2 reads x (after the write).
        let sets = [
            rw(&["x"], &[], &[]),
            rw(&[], &["x"], &[]),
            rw(&["x"], &[], &[]),
        ];
        assert_eq!(
            deps(&build_dag(sets.iter())),
            vec![vec![], vec![0], vec![1]]
        );
    }

    #[test]
    fn ranges_conflict_with_writes_inside_them() {
        let sets = [
            rw(&[], &["k5"], &[]),
            rw(&[], &[], &[("k0", "k9")]),
            rw(&[], &["k7"], &[]),
            rw(&[], &["z"], &[]),
            rw(&[], &[], &[("k", "")]),
        ];
        assert_eq!(
            deps(&build_dag(sets.iter())),
            vec![vec![], vec![0], vec![1], vec![], vec![0, 2, 3]]
        );
    }

    #[test]
    fn method_policies() {
        let mut info = ContractInfo::default();
        assert!(method_allowed(&info, "x", "org1", "client"));
        assert!(!method_allowed(&info, "x", "org1", "node"));
        info.methods.push(covenant_types::MethodPolicy {
            method: "mint".into(),
            org_ids: vec!["org1".into()],
            roles: vec!["admin".into()],
        });
        assert!(method_allowed(&info, "mint", "org1", "admin"));
        assert!(!method_allowed(&info, "mint", "org1", "client"));
        assert!(!method_allowed(&info, "mint", "org2", "admin"));
        assert!(method_allowed(&info, "transfer", "org2", "client"));
    }
}
