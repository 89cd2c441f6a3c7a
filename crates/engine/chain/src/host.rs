//! The host of one transaction: state reads and writes recorded as a read/write set, events,
//! savepoints for nested calls, and contract resolution.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use covenant_storage::Version;
use covenant_types::{
    ContractInfo, Event, RangeRead, ReadEntry, RwSet, WriteEntry, names::state_key,
};
use covenant_vm::{ContractCode, Entries, Host};
use parking_lot::Mutex;
use prost::Message;

use crate::{identity::Identity, state::StateRead, system::contracts as registry};

/// Compiled-code sources shared by every transaction: code bytes by hash.
#[derive(Default)]
pub struct CodeCache {
    code: Mutex<HashMap<[u8; 32], Arc<Vec<u8>>>>,
}

impl std::fmt::Debug for CodeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeCache")
    }
}

const CODE_CACHE_LIMIT: usize = 512;

/// What a result says when this node could not read its own state (the cause is logged).
const STATE_READ_FAILED: &str = "this node could not read the chain state";

impl CodeCache {
    fn get(&self, hash: &[u8; 32]) -> Option<Arc<Vec<u8>>> {
        self.code.lock().get(hash).cloned()
    }

    fn put(&self, hash: [u8; 32], code: Arc<Vec<u8>>) {
        let mut c = self.code.lock();
        if c.len() >= CODE_CACHE_LIMIT {
            c.clear();
        }
        c.insert(hash, code);
    }
}

/// What the transaction is and where it runs.
#[derive(Debug, Clone)]
pub struct TxEnv {
    pub tx_id: [u8; 32],
    pub height: u64,
    pub time_ms: u64,
    /// The signer; `None` for anonymous read-only queries.
    pub sender: Option<Arc<Identity>>,
}

/// A key and its previous entry in the write map (`None`: it had none).
type Undo = (Vec<u8>, Option<Option<Vec<u8>>>);

/// State access of one transaction, recording what it reads and writes.
pub struct TxHost {
    view: Arc<dyn StateRead>,
    env: TxEnv,
    codes: Arc<CodeCache>,
    /// First read of each key: its version, or `None` if absent.
    reads: BTreeMap<Vec<u8>, Option<Version>>,
    ranges: Vec<(Vec<u8>, Vec<u8>)>,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Previous entries of `writes`, for rollback.
    journal: Vec<Undo>,
    events: Vec<Event>,
    savepoints: Vec<(usize, usize)>,
    /// A state read failed (see [`Effects::fault`]).
    fault: bool,
}

impl std::fmt::Debug for TxHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxHost")
            .field("reads", &self.reads.len())
            .field("writes", &self.writes.len())
            .finish()
    }
}

/// What a finished transaction did to state.
#[derive(Debug, Clone, Default)]
pub struct Effects {
    pub rwset: RwSet,
    pub events: Vec<Event>,
    /// Writes in key order: value or `None` for a delete.
    pub writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// This node could not read its state (a storage fault): the outcome says nothing about
    /// the transaction and must not be used.
    pub fault: bool,
}

impl TxHost {
    pub fn new(view: Arc<dyn StateRead>, env: TxEnv, codes: Arc<CodeCache>) -> Self {
        TxHost {
            view,
            env,
            codes,
            reads: BTreeMap::new(),
            ranges: Vec::new(),
            writes: BTreeMap::new(),
            journal: Vec::new(),
            events: Vec::new(),
            savepoints: Vec::new(),
            fault: false,
        }
    }

    /// The transaction's environment.
    pub fn env(&self) -> &TxEnv {
        &self.env
    }

    /// Read a full state key (read-your-writes; first reads of committed values recorded).
    pub fn read(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        if let Some(w) = self.writes.get(key) {
            return Ok(w.clone());
        }
        // The store's own error (which can quote the database library) goes to the log; the
        // result carries a fixed text.
        let got = self.view.get(key).map_err(|e| {
            tracing::error!(error = %e, "state read failed during execution");
            self.fault = true;
            STATE_READ_FAILED.to_string()
        })?;
        self.reads
            .entry(key.to_vec())
            .or_insert_with(|| got.as_ref().map(|(v, _)| *v));
        Ok(got.map(|(_, v)| v))
    }

    /// Write (`Some`) or delete (`None`) a full state key.
    pub fn write(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        let prev = self.writes.insert(key.clone(), value);
        self.journal.push((key, prev));
    }

    /// Range scan over full state keys, seeing this transaction's own writes.
    pub fn scan(&mut self, start: &[u8], end: &[u8], limit: usize) -> Result<Entries, String> {
        self.ranges.push((start.to_vec(), end.to_vec()));
        let own: Vec<(Vec<u8>, Option<Vec<u8>>)> = self
            .writes
            .iter()
            .filter(|(k, _)| k.as_slice() >= start && (end.is_empty() || k.as_slice() < end))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let deletes = own.iter().filter(|(_, v)| v.is_none()).count();
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = self
            .view
            .range(start, end, limit.saturating_add(deletes))
            .map_err(|e| {
                tracing::error!(error = %e, "state range read failed during execution");
                self.fault = true;
                STATE_READ_FAILED.to_string()
            })?
            .into_iter()
            .map(|e| (e.key, e.value))
            .collect();
        for (k, v) in own {
            match v {
                Some(v) => {
                    merged.insert(k, v);
                }
                None => {
                    merged.remove(&k);
                }
            }
        }
        Ok(merged.into_iter().take(limit).collect())
    }

    /// Record an event.
    pub fn event(&mut self, contract: &str, topic: &str, data: Vec<u8>) {
        self.events.push(Event {
            contract: contract.to_string(),
            topic: topic.to_string(),
            data,
        });
    }

    /// Drop every write and event (the transaction failed); reads stay recorded.
    pub fn discard(&mut self) {
        self.writes.clear();
        self.journal.clear();
        self.events.clear();
        self.savepoints.clear();
    }

    /// The read/write set, events and writes.
    pub fn finish(self) -> Effects {
        let rwset = RwSet {
            reads: self
                .reads
                .into_iter()
                .map(|(key, v)| ReadEntry {
                    key,
                    version: Some(match v {
                        Some(v) => covenant_types::Version {
                            height: v.height,
                            index: v.index,
                            present: true,
                        },
                        None => covenant_types::Version {
                            height: 0,
                            index: 0,
                            present: false,
                        },
                    }),
                })
                .collect(),
            ranges: self
                .ranges
                .into_iter()
                .map(|(start, end)| RangeRead { start, end })
                .collect(),
            writes: self
                .writes
                .iter()
                .map(|(k, v)| WriteEntry {
                    key: k.clone(),
                    value: v.clone().unwrap_or_default(),
                    delete: v.is_none(),
                })
                .collect(),
        };
        Effects {
            rwset,
            events: self.events,
            writes: self.writes.into_iter().collect(),
            fault: self.fault,
        }
    }

    /// The active contract `name`: its info (read recorded) and code.
    pub fn contract(&mut self, name: &str) -> Result<(ContractInfo, ContractCode), String> {
        let info = self
            .read(&registry::info_key(name))?
            .ok_or_else(|| format!("no contract named {name:?}"))?;
        let info = ContractInfo::decode(info.as_slice())
            .map_err(|_| format!("the record of contract {name} does not decode"))?;
        if info.status != registry::STATUS_ACTIVE {
            return Err(format!("contract {name} is {}", info.status));
        }
        let hash: [u8; 32] = info
            .code_hash
            .as_slice()
            .try_into()
            .map_err(|_| format!("contract record of {name} has a bad code hash"))?;
        let code = match self.codes.get(&hash) {
            Some(c) => c,
            None => {
                // Code is stored by its hash and never changes, so this read cannot conflict.
                let bytes = self
                    .view
                    .get(&registry::code_key(&hash))
                    .map_err(|e| {
                        tracing::error!(error = %e, "contract code read failed during execution");
                        self.fault = true;
                        STATE_READ_FAILED.to_string()
                    })?
                    .ok_or_else(|| format!("code of contract {name} is missing"))?
                    .1;
                let c = Arc::new(bytes);
                self.codes.put(hash, c.clone());
                c
            }
        };
        Ok((info, ContractCode { hash, code }))
    }
}

impl Host for TxHost {
    fn get(&mut self, contract: &str, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        self.read(&state_key(contract, key))
    }

    fn put(&mut self, contract: &str, key: &[u8], value: &[u8]) -> Result<(), String> {
        self.write(state_key(contract, key), Some(value.to_vec()));
        Ok(())
    }

    fn delete(&mut self, contract: &str, key: &[u8]) -> Result<(), String> {
        self.write(state_key(contract, key), None);
        Ok(())
    }

    fn range(
        &mut self,
        contract: &str,
        start: &[u8],
        end: &[u8],
        limit: u32,
    ) -> Result<Entries, String> {
        let ns = state_key(contract, b"");
        let full_start = state_key(contract, start);
        // An empty end means "to the end of this contract's namespace".
        let full_end = if end.is_empty() {
            let mut e = contract.as_bytes().to_vec();
            e.push(1);
            e
        } else {
            state_key(contract, end)
        };
        Ok(self
            .scan(&full_start, &full_end, limit as usize)?
            .into_iter()
            .map(|(k, v)| (k[ns.len()..].to_vec(), v))
            .collect())
    }

    fn emit(&mut self, contract: &str, topic: &str, data: &[u8]) -> Result<(), String> {
        self.event(contract, topic, data.to_vec());
        Ok(())
    }

    fn caller_json(&self, calling_contract: Option<&str>) -> Vec<u8> {
        match &self.env.sender {
            Some(s) => s.caller_json(calling_contract),
            None => serde_json::json!({"org": "", "role": "", "cert_id": "", "name": "", "contract": calling_contract})
                .to_string()
                .into_bytes(),
        }
    }

    fn tx_id(&self) -> [u8; 32] {
        self.env.tx_id
    }

    fn block_height(&self) -> u64 {
        self.env.height
    }

    fn block_time_ms(&self) -> u64 {
        self.env.time_ms
    }

    fn resolve(&mut self, contract: &str) -> Result<ContractCode, String> {
        if covenant_types::names::is_system(contract) {
            return Err("system contracts cannot be called from contracts".into());
        }
        self.contract(contract).map(|(_, code)| code)
    }

    fn savepoint(&mut self) -> usize {
        self.savepoints
            .push((self.journal.len(), self.events.len()));
        self.savepoints.len() - 1
    }

    fn rollback(&mut self, savepoint: usize) {
        let Some(&(journal_len, events_len)) = self.savepoints.get(savepoint) else {
            return;
        };
        while self.journal.len() > journal_len {
            if let Some((key, prev)) = self.journal.pop() {
                match prev {
                    Some(v) => {
                        self.writes.insert(key, v);
                    }
                    None => {
                        self.writes.remove(&key);
                    }
                }
            }
        }
        self.events.truncate(events_len);
        self.savepoints.truncate(savepoint);
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
        self
    }
}
