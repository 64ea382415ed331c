//! Ingenico ECR web service / RS232 messages: the request line
//! `/ecr?rqt=<requestId>|<clientId>&cmd=<command>|<args>` and the JSON reply,
//! pure encode / decode without I/O, plus the splitter that finds whole JSON
//! objects in a serial byte stream (the RS232 variant has no terminator).

use serde_json::{Map, Value};

use crate::recovery::DATE_TIME_FORMAT;
use crate::{CardTransaction, Error, Result, TxnKind, TxnStatus};

/// Longest requestId / clientId / F-field the terminal accepts.
pub const MAX_ID: usize = 20;

/// A command of the web service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `sale|amount|F1|F2|F3|F4|F5`.
    Sale { amount: i64, fields: [String; 5] },
    /// `void|receiptNo`.
    Void { receipt: String },
    /// `settle|YES` (or `NO`).
    Settle { confirm: bool },
    /// `last trans`.
    LastTrans,
    /// `ocan`: stop a sale still waiting for the card. Not in the integration
    /// guide: the Techcombank variant of the service adds it (on a port of its
    /// own); it is not a void.
    Cancel,
}

impl Command {
    /// The `cmd=` value.
    pub fn text(&self) -> String {
        match self {
            Command::Sale { amount, fields } => format!("sale|{amount}|{}", fields.join("|")),
            Command::Void { receipt } => format!("void|{receipt}"),
            Command::Settle { confirm } => {
                format!("settle|{}", if *confirm { "YES" } else { "NO" })
            }
            Command::LastTrans => "last trans".into(),
            Command::Cancel => "ocan".into(),
        }
    }
}

fn check_field(what: &str, v: &str) -> Result<()> {
    if v.chars().count() > MAX_ID || v.contains(['|', '&', '\r', '\n', '\0']) {
        return Err(Error::InvalidRequest(format!(
            "{what} {v:?}: at most 20 plain characters"
        )));
    }
    Ok(())
}

/// The request line: `/ecr?rqt=<requestId>|<clientId>&cmd=<command>`.
pub fn request_line(request_id: &str, client_id: &str, cmd: &Command) -> Result<String> {
    check_field("requestId", request_id)?;
    check_field("clientId", client_id)?;
    match cmd {
        Command::Sale { amount, fields } => {
            if *amount <= 0 || amount.to_string().len() > 10 {
                return Err(Error::InvalidRequest(format!(
                    "amount {amount}: 1 to 10 digits"
                )));
            }
            for f in fields {
                check_field("field", f)?;
            }
        }
        Command::Void { receipt }
            if receipt.is_empty() || !receipt.bytes().all(|b| b.is_ascii_digit()) =>
        {
            return Err(Error::InvalidRequest(format!("receipt number {receipt:?}")));
        }
        _ => {}
    }
    Ok(format!(
        "/ecr?rqt={request_id}|{client_id}&cmd={}",
        cmd.text()
    ))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse a request line (emulator side): `(requestId, clientId, command)`.
/// Accepts a full URL, a leading `GET `, percent-encoding and the `rgt=` typo.
pub fn parse_request_line(line: &str) -> Result<(String, String, Command)> {
    let bad = |why: &str| Error::Protocol(format!("bad request {line:?}: {why}"));
    let decoded = percent_decode(line.trim());
    let query = decoded
        .split_once("?")
        .map(|(_, q)| q)
        .ok_or_else(|| bad("no query"))?;
    let query = query.split(" HTTP/").next().unwrap_or(query);
    let (mut rqt, mut cmd) = (None, None);
    for part in query.split('&') {
        match part.split_once('=') {
            Some(("rqt" | "rgt", v)) => rqt = Some(v.trim()),
            Some(("cmd", v)) => cmd = Some(v.trim()),
            _ => {}
        }
    }
    let (request_id, client_id) = rqt
        .ok_or_else(|| bad("no rqt"))?
        .split_once('|')
        .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
        .ok_or_else(|| bad("rqt needs requestId|clientId"))?;
    let cmd = cmd.ok_or_else(|| bad("no cmd"))?;
    let mut args = cmd.split('|');
    let name = args.next().unwrap_or_default().trim().to_ascii_lowercase();
    let command = match name.as_str() {
        "sale" => {
            let amount = args
                .next()
                .and_then(|a| a.trim().parse::<i64>().ok())
                .filter(|a| *a > 0)
                .ok_or_else(|| bad("bad amount"))?;
            let mut fields: [String; 5] = Default::default();
            for (slot, v) in fields.iter_mut().zip(args) {
                *slot = v.to_string();
            }
            Command::Sale { amount, fields }
        }
        "void" => Command::Void {
            receipt: args.next().unwrap_or_default().trim().to_string(),
        },
        "settle" => Command::Settle {
            confirm: args
                .next()
                .is_none_or(|a| a.trim().eq_ignore_ascii_case("yes")),
        },
        "last trans" | "last_trans" | "lasttrans" => Command::LastTrans,
        "ocan" => Command::Cancel,
        other => return Err(bad(&format!("unknown command {other:?}"))),
    };
    Ok((request_id, client_id, command))
}

/// The terminal's `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The terminal reached the bank (approved or declined: see `returnCode`).
    Done,
    /// Cancelled on the terminal, timed out, or the connection was lost.
    Canceled,
    /// The terminal is busy (emulator convention; HTTP 503 on the web service).
    Busy,
    Other(String),
}

/// A reply of the web service.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub request_id: String,
    pub client_id: String,
    pub command: String,
    pub status: Status,
    /// The `transInfo` object, values as trimmed text.
    pub trans_info: Option<Map<String, Value>>,
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Reply {
    /// Parse a reply body. Missing fields and wrong types give typed errors.
    pub fn decode(body: &[u8]) -> Result<Self> {
        let text = std::str::from_utf8(body)
            .map_err(|e| Error::Protocol(format!("reply is not UTF-8: {e}")))?;
        let value: Value = match serde_json::from_str(text.trim()) {
            Ok(v) => v,
            // Raw line breaks or tabs inside strings (seen in the guide's samples).
            Err(e) => serde_json::from_str(&text.trim().replace(['\n', '\r', '\t'], " "))
                .map_err(|_| Error::Protocol(format!("reply is not JSON: {e}")))?,
        };
        let Value::Object(mut obj) = value else {
            return Err(Error::Protocol("reply is not a JSON object".into()));
        };
        let mut field = |k: &str| obj.remove(k).as_ref().and_then(text_of).unwrap_or_default();
        let request_id = field("requestId");
        let client_id = field("clientId");
        let command = field("command");
        let status = match field("status").to_ascii_uppercase().as_str() {
            "DONE" => Status::Done,
            "CANCELED" | "CANCELLED" => Status::Canceled,
            "BUSY" => Status::Busy,
            "" => return Err(Error::Protocol("reply has no status".into())),
            other => Status::Other(other.to_string()),
        };
        let trans_info = match obj.remove("transInfo") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m),
            Some(other) => {
                return Err(Error::Protocol(format!(
                    "transInfo is not an object: {other}"
                )))
            }
        };
        Ok(Self {
            request_id,
            client_id,
            command,
            status,
            trans_info,
        })
    }

    /// A `transInfo` field as trimmed text, empty when absent.
    pub fn info(&self, key: &str) -> String {
        self.trans_info
            .as_ref()
            .and_then(|m| m.get(key))
            .and_then(text_of)
            .unwrap_or_default()
    }

    /// The success rule: `DONE` + `returnCode` `00` + `transStatus` `APPROVE`.
    pub fn approved(&self) -> bool {
        self.status == Status::Done
            && self.info("returnCode") == "00"
            && self.info("transStatus").eq_ignore_ascii_case("APPROVE")
    }

    /// The card-transaction view of `transInfo`.
    pub fn transaction(&self) -> Result<CardTransaction> {
        if self.trans_info.is_none() {
            return Err(Error::Protocol("reply has no transInfo".into()));
        }
        let amount_text = self.info("amount");
        let amount = if amount_text.is_empty() {
            0
        } else {
            amount_text
                .parse::<i64>()
                .map_err(|_| Error::Protocol(format!("bad amount {amount_text:?}")))?
        };
        let kind = match self.info("transType").as_str() {
            "1" => TxnKind::Purchase,
            "2" => TxnKind::Void,
            "4" => TxnKind::Refund,
            _ => TxnKind::Other,
        };
        let status = match self.info("transStatus").to_ascii_uppercase().as_str() {
            "APPROVE" | "APPROVED" if self.info("returnCode") == "00" => TxnStatus::Approved,
            "" => TxnStatus::Unknown,
            _ => TxnStatus::Declined,
        };
        let time = self.info("time");
        let date_time = chrono::NaiveDateTime::parse_from_str(&time, "%Y%m%d%H%M%S")
            .map(|t| t.format(DATE_TIME_FORMAT).to_string())
            .unwrap_or_default();
        let inner_id = self.info("requestId");
        Ok(CardTransaction {
            rrn: self.info("refNo"),
            auth_code: self.info("approvalCode"),
            // As the terminal sent it ("9704 XXXX XXXX 6163"): the checkout
            // normalises and masks.
            masked_pan: self.info("cardNo"),
            card_scheme: self.info("cardType"),
            terminal_id: self.info("tid"),
            merchant_id: self.info("mid"),
            invoice: self.info("receiptNo"),
            amount,
            batch: self.info("batchNo"),
            kind,
            status,
            response_code: self.info("returnCode"),
            date_time,
            request_id: if inner_id.is_empty() {
                self.request_id.clone()
            } else {
                inner_id
            },
            // The guide names no issuer apart from the card type, and no
            // signature flag.
            issuer: String::new(),
            signature_required: false,
            needs_confirm: false,
            requested_amount: 0,
        })
    }
}

/// Finds whole JSON objects in a byte stream (braces outside strings), skipping
/// anything before a `{`.
#[derive(Debug, Default)]
pub struct JsonSplitter {
    buf: Vec<u8>,
}

impl JsonSplitter {
    /// Add bytes; return every object completed by them.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            let Some(start) = self.buf.iter().position(|&b| b == b'{') else {
                self.buf.clear();
                return out;
            };
            self.buf.drain(..start);
            let (mut depth, mut in_str, mut esc) = (0usize, false, false);
            let mut end = None;
            for (i, &b) in self.buf.iter().enumerate() {
                if in_str {
                    match (esc, b) {
                        (true, _) => esc = false,
                        (false, b'\\') => esc = true,
                        (false, b'"') => in_str = false,
                        _ => {}
                    }
                    continue;
                }
                match b {
                    b'"' => in_str = true,
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            match end {
                Some(e) => out.push(self.buf.drain(..e).collect()),
                None => return out,
            }
        }
    }
}
