//! A silent gRPC client is cut off by the node's gRPC listener.

use std::time::Duration;

use covenant_api::grpc::ChainService;
use covenant_http::{Limits, serve_grpc};
use tokio::{
    io::AsyncReadExt,
    net::{TcpListener, TcpStream},
    sync::watch,
};

use crate::api;

/// Read until the server closes the connection.
async fn until_closed(s: &mut TcpStream, within: Duration) {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the server should have closed the connection");
}

#[tokio::test]
async fn a_silent_grpc_client_is_cut_off() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_stop, rx) = watch::channel(false);
    let limits = Limits {
        max_connections: 4,
        header_read: Duration::from_millis(500),
        idle: Duration::from_millis(900),
    };
    tokio::spawn(serve_grpc(
        listener,
        ChainService::new(api()).server(),
        limits,
        rx,
    ));
    // Connects and never sends the HTTP/2 preface.
    let mut s = TcpStream::connect(addr).await.unwrap();
    until_closed(&mut s, Duration::from_secs(10)).await;
}
