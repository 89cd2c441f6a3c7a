//! The certificate centre end to end: a real `covenant platform serve` and the node it deploys.
//!
//! A holder's key is made with `covenant ca csr` and never leaves its directory; the
//! holder asks for a certificate with the CSR, the org's root approves, the holder downloads
//! it and commits a transaction with it. The root revokes it: the org's CA issues a CRL, a
//! proposal publishes it on the chain, the revocation's step for the chain goes to
//! `enforced` once the node refuses the certificate — and the holder's next transaction is
//! rejected by the chain as revoked.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    covenant,
    platform::{Platform, deploy_solo_chain, http, register},
    wait_for,
};

#[test]
fn a_revoked_holder_is_refused_by_the_chain() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let platform = Platform::start(dir, None, covenant_test_utils::free_ports(30));
    let base = platform.url.clone();
    let a = register(&rt, &base, "bank-a", false);
    let node_api = deploy_solo_chain(&rt, &a, "ledger");
    let suite = a.get(&rt, "/api/v1/orgs/bank-a")["suite"]
        .as_str()
        .unwrap()
        .to_string();

    // The holder's key stays where `ca csr` wrote it; the CSR goes to the platform.
    covenant(
        dir,
        &[
            "ca", "csr", "--suite", &suite, "--name", "holder", "--out", "holder",
        ],
    )
    .ok();
    let csr = std::fs::read_to_string(dir.join("holder.csr")).unwrap();
    let req = a.post(
        &rt,
        "/api/v1/org/certificate-requests",
        json!({"name": "holder", "role": "client", "csr": csr}),
    );
    let rid = req["id"].as_str().unwrap();
    let approved = a.post(
        &rt,
        &format!("/api/v1/org/certificate-requests/{rid}/approve"),
        json!({}),
    );
    let fp = approved["fingerprint"].as_str().unwrap().to_string();
    let pem = rt.block_on(async {
        reqwest::Client::new()
            .get(format!(
                "{base}/api/v1/org/certificate-requests/{rid}/certificate"
            ))
            .bearer_auth(&a.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    std::fs::write(dir.join("holder.crt"), &pem).unwrap();
    let profile = dir.join("holder-profile.json");
    std::fs::write(
        &profile,
        json!({"endpoint": node_api, "chain_id": "ledger", "identity": "holder",
               "identities": {"holder": {"cert": "holder.crt", "key": "holder.key"}}})
        .to_string(),
    )
    .unwrap();
    let register_args = json!({"cert": pem}).to_string();
    let invoke = |args: &str| {
        covenant(
            dir,
            &[
                "--output",
                "json",
                "contract",
                "invoke",
                "sys.certs",
                "register",
                "--args",
                args,
                "--profile",
                profile.to_str().unwrap(),
            ],
        )
    };
    let r = invoke(&register_args).ok().json();
    assert_eq!(r["code"], "OK", "{r}");

    // Revoked: CRL 1, a proposal to the chain, and the node refusing the certificate.
    let (status, rv) = http(
        &rt,
        &base,
        Some(&a.token),
        "POST",
        &format!("/api/v1/org/certificates/{fp}/revoke"),
        Some(json!({"reason": "key-compromise"})),
    );
    assert_eq!(status, 201, "{rv}");
    assert_eq!(rv["crl_number"], 1);
    assert_eq!(rv["steps"].as_array().unwrap().len(), 1, "{rv}");
    assert_eq!(rv["steps"][0]["chain_id"], "ledger");
    let id = rv["id"].as_str().unwrap().to_string();
    let mut last = Value::Null;
    wait_for("the revocation to reach the chain's node", 90, || {
        last = a.get(&rt, &format!("/api/v1/org/revocations/{id}"));
        last["state"] != "in_progress"
    });
    assert_eq!(last["state"], "done", "{last}");
    let step = &last["steps"][0];
    assert_eq!(step["state"], "enforced", "{last}");
    let prop = a.get(
        &rt,
        &format!(
            "/api/v1/proposals/{}",
            step["proposal_id"].as_str().unwrap()
        ),
    );
    assert_eq!(prop["kind"], "cert.publish_crl");
    assert_eq!(prop["state"], "executed", "{prop}");
    let cert = a.get(&rt, &format!("/api/v1/org/certificates/{fp}"));
    assert_eq!(cert["status"], "revoked");
    assert_eq!(cert["revocation"]["steps"][0]["state"], "enforced");

    // The holder's next transaction: the chain says no.
    let again = invoke(&register_args);
    assert_ne!(
        again.code, 0,
        "a revoked holder committed: {}",
        again.stdout
    );
    let said = format!("{}{}", again.stdout, again.stderr);
    assert!(said.contains("SENDER_REVOKED"), "{said}");
    // And the chain holds the CRL.
    let crls = rt.block_on(async {
        let client = covenant_sdk::Client::new(&node_api, "ledger").unwrap();
        tokio::time::timeout(
            Duration::from_secs(30),
            client.query("sys.certs", "list", json!({}), None),
        )
        .await
        .unwrap()
        .unwrap()
    });
    assert_eq!(crls.code, "OK", "{crls:?}");
    assert_eq!(crls.result["crls"][0]["number"], 1, "{:?}", crls.result);
    assert_eq!(crls.result["crls"][0]["entries"], 1, "{:?}", crls.result);
    let events = a.get(&rt, "/api/v1/events");
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "cert.revoked" && e["subject_id"] == id.as_str()),
        "{events}"
    );
}
