//! `sys.contracts`: the contract lifecycle. Install (WASM checked for determinism first),
//! upgrade to a new version keeping state, freeze, unfreeze, revoke — each by its policy.

use base64::Engine as _;
use covenant_types::{ContractInfo, MethodPolicy, config::resource, names, names::state_key};
use prost::Message;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{SysCtx, SysError, unknown_method};
use crate::error::result_code;

/// Status of a usable contract.
pub const STATUS_ACTIVE: &str = "active";
/// Status of a frozen contract (calls fail until unfrozen).
pub const STATUS_FROZEN: &str = "frozen";
/// Status of a revoked contract (for good).
pub const STATUS_REVOKED: &str = "revoked";

/// State key of a contract's record.
pub fn info_key(name: &str) -> Vec<u8> {
    state_key(names::SYS_CONTRACTS, format!("info/{name}").as_bytes())
}

/// State key of code by hash.
pub fn code_key(hash: &[u8; 32]) -> Vec<u8> {
    state_key(
        names::SYS_CONTRACTS,
        format!("code/{}", hex::encode(hash)).as_bytes(),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MethodArg {
    method: String,
    #[serde(default)]
    org_ids: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Install {
    name: String,
    #[serde(default = "default_version")]
    version: String,
    /// WASM, base64.
    code: String,
    #[serde(default)]
    methods: Vec<MethodArg>,
}

fn default_version() -> String {
    "1.0.0".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Upgrade {
    name: String,
    version: String,
    code: String,
    #[serde(default)]
    methods: Option<Vec<MethodArg>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Name {
    name: String,
}

/// The record as JSON.
pub fn to_json(i: &ContractInfo) -> Value {
    json!({
        "name": i.name,
        "version": i.version,
        "runtime": i.runtime,
        "code_hash": hex::encode(&i.code_hash),
        "status": i.status,
        "methods": i.methods.iter().map(|m| json!({"method": m.method, "org_ids": m.org_ids, "roles": m.roles})).collect::<Vec<_>>(),
        "creator_org": i.creator_org,
        "installed_height": i.installed_height,
        "updated_height": i.updated_height,
    })
}

fn methods(ctx: &SysCtx<'_>, m: Vec<MethodArg>) -> Result<Vec<MethodPolicy>, SysError> {
    let mut out = Vec::new();
    for a in m {
        if a.method.is_empty() {
            return Err(SysError::args("a method policy needs a method name"));
        }
        for o in &a.org_ids {
            if !ctx.membership.is_member(o) {
                return Err(SysError::args(format!(
                    "method {} names unknown org {o}",
                    a.method
                )));
            }
        }
        for r in &a.roles {
            if !matches!(r.as_str(), "admin" | "client" | "node") {
                return Err(SysError::args(format!(
                    "method {} names unknown role {r}",
                    a.method
                )));
            }
        }
        out.push(MethodPolicy {
            method: a.method,
            org_ids: a.org_ids,
            roles: a.roles,
        });
    }
    Ok(out)
}

fn load_code(ctx: &SysCtx<'_>, b64: &str) -> Result<(Vec<u8>, [u8; 32]), SysError> {
    let code = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| SysError::args("code must be base64-encoded WASM"))?;
    ctx.vm
        .validate(&code)
        .map_err(|e| SysError::new("CONTRACT_INVALID", e.to_string()))?;
    let hash = ctx.membership.suite().hash(&code).0;
    Ok((code, hash))
}

fn read_info(ctx: &mut SysCtx<'_>, name: &str) -> Result<ContractInfo, SysError> {
    let bytes = ctx
        .host
        .read(&info_key(name))
        .map_err(SysError::state)?
        .ok_or_else(|| {
            SysError::new(
                result_code::CONTRACT_NOT_FOUND,
                format!("no contract named {name:?}"),
            )
        })?;
    ContractInfo::decode(bytes.as_slice())
        .map_err(|_| SysError::state("a stored contract record does not decode"))
}

fn write_info(ctx: &mut SysCtx<'_>, info: &ContractInfo) {
    ctx.host
        .write(info_key(&info.name), Some(info.encode_to_vec()));
}

pub fn call(ctx: &mut SysCtx<'_>) -> Result<Value, SysError> {
    let height = ctx.host.env().height;
    match ctx.method {
        "install" => {
            let a: Install = ctx.parse()?;
            names::validate_contract_name(&a.name).map_err(|e| SysError::args(e.to_string()))?;
            ctx.require(resource::CONTRACT_INSTALL, None)?;
            if ctx
                .host
                .read(&info_key(&a.name))
                .map_err(SysError::state)?
                .is_some()
            {
                return Err(SysError::args(format!(
                    "a contract named {} exists; upgrade it instead",
                    a.name
                )));
            }
            let (code, hash) = load_code(ctx, &a.code)?;
            let methods = methods(ctx, a.methods)?;
            let info = ContractInfo {
                name: a.name.clone(),
                version: a.version,
                runtime: "wasm".into(),
                code_hash: hash.to_vec(),
                status: STATUS_ACTIVE.into(),
                methods,
                creator_org: ctx
                    .signers
                    .first()
                    .map(|s| s.org.clone())
                    .unwrap_or_default(),
                installed_height: height,
                updated_height: height,
            };
            ctx.host.write(code_key(&hash), Some(code));
            write_info(ctx, &info);
            let view = to_json(&info);
            ctx.record(
                resource::CONTRACT_INSTALL,
                json!({"action": "install", "contract": view}),
            );
            ctx.host.event(
                ctx.contract,
                "installed",
                json!({"name": a.name, "version": info.version})
                    .to_string()
                    .into_bytes(),
            );
            Ok(view)
        }
        "upgrade" => {
            let a: Upgrade = ctx.parse()?;
            let mut info = read_info(ctx, &a.name)?;
            ctx.require(resource::CONTRACT_UPGRADE, Some(&info.creator_org))?;
            if info.status == STATUS_REVOKED {
                return Err(SysError::new(
                    result_code::CONTRACT_REVOKED,
                    format!("contract {} is revoked", a.name),
                ));
            }
            if a.version == info.version {
                return Err(SysError::args(format!(
                    "contract {} is already at version {}",
                    a.name, a.version
                )));
            }
            let (code, hash) = load_code(ctx, &a.code)?;
            if let Some(m) = a.methods {
                info.methods = methods(ctx, m)?;
            }
            let from = std::mem::replace(&mut info.version, a.version);
            info.code_hash = hash.to_vec();
            info.updated_height = height;
            ctx.host.write(code_key(&hash), Some(code));
            write_info(ctx, &info);
            let view = to_json(&info);
            ctx.record(
                resource::CONTRACT_UPGRADE,
                json!({"action": "upgrade", "from": from, "contract": view}),
            );
            ctx.host.event(
                ctx.contract,
                "upgraded",
                json!({"name": info.name, "version": info.version})
                    .to_string()
                    .into_bytes(),
            );
            Ok(view)
        }
        "freeze" | "unfreeze" | "revoke" => {
            let a: Name = ctx.parse()?;
            let mut info = read_info(ctx, &a.name)?;
            let (resource, from, to) = match ctx.method {
                "freeze" => (resource::CONTRACT_FREEZE, STATUS_ACTIVE, STATUS_FROZEN),
                "unfreeze" => (resource::CONTRACT_FREEZE, STATUS_FROZEN, STATUS_ACTIVE),
                _ => (resource::CONTRACT_REVOKE, "", STATUS_REVOKED),
            };
            ctx.require(resource, Some(&info.creator_org))?;
            if info.status == STATUS_REVOKED {
                return Err(SysError::new(
                    result_code::CONTRACT_REVOKED,
                    format!("contract {} is revoked", a.name),
                ));
            }
            if !from.is_empty() && info.status != from {
                return Err(SysError::args(format!(
                    "contract {} is {}, not {from}",
                    a.name, info.status
                )));
            }
            info.status = to.into();
            info.updated_height = height;
            write_info(ctx, &info);
            let method = ctx.method.to_string();
            ctx.record(resource, json!({"action": method, "contract": a.name}));
            ctx.host.event(
                ctx.contract,
                &method,
                json!({"name": a.name}).to_string().into_bytes(),
            );
            Ok(to_json(&info))
        }
        "get" => {
            let a: Name = ctx.parse()?;
            Ok(to_json(&read_info(ctx, &a.name)?))
        }
        "list" => {
            let prefix = info_key("");
            let mut end = prefix.clone();
            end.push(0xff);
            let items = ctx
                .host
                .scan(&prefix, &end, 10_000)
                .map_err(SysError::state)?;
            Ok(Value::Array(
                items
                    .into_iter()
                    .filter_map(|(_, v)| ContractInfo::decode(v.as_slice()).ok())
                    .map(|i| to_json(&i))
                    .collect(),
            ))
        }
        _ => Err(unknown_method(ctx)),
    }
}
