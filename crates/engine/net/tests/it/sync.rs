//! Block sync serving is bounded: one peer cannot tie up more than a couple of the node's
//! threads or its disk with block requests, whatever it sends.

use std::{
    sync::{Arc, Mutex as StdMutex, mpsc as std_mpsc},
    time::Duration,
};

use covenant_crypto::Suite;
use covenant_net::{
    ChainLink, Ledger, NetError, PeerTarget, kind,
    sync::{MAX_SERVING_PER_PEER, SyncState},
};
use covenant_types::pb::{BlockBatch, BlockRequest};
use prost::Message;
use tokio::sync::{broadcast, watch};

use crate::support::{Allow, connected, identity, start, until};

/// A ledger of three one-byte "blocks" whose reads wait until the test lets them go.
#[derive(Clone)]
struct SlowLedger {
    gate: Arc<StdMutex<std_mpsc::Receiver<()>>>,
    commits: broadcast::Sender<u64>,
    accepted: broadcast::Sender<(Arc<Vec<u8>>, u64)>,
}

impl Ledger for SlowLedger {
    type Commit = u64;
    fn chain_id(&self) -> &str {
        "main"
    }
    fn suite(&self) -> Suite {
        Suite::Intl
    }
    fn tip(&self) -> (u64, Vec<u8>) {
        (3, vec![3; 32])
    }
    fn block_bytes(&self, height: u64) -> Result<Option<Vec<u8>>, String> {
        if height > 3 {
            return Ok(None);
        }
        // Each read waits for one permit from the test.
        let gate = self.gate.lock().map_err(|e| e.to_string())?;
        gate.recv().map_err(|e| e.to_string())?;
        Ok(Some(vec![height as u8]))
    }
    fn commit_synced(&self, _block: &[u8]) -> Result<bool, covenant_net::SyncRejection> {
        Ok(false)
    }
    fn damaged(&self) -> Vec<u64> {
        Vec::new()
    }
    fn repair_block(&self, _height: u64, _block: &[u8]) -> Result<(), covenant_net::SyncRejection> {
        Ok(())
    }
    fn is_validator(&self) -> bool {
        true
    }
    fn validators(&self) -> usize {
        1
    }
    fn state_digests(&self) -> std::collections::BTreeMap<u64, Vec<u8>> {
        std::collections::BTreeMap::new()
    }
    fn rebuild_state(&self) -> Result<bool, String> {
        Ok(false)
    }
    fn subscribe_commits(&self) -> broadcast::Receiver<u64> {
        self.commits.subscribe()
    }
    fn subscribe_accepted(&self) -> broadcast::Receiver<(Arc<Vec<u8>>, u64)> {
        self.accepted.subscribe()
    }
    fn submit_from_peer(&self, _tx: Vec<u8>) -> covenant_net::PeerTx {
        covenant_net::PeerTx::Refused
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_gets_at_most_its_share_of_block_serving() {
    let dir = tempfile::tempdir().unwrap();
    let a_id = identity(dir.path(), "orga", Suite::Intl, None);
    let b_id = identity(dir.path(), "orgb", Suite::Intl, None);
    let (a_cert, b_cert) = (
        a_id.certificate().der().to_vec(),
        b_id.certificate().der().to_vec(),
    );
    let allow = Arc::new(Allow::default());
    allow.allow("main", &a_cert);
    allow.allow("main", &b_cert);
    let a = start(a_id, allow.clone(), true).await;
    let b = start(b_id, allow, true).await;
    let mut a_main = a.join("main");
    b.join("main");
    b.set_peers(
        "main",
        &[PeerTarget {
            certificate: a_cert.clone(),
            address: a.local_addr().unwrap().to_string(),
        }],
    );
    until("a and b connected", || {
        connected(&a, b.id(), "main") && connected(&b, a.id(), "main")
    })
    .await;

    // a serves block requests from a ledger whose reads wait for the test.
    let (permits, gate) = std_mpsc::channel();
    let (commits, _) = broadcast::channel(4);
    let (accepted, _) = broadcast::channel(4);
    let (_stop_tx, stop) = watch::channel(false);
    let link = ChainLink {
        ledger: SlowLedger {
            gate: Arc::new(StdMutex::new(gate)),
            commits,
            accepted,
        },
        net: a.clone(),
        sync: SyncState::new(),
        stop,
    };
    tokio::spawn(async move {
        while let Some(msg) = a_main.recv().await {
            if msg.kind == kind::BLOCKS {
                covenant_net::sync::serve(&link, msg);
            }
        }
    });

    // b asks for blocks five times at once.
    let request = BlockRequest {
        from_height: 1,
        count: 1,
    }
    .encode_to_vec();
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let b = b.clone();
            let a_id = a.id();
            let request = request.clone();
            tokio::spawn(async move {
                b.request(
                    &a_id,
                    "main",
                    kind::BLOCKS,
                    request,
                    Duration::from_secs(20),
                )
                .await
            })
        })
        .collect();
    // Those beyond the per-peer limit are answered "busy" at once, while the first ones are
    // still being served (their reads wait for the test).
    until("the extra requests refused", || {
        calls.iter().filter(|c| c.is_finished()).count() == 5 - MAX_SERVING_PER_PEER
    })
    .await;
    // Let the served ones read their block.
    for _ in 0..MAX_SERVING_PER_PEER {
        permits.send(()).unwrap();
    }
    let mut served = 0;
    let mut refused = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(answer) => {
                let batch = BlockBatch::decode(answer.as_slice()).unwrap();
                assert_eq!(batch.blocks, vec![vec![1u8]]);
                served += 1;
            }
            Err(NetError::Remote(m)) => {
                assert!(m.starts_with("busy"), "{m}");
                refused += 1;
            }
            Err(e) => panic!("unexpected failure: {e}"),
        }
    }
    assert_eq!(
        (served, refused),
        (MAX_SERVING_PER_PEER, 5 - MAX_SERVING_PER_PEER)
    );
    a.shutdown();
    b.shutdown();
}
