//! Groups of an org's accounts: permissions granted to a group hold for each member.

use serde::Serialize;
use sqlx::{Row, any::AnyRow};

use crate::{
    Platform,
    db::is_unique_violation,
    error::{Error, Result},
    time::{new_id, now_ms},
};

/// A group with its members and the actions granted to it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupView {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub description: String,
    pub members: Vec<String>,
    pub actions: Vec<String>,
    pub created_at: i64,
    pub version: i64,
}

fn check_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b' '));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "a group name is 1 to 64 letters, digits, spaces, '.', '_' or '-'",
        ))
    }
}

async fn view(p: &Platform, r: &AnyRow) -> Result<GroupView> {
    let id: String = r.try_get("id")?;
    let members =
        sqlx::query("SELECT account_id FROM group_members WHERE group_id = $1 ORDER BY account_id")
            .bind(&id)
            .fetch_all(p.db().pool())
            .await?
            .iter()
            .map(|m| m.try_get::<String, _>("account_id"))
            .collect::<Result<Vec<_>, _>>()?;
    let actions = super::grants_of(p, "group", &id).await?;
    Ok(GroupView {
        org_id: r.try_get("org_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        created_at: r.try_get("created_at")?,
        version: r.try_get("version")?,
        members,
        actions,
        id,
    })
}

/// Create a group in `org_id`.
pub async fn create(
    p: &Platform,
    org_id: &str,
    name: &str,
    description: &str,
) -> Result<GroupView> {
    check_name(name)?;
    if description.chars().count() > 1024 {
        return Err(Error::invalid("a description is at most 1024 characters"));
    }
    let id = new_id("grp")?;
    let r = sqlx::query(
        "INSERT INTO account_groups (id, org_id, name, description, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(name)
    .bind(description)
    .bind(now_ms())
    .execute(p.db().pool())
    .await;
    match r {
        Err(e) if is_unique_violation(&e) => Err(Error::conflict(
            "GROUP_EXISTS",
            format!("the org has a group named {name} already"),
        )),
        Err(e) => Err(e.into()),
        Ok(_) => get(p, org_id, &id).await,
    }
}

/// The group `id` of `org_id`.
pub async fn get(p: &Platform, org_id: &str, id: &str) -> Result<GroupView> {
    let row = sqlx::query("SELECT * FROM account_groups WHERE id = $1 AND org_id = $2")
        .bind(id)
        .bind(org_id)
        .fetch_optional(p.db().pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no group {id} in this org")))?;
    view(p, &row).await
}

/// The groups of `org_id`, by name.
pub async fn list(p: &Platform, org_id: &str) -> Result<Vec<GroupView>> {
    let rows = sqlx::query("SELECT * FROM account_groups WHERE org_id = $1 ORDER BY name")
        .bind(org_id)
        .fetch_all(p.db().pool())
        .await?;
    let mut out = Vec::new();
    for r in &rows {
        out.push(view(p, r).await?);
    }
    Ok(out)
}

/// Add `account_id` (of the same org) to the group.
pub async fn add_member(
    p: &Platform,
    org_id: &str,
    id: &str,
    account_id: &str,
) -> Result<GroupView> {
    get(p, org_id, id).await?;
    super::get(p, org_id, account_id).await?;
    let r = sqlx::query("INSERT INTO group_members (group_id, account_id) VALUES ($1, $2)")
        .bind(id)
        .bind(account_id)
        .execute(p.db().pool())
        .await;
    match r {
        Err(e) if is_unique_violation(&e) => {}
        Err(e) => return Err(e.into()),
        Ok(_) => {}
    }
    get(p, org_id, id).await
}

/// Take `account_id` out of the group.
pub async fn remove_member(
    p: &Platform,
    org_id: &str,
    id: &str,
    account_id: &str,
) -> Result<GroupView> {
    get(p, org_id, id).await?;
    let n = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND account_id = $2")
        .bind(id)
        .bind(account_id)
        .execute(p.db().pool())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(Error::not_found(format!(
            "{account_id} is not a member of group {id}"
        )));
    }
    get(p, org_id, id).await
}

/// Replace the actions granted to the group.
pub async fn grant(p: &Platform, org_id: &str, id: &str, actions: &[String]) -> Result<GroupView> {
    get(p, org_id, id).await?;
    super::set_grants(p, org_id, "group", id, actions).await?;
    get(p, org_id, id).await
}
