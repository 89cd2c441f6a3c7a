//! `covenant bench console`: how long the console takes to render each of its pages, measured
//! from outside over HTTP against a running platform (the one `covenant up` starts beside its
//! nodes), signed in as an org's root account. Pages are requested one at a time, so each
//! figure is one page's own server-side time plus a loopback round trip.
//!
//! With a long chain the explorer's pages show whether their cost grows with the ledger; the
//! method in `docs/PERFORMANCE.md` builds one with `covenant up --consensus solo --orgs 1
//! --block-txs 1` and `covenant bench run --txs 100000` (one transaction per block).

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use clap::Args;
use serde::Serialize;
use serde_json::Value;

use crate::{BenchError, Result};

#[derive(Debug, Args)]
#[command(
    about = "Time every console page against a running platform (from covenant up)",
    long_about = "Sign in to the console of a running platform and request each of its pages \
— overview, consortia, events, networks, the chain, the explorer (its home, the block list, a \
block and a transaction from the middle of the chain, a contract, a search), the audit log and \
the account — one at a time, several times each. Reports each page's latency (p50, p99, max) \
and whether it stays under the target.",
    after_help = "JSON fields: url, chain, height, requests_per_page, target_ms, pages (path, \
status, p50_ms, p99_ms, max_ms, within_target), slowest_ms, all_within_target.\n\nExamples:\n  \
covenant bench console --dir consortium\n  covenant bench console --dir /tmp/long --chain main \
--requests 50 --output json"
)]
pub struct ConsoleArgs {
    /// Directory of the consortium (as given to covenant up): its platform URL and admin login
    /// are read from DIR/platform.
    #[arg(long, default_value = "consortium")]
    dir: PathBuf,
    /// The chain whose explorer pages are timed.
    #[arg(long, default_value = "main")]
    chain: String,
    /// Requests per page.
    #[arg(long, default_value_t = 20)]
    requests: u32,
    /// The target a page must stay under, in milliseconds.
    #[arg(long, default_value_t = 100.0)]
    target_ms: f64,
}

/// One page's figures.
#[derive(Debug, Clone, Serialize)]
pub struct PageTiming {
    pub path: String,
    pub status: u16,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub within_target: bool,
}

/// What a console run measured.
#[derive(Debug, Clone, Serialize)]
pub struct ConsoleReport {
    pub url: String,
    pub chain: String,
    pub height: u64,
    pub requests_per_page: u32,
    pub target_ms: f64,
    pub pages: Vec<PageTiming>,
    pub slowest_ms: f64,
    pub all_within_target: bool,
}

impl ConsoleReport {
    /// The human-readable report.
    pub fn text(&self) -> String {
        let mut t = format!(
            "Console at {} — chain {} at height {}, {} requests per page, target {:.0} ms\n",
            self.url, self.chain, self.height, self.requests_per_page, self.target_ms
        );
        for p in &self.pages {
            t.push_str(&format!(
                "  {:<48} {}  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms{}\n",
                p.path,
                p.status,
                p.p50_ms,
                p.p99_ms,
                p.max_ms,
                if p.within_target { "" } else { "  OVER TARGET" }
            ));
        }
        t.push_str(&format!(
            "  slowest page p99 {:.2} ms; {}\n",
            self.slowest_ms,
            if self.all_within_target {
                "every page within the target"
            } else {
                "some pages over the target"
            }
        ));
        t
    }
}

struct Web {
    base: String,
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
}

impl Web {
    async fn send(&mut self, rb: reqwest::RequestBuilder) -> Result<(u16, String)> {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let r = rb
            .header("cookie", cookie.join("; "))
            .send()
            .await
            .map_err(|e| BenchError::new("CONSOLE_UNREACHABLE", format!("{}: {e}", self.base)))?;
        for c in r.headers().get_all("set-cookie") {
            let Some((k, v)) = c
                .to_str()
                .ok()
                .and_then(|c| c.split(';').next())
                .and_then(|kv| kv.split_once('='))
            else {
                continue;
            };
            self.cookies.retain(|(name, _)| name != k);
            self.cookies.push((k.to_string(), v.to_string()));
        }
        let status = r.status().as_u16();
        let body = r
            .text()
            .await
            .map_err(|e| BenchError::new("CONSOLE_UNREACHABLE", e.to_string()))?;
        Ok((status, body))
    }

    async fn get(&mut self, path: &str) -> Result<(u16, String)> {
        let rb = self.http.get(format!("{}{path}", self.base));
        self.send(rb).await
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    text.split(start)
        .nth(1)?
        .split(end)
        .next()
        .map(str::to_string)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Run the benchmark.
pub fn run(a: ConsoleArgs) -> Result<ConsoleReport> {
    if a.requests == 0 || a.requests > 10_000 {
        return Err(BenchError::new(
            "INVALID_ARGUMENT",
            "--requests is 1 to 10000",
        ));
    }
    let pdir = a.dir.join("platform");
    let url = std::fs::read_to_string(pdir.join("url"))
        .map_err(|e| {
            BenchError::new(
                "PLATFORM_NOT_FOUND",
                format!(
                    "no platform in {} ({e}); start one with covenant up",
                    pdir.display()
                ),
            )
        })?
        .trim()
        .to_string();
    let logins = std::fs::read_to_string(pdir.join("admin-password")).map_err(|e| {
        BenchError::new(
            "PLATFORM_NOT_FOUND",
            format!("cannot read the admin login: {e}"),
        )
    })?;
    let (username, password) = logins
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .and_then(|l| {
            let mut it = l.split_whitespace();
            let _org = it.next()?;
            Some((it.next()?.to_string(), it.next()?.to_string()))
        })
        .ok_or_else(|| {
            BenchError::new("PLATFORM_NOT_FOUND", "the admin login file holds no login")
        })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| BenchError::Internal(e.to_string()))?;
    rt.block_on(measure(a, url, username, password))
}

async fn measure(
    a: ConsoleArgs,
    url: String,
    username: String,
    password: String,
) -> Result<ConsoleReport> {
    let mut web = Web {
        base: url.clone(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| BenchError::Internal(e.to_string()))?,
        cookies: Vec::new(),
    };
    // Sign in through the console's own form.
    let (_, form) = web.get("/login").await?;
    let token = between(&form, "name=\"login_token\" value=\"", "\"").ok_or_else(|| {
        BenchError::new("CONSOLE_UNEXPECTED", "the sign-in page has no form token")
    })?;
    let body = format!(
        "login_token={}&username={}&password={}&next=%2F",
        enc(&token),
        enc(&username),
        enc(&password)
    );
    let rb = web
        .http
        .post(format!("{}/login", web.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    let (status, _) = web.send(rb).await?;
    if status != 303 {
        return Err(BenchError::new(
            "SIGN_IN_FAILED",
            format!("signing in as {username} answered {status}"),
        ));
    }
    // The chain's height, a block from its middle and a transaction of it, through the API.
    let c = enc(&a.chain);
    let (_, overview) = web
        .get(&format!("/api/v1/chains/{c}/explorer?limit=1"))
        .await?;
    let overview: Value = serde_json::from_str(&overview).unwrap_or_default();
    let height = overview["height"].as_u64().ok_or_else(|| {
        BenchError::new(
            "CHAIN_NOT_FOUND",
            format!(
                "the platform has no chain {} to explore: {overview}",
                a.chain
            ),
        )
    })?;
    let middle = height / 2;
    let (_, block) = web
        .get(&format!("/api/v1/chains/{c}/blocks/{middle}"))
        .await?;
    let block: Value = serde_json::from_str(&block).unwrap_or_default();
    let tx_id = block["txs"][0]["tx_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let contract = block["txs"][0]["contract"]
        .as_str()
        .unwrap_or("sys.config")
        .to_string();
    let (_, net) = web.get("/api/v1/networks?limit=1").await?;
    let net: Value = serde_json::from_str(&net).unwrap_or_default();
    let node = net["items"][0]["nodes"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut paths = vec![
        "/".to_string(),
        "/consortia".into(),
        "/events".into(),
        "/networks".into(),
        format!("/chains/{c}"),
        format!("/explorer/{c}"),
        format!("/explorer/{c}/live"),
        format!("/explorer/{c}/blocks"),
        format!("/explorer/{c}/blocks?after={middle}"),
        format!("/explorer/{c}/blocks/{middle}"),
        format!("/explorer/{c}/contracts/{}", enc(&contract)),
        format!("/explorer/{c}/search?q={}", middle),
        "/audit".into(),
        "/account".into(),
        "/accounts".into(),
    ];
    if !tx_id.is_empty() {
        paths.push(format!("/explorer/{c}/txs/{tx_id}"));
    }
    if !node.is_empty() {
        paths.push(format!("/nodes/{}", enc(&node)));
    }
    let mut pages = Vec::new();
    for path in paths {
        let mut ms = Vec::new();
        let mut status = 0;
        for _ in 0..a.requests {
            let t = Instant::now();
            let (s, _) = web.get(&path).await?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            status = s;
        }
        if status >= 400 {
            return Err(BenchError::new(
                "PAGE_FAILED",
                format!("{path} answered {status}"),
            ));
        }
        ms.sort_by(f64::total_cmp);
        let p99 = percentile(&ms, 0.99);
        pages.push(PageTiming {
            path,
            status,
            p50_ms: percentile(&ms, 0.5),
            p99_ms: p99,
            max_ms: ms.last().copied().unwrap_or_default(),
            within_target: p99 < a.target_ms,
        });
    }
    let slowest_ms = pages.iter().map(|p| p.p99_ms).fold(0.0, f64::max);
    Ok(ConsoleReport {
        url,
        chain: a.chain,
        height,
        requests_per_page: a.requests,
        target_ms: a.target_ms,
        all_within_target: pages.iter().all(|p| p.within_target),
        pages,
        slowest_ms,
    })
}
