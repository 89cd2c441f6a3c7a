//! WebSocket subscriptions to blocks or contract events, resumable from any height: the
//! messages of [`Api::follow`]'s feed (stored blocks from `from_height`, then live ones, no
//! gap, no duplicate) as JSON. The server pings an idle subscriber every
//! [`PING_EVERY`](self::PING_EVERY) so the connection stays live.

use std::time::Duration;

use axum::{
    extract::{
        FromRequestParts, State,
        ws::{Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection},
    },
    http::request::Parts,
    response::Response,
};
use covenant_api_types::json::SubscriptionMessage;
use covenant_crypto::Suite;
use serde::Deserialize;

use crate::{
    Api,
    ops::{Failure, FailureKind},
    rest::{JsonPath, JsonQuery},
    views,
};

/// How often an idle subscription is pinged.
pub const PING_EVERY: Duration = Duration::from_secs(30);

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

/// The WebSocket upgrade; a plain request gets a coded 426.
pub struct Upgrade(WebSocketUpgrade);

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map(Upgrade)
            .map_err(|e: WebSocketUpgradeRejection| {
                Failure::new(
                    FailureKind::UpgradeRequired,
                    "WEBSOCKET_REQUIRED",
                    format!("open this endpoint as a WebSocket ({})", e.body_text()),
                )
            })
    }
}

pub async fn subscribe(
    State(api): State<Api>,
    JsonPath(id): JsonPath<String>,
    JsonQuery(p): JsonQuery<SubscribeParams>,
    upgrade: Result<Upgrade, Failure>,
) -> Result<Response, Failure> {
    let events = match p.kind.as_deref() {
        None | Some("blocks") => false,
        Some("events") => true,
        Some(other) => {
            return Err(Failure::bad_request(format!(
                "unknown subscription kind {other:?} (blocks or events)"
            )));
        }
    };
    let suite = api.chain(&id)?.suite();
    // The request is checked first; only a good one is told to upgrade.
    let upgrade = upgrade?;
    let feed = api.follow(&id, p.from_height)?;
    Ok(upgrade
        .0
        .on_upgrade(move |socket| run(socket, feed, suite, events, p.contract)))
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

async fn run(
    mut socket: WebSocket,
    mut feed: tokio::sync::mpsc::Receiver<std::sync::Arc<covenant_chain::CommittedBlock>>,
    suite: Suite,
    events: bool,
    contract: Option<String>,
) {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            b = feed.recv() => match b {
                Some(b) => {
                    if !send(&mut socket, views::messages(suite, &b, events, contract.as_deref())).await {
                        return;
                    }
                }
                None => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(Message::Ping(p))) if socket.send(Message::Pong(p.clone())).await.is_err() => return,
                _ => {}
            },
            _ = ping.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}
