//! One contract call on the runtime, host state in memory: what a transaction's execution
//! costs before storage and consensus. Contracts are the examples in `contracts/`, built with
//! the SDK's builder (the first run compiles them).
//!
//! ```sh
//! cargo bench -p covenant-vm --bench contracts
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::HashMap, sync::Arc};

use covenant_vm::{Call, ContractCode, Host, Vm};
use criterion::{Criterion, criterion_group, criterion_main};

#[derive(Default)]
struct MemHost {
    state: HashMap<(String, Vec<u8>), Vec<u8>>,
    caller: String,
}

impl Host for MemHost {
    fn get(&mut self, contract: &str, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        Ok(self
            .state
            .get(&(contract.to_string(), key.to_vec()))
            .cloned())
    }
    fn put(&mut self, contract: &str, key: &[u8], value: &[u8]) -> Result<(), String> {
        self.state
            .insert((contract.to_string(), key.to_vec()), value.to_vec());
        Ok(())
    }
    fn delete(&mut self, contract: &str, key: &[u8]) -> Result<(), String> {
        self.state.remove(&(contract.to_string(), key.to_vec()));
        Ok(())
    }
    fn range(
        &mut self,
        _contract: &str,
        _start: &[u8],
        _end: &[u8],
        _limit: u32,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, String> {
        Ok(Vec::new())
    }
    fn emit(&mut self, _contract: &str, _topic: &str, _data: &[u8]) -> Result<(), String> {
        Ok(())
    }
    fn caller_json(&self, calling: Option<&str>) -> Vec<u8> {
        format!(
            r#"{{"org":"org1","role":"client","cert_id":"{}","name":"bench-0","contract":{}}}"#,
            self.caller,
            calling.map_or("null".to_string(), |c| format!("\"{c}\""))
        )
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
        Err(format!("no contract {contract}"))
    }
    fn savepoint(&mut self) -> usize {
        0
    }
    fn rollback(&mut self, _savepoint: usize) {}
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
        self
    }
}

fn example(name: &str) -> ContractCode {
    let code = covenant_test_utils::contracts::example_bytes(name);
    let mut hash = [0u8; 32];
    hash[..name.len()].copy_from_slice(name.as_bytes());
    ContractCode {
        hash,
        code: Arc::new(code),
    }
}

const GAS: u64 = 10_000_000;

fn call<'a>(contract: &'a str, code: &'a ContractCode, method: &'a str, args: &'a str) -> Call<'a> {
    Call {
        contract,
        code,
        method,
        args: args.as_bytes(),
        gas_limit: GAS,
    }
}

fn bench(c: &mut Criterion) {
    let vm = Vm::new().unwrap();
    let token = example("token");
    let kv = example("kv");
    let alice = "a".repeat(64);
    let bob = "b".repeat(64);
    let mut host: Box<dyn Host> = Box::new(MemHost {
        caller: alice.clone(),
        ..Default::default()
    });
    let mint = format!(r#"{{"to":"{alice}","amount":1000000000000}}"#);
    let (h, out) = vm.execute(host, &call("token", &token, "mint", &mint));
    assert!(out.result.is_ok(), "{:?}", out.result);
    host = h;

    let mut g = c.benchmark_group("contract");
    let transfer = format!(r#"{{"to":"{bob}","amount":1}}"#);
    g.bench_function("token.transfer", |b| {
        b.iter_batched(
            || (),
            |()| {
                let h = std::mem::replace(&mut host, Box::new(MemHost::default()));
                let (h, out) = vm.execute(h, &call("token", &token, "transfer", &transfer));
                assert!(out.result.is_ok(), "{:?}", out.result);
                host = h;
            },
            criterion::BatchSize::SmallInput,
        )
    });
    let balance = format!(r#"{{"owner":"{alice}"}}"#);
    g.bench_function("token.balance", |b| {
        b.iter(|| {
            let h = std::mem::replace(&mut host, Box::new(MemHost::default()));
            let (h, out) = vm.execute(h, &call("token", &token, "balance", &balance));
            assert!(out.result.is_ok(), "{:?}", out.result);
            host = h;
        })
    });
    let put = r#"{"key":"bench/key","value":"value-0000000000000001"}"#;
    g.bench_function("kv.put", |b| {
        b.iter(|| {
            let h = std::mem::replace(&mut host, Box::new(MemHost::default()));
            let (h, out) = vm.execute(h, &call("kv", &kv, "put", put));
            assert!(out.result.is_ok(), "{:?}", out.result);
            host = h;
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
