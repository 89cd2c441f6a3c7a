//! The deploy library against the node it deploys.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use covenant_deploy::node_config::{ChainSection, NodeSection, NodeToml, TbftSection};

/// The `node.toml` a driver writes is what the node reads: written here, parsed by the node's
/// own config loader.
#[test]
fn the_node_toml_a_driver_writes_is_what_the_node_reads() {
    let dir = tempfile::tempdir().unwrap();
    let toml = NodeToml {
        node: NodeSection {
            name: "org1-node".into(),
            data_dir: "data".into(),
            api_listen: "127.0.0.1:7100".into(),
            grpc_listen: Some("127.0.0.1:7101".into()),
            cert: "../../orgs/org1/ca/node.pem".into(),
            key: "../../orgs/org1/ca/node.key".into(),
            peer_listen: Some("127.0.0.1:7102".into()),
            peer_source: None,
            log: None,
        },
        chains: vec![
            ChainSection {
                id: "main".into(),
                genesis: "../../genesis/main.block".into(),
                verify_blocks: 100,
                pool_max_txs: None,
            },
            ChainSection {
                id: "audit".into(),
                genesis: "../../genesis/audit.block".into(),
                verify_blocks: 0,
                pool_max_txs: None,
            },
        ],
        tbft: Some(TbftSection {
            propose_ms: 1500,
            vote_ms: 500,
            per_round_ms: 250,
        }),
    };
    let path = dir.path().join("node.toml");
    std::fs::write(&path, toml.to_toml().unwrap()).unwrap();
    let config = covenant_node::NodeConfig::load(&path).unwrap();
    assert_eq!(config.node.name, "org1-node");
    assert_eq!(config.node.grpc_listen.as_deref(), Some("127.0.0.1:7101"));
    assert_eq!(config.node.peer_listen.as_deref(), Some("127.0.0.1:7102"));
    assert_eq!(config.chains.len(), 2);
    assert_eq!(config.chains[1].verify_blocks, 0);
    assert_eq!(config.tbft.propose_ms, 1500);
    assert_eq!(
        config.resolve(&config.chains[0].genesis),
        dir.path().join("../../genesis/main.block")
    );
}
