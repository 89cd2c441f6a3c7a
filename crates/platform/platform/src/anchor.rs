//! Anchoring the audit log: at an interval the head of the hash chain (its seq and hash) is
//! recorded on a chain as an evidence transaction (`put {"hash", "meta"}` on the configured
//! contract), signed by a client identity of the configured org that the platform keeps. An
//! operator who rewrites the database afterwards cannot change what the chain holds, and
//! `covenant platform audit verify` checks each anchor against the chain.

use covenant_sdk::Signer;
use covenant_types::tx::TxBuilder;
use serde_json::json;

use crate::{
    Platform,
    audit::{self, Anchor, AnchorConfig},
    error::{Error, Result},
    network, org,
    time::now_ms,
};

/// Name of the client identity that signs anchors.
pub const IDENTITY: &str = "audit-anchor";

/// Anchor the head now if it moved since the last anchor on that chain. Returns the anchor.
pub async fn anchor_once(p: &Platform, cfg: &AnchorConfig) -> Result<Option<Anchor>> {
    let (seq, hash) = audit::head(p).await?;
    if seq == 0 {
        return Ok(None);
    }
    let last = audit::anchors(p)
        .await?
        .into_iter()
        .filter(|a| a.chain_id == cfg.chain_id)
        .map(|a| a.seq)
        .max()
        .unwrap_or(0);
    if last >= seq {
        return Ok(None);
    }
    let identity = match org::identity(p, &cfg.org_id, IDENTITY).await {
        Ok(i) => i,
        Err(Error::NotFound(_)) => {
            org::add_identity(p, &cfg.org_id, IDENTITY, "client", None, None).await?
        }
        Err(e) => return Err(e),
    };
    let (cert, key) = org::signer(p, &identity).await?;
    let signer = Signer { cert, key };
    let client = network::chain_client(p, &cfg.chain_id).await?;
    let tx = signer
        .sign(
            TxBuilder::new(&cfg.chain_id, &cfg.contract, "put").args_json(
                &json!({"hash": hash, "meta": format!("covenant-platform audit seq={seq}")}),
            ),
        )
        .map_err(Error::internal)?;
    let r = client
        .submit(&tx, true)
        .await
        .map_err(network::node_error)?;
    match &r.result {
        Some(res) if res.code == "OK" => {}
        Some(res) => {
            return Err(Error::unavailable(
                "ANCHOR_REFUSED",
                format!(
                    "chain {} refused the anchor: {} {}",
                    cfg.chain_id, res.code, res.message
                ),
            ));
        }
        None => {
            return Err(Error::unavailable(
                "ANCHOR_PENDING",
                format!("the anchor {} did not commit in time", r.tx_id),
            ));
        }
    }
    let a = Anchor {
        seq,
        hash,
        chain_id: cfg.chain_id.clone(),
        tx_id: r.tx_id.clone(),
        height: r.height.unwrap_or(0) as i64,
        anchored_at: now_ms(),
    };
    audit::record_anchor(p, &a).await?;
    tracing::info!(seq = a.seq, chain = %a.chain_id, tx = %a.tx_id, "anchored the audit log");
    Ok(Some(a))
}

/// Whether `a`'s hash is on its chain (the evidence contract returns its record).
pub async fn on_chain(p: &Platform, contract: &str, a: &Anchor) -> Result<bool> {
    let client = network::chain_client(p, &a.chain_id).await?;
    let r = client
        .query(contract, "get", json!({"hash": a.hash}), None)
        .await
        .map_err(network::node_error)?;
    Ok(r.code == "OK" && r.result["hash"].as_str() == Some(a.hash.as_str()))
}
