use covenant_crypto::{Hash, Suite};
use serde_json::json;

use crate::support::{TestChain, TestOrg, config, ok};

#[test]
fn kv_deploy_invoke_query_and_proof() {
    for suite in Suite::ALL {
        let org = TestOrg::new("org1", suite);
        let tc = TestChain::new(config("main", suite, &[&org]), &org.node);
        let info = ok(&tc.install(&org.admin, "kv", "kv", json!([])));
        assert_eq!(info["status"], "active");
        assert_eq!(info["creator_org"], "org1");

        let bytes = tc.tx(
            &org.client,
            "kv",
            "put",
            &json!({"key": "a", "value": "1"}),
            &[],
        );
        let id = tc.chain.submit(bytes.clone()).unwrap();
        let block = tc.chain.produce_block().unwrap().unwrap();
        assert_eq!(block.results[0].code, "OK");
        assert_eq!(block.results[0].events[0].topic, "put");
        assert_eq!(block.results[0].events[0].contract, "kv");

        let q = tc.query("kv", "get", json!({"key": "a"}), None);
        assert_eq!(q.result.code, "OK");
        assert_eq!(q.result.return_data, br#""1""#);
        // Queries change nothing.
        let q = tc.query(
            "kv",
            "put",
            json!({"key": "b", "value": "2"}),
            Some(&org.client),
        );
        assert_eq!(q.result.code, "OK");
        assert_eq!(
            tc.query("kv", "get", json!({"key": "b"}), None)
                .result
                .return_data,
            b"null"
        );

        // The transaction with a proof that verifies on its own.
        let rec = tc.chain.transaction(&id).unwrap().unwrap();
        assert_eq!(rec.transaction, bytes);
        let header = tc
            .chain
            .store()
            .block(rec.committed.height)
            .unwrap()
            .unwrap()
            .header;
        let root = Hash::from_slice(&header.tx_root).unwrap();
        assert!(
            rec.proof
                .verify(suite.hash_algorithm(), &root, &rec.transaction)
        );
        assert!(!rec.proof.verify(suite.hash_algorithm(), &root, b"other"));
    }
}

#[test]
fn token_and_evidence_flows() {
    let org = TestOrg::new("org1", Suite::Sm);
    let tc = TestChain::new(config("main", Suite::Sm, &[&org]), &org.node);
    ok(&tc.install(
        &org.admin,
        "token",
        "token",
        json!([{"method": "mint", "roles": ["admin"]}]),
    ));
    ok(&tc.install(&org.admin, "evidence", "evidence", json!([])));
    let client_account = Suite::Sm.hash(org.client.cert.der()).to_hex();
    assert_eq!(
        ok(&tc.call(&org.admin, "token", "mint", json!({"amount": 1000}))),
        json!(1000)
    );
    assert_eq!(
        ok(&tc.call(
            &org.admin,
            "token",
            "transfer",
            json!({"to": client_account, "amount": 250})
        )),
        json!(750)
    );
    let bal = tc.query("token", "balance", json!({"owner": client_account}), None);
    assert_eq!(bal.result.return_data, b"250");
    let mine = tc.query("token", "balance", json!({}), Some(&org.admin));
    assert_eq!(mine.result.return_data, b"750");
    // An overdraft fails and changes nothing.
    let r = tc.call(
        &org.client,
        "token",
        "transfer",
        json!({"to": "x", "amount": 251}),
    );
    assert_eq!(r.code, "CONTRACT_ERROR");
    assert!(r.message.contains("insufficient"), "{}", r.message);
    assert_eq!(
        tc.query("token", "balance", json!({"owner": client_account}), None)
            .result
            .return_data,
        b"250"
    );

    let h = "ab".repeat(32);
    let rec = ok(&tc.call(
        &org.client,
        "evidence",
        "put",
        json!({"hash": h, "meta": "invoice 42"}),
    ));
    assert_eq!(rec["org"], "org1");
    assert_eq!(rec["submitter"], client_account);
    let again = tc.call(&org.client, "evidence", "put", json!({"hash": h}));
    assert_eq!(again.code, "CONTRACT_ERROR");
    let got = tc.query("evidence", "get", json!({"hash": h}), None);
    let got: serde_json::Value = serde_json::from_slice(&got.result.return_data).unwrap();
    assert_eq!(got["meta"], "invoice 42");
}

#[test]
fn out_of_gas_fails_and_leaves_state_untouched() {
    let org = TestOrg::new("org1", Suite::Intl);
    let tc = TestChain::new(config("main", Suite::Intl, &[&org]), &org.node);
    ok(&tc.install(&org.admin, "kv", "kv", json!([])));
    let bytes = tc.tx_with(
        covenant_types::tx::TxBuilder::new("main", "kv", "put")
            .args_json(&json!({"key": "k", "value": "v"}))
            .gas_limit(1000),
        &org.client,
        &[],
    );
    let r = tc.run(bytes);
    assert_eq!(r.code, "OUT_OF_GAS");
    assert_eq!(r.gas_used, 1000);
    assert!(r.events.is_empty());
    assert_eq!(
        tc.query("kv", "get", json!({"key": "k"}), None)
            .result
            .return_data,
        b"null"
    );
}

#[test]
fn registered_certificates_let_senders_use_a_hash() {
    let org = TestOrg::new("org1", Suite::Sm);
    let tc = TestChain::new(config("main", Suite::Sm, &[&org]), &org.node);
    ok(&tc.install(&org.admin, "kv", "kv", json!([])));
    let reg = ok(&tc.call(
        &org.client,
        "sys.certs",
        "register",
        json!({"cert": org.client.cert.to_pem()}),
    ));
    let hash = Suite::Sm.hash(org.client.cert.der());
    assert_eq!(reg["cert_hash"], hash.to_hex());
    let payload = covenant_types::tx::TxBuilder::new("main", "kv", "put")
        .args_json(&json!({"key": "short", "value": "sender"}))
        .build()
        .unwrap();
    let tx = covenant_types::tx::sign(
        payload,
        covenant_types::tx::sender_by_hash(hash),
        &org.client.key,
    )
    .unwrap();
    let r = tc.run(prost::Message::encode_to_vec(&tx));
    assert_eq!(r.code, "OK", "{}", r.message);
}
