//! The Raft engine on an in-process cluster: nodes call each other's `handle` directly, links can
//! be cut, nodes stopped and restarted from their directories.
//!
//! Timing: heartbeats every 100 ms and election timeouts of 0.7–1.4 s, with generous limits on
//! every wait, so a loaded machine slows the tests down instead of failing them. The tests take
//! turns (one cluster at a time) to keep the load, and so the timing, predictable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use covenant_consensus::raft::{
    RaftApplier, RaftError, RaftId, RaftNode, RaftOptions, RaftTransport,
};
use tempfile::TempDir;

type Node = RaftNode<Net, Recorder>;

/// The limit of any single wait for a condition.
const WAIT: Duration = Duration::from_secs(30);

/// One cluster at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs one scenario on its own runtime, after the scenarios before it.
fn run(scenario: impl Future<Output = ()>) {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(scenario);
}

// ---- the application: records what it applies ----

/// What one node's application has applied.
#[derive(Debug, Default)]
struct AppState {
    /// (index, data) in the order applied.
    applied: Vec<(u64, Vec<u8>)>,
    /// Calls for an entry already applied (same data: absorbed).
    reapplied: u64,
    /// Snapshots installed.
    installs: u64,
    /// Anything that breaks the applier's contract.
    violations: Vec<String>,
}

type Shared<T> = Arc<Mutex<T>>;

#[derive(Clone)]
struct Recorder {
    state: Shared<AppState>,
    /// Every node's state: where an install fetches the entries it lacks (as a chain node
    /// fetches blocks from peers).
    peers: Shared<HashMap<RaftId, Shared<AppState>>>,
}

impl RaftApplier for Recorder {
    fn apply(
        &self,
        index: u64,
        _term: u64,
        data: Vec<u8>,
    ) -> impl Future<Output = Result<(), String>> + Send {
        let mut st = self.state.lock().unwrap();
        if let Some((_, existing)) = st.applied.iter().find(|(i, _)| *i == index) {
            if *existing != data {
                let msg = format!("index {index} applied again with different data");
                st.violations.push(msg);
            }
            st.reapplied += 1;
        } else {
            if st.applied.last().is_some_and(|(last, _)| *last > index) {
                st.violations
                    .push(format!("index {index} applied out of order"));
            }
            st.applied.push((index, data));
        }
        std::future::ready(Ok(()))
    }

    fn snapshot(&self) -> impl Future<Output = Vec<u8>> + Send {
        let st = self.state.lock().unwrap();
        let last = st.applied.last().map_or(0, |(i, _)| *i);
        std::future::ready(last.to_be_bytes().to_vec())
    }

    fn install(&self, snapshot: Vec<u8>) -> impl Future<Output = Result<(), String>> + Send {
        std::future::ready(self.install_now(&snapshot))
    }
}

impl Recorder {
    fn install_now(&self, snapshot: &[u8]) -> Result<(), String> {
        let upto = u64::from_be_bytes(snapshot.try_into().map_err(|_| "bad snapshot")?);
        let source = self
            .peers
            .lock()
            .unwrap()
            .values()
            .filter(|s| !Arc::ptr_eq(s, &self.state))
            .find_map(|s| {
                let s = s.lock().unwrap();
                s.applied
                    .iter()
                    .any(|(i, _)| *i >= upto)
                    .then(|| s.applied.clone())
            })
            .ok_or("no peer has the snapshot's entries")?;
        let mut st = self.state.lock().unwrap();
        let have = st.applied.last().map_or(0, |(i, _)| *i);
        for (i, data) in source {
            if i > have && i <= upto {
                st.applied.push((i, data));
            }
        }
        st.installs += 1;
        Ok(())
    }
}

// ---- the network ----

#[derive(Default)]
struct Inner {
    nodes: Mutex<HashMap<RaftId, Node>>,
    /// Directed links that drop everything.
    cut: Mutex<HashSet<(RaftId, RaftId)>>,
    apps: Shared<HashMap<RaftId, Shared<AppState>>>,
    /// The first requests sent, for the garbage test.
    captured: Mutex<Vec<Vec<u8>>>,
}

#[derive(Clone)]
struct Cluster {
    inner: Arc<Inner>,
    dir: Arc<TempDir>,
    snapshot_after_logs: u64,
}

#[derive(Clone)]
struct Net {
    from: RaftId,
    cluster: Cluster,
}

impl RaftTransport for Net {
    fn call(
        &self,
        to: RaftId,
        request: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, String>> + Send {
        let cluster = self.cluster.clone();
        let from = self.from;
        async move {
            {
                let mut captured = cluster.inner.captured.lock().unwrap();
                if captured.len() < 64 {
                    captured.push(request.clone());
                }
            }
            if cluster.is_cut(from, to) {
                return Err(format!("link {from}->{to} is cut"));
            }
            let node = cluster.node(to).ok_or(format!("node {to} is down"))?;
            // Like a real server: the request runs to completion even if the caller gives up.
            let reply = tokio::spawn(async move { node.handle(&request).await })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            if cluster.is_cut(to, from) {
                return Err(format!("link {to}->{from} is cut"));
            }
            Ok(reply)
        }
    }
}

impl Cluster {
    fn new(snapshot_after_logs: u64) -> Self {
        Cluster {
            inner: Arc::default(),
            dir: Arc::new(tempfile::tempdir().unwrap()),
            snapshot_after_logs,
        }
    }

    fn options(&self, id: RaftId) -> RaftOptions {
        RaftOptions {
            id,
            dir: self.dir.path().join(format!("node-{id}")),
            heartbeat_ms: 100,
            election_min_ms: 700,
            election_max_ms: 1400,
            snapshot_after_logs: self.snapshot_after_logs,
        }
    }

    /// Starts node `id` (again, if it ran before: same directory, same application state).
    async fn start(&self, id: RaftId, initial: &[RaftId]) -> Node {
        let state = Arc::clone(self.inner.apps.lock().unwrap().entry(id).or_default());
        let recorder = Recorder {
            state,
            peers: Arc::clone(&self.inner.apps),
        };
        let net = Net {
            from: id,
            cluster: self.clone(),
        };
        let members = initial.iter().copied().collect();
        let node = RaftNode::start(self.options(id), members, net, recorder)
            .await
            .unwrap();
        self.inner.nodes.lock().unwrap().insert(id, node.clone());
        node
    }

    async fn start_all(&self, ids: &[RaftId]) {
        for &id in ids {
            self.start(id, ids).await;
        }
    }

    async fn stop(&self, id: RaftId) {
        let node = self.inner.nodes.lock().unwrap().remove(&id);
        if let Some(node) = node {
            node.shutdown().await.unwrap();
        }
    }

    async fn stop_all(&self) {
        let ids: Vec<RaftId> = self.inner.nodes.lock().unwrap().keys().copied().collect();
        for id in ids {
            self.stop(id).await;
        }
    }

    fn node(&self, id: RaftId) -> Option<Node> {
        self.inner.nodes.lock().unwrap().get(&id).cloned()
    }

    fn is_cut(&self, from: RaftId, to: RaftId) -> bool {
        self.inner.cut.lock().unwrap().contains(&(from, to))
    }

    /// Cuts every link between `a` and `b`, both ways.
    fn cut(&self, a: &[RaftId], b: &[RaftId]) {
        let mut cut = self.inner.cut.lock().unwrap();
        for &x in a {
            for &y in b {
                if x != y {
                    cut.insert((x, y));
                    cut.insert((y, x));
                }
            }
        }
    }

    fn heal(&self) {
        self.inner.cut.lock().unwrap().clear();
    }

    fn app(&self, id: RaftId) -> Shared<AppState> {
        Arc::clone(self.inner.apps.lock().unwrap().get(&id).unwrap())
    }

    fn applied(&self, id: RaftId) -> Vec<(u64, Vec<u8>)> {
        self.app(id).lock().unwrap().applied.clone()
    }

    fn data(&self, id: RaftId) -> Vec<Vec<u8>> {
        self.applied(id).into_iter().map(|(_, d)| d).collect()
    }

    fn assert_no_violations(&self) {
        for (id, app) in self.inner.apps.lock().unwrap().iter() {
            let v = &app.lock().unwrap().violations;
            assert!(v.is_empty(), "node {id}: {v:?}");
        }
    }

    /// Waits for a leader among `among` that is ready to build on the latest state.
    async fn leader(&self, among: &[RaftId]) -> Node {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            for &id in among {
                if let Some(node) = self.node(id)
                    && node.is_leader()
                    && node.wait_ready_leader(Duration::from_millis(500)).await
                {
                    return node;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no leader among {among:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Proposes each of `data` on the leader among `among`, following leader changes. A
    /// `NotLeader` answer means the entry was not committed, so proposing it again is safe.
    async fn propose_all(&self, among: &[RaftId], data: &[Vec<u8>]) {
        for d in data {
            loop {
                let leader = self.leader(among).await;
                match tokio::time::timeout(WAIT, leader.propose(d.clone())).await {
                    Ok(Ok(_)) => break,
                    Ok(Err(RaftError::NotLeader { .. })) => continue,
                    Ok(Err(e)) => panic!("propose: {e}"),
                    Err(_) => panic!("propose on node {} timed out", leader.id()),
                }
            }
        }
    }

    /// Waits until the nodes in `ids` have applied the same entries, `count` of them.
    async fn wait_same(&self, ids: &[RaftId], count: usize) -> Vec<(u64, Vec<u8>)> {
        wait_for(
            &format!("nodes {ids:?} to apply the same {count} entries"),
            || {
                let first = self.applied(ids[0]);
                first.len() == count && ids.iter().all(|&id| self.applied(id) == first)
            },
        )
        .await;
        self.applied(ids[0])
    }
}

async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn payloads(tag: &str, range: std::ops::Range<u32>) -> Vec<Vec<u8>> {
    range.map(|i| format!("{tag}-{i}").into_bytes()).collect()
}

/// Entries of 300 kB: a lagging node catches up on them over several replication batches.
fn big_payloads(tag: &str, range: std::ops::Range<u32>) -> Vec<Vec<u8>> {
    payloads(tag, range)
        .into_iter()
        .map(|mut p| {
            p.resize(300_000, b'.');
            p
        })
        .collect()
}

fn ids(set: &[RaftId]) -> BTreeSet<RaftId> {
    set.iter().copied().collect()
}

// ---- the tests ----

#[test]
fn three_nodes_elect_one_leader_and_apply_the_same_sequence() {
    run(async {
        let c = Cluster::new(1000);
        let all = [1, 2, 3];
        c.start_all(&all).await;

        let leader = c.leader(&all).await;
        let batch = payloads("a", 0..50);
        c.propose_all(&all, &batch).await;
        let applied = c.wait_same(&all, 50).await;
        assert_eq!(
            applied.into_iter().map(|(_, d)| d).collect::<Vec<_>>(),
            batch
        );
        let indexes: Vec<u64> = c.applied(1).iter().map(|(i, _)| *i).collect();
        assert!(indexes.windows(2).all(|w| w[0] < w[1]), "{indexes:?}");

        // At most one leader per term.
        let nodes: Vec<Node> = all.iter().map(|&id| c.node(id).unwrap()).collect();
        let leaders: Vec<(u64, RaftId)> = nodes
            .iter()
            .filter(|n| n.is_leader())
            .map(|n| (n.term(), n.id()))
            .collect();
        let terms: HashSet<u64> = leaders.iter().map(|(t, _)| *t).collect();
        assert_eq!(terms.len(), leaders.len(), "{leaders:?}");

        // Followers refuse proposals and name the leader.
        for node in nodes.iter().filter(|n| n.id() != leader.id()) {
            wait_for("followers to know the leader", || {
                node.leader() == Some(leader.id())
            })
            .await;
            match node.propose(b"nope".to_vec()).await {
                Err(e @ RaftError::NotLeader { leader: named }) => {
                    assert_eq!(e.code(), "NOT_LEADER");
                    // Unless leadership moved meanwhile, the named leader is the one we found.
                    assert!(
                        named == Some(leader.id()) || !leader.is_leader(),
                        "{named:?}"
                    );
                }
                other => panic!("a follower's propose gave {other:?}"),
            }
        }
        c.propose_all(&all, &[b"last".to_vec()]).await;
        let leader = c.leader(&all).await;
        let (index, term) = leader.propose(b"one more".to_vec()).await.unwrap();
        assert!(leader.last_applied() >= Some(index));
        assert!(term >= 1 && term <= leader.term());
        c.wait_same(&all, 52).await;
        c.assert_no_violations();
        c.stop_all().await;
    });
}

#[test]
fn a_new_leader_takes_over_when_the_leader_stops() {
    run(async {
        let c = Cluster::new(1000);
        let all = [1, 2, 3];
        c.start_all(&all).await;
        c.propose_all(&all, &payloads("before", 0..10)).await;
        c.wait_same(&all, 10).await;

        let old = c.leader(&all).await;
        let old_id = old.id();
        let old_term = old.term();
        c.stop(old_id).await;
        let rest: Vec<RaftId> = all.iter().copied().filter(|&id| id != old_id).collect();

        let new = c.leader(&rest).await;
        assert_ne!(new.id(), old_id);
        assert!(new.term() > old_term);
        c.propose_all(&rest, &payloads("after", 0..10)).await;
        let applied = c.wait_same(&rest, 20).await;

        let mut expected = payloads("before", 0..10);
        expected.extend(payloads("after", 0..10));
        assert_eq!(
            applied.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>(),
            expected
        );
        // The stopped leader's entries are a prefix of the survivors'.
        let stopped = c.applied(old_id);
        assert_eq!(stopped[..], applied[..stopped.len()]);
        c.assert_no_violations();
        c.stop_all().await;
    });
}

#[test]
fn a_restarted_follower_resumes_from_disk_and_catches_up() {
    run(async {
        let c = Cluster::new(1000);
        let all = [1, 2, 3];
        c.start_all(&all).await;
        c.propose_all(&all, &payloads("first", 0..10)).await;
        c.wait_same(&all, 10).await;

        let leader = c.leader(&all).await;
        let follower = all.into_iter().find(|&id| id != leader.id()).unwrap();
        let node = c.node(follower).unwrap();
        let term = node.term();
        let applied = node.last_applied().unwrap();
        c.stop(follower).await;

        c.propose_all(&all, &big_payloads("second", 0..10)).await;
        let others: Vec<RaftId> = all.into_iter().filter(|&id| id != follower).collect();
        c.wait_same(&others, 20).await;

        // Same directory, same application state; the initial members are ignored now.
        let node = c.start(follower, &all).await;
        wait_for("the restarted node to load its state", || {
            node.last_applied() >= Some(applied)
        })
        .await;
        assert!(
            node.term() >= term,
            "term went back: {} < {term}",
            node.term()
        );
        c.wait_same(&all, 20).await;
        // Nothing it had applied was offered again.
        assert_eq!(c.app(follower).lock().unwrap().reapplied, 0);
        let mut expected = payloads("first", 0..10);
        expected.extend(big_payloads("second", 0..10));
        assert_eq!(c.data(follower), expected);

        c.propose_all(&all, &payloads("third", 0..5)).await;
        c.wait_same(&all, 25).await;
        c.assert_no_violations();
        c.stop_all().await;
    });
}

#[test]
fn a_majority_commits_and_a_minority_does_not() {
    run(async {
        let c = Cluster::new(1000);
        let all = [1, 2, 3];
        c.start_all(&all).await;
        c.propose_all(&all, &payloads("a", 0..5)).await;
        c.wait_same(&all, 5).await;

        // One follower cut off: the other two still commit.
        let leader = c.leader(&all).await;
        let lone = all.into_iter().find(|&id| id != leader.id()).unwrap();
        let majority: Vec<RaftId> = all.into_iter().filter(|&id| id != lone).collect();
        c.cut(&[lone], &majority);
        c.propose_all(&majority, &payloads("b", 0..5)).await;
        c.wait_same(&majority, 10).await;
        assert_eq!(c.applied(lone).len(), 5);
        c.heal();
        c.wait_same(&all, 10).await;

        // Every node alone: nothing commits.
        let leader = c.leader(&all).await;
        c.cut(&all, &all);
        let before: Vec<usize> = all.iter().map(|&id| c.applied(id).len()).collect();
        let attempt =
            tokio::time::timeout(Duration::from_secs(3), leader.propose(b"alone".to_vec())).await;
        assert!(
            !matches!(attempt, Ok(Ok(_))),
            "a lone leader committed: {attempt:?}"
        );
        let after: Vec<usize> = all.iter().map(|&id| c.applied(id).len()).collect();
        assert_eq!(before, after);

        // Healed: progress resumes. The abandoned proposal may or may not commit in the end.
        c.heal();
        c.propose_all(&all, &payloads("c", 0..5)).await;
        wait_for("all nodes to agree after healing", || {
            let first = c.applied(1);
            first.len() >= 15 && all.iter().all(|&id| c.applied(id) == first)
        })
        .await;
        let data = c.data(1);
        let mut expected = payloads("a", 0..5);
        expected.extend(payloads("b", 0..5));
        expected.extend(payloads("c", 0..5));
        let without_alone: Vec<Vec<u8>> = data
            .iter()
            .filter(|d| d.as_slice() != b"alone")
            .cloned()
            .collect();
        assert_eq!(without_alone, expected);
        assert!(data.len() <= 16);
        c.assert_no_violations();
        c.stop_all().await;
    });
}

#[test]
fn a_fourth_node_joins_as_voter_and_a_member_leaves() {
    run(async {
        let c = Cluster::new(1000);
        let first = [1, 2, 3];
        c.start_all(&first).await;
        c.propose_all(&first, &payloads("a", 0..10)).await;
        c.wait_same(&first, 10).await;

        // A fresh node that is not an initial member waits to be added.
        let joiner = c.start(4, &[]).await;
        assert!(!joiner.is_leader());
        assert!(joiner.voters().is_empty());

        let all = [1, 2, 3, 4];
        set_voters(&c, &first, ids(&all)).await;
        c.wait_same(&all, 10).await;
        wait_for("node 4 to see itself as a voter", || {
            joiner.voters() == ids(&all)
        })
        .await;
        c.propose_all(&all, &payloads("b", 0..5)).await;
        c.wait_same(&all, 15).await;

        // Remove a follower that is not the joiner.
        let leader = c.leader(&all).await;
        let gone = first.into_iter().find(|&id| id != leader.id()).unwrap();
        let rest: Vec<RaftId> = all.into_iter().filter(|&id| id != gone).collect();
        set_voters(&c, &all, ids(&rest)).await;
        c.stop(gone).await;
        for &id in &rest {
            let node = c.node(id).unwrap();
            wait_for("the removal to reach every member", || {
                node.voters() == ids(&rest)
            })
            .await;
        }
        c.propose_all(&rest, &payloads("c", 0..5)).await;
        c.wait_same(&rest, 20).await;
        c.assert_no_violations();
        c.stop_all().await;
    });
}

/// `set_voters` on the current leader, following leader changes.
async fn set_voters(c: &Cluster, among: &[RaftId], voters: BTreeSet<RaftId>) {
    loop {
        let leader = c.leader(among).await;
        match tokio::time::timeout(WAIT, leader.set_voters(voters.clone())).await {
            Ok(Ok(())) => return,
            Ok(Err(RaftError::NotLeader { .. })) => continue,
            Ok(Err(e)) => panic!("set_voters: {e}"),
            Err(_) => panic!("set_voters timed out"),
        }
    }
}

#[test]
fn a_joining_node_installs_a_snapshot_then_follows_the_log() {
    run(async {
        let c = Cluster::new(20);
        let first = [1, 2, 3];
        c.start_all(&first).await;
        c.propose_all(&first, &payloads("a", 0..100)).await;
        c.wait_same(&first, 100).await;
        for &id in &first {
            let node = c.node(id).unwrap();
            wait_for("the log to be purged", || node.purged() >= Some(50)).await;
        }

        let joiner = c.start(4, &[]).await;
        let all = [1, 2, 3, 4];
        set_voters(&c, &first, ids(&all)).await;
        c.propose_all(&all, &payloads("b", 0..10)).await;
        c.wait_same(&all, 110).await;
        assert!(c.app(4).lock().unwrap().installs >= 1);
        assert!(joiner.last_applied() >= c.node(1).unwrap().purged());

        // The joiner restarts from its own snapshot and log.
        c.stop(4).await;
        c.propose_all(&first, &payloads("c", 0..5)).await;
        c.start(4, &[]).await;
        c.wait_same(&all, 115).await;
        c.assert_no_violations();
        c.stop_all().await;
    });
}

#[test]
fn garbage_requests_are_refused_without_harm() {
    run(async {
        let c = Cluster::new(1000);
        let all = [1, 2, 3];
        c.start_all(&all).await;
        c.propose_all(&all, &payloads("a", 0..5)).await;
        c.wait_same(&all, 5).await;
        let node = c.node(1).unwrap();

        for junk in [
            &[][..],
            &[0xff; 17][..],
            &[1][..],
            &[1, 0xff, 0xff, 0xff][..],
            &[0; 64][..],
        ] {
            let e = node.handle(junk).await.unwrap_err();
            assert_eq!(e.code(), "RAFT_DECODE", "{e}");
        }

        let captured = c.inner.captured.lock().unwrap().clone();
        assert!(!captured.is_empty());
        for request in &captured {
            for len in 0..request.len() {
                let e = node.handle(&request[..len]).await.unwrap_err();
                assert_eq!(e.code(), "RAFT_DECODE", "prefix of {len} bytes: {e}");
            }
            let mut longer = request.clone();
            longer.push(0);
            assert!(node.handle(&longer).await.is_err());
        }

        // Requests with a flipped byte may well decode (a different term, index or payload), and a
        // Raft node trusts its peers, so they go to a bystander outside the cluster: any answer but
        // a panic or a halted node.
        let bystander = c.start(9, &[]).await;
        c.cut(&[9], &all);
        for request in &captured {
            for i in 0..request.len() {
                let mut bent = request.clone();
                bent[i] ^= 0x5a;
                let _ = bystander.handle(&bent).await;
            }
        }
        assert!(bystander.is_running());
        c.stop(9).await;

        // Still working.
        c.propose_all(&all, &payloads("b", 0..5)).await;
        c.wait_same(&all, 10).await;
        c.assert_no_violations();
        c.stop_all().await;
    });
}

/// Compiles only if the node's futures can move between threads (e.g. into `tokio::spawn`).
#[allow(dead_code)]
fn the_node_futures_are_send(node: Node, net: Net, recorder: Recorder) {
    fn send<T: Send>(_: T) {}
    send(node.handle(&[]));
    send(node.propose(Vec::new()));
    send(node.set_voters(BTreeSet::new()));
    send(node.wait_ready_leader(Duration::ZERO));
    send(Node::start(
        RaftOptions::new(1, "unused"),
        BTreeSet::new(),
        net,
        recorder,
    ));
    send(node.shutdown());
}
