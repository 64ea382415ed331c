//! Transactions as CSV for a spreadsheet: UTF-8 (with a byte-order mark on
//! request, which Excel needs to read Cyrillic), one row per payment, fields
//! quoted where needed (RFC 4180, the `csv` crate), amounts as decimals with
//! two places from integer kopiykas, returns negative so a column sums to the
//! day's net takings. The header, the kind, method and state names and the
//! yes/no of the return column are in the request's language
//! ([`super::words`]); the amounts are written the same in every language
//! (`1250.00`: a point, no grouping, what a spreadsheet reads back as a
//! number). Written a page at a time, the cancel flag checked between pages.

use std::io::Write;

use crate::journal::Journal;
use crate::money::format_minor;
use crate::queries::{SearchQuery, TransactionRow, EXPORT_PAGE};
use crate::{Error, Result};

use super::reports::{signed_amount, ReportContext};
use super::words::{ReportLang, Word};
use super::Progress;

/// The UTF-8 byte-order mark.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The header row in `lang`.
pub fn header(lang: ReportLang) -> [&'static str; 18] {
    [
        Word::CsvPayment,
        Word::CsvOperation,
        Word::CsvTime,
        Word::CsvBusinessDay,
        Word::CsvKind,
        Word::CsvMethod,
        Word::CsvState,
        Word::CsvReturn,
        Word::CsvMerchant,
        Word::CsvMerchantName,
        Word::CsvTerminal,
        Word::CsvBatch,
        Word::CsvInvoice,
        Word::CsvRrn,
        Word::CsvAuthCode,
        Word::CsvCard,
        Word::CsvRequested,
        Word::CsvAmount,
    ]
    .map(|w| lang.word(w))
}

fn csv_error(e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::Io(io),
        other => Error::Internal(format!("CSV: {other:?}")),
    }
}

/// Rows are written through one reused record and scratch buffer: a
/// CSV of 100 000 rows must take under a second.
struct Rows {
    record: csv::ByteRecord,
    scratch: String,
    /// Each merchant index's name, looked up once.
    names: Vec<String>,
    time: Vec<chrono::format::Item<'static>>,
    tz: chrono_tz::Tz,
    lang: ReportLang,
}

impl Rows {
    fn new(cx: &ReportContext) -> Self {
        Rows {
            record: csv::ByteRecord::new(),
            scratch: String::new(),
            names: (0..=u8::MAX).map(|m| cx.merchant_name(m)).collect(),
            time: chrono::format::StrftimeItems::new("%Y-%m-%d %H:%M:%S").collect(),
            tz: cx.time_zone,
            lang: cx.lang,
        }
    }

    fn number(&mut self, n: impl std::fmt::Display) {
        use std::fmt::Write as _;
        self.scratch.clear();
        let _ = write!(self.scratch, "{n}");
        self.record.push_field(self.scratch.as_bytes());
    }

    fn text(&mut self, t: &str) {
        self.record.push_field(t.as_bytes());
    }

    fn fill(&mut self, r: &TransactionRow) -> &csv::ByteRecord {
        use std::fmt::Write as _;
        self.record.clear();
        self.number(r.payment);
        self.number(r.operation);
        self.scratch.clear();
        match chrono::DateTime::parse_from_rfc3339(&r.created_at) {
            Ok(t) => {
                let local = t.with_timezone(&self.tz);
                let _ = write!(
                    self.scratch,
                    "{}",
                    local.format_with_items(self.time.iter())
                );
            }
            Err(_) => self.scratch.push_str(&r.created_at),
        }
        self.record.push_field(self.scratch.as_bytes());
        self.text(&r.business_day);
        self.text(self.lang.kind(r.kind));
        self.text(self.lang.method(r.method));
        self.text(self.lang.payment_state(r.state));
        self.text(self.lang.yes_no(r.returns));
        self.number(r.merchant);
        self.record
            .push_field(self.names[usize::from(r.merchant)].as_bytes());
        for field in [
            &r.terminal_id,
            &r.batch,
            &r.invoice,
            &r.rrn,
            &r.auth_code,
            &r.masked_pan,
        ] {
            self.text(field.as_deref().unwrap_or(""));
        }
        self.text(&format_minor(r.requested));
        self.text(&format_minor(signed_amount(r)));
        &self.record
    }
}

/// Write every transaction `q` finds (newest first, as the search screen
/// lists them) to `out`; false when cancelled part way.
pub fn transactions_csv(
    journal: &Journal,
    cx: &ReportContext,
    q: &SearchQuery,
    bom: bool,
    out: &mut dyn Write,
    progress: &Progress,
) -> Result<bool> {
    if bom {
        out.write_all(BOM)?;
    }
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    w.write_record(header(cx.lang)).map_err(csv_error)?;
    let mut q = SearchQuery {
        limit: Some(EXPORT_PAGE),
        no_totals: true,
        after: None,
        ..q.clone()
    };
    let mut rows = Rows::new(cx);
    loop {
        let page = journal.search_export(&q)?;
        for r in &page.rows {
            w.write_byte_record(rows.fill(r)).map_err(csv_error)?;
        }
        if !progress.step(page.rows.len() as u64) {
            return Ok(false);
        }
        match page.next {
            Some(next) => q.after = Some(next),
            None => break,
        }
    }
    w.flush()?;
    Ok(true)
}
