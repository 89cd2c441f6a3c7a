//! Monitoring end to end: a real `covenant platform serve`, the node process it deploys, a
//! real webhook receiver and a real SMTP sink (aiosmtpd).
//!
//! The node is sampled (memory, disk, uptime, height); a `node_down` rule notifies both
//! channels when the node is killed with SIGKILL, again while it stays down, and once more
//! when it is started again through the platform and answers.

use std::path::PathBuf;

use covenant_test_utils::{mail::SmtpSink, webhook::Receiver};
use serde_json::{Value, json};

use crate::{
    platform::{Platform, deploy_solo_chain, register},
    wait_for,
};

fn node_dir(platform_dir: &std::path::Path) -> PathBuf {
    let nets = platform_dir.join("platform/networks");
    std::fs::read_dir(&nets)
        .unwrap()
        .flatten()
        .flat_map(|net| std::fs::read_dir(net.path()).unwrap().flatten())
        .map(|n| n.path())
        .find(|p| p.join("node.toml").exists())
        .unwrap()
}

#[test]
fn a_killed_node_fires_an_alert_by_webhook_and_email_that_resolves_when_it_returns() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let receiver = Receiver::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let platform = Platform::start(dir, None, covenant_test_utils::free_ports(30));
    let a = register(&rt, &platform.url, "bank-a", false);
    deploy_solo_chain(&rt, &a, "ledger");
    let chain = a.get(&rt, "/api/v1/chains/ledger");
    let node_id = chain["nodes"][0]["node_id"].as_str().unwrap().to_string();

    // The node is sampled: its own numbers from its /metrics.
    let mut samples = Value::Null;
    wait_for("a sample of the node", 60, || {
        samples = a.get(&rt, &format!("/api/v1/nodes/{node_id}/metrics"));
        samples["samples"].as_array().is_some_and(|s| {
            s.iter()
                .any(|x| x["memory_bytes"].as_i64().unwrap_or(0) > 0)
        })
    });
    let s = samples["samples"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|x| x["memory_bytes"].as_i64().unwrap_or(0) > 0)
        .unwrap();
    assert_eq!(s["up"], true, "{s}");
    assert!(s["disk_used_percent"].as_f64().unwrap() > 0.0, "{s}");
    assert!(s["uptime_s"].as_i64().unwrap() >= 0, "{s}");

    let hook = a.post(
        &rt,
        "/api/v1/alert-channels",
        json!({"name": "ops hook", "kind": "webhook", "url": receiver.url}),
    );
    let mail = a.post(
        &rt,
        "/api/v1/alert-channels",
        json!({"name": "ops mail", "kind": "email", "to": ["ops@bank-a.example"],
               "smtp": {"host": "127.0.0.1", "port": sink.port, "from": "alerts@bank-a.example"}}),
    );
    a.post(
        &rt,
        "/api/v1/alert-rules",
        json!({"name": "node down", "metric": "node_down", "for_s": 3, "repeat_s": 5,
               "severity": "critical", "channels": [hook["id"], mail["id"]]}),
    );
    assert!(
        receiver.requests().is_empty(),
        "nothing fires while the node is up"
    );

    // Killed.
    let pid = covenant_deploy::process::running_pid(&node_dir(dir)).unwrap();
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    wait_for("the alert to fire on the webhook and by e-mail", 90, || {
        receiver
            .requests()
            .iter()
            .any(|r| r.headers["x-covenant-event"] == "firing")
            && sink.messages().iter().any(|m| {
                m.header("subject")
                    .is_some_and(|s| s.contains("FIRING") && s.contains("node down"))
            })
    });
    let firing = a.get(&rt, "/api/v1/alerts?state=firing");
    assert_eq!(firing["items"][0]["subject"], node_id.as_str(), "{firing}");
    assert_eq!(firing["items"][0]["severity"], "critical");
    // It repeats while the node stays down.
    wait_for("a repeated notification", 60, || {
        receiver
            .requests()
            .iter()
            .any(|r| r.headers["x-covenant-event"] == "repeat")
    });

    // Started again through the platform: the alert resolves on both channels.
    a.post(&rt, &format!("/api/v1/nodes/{node_id}/start"), json!({}));
    wait_for(
        "the alert to resolve on the webhook and by e-mail",
        90,
        || {
            receiver
                .requests()
                .iter()
                .any(|r| r.headers["x-covenant-event"] == "resolved")
                && sink
                    .messages()
                    .iter()
                    .any(|m| m.header("subject").is_some_and(|s| s.contains("RESOLVED")))
        },
    );
    let resolved = a.get(&rt, "/api/v1/alerts?state=resolved");
    assert_eq!(resolved["items"].as_array().unwrap().len(), 1, "{resolved}");
    assert_eq!(
        a.get(&rt, "/api/v1/alerts?state=firing")["items"],
        json!([])
    );
    let body = receiver
        .requests()
        .iter()
        .find(|r| r.headers["x-covenant-event"] == "resolved")
        .unwrap()
        .json();
    assert_eq!(body["alert"]["subject"], node_id.as_str());
    assert_eq!(body["rule"]["metric"], "node_down");
    let node = a.get(&rt, &format!("/api/v1/nodes/{node_id}"));
    assert_eq!(node["status"], "up", "{node}");
    let text = rt.block_on(async {
        reqwest::get(format!("{}/metrics", platform.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert!(
        text.contains("covenant_platform_nodes{status=\"up\"} 1"),
        "{text}"
    );
}
