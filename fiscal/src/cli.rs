//! Command-line entry points the `kasa` binary forwards to:
//!
//! - `kasa emulate fiscal --pty | --tcp ADDR [options]`: runs the emulator;
//!   the first line on stdout is the pty path or the bound address;
//! - `kasa fiscal decode HEX...`: decodes pasted frames as JSON; a malformed
//!   frame gives a non-zero exit and says what is wrong;
//! - `kasa fiscal detect PORT|--tcp ADDR`: finds a register and reports model,
//!   firmware, serial, framing and baud;
//! - `kasa fiscal status|info|health --port P [--baud N] | --tcp ADDR`;
//! - `kasa fiscal field-check --port P | --tcp ADDR --yes [--save FILE]`:
//!   the installer's check of how the register takes card data (prints four
//!   real fiscal documents, so it stops without `--yes`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};

use crate::dialect::{CardDataMode, Dialect};
#[cfg(unix)]
use crate::emulator::spawn_pty;
use crate::emulator::{spawn_tcp, EmulatorConfig, Faults, LongFormRefusal};
use crate::frame::{hex, parse_hex, Frame, Status, NAK, PRE, SYN};
use crate::settings::{DialectSettings, SlotField};
use crate::transport::Endpoint;
use crate::{detect, DatecsDriver, DriverConfig, FiscalRegister};

#[derive(Debug, Parser)]
#[command(
    name = "kasa emulate fiscal",
    about = "Run the Datecs fiscal register emulator"
)]
struct EmulateArgs {
    /// Serve on a new pty pair (prints the slave path).
    #[arg(long, conflicts_with = "tcp")]
    pty: bool,
    /// Serve on a TCP address, e.g. 127.0.0.1:4999 (prints the bound address).
    #[arg(long)]
    tcp: Option<String>,
    /// Keep counters and any open receipt in this JSON file.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Append every printed document to this text file.
    #[arg(long)]
    tape: Option<PathBuf>,
    /// Simulate the wire time of this baud rate (and, on a pty, answer only
    /// at this rate).
    #[arg(long)]
    baud: Option<u32>,
    /// Dialect: ua-fp-t260 (default) or x.
    #[arg(long, default_value = "ua-fp-t260")]
    dialect: String,
    /// Card data: payment-text, text-lines or both.
    #[arg(long)]
    card_data: Option<String>,
    /// Simulated printing time per line, in milliseconds.
    #[arg(long, default_value_t = 0)]
    line_ms: u64,
    /// The operator password the register takes.
    #[arg(long, default_value = "0000")]
    password: String,
    /// How this register reads the card slots of 0x35, comma separated
    /// (default: rrn,merchant,terminal_id,payment_system,operation,
    /// masked_pan,auth_code,commission).
    #[arg(long, value_delimiter = ',')]
    slot_order: Vec<String>,
    #[command(flatten)]
    faults: FaultArgs,
}

#[derive(Debug, Args)]
struct FaultArgs {
    /// NAK every Nth frame.
    #[arg(long, default_value_t = 0)]
    nak_every: u32,
    /// Corrupt the BCC of every Nth reply.
    #[arg(long, default_value_t = 0)]
    corrupt_every: u32,
    /// Run every Nth command but drop its reply (exercises SEQ replay).
    #[arg(long, default_value_t = 0)]
    drop_reply_every: u32,
    /// Send SYN for this many milliseconds before every reply.
    #[arg(long, default_value_t = 0)]
    syn_ms: u64,
    /// Run out of paper at sale line N of the next receipt.
    #[arg(long)]
    paper_out_at: Option<u32>,
    /// Load paper by itself this many milliseconds after running out.
    #[arg(long, default_value_t = 0)]
    paper_reload_ms: u64,
    #[arg(long)]
    cover_open: bool,
    #[arg(long)]
    shift_over_24h: bool,
    #[arg(long)]
    fm_full: bool,
    /// Answer X frames with comma-separated data (a hybrid device).
    #[arg(long)]
    x_comma_data: bool,
    /// Refuse card data in the payment command: `syntax` (bit 0.0) or `f`
    /// (paid code F).
    #[arg(long)]
    refuse_long_form: Option<LongFormRefusal>,
    /// Leave the RRN out of the electronic journal (the paper shows it).
    #[arg(long)]
    drop_rrn_from_journal: bool,
    /// Run the register's clock this many seconds off the system clock.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    clock_offset_s: i64,
    /// The data modem reports a failure.
    #[arg(long)]
    modem_down: bool,
    /// The oldest unsent document is this many hours old.
    #[arg(long, default_value_t = 0)]
    unsent_hours: u32,
    /// SAM failure (status 1.4).
    #[arg(long)]
    sam_error: bool,
    /// Electronic journal nearly full (status 2.4).
    #[arg(long)]
    ej_nearly_full: bool,
}

#[derive(Debug, Parser)]
#[command(name = "kasa fiscal", about = "Fiscal register tools")]
struct FiscalArgs {
    #[command(subcommand)]
    cmd: FiscalCmd,
}

#[derive(Debug, Subcommand)]
enum FiscalCmd {
    /// Decode Datecs frames given as hex (JSON on stdout).
    Decode {
        /// Hex bytes, e.g. "01 25 21 5A 31 05 30 30 3D 36 03".
        #[arg(required = true, num_args = 1..)]
        hex: Vec<String>,
    },
    /// Find a register on a serial port (all baud rates, both framings).
    Detect {
        /// Serial port path, e.g. /dev/ttyUSB0.
        port: Option<String>,
        /// Probe a TCP address instead.
        #[arg(long)]
        tcp: Option<String>,
        /// Only this baud rate.
        #[arg(long)]
        baud: Option<u32>,
    },
    /// Read the register's status.
    Status(DeviceArgs),
    /// Read the register's model, firmware and serial number.
    Info(DeviceArgs),
    /// Everything the pre-flight gate checks (status, shift, modem, clock).
    Health(DeviceArgs),
    /// Find out how the register takes card data, and save it as settings.
    /// Prints four real fiscal documents (0.01 and 0.02, each with its
    /// return receipt): say --yes to go ahead.
    FieldCheck {
        #[command(flatten)]
        device: DeviceArgs,
        /// The installer confirms that real fiscal documents are printed.
        #[arg(long)]
        yes: bool,
        /// Where to save the settings found (JSON for kasa.json's fiscal
        /// section).
        #[arg(long, default_value = "fiscal-dialect.json")]
        save: PathBuf,
        /// Start from these settings (JSON) instead of the defaults.
        #[arg(long)]
        settings: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct DeviceArgs {
    #[arg(long)]
    port: Option<String>,
    #[arg(long, default_value_t = 115_200)]
    baud: u32,
    #[arg(long)]
    tcp: Option<String>,
    #[arg(long, default_value = "ua-fp-t260")]
    dialect: String,
}

fn parse<T: Parser>(prog: &str, args: Vec<String>) -> Result<T, i32> {
    let argv = std::iter::once(prog.to_string()).chain(args);
    T::try_parse_from(argv).map_err(|e| {
        let _ = e.print();
        if e.use_stderr() {
            2
        } else {
            0
        }
    })
}

/// `kasa emulate fiscal ...`: runs until killed; returns an exit code.
pub async fn emulate(args: Vec<String>) -> i32 {
    let a: EmulateArgs = match parse("kasa emulate fiscal", args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let Some(mut dialect) = Dialect::by_name(&a.dialect) else {
        eprintln!("unknown dialect {:?} (ua-fp-t260 or x)", a.dialect);
        return 2;
    };
    if let Some(mode) = &a.card_data {
        match mode.parse::<CardDataMode>() {
            Ok(m) => dialect.settings.card.mode = m,
            Err(e) => {
                eprintln!("{e}");
                return 2;
            }
        }
    }
    let mut config = EmulatorConfig::new(dialect);
    config.state_file = a.state;
    config.tape_file = a.tape;
    config.baud = a.baud;
    config.line_time = Duration::from_millis(a.line_ms);
    config.password = a.password;
    if !a.slot_order.is_empty() {
        let order: Option<Vec<SlotField>> =
            a.slot_order.iter().map(|n| SlotField::parse(n)).collect();
        match order {
            Some(o) => config.slot_order = o,
            None => {
                eprintln!("unknown slot in --slot-order {:?}", a.slot_order);
                return 2;
            }
        }
    }
    config.faults = Faults {
        nak_every: a.faults.nak_every,
        corrupt_every: a.faults.corrupt_every,
        drop_reply_every: a.faults.drop_reply_every,
        syn_ms: a.faults.syn_ms,
        paper_out_at_line: a.faults.paper_out_at,
        paper_reload_ms: a.faults.paper_reload_ms,
        cover_open: a.faults.cover_open,
        shift_over_24h: a.faults.shift_over_24h,
        fm_full: a.faults.fm_full,
        x_comma_data: a.faults.x_comma_data,
        refuse_long_form: a.faults.refuse_long_form.unwrap_or_default(),
        drop_rrn_from_journal: a.faults.drop_rrn_from_journal,
        clock_offset_s: a.faults.clock_offset_s,
        modem_down: a.faults.modem_down,
        unsent_hours: a.faults.unsent_hours,
        sam_error: a.faults.sam_error,
        ej_nearly_full: a.faults.ej_nearly_full,
        ..Faults::default()
    };
    let task = if let Some(addr) = a.tcp {
        match spawn_tcp(config, &addr).await {
            Ok((_h, local, task)) => {
                println!("{local}");
                task
            }
            Err(e) => {
                eprintln!("cannot listen on {addr}: {e}");
                return 1;
            }
        }
    } else if a.pty {
        #[cfg(unix)]
        match spawn_pty(config) {
            Ok((_h, path, task)) => {
                println!("{path}");
                task
            }
            Err(e) => {
                eprintln!("cannot open a pty: {e}");
                return 1;
            }
        }
        #[cfg(not(unix))]
        {
            eprintln!("no ptys here: use --tcp ADDR");
            return 2;
        }
    } else {
        eprintln!("say --pty or --tcp ADDR");
        return 2;
    };
    match task.await {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            eprintln!("emulator stopped: {e}");
            1
        }
        Err(e) => {
            eprintln!("emulator task failed: {e}");
            1
        }
    }
}

/// `kasa fiscal ...`: returns an exit code.
pub async fn main(args: Vec<String>) -> i32 {
    let a: FiscalArgs = match parse("kasa fiscal", args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    match a.cmd {
        FiscalCmd::Decode { hex } => match decode_hex(&hex.join(" ")) {
            Ok(v) => {
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                0
            }
            Err(why) => {
                eprintln!("malformed: {why}");
                1
            }
        },
        FiscalCmd::Detect { port, tcp, baud } => {
            let found = match (port, tcp) {
                (_, Some(addr)) => detect::detect_tcp(&addr).await,
                (Some(p), None) => detect::detect_serial(&p, baud.as_slice()).await,
                (None, None) => {
                    eprintln!("say a port or --tcp ADDR");
                    return 2;
                }
            };
            print_result(found.map(|i| serde_json::to_value(i).unwrap_or(Value::Null)))
        }
        FiscalCmd::Status(d) => {
            let drv = match connect(&d).await {
                Ok(drv) => drv,
                Err(code) => return code,
            };
            print_result(
                drv.status()
                    .await
                    .map(|s| serde_json::to_value(s).unwrap_or(Value::Null)),
            )
        }
        FiscalCmd::Health(d) => {
            let drv = match connect(&d).await {
                Ok(drv) => drv,
                Err(code) => return code,
            };
            let now = crate::emulator::register_local_now();
            print_result(
                drv.health(now)
                    .await
                    .map(|s| serde_json::to_value(s).unwrap_or(Value::Null)),
            )
        }
        FiscalCmd::FieldCheck {
            device,
            yes,
            save,
            settings,
        } => field_check(&device, yes, &save, settings.as_deref()).await,
        FiscalCmd::Info(d) => {
            let drv = match connect(&d).await {
                Ok(drv) => drv,
                Err(code) => return code,
            };
            print_result(
                drv.info()
                    .await
                    .map(|s| serde_json::to_value(s).unwrap_or(Value::Null)),
            )
        }
    }
}

/// What the installer reads before saying --yes.
const FIELD_CHECK_WARNING: &str = "The field check prints real fiscal documents on this register: \
a 0.01 card receipt and its return receipt, then a 0.02 receipt paid by card and cash and its \
return receipt. They go into the fiscal memory and the electronic journal and cannot be undone. \
Run it again with --yes to go ahead.";

async fn field_check(
    d: &DeviceArgs,
    yes: bool,
    save: &std::path::Path,
    base: Option<&std::path::Path>,
) -> i32 {
    if !yes {
        eprintln!("{FIELD_CHECK_WARNING}");
        return 2;
    }
    let base = match base.map(DialectSettings::load).transpose() {
        Ok(b) => b.unwrap_or_default(),
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let drv = match connect(d).await {
        Ok(drv) => drv,
        Err(code) => return code,
    };
    match crate::field_check::run(&drv, true, base).await {
        Ok(report) => {
            if let Err(e) = report.settings.save(save) {
                println!(
                    "{}",
                    json!({"error": {"code": e.code(), "message": e.to_string()}})
                );
                return 1;
            }
            let mut v = serde_json::to_value(&report).unwrap_or(Value::Null);
            v["saved"] = json!(save.display().to_string());
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            0
        }
        Err(e) => print_result(Err(e)),
    }
}

fn print_result(r: crate::Result<Value>) -> i32 {
    match r {
        Ok(v) => {
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            0
        }
        Err(e) => {
            println!(
                "{}",
                json!({"error": {"code": e.code(), "message": e.to_string()}})
            );
            1
        }
    }
}

async fn connect(d: &DeviceArgs) -> Result<DatecsDriver, i32> {
    let Some(dialect) = Dialect::by_name(&d.dialect) else {
        eprintln!("unknown dialect {:?}", d.dialect);
        return Err(2);
    };
    let endpoint = match (&d.port, &d.tcp) {
        (_, Some(addr)) => Endpoint::tcp(addr.clone()),
        (Some(p), None) => Endpoint::Serial {
            path: p.clone(),
            baud: d.baud,
        },
        (None, None) => {
            eprintln!("say --port PATH or --tcp ADDR");
            return Err(2);
        }
    };
    let config = DriverConfig {
        endpoint,
        dialect,
        options: Default::default(),
    };
    DatecsDriver::connect(&config).await.map_err(|e| {
        println!(
            "{}",
            json!({"error": {"code": e.code(), "message": e.to_string()}})
        );
        1
    })
}

/// A name for a command code (shared Datecs numbers).
pub fn command_name(cmd: u16) -> &'static str {
    match cmd {
        0x2B => "open_return_x",
        0x26 => "nonfiscal_open",
        0x27 => "nonfiscal_close",
        0x2A => "nonfiscal_text",
        0x2E => "shift_state_ua",
        0x55 => "open_return_ua",
        0x65 => "set_password",
        0x7A => "modem_state",
        0x7E => "journal_read",
        0x30 => "open_receipt",
        0x31 => "sale",
        0x33 => "subtotal",
        0x35 => "payment",
        0x36 => "print_text",
        0x38 => "close_receipt",
        0x3C => "cancel_receipt",
        0x3D => "set_datetime",
        0x3E => "read_datetime",
        0x45 => "report",
        0x46 => "cash_in_out",
        0x4A => "status",
        0x4C => "receipt_state",
        0x5A => "diagnostic",
        0x71 => "last_document",
        _ => "unknown",
    }
}

/// Decodes hex text holding one or more frames (and NAK / SYN bytes) into
/// JSON; any byte that is not part of a valid packet is an error.
pub fn decode_hex(text: &str) -> Result<Value, String> {
    let bytes = parse_hex(text)?;
    if bytes.is_empty() {
        return Err("no bytes given".into());
    }
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        match bytes[at] {
            NAK => {
                out.push(json!({"offset": at, "type": "nak"}));
                at += 1;
            }
            SYN => {
                out.push(json!({"offset": at, "type": "syn"}));
                at += 1;
            }
            PRE => match Frame::decode(&bytes[at..], None) {
                Ok((frame, used)) => {
                    out.push(frame_json(&frame, at, &bytes[at..at + used]));
                    at += used;
                }
                Err(e) => return Err(format!("frame at offset {at}: {e}")),
            },
            b => {
                return Err(format!(
                "byte 0x{b:02X} at offset {at} does not start a frame (01), NAK (15) or SYN (16)"
            ))
            }
        }
    }
    Ok(Value::Array(out))
}

fn frame_json(f: &Frame, offset: usize, raw: &[u8]) -> Value {
    let fields = crate::dialect::split_fields(&f.data);
    let mut v = json!({
        "offset": offset,
        "type": "frame",
        "framing": f.framing.to_string(),
        "direction": if f.is_reply() { "reply" } else { "request" },
        "seq": format!("0x{:02X}", f.seq),
        "cmd": format!("0x{:02X}", f.cmd),
        "cmd_name": command_name(f.cmd),
        "data_hex": hex(&f.data),
        "data_text": crate::text::from_cp1251(&f.data),
        "fields": fields,
        "length": raw.len(),
    });
    if let Some(st) = &f.status {
        let status = Status::new(st.clone());
        let table = match f.framing {
            crate::frame::Framing::Old => Dialect::ua_fp_t260(),
            crate::frame::Framing::X => Dialect::x_family(),
        };
        v["status_hex"] = json!(hex(st));
        v["status_flags"] = json!(table.status_flags(&status));
        if f.framing == crate::frame::Framing::X {
            let code = fields.first().and_then(|c| c.trim().parse::<i64>().ok());
            v["error_code"] = json!(code);
            v["ok"] = json!(code == Some(0));
            if let Some(e) = code.and_then(|c| crate::dialect::x_error(c, f.cmd)) {
                v["error"] = json!({"code": e.code(), "message": e.to_string()});
            }
        } else {
            v["ok"] = json!(
                !(status.general_error()
                    || status.syntax_error()
                    || status.invalid_command()
                    || status.not_permitted())
            );
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_golden_and_reject_malformed() {
        let v = decode_hex("01 25 21 5A 31 05 30 30 3D 36 03 15 16").unwrap();
        assert_eq!(v[0]["framing"], "old");
        assert_eq!(v[0]["cmd_name"], "diagnostic");
        assert_eq!(v[0]["seq"], "0x21");
        assert_eq!(v[1]["type"], "nak");
        assert_eq!(v[2]["type"], "syn");
        let v = decode_hex(
            "01 30 30 33 33 30 30 30 33 35 34 09 31 2E 35 33 09 31 09 05 30 33 30 3A 03",
        )
        .unwrap();
        assert_eq!(v[0]["framing"], "x");
        assert_eq!(v[0]["fields"], json!(["4", "1.53", "1"]));
        let e = decode_hex("01 25 21 5A 31 05 30 30 3D 37 03").unwrap_err();
        assert!(e.contains("checksum"), "{e}");
        assert!(decode_hex("01 25 21").unwrap_err().contains("incomplete"));
        assert!(decode_hex("FF").unwrap_err().contains("offset 0"));
        assert!(decode_hex("0G").is_err());
    }

    #[test]
    fn decode_x_reply_error_code() {
        let f = Frame::reply(
            crate::frame::Framing::X,
            0x30,
            0x35,
            b"-111016\t".to_vec(),
            vec![0x80, 0x80, 0x80, 0x80, 0x86, 0x9A, 0x80, 0x80],
        );
        let v = decode_hex(&hex(&f.encode().unwrap())).unwrap();
        assert_eq!(v[0]["error_code"], -111016);
        assert_eq!(v[0]["ok"], false);
        assert_eq!(v[0]["error"]["code"], "no_receipt_open");
        assert_eq!(
            v[0]["status_flags"],
            json!([
                "tax_number_set",
                "serial_number_set",
                "fm_formatted",
                "fiscalised",
                "vat_set"
            ])
        );
    }
}
