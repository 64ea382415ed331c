//! The manager's exports over a real `kasa serve` socket: card and cash
//! sales run against the emulators, then the daily, batch and (after the
//! day close) reconciliation reports are exported as PDF, downloaded,
//! rendered to PNG pages with `pdftoppm` and read back with `pdftotext`:
//! the Cyrillic labels, the shop's name, tax number and till, and the exact
//! totals (from the journal, and from the emulated terminal's own books)
//! must be in the text. The CSV, with and without a byte-order mark, is
//! read with a CSV parser and its amounts add up to the day's totals. A
//! long CSV export is cancelled and leaves no file; a missing font, an
//! unknown export and a cashier are refused with JSON errors. A daily
//! report asked for in English has English words and English amounts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use checkout::api::{SaleRequest, TenderRequest};
use checkout::clock::FixedClock;
use checkout::engine::NewRequest;
use checkout::export::ReportLang;
use checkout::money::Money;
use checkout::settings::{MerchantSettings, ShopSettings};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use testkit::http::Api;
use testkit::{key, Rig, RigOptions};

const SHOP: &str = "Крамниця «Калина»";
const TAX_ID: &str = "3141592653";
const TILL: &str = "7";
/// A merchant's name a CSV must quote: a comma and quotes.
const TRICKY: &str = "ФОП Коваль, \"Ромашка\"";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn shop() -> ShopSettings {
    ShopSettings {
        name: SHOP.into(),
        tax_id: TAX_ID.into(),
        till: TILL.into(),
        ..ShopSettings::default()
    }
}

fn merchant(index: u8, name: &str) -> MerchantSettings {
    MerchantSettings {
        index,
        name: name.into(),
        terminal_id: format!("KASA{index:04}"),
        merchant_id: format!("S1KASA{index:02}"),
        register: String::new(),
    }
}

/// Serve `checkout` on a free loopback port, as `kasa serve` does.
async fn serve(checkout: checkout::Checkout) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = checkout::server::router(Arc::new(checkout), None);
    tokio::spawn(checkout::server::serve_on(listener, app));
    Ok(format!("http://{addr}"))
}

/// A GET with the session cookie: status, headers, body.
async fn get(api: &Api, path: &str) -> anyhow::Result<(u16, reqwest::header::HeaderMap, Vec<u8>)> {
    let mut r = reqwest::Client::new().get(format!("{}{path}", api.url));
    if let Some(c) = &api.cookie {
        r = r.header("cookie", c);
    }
    let resp = r.send().await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    Ok((status, headers, resp.bytes().await?.to_vec()))
}

/// Start an export and wait for it to finish; its job.
async fn export(api: &Api, request: Value) -> anyhow::Result<Value> {
    let (status, job) = api.post("export_start", request).await?;
    anyhow::ensure!(status == 200, "export_start: {status} {job}");
    let id = job["id"].as_str().unwrap_or_default().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, job) = api.post("export_status", json!({ "id": id })).await?;
        anyhow::ensure!(status == 200, "export_status: {status} {job}");
        if job["state"] != "running" {
            return Ok(job);
        }
        anyhow::ensure!(Instant::now() < deadline, "export still running: {job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Download a finished export into `dir`; checks its headers.
async fn download(api: &Api, job: &Value, dir: &Path) -> anyhow::Result<PathBuf> {
    assert_eq!(job["state"], "done", "{job}");
    let id = job["id"].as_str().unwrap_or_default();
    let (status, headers, body) = get(api, &format!("/api/exports/{id}")).await?;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let name = job["file_name"].as_str().unwrap_or_default().to_string();
    let disposition = headers
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(disposition, format!("attachment; filename=\"{name}\""));
    let ctype = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let want = if name.ends_with(".pdf") {
        "application/pdf"
    } else {
        "text/csv; charset=utf-8"
    };
    assert_eq!(ctype, want, "{name}");
    assert_eq!(Some(body.len() as u64), job["size"].as_u64(), "{job}");
    let path = dir.join(&name);
    std::fs::write(&path, body)?;
    Ok(path)
}

/// Render a PDF to PNG pages; the pages' files (each checked non-trivial).
fn pages_of(pdf: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let prefix = pdf.with_extension("page");
    let out = Command::new("pdftoppm")
        .args(["-png", "-r", "40"])
        .arg(pdf)
        .arg(&prefix)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "pdftoppm: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = pdf.parent().unwrap_or(Path::new("."));
    let stem = prefix
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "png")
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&stem))
        })
        .collect();
    pages.sort();
    // KASA_TEST_KEEP=DIR keeps the reports and their pages to look at.
    if let Some(keep) = std::env::var_os("KASA_TEST_KEEP") {
        std::fs::create_dir_all(&keep)?;
        for f in pages.iter().chain([&pdf.to_path_buf()]) {
            if let Some(name) = f.file_name() {
                std::fs::copy(f, Path::new(&keep).join(name))?;
            }
        }
    }
    for p in &pages {
        let bytes = std::fs::read(p)?;
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 2_000,
            "{} is not a rendered page ({} bytes)",
            p.display(),
            bytes.len()
        );
    }
    Ok(pages)
}

/// The PDF's text as `pdftotext -layout` extracts it.
fn text_of(pdf: &Path) -> anyhow::Result<String> {
    let out = Command::new("pdftotext")
        .arg("-layout")
        .arg(pdf)
        .arg("-")
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

fn assert_has(text: &str, needles: &[&str], what: &str) {
    for n in needles {
        assert!(text.contains(n), "{what}: {n:?} not in the text:\n{text}");
    }
}

/// The header every page carries.
fn assert_header(text: &str, pages: usize, what: &str) {
    assert_has(
        text,
        &[
            SHOP,
            &format!("Податковий номер: {TAX_ID}"),
            &format!("Каса № {TILL}"),
            "Робочий день: 2026-11-25",
            "Сформовано: 2026-11-25 1",
            &format!("Сторінка 1 з {pages}"),
            &format!("Сторінка {pages} з {pages}"),
        ],
        what,
    );
}

/// An amount as a Ukrainian report prints it (`1 250,00`).
fn uah(minor: i64) -> String {
    ReportLang::Uk.amount(minor)
}

/// Minor units from a CSV amount such as `-12.05` (no floats).
fn minor(s: &str) -> i64 {
    let (sign, s) = match s.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, s),
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
    assert_eq!(frac.len(), 2, "two decimals in {s:?}");
    sign * (whole.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap())
}

async fn sale_for(rig: &Rig, merchant: u8, tenders: Vec<TenderRequest>, amount: i64) {
    let op = rig
        .engine
        .submit(
            "test",
            NewRequest::Sale(SaleRequest {
                key: key(),
                items: Vec::new(),
                amount: Some(Money(amount)),
                payments: tenders,
                merchant: Some(merchant),
            }),
        )
        .await
        .expect("sale");
    assert_eq!(op.state, checkout::api::OperationState::Done, "{op:#?}");
}

#[tokio::test]
async fn day_batch_and_reconciliation_pdfs_and_the_csv_carry_the_days_totals() -> anyhow::Result<()>
{
    let rig = Rig::with(RigOptions {
        clock: Some(Arc::new(FixedClock::new(at("2026-11-25T08:00:00Z")))),
        merchants: vec![merchant(1, TRICKY), merchant(2, "ТОВ Берізка")],
        ..RigOptions::default()
    })
    .await?;
    // Card sales on two merchants, a cash sale, a card and cash sale, and
    // a partial refund by RRN.
    sale_for(&rig, 1, vec![TenderRequest::card(12_345)], 12_345).await;
    sale_for(&rig, 1, vec![TenderRequest::card(990)], 990).await;
    sale_for(&rig, 2, vec![TenderRequest::card(7_701)], 7_701).await;
    sale_for(&rig, 1, vec![TenderRequest::cash(5_000)], 5_000).await;
    sale_for(
        &rig,
        2,
        vec![TenderRequest::card(3_000), TenderRequest::cash(2_500)],
        5_500,
    )
    .await;
    let first = rig
        .engine
        .journal()
        .search(&checkout::queries::SearchQuery {
            amount: Some(Money(12_345)),
            ..Default::default()
        })?;
    let rrn = first.rows[0].rrn.clone().expect("the first sale's RRN");
    let refund = rig
        .engine
        .submit(
            "test",
            NewRequest::Refund(checkout::api::RefundRequest {
                key: key(),
                rrn: rrn.clone(),
                amount: Some(Money(2_345)),
                approval: None,
            }),
        )
        .await?;
    assert_eq!(refund.state, checkout::api::OperationState::Done);
    rig.engine.idle().await;
    rig.set_time(at("2026-11-25T12:30:00Z"));

    let url = serve(checkout::Checkout::new(rig.engine.clone(), "demo").with_shop(&shop())).await?;
    let manager = Api::login(&url, "manager").await?;
    let out = tempfile::tempdir()?;

    // What the journal says of the day, and the terminal's own books.
    let (status, day) = manager
        .post("day_report", json!({ "business_day": "2026-11-25" }))
        .await?;
    assert_eq!(status, 200, "{day}");
    let sum = |method: &str, field: &str| -> i64 {
        day["totals"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["method"] == method)
            .map(|t| t[field].as_i64().unwrap())
            .sum()
    };
    let (card_sales, card_returns) = (sum("card", "sales"), sum("card", "returns"));
    let (cash_sales, cash_returns) = (sum("cash", "sales"), sum("cash", "returns"));
    assert_eq!(card_sales, 12_345 + 990 + 7_701 + 3_000);
    assert_eq!(card_returns, 2_345);
    assert_eq!(cash_sales, 5_000 + 2_500);
    let books = rig.terminal.emulator().bank().books().clone();
    assert_eq!(
        books.net_charged(),
        card_sales - card_returns,
        "the terminal's books agree with the journal"
    );
    let sales = card_sales + cash_sales;
    let returns = card_returns + cash_returns;

    // ---- the daily report --------------------------------------------------
    let job = export(
        &manager,
        json!({ "key": key(), "kind": "day_pdf", "business_day": "2026-11-25" }),
    )
    .await?;
    assert_eq!(job["rows_total"], 7, "six payments and a refund: {job}");
    assert_eq!(job["rows_done"], 7, "{job}");
    let pdf = download(&manager, &job, out.path()).await?;
    assert!(std::fs::read(&pdf)?.starts_with(b"%PDF-"));
    let pages = pages_of(&pdf)?;
    assert!(!pages.is_empty(), "the daily report has pages");
    let text = text_of(&pdf)?;
    assert_header(&text, pages.len(), "daily report");
    assert_has(
        &text,
        &[
            "Денний звіт",
            "Підсумки за способом оплати",
            "Разом продажі (6)",
            &uah(sales),
            "Разом повернення (1)",
            &uah(returns),
            "Виручка за день",
            &uah(sales - returns),
            "Карткою",
            &uah(card_sales - card_returns),
            "Готівкою",
            &uah(cash_sales - cash_returns),
            "Транзакції (7)",
            &rrn,
            "Повернення",
            "ТОВ Берізка",
        ],
        "daily report",
    );
    for r in books.open_batch() {
        assert_has(&text, &[&r.rrn, &r.auth_code], "the terminal's records");
    }

    // ---- one terminal batch ------------------------------------------------
    let batch = day["batches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["merchant"] == 1)
        .expect("merchant 1's batch")
        .clone();
    let batch_no = batch["batch"].as_str().unwrap().to_string();
    let job = export(
        &manager,
        json!({ "key": key(), "kind": "batch_pdf", "business_day": "2026-11-25",
                "merchant": 1, "batch": batch_no }),
    )
    .await?;
    let pdf = download(&manager, &job, out.path()).await?;
    let pages = pages_of(&pdf)?;
    let text = text_of(&pdf)?;
    assert_header(&text, pages.len(), "batch report");
    let theirs: Vec<_> = books
        .open_batch()
        .into_iter()
        .filter(|r| r.merchant == 1)
        .collect();
    assert_eq!(theirs.len(), 3, "two sales and a refund on merchant 1");
    let net: i64 = theirs
        .iter()
        .map(|r| match r.kind {
            terminal::TxnKind::Refund => -r.amount,
            _ => r.amount,
        })
        .sum();
    assert_eq!(
        net,
        batch["sales"].as_i64().unwrap() - batch["returns"].as_i64().unwrap()
    );
    assert_has(
        &text,
        &[
            if batch_no.is_empty() {
                "Пакет: номер не повідомлено терміналом"
            } else {
                &batch_no
            },
            "Мерчант: ФОП Коваль, \"Ромашка\" (№ 1)",
            "Термінал: KASA0001",
            "Продажі (2)",
            &uah(12_345 + 990),
            "Повернення (1)",
            &uah(2_345),
            "Разом по пакету",
            &uah(net),
        ],
        "batch report",
    );
    for r in &theirs {
        assert_has(
            &text,
            &[&r.rrn, &r.auth_code, &r.pan, &uah(r.amount)],
            "batch report: the terminal's record",
        );
    }
    assert!(
        !text.contains("ТОВ Берізка"),
        "another merchant's payments are not in the batch"
    );

    // ---- the CSV, with and without a byte-order mark -----------------------
    for bom in [true, false] {
        let job = export(
            &manager,
            json!({ "key": key(), "kind": "transactions_csv", "bom": bom,
                    "search": { "business_day": "2026-11-25" } }),
        )
        .await?;
        let path = download(&manager, &job, out.path()).await?;
        let bytes = std::fs::read(&path)?;
        assert_eq!(
            bytes.starts_with(b"\xEF\xBB\xBF"),
            bom,
            "a byte-order mark exactly when asked"
        );
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let mut reader = csv::Reader::from_reader(body);
        let headers = reader.headers()?.clone();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .unwrap_or_else(|| panic!("no column {name} in {headers:?}"))
        };
        let (amount, name, rrn_col) = (col("Сума"), col("Назва мерчанта"), col("RRN"));
        let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>()?;
        assert_eq!(rows.len(), 7);
        let total: i64 = rows.iter().map(|r| minor(&r[amount])).sum();
        assert_eq!(
            total,
            sales - returns,
            "the amounts add up to the day's net"
        );
        let back: i64 = rows
            .iter()
            .map(|r| minor(&r[amount]))
            .filter(|a| *a < 0)
            .sum();
        assert_eq!(-back, returns);
        assert!(
            rows.iter().any(|r| &r[name] == TRICKY),
            "a name with a comma and quotes survives: {rows:?}"
        );
        assert!(rows.iter().any(|r| r[rrn_col] == rrn));
    }

    // ---- reconciliation, after the day close ------------------------------
    let (status, job) = manager
        .post(
            "export_start",
            json!({ "key": key(), "kind": "reconciliation_pdf", "business_day": "2026-11-25" }),
        )
        .await?;
    assert_eq!(status, 403, "no reconciliation before the close: {job}");
    assert_eq!(job["code"], "not_allowed");
    rig.set_time(at("2026-11-25T17:00:00Z"));
    let (status, close) = manager.post("day_close", json!({ "key": key() })).await?;
    assert_eq!(status, 200, "{close}");
    assert_eq!(close["state"], "done", "{close}");
    let job = export(
        &manager,
        json!({ "key": key(), "kind": "reconciliation_pdf", "business_day": "2026-11-25" }),
    )
    .await?;
    let pdf = download(&manager, &job, out.path()).await?;
    let pages = pages_of(&pdf)?;
    let text = text_of(&pdf)?;
    assert_header(&text, pages.len(), "reconciliation report");
    assert_has(
        &text,
        &[
            "Звіт звірки",
            "Z-звіт №",
            "Журнал: продажі",
            &uah(sales),
            "Журнал: повернення",
            &uah(returns),
            "Розбіжностей немає.",
            &uah(12_345 + 990),
            &uah(7_701 + 3_000),
        ],
        "reconciliation report",
    );
    Ok(())
}

#[tokio::test]
async fn a_long_csv_export_is_cancelled_and_leaves_no_file() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("journal.sqlite");
    let summary = checkout::generate::generate(
        &path,
        &checkout::generate::GenOptions {
            operations: 16_000,
            days: 4,
            audit_rows: 100,
            seed: 11,
            ..Default::default()
        },
    )?;
    let payments: u64 =
        rusqlite::Connection::open(&path)?
            .query_row("SELECT COUNT(*) FROM payments", [], |r| r.get(0))?;
    assert!(payments > 10_000, "{summary:?}");
    let engine = checkout::Engine::new(
        checkout::journal::Journal::open(&path)?,
        checkout::engine::Devices {
            terminal: rig.terminal.terminal(),
            fiscal: rig.fiscal.register(),
        },
        Arc::new(checkout::clock::SystemClock),
        checkout::engine::EngineConfig::default(),
    );
    let c = checkout::Checkout::new(engine, "demo").with_shop(&shop());
    // A page of rows at a time, slowed down so the job is caught running.
    c.exports.set_page_pause(Duration::from_millis(150));
    let exports_dir = c.exports.dir().to_path_buf();
    assert_eq!(exports_dir, dir.path().join("exports"));
    let url = serve(c).await?;
    let manager = Api::login(&url, "manager").await?;

    let (status, job) = manager
        .post(
            "export_start",
            json!({ "key": key(), "kind": "transactions_csv", "bom": true, "search": {} }),
        )
        .await?;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["rows_total"].as_u64(), Some(payments), "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    // Progress shows while it runs.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, job) = manager.post("export_status", json!({ "id": id })).await?;
        assert_eq!(job["state"], "running", "{job}");
        if job["rows_done"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no progress: {job}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, _, early) = get(&manager, &format!("/api/exports/{id}")).await?;
    let early: Value = serde_json::from_slice(&early)?;
    assert_eq!(status, 409, "{early}");
    assert_eq!(early["code"], "export_not_ready");

    let (status, job) = manager.post("export_cancel", json!({ "id": id })).await?;
    assert_eq!(status, 200, "{job}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let job = loop {
        let (_, job) = manager.post("export_status", json!({ "id": id })).await?;
        if job["state"] != "running" {
            break job;
        }
        assert!(Instant::now() < deadline, "not cancelled: {job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(job["state"], "cancelled", "{job}");
    assert!(
        job["rows_done"].as_u64().unwrap() < payments,
        "stopped part way: {job}"
    );
    assert_eq!(job["size"], Value::Null);
    let left: Vec<_> = std::fs::read_dir(&exports_dir)?.flatten().collect();
    assert!(
        left.is_empty(),
        "a cancelled export leaves no file: {left:?}"
    );
    let (status, _, body) = get(&manager, &format!("/api/exports/{id}")).await?;
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));

    // Unknown ids, a cashier and nobody get JSON errors.
    let (status, _, body) = get(&manager, "/api/exports/0123456789abcdef").await?;
    let body: Value = serde_json::from_slice(&body)?;
    assert_eq!((status, body["code"].clone()), (404, json!("not_found")));
    let cashier = Api::login(&url, "cashier").await?;
    let (status, _, body) = get(&cashier, &format!("/api/exports/{id}")).await?;
    let body: Value = serde_json::from_slice(&body)?;
    assert_eq!((status, body["code"].clone()), (403, json!("not_allowed")));
    let (status, job) = cashier
        .post(
            "export_start",
            json!({ "key": key(), "kind": "transactions_csv", "search": {} }),
        )
        .await?;
    assert_eq!(status, 403, "{job}");
    let (status, _, _) = get(&Api::anonymous(&url), &format!("/api/exports/{id}")).await?;
    assert_eq!(status, 401);
    Ok(())
}

#[tokio::test]
async fn a_missing_report_font_is_a_clear_error() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let c = checkout::Checkout::new(rig.engine.clone(), "demo").with_shop(&ShopSettings {
        report_font: "/nonexistent/fonts/NoSuch.ttf".into(),
        ..shop()
    });
    let url = serve(c).await?;
    let manager = Api::login(&url, "manager").await?;
    let (status, err) = manager
        .post(
            "export_start",
            json!({ "key": key(), "kind": "day_pdf", "business_day": "2026-11-25" }),
        )
        .await?;
    assert_eq!(status, 500, "{err}");
    assert_eq!(err["code"], "report_font_missing", "{err}");
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| m.contains("/nonexistent/fonts/NoSuch.ttf")),
        "{err}"
    );
    // A CSV needs no font.
    let (status, job) = manager
        .post(
            "export_start",
            json!({ "key": key(), "kind": "transactions_csv", "business_day": "2026-11-25" }),
        )
        .await?;
    assert_eq!(status, 200, "{job}");
    Ok(())
}

#[tokio::test]
async fn a_daily_report_asked_for_in_english_is_in_english() -> anyhow::Result<()> {
    const MERCHANT: &str = "ТОВ Берізка";
    let rig = Rig::with(RigOptions {
        clock: Some(Arc::new(FixedClock::new(at("2026-11-25T08:00:00Z")))),
        merchants: vec![merchant(1, MERCHANT)],
        ..RigOptions::default()
    })
    .await?;
    sale_for(&rig, 1, vec![TenderRequest::card(125_000)], 125_000).await;
    sale_for(&rig, 1, vec![TenderRequest::cash(2_000_050)], 2_000_050).await;
    rig.engine.idle().await;
    rig.set_time(at("2026-11-25T12:30:00Z"));
    let url = serve(checkout::Checkout::new(rig.engine.clone(), "demo").with_shop(&shop())).await?;
    let manager = Api::login(&url, "manager").await?;
    let out = tempfile::tempdir()?;

    let job = export(
        &manager,
        json!({ "key": key(), "kind": "day_pdf", "business_day": "2026-11-25", "lang": "en" }),
    )
    .await?;
    assert_eq!(job["file_name"], "kasa-day-2026-11-25.pdf", "{job}");
    let pdf = download(&manager, &job, out.path()).await?;
    let pages = pages_of(&pdf)?;
    let text = text_of(&pdf)?;
    let n = pages.len();
    assert_has(
        &text,
        &[
            SHOP,
            "Daily report",
            &format!("Tax ID: {TAX_ID}"),
            &format!("Till No. {TILL}"),
            "Business day: 2026-11-25",
            "Generated: 2026-11-25 1",
            &format!("Page 1 of {n}"),
            &format!("Page {n} of {n}"),
            "Totals by payment method",
            "Transactions (2)",
            "Amount, UAH",
            "Sale",
            "Approved",
        ],
        "English daily report",
    );
    // Each total on its label's line, written the English way.
    for (label, amount) in [
        ("Total sales (2)", "21,250.50"),
        ("Total refunds (0)", "0.00"),
        ("By card", "1,250.00"),
        ("In cash", "20,000.50"),
        ("Net takings for the day", "21,250.50"),
    ] {
        assert!(
            text.lines()
                .any(|l| l.contains(label) && l.trim_end().ends_with(amount)),
            "no {label:?} with {amount:?} in:\n{text}"
        );
    }
    // Nothing Cyrillic but the shop's and the merchant's names.
    let words = text.replace(SHOP, "").replace(MERCHANT, "");
    let cyrillic: Vec<&str> = words
        .lines()
        .filter(|l| l.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c)))
        .collect();
    assert!(
        cyrillic.is_empty(),
        "Cyrillic in an English report: {cyrillic:#?}"
    );

    // The same day in Russian.
    let job = export(
        &manager,
        json!({ "key": key(), "kind": "day_pdf", "business_day": "2026-11-25", "lang": "ru" }),
    )
    .await?;
    let pdf = download(&manager, &job, out.path()).await?;
    let text = text_of(&pdf)?;
    assert_has(
        &text,
        &[
            "Дневной отчет",
            "Итого продажи (2)",
            "21 250,50",
            "Страница 1 из",
        ],
        "Russian daily report",
    );
    assert!(!text.contains("Денний звіт"), "{text}");

    // An unknown language is refused.
    let (status, err) = manager
        .post(
            "export_start",
            json!({ "key": key(), "kind": "day_pdf", "business_day": "2026-11-25", "lang": "de" }),
        )
        .await?;
    assert_eq!(status, 400, "{err}");
    Ok(())
}
