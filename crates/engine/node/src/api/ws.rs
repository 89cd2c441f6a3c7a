//! WebSocket subscriptions to blocks or contract events, resumable from any height.
//!
//! The server subscribes to new blocks first, then replays stored blocks from `from_height` to
//! the tip, then forwards live blocks it has not sent yet: no gap, no duplicate. A client that
//! falls behind the live feed is caught up from storage.

use axum::{
    extract::{
        Path, Query, State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    response::Response,
};
use covenant_chain::{Chain, CommittedBlock};
use covenant_types::{TxResult, api::SubscriptionMessage};
use prost::Message as _;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::{AppState, Failure, chain, views};

#[derive(Debug, Deserialize)]
pub struct SubscribeParams {
    /// `blocks` (default) or `events`.
    #[serde(default)]
    kind: Option<String>,
    /// First height to deliver; absent means from the next block.
    #[serde(default)]
    from_height: Option<u64>,
    /// For events: only this contract's.
    #[serde(default)]
    contract: Option<String>,
}

pub async fn subscribe(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<SubscribeParams>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, Failure> {
    let c = chain(&s, &id)?.clone();
    let events = match p.kind.as_deref() {
        None | Some("blocks") => false,
        Some("events") => true,
        Some(other) => {
            return Err(Failure::bad_request(format!(
                "unknown subscription kind {other:?} (blocks or events)"
            )));
        }
    };
    Ok(upgrade.on_upgrade(move |socket| run(socket, c, events, p.from_height, p.contract)))
}

async fn send(socket: &mut WebSocket, msgs: Vec<SubscriptionMessage>) -> bool {
    for m in msgs {
        let Ok(text) = serde_json::to_string(&m) else {
            continue;
        };
        if socket.send(Message::Text(text.into())).await.is_err() {
            return false;
        }
    }
    true
}

fn stored(c: &Chain, height: u64) -> Option<CommittedBlock> {
    let block = c.store().block(height).ok()??;
    let results = block
        .block
        .results
        .iter()
        .map(|r| TxResult::decode(r.as_slice()).unwrap_or_default())
        .collect();
    Some(CommittedBlock { block, results })
}

/// Send stored blocks `next..=tip`; returns the next height to send.
async fn catch_up(
    socket: &mut WebSocket,
    c: &Chain,
    mut next: u64,
    events: bool,
    contract: Option<&str>,
) -> Option<u64> {
    while let Some(tip) = c.store().height() {
        if next > tip {
            break;
        }
        let cc = c.clone();
        let b = tokio::task::spawn_blocking(move || stored(&cc, next))
            .await
            .ok()
            .flatten()?;
        if !send(socket, views::messages(c.suite(), &b, events, contract)).await {
            return None;
        }
        next += 1;
    }
    Some(next)
}

async fn run(
    mut socket: WebSocket,
    c: Chain,
    events: bool,
    from: Option<u64>,
    contract: Option<String>,
) {
    let mut live = c.subscribe();
    let mut next = match from {
        Some(h) => h,
        None => c.store().height().map_or(0, |h| h + 1),
    };
    let Some(n) = catch_up(&mut socket, &c, next, events, contract.as_deref()).await else {
        return;
    };
    next = n;
    loop {
        tokio::select! {
            got = live.recv() => match got {
                Ok(b) => {
                    let h = b.block.height();
                    if h < next {
                        continue;
                    }
                    if h > next {
                        // Missed some: fill the gap from storage.
                        match catch_up(&mut socket, &c, next, events, contract.as_deref()).await {
                            Some(n) => next = n,
                            None => return,
                        }
                        if h < next {
                            continue;
                        }
                    }
                    if !send(&mut socket, views::messages(c.suite(), &b, events, contract.as_deref())).await {
                        return;
                    }
                    next = h + 1;
                }
                Err(RecvError::Lagged(_)) => {
                    match catch_up(&mut socket, &c, next, events, contract.as_deref()).await {
                        Some(n) => next = n,
                        None => return,
                    }
                }
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(Message::Ping(p))) if socket.send(Message::Pong(p.clone())).await.is_err() => return,
                _ => {}
            },
        }
    }
}
