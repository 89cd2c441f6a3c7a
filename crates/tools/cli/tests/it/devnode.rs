//! A development node in a temporary directory, run as a real `covenant node start` process.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{Run, covenant};

pub use covenant_test_utils::{contracts::example_wasm, free_port};

pub struct DevNode {
    pub dir: tempfile::TempDir,
    pub api: String,
    pub api_port: u16,
    pub grpc_port: u16,
    child: Option<Child>,
}

impl DevNode {
    /// `covenant node init` with `extra` arguments, then start it.
    pub fn new(extra: &[&str]) -> Self {
        let mut node = Self::init(extra);
        node.start(&[]).expect("node starts");
        node
    }

    /// `covenant node init` with `extra` arguments, not started.
    pub fn init(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (api_port, grpc_port) = (free_port(), free_port());
        let mut args = vec![
            "node".to_string(),
            "init".into(),
            "--dir".into(),
            "dev".into(),
            "--api-port".into(),
            api_port.to_string(),
            "--grpc-port".into(),
            grpc_port.to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        covenant(dir.path(), &argv).ok();
        DevNode {
            api: format!("http://127.0.0.1:{api_port}"),
            dir,
            api_port,
            grpc_port,
            child: None,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Start the node process; waits until it serves (or returns what it printed on failure).
    pub fn start(&mut self, extra: &[&str]) -> Result<(), String> {
        self.start_with(extra, None)
    }

    /// What the node wrote to standard error (its log).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("node.stderr")).unwrap_or_default()
    }

    /// Start the node process, with at most `descriptors` open files if given (soft and hard
    /// limit, as `ulimit -n` sets them).
    pub fn start_with(&mut self, extra: &[&str], descriptors: Option<u64>) -> Result<(), String> {
        let mut args = vec!["node", "start", "--dir", "dev", "-o", "json"];
        args.extend_from_slice(extra);
        let bin = env!("CARGO_BIN_EXE_covenant");
        let mut cmd = match descriptors {
            None => Command::new(bin),
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(bin);
                c
            }
        };
        let log = std::fs::File::create(self.dir.path().join("node.stderr")).unwrap();
        let mut child = cmd
            .args(&args)
            .current_dir(self.dir.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        let ready = BufReader::new(stdout).read_line(&mut line);
        if ready.is_err() || line.trim().is_empty() {
            let _ = child.wait();
            return Err(self.log());
        }
        let ready: Value = match serde_json::from_str(line.trim()) {
            Ok(v) => v,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{e}: {line}"));
            }
        };
        if ready.get("error").is_some() {
            let _ = child.wait();
            return Err(line);
        }
        assert_eq!(ready["api"], self.api.as_str());
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if http_get(&format!("{}/healthz", self.api)).is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("the node did not answer /healthz".into())
    }

    /// The node process's id, while it runs.
    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    /// Send SIGKILL.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stop gracefully (SIGTERM) and wait.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Run the CLI with this node's profile.
    pub fn cli(&self, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_covenant"))
            .args(args)
            .current_dir(self.dir.path())
            .env("COVENANT_PROFILE", self.dir.path().join("dev/profile.json"))
            .env_remove("COVENANT_OUTPUT")
            .output()
            .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Deploy an example contract (by the profile's admin).
    pub fn deploy(&self, name: &str, example: &str, extra: &[&str]) -> Value {
        let wasm = example_wasm(example);
        let mut args = vec![
            "contract",
            "deploy",
            name,
            wasm.to_str().unwrap(),
            "-o",
            "json",
        ];
        args.extend_from_slice(extra);
        self.cli(&args).ok().json()
    }
}

impl Drop for DevNode {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A GET with a short timeout; `None` if the node does not answer.
pub fn http_get(url: &str) -> Option<(u16, String)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    rt.block_on(async {
        let r = reqwest::Client::new()
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().await.ok()?))
    })
}

/// A POST of a JSON body.
pub fn http_post(url: &str, body: &str) -> Option<(u16, String)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    rt.block_on(async {
        let r = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().await.ok()?))
    })
}
