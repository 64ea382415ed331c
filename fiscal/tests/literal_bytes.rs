//! The driver and the emulator checked each on its own against fixed bytes
//! from `reference/datecs-protocol.md` (§6, §7.8), never against each other:
//! both read the same dialect tables, so a wrong byte on both sides would
//! agree with itself (a card paid as `C`, an amount ten times too large).
//!
//! - Driver side: a scripted peer on an in-memory duplex records every
//!   request frame as raw bytes (split at the 0x03 terminator, which DATA
//!   never holds) and answers with replies this file builds by hand; the
//!   recorded bytes must equal the literals.
//! - Emulator side: literal request bytes go in on a duplex; the literal
//!   reply and the emulator's own records (counters, journal lines as
//!   printed) must show the money moved as the literals say.
//!
//! The checksum helper here is a plain byte sum, written apart from
//! `frame.rs`, and the literals' LEN / sum are asserted against the numbers
//! the reference gives.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fiscal::dialect::Dialect;
use fiscal::driver::{DriverOptions, SaleItem};
use fiscal::emulator::{serve, EmulatorConfig, EmulatorHandle};
use fiscal::link::LinkConfig;
use fiscal::settings::SlotField;
use fiscal::{CardSlip, DatecsDriver, Payment};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

fn h(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

/// 16-bit sum of LEN..0x05 of an old-framing frame (reference §1.1).
fn sum_old(frame: &[u8]) -> u16 {
    let end = frame.len() - 5; // 4 BCC bytes and 0x03 follow 0x05
    frame[1..end]
        .iter()
        .fold(0u16, |a, b| a.wrapping_add(u16::from(*b)))
}

fn nibbles(v: u16) -> [u8; 4] {
    [12u16, 8, 4, 0].map(|s| 0x30 + ((v >> s) & 0xF) as u8)
}

/// An old-framing reply built by hand: 01 LEN SEQ CMD DATA 04 STATUS 05 BCC 03.
fn old_reply(seq: u8, cmd: u8, data: &[u8], status: &[u8; 6]) -> Vec<u8> {
    let mut body = vec![seq, cmd];
    body.extend_from_slice(data);
    body.push(0x04);
    body.extend_from_slice(status);
    body.push(0x05);
    let len = (body.len() + 1 + 0x20) as u8;
    let mut out = vec![0x01, len];
    out.extend_from_slice(&body);
    let sum = out[1..]
        .iter()
        .fold(0u16, |a, b| a.wrapping_add(u16::from(*b)));
    out.extend_from_slice(&nibbles(sum));
    out.push(0x03);
    out
}

/// An X-framing reply built by hand (4-nibble LEN and CMD, 8 status bytes).
fn x_reply(seq: u8, cmd: u16, data: &[u8]) -> Vec<u8> {
    let status = [0x80, 0x80, 0x88, 0x80, 0x86, 0x9A, 0x80, 0x80];
    let mut body = vec![seq];
    body.extend_from_slice(&nibbles(cmd));
    body.extend_from_slice(data);
    body.push(0x04);
    body.extend_from_slice(&status);
    body.push(0x05);
    let len = (body.len() + 4 + 0x20) as u16;
    let mut out = vec![0x01];
    out.extend_from_slice(&nibbles(len));
    out.extend_from_slice(&body);
    let sum = out[1..]
        .iter()
        .fold(0u16, |a, b| a.wrapping_add(u16::from(*b)));
    out.extend_from_slice(&nibbles(sum));
    out.push(0x03);
    out
}

/// A fiscal receipt open on a fiscalised UA register.
const UA_OPEN: [u8; 6] = [0x80, 0xC0, 0x88, 0x80, 0x80, 0xFA];

type Wire = Arc<Mutex<Vec<Vec<u8>>>>;

/// A driver whose peer records each request and answers what a register
/// would for it (old framing: `R0.00` to a payment, `1,1` to open / close).
fn scripted(dialect: Dialect) -> (DatecsDriver, Wire) {
    scripted_with(dialect, |cmd| match cmd {
        0x35 => b"R0.00".to_vec(),
        0x30 | 0x55 | 0x38 => b"1,1".to_vec(),
        _ => Vec::new(),
    })
}

/// Like [`scripted`], with the old-framing answer DATA per command given.
fn scripted_with(
    dialect: Dialect,
    answer: impl Fn(u8) -> Vec<u8> + Send + 'static,
) -> (DatecsDriver, Wire) {
    let framing_x = dialect.framing == fiscal::frame::Framing::X;
    let (a, mut b) = tokio::io::duplex(8192);
    let wire: Wire = Arc::default();
    let rec = Arc::clone(&wire);
    tokio::spawn(async move {
        let mut pending = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let Ok(n) = b.read(&mut buf).await else {
                return;
            };
            if n == 0 {
                return;
            }
            pending.extend_from_slice(&buf[..n]);
            while let Some(end) = pending.iter().position(|x| *x == 0x03) {
                let frame: Vec<u8> = pending.drain(..=end).collect();
                rec.lock().unwrap().push(frame.clone());
                let reply = if framing_x {
                    let seq = frame[5];
                    let cmd = frame[6..10]
                        .iter()
                        .fold(0u16, |a, n| (a << 4) | u16::from(n - 0x30));
                    let data: &[u8] = if cmd == 0x35 { b"0\tR\t0.00\t" } else { b"0\t" };
                    x_reply(seq, cmd, data)
                } else {
                    let (seq, cmd) = (frame[2], frame[3]);
                    old_reply(seq, cmd, &answer(cmd), &UA_OPEN)
                };
                if b.write_all(&reply).await.is_err() {
                    return;
                }
            }
        }
    });
    let opts = DriverOptions {
        link: LinkConfig {
            reply_timeout: Duration::from_secs(2),
            max_attempts: 2,
            max_busy: Duration::from_secs(5),
        },
        ..DriverOptions::default()
    };
    (DatecsDriver::new(Box::new(a), dialect, opts), wire)
}

/// The §7.8 card: merchant from the settings (`Магазин`), no MID.
fn card_78() -> CardSlip {
    CardSlip {
        rrn: "123456789012".into(),
        auth_code: "654321".into(),
        masked_pan: "414943******8717".into(),
        terminal_id: "T1234567".into(),
        payment_system: "VISA".into(),
        ..CardSlip::default()
    }
}

/// §7.8 card vector: SEQ 0x5A, LF TAB `D+12.50,123456789012,Магазин,
/// T1234567,VISA,оплата,414943******8717,654321,0.00` (80 bytes cp1251);
/// LEN 0x74, sum 0x19E7, BCC 31 39 3E 37.
const CARD_78: &str =
    "01 74 5A 35 0A 09 44 2B 31 32 2E 35 30 2C 31 32 33 34 35 36 37 38 39 30 31 32 2C \
     CC E0 E3 E0 E7 E8 ED 2C 54 31 32 33 34 35 36 37 2C 56 49 53 41 2C EE EF EB E0 F2 E0 2C \
     34 31 34 39 34 33 2A 2A 2A 2A 2A 2A 38 37 31 37 2C 36 35 34 33 32 31 2C 30 2E 30 30 \
     05 31 39 3E 37 03";

/// §7.8 cash vector, byte for byte.
const CASH_78: &str = "01 2D 5B 35 0A 09 50 2B 32 30 2E 30 30 05 30 32 34 30 03";

#[test]
fn the_literals_match_the_reference_numbers() {
    let card = h(CARD_78);
    assert_eq!(card[1], 0x74, "LEN");
    assert_eq!(card.len() - 10, 80, "80 DATA bytes");
    assert_eq!(sum_old(&card), 0x19E7, "sum");
    assert_eq!(&card[card.len() - 5..card.len() - 1], &nibbles(0x19E7));
    let cash = h(CASH_78);
    assert_eq!(
        &cash[cash.len() - 5..cash.len() - 1],
        &nibbles(sum_old(&cash))
    );
}

#[tokio::test]
async fn the_driver_sends_the_reference_card_payment() {
    let (drv, wire) = scripted(Dialect::ua_fp_t260());
    drv.set_next_seq(0x5A).await;
    drv.pay(&Payment::Card {
        amount: 1250,
        card: card_78(),
    })
    .await
    .unwrap();
    assert_eq!(wire.lock().unwrap().clone(), vec![h(CARD_78)]);
}

#[tokio::test]
async fn the_driver_sends_the_reference_cash_payment() {
    let (drv, wire) = scripted(Dialect::ua_fp_t260());
    drv.set_next_seq(0x5B).await;
    drv.pay(&Payment::Cash { amount: 2000 }).await.unwrap();
    assert_eq!(wire.lock().unwrap().clone(), vec![h(CASH_78)]);
}

/// §6: open `1,0000,1` (SEQ 0x22), sale `Хліб⇥Б12.50` (0x24, cp1251 with
/// і = 0xB3), close (0x26); a UA return opens with 0x55 and the same
/// parameters (§7.3; derived, same algorithm).
#[tokio::test]
async fn the_driver_sends_the_reference_open_sale_close_and_return() {
    let (drv, wire) = scripted(Dialect::ua_fp_t260());
    drv.set_next_seq(0x22).await;
    drv.open_receipt().await.unwrap();
    drv.set_next_seq(0x24).await;
    drv.sale(&SaleItem {
        name: "Хліб".into(),
        tax_group: 'Б',
        price: 1250,
        quantity_milli: 1000,
        adjustment: None,
    })
    .await
    .unwrap();
    drv.set_next_seq(0x26).await;
    drv.close_receipt().await.unwrap();
    drv.set_next_seq(0x22).await;
    drv.open_return(7).await.unwrap();
    assert_eq!(
        wire.lock().unwrap().clone(),
        vec![
            h("01 2C 22 30 31 2C 30 30 30 30 2C 31 05 30 31 3F 3D 03"),
            h("01 2F 24 31 D5 EB B3 E1 09 C1 31 32 2E 35 30 05 30 35 39 3D 03"),
            h("01 24 26 38 05 30 30 38 37 03"),
            h("01 2C 22 55 31 2C 30 30 30 30 2C 31 05 30 32 32 32 03"),
        ]
    );
}

/// §6 X card payment `1⇥5.00⇥⇥` (SEQ 0x23).
#[tokio::test]
async fn the_driver_sends_the_reference_x_card_payment() {
    let (drv, wire) = scripted(Dialect::x_family());
    drv.set_next_seq(0x23).await;
    drv.pay(&Payment::Card {
        amount: 500,
        card: card_78(),
    })
    .await
    .unwrap();
    assert_eq!(
        wire.lock().unwrap().clone(),
        vec![h(
            "01 30 30 33 32 23 30 30 33 35 31 09 35 2E 30 30 09 09 05 30 32 3C 34 03"
        )]
    );
}

/// Derived: a comma inside the payment-system name would shift every later
/// slot; it becomes a space (LEN 0x79, same algorithm as §6).
#[tokio::test]
async fn a_comma_in_the_payment_system_never_shifts_a_slot() {
    let (drv, wire) = scripted(Dialect::ua_fp_t260());
    let mut card = card_78();
    card.payment_system = "VISA, Inc.".into();
    drv.set_next_seq(0x5A).await;
    drv.pay(&Payment::Card { amount: 1250, card })
        .await
        .unwrap();
    assert_eq!(
        wire.lock().unwrap().clone(),
        vec![h(
            "01 79 5A 35 0A 09 44 2B 31 32 2E 35 30 2C 31 32 33 34 35 36 37 38 39 30 31 32 2C \
             CC E0 E3 E0 E7 E8 ED 2C 54 31 32 33 34 35 36 37 2C 56 49 53 41 20 49 6E 63 2E 2C \
             EE EF EB E0 F2 E0 2C 34 31 34 39 34 33 2A 2A 2A 2A 2A 2A 38 37 31 37 2C \
             36 35 34 33 32 31 2C 30 2E 30 30 05 31 3B 35 34 03"
        )]
    );
}

/// Derived: a long merchant name is cut to its 24 characters; an RRN too
/// long to be one, or slots past 213 bytes of DATA, are refused with
/// `card_data_too_long` before anything goes on the wire.
#[tokio::test]
async fn long_values_are_cut_or_refused_before_the_wire() {
    let mut d = Dialect::ua_fp_t260();
    d.settings.card.merchant_name = "ТОВ Дуже Довга Назва Магазину Побутової Хімії".into();
    let (drv, wire) = scripted(d.clone());
    drv.pay(&Payment::Card {
        amount: 1250,
        card: card_78(),
    })
    .await
    .unwrap();
    let sent = wire.lock().unwrap().pop().unwrap();
    let data = &sent[4..sent.len() - 6];
    let mut want = b"\n\tD+12.50,123456789012,".to_vec();
    // "ТОВ Дуже Довга Назва Маг" in cp1251, then the terminal id.
    want.extend(h(
        "D2 CE C2 20 C4 F3 E6 E5 20 C4 EE E2 E3 E0 20 CD E0 E7 E2 E0 20 CC E0 E3 2C 54",
    ));
    assert_eq!(&data[..want.len()], &want[..]);

    let mut card = card_78();
    card.rrn = "1".repeat(30);
    let err = drv
        .pay(&Payment::Card { amount: 1250, card })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "card_data_too_long");
    assert!(matches!(err, fiscal::Error::CardDataTooLong { ref field, .. } if field == "rrn"));

    // Fourteen 16-character slots plus the amount pass 213 bytes.
    let mut many = d.clone();
    many.settings.card.template = vec![SlotField::MaskedPan; 14];
    let (drv, wire) = scripted(many);
    let mut card = card_78();
    card.masked_pan = "4149431234568717".into();
    let err = drv
        .pay(&Payment::Card { amount: 1250, card })
        .await
        .unwrap_err();
    assert!(
        matches!(err, fiscal::Error::CardDataTooLong { ref field, max: 213, .. } if field == "data"),
        "{err:?}"
    );
    assert!(wire.lock().unwrap().is_empty(), "nothing was sent");
}

/// The register's subtotal differs from ours (a line registered at another
/// price): the receipt stops before any payment is sent.
#[tokio::test]
async fn a_subtotal_that_differs_from_ours_stops_before_paying() {
    let (drv, wire) = scripted_with(Dialect::ua_fp_t260(), |cmd| match cmd {
        0x4C => b"0,0,0.00,0.00".to_vec(),
        0x71 => b"0".to_vec(),
        0x30 => b"1,1".to_vec(),
        0x33 => b"1000.00,1000.00".to_vec(),
        _ => Vec::new(),
    });
    let receipt = fiscal::SaleReceipt {
        lines: vec![fiscal::ReceiptLine {
            name: "Кава".into(),
            tax_group: 'А',
            price: 10_000,
            quantity_milli: 1000,
            discount: 0,
        }],
        payments: vec![Payment::Card {
            amount: 10_000,
            card: card_78(),
        }],
    };
    use fiscal::FiscalRegister;
    let err = drv.print_sale(&receipt).await.unwrap_err();
    assert!(
        matches!(
            err,
            fiscal::Error::SubtotalMismatch {
                ours: 10_000,
                register: 100_000
            }
        ),
        "{err:?}"
    );
    let cmds: Vec<u8> = wire.lock().unwrap().iter().map(|f| f[3]).collect();
    assert!(cmds.contains(&0x33), "{cmds:02X?}");
    assert!(!cmds.contains(&0x35), "nothing paid: {cmds:02X?}");
}

// ---- the emulator on its own ---------------------------------------------

/// Sends literal request bytes to the emulator and returns the raw reply
/// (NAK and SYN bytes before it are returned as they come).
async fn ask(peer: &mut DuplexStream, request: &[u8]) -> Vec<u8> {
    peer.write_all(request).await.unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 1];
    loop {
        peer.read_exact(&mut b).await.unwrap();
        got.push(b[0]);
        if b[0] == 0x03 || (got.len() == 1 && b[0] == 0x15) {
            return got;
        }
    }
}

/// The DATA of an old-framing reply (between CMD and 0x04).
fn reply_data(reply: &[u8]) -> Vec<u8> {
    let sep = reply.iter().position(|b| *b == 0x04).unwrap();
    reply[4..sep].to_vec()
}

fn emulator() -> (EmulatorHandle, DuplexStream) {
    let emu = EmulatorHandle::new(EmulatorConfig::new(Dialect::ua_fp_t260())).unwrap();
    let (a, b) = tokio::io::duplex(8192);
    tokio::spawn(serve(emu.clone(), b));
    (emu, a)
}

const OPEN_6: &str = "01 2C 22 30 31 2C 30 30 30 30 2C 31 05 30 31 3F 3D 03";
const SALE_6: &str = "01 2F 24 31 D5 EB B3 E1 09 C1 31 32 2E 35 30 05 30 35 39 3D 03";
const CLOSE_6: &str = "01 24 26 38 05 30 30 38 37 03";

#[tokio::test]
async fn the_emulator_takes_the_reference_card_payment_as_card_money() {
    let (emu, mut peer) = emulator();
    ask(&mut peer, &h(OPEN_6)).await;
    ask(&mut peer, &h(SALE_6)).await;
    let paid = ask(&mut peer, &h(CARD_78)).await;
    assert_eq!(reply_data(&paid), b"R0.00", "paid in full, no change");
    ask(&mut peer, &h(CLOSE_6)).await;
    let c = emu.counters();
    assert_eq!(c.day_sales, [0, 1250, 0, 0, 0], "12.50 in tax group Б");
    assert_eq!(c.day_paid, [0, 1250], "12.50 by card, nothing in cash");
    assert_eq!(c.fiscal_receipts, 1);
    let doc = &emu.journal()[0];
    for line in [
        "КАРТКА                         12.50",
        "RRN: 123456789012",
        "КОД АВТ.: 654321",
        "ЕПЗ: 414943******8717",
        "ТЕРМІНАЛ: T1234567",
        "ПЛАТІЖНА СИСТЕМА: VISA",
        "ВИД ОПЕРАЦІЇ: оплата",
        "ЕКВАЙР/ТОРГОВЕЦЬ: Магазин",
        "КОМІСІЯ: 0.00",
        "СУМА                           12.50",
    ] {
        assert!(
            doc.lines.iter().any(|l| l == line),
            "{line:?} not printed: {:#?}",
            doc.lines
        );
    }
}

#[tokio::test]
async fn the_emulator_takes_the_reference_cash_payment_as_cash_money() {
    let (emu, mut peer) = emulator();
    ask(&mut peer, &h(OPEN_6)).await;
    ask(&mut peer, &h(SALE_6)).await;
    let paid = ask(&mut peer, &h(CASH_78)).await;
    assert_eq!(reply_data(&paid), b"R7.50", "20.00 for 12.50: 7.50 change");
    ask(&mut peer, &h(CLOSE_6)).await;
    let c = emu.counters();
    assert_eq!(c.day_paid, [1250, 0], "12.50 kept in cash");
    assert_eq!(c.cash_in_drawer(), 1250);
    let doc = &emu.journal()[0];
    assert!(doc
        .lines
        .iter()
        .any(|l| l == "ГОТІВКА                        20.00"));
    assert!(doc
        .lines
        .iter()
        .any(|l| l == "РЕШТА                           7.50"));
}

#[tokio::test]
async fn the_emulator_answers_status_with_literal_bytes() {
    let (_emu, mut peer) = emulator();
    let reply = ask(&mut peer, &h("01 24 20 4A 05 30 30 39 33 03")).await;
    assert_eq!(
        reply,
        h("01 2B 20 4A 04 80 C0 80 80 80 FA 05 30 34 35 38 03")
    );
}

/// Garbage, a frame with a bad checksum (reference V1 with its last BCC
/// byte changed), a frame whose LEN is below the minimum: the emulator
/// skips or NAKs them and answers the next good frame.
#[tokio::test]
async fn the_emulator_survives_undecodable_bytes() {
    let (emu, mut peer) = emulator();
    peer.write_all(&h("FF 00 13 7F")).await.unwrap();
    let nak = ask(&mut peer, &h("01 25 21 5A 31 05 30 30 3D 37 03")).await;
    assert_eq!(nak, vec![0x15], "a bad checksum gets a NAK");
    peer.write_all(&h("01 21 21 4A 05 30 30 30 30 03"))
        .await
        .unwrap();
    let reply = ask(&mut peer, &h("01 24 20 4A 05 30 30 39 33 03")).await;
    assert_eq!(
        reply,
        h("01 2B 20 4A 04 80 C0 80 80 80 FA 05 30 34 35 38 03")
    );
    assert_eq!(emu.stats().executed, 1, "only the good frame ran");
}
