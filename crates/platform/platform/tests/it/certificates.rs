//! The certificate centre through the API: requests (with a CSR whose key never leaves its
//! owner, or for a kept key), approval and rejection, downloads, batch issuance, the
//! inventory with expiry warnings, and revocation with the org CA's CRL. (Revocation to a
//! chain's nodes runs end to end in the CLI crate's tests, against real node processes.)

use covenant_crypto::{PrivateKey, Suite};
use covenant_pki::{Certificate, Crl, Csr, TrustStore, VerifyOptions};
use serde_json::{Value, json};

use crate::{
    both,
    harness::{Backend, TestPlatform, start},
};

async fn suite_of(org: &crate::harness::Org) -> Suite {
    let o = org.root.get(&format!("/api/v1/orgs/{}", org.id)).await.ok();
    o["suite"].as_str().unwrap().parse().unwrap()
}

/// A key made "locally" and a CSR for `name`.
fn csr(suite: Suite, name: &str) -> (PrivateKey, String) {
    let key = PrivateKey::generate(suite.default_key_algorithm()).unwrap();
    let csr = Csr::create(&key, name, &[]).unwrap().to_pem().unwrap();
    (key, csr)
}

fn kinds(events: &Value) -> Vec<String> {
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

async fn requests_are_approved_rejected_and_downloaded(b: Backend) {
    let Some(t) = start(b).await else { return };
    let a = t.org("bank-a").await;
    let other = t.org("bank-b").await;
    let (alice, _) = t.sub_account(&a, "a-alice", &["cert.request"]).await;
    let (bob, _) = t.sub_account(&a, "a-bob", &["cert.request"]).await;
    let suite = suite_of(&a).await;

    // Alice asks with a CSR: her key stays with her.
    let (key, pem) = csr(suite, "alice");
    let r = alice
        .post(
            "/api/v1/org/certificate-requests",
            json!({"name": "alice", "role": "client", "csr": pem, "note": "for the payments app"}),
        )
        .await
        .ok();
    assert_eq!(r["state"], "pending");
    assert_eq!(r["with_csr"], true);
    assert_eq!(r["requester"], "a-alice");
    let rid = r["id"].as_str().unwrap().to_string();

    // What is wrong is said before anyone approves.
    let (_, wrong_cn) = csr(suite, "mallory");
    alice
        .post(
            "/api/v1/org/certificate-requests",
            json!({"name": "alice2", "role": "client", "csr": wrong_cn}),
        )
        .await
        .refused(400, "CSR_INVALID");
    alice
        .post(
            "/api/v1/org/certificate-requests",
            json!({"name": "alice", "role": "client"}),
        )
        .await
        .refused(409, "REQUEST_PENDING");
    alice
        .post(
            "/api/v1/org/certificate-requests",
            json!({"name": "alice3", "role": "node"}),
        )
        .await
        .refused(400, "INVALID_ARGUMENT");
    alice
        .post(
            "/api/v1/org/certificate-requests",
            json!({"name": "alice4", "role": "client", "days": 900}),
        )
        .await
        .refused(400, "CERT_DAYS_INVALID");

    // Bob sees his own requests only; neither of them may decide.
    bob.get(&format!("/api/v1/org/certificate-requests/{rid}"))
        .await
        .refused(404, "NOT_FOUND");
    let list = bob.get("/api/v1/org/certificate-requests").await.ok();
    assert_eq!(list["items"], json!([]));
    alice
        .post(
            &format!("/api/v1/org/certificate-requests/{rid}/approve"),
            json!({}),
        )
        .await
        .refused(403, "PERMISSION_DENIED");
    alice
        .get(&format!(
            "/api/v1/org/certificate-requests/{rid}/certificate"
        ))
        .await
        .refused(409, "REQUEST_NOT_ISSUED");
    // Nor may another org.
    other
        .root
        .get(&format!("/api/v1/org/certificate-requests/{rid}"))
        .await
        .refused(404, "NOT_FOUND");
    other
        .root
        .post(
            &format!("/api/v1/org/certificate-requests/{rid}/approve"),
            json!({}),
        )
        .await
        .refused(404, "NOT_FOUND");

    // The root sees it pending and in the event centre, and approves.
    let pending = a
        .root
        .get("/api/v1/org/certificate-requests?state=pending")
        .await
        .ok();
    assert_eq!(pending["items"][0]["id"], rid.as_str());
    assert!(kinds(&a.root.get("/api/v1/events").await.ok()).contains(&"cert.requested".into()));
    let done = a
        .root
        .post(
            &format!("/api/v1/org/certificate-requests/{rid}/approve"),
            json!({"note": "ok"}),
        )
        .await
        .ok();
    assert_eq!(done["state"], "approved");
    assert!(done["fingerprint"].is_string());
    a.root
        .post(
            &format!("/api/v1/org/certificate-requests/{rid}/reject"),
            json!({}),
        )
        .await
        .refused(409, "REQUEST_DECIDED");

    // Alice downloads a certificate for her own key, issued by the org's CA.
    let dl = alice
        .send(
            "GET",
            &format!("/api/v1/org/certificate-requests/{rid}/certificate"),
            None,
            &[],
        )
        .await;
    assert_eq!(dl.status, 200);
    assert_eq!(dl.headers["content-type"], "application/x-pem-file");
    let text = reqwest_text(
        &t,
        alice.token.as_deref().unwrap(),
        &format!("/api/v1/org/certificate-requests/{rid}/certificate"),
    )
    .await;
    let cert = Certificate::from_pem(&text, "issued").unwrap();
    assert_eq!(
        cert.public_key().unwrap().to_bytes(),
        key.public_key().to_bytes()
    );
    let org = a.root.get("/api/v1/orgs/bank-a").await.ok();
    let mut store = TrustStore::new();
    store.add_anchor(Certificate::from_pem(org["ca_certificate"].as_str().unwrap(), "ca").unwrap());
    store.verify(&cert, &[], &VerifyOptions::default()).unwrap();
    let ids = a.root.get("/api/v1/org/identities").await.ok();
    let alice_id = ids["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "alice")
        .unwrap()
        .clone();
    assert_eq!(alice_id["custodial"], false);

    // Bob asks for a kept key and is turned down.
    let r = bob
        .post(
            "/api/v1/org/certificate-requests",
            json!({"name": "bob", "role": "admin"}),
        )
        .await
        .ok();
    let bid = r["id"].as_str().unwrap().to_string();
    let no = a
        .root
        .post(
            &format!("/api/v1/org/certificate-requests/{bid}/reject"),
            json!({"note": "admins are named by the board"}),
        )
        .await
        .ok();
    assert_eq!(no["state"], "rejected");
    assert_eq!(no["decision_note"], "admins are named by the board");
    bob.get(&format!(
        "/api/v1/org/certificate-requests/{bid}/certificate"
    ))
    .await
    .refused(409, "REQUEST_NOT_ISSUED");
    let mine = bob.get("/api/v1/org/certificate-requests").await.ok();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    assert!(
        kinds(&a.root.get("/api/v1/events").await.ok()).contains(&"cert.request_rejected".into())
    );
    // An account with neither permission cannot look.
    let (clerk, _) = t.sub_account(&a, "a-clerk", &[]).await;
    clerk
        .get("/api/v1/org/certificate-requests")
        .await
        .refused(403, "PERMISSION_DENIED");
}
both!(requests_are_approved_rejected_and_downloaded);

async fn reqwest_text(t: &TestPlatform, token: &str, path: &str) -> String {
    reqwest::Client::new()
        .get(format!("{}{path}", t.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn batch_issuance_is_all_or_nothing(b: Backend) {
    let Some(t) = start(b).await else { return };
    let a = t.org("bank-a").await;
    let suite = suite_of(&a).await;
    let (_, pem) = csr(suite, "teller-3");
    let r = a
        .root
        .post(
            "/api/v1/org/identities/batch",
            json!({"identities": [
                {"name": "teller-1", "role": "client"},
                {"name": "teller-2", "role": "client", "days": 30},
                {"name": "teller-3", "role": "client", "csr": pem},
            ]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["custodial"], true);
    assert_eq!(items[2]["custodial"], false);
    let count = |v: &Value| v["items"].as_array().unwrap().len();
    let before = count(&a.root.get("/api/v1/org/identities").await.ok());

    a.root
        .post(
            "/api/v1/org/identities/batch",
            json!({"identities": [{"name": "x1", "role": "client"}, {"name": "x1", "role": "client"}]}),
        )
        .await
        .refused(400, "BATCH_DUPLICATE");
    a.root
        .post(
            "/api/v1/org/identities/batch",
            json!({"identities": [{"name": "x2", "role": "client"}, {"name": "teller-1", "role": "client"}]}),
        )
        .await
        .refused(409, "IDENTITY_EXISTS");
    let bad = a
        .root
        .post(
            "/api/v1/org/identities/batch",
            json!({"identities": [{"name": "x3", "role": "client"}, {"name": "x4", "role": "client", "csr": "not a CSR"}]}),
        )
        .await
        .refused(400, "CSR_INVALID");
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("item 1:"),
        "{bad}"
    );
    a.root
        .post("/api/v1/org/identities/batch", json!({"identities": []}))
        .await
        .refused(400, "INVALID_ARGUMENT");
    // Nothing of the refused batches was issued.
    assert_eq!(
        count(&a.root.get("/api/v1/org/identities").await.ok()),
        before
    );
}
both!(batch_issuance_is_all_or_nothing);

async fn inventory_expiry_and_revocation_off_chain(b: Backend) {
    let Some(t) = start(b).await else { return };
    let a = t.org("bank-a").await;
    let other = t.org("bank-b").await;

    // The root and the admin the platform keeps are known from the start.
    let list = a.root.get("/api/v1/org/certificates").await.ok();
    let held: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert!(held.contains(&"root") && held.contains(&"admin"), "{list}");

    // A certificate of five days is expiring, and warned of once.
    let short = a
        .root
        .post(
            "/api/v1/org/identities",
            json!({"name": "short", "role": "client", "days": 5}),
        )
        .await
        .ok();
    let fp = short["fingerprint"].as_str().unwrap().to_string();
    let c = a
        .root
        .get(&format!("/api/v1/org/certificates/{fp}"))
        .await
        .ok();
    assert_eq!(c["status"], "expiring", "{c}");
    assert_eq!(c["days_left"], 4);
    assert_eq!(c["kind"], "client");
    let expiring = a
        .root
        .get("/api/v1/org/certificates?status=expiring")
        .await
        .ok();
    assert_eq!(expiring["items"].as_array().unwrap().len(), 1);
    assert!(
        covenant_platform::certificate::expiry::sweep(&t.p)
            .await
            .unwrap()
            >= 1
    );
    assert_eq!(
        covenant_platform::certificate::expiry::sweep(&t.p)
            .await
            .unwrap(),
        0,
        "a warning is given once"
    );
    let events = a.root.get("/api/v1/events").await.ok();
    let warning = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "cert.expiring" && e["subject_id"] == fp.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("no warning: {events}"));
    assert_eq!(warning["data"]["threshold"], 7);
    let b_events = other.root.get("/api/v1/events").await.ok();
    assert!(!b_events.to_string().contains(&fp), "{b_events}");

    // Another org sees none of it.
    other
        .root
        .get(&format!("/api/v1/org/certificates/{fp}"))
        .await
        .refused(404, "NOT_FOUND");
    other
        .root
        .post(&format!("/api/v1/org/certificates/{fp}/revoke"), json!({}))
        .await
        .refused(404, "NOT_FOUND");
    a.root
        .get("/api/v1/org/certificates/abc")
        .await
        .refused(400, "INVALID_ARGUMENT");
    a.root
        .get("/api/v1/org/crl")
        .await
        .refused(404, "NOT_FOUND");

    // Revoked: the org is on no chain, so the CRL is all there is to do.
    let rv = a
        .root
        .post(
            &format!("/api/v1/org/certificates/{fp}/revoke"),
            json!({"reason": "key-compromise"}),
        )
        .await;
    assert_eq!(rv.status, 201, "{}", rv.body);
    assert_eq!(rv.body["state"], "done", "{}", rv.body);
    assert_eq!(rv.body["crl_number"], 1);
    assert_eq!(rv.body["steps"], json!([]));
    a.root
        .post(&format!("/api/v1/org/certificates/{fp}/revoke"), json!({}))
        .await
        .refused(409, "CERT_REVOKED");
    a.root
        .post(
            &format!("/api/v1/org/certificates/{fp}/revoke"),
            json!({"reason": "bored"}),
        )
        .await
        .refused(400, "INVALID_ARGUMENT");
    let root_fp = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "root")
        .unwrap()["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    a.root
        .post(
            &format!("/api/v1/org/certificates/{root_fp}/revoke"),
            json!({}),
        )
        .await
        .refused(409, "CERT_NOT_REVOCABLE");
    let c = a
        .root
        .get(&format!("/api/v1/org/certificates/{fp}"))
        .await
        .ok();
    assert_eq!(c["status"], "revoked");
    assert_eq!(c["revocation"]["reason"], "key-compromise");

    // The CRL is the CA's, lists the serial, and a second revocation lists both.
    let org = a.root.get("/api/v1/orgs/bank-a").await.ok();
    let ca = Certificate::from_pem(org["ca_certificate"].as_str().unwrap(), "ca").unwrap();
    let token = a.root.token.clone().unwrap();
    let crl = Crl::from_pem(&reqwest_text(&t, &token, "/api/v1/org/crl").await, "crl").unwrap();
    crl.verify_signed_by(&ca).unwrap();
    assert_eq!(crl.number(), Some(1));
    let serial = hex::decode(c["serial"].as_str().unwrap()).unwrap();
    assert!(crl.revoked_serials().contains(&serial.as_slice()));
    let other_id = a
        .root
        .post(
            "/api/v1/org/identities",
            json!({"name": "leaver", "role": "client"}),
        )
        .await
        .ok();
    let rv2 = a
        .root
        .post(
            &format!(
                "/api/v1/org/certificates/{}/revoke",
                other_id["fingerprint"].as_str().unwrap()
            ),
            json!({"reason": "affiliation-changed"}),
        )
        .await
        .ok();
    assert_eq!(rv2["crl_number"], 2);
    let crl = Crl::from_pem(&reqwest_text(&t, &token, "/api/v1/org/crl").await, "crl").unwrap();
    assert_eq!(crl.number(), Some(2));
    assert_eq!(crl.revoked_serials().len(), 2);
    let revs = a.root.get("/api/v1/org/revocations").await.ok();
    assert_eq!(revs["items"].as_array().unwrap().len(), 2);
    assert_eq!(revs["items"][0]["id"], rv2["id"], "newest first");
    other
        .root
        .get(&format!(
            "/api/v1/org/revocations/{}",
            rv2["id"].as_str().unwrap()
        ))
        .await
        .refused(404, "NOT_FOUND");
    assert!(kinds(&a.root.get("/api/v1/events").await.ok()).contains(&"cert.revoked".into()));

    // The platform signs nothing more with a revoked identity.
    let ident = covenant_platform::org::identity(&t.p, "bank-a", "short")
        .await
        .unwrap();
    let err = covenant_platform::org::signer(&t.p, &ident)
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), "IDENTITY_REVOKED");
}
both!(inventory_expiry_and_revocation_off_chain);

async fn a_certificate_is_renewed_for_the_same_key(b: Backend) {
    let Some(t) = start(b).await else { return };
    let a = t.org("bank-a").await;
    let other = t.org("bank-b").await;
    let old = a
        .root
        .post(
            "/api/v1/org/identities",
            json!({"name": "teller", "role": "client", "days": 5}),
        )
        .await
        .ok();
    let fp = old["fingerprint"].as_str().unwrap().to_string();
    other
        .root
        .post(&format!("/api/v1/org/certificates/{fp}/renew"), json!({}))
        .await
        .refused(404, "NOT_FOUND");
    a.root
        .post(
            &format!("/api/v1/org/certificates/{fp}/renew"),
            json!({"days": 900}),
        )
        .await
        .refused(400, "CERT_DAYS_INVALID");
    let new = a
        .root
        .post(
            &format!("/api/v1/org/certificates/{fp}/renew"),
            json!({"days": 400}),
        )
        .await
        .ok();
    assert_ne!(new["fingerprint"], fp.as_str());
    assert_eq!(new["status"], "valid", "{new}");
    assert_eq!(new["days_left"], 399);
    assert_eq!(new["holder_id"], old["id"]);
    let (o, n) = (
        Certificate::from_pem(old["certificate"].as_str().unwrap(), "old").unwrap(),
        Certificate::from_pem(new["certificate"].as_str().unwrap(), "new").unwrap(),
    );
    assert_eq!(
        o.public_key().unwrap().to_bytes(),
        n.public_key().unwrap().to_bytes(),
        "the same key"
    );
    assert_eq!(o.subject_string(), n.subject_string());
    // The identity signs with the new certificate; the old one is no longer listed.
    let ident = covenant_platform::org::identity(&t.p, "bank-a", "teller")
        .await
        .unwrap();
    let (cert, _) = covenant_platform::org::signer(&t.p, &ident).await.unwrap();
    assert_eq!(cert.fingerprint(), new["fingerprint"].as_str().unwrap());
    a.root
        .get(&format!("/api/v1/org/certificates/{fp}"))
        .await
        .refused(404, "NOT_FOUND");
    a.root
        .post(&format!("/api/v1/org/certificates/{fp}/renew"), json!({}))
        .await
        .refused(404, "NOT_FOUND");
    assert!(kinds(&a.root.get("/api/v1/events").await.ok()).contains(&"cert.renewed".into()));
    // The root: renewed by the root account only, with the same key, so what the old root
    // issued verifies under the new one.
    let list = a.root.get("/api/v1/org/certificates?kind=root").await.ok();
    let root = list["items"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    let (clerk, _) = t
        .sub_account(&a, "clerk", &["identity.manage", "org.read"])
        .await;
    clerk
        .post(&format!("/api/v1/org/certificates/{root}/renew"), json!({}))
        .await
        .refused(403, "PERMISSION_DENIED");
    let renewed = a
        .root
        .post(&format!("/api/v1/org/certificates/{root}/renew"), json!({}))
        .await
        .ok();
    assert_eq!(renewed["kind"], "root");
    assert_ne!(renewed["fingerprint"], root.as_str());
    let v = a
        .root
        .post(
            "/api/v1/org/certificates/verify",
            json!({"certificate": new["certificate"]}),
        )
        .await
        .ok();
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["root"], renewed["fingerprint"], "{v}");
    a.root
        .get(&format!("/api/v1/org/certificates/{root}"))
        .await
        .refused(404, "NOT_FOUND");
    // Not a revoked certificate.
    let nf = new["fingerprint"].as_str().unwrap();
    a.root
        .post(&format!("/api/v1/org/certificates/{nf}/revoke"), json!({}))
        .await
        .ok();
    a.root
        .post(&format!("/api/v1/org/certificates/{nf}/renew"), json!({}))
        .await
        .refused(409, "CERT_REVOKED");
}
both!(a_certificate_is_renewed_for_the_same_key);
