//! Node processes on this machine: start one in the background from its directory
//! (`node.toml`, writing `node.log` and `node.pid`), find it again by its pid file, stop it.
//! The local driver and the platform both run nodes this way.

use std::{
    fs::OpenOptions,
    io::{Read, Seek, SeekFrom},
    net::TcpListener,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use covenant_pki::files::{self, PUBLIC_MODE};

use crate::{DeployError, consortium::Stopped, driver::Progress};

/// Fail with [`DeployError::PortInUse`] unless `address` (`host:port`) is free to listen on.
pub fn check_address(address: &str, what: &str) -> Result<(), DeployError> {
    let port = address
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(0);
    TcpListener::bind(address)
        .map(drop)
        .map_err(|e| DeployError::PortInUse {
            port,
            what: what.to_string(),
            detail: e.to_string(),
        })
}

/// Refuse a port something else holds on the loopback address.
pub fn check_port(port: u16, what: &str) -> Result<(), DeployError> {
    check_address(&format!("127.0.0.1:{port}"), what)
}

/// Start `exe node start --dir node_dir` in the background, in its own process group (Ctrl-C
/// in the starting terminal does not stop it), logging to `node_dir/node.log`; its pid goes to
/// `node_dir/node.pid`.
pub fn start_node(exe: &Path, node_dir: &Path) -> Result<Child, DeployError> {
    let log_path = node_dir.join("node.log");
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(DeployError::io(&log_path))?;
    let err_log = log.try_clone().map_err(DeployError::io(&log_path))?;
    let mut cmd = Command::new(exe);
    cmd.arg("node")
        .arg("start")
        .arg("--dir")
        .arg(node_dir)
        .arg("--output")
        .arg("json")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err_log)
        .process_group(0);
    // A node's log filter is its node.toml's (`log`; info unless set), not whatever this
    // process was started with.
    cmd.env_remove("RUST_LOG");
    let child = cmd.spawn().map_err(DeployError::io(exe))?;
    files::write_atomic(
        &node_dir.join("node.pid"),
        child.id().to_string().as_bytes(),
        PUBLIC_MODE,
    )?;
    Ok(child)
}

/// Start a node whose process this program will not wait on itself: a thread reaps it when
/// it exits, so no zombie is left behind. Returns its pid.
pub fn start_detached(exe: &Path, node_dir: &Path) -> Result<u32, DeployError> {
    let mut child = start_node(exe, node_dir)?;
    let pid = child.id();
    std::thread::Builder::new()
        .name(format!("reap-{pid}"))
        .spawn(move || {
            let _ = child.wait();
        })
        .map_err(|e| DeployError::Other(format!("cannot start a thread: {e}")))?;
    Ok(pid)
}

/// The pid in a node's pid file, if that process still runs a covenant node.
pub fn running_pid(node_dir: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(node_dir.join("node.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    alive(pid).then_some(pid)
}

fn alive(pid: u32) -> bool {
    let Some(p) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    if rustix::process::test_kill_process(p).is_err() {
        return false;
    }
    // A recycled pid is not our node; a zombie is not running.
    match std::fs::read(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let text = String::from_utf8_lossy(&stat);
            let state = text
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next());
            if state == Some("Z") {
                return false;
            }
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    let c = String::from_utf8_lossy(&c);
                    c.contains("node") && c.contains("start")
                })
                .unwrap_or(true)
        }
        Err(_) => true,
    }
}

fn signal(pid: u32, sig: rustix::process::Signal) -> bool {
    i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .is_some_and(|p| rustix::process::kill_process(p, sig).is_ok())
}

/// Stop the nodes in `nodes` (name, directory): SIGTERM to all, then wait up to `timeout` for
/// each, SIGKILL for any still running. Their pid files are removed.
pub fn stop_nodes(
    nodes: &[(String, PathBuf)],
    timeout: Duration,
    progress: Progress<'_>,
) -> Vec<Stopped> {
    let mut stopped = Vec::new();
    let mut running = Vec::new();
    for (name, dir) in nodes {
        if let Some(pid) = running_pid(dir) {
            signal(pid, rustix::process::Signal::TERM);
            running.push((name, dir, pid));
        } else {
            let _ = std::fs::remove_file(dir.join("node.pid"));
        }
    }
    let deadline = Instant::now() + timeout;
    for (name, dir, pid) in running {
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let killed = alive(pid);
        if killed {
            signal(pid, rustix::process::Signal::KILL);
            while alive(pid) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = std::fs::remove_file(dir.join("node.pid"));
        progress(&format!(
            "  stopped {name} (pid {pid}){}",
            if killed {
                ", killed after the timeout"
            } else {
                ""
            }
        ));
        stopped.push(Stopped {
            name: name.clone(),
            pid,
            killed,
        });
    }
    stopped
}

/// The last `bytes` of a file (a node's log), for error messages.
pub fn log_tail(path: &Path, bytes: u64) -> String {
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(bytes)));
    let mut s = String::new();
    let _ = f.read_to_string(&mut s);
    s
}
