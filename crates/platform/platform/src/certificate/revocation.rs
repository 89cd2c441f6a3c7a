//! Revoking a certificate as one tracked flow.
//!
//! 1. The org's CA issues a new CRL listing every certificate the org revoked (numbered one
//!    above the last), and the platform stops signing with the identity.
//! 2. For every running chain the org is a member of, a `cert.publish_crl` proposal carries
//!    the CRL as the chain's `sys.certs.submit_crl` transaction; the chain's policy decides
//!    who must sign (by default the owning org alone, whose kept admin key approves at once).
//! 3. Once the transaction commits, every node of the chain is asked to identify the
//!    certificate; the step is `enforced` when each of them refuses it as revoked.
//!
//! Each chain's step is `voting`, `committing`, `on_chain`, `enforced` or `failed` (with
//! why); the revocation is `in_progress` until every step is enforced (`done`), or
//! `incomplete` when a step failed — `retry` opens new proposals for those with the org's
//! latest CRL (which also covers chains the org joined since).

use covenant_pki::{Certificate, RevocationReason, RevokedEntry};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{Row, any::AnyRow};

use crate::{
    Platform, action,
    auth::Caller,
    db::is_unique_violation,
    error::{Error, Result},
    event, network, org, proposal,
    time::{new_id, now_ms},
};

use super::{CertKind, find};

/// The proposal kind that publishes a CRL on a chain.
pub const PUBLISH_KIND: &str = "cert.publish_crl";

/// One chain's part of a revocation.
#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    pub chain_id: String,
    pub consortium_id: String,
    pub proposal_id: Option<String>,
    /// `voting`, `committing`, `on_chain`, `enforced` or `failed`.
    pub state: String,
    pub detail: String,
    pub updated_at: i64,
}

/// A revocation and its progress to every chain.
#[derive(Debug, Clone, Serialize)]
pub struct RevocationView {
    pub id: String,
    pub org_id: String,
    pub fingerprint: String,
    pub serial: String,
    pub subject: String,
    pub reason: String,
    /// The number of the CRL that first listed it.
    pub crl_number: i64,
    /// `in_progress`, `done` or `incomplete`.
    pub state: String,
    pub created_by: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub steps: Vec<StepView>,
}

fn step_view(r: &AnyRow) -> Result<StepView> {
    Ok(StepView {
        chain_id: r.try_get("chain_id")?,
        consortium_id: r.try_get("consortium_id")?,
        proposal_id: r.try_get("proposal_id")?,
        state: r.try_get("state")?,
        detail: r.try_get("detail")?,
        updated_at: r.try_get("updated_at")?,
    })
}

async fn view(p: &Platform, r: &AnyRow) -> Result<RevocationView> {
    let id: String = r.try_get("id")?;
    let steps =
        sqlx::query("SELECT * FROM revocation_steps WHERE revocation_id = $1 ORDER BY chain_id")
            .bind(&id)
            .fetch_all(p.db().pool())
            .await?
            .iter()
            .map(step_view)
            .collect::<Result<Vec<_>>>()?;
    Ok(RevocationView {
        id,
        org_id: r.try_get("org_id")?,
        fingerprint: r.try_get("fingerprint")?,
        serial: r.try_get("serial")?,
        subject: r.try_get("subject")?,
        reason: r.try_get("reason")?,
        crl_number: r.try_get("crl_number")?,
        state: r.try_get("state")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        finished_at: r.try_get("finished_at")?,
        steps,
    })
}

/// A revocation of `org_id`.
pub async fn get(p: &Platform, org_id: &str, id: &str) -> Result<RevocationView> {
    let r = sqlx::query("SELECT * FROM revocations WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .fetch_optional(p.db().pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no revocation {id}")))?;
    view(p, &r).await
}

/// The org's revocations, newest first.
pub async fn list(p: &Platform, org_id: &str) -> Result<Vec<RevocationView>> {
    let rows =
        sqlx::query("SELECT * FROM revocations WHERE org_id = $1 ORDER BY created_at DESC, id")
            .bind(org_id)
            .fetch_all(p.db().pool())
            .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(view(p, r).await?);
    }
    Ok(out)
}

/// The org's latest CRL (PEM) and its number, if it ever revoked anything.
pub async fn latest_crl(p: &Platform, org_id: &str) -> Result<Option<(i64, String)>> {
    sqlx::query("SELECT number, pem FROM crls WHERE org_id = $1 ORDER BY number DESC LIMIT 1")
        .bind(org_id)
        .fetch_optional(p.db().pool())
        .await?
        .map(|r| Ok((r.try_get("number")?, r.try_get("pem")?)))
        .transpose()
}

fn parse_reason(reason: Option<&str>) -> Result<RevocationReason> {
    let name = reason.unwrap_or("unspecified");
    RevocationReason::ALL
        .iter()
        .copied()
        .find(|r| r.name() == name)
        .ok_or_else(|| {
            Error::invalid(format!(
                "reason {name:?} is not one of {}",
                RevocationReason::ALL
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

/// Revoke the org's certificate `fingerprint`: a new CRL, then a proposal to every chain.
pub async fn revoke(
    p: &Platform,
    caller: &Caller,
    fingerprint: &str,
    reason: Option<&str>,
) -> Result<RevocationView> {
    caller.require(action::CERT_REVOKE)?;
    let reason = parse_reason(reason)?;
    let k = find(p, caller.org(), fingerprint).await?;
    match k.view.kind {
        CertKind::Admin | CertKind::Client => {}
        CertKind::Root => {
            return Err(Error::conflict(
                "CERT_NOT_REVOCABLE",
                "an org's root is not revoked: the org leaves the chain (remove_org) instead",
            ));
        }
        CertKind::Node => {
            return Err(Error::conflict(
                "CERT_NOT_REVOCABLE",
                "a node's certificate is retired by removing the node from its chains",
            ));
        }
    }
    if k.view.revocation_id.is_some() {
        return Err(Error::conflict(
            "CERT_REVOKED",
            "the certificate is revoked already",
        ));
    }
    let ca = org::ca(p, caller.org()).await?;
    let id = new_id("rvk")?;
    let now = now_ms();
    let mut tx = p.db().write().await?;
    let mut entries: Vec<RevokedEntry> = Vec::new();
    for r in sqlx::query("SELECT serial, reason, created_at FROM revocations WHERE org_id = $1")
        .bind(caller.org())
        .fetch_all(&mut *tx)
        .await?
    {
        entries.push(entry(
            &r.try_get::<String, _>("serial")?,
            parse_reason(Some(&r.try_get::<String, _>("reason")?))?,
            r.try_get("created_at")?,
        )?);
    }
    entries.push(entry(&k.view.serial, reason, now)?);
    let number: i64 =
        sqlx::query("SELECT COALESCE(MAX(number), 0) AS n FROM crls WHERE org_id = $1")
            .bind(caller.org())
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
    let number = number + 1;
    let crl = ca.crl(
        u64::try_from(number).map_err(|_| Error::internal("a CRL number is damaged"))?,
        &entries,
    )?;
    let crl_pem = crl
        .to_pem()
        .map_err(|e| Error::internal(format!("the CRL does not encode: {e}")))?;
    let inserted = sqlx::query(
        "INSERT INTO crls (org_id, number, pem, entries, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(caller.org())
    .bind(number)
    .bind(&crl_pem)
    .bind(entries.len() as i64)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::conflict(
                "REVOCATION_BUSY",
                "another revocation of your org was recorded at the same moment; try again",
            ));
        }
        other => {
            other?;
        }
    }
    let r = sqlx::query(
        "INSERT INTO revocations (id, org_id, fingerprint, serial, subject, cert_pem, reason, crl_number, state, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'in_progress', $9, $10)",
    )
    .bind(&id)
    .bind(caller.org())
    .bind(&k.view.fingerprint)
    .bind(&k.view.serial)
    .bind(&k.view.subject)
    .bind(k.cert.to_pem())
    .bind(reason.name())
    .bind(number)
    .bind(caller.account_id())
    .bind(now)
    .execute(&mut *tx)
    .await;
    match r {
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::conflict(
                "CERT_REVOKED",
                "the certificate is revoked already",
            ));
        }
        other => {
            other?;
        }
    }
    sqlx::query("UPDATE identities SET revoked_at = $1 WHERE org_id = $2 AND fingerprint = $3")
        .bind(now)
        .bind(caller.org())
        .bind(&k.view.fingerprint)
        .execute(&mut *tx)
        .await?;
    let notices = event::add_in(
        &mut tx,
        &[caller.org().to_string()],
        &event::New {
            kind: "cert.revoking",
            title: format!(
                "Revoking {} ({}): CRL {number} issued",
                k.view.name,
                k.view.kind.name()
            ),
            subject_kind: "revocation",
            subject_id: &id,
            data: json!({"fingerprint": k.view.fingerprint, "reason": reason.name(), "crl_number": number}),
        },
    )
    .await?;
    tx.commit().await?;
    event::push(p, notices);
    publish(p, caller, &id).await?;
    advance_one(p, &id).await?;
    get(p, caller.org(), &id).await
}

fn entry(serial_hex: &str, reason: RevocationReason, at_ms: i64) -> Result<RevokedEntry> {
    Ok(RevokedEntry {
        serial: hex::decode(serial_hex)
            .map_err(|_| Error::internal("a stored serial number is damaged"))?,
        revoked_at: std::time::UNIX_EPOCH
            + std::time::Duration::from_millis(u64::try_from(at_ms).unwrap_or(0)),
        reason,
    })
}

/// Running chains the org is a member of (by the chain's own config), with their consortium.
pub(crate) async fn chains_of(
    p: &Platform,
    org_id: &str,
) -> Result<Vec<(String, String, Result<()>)>> {
    let rows = sqlx::query(
        "SELECT c.id, c.consortium_id FROM chains c JOIN consortium_members m ON m.consortium_id = c.consortium_id WHERE m.org_id = $1 AND c.state = 'running' ORDER BY c.id",
    )
    .bind(org_id)
    .fetch_all(p.db().pool())
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let chain: String = r.try_get("id")?;
        let consortium: String = r.try_get("consortium_id")?;
        let member = match network::chain_client(p, &chain).await {
            Ok(client) => match client.config().await {
                Ok(config) => Ok(config["orgs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|o| o["org_id"] == org_id)),
                Err(e) => Err(network::node_error(e)),
            },
            Err(e) => Err(e),
        };
        match member {
            Ok(true) => out.push((chain, consortium, Ok(()))),
            Ok(false) => {}
            // A chain that cannot be asked gets a failed step to retry.
            Err(e) => out.push((chain, consortium, Err(e))),
        }
    }
    Ok(out)
}

/// Open a proposal with the org's latest CRL for every chain without a live step.
async fn publish(p: &Platform, caller: &Caller, id: &str) -> Result<()> {
    let Some((number, crl)) = latest_crl(p, caller.org()).await? else {
        return Ok(());
    };
    let existing = get(p, caller.org(), id).await?.steps;
    for (chain, consortium, reachable) in chains_of(p, caller.org()).await? {
        if existing
            .iter()
            .any(|s| s.chain_id == chain && s.state != "failed")
        {
            continue;
        }
        let opened = match reachable {
            Ok(()) => proposal::create(
                p,
                caller,
                &consortium,
                PUBLISH_KIND,
                json!({"chain_id": chain, "org_id": caller.org(), "crl": crl}),
                Some(format!(
                    "Publish {}'s CRL {number} on chain {chain}",
                    caller.org()
                )),
            )
            .await
            .map(|v| v.id),
            Err(e) => Err(e),
        };
        let (proposal_id, state, detail) = match opened {
            Ok(pid) => (
                Some(pid),
                "voting",
                format!("CRL {number} proposed to the chain"),
            ),
            Err(e) => (
                None,
                "failed",
                format!("{}: {}", e.code(), e.public_message()),
            ),
        };
        set_step(
            p,
            id,
            &chain,
            &consortium,
            proposal_id.as_deref(),
            state,
            &detail,
        )
        .await?;
    }
    Ok(())
}

async fn set_step(
    p: &Platform,
    id: &str,
    chain: &str,
    consortium: &str,
    proposal_id: Option<&str>,
    state: &str,
    detail: &str,
) -> Result<()> {
    let mut tx = p.db().write().await?;
    sqlx::query("DELETE FROM revocation_steps WHERE revocation_id = $1 AND chain_id = $2")
        .bind(id)
        .bind(chain)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO revocation_steps (revocation_id, chain_id, consortium_id, proposal_id, state, detail, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(chain)
    .bind(consortium)
    .bind(proposal_id)
    .bind(state)
    .bind(detail)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Open new proposals for the failed steps of a revocation (and for chains the org joined
/// since), with the org's latest CRL.
pub async fn retry(p: &Platform, caller: &Caller, id: &str) -> Result<RevocationView> {
    caller.require(action::CERT_REVOKE)?;
    let v = get(p, caller.org(), id).await?;
    if v.state == "done" {
        return Err(Error::conflict(
            "REVOCATION_DONE",
            "every chain refuses the certificate already",
        ));
    }
    sqlx::query("UPDATE revocations SET state = 'in_progress', finished_at = NULL WHERE id = $1")
        .bind(id)
        .execute(p.db().pool())
        .await?;
    publish(p, caller, id).await?;
    advance_one(p, id).await?;
    get(p, caller.org(), id).await
}

/// Whether every node of `chain` refuses `cert_pem` as revoked; else what one said.
async fn enforced(
    p: &Platform,
    chain: &str,
    cert_pem: &str,
) -> Result<std::result::Result<(), String>> {
    let c = network::chain_row(p, chain).await?;
    if c.nodes.is_empty() {
        return Ok(Err("the chain has no node".into()));
    }
    for n in &c.nodes {
        let url = n["api_url"].as_str().unwrap_or_default();
        let name = n["name"].as_str().unwrap_or_default();
        let client = covenant_sdk::Client::new(url, chain).map_err(network::node_error)?;
        match client
            .query(
                covenant_types::names::SYS_CERTS,
                "list",
                json!({}),
                Some(cert_pem.to_string()),
            )
            .await
        {
            Err(covenant_sdk::ClientError::Api { code, .. }) if code == "SENDER_REVOKED" => {}
            Err(e) => return Ok(Err(format!("node {name} cannot be asked: {e}"))),
            Ok(_) => return Ok(Err(format!("node {name} still accepts the certificate"))),
        }
    }
    Ok(Ok(()))
}

/// Move every revocation in progress along.
pub async fn advance(p: &Platform) -> Result<()> {
    let ids: Vec<String> = sqlx::query("SELECT id FROM revocations WHERE state = 'in_progress'")
        .fetch_all(p.db().pool())
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
    for id in ids {
        if let Err(e) = advance_one(p, &id).await {
            tracing::warn!(revocation = %id, error = %e, "following a revocation failed");
        }
    }
    Ok(())
}

async fn advance_one(p: &Platform, id: &str) -> Result<()> {
    let r =
        sqlx::query("SELECT org_id, fingerprint, cert_pem, state FROM revocations WHERE id = $1")
            .bind(id)
            .fetch_one(p.db().pool())
            .await?;
    let org_id: String = r.try_get("org_id")?;
    let cert_pem: String = r.try_get("cert_pem")?;
    let state: String = r.try_get("state")?;
    if state != "in_progress" {
        return Ok(());
    }
    let v = get(p, &org_id, id).await?;
    for s in &v.steps {
        if s.state == "enforced" || s.state == "failed" {
            continue;
        }
        let Some(pid) = &s.proposal_id else { continue };
        let prop = proposal::get(p, pid).await?;
        let (next, detail): (&str, String) = match prop.state.as_str() {
            "open" => ("voting", format!("waiting for votes on proposal {pid}")),
            "approved" | "executing" => (
                "committing",
                "approved; the transaction is being committed".into(),
            ),
            "executed" => match enforced(p, &s.chain_id, &cert_pem).await? {
                Ok(()) => ("enforced", "every node refuses the certificate".into()),
                Err(why) => (
                    "on_chain",
                    format!(
                        "the CRL is on chain at height {}; {why}",
                        prop.outcome
                            .as_ref()
                            .and_then(|o| o["height"].as_u64())
                            .unwrap_or(0)
                    ),
                ),
            },
            other => {
                // A newer CRL may have made it to the chain first: what counts is whether the
                // nodes refuse the certificate.
                match enforced(p, &s.chain_id, &cert_pem).await? {
                    Ok(()) => (
                        "enforced",
                        "every node refuses the certificate (a newer CRL)".into(),
                    ),
                    Err(_) => (
                        "failed",
                        format!(
                            "proposal {pid} {other}{}",
                            prop.outcome
                                .as_ref()
                                .and_then(|o: &Value| o["message"]
                                    .as_str()
                                    .map(|m| format!(": {m}")))
                                .unwrap_or_default()
                        ),
                    ),
                }
            }
        };
        if next != s.state || detail != s.detail {
            set_step(
                p,
                id,
                &s.chain_id,
                &s.consortium_id,
                Some(pid),
                next,
                &detail,
            )
            .await?;
        }
    }
    let v = get(p, &org_id, id).await?;
    let all_enforced = v.steps.iter().all(|s| s.state == "enforced");
    let settled = v
        .steps
        .iter()
        .all(|s| s.state == "enforced" || s.state == "failed");
    if !settled {
        return Ok(());
    }
    let (state, kind, title) = if all_enforced {
        (
            "done",
            "cert.revoked",
            if v.steps.is_empty() {
                format!("Revoked: {} (the org is on no chain)", v.subject)
            } else {
                format!("Revoked on every chain: {}", v.subject)
            },
        )
    } else {
        (
            "incomplete",
            "cert.revocation_incomplete",
            format!("Revocation incomplete (retry it): {}", v.subject),
        )
    };
    let mut tx = p.db().write().await?;
    let n = sqlx::query(
        "UPDATE revocations SET state = $1, finished_at = $2 WHERE id = $3 AND state = 'in_progress'",
    )
    .bind(state)
    .bind(now_ms())
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Ok(());
    }
    let notices = event::add_in(
        &mut tx,
        std::slice::from_ref(&org_id),
        &event::New {
            kind,
            title,
            subject_kind: "revocation",
            subject_id: id,
            data: json!({"fingerprint": v.fingerprint, "chains": v.steps.iter().map(|s| json!({"chain_id": s.chain_id, "state": s.state})).collect::<Vec<_>>()}),
        },
    )
    .await?;
    tx.commit().await?;
    event::push(p, notices);
    Ok(())
}

/// The chain call of a `cert.publish_crl` proposal: the CRL must be signed by the named
/// org's CA as the platform knows it.
pub async fn check_crl(p: &Platform, org_id: &str, crl_text: &str) -> Result<String> {
    let crl = covenant_pki::Crl::from_pem(crl_text, "crl")
        .map_err(|e| Error::invalid_as("CRL_INVALID", e.to_string()))?;
    let o = org::get(p, org_id).await.map_err(|_| {
        Error::invalid_as("ORG_UNKNOWN", format!("no org {org_id} on this platform"))
    })?;
    let ca = Certificate::from_pem(&o.ca_certificate, "org CA")?;
    crl.verify_signed_by(&ca).map_err(|e| {
        Error::invalid_as(
            "CRL_INVALID",
            format!("the CRL is not signed by {org_id}'s CA: {e}"),
        )
    })?;
    crl.to_pem()
        .map_err(|e| Error::internal(format!("the CRL does not encode: {e}")))
}
