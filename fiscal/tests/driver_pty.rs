//! The real driver against the emulator over a real pty (and TCP): every
//! command, every scripted fault, each ending in a defined state with a
//! clear error. No timed assertions.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use fiscal::dialect::{CardDataMode, Dialect};
use fiscal::driver::{Adjustment, DriverOptions, PayResult, SaleItem};
use fiscal::emulator::{spawn_pty, spawn_tcp, EmulatorConfig, EmulatorHandle, Faults};
use fiscal::link::LinkConfig;
use fiscal::transport::{self, Endpoint};
use fiscal::{
    CardSlip, DatecsDriver, Error, FiscalRegister, Payment, ReceiptLine, ReturnReceipt, SaleReceipt,
};

fn quick_options() -> DriverOptions {
    DriverOptions {
        link: LinkConfig {
            reply_timeout: Duration::from_millis(150),
            max_attempts: 4,
            max_busy: Duration::from_secs(10),
        },
        ..DriverOptions::default()
    }
}

struct Rig {
    emu: EmulatorHandle,
    drv: DatecsDriver,
    _dir: tempfile::TempDir,
    path: String,
}

async fn rig_with(dialect: Dialect, faults: Faults) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = EmulatorConfig::new(dialect.clone());
    cfg.state_file = Some(dir.path().join("state.json"));
    cfg.tape_file = Some(dir.path().join("tape.txt"));
    cfg.faults = faults;
    let (emu, path, _task) = spawn_pty(cfg).unwrap();
    let stream = transport::open(&Endpoint::Serial {
        path: path.clone(),
        baud: 115_200,
    })
    .await
    .unwrap();
    let drv = DatecsDriver::new(stream, dialect, quick_options());
    Rig {
        emu,
        drv,
        _dir: dir,
        path,
    }
}

async fn rig(dialect: Dialect) -> Rig {
    rig_with(dialect, Faults::default()).await
}

fn card() -> CardSlip {
    CardSlip {
        rrn: "412345678901".into(),
        auth_code: "A1B2C3".into(),
        masked_pan: "************4242".into(),
        terminal_id: "PB000123".into(),
        invoice: "000042".into(),
        ..Default::default()
    }
}

fn line(name: &str, tax: char, price: i64, qty: i64) -> ReceiptLine {
    ReceiptLine {
        name: name.into(),
        tax_group: tax,
        price,
        quantity_milli: qty,
        discount: 0,
    }
}

fn card_sale() -> SaleReceipt {
    SaleReceipt {
        lines: vec![
            line("Хліб житній", 'Б', 2850, 1000),
            line(
                "Молоко пастеризоване 2,5% 900 г «Яготинське» у плівці",
                'A',
                4200,
                2000,
            ),
            line("Цукор", 'В', 3500, 1500),
        ],
        payments: vec![Payment::Card {
            amount: 2850 + 8400 + 5250,
            card: card(),
        }],
    }
}

/// The identifying card data every mode prints (the §7.8 slots carry no
/// invoice number; the text-line modes do, see `assert_invoice`).
fn assert_card_data(doc: &str) {
    let c = card();
    for part in [&c.rrn, &c.auth_code, &c.masked_pan, &c.terminal_id] {
        assert!(doc.contains(part.as_str()), "{part} missing from\n{doc}");
    }
}

#[tokio::test]
async fn every_command_in_the_fp_t260_dialect() {
    let r = rig(Dialect::ua_fp_t260()).await;
    let d = &r.drv;

    let st = d.read_status().await.unwrap();
    assert!(st.ready() && st.fiscalised && !st.receipt_open);
    let info = d.diagnostic().await.unwrap();
    assert_eq!(info.model, "FP-T260");
    assert_eq!(info.serial, "DT000001");
    assert_eq!(info.framing, "old");
    assert!(info.firmware.starts_with("4.00UA"));

    let t = chrono::NaiveDate::from_ymd_opt(2026, 3, 1)
        .unwrap()
        .and_hms_opt(10, 20, 30)
        .unwrap();
    d.set_datetime(t).await.unwrap();
    let back = d.read_datetime().await.unwrap();
    assert!((back - t).num_seconds().abs() < 5);

    assert_eq!(d.last_document().await.unwrap(), 0);
    d.cash_in_out(10_000).await.unwrap();
    assert_eq!(d.last_document().await.unwrap(), 1);

    // A receipt built command by command, with discount and surcharge.
    d.open_receipt().await.unwrap();
    assert!(d.read_status().await.unwrap().receipt_open);
    let item = |name: &str, adj| SaleItem {
        name: name.into(),
        tax_group: 'A',
        price: 10_000,
        quantity_milli: 1000,
        adjustment: adj,
    };
    d.sale(&item("Чай", None)).await.unwrap();
    d.sale(&item("Кава", Some(Adjustment::Percent(-1000))))
        .await
        .unwrap();
    d.sale(&item("Ґудзики", Some(Adjustment::Amount(500))))
        .await
        .unwrap();
    let rs = d.receipt_state().await.unwrap();
    assert_eq!(
        (rs.open, rs.items, rs.amount, rs.paid),
        (true, 3, 29_500, 0)
    );
    assert_eq!(d.subtotal().await.unwrap(), 29_500);
    d.print_text("Дякуємо за покупку!").await.unwrap();
    assert_eq!(
        d.pay(&Payment::Card {
            amount: 9_500,
            card: card()
        })
        .await
        .unwrap(),
        PayResult::Remaining(20_000)
    );
    assert_eq!(
        d.pay(&Payment::Cash { amount: 30_000 }).await.unwrap(),
        PayResult::Change(10_000)
    );
    assert!(matches!(
        d.cancel_receipt().await,
        Err(Error::NotPermitted { .. })
    ));
    let n = d.close_receipt().await.unwrap();
    assert_eq!(n, 2);

    // Cancel before payment.
    d.open_receipt().await.unwrap();
    d.sale(&item("Помилка", None)).await.unwrap();
    d.cancel_receipt().await.unwrap();
    assert!(!d.receipt_state().await.unwrap().open);
    assert!(matches!(d.close_receipt().await, Err(Error::NoReceiptOpen)));

    // Through the trait.
    let doc = d.print_sale(&card_sale()).await.unwrap();
    assert_eq!(doc.number, 3);
    assert_eq!(d.last_document_number().await.unwrap(), 3);
    let ret = ReturnReceipt {
        original_number: 3,
        lines: vec![line("Хліб житній", 'Б', 2850, 1000)],
        payments: vec![Payment::Card {
            amount: 2850,
            card: card(),
        }],
    };
    assert_eq!(d.print_return(&ret).await.unwrap().number, 4);
    d.cash_in_out(-5_000).await.unwrap();
    let x = d.x_report().await.unwrap();
    assert_eq!(x.number, 0);
    assert_eq!(x.tax_totals[1], 2850);
    let z = d.z_report().await.unwrap();
    assert_eq!(z.number, 1);
    assert_eq!(r.emu.counters().z_count, 1);
    assert_eq!(r.emu.counters().day_sales, [0; 5]);

    let tape = r.emu.tape();
    let sale = tape
        .iter()
        .find(|t| t.contains("Хліб житній") && t.contains("ФІСКАЛЬНИЙ"))
        .unwrap();
    assert_card_data(sale);
    assert!(sale.contains("ЧЕК №3"));
    let ret = tape
        .iter()
        .find(|t| t.contains("ВИДАТКОВИЙ ЧЕК"))
        .expect("a return receipt (0x55)");
    assert!(ret.contains("ВИД ОПЕРАЦІЇ: повернення"), "{ret}");
    assert!(tape.iter().any(|t| t.contains("ЗНИЖКА -10.00")));
    assert!(tape.iter().any(|t| t.contains("НАДБАВКА 5.00")));
    assert!(tape.iter().any(|t| t.contains("АНУЛЬОВАНО")));
    assert!(tape.iter().any(|t| t.starts_with("Z-ЗВІТ №1")));
    let file = std::fs::read_to_string(r._dir.path().join("tape.txt")).unwrap();
    assert!(file.contains("Z-ЗВІТ №1"));
    assert!(!r.path.is_empty());
}

#[tokio::test]
async fn every_command_in_the_x_dialect() {
    let r = rig(Dialect::x_family()).await;
    let d = &r.drv;
    let st = d.read_status().await.unwrap();
    assert!(st.fiscalised && !st.receipt_open);
    // No shift or modem command in this family: health says what it can.
    let h = d
        .health(fiscal::emulator::register_local_now())
        .await
        .unwrap();
    assert!(h.ready() && h.shift.is_none() && h.modem.is_none(), "{h:?}");
    let info = d.diagnostic().await.unwrap();
    assert_eq!(
        (
            info.model.as_str(),
            info.serial.as_str(),
            info.framing.as_str()
        ),
        ("FP-700X", "DT000001", "x")
    );
    let t = chrono::NaiveDate::from_ymd_opt(2026, 5, 2)
        .unwrap()
        .and_hms_opt(8, 0, 0)
        .unwrap();
    d.set_datetime(t).await.unwrap();
    assert!((d.read_datetime().await.unwrap() - t).num_seconds().abs() < 5);
    d.cash_in_out(1000).await.unwrap();
    d.cash_in_out(-400).await.unwrap();
    assert!(matches!(
        d.cash_in_out(-100_000).await,
        Err(Error::NotPermitted { .. })
    ));
    assert_eq!(d.last_document().await.unwrap(), 2);
    assert!(!d.receipt_state().await.unwrap().open);
    let doc = d.print_sale(&card_sale()).await.unwrap();
    assert_eq!(doc.number, 3);
    let ret = ReturnReceipt {
        original_number: 3,
        lines: vec![line("Цукор", 'В', 3500, 1000)],
        payments: vec![Payment::Cash { amount: 3500 }],
    };
    assert_eq!(d.print_return(&ret).await.unwrap().number, 4);
    d.open_receipt().await.unwrap();
    d.sale(&SaleItem {
        name: "Bread".into(),
        tax_group: 'Б',
        price: 150,
        quantity_milli: 2000,
        adjustment: Some(Adjustment::Percent(-1000)),
    })
    .await
    .unwrap();
    assert_eq!(d.subtotal().await.unwrap(), 270);
    d.cancel_receipt().await.unwrap();
    d.x_report().await.unwrap();
    assert_eq!(d.z_report().await.unwrap().number, 1);
    let sale = r
        .emu
        .tape()
        .into_iter()
        .find(|t| t.contains("Цукор"))
        .unwrap();
    assert_card_data(&sale);
}

#[tokio::test]
async fn x_error_codes_are_never_success() {
    let Rig {
        emu,
        drv,
        _dir,
        path,
    } = rig(Dialect::x_family()).await;
    drop(drv); // the port is opened exclusively
    let opts = DriverOptions {
        password: "9999".into(),
        ..quick_options()
    };
    let stream = transport::open(&Endpoint::Serial {
        path,
        baud: 115_200,
    })
    .await
    .unwrap();
    let d = DatecsDriver::new(stream, Dialect::x_family(), opts);
    assert!(matches!(d.open_receipt().await, Err(Error::WrongPassword)));
    // The next step is refused too, with its own code (ErpNet issue #135).
    let err = d.pay(&Payment::Cash { amount: 153 }).await.unwrap_err();
    assert!(matches!(err, Error::NoReceiptOpen), "{err:?}");
    assert!(matches!(
        d.print_sale(&card_sale()).await,
        Err(Error::WrongPassword)
    ));
    assert!(emu.tape().is_empty());
}

#[tokio::test]
async fn card_data_as_text_lines_in_the_old_dialect() {
    let mut dialect = Dialect::ua_fp_t260();
    dialect.settings.card.mode = CardDataMode::TextLines;
    let r = rig(dialect).await;
    r.drv.print_sale(&card_sale()).await.unwrap();
    let doc = &r.emu.tape()[0];
    assert_card_data(doc);
    assert!(doc.contains("RRN: 412345678901"), "{doc}");
    assert!(doc.contains("ТЕРМІНАЛ: PB000123"));
}

#[tokio::test]
async fn counters_survive_an_emulator_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    for round in 1..=2u64 {
        let mut cfg = EmulatorConfig::new(Dialect::ua_fp_t260());
        cfg.state_file = Some(state.clone());
        let (emu, path, task) = spawn_pty(cfg).unwrap();
        let stream = transport::open(&Endpoint::Serial {
            path,
            baud: 115_200,
        })
        .await
        .unwrap();
        let drv = DatecsDriver::new(stream, Dialect::ua_fp_t260(), quick_options());
        assert_eq!(drv.print_sale(&card_sale()).await.unwrap().number, round);
        assert_eq!(emu.counters().fiscal_receipts, round);
        assert_eq!(emu.counters().day_paid[1], 16_500 * round as i64);
        task.abort();
    }
}

#[tokio::test]
async fn nak_every_nth_frame_is_resent() {
    let r = rig_with(
        Dialect::ua_fp_t260(),
        Faults {
            nak_every: 3,
            ..Faults::default()
        },
    )
    .await;
    assert_eq!(r.drv.print_sale(&card_sale()).await.unwrap().number, 1);
    assert!(r.drv.link_stats().await.naks > 0);
    assert_eq!(r.emu.tape().len(), 1);
}

#[tokio::test]
async fn nak_forever_is_a_clear_error() {
    let r = rig_with(
        Dialect::ua_fp_t260(),
        Faults {
            nak_every: 1,
            ..Faults::default()
        },
    )
    .await;
    assert!(matches!(r.drv.read_status().await, Err(Error::Nak(4))));
}

#[tokio::test]
async fn corrupt_bcc_replies_are_retried_with_the_same_seq() {
    let r = rig_with(
        Dialect::x_family(),
        Faults {
            corrupt_every: 2,
            ..Faults::default()
        },
    )
    .await;
    assert_eq!(r.drv.print_sale(&card_sale()).await.unwrap().number, 1);
    assert!(r.drv.link_stats().await.corrupt > 0);
    assert!(r.emu.stats().replays > 0);
    assert_eq!(r.emu.tape().len(), 1);
    assert_eq!(r.emu.counters().fiscal_receipts, 1);
}

#[tokio::test]
async fn dropped_replies_are_replayed_not_run_twice() {
    let r = rig_with(
        Dialect::ua_fp_t260(),
        Faults {
            drop_reply_every: 4,
            ..Faults::default()
        },
    )
    .await;
    r.emu.update_faults(|f| f.drop_reply_on = Some(0x38)); // and the close itself
    assert_eq!(r.drv.print_sale(&card_sale()).await.unwrap().number, 1);
    let stats = r.emu.stats();
    assert!(stats.dropped >= 2 && stats.replays >= 2, "{stats:?}");
    assert_eq!(r.emu.tape().len(), 1, "the receipt must be printed once");
    assert_eq!(r.emu.counters().day_sales.iter().sum::<i64>(), 16_500);
}

#[tokio::test]
async fn syn_keeps_the_wait_alive() {
    let r = rig_with(
        Dialect::ua_fp_t260(),
        Faults {
            syn_ms: 1000,
            ..Faults::default()
        },
    )
    .await;
    // One attempt only, and the register is busy four times the reply
    // timeout: only SYN (one per 60 ms while busy) keeps the driver waiting;
    // a driver that ignored it would give up with a timeout. Behaviour, not
    // speed: the Z report ran exactly once and no attempt timed out.
    let path = r.path.clone();
    drop(r.drv);
    let stream = transport::open(&Endpoint::Serial {
        path,
        baud: 115_200,
    })
    .await
    .unwrap();
    let opts = DriverOptions {
        link: LinkConfig {
            reply_timeout: Duration::from_millis(250),
            max_attempts: 1,
            max_busy: Duration::from_secs(10),
        },
        ..DriverOptions::default()
    };
    let drv = DatecsDriver::new(stream, Dialect::ua_fp_t260(), opts);
    let z = drv.z_report().await.unwrap();
    assert_eq!(z.number, 1);
    let s = drv.link_stats().await;
    assert!(s.syns > 0 && s.timeouts == 0, "{s:?}");
    assert_eq!(r.emu.counters().z_count, 1, "run once, never twice");
}

#[tokio::test]
async fn paper_out_mid_receipt_continues_from_the_next_line() {
    let r = rig_with(
        Dialect::ua_fp_t260(),
        Faults {
            paper_out_at_line: Some(2),
            ..Faults::default()
        },
    )
    .await;
    let receipt = card_sale();
    assert!(matches!(
        r.drv.print_sale(&receipt).await,
        Err(Error::PaperOut)
    ));
    let open = r.emu.open_receipt().unwrap();
    assert_eq!(open.items, 1, "the receipt stays open with the first line");
    assert!(r.drv.read_status().await.unwrap().paper_out);
    // Still out of paper: a clear error, nothing changes.
    assert!(matches!(
        r.drv.print_sale(&receipt).await,
        Err(Error::PaperOut)
    ));
    r.emu.load_paper();
    assert_eq!(r.drv.print_sale(&receipt).await.unwrap().number, 1);
    let tape = r.emu.tape();
    assert_eq!(tape.len(), 1);
    assert_eq!(tape[0].matches("Хліб житній").count(), 1, "{}", tape[0]);
    assert_eq!(tape[0].matches("Цукор").count(), 1);
    assert_card_data(&tape[0]);
    assert_eq!(r.emu.counters().day_sales.iter().sum::<i64>(), 16_500);
}

#[tokio::test]
async fn cover_open_blocks_with_a_clear_error() {
    for dialect in [Dialect::ua_fp_t260(), Dialect::x_family()] {
        let r = rig_with(
            dialect,
            Faults {
                cover_open: true,
                ..Faults::default()
            },
        )
        .await;
        assert!(r.drv.read_status().await.unwrap().cover_open);
        assert!(matches!(
            r.drv.print_sale(&card_sale()).await,
            Err(Error::CoverOpen)
        ));
        assert!(matches!(r.drv.open_receipt().await, Err(Error::CoverOpen)));
        assert!(r.emu.open_receipt().is_none());
        r.emu.update_faults(|f| f.cover_open = false);
        assert_eq!(r.drv.print_sale(&card_sale()).await.unwrap().number, 1);
    }
}

#[tokio::test]
async fn shift_over_24h_needs_a_z_report() {
    for dialect in [Dialect::ua_fp_t260(), Dialect::x_family()] {
        let r = rig_with(
            dialect,
            Faults {
                shift_over_24h: true,
                ..Faults::default()
            },
        )
        .await;
        assert!(matches!(
            r.drv.print_sale(&card_sale()).await,
            Err(Error::ShiftOver24h)
        ));
        assert!(matches!(
            r.drv.open_receipt().await,
            Err(Error::ShiftOver24h)
        ));
        assert!(r.emu.open_receipt().is_none());
        r.drv.z_report().await.unwrap();
        assert_eq!(r.drv.print_sale(&card_sale()).await.unwrap().number, 2);
    }
}

#[tokio::test]
async fn fiscal_memory_full_is_reported() {
    for dialect in [Dialect::ua_fp_t260(), Dialect::x_family()] {
        let r = rig_with(
            dialect,
            Faults {
                fm_full: true,
                ..Faults::default()
            },
        )
        .await;
        assert!(r.drv.read_status().await.unwrap().fiscal_memory_full);
        assert!(matches!(
            r.drv.print_sale(&card_sale()).await,
            Err(Error::FiscalMemoryFull)
        ));
        assert!(matches!(
            r.drv.open_receipt().await,
            Err(Error::FiscalMemoryFull)
        ));
        assert!(matches!(
            r.drv.z_report().await,
            Err(Error::FiscalMemoryFull)
        ));
        assert!(r.emu.tape().is_empty());
    }
}

#[tokio::test]
async fn an_uncertain_close_is_resolved_by_looking() {
    let r = rig(Dialect::ua_fp_t260()).await;
    r.emu.update_faults(|f| f.mute_after = Some(0x38));
    let receipt = card_sale();
    let err = r.drv.print_sale(&receipt).await.unwrap_err();
    assert!(err.is_uncertain(), "{err:?}");
    assert_eq!(r.emu.tape().len(), 1, "it was printed before the link went");
    r.emu.unmute();
    // Printing the same receipt again looks first and finds it printed.
    assert_eq!(r.drv.print_sale(&receipt).await.unwrap().number, 1);
    assert_eq!(r.emu.tape().len(), 1, "never printed twice");
    assert_eq!(r.emu.counters().fiscal_receipts, 1);
}

#[tokio::test]
async fn an_uncertain_payment_is_resolved_by_looking() {
    let r = rig(Dialect::x_family()).await;
    r.emu.update_faults(|f| f.mute_after = Some(0x35));
    let receipt = card_sale();
    assert!(r.drv.print_sale(&receipt).await.unwrap_err().is_uncertain());
    r.emu.unmute();
    assert_eq!(r.drv.print_sale(&receipt).await.unwrap().number, 1);
    let tape = r.emu.tape();
    assert_eq!(tape.len(), 1);
    assert_eq!(
        tape[0].matches("КАРТКА ").count(),
        1,
        "paid once:\n{}",
        tape[0]
    );
}

#[tokio::test]
async fn stray_receipts_are_cancelled_or_finished() {
    let r = rig(Dialect::ua_fp_t260()).await;
    // Unpaid stray: cancelled.
    r.drv.open_receipt().await.unwrap();
    r.drv
        .sale(&SaleItem::from(&line("Забуте", 'А', 100, 1000)))
        .await
        .unwrap();
    assert_eq!(r.drv.print_sale(&card_sale()).await.unwrap().number, 1);
    assert!(r.emu.tape()[0].contains("АНУЛЬОВАНО"));
    // Paid stray: finished and closed, then ours.
    r.drv.open_receipt().await.unwrap();
    r.drv
        .sale(&SaleItem::from(&line("Оплачене", 'А', 1000, 1000)))
        .await
        .unwrap();
    r.drv.pay(&Payment::Cash { amount: 400 }).await.unwrap();
    assert_eq!(r.drv.print_sale(&card_sale()).await.unwrap().number, 3);
    let tape = r.emu.tape();
    assert!(tape[2].contains("Оплачене") && tape[2].contains("ЧЕК №2"));
    assert!(tape[3].contains("ЧЕК №3"));
    assert!(r.emu.open_receipt().is_none());
    // Paid with exactly the rest, in cash: no change given.
    let cash: Vec<&str> = tape[2]
        .lines()
        .filter(|l| l.starts_with("ГОТІВКА"))
        .map(|l| l.split_whitespace().last().unwrap_or(""))
        .collect();
    assert_eq!(cash, ["4.00", "6.00"], "{}", tape[2]);
    assert!(!tape[2].contains("РЕШТА"), "{}", tape[2]);
    // Paid in full but left open: only closed.
    r.drv.open_receipt().await.unwrap();
    r.drv
        .sale(&SaleItem::from(&line("Сплачене", 'А', 500, 1000)))
        .await
        .unwrap();
    r.drv.pay(&Payment::Cash { amount: 500 }).await.unwrap();
    if r.emu.open_receipt().is_some() {
        r.drv.print_sale(&card_sale()).await.unwrap();
        let tape = r.emu.tape();
        let stray = tape.iter().find(|d| d.contains("Сплачене")).unwrap();
        assert_eq!(stray.matches("ГОТІВКА").count(), 1, "{stray}");
    }
    assert!(r.emu.open_receipt().is_none());
}

#[tokio::test]
async fn invalid_requests_are_refused_before_the_wire() {
    let r = rig(Dialect::ua_fp_t260()).await;
    let empty = SaleReceipt {
        lines: vec![],
        payments: vec![],
    };
    assert!(matches!(
        r.drv.print_sale(&empty).await,
        Err(Error::InvalidRequest(_))
    ));
    let mut bad_tax = card_sale();
    bad_tax.lines[0].tax_group = 'Ж';
    assert!(matches!(
        r.drv.print_sale(&bad_tax).await,
        Err(Error::InvalidRequest(_))
    ));
    let mut short = card_sale();
    short.payments = vec![Payment::Cash { amount: 1 }];
    assert!(matches!(
        r.drv.print_sale(&short).await,
        Err(Error::InvalidRequest(_))
    ));
    assert!(r.emu.tape().is_empty());
}

#[tokio::test]
async fn a_silent_port_times_out_with_a_clear_error() {
    let (_master, slave, _path) = transport::pty_pair().unwrap();
    let d = DatecsDriver::new(Box::new(slave), Dialect::ua_fp_t260(), quick_options());
    let err = d.read_status().await.unwrap_err();
    assert!(matches!(err, Error::Timeout(600)), "{err:?}");
    assert_eq!(err.code(), "timeout");
}

#[tokio::test]
async fn works_over_tcp_too() {
    let cfg = EmulatorConfig::new(Dialect::x_family());
    let (emu, addr, _task) = spawn_tcp(cfg, "127.0.0.1:0").await.unwrap();
    let config = fiscal::DriverConfig {
        endpoint: Endpoint::tcp(addr.to_string()),
        dialect: Dialect::x_family(),
        options: quick_options(),
    };
    let d = DatecsDriver::connect(&config).await.unwrap();
    assert_eq!(d.print_sale(&card_sale()).await.unwrap().number, 1);
    assert_eq!(emu.tape().len(), 1);
    drop(d); // one client at a time
    let found = fiscal::detect::detect_tcp(&addr.to_string()).await.unwrap();
    assert_eq!(found.framing, "x");
}

#[tokio::test]
async fn detection_finds_framing_and_baud() {
    let mut cfg = EmulatorConfig::new(Dialect::x_family());
    cfg.baud = Some(19_200);
    let (_emu, path, _task) = spawn_pty(cfg).unwrap();
    let info = fiscal::detect::detect_serial(&path, &[]).await.unwrap();
    assert_eq!(info.model, "FP-700X");
    assert_eq!(info.framing, "x");
    assert_eq!(info.baud, Some(19_200));
    assert_eq!(info.serial, "DT000001");

    let mut cfg = EmulatorConfig::new(Dialect::ua_fp_t260());
    cfg.baud = Some(115_200);
    let (_emu, path, _task) = spawn_pty(cfg).unwrap();
    let info = fiscal::detect::detect_serial(&path, &[]).await.unwrap();
    assert_eq!((info.framing.as_str(), info.baud), ("old", Some(115_200)));
}

#[tokio::test]
async fn demo_registers_run_in_parallel() {
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut tasks = Vec::new();
    for dir in &dirs {
        let path = dir.path().to_path_buf();
        tasks.push(tokio::spawn(async move {
            let demo = fiscal::demo::start(&path).await.unwrap();
            let reg = demo.register();
            for i in 1..=3u64 {
                assert_eq!(reg.print_sale(&card_sale()).await.unwrap().number, i);
            }
            assert_eq!(demo.tape().len(), 3);
            assert_card_data(&demo.tape()[0]);
            assert!(std::fs::read_to_string(demo.tape_file())
                .unwrap()
                .contains("412345678901"));
            demo.driver().read_status().await.unwrap()
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap().ready());
    }
    // A restart in the same directory keeps numbering, and the register
    // outlives the DemoRegister value it came from.
    let demo = fiscal::demo::start(dirs[0].path()).await.unwrap();
    assert!(demo.is_running());
    let reg = demo.register();
    drop(demo);
    assert_eq!(reg.last_document_number().await.unwrap(), 3);
    assert_eq!(reg.print_sale(&card_sale()).await.unwrap().number, 4);
    let again = fiscal::demo::start(dirs[0].path()).await.unwrap();
    let history = again.tape_history();
    assert_eq!(history.len(), 4, "{history:#?}");
    assert!(history[3].contains("ЧЕК №4"));
}

/// The link goes silent right after each step of a receipt in turn; printing
/// the same receipt again must finish it exactly once, never cancel or
/// duplicate it.
#[tokio::test]
async fn a_lost_link_at_any_step_is_resolved_without_duplicates() {
    let cases = [
        (Dialect::ua_fp_t260(), vec![0x30u16, 0x31, 0x33, 0x35, 0x38]),
        (
            Dialect::x_family(),
            vec![0x30u16, 0x31, 0x33, 0x36, 0x35, 0x38],
        ),
    ];
    let mut runs = Vec::new();
    for (dialect, cmds) in cases {
        for cmd in cmds {
            let dialect = dialect.clone();
            runs.push(async move {
                let r = rig(dialect.clone()).await;
                r.emu.update_faults(|f| f.mute_after = Some(cmd));
                let receipt = card_sale();
                let err = r.drv.print_sale(&receipt).await.unwrap_err();
                assert!(err.is_uncertain(), "{} 0x{cmd:02X}: {err:?}", dialect.name);
                r.emu.unmute();
                let doc = r.drv.print_sale(&receipt).await.unwrap();
                let tape = r.emu.tape();
                let ctx = format!("{} 0x{cmd:02X}:\n{tape:#?}", dialect.name);
                assert_eq!(doc.number, 1, "{ctx}");
                assert_eq!(tape.len(), 1, "{ctx}");
                assert!(!tape[0].contains("АНУЛЬОВАНО"), "{ctx}");
                for l in &receipt.lines {
                    let first_words: String = l.name.chars().take(10).collect();
                    assert_eq!(tape[0].matches(first_words.as_str()).count(), 1, "{ctx}");
                }
                assert_eq!(tape[0].matches("КАРТКА ").count(), 1, "{ctx}");
                assert_eq!(
                    r.emu.counters().day_sales.iter().sum::<i64>(),
                    16_500,
                    "{ctx}"
                );
                assert!(r.emu.open_receipt().is_none());
            });
        }
    }
    futures::future::join_all(runs).await;
}

#[tokio::test]
async fn paper_can_come_back_by_itself() {
    let faults = Faults {
        paper_out_at_line: Some(3),
        paper_reload_ms: 1,
        ..Faults::default()
    };
    let r = rig_with(Dialect::x_family(), faults).await;
    assert!(matches!(
        r.drv.print_sale(&card_sale()).await,
        Err(Error::PaperOut)
    ));
    // Wait for the state (the register reports paper again), not for a
    // time; bounded, and it fails loudly if paper never comes back.
    let mut back = false;
    for _ in 0..1000 {
        if !r.drv.read_status().await.unwrap().paper_out {
            back = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(back, "the paper came back by itself");
    assert_eq!(r.drv.print_sale(&card_sale()).await.unwrap().number, 1);
    assert_eq!(r.emu.tape().len(), 1);
}

#[tokio::test]
async fn x_framing_with_comma_data_is_understood() {
    let r = rig_with(
        Dialect::x_family(),
        Faults {
            x_comma_data: true,
            ..Faults::default()
        },
    )
    .await;
    assert_eq!(r.drv.diagnostic().await.unwrap().serial, "DT000001");
    assert_eq!(r.drv.print_sale(&card_sale()).await.unwrap().number, 1);
    assert_card_data(&r.emu.tape()[0]);
}

#[tokio::test]
async fn the_emulator_stops_when_the_pty_slave_closes() {
    let emu = EmulatorHandle::new(EmulatorConfig::new(Dialect::ua_fp_t260())).unwrap();
    let (master, slave, _path) = transport::pty_pair().unwrap();
    let task = tokio::spawn(fiscal::emulator::serve(emu, master));
    let d = DatecsDriver::new(Box::new(slave), Dialect::ua_fp_t260(), quick_options());
    d.read_status().await.unwrap();
    drop(d);
    assert!(task.await.unwrap().is_ok());
}

/// A tap between the driver and the emulator: every byte the driver sends
/// is recorded on its way (the emulator's own output wraps by itself, so
/// only what the driver sent can show a line the driver failed to fit).
fn tapped(dialect: Dialect) -> (EmulatorHandle, DatecsDriver, Arc<Mutex<Vec<u8>>>) {
    let emu = EmulatorHandle::new(EmulatorConfig::new(dialect.clone())).unwrap();
    let (drv_side, mut tap_a) = tokio::io::duplex(8192);
    let (mut tap_b, emu_side) = tokio::io::duplex(8192);
    tokio::spawn(fiscal::emulator::serve(emu.clone(), emu_side));
    let sent: Arc<Mutex<Vec<u8>>> = Arc::default();
    let rec = Arc::clone(&sent);
    tokio::spawn(async move {
        let (mut ar, mut aw) = tokio::io::split(&mut tap_a);
        let (mut br, mut bw) = tokio::io::split(&mut tap_b);
        let up = async {
            let mut buf = [0u8; 512];
            loop {
                let n = ar.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    return;
                }
                rec.lock().unwrap().extend_from_slice(&buf[..n]);
                if bw.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        };
        let down = async {
            let _ = tokio::io::copy(&mut br, &mut aw).await;
        };
        tokio::join!(up, down);
    });
    let drv = DatecsDriver::new(Box::new(drv_side), dialect, quick_options());
    (emu, drv, sent)
}

/// The widths the reference and the README give per dialect, written here
/// as numbers (not read from the dialect table the driver uses): item name
/// lines and how many, fiscal text lines.
fn widths(d: &Dialect) -> (usize, usize, usize) {
    match d.name {
        "ua-fp-t260" => (36, 2, 34),
        _ => (72, 1, 42),
    }
}

#[tokio::test]
async fn what_the_driver_sends_fits_the_line_widths() {
    let modes = [
        (Dialect::ua_fp_t260(), CardDataMode::TextLines),
        (Dialect::ua_fp_t260(), CardDataMode::PaymentText),
        (Dialect::x_family(), CardDataMode::TextLines),
    ];
    for (mut dialect, mode) in modes {
        dialect.settings.card.mode = mode;
        let (name_w, name_lines, text_w) = widths(&dialect);
        let (emu, drv, sent) = tapped(dialect.clone());
        let mut receipt = card_sale();
        // One-letter words after the first ones: a line can end at every
        // other column, so a wrap one column too wide shows in what is sent.
        receipt.lines.push(line(
            &format!("Дуже довга назва товару {}", "я ".repeat(80)),
            'Г',
            100,
            1000,
        ));
        let mut long = card();
        long.terminal_id = "T".repeat(40);
        long.masked_pan = "4149 43** **** 8717 ЕКСПРЕС ДУЖЕ ДОВГА".into();
        receipt.payments = vec![Payment::Card {
            amount: 16_600,
            card: long,
        }];
        // What was sent is checked first: a register may refuse a line too
        // long, and the driver is to blame for sending it.
        let printed = drv.print_sale(&receipt).await;
        if printed.is_ok() {
            drv.print_text(&"Дякуємо за покупку! ".repeat(5)).await.ok();
        }
        let bytes = sent.lock().unwrap().clone();
        let (packets, _) = fiscal::codec::decode_all(&bytes, Some(dialect.framing));
        let mut checked = 0;
        for p in packets {
            let fiscal::codec::Packet::Frame(f) = p else {
                continue;
            };
            let data = fiscal::text::from_cp1251(&f.data);
            let ctx = format!("{} {mode:?} 0x{:02X} {data:?}", dialect.name, f.cmd);
            match (f.cmd, dialect.syntax) {
                (0x31, fiscal::dialect::Syntax::Comma) => {
                    let names: Vec<&str> = data.split('\t').next().unwrap().split('\n').collect();
                    assert!(names.len() <= name_lines, "{ctx}");
                    for n in names {
                        assert!(n.chars().count() <= name_w, "{ctx}");
                    }
                    checked += 1;
                }
                (0x31, fiscal::dialect::Syntax::Tab) => {
                    let name = data.split('\t').next().unwrap();
                    assert!(name.chars().count() <= name_w, "{ctx}");
                    checked += 1;
                }
                (0x36, _) => {
                    let t = data.trim_end_matches('\t').split('\t').next().unwrap();
                    assert!(t.chars().count() <= text_w, "{ctx}");
                    checked += 1;
                }
                (0x35, fiscal::dialect::Syntax::Comma) => {
                    let texts = data.rsplit_once('\t').map(|(t, _)| t).unwrap_or("");
                    for t in texts.split('\n') {
                        assert!(t.chars().count() <= text_w, "{ctx}");
                    }
                    checked += 1;
                }
                _ => {}
            }
        }
        assert!(
            checked >= 6,
            "{} {mode:?}: {checked} frames checked",
            dialect.name
        );
        printed.unwrap();
        for doc in emu.tape() {
            for l in doc.lines() {
                assert!(l.chars().count() <= dialect.line_width, "{l:?}");
            }
        }
    }
}

/// After an uncertain close, the driver remembers that receipt; a different
/// receipt printed next is printed, not taken for the one it remembers.
#[tokio::test]
async fn a_different_receipt_after_an_uncertain_close_is_printed_on_its_own() {
    let r = rig(Dialect::ua_fp_t260()).await;
    r.emu.update_faults(|f| f.mute_after = Some(0x38));
    assert!(r
        .drv
        .print_sale(&card_sale())
        .await
        .unwrap_err()
        .is_uncertain());
    r.emu.unmute();
    let other = SaleReceipt {
        lines: vec![line("Сіль", 'Б', 1200, 1000)],
        payments: vec![Payment::Cash { amount: 1200 }],
    };
    assert_eq!(r.drv.print_sale(&other).await.unwrap().number, 2);
    let tape = r.emu.tape();
    assert_eq!(tape.len(), 2, "{tape:#?}");
    assert!(tape[1].contains("Сіль"), "{}", tape[1]);
    assert_eq!(r.emu.counters().fiscal_receipts, 2);
}

/// A receipt cancelled before it was paid (paper out at its second line,
/// then cancelled at the register), with another document printed since,
/// is printed whole when it is sent again: not taken for printed because
/// the register's document number moved.
#[tokio::test]
async fn a_receipt_cancelled_before_its_payment_is_printed_whole_when_sent_again() {
    let r = rig_with(
        Dialect::ua_fp_t260(),
        Faults {
            paper_out_at_line: Some(2),
            ..Faults::default()
        },
    )
    .await;
    let receipt = card_sale();
    assert!(matches!(
        r.drv.print_sale(&receipt).await,
        Err(Error::PaperOut)
    ));
    r.emu.load_paper();
    let before = r.drv.last_document_number().await.unwrap();
    r.drv.cancel_receipt().await.unwrap();
    assert!(r.emu.open_receipt().is_none());
    r.drv.cash_in_out(10000).await.unwrap();
    assert!(r.drv.last_document_number().await.unwrap() > before);
    let doc = r.drv.print_sale(&receipt).await.unwrap();
    assert_eq!(r.emu.counters().fiscal_receipts, 1);
    let tape = r.emu.tape();
    let printed = tape.last().unwrap();
    assert!(printed.contains("Цукор"), "{printed}");
    assert_card_data(printed);
    assert_eq!(r.emu.counters().day_sales.iter().sum::<i64>(), 16_500);
    assert!(doc.number > before, "{doc:?}");
}

/// A register reporting a blocking condition (here a SAM failure) is not
/// sent a receipt: the driver reads the status, refuses with the condition
/// and sends nothing more.
#[tokio::test]
async fn a_sam_failure_refuses_receipts_before_one_is_opened() {
    let r = rig_with(
        Dialect::ua_fp_t260(),
        Faults {
            sam_error: true,
            ..Faults::default()
        },
    )
    .await;
    let before = r.emu.stats().executed;
    assert!(matches!(
        r.drv.print_sale(&card_sale()).await,
        Err(Error::SamError)
    ));
    assert_eq!(
        r.emu.stats().executed - before,
        1,
        "only the status was asked"
    );
    assert!(r.emu.open_receipt().is_none());
    assert!(r.emu.tape().is_empty());
    assert_eq!(r.emu.counters().fiscal_receipts, 0);
}

/// The link lost just before the payment, then the unpaid receipt
/// cancelled at the register: sent again, the receipt is printed whole,
/// not taken for printed (no document came after it).
#[tokio::test]
async fn a_receipt_lost_before_its_payment_and_cancelled_is_printed_when_sent_again() {
    let r = rig(Dialect::ua_fp_t260()).await;
    let pay = Dialect::ua_fp_t260().cmd.payment;
    r.emu.update_faults(|f| f.mute_before = Some(pay));
    let receipt = card_sale();
    assert!(r.drv.print_sale(&receipt).await.unwrap_err().is_uncertain());
    r.emu.unmute();
    assert!(r.emu.open_receipt().is_some(), "open, unpaid");
    r.drv.cancel_receipt().await.unwrap();
    let doc = r.drv.print_sale(&receipt).await.unwrap();
    assert_eq!(r.emu.counters().fiscal_receipts, 1);
    assert_eq!(doc.number, 1);
    let tape = r.emu.tape();
    assert!(tape.last().unwrap().contains("Цукор"), "{tape:#?}");
    assert_card_data(tape.last().unwrap());
}

/// A receipt that failed before it was opened does not take over a receipt
/// someone else opened since: that stray is cancelled and ours printed on
/// its own, without the stranger's line.
#[tokio::test]
async fn a_receipt_that_never_opened_does_not_take_over_a_strangers() {
    let r = rig(Dialect::ua_fp_t260()).await;
    let open = Dialect::ua_fp_t260().cmd.open_receipt;
    r.emu.update_faults(|f| f.mute_before = Some(open));
    let receipt = card_sale();
    assert!(r.drv.print_sale(&receipt).await.unwrap_err().is_uncertain());
    r.emu.unmute();
    assert!(r.emu.open_receipt().is_none(), "ours never opened");
    r.drv.open_receipt().await.unwrap();
    r.drv
        .sale(&SaleItem::from(&line("Чуже", 'А', 100, 1000)))
        .await
        .unwrap();
    r.drv.print_sale(&receipt).await.unwrap();
    let tape = r.emu.tape();
    let ours = tape.last().unwrap();
    assert!(
        ours.contains("Цукор") && !ours.contains("Чуже"),
        "{tape:#?}"
    );
    assert!(tape
        .iter()
        .any(|d| d.contains("Чуже") && d.contains("АНУЛЬОВАНО")));
    assert_eq!(r.emu.counters().fiscal_receipts, 1);
}

/// In the text-line mode a card return names the receipt it returns to
/// (when known), and a register set not to read receipts back is not asked
/// for its journal.
#[tokio::test]
async fn a_card_return_names_its_original_and_read_back_can_be_off() {
    let mut d = Dialect::ua_fp_t260();
    d.settings.card.mode = CardDataMode::TextLines;
    let r = rig(d.clone()).await;
    let ret = |original_number| ReturnReceipt {
        original_number,
        lines: vec![line("Хліб житній", 'Б', 2850, 1000)],
        payments: vec![Payment::Card {
            amount: 2850,
            card: card(),
        }],
    };
    let doc = r.drv.print_return(&ret(17)).await.unwrap();
    assert!(!doc.lines.is_empty(), "read back");
    let tape = r.emu.tape();
    assert!(
        tape.last().unwrap().contains("ПОВЕРНЕННЯ ДО ЧЕКА №17"),
        "{tape:#?}"
    );
    r.drv.print_return(&ret(0)).await.unwrap();
    let tape = r.emu.tape();
    assert!(
        !tape.last().unwrap().contains("ПОВЕРНЕННЯ ДО ЧЕКА"),
        "{tape:#?}"
    );

    d.settings.readback = false;
    let r = rig(d).await;
    let doc = r.drv.print_return(&ret(17)).await.unwrap();
    assert!(doc.lines.is_empty(), "not read back: {doc:?}");
}
