//! `sys.certs`: the certificate registry. Register a certificate (so transactions can name
//! their sender by hash), freeze and unfreeze it, revoke it, or submit an org CA's CRL. The
//! txpool and executor enforce freezes and revocations from the next block on.

use base64::Engine as _;
use covenant_pki::{Certificate, Crl};
use covenant_types::config::resource;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{SysCtx, SysError, cert_from_text, unknown_method};
use crate::{
    error::result_code,
    identity::{keys, time_of_ms},
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Target {
    #[serde(default)]
    cert_hash: Option<String>,
    #[serde(default)]
    cert: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CrlArgs {
    crl: String,
    #[serde(default)]
    issuer: Option<String>,
}

fn hex_of(ctx: &SysCtx<'_>, der: &[u8]) -> String {
    ctx.membership.suite().hash(der).to_hex()
}

/// The target certificate: given whole, or by the hash of a registered one.
fn target(ctx: &mut SysCtx<'_>, t: &Target) -> Result<Certificate, SysError> {
    if let Some(text) = &t.cert {
        return cert_from_text(text, "certificate");
    }
    let hash = t
        .cert_hash
        .as_deref()
        .ok_or_else(|| SysError::args("give `cert_hash` (of a registered certificate) or `cert`"))?
        .to_ascii_lowercase();
    let der = ctx
        .host
        .read(&keys::cert(&hash))
        .map_err(SysError::state)?
        .ok_or_else(|| SysError::args(format!("no certificate {hash} is registered")))?;
    Certificate::from_der(der, "registered certificate")
        .map_err(|e| SysError::state(crate::error::pki_problem("a registered certificate", &e)))
}

fn block_time(ctx: &SysCtx<'_>) -> std::time::SystemTime {
    time_of_ms(ctx.host.env().time_ms)
}

fn owner(ctx: &SysCtx<'_>, cert: &Certificate) -> Result<String, SysError> {
    ctx.membership.org_of(cert, block_time(ctx)).ok_or_else(|| {
        SysError::args("the certificate does not chain to a member org's trust root")
    })
}

fn list_under(ctx: &mut SysCtx<'_>, sub: &str) -> Result<Vec<(String, Vec<u8>)>, SysError> {
    let prefix = keys::prefix(sub);
    let mut end = prefix.clone();
    end.push(0xff);
    Ok(ctx
        .host
        .scan(&prefix, &end, 10_000)
        .map_err(SysError::state)?
        .into_iter()
        .map(|(k, v)| (String::from_utf8_lossy(&k[prefix.len()..]).into_owned(), v))
        .collect())
}

pub fn call(ctx: &mut SysCtx<'_>) -> Result<Value, SysError> {
    match ctx.method {
        "register" => {
            let t: Target = ctx.parse()?;
            let cert = target(ctx, &t)?;
            let identity = ctx
                .membership
                .identify(cert.der(), block_time(ctx))
                .map_err(|e| SysError::new(result_code::SENDER_INVALID, e.result_message()))?;
            let hex = identity.cert_id.to_hex();
            if ctx
                .host
                .read(&keys::cert(&hex))
                .map_err(SysError::state)?
                .is_none()
            {
                ctx.host.write(keys::cert(&hex), Some(cert.der().to_vec()));
                ctx.host.event(
                    ctx.contract,
                    "registered",
                    json!({"cert_hash": hex}).to_string().into_bytes(),
                );
            }
            Ok(
                json!({"cert_hash": hex, "org": identity.org, "role": identity.role.name(), "name": identity.name}),
            )
        }
        "get" => {
            let t: Target = ctx.parse()?;
            let cert = target(ctx, &t)?;
            let hex = hex_of(ctx, cert.der());
            let frozen = ctx
                .host
                .read(&keys::frozen(&hex))
                .map_err(SysError::state)?
                .is_some();
            let revoked = ctx
                .host
                .read(&keys::revoked(&hex))
                .map_err(SysError::state)?;
            let registered = ctx
                .host
                .read(&keys::cert(&hex))
                .map_err(SysError::state)?
                .is_some();
            Ok(json!({
                "cert_hash": hex,
                "subject": cert.subject_string(),
                "serial": cert.serial_hex(),
                "registered": registered,
                "frozen": frozen,
                "revoked": revoked.map(|r| serde_json::from_slice::<Value>(&r).unwrap_or(Value::Null)),
                "cert": cert.to_pem(),
            }))
        }
        "freeze" | "unfreeze" => {
            let t: Target = ctx.parse()?;
            let cert = target(ctx, &t)?;
            let org = owner(ctx, &cert)?;
            ctx.require(resource::CERT_FREEZE, Some(&org))?;
            let hex = hex_of(ctx, cert.der());
            let freeze = ctx.method == "freeze";
            let was = ctx
                .host
                .read(&keys::frozen(&hex))
                .map_err(SysError::state)?
                .is_some();
            if was == freeze {
                return Err(SysError::args(format!(
                    "certificate {hex} is {} frozen",
                    if freeze { "already" } else { "not" }
                )));
            }
            let height = ctx.host.env().height;
            ctx.host.write(
                keys::frozen(&hex),
                freeze.then(|| json!({"height": height}).to_string().into_bytes()),
            );
            let method = ctx.method.to_string();
            ctx.record(
                resource::CERT_FREEZE,
                json!({"action": method, "cert_hash": hex, "org": org}),
            );
            ctx.host.event(
                ctx.contract,
                &method,
                json!({"cert_hash": hex}).to_string().into_bytes(),
            );
            Ok(json!({"cert_hash": hex, "frozen": freeze}))
        }
        "revoke" => {
            let t: Target = ctx.parse()?;
            let cert = target(ctx, &t)?;
            let org = owner(ctx, &cert)?;
            ctx.require(resource::CERT_REVOKE, Some(&org))?;
            let hex = hex_of(ctx, cert.der());
            if ctx
                .host
                .read(&keys::revoked(&hex))
                .map_err(SysError::state)?
                .is_some()
            {
                return Err(SysError::args(format!(
                    "certificate {hex} is already revoked"
                )));
            }
            let height = ctx.host.env().height;
            let reason = t.reason.unwrap_or_else(|| "unspecified".into());
            ctx.host.write(
                keys::revoked(&hex),
                Some(
                    json!({"height": height, "reason": reason})
                        .to_string()
                        .into_bytes(),
                ),
            );
            ctx.record(
                resource::CERT_REVOKE,
                json!({"action": "revoke", "cert_hash": hex, "org": org, "reason": reason}),
            );
            ctx.host.event(
                ctx.contract,
                "revoked",
                json!({"cert_hash": hex}).to_string().into_bytes(),
            );
            Ok(json!({"cert_hash": hex, "revoked": true}))
        }
        "submit_crl" => {
            let a: CrlArgs = ctx.parse()?;
            let crl = parse_crl(&a.crl)?;
            let issuer = a
                .issuer
                .as_deref()
                .map(|i| cert_from_text(i, "issuer"))
                .transpose()?;
            let org = ctx
                .membership
                .crl_org(&crl, issuer.as_ref(), block_time(ctx))
                .ok_or_else(|| SysError::args("the CRL is not signed by a member org's CA"))?;
            ctx.require(resource::CERT_REVOKE, Some(&org))?;
            let issuer_hex = ctx.membership.suite().hash(&der_of_name(&crl)).to_hex();
            if let Some(old) = ctx
                .host
                .read(&keys::crl(&issuer_hex))
                .map_err(SysError::state)?
                && let Ok(old) = Crl::from_der(old, "stored CRL")
                && old.number().unwrap_or(0) >= crl.number().unwrap_or(0)
            {
                return Err(SysError::args(format!(
                    "a CRL numbered {} from this issuer is already on chain; submit a newer one",
                    old.number().unwrap_or(0)
                )));
            }
            ctx.host
                .write(keys::crl(&issuer_hex), Some(crl.der().to_vec()));
            let entries = crl.revoked_serials().len();
            ctx.record(
                resource::CERT_REVOKE,
                json!({"action": "submit_crl", "org": org, "issuer": crl.issuer_text(), "number": crl.number(), "entries": entries}),
            );
            ctx.host.event(
                ctx.contract,
                "crl",
                json!({"org": org, "entries": entries})
                    .to_string()
                    .into_bytes(),
            );
            Ok(json!({"org": org, "number": crl.number(), "entries": entries}))
        }
        "list" => {
            let frozen: Vec<String> = list_under(ctx, "frozen/")?
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            let revoked: Vec<Value> = list_under(ctx, "revoked/")?
                .into_iter()
                .map(|(k, v)| {
                    let mut r = serde_json::from_slice::<Value>(&v).unwrap_or(json!({}));
                    r["cert_hash"] = json!(k);
                    r
                })
                .collect();
            let crls: Vec<Value> = list_under(ctx, "crl/")?
                .into_iter()
                .filter_map(|(_, v)| Crl::from_der(v, "stored CRL").ok())
                .map(|c| json!({"issuer": c.issuer_text(), "number": c.number(), "entries": c.revoked_serials().len()}))
                .collect();
            Ok(json!({"frozen": frozen, "revoked": revoked, "crls": crls}))
        }
        _ => Err(unknown_method(ctx)),
    }
}

fn parse_crl(text: &str) -> Result<Crl, SysError> {
    let t = text.trim();
    if t.contains("-----BEGIN") {
        return Crl::from_pem(t, "crl")
            .map_err(|e| SysError::args(crate::error::pki_problem("crl", &e)));
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(t)
        .map_err(|_| SysError::args("crl is neither PEM nor base64 DER"))?;
    Crl::from_der(der, "crl").map_err(|e| SysError::args(crate::error::pki_problem("crl", &e)))
}

/// The issuer's Name as the CRL carries it: its hash keys the issuer's latest CRL.
fn der_of_name(crl: &Crl) -> Vec<u8> {
    crl.issuer_der().to_vec()
}
