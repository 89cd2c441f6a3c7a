//! Long operations (deploying a chain's nodes, deleting a network): the API answers with an
//! operation at once; callers poll it (`GET /api/v1/operations/{id}`) for its progress — the
//! step it is at, a line saying what it does — and its result or error.

use serde::Serialize;
use serde_json::Value;
use sqlx::{Row, any::AnyRow};

use crate::{
    Platform, consortium,
    error::{Error, Result},
    time::{new_id, now_ms},
};

/// An operation.
#[derive(Debug, Clone, Serialize)]
pub struct OperationView {
    pub id: String,
    /// The org that started it.
    pub org_id: String,
    pub consortium_id: Option<String>,
    pub kind: String,
    pub target: String,
    /// `running`, `succeeded` or `failed`.
    pub state: String,
    pub progress: String,
    pub step: i64,
    pub steps: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

fn view(r: &AnyRow) -> Result<OperationView> {
    let code: Option<String> = r.try_get("error_code")?;
    let message: Option<String> = r.try_get("error_message")?;
    let result: Option<String> = r.try_get("result")?;
    Ok(OperationView {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        consortium_id: r.try_get("consortium_id")?,
        kind: r.try_get("kind")?,
        target: r.try_get("target")?,
        state: r.try_get("state")?,
        progress: r.try_get("progress")?,
        step: r.try_get("step")?,
        steps: r.try_get("steps")?,
        error: code.map(|c| serde_json::json!({"code": c, "message": message.unwrap_or_default()})),
        result: result.and_then(|r| serde_json::from_str(&r).ok()),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Record a new running operation.
pub async fn start(
    p: &Platform,
    org_id: &str,
    consortium_id: Option<&str>,
    kind: &str,
    target: &str,
    steps: i64,
) -> Result<String> {
    let id = new_id("op")?;
    let now = now_ms();
    sqlx::query(
        "INSERT INTO operations (id, org_id, consortium_id, kind, target, state, progress, step, steps, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'running', 'starting', 0, $6, $7, $7)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(consortium_id)
    .bind(kind)
    .bind(target)
    .bind(steps)
    .bind(now)
    .execute(p.db().pool())
    .await?;
    Ok(id)
}

/// Note progress: at `step` of the whole, doing `text`.
pub async fn progress(p: &Platform, id: &str, step: i64, text: &str) -> Result<()> {
    tracing::info!(operation = id, step, "{text}");
    sqlx::query("UPDATE operations SET progress = $1, step = $2, updated_at = $3 WHERE id = $4 AND state = 'running'")
        .bind(text)
        .bind(step)
        .bind(now_ms())
        .bind(id)
        .execute(p.db().pool())
        .await?;
    Ok(())
}

/// Finish with `result`.
pub async fn succeed(p: &Platform, id: &str, result: &Value) -> Result<()> {
    sqlx::query(
        "UPDATE operations SET state = 'succeeded', progress = 'done', step = steps, result = $1, updated_at = $2 WHERE id = $3",
    )
    .bind(result.to_string())
    .bind(now_ms())
    .bind(id)
    .execute(p.db().pool())
    .await?;
    p.inner.operations.notify_waiters();
    Ok(())
}

/// Finish with an error.
pub async fn fail(p: &Platform, id: &str, e: &Error) -> Result<()> {
    tracing::warn!(operation = id, error = %e, "operation failed");
    sqlx::query(
        "UPDATE operations SET state = 'failed', error_code = $1, error_message = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(e.code())
    .bind(e.public_message())
    .bind(now_ms())
    .bind(id)
    .execute(p.db().pool())
    .await?;
    p.inner.operations.notify_waiters();
    Ok(())
}

/// The operation, whoever asks (internal use).
pub async fn get(p: &Platform, id: &str) -> Result<OperationView> {
    let row = sqlx::query("SELECT * FROM operations WHERE id = $1")
        .bind(id)
        .fetch_optional(p.db().pool())
        .await?
        .ok_or_else(|| Error::not_found(format!("no operation {id}")))?;
    view(&row)
}

/// The operation if `org_id` started it or belongs to its consortium.
pub async fn get_for(p: &Platform, org_id: &str, id: &str) -> Result<OperationView> {
    let missing = || Error::not_found(format!("no operation {id} your org can see"));
    let v = get(p, id).await.map_err(|_| missing())?;
    let visible = v.org_id == org_id
        || match &v.consortium_id {
            Some(c) => consortium::is_member(p, c, org_id).await?,
            None => false,
        };
    if visible { Ok(v) } else { Err(missing()) }
}

/// Operations `org_id` can see, newest first.
pub async fn list_for(p: &Platform, org_id: &str, limit: i64) -> Result<Vec<OperationView>> {
    let rows = sqlx::query(
        "SELECT o.* FROM operations o WHERE o.org_id = $1
            OR o.consortium_id IN (SELECT consortium_id FROM consortium_members WHERE org_id = $1)
         ORDER BY o.created_at DESC, o.id DESC LIMIT $2",
    )
    .bind(org_id)
    .bind(limit.clamp(1, 200))
    .fetch_all(p.db().pool())
    .await?;
    rows.iter().map(view).collect()
}

/// Wait for the operation to end: its result, or its error.
pub async fn wait(p: &Platform, id: &str) -> Result<Value> {
    loop {
        let notified = p.inner.operations.notified();
        let v = get(p, id).await?;
        match v.state.as_str() {
            "succeeded" => return Ok(v.result.unwrap_or(Value::Null)),
            "failed" => {
                let e = v.error.unwrap_or(Value::Null);
                return Err(Error::unavailable(
                    "OPERATION_FAILED",
                    format!(
                        "operation {id} failed: {} {}",
                        e["code"].as_str().unwrap_or(""),
                        e["message"].as_str().unwrap_or("")
                    ),
                ));
            }
            _ => {
                // Woken when any operation ends; the timeout covers one ended by another
                // platform process on the same database.
                let _ = tokio::time::timeout(std::time::Duration::from_secs(1), notified).await;
            }
        }
    }
}

/// Operations left running by a platform that stopped are failed: nobody runs them now.
pub async fn interrupted(p: &Platform) -> Result<()> {
    let n = sqlx::query(
        "UPDATE operations SET state = 'failed', error_code = 'OPERATION_INTERRUPTED', error_message = 'the platform stopped while it ran; start it again', updated_at = $1 WHERE state = 'running'",
    )
    .bind(now_ms())
    .execute(p.db().pool())
    .await?
    .rows_affected();
    if n > 0 {
        tracing::warn!(
            count = n,
            "operations were interrupted by a stop of the platform"
        );
    }
    sqlx::query(
        "UPDATE proposals SET state = 'failed', outcome = '{\"code\":\"OPERATION_INTERRUPTED\",\"message\":\"the platform stopped while it ran\"}' WHERE state = 'executing'",
    )
    .execute(p.db().pool())
    .await?;
    Ok(())
}
