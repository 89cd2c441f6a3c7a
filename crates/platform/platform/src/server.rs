//! Running the platform: the API on a bounded listener (covenant-http) and the background
//! work — closing proposals at their deadline, looking at every node's status, moving expired
//! networks to the recycle bin, following
//! revocations to every chain, warning of expiring certificates, evaluating alert rules and
//! delivering their notifications, anchoring the audit log, and carrying out proposals approved
//! before a restart.

use std::time::Duration;

use tokio::{net::TcpListener, sync::watch};

use crate::{Platform, anchor, api, certificate, error::Result, monitor, network, proposal};

/// How often deadlines, node status and revocations in progress are looked at.
pub const TICK: Duration = Duration::from_secs(3);
/// How often due notifications are sent.
pub const DELIVER_EVERY: Duration = Duration::from_secs(1);
/// How often certificates are looked at for expiry.
pub const EXPIRY_EVERY: Duration = Duration::from_secs(600);

/// Serve the API on `listener` and run the background work until `stop` turns true.
pub async fn serve(p: Platform, listener: TcpListener, stop: watch::Receiver<bool>) -> Result<()> {
    let app = api::router(p.clone());
    serve_app(p, listener, stop, app).await
}

/// Serve `app` — the API with what a binary puts beside it, such as the console — on
/// `listener` and run the background work until `stop` turns true.
pub async fn serve_app(
    p: Platform,
    listener: TcpListener,
    stop: watch::Receiver<bool>,
    app: axum::Router,
) -> Result<()> {
    proposal::execute::resume(&p).await?;
    let soft = covenant_http::raise_descriptor_limit();
    let limits = covenant_http::Limits {
        max_connections: covenant_http::connection_budget(1024, 1, soft),
        ..covenant_http::Limits::default()
    };
    let ticker = {
        let p = p.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(TICK);
            let mut last_expiry_sweep: Option<tokio::time::Instant> = None;
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = stop.changed() => return,
                }
                if last_expiry_sweep.is_none_or(|t| t.elapsed() >= EXPIRY_EVERY) {
                    last_expiry_sweep = Some(tokio::time::Instant::now());
                    if let Err(e) = certificate::expiry::sweep(&p).await {
                        tracing::warn!(error = %e, "looking at certificates' expiry failed");
                    }
                }
                if let Err(e) = certificate::revocation::advance(&p).await {
                    tracing::warn!(error = %e, "following revocations failed");
                }
                if let Err(e) = proposal::expire_due(&p).await {
                    tracing::warn!(error = %e, "closing expired proposals failed");
                }
                if let Err(e) = network::refresh_status(&p).await {
                    tracing::warn!(error = %e, "looking at node status failed");
                }
                if let Err(e) = network::lifecycle(&p).await {
                    tracing::warn!(error = %e, "looking at networks' expiry failed");
                }
                if let Err(e) = monitor::alert::evaluate(&p).await {
                    tracing::warn!(error = %e, "evaluating alert rules failed");
                }
            }
        })
    };
    let delivering = {
        let p = p.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut every = tokio::time::interval(DELIVER_EVERY);
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = stop.changed() => return,
                }
                if let Err(e) = monitor::delivery::run_due(&p, &http).await {
                    tracing::warn!(error = %e, "delivering notifications failed");
                }
            }
        })
    };
    let anchoring = p.config().anchor.clone().map(|cfg| {
        let p = p.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(cfg.interval);
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = stop.changed() => return,
                }
                if let Err(e) = anchor::anchor_once(&p, &cfg).await {
                    tracing::warn!(error = %e, chain = %cfg.chain_id, "anchoring the audit log failed; retrying at the next interval");
                }
            }
        })
    });
    covenant_http::serve_rest(listener, app, limits, stop).await;
    ticker.abort();
    delivering.abort();
    if let Some(a) = anchoring {
        a.abort();
    }
    Ok(())
}
