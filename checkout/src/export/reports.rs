//! The three PDF reports a manager hands the accountant, in Ukrainian:
//! the daily report (takings per merchant and payment type, the terminal's
//! batches, the operations, every transaction of the day), the batch report
//! (one merchant's terminal batch: each transaction with its RRN, auth code,
//! masked card, amount, time and state) and the reconciliation report (the
//! day close's three-way comparison, its differences and what could not be
//! checked). Amounts come from the journal as integer kopiykas and are
//! printed with two decimals ([`crate::money::format_minor`]).

use chrono::DateTime;
use chrono_tz::Tz;

use crate::api::{OperationKind, OperationState, PaymentMethod, PaymentState};
use crate::money::format_minor;
use crate::queries::{DayReport, SearchQuery, TransactionRow};
use crate::reconcile::{Amounts, Difference, DifferenceKind};
use crate::settings::MerchantSettings;
use crate::Result;

use super::pdf::{Column, PageHeader, Pages, ReportFont, BODY, MARGIN};
use super::Progress;

/// What every report needs besides its data: the shop on the header, the
/// merchants' names, the time zone, when it is made.
#[derive(Debug, Clone)]
pub struct ReportContext {
    pub shop: String,
    pub tax_id: String,
    pub till: String,
    pub merchants: Vec<MerchantSettings>,
    pub time_zone: Tz,
    /// When the report is made (the clock passed in).
    pub generated: DateTime<chrono::Utc>,
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
        }
    }

    /// A merchant's name as configured, or its index.
    pub fn merchant_name(&self, index: u8) -> String {
        self.merchants
            .iter()
            .find(|m| m.index == index && !m.name.trim().is_empty())
            .map(|m| m.name.clone())
            .unwrap_or_else(|| format!("Мерчант {index}"))
    }

    /// The shop-local time of a journal timestamp.
    pub fn local(&self, at: &str, format: &str) -> String {
        DateTime::parse_from_rfc3339(at)
            .map(|t| t.with_timezone(&self.time_zone).format(format).to_string())
            .unwrap_or_else(|_| at.to_string())
    }
}

pub fn kind_uk(k: OperationKind) -> &'static str {
    match k {
        OperationKind::Sale => "Продаж",
        OperationKind::Refund => "Повернення",
        OperationKind::Void => "Скасування",
        OperationKind::CashRefund => "Повернення готівкою",
        OperationKind::CashIn => "Внесення",
        OperationKind::CashOut => "Видача",
        OperationKind::XReport => "X-звіт",
        OperationKind::DayClose => "Закриття дня",
    }
}

pub fn method_uk(m: PaymentMethod) -> &'static str {
    match m {
        PaymentMethod::Card => "Картка",
        PaymentMethod::Cash => "Готівка",
    }
}

pub fn state_uk(s: PaymentState) -> &'static str {
    match s {
        PaymentState::Pending => "Очікує",
        PaymentState::Approved => "Схвалено",
        PaymentState::Declined => "Відхилено",
        PaymentState::Cancelled => "Скасовано",
        PaymentState::Reversed => "Сторновано",
        PaymentState::Unknown => "Невідомо",
    }
}

fn operation_state_uk(s: OperationState) -> &'static str {
    match s {
        OperationState::Running => "Виконується",
        OperationState::AwaitingPayment => "Очікує оплати",
        OperationState::Done => "Завершено",
        OperationState::Declined => "Відхилено",
        OperationState::Cancelled => "Скасовано",
        OperationState::Failed => "Не вдалося",
        OperationState::NeedsAttention => "Потребує уваги",
    }
}

fn difference_uk(k: DifferenceKind) -> &'static str {
    match k {
        DifferenceKind::CardPaymentWithoutReceipt => "Оплата карткою без чека",
        DifferenceKind::ReceiptWithoutPayment => "Чек без оплати",
        DifferenceKind::AmountDiffers => "Сума чека інша",
        DifferenceKind::ReceiptMissing => "Чека немає в реєстраторі",
        DifferenceKind::TerminalTotalsDiffer => "Підсумки термінала інші",
        DifferenceKind::FiscalTotalsDiffer => "Підсумки реєстратора інші",
        DifferenceKind::TerminalTotalsUnavailable => "Термінал не дає підсумків",
        DifferenceKind::SettlementPending => "Інкасація відкладена",
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

const TXN_COLUMNS: [Column; 9] = [
    Column::left("Час", MARGIN, 14.0),
    Column::left("Вид", MARGIN + 14.0, 20.0),
    Column::left("Оплата", MARGIN + 34.0, 13.0),
    Column::left("Стан", MARGIN + 47.0, 16.0),
    Column::left("Мерчант", MARGIN + 63.0, 24.0),
    Column::left("RRN", MARGIN + 87.0, 23.0),
    Column::left("Код авт.", MARGIN + 110.0, 12.0),
    Column::left("Картка", MARGIN + 122.0, 30.0),
    Column::right("Сума, грн", MARGIN + 152.0, 30.0),
];

fn txn_cells(cx: &ReportContext, r: &TransactionRow) -> Vec<String> {
    let amount = if r.state == PaymentState::Approved {
        r.approved
    } else {
        r.requested
    };
    vec![
        cx.local(&r.created_at, "%H:%M:%S"),
        kind_uk(r.kind).to_string(),
        method_uk(r.method).to_string(),
        state_uk(r.state).to_string(),
        cx.merchant_name(r.merchant),
        r.rrn.clone().unwrap_or_default(),
        r.auth_code.clone().unwrap_or_default(),
        r.masked_pan.clone().unwrap_or_default(),
        format_minor(if r.returns { -amount } else { amount }),
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

/// The daily report of `day` with every one of its transactions (`rows`).
pub fn day_pdf(
    font: &ReportFont,
    cx: &ReportContext,
    day: &DayReport,
    rows: &[TransactionRow],
    progress: &Progress,
) -> Option<Vec<u8>> {
    let title = "Денний звіт";
    let mut p = Pages::new(font, &format!("{title} {}", day.business_day));
    p.heading("Підсумки за способом оплати");
    p.table(&[
        Column::left("Мерчант", MARGIN, 46.0),
        Column::left("Оплата", MARGIN + 46.0, 18.0),
        Column::right("Продажів", MARGIN + 64.0, 16.0),
        Column::right("Сума продажів", MARGIN + 80.0, 28.0),
        Column::right("Повернень", MARGIN + 108.0, 18.0),
        Column::right("Сума повернень", MARGIN + 126.0, 28.0),
        Column::right("Виручка", MARGIN + 154.0, 28.0),
    ]);
    let (mut sales, mut returns, mut card, mut cash) = (0i64, 0i64, 0i64, 0i64);
    let (mut sales_count, mut returns_count) = (0u32, 0u32);
    for t in &day.totals {
        p.row(&[
            cx.merchant_name(t.merchant),
            method_uk(t.method).to_string(),
            t.sales_count.to_string(),
            format_minor(t.sales),
            t.returns_count.to_string(),
            format_minor(t.returns),
            format_minor(t.sales - t.returns),
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
        &format!("Разом продажі ({sales_count})"),
        &format_minor(sales),
    );
    p.pair(
        &format!("Разом повернення ({returns_count})"),
        &format_minor(returns),
    );
    p.pair("Карткою", &format_minor(card));
    p.pair("Готівкою", &format_minor(cash));
    p.pair("Виручка за день", &format_minor(sales - returns));

    if !day.batches.is_empty() {
        p.heading("Пакети термінала");
        p.table(&[
            Column::left("Мерчант", MARGIN, 60.0),
            Column::left("Пакет", MARGIN + 60.0, 30.0),
            Column::right("Операцій", MARGIN + 90.0, 20.0),
            Column::right("Продажі", MARGIN + 110.0, 36.0),
            Column::right("Повернення", MARGIN + 146.0, 36.0),
        ]);
        for b in &day.batches {
            p.row(&[
                cx.merchant_name(b.merchant),
                if b.batch.is_empty() {
                    "без номера".to_string()
                } else {
                    b.batch.clone()
                },
                b.count.to_string(),
                format_minor(b.sales),
                format_minor(b.returns),
            ]);
        }
        p.end_table();
    }

    if !day.operations.is_empty() {
        p.heading("Операції");
        p.table(&[
            Column::left("Вид", MARGIN, 60.0),
            Column::left("Стан", MARGIN + 60.0, 60.0),
            Column::right("Кількість", MARGIN + 120.0, 62.0),
        ]);
        for k in &day.operations {
            p.row(&[
                kind_uk(k.kind).to_string(),
                operation_state_uk(k.state).to_string(),
                k.count.to_string(),
            ]);
        }
        p.end_table();
    }

    p.heading(&format!("Транзакції ({})", rows.len()));
    p.table(&TXN_COLUMNS);
    for (i, r) in rows.iter().enumerate() {
        p.row(&txn_cells(cx, r));
        if i % 200 == 199 && !progress.step(200) {
            return None;
        }
    }
    p.end_table();
    Some(p.finish(&cx.header(&day.business_day, title)))
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
    let title = if batch.is_empty() {
        "Звіт по пакету термінала".to_string()
    } else {
        format!("Звіт по пакету {batch}")
    };
    let mut p = Pages::new(font, &format!("{title} {business_day}"));
    p.line(
        MARGIN,
        BODY,
        &format!("Мерчант: {} (№ {merchant})", cx.merchant_name(merchant)),
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
    p.line(MARGIN, BODY, &format!("Термінал: {terminal}"));
    if batch.is_empty() {
        p.line(MARGIN, BODY, "Пакет: номер не повідомлено терміналом");
    } else {
        p.line(MARGIN, BODY, &format!("Пакет: {batch}"));
    }
    p.heading(&format!("Транзакції ({})", rows.len()));
    p.table(&[
        Column::left("Час", MARGIN, 16.0),
        Column::left("Вид", MARGIN + 16.0, 24.0),
        Column::left("RRN", MARGIN + 40.0, 25.0),
        Column::left("Код авт.", MARGIN + 65.0, 15.0),
        Column::left("Картка", MARGIN + 80.0, 34.0),
        Column::left("Рахунок", MARGIN + 114.0, 16.0),
        Column::left("Стан", MARGIN + 130.0, 20.0),
        Column::right("Сума, грн", MARGIN + 150.0, 32.0),
    ]);
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
        &format!("Продажі ({})", a.sales_count),
        &format_minor(a.sales),
    );
    p.pair(
        &format!("Повернення ({})", a.returns_count),
        &format_minor(a.returns),
    );
    p.pair("Разом по пакету", &format_minor(a.sales - a.returns));
    p.finish(&cx.header(business_day, &title))
}

fn amounts_cells(a: Option<&Amounts>) -> [String; 2] {
    match a {
        Some(a) => [format_minor(a.sales), format_minor(a.returns)],
        None => ["—".into(), "—".into()],
    }
}

fn differences_table(p: &mut Pages<'_>, cx: &ReportContext, list: &[Difference]) {
    p.table(&[
        Column::left("Що", MARGIN, 44.0),
        Column::left("Мерчант", MARGIN + 44.0, 26.0),
        Column::left("Операція", MARGIN + 70.0, 16.0),
        Column::left("Чек", MARGIN + 86.0, 12.0),
        Column::left("RRN", MARGIN + 98.0, 24.0),
        Column::right("Очікувано", MARGIN + 122.0, 30.0),
        Column::right("Знайдено", MARGIN + 152.0, 30.0),
    ]);
    for d in list {
        p.row(&[
            difference_uk(d.kind).to_string(),
            d.merchant.map(|m| cx.merchant_name(m)).unwrap_or_default(),
            d.operation.map(|o| o.to_string()).unwrap_or_default(),
            d.receipt.map(|r| r.to_string()).unwrap_or_default(),
            d.rrn.clone().unwrap_or_default(),
            d.expected.map(format_minor).unwrap_or_default(),
            d.found.map(format_minor).unwrap_or_default(),
        ]);
    }
    p.end_table();
}

/// The reconciliation report of the closed shifts of `day`.
pub fn reconciliation_pdf(font: &ReportFont, cx: &ReportContext, day: &DayReport) -> Vec<u8> {
    let title = "Звіт звірки: журнал, термінал, реєстратор";
    let mut p = Pages::new(font, &format!("Звіт звірки {}", day.business_day));
    for s in day.shifts.iter() {
        let Some(r) = &s.reconciliation else { continue };
        p.heading(&format!(
            "Зміна {}{}",
            s.id,
            s.z_number
                .map(|z| format!(", Z-звіт № {z}"))
                .unwrap_or_default()
        ));
        p.table(&[
            Column::left("Мерчант", MARGIN, 34.0),
            Column::left("Оплата", MARGIN + 34.0, 16.0),
            Column::right("Журнал: прод.", MARGIN + 50.0, 22.0),
            Column::right("повер.", MARGIN + 72.0, 18.0),
            Column::right("Термінал: прод.", MARGIN + 90.0, 24.0),
            Column::right("повер.", MARGIN + 114.0, 18.0),
            Column::right("РРО: прод.", MARGIN + 132.0, 30.0),
            Column::right("повер.", MARGIN + 162.0, 20.0),
        ]);
        for row in &r.rows {
            let [ts, tr] = amounts_cells(row.terminal.as_ref());
            let [fs, fr] = amounts_cells(row.fiscal.as_ref());
            p.row(&[
                row.merchant
                    .map(|m| cx.merchant_name(m))
                    .unwrap_or_else(|| "Реєстратор".into()),
                method_uk(row.method).to_string(),
                format_minor(row.journal.sales),
                format_minor(row.journal.returns),
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
        p.pair("Журнал: продажі", &format_minor(sales));
        p.pair("Журнал: повернення", &format_minor(returns));
        if r.differences.is_empty() {
            p.line(MARGIN, BODY, "Розбіжностей немає.");
        } else {
            p.heading(&format!("Розбіжності ({})", r.differences.len()));
            differences_table(&mut p, cx, &r.differences);
        }
        if !r.unchecked.is_empty() {
            p.heading(&format!("Не перевірено ({})", r.unchecked.len()));
            differences_table(&mut p, cx, &r.unchecked);
        }
    }
    p.finish(&cx.header(&day.business_day, title))
}
