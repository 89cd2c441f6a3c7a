//! The blockchain explorer's reads: latest blocks, a block, a transaction with its proof, a
//! trend of transactions per second, and search by transaction id, block hash, height,
//! contract or org. Everything is read from a node of the chain through its public API (the
//! client SDK), so the platform shows what the chain itself holds; the platform only decides
//! who may look (members of the chain's consortium).

use covenant_api_types::json::{BlockView, TxView};
use covenant_sdk::{Client, ClientError};
use futures::{StreamExt, stream};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    Platform,
    error::{Error, Result},
    network,
};

/// The most blocks one page or trend reads.
pub const MAX_BLOCKS: u64 = 100;
/// Node reads in flight at once for one page.
const FAN_OUT: usize = 8;

/// A block in a listing.
#[derive(Debug, Clone, Serialize)]
pub struct BlockSummary {
    pub height: u64,
    pub hash: String,
    pub timestamp_ms: u64,
    pub proposer: String,
    pub tx_count: u32,
}

/// A point of the trend: a block's time and its transactions.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub chain_id: String,
    pub height: u64,
    pub last_hash: String,
    pub consensus: String,
    pub suite: String,
    pub config_version: u64,
    pub txpool_size: usize,
    /// Transactions in the blocks listed.
    pub recent_tx_count: u64,
    /// Transactions per second over the blocks listed (0 with fewer than two blocks).
    pub tx_per_second: f64,
    /// The latest blocks, newest first.
    pub blocks: Vec<BlockSummary>,
    /// The latest transactions, newest first.
    pub txs: Vec<Value>,
}

/// A node's failure for the explorer: "not found" stays a 404; the rest is the node's
/// unavailability.
fn from_node(e: ClientError, what: &str) -> Error {
    match &e {
        ClientError::Api { status: 404, .. } => {
            Error::not_found(format!("no {what} on this chain"))
        }
        ClientError::Api {
            status: 400,
            message,
            ..
        } => Error::invalid(message.clone()),
        _ => network::node_error(e),
    }
}

/// Check that `org_id` may look at `chain` and get a client of one of its nodes.
pub async fn client_for(p: &Platform, org_id: &str, chain: &str) -> Result<Client> {
    network::chain_for(p, org_id, chain).await?;
    network::chain_client(p, chain).await
}

async fn blocks_below(client: &Client, top: u64, limit: u64) -> Result<Vec<BlockView>> {
    let heights: Vec<u64> = (0..limit).filter_map(|i| top.checked_sub(i)).collect();
    let got: Vec<Result<BlockView>> = stream::iter(heights)
        .map(|h| async move {
            client
                .block(&h.to_string(), false)
                .await
                .map_err(|e| from_node(e, "block"))
        })
        .buffered(FAN_OUT)
        .collect()
        .await;
    got.into_iter().collect()
}

fn summary(b: &BlockView) -> BlockSummary {
    BlockSummary {
        height: b.height,
        hash: b.hash.clone(),
        timestamp_ms: b.timestamp_ms,
        proposer: b.proposer.clone(),
        tx_count: b.tx_count,
    }
}

/// The chain's head and its latest `limit` blocks and transactions.
pub async fn overview(p: &Platform, org_id: &str, chain: &str, limit: u64) -> Result<Overview> {
    let client = client_for(p, org_id, chain).await?;
    let info = client.info().await.map_err(network::node_error)?;
    let limit = limit.clamp(1, MAX_BLOCKS);
    let blocks = blocks_below(&client, info.height, limit).await?;
    let recent_tx_count: u64 = blocks.iter().map(|b| u64::from(b.tx_count)).sum();
    let tx_per_second = match (blocks.first(), blocks.last()) {
        (Some(newest), Some(oldest)) if newest.timestamp_ms > oldest.timestamp_ms => {
            // Transactions after the oldest block, over the time since it.
            let after_oldest = recent_tx_count - u64::from(oldest.tx_count);
            after_oldest as f64 * 1000.0 / (newest.timestamp_ms - oldest.timestamp_ms) as f64
        }
        _ => 0.0,
    };
    let txs = blocks
        .iter()
        .flat_map(|b| {
            b.txs.iter().rev().map(move |t| {
                json!({
                    "tx_id": t.tx_id, "height": b.height, "timestamp_ms": b.timestamp_ms,
                    "contract": t.contract, "method": t.method, "code": t.code,
                    "sender": t.sender, "gas_used": t.gas_used,
                })
            })
        })
        .take(limit as usize)
        .collect();
    Ok(Overview {
        chain_id: info.chain_id,
        height: info.height,
        last_hash: info.last_hash,
        consensus: info.consensus,
        suite: info.suite,
        config_version: info.config_version,
        txpool_size: info.txpool_size,
        recent_tx_count,
        tx_per_second,
        blocks: blocks.iter().map(summary).collect(),
        txs,
    })
}

/// Blocks below `before` (the newest when `None`), newest first, at most `limit`.
pub async fn blocks(
    p: &Platform,
    org_id: &str,
    chain: &str,
    before: Option<u64>,
    limit: u64,
) -> Result<Vec<BlockSummary>> {
    let client = client_for(p, org_id, chain).await?;
    let top = match before {
        Some(0) => return Ok(vec![]),
        Some(b) => b - 1,
        None => client.info().await.map_err(network::node_error)?.height,
    };
    let b = blocks_below(&client, top, limit.clamp(1, MAX_BLOCKS)).await?;
    Ok(b.iter().map(summary).collect())
}

/// A block by height or hash.
pub async fn block(p: &Platform, org_id: &str, chain: &str, at: &str) -> Result<BlockView> {
    check_at(at)?;
    let client = client_for(p, org_id, chain).await?;
    client
        .block(at, false)
        .await
        .map_err(|e| from_node(e, "block"))
}

/// A committed transaction with its Merkle proof, and whether the proof holds: the encoded
/// transaction hashes to its id and lies under the block's transaction root.
pub async fn tx(p: &Platform, org_id: &str, chain: &str, id: &str) -> Result<Value> {
    if !is_hex_hash(id) {
        return Err(Error::invalid("a transaction id is 64 hexadecimal digits"));
    }
    let client = client_for(p, org_id, chain).await?;
    let view = client
        .tx(id)
        .await
        .map_err(|e| from_node(e, "transaction"))?;
    let info = client.info().await.map_err(network::node_error)?;
    let valid = proof_holds(&view, &info.suite);
    let mut out = serde_json::to_value(&view).map_err(|e| Error::internal(e.to_string()))?;
    out["proof_valid"] = json!(valid);
    out["suite"] = json!(info.suite);
    Ok(out)
}

/// A committed transaction's self-contained proof, built by a node of the chain; anyone checks
/// it offline against the chain's genesis (`covenant proof verify`), so the platform vouches
/// for nothing here.
pub async fn tx_proof(p: &Platform, org_id: &str, chain: &str, id: &str) -> Result<Value> {
    if !is_hex_hash(id) {
        return Err(Error::invalid("a transaction id is 64 hexadecimal digits"));
    }
    let client = client_for(p, org_id, chain).await?;
    client
        .tx_proof(id)
        .await
        .map_err(|e| from_node(e, "transaction"))
}

/// The chain's genesis block as its nodes keep it: what proofs are checked against.
pub async fn genesis(p: &Platform, org_id: &str, chain: &str) -> Result<Vec<u8>> {
    let client = client_for(p, org_id, chain).await?;
    let block = client
        .block("0", true)
        .await
        .map_err(|e| from_node(e, "block"))?;
    block
        .raw
        .as_deref()
        .and_then(covenant_api_types::json::b64_decode)
        .ok_or_else(|| {
            Error::unavailable(
                "NODE_ANSWER_INVALID",
                "the node sent the genesis block without its bytes",
            )
        })
}

fn proof_holds(view: &TxView, suite: &str) -> bool {
    use prost::Message;
    let Ok(suite) = suite.parse::<covenant_crypto::Suite>() else {
        return false;
    };
    let Some(leaf) = covenant_api_types::json::b64_decode(&view.raw) else {
        return false;
    };
    let Ok(root) = view.tx_root.parse::<covenant_crypto::Hash>() else {
        return false;
    };
    let Ok(path) = view
        .proof
        .path
        .iter()
        .map(|h| h.parse::<covenant_crypto::Hash>())
        .collect::<std::result::Result<Vec<_>, _>>()
    else {
        return false;
    };
    let proof = covenant_crypto::merkle::InclusionProof {
        leaf_index: view.proof.leaf_index,
        tree_size: view.proof.tree_size,
        path,
    };
    let Ok(tx) = covenant_types::Transaction::decode(leaf.as_slice()) else {
        return false;
    };
    proof.verify(suite.hash_algorithm(), &root, &leaf)
        && suite.hash(&tx.payload).to_hex() == view.tx_id
}

fn is_hex_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn check_at(at: &str) -> Result<()> {
    if at.parse::<u64>().is_ok() || is_hex_hash(at) || at == "latest" {
        Ok(())
    } else {
        Err(Error::invalid(
            "a block is named by its height, its hash (64 hexadecimal digits) or `latest`",
        ))
    }
}

/// What a search found.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// `tx`, `block`, `contract` or `org`.
    pub kind: &'static str,
    /// The transaction id, block height, contract name or org id.
    pub id: String,
    pub summary: String,
}

/// Find `q` on `chain`: a transaction id, a block hash or height, a contract name, an org.
pub async fn search(p: &Platform, org_id: &str, chain: &str, q: &str) -> Result<Vec<Hit>> {
    let q = q.trim();
    if q.is_empty() || q.len() > 128 {
        return Err(Error::invalid(
            "search for a transaction id, a block hash or height, a contract or an org (1 to 128 characters)",
        ));
    }
    let client = client_for(p, org_id, chain).await?;
    let mut hits = Vec::new();
    if let Ok(h) = q.parse::<u64>() {
        match client.block(&h.to_string(), false).await {
            Ok(b) => hits.push(Hit {
                kind: "block",
                id: b.height.to_string(),
                summary: format!("block {} with {} transactions", b.height, b.tx_count),
            }),
            Err(e @ ClientError::Api { status: 404, .. }) => drop(e),
            Err(e) => return Err(from_node(e, "block")),
        }
    }
    if is_hex_hash(q) {
        let q = q.to_ascii_lowercase();
        match client.tx(&q).await {
            Ok(t) => hits.push(Hit {
                kind: "tx",
                id: t.tx_id.clone(),
                summary: format!(
                    "{}.{} in block {} ({})",
                    t.contract, t.method, t.height, t.result.code
                ),
            }),
            Err(
                e @ ClientError::Api {
                    status: 404 | 400, ..
                },
            ) => drop(e),
            Err(e) => return Err(from_node(e, "transaction")),
        }
        match client.block(&q, false).await {
            Ok(b) => hits.push(Hit {
                kind: "block",
                id: b.height.to_string(),
                summary: format!("block {} with {} transactions", b.height, b.tx_count),
            }),
            Err(
                e @ ClientError::Api {
                    status: 404 | 400, ..
                },
            ) => drop(e),
            Err(e) => return Err(from_node(e, "block")),
        }
    }
    let contracts = client.contracts().await.map_err(network::node_error)?;
    let needle = q.to_lowercase();
    for c in contracts.as_array().into_iter().flatten() {
        let name = c["name"].as_str().unwrap_or_default();
        if !name.is_empty() && name.to_lowercase().contains(&needle) {
            hits.push(Hit {
                kind: "contract",
                id: name.to_string(),
                summary: format!(
                    "contract {name} version {} ({})",
                    c["version"]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| c["version"].to_string()),
                    c["status"].as_str().unwrap_or("active")
                ),
            });
        }
    }
    let config = client.config().await.map_err(network::node_error)?;
    for o in config["orgs"].as_array().into_iter().flatten() {
        let id = o["org_id"].as_str().unwrap_or_default();
        if !id.is_empty() && id.to_lowercase().contains(&needle) {
            hits.push(Hit {
                kind: "org",
                id: id.to_string(),
                summary: format!("member org {id}"),
            });
        }
    }
    Ok(hits)
}

/// The contract `name` as the chain reports it.
pub async fn contract(p: &Platform, org_id: &str, chain: &str, name: &str) -> Result<Value> {
    let client = client_for(p, org_id, chain).await?;
    let contracts = client.contracts().await.map_err(network::node_error)?;
    contracts
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"].as_str() == Some(name))
        .cloned()
        .ok_or_else(|| Error::not_found(format!("no contract {name} on this chain")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_named_by_height_hash_or_latest() {
        assert!(check_at("0").is_ok());
        assert!(check_at("latest").is_ok());
        assert!(check_at(&"ab".repeat(32)).is_ok());
        assert!(check_at("12x").is_err());
        assert!(check_at(&"zz".repeat(32)).is_err());
        assert!(check_at("../etc").is_err());
    }
}
