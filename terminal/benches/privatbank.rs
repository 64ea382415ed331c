//! Benchmarks: the PrivatBank driver's overhead per purchase against a
//! zero-delay emulator over loopback TCP, the first purchase after `open()`
//! against the later ones (and against a first purchase without `open()`,
//! which pays for the handshake and its pause), and frames parsed per second.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use terminal::privatbank::codec::{Chunk, NulCodec};
use terminal::privatbank::frame::Message;
use terminal::privatbank::{
    ConnectScheme, EmulatorConfig, PrivatbankEmulator, PrivatbankTerminal, PrivatbankTimeouts,
};
use terminal::transport::Endpoint;
use terminal::{discard_progress, CardOutcome, CardTerminal, PurchaseRequest};
use tokio_util::codec::Decoder;

const REPLY: &str = r#"{"method":"Purchase","step":0,"params":{"amount":"0.60","approvalCode":"999999","captureReference":"","cardExpiryDate":"2020","cardHolderName":"INSTANT/ISSUE","date":"02.10.2019","discount":"0.00","hstFld63Sf89":"","invoiceNumber":"999999","issuerName":"VISA ПРИВАТ","merchant":"TSTTTTTT","pan":"4731XXXXXXXX9838","posConditionCode":"00","posEntryMode":"022","processingCode":"000000","receipt":"text-of-receipt","responseCode":"0000","rrn":"9999999999999","rrnExt":"8888888888888","terminalId":"TSTSALE2","time":"09:11:07","track1":"","signVerif":"0","txnType":"1","trnStatus":"1","adv":"ПриватБанк","adv2p":"Беремо і робимо!","bankAcquirer":"ПриватБанк","paymentSystem":"VISA","subMerchant":""},"error":false,"errorDescription":""}"#;

fn purchase_overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let drv = rt.block_on(async {
        let emu = PrivatbankEmulator::new(EmulatorConfig {
            step_delay: Duration::ZERO,
            ..EmulatorConfig::default()
        });
        let addr = emu.spawn_tcp("127.0.0.1:0").await.expect("bind");
        let t = PrivatbankTimeouts {
            after_handshake_ms: 0,
            ..PrivatbankTimeouts::default()
        };
        let drv =
            PrivatbankTerminal::new(Endpoint::tcp(addr.to_string()), t, ConnectScheme::Reference);
        // Connect (handshake, identify) outside the measurement.
        drv.ping().await.expect("ping");
        drv
    });
    let mut g = c.benchmark_group("privatbank");
    g.throughput(Throughput::Elements(1));
    g.bench_function("purchase_round_trip_zero_delay_emulator", |b| {
        b.to_async(&rt).iter(|| async {
            let out = drv
                .purchase(
                    PurchaseRequest {
                        amount: 100,
                        merchant: 1,
                    },
                    discard_progress(),
                )
                .await
                .expect("purchase");
            assert!(matches!(out, CardOutcome::Approved(_)));
        })
    });
    g.finish();
}

fn frames(c: &mut Criterion) {
    let mut g = c.benchmark_group("privatbank_frames");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode_purchase_reply", |b| {
        b.iter(|| Message::decode(std::hint::black_box(REPLY.as_bytes())).expect("decode"))
    });
    let mut stream = Vec::new();
    for _ in 0..100 {
        stream.extend_from_slice(REPLY.as_bytes());
        stream.push(0);
    }
    g.throughput(Throughput::Elements(100));
    g.bench_function("split_and_decode_100_frames", |b| {
        b.iter(|| {
            let mut codec = NulCodec::default();
            let mut buf = BytesMut::from(&stream[..]);
            let mut n = 0;
            while let Ok(Some(Chunk::Frame(f))) = codec.decode(&mut buf) {
                Message::decode(&f).expect("decode");
                n += 1;
            }
            assert_eq!(n, 100);
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode_purchase_request", |b| {
        b.iter(|| Message::purchase(std::hint::black_box(12_345), 1).encode(false))
    });
    g.finish();
}

/// The pause after the handshake in the session benchmarks: the spec's 1 s
/// cut to 50 ms, enough to show where it is paid.
const AFTER_HANDSHAKE_MS: u64 = 50;

/// A fresh zero-delay emulator and a driver for it (nothing connected yet).
async fn fresh_terminal() -> PrivatbankTerminal {
    let emu = PrivatbankEmulator::new(EmulatorConfig {
        step_delay: Duration::ZERO,
        ..EmulatorConfig::default()
    });
    let addr = emu.spawn_tcp("127.0.0.1:0").await.expect("bind");
    let t = PrivatbankTimeouts {
        after_handshake_ms: AFTER_HANDSHAKE_MS,
        poll_ms: 100,
        ..PrivatbankTimeouts::default()
    };
    PrivatbankTerminal::new(Endpoint::tcp(addr.to_string()), t, ConnectScheme::Reference)
}

async fn one_purchase(drv: &PrivatbankTerminal) {
    let out = drv
        .purchase(
            PurchaseRequest {
                amount: 100,
                merchant: 1,
            },
            discard_progress(),
        )
        .await
        .expect("purchase");
    assert!(matches!(out, CardOutcome::Approved(_)));
}

/// The session opened at start-up: the first purchase after `open()` costs
/// what the later ones cost; without `open()` it pays for the handshake.
fn first_purchase(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("privatbank_session");
    g.sample_size(20);
    g.bench_function("first_purchase_after_open", |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let drv = fresh_terminal().await;
                drv.open().await.expect("open");
                let start = Instant::now();
                one_purchase(&drv).await;
                spent += start.elapsed();
            }
            spent
        })
    });
    g.bench_function("later_purchases_after_open", |b| {
        let drv = rt.block_on(async {
            let drv = fresh_terminal().await;
            drv.open().await.expect("open");
            one_purchase(&drv).await;
            drv
        });
        b.to_async(&rt).iter(|| one_purchase(&drv))
    });
    g.sample_size(10);
    g.bench_function("first_purchase_without_open", |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let drv = fresh_terminal().await;
                let start = Instant::now();
                one_purchase(&drv).await;
                spent += start.elapsed();
            }
            spent
        })
    });
    g.finish();
}

criterion_group!(benches, purchase_overhead, first_purchase, frames);
criterion_main!(benches);
