//! Card data the Ukrainian way, the driver against the emulator over a real
//! pty: the card block printed from the 0x35 slots, the read-back from the
//! electronic journal, the fallback to text lines, the field check, and
//! what the register reports (shift, modem, clock, password, cash, SAM).
//! Money moved is checked in the emulator's own records (its counters and
//! the journal lines as printed), not only in what the driver returns.

use std::time::Duration;

use fiscal::dialect::Dialect;
use fiscal::driver::DriverOptions;
use fiscal::emulator::{spawn_pty, EmulatorConfig, EmulatorHandle, Faults, LongFormRefusal};
use fiscal::link::LinkConfig;
use fiscal::settings::{DialectSettings, PasswordCheck, EXELLIO_TEMPLATE};
use fiscal::transport::{self, Endpoint};
use fiscal::{
    CardOperation, CardSlip, DatecsDriver, Error, FiscalRegister, Needle, Payment, ReadbackStatus,
    ReceiptLine, ReturnReceipt, SaleReceipt,
};

fn options() -> DriverOptions {
    DriverOptions {
        link: LinkConfig {
            reply_timeout: Duration::from_millis(300),
            max_attempts: 4,
            max_busy: Duration::from_secs(10),
        },
        ..DriverOptions::default()
    }
}

struct Rig {
    emu: EmulatorHandle,
    drv: DatecsDriver,
    path: String,
    dir: tempfile::TempDir,
}

async fn rig_cfg(f: impl FnOnce(&mut EmulatorConfig)) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = EmulatorConfig::new(Dialect::ua_fp_t260());
    cfg.state_file = Some(dir.path().join("state.json"));
    cfg.tape_file = Some(dir.path().join("tape.txt"));
    f(&mut cfg);
    let (emu, path, _task) = spawn_pty(cfg).unwrap();
    let drv = open(&path, options()).await;
    Rig {
        emu,
        drv,
        path,
        dir,
    }
}

async fn open(path: &str, opts: DriverOptions) -> DatecsDriver {
    let stream = transport::open(&Endpoint::Serial {
        path: path.to_string(),
        baud: 115_200,
    })
    .await
    .unwrap();
    DatecsDriver::new(stream, Dialect::ua_fp_t260(), opts)
}

async fn rig(faults: Faults) -> Rig {
    rig_cfg(|c| c.faults = faults).await
}

fn card(rrn: &str, auth: &str) -> CardSlip {
    CardSlip {
        rrn: rrn.into(),
        auth_code: auth.into(),
        masked_pan: "414943******8717".into(),
        terminal_id: "T1234567".into(),
        invoice: "000042".into(),
        payment_system: "VISA".into(),
        ..CardSlip::default()
    }
}

fn line(name: &str, price: i64) -> ReceiptLine {
    ReceiptLine {
        name: name.into(),
        tax_group: 'А',
        price,
        quantity_milli: 1000,
        discount: 0,
    }
}

fn card_sale(amount: i64, c: CardSlip) -> SaleReceipt {
    SaleReceipt {
        lines: vec![line("Кава", amount)],
        payments: vec![Payment::Card { amount, card: c }],
    }
}

fn journal_lines(emu: &EmulatorHandle, number: u64) -> Vec<String> {
    emu.journal()
        .into_iter()
        .find(|d| d.number == number)
        .map(|d| d.lines)
        .unwrap_or_default()
}

fn has_line(lines: &[String], want: &str) -> bool {
    lines.iter().any(|l| l == want)
}

#[tokio::test]
async fn card_mixed_and_refund_receipts_carry_the_card_block_and_read_back() {
    let r = rig(Faults::default()).await;
    let sale = card("412345678901", "A1B2C3");

    // A card sale: the card block comes from the slots, and the read-back
    // finds the RRN and auth code in the journal.
    let doc = r
        .drv
        .print_sale(&card_sale(16_500, sale.clone()))
        .await
        .unwrap();
    assert_eq!(doc.number, 1);
    assert_eq!(doc.readback.status, ReadbackStatus::Verified, "{doc:?}");
    assert!(!doc.card_data_as_text);
    assert_eq!(doc.lines, journal_lines(&r.emu, 1), "the lines as recorded");
    for l in [
        "RRN: 412345678901",
        "КОД АВТ.: A1B2C3",
        "ЕПЗ: 414943******8717",
        "ВИД ОПЕРАЦІЇ: оплата",
    ] {
        assert!(has_line(&doc.lines, l), "{l:?} in {:#?}", doc.lines);
    }
    assert!(
        !doc.lines.iter().any(|l| l.starts_with("КАРТКА:")),
        "no text-line fallback"
    );

    // A mixed sale: card exact, cash rounded to 0.10 (100.03: 50.00 by
    // card, the rest 50.03 is due as 50.00 in cash; 51.00 given).
    let mixed = SaleReceipt {
        lines: vec![line("Чай", 10_003)],
        payments: vec![
            Payment::Card {
                amount: 5_000,
                card: card("412345678902", "D4E5F6"),
            },
            Payment::Cash { amount: 5_100 },
        ],
    };
    let doc = r.drv.print_sale(&mixed).await.unwrap();
    assert_eq!(doc.readback.status, ReadbackStatus::Verified, "{doc:?}");
    assert!(has_line(&doc.lines, "RRN: 412345678902"));
    assert!(
        has_line(&doc.lines, "ЗАОКРУГЛЕННЯ -0.03"),
        "{:#?}",
        doc.lines
    );
    let c = r.emu.counters();
    assert_eq!(c.day_paid, [5_000, 16_500 + 5_000], "cash kept 50.00");
    assert_eq!(c.day_rounding, -3);
    assert_eq!(c.day_sales[0], 16_500 + 10_003, "sales are exact");

    // A card refund: a return receipt (0x55) with the refund's own RRN.
    let refund = CardSlip {
        operation: CardOperation::Refund,
        ..card("512345678901", "R1R2R3")
    };
    let ret = ReturnReceipt {
        original_number: 1,
        lines: vec![line("Кава", 16_500)],
        payments: vec![Payment::Card {
            amount: 16_500,
            card: refund,
        }],
    };
    let doc = r.drv.print_return(&ret).await.unwrap();
    assert_eq!(doc.readback.status, ReadbackStatus::Verified, "{doc:?}");
    assert!(has_line(&doc.lines, "ВИДАТКОВИЙ ЧЕК"));
    assert!(has_line(&doc.lines, "ВИД ОПЕРАЦІЇ: повернення"));
    assert!(has_line(&doc.lines, "RRN: 512345678901"));
    assert_eq!(r.emu.counters().day_refunded, [0, 16_500]);
    assert_eq!(r.emu.counters().return_receipts, 1);

    // The recovery question, answered from the journal exactly.
    let last = r.drv.last_document_number().await.unwrap();
    let lines = r.drv.read_document(last).await.unwrap();
    assert!(fiscal::readback::find(
        &lines,
        &fiscal::readback::card_needles(&card("512345678901", "R1R2R3"))
    )
    .verified());
    assert!(!fiscal::readback::find(&lines, &fiscal::readback::card_needles(&sale)).verified());
}

#[tokio::test]
async fn a_refused_long_form_falls_back_to_text_lines_and_is_remembered() {
    for refusal in [LongFormRefusal::Syntax, LongFormRefusal::PaidF] {
        let r = rig(Faults {
            refuse_long_form: refusal,
            ..Faults::default()
        })
        .await;
        let doc = r
            .drv
            .print_sale(&card_sale(1_000, card("412345678901", "A1B2C3")))
            .await
            .unwrap();
        assert!(doc.card_data_as_text, "{refusal:?}: {doc:?}");
        assert_eq!(doc.readback.status, ReadbackStatus::Verified);
        let lines = journal_lines(&r.emu, 1);
        assert!(has_line(&lines, "RRN: 412345678901"), "{lines:#?}");
        assert!(has_line(&lines, "КАРТКА: 414943******8717"));
        assert!(
            !lines.iter().any(|l| l.starts_with("ЕПЗ:")),
            "no slot block"
        );
        assert_eq!(r.emu.counters().day_paid, [0, 1_000], "paid once, by card");
        assert!(r.drv.card_data_as_text().await);
        assert!(r.drv.settings().await.card.long_form_refused);

        // Remembered: with the register taking the long form again, this
        // driver still sends text lines and a plain payment.
        r.emu
            .update_faults(|f| f.refuse_long_form = LongFormRefusal::Off);
        let doc = r
            .drv
            .print_sale(&card_sale(2_000, card("412345678902", "A1B2C4")))
            .await
            .unwrap();
        assert!(doc.card_data_as_text);
        assert!(has_line(
            &journal_lines(&r.emu, 2),
            "КАРТКА: 414943******8717"
        ));
    }
}

#[tokio::test]
async fn the_read_back_reports_an_rrn_missing_from_the_journal() {
    let r = rig(Faults {
        drop_rrn_from_journal: true,
        ..Faults::default()
    })
    .await;
    let doc = r
        .drv
        .print_sale(&card_sale(1_000, card("412345678901", "A1B2C3")))
        .await
        .unwrap();
    assert_eq!(doc.readback.status, ReadbackStatus::Missing);
    assert_eq!(
        doc.readback.missing,
        vec![Needle::Rrn("412345678901".into())]
    );
    assert!(r.emu.tape()[0].contains("RRN: 412345678901"), "on paper");
}

#[tokio::test]
async fn the_field_check_finds_another_slot_order_and_saves_it() {
    let r = rig_cfg(|c| c.slot_order = EXELLIO_TEMPLATE.to_vec()).await;
    let err = fiscal::field_check::run(&r.drv, false, DialectSettings::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_request");
    assert!(r.emu.tape().is_empty(), "nothing printed without a yes");

    let report = fiscal::field_check::run(&r.drv, true, DialectSettings::default())
        .await
        .unwrap();
    assert!(report.long_form_accepted);
    assert_eq!(report.template, EXELLIO_TEMPLATE.to_vec(), "{report:#?}");
    assert_eq!(report.two_payment_types, Some(true));
    assert!(report.readback_works);
    assert!(report.return_differs.is_empty());
    assert_eq!(report.documents.len(), 4);
    assert_eq!(report.slots[0].line.as_deref(), Some("КОД АВТ.: S1"));
    assert_eq!(report.slots[6].line.as_deref(), Some("RRN: S7"));
    assert_eq!(report.info.id_acq, "IA000042");
    let c = r.emu.counters();
    assert_eq!((c.fiscal_receipts, c.return_receipts), (2, 2));
    assert_eq!(c.day_sales[0], 3, "0.01 + 0.02");

    let file = r.dir.path().join("dialect.json");
    report.settings.save(&file).unwrap();
    let saved = DialectSettings::load(&file).unwrap();
    assert_eq!(saved.card.template, EXELLIO_TEMPLATE.to_vec());

    // A driver with the saved settings gets RRN and auth code printed where
    // they belong on this register.
    r.drv.set_settings(saved).await;
    let doc = r
        .drv
        .print_sale(&card_sale(1_000, card("412345678901", "A1B2C3")))
        .await
        .unwrap();
    assert!(
        has_line(&doc.lines, "RRN: 412345678901"),
        "{:#?}",
        doc.lines
    );
    assert!(has_line(&doc.lines, "КОД АВТ.: A1B2C3"));
    assert!(doc.readback.verified());
}

#[tokio::test]
async fn the_field_check_command_stops_without_a_yes() {
    let r = rig(Faults::default()).await;
    let path = r.path.clone();
    drop(r.drv); // the port is opened exclusively
    let code = fiscal::cli::main(vec!["field-check".into(), "--port".into(), path]).await;
    assert_eq!(code, 2);
    assert!(r.emu.tape().is_empty());
    assert_eq!(r.emu.stats().executed, 0, "not even connected");
}

/// `kasa fiscal field-check --yes --save FILE` as an installer runs it, on
/// a register that reads the slots in the Exellio order: the command finds
/// that order and writes it to the settings file the checkout loads.
#[tokio::test]
async fn the_field_check_command_saves_the_order_it_found() {
    let r = rig_cfg(|c| c.slot_order = EXELLIO_TEMPLATE.to_vec()).await;
    let path = r.path.clone();
    drop(r.drv); // the port is opened exclusively
    let file = r.dir.path().join("fiscal-dialect.json");
    let args = ["field-check", "--port", &path, "--yes", "--save"]
        .iter()
        .map(|s| s.to_string())
        .chain([file.display().to_string()])
        .collect();
    assert_eq!(fiscal::cli::main(args).await, 0);
    let saved = DialectSettings::load(&file).unwrap();
    assert_eq!(saved.card.template, EXELLIO_TEMPLATE.to_vec(), "{saved:#?}");
    assert!(!saved.card.long_form_refused, "the long form was taken");
    assert_eq!(r.emu.counters().fiscal_receipts, 2, "two sales printed");
    assert_eq!(r.emu.counters().return_receipts, 2, "and their returns");
}

/// The UA status bits of reference §7.5 as the driver reads them: a return
/// receipt open (1.3) and the electronic journal nearly full (2.4) warn,
/// and neither is mistaken for a sale receipt or a full journal. ID_ACQ,
/// the information acquirer's id from 0x5A, never lands on a receipt.
#[tokio::test]
async fn return_receipt_open_and_journal_nearly_full_are_read_from_the_status() {
    let r = rig(Faults {
        ej_nearly_full: true,
        ..Faults::default()
    })
    .await;
    let now = fiscal::emulator::register_local_now();
    let h = r.drv.health(now).await.unwrap();
    assert!(h.ready(), "a warning only: {h:#?}");
    assert!(h.status.journal_nearly_full && !h.status.journal_full);
    assert!(h.warnings.contains(&"journal_nearly_full".to_string()));

    r.drv.open_return(0).await.unwrap();
    let st = r.drv.read_status().await.unwrap();
    assert!(st.receipt_open && st.return_receipt_open, "{st:?}");
    let h = r.drv.health(now).await.unwrap();
    assert!(h.warnings.contains(&"return_receipt_open".to_string()));
    assert!(!h.warnings.contains(&"receipt_open".to_string()));
    r.drv.cancel_receipt().await.unwrap();

    r.drv.open_receipt().await.unwrap();
    let st = r.drv.read_status().await.unwrap();
    assert!(st.receipt_open && !st.return_receipt_open, "{st:?}");
    r.drv.cancel_receipt().await.unwrap();

    // 0x5A, every field of reference §7.4 in its place.
    let info = r.drv.info().await.unwrap();
    assert_eq!(
        [
            &info.model,
            &info.firmware,
            &info.firmware_date,
            &info.country,
            &info.serial,
            &info.fiscal_number,
            &info.id_dev,
            &info.id_acq,
            &info.id_sam,
        ]
        .map(String::as_str),
        [
            "FP-T260",
            "4.00UA",
            "15Jan25",
            "2",
            "DT000001",
            "40000001",
            "4000000001",
            "IA000042",
            "SAM00001",
        ]
    );
    let doc = r
        .drv
        .print_sale(&card_sale(1_000, card("412345678901", "A1B2C3")))
        .await
        .unwrap();
    assert!(doc.readback.verified(), "{doc:?}");
    assert!(
        !r.emu.tape().iter().any(|t| t.contains(&info.id_acq)),
        "ID_ACQ is not the bank's id: {:#?}",
        r.emu.tape()
    );
    assert!(
        has_line(&doc.lines, "ЕКВАЙР/ТОРГОВЕЦЬ: Магазин"),
        "{:#?}",
        doc.lines
    );
}

#[tokio::test]
async fn three_wrong_passwords_lock_until_a_power_cycle_and_are_never_retried() {
    let r = rig(Faults::default()).await;
    let path = r.path.clone();
    drop(r.drv);
    let wrong = open(
        &path,
        DriverOptions {
            password: "9999".into(),
            ..options()
        },
    )
    .await;
    for _ in 0..3 {
        let before = r.emu.stats().executed;
        assert!(matches!(
            wrong.check_password().await,
            Err(Error::WrongPassword)
        ));
        assert_eq!(r.emu.stats().executed, before + 1, "one command, no retry");
    }
    assert!(r.emu.locked());
    drop(wrong);
    let right = open(&path, options()).await;
    assert!(right.check_password().await.is_err(), "locked");
    let now = fiscal::emulator::register_local_now();
    assert!(right
        .health(now)
        .await
        .unwrap()
        .blocking
        .contains(&"wrong_password".to_string()));
    r.emu.power_cycle();
    right.check_password().await.unwrap();
    assert!(right.health(now).await.unwrap().ready());

    right
        .set_settings(DialectSettings {
            password_check: PasswordCheck::None,
            ..DialectSettings::default()
        })
        .await;
    let before = r.emu.stats().executed;
    right.check_password().await.unwrap();
    assert_eq!(r.emu.stats().executed, before, "`none` sends nothing");
}

#[tokio::test]
async fn cash_counters_after_cash_in_and_a_query() {
    let r = rig(Faults::default()).await;
    let t = r.drv.cash_in_out(10_000).await.unwrap();
    assert_eq!((t.cash, t.cash_in, t.cash_out), (10_000, 10_000, 0));
    r.drv
        .print_sale(&SaleReceipt {
            lines: vec![line("Хліб", 1_254)],
            payments: vec![Payment::Cash { amount: 2_000 }],
        })
        .await
        .unwrap();
    let before = r.drv.last_document_number().await.unwrap();
    let t = r.drv.cash_totals().await.unwrap();
    assert_eq!(t.cash, 10_000 + 1_250, "12.54 kept as 12.50 in cash");
    assert_eq!(r.emu.counters().cash_in_drawer(), t.cash);
    assert_eq!(
        r.drv.last_document_number().await.unwrap(),
        before,
        "a query prints nothing"
    );
    let t = r.drv.cash_in_out(-3_000).await.unwrap();
    assert_eq!((t.cash, t.cash_out), (8_250, 3_000));
}

#[tokio::test]
async fn a_signature_line_and_a_merchant_copy_when_the_cardholder_signs() {
    let r = rig(Faults::default()).await;
    r.drv
        .print_non_fiscal(&["ТЕСТ ДРУКУ".to_string()])
        .await
        .unwrap();
    assert_eq!(
        r.drv.last_document_number().await.unwrap(),
        0,
        "not numbered"
    );
    assert!(r.emu.tape()[0].contains("ТЕСТ ДРУКУ"));

    let c = CardSlip {
        signature_required: true,
        ..card("412345678901", "A1B2C3")
    };
    let doc = r.drv.print_sale(&card_sale(1_000, c)).await.unwrap();
    assert!(doc.merchant_copy);
    let sign = DialectSettings::default().card.signature_line;
    assert!(has_line(&doc.lines, &sign), "{:#?}", doc.lines);
    let tape = r.emu.tape();
    let copy = tape.last().unwrap();
    assert!(copy.contains("КОПІЯ ТОРГОВЦЯ") && copy.contains("RRN: 412345678901"));
    assert!(copy.contains(&sign) && copy.contains("НЕФІСКАЛЬНИЙ"));
    assert!(r.emu.open_receipt().is_none());
    assert!(!r.drv.read_status().await.unwrap().nonfiscal_receipt_open);
}

#[tokio::test]
async fn health_says_what_blocks_and_what_warns() {
    let r = rig(Faults {
        modem_down: true,
        unsent_hours: 30,
        clock_offset_s: 600,
        ej_nearly_full: true,
        ..Faults::default()
    })
    .await;
    let info = r.drv.info().await.unwrap();
    assert_eq!(
        (
            info.model.as_str(),
            info.serial.as_str(),
            info.id_acq.as_str()
        ),
        ("FP-T260", "DT000001", "IA000042")
    );
    assert_eq!(
        (info.firmware.as_str(), info.firmware_date.as_str()),
        ("4.00UA", "15Jan25")
    );
    let now = fiscal::emulator::register_local_now();
    let h = r.drv.health(now).await.unwrap();
    assert_eq!(h.blocking, vec!["clock_drift"], "{h:#?}");
    for w in ["journal_nearly_full", "modem_down", "modem_unsent"] {
        assert!(h.warnings.contains(&w.to_string()), "{w}: {h:#?}");
    }
    let clock = h.clock.unwrap();
    assert!((clock.drift_s - 600).abs() < 60, "{clock:?}");
    assert_eq!(h.shift.map(|s| s.open), Some(false));

    r.emu.update_faults(|f| {
        f.clock_offset_s = 0;
        f.modem_down = false;
        f.unsent_hours = 0;
    });
    r.drv
        .print_sale(&card_sale(1_000, card("412345678901", "A1B2C3")))
        .await
        .unwrap();
    let h = r
        .drv
        .health(fiscal::emulator::register_local_now())
        .await
        .unwrap();
    assert!(h.ready(), "{h:#?}");
    assert_eq!(h.shift.map(|s| (s.open, s.z_due)), Some((true, false)));

    r.emu.update_faults(|f| {
        f.sam_error = true;
        f.shift_over_24h = true;
    });
    let h = r
        .drv
        .health(fiscal::emulator::register_local_now())
        .await
        .unwrap();
    assert!(h.blocking.contains(&"sam_error".to_string()), "{h:#?}");
    assert!(h.blocking.contains(&"shift_over_24h".to_string()));
    assert!(h.status.sam_error && h.shift.unwrap().z_due);
    let err = r
        .drv
        .print_sale(&card_sale(1_000, card("412345678902", "A1B2C4")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "sam_error");
}

#[tokio::test]
async fn card_cash_out_prints_the_card_block_with_the_cash_out_word() {
    let r = rig(Faults::default()).await;
    r.drv.cash_in_out(10_000).await.unwrap();
    let c = CardSlip {
        operation: CardOperation::CashOut,
        ..card("612345678901", "C1C2C3")
    };
    let doc = r.drv.card_cash_out(5_000, &c).await.unwrap();
    assert!(doc.readback.verified(), "{doc:?}");
    assert!(has_line(&doc.lines, "ВИД ОПЕРАЦІЇ: видача"));
    let counters = r.emu.counters();
    assert_eq!(counters.card_cash_out, 5_000);
    assert_eq!(counters.cash_in_drawer(), 5_000);
}

/// `kasa emulate fiscal` as the checkout's crash tests run it: faults from
/// flags, state and journal on disk, readable after the fact with
/// `load_state`, and the journal survives a restart.
#[tokio::test]
async fn the_emulator_command_keeps_its_journal_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let tape = dir.path().join("tape.txt");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec![
            "--tcp".into(),
            addr.clone(),
            "--state".into(),
            state.display().to_string(),
            "--tape".into(),
            tape.display().to_string(),
            "--slot-order".into(),
            "auth_code,zero,terminal_id,zero,payment_system,masked_pan,rrn,zero".into(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let task = tokio::spawn(fiscal::cli::emulate(args(&["--drop-rrn-from-journal"])));
    let config = fiscal::DriverConfig::tcp(addr.clone()).with_settings(DialectSettings {
        card: fiscal::CardDataSettings {
            template: EXELLIO_TEMPLATE.to_vec(),
            ..Default::default()
        },
        ..DialectSettings::default()
    });
    let drv = connect_retrying(&config).await;
    let doc = drv
        .print_sale(&card_sale(1_000, card("412345678901", "A1B2C3")))
        .await
        .unwrap();
    assert_eq!(doc.readback.status, ReadbackStatus::Missing, "{doc:?}");
    drop(drv);
    task.abort();
    let _ = task.await;

    let saved = fiscal::emulator::load_state(&state).unwrap();
    assert_eq!(saved.counters.day_paid, [0, 1_000]);
    assert_eq!(saved.journal.len(), 1);
    assert!(saved.journal[0]
        .lines
        .iter()
        .any(|l| l == "КОД АВТ.: A1B2C3"));
    assert!(std::fs::read_to_string(&tape)
        .unwrap()
        .contains("RRN: 412345678901"));

    let task = tokio::spawn(fiscal::cli::emulate(args(&[])));
    let drv = connect_retrying(&config).await;
    let lines = drv.read_document(1).await.unwrap();
    assert_eq!(
        lines, saved.journal[0].lines,
        "the journal survived the restart"
    );
    task.abort();
}

/// Connects once the emulator task listens; gives up after a bounded number
/// of tries (it waits for a state, not for a time).
async fn connect_retrying(config: &fiscal::DriverConfig) -> DatecsDriver {
    for _ in 0..500 {
        if let Ok(d) = DatecsDriver::connect(config).await {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the emulator never listened on {:?}", config.endpoint);
}

/// The checkout's register (connected on demand, reconnected after a lost
/// link) keeps what the driver learned: after one refused long form it
/// reports `long_form_refused` in the settings a caller persists, and the
/// next receipt goes as text lines with no second refusal.
#[tokio::test]
async fn the_reconnecting_register_remembers_a_refused_long_form() {
    let mut cfg = EmulatorConfig::new(Dialect::ua_fp_t260());
    cfg.faults.refuse_long_form = LongFormRefusal::Syntax;
    let (emu, addr, _task) = fiscal::emulator::spawn_tcp(cfg, "127.0.0.1:0")
        .await
        .unwrap();
    let reg = fiscal::ReconnectingRegister::new(fiscal::DriverConfig::tcp(addr.to_string()));
    assert!(!reg.dialect_settings().await.unwrap().card.long_form_refused);
    let doc = reg
        .print_sale(&card_sale(1_000, card("412345678901", "A1B2C3")))
        .await
        .unwrap();
    assert!(doc.card_data_as_text && doc.readback.verified(), "{doc:?}");
    assert!(reg.dialect_settings().await.unwrap().card.long_form_refused);

    emu.update_faults(|f| f.refuse_long_form = LongFormRefusal::Off);
    let doc = reg
        .print_sale(&card_sale(2_000, card("412345678902", "A1B2C4")))
        .await
        .unwrap();
    assert!(doc.card_data_as_text, "{doc:?}");
    assert!(has_line(
        &journal_lines(&emu, 2),
        "КАРТКА: 414943******8717"
    ));
}
