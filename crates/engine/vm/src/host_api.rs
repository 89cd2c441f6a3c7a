//! The `covenant` host module: the functions a contract imports.

use wasmi::{Caller, Error, Linker, ValType};

use crate::{Call, ContractCode, ExecError, Host, StoreData};

/// Failure message marking a call-depth overflow (turned into [`ExecError::DepthExceeded`]).
pub(crate) const DEPTH_EXCEEDED: &str = "\u{0}call depth exceeded";

use ValType::{I32, I64};

/// Every host function: name, parameter types, result types. The validator checks imports
/// against this table.
pub(crate) const IMPORTS: &[(&str, &[ValType], &[ValType])] = &[
    ("method_len", &[], &[I32]),
    ("method_read", &[I32], &[]),
    ("args_len", &[], &[I32]),
    ("args_read", &[I32], &[]),
    ("buffer_read", &[I32], &[]),
    ("state_get", &[I32, I32], &[I64]),
    ("state_put", &[I32, I32, I32, I32], &[]),
    ("state_delete", &[I32, I32], &[]),
    ("state_range", &[I32, I32, I32, I32, I32], &[I64]),
    ("emit_event", &[I32, I32, I32, I32], &[]),
    ("caller", &[], &[I64]),
    ("tx_id", &[I32], &[]),
    ("block_height", &[], &[I64]),
    ("block_time_ms", &[], &[I64]),
    ("call_contract", &[I32, I32, I32, I32, I32, I32], &[I64]),
    ("set_return", &[I32, I32], &[]),
    ("fail", &[I32, I32], &[]),
];

type Ctx<'a> = Caller<'a, StoreData>;

/// Take `amount` gas from the remaining fuel, or trap as out of gas.
fn charge(caller: &mut Ctx<'_>, amount: u64) -> Result<(), Error> {
    let fuel = caller.get_fuel()?;
    if fuel < amount {
        caller.set_fuel(0)?;
        caller.data_mut().out_of_gas = true;
        return Err(Error::new("out of gas"));
    }
    caller.set_fuel(fuel - amount)?;
    Ok(())
}

fn fail(caller: &mut Ctx<'_>, msg: impl Into<String>) -> Error {
    let msg = msg.into();
    let e = Error::new(msg.clone());
    caller.data_mut().failure.get_or_insert(msg);
    e
}

fn length(caller: &mut Ctx<'_>, len: i32) -> Result<usize, Error> {
    let max = caller.data().vm.limits().max_item_bytes;
    match usize::try_from(len) {
        Ok(l) if l <= max => Ok(l),
        _ => Err(fail(
            caller,
            format!("length {len} out of range (limit {max} bytes)"),
        )),
    }
}

fn read(caller: &mut Ctx<'_>, ptr: i32, len: i32) -> Result<Vec<u8>, Error> {
    let len = length(caller, len)?;
    let copy = caller.data().vm.gas().copy_byte * len as u64;
    charge(caller, copy)?;
    let memory = caller
        .data()
        .memory
        .ok_or_else(|| Error::new("contract exports no memory"))?;
    let mut buf = vec![0u8; len];
    memory
        .read(&*caller, ptr as u32 as usize, &mut buf)
        .map_err(|_| fail(caller, "memory access out of bounds"))?;
    Ok(buf)
}

fn write(caller: &mut Ctx<'_>, ptr: i32, data: &[u8]) -> Result<(), Error> {
    let copy = caller.data().vm.gas().copy_byte * data.len() as u64;
    charge(caller, copy)?;
    let memory = caller
        .data()
        .memory
        .ok_or_else(|| Error::new("contract exports no memory"))?;
    memory
        .write(&mut *caller, ptr as u32 as usize, data)
        .map_err(|_| fail(caller, "memory access out of bounds"))
}

fn host_call(caller: &mut Ctx<'_>) -> Result<(), Error> {
    let cost = caller.data().vm.gas().host_call;
    charge(caller, cost)
}

fn utf8(caller: &mut Ctx<'_>, bytes: Vec<u8>, what: &str) -> Result<String, Error> {
    String::from_utf8(bytes).map_err(|_| fail(caller, format!("{what} is not UTF-8")))
}

/// Put `data` in the transfer buffer and return its length.
fn to_buffer(caller: &mut Ctx<'_>, data: Vec<u8>) -> i64 {
    let len = data.len() as i64;
    caller.data_mut().buffer = data;
    len
}

fn host_err(caller: &mut Ctx<'_>, e: String) -> Error {
    fail(caller, e)
}

/// Register every host function on `linker`.
pub(crate) fn define(linker: &mut Linker<StoreData>) -> Result<(), wasmi::Error> {
    const M: &str = "covenant";

    linker.func_wrap(M, "method_len", |mut c: Ctx<'_>| -> Result<i32, Error> {
        host_call(&mut c)?;
        Ok(c.data().method.len() as i32)
    })?;
    linker.func_wrap(
        M,
        "method_read",
        |mut c: Ctx<'_>, ptr: i32| -> Result<(), Error> {
            host_call(&mut c)?;
            let m = c.data().method.clone();
            write(&mut c, ptr, &m)
        },
    )?;
    linker.func_wrap(M, "args_len", |mut c: Ctx<'_>| -> Result<i32, Error> {
        host_call(&mut c)?;
        Ok(c.data().args.len() as i32)
    })?;
    linker.func_wrap(
        M,
        "args_read",
        |mut c: Ctx<'_>, ptr: i32| -> Result<(), Error> {
            host_call(&mut c)?;
            let a = c.data().args.clone();
            write(&mut c, ptr, &a)
        },
    )?;
    linker.func_wrap(
        M,
        "buffer_read",
        |mut c: Ctx<'_>, ptr: i32| -> Result<(), Error> {
            host_call(&mut c)?;
            let b = std::mem::take(&mut c.data_mut().buffer);
            write(&mut c, ptr, &b)
        },
    )?;
    linker.func_wrap(
        M,
        "state_get",
        |mut c: Ctx<'_>, kp: i32, kl: i32| -> Result<i64, Error> {
            host_call(&mut c)?;
            let key = read(&mut c, kp, kl)?;
            let contract = c.data().contract.clone();
            let value = c.data_mut().host.get(&contract, &key);
            let value = value.map_err(|e| host_err(&mut c, e))?;
            let per_byte = c.data().vm.gas().read_byte;
            let n = key.len() + value.as_ref().map_or(0, Vec::len);
            charge(&mut c, per_byte * n as u64)?;
            Ok(match value {
                Some(v) => to_buffer(&mut c, v),
                None => -1,
            })
        },
    )?;
    linker.func_wrap(
        M,
        "state_put",
        |mut c: Ctx<'_>, kp: i32, kl: i32, vp: i32, vl: i32| -> Result<(), Error> {
            host_call(&mut c)?;
            let key = read(&mut c, kp, kl)?;
            let value = read(&mut c, vp, vl)?;
            let per_byte = c.data().vm.gas().write_byte;
            charge(&mut c, per_byte * (key.len() + value.len()) as u64)?;
            let contract = c.data().contract.clone();
            let r = c.data_mut().host.put(&contract, &key, &value);
            r.map_err(|e| host_err(&mut c, e))
        },
    )?;
    linker.func_wrap(
        M,
        "state_delete",
        |mut c: Ctx<'_>, kp: i32, kl: i32| -> Result<(), Error> {
            host_call(&mut c)?;
            let key = read(&mut c, kp, kl)?;
            let per_byte = c.data().vm.gas().write_byte;
            charge(&mut c, per_byte * key.len() as u64)?;
            let contract = c.data().contract.clone();
            let r = c.data_mut().host.delete(&contract, &key);
            r.map_err(|e| host_err(&mut c, e))
        },
    )?;
    linker.func_wrap(
        M,
        "state_range",
        |mut c: Ctx<'_>, sp: i32, sl: i32, ep: i32, el: i32, limit: i32| -> Result<i64, Error> {
            host_call(&mut c)?;
            let start = read(&mut c, sp, sl)?;
            let end = read(&mut c, ep, el)?;
            let max = c.data().vm.limits().max_range_entries;
            let limit = (limit.max(0) as u32).min(max);
            let contract = c.data().contract.clone();
            let entries = c.data_mut().host.range(&contract, &start, &end, limit);
            let entries = entries.map_err(|e| host_err(&mut c, e))?;
            let gas = *c.data().vm.gas();
            let bytes: usize = entries.iter().map(|(k, v)| k.len() + v.len()).sum();
            charge(
                &mut c,
                gas.range_entry * entries.len() as u64 + gas.read_byte * bytes as u64,
            )?;
            let mut out = Vec::with_capacity(bytes + 8 * entries.len());
            for (k, v) in &entries {
                out.extend_from_slice(&(k.len() as u32).to_le_bytes());
                out.extend_from_slice(k);
                out.extend_from_slice(&(v.len() as u32).to_le_bytes());
                out.extend_from_slice(v);
            }
            Ok(to_buffer(&mut c, out))
        },
    )?;
    linker.func_wrap(
        M,
        "emit_event",
        |mut c: Ctx<'_>, tp: i32, tl: i32, dp: i32, dl: i32| -> Result<(), Error> {
            host_call(&mut c)?;
            let topic = read(&mut c, tp, tl)?;
            let topic = utf8(&mut c, topic, "event topic")?;
            let data = read(&mut c, dp, dl)?;
            let per_byte = c.data().vm.gas().event_byte;
            charge(&mut c, per_byte * (topic.len() + data.len()) as u64)?;
            let contract = c.data().contract.clone();
            let r = c.data_mut().host.emit(&contract, &topic, &data);
            r.map_err(|e| host_err(&mut c, e))
        },
    )?;
    linker.func_wrap(M, "caller", |mut c: Ctx<'_>| -> Result<i64, Error> {
        host_call(&mut c)?;
        let calling = c.data().calling_contract.clone();
        let json = c.data().host.caller_json(calling.as_deref());
        Ok(to_buffer(&mut c, json))
    })?;
    linker.func_wrap(
        M,
        "tx_id",
        |mut c: Ctx<'_>, ptr: i32| -> Result<(), Error> {
            host_call(&mut c)?;
            let id = c.data().host.tx_id();
            write(&mut c, ptr, &id)
        },
    )?;
    linker.func_wrap(M, "block_height", |mut c: Ctx<'_>| -> Result<i64, Error> {
        host_call(&mut c)?;
        Ok(c.data().host.block_height() as i64)
    })?;
    linker.func_wrap(M, "block_time_ms", |mut c: Ctx<'_>| -> Result<i64, Error> {
        host_call(&mut c)?;
        Ok(c.data().host.block_time_ms() as i64)
    })?;
    linker.func_wrap(
        M,
        "call_contract",
        |mut c: Ctx<'_>,
         np: i32,
         nl: i32,
         mp: i32,
         ml: i32,
         ap: i32,
         al: i32|
         -> Result<i64, Error> {
            host_call(&mut c)?;
            let name = read(&mut c, np, nl)?;
            let name = utf8(&mut c, name, "contract name")?;
            let method = read(&mut c, mp, ml)?;
            let method = utf8(&mut c, method, "method name")?;
            let args = read(&mut c, ap, al)?;
            call_contract(&mut c, &name, &method, &args)
        },
    )?;
    linker.func_wrap(
        M,
        "set_return",
        |mut c: Ctx<'_>, ptr: i32, len: i32| -> Result<(), Error> {
            host_call(&mut c)?;
            let data = read(&mut c, ptr, len)?;
            c.data_mut().return_data = Some(data);
            Ok(())
        },
    )?;
    linker.func_wrap(
        M,
        "fail",
        |mut c: Ctx<'_>, ptr: i32, len: i32| -> Result<(), Error> {
            host_call(&mut c)?;
            let msg = read(&mut c, ptr, len)?;
            let msg = String::from_utf8_lossy(&msg).into_owned();
            Err(fail(&mut c, msg))
        },
    )?;
    Ok(())
}

/// A placeholder host while the real one runs a nested call.
struct Lent;

impl Host for Lent {
    fn get(&mut self, _: &str, _: &[u8]) -> Result<Option<Vec<u8>>, String> {
        Err("host is busy".into())
    }
    fn put(&mut self, _: &str, _: &[u8], _: &[u8]) -> Result<(), String> {
        Err("host is busy".into())
    }
    fn delete(&mut self, _: &str, _: &[u8]) -> Result<(), String> {
        Err("host is busy".into())
    }
    fn range(
        &mut self,
        _: &str,
        _: &[u8],
        _: &[u8],
        _: u32,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, String> {
        Err("host is busy".into())
    }
    fn emit(&mut self, _: &str, _: &str, _: &[u8]) -> Result<(), String> {
        Err("host is busy".into())
    }
    fn caller_json(&self, _: Option<&str>) -> Vec<u8> {
        Vec::new()
    }
    fn tx_id(&self) -> [u8; 32] {
        [0; 32]
    }
    fn block_height(&self) -> u64 {
        0
    }
    fn block_time_ms(&self) -> u64 {
        0
    }
    fn resolve(&mut self, _: &str) -> Result<ContractCode, String> {
        Err("host is busy".into())
    }
    fn savepoint(&mut self) -> usize {
        0
    }
    fn rollback(&mut self, _: usize) {}
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
        self
    }
}

/// Run a nested call; its failure is reported to the calling contract (negative length with
/// the message in the buffer) after its writes are undone, except out-of-gas and depth
/// overflow, which fail the whole transaction.
fn call_contract(c: &mut Ctx<'_>, name: &str, method: &str, args: &[u8]) -> Result<i64, Error> {
    let depth = c.data().depth;
    if depth + 1 >= c.data().vm.limits().max_call_depth {
        return Err(fail(c, DEPTH_EXCEEDED));
    }
    let code = match c.data_mut().host.resolve(name) {
        Ok(code) => code,
        Err(msg) => {
            let len = to_buffer(c, msg.into_bytes());
            return Ok(-(len + 1));
        }
    };
    let fuel = c.get_fuel()?;
    let data = c.data_mut();
    let savepoint = data.host.savepoint();
    let host = std::mem::replace(&mut data.host, Box::new(Lent));
    let vm = data.vm.clone();
    let me = data.contract.clone();
    let call = Call {
        contract: name,
        code: &code,
        method,
        args,
        gas_limit: fuel,
    };
    let (host, outcome) = vm.execute_at(host, &call, Some(me), depth + 1);
    c.data_mut().host = host;
    c.set_fuel(fuel.saturating_sub(outcome.gas_used))?;
    match outcome.result {
        Ok(ret) => Ok(to_buffer(c, ret)),
        Err(ExecError::OutOfGas) => {
            c.data_mut().out_of_gas = true;
            Err(Error::new("out of gas"))
        }
        Err(ExecError::DepthExceeded) => Err(fail(c, DEPTH_EXCEEDED)),
        Err(e) => {
            c.data_mut().host.rollback(savepoint);
            let len = to_buffer(c, e.to_string().into_bytes());
            Ok(-(len + 1))
        }
    }
}
