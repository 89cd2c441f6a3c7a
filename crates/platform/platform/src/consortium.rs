//! Consortia: member orgs that agreed to build chains together. One org founds it; others
//! join by invitation, which is itself a proposal the members vote on
//! ([`crate::proposal`], kind `consortium.admit_org`); the invited org accepts or declines.
//! A member leaves on its own; removing one takes a vote.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::{Row, any::AnyRow};

use crate::{
    Platform,
    db::{Tx, flag, is_unique_violation},
    error::{Error, Result},
    event,
    proposal::policy::Policy,
    time::{new_id, now_ms},
};

/// A consortium as its members see it.
#[derive(Debug, Clone, Serialize)]
pub struct ConsortiumView {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Whether only verified orgs may be invited.
    pub require_verified: bool,
    pub founder_org: String,
    pub members: Vec<MemberView>,
    /// The policy of each kind of platform proposal (kinds not named use their default).
    pub policies: BTreeMap<String, Policy>,
    pub created_at: i64,
    pub version: i64,
}

/// A member org.
#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub org_id: String,
    pub name: String,
    pub joined_at: i64,
}

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "a consortium name is 1 to 64 characters without control characters",
        ));
    }
    Ok(())
}

async fn view(p: &Platform, r: &AnyRow) -> Result<ConsortiumView> {
    let id: String = r.try_get("id")?;
    let members = members(p, &id).await?;
    let policies: String = r.try_get("policies")?;
    Ok(ConsortiumView {
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        require_verified: flag(r, "require_verified")?,
        founder_org: r.try_get("founder_org")?,
        policies: serde_json::from_str(&policies).unwrap_or_default(),
        created_at: r.try_get("created_at")?,
        version: r.try_get("version")?,
        members,
        id,
    })
}

/// The members of a consortium, by org id.
pub async fn members(p: &Platform, id: &str) -> Result<Vec<MemberView>> {
    let rows = sqlx::query(
        "SELECT m.org_id, o.name, m.joined_at FROM consortium_members m JOIN orgs o ON o.id = m.org_id WHERE m.consortium_id = $1 ORDER BY m.org_id",
    )
    .bind(id)
    .fetch_all(p.db().pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MemberView {
                org_id: r.try_get("org_id")?,
                name: r.try_get("name")?,
                joined_at: r.try_get("joined_at")?,
            })
        })
        .collect()
}

/// The member org ids.
pub async fn member_ids(p: &Platform, id: &str) -> Result<Vec<String>> {
    Ok(members(p, id)
        .await?
        .into_iter()
        .map(|m| m.org_id)
        .collect())
}

/// The member org ids, read inside `tx`.
pub async fn member_ids_in(tx: &mut Tx, id: &str) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT org_id FROM consortium_members WHERE consortium_id = $1 ORDER BY org_id",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>("org_id").map_err(Error::from))
        .collect()
}

/// Whether `org_id` is a member.
pub async fn is_member(p: &Platform, id: &str, org_id: &str) -> Result<bool> {
    Ok(sqlx::query(
        "SELECT 1 AS one FROM consortium_members WHERE consortium_id = $1 AND org_id = $2",
    )
    .bind(id)
    .bind(org_id)
    .fetch_optional(p.db().pool())
    .await?
    .is_some())
}

/// The consortium `id` if `org_id` is a member (else not found: non-members do not learn it
/// exists).
pub async fn get_for(p: &Platform, org_id: &str, id: &str) -> Result<ConsortiumView> {
    if !is_member(p, id, org_id).await? {
        return Err(Error::not_found(format!(
            "no consortium {id} that your org belongs to"
        )));
    }
    get(p, id).await
}

/// The consortium `id`, whoever asks (internal use).
pub async fn get(p: &Platform, id: &str) -> Result<ConsortiumView> {
    let row = sqlx::query("SELECT * FROM consortia WHERE id = $1")
        .bind(id)
        .fetch_optional(p.db().pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no consortium {id}")))?;
    view(p, &row).await
}

/// The consortia `org_id` belongs to.
pub async fn list_for(p: &Platform, org_id: &str) -> Result<Vec<ConsortiumView>> {
    let rows = sqlx::query(
        "SELECT c.* FROM consortia c JOIN consortium_members m ON m.consortium_id = c.id WHERE m.org_id = $1 ORDER BY c.name",
    )
    .bind(org_id)
    .fetch_all(p.db().pool())
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        out.push(view(p, r).await?);
    }
    Ok(out)
}

/// A new consortium, founded by `org_id`.
pub async fn create(
    p: &Platform,
    org_id: &str,
    name: &str,
    description: &str,
    require_verified: bool,
    policies: BTreeMap<String, Policy>,
) -> Result<ConsortiumView> {
    check_name(name)?;
    if description.chars().count() > 2048 {
        return Err(Error::invalid("a description is at most 2048 characters"));
    }
    for (kind, policy) in &policies {
        let k = crate::proposal::kind::Kind::parse(kind)?;
        if k.is_chain_level() {
            return Err(Error::invalid_as(
                "POLICY_INVALID",
                format!("{kind} is decided by the chain's own policy, not the consortium's"),
            ));
        }
        policy.check()?;
    }
    let id = new_id("cns")?;
    let now = now_ms();
    let mut tx = p.db().write().await?;
    let r = sqlx::query(
        "INSERT INTO consortia (id, name, description, require_verified, founder_org, policies, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(name)
    .bind(description)
    .bind(i64::from(require_verified))
    .bind(org_id)
    .bind(serde_json::to_string(&policies).map_err(|e| Error::internal(e.to_string()))?)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match r {
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::conflict(
                "CONSORTIUM_EXISTS",
                format!("a consortium named {name} exists already"),
            ));
        }
        other => {
            other?;
        }
    }
    sqlx::query(
        "INSERT INTO consortium_members (consortium_id, org_id, joined_at) VALUES ($1, $2, $3)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    get(p, &id).await
}

/// Change the description, if the consortium is still at `version` (a member's change).
pub async fn update(
    p: &Platform,
    org_id: &str,
    id: &str,
    version: i64,
    description: &str,
) -> Result<ConsortiumView> {
    if description.chars().count() > 2048 {
        return Err(Error::invalid("a description is at most 2048 characters"));
    }
    get_for(p, org_id, id).await?;
    let n = sqlx::query(
        "UPDATE consortia SET description = $1, version = version + 1 WHERE id = $2 AND version = $3",
    )
    .bind(description)
    .bind(id)
    .bind(version)
    .execute(p.db().pool())
    .await?
    .rows_affected();
    if n == 0 {
        return Err(Error::VersionMismatch(format!(
            "consortium {id} changed since version {version}; read it again"
        )));
    }
    get(p, id).await
}

/// An invitation to a consortium.
#[derive(Debug, Clone, Serialize)]
pub struct InvitationView {
    pub id: String,
    pub consortium_id: String,
    pub consortium_name: String,
    pub org_id: String,
    pub proposal_id: Option<String>,
    pub message: String,
    /// `pending`, `accepted`, `declined` or `withdrawn`.
    pub state: String,
    pub created_at: i64,
    pub decided_at: Option<i64>,
}

fn invitation(r: &AnyRow) -> Result<InvitationView> {
    Ok(InvitationView {
        id: r.try_get("id")?,
        consortium_id: r.try_get("consortium_id")?,
        consortium_name: r.try_get("consortium_name")?,
        org_id: r.try_get("org_id")?,
        proposal_id: r.try_get("proposal_id")?,
        message: r.try_get("message")?,
        state: r.try_get("state")?,
        created_at: r.try_get("created_at")?,
        decided_at: r.try_get("decided_at")?,
    })
}

const INVITATION_SELECT: &str = "SELECT i.*, c.name AS consortium_name FROM invitations i JOIN consortia c ON c.id = i.consortium_id";

/// Invite `org_id` (the proposal to admit it passed), inside `tx`.
pub async fn invite_in(
    tx: &mut Tx,
    consortium_id: &str,
    org_id: &str,
    proposal_id: &str,
    message: &str,
) -> Result<(String, Vec<event::Notice>)> {
    let id = new_id("inv")?;
    sqlx::query(
        "INSERT INTO invitations (id, consortium_id, org_id, proposal_id, message, state, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6)",
    )
    .bind(&id)
    .bind(consortium_id)
    .bind(org_id)
    .bind(proposal_id)
    .bind(message)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    let name: String = sqlx::query("SELECT name FROM consortia WHERE id = $1")
        .bind(consortium_id)
        .fetch_one(&mut **tx)
        .await?
        .try_get("name")?;
    let notices = event::add_in(
        tx,
        &[org_id.to_string()],
        &event::New {
            kind: "invitation.received",
            title: format!("Your org is invited to join the consortium {name}"),
            subject_kind: "invitation",
            subject_id: &id,
            data: serde_json::json!({"consortium_id": consortium_id, "message": message}),
        },
    )
    .await?;
    Ok((id, notices))
}

/// Invitations to `org_id`, newest first (optionally only `state`).
pub async fn invitations_to(
    p: &Platform,
    org_id: &str,
    state: Option<&str>,
) -> Result<Vec<InvitationView>> {
    let rows = sqlx::query(&format!(
        "{INVITATION_SELECT} WHERE i.org_id = $1 AND ($2 = '' OR i.state = $2) ORDER BY i.created_at DESC, i.id"
    ))
    .bind(org_id)
    .bind(state.unwrap_or(""))
    .fetch_all(p.db().pool())
    .await?;
    rows.iter().map(invitation).collect()
}

/// Invitations of a consortium (members see them).
pub async fn invitations_of(p: &Platform, consortium_id: &str) -> Result<Vec<InvitationView>> {
    let rows = sqlx::query(&format!(
        "{INVITATION_SELECT} WHERE i.consortium_id = $1 ORDER BY i.created_at DESC, i.id"
    ))
    .bind(consortium_id)
    .fetch_all(p.db().pool())
    .await?;
    rows.iter().map(invitation).collect()
}

/// Accept or decline an invitation to `org_id`.
pub async fn respond(p: &Platform, org_id: &str, id: &str, accept: bool) -> Result<InvitationView> {
    let mut tx = p.db().write().await?;
    let row = sqlx::query(&format!(
        "SELECT * FROM invitations WHERE id = $1 AND org_id = $2{}",
        p.db().for_update()
    ))
    .bind(id)
    .bind(org_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| Error::not_found(format!("no invitation {id} to your org")))?;
    let state: String = row.try_get("state")?;
    if state != "pending" {
        return Err(Error::conflict(
            "INVITATION_CLOSED",
            format!("the invitation was {state} already"),
        ));
    }
    let consortium_id: String = row.try_get("consortium_id")?;
    let now = now_ms();
    sqlx::query(
        "UPDATE invitations SET state = $1, decided_at = $2, version = version + 1 WHERE id = $3",
    )
    .bind(if accept { "accepted" } else { "declined" })
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let members = member_ids_in(&mut tx, &consortium_id).await?;
    if accept {
        let r = sqlx::query(
            "INSERT INTO consortium_members (consortium_id, org_id, joined_at) VALUES ($1, $2, $3)",
        )
        .bind(&consortium_id)
        .bind(org_id)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match r {
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::conflict(
                    "ALREADY_MEMBER",
                    "your org is a member already",
                ));
            }
            other => {
                other?;
            }
        }
    }
    let notices = event::add_in(
        &mut tx,
        &members,
        &event::New {
            kind: if accept {
                "member.joined"
            } else {
                "invitation.declined"
            },
            title: if accept {
                format!("{org_id} joined the consortium")
            } else {
                format!("{org_id} declined the invitation")
            },
            subject_kind: "consortium",
            subject_id: &consortium_id,
            data: serde_json::json!({"org_id": org_id, "invitation_id": id}),
        },
    )
    .await?;
    tx.commit().await?;
    event::push(p, notices);
    let row = sqlx::query(&format!("{INVITATION_SELECT} WHERE i.id = $1"))
        .bind(id)
        .fetch_one(p.db().pool())
        .await?;
    invitation(&row)
}

/// Take `org_id` out of the consortium (inside `tx`), telling the remaining members.
pub async fn remove_member_in(
    tx: &mut Tx,
    consortium_id: &str,
    org_id: &str,
    why: &str,
) -> Result<Vec<event::Notice>> {
    let n = sqlx::query("DELETE FROM consortium_members WHERE consortium_id = $1 AND org_id = $2")
        .bind(consortium_id)
        .bind(org_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(Error::conflict(
            "NOT_A_MEMBER",
            format!("{org_id} is not a member"),
        ));
    }
    let mut to = member_ids_in(tx, consortium_id).await?;
    to.push(org_id.to_string());
    event::add_in(
        tx,
        &to,
        &event::New {
            kind: "member.left",
            title: format!("{org_id} {why} the consortium"),
            subject_kind: "consortium",
            subject_id: consortium_id,
            data: serde_json::json!({"org_id": org_id}),
        },
    )
    .await
}

/// `org_id` leaves. The last member cannot leave (the consortium would have nobody to
/// govern it), nor can an org whose nodes still run a chain of it.
pub async fn leave(p: &Platform, org_id: &str, id: &str) -> Result<()> {
    let mut tx = p.db().write().await?;
    sqlx::query(&format!(
        "SELECT id FROM consortia WHERE id = $1{}",
        p.db().for_update()
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| Error::not_found(format!("no consortium {id}")))?;
    let members = member_ids_in(&mut tx, id).await?;
    if !members.iter().any(|m| m == org_id) {
        return Err(Error::not_found(format!(
            "no consortium {id} that your org belongs to"
        )));
    }
    if members.len() == 1 {
        return Err(Error::conflict(
            "LAST_MEMBER",
            "the last member cannot leave a consortium",
        ));
    }
    let running = sqlx::query(
        "SELECT n.name FROM nodes n JOIN networks w ON w.id = n.network_id WHERE w.consortium_id = $1 AND n.org_id = $2 AND w.state <> 'deleted' LIMIT 1",
    )
    .bind(id)
    .bind(org_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(r) = running {
        let name: String = r.try_get("name")?;
        return Err(Error::conflict(
            "NODES_RUNNING",
            format!("your node {name} is in a network of this consortium; have it deleted first"),
        ));
    }
    let notices = remove_member_in(&mut tx, id, org_id, "left").await?;
    tx.commit().await?;
    event::push(p, notices);
    Ok(())
}
