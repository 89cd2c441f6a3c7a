//! Every txpool check has its own code.

use std::time::{Duration, SystemTime};

use covenant_chain::txpool::PoolLimits;
use covenant_crypto::Suite;
use covenant_pki::Role;
use covenant_types::tx::{TxBuilder, now_ms};
use prost::Message;
use serde_json::json;

use crate::support::{TestChain, TestOrg, config, ok};

fn code(tc: &TestChain, bytes: Vec<u8>) -> &'static str {
    tc.chain.submit(bytes).unwrap_err().code()
}

#[test]
fn each_admission_check_has_its_code() {
    let org = TestOrg::new("org1", Suite::Sm);
    let outsider = TestOrg::new("outsider", Suite::Sm);
    let tc = TestChain::new(config("main", Suite::Sm, &[&org]), &org.node);
    ok(&tc.install(
        &org.admin,
        "kv",
        "kv",
        json!([{"method": "delete", "roles": ["admin"]}]),
    ));
    let put = json!({"key": "a", "value": "1"});

    // Size, decoding, chain id.
    let big = TxBuilder::new("main", "kv", "put").args(vec![b' '; 5 * 1024 * 1024]);
    assert_eq!(code(&tc, tc.tx_with(big, &org.client, &[])), "TX_TOO_LARGE");
    assert_eq!(code(&tc, vec![0xff, 0xff, 0x01]), "TX_MALFORMED");
    assert_eq!(
        code(
            &tc,
            tc.tx_with(
                TxBuilder::new("other", "kv", "put").args_json(&put),
                &org.client,
                &[]
            )
        ),
        "TX_WRONG_CHAIN"
    );

    // Time: far from the clock, or past its expiry.
    let old = TxBuilder::new("main", "kv", "put")
        .args_json(&put)
        .timestamp_ms(now_ms() - 3_600_000);
    assert_eq!(
        code(&tc, tc.tx_with(old, &org.client, &[])),
        "TX_BAD_TIMESTAMP"
    );
    let expired = TxBuilder::new("main", "kv", "put")
        .args_json(&put)
        .expiry_ms(now_ms() - 1000);
    assert_eq!(
        code(&tc, tc.tx_with(expired, &org.client, &[])),
        "TX_EXPIRED"
    );

    // Duplicates, in the pool and on the ledger.
    let dup = tc.tx(&org.client, "kv", "put", &put, &[]);
    tc.chain.submit(dup.clone()).unwrap();
    assert_eq!(code(&tc, dup.clone()), "TX_DUPLICATE_IN_POOL");
    tc.chain.produce_block().unwrap().unwrap();
    assert_eq!(code(&tc, dup), "TX_DUPLICATE_ON_LEDGER");

    // Senders: untrusted, bad signature, expired certificate, a CA certificate.
    assert_eq!(
        code(&tc, tc.tx(&outsider.client, "kv", "put", &put, &[])),
        "SENDER_UNTRUSTED"
    );
    let mut forged =
        covenant_types::Transaction::decode(tc.tx(&org.client, "kv", "put", &put, &[]).as_slice())
            .unwrap();
    forged.signature = org.admin.key.sign(&forged.payload).unwrap();
    assert_eq!(code(&tc, forged.encode_to_vec()), "TX_BAD_SIGNATURE");
    let mut wrong_sig =
        covenant_types::Transaction::decode(tc.tx(&org.client, "kv", "put", &put, &[]).as_slice())
            .unwrap();
    wrong_sig.signature = vec![0x30, 0x00];
    assert_eq!(code(&tc, wrong_sig.encode_to_vec()), "TX_BAD_SIGNATURE");
    let short_lived = org.issue(
        Role::Client,
        "short",
        SystemTime::now() - Duration::from_secs(60),
    );
    assert_eq!(
        code(&tc, tc.tx(&short_lived, "kv", "put", &put, &[])),
        "SENDER_EXPIRED"
    );
    let ca = crate::support::Id {
        cert: org.root.clone(),
        key: org.root_key.clone(),
    };
    assert_eq!(
        code(&tc, tc.tx(&ca, "kv", "put", &put, &[])),
        "SENDER_UNTRUSTED"
    );

    // Targets: unknown contract, method not allowed for the role.
    assert_eq!(
        code(&tc, tc.tx(&org.client, "nope", "put", &put, &[])),
        "CONTRACT_NOT_FOUND"
    );
    assert_eq!(
        code(&tc, tc.tx(&org.client, "sys.nope", "x", &json!({}), &[])),
        "CONTRACT_NOT_FOUND"
    );
    assert_eq!(
        code(
            &tc,
            tc.tx(&org.client, "kv", "delete", &json!({"key": "a"}), &[])
        ),
        "METHOD_NOT_ALLOWED"
    );
    assert_eq!(
        code(&tc, tc.tx(&org.node, "kv", "put", &put, &[])),
        "METHOD_NOT_ALLOWED"
    );
    assert_eq!(
        ok(&tc.call(&org.admin, "kv", "delete", json!({"key": "a"}))),
        json!(true)
    );
}

#[test]
fn frozen_and_revoked_senders_are_refused_from_the_next_block_on() {
    let org = TestOrg::new("org1", Suite::Intl);
    let tc = TestChain::new(config("main", Suite::Intl, &[&org]), &org.node);
    ok(&tc.install(&org.admin, "kv", "kv", json!([])));
    let put = json!({"key": "a", "value": "1"});
    let alice = org.issue(
        Role::Client,
        "alice",
        SystemTime::now() + Duration::from_secs(3600),
    );
    ok(&tc.call(&alice, "kv", "put", put.clone()));

    // Freeze (by an admin of alice's org), then unfreeze.
    ok(&tc.call(
        &org.admin,
        "sys.certs",
        "freeze",
        json!({"cert": alice.cert.to_pem()}),
    ));
    assert_eq!(
        code(&tc, tc.tx(&alice, "kv", "put", &put, &[])),
        "SENDER_FROZEN"
    );
    ok(&tc.call(
        &org.admin,
        "sys.certs",
        "unfreeze",
        json!({"cert": alice.cert.to_pem()}),
    ));
    ok(&tc.call(&alice, "kv", "put", put.clone()));
    // A client cannot freeze anyone.
    let r = tc.call(
        &org.client,
        "sys.certs",
        "freeze",
        json!({"cert": alice.cert.to_pem()}),
    );
    assert_eq!(r.code, "POLICY_NOT_MET");

    // Revoke for good.
    ok(&tc.call(
        &org.admin,
        "sys.certs",
        "revoke",
        json!({"cert": alice.cert.to_pem(), "reason": "key-compromise"}),
    ));
    assert_eq!(
        code(&tc, tc.tx(&alice, "kv", "put", &put, &[])),
        "SENDER_REVOKED"
    );
}

#[test]
fn a_crl_from_the_org_ca_revokes() {
    let org = TestOrg::new("org1", Suite::Sm);
    let tc = TestChain::new(config("main", Suite::Sm, &[&org]), &org.node);
    ok(&tc.install(&org.admin, "kv", "kv", json!([])));
    let bob = org.issue(
        Role::Client,
        "bob",
        SystemTime::now() + Duration::from_secs(3600),
    );
    ok(&tc.call(&bob, "kv", "put", json!({"key": "b", "value": "1"})));
    let now = SystemTime::now();
    let crl = covenant_pki::Crl::issue(
        &org.root,
        &org.root_key,
        1,
        now,
        now + Duration::from_secs(86400),
        &[covenant_pki::RevokedEntry {
            serial: bob.cert.serial_bytes().to_vec(),
            revoked_at: now,
            reason: covenant_pki::RevocationReason::KeyCompromise,
        }],
    )
    .unwrap();
    let r = ok(&tc.call(
        &org.admin,
        "sys.certs",
        "submit_crl",
        json!({"crl": crl.to_pem().unwrap()}),
    ));
    assert_eq!(r["entries"], 1);
    assert_eq!(
        code(
            &tc,
            tc.tx(&bob, "kv", "put", &json!({"key": "b", "value": "2"}), &[])
        ),
        "SENDER_REVOKED"
    );
    // The same CRL again is refused as not newer.
    let again = tc.call(
        &org.admin,
        "sys.certs",
        "submit_crl",
        json!({"crl": crl.to_pem().unwrap()}),
    );
    assert_eq!(again.code, "INVALID_ARGS");
}

#[test]
fn a_full_pool_answers_busy_and_keeps_what_it_has() {
    let org = TestOrg::new("org1", Suite::Intl);
    let tc = TestChain::with_pool(
        config("main", Suite::Intl, &[&org]),
        &org.node,
        PoolLimits {
            max_txs: 3,
            max_bytes: usize::MAX,
            retry_after_ms: 77,
        },
    );
    ok(&tc.install(&org.admin, "kv", "kv", json!([])));
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            tc.chain
                .submit(tc.tx(
                    &org.client,
                    "kv",
                    "put",
                    &json!({"key": format!("k{i}"), "value": "v"}),
                    &[],
                ))
                .unwrap(),
        );
    }
    let err = tc
        .chain
        .submit(tc.tx(
            &org.client,
            "kv",
            "put",
            &json!({"key": "k9", "value": "v"}),
            &[],
        ))
        .unwrap_err();
    assert_eq!(err.code(), "TXPOOL_FULL");
    assert_eq!(err.retry_after_ms(), Some(77));
    tc.chain.produce_block().unwrap().unwrap();
    for id in ids {
        assert_eq!(tc.chain.committed(&id).unwrap().unwrap().result.code, "OK");
    }
    tc.chain
        .submit(tc.tx(
            &org.client,
            "kv",
            "put",
            &json!({"key": "k9", "value": "v"}),
            &[],
        ))
        .unwrap();
}
