//! The SDK for Covenant smart contracts.
//!
//! A contract is a Rust library compiled to `wasm32-unknown-unknown` (`crate-type = ["cdylib"]`).
//! Declare its methods with [`contract!`]; each method takes a [`Context`] and arguments that
//! deserialize from the transaction's JSON object, and returns a value serialized back as JSON:
//!
//! ```
//! use covenant_contract::{Context, Error, contract};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Put { key: String, value: String }
//!
//! fn put(ctx: &mut Context, a: Put) -> Result<(), Error> {
//!     ctx.put(a.key.as_bytes(), a.value.as_bytes());
//!     ctx.emit("put", &a.key);
//!     Ok(())
//! }
//!
//! #[derive(Deserialize)]
//! struct Get { key: String }
//!
//! fn get(ctx: &mut Context, a: Get) -> Result<Option<String>, Error> {
//!     Ok(ctx.get_string(a.key.as_bytes()))
//! }
//!
//! contract! {
//!     "put" => put,
//!     "get" => get,
//! }
//! ```
//!
//! State keys live in the contract's own namespace. Execution is metered: every instruction
//! and host call costs gas, and a failed call (an `Err`, a panic, running out of gas) leaves
//! state untouched. Floating-point code is rejected when the contract is installed, because
//! every node must compute the same result.
//!
//! On wasm32 a contract crate is `#![no_std]` (with `alloc`): the SDK supplies the allocator
//! and the panic handler (a panic fails the call). Arguments and return values use the SDK's
//! float-free [`json`] codec.
//!
//! Off-chain (any target other than wasm32) the host is an in-memory mock, so contracts can be
//! unit-tested with plain `cargo test`; see `testing`.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

#[allow(unsafe_code)]
mod abi;
#[allow(unsafe_code)]
mod host;
pub mod json;
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod runtime;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

use alloc::{string::String, vec::Vec};

pub use serde;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// A failed call: the transaction fails with this message and its writes are discarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl Error {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Error(message.into())
    }
}

impl From<&str> for Error {
    fn from(s: &str) -> Self {
        Error(s.into())
    }
}

impl From<String> for Error {
    fn from(s: String) -> Self {
        Error(s)
    }
}

/// Who sent the transaction being executed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Caller {
    /// The sender's org.
    pub org: String,
    /// The sender's role: `admin`, `client` or `node`.
    pub role: String,
    /// Hex of the suite hash of the sender's certificate: a stable account id.
    pub cert_id: String,
    /// The sender's certificate common name.
    pub name: String,
    /// The contract that made this call, when one contract calls another.
    #[serde(default)]
    pub contract: Option<String>,
}

/// The execution context of one call: state, events, caller and block.
#[derive(Debug)]
pub struct Context {
    _private: (),
}

impl Context {
    #[doc(hidden)]
    pub fn new_for_dispatch() -> Self {
        Context { _private: () }
    }

    /// The value stored under `key`, if any.
    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        host::state_get(key)
    }

    /// The value under `key` as UTF-8 text, if any (invalid UTF-8 counts as absent).
    pub fn get_string(&self, key: &[u8]) -> Option<String> {
        self.get(key).and_then(|v| String::from_utf8(v).ok())
    }

    /// The value under `key` decoded from JSON.
    pub fn get_json<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => json::from_slice(&v)
                .map(Some)
                .map_err(|e| Error(alloc::format!("stored value does not decode: {e}"))),
        }
    }

    /// Store `value` under `key`.
    pub fn put(&mut self, key: &[u8], value: &[u8]) {
        host::state_put(key, value)
    }

    /// Store `value` as JSON under `key`.
    pub fn put_json<T: Serialize>(&mut self, key: &[u8], value: &T) -> Result<(), Error> {
        let v = json::to_vec(value).map_err(|e| Error(alloc::format!("{e}")))?;
        self.put(key, &v);
        Ok(())
    }

    /// Remove `key`.
    pub fn delete(&mut self, key: &[u8]) {
        host::state_delete(key)
    }

    /// Up to `limit` entries with `start <= key < end`, in key order (empty `end`: no bound).
    pub fn range(&self, start: &[u8], end: &[u8], limit: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
        host::state_range(start, end, limit)
    }

    /// Up to `limit` entries whose key starts with `prefix`, in key order.
    pub fn prefix(&self, prefix: &[u8], limit: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
        let end = prefix_end(prefix);
        self.range(prefix, &end, limit)
    }

    /// Emit an event with `topic` and a JSON body.
    pub fn emit<T: Serialize + ?Sized>(&mut self, topic: &str, data: &T) {
        let body = json::to_vec(data).unwrap_or_default();
        host::emit_event(topic.as_bytes(), &body)
    }

    /// Who sent the transaction.
    pub fn caller(&self) -> Caller {
        host::caller()
    }

    /// The id of the transaction being executed (32 bytes).
    pub fn tx_id(&self) -> [u8; 32] {
        host::tx_id()
    }

    /// Height of the block being built.
    pub fn block_height(&self) -> u64 {
        host::block_height()
    }

    /// Timestamp of the block being built, in milliseconds since the Unix epoch.
    pub fn block_time_ms(&self) -> u64 {
        host::block_time_ms()
    }

    /// Call `method` of another contract with JSON arguments; returns its JSON return value.
    /// The callee sees this contract as [`Caller::contract`].
    pub fn call<A: Serialize, R: DeserializeOwned>(
        &mut self,
        contract: &str,
        method: &str,
        args: &A,
    ) -> Result<R, Error> {
        let a = json::to_vec(args).map_err(|e| Error(alloc::format!("{e}")))?;
        let out = host::call_contract(contract, method, &a)?;
        json::from_slice(&out).map_err(|e| Error(alloc::format!("return value: {e}")))
    }
}

/// The smallest key greater than every key starting with `prefix` (empty: unbounded).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    Vec::new()
}

/// Decode `args`, run `f`, encode its result. Used by [`contract!`].
#[doc(hidden)]
pub fn handle<A, R>(
    ctx: &mut Context,
    args: &[u8],
    f: fn(&mut Context, A) -> Result<R, Error>,
) -> Result<Vec<u8>, Error>
where
    A: DeserializeOwned,
    R: Serialize,
{
    let args = if args.is_empty() { &b"{}"[..] } else { args };
    let a: A = json::from_slice(args).map_err(|e| Error(alloc::format!("bad arguments: {e}")))?;
    let r = f(ctx, a)?;
    json::to_vec(&r).map_err(|e| Error(alloc::format!("{e}")))
}

/// A contract's method table as [`contract!`] generates it.
#[doc(hidden)]
pub type Router = fn(&mut Context, &str, &[u8]) -> Result<Vec<u8>, Error>;

/// Entry point used by [`contract!`]: read the call, dispatch, deliver the result.
#[doc(hidden)]
pub fn dispatch(route: Router) {
    let method = host::method();
    let args = host::args();
    let mut ctx = Context::new_for_dispatch();
    match route(&mut ctx, &method, &args) {
        Ok(out) => host::set_return(&out),
        Err(e) => host::fail(&e.0),
    }
}

/// Declare a contract's methods: `"name" => function`. Each function has the shape
/// `fn(&mut Context, Args) -> Result<Ret, Error>` with `Args: Deserialize` and `Ret: Serialize`.
/// Unknown methods fail with `unknown method`.
#[macro_export]
macro_rules! contract {
    ($($name:literal => $func:path),* $(,)?) => {
        fn __covenant_route(
            ctx: &mut $crate::Context,
            method: &str,
            args: &[u8],
        ) -> ::core::result::Result<$crate::__Vec<u8>, $crate::Error> {
            match method {
                $($name => $crate::handle(ctx, args, $func),)*
                other => ::core::result::Result::Err($crate::Error::new(
                    $crate::__format!("unknown method {other:?}"),
                )),
            }
        }

        /// The entry point the host calls.
        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        pub extern "C" fn call() {
            $crate::dispatch(__covenant_route);
        }

        /// Run a call against the in-memory test host (off-chain only).
        #[cfg(not(target_arch = "wasm32"))]
        #[allow(dead_code)]
        pub fn __covenant_call(method: &str, args: &[u8]) -> ::core::result::Result<$crate::__Vec<u8>, $crate::Error> {
            let mut ctx = $crate::Context::new_for_dispatch();
            __covenant_route(&mut ctx, method, args)
        }
    };
}

#[doc(hidden)]
pub use alloc::format as __format;
#[doc(hidden)]
pub use alloc::vec::Vec as __Vec;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"ab"), b"ac".to_vec());
        assert_eq!(prefix_end(&[1, 0xff]), alloc::vec![2]);
        assert_eq!(prefix_end(&[0xff, 0xff]), Vec::<u8>::new());
    }
}
