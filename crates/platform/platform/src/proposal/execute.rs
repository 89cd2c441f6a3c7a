//! Carrying out an approved proposal, once.
//!
//! Only the caller that moves a proposal from `approved` to `executing` runs it. Platform-level
//! kinds change the platform's records (and deploy nodes, as an operation); a chain-level kind
//! becomes the chain's transaction: the payload every approval signed, the first approval's
//! signature as the sender's and the others as endorsements. The platform adds nothing of its
//! own, so the nodes decide whether the signatures meet the chain's policy.

use covenant_api_types::json::SubmitResponse;
use covenant_types::{Endorsement, Transaction, tx::sender_by_certificate};
use prost::Message;
use serde_json::{Value, json};
use sqlx::Row;

use crate::{
    Platform, audit, consortium,
    error::{Error, Result},
    event, network,
    time::{now_ms, unb64},
};

use super::{
    ProposalView,
    kind::{Kind, Params},
};

/// Run `id` in the background if it is approved and nobody runs it yet.
pub fn spawn(p: Platform, id: String) {
    tokio::spawn(async move {
        if let Err(e) = run(&p, &id).await {
            tracing::error!(proposal = %id, error = %e, "executing a proposal failed");
        }
    });
}

/// Run every approved proposal nobody is running (at start, after a restart).
pub async fn resume(p: &Platform) -> Result<()> {
    let rows = sqlx::query("SELECT id FROM proposals WHERE state = 'approved'")
        .fetch_all(p.db().pool())
        .await?;
    for r in rows {
        spawn(p.clone(), r.try_get("id")?);
    }
    Ok(())
}

/// Execute `id` if this call claims it. Returns whether it ran.
pub async fn run(p: &Platform, id: &str) -> Result<bool> {
    let claimed = sqlx::query(
        "UPDATE proposals SET state = 'executing', version = version + 1 WHERE id = $1 AND state = 'approved'",
    )
    .bind(id)
    .execute(p.db().pool())
    .await?
    .rows_affected();
    if claimed == 0 {
        return Ok(false);
    }
    let v = super::get(p, id).await?;
    let result = carry_out(p, &v).await;
    finish(p, &v, result).await?;
    Ok(true)
}

async fn finish(p: &Platform, v: &ProposalView, result: Result<Value>) -> Result<()> {
    let (state, outcome, audit_result) = match &result {
        Ok(o) => ("executed", o.clone(), "ok".to_string()),
        Err(e) => (
            "failed",
            json!({"code": e.code(), "message": e.public_message()}),
            format!("error {}", e.code()),
        ),
    };
    let mut tx = p.db().write().await?;
    sqlx::query(
        "UPDATE proposals SET state = $1, executed_at = $2, outcome = $3, version = version + 1 WHERE id = $4 AND state = 'executing'",
    )
    .bind(state)
    .bind(now_ms())
    .bind(outcome.to_string())
    .bind(&v.id)
    .execute(&mut *tx)
    .await?;
    let mut to: Vec<String> = v.voters.iter().map(|x| x.org_id.clone()).collect();
    if !to.contains(&v.proposer_org) {
        to.push(v.proposer_org.clone());
    }
    let notices = event::add_in(
        &mut tx,
        &to,
        &event::New {
            kind: if state == "executed" {
                "proposal.executed"
            } else {
                "proposal.failed"
            },
            title: if state == "executed" {
                format!("Done: {}", v.title)
            } else {
                format!(
                    "Failed: {} ({})",
                    v.title,
                    outcome["code"].as_str().unwrap_or("")
                )
            },
            subject_kind: "proposal",
            subject_id: &v.id,
            data: json!({"kind": v.kind, "outcome": outcome}),
        },
    )
    .await?;
    audit::append_in(
        p,
        &mut tx,
        &audit::Record {
            request_id: format!("proposal:{}", v.id),
            account_id: "platform".into(),
            org_id: v.proposer_org.clone(),
            action: format!("proposal.execute:{}", v.kind),
            target: v.id.clone(),
            params_digest: v.params_sha256.clone(),
            result: audit_result,
        },
    )
    .await?;
    tx.commit().await?;
    event::push(p, notices);
    Ok(())
}

async fn carry_out(p: &Platform, v: &ProposalView) -> Result<Value> {
    let kind = Kind::parse(&v.kind)?;
    let params = Params::parse(kind, &v.params)?;
    match params {
        Params::AdmitOrg(a) => {
            let mut tx = p.db().write().await?;
            let (invitation, notices) =
                consortium::invite_in(&mut tx, &v.consortium_id, &a.org_id, &v.id, &a.message)
                    .await?;
            tx.commit().await?;
            event::push(p, notices);
            Ok(json!({"invitation_id": invitation}))
        }
        Params::RemoveOrg(r) => {
            let mut tx = p.db().write().await?;
            let notices = consortium::remove_member_in(
                &mut tx,
                &v.consortium_id,
                &r.org_id,
                "was voted out of",
            )
            .await?;
            tx.commit().await?;
            event::push(p, notices);
            Ok(json!({"removed": r.org_id}))
        }
        Params::NetworkCreate(n) => {
            let net = network::create(p, &v.consortium_id, &n).await?;
            Ok(
                json!({"network_id": net.id, "nodes": net.nodes.iter().map(|x| &x.id).collect::<Vec<_>>()}),
            )
        }
        Params::NetworkRenew(n) => {
            let net = network::renew(p, &v.consortium_id, &n.network_id, n.days).await?;
            Ok(json!({"network_id": net.id, "expires_at": net.expires_at}))
        }
        Params::NetworkDelete(n) => {
            let op = network::delete(p, &v.consortium_id, &n.network_id, &v.proposer_org).await?;
            set_operation(p, &v.id, &op).await?;
            let r = crate::operation::wait(p, &op).await?;
            Ok(json!({"operation_id": op, "result": r}))
        }
        Params::ChainCreate(c) => {
            let op = network::create_chain(p, &v.consortium_id, &c, &v.proposer_org).await?;
            set_operation(p, &v.id, &op).await?;
            let r = crate::operation::wait(p, &op).await?;
            Ok(json!({"operation_id": op, "chain_id": c.chain_id, "result": r}))
        }
        chain_level => {
            let chain_id = chain_level
                .chain_id()
                .ok_or_else(|| Error::internal("a chain-level proposal names no chain"))?
                .to_string();
            let r = submit(p, v, &chain_id).await?;
            let mut out = json!({"chain_id": chain_id, "tx_id": r.tx_id, "height": r.height});
            if let (Kind::ChainAddNode, Params::ChainNode(n)) = (kind, &chain_level) {
                let op = network::join_chain(p, &chain_id, &n.node_id, &v.proposer_org, n.role()?)
                    .await?;
                set_operation(p, &v.id, &op).await?;
                out["operation_id"] = json!(op);
                out["result"] = crate::operation::wait(p, &op).await?;
            }
            if let (Kind::ChainPromoteNode, Params::ChainNode(n)) = (kind, &chain_level) {
                network::promoted(p, &chain_id, &n.node_id).await?;
            }
            if let (Kind::ChainRenewNode, Params::ChainNode(n)) = (kind, &chain_level) {
                // The chain took the certificate whatever happens next: the proposal is
                // carried out, and a switch that could not be made now is made at the next
                // renewal request (see certificate::renew_node).
                out["renewal"] = match network::renewed_on(p, &n.node_id).await {
                    Ok(r) => r,
                    Err(e) => {
                        json!({"switched": false, "error": {"code": e.code(), "message": e.public_message()}})
                    }
                };
            }
            if let (Kind::ChainRemoveNode, Params::ChainNode(n)) = (kind, &chain_level) {
                network::leave_chain(p, &chain_id, &n.node_id).await?;
            }
            Ok(out)
        }
    }
}

async fn set_operation(p: &Platform, id: &str, op: &str) -> Result<()> {
    sqlx::query("UPDATE proposals SET operation_id = $1 WHERE id = $2")
        .bind(op)
        .bind(id)
        .execute(p.db().pool())
        .await?;
    Ok(())
}

/// The transaction the approvals make: the stored payload, the first approval as sender, the
/// rest as endorsements.
pub async fn transaction(p: &Platform, v: &ProposalView) -> Result<Transaction> {
    let row = sqlx::query("SELECT payload FROM proposals WHERE id = $1")
        .bind(&v.id)
        .fetch_one(p.db().pool())
        .await?;
    let payload: Option<String> = row.try_get("payload")?;
    let payload = payload
        .and_then(|b| unb64(&b))
        .ok_or_else(|| Error::internal("a chain-level proposal has no payload"))?;
    let rows = sqlx::query(
        "SELECT org_id, cert_pem, signature FROM votes WHERE proposal_id = $1 AND decision = 'approve' ORDER BY created_at, org_id",
    )
    .bind(&v.id)
    .fetch_all(p.db().pool())
    .await?;
    let mut signed = Vec::new();
    for r in rows {
        let pem: String = r.try_get("cert_pem")?;
        let sig: String = r.try_get("signature")?;
        let cert = covenant_pki::Certificate::from_pem(&pem, "vote certificate")?;
        let sig = unb64(&sig).ok_or_else(|| Error::internal("a stored signature is damaged"))?;
        signed.push((cert.der().to_vec(), sig));
    }
    let mut it = signed.into_iter();
    let (sender, signature) = it
        .next()
        .ok_or_else(|| Error::conflict("NO_APPROVALS", "nobody approved the proposal"))?;
    Ok(Transaction {
        payload,
        sender: Some(sender_by_certificate(sender)),
        signature,
        endorsements: it
            .map(|(cert, signature)| Endorsement {
                signer: Some(sender_by_certificate(cert)),
                signature,
            })
            .collect(),
    })
}

async fn submit(p: &Platform, v: &ProposalView, chain_id: &str) -> Result<SubmitResponse> {
    let tx = transaction(p, v).await?;
    let bytes = tx.encode_to_vec();
    let client = network::chain_client(p, chain_id).await?;
    let r = client.submit(&bytes, true).await.map_err(|e| match e {
        // The node refused the transaction itself (a signature, a certificate, a size).
        covenant_sdk::ClientError::Api { code, message, .. } => Error::conflict(
            "CHAIN_REJECTED",
            format!("the chain refused the transaction: {code} {message}"),
        ),
        other => network::node_error(other),
    })?;
    match &r.result {
        Some(res) if res.code == "OK" => Ok(r),
        Some(res) => Err(Error::conflict(
            "CHAIN_REJECTED",
            format!(
                "the chain refused the transaction: {} {}",
                res.code, res.message
            ),
        )),
        None => Err(Error::unavailable(
            "COMMIT_TIMEOUT",
            format!(
                "transaction {} was accepted but not committed in time",
                r.tx_id
            ),
        )),
    }
}
