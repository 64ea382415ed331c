//! The three PDF reports a manager hands the accountant, in the language
//! the manager asks for (Ukrainian, Russian or English, [`ReportLang`]; the
//! words are in [`super::words`]): the daily report (takings per merchant and payment type, the terminal's
//! batches, the operations, every transaction of the day), the batch report
//! (one merchant's terminal batch: each transaction with its RRN, auth code,
//! masked card, amount, time and state) and the reconciliation report (the
//! day close's three-way comparison, its differences and what could not be
//! checked). Amounts come from the journal as integer kopiykas and are
//! printed with two decimals as the language writes them (`1 250,00` in
//! Ukrainian and Russian, `1,250.00` in English: [`ReportLang::amount`]).
//! Data (the shop's and merchants' names, RRNs, batch numbers) is printed
//! as it is.

use chrono::DateTime;
use chrono_tz::Tz;

use crate::api::{PaymentMethod, PaymentState};
use crate::queries::{DayReport, SearchQuery, TransactionRow};
use crate::reconcile::{Amounts, Difference};
use crate::settings::MerchantSettings;
use crate::Result;

use super::pdf::{Column, PageHeader, Pages, ReportFont, BODY, MARGIN};
use super::words::{ReportLang, Word};
use super::Progress;

/// What every report needs besides its data: the shop on the header, the
/// merchants' names, the time zone, when it is made, in which language.
#[derive(Debug, Clone)]
pub struct ReportContext {
    pub shop: String,
    pub tax_id: String,
    pub till: String,
    pub merchants: Vec<MerchantSettings>,
    pub time_zone: Tz,
    /// When the report is made (the clock passed in).
    pub generated: DateTime<chrono::Utc>,
    /// The language of the fixed texts (the request's `lang`).
    pub lang: ReportLang,
}

impl ReportContext {
    fn header(&self, business_day: &str, title: &str) -> PageHeader {
        PageHeader {
            shop: self.shop.clone(),
            tax_id: self.tax_id.clone(),
            till: self.till.clone(),
            business_day: business_day.to_string(),
            generated: self
                .generated
                .with_timezone(&self.time_zone)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            title: title.to_string(),
            lang: self.lang,
        }
    }

    fn word(&self, word: Word) -> &'static str {
        self.lang.word(word)
    }

    fn say(&self, word: Word, args: &[(&str, &dyn std::fmt::Display)]) -> String {
        self.lang.say(word, args)
    }

    /// An amount as the report's language writes it.
    pub fn amount(&self, minor: i64) -> String {
        self.lang.amount(minor)
    }

    /// A merchant's name as configured, or its index.
    pub fn merchant_name(&self, index: u8) -> String {
        self.merchants
            .iter()
            .find(|m| m.index == index && !m.name.trim().is_empty())
            .map(|m| m.name.clone())
            .unwrap_or_else(|| self.say(Word::MerchantNo, &[("index", &index)]))
    }

    /// The shop-local time of a journal timestamp.
    pub fn local(&self, at: &str, format: &str) -> String {
        DateTime::parse_from_rfc3339(at)
            .map(|t| t.with_timezone(&self.time_zone).format(format).to_string())
            .unwrap_or_else(|_| at.to_string())
    }
}

/// The signed amount a transaction moved: approved money in, approved
/// money back negative, nothing for the rest.
pub fn signed_amount(r: &TransactionRow) -> i64 {
    match (r.state, r.returns) {
        (PaymentState::Approved, false) => r.approved,
        (PaymentState::Approved, true) => -r.approved,
        _ => 0,
    }
}

/// Every transaction `q` finds, oldest first, reading page by page;
/// `None` when cancelled.
pub fn all_rows(
    journal: &crate::journal::Journal,
    q: &SearchQuery,
    progress: &Progress,
) -> Result<Option<Vec<TransactionRow>>> {
    let mut q = SearchQuery {
        limit: Some(crate::queries::EXPORT_PAGE),
        no_totals: true,
        after: None,
        ..q.clone()
    };
    let mut rows = Vec::new();
    loop {
        let page = journal.search_export(&q)?;
        let n = page.rows.len() as u64;
        rows.extend(page.rows);
        if !progress.step(n) {
            return Ok(None);
        }
        match page.next {
            Some(next) => q.after = Some(next),
            None => break,
        }
    }
    rows.reverse();
    Ok(Some(rows))
}

/// The columns of a list of transactions.
fn txn_columns(lang: ReportLang) -> [Column; 9] {
    let w = |word: Word| lang.word(word);
    [
        Column::left(w(Word::ColTime), MARGIN, 14.0),
        Column::left(w(Word::ColKind), MARGIN + 14.0, 20.0),
        Column::left(w(Word::ColMethod), MARGIN + 34.0, 13.0),
        Column::left(w(Word::ColState), MARGIN + 47.0, 16.0),
        Column::left(w(Word::ColMerchant), MARGIN + 63.0, 24.0),
        Column::left(w(Word::ColRrn), MARGIN + 87.0, 23.0),
        Column::left(w(Word::ColAuthCode), MARGIN + 110.0, 12.0),
        Column::left(w(Word::ColCard), MARGIN + 122.0, 30.0),
        Column::right(w(Word::ColAmountUah), MARGIN + 152.0, 30.0),
    ]
}

fn txn_cells(cx: &ReportContext, r: &TransactionRow) -> Vec<String> {
    let amount = if r.state == PaymentState::Approved {
        r.approved
    } else {
        r.requested
    };
    vec![
        cx.local(&r.created_at, "%H:%M:%S"),
        cx.lang.kind(r.kind).to_string(),
        cx.lang.method(r.method).to_string(),
        cx.lang.payment_state(r.state).to_string(),
        cx.merchant_name(r.merchant),
        r.rrn.clone().unwrap_or_default(),
        r.auth_code.clone().unwrap_or_default(),
        r.masked_pan.clone().unwrap_or_default(),
        cx.amount(if r.returns { -amount } else { amount }),
    ]
}

/// Sales and returns of approved transactions.
fn sums(rows: &[TransactionRow]) -> Amounts {
    let mut a = Amounts::default();
    for r in rows.iter().filter(|r| r.state == PaymentState::Approved) {
        if r.returns {
            a.returns_count += 1;
            a.returns += r.approved;
        } else {
            a.sales_count += 1;
            a.sales += r.approved;
        }
    }
    a
}

/// The columns of the daily report's totals by payment method.
fn day_totals_columns(lang: ReportLang) -> [Column; 7] {
    let w = |word: Word| lang.word(word);
    [
        Column::left(w(Word::ColMerchant), MARGIN, 46.0),
        Column::left(w(Word::ColMethod), MARGIN + 46.0, 18.0),
        Column::right(w(Word::ColSalesCount), MARGIN + 64.0, 16.0),
        Column::right(w(Word::ColSalesAmount), MARGIN + 80.0, 28.0),
        Column::right(w(Word::ColReturnsCount), MARGIN + 108.0, 18.0),
        Column::right(w(Word::ColReturnsAmount), MARGIN + 126.0, 28.0),
        Column::right(w(Word::ColTakings), MARGIN + 154.0, 28.0),
    ]
}

/// The columns of the daily report's terminal batches.
fn day_batch_columns(lang: ReportLang) -> [Column; 5] {
    let w = |word: Word| lang.word(word);
    [
        Column::left(w(Word::ColMerchant), MARGIN, 60.0),
        Column::left(w(Word::ColBatch), MARGIN + 60.0, 30.0),
        Column::right(w(Word::ColOperations), MARGIN + 90.0, 20.0),
        Column::right(w(Word::ColSales), MARGIN + 110.0, 36.0),
        Column::right(w(Word::ColReturns), MARGIN + 146.0, 36.0),
    ]
}

/// The columns of the daily report's operations.
fn day_operation_columns(lang: ReportLang) -> [Column; 3] {
    let w = |word: Word| lang.word(word);
    [
        Column::left(w(Word::ColKind), MARGIN, 60.0),
        Column::left(w(Word::ColState), MARGIN + 60.0, 60.0),
        Column::right(w(Word::ColCount), MARGIN + 120.0, 62.0),
    ]
}

/// The daily report of `day` with every one of its transactions (`rows`).
pub fn day_pdf(
    font: &ReportFont,
    cx: &ReportContext,
    day: &DayReport,
    rows: &[TransactionRow],
    progress: &Progress,
) -> Option<Vec<u8>> {
    day_pages(font, cx, day, rows, progress).map(|(p, h)| p.finish(&h))
}

fn day_pages<'f>(
    font: &'f ReportFont,
    cx: &ReportContext,
    day: &DayReport,
    rows: &[TransactionRow],
    progress: &Progress,
) -> Option<(Pages<'f>, PageHeader)> {
    let title = cx.word(Word::DayTitle);
    let mut p = Pages::new(font, &format!("{title} {}", day.business_day));
    p.heading(cx.word(Word::DayTotalsByMethod));
    p.table(&day_totals_columns(cx.lang));
    let (mut sales, mut returns, mut card, mut cash) = (0i64, 0i64, 0i64, 0i64);
    let (mut sales_count, mut returns_count) = (0u32, 0u32);
    for t in &day.totals {
        p.row(&[
            cx.merchant_name(t.merchant),
            cx.lang.method(t.method).to_string(),
            t.sales_count.to_string(),
            cx.amount(t.sales),
            t.returns_count.to_string(),
            cx.amount(t.returns),
            cx.amount(t.sales - t.returns),
        ]);
        sales += t.sales;
        returns += t.returns;
        sales_count += t.sales_count;
        returns_count += t.returns_count;
        match t.method {
            PaymentMethod::Card => card += t.sales - t.returns,
            PaymentMethod::Cash => cash += t.sales - t.returns,
        }
    }
    p.end_table();
    p.gap(0.5);
    p.pair(
        &cx.say(Word::DayTotalSales, &[("count", &sales_count)]),
        &cx.amount(sales),
    );
    p.pair(
        &cx.say(Word::DayTotalReturns, &[("count", &returns_count)]),
        &cx.amount(returns),
    );
    p.pair(cx.word(Word::DayByCard), &cx.amount(card));
    p.pair(cx.word(Word::DayInCash), &cx.amount(cash));
    p.pair(cx.word(Word::DayTakings), &cx.amount(sales - returns));

    if !day.batches.is_empty() {
        p.heading(cx.word(Word::DayBatches));
        p.table(&day_batch_columns(cx.lang));
        for b in &day.batches {
            p.row(&[
                cx.merchant_name(b.merchant),
                if b.batch.is_empty() {
                    cx.word(Word::NoNumber).to_string()
                } else {
                    b.batch.clone()
                },
                b.count.to_string(),
                cx.amount(b.sales),
                cx.amount(b.returns),
            ]);
        }
        p.end_table();
    }

    if !day.operations.is_empty() {
        p.heading(cx.word(Word::DayOperations));
        p.table(&day_operation_columns(cx.lang));
        for k in &day.operations {
            p.row(&[
                cx.lang.kind(k.kind).to_string(),
                cx.lang.operation_state(k.state).to_string(),
                k.count.to_string(),
            ]);
        }
        p.end_table();
    }

    p.heading(&cx.say(Word::Transactions, &[("count", &rows.len())]));
    p.table(&txn_columns(cx.lang));
    for (i, r) in rows.iter().enumerate() {
        p.row(&txn_cells(cx, r));
        if i % 200 == 199 && !progress.step(200) {
            return None;
        }
    }
    p.end_table();
    let header = cx.header(&day.business_day, title);
    Some((p, header))
}

/// The columns of a batch's transactions.
fn batch_columns(lang: ReportLang) -> [Column; 8] {
    let w = |word: Word| lang.word(word);
    [
        Column::left(w(Word::ColTime), MARGIN, 16.0),
        Column::left(w(Word::ColKind), MARGIN + 16.0, 24.0),
        Column::left(w(Word::ColRrn), MARGIN + 40.0, 25.0),
        Column::left(w(Word::ColAuthCode), MARGIN + 65.0, 15.0),
        Column::left(w(Word::ColCard), MARGIN + 80.0, 34.0),
        Column::left(w(Word::ColInvoice), MARGIN + 114.0, 16.0),
        Column::left(w(Word::ColState), MARGIN + 130.0, 20.0),
        Column::right(w(Word::ColAmountUah), MARGIN + 150.0, 32.0),
    ]
}

/// The report of one merchant's terminal batch on `business_day`.
pub fn batch_pdf(
    font: &ReportFont,
    cx: &ReportContext,
    business_day: &str,
    merchant: u8,
    batch: &str,
    rows: &[TransactionRow],
) -> Vec<u8> {
    let (p, h) = batch_pages(font, cx, business_day, merchant, batch, rows);
    p.finish(&h)
}

fn batch_pages<'f>(
    font: &'f ReportFont,
    cx: &ReportContext,
    business_day: &str,
    merchant: u8,
    batch: &str,
    rows: &[TransactionRow],
) -> (Pages<'f>, PageHeader) {
    let title = if batch.is_empty() {
        cx.word(Word::BatchTitleNoNumber).to_string()
    } else {
        cx.say(Word::BatchTitle, &[("batch", &batch)])
    };
    let mut p = Pages::new(font, &format!("{title} {business_day}"));
    p.line(
        MARGIN,
        BODY,
        &cx.say(
            Word::BatchMerchant,
            &[("name", &cx.merchant_name(merchant)), ("index", &merchant)],
        ),
    );
    let mut terminals: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.terminal_id.as_deref())
        .collect();
    terminals.sort_unstable();
    terminals.dedup();
    let configured = cx
        .merchants
        .iter()
        .find(|m| m.index == merchant)
        .map(|m| m.terminal_id.as_str())
        .filter(|t| !t.is_empty());
    let terminal = if terminals.is_empty() {
        configured.unwrap_or("—").to_string()
    } else {
        terminals.join(", ")
    };
    p.line(
        MARGIN,
        BODY,
        &cx.say(Word::BatchTerminal, &[("terminal", &terminal)]),
    );
    if batch.is_empty() {
        p.line(MARGIN, BODY, cx.word(Word::BatchNumberUnknown));
    } else {
        p.line(
            MARGIN,
            BODY,
            &cx.say(Word::BatchNumber, &[("batch", &batch)]),
        );
    }
    p.heading(&cx.say(Word::Transactions, &[("count", &rows.len())]));
    p.table(&batch_columns(cx.lang));
    for r in rows {
        let c = txn_cells(cx, r);
        p.row(&[
            c[0].clone(),
            c[1].clone(),
            c[5].clone(),
            c[6].clone(),
            c[7].clone(),
            r.invoice.clone().unwrap_or_default(),
            c[3].clone(),
            c[8].clone(),
        ]);
    }
    p.end_table();
    let a = sums(rows);
    p.gap(0.5);
    p.pair(
        &cx.say(Word::BatchSales, &[("count", &a.sales_count)]),
        &cx.amount(a.sales),
    );
    p.pair(
        &cx.say(Word::BatchReturns, &[("count", &a.returns_count)]),
        &cx.amount(a.returns),
    );
    p.pair(cx.word(Word::BatchTotal), &cx.amount(a.sales - a.returns));
    let header = cx.header(business_day, &title);
    (p, header)
}

fn amounts_cells(cx: &ReportContext, a: Option<&Amounts>) -> [String; 2] {
    match a {
        Some(a) => [cx.amount(a.sales), cx.amount(a.returns)],
        None => ["—".into(), "—".into()],
    }
}

/// The columns of a list of reconciliation differences.
fn difference_columns(lang: ReportLang) -> [Column; 7] {
    let w = |word: Word| lang.word(word);
    [
        Column::left(w(Word::ColWhat), MARGIN, 44.0),
        Column::left(w(Word::ColMerchant), MARGIN + 44.0, 26.0),
        Column::left(w(Word::ColOperation), MARGIN + 70.0, 16.0),
        Column::left(w(Word::ColReceipt), MARGIN + 86.0, 12.0),
        Column::left(w(Word::ColRrn), MARGIN + 98.0, 24.0),
        Column::right(w(Word::ColExpected), MARGIN + 122.0, 30.0),
        Column::right(w(Word::ColFound), MARGIN + 152.0, 30.0),
    ]
}

fn differences_table(p: &mut Pages<'_>, cx: &ReportContext, list: &[Difference]) {
    p.table(&difference_columns(cx.lang));
    for d in list {
        p.row(&[
            cx.lang.difference(d.kind).to_string(),
            d.merchant.map(|m| cx.merchant_name(m)).unwrap_or_default(),
            d.operation.map(|o| o.to_string()).unwrap_or_default(),
            d.receipt.map(|r| r.to_string()).unwrap_or_default(),
            d.rrn.clone().unwrap_or_default(),
            d.expected.map(|a| cx.amount(a)).unwrap_or_default(),
            d.found.map(|a| cx.amount(a)).unwrap_or_default(),
        ]);
    }
    p.end_table();
}

/// The columns of a shift's three-way comparison.
fn reconciliation_columns(lang: ReportLang) -> [Column; 8] {
    let w = |word: Word| lang.word(word);
    [
        Column::left(w(Word::ColMerchant), MARGIN, 34.0),
        Column::left(w(Word::ColMethod), MARGIN + 34.0, 16.0),
        Column::right(w(Word::ColJournalSales), MARGIN + 50.0, 22.0),
        Column::right(w(Word::ColReturnsShort), MARGIN + 72.0, 18.0),
        Column::right(w(Word::ColTerminalSales), MARGIN + 90.0, 24.0),
        Column::right(w(Word::ColReturnsShort), MARGIN + 114.0, 18.0),
        Column::right(w(Word::ColFiscalSales), MARGIN + 132.0, 30.0),
        Column::right(w(Word::ColReturnsShort), MARGIN + 162.0, 20.0),
    ]
}

/// The reconciliation report of the closed shifts of `day`.
pub fn reconciliation_pdf(font: &ReportFont, cx: &ReportContext, day: &DayReport) -> Vec<u8> {
    let (p, h) = reconciliation_pages(font, cx, day);
    p.finish(&h)
}

fn reconciliation_pages<'f>(
    font: &'f ReportFont,
    cx: &ReportContext,
    day: &DayReport,
) -> (Pages<'f>, PageHeader) {
    let title = cx.word(Word::ReconTitle);
    let mut p = Pages::new(
        font,
        &cx.say(Word::ReconDocTitle, &[("day", &day.business_day)]),
    );
    for s in day.shifts.iter() {
        let Some(r) = &s.reconciliation else { continue };
        p.heading(&format!(
            "{}{}",
            cx.say(Word::ReconShift, &[("id", &s.id)]),
            s.z_number
                .map(|z| cx.say(Word::ReconZ, &[("z", &z)]))
                .unwrap_or_default()
        ));
        p.table(&reconciliation_columns(cx.lang));
        for row in &r.rows {
            let [ts, tr] = amounts_cells(cx, row.terminal.as_ref());
            let [fs, fr] = amounts_cells(cx, row.fiscal.as_ref());
            p.row(&[
                row.merchant
                    .map(|m| cx.merchant_name(m))
                    .unwrap_or_else(|| cx.word(Word::ReconRegister).into()),
                cx.lang.method(row.method).to_string(),
                cx.amount(row.journal.sales),
                cx.amount(row.journal.returns),
                ts,
                tr,
                fs,
                fr,
            ]);
        }
        p.end_table();
        let (sales, returns) = r
            .rows
            .iter()
            .filter(|row| row.merchant.is_some())
            .fold((0, 0), |(s, t), row| {
                (s + row.journal.sales, t + row.journal.returns)
            });
        p.gap(0.5);
        p.pair(cx.word(Word::ReconJournalSales), &cx.amount(sales));
        p.pair(cx.word(Word::ReconJournalReturns), &cx.amount(returns));
        if r.differences.is_empty() {
            p.line(MARGIN, BODY, cx.word(Word::ReconNoDifferences));
        } else {
            p.heading(&cx.say(Word::ReconDifferences, &[("count", &r.differences.len())]));
            differences_table(&mut p, cx, &r.differences);
        }
        if !r.unchecked.is_empty() {
            p.heading(&cx.say(Word::ReconUnchecked, &[("count", &r.unchecked.len())]));
            differences_table(&mut p, cx, &r.unchecked);
        }
    }
    let header = cx.header(&day.business_day, title);
    (p, header)
}

#[cfg(test)]
mod tests {
    //! Each report and the CSV rendered in each language from a small
    //! generated journal (two days of a shop with two merchants, closed and
    //! reconciled): the texts handed to the PDF writer are read back.

    use super::*;
    use crate::export::words::has_cyrillic;
    use crate::export::{csv, ExportKind, ExportRequest, Plan};
    use crate::generate::{generate, GenOptions};
    use crate::journal::Journal;
    use crate::reconcile::DifferenceKind;

    const SHOP: &str = "Крамниця «Калина»";
    /// Merchant 1's name (merchant 2 has none: it is named by its index).
    const MERCHANT: &str = "ТОВ Берізка";

    struct Fixture {
        _dir: tempfile::TempDir,
        journal: Journal,
        day: String,
        font: ReportFont,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sqlite");
        let summary = generate(
            &path,
            &GenOptions {
                operations: 160,
                days: 2,
                merchants: 2,
                audit_rows: 20,
                seed: 3,
                ..GenOptions::default()
            },
        )
        .unwrap();
        Fixture {
            journal: Journal::open(&path).unwrap(),
            day: summary.first_day,
            font: ReportFont::load("").expect("a system font with Cyrillic (fonts-dejavu-core)"),
            _dir: dir,
        }
    }

    fn context(lang: ReportLang) -> ReportContext {
        ReportContext {
            shop: SHOP.into(),
            tax_id: "3141592653".into(),
            till: "7".into(),
            merchants: vec![MerchantSettings {
                index: 1,
                name: MERCHANT.into(),
                terminal_id: "KASA0001".into(),
                ..MerchantSettings::default()
            }],
            time_zone: crate::clock::DEFAULT_TIME_ZONE,
            generated: DateTime::parse_from_rfc3339("2026-11-25T12:30:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
            lang,
        }
    }

    /// `label` is printed with `value` beside it (a [`Pages::pair`]).
    fn assert_pair(texts: &[String], label: &str, value: &str) {
        assert!(
            texts.windows(2).any(|w| w[0] == label && w[1] == value),
            "no {label:?} {value:?} in {texts:#?}"
        );
    }

    /// Every text is in `lang` apart from the data (the shop's and
    /// merchants' names): no Cyrillic in English, no Ukrainian letter in
    /// Russian, no Russian letter in Ukrainian.
    fn assert_in_language(texts: &[String], lang: ReportLang, what: &str) {
        for t in texts {
            let words = t.replace(SHOP, "").replace(MERCHANT, "");
            let foreign = match lang {
                ReportLang::En => has_cyrillic(&words),
                ReportLang::Ru => words.contains(['і', 'ї', 'є', 'ґ', 'І', 'Ї', 'Є', 'Ґ']),
                ReportLang::Uk => words.contains(['ы', 'э', 'ъ', 'ё', 'Ы', 'Э', 'Ъ', 'Ё']),
            };
            assert!(!foreign, "{what} in {lang:?}: {t:?}");
        }
    }

    /// The header every page carries, in `lang`.
    fn assert_header(texts: &[Vec<String>], lang: ReportLang, what: &str) {
        let pages = texts.len();
        for (i, page) in texts.iter().enumerate() {
            let want = match lang {
                ReportLang::Uk => [
                    format!("Сторінка {} з {pages}", i + 1),
                    "Податковий номер: 3141592653    Каса № 7".to_string(),
                ],
                ReportLang::Ru => [
                    format!("Страница {} из {pages}", i + 1),
                    "Налоговый номер: 3141592653    Касса № 7".to_string(),
                ],
                ReportLang::En => [
                    format!("Page {} of {pages}", i + 1),
                    "Tax ID: 3141592653    Till No. 7".to_string(),
                ],
            };
            for w in want {
                assert!(page.contains(&w), "{what}, page {}: no {w:?}", i + 1);
            }
            assert_eq!(page[0], SHOP);
        }
    }

    #[test]
    fn the_daily_report_in_each_language() {
        let f = fixture();
        for lang in ReportLang::ALL {
            let cx = context(lang);
            let day = f.journal.day_report(&f.day, cx.time_zone).unwrap();
            let search = SearchQuery {
                business_day: Some(f.day.clone()),
                ..SearchQuery::default()
            };
            let rows = all_rows(&f.journal, &search, &Progress::detached())
                .unwrap()
                .unwrap();
            assert!(rows.len() > 20, "{}", rows.len());
            let (p, h) = day_pages(&f.font, &cx, &day, &rows, &Progress::detached()).unwrap();
            let pages = p.texts(&h);
            assert_header(&pages, lang, "daily report");
            let texts: Vec<String> = pages.into_iter().flatten().collect();
            assert_in_language(&texts, lang, "daily report");

            let net: i64 = day.totals.iter().map(|t| t.sales - t.returns).sum();
            assert!(net >= 100_000, "a day's takings in the thousands: {net}");
            let (title, takings, amount) = match lang {
                ReportLang::Uk => ("Денний звіт", "Виручка за день", "Транзакції"),
                ReportLang::Ru => ("Дневной отчет", "Выручка за день", "Транзакции"),
                ReportLang::En => ("Daily report", "Net takings for the day", "Transactions"),
            };
            assert!(texts.iter().any(|t| t == title), "{lang:?}: no {title:?}");
            assert!(texts.contains(&format!("{amount} ({})", rows.len())));
            let written = lang.amount(net);
            assert_pair(&texts, takings, &written);
            match lang {
                ReportLang::En => {
                    assert!(written.contains(',') && written.contains('.'), "{written}");
                    assert!(texts.iter().any(|t| t == "Merchant 2"), "{texts:?}");
                    assert!(texts.iter().any(|t| t == "Amount, UAH"));
                }
                _ => {
                    assert!(written.contains(' ') && written.contains(','), "{written}");
                    assert!(texts.iter().any(|t| t == "Мерчант 2"), "{texts:?}");
                }
            }
            assert!(
                texts.iter().any(|t| t == MERCHANT),
                "merchant 1 by its name"
            );

            // The real PDF too.
            let pdf = day_pdf(&f.font, &cx, &day, &rows, &Progress::detached()).unwrap();
            assert!(pdf.starts_with(b"%PDF-"));
        }
    }

    #[test]
    fn a_batch_report_in_each_language() {
        let f = fixture();
        let day = f
            .journal
            .day_report(&f.day, crate::clock::DEFAULT_TIME_ZONE)
            .unwrap();
        let b = day
            .batches
            .iter()
            .find(|b| b.merchant == 1 && !b.batch.is_empty())
            .expect("merchant 1's batch")
            .clone();
        let req = ExportRequest {
            key: "k".into(),
            kind: ExportKind::BatchPdf,
            business_day: Some(f.day.clone()),
            merchant: Some(1),
            batch: Some(b.batch.clone()),
            search: None,
            bom: false,
            lang: None,
        };
        let plan = Plan::check(&f.journal, &req).unwrap();
        let mut rows = all_rows(&f.journal, &plan.search, &Progress::detached())
            .unwrap()
            .unwrap();
        rows.retain(|r| r.batch.as_deref() == Some(b.batch.as_str()));
        for lang in ReportLang::ALL {
            let cx = context(lang);
            let (p, h) = batch_pages(&f.font, &cx, &f.day, 1, &b.batch, &rows);
            let pages = p.texts(&h);
            assert_header(&pages, lang, "batch report");
            let texts: Vec<String> = pages.into_iter().flatten().collect();
            assert_in_language(&texts, lang, "batch report");
            let (title, merchant, total) = match lang {
                ReportLang::Uk => (
                    "Звіт по пакету",
                    "Мерчант: ТОВ Берізка (№ 1)",
                    "Разом по пакету",
                ),
                ReportLang::Ru => (
                    "Отчет по пакету",
                    "Мерчант: ТОВ Берізка (№ 1)",
                    "Итого по пакету",
                ),
                ReportLang::En => ("Batch", "Merchant: ТОВ Берізка (No. 1)", "Batch total"),
            };
            assert!(
                texts
                    .iter()
                    .any(|t| t.starts_with(title) && t.contains(&b.batch)),
                "{lang:?}: no title {title:?}"
            );
            assert!(texts.iter().any(|t| t == merchant), "{lang:?}: {texts:?}");
            assert_pair(&texts, total, &lang.amount(b.sales - b.returns));
            assert!(batch_pdf(&f.font, &cx, &f.day, 1, &b.batch, &rows).starts_with(b"%PDF-"));
        }
    }

    #[test]
    fn the_reconciliation_report_in_each_language() {
        let f = fixture();
        let mut day = f
            .journal
            .day_report(&f.day, crate::clock::DEFAULT_TIME_ZONE)
            .unwrap();
        let shift = day
            .shifts
            .iter_mut()
            .find(|s| s.reconciliation.is_some())
            .expect("a closed shift");
        let r = shift.reconciliation.as_mut().unwrap();
        let difference = |kind| Difference {
            kind,
            merchant: Some(2),
            operation: Some(12),
            receipt: Some(34),
            rrn: Some("123456789012".into()),
            expected: Some(125_000),
            found: Some(120_000),
            detail: String::new(),
        };
        r.differences = vec![difference(DifferenceKind::AmountDiffers)];
        r.unchecked = vec![difference(DifferenceKind::SettlementPending)];
        let sales: i64 = r
            .rows
            .iter()
            .filter(|row| row.merchant.is_some())
            .map(|row| row.journal.sales)
            .sum();
        for lang in ReportLang::ALL {
            let cx = context(lang);
            let (p, h) = reconciliation_pages(&f.font, &cx, &day);
            let pages = p.texts(&h);
            assert_header(&pages, lang, "reconciliation report");
            let texts: Vec<String> = pages.into_iter().flatten().collect();
            assert_in_language(&texts, lang, "reconciliation report");
            let want: [&str; 5] = match lang {
                ReportLang::Uk => [
                    "Звіт звірки: журнал, термінал, реєстратор",
                    "Сума чека інша",
                    "Інкасація відкладена",
                    "Розбіжності (1)",
                    "Не перевірено (1)",
                ],
                ReportLang::Ru => [
                    "Отчет сверки: журнал, терминал, регистратор",
                    "Сумма чека отличается",
                    "Инкассация отложена",
                    "Расхождения (1)",
                    "Не проверено (1)",
                ],
                ReportLang::En => [
                    "Reconciliation report: journal, terminal, fiscal register",
                    "Receipt amount differs",
                    "Settlement pending",
                    "Differences (1)",
                    "Not checked (1)",
                ],
            };
            for w in want {
                assert!(
                    texts.iter().any(|t| t == w),
                    "{lang:?}: no {w:?} in {texts:#?}"
                );
            }
            assert!(texts.contains(&lang.amount(125_000)));
            let journal_sales = match lang {
                ReportLang::Uk => "Журнал: продажі",
                ReportLang::Ru => "Журнал: продажи",
                ReportLang::En => "Journal: sales",
            };
            assert_pair(&texts, journal_sales, &lang.amount(sales));
            assert!(reconciliation_pdf(&f.font, &cx, &day).starts_with(b"%PDF-"));
        }
        assert_eq!(ReportLang::En.amount(125_000), "1,250.00");
    }

    #[test]
    fn the_csv_in_each_language() {
        let f = fixture();
        let search = SearchQuery {
            business_day: Some(f.day.clone()),
            ..SearchQuery::default()
        };
        let mut amounts = Vec::new();
        for lang in ReportLang::ALL {
            let cx = context(lang);
            let mut out = Vec::new();
            let done = csv::transactions_csv(
                &f.journal,
                &cx,
                &search,
                false,
                &mut out,
                &Progress::detached(),
            )
            .unwrap();
            assert!(done);
            let mut reader = ::csv::Reader::from_reader(out.as_slice());
            let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
            assert_eq!(header, csv::header(lang));
            let col = |name: &str| header.iter().position(|h| h == name).unwrap();
            let (first, returned, name, amount) = match lang {
                ReportLang::Uk => (
                    "Платіж",
                    col("Повернення"),
                    col("Назва мерчанта"),
                    col("Сума"),
                ),
                ReportLang::Ru => (
                    "Платеж",
                    col("Возврат"),
                    col("Название мерчанта"),
                    col("Сумма"),
                ),
                ReportLang::En => (
                    "Payment",
                    col("Refund"),
                    col("Merchant name"),
                    col("Amount"),
                ),
            };
            assert_eq!(header[0], first);
            let rows: Vec<::csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
            assert!(rows.len() > 20);
            let (yes, no) = match lang {
                ReportLang::Uk => ("так", "ні"),
                ReportLang::Ru => ("да", "нет"),
                ReportLang::En => ("yes", "no"),
            };
            assert!(rows
                .iter()
                .all(|r| r[returned] == *yes || r[returned] == *no));
            assert!(
                rows.iter().any(|r| r[returned] == *yes),
                "a refund in the day"
            );
            let mut texts = header.clone();
            for r in &rows {
                texts.extend(r.iter().map(String::from));
            }
            assert!(rows.iter().any(|r| &r[name] == MERCHANT));
            assert_in_language(&texts, lang, "CSV");
            amounts.push(
                rows.iter()
                    .map(|r| r[amount].to_string())
                    .collect::<Vec<_>>(),
            );
        }
        // Amounts are written the same in every language (a spreadsheet's
        // numbers): `1250.00`.
        assert_eq!(amounts[0], amounts[1]);
        assert_eq!(amounts[0], amounts[2]);
        assert!(amounts[0]
            .iter()
            .all(|a| a.contains('.') && !a.contains(',')));
    }

    #[test]
    fn every_column_heading_fits_its_column_in_every_language() {
        let font = ReportFont::load("").expect("a system font with Cyrillic");
        let mut wide = Vec::new();
        for lang in ReportLang::ALL {
            let tables: [&[Column]; 6] = [
                &txn_columns(lang),
                &day_totals_columns(lang),
                &day_batch_columns(lang),
                &day_operation_columns(lang),
                &batch_columns(lang),
                &difference_columns(lang),
            ];
            for cols in tables
                .into_iter()
                .chain([&reconciliation_columns(lang)[..]])
            {
                for c in cols {
                    // Headings are 7 points (`Pages::heading_row`).
                    let w = font.width(c.heading, 7.0);
                    if w > c.width {
                        wide.push(format!(
                            "{lang:?}: {:?} is {w:.1} mm in {} mm",
                            c.heading, c.width
                        ));
                    }
                }
            }
        }
        assert!(wide.is_empty(), "headings cut short: {wide:#?}");
    }
}
