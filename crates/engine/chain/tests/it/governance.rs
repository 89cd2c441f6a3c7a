//! Governed changes: multi-signed config updates, contract lifecycle, the governance record.

use covenant_crypto::Suite;
use covenant_types::ChainConfig;
use serde_json::json;

use crate::support::{TestChain, TestOrg, code_b64, config, ok};

fn current_config(tc: &TestChain) -> ChainConfig {
    (*tc.chain.config()).clone()
}

#[test]
fn config_update_needs_a_majority_of_admins() {
    let orgs: Vec<TestOrg> = (1..=3)
        .map(|i| TestOrg::new(&format!("org{i}"), Suite::Sm))
        .collect();
    let refs: Vec<&TestOrg> = orgs.iter().collect();
    let tc = TestChain::new(config("main", Suite::Sm, &refs), &orgs[0].node);
    let update = json!({"set_block": {"max_txs": 500}});

    // One admin of three: rejected, nothing changes.
    let r = tc.run(tc.tx(&orgs[0].admin, "sys.config", "update", &update, &[]));
    assert_eq!(r.code, "POLICY_NOT_MET", "{}", r.message);
    assert!(r.message.contains("1 of 2"), "{}", r.message);
    assert_eq!(current_config(&tc).block.unwrap().max_txs, 2000);
    // Two signatures of the same org count once.
    let r = tc.run(tc.tx(
        &orgs[0].admin,
        "sys.config",
        "update",
        &update,
        &[&orgs[0].admin],
    ));
    assert_eq!(r.code, "POLICY_NOT_MET");
    // A client's endorsement does not count either.
    let r = tc.run(tc.tx(
        &orgs[0].admin,
        "sys.config",
        "update",
        &update,
        &[&orgs[1].client],
    ));
    assert_eq!(r.code, "POLICY_NOT_MET");

    // Two admins of three: applied.
    let r = tc.run(tc.tx(
        &orgs[0].admin,
        "sys.config",
        "update",
        &update,
        &[&orgs[1].admin],
    ));
    let v = ok(&r);
    let cfg = current_config(&tc);
    assert_eq!(cfg.block.unwrap().max_txs, 500);
    assert_eq!(cfg.version, v["version"].as_u64().unwrap());
    assert!(cfg.version > 0);

    // The record names who signed.
    let records = tc.query("sys.governance", "list", json!({}), None);
    let records: serde_json::Value = serde_json::from_slice(&records.result.return_data).unwrap();
    let rec = &records.as_array().unwrap()[0];
    assert_eq!(rec["resource"], "config.update");
    let signers: Vec<String> = rec["signers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["org"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(signers, vec!["org1", "org2"]);
    // The block header carries the new config version from the next block on.
    let next = tc.call(&orgs[2].admin, "sys.contracts", "list", json!({}));
    ok(&next);
    let tip = tc.chain.store().tip().height.unwrap();
    let header = tc.chain.store().block(tip).unwrap().unwrap().header;
    assert_eq!(header.config_version, cfg.version);
}

#[test]
fn adding_an_org_by_vote_admits_its_members() {
    let orgs: Vec<TestOrg> = (1..=2)
        .map(|i| TestOrg::new(&format!("org{i}"), Suite::Intl))
        .collect();
    let newcomer = TestOrg::new("org3", Suite::Intl);
    let tc = TestChain::new(
        config("main", Suite::Intl, &[&orgs[0], &orgs[1]]),
        &orgs[0].node,
    );
    ok(&tc.install(&orgs[0].admin, "kv", "kv", json!([])));
    let put = json!({"key": "n", "value": "1"});
    assert_eq!(
        tc.chain
            .submit(tc.tx(&newcomer.client, "kv", "put", &put, &[]))
            .unwrap_err()
            .code(),
        "SENDER_UNTRUSTED"
    );
    let add = json!({"add_org": {"org_id": "org3", "trust_roots": [newcomer.root.to_pem()]}});
    ok(&tc.run(tc.tx(
        &orgs[0].admin,
        "sys.config",
        "update",
        &add,
        &[&orgs[1].admin],
    )));
    ok(&tc.call(&newcomer.client, "kv", "put", put));
    assert_eq!(current_config(&tc).orgs.len(), 3);
}

#[test]
fn an_orgs_trust_roots_change_by_a_governed_update() {
    let orgs: Vec<TestOrg> = (1..=2)
        .map(|i| TestOrg::new(&format!("org{i}"), Suite::Sm))
        .collect();
    let refs: Vec<&TestOrg> = orgs.iter().collect();
    let tc = TestChain::new(config("main", Suite::Sm, &refs), &orgs[0].node);
    let (a, b) = (&orgs[0], &orgs[1]);
    ok(&tc.install(&a.admin, "kv", "kv", json!([])));
    // A national CA's root, outside the chain: its certificates are strangers.
    let national = TestOrg::new("national-ca", Suite::Sm);
    let put = json!({"key": "n", "value": "1"});
    assert_eq!(
        tc.chain
            .submit(tc.tx(&national.client, "kv", "put", &put, &[]))
            .unwrap_err()
            .code(),
        "SENDER_UNTRUSTED"
    );
    let set =
        |roots: Vec<String>| json!({"set_trust_roots": {"org_id": "org2", "trust_roots": roots}});
    let both = set(vec![b.root.to_pem(), national.root.to_pem()]);
    // One org alone cannot change them.
    assert_eq!(
        tc.run(tc.tx(&b.admin, "sys.config", "update", &both, &[]))
            .code,
        "POLICY_NOT_MET"
    );
    // Refused without a change: no roots, an org that is not a member, a leaf as a root,
    // the same root twice.
    for bad in [
        set(vec![]),
        json!({"set_trust_roots": {"org_id": "org9", "trust_roots": [national.root.to_pem()]}}),
        set(vec![national.client.cert.to_pem()]),
        set(vec![b.root.to_pem(), b.root.to_pem()]),
    ] {
        let r = tc.run(tc.tx(&a.admin, "sys.config", "update", &bad, &[&b.admin]));
        assert_eq!(r.code, "INVALID_ARGS", "{bad}: {}", r.message);
    }
    assert_eq!(current_config(&tc).orgs[1].trust_roots.len(), 1);

    // Both orgs agree: the national root joins org2's own, and its certificates are org2's.
    ok(&tc.run(tc.tx(&b.admin, "sys.config", "update", &both, &[&a.admin])));
    ok(&tc.call(&national.client, "kv", "put", put.clone()));
    ok(&tc.call(&b.client, "kv", "put", put.clone()));
    // Setting the same roots again changes nothing and says so.
    let r = tc.run(tc.tx(&b.admin, "sys.config", "update", &both, &[&a.admin]));
    assert_eq!(r.code, "INVALID_ARGS", "{}", r.message);
    assert!(r.message.contains("already"), "{}", r.message);

    // Without its own root, the org's old certificates are shut out.
    let only = set(vec![national.root.to_pem()]);
    ok(&tc.run(tc.tx(&b.admin, "sys.config", "update", &only, &[&a.admin])));
    assert_eq!(
        tc.chain
            .submit(tc.tx(&b.client, "kv", "put", &put, &[]))
            .unwrap_err()
            .code(),
        "SENDER_UNTRUSTED"
    );
    ok(&tc.call(&national.client, "kv", "put", put));
}

#[test]
fn a_nodes_certificate_is_replaced_in_place_by_a_governed_update() {
    let orgs: Vec<TestOrg> = (1..=2)
        .map(|i| TestOrg::new(&format!("org{i}"), Suite::Sm))
        .collect();
    let refs: Vec<&TestOrg> = orgs.iter().collect();
    let tc = TestChain::new(config("main", Suite::Sm, &refs), &orgs[0].node);
    let (a, b) = (&orgs[0], &orgs[1]);
    let far = std::time::SystemTime::now() + std::time::Duration::from_secs(3600 * 500);
    let renewed = a.issue(covenant_pki::Role::Node, "node", far);
    let replace = |node: &str, cert: &covenant_pki::Certificate| json!({"replace_node_certificate": {"node_id": node, "certificate": cert.to_pem()}});
    // Refused without a change: a client's certificate, another org's node certificate, a
    // node the chain does not have, the certificate the node has already.
    for bad in [
        replace("node", &a.client.cert),
        replace("node", &b.node.cert),
        replace("node-9", &renewed.cert),
        replace("node", &a.node.cert),
    ] {
        let r = tc.run(tc.tx(&a.admin, "sys.config", "update", &bad, &[&b.admin]));
        assert_eq!(r.code, "INVALID_ARGS", "{bad}: {}", r.message);
    }
    // One org alone cannot do it either: it is a config change like any other.
    let good = replace("node", &renewed.cert);
    let r = tc.run(tc.tx(&a.admin, "sys.config", "update", &good, &[]));
    assert_eq!(r.code, "POLICY_NOT_MET", "{}", r.message);
    let before = current_config(&tc);
    ok(&tc.run(tc.tx(&a.admin, "sys.config", "update", &good, &[&b.admin])));
    let after = current_config(&tc);
    let nodes = &after.consensus.as_ref().unwrap().nodes;
    assert_eq!(nodes.len(), 1);
    assert_eq!(
        (nodes[0].node_id.as_str(), nodes[0].certificate.as_slice()),
        ("node", renewed.cert.der())
    );
    assert!(
        after.version > before.version,
        "{} then {}",
        before.version,
        after.version
    );
}

#[test]
fn contract_lifecycle_upgrade_freeze_unfreeze_revoke() {
    let orgs: Vec<TestOrg> = (1..=3)
        .map(|i| TestOrg::new(&format!("org{i}"), Suite::Sm))
        .collect();
    let refs: Vec<&TestOrg> = orgs.iter().collect();
    let tc = TestChain::new(config("main", Suite::Sm, &refs), &orgs[0].node);
    let (a, b) = (&orgs[0], &orgs[1]);
    ok(&tc.install(&a.admin, "kv", "kv", json!([])));
    ok(&tc.call(
        &a.client,
        "kv",
        "put",
        json!({"key": "keep", "value": "me"}),
    ));

    // A client cannot install; a second install of the same name is refused.
    assert_eq!(
        tc.install(&a.client, "kv2", "kv", json!([])).code,
        "POLICY_NOT_MET"
    );
    assert_eq!(
        tc.install(&b.admin, "kv", "kv", json!([])).code,
        "INVALID_ARGS"
    );

    // Upgrade (by the creator org) to new code: state is kept, the version changes.
    let up = json!({"name": "kv", "version": "2.0", "code": code_b64("evidence")});
    assert_eq!(
        tc.call(&b.admin, "sys.contracts", "upgrade", up.clone())
            .code,
        "POLICY_NOT_MET"
    );
    let info = ok(&tc.call(&a.admin, "sys.contracts", "upgrade", up));
    assert_eq!(info["version"], "2.0");
    let h = "cd".repeat(32);
    ok(&tc.call(&a.client, "kv", "put", json!({"hash": h})));
    // Back to the kv code: the old key is still there.
    ok(&tc.call(
        &a.admin,
        "sys.contracts",
        "upgrade",
        json!({"name": "kv", "version": "3.0", "code": code_b64("kv")}),
    ));
    assert_eq!(
        tc.query("kv", "get", json!({"key": "keep"}), None)
            .result
            .return_data,
        br#""me""#
    );

    // Freeze: calls fail with a clear code, at the door and in blocks.
    ok(&tc.call(&a.admin, "sys.contracts", "freeze", json!({"name": "kv"})));
    let put = tc.tx(
        &a.client,
        "kv",
        "put",
        &json!({"key": "x", "value": "y"}),
        &[],
    );
    assert_eq!(tc.chain.submit(put).unwrap_err().code(), "CONTRACT_FROZEN");
    assert_eq!(
        tc.query("kv", "get", json!({"key": "keep"}), None)
            .result
            .code,
        "CONTRACT_FROZEN"
    );
    ok(&tc.call(&a.admin, "sys.contracts", "unfreeze", json!({"name": "kv"})));
    ok(&tc.call(&a.client, "kv", "put", json!({"key": "x", "value": "y"})));

    // Revoke needs a majority; then the contract is gone for good.
    assert_eq!(
        tc.call(&a.admin, "sys.contracts", "revoke", json!({"name": "kv"}))
            .code,
        "POLICY_NOT_MET"
    );
    ok(&tc.run(tc.tx(
        &a.admin,
        "sys.contracts",
        "revoke",
        &json!({"name": "kv"}),
        &[&b.admin],
    )));
    let put = tc.tx(
        &a.client,
        "kv",
        "put",
        &json!({"key": "x", "value": "z"}),
        &[],
    );
    assert_eq!(tc.chain.submit(put).unwrap_err().code(), "CONTRACT_REVOKED");
    let r = tc.call(&a.admin, "sys.contracts", "unfreeze", json!({"name": "kv"}));
    assert_eq!(r.code, "CONTRACT_REVOKED");

    // Installing code with floating point is refused.
    let float_wasm = wat::parse_str(
        r#"(module (memory (export "memory") 1) (func (export "call") (drop (f32.const 1))))"#,
    )
    .unwrap();
    use base64::Engine as _;
    let r = tc.call(
        &a.admin,
        "sys.contracts",
        "install",
        json!({"name": "floaty", "code": base64::engine::general_purpose::STANDARD.encode(float_wasm)}),
    );
    assert_eq!(r.code, "CONTRACT_INVALID", "{}", r.message);

    let list = tc.query("sys.contracts", "list", json!({}), None);
    let list: serde_json::Value = serde_json::from_slice(&list.result.return_data).unwrap();
    assert_eq!(list[0]["status"], "revoked");
}
