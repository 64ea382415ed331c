//! Datecs frames: pure types plus encode / decode, no I/O.
//!
//! Two framings exist (see `reference/datecs-protocol.md` §1):
//!
//! - **Old**: `01 LEN SEQ CMD DATA [04 STATUS(6)] 05 BCC(4) 03`, one-byte LEN
//!   and CMD;
//! - **X**: `01 LEN(4) SEQ CMD(4) DATA [04 STATUS(8)] 05 BCC(4) 03`, LEN and
//!   CMD written as four nibbles each plus 0x30.
//!
//! LEN counts the bytes after 0x01 up to and including 0x05, plus 0x20. BCC is
//! the 16-bit sum of the same bytes, written as four nibbles plus 0x30. A frame
//! with a status block (after 0x04) is a reply from the register; one without
//! is a request from the host.

use serde::Serialize;

/// Start of a frame.
pub const PRE: u8 = 0x01;
/// Separates reply data from the status bytes.
pub const SEP: u8 = 0x04;
/// End of the checksummed part.
pub const PST: u8 = 0x05;
/// End of a frame.
pub const ETX: u8 = 0x03;
/// The register could not read the frame: resend it.
pub const NAK: u8 = 0x15;
/// The register is busy: keep waiting.
pub const SYN: u8 = 0x16;

/// Largest DATA the decoder accepts in an X frame (keeps a garbage LEN from
/// making a stream wait for megabytes).
pub const MAX_X_DATA: usize = 4096;

/// Which of the two Datecs framings a frame uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Framing {
    /// One-byte LEN and CMD, six status bytes.
    Old,
    /// Four-nibble LEN and CMD, eight status bytes, an error code in replies.
    X,
}

impl Framing {
    /// How many status bytes a reply carries.
    pub fn status_len(self) -> usize {
        match self {
            Framing::Old => 6,
            Framing::X => 8,
        }
    }

    /// Bytes between LEN and DATA plus the 0x05 (LEN, SEQ, CMD, 0x05).
    fn overhead(self) -> usize {
        match self {
            Framing::Old => 4,
            Framing::X => 10,
        }
    }

    /// Index of the first DATA byte.
    fn data_start(self) -> usize {
        match self {
            Framing::Old => 4,
            Framing::X => 10,
        }
    }
}

impl std::fmt::Display for Framing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Framing::Old => "old",
            Framing::X => "x",
        })
    }
}

/// One wrapped message, either a request (no status) or a reply (status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub framing: Framing,
    pub seq: u8,
    pub cmd: u16,
    pub data: Vec<u8>,
    /// The status bytes of a reply; `None` for a request.
    pub status: Option<Vec<u8>>,
}

/// Why a byte sequence is not a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// More bytes are needed.
    Incomplete,
    /// The frame is well formed but its checksum is wrong; `len` bytes can be
    /// skipped.
    BadBcc {
        len: usize,
        expected: u16,
        found: u16,
    },
    /// Not a frame at this position.
    Invalid(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Incomplete => f.write_str("the frame is incomplete"),
            DecodeError::BadBcc {
                expected, found, ..
            } => {
                write!(
                    f,
                    "bad checksum: computed {expected:04X}, frame says {found:04X}"
                )
            }
            DecodeError::Invalid(why) => f.write_str(why),
        }
    }
}

/// The 16-bit byte sum used as the Datecs BCC.
pub fn bcc(bytes: &[u8]) -> u16 {
    bytes
        .iter()
        .fold(0u16, |acc, b| acc.wrapping_add(u16::from(*b)))
}

/// Writes a 16-bit value as four nibbles plus 0x30, most significant first.
pub fn push_nibbles(out: &mut Vec<u8>, value: u16) {
    for shift in [12u16, 8, 4, 0] {
        out.push(0x30 + ((value >> shift) & 0x0F) as u8);
    }
}

/// Reads four nibble bytes (0x30..=0x3F) back into a value.
pub fn read_nibbles(bytes: &[u8]) -> Option<u16> {
    if bytes.len() != 4 {
        return None;
    }
    bytes.iter().try_fold(0u16, |acc, b| {
        if (0x30..=0x3F).contains(b) {
            Some((acc << 4) | u16::from(b - 0x30))
        } else {
            None
        }
    })
}

impl Frame {
    /// A request from the host.
    pub fn request(framing: Framing, seq: u8, cmd: u16, data: impl Into<Vec<u8>>) -> Self {
        Frame {
            framing,
            seq,
            cmd,
            data: data.into(),
            status: None,
        }
    }

    /// A reply from the register.
    pub fn reply(
        framing: Framing,
        seq: u8,
        cmd: u16,
        data: impl Into<Vec<u8>>,
        status: impl Into<Vec<u8>>,
    ) -> Self {
        Frame {
            framing,
            seq,
            cmd,
            data: data.into(),
            status: Some(status.into()),
        }
    }

    /// True for a reply (it carries status bytes).
    pub fn is_reply(&self) -> bool {
        self.status.is_some()
    }

    /// The wire bytes of this frame, or why it cannot be sent.
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        if self.seq < 0x20 {
            return Err(format!("SEQ 0x{:02X} is below 0x20", self.seq));
        }
        if let Some(&b) = self
            .data
            .iter()
            .find(|&&b| b < 0x20 && b != 0x09 && b != 0x0A && b != 0x10)
        {
            return Err(format!(
                "DATA holds control byte 0x{b:02X}; escape it first"
            ));
        }
        let status_part = match &self.status {
            Some(st) => {
                if st.len() != self.framing.status_len() {
                    return Err(format!(
                        "{} framing needs {} status bytes, got {}",
                        self.framing,
                        self.framing.status_len(),
                        st.len()
                    ));
                }
                if st.iter().any(|b| *b < 0x80) {
                    return Err("status bytes must have bit 7 set".into());
                }
                1 + st.len()
            }
            None => 0,
        };
        let body = self.framing.overhead() + self.data.len() + status_part;
        let len = body + 0x20;
        let mut out = Vec::with_capacity(body + 6);
        out.push(PRE);
        match self.framing {
            Framing::Old => {
                if len > 0xFF {
                    return Err(format!(
                        "DATA too long for the old framing ({} bytes)",
                        self.data.len()
                    ));
                }
                if !(0x20..=0xFF).contains(&self.cmd) {
                    return Err(format!(
                        "command 0x{:X} does not fit the old framing",
                        self.cmd
                    ));
                }
                out.push(len as u8);
                out.push(self.seq);
                out.push(self.cmd as u8);
            }
            Framing::X => {
                if len > 0xFFFF {
                    return Err(format!("DATA too long ({} bytes)", self.data.len()));
                }
                push_nibbles(&mut out, len as u16);
                out.push(self.seq);
                push_nibbles(&mut out, self.cmd);
            }
        }
        out.extend_from_slice(&self.data);
        if let Some(st) = &self.status {
            out.push(SEP);
            out.extend_from_slice(st);
        }
        out.push(PST);
        let sum = bcc(&out[1..]);
        push_nibbles(&mut out, sum);
        out.push(ETX);
        Ok(out)
    }

    /// Decodes the frame at the start of `buf` (which must start with 0x01).
    /// With `hint = None` both framings are tried. Returns the frame and the
    /// number of bytes it took.
    pub fn decode(buf: &[u8], hint: Option<Framing>) -> Result<(Frame, usize), DecodeError> {
        let tries: &[Framing] = match hint {
            Some(Framing::Old) => &[Framing::Old],
            Some(Framing::X) => &[Framing::X],
            None => &[Framing::X, Framing::Old],
        };
        let mut incomplete = false;
        let mut bad: Option<DecodeError> = None;
        for &f in tries {
            match decode_as(buf, f) {
                Ok(ok) => return Ok(ok),
                Err(DecodeError::Incomplete) => incomplete = true,
                Err(e @ DecodeError::BadBcc { .. }) => bad = Some(e),
                Err(e) => {
                    if !matches!(bad, Some(DecodeError::BadBcc { .. })) {
                        bad = Some(e);
                    }
                }
            }
        }
        match bad {
            Some(e @ DecodeError::BadBcc { .. }) => Err(e),
            _ if incomplete => Err(DecodeError::Incomplete),
            Some(e) => Err(e),
            None => Err(DecodeError::Invalid("not a frame".into())),
        }
    }
}

fn decode_as(buf: &[u8], f: Framing) -> Result<(Frame, usize), DecodeError> {
    if buf.first() != Some(&PRE) {
        return Err(DecodeError::Invalid("a frame starts with 0x01".into()));
    }
    let (len, seq_at) = match f {
        Framing::Old => match buf.get(1) {
            None => return Err(DecodeError::Incomplete),
            Some(&l) => (usize::from(l), 2),
        },
        Framing::X => {
            // Reject early on the bytes we already have.
            if let Some(b) = buf
                .iter()
                .skip(1)
                .take(4)
                .find(|b| !(0x30..=0x3F).contains(*b))
            {
                return Err(DecodeError::Invalid(format!(
                    "X LEN byte 0x{b:02X} is not a nibble"
                )));
            }
            if buf.len() < 5 {
                return Err(DecodeError::Incomplete);
            }
            (usize::from(read_nibbles(&buf[1..5]).unwrap_or(0)), 5)
        }
    };
    let overhead = f.overhead();
    if len < 0x20 + overhead {
        return Err(DecodeError::Invalid(format!(
            "LEN 0x{len:02X} is below the minimum"
        )));
    }
    let body = len - 0x20;
    if f == Framing::X && body > overhead + MAX_X_DATA + 9 {
        return Err(DecodeError::Invalid(format!(
            "LEN 0x{len:04X} is too large"
        )));
    }
    if let Some(&seq) = buf.get(seq_at) {
        if seq < 0x20 {
            return Err(DecodeError::Invalid(format!(
                "SEQ 0x{seq:02X} is below 0x20"
            )));
        }
    }
    if f == Framing::X {
        if let Some(b) = buf
            .iter()
            .skip(6)
            .take(4)
            .find(|b| !(0x30..=0x3F).contains(*b))
        {
            return Err(DecodeError::Invalid(format!(
                "X CMD byte 0x{b:02X} is not a nibble"
            )));
        }
    }
    let pst_at = body; // index of 0x05: 1 + body - 1
    let total = pst_at + 1 + 4 + 1;
    if buf.len() < total {
        if let Some(&b) = buf.get(pst_at) {
            if b != PST {
                return Err(DecodeError::Invalid(format!(
                    "expected 0x05 at offset {pst_at}, found 0x{b:02X}"
                )));
            }
        }
        return Err(DecodeError::Incomplete);
    }
    if buf[pst_at] != PST {
        return Err(DecodeError::Invalid(format!(
            "expected 0x05 at offset {pst_at}, found 0x{:02X}",
            buf[pst_at]
        )));
    }
    if buf[total - 1] != ETX {
        return Err(DecodeError::Invalid(format!(
            "expected 0x03 at offset {}, found 0x{:02X}",
            total - 1,
            buf[total - 1]
        )));
    }
    let found = read_nibbles(&buf[pst_at + 1..pst_at + 5])
        .ok_or_else(|| DecodeError::Invalid("BCC bytes are not nibbles (0x30..0x3F)".into()))?;
    let expected = bcc(&buf[1..=pst_at]);
    if found != expected {
        return Err(DecodeError::BadBcc {
            len: total,
            expected,
            found,
        });
    }
    let seq = buf[seq_at];
    let cmd = match f {
        Framing::Old => u16::from(buf[3]),
        Framing::X => read_nibbles(&buf[6..10]).unwrap_or(0),
    };
    let rest = &buf[f.data_start()..pst_at];
    let sl = f.status_len();
    let (data, status) = if rest.len() > sl
        && rest[rest.len() - sl - 1] == SEP
        && rest[rest.len() - sl..].iter().all(|b| *b >= 0x80)
    {
        (
            rest[..rest.len() - sl - 1].to_vec(),
            Some(rest[rest.len() - sl..].to_vec()),
        )
    } else {
        (rest.to_vec(), None)
    };
    if let Some(b) = data
        .iter()
        .find(|&&b| b < 0x20 && b != 0x09 && b != 0x0A && b != 0x10)
    {
        return Err(DecodeError::Invalid(format!(
            "DATA holds control byte 0x{b:02X}"
        )));
    }
    Ok((
        Frame {
            framing: f,
            seq,
            cmd,
            data,
            status,
        },
        total,
    ))
}

/// Kind of a status bit, as the spec groups them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BitKind {
    Error,
    Warning,
    State,
}

/// One documented status bit: byte, bit, name, kind.
pub type StatusBit = (usize, u8, &'static str, BitKind);

/// The status bits shared by the old and X families (reference §3, and the
/// X spec's status table). Byte 3 is left to the dialect table.
pub const STATUS_BITS: &[StatusBit] = &[
    (0, 0, "syntax_error", BitKind::Error),
    (0, 1, "invalid_command", BitKind::Error),
    (0, 2, "clock_not_set", BitKind::Error),
    (0, 4, "printer_fault", BitKind::Error),
    (0, 5, "general_error", BitKind::Error),
    (0, 6, "cover_open", BitKind::Error),
    (1, 0, "overflow", BitKind::Error),
    (1, 1, "not_permitted", BitKind::Error),
    (2, 0, "paper_out", BitKind::Error),
    (2, 1, "near_paper_end", BitKind::Warning),
    (2, 2, "ej_full", BitKind::Error),
    (2, 3, "fiscal_receipt_open", BitKind::State),
    (2, 4, "ej_nearly_full", BitKind::Warning),
    (2, 5, "nonfiscal_receipt_open", BitKind::State),
    (4, 0, "fm_access_error", BitKind::Error),
    (4, 1, "tax_number_set", BitKind::State),
    (4, 2, "serial_number_set", BitKind::State),
    (4, 3, "fm_nearly_full", BitKind::Warning),
    (4, 4, "fm_full", BitKind::Error),
    (4, 5, "fm_general_error", BitKind::Error),
    (4, 6, "fm_missing", BitKind::Error),
    (5, 1, "fm_formatted", BitKind::State),
    (5, 3, "fiscalised", BitKind::State),
    (5, 4, "vat_set", BitKind::State),
];

/// Decoded status bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    pub bytes: Vec<u8>,
}

impl Status {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Status {
            bytes: bytes.into(),
        }
    }

    /// An idle, fiscalised register's status for `framing`.
    pub fn idle(framing: Framing) -> Self {
        let mut b = vec![0x80; framing.status_len()];
        b[4] = 0x86;
        b[5] = 0x9A;
        Status { bytes: b }
    }

    pub fn bit(&self, byte: usize, bit: u8) -> bool {
        self.bytes.get(byte).is_some_and(|b| b & (1 << bit) != 0)
    }

    pub fn set(&mut self, byte: usize, bit: u8, on: bool) {
        if let Some(b) = self.bytes.get_mut(byte) {
            if on {
                *b |= 1 << bit;
            } else {
                *b &= !(1 << bit);
            }
        }
    }

    /// Sets a named bit from [`STATUS_BITS`].
    pub fn set_named(&mut self, name: &str, on: bool) {
        if let Some((byte, bit, _, _)) = STATUS_BITS.iter().find(|(_, _, n, _)| *n == name) {
            self.set(*byte, *bit, on);
        }
    }

    /// True if the named bit from [`STATUS_BITS`] is set.
    pub fn is(&self, name: &str) -> bool {
        STATUS_BITS
            .iter()
            .find(|(_, _, n, _)| *n == name)
            .is_some_and(|(byte, bit, _, _)| self.bit(*byte, *bit))
    }

    pub fn syntax_error(&self) -> bool {
        self.bit(0, 0)
    }
    pub fn invalid_command(&self) -> bool {
        self.bit(0, 1)
    }
    pub fn clock_not_set(&self) -> bool {
        self.bit(0, 2)
    }
    pub fn printer_fault(&self) -> bool {
        self.bit(0, 4)
    }
    pub fn general_error(&self) -> bool {
        self.bit(0, 5)
    }
    pub fn cover_open(&self) -> bool {
        self.bit(0, 6)
    }
    pub fn overflow(&self) -> bool {
        self.bit(1, 0)
    }
    pub fn not_permitted(&self) -> bool {
        self.bit(1, 1)
    }
    pub fn paper_out(&self) -> bool {
        self.bit(2, 0)
    }
    pub fn near_paper_end(&self) -> bool {
        self.bit(2, 1)
    }
    pub fn fiscal_receipt_open(&self) -> bool {
        self.bit(2, 3)
    }
    pub fn nonfiscal_receipt_open(&self) -> bool {
        self.bit(2, 5)
    }
    pub fn fm_full(&self) -> bool {
        self.bit(4, 4)
    }
    pub fn fm_error(&self) -> bool {
        self.bit(4, 0) || self.bit(4, 5) || self.bit(4, 6)
    }
    pub fn fiscalised(&self) -> bool {
        self.bit(5, 3)
    }

    /// Names of every documented bit that is set, plus `extra` bits from a
    /// dialect table.
    pub fn flags_with(&self, extra: &[StatusBit]) -> Vec<&'static str> {
        STATUS_BITS
            .iter()
            .chain(extra.iter())
            .filter(|(byte, bit, _, _)| self.bit(*byte, *bit))
            .map(|(_, _, name, _)| *name)
            .collect()
    }

    /// Names of every documented bit that is set.
    pub fn flags(&self) -> Vec<&'static str> {
        self.flags_with(&[])
    }

    /// True when a bit 7 is clear somewhere (not a valid status block).
    pub fn malformed(&self) -> bool {
        self.bytes.iter().any(|b| b & 0x80 == 0)
    }
}

/// Hex text of bytes, space separated ("01 25 21").
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses hex text: pairs of digits, spaces, colons, commas and `0x`
/// prefixes allowed.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    // Log arrows (`<<<`, `>>>`) are dropped, so pasted log lines decode.
    let cleaned: String = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == ':' || c == '-')
        .filter(|t| !t.chars().all(|c| c == '<' || c == '>'))
        .map(|t| t.trim_start_matches("0x").trim_start_matches("0X"))
        .collect();
    if cleaned.len() % 2 != 0 {
        return Err("odd number of hex digits".into());
    }
    (0..cleaned.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(cleaned.get(i..i + 2).unwrap_or("zz"), 16)
                .map_err(|_| format!("not hex: {:?}", cleaned.get(i..i + 2).unwrap_or("")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        parse_hex(s).unwrap()
    }

    /// (hex, framing, seq, cmd, data)
    const GOLDEN: &[(&str, Framing, u8, u16, &[u8])] = &[
        (
            "01 25 21 5A 31 05 30 30 3D 36 03",
            Framing::Old,
            0x21,
            0x5A,
            b"1",
        ),
        (
            "01 30 30 32 3B 21 30 30 35 3A 31 05 30 31 3F 33 03",
            Framing::X,
            0x21,
            0x5A,
            b"1",
        ),
        (
            "01 30 30 33 33 30 30 30 33 35 34 09 31 2E 35 33 09 31 09 05 30 33 30 3A 03",
            Framing::X,
            0x30,
            0x35,
            b"4\t1.53\t1\t",
        ),
        (
            "01 30 30 32 3A 31 30 30 33 3E 05 30 31 3D 33 03",
            Framing::X,
            0x31,
            0x3E,
            b"",
        ),
        (
            "01 24 20 4A 05 30 30 39 33 03",
            Framing::Old,
            0x20,
            0x4A,
            b"",
        ),
        (
            "01 25 21 4A 58 05 30 30 3E 3D 03",
            Framing::Old,
            0x21,
            0x4A,
            b"X",
        ),
        (
            "01 2C 22 30 31 2C 30 30 30 30 2C 31 05 30 31 3F 3D 03",
            Framing::Old,
            0x22,
            0x30,
            b"1,0000,1",
        ),
        (
            "01 35 23 31 42 72 65 61 64 09 41 31 2E 35 30 2A 32 2E 30 30 30 05 30 34 39 34 03",
            Framing::Old,
            0x23,
            0x31,
            b"Bread\tA1.50*2.000",
        ),
        (
            "01 2F 24 31 D5 EB B3 E1 09 C1 31 32 2E 35 30 05 30 35 39 3D 03",
            Framing::Old,
            0x24,
            0x31,
            b"\xD5\xEB\xB3\xE1\t\xC112.50",
        ),
        (
            "01 2A 25 35 09 44 33 2E 30 30 05 30 31 39 37 03",
            Framing::Old,
            0x25,
            0x35,
            b"\tD3.00",
        ),
        (
            "01 24 26 38 05 30 30 38 37 03",
            Framing::Old,
            0x26,
            0x38,
            b"",
        ),
        (
            "01 24 27 3C 05 30 30 38 3C 03",
            Framing::Old,
            0x27,
            0x3C,
            b"",
        ),
        (
            "01 25 28 45 30 05 30 30 3C 37 03",
            Framing::Old,
            0x28,
            0x45,
            b"0",
        ),
        (
            "01 2A 29 46 2D 31 30 2E 30 30 05 30 31 3B 3A 03",
            Framing::Old,
            0x29,
            0x46,
            b"-10.00",
        ),
        (
            "01 30 30 32 3A 20 30 30 34 3A 05 30 31 3B 3F 03",
            Framing::X,
            0x20,
            0x4A,
            b"",
        ),
        (
            "01 30 30 33 34 22 30 30 33 30 31 09 30 30 30 30 09 31 09 09 05 30 32 3F 37 03",
            Framing::X,
            0x22,
            0x30,
            b"1\t0000\t1\t\t",
        ),
        (
            "01 30 30 33 32 23 30 30 33 35 31 09 35 2E 30 30 09 09 05 30 32 3C 34 03",
            Framing::X,
            0x23,
            0x35,
            b"1\t5.00\t\t",
        ),
        (
            "01 30 30 32 3C 24 30 30 34 35 5A 09 05 30 32 32 33 03",
            Framing::X,
            0x24,
            0x45,
            b"Z\t",
        ),
    ];

    #[test]
    fn golden_frames_encode_exactly() {
        for (hx, framing, seq, cmd, data) in GOLDEN {
            let f = Frame::request(*framing, *seq, *cmd, data.to_vec());
            assert_eq!(hex(&f.encode().unwrap()), hex(&h(hx)), "encoding {hx}");
        }
    }

    #[test]
    fn golden_frames_decode_with_and_without_hint() {
        for (hx, framing, seq, cmd, data) in GOLDEN {
            let bytes = h(hx);
            for hint in [None, Some(*framing)] {
                let (f, n) = Frame::decode(&bytes, hint).unwrap();
                assert_eq!(n, bytes.len());
                assert_eq!(f.framing, *framing, "{hx}");
                assert_eq!((f.seq, f.cmd, f.data.as_slice()), (*seq, *cmd, *data));
                assert!(f.status.is_none());
            }
        }
    }

    #[test]
    fn bcc_example_from_the_spec() {
        let mut out = Vec::new();
        push_nibbles(&mut out, 0x1AE3);
        assert_eq!(out, vec![0x31, 0x3A, 0x3E, 0x33]);
        assert_eq!(read_nibbles(&out), Some(0x1AE3));
        assert_eq!(bcc(&h("25 21 5A 31 05")), 0x00D6);
    }

    #[test]
    fn replies_carry_status_and_len() {
        let st = h("80 80 88 80 80 88");
        let f = Frame::reply(Framing::Old, 0x22, 0x30, b"12,5".to_vec(), st.clone());
        let bytes = f.encode().unwrap();
        // LEN for a reply is len(DATA) + 0x2B.
        assert_eq!(bytes[1], 4 + 0x2B);
        let (back, _) = Frame::decode(&bytes, None).unwrap();
        assert_eq!(back, f);
        let status = Status::new(st);
        assert!(status.fiscal_receipt_open());
        assert!(status.fiscalised());
        assert!(!status.paper_out());

        let x = Frame::reply(
            Framing::X,
            0x22,
            0x4A,
            b"0\t".to_vec(),
            h("80 80 80 80 86 9A 80 80"),
        );
        let bytes = x.encode().unwrap();
        assert_eq!(read_nibbles(&bytes[1..5]), Some(2 + 0x33));
        assert_eq!(Frame::decode(&bytes, None).unwrap().0, x);
    }

    #[test]
    fn status_examples_from_the_reference() {
        let s = Status::new(h("A0 80 81 80 80 88"));
        assert!(s.paper_out() && s.general_error());
        let s = Status::new(h("A2 82 80 80 80 88"));
        assert!(s.invalid_command() && s.not_permitted() && s.general_error());
        assert_eq!(
            s.flags(),
            vec![
                "invalid_command",
                "general_error",
                "not_permitted",
                "fiscalised"
            ]
        );
        let s = Status::new(h("80 80 80 80 84 82 80 80"));
        assert!(!s.fiscalised());
        assert!(Status::idle(Framing::X).fiscalised());
    }

    #[test]
    fn corrupt_and_malformed_frames_are_rejected() {
        let mut bytes = h("01 25 21 5A 31 05 30 30 3D 36 03");
        bytes[8] = 0x37;
        assert!(matches!(
            Frame::decode(&bytes, None),
            Err(DecodeError::BadBcc { .. })
        ));
        assert_eq!(
            Frame::decode(&h("01 25 21"), None),
            Err(DecodeError::Incomplete)
        );
        assert!(matches!(
            Frame::decode(&h("01 25 21 5A 31 06 30 30 3D 36 03"), None),
            Err(DecodeError::Invalid(_))
        ));
        assert!(Frame::request(Framing::Old, 0x20, 0x31, b"a\x02b".to_vec())
            .encode()
            .is_err());
        assert!(Frame::request(Framing::Old, 0x20, 0x31, vec![b'a'; 300])
            .encode()
            .is_err());
        assert!(parse_hex("01 2").is_err());
        assert_eq!(
            parse_hex(">>> 01 0x25, 21:5A").unwrap(),
            vec![1, 0x25, 0x21, 0x5A]
        );
        assert!(parse_hex("zz").is_err());
    }
}
