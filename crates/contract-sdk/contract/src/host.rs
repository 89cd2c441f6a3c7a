//! The host, as the SDK sees it: on wasm32 the imports of module `covenant`; elsewhere the
//! in-memory mock of [`crate::testing`].

use alloc::{string::String, vec::Vec};

use crate::{Caller, Error};

#[cfg(target_arch = "wasm32")]
mod imp {
    use alloc::{string::String, vec, vec::Vec};

    use crate::{Caller, Error, abi};

    fn read_buffer(len: i64) -> Option<Vec<u8>> {
        if len < 0 {
            return None;
        }
        let mut buf = vec![0u8; len as usize];
        // SAFETY: `buf` has exactly `len` writable bytes, which the host fills.
        unsafe { abi::buffer_read(buf.as_mut_ptr()) };
        Some(buf)
    }

    pub fn method() -> String {
        // SAFETY: the host reports the length, then writes that many bytes into our buffer.
        let len = unsafe { abi::method_len() }.max(0) as usize;
        let mut buf = vec![0u8; len];
        unsafe { abi::method_read(buf.as_mut_ptr()) };
        String::from_utf8(buf).unwrap_or_default()
    }

    pub fn args() -> Vec<u8> {
        // SAFETY: as for `method`.
        let len = unsafe { abi::args_len() }.max(0) as usize;
        let mut buf = vec![0u8; len];
        unsafe { abi::args_read(buf.as_mut_ptr()) };
        buf
    }

    pub fn state_get(key: &[u8]) -> Option<Vec<u8>> {
        // SAFETY: pointer and length describe `key`.
        let len = unsafe { abi::state_get(key.as_ptr(), key.len() as i32) };
        read_buffer(len)
    }

    pub fn state_put(key: &[u8], value: &[u8]) {
        // SAFETY: pointers and lengths describe `key` and `value`.
        unsafe {
            abi::state_put(
                key.as_ptr(),
                key.len() as i32,
                value.as_ptr(),
                value.len() as i32,
            )
        }
    }

    pub fn state_delete(key: &[u8]) {
        // SAFETY: pointer and length describe `key`.
        unsafe { abi::state_delete(key.as_ptr(), key.len() as i32) }
    }

    pub fn state_range(start: &[u8], end: &[u8], limit: u32) -> Vec<u8> {
        // SAFETY: pointers and lengths describe `start` and `end`.
        let len = unsafe {
            abi::state_range(
                start.as_ptr(),
                start.len() as i32,
                end.as_ptr(),
                end.len() as i32,
                limit.min(i32::MAX as u32) as i32,
            )
        };
        read_buffer(len).unwrap_or_default()
    }

    pub fn emit_event(topic: &[u8], data: &[u8]) {
        // SAFETY: pointers and lengths describe `topic` and `data`.
        unsafe {
            abi::emit_event(
                topic.as_ptr(),
                topic.len() as i32,
                data.as_ptr(),
                data.len() as i32,
            )
        }
    }

    pub fn caller() -> Caller {
        // SAFETY: the host reports the length of the caller record, then writes it.
        let len = unsafe { abi::caller() };
        read_buffer(len)
            .and_then(|b| crate::json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn tx_id() -> [u8; 32] {
        let mut id = [0u8; 32];
        // SAFETY: the host writes exactly 32 bytes.
        unsafe { abi::tx_id(id.as_mut_ptr()) };
        id
    }

    pub fn block_height() -> u64 {
        // SAFETY: no pointers involved.
        unsafe { abi::block_height() as u64 }
    }

    pub fn block_time_ms() -> u64 {
        // SAFETY: no pointers involved.
        unsafe { abi::block_time_ms() as u64 }
    }

    pub fn call_contract(contract: &str, method: &str, args: &[u8]) -> Result<Vec<u8>, Error> {
        // SAFETY: pointers and lengths describe the three slices. A negative result means the
        // callee failed; its message is in the buffer.
        let len = unsafe {
            abi::call_contract(
                contract.as_ptr(),
                contract.len() as i32,
                method.as_ptr(),
                method.len() as i32,
                args.as_ptr(),
                args.len() as i32,
            )
        };
        if len >= 0 {
            Ok(read_buffer(len).unwrap_or_default())
        } else {
            let msg = read_buffer(-(len + 1)).unwrap_or_default();
            Err(Error(String::from_utf8_lossy(&msg).into_owned()))
        }
    }

    pub fn set_return(data: &[u8]) {
        // SAFETY: pointer and length describe `data`.
        unsafe { abi::set_return(data.as_ptr(), data.len() as i32) }
    }

    pub fn fail(message: &str) -> ! {
        // SAFETY: pointer and length describe `message`; the host traps and never returns.
        unsafe { abi::fail(message.as_ptr(), message.len() as i32) }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub use crate::testing::mock::*;
}

pub(crate) fn method() -> String {
    imp::method()
}

pub(crate) fn args() -> Vec<u8> {
    imp::args()
}

pub(crate) fn state_get(key: &[u8]) -> Option<Vec<u8>> {
    imp::state_get(key)
}

pub(crate) fn state_put(key: &[u8], value: &[u8]) {
    imp::state_put(key, value)
}

pub(crate) fn state_delete(key: &[u8]) {
    imp::state_delete(key)
}

/// Decode the host's range result: repeated `u32 key_len, key, u32 value_len, value` (LE).
pub(crate) fn decode_entries(buf: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    let take = |pos: &mut usize| -> Option<Vec<u8>> {
        let len_bytes: [u8; 4] = buf.get(*pos..*pos + 4)?.try_into().ok()?;
        let len = u32::from_le_bytes(len_bytes) as usize;
        let v = buf.get(*pos + 4..*pos + 4 + len)?.to_vec();
        *pos += 4 + len;
        Some(v)
    };
    while pos < buf.len() {
        let (Some(k), Some(v)) = (take(&mut pos), take(&mut pos)) else {
            break;
        };
        out.push((k, v));
    }
    out
}

/// Encode entries the way the host does (used by the mock).
#[cfg(not(target_arch = "wasm32"))]
pub fn encode_entries(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in entries {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(k);
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(v);
    }
    out
}

pub(crate) fn state_range(start: &[u8], end: &[u8], limit: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
    decode_entries(&imp::state_range(start, end, limit))
}

pub(crate) fn emit_event(topic: &[u8], data: &[u8]) {
    imp::emit_event(topic, data)
}

pub(crate) fn caller() -> Caller {
    imp::caller()
}

pub(crate) fn tx_id() -> [u8; 32] {
    imp::tx_id()
}

pub(crate) fn block_height() -> u64 {
    imp::block_height()
}

pub(crate) fn block_time_ms() -> u64 {
    imp::block_time_ms()
}

pub(crate) fn call_contract(contract: &str, method: &str, args: &[u8]) -> Result<Vec<u8>, Error> {
    imp::call_contract(contract, method, args)
}

pub(crate) fn set_return(data: &[u8]) {
    imp::set_return(data)
}

pub(crate) fn fail(message: &str) -> ! {
    imp::fail(message)
}

/// Fail with `message` (used by the panic handler).
#[cfg(target_arch = "wasm32")]
pub(crate) fn fail_message(message: &str) -> ! {
    imp::fail(message)
}
