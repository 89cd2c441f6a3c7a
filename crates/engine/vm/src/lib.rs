//! Covenant's contract runtime: WebAssembly on wasmi, deterministic by construction.
//!
//! - Modules are checked when installed ([`Vm::validate`]): no floating-point instructions, no
//!   imports other than the `covenant` host API with the right signatures, an exported
//!   `memory` and `call`.
//! - Gas is wasmi fuel: every instruction costs fuel, and host calls charge by the
//!   [`GasSchedule`]. Running out traps with [`ExecError::OutOfGas`].
//! - Memory and call depth are limited; a trap, a contract error or out-of-gas fails the call,
//!   and the caller (the chain's executor) discards the call's writes.
//!
//! The chain provides state, events, identity and cross-contract resolution through [`Host`].

#![forbid(unsafe_code)]

mod host_api;
pub mod inspect;
mod validate;

use std::{collections::HashMap, sync::Arc};

use parking_lot::Mutex;
use thiserror::Error;
use wasmi::{
    CompilationMode, Config, Engine, Linker, Module, Store, StoreLimits, StoreLimitsBuilder,
    TypedFunc,
};

pub use inspect::{Finding, Inspection, Severity};
pub use validate::ModuleInfo;

/// Gas charged by host calls, on top of the fuel instructions consume.
#[derive(Debug, Clone, Copy)]
pub struct GasSchedule {
    /// Every host call.
    pub host_call: u64,
    /// Per byte read from state (key and value).
    pub read_byte: u64,
    /// Per byte written to state (key and value): state is kept forever.
    pub write_byte: u64,
    /// Per byte of an event.
    pub event_byte: u64,
    /// Per entry returned by a range scan.
    pub range_entry: u64,
    /// Per byte copied between the host and the contract.
    pub copy_byte: u64,
}

impl Default for GasSchedule {
    fn default() -> Self {
        GasSchedule {
            host_call: 100,
            read_byte: 2,
            write_byte: 20,
            event_byte: 5,
            range_entry: 50,
            copy_byte: 1,
        }
    }
}

/// Limits of one call.
#[derive(Debug, Clone, Copy)]
pub struct VmLimits {
    /// Largest linear memory of an instance.
    pub max_memory_bytes: usize,
    /// Deepest chain of contract-to-contract calls.
    pub max_call_depth: u32,
    /// Largest module accepted at install time.
    pub max_code_bytes: usize,
    /// Largest key, value, event or return value.
    pub max_item_bytes: usize,
    /// Most entries one range scan returns.
    pub max_range_entries: u32,
}

impl Default for VmLimits {
    fn default() -> Self {
        VmLimits {
            max_memory_bytes: 32 * 1024 * 1024,
            max_call_depth: 8,
            max_code_bytes: 4 * 1024 * 1024,
            max_item_bytes: 1024 * 1024,
            max_range_entries: 10_000,
        }
    }
}

/// Code of a contract, as the host resolves it.
#[derive(Debug, Clone)]
pub struct ContractCode {
    /// Suite hash of the code, the compile-cache key.
    pub hash: [u8; 32],
    pub code: Arc<Vec<u8>>,
}

/// Key-value entries returned by a range scan.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// What the chain provides to a running contract. Keys are the contract's own (the host adds
/// the namespace). Errors are messages; they fail the call.
pub trait Host: Send {
    fn get(&mut self, contract: &str, key: &[u8]) -> Result<Option<Vec<u8>>, String>;
    fn put(&mut self, contract: &str, key: &[u8], value: &[u8]) -> Result<(), String>;
    fn delete(&mut self, contract: &str, key: &[u8]) -> Result<(), String>;
    /// Up to `limit` entries with `start <= key < end` (empty `end`: unbounded), key order.
    fn range(
        &mut self,
        contract: &str,
        start: &[u8],
        end: &[u8],
        limit: u32,
    ) -> Result<Entries, String>;
    fn emit(&mut self, contract: &str, topic: &str, data: &[u8]) -> Result<(), String>;
    /// JSON of the caller record (`org`, `role`, `cert_id`, `name`, `contract`).
    fn caller_json(&self, calling_contract: Option<&str>) -> Vec<u8>;
    fn tx_id(&self) -> [u8; 32];
    fn block_height(&self) -> u64;
    fn block_time_ms(&self) -> u64;
    /// The code of an active WASM contract, for a cross-contract call.
    fn resolve(&mut self, contract: &str) -> Result<ContractCode, String>;
    /// Mark the current writes so a failed nested call can be undone.
    fn savepoint(&mut self) -> usize;
    /// Undo every write and event since `savepoint`.
    fn rollback(&mut self, savepoint: usize);
    /// The concrete host back, after a call (implement as `self`).
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send>;
}

/// Why a contract trapped, in Covenant's words.
///
/// A failed call's message goes into the transaction's result, which every node hashes into
/// the block's `results_root`: it must never be the engine's own text, which can change from
/// one version of the engine to the next (and did). Each trap the engine reports maps to one
/// of these; the engine's text goes to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trap {
    Unreachable,
    MemoryOutOfBounds,
    TableOutOfBounds,
    IndirectCallToNull,
    DivisionByZero,
    IntegerOverflow,
    BadConversionToInteger,
    StackOverflow,
    IndirectCallTypeMismatch,
    GrowthLimited,
    OutOfSystemMemory,
    /// The engine stopped the call for a reason with no trap code.
    Other,
}

impl Trap {
    fn of(e: &wasmi::Error) -> Trap {
        use wasmi::TrapCode as T;
        match e.as_trap_code() {
            Some(T::UnreachableCodeReached) => Trap::Unreachable,
            Some(T::MemoryOutOfBounds) => Trap::MemoryOutOfBounds,
            Some(T::TableOutOfBounds) => Trap::TableOutOfBounds,
            Some(T::IndirectCallToNull) => Trap::IndirectCallToNull,
            Some(T::IntegerDivisionByZero) => Trap::DivisionByZero,
            Some(T::IntegerOverflow) => Trap::IntegerOverflow,
            Some(T::BadConversionToInteger) => Trap::BadConversionToInteger,
            Some(T::StackOverflow) => Trap::StackOverflow,
            Some(T::BadSignature) => Trap::IndirectCallTypeMismatch,
            Some(T::GrowthOperationLimited) => Trap::GrowthLimited,
            Some(T::OutOfSystemMemory) => Trap::OutOfSystemMemory,
            _ => Trap::Other,
        }
    }
}

impl std::fmt::Display for Trap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Trap::Unreachable => "an `unreachable` instruction ran (a panic in the contract)",
            Trap::MemoryOutOfBounds => "a memory access out of bounds",
            Trap::TableOutOfBounds => "a table access out of bounds",
            Trap::IndirectCallToNull => "an indirect call to an empty table slot",
            Trap::DivisionByZero => "an integer division by zero",
            Trap::IntegerOverflow => "an integer overflow",
            Trap::BadConversionToInteger => "an invalid conversion to an integer",
            Trap::StackOverflow => "the call stack is exhausted",
            Trap::IndirectCallTypeMismatch => "an indirect call with the wrong signature",
            Trap::GrowthLimited => "a memory or table grew past its limit",
            Trap::OutOfSystemMemory => "the node ran out of memory",
            Trap::Other => "the runtime stopped the call",
        })
    }
}

/// Why a call failed. [`code`](ExecError::code) is the stable result code; the text is
/// Covenant's own (see [`Trap`]).
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ExecError {
    #[error("out of gas")]
    OutOfGas,
    #[error("{0}")]
    Contract(String),
    #[error("contract trapped: {0}")]
    Trap(Trap),
    #[error("invalid contract: {0}")]
    Invalid(String),
    #[error("call depth limit reached")]
    DepthExceeded,
}

impl ExecError {
    /// Stable result code of the failed transaction.
    pub fn code(&self) -> &'static str {
        match self {
            ExecError::OutOfGas => "OUT_OF_GAS",
            ExecError::Contract(_) => "CONTRACT_ERROR",
            ExecError::Trap(_) => "CONTRACT_TRAP",
            ExecError::Invalid(_) => "CONTRACT_INVALID",
            ExecError::DepthExceeded => "CALL_DEPTH_EXCEEDED",
        }
    }
}

/// A completed or failed call, with the gas it used either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub result: Result<Vec<u8>, ExecError>,
    pub gas_used: u64,
}

/// One call into a contract.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub contract: &'a str,
    pub code: &'a ContractCode,
    pub method: &'a str,
    pub args: &'a [u8],
    pub gas_limit: u64,
}

/// Per-store data of a running instance.
pub(crate) struct StoreData {
    pub host: Box<dyn Host>,
    pub vm: Vm,
    pub contract: String,
    pub calling_contract: Option<String>,
    pub method: Vec<u8>,
    pub args: Vec<u8>,
    pub buffer: Vec<u8>,
    pub return_data: Option<Vec<u8>>,
    pub failure: Option<String>,
    pub out_of_gas: bool,
    pub depth: u32,
    pub memory: Option<wasmi::Memory>,
    pub limits: StoreLimits,
}

struct VmInner {
    engine: Engine,
    linker: Linker<StoreData>,
    modules: Mutex<HashMap<[u8; 32], Module>>,
    gas: GasSchedule,
    limits: VmLimits,
}

/// The contract runtime: an engine, the host API and a cache of compiled modules. Cheap to
/// clone; safe to share across threads.
#[derive(Clone)]
pub struct Vm {
    inner: Arc<VmInner>,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("limits", &self.inner.limits)
            .finish()
    }
}

/// Most compiled modules kept in the cache.
const MODULE_CACHE: usize = 256;

impl Vm {
    /// A runtime with the default gas schedule and limits.
    pub fn new() -> Result<Self, ExecError> {
        Self::with(GasSchedule::default(), VmLimits::default())
    }

    /// A runtime with the given gas schedule and limits.
    pub fn with(gas: GasSchedule, limits: VmLimits) -> Result<Self, ExecError> {
        let mut config = Config::default();
        config
            .consume_fuel(true)
            // Lazy translation charges fuel for compiling a function on its first call, which
            // would make gas depend on what this node ran before; compile everything upfront.
            .compilation_mode(CompilationMode::Eager)
            .floats(false)
            .wasm_multi_memory(false)
            .wasm_tail_call(false)
            .wasm_custom_page_sizes(false)
            .wasm_wide_arithmetic(false)
            .allow_start_fn(false)
            .set_max_recursion_depth(1024);
        let engine = Engine::new(&config);
        let mut linker = Linker::new(&engine);
        host_api::define(&mut linker).map_err(|e| {
            tracing::error!(error = %e, "cannot define the host API");
            ExecError::Invalid("the host API cannot be defined".into())
        })?;
        Ok(Vm {
            inner: Arc::new(VmInner {
                engine,
                linker,
                modules: Mutex::new(HashMap::new()),
                gas,
                limits,
            }),
        })
    }

    /// The gas schedule.
    pub fn gas(&self) -> &GasSchedule {
        &self.inner.gas
    }

    /// The limits.
    pub fn limits(&self) -> &VmLimits {
        &self.inner.limits
    }

    /// Check that `code` may be installed: valid WASM without floating point, only the
    /// `covenant` host API as imports, `memory` and `call` exported.
    pub fn validate(&self, code: &[u8]) -> Result<ModuleInfo, ExecError> {
        if code.len() > self.inner.limits.max_code_bytes {
            return Err(ExecError::Invalid(format!(
                "module is {} bytes, over the limit of {}",
                code.len(),
                self.inner.limits.max_code_bytes
            )));
        }
        let module = compile(&self.inner.engine, code)?;
        validate::check(&module)
    }

    fn module(&self, code: &ContractCode) -> Result<Module, ExecError> {
        if let Some(m) = self.inner.modules.lock().get(&code.hash) {
            return Ok(m.clone());
        }
        let module = compile(&self.inner.engine, code.code.as_slice())?;
        validate::check(&module)?;
        let mut cache = self.inner.modules.lock();
        if cache.len() >= MODULE_CACHE {
            cache.clear();
        }
        cache.insert(code.hash, module.clone());
        Ok(module)
    }

    /// Run `call` with `host`; returns the host (with whatever the call wrote) and the outcome.
    pub fn execute(&self, host: Box<dyn Host>, call: &Call<'_>) -> (Box<dyn Host>, Outcome) {
        self.execute_at(host, call, None, 0)
    }

    pub(crate) fn execute_at(
        &self,
        host: Box<dyn Host>,
        call: &Call<'_>,
        calling_contract: Option<String>,
        depth: u32,
    ) -> (Box<dyn Host>, Outcome) {
        let module = match self.module(call.code) {
            Ok(m) => m,
            Err(e) => {
                return (
                    host,
                    Outcome {
                        result: Err(e),
                        gas_used: 0,
                    },
                );
            }
        };
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.inner.limits.max_memory_bytes)
            .instances(1)
            .memories(1)
            .tables(1)
            .trap_on_grow_failure(false)
            .build();
        let data = StoreData {
            host,
            vm: self.clone(),
            contract: call.contract.to_string(),
            calling_contract,
            method: call.method.as_bytes().to_vec(),
            args: call.args.to_vec(),
            buffer: Vec::new(),
            return_data: None,
            failure: None,
            out_of_gas: false,
            depth,
            memory: None,
            limits,
        };
        let mut store = Store::new(&self.inner.engine, data);
        store.limiter(|d| &mut d.limits);
        if store.set_fuel(call.gas_limit).is_err() {
            let data = store.into_data();
            return (
                data.host,
                Outcome {
                    result: Err(ExecError::Invalid("fuel metering is off".into())),
                    gas_used: 0,
                },
            );
        }
        let instance = match self.inner.linker.instantiate_and_start(&mut store, &module) {
            Ok(i) => i,
            Err(e) => {
                tracing::debug!(contract = call.contract, error = %e, "instantiation failed");
                let remaining = store.get_fuel().unwrap_or(0);
                let out_of_gas = is_out_of_fuel(&e);
                let data = store.into_data();
                return (
                    data.host,
                    Outcome {
                        result: Err(if out_of_gas {
                            ExecError::OutOfGas
                        } else {
                            ExecError::Invalid(
                                "the module cannot be instantiated within this runtime's limits"
                                    .into(),
                            )
                        }),
                        gas_used: if out_of_gas {
                            call.gas_limit
                        } else {
                            call.gas_limit.saturating_sub(remaining)
                        },
                    },
                );
            }
        };
        let memory = instance.get_memory(&store, "memory");
        store.data_mut().memory = memory;
        let run = instance
            .get_typed_func::<(), ()>(&store, "call")
            .and_then(|entry: TypedFunc<(), ()>| entry.call(&mut store, ()));
        let remaining = store.get_fuel().unwrap_or(0);
        let gas_used = call.gas_limit.saturating_sub(remaining);
        let data = store.into_data();
        let result = match run {
            Ok(()) => Ok(data.return_data.unwrap_or_default()),
            Err(e) => Err(if data.out_of_gas || is_out_of_fuel(&e) {
                ExecError::OutOfGas
            } else if let Some(msg) = data.failure {
                if msg == host_api::DEPTH_EXCEEDED {
                    ExecError::DepthExceeded
                } else {
                    ExecError::Contract(msg)
                }
            } else {
                tracing::debug!(contract = call.contract, error = %e, "contract trapped");
                ExecError::Trap(Trap::of(&e))
            }),
        };
        // Running out of gas costs the whole limit.
        let gas_used = if result == Err(ExecError::OutOfGas) {
            call.gas_limit
        } else {
            gas_used
        };
        (data.host, Outcome { result, gas_used })
    }
}

/// Compile a module. The engine's reason for refusing one is its own text: it goes to the log,
/// and the error (which a transaction result may carry) says it in Covenant's words.
fn compile(engine: &Engine, code: &[u8]) -> Result<Module, ExecError> {
    let invalid = || {
        ExecError::Invalid(
            "the module is not valid WebAssembly for this runtime (malformed, or it uses floating \
             point or another feature contracts may not use)"
                .into(),
        )
    };
    // The whole module is validated before the engine sees it: the engine translates each
    // function body while validating it, and a body with operators after its end reached an
    // assertion in its translator (found by the `contract_module` fuzz target).
    wasmparser::Validator::new()
        .validate_all(code)
        .map_err(|e| {
            tracing::debug!(error = %e, "module refused by validation");
            invalid()
        })?;
    Module::new(engine, code).map_err(|e| {
        tracing::debug!(error = %e, "module refused");
        invalid()
    })
}

fn is_out_of_fuel(e: &wasmi::Error) -> bool {
    e.as_trap_code() == Some(wasmi::TrapCode::OutOfFuel)
}
