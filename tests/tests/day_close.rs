//! The day close as Kasa runs it in a shop: `kasa serve` as its own process
//! against each terminal protocol's emulator process and the Datecs
//! emulator. A clean day closes with no difference; a day close killed with
//! SIGKILL before and after each of its steps resumes after the restart and
//! ends with the terminal's batch settled once and one Z on the register's
//! tape; a terminal that is off at the day close does not hold the Z back,
//! its settlement is pending and runs once the terminal is back.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use testkit::process::{emulate_name, settings, Emulator, Kasa};

const PROTOCOLS: [&str; 3] = ["privatbank", "ingenico-web", "bpos1-bridge"];

fn key(tag: &str) -> String {
    format!("day-{tag}-{}-{}", std::process::id(), rand_tail())
}

fn rand_tail() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

struct Shop {
    dir: tempfile::TempDir,
    data: std::path::PathBuf,
    config: std::path::PathBuf,
    terminal: Emulator,
    fiscal: Emulator,
}

fn shop(protocol: &str) -> anyhow::Result<Shop> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let terminal = Emulator::terminal(
        emulate_name(protocol),
        dir.path(),
        &["--confirm-timeout-ms", "600000"],
    )?;
    let fiscal = Emulator::fiscal(dir.path(), &[])?;
    let extra = if protocol == "bpos1-bridge" {
        json!({ "explicit_confirm": true })
    } else {
        json!({})
    };
    let config = settings(dir.path(), protocol, &terminal, &fiscal, extra)?;
    Ok(Shop {
        dir,
        data,
        config,
        terminal,
        fiscal,
    })
}

/// A day's trade: two card sales, a cash sale, and a refund where the
/// protocol has one.
async fn trade(kasa: &Kasa, protocol: &str) -> anyhow::Result<()> {
    let card = |amount: i64| {
        json!({ "key": key("card"), "amount": amount,
                "payments": [{ "method": "card", "amount": amount }] })
    };
    let first = kasa.ok("sale", card(4_200)).await?;
    anyhow::ensure!(first["state"] == "done", "{first}");
    let second = kasa.ok("sale", card(1_999)).await?;
    anyhow::ensure!(second["state"] == "done", "{second}");
    let cash = kasa
        .ok(
            "sale",
            json!({ "key": key("cash"), "amount": 1_000,
                    "payments": [{ "method": "cash", "amount": 1_000 }] }),
        )
        .await?;
    anyhow::ensure!(cash["state"] == "done", "{cash}");
    if protocol != "ingenico-web" {
        let rrn = first["payments"][0]["card"]["rrn"].as_str().unwrap_or("");
        let refund = kasa
            .ok(
                "refund",
                json!({ "key": key("refund"), "rrn": rrn, "amount": 700 }),
            )
            .await?;
        anyhow::ensure!(refund["state"] == "done", "{refund}");
    }
    Ok(())
}

fn batch(state: &Path) -> anyhow::Result<u32> {
    let books = terminal::emulator::load_books(state)?;
    Ok(books.batches.values().copied().max().unwrap_or(1))
}

fn z_reports(fiscal: &Emulator) -> usize {
    fiscal
        .documents()
        .iter()
        .filter(|d| d.starts_with("Z-ЗВІТ"))
        .count()
}

async fn reconciliation(kasa: &Kasa, close: &Value) -> anyhow::Result<Value> {
    let report = kasa
        .ok(
            "day_report",
            json!({ "business_day": close["business_day"] }),
        )
        .await?;
    report["shifts"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["close_operation"] == close["id"]))
        .map(|s| s["reconciliation"].clone())
        .ok_or_else(|| anyhow::anyhow!("no shift closed by {}: {report}", close["id"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_day_closes_on_each_protocol() -> anyhow::Result<()> {
    for protocol in PROTOCOLS {
        let s = shop(protocol)?;
        let kasa = Kasa::start(&s.data, &s.config, None)?;
        trade(&kasa, protocol).await?;
        let before = batch(&s.terminal.state)?;
        let close = kasa.ok("day_close", json!({ "key": key("close") })).await?;
        anyhow::ensure!(close["state"] == "done", "{protocol}: {close}");
        anyhow::ensure!(z_reports(&s.fiscal) == 1, "{protocol}: one Z");
        anyhow::ensure!(
            batch(&s.terminal.state)? == before + 1,
            "{protocol}: the batch settled once"
        );
        let r = reconciliation(&kasa, &close).await?;
        let differences: Vec<&Value> = r["differences"]
            .as_array()
            .map(|d| d.iter().collect())
            .unwrap_or_default();
        anyhow::ensure!(differences.is_empty(), "{protocol}: {r:#}");
        // A protocol with no batch totals says so, apart from differences.
        let unchecked: Vec<&str> = r["unchecked"]
            .as_array()
            .map(|d| d.iter().filter_map(|d| d["kind"].as_str()).collect())
            .unwrap_or_default();
        let want: &[&str] = if protocol == "ingenico-web" {
            &["terminal_totals_unavailable"]
        } else {
            &[]
        };
        anyhow::ensure!(unchecked == want, "{protocol}: {r:#}");
        let card = r["rows"]
            .as_array()
            .and_then(|rows| {
                rows.iter()
                    .find(|row| row["method"] == "card" && !row["merchant"].is_null())
            })
            .cloned()
            .unwrap_or(Value::Null);
        anyhow::ensure!(card["journal"]["sales"] == 6_199, "{protocol}: {r:#}");
        anyhow::ensure!(card["fiscal"]["sales"] == 6_199, "{protocol}: {r:#}");
        if protocol == "privatbank" {
            // Merchant 0 is "all merchants" to the terminal: its totals sit
            // on the register-wide card row.
            let terminal = r["rows"]
                .as_array()
                .and_then(|rows| {
                    rows.iter()
                        .find(|row| row["method"] == "card" && !row["terminal"].is_null())
                })
                .map(|row| row["terminal"].clone())
                .unwrap_or(Value::Null);
            anyhow::ensure!(terminal["sales"] == 6_199, "{protocol}: {r:#}");
            anyhow::ensure!(terminal["returns"] == 700, "{protocol}: {r:#}");
        }
        let status = kasa.ok("day_status", json!({})).await?;
        anyhow::ensure!(status["shift"].is_null(), "{protocol}: {status}");
        println!("{protocol}: clean day closed, differences: none, unchecked: {unchecked:?}");
        drop(s.dir);
    }
    Ok(())
}

/// The day close's crash points, each step before and after.
const POINTS: [&str; 8] = [
    "survey:before",
    "survey:after",
    "settle:before",
    "settle:after",
    "z:before",
    "z:after",
    "reconcile:before",
    "reconcile:after",
];

async fn killed_day_close(protocol: &str) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for point in POINTS {
        let run = async {
            let s = shop(protocol)?;
            {
                let kasa = Kasa::start(&s.data, &s.config, None)?;
                trade(&kasa, protocol).await?;
            }
            let before = batch(&s.terminal.state)?;
            let close_key = key("close");
            let mut kasa = Kasa::start(&s.data, &s.config, Some(point))?;
            kasa.fire("day_close", json!({ "key": close_key }));
            anyhow::ensure!(
                kasa.wait_failpoint(Duration::from_secs(30)).is_some(),
                "{point} never reached:\n{}",
                kasa.proc.tail()
            );
            kasa.proc.kill();
            let kasa = Kasa::start(&s.data, &s.config, None)?;
            let view = kasa.settled(&close_key, Duration::from_secs(30)).await?;
            anyhow::ensure!(view["state"] == "done", "{view}");
            anyhow::ensure!(
                z_reports(&s.fiscal) == 1,
                "Z printed {} times",
                z_reports(&s.fiscal)
            );
            anyhow::ensure!(
                batch(&s.terminal.state)? == before + 1,
                "batch {} → {}",
                before,
                batch(&s.terminal.state)?
            );
            let days = kasa.ok("days", json!({})).await?;
            let closes = days["days"]
                .as_array()
                .map(|d| d.iter().filter(|d| !d["closed_at"].is_null()).count())
                .unwrap_or(0);
            anyhow::ensure!(closes <= 1, "{days}");
            let unresolved = kasa.ok("unresolved", json!({})).await?;
            anyhow::ensure!(
                unresolved["operations"]
                    .as_array()
                    .is_some_and(Vec::is_empty),
                "{unresolved}"
            );
            Ok::<(), anyhow::Error>(())
        };
        if let Err(e) = run.await {
            failures.push(format!("{protocol} killed at {point}: {e:#}"));
        }
    }
    println!(
        "{protocol}: day close killed at {} points, {} failed",
        POINTS.len(),
        failures.len()
    );
    anyhow::ensure!(failures.is_empty(), "{}", failures.join("\n\n"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_day_close_resumes_privatbank() -> anyhow::Result<()> {
    killed_day_close("privatbank").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_day_close_resumes_ingenico_web() -> anyhow::Result<()> {
    killed_day_close("ingenico-web").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_day_close_resumes_bpos1_bridge() -> anyhow::Result<()> {
    killed_day_close("bpos1-bridge").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_that_is_off_does_not_hold_the_z_back() -> anyhow::Result<()> {
    let mut s = shop("privatbank")?;
    let kasa = Kasa::start(&s.data, &s.config, None)?;
    trade(&kasa, "privatbank").await?;
    let before = batch(&s.terminal.state)?;
    // The terminal is switched off.
    s.terminal.proc.kill();
    let close = kasa.ok("day_close", json!({ "key": key("close") })).await?;
    anyhow::ensure!(close["state"] == "done", "{close}");
    anyhow::ensure!(z_reports(&s.fiscal) == 1, "the Z is printed");
    let status = kasa.ok("day_status", json!({})).await?;
    let pending = status["pending_settlements"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    anyhow::ensure!(
        pending.len() == 1 && pending[0]["state"] == "pending",
        "{status}"
    );
    let r = reconciliation(&kasa, &close).await?;
    anyhow::ensure!(
        r["unchecked"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["kind"] == "settlement_pending")),
        "{r:#}"
    );
    // Back on, on the same address with the same books.
    let address = s.terminal.address.clone();
    s.terminal = Emulator::terminal_on(
        "privatbank",
        s.dir.path(),
        &address,
        &["--confirm-timeout-ms", "600000"],
    )?;
    anyhow::ensure!(s.terminal.address == address, "{}", s.terminal.address);
    let settled = kasa
        .ok("settle_pending", json!({ "key": key("settle") }))
        .await?;
    anyhow::ensure!(
        settled["settlements"].as_array().is_some_and(Vec::is_empty),
        "nothing left pending: {settled}"
    );
    anyhow::ensure!(batch(&s.terminal.state)? == before + 1, "settled once");
    let status = kasa.ok("day_status", json!({})).await?;
    anyhow::ensure!(
        status["pending_settlements"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "{status}"
    );
    Ok(())
}

/// Write the shop's merchants into its kasa.json (indexes as on the
/// terminal, 1 and 2: two taxpayers' batches on one terminal).
fn two_merchants(config: &Path) -> anyhow::Result<()> {
    let mut s: Value = serde_json::from_slice(&std::fs::read(config)?)?;
    s["merchants"] = json!([
        { "index": 1, "name": "ФОП Каса 1", "terminal_id": "KASA0001", "merchant_id": "S1KASA01" },
        { "index": 2, "name": "ФОП Каса 2", "terminal_id": "KASA0002", "merchant_id": "S1KASA02" },
    ]);
    std::fs::write(config, serde_json::to_vec_pretty(&s)?)?;
    Ok(())
}

fn differences_of(r: &Value, kind: &str) -> Vec<Value> {
    r["differences"]
        .as_array()
        .map(|d| d.iter().filter(|d| d["kind"] == kind).cloned().collect())
        .unwrap_or_default()
}

/// The devices are made to disagree with the journal while Kasa is
/// stopped: a card charged on the terminal by its own driver, a receipt
/// printed on the register by its own driver, a payment's amount edited in
/// the journal; and a second merchant trades. The day close names each.
async fn disagreement(protocol: &str) -> anyhow::Result<()> {
    let s = shop(protocol)?;
    let merchants = protocol != "ingenico-web";
    if merchants {
        two_merchants(&s.config)?;
    }
    let card = |amount: i64| {
        json!({ "key": key("card"), "amount": amount,
                "payments": [{ "method": "card", "amount": amount }] })
    };
    let (kept, edited) = {
        let kasa = Kasa::start(&s.data, &s.config, None)?;
        let kept = kasa.ok("sale", card(4_200)).await?;
        let edited = kasa.ok("sale", card(1_999)).await?;
        if merchants {
            let mut second = card(3_000);
            second["merchant"] = json!(2);
            let second = kasa.ok("sale", second).await?;
            anyhow::ensure!(second["state"] == "done", "{second}");
        }
        for op in [&kept, &edited] {
            anyhow::ensure!(op["state"] == "done", "{op}");
        }
        (kept, edited)
    };
    // Kasa is stopped: its journal edited...
    {
        let db = rusqlite::Connection::open(s.data.join("journal.sqlite"))?;
        let id = edited["id"].as_i64().unwrap_or_default();
        db.execute(
            "UPDATE payments SET requested = 2500, approved = 2500 WHERE operation_id = ?1",
            [id],
        )?;
        db.execute("UPDATE operations SET total = 2500 WHERE id = ?1", [id])?;
    }
    // ...a receipt printed on the register directly...
    let settings = checkout::settings::Settings::load(&s.config)?;
    let register = fiscal::ReconnectingRegister::new(
        settings.fiscal.as_ref().expect("fiscal").driver_config()?,
    );
    let stray =
        fiscal::FiscalRegister::print_sale(&register, &testkit::stray_receipt(4_400)).await?;
    drop(register);
    // ...and a card charged on the terminal directly.
    let t = terminal::connect(settings.terminal.as_ref().expect("terminal")).await?;
    let outside = t
        .purchase(
            terminal::PurchaseRequest {
                amount: 3_300,
                merchant: 1,
            },
            terminal::discard_progress(),
        )
        .await?;
    let terminal::CardOutcome::Approved(outside) = outside else {
        anyhow::bail!("{outside:?}")
    };
    if t.confirm_mode() == terminal::ConfirmMode::Explicit {
        t.confirm().await?;
    }
    drop(t);

    let kasa = Kasa::start(&s.data, &s.config, None)?;
    let close = kasa.ok("day_close", json!({ "key": key("close") })).await?;
    anyhow::ensure!(close["state"] == "done", "{protocol}: {close}");
    let r = reconciliation(&kasa, &close).await?;
    let ctx = || format!("{protocol}: {r:#}");

    let card = differences_of(&r, "card_payment_without_receipt");
    anyhow::ensure!(
        card.iter().any(|d| d["rrn"] == json!(outside.rrn)),
        "the outside charge {}: {}",
        outside.rrn,
        ctx()
    );
    let stray_d = differences_of(&r, "receipt_without_payment");
    anyhow::ensure!(
        stray_d.iter().any(|d| d["receipt"] == json!(stray.number)),
        "the stray receipt {}: {}",
        stray.number,
        ctx()
    );
    let amount = differences_of(&r, "amount_differs");
    anyhow::ensure!(
        amount
            .iter()
            .any(|d| d["operation"] == edited["id"] && d["expected"] == 2500 && d["found"] == 1999),
        "the edited amount: {}",
        ctx()
    );
    anyhow::ensure!(
        !r["differences"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["operation"] == kept["id"])),
        "the untouched sale is not named: {}",
        ctx()
    );
    if merchants {
        // Merchant 1's terminal totals (4200 + 1999 + 3300) differ from the
        // journal's (4200 + 2500); merchant 2's agree.
        let totals = differences_of(&r, "terminal_totals_differ");
        anyhow::ensure!(
            totals
                .iter()
                .any(|d| d["merchant"] == 1 && d["found"] == 9_499),
            "merchant 1's totals: {}",
            ctx()
        );
        anyhow::ensure!(
            !totals.iter().any(|d| d["merchant"] == 2),
            "merchant 2 agrees: {}",
            ctx()
        );
        let second = r["rows"]
            .as_array()
            .and_then(|rows| {
                rows.iter()
                    .find(|row| row["merchant"] == 2 && row["method"] == "card")
            })
            .cloned()
            .unwrap_or(Value::Null);
        anyhow::ensure!(
            second["journal"]["sales"] == 3_000 && second["terminal"]["sales"] == 3_000,
            "merchant 2's row: {}",
            ctx()
        );
    }
    let kinds: Vec<&str> = r["differences"]
        .as_array()
        .map(|d| d.iter().filter_map(|d| d["kind"].as_str()).collect())
        .unwrap_or_default();
    println!("{protocol}: named {kinds:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disagreements_are_named_privatbank() -> anyhow::Result<()> {
    disagreement("privatbank").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disagreements_are_named_ingenico_web() -> anyhow::Result<()> {
    disagreement("ingenico-web").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disagreements_are_named_bpos1_bridge() -> anyhow::Result<()> {
    disagreement("bpos1-bridge").await
}
