//! The emulator's scripted faults: link faults (NAK, corrupt BCC, dropped
//! replies, silence, SYN), device conditions (paper, cover, memory, shift,
//! SAM, journal, modem, clock) and firmware behaviours the driver must cope
//! with (the long card form refused, the RRN missing from the journal).
//! Counters are 1-based; 0 means off. Every standing fault is settable from
//! `kasa emulate fiscal` flags too (see `cli`); the one-shot ones that a
//! test arms and clears through the handle (`drop_reply_on`, `mute_after`,
//! `mute_before`, `unmute`) are not.

use serde::{Deserialize, Serialize};

/// How the emulator refuses the long (slot) form of a card payment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LongFormRefusal {
    /// Accepts it.
    #[default]
    Off,
    /// Answers with the syntax-error bit (0.0).
    Syntax,
    /// Answers with paid code `F`.
    PaidF,
}

impl std::str::FromStr for LongFormRefusal {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "off" => Ok(LongFormRefusal::Off),
            "syntax" => Ok(LongFormRefusal::Syntax),
            "f" | "paid-f" | "paid_f" => Ok(LongFormRefusal::PaidF),
            _ => Err(format!("{s:?}: say syntax or f")),
        }
    }
}

/// Scripted faults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Answer NAK to every Nth frame received (instead of running it).
    pub nak_every: u32,
    /// Corrupt the BCC of every Nth reply sent.
    pub corrupt_every: u32,
    /// Run every Nth command but drop its reply.
    pub drop_reply_every: u32,
    /// Run the next command with this code but drop its reply (once).
    pub drop_reply_on: Option<u16>,
    /// After running the next command with this code, answer nothing until
    /// `EmulatorHandle::unmute` (a pulled cable).
    pub mute_after: Option<u16>,
    /// The cable pulled just before the next command with this code: it is
    /// not run, and nothing is answered until `EmulatorHandle::unmute`.
    pub mute_before: Option<u16>,
    /// How many commands with the `mute_after` / `mute_before` code run
    /// normally first (the same code may also be a query).
    pub mute_skip: u32,
    /// Stay busy (sending SYN every 60 ms) this long before every reply.
    pub syn_ms: u64,
    /// Run out of paper at the Nth sale line of the next receipt (once).
    pub paper_out_at_line: Option<u32>,
    /// Load paper by itself this long after running out (0: only through
    /// `EmulatorHandle::load_paper`).
    pub paper_reload_ms: u64,
    pub cover_open: bool,
    pub shift_over_24h: bool,
    pub fm_full: bool,
    /// X framing with comma-separated reply data, as a DP-150MX answered
    /// (ErpNet.FP issue #183).
    pub x_comma_data: bool,
    /// Refuse card data in the payment command (the long form).
    pub refuse_long_form: LongFormRefusal,
    /// Leave the RRN line out of the electronic journal (the paper still
    /// shows it): the read-back must notice.
    pub drop_rrn_from_journal: bool,
    /// The register's clock runs this many seconds off the system's.
    pub clock_offset_s: i64,
    /// The fiscal-data modem reports a failure (0x7A sixth field not `ok`).
    pub modem_down: bool,
    /// The oldest unsent document is this many hours old (0: none unsent).
    pub unsent_hours: u32,
    /// SAM failure (UA status 1.4).
    pub sam_error: bool,
    /// Electronic journal nearly full (UA status 2.4).
    pub ej_nearly_full: bool,
}
