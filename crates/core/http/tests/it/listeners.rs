//! The listeners bound what clients can hold: half-sent requests and idle connections are
//! cut off, and no more than the limit are open at once (the rest wait in the backlog).

use std::time::Duration;

use axum::{Router, routing::get};
use covenant_http::{Limits, connection_budget, serve_rest};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
};

fn router() -> Router {
    Router::new().route("/healthz", get(|| async { "ok" }))
}

async fn rest(limits: Limits) -> (std::net::SocketAddr, watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = watch::channel(false);
    tokio::spawn(serve_rest(listener, router(), limits, rx));
    (addr, stop)
}

/// Read until the server closes the connection; what it sent.
async fn until_closed(s: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server should have closed the connection");
    out
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: node\r\n\r\n";

#[tokio::test]
async fn half_sent_requests_and_idle_connections_are_cut_off() {
    let (addr, _stop) = rest(Limits {
        max_connections: 8,
        header_read: Duration::from_millis(500),
        idle: Duration::from_millis(1_500),
    })
    .await;
    // Headers never finished: closed once the header-read time is up.
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nhost: node\r\n")
        .await
        .unwrap();
    until_closed(&mut half, Duration::from_secs(10)).await;
    // A served client that then says nothing: closed once idle.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(HEALTH).await.unwrap();
    let answer = until_closed(&mut idle, Duration::from_secs(10)).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn at_the_limit_new_clients_wait_until_a_slot_frees() {
    let (addr, _stop) = rest(Limits {
        max_connections: 2,
        header_read: Duration::from_secs(60),
        idle: Duration::from_secs(60),
    })
    .await;
    // Two clients hold both slots with requests they never finish.
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        holders.push(s);
    }
    // A third connects (the kernel's backlog takes it) but is not served meanwhile.
    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(HEALTH).await.unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(early.is_err(), "served beyond the connection limit");
    // One holder leaves: the third is served.
    drop(holders.pop());
    let n = tokio::time::timeout(Duration::from_secs(10), third.read(&mut buf))
        .await
        .expect("served once a slot freed")
        .unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
}

#[test]
fn the_budget_keeps_descriptors_for_storage_and_peers() {
    // 1024 descriptors, two listeners: each gets (1024 - 256) / 2.
    assert_eq!(connection_budget(1024, 2, Some(1024)), 384);
    // The configured number when the limit is generous.
    assert_eq!(connection_budget(1024, 2, Some(1_048_576)), 1024);
    // Never below a floor, even on a tiny limit.
    assert_eq!(connection_budget(1024, 2, Some(100)), 16);
}
