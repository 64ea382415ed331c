//! No panics on bad input: the emulator on arbitrary requests, the driver on
//! arbitrary (well-framed) replies, the parsers on arbitrary text.

use bytes::BytesMut;
use fiscal::codec::{DatecsCodec, Packet};
use fiscal::dialect::{split_fields, Dialect};
use fiscal::driver::{parse_datetime, parse_diagnostic, DriverOptions, SaleItem};
use fiscal::emulator::{Device, EmulatorConfig};
use fiscal::frame::{Frame, Framing};
use fiscal::{DatecsDriver, FiscalRegister, Payment, ReceiptLine, SaleReceipt};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn data_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        0x20u8..=0xFF,
        Just(b'\t'),
        Just(b'\n'),
        Just(b','),
        Just(b'-'),
        0x30u8..=0x39
    ]
}

fn dialects() -> impl Strategy<Value = Dialect> {
    prop_oneof![Just(Dialect::ua_fp_t260()), Just(Dialect::x_family())]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn emulator_answers_anything(d in dialects(),
                                 reqs in proptest::collection::vec(
                                     (0x20u16..=0x80, proptest::collection::vec(data_byte(), 0..60)), 1..30)) {
        let mut dev = Device::new(EmulatorConfig::new(d.clone())).unwrap();
        for (cmd, data) in reqs {
            let reply = dev.execute(&Frame::request(d.framing, 0x30, cmd, data));
            prop_assert!(reply.encode().is_ok());
        }
    }

    #[test]
    fn parsers_take_anything(d in dialects(), s in "\\PC{0,80}", bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = parse_datetime(&s);
        let fields: Vec<String> = s.split(',').map(str::to_string).collect();
        let _ = parse_diagnostic(&d, &fields);
        let _ = split_fields(&bytes);
        let _ = d.reply_fields(&bytes, 0x31);
        let _ = fiscal::text::parse_money(&s);
        let _ = fiscal::text::wrap(&s, 7, 2);
        let _ = fiscal::cli::decode_hex(&s);
        let mut codec = DatecsCodec::new(None);
        let mut buf = BytesMut::from(&bytes[..]);
        while codec.next_packet(&mut buf).is_some() {}
    }

    #[test]
    fn driver_survives_arbitrary_replies(framing_x in any::<bool>(),
                                         replies in proptest::collection::vec(
                                             (proptest::collection::vec(data_byte(), 0..40),
                                              proptest::collection::vec(0x80u8..=0xFF, 8)), 1..12)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let dialect = if framing_x { Dialect::x_family() } else { Dialect::ua_fp_t260() };
            let framing = dialect.framing;
            let (a, mut b) = tokio::io::duplex(8192);
            // A peer that answers every request with the next scripted reply.
            tokio::spawn(async move {
                let mut codec = DatecsCodec::new(Some(framing));
                let mut buf = BytesMut::new();
                let mut replies = replies.into_iter().cycle();
                let mut chunk = [0u8; 512];
                loop {
                    let Ok(n) = b.read(&mut chunk).await else { return };
                    if n == 0 { return; }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(p) = codec.next_packet(&mut buf) {
                        if let Packet::Frame(req) = p {
                            let (data, mut status) = replies.next().unwrap_or_default();
                            status.truncate(framing.status_len());
                            let f = Frame::reply(framing, req.seq, req.cmd, data, status);
                            if let Ok(bytes) = f.encode() {
                                if b.write_all(&bytes).await.is_err() { return; }
                            }
                        }
                    }
                }
            });
            let opts = DriverOptions {
                link: fiscal::link::LinkConfig {
                    reply_timeout: std::time::Duration::from_millis(200),
                    max_attempts: 2,
                    ..Default::default()
                },
                ..Default::default()
            };
            let d = DatecsDriver::new(Box::new(a), dialect, opts);
            let _ = d.read_status().await;
            let _ = d.diagnostic().await;
            let _ = d.receipt_state().await;
            let _ = d.last_document().await;
            let _ = d.read_datetime().await;
            let _ = d.subtotal().await;
            let _ = d.sale(&SaleItem {
                name: "x".into(), tax_group: 'A', price: 1, quantity_milli: 1, adjustment: None,
            }).await;
            let _ = d.pay(&Payment::Cash { amount: 1 }).await;
            let _ = d.z_report().await;
            let _ = d.read_document(1).await;
            let _ = d.check_password().await;
            let _ = d.cash_totals().await;
            let _ = d.shift_state().await;
            let _ = d.modem_state().await;
            let _ = d.health(fiscal::emulator::register_local_now()).await;
            let _ = d.print_non_fiscal(&["x".to_string()]).await;
            let _ = d.print_sale(&SaleReceipt {
                lines: vec![ReceiptLine { name: "x".into(), tax_group: 'A', price: 100, quantity_milli: 1000, discount: 0 }],
                payments: vec![Payment::Cash { amount: 100 }],
            }).await;
        });
    }
}

#[test]
fn old_framing_status_is_six_bytes() {
    assert_eq!(Framing::Old.status_len(), 6);
    assert_eq!(Framing::X.status_len(), 8);
}
