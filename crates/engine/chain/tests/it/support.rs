//! A chain in a temporary directory with real org CAs and the example contracts.

use std::{
    path::Path,
    time::{Duration, SystemTime},
};

use base64::Engine as _;
use covenant_chain::{Chain, ChainOptions, Executor, TxOutcome, txpool::PoolLimits};
use covenant_crypto::{KeyAlgorithm, PrivateKey, Suite};
use covenant_pki::{Certificate, Role};
use covenant_storage::VerifyMode;
use covenant_test_utils::identity;
use covenant_types::{
    ChainConfig, ConsensusConfig, ConsensusNode, Org, TxResult,
    block::DecodedBlock,
    config::{
        DEFAULT_MAX_GAS_PER_TX, DEFAULT_MAX_TX_BYTES, DEFAULT_TX_EXPIRY_WINDOW_MS,
        default_block_limits, default_policies,
    },
    tx::{TxBuilder, endorse, sender_by_certificate, sign},
};
use covenant_vm::Vm;
use prost::Message;
use serde_json::Value;

const HOUR: Duration = Duration::from_secs(3600);

pub use covenant_test_utils::identity::Id;

/// An org with its CA and three identities.
pub struct TestOrg {
    pub name: String,
    pub root: Certificate,
    pub root_key: PrivateKey,
    pub admin: Id,
    pub client: Id,
    pub node: Id,
}

fn alg(suite: Suite) -> KeyAlgorithm {
    suite.default_key_algorithm()
}

impl TestOrg {
    pub fn new(name: &str, suite: Suite) -> Self {
        let now = SystemTime::now();
        let root = identity::root(name, alg(suite), now + 1000 * HOUR);
        let issue = |role, who| identity::issue(&root, name, role, who, now + 100 * HOUR);
        TestOrg {
            name: name.into(),
            admin: issue(Role::Admin, "admin"),
            client: issue(Role::Client, "client"),
            node: issue(Role::Node, "node"),
            root: root.cert,
            root_key: root.key,
        }
    }

    pub fn issue(&self, role: Role, name: &str, not_after: SystemTime) -> Id {
        let root = Id {
            cert: self.root.clone(),
            key: self.root_key.clone(),
        };
        identity::issue(&root, &self.name, role, name, not_after)
    }
}

pub fn config(chain: &str, suite: Suite, orgs: &[&TestOrg]) -> ChainConfig {
    ChainConfig {
        chain_id: chain.into(),
        suite: suite.name().into(),
        orgs: orgs
            .iter()
            .map(|o| Org {
                org_id: o.name.clone(),
                trust_roots: vec![o.root.der().to_vec()],
            })
            .collect(),
        consensus: Some(ConsensusConfig {
            kind: "solo".into(),
            nodes: vec![ConsensusNode {
                org_id: orgs[0].name.clone(),
                node_id: "node".into(),
                certificate: orgs[0].node.cert.der().to_vec(),
                address: "127.0.0.1:0".into(),
            }],
            sync_nodes: vec![],
        }),
        policies: default_policies(),
        block: Some(default_block_limits()),
        tx_expiry_window_ms: DEFAULT_TX_EXPIRY_WINDOW_MS,
        max_gas_per_tx: DEFAULT_MAX_GAS_PER_TX,
        max_tx_bytes: DEFAULT_MAX_TX_BYTES,
        version: 0,
        max_endorsements: 0,
    }
}

pub struct TestChain {
    pub chain: Chain,
    pub suite: Suite,
    pub id: String,
    pub genesis: DecodedBlock,
    pub node: Id,
    _dir: Option<tempfile::TempDir>,
}

pub fn open_with(
    dir: &Path,
    genesis: &DecodedBlock,
    node: &Id,
    suite: Suite,
    pool: PoolLimits,
) -> Chain {
    let node_id = suite.hash(node.cert.der()).0.to_vec();
    Chain::open(
        dir,
        ChainOptions {
            genesis: Some(genesis.clone()),
            verify: VerifyMode::All,
            node_key: node.key.clone(),
            node_id,
            pool,
        },
        Executor::new(Vm::new().unwrap()),
    )
    .unwrap()
}

impl TestChain {
    pub fn new(config: ChainConfig, node: &Id) -> Self {
        Self::with_pool(config, node, PoolLimits::default())
    }

    pub fn with_pool(config: ChainConfig, node: &Id, pool: PoolLimits) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let suite: Suite = config.suite.parse().unwrap();
        let genesis =
            covenant_chain::genesis::genesis_block(&config, covenant_types::tx::now_ms() - 1000)
                .unwrap();
        let chain = open_with(dir.path(), &genesis, node, suite, pool);
        TestChain {
            id: config.chain_id.clone(),
            chain,
            suite,
            genesis,
            node: node.clone(),
            _dir: Some(dir),
        }
    }

    /// A signed transaction by `who`, endorsed by `endorsers`.
    pub fn tx(
        &self,
        who: &Id,
        contract: &str,
        method: &str,
        args: &Value,
        endorsers: &[&Id],
    ) -> Vec<u8> {
        self.tx_with(
            TxBuilder::new(&self.id, contract, method).args_json(args),
            who,
            endorsers,
        )
    }

    pub fn tx_with(&self, builder: TxBuilder, who: &Id, endorsers: &[&Id]) -> Vec<u8> {
        let payload = builder.build().unwrap();
        let mut tx = sign(
            payload.clone(),
            sender_by_certificate(who.cert.der().to_vec()),
            &who.key,
        )
        .unwrap();
        for e in endorsers {
            tx.endorsements.push(
                endorse(
                    &payload,
                    sender_by_certificate(e.cert.der().to_vec()),
                    &e.key,
                )
                .unwrap(),
            );
        }
        tx.encode_to_vec()
    }

    /// Submit, make a block, return the committed result.
    pub fn run(&self, bytes: Vec<u8>) -> TxResult {
        let id = self
            .chain
            .submit(bytes)
            .unwrap_or_else(|e| panic!("admission refused: {} {e}", e.code()));
        self.chain.produce_block().unwrap().expect("a block");
        self.chain
            .committed(&id)
            .unwrap()
            .expect("committed")
            .result
    }

    pub fn call(&self, who: &Id, contract: &str, method: &str, args: Value) -> TxResult {
        self.run(self.tx(who, contract, method, &args, &[]))
    }

    pub fn query(&self, contract: &str, method: &str, args: Value, who: Option<&Id>) -> TxOutcome {
        self.chain
            .query(
                contract,
                method,
                args.to_string().as_bytes(),
                who.map(|i| i.cert.der()),
            )
            .unwrap()
    }

    pub fn install(&self, admin: &Id, name: &str, example: &str, methods: Value) -> TxResult {
        self.call(
            admin,
            "sys.contracts",
            "install",
            serde_json::json!({"name": name, "version": "1.0", "code": code_b64(example), "methods": methods}),
        )
    }
}

pub fn ok(r: &TxResult) -> Value {
    assert_eq!(r.code, "OK", "{}: {}", r.code, r.message);
    serde_json::from_slice(&r.return_data).unwrap_or(Value::Null)
}

pub fn wasm(example: &str) -> Vec<u8> {
    covenant_test_utils::contracts::example_bytes(example)
}

pub fn code_b64(example: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(wasm(example))
}
