//! A key-value store: `put {"key","value"}`, `get {"key"}`, `delete {"key"}`,
//! `list {"prefix","limit"}`.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use alloc::{string::String, vec::Vec};

use covenant_contract::{Context, Error, contract};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Put {
    key: String,
    value: String,
}

#[derive(Deserialize)]
struct Key {
    key: String,
}

#[derive(Deserialize)]
struct List {
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Serialize)]
struct Entry {
    key: String,
    value: String,
}

fn put(ctx: &mut Context, a: Put) -> Result<(), Error> {
    if a.key.is_empty() {
        return Err(Error::new("key must not be empty"));
    }
    ctx.put(a.key.as_bytes(), a.value.as_bytes());
    ctx.emit("put", &a.key);
    Ok(())
}

fn get(ctx: &mut Context, a: Key) -> Result<Option<String>, Error> {
    Ok(ctx.get_string(a.key.as_bytes()))
}

fn delete(ctx: &mut Context, a: Key) -> Result<bool, Error> {
    let existed = ctx.get(a.key.as_bytes()).is_some();
    if existed {
        ctx.delete(a.key.as_bytes());
        ctx.emit("delete", &a.key);
    }
    Ok(existed)
}

fn list(ctx: &mut Context, a: List) -> Result<Vec<Entry>, Error> {
    let limit = a.limit.unwrap_or(100).min(1000);
    Ok(ctx
        .prefix(a.prefix.as_bytes(), limit)
        .into_iter()
        .map(|(k, v)| Entry {
            key: String::from_utf8_lossy(&k).into_owned(),
            value: String::from_utf8_lossy(&v).into_owned(),
        })
        .collect())
}

contract! {
    "put" => put,
    "get" => get,
    "delete" => delete,
    "list" => list,
}

#[cfg(test)]
mod tests {
    use covenant_contract::testing;

    use super::__covenant_call as kv;

    #[test]
    fn put_get_delete_list() {
        testing::reset();
        testing::call(kv, "put", r#"{"key":"a1","value":"x"}"#).unwrap();
        testing::call(kv, "put", r#"{"key":"a2","value":"y"}"#).unwrap();
        testing::call(kv, "put", r#"{"key":"b","value":"z"}"#).unwrap();
        assert_eq!(
            testing::call(kv, "get", r#"{"key":"a1"}"#).unwrap(),
            r#""x""#
        );
        assert_eq!(
            testing::call(kv, "list", r#"{"prefix":"a"}"#).unwrap(),
            r#"[{"key":"a1","value":"x"},{"key":"a2","value":"y"}]"#
        );
        assert_eq!(
            testing::call(kv, "delete", r#"{"key":"a1"}"#).unwrap(),
            "true"
        );
        assert_eq!(testing::call(kv, "get", r#"{"key":"a1"}"#).unwrap(), "null");
        assert!(testing::call(kv, "put", r#"{"key":"","value":"v"}"#).is_err());
        assert!(testing::call(kv, "nope", "{}").is_err());
    }
}
