//! Two or three nodes on loopback: identity proofs for every key algorithm, admission per
//! chain, requests, readmission, reconnects, and hostile input.

use std::{sync::Arc, time::Duration};

use covenant_crypto::{KeyAlgorithm, Suite};
use covenant_net::{
    NetError, NetStats, PeerTarget,
    identity::{EXPORTER_LABEL, ROLE_DIALER},
    tls, wire,
};
use covenant_types::pb::{ChainFrame, PeerFrame, PeerHello, peer_frame::Body};
use tokio::io::AsyncWriteExt;

use crate::support::{Allow, connected, identity, start, until};

async fn pair_exchanges(suite: Suite, alg: Option<KeyAlgorithm>) {
    let dir = tempfile::tempdir().unwrap();
    let a_id = identity(dir.path(), "orga", suite, alg);
    let b_id = identity(dir.path(), "orgb", suite, alg);
    assert_eq!(a_id.ephemeral_tls(), suite == Suite::Sm);
    let (a_cert, b_cert) = (
        a_id.certificate().der().to_vec(),
        b_id.certificate().der().to_vec(),
    );
    let a_allow = Arc::new(Allow::default());
    let b_allow = Arc::new(Allow::default());
    a_allow.allow("main", &b_cert);
    a_allow.allow("side", &b_cert);
    b_allow.allow("main", &a_cert);
    let a = start(a_id, a_allow, true).await;
    let b = start(b_id, b_allow, true).await;
    let mut a_main = a.join("main");
    a.join("side");
    let mut b_main = b.join("main");
    let mut b_side = b.join("side");
    a.set_peers(
        "main",
        &[PeerTarget {
            certificate: b_cert.clone(),
            address: b.local_addr().unwrap().to_string(),
        }],
    );
    until("a and b connected", || {
        connected(&a, b.id(), "main") && connected(&b, a.id(), "main")
    })
    .await;
    let info = a.peers(Some("main"));
    assert_eq!(info.len(), 1);
    assert!(info[0].admitted.contains("side"));
    assert!(!info[0].admitted_by_peer.contains("side"));

    a.send(&b.id(), "main", 7, b"hello".to_vec()).unwrap();
    let got = b_main.recv().await.unwrap();
    assert_eq!(
        (got.peer, got.kind, got.payload.as_slice()),
        (a.id(), 7, &b"hello"[..])
    );
    assert_eq!(*got.certificate, a_cert);

    // b did not admit a on "side": a's frames about it are dropped, and b cannot send on it.
    let before = NetStats::get(&b.stats().dropped);
    a.send(&b.id(), "side", 1, b"secret".to_vec()).unwrap();
    until("the side frame dropped", || {
        NetStats::get(&b.stats().dropped) > before
    })
    .await;
    assert!(b_side.try_recv().is_err());
    assert!(matches!(
        b.send(&a.id(), "side", 1, vec![]),
        Err(NetError::NotAdmitted { .. })
    ));

    // Request and answer.
    let b2 = b.clone();
    let server = tokio::spawn(async move {
        let r = b_main.recv().await.unwrap();
        assert_eq!(r.payload, b"ping");
        r.reply.unwrap().send(b"pong".to_vec());
        let r = b_main.recv().await.unwrap();
        r.reply.unwrap().fail("no such block");
        drop(b2);
    });
    let answer = a
        .request(&b.id(), "main", 3, b"ping".to_vec(), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(answer, b"pong");
    let err = a
        .request(
            &b.id(),
            "main",
            3,
            b"block 9".to_vec(),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, NetError::Remote(ref m) if m == "no such block"),
        "{err}"
    );
    server.await.unwrap();
    assert!(a_main.try_recv().is_err());
    // Exactly one connection each way, though only a dials.
    assert_eq!(a.peers(None).len(), 1);
    assert_eq!(b.peers(None).len(), 1);
    a.shutdown();
    b.shutdown();
}

#[tokio::test]
async fn p256_nodes_use_their_certificates_in_tls() {
    pair_exchanges(Suite::Intl, Some(KeyAlgorithm::EcdsaP256)).await;
}

#[tokio::test]
async fn ed25519_nodes_use_their_certificates_in_tls() {
    pair_exchanges(Suite::Intl, Some(KeyAlgorithm::Ed25519)).await;
}

#[tokio::test]
async fn sm2_nodes_prove_their_identity_inside_the_session() {
    pair_exchanges(Suite::Sm, None).await;
}

#[tokio::test]
async fn a_refused_peer_gets_nothing_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let a_id = identity(dir.path(), "orga", Suite::Sm, None);
    let b_id = identity(dir.path(), "orgb", Suite::Sm, None);
    let b_cert = b_id.certificate().der().to_vec();
    let a_allow = Arc::new(Allow::default());
    let b_allow = Arc::new(Allow::default());
    // a admits b, b admits nobody (as if a's certificate were revoked).
    a_allow.allow("main", &b_cert);
    let a = start(a_id, a_allow, true).await;
    let b = start(b_id, b_allow, true).await;
    a.join("main");
    b.join("main");
    a.set_peers(
        "main",
        &[PeerTarget {
            certificate: b_cert,
            address: b.local_addr().unwrap().to_string(),
        }],
    );
    until("b refused a twice (redials back off)", || {
        NetStats::get(&b.stats().rejections) >= 2
    })
    .await;
    assert!(b.peers(None).is_empty());
    assert!(matches!(
        b.send(&a.id(), "main", 1, vec![]),
        Err(NetError::NotConnected(_))
    ));
    a.shutdown();
    b.shutdown();
}

#[tokio::test]
async fn readmission_follows_membership_on_a_live_connection() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<_> = ["orga", "orgb", "orgc"]
        .iter()
        .map(|o| identity(dir.path(), o, Suite::Intl, None))
        .collect();
    let certs: Vec<Vec<u8>> = ids.iter().map(|i| i.certificate().der().to_vec()).collect();
    let allows: Vec<Arc<Allow>> = (0..3).map(|_| Arc::new(Allow::default())).collect();
    for (i, allow) in allows.iter().enumerate() {
        for (j, c) in certs.iter().enumerate() {
            if i != j {
                allow.allow("main", c);
                allow.allow("other", c);
            }
        }
    }
    let mut nets = Vec::new();
    for (id, allow) in ids.into_iter().zip(&allows) {
        nets.push(start(id, allow.clone(), true).await);
    }
    let mut queues = Vec::new();
    for n in &nets {
        queues.push(n.join("main"));
        n.join("other");
    }
    let targets: Vec<PeerTarget> = nets
        .iter()
        .zip(&certs)
        .map(|(n, c)| PeerTarget {
            certificate: c.clone(),
            address: n.local_addr().unwrap().to_string(),
        })
        .collect();
    for n in &nets {
        n.set_peers("main", &targets);
    }
    until("a full mesh", || {
        nets.iter().all(|n| n.peers(Some("main")).len() == 2)
    })
    .await;
    // Node 0 removes node 2 from "main" (a membership change); "other" stays.
    allows[0].deny("main", &certs[2]);
    nets[0].readmit("main");
    assert!(matches!(
        nets[0].send(&nets[2].id(), "main", 1, vec![]),
        Err(NetError::NotAdmitted { .. })
    ));
    until("node 2 learns it was refused", || {
        nets[2]
            .peers(Some("other"))
            .iter()
            .any(|p| p.id == nets[0].id() && !p.admitted_by_peer.contains("main"))
    })
    .await;
    assert_eq!(nets[0].broadcast("main", 1, b"x"), 1);
    // Back in.
    allows[0].allow("main", &certs[2]);
    nets[0].readmit("main");
    assert_eq!(nets[0].broadcast("main", 2, b"y"), 2);
    let got = queues[2].recv().await.unwrap();
    assert_eq!((got.kind, got.payload.as_slice()), (2, &b"y"[..]));
    // Removing node 2 from every chain closes the connection.
    allows[0].deny("main", &certs[2]);
    allows[0].deny("other", &certs[2]);
    nets[0].readmit("main");
    nets[0].readmit("other");
    until("the link to node 2 closed", || {
        !nets[0].peers(None).iter().any(|p| p.id == nets[2].id())
    })
    .await;
    for n in &nets {
        n.shutdown();
    }
}

#[tokio::test]
async fn a_dialer_reconnects_when_its_peer_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let a_id = identity(dir.path(), "orga", Suite::Intl, Some(KeyAlgorithm::Ed25519));
    let b_cert = {
        let b = identity(dir.path(), "orgb", Suite::Intl, Some(KeyAlgorithm::Ed25519));
        b.certificate().der().to_vec()
    };
    let a_cert = a_id.certificate().der().to_vec();
    let allow = Arc::new(Allow::default());
    allow.allow("main", &a_cert);
    allow.allow("main", &b_cert);
    let a = start(a_id, allow.clone(), false).await;
    a.join("main");
    // b's identity is reloaded from its files on every start, as a restarted node would.
    let b_dir = dir.path().join("orgb");
    let b_identity = || {
        let d = b_dir.join("identities").join("orgb-node");
        let cert = covenant_pki::Certificate::load(&d.join("cert.pem")).unwrap();
        let key = covenant_crypto::PrivateKey::from_pkcs8_pem(
            &std::fs::read_to_string(d.join("key.pem")).unwrap(),
        )
        .unwrap();
        covenant_net::NodeIdentity::new(cert, key).unwrap()
    };
    let b = start(b_identity(), allow.clone(), true).await;
    let addr = b.local_addr().unwrap().to_string();
    b.join("main");
    a.set_peers(
        "main",
        &[PeerTarget {
            certificate: b_cert.clone(),
            address: addr.clone(),
        }],
    );
    until("connected", || connected(&a, b.id(), "main")).await;
    b.shutdown();
    until("a noticed", || !connected(&a, b.id(), "main")).await;
    // The same node comes back on the same address.
    let b2 = covenant_net::Network::start(
        b_identity(),
        covenant_net::NetConfig {
            listen: Some(addr),
            ..crate::support::config(true)
        },
        allow,
    )
    .await
    .unwrap();
    let mut q = b2.join("main");
    until("reconnected", || connected(&a, b2.id(), "main")).await;
    a.send(&b2.id(), "main", 5, b"again".to_vec()).unwrap();
    assert_eq!(q.recv().await.unwrap().payload, b"again");
    a.shutdown();
    b2.shutdown();
}

#[tokio::test]
async fn nodes_that_dial_each_other_keep_one_connection() {
    let dir = tempfile::tempdir().unwrap();
    let a_id = identity(dir.path(), "orga", Suite::Sm, None);
    let b_id = identity(dir.path(), "orgb", Suite::Sm, None);
    let certs = [
        a_id.certificate().der().to_vec(),
        b_id.certificate().der().to_vec(),
    ];
    let allow = Arc::new(Allow::default());
    for c in &certs {
        allow.allow("main", c);
    }
    let a = start(a_id, allow.clone(), true).await;
    let b = start(b_id, allow, true).await;
    a.join("main");
    b.join("main");
    let targets = [
        PeerTarget {
            certificate: certs[0].clone(),
            address: a.local_addr().unwrap().to_string(),
        },
        PeerTarget {
            certificate: certs[1].clone(),
            address: b.local_addr().unwrap().to_string(),
        },
    ];
    a.set_peers("main", &targets);
    b.set_peers("main", &targets);
    until("connected", || {
        connected(&a, b.id(), "main") && connected(&b, a.id(), "main")
    })
    .await;
    // Both dialled at once: the duplicate link is dropped, and both ends keep the same
    // connection (one side dialled it, the other accepted it).
    until("one shared link", || {
        let (pa, pb) = (a.peers(None), b.peers(None));
        pa.len() == 1 && pb.len() == 1 && pa[0].outbound != pb[0].outbound
    })
    .await;
    a.shutdown();
    b.shutdown();
}

/// A client that speaks TLS with a real node identity but sends what the test wants.
async fn raw_client(
    server: std::net::SocketAddr,
    who: &covenant_net::NodeIdentity,
) -> (
    tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    [u8; 32],
) {
    let (client, _) = tls::configs(who).unwrap();
    let tcp = tokio::net::TcpStream::connect(server).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from(tls::SERVER_NAME).unwrap();
    let s = tokio_rustls::TlsConnector::from(client)
        .connect(name, tcp)
        .await
        .unwrap();
    let mut exporter = [0u8; 32];
    s.get_ref()
        .1
        .export_keying_material(&mut exporter, EXPORTER_LABEL, None)
        .unwrap();
    (s, exporter)
}

#[tokio::test]
async fn hostile_peers_lose_their_connection_and_the_node_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let server_id = identity(dir.path(), "orga", Suite::Sm, None);
    let evil = identity(dir.path(), "orgb", Suite::Sm, None);
    let evil_cert = evil.certificate().der().to_vec();
    let allow = Arc::new(Allow::default());
    allow.allow("main", &evil_cert);
    let mut cfg = crate::support::config(true);
    cfg.max_frame_bytes = 4096;
    let server = covenant_net::Network::start(server_id, cfg, allow)
        .await
        .unwrap();
    let mut q = server.join("main");
    let addr = server.local_addr().unwrap();
    let hello = |exporter: &[u8; 32]| PeerFrame {
        body: Some(Body::Hello(PeerHello {
            certificate: evil_cert.clone(),
            chains: vec!["main".into()],
            signature: evil.sign_hello(ROLE_DIALER, exporter).unwrap(),
            listen_address: String::new(),
            version: "test".into(),
        })),
    };

    // 1. Not TLS at all.
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    until("a failed handshake", || {
        NetStats::get(&server.stats().handshake_failures) >= 1
    })
    .await;

    // 2. An identity proof signed for another session (a replayed hello).
    let (mut s, _) = raw_client(addr, &evil).await;
    wire::write_frame(&mut s, &hello(&[0u8; 32])).await.unwrap();
    s.flush().await.unwrap();
    until("the replayed hello refused", || {
        NetStats::get(&server.stats().handshake_failures) >= 2
    })
    .await;

    // 3. A proper handshake, then a frame over the limit.
    let (mut s, exporter) = raw_client(addr, &evil).await;
    wire::write_frame(&mut s, &hello(&exporter)).await.unwrap();
    let welcome = PeerFrame {
        body: Some(Body::Welcome(Default::default())),
    };
    wire::write_frame(&mut s, &welcome).await.unwrap();
    s.flush().await.unwrap();
    until("admitted", || server.peers(Some("main")).len() == 1).await;
    let big = PeerFrame {
        body: Some(Body::Chain(ChainFrame {
            chain_id: "main".into(),
            kind: 1,
            payload: vec![0; 10_000],
            ..Default::default()
        })),
    };
    wire::write_frame(&mut s, &big).await.unwrap();
    s.flush().await.unwrap();
    until("the oversized frame closed the link", || {
        NetStats::get(&server.stats().bad_frames) >= 1 && server.peers(None).is_empty()
    })
    .await;

    // 4. Garbage where a frame should be.
    let (mut s, exporter) = raw_client(addr, &evil).await;
    wire::write_frame(&mut s, &hello(&exporter)).await.unwrap();
    wire::write_frame(&mut s, &welcome).await.unwrap();
    s.write_all(&[0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
        .await
        .unwrap();
    s.flush().await.unwrap();
    until("the garbage closed the link", || {
        NetStats::get(&server.stats().bad_frames) >= 2 && server.peers(None).is_empty()
    })
    .await;

    // The node still serves well-behaved peers.
    let (mut s, exporter) = raw_client(addr, &evil).await;
    wire::write_frame(&mut s, &hello(&exporter)).await.unwrap();
    wire::write_frame(&mut s, &welcome).await.unwrap();
    let ok = PeerFrame {
        body: Some(Body::Chain(ChainFrame {
            chain_id: "main".into(),
            kind: 9,
            payload: b"fine".to_vec(),
            ..Default::default()
        })),
    };
    wire::write_frame(&mut s, &ok).await.unwrap();
    s.flush().await.unwrap();
    let got = q.recv().await.unwrap();
    assert_eq!((got.kind, got.payload.as_slice()), (9, &b"fine"[..]));
    server.shutdown();
}

/// With a source address set, connections to peers leave from it: the peer sees it as the
/// remote address (what a firewall between hosts with several addresses sees).
#[tokio::test]
async fn a_dialer_with_a_source_address_connects_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let a_id = identity(dir.path(), "orga", Suite::Intl, Some(KeyAlgorithm::Ed25519));
    let b_id = identity(dir.path(), "orgb", Suite::Intl, Some(KeyAlgorithm::Ed25519));
    let (a_cert, b_cert) = (
        a_id.certificate().der().to_vec(),
        b_id.certificate().der().to_vec(),
    );
    let allow = Arc::new(Allow::default());
    allow.allow("main", &a_cert);
    allow.allow("main", &b_cert);
    let source: std::net::IpAddr = "127.0.0.77".parse().unwrap();
    let a = covenant_net::Network::start(
        a_id,
        covenant_net::NetConfig {
            source: Some(source),
            ..crate::support::config(false)
        },
        allow.clone(),
    )
    .await
    .unwrap();
    a.join("main");
    let b = start(b_id, allow, true).await;
    b.join("main");
    a.set_peers(
        "main",
        &[PeerTarget {
            certificate: b_cert,
            address: b.local_addr().unwrap().to_string(),
        }],
    );
    until("connected", || connected(&b, a.id(), "main")).await;
    let seen = b
        .peers(Some("main"))
        .into_iter()
        .find(|p| p.id == a.id())
        .unwrap();
    assert_eq!(seen.remote.ip(), source);
    assert!(!seen.outbound);
    a.shutdown();
    b.shutdown();
}
