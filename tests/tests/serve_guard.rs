//! Only the shop's own page drives `kasa serve`, tried over a real TCP
//! socket: a form or script on another site, a rebound host name and a
//! `text/plain` body are refused before anything runs; nobody logged in
//! reads or changes nothing; a slow client is cut off; every failure is a
//! JSON error and every answer carries the page's protections.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::http::Api;
use testkit::{key, Rig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Send `raw` on a fresh connection and read the answer until the server
/// closes it or `wait` passes: the status line's code and the whole text.
async fn raw(url: &str, raw: &str, wait: Duration) -> anyhow::Result<(u16, String)> {
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(raw.as_bytes()).await?;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).to_string();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, text))
}

fn body_of(text: &str) -> Value {
    text.split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null)
}

/// A request that would start a card sale, with these extra headers.
fn sale_request(host: &str, headers: &str, content_type: &str) -> String {
    let body = json!({ "key": key(), "amount": 30000 }).to_string();
    format!(
        "POST /api/cmd/sale HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn another_site_cannot_charge_a_card_or_read_the_tape() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let url = rig.serve().await?;
    let cashier = Api::login(&url, "cashier").await?;
    let cookie = format!("Cookie: {}\r\n", cashier.cookie.clone().unwrap_or_default());
    let host = url.trim_start_matches("http://").to_string();
    let wait = Duration::from_secs(5);

    // A form on another site (the browser sends the cashier's cookie unless
    // SameSite stops it; here it is sent, so the Origin check must hold).
    for (headers, ctype, status) in [
        (
            format!("{cookie}Origin: http://evil.example\r\n"),
            "text/plain",
            403,
        ),
        (
            format!("{cookie}Origin: http://evil.example\r\n"),
            "application/json",
            403,
        ),
        (
            format!("{cookie}Origin: null\r\n"),
            "application/x-www-form-urlencoded",
            403,
        ),
        (
            format!("{cookie}Sec-Fetch-Site: cross-site\r\n"),
            "application/json",
            403,
        ),
        // The shop's own page, but not JSON: a simple request a form can send.
        (
            format!("{cookie}Origin: {url}\r\n"),
            "text/plain;charset=UTF-8",
            415,
        ),
    ] {
        let (code, text) = raw(&url, &sale_request(&host, &headers, ctype), wait).await?;
        assert_eq!(code, status, "{headers}{ctype}: {text}");
        let v = body_of(&text);
        assert!(v["code"].is_string(), "a JSON error: {text}");
    }

    // DNS rebinding: a page of evil.example whose name now points at
    // 127.0.0.1 sends its own Host; reading and writing are refused, and so
    // is the page itself.
    for req in [
        sale_request("evil.example:8640", &cookie, "application/json"),
        format!(
            "GET /api/events HTTP/1.1\r\nHost: evil.example\r\n{cookie}Connection: close\r\n\r\n"
        ),
        "GET / HTTP/1.1\r\nHost: 127.0.0.1.evil.example\r\nConnection: close\r\n\r\n".to_string(),
    ] {
        let (code, text) = raw(&url, &req, wait).await?;
        assert_eq!(code, 403, "{req}: {text}");
        assert_eq!(body_of(&text)["code"], "not_allowed", "{text}");
    }

    assert_eq!(rig.engine.journal().count_operations()?, 0, "nothing ran");
    assert_eq!(
        rig.fiscal.emulator().counters().fiscal_receipts,
        0,
        "no receipt printed"
    );

    // The same request from the shop's own page goes through.
    let (status, v) = cashier
        .post("sale", json!({ "key": key(), "amount": 30000 }))
        .await?;
    assert_eq!((status, v["state"].clone()), (200, json!("done")), "{v}");
    assert_eq!(rig.fiscal.emulator().counters().fiscal_receipts, 1);
    Ok(())
}

#[tokio::test]
async fn nobody_logged_in_reads_and_changes_nothing() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let url = rig.serve().await?;
    let nobody = Api::anonymous(&url);
    for (name, body) in [
        ("sale", json!({ "key": key(), "amount": 100 })),
        ("receipt_tape", json!({})),
        ("current", json!({})),
        ("unresolved", json!({})),
    ] {
        let (status, v) = nobody.post(name, body).await?;
        assert_eq!((status, v["code"].clone()), (401, json!("login_required")));
    }
    // A made-up session is nobody.
    let mut forged = Api::anonymous(&url);
    forged.cookie = Some("kasa_session=00112233445566778899aabbccddeeff".into());
    let (status, _) = forged.post("receipt_tape", json!({})).await?;
    assert_eq!(status, 401);
    let r = reqwest::get(format!("{url}/api/events")).await?;
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(rig.engine.journal().count_operations()?, 0);

    // The login's cookie is one a script cannot read nor another site send.
    let (status, options) = nobody.post("login_options", json!({})).await?;
    assert_eq!(status, 200);
    let user = options["training"][0]["user"].as_i64().unwrap_or_default();
    let pin = options["training"][0]["pin"].as_str().unwrap_or_default();
    let r = nobody
        .request("login")
        .json(&json!({ "user": user, "pin": pin }))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|c| c.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");

    // Logged out, the old cookie opens nothing.
    let cashier = Api::login(&url, "cashier").await?;
    let (status, _) = cashier.post("current", json!({})).await?;
    assert_eq!(status, 200);
    let (status, _) = cashier.post("logout", json!({})).await?;
    assert_eq!(status, 200);
    let (status, v) = cashier.post("current", json!({})).await?;
    assert_eq!((status, v["code"].clone()), (401, json!("login_required")));
    Ok(())
}

#[tokio::test]
async fn a_slow_client_is_cut_off() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let url = rig
        .serve_with(checkout::server::ServeOptions {
            header_timeout: Duration::from_millis(400),
            body_timeout: Duration::from_millis(400),
            ..Default::default()
        })
        .await?;
    let host = url.trim_start_matches("http://").to_string();

    // Headers that never end: the connection is closed.
    let started = Instant::now();
    let addr = host.clone();
    let mut s = tokio::net::TcpStream::connect(&addr).await?;
    s.write_all(format!("GET / HTTP/1.1\r\nHost: {host}\r\nX-Slow: ").as_bytes())
        .await?;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "the server still holds the connection after 5 s"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "cut off too soon: {took:?}"
    );

    // A body that never comes: a JSON 408.
    let cashier = Api::login(&url, "cashier").await?;
    let cookie = cashier.cookie.clone().unwrap_or_default();
    let req = format!(
        "POST /api/cmd/sale HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nOrigin: {url}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"key\":"
    );
    let (code, text) = raw(&url, &req, Duration::from_secs(5)).await?;
    assert_eq!(code, 408, "{text}");
    assert!(body_of(&text)["code"].is_string(), "{text}");
    assert_eq!(rig.engine.journal().count_operations()?, 0);
    Ok(())
}

#[tokio::test]
async fn every_failure_is_json_and_every_answer_is_guarded() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let url = rig.serve().await?;
    let cashier = Api::login(&url, "cashier").await?;
    let client = reqwest::Client::new();
    let checks = [
        (client.get(format!("{url}/api/typo")).send().await?, 404),
        (client.get(format!("{url}/api/cmd/sale")).send().await?, 405),
        (
            cashier
                .request("sale")
                .header("content-type", "application/json")
                .body(vec![b' '; 200 * 1024])
                .send()
                .await?,
            413,
        ),
        // The rig serves no built UI: the page's fallback, guarded the same.
        (client.get(format!("{url}/")).send().await?, 404),
    ];
    for (r, status) in checks {
        assert_eq!(r.status().as_u16(), status, "{}", r.url());
        let h = r.headers();
        assert_eq!(
            h.get("x-frame-options").and_then(|v| v.to_str().ok()),
            Some("DENY")
        );
        let csp = h
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        if r.url().path().starts_with("/api/") {
            let v: Value = r.json().await?;
            assert!(v["code"].is_string() && v["message"].is_string(), "{v}");
        }
    }
    Ok(())
}

#[test]
fn serving_beyond_loopback_warns() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut cmd = std::process::Command::new(testkit::process::kasa_bin()?);
    cmd.args(["serve", "--addr", "0.0.0.0:0"])
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--config")
        .arg(dir.path().join("kasa.json"))
        .env("KASA_LOG", "warn");
    let mut proc = testkit::process::Proc::spawn(cmd)?;
    let serving = proc.stdout.wait(Duration::from_secs(60), |l| {
        l.contains("serving on http://")
    });
    assert!(serving.is_some(), "{}", proc.tail());
    let warning = proc
        .stderr
        .wait(Duration::from_secs(5), |l| l.starts_with("WARNING"));
    assert!(
        warning.as_deref().is_some_and(|w| w.contains("0.0.0.0")),
        "no warning for 0.0.0.0: {}",
        proc.tail()
    );
    proc.kill();

    // On loopback, no warning.
    let mut cmd = std::process::Command::new(testkit::process::kasa_bin()?);
    cmd.args(["serve", "--addr", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--config")
        .arg(dir.path().join("kasa.json"))
        .env("KASA_LOG", "warn");
    let mut proc = testkit::process::Proc::spawn(cmd)?;
    assert!(proc
        .stdout
        .wait(Duration::from_secs(60), |l| l
            .contains("serving on http://"))
        .is_some());
    assert!(
        !proc.stderr.all().iter().any(|l| l.starts_with("WARNING")),
        "{}",
        proc.tail()
    );
    proc.kill();
    Ok(())
}
