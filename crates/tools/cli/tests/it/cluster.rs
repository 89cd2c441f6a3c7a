//! A local consortium made by `covenant up` in a temporary directory: real node processes on
//! loopback, a load generator, and the checks the consortium tests share.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use covenant_sdk::{Client, Profile};
use covenant_types::tx::TxBuilder;
use serde_json::{Value, json};

use covenant_test_utils::{contracts::example_wasm, free_ports};

use crate::{Run, covenant, wait_for};

pub struct Cluster {
    pub root: tempfile::TempDir,
    pub dir: PathBuf,
    pub profile: PathBuf,
    pub apis: Vec<String>,
    pub names: Vec<String>,
    pub rt: tokio::runtime::Runtime,
    /// What `covenant up` said of the platform it started.
    pub platform: Value,
}

impl Cluster {
    /// `covenant up` with these arguments (plus a free port range and --no-contracts).
    pub fn up(consensus: &str, suite: &str, orgs: u32) -> Self {
        Self::up_with(consensus, suite, orgs, &[])
    }

    /// `covenant up` with `extra` arguments too.
    pub fn up_with(consensus: &str, suite: &str, orgs: u32, extra: &[&str]) -> Self {
        let root = tempfile::tempdir().unwrap();
        // One slot of ports for everything the consortium runs: its nodes, its platform, and
        // the nodes the platform starts for networks created on it (the rest of the slot).
        assert!(
            orgs <= 7,
            "a cluster of at most 7 orgs fits one slot of ports"
        );
        let base = free_ports(100);
        let orgs_arg = orgs.to_string();
        let base_arg = base.to_string();
        let platform_arg = (base + 10 * orgs as u16 + 10).to_string();
        let platform_nodes_arg = (base + 10 * orgs as u16 + 20).to_string();
        let mut args = vec![
            "up",
            "--dir",
            "c",
            "--orgs",
            &orgs_arg,
            "--consensus",
            consensus,
            "--suite",
            suite,
            "--base-port",
            &base_arg,
            "--platform-port",
            &platform_arg,
            "--platform-node-port",
            &platform_nodes_arg,
            "--no-contracts",
            "-o",
            "json",
        ];
        args.extend_from_slice(extra);
        let out = covenant(root.path(), &args);
        let cluster_dir = root.path().join("c");
        let out = match out.code {
            0 => out.json(),
            _ => panic!(
                "covenant up failed:\n{}\n{}\nlogs:\n{}",
                out.stdout,
                out.stderr,
                logs(&cluster_dir)
            ),
        };
        assert_eq!(out["consensus"], consensus);
        assert_eq!(out["suite"], suite);
        assert!(out["height"].as_u64().unwrap() >= 1, "{out}");
        let nodes = out["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), orgs as usize);
        let platform = out["platform"].clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Cluster {
            dir: cluster_dir,
            profile: PathBuf::from(out["profile"].as_str().unwrap()),
            apis: nodes
                .iter()
                .map(|n| n["api"].as_str().unwrap().to_string())
                .collect(),
            names: nodes
                .iter()
                .map(|n| n["name"].as_str().unwrap().to_string())
                .collect(),
            root,
            rt,
            platform,
        }
    }

    /// Run the CLI against this consortium's profile.
    pub fn cli(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        let profile = self.profile.to_str().unwrap().to_string();
        all.extend(["--profile", &profile]);
        covenant(self.root.path(), &all)
    }

    pub fn deploy_kv(&self) {
        self.deploy("kv");
    }

    /// Deploy example contract `name` (built from `contracts/`).
    pub fn deploy(&self, name: &str) {
        let wasm = example_wasm(name);
        let out = self
            .cli(&[
                "contract",
                "deploy",
                name,
                wasm.to_str().unwrap(),
                "-o",
                "json",
            ])
            .ok()
            .json();
        assert_eq!(out["code"], "OK", "{out}");
    }

    /// A `sys.config update` signed by a majority of the four orgs' admins (org1 sends it,
    /// org2 and org3 endorse); returns the height it was committed at (on the profile's node).
    pub fn config_update(&self, update: Value) -> u64 {
        let out = self
            .cli(&[
                "contract",
                "invoke",
                "sys.config",
                "update",
                "--args",
                &update.to_string(),
                "--endorse-as",
                "org2-admin",
                "--endorse-as",
                "org3-admin",
                "-o",
                "json",
            ])
            .ok()
            .json();
        assert_eq!(out["code"], "OK", "{update}: {out}");
        out["height"].as_u64().unwrap()
    }

    pub fn status(&self) -> Value {
        covenant(
            self.root.path(),
            &["status", "--dir", self.dir.to_str().unwrap(), "-o", "json"],
        )
        .ok()
        .json()
    }

    /// `covenant up` again on the same directory: restarts stopped nodes.
    pub fn resume(&self) -> Value {
        let out = covenant(
            self.root.path(),
            &[
                "up",
                "--dir",
                self.dir.to_str().unwrap(),
                "--no-contracts",
                "-o",
                "json",
            ],
        );
        if out.code != 0 {
            panic!(
                "covenant up (resume) failed:\n{}\n{}\nlogs:\n{}",
                out.stdout,
                out.stderr,
                logs(&self.dir)
            );
        }
        out.json()
    }

    pub fn down(&self) -> Value {
        covenant(
            self.root.path(),
            &["down", "--dir", self.dir.to_str().unwrap(), "-o", "json"],
        )
        .ok()
        .json()
    }

    pub fn node_dir(&self, i: usize) -> PathBuf {
        self.dir.join("nodes").join(&self.names[i])
    }

    pub fn pid(&self, i: usize) -> Option<i32> {
        std::fs::read_to_string(self.node_dir(i).join("node.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// SIGKILL node `i` (no chance to finish anything) and wait until it is gone.
    pub fn kill9(&self, i: usize) {
        let pid = self.pid(i).expect("node pid");
        let p = rustix::process::Pid::from_raw(pid).unwrap();
        rustix::process::kill_process(p, rustix::process::Signal::KILL).unwrap();
        wait_for("the killed node to go", 20, || {
            self.status()["nodes"][i]["running"] == false
        });
    }

    pub fn client(&self, i: usize) -> Client {
        Client::new(&self.apis[i], "main").unwrap()
    }

    /// Put `key` into the kv contract through node `i` as org1's client and wait up to
    /// `timeout_ms` for the commit: the answer's status (`committed` or `pending`).
    pub fn put_waiting(&self, i: usize, key: &str, timeout_ms: u64) -> String {
        self.put(i, key, timeout_ms).status
    }

    /// Put `key` into the kv contract through node `i` as org1's client and wait up to
    /// `timeout_ms` for the commit: the node's answer (with the tx id).
    pub fn put(
        &self,
        i: usize,
        key: &str,
        timeout_ms: u64,
    ) -> covenant_api_types::json::SubmitResponse {
        let profile = Profile::load(&self.profile).unwrap();
        let signer = profile.signer(Some("org1-client")).unwrap();
        let tx = signer
            .sign(TxBuilder::new("main", "kv", "put").args_json(&json!({"key": key, "value": "1"})))
            .unwrap();
        self.rt
            .block_on(
                self.client(i)
                    .submit_and_wait(&tx, Duration::from_millis(timeout_ms)),
            )
            .unwrap()
    }

    /// Height of chain `chain` on node `i`.
    pub fn chain_height(&self, i: usize, chain: &str) -> Option<u64> {
        let c = Client::new(&self.apis[i], chain).unwrap();
        self.rt.block_on(c.info()).ok().map(|i| i.height)
    }

    /// What node `i`'s consensus driver reports (`null` if it does not answer).
    pub fn engine(&self, i: usize) -> Value {
        let c = self.client(i);
        self.rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(3), c.info()).await })
            .ok()
            .and_then(|r| r.ok())
            .map(|i| i.engine)
            .unwrap_or(Value::Null)
    }

    /// Height of node `i`, if it answers.
    pub fn height(&self, i: usize) -> Option<u64> {
        let c = self.client(i);
        self.rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(3), c.info()).await })
            .ok()
            .and_then(|r| r.ok())
            .map(|i| i.height)
    }

    pub fn heights(&self, nodes: &[usize]) -> Vec<Option<u64>> {
        nodes.iter().map(|i| self.height(*i)).collect()
    }

    /// Wait until every node in `nodes` is at `height` or above.
    pub fn wait_height(&self, nodes: &[usize], height: u64, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let h = self.heights(nodes);
            if h.iter().all(|x| x.is_some_and(|x| x >= height)) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "nodes {nodes:?} did not reach height {height} in {secs} s (at {h:?})\nlogs:\n{}",
                    logs(&self.dir)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn block_hash(&self, i: usize, h: u64) -> Option<String> {
        let c = self.client(i);
        self.rt
            .block_on(c.block(&h.to_string(), false))
            .ok()
            .map(|b| b.hash)
    }

    /// Every node in `nodes` reports the same block hash at every height up to the lowest
    /// height among them, and, once they are level, the same tip and state root.
    pub fn assert_same_ledger(&self, nodes: &[usize]) {
        wait_for("the nodes to be level", 60, || {
            let h = self.heights(nodes);
            h.iter().all(|x| x.is_some()) && h.windows(2).all(|w| w[0] == w[1])
        });
        let top = self.height(nodes[0]).unwrap();
        for h in 1..=top {
            let hashes: Vec<Option<String>> =
                nodes.iter().map(|i| self.block_hash(*i, h)).collect();
            assert!(
                hashes[0].is_some() && hashes.windows(2).all(|w| w[0] == w[1]),
                "block {h} differs: {hashes:?}"
            );
        }
        let infos: Vec<(u64, String, String)> = nodes
            .iter()
            .map(|i| {
                let info = self.rt.block_on(self.client(*i).info()).unwrap();
                (info.height, info.last_hash, info.state_root)
            })
            .collect();
        assert!(
            infos.windows(2).all(|w| w[0] == w[1]),
            "tips differ: {infos:?}"
        );
    }

    /// PEM of a file under the consortium directory.
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.join(rel)).unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Never leave node processes behind, whatever the test did.
        covenant(
            self.root.path(),
            &[
                "down",
                "--dir",
                self.dir.to_str().unwrap(),
                "--timeout",
                "5",
            ],
        );
        // A failed test leaves its consortium (logs, ledgers) for a look.
        if std::thread::panicking()
            && let Ok(spare) = tempfile::tempdir()
        {
            let kept = std::mem::replace(&mut self.root, spare).keep();
            eprintln!(
                "the consortium of the failed test is kept in {}",
                kept.display()
            );
        }
    }
}

/// The last lines of every node's log under `dir`.
/// Every node's whole log, one after another (for checks; [`logs`] is for failure messages).
pub fn full_logs(dir: &Path) -> String {
    let Ok(entries) = std::fs::read_dir(dir.join("nodes")) else {
        return String::new();
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| std::fs::read_to_string(e.path().join("node.log")).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The last lines of every node's log, for failure messages.
pub fn logs(dir: &Path) -> String {
    let mut out = String::new();
    let Ok(entries) = std::fs::read_dir(dir.join("nodes")) else {
        return out;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let log = std::fs::read_to_string(e.path().join("node.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(25).collect();
        out.push_str(&format!("--- {}\n", e.file_name().to_string_lossy()));
        for l in tail.into_iter().rev() {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// Clients of every org putting keys into the kv contract, spread over the given nodes,
/// each waiting for its commit. Counts what committed and records each acknowledgement
/// (transaction id, height).
pub struct Load {
    stop: Arc<AtomicBool>,
    pub committed: Arc<AtomicU64>,
    pub failed: Arc<AtomicU64>,
    acked: Arc<Mutex<Vec<(String, u64)>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    pub fn start(cluster: &Cluster, endpoints: Vec<String>, threads: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let committed = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let profile = Profile::load(&cluster.profile).unwrap();
        let orgs: Vec<String> = profile
            .identities
            .keys()
            .filter(|k| k.ends_with("-client"))
            .cloned()
            .collect();
        let handles = (0..threads)
            .map(|t| {
                let (stop, committed, failed, acked) = (
                    stop.clone(),
                    committed.clone(),
                    failed.clone(),
                    acked.clone(),
                );
                let signer = profile.signer(Some(&orgs[t % orgs.len()])).unwrap();
                let endpoints = endpoints.clone();
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let endpoint = &endpoints[(n as usize + t) % endpoints.len()];
                        let client = Client::new(endpoint, "main").unwrap();
                        let tx = signer
                            .sign(TxBuilder::new("main", "kv", "put").args_json(
                                &json!({"key": format!("t{t}-{n}"), "value": format!("{n}")}),
                            ))
                            .unwrap();
                        let r = rt.block_on(async {
                            tokio::time::timeout(Duration::from_secs(8), client.submit(&tx, true))
                                .await
                        });
                        match r {
                            Ok(Ok(resp)) if resp.height.is_some() => {
                                committed.fetch_add(1, Ordering::Relaxed);
                                if let Some(h) = resp.height {
                                    acked.lock().unwrap().push((resp.tx_id, h));
                                }
                            }
                            _ => {
                                failed.fetch_add(1, Ordering::Relaxed);
                                std::thread::sleep(Duration::from_millis(100));
                            }
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            committed,
            failed,
            acked,
            threads: handles,
        }
    }

    pub fn committed(&self) -> u64 {
        self.committed.load(Ordering::Relaxed)
    }

    pub fn stop(self) -> (u64, u64) {
        let (committed, failed, _) = self.stop_with_acks();
        (committed, failed)
    }

    /// Stop; what committed, what failed, and every acknowledgement (tx id, height).
    pub fn stop_with_acks(self) -> (u64, u64, Vec<(String, u64)>) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        let acked = std::mem::take(&mut *self.acked.lock().unwrap());
        (
            self.committed.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            acked,
        )
    }
}
