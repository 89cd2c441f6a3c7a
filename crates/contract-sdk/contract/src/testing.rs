//! Off-chain testing of contracts: an in-memory host with the chain's semantics (a failed call
//! leaves state untouched).
//!
//! ```
//! use covenant_contract::{Context, Error, contract, testing};
//!
//! fn bump(ctx: &mut Context, _: ()) -> Result<u64, Error> {
//!     let n: u64 = ctx.get_json(b"n")?.unwrap_or(0) + 1;
//!     ctx.put_json(b"n", &n)?;
//!     Ok(n)
//! }
//! contract! { "bump" => bump }
//!
//! testing::reset();
//! assert_eq!(testing::call(__covenant_call, "bump", "null").unwrap(), "1");
//! assert_eq!(testing::call(__covenant_call, "bump", "null").unwrap(), "2");
//! ```

use std::{
    cell::RefCell,
    collections::{BTreeMap, HashMap},
    string::String,
    vec::Vec,
};

use crate::{Caller, Error};

/// A contract's entry point as the `contract!` macro generates it off-chain.
pub type Route = fn(&str, &[u8]) -> Result<Vec<u8>, Error>;

#[derive(Default)]
struct Frame {
    contract: String,
    method: String,
    args: Vec<u8>,
}

#[derive(Default)]
struct Mock {
    /// (contract, key) -> value
    state: BTreeMap<(String, Vec<u8>), Vec<u8>>,
    events: Vec<(String, String, Vec<u8>)>,
    caller: Caller,
    height: u64,
    time_ms: u64,
    tx_id: [u8; 32],
    contracts: HashMap<String, Route>,
    stack: Vec<Frame>,
}

thread_local! {
    static MOCK: RefCell<Mock> = RefCell::new(Mock {
        caller: Caller {
            org: "org1".into(),
            role: "client".into(),
            cert_id: "00".repeat(32),
            name: "tester".into(),
            contract: None,
        },
        height: 1,
        time_ms: 1_700_000_000_000,
        ..Default::default()
    });
}

/// Forget all state, events and registered contracts; restore the default caller.
pub fn reset() {
    MOCK.with(|m| {
        let mut m = m.borrow_mut();
        m.state.clear();
        m.events.clear();
        m.contracts.clear();
        m.stack.clear();
        m.height = 1;
        m.caller = Caller {
            org: "org1".into(),
            role: "client".into(),
            cert_id: "00".repeat(32),
            name: "tester".into(),
            contract: None,
        };
    });
}

/// Set who sends the next calls.
pub fn set_caller(caller: Caller) {
    MOCK.with(|m| m.borrow_mut().caller = caller);
}

/// Set the block height and time seen by the next calls.
pub fn set_block(height: u64, time_ms: u64) {
    MOCK.with(|m| {
        let mut m = m.borrow_mut();
        m.height = height;
        m.time_ms = time_ms;
    });
}

/// Register a contract under `name` so other contracts can call it.
pub fn register(name: &str, route: Route) {
    MOCK.with(|m| {
        m.borrow_mut().contracts.insert(name.into(), route);
    });
}

/// Events emitted so far: (contract, topic, JSON body).
pub fn events() -> Vec<(String, String, String)> {
    MOCK.with(|m| {
        m.borrow()
            .events
            .iter()
            .map(|(c, t, d)| {
                (
                    c.clone(),
                    t.clone(),
                    String::from_utf8_lossy(d).into_owned(),
                )
            })
            .collect()
    })
}

/// Call `method` of the contract behind `route` (named "contract" in state) with JSON `args`;
/// returns the JSON result. A failed call rolls back its writes and events.
pub fn call(route: Route, method: &str, args: &str) -> Result<String, Error> {
    call_as("contract", route, method, args)
}

/// As [`call`], with the contract's name in state and events given.
pub fn call_as(name: &str, route: Route, method: &str, args: &str) -> Result<String, Error> {
    let snapshot = MOCK.with(|m| {
        let mut m = m.borrow_mut();
        m.stack.push(Frame {
            contract: name.into(),
            method: method.into(),
            args: args.as_bytes().to_vec(),
        });
        (m.state.clone(), m.events.len())
    });
    let out = route(method, args.as_bytes());
    MOCK.with(|m| {
        let mut m = m.borrow_mut();
        m.stack.pop();
        if out.is_err() {
            m.state = snapshot.0;
            m.events.truncate(snapshot.1);
        }
    });
    out.map(|v| String::from_utf8_lossy(&v).into_owned())
}

pub(crate) mod mock {
    use std::{string::String, vec::Vec};

    use super::MOCK;
    use crate::{Caller, Error};

    fn current() -> String {
        MOCK.with(|m| {
            m.borrow()
                .stack
                .last()
                .map(|f| f.contract.clone())
                .unwrap_or_default()
        })
    }

    pub fn method() -> String {
        MOCK.with(|m| {
            m.borrow()
                .stack
                .last()
                .map(|f| f.method.clone())
                .unwrap_or_default()
        })
    }

    pub fn args() -> Vec<u8> {
        MOCK.with(|m| {
            m.borrow()
                .stack
                .last()
                .map(|f| f.args.clone())
                .unwrap_or_default()
        })
    }

    pub fn state_get(key: &[u8]) -> Option<Vec<u8>> {
        let c = current();
        MOCK.with(|m| m.borrow().state.get(&(c, key.to_vec())).cloned())
    }

    pub fn state_put(key: &[u8], value: &[u8]) {
        let c = current();
        MOCK.with(|m| {
            m.borrow_mut()
                .state
                .insert((c, key.to_vec()), value.to_vec());
        });
    }

    pub fn state_delete(key: &[u8]) {
        let c = current();
        MOCK.with(|m| {
            m.borrow_mut().state.remove(&(c, key.to_vec()));
        });
    }

    pub fn state_range(start: &[u8], end: &[u8], limit: u32) -> Vec<u8> {
        let c = current();
        let entries: Vec<(Vec<u8>, Vec<u8>)> = MOCK.with(|m| {
            m.borrow()
                .state
                .iter()
                .filter(|((ct, k), _)| {
                    *ct == c && k.as_slice() >= start && (end.is_empty() || k.as_slice() < end)
                })
                .take(limit as usize)
                .map(|((_, k), v)| (k.clone(), v.clone()))
                .collect()
        });
        crate::host::encode_entries(&entries)
    }

    pub fn emit_event(topic: &[u8], data: &[u8]) {
        let c = current();
        MOCK.with(|m| {
            m.borrow_mut().events.push((
                c,
                String::from_utf8_lossy(topic).into_owned(),
                data.to_vec(),
            ))
        });
    }

    pub fn caller() -> Caller {
        MOCK.with(|m| {
            let m = m.borrow();
            let mut c = m.caller.clone();
            if m.stack.len() > 1 {
                c.contract = m.stack.get(m.stack.len() - 2).map(|f| f.contract.clone());
            }
            c
        })
    }

    pub fn tx_id() -> [u8; 32] {
        MOCK.with(|m| m.borrow().tx_id)
    }

    pub fn block_height() -> u64 {
        MOCK.with(|m| m.borrow().height)
    }

    pub fn block_time_ms() -> u64 {
        MOCK.with(|m| m.borrow().time_ms)
    }

    pub fn call_contract(contract: &str, method: &str, args: &[u8]) -> Result<Vec<u8>, Error> {
        let route = MOCK
            .with(|m| m.borrow().contracts.get(contract).copied())
            .ok_or_else(|| Error(std::format!("no contract named {contract:?}")))?;
        let args = String::from_utf8_lossy(args).into_owned();
        super::call_as(contract, route, method, &args).map(String::into_bytes)
    }

    pub fn set_return(_data: &[u8]) {}

    pub fn fail(message: &str) -> ! {
        panic!("{message}")
    }
}
