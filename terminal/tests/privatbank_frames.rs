//! PrivatBank ECR JSON frame and codec tests: golden bytes from the spec's
//! examples (v1.0.3.1), every split point, coalesced frames, stray 0x00, and bad
//! replies that must give typed errors, never a panic.

use bytes::BytesMut;
use proptest::prelude::*;
use terminal::privatbank::codec::{split_all, Chunk, NulCodec};
use terminal::privatbank::driver::outcome;
use terminal::privatbank::frame::{parse_amount, Message};
use terminal::{CardOutcome, Error, TxnKind, TxnStatus};
use tokio_util::codec::Decoder;

fn hex(s: &str) -> Vec<u8> {
    s.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .map(|t| u8::from_str_radix(t.trim_start_matches("0x"), 16).unwrap())
        .collect()
}

// §2: GetTerminalInfo, "NULL-terminated JSON".
const TERMINAL_INFO: &str = "0x7b, 0x22, 0x6d, 0x65, 0x74, 0x68, 0x6f, 0x64, 0x22, 0x3a, 0x22, 0x47, \
    0x65, 0x74, 0x54, 0x65, 0x72, 0x6d, 0x69, 0x6e, 0x61, 0x6c, 0x49, 0x6e, 0x66, 0x6f, 0x22, 0x2c, \
    0x22, 0x73, 0x74, 0x65, 0x70, 0x22, 0x3a, 0x30, 0x7d, 0x00";

// §2: the handshake as written to the port (leading and trailing 0x00).
const PING_WRITTEN: &str = "00 7b 22 6d 65 74 68 6f 64 22 3a 22 50 69 6e 67 44 65 76 69 63 65 22 \
    2c 22 73 74 65 70 22 3a 30 7d 00";

// §2: the handshake reply as read (note the spec's own "errorDescritption").
const PING_READ: &str = "7b 22 6d 65 74 68 6f 64 22 3a 22 50 69 6e 67 44 65 76 69 63 65 22 2c 22 \
    73 74 65 70 22 3a 30 2c 22 70 61 72 61 6d 73 22 3a 7b 22 63 6f 64 65 22 3a 22 30 30 22 2c 22 72 \
    65 73 70 6f 6e 73 65 43 6f 64 65 22 3a 22 30 30 30 30 22 7d 2c 22 65 72 72 6f 72 22 3a 66 61 6c \
    73 65 2c 22 65 72 72 6f 72 44 65 73 63 72 69 74 70 74 69 6f 6e 22 3a 22 22 7d 00";

// §2 "Разом запит-відповідь": the same reply as dumped in the combined log, with
// a bare `00`, the error fields inside params and the last brace missing.
const PING_READ_LOG: &str = "7b 22 6d 65 74 68 6f 64 22 3a 22 50 69 6e 67 44 65 76 69 63 65 22 2c \
    22 73 74 65 70 22 3a 30 2c 22 70 61 72 61 6d 73 22 3a 7b 22 63 6f 64 65 22 3a 20 30 30 2c 22 72 \
    65 73 70 6f 6e 73 65 43 6f 64 65 22 3a 20 22 30 30 30 30 22 2c 22 65 72 72 6f 72 22 3a 20 66 61 \
    6c 73 65 2c 22 65 72 72 6f 72 44 65 73 63 72 69 70 74 69 6f 6e 22 3a 22 22 7d 00";

// §2: Identify request.
const IDENTIFY_SENT: &str = "7b 22 6d 65 74 68 6f 64 22 3a 22 53 65 72 76 69 63 65 4d 65 73 73 61 \
    67 65 22 2c 22 73 74 65 70 22 3a 30 2c 22 70 61 72 61 6d 73 22 3a 7b 22 6d 73 67 54 79 70 65 22 \
    3a 22 69 64 65 6e 74 69 66 79 22 7d 7d 00";

// §2: Identify reply (pretty-printed with spaces).
const IDENTIFY_RCV: &str = "7b 22 6d 65 74 68 6f 64 22 3a 20 22 53 65 72 76 69 63 65 4d 65 73 73 \
    61 67 65 22 2c 20 22 73 74 65 70 22 3a 20 30 2c 20 22 70 61 72 61 6d 73 22 3a 20 7b 22 6d 73 67 \
    54 79 70 65 22 3a 20 22 69 64 65 6e 74 69 66 79 22 2c 20 22 72 65 73 75 6c 74 22 3a 20 22 74 72 \
    75 65 22 2c 20 22 76 65 6e 64 6f 72 22 3a 20 22 50 41 58 22 2c 20 22 6d 6f 64 65 6c 22 3a 20 22 \
    73 38 30 30 22 7d 2c 20 22 65 72 72 6f 72 22 3a 20 66 61 6c 73 65 2c 20 22 65 72 72 6f 72 44 65 \
    73 63 72 69 70 74 69 6f 6e 22 3a 20 22 22 7d 00";

const PURCHASE_REPLY: &str = r#"{
  "method": "Purchase", "step": 0,
  "params": {
    "amount": "0.60", "approvalCode": "999999", "captureReference": "",
    "cardExpiryDate": "2020", "cardHolderName": "INSTANT/ISSUE", "date": "02.10.2019",
    "discount": "0.00", "hstFld63Sf89": "", "invoiceNumber": "999999",
    "issuerName": "VISA ПРИВАТ", "merchant": "TSTTTTTT", "pan": "4731XXXXXXXX9838",
    "posConditionCode": "00", "posEntryMode": "022", "processingCode": "000000",
    "receipt": "text-of-receipt", "responseCode": "0000", "rrn": "9999999999999",
    "rrnExt": "8888888888888", "terminalId": "TSTSALE2", "time": "09:11:07", "track1": "",
    "signVerif": "0", "txnType": "1", "trnStatus": "1", "adv": "ПриватБанк",
    "adv2p": "Беремо і робимо!", "bankAcquirer": "ПриватБанк", "paymentSystem": "VISA",
    "subMerchant": ""
  },
  "error": false, "errorDescription": ""
}"#;

#[test]
fn golden_requests_are_byte_exact() {
    let info = Message::bare("GetTerminalInfo").encode(false);
    assert_eq!(info, hex(TERMINAL_INFO));
    assert_eq!(Message::ping().encode(true), hex(PING_WRITTEN));
    assert_eq!(
        Message::service("identify").encode(false),
        hex(IDENTIFY_SENT)
    );
    assert_eq!(
        Message::purchase(60, 0).to_json(),
        r#"{"method":"Purchase","step":0,"params":{"amount":"0.60","discount":"","merchantId":"0","facepay":"false","subMerchant":""}}"#
    );
    assert_eq!(
        Message::refund(30, 0, "014721258513").to_json(),
        r#"{"method":"Refund","step":0,"params":{"amount":"0.30","discount":"","merchantId":"0","rrn":"014721258513","subMerchant":""}}"#
    );
    assert_eq!(
        Message::withdrawal("131220").to_json(),
        r#"{"method":"Withdrawal","step":0,"params":{"invoiceNumber":"131220"}}"#
    );
    assert_eq!(
        Message::audit(0).to_json(),
        r#"{"method":"Audit","step":0,"params":{"merchantId":"0"}}"#
    );
    assert_eq!(
        Message::verify(0).to_json(),
        r#"{"method":"Verify","step":0,"params":{"merchantId":"0"}}"#
    );
    assert_eq!(
        Message::receipt_info("123").to_json(),
        r#"{"method":"GetReceiptInfo","step":0,"params":{"invoiceNumber":"123"}}"#
    );
    assert_eq!(
        Message::service("getLastStatMsgCode").to_json(),
        r#"{"method":"ServiceMessage","step":0,"params":{"msgType":"getLastStatMsgCode"}}"#
    );
}

fn only_frame(bytes: &[u8]) -> Message {
    let chunks = split_all(bytes);
    assert_eq!(chunks.len(), 1, "{chunks:?}");
    match &chunks[0] {
        Chunk::Frame(b) => Message::decode(b).unwrap(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn golden_replies_decode() {
    let ping = only_frame(&hex(PING_READ));
    assert_eq!(ping.method, "PingDevice");
    assert_eq!(ping.response_code().as_deref(), Some("0000"));
    assert_eq!(ping.text("code"), "00");
    assert_eq!(ping.error, Some(false));
    assert_eq!(
        ping.error_description.as_deref(),
        Some(""),
        "errorDescritption accepted"
    );

    let logged = only_frame(&hex(PING_READ_LOG));
    assert_eq!(logged.method, "PingDevice");
    assert_eq!(logged.text("code"), "00", "bare 00 read as text");
    assert_eq!(logged.response_code().as_deref(), Some("0000"));
    assert_eq!(logged.error, Some(false), "error inside params accepted");

    let id = only_frame(&hex(IDENTIFY_RCV));
    assert!(id.is_service());
    assert_eq!(id.msg_type(), Some("identify"));
    assert_eq!(
        (id.text("vendor").as_str(), id.text("model").as_str()),
        ("PAX", "s800")
    );

    // The handshake request read back by the terminal side: the leading 0x00 is a stray one.
    let written = only_frame(&hex(PING_WRITTEN));
    assert_eq!(written, Message::ping());
}

#[test]
fn golden_financial_replies_map_to_outcomes() {
    let reply = Message::decode(PURCHASE_REPLY.as_bytes()).unwrap();
    let CardOutcome::Approved(tx) = outcome(&reply, 60).unwrap() else {
        panic!()
    };
    assert_eq!(tx.amount, 60);
    assert_eq!(tx.rrn, "9999999999999");
    assert_eq!(tx.auth_code, "999999");
    assert_eq!(tx.masked_pan, "4731XXXXXXXX9838");
    assert_eq!(tx.terminal_id, "TSTSALE2");
    assert_eq!(tx.merchant_id, "TSTTTTTT");
    assert_eq!(tx.invoice, "999999");
    assert_eq!(tx.card_scheme, "VISA");
    assert_eq!(tx.kind, TxnKind::Purchase);
    assert_eq!(tx.status, TxnStatus::Approved);
    assert_eq!(tx.date_time, "2019-10-02T09:11:07");

    // §4: short reply with the "errorDecsription" misspelling.
    let cancel = r#"{"method":"Purchase","step":0,"params":{"responseCode":"1001"},"error":true,"errorDecsription":"Transaction canceled by user"}"#;
    let m = Message::decode(cancel.as_bytes()).unwrap();
    assert_eq!(m.description(), "Transaction canceled by user");
    assert_eq!(outcome(&m, 60).unwrap(), CardOutcome::Cancelled);

    // §4: host decline 05 with a receipt and no RRN.
    let declined = r#"{"method":"Purchase","step":0,"params":{"receipt":"ВІДХИЛЕНО\nКОД 05","responseCode":"0005"},"error":true,"errorDescription":"ВІДХИЛЕНО!  ЗВЕРНІТЬСЯ ДО БАНКУ-ЕМІТЕНТА КАРТКИ"}"#;
    let m = Message::decode(declined.as_bytes()).unwrap();
    let CardOutcome::Declined { code, message } = outcome(&m, 60).unwrap() else {
        panic!()
    };
    assert_eq!(code, "05");
    assert!(message.starts_with("ВІДХИЛЕНО"));

    // §5.28: partial approval 0010 comes with error: false.
    let partial = PURCHASE_REPLY
        .replace("\"0.60\"", "\"1500.00\"")
        .replace("\"responseCode\": \"0000\"", "\"responseCode\": \"0010\"");
    let m = Message::decode(partial.as_bytes()).unwrap();
    let CardOutcome::Approved(tx) = outcome(&m, 200_000).unwrap() else {
        panic!()
    };
    assert_eq!(tx.amount, 150_000);
    assert!(tx.is_partial());

    // 1000–1008 are device errors with stable codes.
    for (rc, code) in [("1004", "device.no_host_link"), ("1005", "device.no_paper")] {
        let text = format!(
            r#"{{"method":"Purchase","step":0,"params":{{"responseCode":"{rc}"}},"error":true}}"#
        );
        let err = outcome(&Message::decode(text.as_bytes()).unwrap(), 1).unwrap_err();
        assert_eq!(err.code(), code);
    }
}

#[test]
fn golden_service_messages() {
    for (text, kind) in [
        (
            r#"{"method":"ServiceMessage","step":0,"params":{"msgType":"deviceBusy"},"error":false,"errorDescription":""}"#,
            "deviceBusy",
        ),
        (
            r#"{"method":"ServiceMessage","step":0,"params":{"msgType":" interruptTransmitted"},"error":false,"errorDescription":""}"#,
            "interruptTransmitted",
        ),
        (
            r#"{"method":"ServiceMessage","step":0,"params":{"msgType":" methodNotImplemented"},"error":false,"errorDescription":""}"#,
            "methodNotImplemented",
        ),
        (
            r#"{"method":"ServiceMessage","step":0,"params":{"msgType":"getLastStatMsgCode","LastStatMsgCode":"6"},"error":false,"errorDescription":""}"#,
            "getLastStatMsgCode",
        ),
    ] {
        let m = Message::decode(text.as_bytes()).unwrap();
        assert_eq!(m.msg_type(), Some(kind));
    }
}

#[test]
fn every_split_point_of_a_frame() {
    let frame = hex(PING_READ);
    let expected = only_frame(&frame);
    for cut in 0..=frame.len() {
        let mut codec = NulCodec::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for part in [&frame[..cut], &frame[cut..]] {
            buf.extend_from_slice(part);
            while let Some(chunk) = codec.decode(&mut buf).unwrap() {
                got.push(chunk);
            }
        }
        assert_eq!(got.len(), 1, "cut at {cut}");
        let Chunk::Frame(b) = &got[0] else {
            panic!("cut at {cut}: {got:?}")
        };
        assert_eq!(Message::decode(b).unwrap(), expected, "cut at {cut}");
    }
}

#[test]
fn byte_by_byte_coalesced_and_stray_nul() {
    let mut stream = vec![0u8, 0];
    stream.extend(hex(PING_WRITTEN));
    stream.extend(hex(IDENTIFY_RCV));
    stream.push(0);
    stream.extend(hex(PING_READ));
    let frames: Vec<_> = split_all(&stream);
    assert_eq!(frames.len(), 3, "{frames:?}");
    // One byte at a time gives the same frames.
    let mut codec = NulCodec::default();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for b in &stream {
        buf.extend_from_slice(&[*b]);
        while let Some(c) = codec.decode(&mut buf).unwrap() {
            got.push(c);
        }
    }
    assert_eq!(got, frames);
}

#[test]
fn oversized_garbage_is_dropped_and_the_stream_resyncs() {
    let mut codec = NulCodec::new(64);
    let mut buf = BytesMut::from(&[b'x'; 200][..]);
    assert_eq!(codec.decode(&mut buf).unwrap(), None);
    buf.extend_from_slice(b"yy\0");
    buf.extend_from_slice(&hex(PING_READ));
    assert!(matches!(
        codec.decode(&mut buf).unwrap(),
        Some(Chunk::Dropped(202))
    ));
    assert!(matches!(
        codec.decode(&mut buf).unwrap(),
        Some(Chunk::Frame(_))
    ));
}

#[test]
fn bad_frames_give_typed_errors() {
    let cases: &[&str] = &[
        "",
        "   ",
        "not json",
        "[1,2,3]",
        r#"{"step":0}"#,
        r#"{"method":5}"#,
        r#"{"method":"  "}"#,
        r#"{"method":"Purchase","step":"x"}"#,
        r#"{"method":"Purchase","params":[1]}"#,
        r#"{"method":"Purchase","error":"maybe"}"#,
        r#"{"method":"Purchase","params":{"a":"#,
        "{\"method\":\"Purchase\",\"x\":\"\u{0}\"",
    ];
    for text in cases {
        match Message::decode(text.as_bytes()) {
            Err(Error::Protocol(_)) => {}
            other => panic!("{text:?} gave {other:?}"),
        }
    }
    assert!(matches!(
        Message::decode(&[0xff, 0xfe]),
        Err(Error::Protocol(_))
    ));
}

#[test]
fn bad_replies_give_typed_errors() {
    let replies: &[&str] = &[
        // no responseCode
        r#"{"method":"Purchase","step":0,"params":{"amount":"1.00"},"error":false}"#,
        // amount with garbage
        r#"{"method":"Purchase","step":0,"params":{"amount":"1.0.0","responseCode":"0000"},"error":false}"#,
        // non-numeric responseCode
        r#"{"method":"Purchase","step":0,"params":{"responseCode":"OK"},"error":false}"#,
        // approval that says error
        r#"{"method":"Purchase","step":0,"params":{"responseCode":"0000"},"error":true}"#,
        // a service message where the reply should be
        r#"{"method":"ServiceMessage","step":0,"params":{"msgType":"identify"}}"#,
    ];
    for text in replies {
        let m = Message::decode(text.as_bytes()).unwrap();
        match outcome(&m, 100) {
            Err(Error::Protocol(_)) => {}
            other => panic!("{text} gave {other:?}"),
        }
    }
    // Amounts as strings with commas, numbers, stray spaces are all read.
    let lenient = r#"{"method" : "Purchase" , "step" : "0", "params" : {"amount" : " 1 500,00 ", "responseCode" : 0, "rrn": 123456789012, "invoiceNumber": 77}, "error" : "false"}"#;
    let m = Message::decode(lenient.as_bytes()).unwrap();
    let CardOutcome::Approved(tx) = outcome(&m, 1).unwrap() else {
        panic!()
    };
    assert_eq!(
        (tx.amount, tx.rrn.as_str(), tx.invoice.as_str()),
        (150_000, "123456789012", "77")
    );
    assert_eq!(parse_amount("12,5").unwrap(), 1250);
}

proptest! {
    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Message::decode(&bytes);
        let _ = split_all(&bytes);
    }

    #[test]
    fn decode_never_panics_on_jsonish(text in r#"[{}\[\]":,0-9a-z ]{0,80}"#) {
        if let Ok(m) = Message::decode(text.as_bytes()) {
            let _ = outcome(&m, 1);
        }
    }

    #[test]
    fn any_chunking_gives_the_same_frames(cuts in proptest::collection::vec(1usize..40, 1..30)) {
        let mut stream = hex(PING_WRITTEN);
        stream.extend(hex(IDENTIFY_RCV));
        stream.extend(hex(PING_READ));
        stream.push(0);
        let expected = split_all(&stream);
        let mut codec = NulCodec::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut rest = &stream[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = cuts[i % cuts.len()].min(rest.len());
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            i += 1;
            while let Some(c) = codec.decode(&mut buf).unwrap() {
                got.push(c);
            }
        }
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn amounts_round_trip(minor in 0i64..10_000_000_000) {
        let text = terminal::privatbank::frame::format_amount(minor);
        prop_assert_eq!(parse_amount(&text).unwrap(), minor);
        prop_assert_eq!(parse_amount(&text.replace('.', ",")).unwrap(), minor);
    }
}
