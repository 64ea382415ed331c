//! Transactions as CSV for a spreadsheet: UTF-8 (with a byte-order mark on
//! request, which Excel needs to read Cyrillic), one row per payment, fields
//! quoted where needed (RFC 4180, the `csv` crate), amounts as decimals with
//! two places from integer kopiykas, returns negative so a column sums to the
//! day's net takings. Written a page at a time, the cancel flag checked
//! between pages.

use std::io::Write;

use crate::journal::Journal;
use crate::money::format_minor;
use crate::queries::{SearchQuery, TransactionRow, EXPORT_PAGE};
use crate::{Error, Result};

use super::reports::{kind_uk, method_uk, signed_amount, state_uk, ReportContext};
use super::Progress;

/// The UTF-8 byte-order mark.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The header row.
pub const HEADER: [&str; 18] = [
    "Платіж",
    "Операція",
    "Час",
    "Робочий день",
    "Вид",
    "Оплата",
    "Стан",
    "Повернення",
    "Мерчант",
    "Назва мерчанта",
    "Термінал",
    "Пакет",
    "Рахунок",
    "RRN",
    "Код авторизації",
    "Картка",
    "Запитано",
    "Сума",
];

fn csv_error(e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::Io(io),
        other => Error::Internal(format!("CSV: {other:?}")),
    }
}

fn record(cx: &ReportContext, r: &TransactionRow) -> [String; 18] {
    [
        r.payment.to_string(),
        r.operation.to_string(),
        cx.local(&r.created_at, "%Y-%m-%d %H:%M:%S"),
        r.business_day.clone(),
        kind_uk(r.kind).to_string(),
        method_uk(r.method).to_string(),
        state_uk(r.state).to_string(),
        if r.returns { "так" } else { "ні" }.to_string(),
        r.merchant.to_string(),
        cx.merchant_name(r.merchant),
        r.terminal_id.clone().unwrap_or_default(),
        r.batch.clone().unwrap_or_default(),
        r.invoice.clone().unwrap_or_default(),
        r.rrn.clone().unwrap_or_default(),
        r.auth_code.clone().unwrap_or_default(),
        r.masked_pan.clone().unwrap_or_default(),
        format_minor(r.requested),
        format_minor(signed_amount(r)),
    ]
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
    w.write_record(HEADER).map_err(csv_error)?;
    let mut q = SearchQuery {
        limit: Some(EXPORT_PAGE),
        no_totals: true,
        after: None,
        ..q.clone()
    };
    loop {
        let page = journal.search_export(&q)?;
        for r in &page.rows {
            w.write_record(record(cx, r)).map_err(csv_error)?;
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
