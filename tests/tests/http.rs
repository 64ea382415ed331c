//! The HTTP API of `kasa serve` in front of the engine: a client that goes
//! away changes nothing (the sale ends done with its receipt and a new
//! client sees it), the same key is the same operation however often and
//! whenever it is sent, and every failure is a JSON `{code, message}`.

use std::time::Duration;

use serde_json::{json, Value};
use testkit::http::Api;
use testkit::{key, Rig, RigOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn post(api: &Api, name: &str, body: Value) -> anyhow::Result<(u16, Value)> {
    api.post(name, body).await
}

/// Send a sale over a raw socket and close it after `after`.
async fn sale_then_hang_up(api: &Api, key: &str, after: Duration) -> anyhow::Result<()> {
    let addr = api.url.trim_start_matches("http://");
    let cookie = api.cookie.clone().unwrap_or_default();
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let body = json!({ "key": key, "amount": 2500 }).to_string();
    let req = format!(
        "POST /api/cmd/sale HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await?;
    if !after.is_zero() {
        let mut buf = [0u8; 64];
        let _ = tokio::time::timeout(after, s.read(&mut buf)).await;
    }
    drop(s);
    Ok(())
}

/// A new client asks what became of `key` until it is settled; the first
/// client's request must have started it.
async fn settled(url: &Api, key: &str) -> anyhow::Result<Value> {
    let end = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, v) = post(url, "by_key", json!({ "key": key })).await?;
        anyhow::ensure!(status == 200, "{v}");
        let op = &v["operation"];
        if !op.is_null() && op["state"] != "running" {
            return Ok(op.clone());
        }
        anyhow::ensure!(
            std::time::Instant::now() < end,
            "the sale {key} did not settle (or never started): {v}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_client_that_hangs_up_changes_nothing() -> anyhow::Result<()> {
    let rig = Rig::with(RigOptions {
        step: Duration::from_millis(30),
        ..RigOptions::default()
    })
    .await?;
    let url = Api::login(&rig.serve().await?, "cashier").await?;
    for ms in [0u64, 10, 60, 120, 200] {
        let k = key();
        sale_then_hang_up(&url, &k, Duration::from_millis(ms)).await?;
        let op = settled(&url, &k).await?;
        assert_eq!(op["state"], "done", "hung up after {ms} ms: {op}");
        let rrn = op["payments"][0]["card"]["rrn"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert_eq!(rig.receipts_with(&rrn), 1, "one receipt for {rrn}");
    }
    Ok(())
}

#[tokio::test]
async fn the_same_key_is_one_operation() -> anyhow::Result<()> {
    let rig = Rig::with(RigOptions {
        step: Duration::from_millis(20),
        ..RigOptions::default()
    })
    .await?;
    let url = Api::login(&rig.serve().await?, "cashier").await?;
    let k = key();
    let body = json!({ "key": k, "amount": 4200 });
    // Twice at once, while the first runs, then again after it finished.
    let (a, b) = tokio::join!(
        post(&url, "sale", body.clone()),
        post(&url, "sale", body.clone())
    );
    let (a, b) = (a?, b?);
    let (c_status, c) = post(&url, "sale", body.clone()).await?;
    for (status, v) in [&a, &b, &(c_status, c.clone())] {
        assert_eq!(*status, 200, "a busy refusal does not pass: {v}");
        assert_eq!(v["state"], "done", "{v}");
        assert_eq!(v["id"], a.1["id"], "the same operation");
        assert_eq!(
            v["payments"][0]["card"]["rrn"],
            a.1["payments"][0]["card"]["rrn"]
        );
        assert_eq!(v["documents"][0]["number"], a.1["documents"][0]["number"]);
    }
    let rrn = a.1["payments"][0]["card"]["rrn"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(rig.receipts_with(&rrn), 1, "printed once");
    assert_eq!(
        rig.fiscal.emulator().counters().day_paid,
        [0, 4200],
        "charged once, paid once on the register"
    );
    // The key reused for another request is refused.
    let (status, v) = post(&url, "sale", json!({ "key": k, "amount": 4300 })).await?;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["code"], "key_reused");
    Ok(())
}

#[tokio::test]
async fn bad_input_is_refused_with_a_json_error_and_nothing_written() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let base = rig.serve().await?;
    let url = Api::login(&base, "cashier").await?;
    for (body, code) in [
        (json!({ "key": key(), "amount": 1e3 }), "invalid_amount"),
        (json!({ "key": key(), "amount": 12.5 }), "invalid_amount"),
        (json!({ "key": key(), "amount": "12.50" }), "invalid_amount"),
        (json!({ "key": key(), "amount": -5 }), "invalid_amount"),
        (
            json!({ "key": key(), "amount": 1_000_000_000_000_000i64 }),
            "invalid_amount",
        ),
        (
            json!({ "key": key(), "amount": 100, "tip": 1 }),
            "invalid_request",
        ),
        (json!({ "key": "", "amount": 100 }), "invalid_request"),
        (
            json!({ "key": "x".repeat(3000), "amount": 100 }),
            "invalid_request",
        ),
        (json!({ "amount": 100 }), "invalid_request"),
    ] {
        let (status, v) = post(&url, "sale", body.clone()).await?;
        assert_eq!(status, 400, "{body}: {v}");
        assert_eq!(v["code"], code, "{body}: {v}");
    }
    assert_eq!(
        rig.engine.journal().count_operations()?,
        0,
        "nothing written"
    );
    let client = reqwest::Client::new();
    let r = client.get(format!("{base}/api/cmd/sale")).send().await?;
    assert_eq!(r.status().as_u16(), 405);
    let v: Value = r.json().await?;
    assert!(v["code"].is_string(), "{v}");
    for r in [
        client.get(format!("{base}/api/typo")).send().await?,
        url.client_post("/api/typo").json(&json!({})).send().await?,
    ] {
        assert_eq!(r.status().as_u16(), 404);
        let v: Value = r.json().await?;
        assert_eq!(v["code"], "unknown_command", "a JSON error, not the page");
    }
    let (status, v) = post(&url, "no_such_command", json!({})).await?;
    assert_eq!((status, v["code"].clone()), (404, json!("unknown_command")));
    let big = "x".repeat(100 * 1024);
    let r = url
        .request("sale")
        .header("content-type", "application/json")
        .body(format!("{{\"key\":\"{big}\"}}"))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 413);
    let v: Value = r.json().await?;
    assert_eq!(v["code"], "too_large");
    Ok(())
}
