//! [`RaftNode`]: a running Raft engine and its API.

use std::{
    collections::BTreeSet,
    marker::PhantomData,
    sync::{Arc, Weak},
    time::Duration,
};

use openraft::{
    ChangeMembers, Config, EmptyNode, Raft, RaftMetrics, ServerState, Snapshot, SnapshotPolicy,
    error::{InitializeError, RaftError as OpenRaftError},
};
use redb::Database;

use super::{
    RaftApplier, RaftError, RaftId, RaftOptions, RaftTransport, TypeConfig, db,
    log_store::LogStore,
    network::Network,
    state_machine::StateMachine,
    wire::{self, Payload, Reply, Request},
};

/// How long [`RaftNode::shutdown`] waits for the engine's tasks to release the storage.
const RELEASE_WAIT: Duration = Duration::from_secs(30);

/// A running Raft node: replicates and applies the log, elects leaders, takes proposals.
///
/// Cloning is cheap and every clone drives the same node (e.g. one for the network server, one
/// for the block producer). [`shutdown`](RaftNode::shutdown) stops it for all clones.
pub struct RaftNode<T: RaftTransport, A: RaftApplier> {
    id: RaftId,
    raft: Raft<TypeConfig>,
    /// The storage, to see when the engine's tasks have all released it.
    db: Weak<Database>,
    _parts: PhantomData<fn() -> (T, A)>,
}

impl<T: RaftTransport, A: RaftApplier> Clone for RaftNode<T, A> {
    fn clone(&self) -> Self {
        RaftNode {
            id: self.id,
            raft: self.raft.clone(),
            db: Weak::clone(&self.db),
            _parts: PhantomData,
        }
    }
}

impl<T: RaftTransport, A: RaftApplier> std::fmt::Debug for RaftNode<T, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftNode")
            .field("id", &self.id)
            .field("leader", &self.leader())
            .field("term", &self.term())
            .finish()
    }
}

/// The openraft configuration for `options`.
fn config(options: &RaftOptions) -> Result<Config, RaftError> {
    let snapshot_policy = match options.snapshot_after_logs {
        0 => SnapshotPolicy::Never,
        n => SnapshotPolicy::LogsSinceLast(n),
    };
    Config {
        cluster_name: "covenant".to_string(),
        heartbeat_interval: options.heartbeat_ms,
        election_timeout_min: options.election_min_ms,
        election_timeout_max: options.election_max_ms,
        snapshot_policy,
        max_in_snapshot_log_to_keep: options.snapshot_after_logs,
        ..Config::default()
    }
    .validate()
    .map_err(|e| RaftError::Config(e.to_string()))
}

/// A leader that has applied an entry of its own term has applied everything before it.
fn ready_leader(id: RaftId, m: &RaftMetrics<RaftId, EmptyNode>) -> bool {
    m.state == ServerState::Leader
        && m.current_leader == Some(id)
        && m.last_applied.map(|l| l.leader_id.term) == Some(m.current_term)
}

impl<T: RaftTransport, A: RaftApplier> RaftNode<T, A> {
    /// Open storage in `options.dir` and start.
    ///
    /// `initial_members` (ids) is used only when the storage is fresh (first start of a new
    /// chain): every initial member calls it with the same set; a restarted node resumes from
    /// disk. A node that is not among `initial_members` (or passes an empty set) starts as a
    /// blank node and waits for a leader to add it ([`set_voters`](RaftNode::set_voters)).
    pub async fn start(
        options: RaftOptions,
        initial_members: BTreeSet<RaftId>,
        transport: T,
        applier: A,
    ) -> Result<Self, RaftError> {
        let config = config(&options)?;
        let dir = options.dir.clone();
        let db = tokio::task::spawn_blocking(move || db::open(&dir))
            .await
            .map_err(|e| RaftError::Storage(e.to_string()))?
            .map_err(RaftError::Storage)?;
        let weak = Arc::downgrade(&db);
        let log_store = LogStore::new(Arc::clone(&db));
        let state_machine = StateMachine::open(db, applier).map_err(RaftError::Storage)?;
        let backoff = Duration::from_millis(options.heartbeat_ms.saturating_mul(2));
        let network = Network::new(Arc::new(transport), backoff);
        let raft = Raft::new(
            options.id,
            Arc::new(config),
            network,
            log_store,
            state_machine,
        )
        .await?;
        let node = RaftNode {
            id: options.id,
            raft,
            db: weak,
            _parts: PhantomData,
        };
        // Fresh storage has neither a vote nor a log entry.
        if initial_members.contains(&options.id) && !node.raft.is_initialized().await? {
            match node.raft.initialize(initial_members).await {
                Ok(()) => tracing::info!(id = node.id, "initialized a new raft cluster"),
                // Not fresh: restarted, or already reached by a peer that initialized first.
                Err(OpenRaftError::APIError(InitializeError::NotAllowed(_))) => {}
                Err(e) => {
                    let error = RaftError::from(e);
                    // The error to report is the initialization failure; stopping is best effort.
                    let _ = node.raft.shutdown().await;
                    return Err(error);
                }
            }
        }
        Ok(node)
    }

    /// Handle an RPC request that arrived from the network; returns reply bytes.
    ///
    /// Malformed input gives [`RaftError::Decode`]; a stopped node gives [`RaftError::Fatal`].
    /// The transport should report any error to the caller as a failed call.
    pub async fn handle(&self, request: &[u8]) -> Result<Vec<u8>, RaftError> {
        let request: Request = wire::decode(request).map_err(RaftError::Decode)?;
        wire::check_request(&request).map_err(RaftError::Decode)?;
        let reply = match request {
            Request::Append(rpc) => Reply::Append(self.raft.append_entries(rpc).await?),
            Request::Vote(rpc) => Reply::Vote(self.raft.vote(rpc).await?),
            Request::Snapshot { vote, meta, data } => {
                let snapshot = Snapshot {
                    meta,
                    snapshot: Box::new(data),
                };
                Reply::Snapshot(self.raft.install_full_snapshot(vote, snapshot).await?)
            }
        };
        wire::encode(&reply).map_err(RaftError::Fatal)
    }

    /// This node's id.
    pub fn id(&self) -> RaftId {
        self.id
    }

    /// Whether this node is the leader now.
    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().state == ServerState::Leader
    }

    /// The leader this node knows of, if any.
    pub fn leader(&self) -> Option<RaftId> {
        self.raft.metrics().borrow().current_leader
    }

    /// The current term.
    pub fn term(&self) -> u64 {
        self.raft.metrics().borrow().current_term
    }

    /// The index of the last entry applied on this node, if any.
    pub fn last_applied(&self) -> Option<u64> {
        self.raft.metrics().borrow().last_applied.map(|l| l.index)
    }

    /// The index of the last entry removed from this node's log because a snapshot covers it,
    /// if any. A node that needs entries up to there receives the snapshot instead.
    pub fn purged(&self) -> Option<u64> {
        self.raft.metrics().borrow().purged.map(|l| l.index)
    }

    /// The voting members as this node knows them (during a membership change, the voters of
    /// both the old and the new configuration).
    pub fn voters(&self) -> BTreeSet<RaftId> {
        self.raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .collect()
    }

    /// Whether the node is still running: false after shutdown, or once a storage or applier
    /// failure has halted it.
    pub fn is_running(&self) -> bool {
        self.raft.metrics().borrow().running_state.is_ok()
    }

    /// Why the engine stopped by itself (a storage failure, a panic of one of its tasks), if
    /// it did: its fatal error as a [`RaftError`].
    pub fn stopped_because(&self) -> Option<RaftError> {
        self.raft
            .metrics()
            .borrow()
            .running_state
            .clone()
            .err()
            .map(RaftError::from)
    }

    /// Leader only: append `data` and return (index, term) once it is committed AND applied on
    /// this node.
    ///
    /// On a follower returns [`RaftError::NotLeader`]. If this node loses leadership before the
    /// entry commits, the entry may still be committed by the next leader (then this call
    /// succeeds once it is applied here) or be discarded (then it returns
    /// [`RaftError::NotLeader`]). A leader cut off from a majority waits until the partition
    /// heals: bound the call with a timeout where that matters.
    pub async fn propose(&self, data: Vec<u8>) -> Result<(u64, u64), RaftError> {
        let response = self.raft.client_write(Payload(data)).await?;
        let index = response.log_id.index;
        // The entry is applied; let the metrics (`last_applied`) catch up with it too.
        self.wait_metrics(|m| m.last_applied.is_some_and(|l| l.index >= index))
            .await;
        Ok((index, response.log_id.leader_id.term))
    }

    /// Leader only: make `voters` the voting membership (adding new ids as learners first and
    /// waiting for them to catch up, then changing membership; removing ids that are gone).
    ///
    /// Waits as long as the new members take to catch up; dropping the call part way is safe
    /// (members added so far stay learners, and a later call carries on).
    pub async fn set_voters(&self, voters: BTreeSet<RaftId>) -> Result<(), RaftError> {
        if voters.is_empty() {
            return Err(RaftError::Membership("no voter left".to_string()));
        }
        self.check_leader()?;
        let membership = self.raft.metrics().borrow().membership_config.clone();
        let known: BTreeSet<RaftId> = membership.nodes().map(|(id, _)| *id).collect();
        let current: BTreeSet<RaftId> = membership.voter_ids().collect();
        for &id in voters.difference(&known) {
            tracing::info!(id, "adding a raft learner");
            self.raft.add_learner(id, EmptyNode {}, false).await?;
        }
        for &id in voters.difference(&current) {
            self.wait_caught_up(id).await?;
        }
        if voters != current {
            tracing::info!(?voters, "changing the raft voters");
            self.raft.change_membership(voters.clone(), false).await?;
        }
        if !self.is_leader() {
            // This node was removed and stepped down; the voters are set.
            return Ok(());
        }
        let stale: BTreeSet<RaftId> = {
            let m = self.raft.metrics();
            let m = m.borrow();
            m.membership_config
                .membership()
                .learner_ids()
                .filter(|id| !voters.contains(id))
                .collect()
        };
        if !stale.is_empty() {
            self.raft
                .change_membership(ChangeMembers::RemoveNodes(stale), false)
                .await?;
        }
        Ok(())
    }

    /// Wait until this node is leader and has applied every entry of earlier terms (so it can
    /// build on the latest state), or the timeout passes. Returns whether it is ready.
    pub async fn wait_ready_leader(&self, timeout: Duration) -> bool {
        let id = self.id;
        let wait = self.wait_metrics(|m| ready_leader(id, m));
        tokio::time::timeout(timeout, wait).await.unwrap_or(false)
    }

    /// Stop the node, for every clone, and wait until its storage is closed (so the same
    /// directory can be opened again).
    pub async fn shutdown(self) -> Result<(), RaftError> {
        self.raft
            .shutdown()
            .await
            .map_err(|e| RaftError::Fatal(e.to_string()))?;
        let deadline = tokio::time::Instant::now() + RELEASE_WAIT;
        while self.db.strong_count() > 0 {
            if tokio::time::Instant::now() > deadline {
                return Err(RaftError::Storage(
                    "the raft storage is still in use after shutdown".to_string(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// Waits until the metrics satisfy `condition`; false if the node stopped first.
    async fn wait_metrics(
        &self,
        mut condition: impl FnMut(&RaftMetrics<RaftId, EmptyNode>) -> bool,
    ) -> bool {
        let mut rx = self.raft.metrics();
        loop {
            if condition(&rx.borrow_and_update()) {
                return true;
            }
            if rx.changed().await.is_err() {
                return false;
            }
        }
    }

    fn check_leader(&self) -> Result<(), RaftError> {
        let m = self.raft.metrics();
        let m = m.borrow();
        if m.state == ServerState::Leader {
            Ok(())
        } else {
            Err(RaftError::NotLeader {
                leader: m.current_leader,
            })
        }
    }

    /// Waits until the replication to learner `id` has reached this leader's last log entry
    /// as of the call.
    async fn wait_caught_up(&self, id: RaftId) -> Result<(), RaftError> {
        let mut rx = self.raft.metrics();
        let target = rx.borrow().last_log_index;
        loop {
            {
                let m = rx.borrow_and_update();
                if let Err(e) = &m.running_state {
                    return Err(RaftError::Fatal(e.to_string()));
                }
                if m.state != ServerState::Leader {
                    return Err(RaftError::NotLeader {
                        leader: m.current_leader,
                    });
                }
                let matched = m
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(&id))
                    .and_then(|l| l.map(|l| l.index));
                if matched.is_some() && matched >= target {
                    return Ok(());
                }
            }
            rx.changed()
                .await
                .map_err(|_| RaftError::Fatal("the raft node stopped".to_string()))?;
        }
    }
}
