//! `sys.governance`: the record of every governed action that was applied — who signed, what
//! changed, at which height.

use covenant_types::names::state_key;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{SYS_GOVERNANCE, SysCtx, SysError, unknown_method};

/// Records sort by height; within a block by tx id.
fn record_key(height: u64, tx_hex: &str) -> Vec<u8> {
    state_key(
        SYS_GOVERNANCE,
        format!("record/{height:020}/{tx_hex}").as_bytes(),
    )
}

/// Write the record of the governed call in `ctx`.
pub fn record(ctx: &mut SysCtx<'_>, resource: &str, detail: Value) {
    let env = ctx.host.env().clone();
    let signers: Vec<Value> = ctx
        .signers
        .iter()
        .map(|s| json!({"org": s.org, "role": s.role.name(), "name": s.name, "cert_id": s.cert_id.to_hex()}))
        .collect();
    let tx_hex = hex::encode(env.tx_id);
    let key = record_key(env.height, &tx_hex);
    let rec = json!({
        "tx_id": tx_hex,
        "height": env.height,
        "time_ms": env.time_ms,
        "resource": resource,
        "contract": ctx.contract,
        "method": ctx.method,
        "signers": signers,
        "detail": detail,
    });
    ctx.host.write(key, Some(rec.to_string().into_bytes()));
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct List {
    #[serde(default)]
    from_height: u64,
    #[serde(default)]
    limit: Option<usize>,
}

pub fn call(ctx: &mut SysCtx<'_>) -> Result<Value, SysError> {
    match ctx.method {
        "list" => {
            let a: List = ctx.parse()?;
            let start = record_key(a.from_height, "");
            let mut end = state_key(SYS_GOVERNANCE, b"record/");
            end.push(0xff);
            let limit = a.limit.unwrap_or(100).min(1000);
            let items = ctx
                .host
                .scan(&start, &end, limit)
                .map_err(SysError::state)?;
            Ok(Value::Array(
                items
                    .into_iter()
                    .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
                    .collect(),
            ))
        }
        _ => Err(unknown_method(ctx)),
    }
}
