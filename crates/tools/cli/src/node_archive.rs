//! `covenant node archive` and `covenant node restore`: old block bodies moved into
//! compressed archive files and brought back, through the running node's admin socket.

use std::{io::Write, path::PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use covenant_node::NodeConfig;
use serde_json::{Value, json};

use crate::{
    failure::Failure,
    output::{Format, emit},
};

/// Move the bodies of a chain's old blocks into a compressed archive (or show what is
/// archived and how far the chain may be archived now). The node must be running.
#[derive(Debug, Args)]
#[command(
    after_help = "Blocks below --below are written to one zstd-compressed file with a \
checksum per group and an index, in the node's archive directory ([archive] dir in node.toml, \
by default DATA_DIR/archive; one folder per chain), read back and checked, then dropped from \
the node's block files. Headers and commit certificates stay on the node, and so do the \
genesis block and every block that changed the configuration. Reads of an archived block \
(tx get, block get, the explorer, peers syncing) are served from the archive; while it is \
offline they answer ARCHIVE_OFFLINE.\n\n\
The node archives only below a height every consensus node has committed, and only blocks \
older than [archive] min_age_secs (7 days by default). Without --below the command shows the \
chain's archive files and the highest height allowed now.\n\n\
Examples:\n  covenant node archive --dir node1 --chain main\n  \
covenant node archive --dir node1 --chain main --below 120000\n  \
covenant node restore --dir node1 --chain main"
)]
pub struct ArchiveArgs {
    /// Directory of the node (holding node.toml).
    #[arg(long, conflicts_with = "config")]
    dir: Option<PathBuf>,
    /// The node's config file, instead of --dir.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The chain.
    #[arg(long)]
    chain: String,
    /// Archive the bodies of the blocks below this height.
    #[arg(long)]
    below: Option<u64>,
}

/// Bring every archived block of a chain back into the node's block files, each checked
/// against the node's block index. The node must be running and the archive online.
#[derive(Debug, Args)]
#[command(
    after_help = "Each block is read from its archive, its hash checked against the node's \
block index and the archive's index and its body against its header, then written back to \
the block files. The archive files are left where they are (the node no longer needs them).\n\n\
Example:\n  covenant node restore --dir node1 --chain main"
)]
pub struct RestoreArgs {
    /// Directory of the node (holding node.toml).
    #[arg(long, conflicts_with = "config")]
    dir: Option<PathBuf>,
    /// The node's config file, instead of --dir.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The chain.
    #[arg(long)]
    chain: String,
}

fn socket(dir: &Option<PathBuf>, config: &Option<PathBuf>) -> Result<PathBuf> {
    let path = crate::node::config_path(dir, config)?;
    let config = NodeConfig::load(&path)?;
    let socket = config.admin_socket();
    if !socket.exists() {
        return Err(Failure::new(
            "NODE_NOT_RUNNING",
            format!(
                "no admin socket at {}: is the node running? (start it with covenant node start --dir …)",
                socket.display()
            ),
        )
        .into());
    }
    Ok(socket)
}

fn client(socket: &std::path::Path) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .unix_socket(socket.to_path_buf())
        .build()
        .context("opening the admin socket")
}

/// An error body of the admin socket as a failure with its code.
fn refused(body: &Value) -> anyhow::Error {
    let code = body["code"].as_str().unwrap_or("ADMIN_FAILED");
    let message = body["message"]
        .as_str()
        .unwrap_or("the node refused")
        .to_string();
    // The node's own stable code, passed on as it is (the process ends with this error, so
    // the one string it keeps is no leak that matters).
    let code: &'static str = Box::leak(code.to_string().into_boxed_str());
    Failure::new(code, message).into()
}

/// Send a request whose answer streams progress lines; show the progress on standard error
/// and return the result.
async fn streamed(request: reqwest::RequestBuilder, what: &str, format: Format) -> Result<Value> {
    let mut resp = request
        .send()
        .await
        .context("talking to the node's admin socket")?;
    if !resp.status().is_success() {
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        return Err(refused(&body));
    }
    let mut pending = Vec::new();
    let mut shown = false;
    while let Some(chunk) = resp.chunk().await.context("reading the node's answer")? {
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let v: Value = serde_json::from_slice(&line).unwrap_or(Value::Null);
            if let Some(p) = v.get("progress") {
                if format == Format::Text {
                    eprint!(
                        "\r{what}: {} of {} blocks",
                        p["done"].as_u64().unwrap_or(0),
                        p["total"].as_u64().unwrap_or(0)
                    );
                    let _ = std::io::stderr().flush();
                    shown = true;
                }
            } else if let Some(r) = v.get("result") {
                if shown {
                    eprintln!();
                }
                return Ok(r.clone());
            } else if let Some(e) = v.get("error") {
                if shown {
                    eprintln!();
                }
                return Err(refused(e));
            }
        }
    }
    Err(Failure::new(
        "ADMIN_FAILED",
        "the node stopped answering before it finished",
    )
    .into())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
}

fn mb(bytes: &Value) -> String {
    format!("{:.1} MB", bytes.as_u64().unwrap_or(0) as f64 / 1e6)
}

pub fn archive(a: ArchiveArgs, format: Format) -> Result<u8> {
    let socket = socket(&a.dir, &a.config)?;
    let client = client(&socket)?;
    let url = format!("http://node/v1/chains/{}/archive", a.chain);
    let rt = runtime()?;
    let Some(below) = a.below else {
        let status: Value = rt.block_on(async {
            let resp = client
                .get(&url)
                .send()
                .await
                .context("talking to the node's admin socket")?;
            let ok = resp.status().is_success();
            let body: Value = resp.json().await.context("reading the node's answer")?;
            if ok { Ok(body) } else { Err(refused(&body)) }
        })?;
        emit(format, &status, || status_text(&status))?;
        return Ok(0);
    };
    let report = rt.block_on(streamed(
        client.post(&url).json(&json!({ "below": below })),
        "archiving",
        format,
    ))?;
    emit(format, &report, || {
        if report["blocks"].as_u64() == Some(0) {
            return format!(
                "Nothing left to archive below height {below} on chain {}.",
                a.chain
            );
        }
        let raw = report["raw_bytes"].as_u64().unwrap_or(0);
        let arch = report["archive_bytes"].as_u64().unwrap_or(0);
        let kept = report["kept"].as_array().map_or(0, Vec::len);
        format!(
            "Archived {} block(s) of chain {} (heights {}–{}) into {}\n  \
             blocks as stored {}, archive {} ({:.0} % smaller); headers kept on the node {}\n  \
             block files {} → {}{}",
            report["blocks"],
            a.chain,
            report["first"],
            report["last"],
            report["file"].as_str().unwrap_or(""),
            mb(&report["raw_bytes"]),
            mb(&report["archive_bytes"]),
            if raw > 0 {
                100.0 * (1.0 - arch as f64 / raw as f64)
            } else {
                0.0
            },
            mb(&report["header_bytes"]),
            mb(&report["segment_bytes_before"]),
            mb(&report["segment_bytes_after"]),
            if kept > 0 {
                format!(
                    "\n  {kept} block(s) that changed the configuration stay in the block files"
                )
            } else {
                String::new()
            }
        )
    })?;
    Ok(0)
}

fn status_text(s: &Value) -> String {
    let mut t = format!(
        "Chain {}: {} block(s) archived in {}\n",
        s["chain"].as_str().unwrap_or(""),
        s["archived_blocks"],
        s["archive_dir"].as_str().unwrap_or("")
    );
    let files = s["files"].as_array().cloned().unwrap_or_default();
    if files.is_empty() {
        t.push_str("  no archive files yet\n");
    }
    for f in files {
        t.push_str(&format!(
            "  {}  heights {}–{}  {} block(s)  {}\n",
            f["name"].as_str().unwrap_or(""),
            f["first"],
            f["last"],
            f["blocks"],
            if f["online"] == true {
                "online".to_string()
            } else {
                format!("OFFLINE: {}", f["problem"].as_str().unwrap_or(""))
            }
        ));
    }
    let l = &s["limits"];
    match l["archivable_below"].as_u64() {
        Some(b) => t.push_str(&format!(
            "May be archived now below height {b} (tip {}, committed by all {} consensus nodes: {}, min age {} s)",
            l["height"], l["consensus_nodes"], l["committed_by_all"], l["min_age_secs"]
        )),
        None => t.push_str(&format!(
            "Not archivable now: {}",
            l["reason"].as_str().unwrap_or("")
        )),
    }
    t
}

pub fn restore(a: RestoreArgs, format: Format) -> Result<u8> {
    let socket = socket(&a.dir, &a.config)?;
    let client = client(&socket)?;
    let url = format!("http://node/v1/chains/{}/restore", a.chain);
    let report = runtime()?.block_on(streamed(client.post(&url), "restoring", format))?;
    emit(format, &report, || {
        if report["blocks"].as_u64() == Some(0) {
            return format!("Nothing is archived on chain {}.", a.chain);
        }
        let files: Vec<String> = report["files"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|f| f.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        format!(
            "Restored {} block(s) ({}) of chain {} into the node's block files, each checked.\n  \
             No longer needed by the node (remove when you wish): {}",
            report["blocks"],
            mb(&report["bytes"]),
            a.chain,
            files.join(", ")
        )
    })?;
    Ok(0)
}
