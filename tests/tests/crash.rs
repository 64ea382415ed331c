//! The crash suite: Kasa runs as a separate process (`kasa serve`) against
//! the emulators of each terminal protocol (PrivatBank JSON, Ingenico web
//! service, the B-POS1 bridge with explicit confirm) and the Datecs
//! emulator, each its own process keeping its books on disk. Kasa is killed
//! with SIGKILL at every step of a card sale, a mixed sale, a partial
//! approval paid off in cash, a refund and a void (where the protocol has
//! them: the Ingenico web service has no refund), restarted, and left to
//! recover by itself.
//!
//! The table in [`scenarios`] gives the expected outcome of each kill point.
//! Afterwards, from the emulators' own records (the terminal's books and
//! the register's printed documents, never Kasa's journal): every card charge
//! approved before the kill ends on exactly one fiscal receipt (carrying its
//! RRN and terminal id) and is never reversed; every refund and void on
//! exactly one return receipt; no receipt is printed twice; and nothing is
//! left for a person.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::process::{emulate_name, settings, Emulator, Kasa};

/// What the test does to the journal's operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// A card sale of 25.00.
    Card,
    /// 10.03: 6.00 by card, 5.00 in cash (4.00 due after rounding).
    Mixed,
    /// A card sale of 10.00 approved for 5.00, the rest paid in cash.
    Partial,
    /// A refund of 10.00 of a 30.00 card sale, by RRN.
    Refund,
    /// A void of a 20.00 card sale, by invoice.
    Void,
}

/// Where the operation ends up after the kill and the restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Charged (or given back) and printed.
    Done,
    /// Never reached the terminal: nothing charged, nothing printed.
    NotCharged,
    /// Part paid: the test pays the rest in cash, then it is done.
    PayRestInCash,
    /// Part paid, and the part was never charged: the cashier cancels.
    CashierCancels,
}

/// The kill points of each operation, with the expected outcome.
fn scenarios(protocol: &str) -> Vec<(Op, String, Expect)> {
    let confirm = protocol == "bpos1-bridge";
    let terminal = |with_confirm: bool| {
        let mut v = vec!["charge:before", "charge:after"];
        if with_confirm {
            v.extend(["confirm:before", "confirm:after"]);
        }
        v
    };
    // The receipt is one journalled step; inside it the register is left
    // opened, paid in part, paid in full, or closed.
    let receipt = |payments: usize| {
        let mut v = vec!["receipt:before".to_string(), "receipt:opened".to_string()];
        for n in 1..=payments {
            v.push(format!("receipt:paid#{n}"));
        }
        v.push("receipt:after".to_string());
        v
    };
    let mut all = Vec::new();
    let mut add = |op: Op, points: Vec<String>, charge_before: Expect, charge_after: Expect| {
        for p in points {
            let expect = match p.as_str() {
                "charge:before" => charge_before,
                "charge:after" | "confirm:before" | "confirm:after" => charge_after,
                _ => Expect::Done,
            };
            all.push((op, p, expect));
        }
    };
    let t = |c| {
        terminal(c)
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let both = |c, n| [t(c), receipt(n)].concat();
    add(Op::Card, both(confirm, 1), Expect::NotCharged, Expect::Done);
    add(
        Op::Mixed,
        both(confirm, 2),
        Expect::CashierCancels,
        Expect::Done,
    );
    add(
        Op::Partial,
        both(confirm, 2),
        Expect::NotCharged,
        Expect::PayRestInCash,
    );
    if protocol != "ingenico-web" {
        add(
            Op::Refund,
            both(confirm, 1),
            Expect::NotCharged,
            Expect::Done,
        );
    }
    add(Op::Void, both(confirm, 1), Expect::NotCharged, Expect::Done);
    all
}

fn key(tag: &str) -> String {
    format!("crash-{tag}-{}", std::process::id())
}

/// The first sale a refund or a void works on, made before the crash run.
async fn setup_sale(data: &Path, config: &Path, amount: i64) -> anyhow::Result<Value> {
    let kasa = Kasa::start(data, config, None)?;
    let op = kasa
        .ok("sale", json!({ "key": key("setup"), "amount": amount }))
        .await?;
    anyhow::ensure!(op["state"] == "done", "the setup sale: {op}");
    drop(kasa);
    Ok(op)
}

/// The request the crash run sends, by operation.
fn request(op: Op, original: Option<&Value>) -> (&'static str, Value) {
    let card = |o: Option<&Value>, f: &str| {
        o.map(|v| v["payments"][0]["card"][f].clone())
            .unwrap_or(Value::Null)
    };
    match op {
        Op::Card => ("sale", json!({ "key": key("op"), "amount": 2500 })),
        Op::Mixed => (
            "sale",
            json!({ "key": key("op"), "amount": 1003, "payments": [
                { "method": "card", "amount": 600 }, { "method": "cash", "amount": 500 } ] }),
        ),
        Op::Partial => ("sale", json!({ "key": key("op"), "amount": 1000 })),
        Op::Refund => (
            "refund",
            json!({ "key": key("op"), "rrn": card(original, "rrn"), "amount": 1000 }),
        ),
        Op::Void => (
            "void",
            json!({ "key": key("op"), "invoice": card(original, "invoice") }),
        ),
    }
}

/// One kill point: fresh emulators and journal, the operation, the kill at
/// `point`, the restart and recovery, the checks in the emulators' records.
async fn run(protocol: &str, op: Op, point: &str, expect: Expect) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let mut extra = vec!["--confirm-timeout-ms", "600000"];
    if op == Op::Partial {
        extra.extend(["--outcome", "partial"]);
    }
    let terminal = Emulator::terminal(emulate_name(protocol), dir.path(), &extra)?;
    let fiscal = Emulator::fiscal(dir.path(), &[])?;
    let mut terminal_settings = json!({});
    if protocol == "bpos1-bridge" {
        terminal_settings = json!({ "explicit_confirm": true });
    }
    let config = settings(dir.path(), protocol, &terminal, &fiscal, terminal_settings)?;

    let original = match op {
        Op::Refund => Some(setup_sale(&data, &config, 3000).await?),
        Op::Void => Some(setup_sale(&data, &config, 2000).await?),
        _ => None,
    };
    let (name, body) = request(op, original.as_ref());
    let op_key = body["key"].as_str().unwrap_or_default().to_string();

    // The run that is killed.
    let mut kasa = Kasa::start(&data, &config, Some(point))?;
    if op == Op::Partial && point.starts_with("receipt") {
        // The partial approval first; the kill comes while paying the rest.
        let first = kasa.ok(name, body.clone()).await?;
        anyhow::ensure!(first["state"] == "awaiting_payment", "{first}");
        kasa.fire(
            "add_payment",
            json!({ "key": key("rest"), "operation": first["id"],
                    "payment": { "method": "cash", "amount": first["cash_due"] } }),
        );
    } else {
        kasa.fire(name, body.clone());
    }
    let reached = kasa.wait_failpoint(Duration::from_secs(30));
    anyhow::ensure!(
        reached.is_some(),
        "{point} was never reached:\n{}",
        kasa.proc.tail()
    );
    kasa.proc.kill();

    // The restart: recovery runs before Kasa serves.
    let kasa = Kasa::start(&data, &config, None)?;
    let mut view = kasa.settled(&op_key, Duration::from_secs(30)).await?;
    match expect {
        Expect::Done => {}
        Expect::NotCharged => {
            anyhow::ensure!(
                view["state"] == "cancelled" || view["state"] == "declined",
                "{point}: expected not charged, got {view}"
            );
        }
        Expect::PayRestInCash => {
            anyhow::ensure!(view["state"] == "awaiting_payment", "{point}: {view}");
            view = kasa
                .ok(
                    "add_payment",
                    json!({ "key": key("rest2"), "operation": view["id"],
                            "payment": { "method": "cash", "amount": view["cash_due"] } }),
                )
                .await?;
        }
        Expect::CashierCancels => {
            anyhow::ensure!(view["state"] == "awaiting_payment", "{point}: {view}");
            view = kasa
                .ok(
                    "cancel",
                    json!({ "key": key("cancel"), "operation": view["id"] }),
                )
                .await?;
            anyhow::ensure!(view["state"] == "cancelled", "{point}: {view}");
        }
    }
    if matches!(expect, Expect::Done | Expect::PayRestInCash) {
        anyhow::ensure!(
            view["state"] == "done",
            "{point}: expected done, got {view}"
        );
    }
    let unresolved = kasa.ok("unresolved", json!({})).await?;
    let attention = unresolved["operations"]
        .as_array()
        .map(|ops| {
            ops.iter()
                .filter(|o| o["state"] == "needs_attention")
                .count()
        })
        .unwrap_or(0);
    anyhow::ensure!(
        attention == 0
            && unresolved["operations"]
                .as_array()
                .is_some_and(Vec::is_empty),
        "{point}: left unfinished: {unresolved}"
    );
    drop(kasa);
    check_records(protocol, point, &terminal, &fiscal)
}

/// The emulators' own records: every standing charge on exactly one fiscal
/// receipt with its RRN and terminal id, every refund and void on exactly
/// one return receipt, no reversal, no RRN printed twice.
fn check_records(
    protocol: &str,
    point: &str,
    terminal: &Emulator,
    fiscal: &Emulator,
) -> anyhow::Result<()> {
    let books = terminal::emulator::load_books(&terminal.state)?;
    let docs = fiscal.documents();
    let ctx = || format!("{protocol} {point}:\n{}", docs.join("\n=====\n"));
    anyhow::ensure!(
        books.reversals().is_empty(),
        "a charge was reversed: {:?}\n{}",
        books.reversals(),
        ctx()
    );
    let printed = |rrn: &str| -> Vec<&String> {
        docs.iter()
            .filter(|d| testkit::is_fiscal(d))
            .filter(|d| {
                d.split(|c: char| !c.is_alphanumeric())
                    .any(|token| token == rrn)
            })
            .collect()
    };
    for r in books.standing_charges() {
        let on = printed(&r.rrn);
        anyhow::ensure!(
            on.len() == 1,
            "the charge {} ({}) is on {} receipts\n{}",
            r.rrn,
            r.amount,
            on.len(),
            ctx()
        );
        anyhow::ensure!(
            r.terminal_id.is_empty() || on[0].contains(&r.terminal_id),
            "the receipt of {} lacks the terminal id {}\n{}",
            r.rrn,
            r.terminal_id,
            ctx()
        );
    }
    for r in books.refunds().into_iter().chain(books.voids()) {
        if r.rrn.is_empty() {
            continue;
        }
        let on = printed(&r.rrn);
        let returns = on.iter().filter(|d| d.contains("ВИДАТКОВИЙ")).count();
        anyhow::ensure!(
            returns == 1,
            "the {:?} {} is on {} return receipts\n{}",
            r.kind,
            r.rrn,
            returns,
            ctx()
        );
    }
    Ok(())
}

async fn matrix(protocol: &str) -> anyhow::Result<()> {
    let all = scenarios(protocol);
    assert!(
        all.len() >= 24,
        "{protocol}: only {} kill points",
        all.len()
    );
    let started = Instant::now();
    let mut failures = Vec::new();
    for (op, point, expect) in &all {
        if let Err(e) = run(protocol, *op, point, *expect).await {
            failures.push(format!("{op:?} killed at {point}: {e:#}"));
        }
    }
    println!(
        "{protocol}: {} kill points, {} failed, needs_attention left: 0 where passed, {:.1} s",
        all.len(),
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_every_step_privatbank() -> anyhow::Result<()> {
    matrix("privatbank").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_every_step_ingenico_web() -> anyhow::Result<()> {
    matrix("ingenico-web").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_every_step_bpos1_bridge() -> anyhow::Result<()> {
    matrix("bpos1-bridge").await
}

/// Killed right after the register closed the receipt; before Kasa comes
/// back, someone prints an X report on the register, so the register's last
/// document is not the sale's. The read-back tells recovery exactly which
/// document is the sale's receipt: the sale ends done on its own receipt,
/// with that receipt's number, and nothing is printed twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_back_finds_the_receipt_behind_a_later_document() -> anyhow::Result<()> {
    use fiscal::FiscalRegister;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let terminal = Emulator::terminal("privatbank", dir.path(), &[])?;
    let fiscal = Emulator::fiscal(dir.path(), &[])?;
    let config = settings(dir.path(), "privatbank", &terminal, &fiscal, json!({}))?;
    let mut kasa = Kasa::start(&data, &config, Some("receipt:after"))?;
    let k = key("behind");
    kasa.fire("sale", json!({ "key": k, "amount": 1700 }));
    anyhow::ensure!(
        kasa.wait_failpoint(Duration::from_secs(30)).is_some(),
        "{}",
        kasa.proc.tail()
    );
    kasa.proc.kill();

    let register =
        fiscal::DatecsDriver::connect(&fiscal::DriverConfig::tcp(fiscal.address.clone())).await?;
    register.x_report().await?;
    let x_number = register.last_document_number().await?;
    drop(register);

    let kasa = Kasa::start(&data, &config, None)?;
    let op = kasa.settled(&k, Duration::from_secs(30)).await?;
    anyhow::ensure!(op["state"] == "done", "{op}");
    let number = op["documents"][0]["number"].as_u64().unwrap_or_default();
    anyhow::ensure!(
        number + 1 == x_number,
        "the receipt is the document before the X report ({number} vs {x_number}): {op}"
    );
    let rrn = op["payments"][0]["card"]["rrn"]
        .as_str()
        .unwrap_or_default();
    let on = fiscal.receipts_with(rrn);
    anyhow::ensure!(on.len() == 1, "printed {} times", on.len());
    Ok(())
}
