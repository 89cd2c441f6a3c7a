//! Consortia, invitations by vote, and votes signed with kept keys or offline.

use covenant_crypto::{KeyAlgorithm, PrivateKey};
use covenant_pki::Csr;
use serde_json::{Value, json};

use crate::{
    both,
    harness::{Backend, Org, TestPlatform, start},
};

async fn wait_state(o: &Org, proposal: &str, state: &str) -> Value {
    for _ in 0..200 {
        let v = o
            .root
            .get(&format!("/api/v1/proposals/{proposal}"))
            .await
            .ok();
        if v["state"] == state {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let v = o
        .root
        .get(&format!("/api/v1/proposals/{proposal}"))
        .await
        .ok();
    panic!("proposal {proposal} never reached {state}: {v}");
}

/// Propose inviting `who` into `c`; returns the proposal.
async fn admit(by: &Org, c: &str, who: &Org) -> Value {
    by.root
        .post(
            &format!("/api/v1/consortia/{c}/invitations"),
            json!({"org_id": who.id, "message": "join us"}),
        )
        .await
        .ok()
}

async fn accept_invitation(who: &Org, c: &str) {
    for _ in 0..200 {
        let inv = who.root.get("/api/v1/invitations?state=pending").await.ok();
        if let Some(i) = inv["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["consortium_id"] == c)
        {
            let id = i["id"].as_str().unwrap();
            who.root
                .post(&format!("/api/v1/invitations/{id}/accept"), json!({}))
                .await
                .ok();
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{} never got an invitation to {c}", who.id);
}

async fn found(t: &TestPlatform) -> (Org, Org, Org, String) {
    let a = t.org("bank-a").await;
    let b = t.org("bank-b").await;
    let c = t.org_with("bank-c", true).await;
    let cons = a
        .root
        .post(
            "/api/v1/consortia",
            json!({"name": "trade", "description": "trade finance"}),
        )
        .await
        .ok();
    let id = cons["id"].as_str().unwrap().to_string();
    // A alone is the consortium: its kept key approves B at once.
    let p = admit(&a, &id, &b).await;
    assert_eq!(p["tally"]["standing"], "approved", "{p}");
    wait_state(&a, p["id"].as_str().unwrap(), "executed").await;
    accept_invitation(&b, &id).await;
    // C needs a majority of A and B: both.
    let p = admit(&a, &id, &c).await;
    assert_eq!(p["state"], "open");
    let pid = p["id"].as_str().unwrap();
    b.root
        .post(
            &format!("/api/v1/proposals/{pid}/votes"),
            json!({"decision": "approve"}),
        )
        .await
        .ok();
    wait_state(&a, pid, "executed").await;
    accept_invitation(&c, &id).await;
    (a, b, c, id)
}

async fn consortium_by_invitation_and_votes(b: Backend) {
    let Some(t) = start(b).await else { return };
    let (a, bb, c, id) = found(&t).await;
    let cons = a.root.get(&format!("/api/v1/consortia/{id}")).await.ok();
    assert_eq!(cons["members"].as_array().unwrap().len(), 3);

    // D is admitted by MAJORITY of A, B, C: A's kept key, then C's offline signature.
    let d = t.org("bank-d").await;
    let p = admit(&a, &id, &d).await;
    let pid = p["id"].as_str().unwrap().to_string();
    assert_eq!(p["state"], "open");
    assert_eq!(p["voters"].as_array().unwrap().len(), 3);

    // C keeps its admin key offline: it adds an identity from a CSR, then signs the statement.
    let key = PrivateKey::generate(KeyAlgorithm::Sm2).unwrap();
    let csr = Csr::create(&key, "c-admin", &[]).unwrap();
    let ident = c
        .root
        .post(
            "/api/v1/org/identities",
            json!({"name": "c-admin", "role": "admin", "csr": csr.to_pem().unwrap()}),
        )
        .await
        .ok();
    assert_eq!(ident["custodial"], false);
    // Without a kept key, a vote through the platform is refused with a hint.
    c.root
        .post(
            &format!("/api/v1/proposals/{pid}/votes"),
            json!({"decision": "approve"}),
        )
        .await
        .refused(409, "NO_CUSTODIAL_KEY");
    let req = c
        .root
        .get(&format!("/api/v1/proposals/{pid}/signing-request"))
        .await
        .ok();
    let statement = base64_decode(req["statement"].as_str().unwrap());
    // A signature over other bytes is refused.
    let wrong = key.sign(b"something else").unwrap();
    c.root
        .post(
            &format!("/api/v1/proposals/{pid}/signatures"),
            json!({"decision": "approve", "certificate": ident["certificate"], "signature": base64_encode(&wrong)}),
        )
        .await
        .refused(400, "SIGNATURE_INVALID");
    // B's admin certificate cannot vote for C.
    let sig = key.sign(&statement).unwrap();
    let voted = c
        .root
        .post(
            &format!("/api/v1/proposals/{pid}/signatures"),
            json!({"decision": "approve", "certificate": ident["certificate"], "signature": base64_encode(&sig)}),
        )
        .await
        .ok();
    // A (proposer, kept key) and C: two of three.
    assert_eq!(voted["tally"]["standing"], "approved", "{voted}");
    let done = wait_state(&a, &pid, "executed").await;
    assert!(
        done["votes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["org_id"] == "bank-c" && v["offline"] == true)
    );
    // B can no longer vote: the proposal is closed.
    bb.root
        .post(
            &format!("/api/v1/proposals/{pid}/votes"),
            json!({"decision": "approve"}),
        )
        .await
        .refused(409, "PROPOSAL_CLOSED");
    accept_invitation(&d, &id).await;
    let cons = d.root.get(&format!("/api/v1/consortia/{id}")).await.ok();
    assert_eq!(cons["members"].as_array().unwrap().len(), 4);

    // Each org sees events for what concerns it.
    let ev = d.root.get("/api/v1/events").await.ok();
    assert!(
        ev["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "invitation.received")
    );
    let ev = bb.root.get("/api/v1/events?unread=true").await.ok();
    assert!(
        ev["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "proposal.opened")
    );
    bb.root
        .post("/api/v1/events/read-all", json!({}))
        .await
        .ok();
    let ev = bb.root.get("/api/v1/events?unread=true").await.ok();
    assert!(ev["items"].as_array().unwrap().is_empty());
}
both!(consortium_by_invitation_and_votes);

async fn rejection_veto_and_double_votes(b: Backend) {
    let Some(t) = start(b).await else { return };
    let a = t.org("bank-a").await;
    let bb = t.org("bank-b").await;
    let c = t.org("bank-c").await;
    let e = t.org("bank-e").await;
    let cons = a
        .root
        .post(
            "/api/v1/consortia",
            json!({"name": "vetoed", "policies": {"consortium.admit_org": {"rule": "ANY"}}}),
        )
        .await
        .ok();
    let id = cons["id"].as_str().unwrap().to_string();
    for o in [&bb, &c] {
        let p = admit(&a, &id, o).await;
        wait_state(&a, p["id"].as_str().unwrap(), "executed").await;
        accept_invitation(o, &id).await;
    }
    // Removing C needs MAJORITY of A and B: B rejects, and approval can no longer be reached.
    let p = a
        .root
        .post(
            &format!("/api/v1/consortia/{id}/proposals"),
            json!({"kind": "consortium.remove_org", "params": {"org_id": "bank-c"}}),
        )
        .await
        .ok();
    let pid = p["id"].as_str().unwrap();
    assert_eq!(p["state"], "open");
    a.root
        .post(
            &format!("/api/v1/proposals/{pid}/votes"),
            json!({"decision": "approve"}),
        )
        .await
        .refused(409, "ALREADY_VOTED");
    let r = bb
        .root
        .post(
            &format!("/api/v1/proposals/{pid}/votes"),
            json!({"decision": "reject"}),
        )
        .await
        .ok();
    assert_eq!(r["state"], "rejected", "{r}");
    // C was not a voter on its own removal.
    c.root
        .post(
            &format!("/api/v1/proposals/{pid}/votes"),
            json!({"decision": "reject"}),
        )
        .await
        .refused(403, "NOT_A_VOTER");
    // An org outside the consortium sees nothing of it.
    e.root
        .get(&format!("/api/v1/proposals/{pid}"))
        .await
        .refused(404, "NOT_FOUND");
    e.root
        .get(&format!("/api/v1/consortia/{id}"))
        .await
        .refused(404, "NOT_FOUND");
}
both!(rejection_veto_and_double_votes);

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

async fn a_vote_closes_at_its_deadline(b: Backend) {
    let Some(t) = start(b).await else { return };
    let a = t.org("bank-a").await;
    let bb = t.org("bank-b").await;
    let c = t.org("bank-c").await;
    let cons = a
        .root
        .post("/api/v1/consortia", json!({"name": "slow", "policies": {"consortium.admit_org": {"rule": "ALL", "deadline_hours": 1}}}))
        .await
        .ok();
    let id = cons["id"].as_str().unwrap().to_string();
    let p = admit(&a, &id, &bb).await;
    wait_state(&a, p["id"].as_str().unwrap(), "executed").await;
    accept_invitation(&bb, &id).await;
    let p = admit(&a, &id, &c).await;
    let pid = p["id"].as_str().unwrap().to_string();
    assert_eq!(p["state"], "open");
    let deadline = p["deadline"].as_i64().unwrap();
    assert!((deadline - p["created_at"].as_i64().unwrap() - 3_600_000).abs() < 1000);
    // The hour passes.
    sqlx::query("UPDATE proposals SET deadline = $1 WHERE id = $2")
        .bind(covenant_platform::time::now_ms() - 1)
        .bind(&pid)
        .execute(t.p.db().pool())
        .await
        .unwrap();
    bb.root
        .post(
            &format!("/api/v1/proposals/{pid}/votes"),
            json!({"decision": "approve"}),
        )
        .await
        .refused(409, "PROPOSAL_CLOSED");
    let v = wait_state(&a, &pid, "expired").await;
    assert_eq!(v["votes"].as_array().unwrap().len(), 1);
    let ev = bb
        .root
        .get("/api/v1/events?kind=proposal.expired")
        .await
        .ok();
    assert_eq!(ev["items"].as_array().unwrap().len(), 1);
    // Nobody was invited.
    let inv = c.root.get("/api/v1/invitations").await.ok();
    assert!(inv["items"].as_array().unwrap().is_empty());
}
both!(a_vote_closes_at_its_deadline);
