//! The console's explorer on a real consortium (`covenant up`: node processes, the platform
//! beside them): sign in, the chain's figures and latest blocks, search by transaction id to
//! the transaction's page with its proof checked, its block with the commit certificate, the
//! contract page, and refusals of bad input as pages.

use std::collections::BTreeMap;

use serde_json::json;

use crate::cluster::Cluster;

struct Web {
    base: String,
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: u16,
    location: String,
    body: String,
}

impl Web {
    async fn go(&mut self, method: reqwest::Method, path: &str, form: Option<String>) -> Page {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        let c: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        rb = rb.header("cookie", c.join("; "));
        if let Some(f) = form {
            rb = rb
                .header("content-type", "application/x-www-form-urlencoded")
                .body(f);
        }
        let r = rb.send().await.unwrap();
        for c in r.headers().get_all("set-cookie") {
            let kv = c.to_str().unwrap().split(';').next().unwrap();
            let (k, v) = kv.split_once('=').unwrap();
            self.cookies.insert(k.into(), v.into());
        }
        let location = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string())
            .unwrap_or_default();
        Page {
            status: r.status().as_u16(),
            location,
            body: r.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.go(reqwest::Method::GET, path, None).await
    }

    /// A download a page links to, with this session's cookies: status and bytes.
    async fn download(&self, path: &str) -> (u16, Vec<u8>) {
        let c: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", c.join("; "))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
    }
}

fn between(text: &str, start: &str, end: &str) -> String {
    text.split(start)
        .nth(1)
        .and_then(|s| s.split(end).next())
        .unwrap_or_default()
        .to_string()
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn the_console_explores_a_running_chain() {
    let c = Cluster::up("tbft", "sm", 2);
    c.deploy_kv();
    let put = c
        .cli(&[
            "contract",
            "invoke",
            "kv",
            "put",
            "--args",
            &json!({"key": "invoice-7", "value": "paid"}).to_string(),
            "-o",
            "json",
        ])
        .ok()
        .json();
    let tx_id = put["tx_id"].as_str().unwrap().to_string();
    let url = c.platform["url"].as_str().unwrap().to_string();
    let login = c.platform["login"].as_str().unwrap().to_string();
    let file = c.platform["password_file"].as_str().unwrap().to_string();
    let password = std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .find(|l| l.starts_with(&format!("{login} ")))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap()
        .to_string();
    c.rt.block_on(async {
        let mut web = Web {
            base: url,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        };
        let form = web.get("/login?next=%2Fexplorer").await;
        let token = between(&form.body, "name=\"login_token\" value=\"", "\"");
        let r = web
            .go(
                reqwest::Method::POST,
                "/login",
                Some(format!(
                    "login_token={}&username={}&password={}&next=%2Fexplorer",
                    enc(&token),
                    enc(&login),
                    enc(&password)
                )),
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        // One chain: the explorer opens it.
        let r = web.get("/explorer").await;
        assert_eq!(r.location, "/explorer/main");
        let page = web.get("/explorer/main").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(
            page.body.contains("Transactions per block"),
            "{}",
            page.body
        );
        assert!(page.body.contains("<svg class=\"chart\""));
        assert!(
            page.body.contains(&format!("/explorer/main/txs/{tx_id}")),
            "the latest transactions list the put: {}",
            page.body
        );
        let live = web.get("/explorer/main/live").await;
        assert_eq!(live.status, 200);
        assert!(live.body.contains("Latest blocks") && !live.body.contains("<html"));
        // Search by the transaction id goes to its page; the proof is checked.
        let r = web.get(&format!("/explorer/main/search?q={tx_id}")).await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.location, format!("/explorer/main/txs/{tx_id}"));
        let tx = web.get(&r.location).await;
        assert_eq!(tx.status, 200, "{}", tx.body);
        assert!(tx.body.contains("proof valid"), "{}", tx.body);
        assert!(tx.body.contains("invoice-7"), "{}", tx.body);
        // Its read/write set: the write of the key under the kv contract's namespace.
        assert!(tx.body.contains("Read/write set"), "{}", tx.body);
        assert!(tx.body.contains("<code>kv/"), "{}", tx.body);
        assert!(
            tx.body
                .contains(&format!("covenant tx get {tx_id} --chain main"))
        );
        // The offline check the page shows runs as shown, with a node's address filled in.
        let shown = between(
            &tx.body,
            "<pre class=\"cmd offline\" tabindex=\"0\">",
            "</pre>",
        );
        let dir = c.root.path();
        for line in shown.lines() {
            let line = line.replace("&lt;node-api-url&gt;", &c.apis[0]);
            let args: Vec<&str> = line.split_whitespace().skip(1).collect();
            crate::covenant(dir, &args).ok();
        }
        assert!(dir.join("tx.proof").exists() && dir.join("main.genesis").exists());
        // The page's download links give the same files, which verify offline.
        let proof_link = format!("/api/v1/chains/main/txs/{tx_id}/proof");
        assert!(
            tx.body.contains(&format!("href=\"{proof_link}\"")),
            "{}",
            tx.body
        );
        let (status, proof) = web.download(&proof_link).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&proof));
        let (status, genesis) = web.download("/api/v1/chains/main/genesis").await;
        assert_eq!(status, 200);
        assert_eq!(genesis, std::fs::read(dir.join("main.genesis")).unwrap());
        std::fs::write(dir.join("web.proof"), &proof).unwrap();
        std::fs::write(dir.join("web.genesis"), &genesis).unwrap();
        let v = crate::covenant(
            dir,
            &[
                "proof",
                "verify",
                "web.proof",
                "--genesis",
                "web.genesis",
                "-o",
                "json",
            ],
        )
        .ok()
        .json();
        assert_eq!(
            (v["valid"].as_bool(), v["tx_id"].as_str()),
            (Some(true), Some(tx_id.as_str())),
            "{v}"
        );
        let height = between(&tx.body, "href=\"/explorer/main/blocks/", "\"");
        let block = web.get(&format!("/explorer/main/blocks/{height}")).await;
        assert_eq!(block.status, 200, "{}", block.body);
        assert!(block.body.contains(&tx_id[..8]), "{}", block.body);
        assert!(block.body.contains("Commit certificate"));
        assert!(
            block.body.matches("<li><code class=\"hash\">").count() >= 2,
            "a 2-node TBFT commit is signed by both: {}",
            block.body
        );
        // The contract, by search and by page.
        let r = web.get("/explorer/main/search?q=kv").await;
        assert_eq!(r.location, "/explorer/main/contracts/kv", "{}", r.body);
        let k = web.get("/explorer/main/contracts/kv").await;
        assert_eq!(k.status, 200, "{}", k.body);
        let blocks = web.get("/explorer/main/blocks").await;
        assert!(
            blocks.body.contains("/explorer/main/blocks/0"),
            "{}",
            blocks.body
        );
        // Nothing found, bad ids and unknown chains are pages with codes, never 5xx.
        let none = web.get("/explorer/main/search?q=no-such-thing").await;
        assert_eq!(none.status, 200);
        assert!(none.body.contains("Nothing found."));
        let bad = web.get("/explorer/main/txs/not-a-tx").await;
        assert_eq!(bad.status, 400, "{}", bad.body);
        assert!(bad.body.contains("INVALID_ARGUMENT"));
        let missing = web
            .get(&format!("/explorer/main/txs/{}", "0".repeat(64)))
            .await;
        assert_eq!(missing.status, 404, "{}", missing.body);
        let far = web.get("/explorer/main/blocks/99999999").await;
        assert_eq!(far.status, 404, "{}", far.body);
        let other = web.get("/explorer/nope").await;
        assert_eq!(other.status, 404, "{}", other.body);
        // Invoke and query from the contract's page, as the org's client identity.
        let csrf = between(&page.body, "name=\"csrf\" value=\"", "\"");
        let call = |method: &str, args: &str, mode: &str| {
            format!(
                "csrf={}&method={method}&args={}&mode={mode}",
                enc(&csrf),
                enc(args)
            )
        };
        let r = web
            .go(
                reqwest::Method::POST,
                "/explorer/main/contracts/kv/call",
                Some(call(
                    "put",
                    r#"{"key":"invoice-8","value":"due"}"#,
                    "invoke",
                )),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            r.body.contains("Invoked") && r.body.contains("platform-client"),
            "{}",
            r.body
        );
        assert!(r.body.contains(">OK<"), "{}", r.body);
        let r = web
            .go(
                reqwest::Method::POST,
                "/explorer/main/contracts/kv/call",
                Some(call("get", r#"{"key":"invoice-8"}"#, "query")),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("due"), "{}", r.body);
        let r = web
            .go(
                reqwest::Method::POST,
                "/explorer/main/contracts/kv/call",
                Some(call("put", "{not json", "invoke")),
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.contains("INVALID_JSON"));
        // In Chinese.
        let r = web
            .go(
                reqwest::Method::POST,
                "/preferences/language",
                Some(format!(
                    "locale=zh-CN&next=%2Fexplorer%2Fmain&csrf={}",
                    enc(&between(&page.body, "name=\"csrf\" value=\"", "\""))
                )),
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        let zh = web.get("/explorer/main").await;
        assert!(zh.body.contains("每个区块的交易数"), "{}", zh.body);
        assert!(zh.body.contains("区块链浏览器"));
    });
}

/// The golden path in headless Chromium: `crates/platform/console/tests/browser/golden.mjs`
/// (playwright-core and axe-core from its package-lock, Debian's chromium), with screenshots
/// of every page under `target/console-screenshots/`. `.ci/run` installs both; elsewhere
/// `COVENANT_SKIP_BROWSER=1` skips it, saying so.
#[test]
fn the_golden_path_in_a_browser() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let dir = repo.join("crates/platform/console/tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing = if !dir.join("node_modules/playwright-core").is_dir() {
        Some(format!("run `npm ci` in {}", dir.display()))
    } else if !std::path::Path::new(&chromium).exists() {
        Some(format!("install Debian's chromium ({chromium} is missing)"))
    } else {
        None
    };
    if let Some(why) = missing {
        if std::env::var_os("COVENANT_SKIP_BROWSER").is_some() {
            eprintln!("SKIPPED the browser test: {why}");
            return;
        }
        panic!("the browser test needs its tools: {why} (or set COVENANT_SKIP_BROWSER=1)");
    }
    let c = Cluster::up("tbft", "sm", 2);
    c.deploy_kv();
    let put = c
        .cli(&[
            "contract",
            "invoke",
            "kv",
            "put",
            "--args",
            &json!({"key": "bill-of-lading-42", "value": "released"}).to_string(),
            "-o",
            "json",
        ])
        .ok()
        .json();
    let tx_id = put["tx_id"].as_str().unwrap().to_string();
    let shots = repo.join("target/console-screenshots");
    let out = std::process::Command::new("node")
        .arg(dir.join("golden.mjs"))
        .env("CONSOLE_URL", c.platform["url"].as_str().unwrap())
        .env(
            "PASSWORD_FILE",
            c.platform["password_file"].as_str().unwrap(),
        )
        .env("TX_ID", &tx_id)
        .env("CHAIN", "main")
        .env("SCREENSHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .env(
            "CONTRACT_WASM",
            covenant_test_utils::contracts::example_wasm("evidence"),
        )
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser walk failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(report["ok"], true);
    assert!(report["axe_checked"].as_u64().unwrap() >= 20, "{report}");
    for page in report["pages"].as_array().unwrap() {
        let png = shots.join(format!("{}.png", page.as_str().unwrap()));
        assert!(
            std::fs::metadata(&png).unwrap().len() > 1000,
            "{}",
            png.display()
        );
    }
}
