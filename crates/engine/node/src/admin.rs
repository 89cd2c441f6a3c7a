//! The node's admin socket: operations only the node's operator may run — archiving old
//! block bodies and restoring them — on a Unix socket in the data directory that only the
//! node's user can open (mode 0600). Nothing here is reachable over the network.
//!
//! | route | what |
//! |---|---|
//! | `GET /v1/chains/{chain}/archive` | the chain's archive files, and how far it may be archived now |
//! | `POST /v1/chains/{chain}/archive` `{"below": H}` | archive the bodies of the blocks below H |
//! | `POST /v1/chains/{chain}/restore` | bring every archived block back into the segments |
//!
//! The two operations answer a stream of JSON lines: `{"progress":{"done":n,"total":m}}` as
//! they go, then `{"result":{..}}` or `{"error":{"code":..,"message":..}}`.
//!
//! A chain may be archived below height H only when every consensus node of the chain (as
//! its last status report, within [`REPORT_WITHIN`], says) has committed H — so no lagging
//! consensus node needs those blocks from this node — and block H − 1 is older than
//! `[archive] min_age_secs`. Archived blocks are still served to peers that ask, read from
//! the archive while it is online.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Path as UrlPath, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use covenant_chain::Chain;
use covenant_storage::{ArchiveReport, ArchiveStatus, RestoreReport};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::host::Node;

/// The socket's file name in the data directory.
pub const SOCKET: &str = "admin.sock";
/// How recent a peer's status report must be to count.
pub const REPORT_WITHIN: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct Admin {
    node: Arc<Node>,
    /// An archive or restore is running (one at a time per node).
    busy: Arc<AtomicBool>,
}

fn failure(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "message": message.into()})),
    )
        .into_response()
}

/// Serve the admin socket at `path` until `stop` turns true. A stale socket file (from a
/// node that did not stop cleanly) is replaced.
pub async fn serve(node: Arc<Node>, path: PathBuf, mut stop: watch::Receiver<bool>) {
    if !socket_path_fits(&path) {
        warn!(path = %path.display(), "the admin socket's path is too long for a Unix socket; archive and restore are unavailable (use a shorter data_dir)");
        return;
    }
    if let Err(e) = std::fs::remove_file(&path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        warn!(path = %path.display(), error = %e, "the admin socket's old file cannot be removed; archive and restore are unavailable");
        return;
    }
    let listener = match tokio::net::UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => {
            warn!(path = %path.display(), error = %e, "the admin socket cannot be opened; archive and restore are unavailable");
            return;
        }
    };
    {
        use std::os::unix::fs::PermissionsExt;
        if let Err(e) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
            warn!(path = %path.display(), error = %e, "the admin socket's mode cannot be set; it is closed");
            let _ = std::fs::remove_file(&path);
            return;
        }
    }
    info!(path = %path.display(), "admin socket open");
    let app = Router::new()
        .route("/v1/chains/{chain}/archive", get(status).post(archive))
        .route("/v1/chains/{chain}/restore", post(restore))
        .with_state(Admin {
            node,
            busy: Arc::new(AtomicBool::new(false)),
        });
    let shutdown = async move {
        while !*stop.borrow() {
            if stop.changed().await.is_err() {
                break;
            }
        }
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        warn!(error = %e, "the admin socket stopped");
    }
    let _ = std::fs::remove_file(&path);
}

/// How far chain `chain` may be archived now: the highest `below` allowed, or why none is.
fn archivable(node: &Node, chain: &Chain) -> (Option<u64>, Value) {
    let store = chain.store();
    let Some(tip) = store.height() else {
        return (None, json!({"reason": "the chain has no blocks yet"}));
    };
    let config = chain.config();
    let consensus_nodes = config.consensus.as_ref().map_or(1, |c| c.nodes.len());
    let me = node.votes_on(chain);
    let reports: Vec<(String, u64)> = node
        .sync_state(chain.id())
        .map(|s| {
            s.voting_heights(REPORT_WITHIN)
                .into_iter()
                .map(|(p, h)| (p.to_string(), h))
                .collect()
        })
        .unwrap_or_default();
    let known = reports.len() + usize::from(me);
    let min_age_secs = node.config.archive.min_age_secs;
    let mut limits = json!({
        "height": tip,
        "consensus_nodes": consensus_nodes,
        "reported": reports.iter().map(|(p, h)| json!({"peer": p, "height": h})).collect::<Vec<_>>(),
        "min_age_secs": min_age_secs,
    });
    if known < consensus_nodes {
        limits["reason"] = json!(format!(
            "only {known} of the chain's {consensus_nodes} consensus nodes reported their height in the last {} s; archiving waits until every one is known to have the blocks",
            REPORT_WITHIN.as_secs()
        ));
        return (None, limits);
    }
    let committed_by_all = reports
        .iter()
        .map(|(_, h)| *h)
        .chain(std::iter::once(tip))
        .min()
        .unwrap_or(tip);
    // The highest height h ≤ committed_by_all − 1 whose block is old enough; below = h + 1.
    let cutoff = covenant_types::tx::now_ms().saturating_sub(min_age_secs.saturating_mul(1000));
    let time_of = |h: u64| -> Option<u64> {
        store
            .block_header(h)
            .ok()
            .flatten()
            .map(|b| b.header.timestamp_ms)
    };
    let top = committed_by_all.saturating_sub(1);
    let below = if top < 1 || time_of(1).is_none_or(|t| t > cutoff) {
        None
    } else if time_of(top).is_some_and(|t| t <= cutoff) {
        Some(top + 1)
    } else {
        // Timestamps rise with height: the last old-enough block by bisection.
        let (mut lo, mut hi) = (1, top);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if time_of(mid).is_some_and(|t| t <= cutoff) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(lo + 1)
    };
    limits["committed_by_all"] = json!(committed_by_all);
    match below {
        Some(b) if b >= 2 => {
            limits["archivable_below"] = json!(b);
        }
        _ => {
            limits["reason"] = json!(format!(
                "no block below the height every consensus node has committed ({committed_by_all}) is older than {min_age_secs} s ([archive] min_age_secs)"
            ));
            return (None, limits);
        }
    }
    (below, limits)
}

fn status_view(status: &ArchiveStatus) -> Value {
    json!({
        "dir": status.dir,
        "archived_blocks": status.archived_blocks,
        "files": status.files.iter().map(|f| json!({
            "name": f.name,
            "path": f.path,
            "blocks": f.blocks,
            "first": f.first,
            "last": f.last,
            "online": f.online,
            "problem": f.problem,
        })).collect::<Vec<_>>(),
    })
}

fn chain_of(admin: &Admin, id: &str) -> Result<Chain, Box<Response>> {
    admin.node.chain(id).cloned().ok_or_else(|| {
        Box::new(failure(
            StatusCode::NOT_FOUND,
            "CHAIN_NOT_FOUND",
            format!("this node hosts no chain {id}"),
        ))
    })
}

async fn status(State(admin): State<Admin>, UrlPath(id): UrlPath<String>) -> Response {
    let chain = match chain_of(&admin, &id) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let node = admin.node.clone();
    let view = tokio::task::spawn_blocking(move || {
        let (_, limits) = archivable(&node, &chain);
        chain.store().archive_status().map(|s| {
            let mut v = status_view(&s);
            v["chain"] = json!(chain.id());
            v["archive_dir"] = json!(node.config.archive_dir(chain.id()));
            v["limits"] = limits;
            v
        })
    })
    .await;
    match view {
        Ok(Ok(v)) => axum::Json(v).into_response(),
        Ok(Err(e)) => failure(StatusCode::SERVICE_UNAVAILABLE, e.code(), e.to_string()),
        Err(e) => failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "ADMIN_FAILED",
            e.to_string(),
        ),
    }
}

/// Run `work` on a blocking thread, streaming its progress and then its outcome as JSON lines.
fn streamed(
    admin: &Admin,
    work: impl FnOnce(&mut dyn FnMut(u64, u64)) -> Result<Value, (String, String)> + Send + 'static,
) -> Response {
    if admin.busy.swap(true, Ordering::AcqRel) {
        return failure(
            StatusCode::CONFLICT,
            "ARCHIVE_BUSY",
            "an archive or restore is already running on this node",
        );
    }
    let busy = admin.busy.clone();
    let (tx, rx) = mpsc::unbounded_channel::<Result<Bytes, std::io::Error>>();
    let line = |v: Value| Ok(Bytes::from(format!("{v}\n")));
    tokio::task::spawn_blocking(move || {
        let mut last = None;
        let mut progress = |done: u64, total: u64| {
            let step = (total / 100).max(1);
            if (done == total || done.is_multiple_of(step)) && last != Some(done) {
                last = Some(done);
                let _ = tx.send(line(json!({"progress": {"done": done, "total": total}})));
            }
        };
        let outcome = work(&mut progress);
        let _ = tx.send(line(match outcome {
            Ok(v) => json!({"result": v}),
            Err((code, message)) => json!({"error": {"code": code, "message": message}}),
        }));
        busy.store(false, Ordering::Release);
    });
    Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(Body::from_stream(
            tokio_stream::wrappers::UnboundedReceiverStream::new(rx),
        ))
        .unwrap_or_else(|e| {
            failure(
                StatusCode::SERVICE_UNAVAILABLE,
                "ADMIN_FAILED",
                e.to_string(),
            )
        })
}

fn report_view(r: &ArchiveReport) -> Value {
    json!({
        "file": r.file,
        "blocks": r.blocks,
        "first": r.first,
        "last": r.last,
        "kept": r.kept,
        "raw_bytes": r.raw_bytes,
        "archive_bytes": r.archive_bytes,
        "header_bytes": r.header_bytes,
        "segment_bytes_before": r.segment_bytes_before,
        "segment_bytes_after": r.segment_bytes_after,
    })
}

fn restore_view(r: &RestoreReport) -> Value {
    json!({"blocks": r.blocks, "bytes": r.bytes, "files": r.files})
}

async fn archive(
    State(admin): State<Admin>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Response {
    let chain = match chain_of(&admin, &id) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let below = match serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("below").and_then(Value::as_u64))
    {
        Some(b) => b,
        None => {
            return failure(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                r#"the body must be {"below": HEIGHT}"#,
            );
        }
    };
    let node = admin.node.clone();
    let allowed = {
        let (node, chain) = (node.clone(), chain.clone());
        tokio::task::spawn_blocking(move || archivable(&node, &chain)).await
    };
    let (limit, limits) = match allowed {
        Ok(a) => a,
        Err(e) => {
            return failure(
                StatusCode::SERVICE_UNAVAILABLE,
                "ADMIN_FAILED",
                e.to_string(),
            );
        }
    };
    match limit {
        Some(l) if below <= l => {}
        Some(l) => {
            return failure(
                StatusCode::CONFLICT,
                "ARCHIVE_REFUSED",
                format!(
                    "this chain may be archived below height {l} at most now, not {below} (every consensus node must have committed the height, and the blocks must be older than [archive] min_age_secs)"
                ),
            );
        }
        None => {
            return failure(
                StatusCode::CONFLICT,
                "ARCHIVE_REFUSED",
                limits["reason"]
                    .as_str()
                    .unwrap_or("archiving is not allowed now")
                    .to_string(),
            );
        }
    }
    let dir = node.config.archive_dir(&id);
    streamed(&admin, move |progress| {
        chain
            .store()
            .archive(below, &dir, progress)
            .map(|r| report_view(&r))
            .map_err(|e| (e.code().to_string(), e.to_string()))
    })
}

async fn restore(State(admin): State<Admin>, UrlPath(id): UrlPath<String>) -> Response {
    let chain = match chain_of(&admin, &id) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    streamed(&admin, move |progress| {
        chain
            .store()
            .restore_archived(progress)
            .map(|r| restore_view(&r))
            .map_err(|e| (e.code().to_string(), e.to_string()))
    })
}

/// Whether `path` fits in a Unix socket address (about 107 bytes on Linux).
pub fn socket_path_fits(path: &Path) -> bool {
    path.as_os_str().len() < 104
}
