//! Benchmarks for the fiscal crate:
//!
//! - `codec`: frames encoded and decoded per second;
//! - `driver`: driver overhead per command against a zero-delay emulator
//!   (status command; over a pty, and over an in-memory duplex);
//! - `receipt_115200`: a 50-line card receipt against an emulator simulating
//!   115200 baud and 2 ms of printing per line; after criterion's run, the
//!   measured time is compared with the emulator's simulated wire and device
//!   time and the ratio is printed.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fiscal::codec::DatecsCodec;
use fiscal::dialect::Dialect;
use fiscal::driver::DriverOptions;
use fiscal::emulator::{serve, spawn_pty, EmulatorConfig, EmulatorHandle};
use fiscal::frame::{Frame, Framing};
use fiscal::transport::{self, Endpoint};
use fiscal::{CardSlip, DatecsDriver, FiscalRegister, Payment, ReceiptLine, SaleReceipt};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn sample_frames() -> Vec<(&'static str, Frame)> {
    vec![
        (
            "old_sale",
            Frame::request(
                Framing::Old,
                0x23,
                0x31,
                fiscal::text::to_cp1251("Молоко пастеризоване 2,5%\tБ42.00*2.000"),
            ),
        ),
        (
            "x_reply",
            Frame::reply(
                Framing::X,
                0x30,
                0x35,
                b"0\tR\t0.00\t".to_vec(),
                vec![0x80, 0x80, 0x88, 0x80, 0x86, 0x9A, 0x80, 0x80],
            ),
        ),
    ]
}

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(1));
    for (name, frame) in sample_frames() {
        let bytes = frame.encode().unwrap();
        g.bench_with_input(BenchmarkId::new("encode", name), &frame, |b, f| {
            b.iter(|| std::hint::black_box(f.encode().unwrap()))
        });
        g.bench_with_input(
            BenchmarkId::new("decode_stream", name),
            &bytes,
            |b, bytes| {
                let mut codec = DatecsCodec::new(None);
                b.iter(|| {
                    let mut buf = BytesMut::from(&bytes[..]);
                    std::hint::black_box(codec.next_packet(&mut buf))
                })
            },
        );
    }
    g.finish();
}

fn driver(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("driver");
    // Over a real pty.
    let drv = rt.block_on(async {
        let (_emu, path, _task) = spawn_pty(EmulatorConfig::new(Dialect::ua_fp_t260())).unwrap();
        let s = transport::open(&Endpoint::Serial {
            path,
            baud: 115_200,
        })
        .await
        .unwrap();
        DatecsDriver::new(s, Dialect::ua_fp_t260(), DriverOptions::default())
    });
    g.bench_function("status_pty", |b| {
        b.to_async(&rt)
            .iter(|| async { drv.read_status().await.unwrap() })
    });
    // Over an in-memory duplex: the driver and emulator alone.
    let drv2 = rt.block_on(async {
        let (a, b) = tokio::io::duplex(4096);
        let emu = EmulatorHandle::new(EmulatorConfig::new(Dialect::ua_fp_t260())).unwrap();
        tokio::spawn(async move { serve(emu, b).await });
        DatecsDriver::new(Box::new(a), Dialect::ua_fp_t260(), DriverOptions::default())
    });
    g.bench_function("status_duplex", |b| {
        b.to_async(&rt)
            .iter(|| async { drv2.read_status().await.unwrap() })
    });
    g.finish();
}

fn receipt_50() -> SaleReceipt {
    let lines: Vec<ReceiptLine> = (0..50)
        .map(|i| ReceiptLine {
            name: format!("Товар №{i} вагові яблука"),
            tax_group: 'А',
            price: 1000 + i,
            quantity_milli: 1250,
            discount: 0,
        })
        .collect();
    let total: i64 = lines.iter().map(fiscal::line_total).sum();
    SaleReceipt {
        lines,
        payments: vec![Payment::Card {
            amount: total,
            card: CardSlip {
                rrn: "412345678901".into(),
                auth_code: "A1B2C3".into(),
                masked_pan: "************4242".into(),
                terminal_id: "PB000123".into(),
                invoice: "000042".into(),
                ..Default::default()
            },
        }],
    }
}

fn wire_rig(rt: &tokio::runtime::Runtime) -> (EmulatorHandle, DatecsDriver) {
    rt.block_on(async {
        let mut cfg = EmulatorConfig::new(Dialect::ua_fp_t260());
        cfg.baud = Some(115_200);
        cfg.line_time = Duration::from_millis(2);
        let (emu, path, _task) = spawn_pty(cfg).unwrap();
        let s = transport::open(&Endpoint::Serial {
            path,
            baud: 115_200,
        })
        .await
        .unwrap();
        (
            emu,
            DatecsDriver::new(s, Dialect::ua_fp_t260(), DriverOptions::default()),
        )
    })
}

fn receipt(c: &mut Criterion) {
    let rt = runtime();
    let (emu, drv) = wire_rig(&rt);
    let r = receipt_50();
    let mut g = c.benchmark_group("receipt_115200");
    g.sample_size(10);
    g.bench_function("card_receipt_50_lines", |b| {
        b.to_async(&rt)
            .iter(|| async { drv.print_sale(&r).await.unwrap() })
    });
    g.finish();

    // The same receipt against a zero-delay emulator: the whole overhead.
    let (_emu0, drv0) = rt.block_on(async {
        let (emu, path, _task) = spawn_pty(EmulatorConfig::new(Dialect::ua_fp_t260())).unwrap();
        let s = transport::open(&Endpoint::Serial {
            path,
            baud: 115_200,
        })
        .await
        .unwrap();
        (
            emu,
            DatecsDriver::new(s, Dialect::ua_fp_t260(), DriverOptions::default()),
        )
    });
    let mut g = c.benchmark_group("receipt_zero_delay");
    g.sample_size(20);
    g.bench_function("card_receipt_50_lines", |b| {
        b.to_async(&rt)
            .iter(|| async { drv0.print_sale(&r).await.unwrap() })
    });
    g.finish();

    // Measured against simulated wire + device time.
    let mut ratios = Vec::new();
    for _ in 0..10 {
        emu.reset_stats();
        let t = Instant::now();
        rt.block_on(drv.print_sale(&r)).unwrap();
        let measured = t.elapsed();
        let simulated = emu.stats().simulated;
        ratios.push((measured, simulated));
    }
    ratios.sort_by(|a, b| {
        let ra = a.0.as_secs_f64() / a.1.as_secs_f64();
        let rb = b.0.as_secs_f64() / b.1.as_secs_f64();
        ra.total_cmp(&rb)
    });
    let (m, s) = ratios[ratios.len() / 2];
    println!(
        "receipt_115200: median measured {:.1} ms vs simulated wire+device {:.1} ms: +{:.2} %",
        m.as_secs_f64() * 1e3,
        s.as_secs_f64() * 1e3,
        (m.as_secs_f64() / s.as_secs_f64() - 1.0) * 100.0
    );
}

criterion_group!(benches, codec, driver, receipt);
criterion_main!(benches);
