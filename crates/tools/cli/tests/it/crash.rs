//! kill -9 the node repeatedly under load: every transaction the API reported committed is
//! there after each restart, and the state equals a rebuild from the block files.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, Ordering},
};

use covenant_sdk::{Client, Profile};
use covenant_types::tx::TxBuilder;
use serde_json::json;

use crate::devnode::DevNode;

struct Committed {
    tx_id: String,
    key: String,
    value: String,
}

/// Submit-and-wait from `workers` threads until `stop`; record what the API said committed.
fn load(
    node: &DevNode,
    round: usize,
    workers: usize,
    stop: Arc<AtomicBool>,
    out: Arc<Mutex<Vec<Committed>>>,
) -> Vec<std::thread::JoinHandle<()>> {
    let profile = Profile::load(&node.path().join("dev/profile.json")).unwrap();
    (0..workers)
        .map(|w| {
            let signer = profile.signer(Some("client")).unwrap();
            let client = Client::new(&node.api, "main").unwrap();
            let stop = stop.clone();
            let out = out.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let key = format!("r{round}-w{w}-{n}");
                    let value = format!("{round}:{w}:{n}");
                    let tx = signer
                        .sign(
                            TxBuilder::new("main", "kv", "put")
                                .args_json(&json!({"key": key, "value": value})),
                        )
                        .unwrap();
                    match rt.block_on(client.submit(&tx, true)) {
                        Ok(r) if r.status == "committed" => {
                            assert_eq!(r.result.as_ref().unwrap().code, "OK");
                            out.lock().unwrap().push(Committed {
                                tx_id: r.tx_id,
                                key,
                                value,
                            });
                        }
                        Ok(_) => {}
                        // The node died under us.
                        Err(_) => break,
                    }
                }
            })
        })
        .collect()
}

#[test]
fn kill_9_under_load_loses_nothing_committed() {
    let mut node = DevNode::new(&["--suite", "sm"]);
    node.deploy("kv", "kv", &[]);
    let committed = Arc::new(Mutex::new(Vec::new()));
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for round in 0..5 {
        let stop = Arc::new(AtomicBool::new(false));
        let workers = load(&node, round, 4, stop.clone(), committed.clone());
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Killed once a random number of further transactions committed: somewhere inside
        // the writes of the blocks that follow.
        let target = committed.lock().unwrap().len() + 5 + (seed % 60) as usize;
        crate::wait_for("transactions to commit under load", 60, || {
            committed.lock().unwrap().len() >= target
        });
        node.kill9();
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().unwrap();
        }
        node.start(&[])
            .unwrap_or_else(|e| panic!("round {round}: restart failed: {e}"));
        // The start-up check of the recent blocks found none damaged.
        assert!(
            !node.log().contains("a stored block failed its check"),
            "round {round}: the crash damaged a block\n{}",
            node.log()
        );
        let all = committed.lock().unwrap();
        assert!(
            !all.is_empty(),
            "round {round}: nothing committed, the test checks nothing"
        );
        for c in all.iter() {
            let tx = node.cli(&["tx", "get", &c.tx_id, "-o", "json"]);
            assert_eq!(
                tx.code, 0,
                "round {round}: committed tx {} is missing after kill -9: {}",
                c.tx_id, tx.stdout
            );
            assert_eq!(tx.json()["proof_valid"], true);
        }
        // Spot-check the state of the last ones.
        for c in all.iter().rev().take(5) {
            let got = node
                .cli(&[
                    "contract",
                    "query",
                    "kv",
                    "get",
                    "--args",
                    &json!({"key": c.key}).to_string(),
                    "-o",
                    "json",
                ])
                .ok()
                .json();
            assert_eq!(got["result"], c.value.as_str());
        }
    }
    let n = committed.lock().unwrap().len();
    assert!(n >= 20, "only {n} transactions committed across the rounds");

    // The state after all the crashes equals the one rebuilt from the block files.
    let before = node
        .cli(&[
            "contract",
            "query",
            "kv",
            "list",
            "--args",
            r#"{"limit":1000}"#,
            "-o",
            "json",
        ])
        .ok()
        .json();
    let info = node.cli(&["chain", "info", "-o", "json"]).ok().json();
    node.stop();
    node.cli(&["node", "rebuild-index", "--dir", "dev"]).ok();
    node.start(&["--verify-all"]).unwrap();
    let after = node
        .cli(&[
            "contract",
            "query",
            "kv",
            "list",
            "--args",
            r#"{"limit":1000}"#,
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(after, before);
    assert_eq!(
        node.cli(&["chain", "info", "-o", "json"]).ok().json()["state_root"],
        info["state_root"]
    );
}
