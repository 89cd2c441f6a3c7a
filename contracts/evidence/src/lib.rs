//! An evidence store (存证): `put {"hash","meta"}` records a document hash once, with who put
//! it and when; `get {"hash"}` returns the record (or null).

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use alloc::{format, string::String};

use covenant_contract::{Context, Error, contract};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Put {
    hash: String,
    #[serde(default)]
    meta: String,
}

#[derive(Deserialize)]
struct Get {
    hash: String,
}

#[derive(Serialize, Deserialize)]
struct Record {
    hash: String,
    meta: String,
    org: String,
    submitter: String,
    tx_id: String,
    height: u64,
    time_ms: u64,
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn put(ctx: &mut Context, a: Put) -> Result<Record, Error> {
    let hash = a.hash.trim().to_ascii_lowercase();
    if hash.len() < 16 || hash.len() > 128 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::new("hash must be 16 to 128 hex digits"));
    }
    if a.meta.len() > 4096 {
        return Err(Error::new("meta is limited to 4096 bytes"));
    }
    let key = format!("evidence/{hash}");
    if ctx.get(key.as_bytes()).is_some() {
        return Err(Error::new(format!("evidence {hash} is already recorded")));
    }
    let caller = ctx.caller();
    let record = Record {
        hash: hash.clone(),
        meta: a.meta,
        org: caller.org,
        submitter: caller.cert_id,
        tx_id: hex(&ctx.tx_id()),
        height: ctx.block_height(),
        time_ms: ctx.block_time_ms(),
    };
    ctx.put_json(key.as_bytes(), &record)?;
    ctx.emit("evidence", &hash);
    Ok(record)
}

fn get(ctx: &mut Context, a: Get) -> Result<Option<Record>, Error> {
    let hash = a.hash.trim().to_ascii_lowercase();
    ctx.get_json(format!("evidence/{hash}").as_bytes())
}

contract! {
    "put" => put,
    "get" => get,
}

#[cfg(test)]
mod tests {
    use covenant_contract::testing;

    use super::__covenant_call as evidence;

    #[test]
    fn put_once_then_get() {
        testing::reset();
        let h = "a".repeat(64);
        let rec = testing::call(
            evidence,
            "put",
            &format!(r#"{{"hash":"{h}","meta":"contract v1"}}"#),
        )
        .unwrap();
        assert!(rec.contains("contract v1"));
        assert!(testing::call(evidence, "put", &format!(r#"{{"hash":"{h}"}}"#)).is_err());
        let got = testing::call(
            evidence,
            "get",
            &format!(r#"{{"hash":"{}"}}"#, h.to_uppercase()),
        )
        .unwrap();
        assert!(got.contains(&h));
        assert_eq!(
            testing::call(evidence, "get", r#"{"hash":"00"}"#).unwrap(),
            "null"
        );
        assert!(testing::call(evidence, "put", r#"{"hash":"xyz"}"#).is_err());
    }
}
