//! PrivatBank ECR JSON frames: pure types plus encode / decode, no I/O.
//!
//! A frame is UTF-8 JSON followed by one 0x00; the `PingDevice` handshake
//! carries an extra leading 0x00. Requests are written in the field order of the
//! spec's examples so the bytes match them exactly. Replies are parsed
//! leniently: pretty-printed JSON, numbers or strings, stray spaces, both
//! misspellings of `errorDescription`, and the bare `00` and missing closing
//! brace of the spec's own handshake dump.

use serde_json::{Map, Value};

use crate::recovery::DATE_TIME_FORMAT;
use crate::{CardTransaction, Error, Result, TxnKind, TxnStatus};

/// The frame terminator.
pub const NUL: u8 = 0x00;

/// The method name of service messages.
pub const SERVICE: &str = "ServiceMessage";

/// One JSON message of the protocol, request or reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub method: String,
    pub step: i64,
    /// `None` when the message has no `params` object at all.
    pub params: Option<Vec<(String, Value)>>,
    /// Present in replies only.
    pub error: Option<bool>,
    /// Present in replies only.
    pub error_description: Option<String>,
}

impl Message {
    /// A request without params.
    pub fn bare(method: &str) -> Self {
        Self {
            method: method.into(),
            step: 0,
            params: None,
            error: None,
            error_description: None,
        }
    }

    /// A request with string params in the given order.
    pub fn with_params(method: &str, params: &[(&str, &str)]) -> Self {
        let params = params
            .iter()
            .map(|(k, v)| ((*k).to_string(), Value::String((*v).into())))
            .collect();
        Self {
            params: Some(params),
            ..Self::bare(method)
        }
    }

    /// A service message request, e.g. `getLastStatMsgCode` or `interrupt`.
    pub fn service(msg_type: &str) -> Self {
        Self::with_params(SERVICE, &[("msgType", msg_type)])
    }

    /// `PingDevice`, the handshake.
    pub fn ping() -> Self {
        Self::bare("PingDevice")
    }

    /// `Purchase {amount, discount, merchantId, facepay, subMerchant}`.
    pub fn purchase(amount: i64, merchant: u8) -> Self {
        let (a, m) = (format_amount(amount), merchant.to_string());
        Self::with_params(
            "Purchase",
            &[
                ("amount", &a),
                ("discount", ""),
                ("merchantId", &m),
                ("facepay", "false"),
                ("subMerchant", ""),
            ],
        )
    }

    /// `Refund {amount, discount, merchantId, rrn, subMerchant}`.
    pub fn refund(amount: i64, merchant: u8, rrn: &str) -> Self {
        let (a, m) = (format_amount(amount), merchant.to_string());
        Self::with_params(
            "Refund",
            &[
                ("amount", &a),
                ("discount", ""),
                ("merchantId", &m),
                ("rrn", rrn),
                ("subMerchant", ""),
            ],
        )
    }

    /// `Withdrawal {invoiceNumber}`: void inside the current batch.
    pub fn withdrawal(invoice: &str) -> Self {
        Self::with_params("Withdrawal", &[("invoiceNumber", invoice)])
    }

    /// `Audit {merchantId}`: X balance.
    pub fn audit(merchant: u8) -> Self {
        Self::with_params("Audit", &[("merchantId", &merchant.to_string())])
    }

    /// `Verify {merchantId}`: settlement (Z), merchant 0 = all.
    pub fn verify(merchant: u8) -> Self {
        Self::with_params("Verify", &[("merchantId", &merchant.to_string())])
    }

    /// `GetReceiptInfo {invoiceNumber}`; `""` = the last receipt of the batch.
    pub fn receipt_info(invoice: &str) -> Self {
        Self::with_params("GetReceiptInfo", &[("invoiceNumber", invoice)])
    }

    /// `true` for `ServiceMessage` frames.
    pub fn is_service(&self) -> bool {
        self.method.trim() == SERVICE
    }

    /// The trimmed `msgType` of a service message.
    pub fn msg_type(&self) -> Option<&str> {
        self.params_ref()?
            .iter()
            .find(|(k, _)| k == "msgType")
            .and_then(|(_, v)| v.as_str())
            .map(str::trim)
    }

    fn params_ref(&self) -> Option<&Vec<(String, Value)>> {
        self.params.as_ref()
    }

    /// A param as trimmed text: strings as they are, numbers and booleans printed.
    pub fn param(&self, key: &str) -> Option<String> {
        let (_, v) = self.params_ref()?.iter().find(|(k, _)| k.trim() == key)?;
        match v {
            Value::String(s) => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A param as text: `None` when absent or null, an error when it is an
    /// array or an object.
    pub fn param_checked(&self, key: &str) -> Result<Option<String>> {
        let Some((_, v)) = self
            .params_ref()
            .and_then(|p| p.iter().find(|(k, _)| k.trim() == key))
        else {
            return Ok(None);
        };
        match v {
            Value::Null => Ok(None),
            Value::Array(_) | Value::Object(_) => {
                Err(Error::Protocol(format!("{key} has the wrong type: {v}")))
            }
            _ => Ok(self.param(key)),
        }
    }

    /// A param as text, or an empty string.
    pub fn text(&self, key: &str) -> String {
        self.param(key).unwrap_or_default()
    }

    /// The reply's response code, normalised to 4 digits (`"10"` → `"0010"`).
    pub fn response_code(&self) -> Option<String> {
        self.param("responseCode").map(|c| normalise_rc(&c))
    }

    /// `error` as sent, `false` when absent.
    pub fn is_error(&self) -> bool {
        self.error.unwrap_or(false)
    }

    /// The error description, or an empty string.
    pub fn description(&self) -> &str {
        self.error_description.as_deref().unwrap_or("").trim()
    }

    /// Encode as one frame: JSON + 0x00, with a leading 0x00 when `handshake`.
    pub fn encode(&self, handshake: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        if handshake {
            out.push(NUL);
        }
        self.write_json(&mut out);
        out.push(NUL);
        out
    }

    /// The JSON text alone, in the spec's field order.
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(256);
        self.write_json(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"method\":");
        push_json_string(out, &self.method);
        out.extend_from_slice(b",\"step\":");
        out.extend_from_slice(self.step.to_string().as_bytes());
        if let Some(params) = &self.params {
            out.extend_from_slice(b",\"params\":{");
            for (i, (k, v)) in params.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_json_string(out, k);
                out.push(b':');
                out.extend_from_slice(v.to_string().as_bytes());
            }
            out.push(b'}');
        }
        if let Some(e) = self.error {
            out.extend_from_slice(if e {
                b",\"error\":true"
            } else {
                b",\"error\":false"
            });
        }
        if let Some(d) = &self.error_description {
            out.extend_from_slice(b",\"errorDescription\":");
            push_json_string(out, d);
        }
        out.push(b'}');
    }

    /// Decode one frame's payload (without the 0x00 terminator).
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let text = std::str::from_utf8(payload)
            .map_err(|e| Error::Protocol(format!("frame is not UTF-8: {e}")))?;
        let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
        if text.is_empty() {
            return Err(Error::Protocol("empty frame".into()));
        }
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(first) => repair_json(text)
                .and_then(|fixed| serde_json::from_str(&fixed).ok())
                .ok_or_else(|| Error::Protocol(format!("frame is not JSON: {first}")))?,
        };
        Self::from_value(value)
    }

    fn from_value(value: Value) -> Result<Self> {
        let Value::Object(mut obj) = value else {
            return Err(Error::Protocol("frame is not a JSON object".into()));
        };
        let method = match obj.remove("method") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(other) => return Err(Error::Protocol(format!("bad method {other}"))),
            None => return Err(Error::Protocol("frame has no method".into())),
        };
        let step = match obj.remove("step") {
            None | Some(Value::Null) => 0,
            Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map_err(|_| Error::Protocol(format!("bad step {s:?}")))?,
            Some(other) => return Err(Error::Protocol(format!("bad step {other}"))),
        };
        let mut params = match obj.remove("params") {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => Some(map),
            Some(other) => {
                return Err(Error::Protocol(format!("params is not an object: {other}")))
            }
        };
        // The spec's handshake dump puts error fields inside params: accept both.
        let mut take = |key: &str| {
            obj.remove(key)
                .or_else(|| params.as_mut().and_then(|p: &mut Map<_, _>| p.remove(key)))
        };
        let error = match take("error") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(b),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Some(true),
                "false" | "0" | "" => Some(false),
                _ => return Err(Error::Protocol(format!("bad error flag {s:?}"))),
            },
            Some(Value::Number(n)) => Some(n.as_i64() != Some(0)),
            Some(other) => return Err(Error::Protocol(format!("bad error flag {other}"))),
        };
        let mut error_description = None;
        for key in ["errorDescription", "errorDecsription", "errorDescritption"] {
            match take(key) {
                Some(Value::String(s)) => {
                    error_description.get_or_insert(s);
                }
                Some(Value::Null) | None => {}
                Some(other) => {
                    error_description.get_or_insert(other.to_string());
                }
            }
        }
        let params = params.map(|m| m.into_iter().collect());
        Ok(Self {
            method,
            step,
            params,
            error,
            error_description,
        })
    }
}

fn push_json_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(Value::String(s.to_string()).to_string().as_bytes());
}

/// Repair the two faults of the spec's own handshake dump: a bare number with a
/// leading zero (`"code": 00`) and missing closing braces. `None` when there is
/// nothing to repair.
pub fn repair_json(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 8);
    let mut stack = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut changed = false;
    let mut chars = text.chars().peekable();
    let mut prev_significant = ' ';
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => stack.push('}'),
            '[' => stack.push(']'),
            '}' | ']' if stack.pop() != Some(c) => return None,
            '0' if matches!(prev_significant, ':' | ',' | '[')
                && chars.peek().is_some_and(char::is_ascii_digit) =>
            {
                let mut digits = String::from('0');
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    digits.push(d);
                    chars.next();
                }
                out.push('"');
                out.push_str(&digits);
                out.push('"');
                changed = true;
                prev_significant = '0';
                continue;
            }
            _ => {}
        }
        out.push(c);
        if !c.is_whitespace() {
            prev_significant = c;
        }
    }
    if in_string {
        return None;
    }
    while let Some(close) = stack.pop() {
        out.push(close);
        changed = true;
    }
    changed.then_some(out)
}

/// A response code padded to 4 digits: `"10"` → `"0010"`, `"0"` → `"0000"`.
pub fn normalise_rc(code: &str) -> String {
    let c = code.trim();
    if !c.is_empty() && c.len() < 4 && c.bytes().all(|b| b.is_ascii_digit()) {
        format!("{c:0>4}")
    } else {
        c.to_string()
    }
}

/// Minor units as the protocol's amount text: `60` → `"0.60"`.
pub fn format_amount(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Parse an amount text into minor units: `"0.60"`, `"1500,00"`, `" 12.5 "`,
/// `"1 500.00"`, `"350"`. Anything else is a typed protocol error.
pub fn parse_amount(text: &str) -> Result<i64> {
    let bad = || Error::Protocol(format!("bad amount {text:?}"));
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}')
        .collect();
    if cleaned.is_empty() || cleaned.len() > 20 {
        return Err(bad());
    }
    let (units, frac) = match cleaned.find(['.', ',']) {
        Some(i) => (&cleaned[..i], &cleaned[i + 1..]),
        None => (cleaned.as_str(), ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if units.is_empty() || !digits(units) || !digits(frac) {
        return Err(bad());
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > 2 {
        return Err(bad());
    }
    let units: i64 = units.parse().map_err(|_| bad())?;
    let cents: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    units
        .checked_mul(100)
        .and_then(|u| u.checked_add(cents))
        .ok_or_else(bad)
}

/// Mask a PAN as the payment systems require: a number that arrives in full
/// keeps its first 6 and last 4 digits only. Already masked numbers pass
/// unchanged. (A helper for callers; the driver itself passes on what the
/// terminal sent.)
pub fn mask_pan(pan: &str) -> String {
    let p = pan.trim();
    let digits = p.bytes().filter(u8::is_ascii_digit).count();
    if digits >= 13 && digits == p.len() {
        let (head, tail) = (&p[..6], &p[p.len() - 4..]);
        format!("{head}{}{tail}", "*".repeat(p.len() - 10))
    } else {
        p.to_string()
    }
}

/// `DD.MM.YYYY` + `HH:MM:SS` as [`DATE_TIME_FORMAT`], empty when unreadable.
pub fn join_date_time(date: &str, time: &str) -> String {
    let joined = format!("{} {}", date.trim(), time.trim());
    chrono::NaiveDateTime::parse_from_str(&joined, "%d.%m.%Y %H:%M:%S")
        .map(|t| t.format(DATE_TIME_FORMAT).to_string())
        .unwrap_or_default()
}

/// The card-transaction fields of a financial reply or of `GetReceiptInfo`.
/// `fallback_amount` is used when the terminal sent no amount (a profile where
/// the terminal prints its own slips sends only `responseCode`).
pub fn transaction(msg: &Message, fallback_amount: i64) -> Result<CardTransaction> {
    for key in [
        "amount",
        "rrn",
        "approvalCode",
        "pan",
        "terminalId",
        "merchant",
        "invoiceNumber",
        "responseCode",
        "txnType",
        "trnStatus",
        "date",
        "time",
    ] {
        msg.param_checked(key)?;
    }
    let amount = match msg.param("amount") {
        Some(a) if !a.is_empty() => parse_amount(&a)?,
        _ => fallback_amount,
    };
    let kind = match msg.text("txnType").as_str() {
        "1" => TxnKind::Purchase,
        "2" => TxnKind::Refund,
        "3" => TxnKind::Void,
        "" => match msg.method.as_str() {
            "Refund" => TxnKind::Refund,
            "Withdrawal" | "WithdrawalPartly" => TxnKind::Void,
            _ => TxnKind::Purchase,
        },
        _ => TxnKind::Other,
    };
    let rc = msg.response_code().unwrap_or_default();
    let status = match msg.text("trnStatus").as_str() {
        "1" => TxnStatus::Approved,
        "2" => TxnStatus::Declined,
        "3" => TxnStatus::Reversed,
        "4" => TxnStatus::Cancelled,
        _ if rc == "0000" || rc == "0010" => TxnStatus::Approved,
        _ if rc == "1001" => TxnStatus::Cancelled,
        _ if rc.is_empty() => TxnStatus::Unknown,
        _ => TxnStatus::Declined,
    };
    let scheme = msg.text("paymentSystem");
    let issuer = msg.text("issuerName");
    Ok(CardTransaction {
        rrn: msg.text("rrn"),
        auth_code: msg.text("approvalCode"),
        // As the terminal sent it: the checkout normalises and masks.
        masked_pan: msg.text("pan"),
        card_scheme: if scheme.is_empty() {
            issuer.clone()
        } else {
            scheme
        },
        terminal_id: msg.text("terminalId"),
        merchant_id: msg.text("merchant"),
        invoice: msg.text("invoiceNumber"),
        amount,
        batch: String::new(),
        kind,
        status,
        response_code: rc,
        date_time: join_date_time(&msg.text("date"), &msg.text("time")),
        request_id: String::new(),
        issuer,
        signature_required: msg.text("signVerif") == "1",
        needs_confirm: false,
        requested_amount: 0,
    })
}

/// The totals of an X or Z slip (`Audit` / `Verify` send totals only as
/// slip text): the `ОПЛАТА n / a ГРН`, `ПОВЕРНЕННЯ …`, `СКАСУВАННЯ …` lines
/// as the emulator prints them after the spec's X-balance example. A slip
/// in another layout gives `None` (the totals are then unknown, not zero).
pub fn slip_totals(slip: &str) -> Option<crate::BatchTotals> {
    let num = |label: &str| -> Option<(u32, i64)> {
        let rest = slip.split(label).nth(1)?;
        let mut parts = rest.split_whitespace();
        let count = parts.next()?.parse().ok()?;
        let _slash = parts.next()?;
        let amount = parse_amount(parts.next()?).ok()?;
        Some((count, amount))
    };
    let (debit_count, debit_amount) = num("ОПЛАТА ")?;
    let (credit_count, credit_amount) = num("ПОВЕРНЕННЯ ")?;
    let (cancelled_count, cancelled_amount) = num("СКАСУВАННЯ ")?;
    Some(crate::BatchTotals {
        debit_count,
        debit_amount,
        credit_count,
        credit_amount,
        cancelled_count,
        cancelled_amount,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_round_trip() {
        assert_eq!(format_amount(60), "0.60");
        assert_eq!(format_amount(0), "0.00");
        assert_eq!(format_amount(150_000), "1500.00");
        for (text, minor) in [
            ("0.60", 60),
            ("1500,00", 150_000),
            (" 12.5 ", 1250),
            ("1 500.00", 150_000),
            ("350", 35_000),
            ("1000.0", 100_000),
            ("0.600", 60),
        ] {
            assert_eq!(parse_amount(text).unwrap(), minor, "{text}");
        }
        for bad in [
            "",
            "abc",
            "1.2.3",
            "-5",
            "0.605",
            "1,2,3",
            ".5",
            "99999999999999999999",
        ] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pans_stay_masked() {
        assert_eq!(mask_pan("4731XXXXXXXX9838"), "4731XXXXXXXX9838");
        assert_eq!(mask_pan("4731123412349838"), "473112******9838");
    }

    #[test]
    fn response_codes_are_padded() {
        assert_eq!(normalise_rc("10"), "0010");
        assert_eq!(normalise_rc(" 0005 "), "0005");
        assert_eq!(normalise_rc("1001"), "1001");
    }
}
