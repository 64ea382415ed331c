//! The card sale through the HTTP API of `kasa serve`, over a real loopback
//! socket: bad input refused with a stable code and nothing journalled; a good
//! sale approved and printed, with progress streamed as server-sent events.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use checkout::setup::{start_demo, DemoOptions, Running};
use futures::StreamExt;

async fn serve(dir: &std::path::Path) -> anyhow::Result<(Running, String)> {
    let running = start_demo(
        dir,
        DemoOptions {
            step: Duration::from_millis(20),
        },
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app = checkout::server::router(Arc::clone(&running.checkout), None);
    tokio::spawn(async move { axum_serve(listener, app).await });
    Ok((running, url))
}

async fn axum_serve(listener: tokio::net::TcpListener, app: checkout::server::Router) {
    let _ = checkout::server::serve_on(listener, app).await;
}

#[tokio::test]
async fn bad_input_is_refused_with_a_code_and_writes_nothing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (running, url) = serve(dir.path()).await?;
    let http = reqwest::Client::new();
    let bodies = [
        r#"{"amount":""}"#,
        r#"{"amount":"abc"}"#,
        r#"{"amount":"-5"}"#,
        r#"{"amount":"0"}"#,
        r#"{"amount":"10000000.01"}"#,
        r#"{"amount":"1.234"}"#,
        r#"{"amount":1.234}"#,
        r#"{"amount":-5}"#,
        r#"{}"#,
    ];
    for body in bodies {
        let resp = http
            .post(format!("{url}/api/sales/card"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        assert_eq!(resp.status(), 400, "{body} is refused");
        let err: serde_json::Value = resp.json().await?;
        assert_eq!(
            err["code"], "invalid_amount",
            "{body} gives invalid_amount: {err}"
        );
        assert!(
            err["message"].as_str().is_some_and(|m| !m.is_empty()),
            "a message explains {body}"
        );
    }
    for body in [
        "",
        "not json",
        &format!(r#"{{"amount":"{}"}}"#, "1".repeat(20_000)),
    ] {
        let resp = http
            .post(format!("{url}/api/sales/card"))
            .body(body.to_string())
            .send()
            .await?;
        assert!(
            resp.status().is_client_error(),
            "a malformed body is refused"
        );
    }
    assert_eq!(
        running.checkout.journal().count_sales()?,
        0,
        "refused input writes nothing"
    );
    Ok(())
}

#[tokio::test]
async fn a_card_sale_over_http_streams_progress_and_returns_the_card_data() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (running, url) = serve(dir.path()).await?;
    let http = reqwest::Client::new();

    let info: serde_json::Value = http
        .get(format!("{url}/api/info"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(info["mode"], "demo");

    let events = http.get(format!("{url}/api/events")).send().await?;
    assert_eq!(
        events
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let mut stream = events.bytes_stream();

    let sale = tokio::spawn({
        let http = http.clone();
        let url = url.clone();
        async move {
            http.post(format!("{url}/api/sales/card"))
                .json(&serde_json::json!({"amount": "12.50"}))
                .send()
                .await?
                .json::<serde_json::Value>()
                .await
        }
    });

    let mut seen = String::new();
    while !seen.contains(r#""state":"done""#) {
        let chunk = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .context("no event within 30 s")?
            .context("the event stream ended")??;
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        seen.contains(r#""type":"progress""#),
        "progress events are streamed: {seen}"
    );

    let result = sale.await??;
    assert_eq!(result["state"], "done", "{result}");
    assert_eq!(result["amount"], 1250);
    let rrn = result["card"]["rrn"].as_str().context("an RRN")?;
    assert_eq!(rrn.len(), 12);
    assert!(result["fiscal_number"].as_i64().is_some());
    assert_eq!(running.checkout.journal().count_sales()?, 1);

    // Demo mode shows what the emulated register printed.
    let tape: serde_json::Value = http
        .get(format!("{url}/api/tape?last=1"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(tape["available"], true);
    let receipt = tape["documents"][0]
        .as_str()
        .context("one printed document")?;
    assert!(
        receipt.contains(rrn),
        "the receipt on the tape carries the RRN {rrn}: {receipt}"
    );
    Ok(())
}
