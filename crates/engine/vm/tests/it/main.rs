//! The runtime against real contracts (built from `contracts/` with the SDK's builder) and
//! hand-written modules for the edges: floats, foreign imports, traps, infinite loops, memory,
//! nested calls and depth.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use covenant_vm::{Call, ContractCode, ExecError, Host, Outcome, Vm};

/// (contract, key)
type Slot = (String, Vec<u8>);

#[derive(Default, Clone)]
struct MemHost {
    state: BTreeMap<Slot, Vec<u8>>,
    /// Old values, for rollback.
    journal: Vec<(Slot, Option<Vec<u8>>)>,
    events: Vec<(String, String, String)>,
    contracts: HashMap<String, ContractCode>,
    caller: String,
}

impl MemHost {
    fn set(&mut self, k: Slot, v: Option<Vec<u8>>) {
        let old = match v {
            Some(v) => self.state.insert(k.clone(), v),
            None => self.state.remove(&k),
        };
        self.journal.push((k, old));
    }
}

impl Host for MemHost {
    fn get(&mut self, contract: &str, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        Ok(self
            .state
            .get(&(contract.to_string(), key.to_vec()))
            .cloned())
    }
    fn put(&mut self, contract: &str, key: &[u8], value: &[u8]) -> Result<(), String> {
        self.set((contract.into(), key.to_vec()), Some(value.to_vec()));
        Ok(())
    }
    fn delete(&mut self, contract: &str, key: &[u8]) -> Result<(), String> {
        self.set((contract.into(), key.to_vec()), None);
        Ok(())
    }
    fn range(
        &mut self,
        contract: &str,
        start: &[u8],
        end: &[u8],
        limit: u32,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, String> {
        Ok(self
            .state
            .iter()
            .filter(|((c, k), _)| {
                c == contract && k.as_slice() >= start && (end.is_empty() || k.as_slice() < end)
            })
            .take(limit as usize)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }
    fn emit(&mut self, contract: &str, topic: &str, data: &[u8]) -> Result<(), String> {
        self.events.push((
            contract.into(),
            topic.into(),
            String::from_utf8_lossy(data).into_owned(),
        ));
        Ok(())
    }
    fn caller_json(&self, calling: Option<&str>) -> Vec<u8> {
        serde_json::json!({"org": "org1", "role": "client", "cert_id": self.caller, "name": "t", "contract": calling})
            .to_string()
            .into_bytes()
    }
    fn tx_id(&self) -> [u8; 32] {
        [7; 32]
    }
    fn block_height(&self) -> u64 {
        42
    }
    fn block_time_ms(&self) -> u64 {
        1_700_000_000_000
    }
    fn resolve(&mut self, contract: &str) -> Result<ContractCode, String> {
        self.contracts
            .get(contract)
            .cloned()
            .ok_or_else(|| format!("no contract {contract}"))
    }
    fn savepoint(&mut self) -> usize {
        self.journal.len()
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
        self
    }
    fn rollback(&mut self, savepoint: usize) {
        while self.journal.len() > savepoint {
            if let Some((k, old)) = self.journal.pop() {
                match old {
                    Some(v) => self.state.insert(k, v),
                    None => self.state.remove(&k),
                };
            }
        }
    }
}

fn code(bytes: Vec<u8>) -> ContractCode {
    let mut hash = [0u8; 32];
    // A cheap content key for the compile cache in tests.
    for (i, b) in bytes.iter().enumerate() {
        hash[i % 32] = hash[i % 32].wrapping_mul(31).wrapping_add(*b);
    }
    hash[0] ^= bytes.len() as u8;
    ContractCode {
        hash,
        code: Arc::new(bytes),
    }
}

fn example(name: &str) -> ContractCode {
    code(covenant_test_utils::contracts::example_bytes(name))
}

fn run(
    vm: &Vm,
    host: MemHost,
    contract: &str,
    code: &ContractCode,
    method: &str,
    args: &str,
    gas: u64,
) -> (MemHost, Outcome) {
    let call = Call {
        contract,
        code,
        method,
        args: args.as_bytes(),
        gas_limit: gas,
    };
    let (h, out) = vm.execute(Box::new(host), &call);
    let h = *h
        .into_any()
        .downcast::<MemHost>()
        .expect("the host passed in");
    (h, out)
}

const GAS: u64 = 10_000_000;

#[test]
fn example_contracts_validate_without_floats() {
    let vm = Vm::new().unwrap();
    for name in ["kv", "token", "evidence"] {
        let c = example(name);
        let info = vm
            .validate(&c.code)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(info.exports.contains(&"call".to_string()));
        assert!(info.imports.iter().all(|i| !i.is_empty()));
    }
}

#[test]
fn kv_put_get_delete_list() {
    let vm = Vm::new().unwrap();
    let kv = example("kv");
    let (h, out) = run(
        &vm,
        MemHost::default(),
        "kv",
        &kv,
        "put",
        r#"{"key":"a","value":"1"}"#,
        GAS,
    );
    assert_eq!(out.result, Ok(b"null".to_vec()));
    assert!(out.gas_used > 0 && out.gas_used < GAS);
    assert_eq!(
        h.state.get(&("kv".to_string(), b"a".to_vec())),
        Some(&b"1".to_vec())
    );
    let (h, out) = run(&vm, h, "kv", &kv, "get", r#"{"key":"a"}"#, GAS);
    assert_eq!(out.result, Ok(br#""1""#.to_vec()));
    let (h, out) = run(&vm, h, "kv", &kv, "list", r#"{"prefix":""}"#, GAS);
    assert_eq!(out.result, Ok(br#"[{"key":"a","value":"1"}]"#.to_vec()));
    let (h, out) = run(&vm, h, "kv", &kv, "delete", r#"{"key":"a"}"#, GAS);
    assert_eq!(out.result, Ok(b"true".to_vec()));
    assert!(h.state.is_empty());
    let (_, out) = run(&vm, h, "kv", &kv, "nope", "{}", GAS);
    assert_eq!(out.result.unwrap_err().code(), "CONTRACT_ERROR");
}

#[test]
fn token_transfer_and_failures() {
    let vm = Vm::new().unwrap();
    let token = example("token");
    let host = MemHost {
        caller: "alice".into(),
        ..Default::default()
    };
    let (h, out) = run(&vm, host, "token", &token, "mint", r#"{"amount":100}"#, GAS);
    assert_eq!(out.result, Ok(b"100".to_vec()));
    let mut h = h;
    h.caller = "alice".into();
    let (mut h, out) = run(
        &vm,
        h,
        "token",
        &token,
        "transfer",
        r#"{"to":"bob","amount":40}"#,
        GAS,
    );
    assert_eq!(out.result, Ok(b"60".to_vec()));
    h.caller = "alice".into();
    let (mut h, out) = run(
        &vm,
        h,
        "token",
        &token,
        "transfer",
        r#"{"to":"bob","amount":61}"#,
        GAS,
    );
    match out.result {
        Err(ExecError::Contract(msg)) => assert!(msg.contains("insufficient"), "{msg}"),
        other => panic!("{other:?}"),
    }
    h.caller = "alice".into();
    // Floats in arguments are refused by the contract's JSON codec.
    let (_, out) = run(
        &vm,
        h,
        "token",
        &token,
        "transfer",
        r#"{"to":"bob","amount":1.5}"#,
        GAS,
    );
    assert_eq!(out.result.unwrap_err().code(), "CONTRACT_ERROR");
}

#[test]
fn evidence_sees_tx_block_and_caller() {
    let vm = Vm::new().unwrap();
    let ev = example("evidence");
    let host = MemHost {
        caller: "cafe".into(),
        ..Default::default()
    };
    let h = "ab".repeat(32);
    let (_, out) = run(
        &vm,
        host,
        "evidence",
        &ev,
        "put",
        &format!(r#"{{"hash":"{h}","meta":"m"}}"#),
        GAS,
    );
    let rec: serde_json::Value = serde_json::from_slice(&out.result.unwrap()).unwrap();
    assert_eq!(rec["tx_id"], "07".repeat(32));
    assert_eq!(rec["height"], 42);
    assert_eq!(rec["submitter"], "cafe");
    assert_eq!(rec["org"], "org1");
}

#[test]
fn out_of_gas_is_reported_and_gas_used_is_the_limit() {
    let vm = Vm::new().unwrap();
    let kv = example("kv");
    let (_, out) = run(
        &vm,
        MemHost::default(),
        "kv",
        &kv,
        "put",
        r#"{"key":"a","value":"1"}"#,
        500,
    );
    assert_eq!(out.result, Err(ExecError::OutOfGas));
    assert_eq!(out.gas_used, 500);
    let looping = code(
        wat::parse_str(
            r#"(module (memory (export "memory") 1) (func (export "call") (loop (br 0))))"#,
        )
        .unwrap(),
    );
    let (_, out) = run(&vm, MemHost::default(), "t", &looping, "x", "{}", 100_000);
    assert_eq!(out.result, Err(ExecError::OutOfGas));
}

#[test]
fn gas_is_deterministic() {
    let vm = Vm::new().unwrap();
    let token = example("token");
    let host = MemHost {
        caller: "alice".into(),
        ..Default::default()
    };
    let (_, a) = run(
        &vm,
        host.clone(),
        "token",
        &token,
        "mint",
        r#"{"amount":5}"#,
        GAS,
    );
    let vm2 = Vm::new().unwrap();
    let (_, b) = run(&vm2, host, "token", &token, "mint", r#"{"amount":5}"#, GAS);
    assert_eq!(a, b);
}

#[test]
fn install_time_checks_reject_bad_modules() {
    let vm = Vm::new().unwrap();
    let cases = [
        (
            r#"(module (memory (export "memory") 1) (func (export "call") (drop (f64.add (f64.const 1) (f64.const 2)))))"#,
            "float",
        ),
        (
            r#"(module (import "env" "abort" (func)) (memory (export "memory") 1) (func (export "call")))"#,
            "not allowed",
        ),
        (
            r#"(module (import "covenant" "nope" (func)) (memory (export "memory") 1) (func (export "call")))"#,
            "unknown host function",
        ),
        (
            r#"(module (import "covenant" "state_get" (func (param i32) (result i64))) (memory (export "memory") 1) (func (export "call")))"#,
            "wrong signature",
        ),
        (r#"(module (memory (export "memory") 1))"#, "export `call`"),
        (r#"(module (func (export "call")))"#, "memory"),
    ];
    for (text, expect) in cases {
        let err = vm.validate(&wat::parse_str(text).unwrap()).unwrap_err();
        assert_eq!(err.code(), "CONTRACT_INVALID");
        assert!(
            err.to_string().to_lowercase().contains(expect),
            "{expect}: {err}"
        );
    }
    assert!(vm.validate(b"not wasm at all").is_err());
    assert!(vm.validate(&[]).is_err());
}

#[test]
fn traps_and_memory_limits() {
    let vm = Vm::new().unwrap();
    let trap = code(
        wat::parse_str(
            r#"(module (memory (export "memory") 1) (func (export "call") unreachable))"#,
        )
        .unwrap(),
    );
    let (_, out) = run(&vm, MemHost::default(), "t", &trap, "x", "{}", GAS);
    let err = out.result.unwrap_err();
    assert_eq!(err.code(), "CONTRACT_TRAP");
    // The text a result carries is Covenant's own, never the engine's.
    assert_eq!(
        err.to_string(),
        "contract trapped: an `unreachable` instruction ran (a panic in the contract)"
    );
    let div = code(
        wat::parse_str(
            r#"(module (memory (export "memory") 1)
                 (func (export "call") (drop (i32.div_u (i32.const 1) (i32.const 0)))))"#,
        )
        .unwrap(),
    );
    let (_, out) = run(&vm, MemHost::default(), "t", &div, "x", "{}", GAS);
    assert_eq!(
        out.result.unwrap_err(),
        covenant_vm::ExecError::Trap(covenant_vm::Trap::DivisionByZero)
    );
    let invalid = vm.validate(b"\0asm\x01\0\0\0\x05").unwrap_err();
    assert_eq!(
        invalid.to_string(),
        "invalid contract: the module is not valid WebAssembly for this runtime (malformed, or \
         it uses floating point or another feature contracts may not use)"
    );

    // Growing past the 32 MiB limit fails (memory.grow returns -1), and the contract traps.
    let grow = code(
        wat::parse_str(
            r#"(module (memory (export "memory") 1)
                 (func (export "call") (if (i32.lt_s (memory.grow (i32.const 1000)) (i32.const 0)) (then unreachable))))"#,
        )
        .unwrap(),
    );
    let (_, out) = run(&vm, MemHost::default(), "t", &grow, "x", "{}", GAS);
    assert_eq!(out.result.unwrap_err().code(), "CONTRACT_TRAP");

    // Out-of-bounds pointers given to the host fail the call instead of reading anything.
    let oob = code(
        wat::parse_str(
            r#"(module (import "covenant" "state_put" (func $put (param i32 i32 i32 i32)))
                 (memory (export "memory") 1)
                 (func (export "call") (call $put (i32.const 65530) (i32.const 100) (i32.const 0) (i32.const 1))))"#,
        )
        .unwrap(),
    );
    let (h, out) = run(&vm, MemHost::default(), "t", &oob, "x", "{}", GAS);
    assert_eq!(
        out.result,
        Err(ExecError::Contract("memory access out of bounds".into()))
    );
    assert!(h.state.is_empty());
}

/// A module that calls `kv.put` with fixed arguments and returns the callee's result length.
const PROXY: &str = r#"(module
  (import "covenant" "call_contract" (func $call (param i32 i32 i32 i32 i32 i32) (result i64)))
  (import "covenant" "state_put" (func $put (param i32 i32 i32 i32)))
  (import "covenant" "set_return" (func $ret (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "kv")
  (data (i32.const 16) "put")
  (data (i32.const 32) "{\"key\":\"via\",\"value\":\"proxy\"}")
  (data (i32.const 96) "mine")
  (data (i32.const 128) "ok")
  (data (i32.const 132) "bad")
  (func (export "call")
    (call $put (i32.const 96) (i32.const 4) (i32.const 96) (i32.const 4))
    (if (i64.lt_s (call $call (i32.const 0) (i32.const 2) (i32.const 16) (i32.const 3) (i32.const 32) (i32.const 29)) (i64.const 0))
      (then (call $ret (i32.const 132) (i32.const 3)))
      (else (call $ret (i32.const 128) (i32.const 2))))))"#;

#[test]
fn nested_calls_write_in_the_callee_namespace_and_failures_roll_back() {
    let vm = Vm::new().unwrap();
    let proxy = code(wat::parse_str(PROXY).unwrap());
    let mut host = MemHost::default();
    host.contracts.insert("kv".into(), example("kv"));
    let (h, out) = run(&vm, host.clone(), "proxy", &proxy, "x", "{}", GAS);
    assert_eq!(out.result, Ok(b"ok".to_vec()));
    assert_eq!(
        h.state.get(&("kv".to_string(), b"via".to_vec())),
        Some(&b"proxy".to_vec())
    );
    assert_eq!(
        h.state.get(&("proxy".to_string(), b"mine".to_vec())),
        Some(&b"mine".to_vec())
    );

    // A callee that does not exist: the caller sees a failure and carries on.
    let (h, out) = run(&vm, MemHost::default(), "proxy", &proxy, "x", "{}", GAS);
    assert_eq!(out.result, Ok(b"bad".to_vec()));
    assert_eq!(h.state.len(), 1);
}

#[test]
fn recursion_hits_the_depth_limit() {
    let vm = Vm::new().unwrap();
    let rec = code(
        wat::parse_str(
            r#"(module
              (import "covenant" "call_contract" (func $call (param i32 i32 i32 i32 i32 i32) (result i64)))
              (memory (export "memory") 1)
              (data (i32.const 0) "rec")
              (func (export "call") (drop (call $call (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 0)))))"#,
        )
        .unwrap(),
    );
    let mut host = MemHost::default();
    host.contracts.insert("rec".into(), rec.clone());
    let (_, out) = run(&vm, host, "rec", &rec, "x", "{}", GAS);
    assert_eq!(out.result, Err(ExecError::DepthExceeded));
}

/// Initial linear memory of a module, in 64 KiB pages (from its memory section).
fn initial_pages(wasm: &[u8]) -> Option<u64> {
    fn leb(b: &[u8], i: &mut usize) -> Option<u64> {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let byte = *b.get(*i)?;
            *i += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Some(v);
            }
            shift += 7;
        }
    }
    let mut i = 8;
    while i < wasm.len() {
        let id = wasm[i];
        i += 1;
        let size = leb(wasm, &mut i)? as usize;
        if id == 5 {
            let mut j = i;
            let _count = leb(wasm, &mut j)?;
            j += 1; // limits flag
            return leb(wasm, &mut j);
        }
        i += size;
    }
    None
}

#[test]
fn example_contracts_start_with_a_small_memory() {
    // Every call instantiates the module and zeroes its initial memory: the contract build
    // links a 128 KiB stack instead of the toolchain's 1 MiB, so that stays a few pages.
    let stack_pages = u64::from(covenant_deploy::contract_build::CONTRACT_STACK_BYTES) / 65536;
    for name in ["kv", "token", "evidence"] {
        let c = example(name);
        let pages = initial_pages(&c.code).expect("a memory section");
        assert!(
            pages >= stack_pages && pages <= stack_pages + 2,
            "{name} starts with {pages} pages"
        );
    }
}

#[test]
fn long_loops_over_many_instruction_kinds_run_in_a_small_native_stack() {
    // The interpreter dispatches by tail calls: a long-running contract must not grow the
    // node's native stack. Millions of instructions of many kinds on a 256 KiB thread stack
    // would overflow it (and abort the test) if any of them did.
    let busy = code(
        wat::parse_str(
            r#"(module
              (memory (export "memory") 1)
              (global $g (mut i64) (i64.const 1))
              (table 2 funcref)
              (elem (i32.const 0) $inc $dec)
              (type $t (func (param i32) (result i32)))
              (func $inc (type $t) (i32.add (local.get 0) (i32.const 1)))
              (func $dec (type $t) (i32.sub (local.get 0) (i32.const 1)))
              (func (export "call") (local $i i32) (local $x i64) (local $y i32)
                (loop $top
                  (local.set $i (i32.add (local.get $i) (i32.const 1)))
                  (i32.store (i32.and (i32.mul (local.get $i) (i32.const 4)) (i32.const 4092))
                    (i32.xor (local.get $i) (i32.const 0x5a5a)))
                  (local.set $y (i32.load (i32.and (i32.shl (local.get $i) (i32.const 2)) (i32.const 4092))))
                  (i64.store8 (i32.const 8) (i64.extend_i32_u (local.get $y)))
                  (local.set $x (i64.add (i64.load8_u (i32.const 8)) (global.get $g)))
                  (global.set $g (i64.rotl (i64.mul (local.get $x) (i64.const 3)) (i64.const 7)))
                  (local.set $y (select (local.get $y) (i32.clz (local.get $i))
                    (i32.lt_u (local.get $i) (i32.const 500))))
                  (local.set $y (call $inc (local.get $y)))
                  (local.set $y (call_indirect (type $t) (local.get $y)
                    (i32.and (local.get $i) (i32.const 1))))
                  (drop (i32.div_u (local.get $y) (i32.or (local.get $i) (i32.const 1))))
                  (drop (i64.rem_s (global.get $g) (i64.const 1000003)))
                  (drop (memory.size))
                  (if (i32.eqz (i32.and (local.get $i) (i32.const 255)))
                    (then (local.set $x (i64.popcnt (local.get $x))))
                    (else (local.set $x (i64.ctz (local.get $x)))))
                  (block $out
                    (br_table $out $out (i32.and (local.get $i) (i32.const 1))))
                  (br_if $top (i32.lt_u (local.get $i) (i32.const 200000)))))
            )"#,
        )
        .unwrap(),
    );
    let outcome = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let vm = Vm::new().unwrap();
            run(&vm, MemHost::default(), "t", &busy, "x", "{}", 200_000_000).1
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(outcome.result, Ok(Vec::new()), "{outcome:?}");
    assert!(outcome.gas_used > 5_000_000, "{}", outcome.gas_used);
}

#[test]
fn inspection_lists_every_finding_with_where_it_is() {
    let vm = Vm::new().unwrap();
    // The example contracts pass, declaring what they import and export.
    for name in ["kv", "token", "evidence"] {
        let report = vm.inspect(&covenant_test_utils::contracts::example_bytes(name));
        assert!(report.ok(), "{name}: {:?}", report.findings);
        assert!(report.exports.iter().any(|e| e == "call"), "{name}");
        assert!(report.imports.iter().any(|i| i == "set_return"), "{name}");
    }
    // One module, many problems: each is found, with its function by name.
    let bad = wat::parse_str(
        r#"(module
            (import "env" "abort" (func))
            (import "covenant" "nope" (func))
            (import "covenant" "state_get" (func (param i32) (result i64)))
            (memory 600)
            (func $average (export "average") (result f64) (f64.div (f64.const 1) (f64.const 2)))
            (func $lanes (drop (i32x4.splat (i32.const 1))))
            (start $lanes))"#,
    )
    .unwrap();
    let report = vm.inspect(&bad);
    assert!(!report.ok());
    let rules: Vec<&str> = report.findings.iter().map(|f| f.rule).collect();
    for rule in [
        "import-outside-host-api",
        "import-signature",
        "float",
        "simd",
        "memory",
        "exports",
        "start-function",
    ] {
        assert!(
            rules.contains(&rule),
            "{rule} missing from {:?}",
            report.findings
        );
    }
    let float = report.findings.iter().find(|f| f.rule == "float").unwrap();
    assert_eq!(float.severity, covenant_vm::Severity::Error);
    let at = float.location.as_deref().unwrap();
    assert!(at.contains("`average`") && at.contains("byte 0x"), "{at}");
    // Errors come first.
    assert_eq!(report.findings[0].severity, covenant_vm::Severity::Error);
    assert_eq!(
        report.findings.last().unwrap().severity,
        covenant_vm::Severity::Warning
    );
    // A module that does not decode is one finding with its offset, not a failure.
    let report = vm.inspect(b"\0asm\x01\0\0\0\x01\xff");
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].rule, "decode");
    assert!(
        report.findings[0]
            .location
            .as_deref()
            .unwrap()
            .starts_with("byte 0x")
    );
    assert_eq!(vm.inspect(b"not wasm").findings[0].rule, "decode");
    // Whatever the engine refuses is never reported as fine.
    for text in [
        r#"(module (memory (export "memory") 1) (func (export "call") (drop (f64.add (f64.const 1) (f64.const 2)))))"#,
        r#"(module (func (export "call")))"#,
    ] {
        let wasm = wat::parse_str(text).unwrap();
        assert!(vm.validate(&wasm).is_err());
        assert!(!vm.inspect(&wasm).ok(), "{text}");
    }
}

/// Found by the `contract_module` fuzz target: a module declaring a 64-bit memory of 2^64 - 1
/// initial pages overflowed the byte count the finding quotes. It is refused with a finding.
#[test]
fn a_memory_of_absurd_size_is_a_finding_not_an_overflow() {
    let vm = Vm::new().unwrap();
    let module = wat::parse_str(
        r#"(module (memory (export "memory") i64 18446744073709551615) (func (export "call")))"#,
    )
    .unwrap();
    let report = vm.inspect(&module);
    let memory = report
        .findings
        .iter()
        .find(|f| f.rule == "memory" && f.message.contains("over the VM's limit"))
        .expect("a memory finding");
    assert!(
        memory.message.contains(&u64::MAX.to_string()),
        "{}",
        memory.message
    );
    assert!(vm.validate(&module).is_err());
}

/// Found by the `contract_module` fuzz target: a function body with operators after its final
/// `end` reached an assertion in the engine's translator. It is refused as invalid.
#[test]
fn operators_after_a_functions_end_are_refused() {
    let vm = Vm::new().unwrap();
    let module: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03,
        0x02, 0x01, 0x00, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x11, 0x02, 0x06, 0x36, 0x65, 0x6d,
        0x6f, 0x72, 0x79, 0x02, 0x00, 0x04, 0x45, 0x61, 0x6c, 0x6c, 0x00, 0x00, 0x0a, 0x18, 0x01,
        0x16, 0x00, 0x00, 0x0b, 0x01, 0x00, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x11, 0x02, 0x06,
        0x36, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x1a, 0x0b,
    ];
    let err = vm.validate(module).unwrap_err();
    assert_eq!(err.code(), "CONTRACT_INVALID");
    assert_eq!(
        vm.inspect(module).findings[0].severity,
        covenant_vm::Severity::Error
    );
}
