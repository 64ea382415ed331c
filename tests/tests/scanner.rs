//! The installer's port scanner and `kasa doctor` against emulators on pty
//! pairs: the Datecs register in its X dialect on one pty, a card terminal
//! (PrivatBank JSON, or B-POS1 over Kasa's bridge) on another, and a pty
//! nobody answers on. The scanner must name which path is the register
//! (and its dialect), which the terminal (and its protocol), and the silent
//! one as nothing; `kasa doctor`, run as a process on the same kind of
//! ptys, must print the same and say when a PrivatBank terminal's bank
//! profile sends no card data to the till, and what to ask the bank.

#![cfg(unix)]

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use checkout::installer::scan::{scan, Found, ScanPortsQuery};
use checkout::installer::PortReport;
use testkit::process::{kasa_bin, Proc};

/// A pty that nobody answers on: both ends kept open, the master never read.
struct Silent {
    _master: tokio_serial::SerialStream,
    _slave: tokio_serial::SerialStream,
    path: String,
}

fn silent() -> Silent {
    let (master, slave, path) = devio::pty_pair().expect("a pty pair");
    Silent {
        _master: master,
        _slave: slave,
        path,
    }
}

/// The register emulator, X dialect (not the default), on a pty.
fn fiscal_x() -> (fiscal::emulator::EmulatorHandle, String) {
    let cfg = fiscal::emulator::EmulatorConfig::new(fiscal::Dialect::x_family());
    let (handle, path, _task) = fiscal::emulator::spawn_pty(cfg).expect("fiscal emulator");
    (handle, path)
}

/// A PrivatBank terminal emulator on a pty; returns the slave side to keep.
fn privatbank(ecr_slip: bool) -> (tokio_serial::SerialStream, String) {
    let (master, slave, path) = devio::pty_pair().expect("a pty pair");
    let emu = terminal::privatbank::PrivatbankEmulator::new(terminal::privatbank::EmulatorConfig {
        step_delay: Duration::from_millis(1),
        ecr_slip,
        ..Default::default()
    });
    tokio::spawn(emu.serve(master));
    (slave, path)
}

/// The B-POS1 behaviour emulator behind Kasa's line bridge on a pty.
fn bpos1() -> (tokio_serial::SerialStream, String) {
    let (master, slave, path) = devio::pty_pair().expect("a pty pair");
    let emu = terminal::bpos1::Bpos1Emulator::new(Default::default());
    let api = Arc::new(Mutex::new(emu));
    tokio::spawn(terminal::bpos1::bridge::serve_line(api, master));
    (slave, path)
}

fn on<'a>(ports: &'a [PortReport], path: &str) -> &'a PortReport {
    ports
        .iter()
        .find(|p| p.path == path)
        .unwrap_or_else(|| panic!("{path} was not scanned: {ports:?}"))
}

fn only(paths: &[&str]) -> ScanPortsQuery {
    ScanPortsQuery {
        paths: paths.iter().map(|p| p.to_string()).collect(),
        only_given: true,
        ..ScanPortsQuery::default()
    }
}

fn assert_fiscal_x(p: &PortReport) {
    match &p.found {
        Found::Fiscal {
            dialect, framing, ..
        } => {
            assert_eq!(dialect, "x", "the register's dialect: {p:?}");
            assert_eq!(framing, "x", "the register's framing: {p:?}");
        }
        other => panic!("{} is the fiscal register, scanned as {other:?}", p.path),
    }
}

fn assert_terminal(p: &PortReport, want: &str) -> Option<String> {
    match &p.found {
        Found::Terminal {
            protocol,
            card_data,
            ..
        } => {
            assert_eq!(protocol, want, "the terminal's protocol on {}", p.path);
            card_data.clone()
        }
        other => panic!("{} is the {want} terminal, scanned as {other:?}", p.path),
    }
}

#[tokio::test]
async fn the_scanner_tells_the_register_a_privatbank_terminal_and_a_silent_port_apart() {
    let (_fiscal, fiscal_path) = fiscal_x();
    let (_keep, terminal_path) = privatbank(true);
    let empty = silent();
    let report = scan(&only(&[&fiscal_path, &terminal_path, &empty.path]), &[]).await;
    assert_eq!(report.ports.len(), 3, "{report:?}");
    assert_fiscal_x(on(&report.ports, &fiscal_path));
    let card_data = assert_terminal(on(&report.ports, &terminal_path), "privatbank");
    assert_eq!(
        card_data.as_deref(),
        Some("sent"),
        "the emulator's default profile sends the slip"
    );
    let nothing = on(&report.ports, &empty.path);
    assert_eq!(nothing.found, Found::Nothing, "the silent pty: {nothing:?}");
    assert_eq!(nothing.error, None, "the silent pty opens: {nothing:?}");
}

#[tokio::test]
async fn the_scanner_names_a_bpos1_terminal_beside_the_register() {
    let (_fiscal, fiscal_path) = fiscal_x();
    let (_keep, terminal_path) = bpos1();
    let empty = silent();
    // The settings' extra ports are scanned too.
    let report = scan(
        &only(&[&terminal_path, &empty.path]),
        std::slice::from_ref(&fiscal_path),
    )
    .await;
    assert_fiscal_x(on(&report.ports, &fiscal_path));
    let card_data = assert_terminal(on(&report.ports, &terminal_path), "bpos1-bridge");
    assert_eq!(card_data, None, "only PrivatBank is asked about card data");
    assert_eq!(on(&report.ports, &empty.path).found, Found::Nothing);
}

/// `kasa emulate ... --pty` as a process; returns it and the pty path it printed.
fn emulate(args: &[&str]) -> (Proc, String) {
    let mut cmd = Command::new(kasa_bin().expect("the kasa binary"));
    cmd.arg("emulate").args(args);
    let proc = Proc::spawn(cmd).expect("spawn the emulator");
    let path = proc
        .stdout
        .wait(Duration::from_secs(20), |l| l.starts_with("/dev/"))
        .unwrap_or_else(|| panic!("the emulator printed no pty path:\n{}", proc.tail()))
        .trim()
        .to_string();
    (proc, path)
}

/// Run `kasa doctor --lang en` on these ports (and the devices the settings
/// file in `dir` configures): its exit code and output.
fn doctor(dir: &std::path::Path, ports: &[&str]) -> (i32, String) {
    let mut cmd = Command::new(kasa_bin().expect("the kasa binary"));
    cmd.arg("doctor").args(["--lang", "en"]);
    for p in ports {
        cmd.args(["--port", p]);
    }
    let out = cmd
        .env("KASA_CONFIG", dir.join("kasa.json"))
        .env("KASA_DATA_DIR", dir)
        .output()
        .expect("run kasa doctor");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// The line `kasa doctor` printed about `path`.
fn line_of<'a>(out: &'a str, path: &str) -> &'a str {
    out.lines()
        .find(|l| {
            l.starts_with(&format!("{path}:"))
                || (path.starts_with("configured ") && l.starts_with(path))
        })
        .unwrap_or_else(|| panic!("no verdict on {path}:\n{out}"))
}

#[tokio::test]
async fn kasa_doctor_prints_the_same_and_spots_a_terminal_that_keeps_the_card_data() {
    let dir = tempfile::tempdir().unwrap();
    let (_f, fiscal_path) = emulate(&["fiscal", "--pty", "--dialect", "x"]);
    let (_t, privat_path) = emulate(&[
        "terminal",
        "--protocol",
        "privatbank",
        "--pty",
        "--no-ecr-slip",
    ]);
    let (_b, bpos1_path) = emulate(&["terminal", "--protocol", "bpos1", "--pty"]);
    let empty = silent();

    let (code, out) = doctor(
        dir.path(),
        &[&fiscal_path, &privat_path, &bpos1_path, &empty.path],
    );
    assert_eq!(code, 1, "a problem gives a non-zero exit code:\n{out}");
    let fiscal = line_of(&out, &fiscal_path);
    assert!(fiscal.contains(": OK"), "{fiscal}");
    assert!(fiscal.contains("[fiscal dialect=x framing=x]"), "{fiscal}");
    let bpos = line_of(&out, &bpos1_path);
    assert!(bpos.contains(": OK"), "{bpos}");
    assert!(bpos.contains("[terminal protocol=bpos1-bridge]"), "{bpos}");
    let privat = line_of(&out, &privat_path);
    assert!(privat.contains(": PROBLEM"), "{privat}");
    assert!(
        privat.contains("[terminal protocol=privatbank card_data=missing]"),
        "{privat}"
    );
    assert!(
        privat.contains("does not send the card data"),
        "the verdict says the card data is missing: {privat}"
    );
    assert!(
        out.contains("ask them to turn on \"ECR prints the slip\""),
        "the verdict says what to ask the bank:\n{out}"
    );
    let nothing = line_of(&out, &empty.path);
    assert!(
        nothing.contains("[nothing]") && nothing.contains("PROBLEM"),
        "a port the installer named with nothing on it is a problem: {nothing}"
    );
}

#[tokio::test]
async fn kasa_doctor_passes_devices_that_are_fine() {
    let dir = tempfile::tempdir().unwrap();
    let (_f, fiscal_path) = emulate(&["fiscal", "--pty", "--dialect", "x"]);
    let (_t, privat_path) = emulate(&["terminal", "--protocol", "privatbank", "--pty"]);
    let (code, out) = doctor(dir.path(), &[&fiscal_path, &privat_path]);
    assert_eq!(code, 0, "nothing is wrong:\n{out}");
    let privat = line_of(&out, &privat_path);
    assert!(
        privat.contains(": OK") && privat.contains("card_data=sent"),
        "{privat}"
    );
    assert!(out.contains("no problems found"), "{out}");
}

#[tokio::test]
async fn kasa_doctor_checks_the_configured_devices_and_a_swapped_port() {
    let dir = tempfile::tempdir().unwrap();
    let (_f, fiscal_path) = emulate(&["fiscal", "--pty", "--dialect", "x"]);
    let (_b, bpos1_path) = emulate(&["terminal", "--protocol", "bpos1", "--pty"]);
    let mut cmd = Command::new(kasa_bin().unwrap());
    cmd.args(["emulate", "terminal", "--protocol", "privatbank"])
        .args(["--tcp", "127.0.0.1:0", "--no-ecr-slip"]);
    let t = Proc::spawn(cmd).unwrap();
    let address = t
        .stdout
        .wait(Duration::from_secs(20), |l| l.contains(':'))
        .unwrap_or_else(|| panic!("no address:\n{}", t.tail()))
        .trim()
        .to_string();
    // The settings put the register on the B-POS1 terminal's port.
    let settings = serde_json::json!({
        "fiscal": {
            "endpoint": {"kind": "serial", "path": bpos1_path, "baud": 115200},
            "dialect": "x"
        },
        "terminal": {
            "protocol": "privatbank",
            "endpoint": {"kind": "tcp", "address": address}
        }
    });
    std::fs::write(dir.path().join("kasa.json"), settings.to_string()).unwrap();

    let (code, out) = doctor(dir.path(), &[&fiscal_path]);
    assert_eq!(code, 1, "{out}");
    let swapped = line_of(&out, &bpos1_path);
    assert!(
        swapped.contains("PROBLEM") && swapped.contains("configured=fiscal"),
        "the settings' register port has a terminal on it: {swapped}"
    );
    let register = line_of(&out, "configured register");
    assert!(register.contains("PROBLEM"), "{register}");
    let terminal = line_of(&out, "configured terminal");
    assert!(
        terminal.contains("PROBLEM") && terminal.contains("card_data=missing"),
        "the configured PrivatBank terminal keeps the card data: {terminal}"
    );
    assert!(line_of(&out, &fiscal_path).contains(": OK"), "{out}");
}
