//! Kasa and the device emulators as separate processes: the `kasa` binary
//! (built once per test run unless `KASA_BIN` names one), `kasa emulate
//! terminal|fiscal` on loopback TCP keeping their books in state files, and
//! `kasa serve` with a settings file pointing at them, optionally armed to
//! stop dead at a crash point (`KASA_FAILPOINT`) so the test can kill it
//! with SIGKILL at exactly that moment.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use serde_json::{json, Value};

/// The `kasa` binary: `$KASA_BIN`, else built once with cargo.
pub fn kasa_bin() -> anyhow::Result<PathBuf> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("KASA_BIN") {
            return Ok(PathBuf::from(p));
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "kasa"])
            .current_dir(&root)
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err("cargo build -p kasa failed".into());
        }
        Ok(target.join("debug").join("kasa"))
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

/// Lines a child printed, shared with the thread that reads them.
#[derive(Debug, Clone, Default)]
pub struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn follow(&self, r: impl std::io::Read + Send + 'static) {
        let lines = self.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(r).lines() {
                let Ok(line) = line else { break };
                lines.0.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
    }

    /// Everything so far.
    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Wait (up to `timeout`) for a line that satisfies `f`.
    pub fn wait(&self, timeout: Duration, f: impl Fn(&str) -> bool) -> Option<String> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(l) = self.all().into_iter().find(|l| f(l)) {
                return Some(l);
            }
            if Instant::now() > end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A child process killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    pub stdout: Lines,
    pub stderr: Lines,
}

impl Proc {
    pub fn spawn(mut cmd: Command) -> anyhow::Result<Proc> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().context("spawn")?;
        let stdout = Lines::default();
        let stderr = Lines::default();
        stdout.follow(child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?);
        stderr.follow(child.stderr.take().ok_or_else(|| anyhow!("no stderr"))?);
        Ok(Proc {
            child,
            stdout,
            stderr,
        })
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether it is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines of its output, for a failure message.
    pub fn tail(&self) -> String {
        let mut all = self.stdout.all();
        all.extend(self.stderr.all());
        let skip = all.len().saturating_sub(40);
        all[skip..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `kasa emulate terminal --protocol` name of a terminal protocol as
/// kasa.json names it (the B-POS1 bridge's emulator is `bpos1`).
pub fn emulate_name(protocol: &str) -> &'static str {
    match protocol {
        "privatbank" => "privatbank",
        "ingenico-web" => "ingenico-web",
        _ => "bpos1",
    }
}

/// An emulator process and where it listens.
#[derive(Debug)]
pub struct Emulator {
    pub proc: Proc,
    /// `host:port`.
    pub address: String,
    /// Its books (state file).
    pub state: PathBuf,
    /// Its printed documents (the fiscal emulator's tape).
    pub tape: Option<PathBuf>,
}

fn first_line(p: &Proc) -> anyhow::Result<String> {
    p.stdout
        .wait(Duration::from_secs(20), |l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .ok_or_else(|| anyhow!("the emulator printed no address:\n{}", p.tail()))
}

impl Emulator {
    /// `kasa emulate terminal --protocol <protocol>` on a free loopback port,
    /// keeping its books in `dir/terminal-books.json`; `extra` are more
    /// emulator arguments (`--outcome partial`, ...).
    pub fn terminal(protocol: &str, dir: &Path, extra: &[&str]) -> anyhow::Result<Emulator> {
        Self::terminal_on(protocol, dir, "127.0.0.1:0", extra)
    }

    /// The terminal emulator on `address` (a terminal switched back on
    /// where it was, with the books it kept in `dir`).
    pub fn terminal_on(
        protocol: &str,
        dir: &Path,
        address: &str,
        extra: &[&str],
    ) -> anyhow::Result<Emulator> {
        let state = dir.join("terminal-books.json");
        let mut cmd = Command::new(kasa_bin()?);
        cmd.args(["emulate", "terminal", "--protocol", protocol])
            .args(["--tcp", address, "--step-delay-ms", "2"])
            .arg("--state")
            .arg(&state)
            .args(extra);
        let proc = Proc::spawn(cmd)?;
        let address = first_line(&proc)?;
        Ok(Emulator {
            proc,
            address,
            state,
            tape: None,
        })
    }

    /// `kasa emulate fiscal` (FP-T260) on a free loopback port, with its
    /// state and tape in `dir`.
    pub fn fiscal(dir: &Path, extra: &[&str]) -> anyhow::Result<Emulator> {
        let state = dir.join("fiscal-state.json");
        let tape = dir.join("fiscal-tape.txt");
        let mut cmd = Command::new(kasa_bin()?);
        cmd.args(["emulate", "fiscal", "--tcp", "127.0.0.1:0"])
            .arg("--state")
            .arg(&state)
            .arg("--tape")
            .arg(&tape)
            .args(extra);
        let proc = Proc::spawn(cmd)?;
        let address = first_line(&proc)?;
        Ok(Emulator {
            proc,
            address,
            state,
            tape: Some(tape),
        })
    }

    /// The documents the fiscal emulator printed, as text, oldest first.
    pub fn documents(&self) -> Vec<String> {
        let Some(tape) = &self.tape else {
            return Vec::new();
        };
        let text = std::fs::read_to_string(tape).unwrap_or_default();
        let sep = "-".repeat(36);
        text.split(&format!("\n{sep}\n"))
            .map(|d| d.trim_matches('\n').to_string())
            .filter(|d| !d.is_empty())
            .collect()
    }

    /// Fiscal documents (not cancelled) that carry `needle`.
    pub fn receipts_with(&self, needle: &str) -> Vec<String> {
        self.documents()
            .into_iter()
            .filter(|d| d.contains(needle) && crate::is_fiscal(d))
            .collect()
    }
}

/// A `kasa serve` process.
#[derive(Debug)]
pub struct Kasa {
    pub proc: Proc,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    client: reqwest::Client,
    /// The manager's session cookie, once logged in.
    session: Arc<tokio::sync::Mutex<Option<String>>>,
}

/// The PIN of the first manager the process tests create.
pub const MANAGER_PIN: &str = "2580";

/// Log in to `url` as its manager (created on the first run with
/// [`MANAGER_PIN`]); keeps the cookie in `session`.
async fn manager_cookie(
    client: &reqwest::Client,
    url: &str,
    session: &tokio::sync::Mutex<Option<String>>,
) -> anyhow::Result<String> {
    let mut held = session.lock().await;
    if let Some(c) = held.as_ref() {
        return Ok(c.clone());
    }
    let post = |name: &str, body: Value| {
        client
            .post(format!("{url}/api/cmd/{name}"))
            .header("origin", url)
            .json(&body)
            .send()
    };
    let options: Value = post("login_options", json!({})).await?.json().await?;
    let r = if options["first_run"] == true {
        post(
            "first_manager",
            json!({ "name": "Manager", "pin": MANAGER_PIN }),
        )
        .await?
    } else {
        let user = options["users"]
            .as_array()
            .and_then(|u| u.iter().find(|u| u["role"] == "manager"))
            .and_then(|u| u["id"].as_i64())
            .ok_or_else(|| anyhow!("no manager to log in as: {options}"))?;
        post("login", json!({ "user": user, "pin": MANAGER_PIN })).await?
    };
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
        .ok_or_else(|| anyhow!("the login answered {} with no cookie", r.status()))?;
    *held = Some(cookie.clone());
    Ok(cookie)
}

/// Write a production `kasa.json` for the two emulators; returns its path.
pub fn settings(
    dir: &Path,
    protocol: &str,
    terminal: &Emulator,
    fiscal: &Emulator,
    terminal_extra: Value,
) -> anyhow::Result<PathBuf> {
    let mut t = json!({
        "protocol": protocol,
        "endpoint": { "kind": "tcp", "address": terminal.address },
        "timeouts": { "after_handshake_ms": 0, "poll_ms": 10, "operation_ms": 20000 },
    });
    if let (Some(o), Some(extra)) = (t.as_object_mut(), terminal_extra.as_object()) {
        for (k, v) in extra {
            o.insert(k.clone(), v.clone());
        }
    }
    let s = json!({
        "terminal": t,
        "fiscal": { "endpoint": { "kind": "tcp", "address": fiscal.address } },
        // The emulators' first merchant, as an installer would enter it.
        "merchants": [{ "index": 0, "name": "ФОП Каса 1", "terminal_id": "KASA0001", "merchant_id": "S1KASA01" }],
    });
    let path = dir.join("kasa.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&s)?)?;
    Ok(path)
}

impl Kasa {
    /// Start `kasa serve` on a free port with this data directory and
    /// settings; `failpoint` arms a crash point. Returns once it serves
    /// (its start-up recovery is done by then).
    pub fn start(data: &Path, config: &Path, failpoint: Option<&str>) -> anyhow::Result<Kasa> {
        let mut cmd = Command::new(kasa_bin()?);
        cmd.args(["serve", "--addr", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data)
            .arg("--config")
            .arg(config)
            .env("KASA_LOG", "warn")
            .env_remove("KASA_FAILPOINT");
        if let Some(fp) = failpoint {
            cmd.env("KASA_FAILPOINT", fp);
        }
        let proc = Proc::spawn(cmd)?;
        let line = proc
            .stdout
            .wait(Duration::from_secs(60), |l| {
                l.contains("serving on http://")
            })
            .ok_or_else(|| anyhow!("kasa serve did not start:\n{}", proc.tail()))?;
        let url = line
            .split("serving on ")
            .nth(1)
            .map(|u| u.trim().trim_end_matches('/').to_string())
            .ok_or_else(|| anyhow!("no URL in {line:?}"))?;
        Ok(Kasa {
            proc,
            url,
            client: reqwest::Client::new(),
            session: Default::default(),
        })
    }

    /// Call command `name` as the manager; returns the HTTP status and the
    /// JSON answer.
    pub async fn call(&self, name: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        let cookie = manager_cookie(&self.client, &self.url, &self.session).await?;
        let r = self
            .client
            .post(format!("{}/api/cmd/{name}", self.url))
            .header("origin", &self.url)
            .header("cookie", cookie)
            .json(&body)
            .send()
            .await?;
        let status = r.status().as_u16();
        let v = r.json().await.unwrap_or(Value::Null);
        Ok((status, v))
    }

    /// Call command `name` and expect success.
    pub async fn ok(&self, name: &str, body: Value) -> anyhow::Result<Value> {
        let (status, v) = self.call(name, body).await?;
        if status != 200 {
            bail!("{name} answered {status}: {v}");
        }
        Ok(v)
    }

    /// Fire command `name` in the background (its answer is not awaited:
    /// the process may be killed while it runs).
    pub fn fire(&self, name: &str, body: Value) {
        let (client, url, session) = (
            self.client.clone(),
            self.url.clone(),
            Arc::clone(&self.session),
        );
        let name = name.to_string();
        tokio::spawn(async move {
            let Ok(cookie) = manager_cookie(&client, &url, &session).await else {
                return;
            };
            let _ = client
                .post(format!("{url}/api/cmd/{name}"))
                .header("origin", &url)
                .header("cookie", cookie)
                .json(&body)
                .send()
                .await;
        });
    }

    /// Wait until the process stops at its armed crash point.
    pub fn wait_failpoint(&self, timeout: Duration) -> Option<String> {
        self.proc
            .stderr
            .wait(timeout, |l| l.starts_with("KASA FAILPOINT"))
    }

    /// Wait until the operation started with `key` is settled; returns it.
    pub async fn settled(&self, key: &str, timeout: Duration) -> anyhow::Result<Value> {
        let end = Instant::now() + timeout;
        loop {
            let v = self.ok("by_key", json!({ "key": key })).await?;
            let op = &v["operation"];
            if !op.is_null() && op["state"] != "running" {
                return Ok(op.clone());
            }
            if Instant::now() > end {
                bail!("operation {key} did not settle: {v}\n{}", self.proc.tail());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
