//! Certificate requests: a member of an org asks for a certificate (a role and a name), with a
//! CSR made where the key lives (`covenant ca csr`) or for a key the platform will keep; an
//! account holding `cert.approve` approves (the org CA issues it) or rejects; the requester
//! downloads what was issued. Batch issuance certifies many identities in one step.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{Row, any::AnyRow};

use crate::{
    Platform, action,
    auth::Caller,
    ca,
    error::{Error, Result},
    event,
    org::{self, IdentityView},
    time::{new_id, now_ms},
};

/// The most identities one batch issues.
pub const MAX_BATCH: usize = 500;

/// A request, as shown.
#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    pub id: String,
    pub org_id: String,
    /// The requesting account and its username.
    pub requested_by: String,
    pub requester: String,
    pub name: String,
    pub role: String,
    /// Whether it came with a CSR (the key stays with its owner).
    pub with_csr: bool,
    pub days: i64,
    pub note: String,
    /// `pending`, `approved` or `rejected`.
    pub state: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub decision_note: Option<String>,
    /// The identity issued on approval, and its certificate's fingerprint.
    pub identity_id: Option<String>,
    pub fingerprint: Option<String>,
    pub created_at: i64,
}

/// A new request (or one item of a batch).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    pub name: String,
    pub role: String,
    #[serde(default)]
    pub csr: Option<String>,
    #[serde(default)]
    pub days: Option<u32>,
    #[serde(default)]
    pub note: Option<String>,
}

const SELECT: &str = "SELECT r.*, a.username AS requester, i.fingerprint AS fingerprint FROM cert_requests r LEFT JOIN accounts a ON a.id = r.requested_by LEFT JOIN identities i ON i.id = r.identity_id";

fn view(r: &AnyRow) -> Result<RequestView> {
    Ok(RequestView {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        requested_by: r.try_get("requested_by")?,
        requester: r
            .try_get::<Option<String>, _>("requester")?
            .unwrap_or_default(),
        name: r.try_get("name")?,
        role: r.try_get("role")?,
        with_csr: r.try_get::<Option<String>, _>("csr_pem")?.is_some(),
        days: r.try_get("days")?,
        note: r.try_get("note")?,
        state: r.try_get("state")?,
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get("decided_at")?,
        decision_note: r.try_get("decision_note")?,
        identity_id: r.try_get("identity_id")?,
        fingerprint: r.try_get("fingerprint")?,
        created_at: r.try_get("created_at")?,
    })
}

fn check_note(note: &str) -> Result<()> {
    if note.chars().count() > 500 {
        return Err(Error::invalid("a note is at most 500 characters"));
    }
    Ok(())
}

/// Check what can be checked before anyone approves: the role, name and validity, and a
/// CSR's form, signature (proof of possession) and common name.
fn check_new(r: &NewRequest) -> Result<u32> {
    org::identity_role(&r.role)?;
    org::check_identity_name(&r.name)?;
    let days = r.days.unwrap_or(ca::LEAF_DAYS);
    ca::check_days(days)?;
    check_note(r.note.as_deref().unwrap_or(""))?;
    if let Some(pem) = &r.csr {
        let csr = covenant_pki::Csr::from_pem(pem, "CSR")
            .map_err(|e| Error::invalid_as("CSR_INVALID", e.to_string()))?;
        csr.verify()
            .map_err(|e| Error::invalid_as("CSR_INVALID", e.to_string()))?;
        if csr.common_name().as_deref() != Some(r.name.as_str()) {
            return Err(Error::invalid_as(
                "CSR_INVALID",
                format!("the CSR's common name is not {:?}", r.name),
            ));
        }
    }
    Ok(days)
}

async fn name_free(p: &Platform, org_id: &str, name: &str) -> Result<()> {
    let taken = sqlx::query("SELECT id FROM identities WHERE org_id = $1 AND name = $2")
        .bind(org_id)
        .bind(name)
        .fetch_optional(p.db().pool())
        .await?;
    if taken.is_some() {
        return Err(Error::conflict(
            "IDENTITY_EXISTS",
            format!("org {org_id} has an identity named {name} already"),
        ));
    }
    let pending = sqlx::query(
        "SELECT id FROM cert_requests WHERE org_id = $1 AND name = $2 AND state = 'pending'",
    )
    .bind(org_id)
    .bind(name)
    .fetch_optional(p.db().pool())
    .await?;
    if pending.is_some() {
        return Err(Error::conflict(
            "REQUEST_PENDING",
            format!("a request for {name} is waiting for approval already"),
        ));
    }
    Ok(())
}

/// Ask the org's CA for a certificate.
pub async fn create(p: &Platform, caller: &Caller, r: &NewRequest) -> Result<RequestView> {
    let days = check_new(r)?;
    name_free(p, caller.org(), &r.name).await?;
    let id = new_id("crq")?;
    let mut tx = p.db().write().await?;
    sqlx::query(
        "INSERT INTO cert_requests (id, org_id, requested_by, name, role, csr_pem, days, note, state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9)",
    )
    .bind(&id)
    .bind(caller.org())
    .bind(caller.account_id())
    .bind(&r.name)
    .bind(&r.role)
    .bind(&r.csr)
    .bind(i64::from(days))
    .bind(r.note.clone().unwrap_or_default())
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    let notices = event::add_in(
        &mut tx,
        &[caller.org().to_string()],
        &event::New {
            kind: "cert.requested",
            title: format!(
                "{} asks for a {} certificate named {}",
                caller.account.username, r.role, r.name
            ),
            subject_kind: "cert_request",
            subject_id: &id,
            data: json!({"name": r.name, "role": r.role, "with_csr": r.csr.is_some()}),
        },
    )
    .await?;
    tx.commit().await?;
    event::push(p, notices);
    get(p, caller, &id).await
}

/// The requests the caller may see: all of the org's with `cert.approve`, else its own;
/// optionally in one state, newest first.
pub async fn list(p: &Platform, caller: &Caller, state: Option<&str>) -> Result<Vec<RequestView>> {
    if let Some(s) = state
        && !["pending", "approved", "rejected"].contains(&s)
    {
        return Err(Error::invalid(format!(
            "state {s:?} is not one of pending, approved, rejected"
        )));
    }
    let all = caller.may(action::CERT_APPROVE);
    sqlx::query(&format!(
        "{SELECT} WHERE r.org_id = $1 AND ($2 = 1 OR r.requested_by = $3) AND ($4 = '' OR r.state = $4) ORDER BY r.created_at DESC, r.id"
    ))
    .bind(caller.org())
    .bind(i64::from(all))
    .bind(caller.account_id())
    .bind(state.unwrap_or(""))
    .fetch_all(p.db().pool())
    .await?
    .iter()
    .map(view)
    .collect()
}

/// A request the caller may see.
pub async fn get(p: &Platform, caller: &Caller, id: &str) -> Result<RequestView> {
    let r = sqlx::query(&format!("{SELECT} WHERE r.id = $1 AND r.org_id = $2"))
        .bind(id)
        .bind(caller.org())
        .fetch_optional(p.db().pool())
        .await?
        .as_ref()
        .map(view)
        .transpose()?
        .filter(|r| caller.may(action::CERT_APPROVE) || r.requested_by == caller.account_id())
        .ok_or_else(|| Error::not_found(format!("no certificate request {id}")))?;
    Ok(r)
}

/// The certificate (PEM) a request was issued.
pub async fn certificate(p: &Platform, caller: &Caller, id: &str) -> Result<(String, String)> {
    let r = get(p, caller, id).await?;
    let identity = r.identity_id.ok_or_else(|| {
        Error::conflict(
            "REQUEST_NOT_ISSUED",
            format!("request {id} is {}; nothing was issued", r.state),
        )
    })?;
    let i = org::identity(p, caller.org(), &identity).await?;
    Ok((i.name, i.certificate))
}

/// Approve (the org CA issues the certificate) or reject a pending request.
pub async fn decide(
    p: &Platform,
    caller: &Caller,
    id: &str,
    approve: bool,
    note: Option<&str>,
) -> Result<RequestView> {
    caller.require(action::CERT_APPROVE)?;
    check_note(note.unwrap_or(""))?;
    let row = sqlx::query("SELECT * FROM cert_requests WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(caller.org())
        .fetch_optional(p.db().pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no certificate request {id}")))?;
    let state: String = row.try_get("state")?;
    if state != "pending" {
        return Err(Error::conflict(
            "REQUEST_DECIDED",
            format!("request {id} is {state} already"),
        ));
    }
    let name: String = row.try_get("name")?;
    let role_name: String = row.try_get("role")?;
    let requester: String = row.try_get("requested_by")?;
    let issued = if approve {
        let role = org::identity_role(&role_name)?;
        let csr: Option<String> = row.try_get("csr_pem")?;
        let days = u32::try_from(row.try_get::<i64, _>("days")?)
            .map_err(|_| Error::internal("a stored validity is damaged"))?;
        let ca = org::ca(p, caller.org()).await?;
        Some((
            role,
            org::certify_identity(&ca, caller.org(), &name, role, csr.as_deref(), days)?,
        ))
    } else {
        None
    };
    let mut tx = p.db().write().await?;
    let identity = match &issued {
        Some((role, (cert, key))) => Some(
            org::insert_identity(p, &mut tx, caller.org(), &name, *role, cert, key.as_ref())
                .await?,
        ),
        None => None,
    };
    let n = sqlx::query(
        "UPDATE cert_requests SET state = $1, decided_by = $2, decided_at = $3, decision_note = $4, identity_id = $5 WHERE id = $6 AND state = 'pending'",
    )
    .bind(if approve { "approved" } else { "rejected" })
    .bind(caller.account_id())
    .bind(now_ms())
    .bind(note)
    .bind(identity.as_ref().map(|i| i.id.clone()))
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(Error::conflict(
            "REQUEST_DECIDED",
            format!("request {id} was decided meanwhile"),
        ));
    }
    let notices = event::add_in(
        &mut tx,
        &[caller.org().to_string()],
        &event::New {
            kind: if approve {
                "cert.issued"
            } else {
                "cert.request_rejected"
            },
            title: if approve {
                format!("Certificate issued: {name} ({role_name})")
            } else {
                format!("Certificate request rejected: {name} ({role_name})")
            },
            subject_kind: "cert_request",
            subject_id: id,
            data: json!({"name": name, "role": role_name, "requested_by": requester, "fingerprint": identity.as_ref().map(|i| i.fingerprint.clone())}),
        },
    )
    .await?;
    tx.commit().await?;
    event::push(p, notices);
    get(p, caller, id).await
}

/// Issue many identities at once, all or none: each from its CSR or with a key the platform
/// keeps.
pub async fn issue_batch(
    p: &Platform,
    caller: &Caller,
    items: &[NewRequest],
) -> Result<Vec<IdentityView>> {
    caller.require(action::IDENTITY_MANAGE)?;
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(Error::invalid(format!(
            "a batch issues 1 to {MAX_BATCH} identities"
        )));
    }
    let mut names = std::collections::HashSet::new();
    let mut checked = Vec::with_capacity(items.len());
    for (i, r) in items.iter().enumerate() {
        let days = check_new(r).map_err(|e| at_item(i, e))?;
        if !names.insert(r.name.as_str()) {
            return Err(Error::invalid_as(
                "BATCH_DUPLICATE",
                format!("item {i}: the name {} appears twice", r.name),
            ));
        }
        checked.push((r, days));
    }
    let ca = org::ca(p, caller.org()).await?;
    let mut certified = Vec::with_capacity(items.len());
    for (i, (r, days)) in checked.iter().enumerate() {
        let role = org::identity_role(&r.role)?;
        let c = org::certify_identity(&ca, caller.org(), &r.name, role, r.csr.as_deref(), *days)
            .map_err(|e| at_item(i, e))?;
        certified.push((r, role, c));
    }
    let mut tx = p.db().write().await?;
    let mut out = Vec::with_capacity(items.len());
    for (r, role, (cert, key)) in &certified {
        out.push(
            org::insert_identity(p, &mut tx, caller.org(), &r.name, *role, cert, key.as_ref())
                .await?,
        );
    }
    tx.commit().await?;
    Ok(out)
}

/// Name the item of a batch an error is about.
fn at_item(i: usize, e: Error) -> Error {
    match e {
        Error::Invalid { code, message } => Error::Invalid {
            code,
            message: format!("item {i}: {message}"),
        },
        other => other,
    }
}
