//! An external root as an org's trust root, end to end: a national-CA-style SM2 root made
//! apart from the platform (`covenant ca init`) issues a holder's certificate. The chain does
//! not know it; the org imports the root on the platform, which then verifies the holder's
//! certificate as the org's; a `chain.update_org_roots` proposal tells the chain, and the
//! holder's transaction commits. Then the org's own root is renewed: the same key certified
//! again, a proposal per chain carries it, and certificates the old one issued keep signing.

use serde_json::json;

use crate::{
    covenant,
    platform::{Platform, deploy_solo_chain, http, register, wait_proposal},
};

#[test]
fn certificates_of_an_imported_root_sign_for_the_org() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let platform = Platform::start(dir, None, covenant_test_utils::free_ports(30));
    let base = platform.url.clone();
    let a = register(&rt, &base, "bank-a", false);
    let node_api = deploy_solo_chain(&rt, &a, "ledger");
    let cid = a.get(&rt, "/api/v1/chains/ledger")["consortium_id"]
        .as_str()
        .unwrap()
        .to_string();

    // The national CA, apart from the platform, certifies a holder whose key stays here.
    covenant(
        dir,
        &[
            "ca",
            "init",
            "--org",
            "National CA",
            "--suite",
            "sm",
            "--dir",
            "national",
        ],
    )
    .ok();
    covenant(
        dir,
        &[
            "ca", "csr", "--suite", "sm", "--name", "holder", "--out", "holder",
        ],
    )
    .ok();
    covenant(
        dir,
        &[
            "ca",
            "sign",
            "--dir",
            "national",
            "--csr",
            "holder.csr",
            "--role",
            "client",
            "--out",
            "holder.crt",
        ],
    )
    .ok();
    let root = std::fs::read_to_string(dir.join("national/root.crt")).unwrap();
    let holder = std::fs::read_to_string(dir.join("holder.crt")).unwrap();
    let profile = dir.join("holder-profile.json");
    std::fs::write(
        &profile,
        json!({"endpoint": node_api, "chain_id": "ledger", "identity": "holder",
               "identities": {"holder": {"cert": "holder.crt", "key": "holder.key"}}})
        .to_string(),
    )
    .unwrap();
    let args = json!({"cert": holder}).to_string();
    let invoke = || {
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
                &args,
                "--profile",
                profile.to_str().unwrap(),
            ],
        )
    };
    let refused = invoke();
    assert_ne!(refused.code, 0, "a stranger committed: {}", refused.stdout);
    assert!(
        refused.stdout.contains("SENDER_UNTRUSTED"),
        "{}",
        refused.stdout
    );
    let verify = |o: &crate::platform::Org| {
        o.post(
            &rt,
            "/api/v1/org/certificates/verify",
            json!({"certificate": holder}),
        )
    };
    let v = verify(&a);
    assert_eq!(v["valid"], false, "{v}");
    assert_eq!(v["reason"], "unknown_issuer", "{v}");

    // Imported: a trust root of bank-a beside its own CA. A leaf is no root, and once is enough.
    let call = |method: &str, path: &str, body: serde_json::Value| {
        http(&rt, &base, Some(&a.token), method, path, Some(body))
    };
    let (status, bad) = call(
        "POST",
        "/api/v1/org/trust-roots",
        json!({"certificate": holder}),
    );
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("TRUST_ROOT_INVALID")),
        "{bad}"
    );
    let (status, imported) = call(
        "POST",
        "/api/v1/org/trust-roots",
        json!({"certificate": root}),
    );
    assert_eq!(status, 201, "{imported}");
    assert_eq!(imported["kind"], "external");
    assert!(
        imported["subject"]
            .as_str()
            .unwrap()
            .contains("National CA")
    );
    let (status, again) = call(
        "POST",
        "/api/v1/org/trust-roots",
        json!({"certificate": root}),
    );
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("TRUST_ROOT_EXISTS")),
        "{again}"
    );
    let roots = a.get(&rt, "/api/v1/org/trust-roots");
    let kinds: Vec<&str> = roots["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["platform", "external"], "{roots}");
    let v = verify(&a);
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["root_kind"], "external", "{v}");
    assert_eq!(v["root"], imported["fingerprint"]);
    // Another org's roots are its own.
    let z = register(&rt, &base, "bank-z", false);
    assert_eq!(
        z.get(&rt, "/api/v1/org/trust-roots")["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(verify(&z)["valid"], false);
    let own = roots["items"][0]["fingerprint"].as_str().unwrap();
    let (status, kept) = http(
        &rt,
        &base,
        Some(&a.token),
        "DELETE",
        &format!("/api/v1/org/trust-roots/{own}"),
        None,
    );
    assert_eq!(
        (status, kept["error"]["code"].as_str()),
        (409, Some("TRUST_ROOT_OWN")),
        "{kept}"
    );

    // The chain learns the org's roots by proposal; then the holder commits as bank-a.
    let p = a.post(
        &rt,
        &format!("/api/v1/consortia/{cid}/proposals"),
        json!({"kind": "chain.update_org_roots", "params": {"chain_id": "ledger", "org_id": "bank-a"}}),
    );
    wait_proposal(&rt, &a, p["id"].as_str().unwrap(), "executed", 60);
    let r = invoke().ok().json();
    assert_eq!(r["code"], "OK", "{r}");
    let config = covenant(
        dir,
        &[
            "--output",
            "json",
            "chain",
            "config",
            "--profile",
            profile.to_str().unwrap(),
        ],
    )
    .ok()
    .json();
    assert_eq!(
        config["orgs"][0]["trust_roots"].as_array().unwrap().len(),
        2,
        "{config}"
    );

    // The org's own root renewed: same key, new validity; the chain is told by proposal.
    let old_root = roots["items"][0].clone();
    let (status, renewed) = call(
        "POST",
        &format!(
            "/api/v1/org/certificates/{}/renew",
            old_root["fingerprint"].as_str().unwrap()
        ),
        json!({}),
    );
    assert_eq!(status, 200, "{renewed}");
    assert_eq!(renewed["kind"], "root", "{renewed}");
    assert_ne!(renewed["fingerprint"], old_root["fingerprint"]);
    let events = a.get(&rt, "/api/v1/events?limit=50");
    let event = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "cert.renewed" && e["data"]["root"] == true)
        .cloned()
        .unwrap_or_else(|| panic!("no root renewal event: {events}"));
    let proposal = event["data"]["proposals"][0]["proposal_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{event}"))
        .to_string();
    wait_proposal(&rt, &a, &proposal, "executed", 60);
    let now = a.get(&rt, "/api/v1/org/trust-roots");
    assert_eq!(
        now["items"][0]["fingerprint"], renewed["fingerprint"],
        "{now}"
    );
    // The platform's client identity, certified by the old root, still signs on the chain.
    let admin = a.get(&rt, "/api/v1/org/certificates?kind=admin")["items"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    let pem = a.get(&rt, &format!("/api/v1/org/certificates/{admin}"))["certificate"]
        .as_str()
        .unwrap()
        .to_string();
    let r = a.post(
        &rt,
        "/api/v1/chains/ledger/contracts/sys.certs/invoke",
        json!({"method": "register", "args": {"cert": pem}}),
    );
    assert_eq!(r["result"]["code"], "OK", "{r}");
    // A root lasts at most ten years.
    let (status, _) = call(
        "POST",
        &format!(
            "/api/v1/org/certificates/{}/renew",
            renewed["fingerprint"].as_str().unwrap()
        ),
        json!({"days": 5000}),
    );
    assert_eq!(status, 400, "a root lasts at most ten years");
}
