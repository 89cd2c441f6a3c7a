//! `covenant node start --bundle`: a node its org runs on its own machine, set up from the
//! bundle the platform made for it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use covenant_api_types::json::b64_decode;
use covenant_node::{
    NodeConfig,
    config::{ChainSection, NodeSection, TbftSection},
};
use covenant_pki::{Certificate, files::PUBLIC_MODE};
use serde_json::Value;

use crate::failure::Failure;

/// The bundle format this command reads.
const FORMAT: &str = "covenant-node-bundle/1";

fn bad(message: impl Into<String>) -> anyhow::Error {
    Failure::new("BUNDLE_INVALID", message).into()
}

/// Write `dir`'s node.toml, certificate and genesis blocks from the bundle at `path`; the key
/// stays at `key` and node.toml names it. With `listen_any` the node listens on every
/// interface at the bundle's ports and advertises the bundle's host to its peers.
pub fn apply(path: &Path, key: &Path, dir: &Path, listen_any: bool) -> Result<PathBuf> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let b: Value = serde_json::from_str(&text)
        .map_err(|e| bad(format!("{} is not a bundle (JSON): {e}", path.display())))?;
    if b["format"] != FORMAT {
        return Err(bad(format!(
            "{} is not a {FORMAT} bundle (format {})",
            path.display(),
            b["format"]
        )));
    }
    let node = &b["node"];
    let field = |k: &str| -> Result<String> {
        node[k]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| bad(format!("the bundle's node has no {k}")))
    };
    let port = |k: &str| -> Result<u16> {
        node[k]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| bad(format!("the bundle's node has no valid {k}")))
    };
    let name = field("name")?;
    let host = field("host")?;
    let cert_pem = field("certificate")?;
    let (api, grpc, peer) = (port("api_port")?, port("grpc_port")?, port("peer_port")?);
    let cert = Certificate::from_pem(&cert_pem, "the bundle's certificate")?;
    let key_pem =
        std::fs::read_to_string(key).with_context(|| format!("reading {}", key.display()))?;
    let private = covenant_crypto::PrivateKey::from_pkcs8_pem(&key_pem)
        .with_context(|| format!("{} is not a PKCS#8 private key", key.display()))?;
    if &cert.public_key()? != private.public_key() {
        return Err(Failure::new(
            "KEY_MISMATCH",
            format!(
                "{} is not the key the bundle's certificate was issued for (the one its CSR was made with)",
                key.display()
            ),
        )
        .into());
    }
    let key = std::fs::canonicalize(key).with_context(|| format!("{}", key.display()))?;
    std::fs::create_dir_all(dir.join("genesis"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let mut chains = Vec::new();
    for c in b["chains"].as_array().into_iter().flatten() {
        let id = c["id"]
            .as_str()
            .ok_or_else(|| bad("a chain of the bundle has no id"))?;
        covenant_types::names::validate_chain_id(id)?;
        let bytes = c["genesis"]
            .as_str()
            .and_then(b64_decode)
            .ok_or_else(|| bad(format!("chain {id}: the genesis is not base64")))?;
        let genesis = covenant_chain::genesis::decode(&bytes).map_err(|e| {
            bad(format!(
                "chain {id}: the genesis block does not decode: {e}"
            ))
        })?;
        if genesis.header.chain_id != id {
            return Err(bad(format!(
                "the genesis given for chain {id} is chain {}'s",
                genesis.header.chain_id
            )));
        }
        if let Some(h) = c["genesis_hash"].as_str()
            && h != genesis.hash.to_hex()
        {
            return Err(bad(format!(
                "chain {id}: the genesis block's hash is not {h}"
            )));
        }
        let file = dir.join("genesis").join(format!("{id}.block"));
        if let Ok(existing) = std::fs::read(&file)
            && existing != bytes
        {
            return Err(Failure::new(
                "BUNDLE_GENESIS_MISMATCH",
                format!(
                    "{} holds another genesis of chain {id}: this directory belongs to another chain of that name",
                    file.display()
                ),
            )
            .into());
        }
        covenant_pki::files::write_atomic(&file, &bytes, PUBLIC_MODE)?;
        chains.push(ChainSection {
            id: id.to_string(),
            genesis: PathBuf::from("genesis").join(format!("{id}.block")),
            verify_blocks: 100,
            pool_max_txs: None,
        });
    }
    if chains.is_empty() {
        return Err(bad("the bundle names no chain for the node"));
    }
    covenant_pki::files::write_atomic(&dir.join("cert.pem"), cert_pem.as_bytes(), PUBLIC_MODE)?;
    let listen = if listen_any { "0.0.0.0" } else { host.as_str() };
    let mut tbft = TbftSection::default();
    let t = &b["tbft"];
    if let (Some(p), Some(v), Some(r)) = (
        t["propose_ms"].as_u64(),
        t["vote_ms"].as_u64(),
        t["per_round_ms"].as_u64(),
    ) {
        tbft.propose_ms = p;
        tbft.vote_ms = v;
        tbft.per_round_ms = r;
    }
    let config = NodeConfig {
        node: NodeSection {
            name,
            data_dir: "data".into(),
            api_listen: format!("{listen}:{api}"),
            grpc_listen: Some(format!("{listen}:{grpc}")),
            cert: "cert.pem".into(),
            key,
            peer_listen: Some(format!("{listen}:{peer}")),
            peer_advertise: listen_any.then(|| format!("{host}:{peer}")),
            peer_source: None,
            log: None,
        },
        chains,
        tbft,
        api: Default::default(),
        archive: Default::default(),
        base: dir.to_path_buf(),
    };
    let out = dir.join("node.toml");
    covenant_pki::files::write_atomic(&out, config.to_toml()?.as_bytes(), PUBLIC_MODE)?;
    Ok(out)
}
