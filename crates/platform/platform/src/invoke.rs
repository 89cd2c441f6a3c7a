//! Calling a deployed contract from the platform: an invocation is a transaction signed by a
//! client identity the platform keeps for the caller's org (named [`IDENTITY`] unless another
//! kept client identity is named), submitted to a node of the chain and waited for; a query is
//! a read-only call with that identity as the caller. The chain decides, as for any client:
//! its trust roots, the contract's status and its method policies.

use covenant_api_types::json::TxResultView;
use covenant_sdk::Signer;
use covenant_types::tx::TxBuilder;
use serde::Serialize;
use serde_json::Value;

use crate::{
    Platform,
    error::{Error, Result},
    network, org,
};

/// The client identity the platform creates for an org's invocations when it has none.
pub const IDENTITY: &str = "platform-client";

/// The largest arguments an invocation carries (encoded JSON).
pub const MAX_ARGS_BYTES: usize = 256 * 1024;

/// What an invocation did.
#[derive(Debug, Clone, Serialize)]
pub struct Invocation {
    pub tx_id: String,
    /// `committed`, or `pending` when the commit did not come in time.
    pub status: String,
    pub height: Option<u64>,
    /// The signing identity's name.
    pub identity: String,
    pub result: Option<TxResultView>,
}

fn check_call(contract: &str, method: &str, args: &Value) -> Result<()> {
    let name_ok = |s: &str| {
        (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    };
    if !name_ok(contract) {
        return Err(Error::invalid(
            "a contract name is 1 to 64 letters, digits, '_', '.' or '-'",
        ));
    }
    if !name_ok(method) {
        return Err(Error::invalid(
            "a method name is 1 to 64 letters, digits, '_', '.' or '-'",
        ));
    }
    if args.to_string().len() > MAX_ARGS_BYTES {
        return Err(Error::TooLarge(format!(
            "the arguments are over {MAX_ARGS_BYTES} bytes"
        )));
    }
    Ok(())
}

async fn identity(p: &Platform, org_id: &str, name: Option<&str>) -> Result<org::IdentityView> {
    let name = name.unwrap_or(IDENTITY);
    let i = match org::identity(p, org_id, name).await {
        Ok(i) => i,
        Err(Error::NotFound(_)) if name == IDENTITY => {
            org::add_identity(p, org_id, IDENTITY, "client", None, None).await?
        }
        Err(e) => return Err(e),
    };
    if i.role != "client" {
        return Err(Error::invalid_as(
            "IDENTITY_ROLE",
            format!(
                "{} is an {} identity; invocations are signed by client identities",
                i.name, i.role
            ),
        ));
    }
    Ok(i)
}

/// Invoke `contract.method(args)` on `chain` for `org_id`, waiting for the commit.
pub async fn invoke(
    p: &Platform,
    org_id: &str,
    chain: &str,
    contract: &str,
    method: &str,
    args: &Value,
    identity_name: Option<&str>,
) -> Result<Invocation> {
    check_call(contract, method, args)?;
    network::chain_for(p, org_id, chain).await?;
    let id = identity(p, org_id, identity_name).await?;
    let (cert, key) = org::signer(p, &id).await?;
    let signer = Signer { cert, key };
    let client = network::chain_client(p, chain).await?;
    let tx = signer
        .sign(TxBuilder::new(chain, contract, method).args_json(args))
        .map_err(Error::internal)?;
    let r = client
        .submit(&tx, true)
        .await
        .map_err(network::node_error)?;
    Ok(Invocation {
        tx_id: r.tx_id,
        status: r.status,
        height: r.height,
        identity: id.name,
        result: r.result,
    })
}

/// A read-only call of `contract.method(args)` on `chain`, with the org's client identity as
/// the caller.
pub async fn query(
    p: &Platform,
    org_id: &str,
    chain: &str,
    contract: &str,
    method: &str,
    args: &Value,
    identity_name: Option<&str>,
) -> Result<TxResultView> {
    check_call(contract, method, args)?;
    network::chain_for(p, org_id, chain).await?;
    let id = identity(p, org_id, identity_name).await?;
    let client = network::chain_client(p, chain).await?;
    client
        .query(contract, method, args.clone(), Some(id.certificate.clone()))
        .await
        .map_err(|e| match e {
            covenant_sdk::ClientError::Api {
                status: 400,
                code,
                message,
                ..
            } => Error::invalid_as("QUERY_REFUSED", format!("{code}: {message}")),
            covenant_sdk::ClientError::Api {
                status: 404,
                message,
                ..
            } => Error::not_found(message),
            other => network::node_error(other),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_checked_before_anything_is_signed() {
        assert!(check_call("kv", "put", &serde_json::json!({"key": "a"})).is_ok());
        assert!(check_call("", "put", &Value::Null).is_err());
        assert!(check_call("kv", "put;drop", &Value::Null).is_err());
        let big = Value::String("x".repeat(MAX_ARGS_BYTES + 1));
        assert!(matches!(
            check_call("kv", "put", &big),
            Err(Error::TooLarge(_))
        ));
    }
}
