//! The B-POS1 API over a byte stream: one JSON object per line, carrying the
//! late-bound calls of [`Bpos1Api`] (`{"op":"call","name":"Purchase","args":[100,0,1]}`,
//! `{"op":"get","name":"LastResult"}`) and their answers
//! (`{"ok":true,"value":0}` / `{"ok":false,"code":"...","message":"..."}`).
//!
//! B-POS1's own wire is not public, so this is Kasa's: it lets the behaviour
//! emulator run as a separate process (`kasa emulate terminal --protocol bpos1
//! --tcp ...`), and it is the protocol a small 32-bit helper hosting ECRCommX
//! would speak where the DLL surrogate cannot be used.
//!
//! The server keeps one API object for all connections (one terminal), lets
//! its clock run with a ticker ([`Bpos1Api::tick`]) whether anyone polls or
//! not, and closes the connection instead of answering when the object
//! reports its link lost (a scripted drop after approval).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value as Json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt};

use super::{Bpos1Api, Value};
use crate::{Error, Result};

fn to_json(v: &Value) -> Json {
    match v {
        Value::Int(i) => json!(i),
        Value::Str(s) => json!(s),
    }
}

fn from_json(v: &Json) -> Result<Value> {
    match v {
        Json::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .ok_or_else(|| Error::Protocol(format!("not an integer: {n}"))),
        Json::String(s) => Ok(Value::Str(s.clone())),
        Json::Null => Ok(Value::Str(String::new())),
        other => Err(Error::Protocol(format!("bad value {other}"))),
    }
}

fn error_from(code: &str, message: &str) -> Error {
    match code {
        "transport.link_lost" => Error::LinkLost(message.into()),
        "device.busy" => Error::Busy,
        "protocol.unsupported" => Error::Unsupported(message.into()),
        "request.invalid" => Error::InvalidRequest(message.into()),
        _ => Error::Protocol(format!("{code}: {message}")),
    }
}

/// Handle one request line against `api`; the answer line (without newline).
pub fn answer(api: &mut dyn Bpos1Api, line: &str) -> String {
    let result = (|| -> Result<Json> {
        let req: Json = serde_json::from_str(line.trim())
            .map_err(|e| Error::Protocol(format!("bad request: {e}")))?;
        let name = req
            .get("name")
            .and_then(Json::as_str)
            .ok_or_else(|| Error::Protocol("request has no name".into()))?;
        match req.get("op").and_then(Json::as_str) {
            Some("call") => {
                let args = match req.get("args") {
                    None | Some(Json::Null) => Vec::new(),
                    Some(Json::Array(a)) => a.iter().map(from_json).collect::<Result<_>>()?,
                    Some(other) => return Err(Error::Protocol(format!("bad args {other}"))),
                };
                api.call(name, &args)?;
                Ok(Json::Null)
            }
            Some("get") => Ok(to_json(&api.get(name)?)),
            other => Err(Error::Protocol(format!("unknown op {other:?}"))),
        }
    })();
    match result {
        Ok(value) => json!({"ok": true, "value": value}).to_string(),
        Err(e) => json!({"ok": false, "code": e.code(), "message": e.to_string()}).to_string(),
    }
}

/// Serve the bridge on one stream, with `api` shared between connections.
pub async fn serve<A, S>(api: Arc<Mutex<A>>, stream: S)
where
    A: Bpos1Api + Send,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (reader, mut writer) = tokio::io::split(stream);
    let mut lines = tokio::io::BufReader::new(reader).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim().is_empty() {
            continue;
        }
        let reply = answer(&mut *lock(&api), &line);
        if reply.contains("\"code\":\"transport.link_lost\"") {
            // The terminal's link went: the ECR gets no answer at all.
            let _ = writer.shutdown().await;
            return;
        }
        if writer
            .write_all(format!("{reply}\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

/// The shared object; a panic that poisoned it is passed on (an emulator in an
/// unknown state must not go on answering).
fn lock<A>(api: &Mutex<A>) -> std::sync::MutexGuard<'_, A> {
    api.lock()
        .expect("the B-POS1 API object was poisoned by a panic")
}

/// How often the server lets the emulated terminal's clock run.
pub const TICK: Duration = Duration::from_millis(10);

/// Let the object's clock run every [`TICK`] until the task is aborted.
fn spawn_ticker<A: Bpos1Api + Send>(api: &Arc<Mutex<A>>) -> tokio::task::JoinHandle<()> {
    let api = Arc::clone(api);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            lock(&api).tick();
        }
    })
}

/// Serve the bridge on a TCP listener for ever, with the object's clock
/// ticking every [`TICK`].
pub async fn serve_tcp<A: Bpos1Api + Send>(api: Arc<Mutex<A>>, listener: tokio::net::TcpListener) {
    let ticker = spawn_ticker(&api);
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(serve(Arc::clone(&api), stream));
    }
    ticker.abort();
}

/// Serve the bridge on one serial line (a pty master) with the clock
/// ticking, until the line closes. A serial line has no connections: after
/// a scripted link drop the same line goes on being served.
pub async fn serve_line<A, S>(api: Arc<Mutex<A>>, stream: S)
where
    A: Bpos1Api + Send,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let ticker = spawn_ticker(&api);
    serve(api, stream).await;
    ticker.abort();
}

/// The client side: a [`Bpos1Api`] whose object lives behind the bridge.
/// Blocking I/O: it runs on the driver's API thread.
#[derive(Debug)]
pub struct Bpos1Bridge {
    address: String,
    timeout: Duration,
    conn: Option<(BufReader<TcpStream>, TcpStream)>,
}

impl Bpos1Bridge {
    /// A client for the bridge at `address` (connects on first use).
    pub fn new(address: &str, timeout: Duration) -> Self {
        Self {
            address: address.into(),
            timeout,
            conn: None,
        }
    }

    fn exchange(&mut self, request: &Json) -> Result<Json> {
        if self.conn.is_none() {
            let stream = TcpStream::connect(&self.address)?;
            stream.set_read_timeout(Some(self.timeout))?;
            stream.set_nodelay(true)?;
            let reader = BufReader::new(stream.try_clone()?);
            self.conn = Some((reader, stream));
        }
        let result = (|| -> Result<Json> {
            let Some((reader, writer)) = self.conn.as_mut() else {
                return Err(Error::LinkLost("not connected".into()));
            };
            writer.write_all(format!("{request}\n").as_bytes())?;
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Err(Error::LinkLost("bridge closed".into()));
            }
            serde_json::from_str(&line).map_err(|e| Error::Protocol(format!("bad answer: {e}")))
        })();
        let answer = match result {
            Ok(a) => a,
            Err(e) => {
                self.conn = None;
                return Err(match e {
                    Error::Transport(io) => Error::LinkLost(io.to_string()),
                    other => other,
                });
            }
        };
        if answer.get("ok").and_then(Json::as_bool) == Some(true) {
            return Ok(answer.get("value").cloned().unwrap_or(Json::Null));
        }
        let text = |k: &str| {
            answer
                .get(k)
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Err(error_from(&text("code"), &text("message")))
    }
}

impl Bpos1Api for Bpos1Bridge {
    fn call(&mut self, method: &str, args: &[Value]) -> Result<()> {
        let args: Vec<Json> = args.iter().map(to_json).collect();
        self.exchange(&json!({"op": "call", "name": method, "args": args}))
            .map(|_| ())
    }

    fn get(&mut self, property: &str) -> Result<Value> {
        from_json(&self.exchange(&json!({"op": "get", "name": property}))?)
    }
}
