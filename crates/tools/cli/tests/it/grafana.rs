//! The Grafana dashboard of `deploy/grafana/` against a real Prometheus scraping a real node:
//! every panel's query is valid PromQL that Prometheus runs, and every query over what a
//! single node exports (all but the peer-link panels, which need peers) returns data.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::Value;

use crate::{devnode::DevNode, wait_for};

struct Prometheus {
    child: Child,
    url: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn prometheus_binary() -> Option<PathBuf> {
    match std::env::var("COVENANT_TEST_PROMETHEUS") {
        Ok(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            if std::env::var_os("COVENANT_SKIP_PROMETHEUS").is_some() {
                eprintln!(
                    "COVENANT_SKIP_PROMETHEUS is set: the dashboard's queries are not run here"
                );
                return None;
            }
            panic!(
                "this test runs the dashboard's queries on Prometheus: run it through scripts/test (which installs it, see scripts/prometheus), set COVENANT_TEST_PROMETHEUS to a prometheus binary, or COVENANT_SKIP_PROMETHEUS=1 to leave it out"
            );
        }
    }
}

fn query(url: &str, expr: &str) -> Value {
    try_query(url, expr).unwrap_or_else(|| panic!("Prometheus does not answer {expr}"))
}

/// Ask Prometheus; `None` while it does not answer yet.
fn try_query(url: &str, expr: &str) -> Option<Value> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{url}/api/v1/query"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "query={}",
                expr.bytes()
                    .map(|b| if b.is_ascii_alphanumeric() {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    })
                    .collect::<String>()
            ))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .ok()?
            .json::<Value>()
            .await
            .ok()
    })
}

#[test]
fn grafana_dashboard_queries_run_on_prometheus() {
    let Some(bin) = prometheus_binary() else {
        return;
    };
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(
            covenant_test_utils::repo_root().join("deploy/grafana/covenant-nodes.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let node = DevNode::new(&[]);
    // Something to count: a committed transaction.
    node.cli(&["contract", "invoke", "sys.certs", "list"]).ok();

    let dir = tempfile::tempdir().unwrap();
    let target = node.api.trim_start_matches("http://");
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: covenant-nodes\n    static_configs:\n      - targets: [\"{target}\"]\n"
        ),
    )
    .unwrap();
    let port = covenant_test_utils::free_port();
    let child = Command::new(&bin)
        .arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
        .spawn()
        .unwrap();
    let prom = Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    // Enough scrapes for rates over a short window.
    wait_for("Prometheus to scrape the node a few times", 60, || {
        let r =
            std::panic::catch_unwind(|| query(&prom.url, "count_over_time(covenant_height[1m])"));
        r.ok().is_some_and(|v| {
            v["data"]["result"][0]["value"][1]
                .as_str()
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n >= 5)
        })
    });

    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 10, "a dashboard of {} panels", panels.len());
    let mut checked = 0;
    for panel in panels {
        let title = panel["title"].as_str().unwrap();
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            assert!(
                expr.contains("$instance"),
                "{title}: every query follows the node picker: {expr}"
            );
            // What Grafana substitutes before it asks.
            let run = expr
                .replace("$__rate_interval", "10s")
                .replace("$instance", ".*");
            let answer = query(&prom.url, &run);
            assert_eq!(answer["status"], "success", "{title}: {run}: {answer}");
            let series = answer["data"]["result"].as_array().unwrap();
            if !run.contains("covenant_net_") {
                assert!(
                    !series.is_empty(),
                    "{title}: {run} returns nothing: {answer}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, panels.len());
    // And the node picker's own query.
    let picker = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "instance")
        .unwrap();
    assert_eq!(
        picker["definition"],
        "label_values(covenant_height, instance)"
    );
    let up = query(&prom.url, "covenant_height");
    assert_eq!(up["data"]["result"][0]["metric"]["instance"], target);
    // A query that is not PromQL is refused: the check above can fail.
    assert_eq!(query(&prom.url, "rate(covenant_height[")["status"], "error");
}
