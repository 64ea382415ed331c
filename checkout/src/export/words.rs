//! The fixed words of the exports in the three languages a manager can ask
//! for ([`ReportLang`]: Ukrainian, Russian, English): every title, heading,
//! column header and label of the PDF reports and the CSV, the names of
//! operation kinds, payment and operation states and reconciliation
//! differences, and how an amount is written in each language.
//!
//! Every [`Word`] is declared once with its three texts (the `words!`
//! table below), so a word without a translation does not compile.
//! Placeholders are named (`{count}`, `{index}`...) and filled by name
//! ([`ReportLang::say`]), so a translation may put them in any order.
//! Data (the shop's and merchants' names, RRNs, batch numbers) is never
//! translated.

use std::fmt::Display;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::api::{OperationKind, OperationState, PaymentMethod, PaymentState};
use crate::reconcile::DifferenceKind;

/// The language of an export's fixed texts (Ukrainian unless asked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ReportLang {
    #[default]
    Uk,
    Ru,
    En,
}

impl ReportLang {
    /// The three languages.
    pub const ALL: [ReportLang; 3] = [ReportLang::Uk, ReportLang::Ru, ReportLang::En];

    /// `word` in this language, placeholders left as they are.
    pub fn word(self, word: Word) -> &'static str {
        let t = word.texts();
        match self {
            ReportLang::Uk => t.uk,
            ReportLang::Ru => t.ru,
            ReportLang::En => t.en,
        }
    }

    /// `word` in this language with each `{name}` replaced by its value
    /// from `args`; a placeholder `args` does not name stays as it is.
    pub fn say(self, word: Word, args: &[(&str, &dyn Display)]) -> String {
        fill(self.word(word), args)
    }

    /// An amount of minor units (kopiykas) as this language writes it:
    /// `1 250,00` in Ukrainian and Russian, `1,250.00` in English; a
    /// minus sign before a negative one. Integer arithmetic only.
    pub fn amount(self, minor: i64) -> String {
        let (group, point) = match self {
            ReportLang::Uk | ReportLang::Ru => (' ', ','),
            ReportLang::En => (',', '.'),
        };
        let m = minor.unsigned_abs();
        let whole = (m / 100).to_string();
        let mut out = String::with_capacity(whole.len() + whole.len() / 3 + 4);
        if minor < 0 {
            out.push('-');
        }
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                out.push(group);
            }
            out.push(c);
        }
        out.push(point);
        out.push(char::from(b'0' + (m % 100 / 10) as u8));
        out.push(char::from(b'0' + (m % 10) as u8));
        out
    }

    /// "yes" or "no".
    pub fn yes_no(self, yes: bool) -> &'static str {
        self.word(if yes { Word::Yes } else { Word::No })
    }

    /// An operation kind's name.
    pub fn kind(self, k: OperationKind) -> &'static str {
        self.word(match k {
            OperationKind::Sale => Word::KindSale,
            OperationKind::Refund => Word::KindRefund,
            OperationKind::Void => Word::KindVoid,
            OperationKind::CashRefund => Word::KindCashRefund,
            OperationKind::CashIn => Word::KindCashIn,
            OperationKind::CashOut => Word::KindCashOut,
            OperationKind::XReport => Word::KindXReport,
            OperationKind::DayClose => Word::KindDayClose,
        })
    }

    /// A payment method's name.
    pub fn method(self, m: PaymentMethod) -> &'static str {
        self.word(match m {
            PaymentMethod::Card => Word::MethodCard,
            PaymentMethod::Cash => Word::MethodCash,
        })
    }

    /// A payment state's name.
    pub fn payment_state(self, s: PaymentState) -> &'static str {
        self.word(match s {
            PaymentState::Pending => Word::PaymentPending,
            PaymentState::Approved => Word::PaymentApproved,
            PaymentState::Declined => Word::PaymentDeclined,
            PaymentState::Cancelled => Word::PaymentCancelled,
            PaymentState::Reversed => Word::PaymentReversed,
            PaymentState::Unknown => Word::PaymentUnknown,
        })
    }

    /// An operation state's name.
    pub fn operation_state(self, s: OperationState) -> &'static str {
        self.word(match s {
            OperationState::Running => Word::OperationRunning,
            OperationState::AwaitingPayment => Word::OperationAwaitingPayment,
            OperationState::Done => Word::OperationDone,
            OperationState::Declined => Word::OperationDeclined,
            OperationState::Cancelled => Word::OperationCancelled,
            OperationState::Failed => Word::OperationFailed,
            OperationState::NeedsAttention => Word::OperationNeedsAttention,
        })
    }

    /// What a reconciliation difference is.
    pub fn difference(self, k: DifferenceKind) -> &'static str {
        self.word(match k {
            DifferenceKind::CardPaymentWithoutReceipt => Word::DiffCardPaymentWithoutReceipt,
            DifferenceKind::ReceiptWithoutPayment => Word::DiffReceiptWithoutPayment,
            DifferenceKind::AmountDiffers => Word::DiffAmountDiffers,
            DifferenceKind::ReceiptMissing => Word::DiffReceiptMissing,
            DifferenceKind::TerminalTotalsDiffer => Word::DiffTerminalTotalsDiffer,
            DifferenceKind::FiscalTotalsDiffer => Word::DiffFiscalTotalsDiffer,
            DifferenceKind::TerminalTotalsUnavailable => Word::DiffTerminalTotalsUnavailable,
            DifferenceKind::SettlementPending => Word::DiffSettlementPending,
        })
    }
}

/// `template` with each `{name}` replaced by its value from `args`.
pub fn fill(template: &str, args: &[(&str, &dyn Display)]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            args.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (close, *v))
        });
        match value {
            Some((close, v)) => {
                let _ = write!(out, "{v}");
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A word's three texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Texts {
    pub uk: &'static str,
    pub ru: &'static str,
    pub en: &'static str,
}

/// The table of words: each one's name and its three texts, all required.
macro_rules! words {
    ($( $(#[$doc:meta])* $name:ident { uk: $uk:literal, ru: $ru:literal, en: $en:literal } )*) => {
        /// A fixed text of the exports.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Word {
            $( $(#[$doc])* $name, )*
        }

        impl Word {
            /// Every word.
            pub const ALL: &'static [Word] = &[$(Word::$name),*];

            /// Its three texts.
            pub const fn texts(self) -> Texts {
                match self {
                    $( Word::$name => Texts { uk: $uk, ru: $ru, en: $en }, )*
                }
            }
        }
    };
}

words! {
    // ---- every page's header ----------------------------------------------
    PageOf { uk: "Сторінка {page} з {pages}", ru: "Страница {page} из {pages}", en: "Page {page} of {pages}" }
    TaxId { uk: "Податковий номер: {tax_id}", ru: "Налоговый номер: {tax_id}", en: "Tax ID: {tax_id}" }
    Till { uk: "Каса № {till}", ru: "Касса № {till}", en: "Till No. {till}" }
    BusinessDay { uk: "Робочий день: {day}", ru: "Рабочий день: {day}", en: "Business day: {day}" }
    Generated { uk: "Сформовано: {at}", ru: "Сформировано: {at}", en: "Generated: {at}" }

    // ---- names -------------------------------------------------------------
    /// A merchant with no name configured.
    MerchantNo { uk: "Мерчант {index}", ru: "Мерчант {index}", en: "Merchant {index}" }
    Yes { uk: "так", ru: "да", en: "yes" }
    No { uk: "ні", ru: "нет", en: "no" }
    KindSale { uk: "Продаж", ru: "Продажа", en: "Sale" }
    KindRefund { uk: "Повернення", ru: "Возврат", en: "Refund" }
    KindVoid { uk: "Скасування", ru: "Отмена", en: "Void" }
    KindCashRefund { uk: "Повернення готівкою", ru: "Возврат наличными", en: "Cash refund" }
    KindCashIn { uk: "Внесення", ru: "Внесение", en: "Cash in" }
    KindCashOut { uk: "Видача", ru: "Выдача", en: "Cash out" }
    KindXReport { uk: "X-звіт", ru: "X-отчет", en: "X report" }
    KindDayClose { uk: "Закриття дня", ru: "Закрытие дня", en: "Day close" }
    MethodCard { uk: "Картка", ru: "Карта", en: "Card" }
    MethodCash { uk: "Готівка", ru: "Наличные", en: "Cash" }
    PaymentPending { uk: "Очікує", ru: "Ожидает", en: "Pending" }
    PaymentApproved { uk: "Схвалено", ru: "Одобрено", en: "Approved" }
    PaymentDeclined { uk: "Відхилено", ru: "Отклонено", en: "Declined" }
    PaymentCancelled { uk: "Скасовано", ru: "Отменено", en: "Cancelled" }
    PaymentReversed { uk: "Сторновано", ru: "Сторнировано", en: "Reversed" }
    PaymentUnknown { uk: "Невідомо", ru: "Неизвестно", en: "Unknown" }
    OperationRunning { uk: "Виконується", ru: "Выполняется", en: "In progress" }
    OperationAwaitingPayment { uk: "Очікує оплати", ru: "Ожидает оплаты", en: "Awaiting payment" }
    OperationDone { uk: "Завершено", ru: "Завершено", en: "Completed" }
    OperationDeclined { uk: "Відхилено", ru: "Отклонено", en: "Declined" }
    OperationCancelled { uk: "Скасовано", ru: "Отменено", en: "Cancelled" }
    OperationFailed { uk: "Не вдалося", ru: "Не удалось", en: "Failed" }
    OperationNeedsAttention { uk: "Потребує уваги", ru: "Требует внимания", en: "Needs attention" }
    DiffCardPaymentWithoutReceipt { uk: "Оплата карткою без чека", ru: "Оплата картой без чека", en: "Card payment without a receipt" }
    DiffReceiptWithoutPayment { uk: "Чек без оплати", ru: "Чек без оплаты", en: "Receipt without a payment" }
    DiffAmountDiffers { uk: "Сума чека інша", ru: "Сумма чека отличается", en: "Receipt amount differs" }
    DiffReceiptMissing { uk: "Чека немає в реєстраторі", ru: "Чека нет в регистраторе", en: "Receipt missing from the fiscal register" }
    DiffTerminalTotalsDiffer { uk: "Підсумки термінала інші", ru: "Итоги терминала отличаются", en: "Terminal totals differ" }
    DiffFiscalTotalsDiffer { uk: "Підсумки реєстратора інші", ru: "Итоги регистратора отличаются", en: "Fiscal register totals differ" }
    DiffTerminalTotalsUnavailable { uk: "Термінал не дає підсумків", ru: "Терминал не выдает итогов", en: "Terminal gives no totals" }
    DiffSettlementPending { uk: "Інкасація відкладена", ru: "Инкассация отложена", en: "Settlement pending" }

    // ---- table columns -----------------------------------------------------
    ColTime { uk: "Час", ru: "Время", en: "Time" }
    ColKind { uk: "Вид", ru: "Вид", en: "Type" }
    ColMethod { uk: "Оплата", ru: "Оплата", en: "Method" }
    ColState { uk: "Стан", ru: "Статус", en: "Status" }
    ColMerchant { uk: "Мерчант", ru: "Мерчант", en: "Merchant" }
    ColRrn { uk: "RRN", ru: "RRN", en: "RRN" }
    ColAuthCode { uk: "Код авт.", ru: "Код авт.", en: "Approval" }
    ColCard { uk: "Картка", ru: "Карта", en: "Card" }
    ColInvoice { uk: "Рахунок", ru: "Счет", en: "Invoice" }
    ColAmountUah { uk: "Сума, грн", ru: "Сумма, грн", en: "Amount, UAH" }
    ColSalesCount { uk: "Продажів", ru: "Продаж", en: "Sales" }
    ColSalesAmount { uk: "Сума продажів", ru: "Сумма продаж", en: "Sales amount" }
    ColReturnsCount { uk: "Повернень", ru: "Возвратов", en: "Refunds" }
    ColReturnsAmount { uk: "Сума повернень", ru: "Сумма возвратов", en: "Refunds amount" }
    ColTakings { uk: "Виручка", ru: "Выручка", en: "Net takings" }
    ColBatch { uk: "Пакет", ru: "Пакет", en: "Batch" }
    ColOperations { uk: "Операцій", ru: "Операций", en: "Operations" }
    ColSales { uk: "Продажі", ru: "Продажи", en: "Sales" }
    ColReturns { uk: "Повернення", ru: "Возвраты", en: "Refunds" }
    ColCount { uk: "Кількість", ru: "Количество", en: "Count" }
    ColWhat { uk: "Що", ru: "Что", en: "Issue" }
    ColOperation { uk: "Операція", ru: "Операция", en: "Operation" }
    ColReceipt { uk: "Чек", ru: "Чек", en: "Receipt" }
    ColExpected { uk: "Очікувано", ru: "Ожидалось", en: "Expected" }
    ColFound { uk: "Знайдено", ru: "Найдено", en: "Found" }
    ColJournalSales { uk: "Журнал: прод.", ru: "Журнал: прод.", en: "Journal: sales" }
    ColTerminalSales { uk: "Термінал: прод.", ru: "Терминал: прод.", en: "Terminal: sales" }
    ColFiscalSales { uk: "РРО: прод.", ru: "РРО: прод.", en: "Register: sales" }
    ColReturnsShort { uk: "повер.", ru: "возвр.", en: "refunds" }

    // ---- the daily report --------------------------------------------------
    DayTitle { uk: "Денний звіт", ru: "Дневной отчет", en: "Daily report" }
    DayTotalsByMethod { uk: "Підсумки за способом оплати", ru: "Итоги по способам оплаты", en: "Totals by payment method" }
    DayTotalSales { uk: "Разом продажі ({count})", ru: "Итого продажи ({count})", en: "Total sales ({count})" }
    DayTotalReturns { uk: "Разом повернення ({count})", ru: "Итого возвраты ({count})", en: "Total refunds ({count})" }
    DayByCard { uk: "Карткою", ru: "Картой", en: "By card" }
    DayInCash { uk: "Готівкою", ru: "Наличными", en: "In cash" }
    DayTakings { uk: "Виручка за день", ru: "Выручка за день", en: "Net takings for the day" }
    DayBatches { uk: "Пакети термінала", ru: "Пакеты терминала", en: "Terminal batches" }
    /// A batch the terminal gave no number.
    NoNumber { uk: "без номера", ru: "без номера", en: "no number" }
    DayOperations { uk: "Операції", ru: "Операции", en: "Operations" }
    Transactions { uk: "Транзакції ({count})", ru: "Транзакции ({count})", en: "Transactions ({count})" }

    // ---- a batch's report --------------------------------------------------
    BatchTitleNoNumber { uk: "Звіт по пакету термінала", ru: "Отчет по пакету терминала", en: "Terminal batch report" }
    BatchTitle { uk: "Звіт по пакету {batch}", ru: "Отчет по пакету {batch}", en: "Batch {batch} report" }
    BatchMerchant { uk: "Мерчант: {name} (№ {index})", ru: "Мерчант: {name} (№ {index})", en: "Merchant: {name} (No. {index})" }
    BatchTerminal { uk: "Термінал: {terminal}", ru: "Терминал: {terminal}", en: "Terminal: {terminal}" }
    BatchNumberUnknown { uk: "Пакет: номер не повідомлено терміналом", ru: "Пакет: номер не сообщен терминалом", en: "Batch: the terminal reported no number" }
    BatchNumber { uk: "Пакет: {batch}", ru: "Пакет: {batch}", en: "Batch: {batch}" }
    BatchSales { uk: "Продажі ({count})", ru: "Продажи ({count})", en: "Sales ({count})" }
    BatchReturns { uk: "Повернення ({count})", ru: "Возвраты ({count})", en: "Refunds ({count})" }
    BatchTotal { uk: "Разом по пакету", ru: "Итого по пакету", en: "Batch total" }

    // ---- the reconciliation report -----------------------------------------
    ReconTitle { uk: "Звіт звірки: журнал, термінал, реєстратор", ru: "Отчет сверки: журнал, терминал, регистратор", en: "Reconciliation report: journal, terminal, fiscal register" }
    /// The PDF's document title (its metadata).
    ReconDocTitle { uk: "Звіт звірки {day}", ru: "Отчет сверки {day}", en: "Reconciliation report {day}" }
    ReconShift { uk: "Зміна {id}", ru: "Смена {id}", en: "Shift {id}" }
    ReconZ { uk: ", Z-звіт № {z}", ru: ", Z-отчет № {z}", en: ", Z report No. {z}" }
    /// A row of the fiscal register's own totals (no merchant).
    ReconRegister { uk: "Реєстратор", ru: "Регистратор", en: "Fiscal register" }
    ReconJournalSales { uk: "Журнал: продажі", ru: "Журнал: продажи", en: "Journal: sales" }
    ReconJournalReturns { uk: "Журнал: повернення", ru: "Журнал: возвраты", en: "Journal: refunds" }
    ReconNoDifferences { uk: "Розбіжностей немає.", ru: "Расхождений нет.", en: "No differences." }
    ReconDifferences { uk: "Розбіжності ({count})", ru: "Расхождения ({count})", en: "Differences ({count})" }
    ReconUnchecked { uk: "Не перевірено ({count})", ru: "Не проверено ({count})", en: "Not checked ({count})" }

    // ---- the CSV's header --------------------------------------------------
    CsvPayment { uk: "Платіж", ru: "Платеж", en: "Payment" }
    CsvOperation { uk: "Операція", ru: "Операция", en: "Operation" }
    CsvTime { uk: "Час", ru: "Время", en: "Time" }
    CsvBusinessDay { uk: "Робочий день", ru: "Рабочий день", en: "Business day" }
    CsvKind { uk: "Вид", ru: "Вид", en: "Type" }
    CsvMethod { uk: "Оплата", ru: "Оплата", en: "Payment method" }
    CsvState { uk: "Стан", ru: "Статус", en: "Status" }
    CsvReturn { uk: "Повернення", ru: "Возврат", en: "Refund" }
    CsvMerchant { uk: "Мерчант", ru: "Мерчант", en: "Merchant" }
    CsvMerchantName { uk: "Назва мерчанта", ru: "Название мерчанта", en: "Merchant name" }
    CsvTerminal { uk: "Термінал", ru: "Терминал", en: "Terminal" }
    CsvBatch { uk: "Пакет", ru: "Пакет", en: "Batch" }
    CsvInvoice { uk: "Рахунок", ru: "Счет", en: "Invoice" }
    CsvRrn { uk: "RRN", ru: "RRN", en: "RRN" }
    CsvAuthCode { uk: "Код авторизації", ru: "Код авторизации", en: "Approval code" }
    CsvCard { uk: "Картка", ru: "Карта", en: "Card" }
    CsvRequested { uk: "Запитано", ru: "Запрошено", en: "Requested" }
    CsvAmount { uk: "Сума", ru: "Сумма", en: "Amount" }
}

/// Whether `s` has a Cyrillic letter.
pub fn has_cyrillic(s: &str) -> bool {
    s.chars()
        .any(|c| matches!(c, '\u{0400}'..='\u{04FF}' | '\u{0500}'..='\u{052F}'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn placeholders(s: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut rest = s;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else { break };
            out.insert(after[..close].to_string());
            rest = &after[close + 1..];
        }
        out
    }

    #[test]
    fn every_word_has_three_texts_with_the_same_placeholders() {
        assert!(Word::ALL.len() > 100, "{}", Word::ALL.len());
        for w in Word::ALL {
            let t = w.texts();
            for (lang, text) in [("uk", t.uk), ("ru", t.ru), ("en", t.en)] {
                assert!(!text.trim().is_empty(), "{w:?} has no {lang} text");
                assert_eq!(
                    placeholders(text),
                    placeholders(t.uk),
                    "{w:?}: the {lang} text names other placeholders"
                );
            }
        }
    }

    #[test]
    fn english_has_no_cyrillic_and_each_language_its_own_letters() {
        for w in Word::ALL {
            let t = w.texts();
            assert!(!has_cyrillic(t.en), "{w:?}: {:?} is not English", t.en);
            // Letters only Ukrainian has, and only Russian has.
            assert!(
                !t.ru.contains(['і', 'ї', 'є', 'ґ', 'І', 'Ї', 'Є', 'Ґ']),
                "{w:?}: {:?} is not Russian",
                t.ru
            );
            assert!(
                !t.uk.contains(['ы', 'э', 'ъ', 'ё', 'Ы', 'Э', 'Ъ', 'Ё']),
                "{w:?}: {:?} is not Ukrainian",
                t.uk
            );
            assert_eq!(ReportLang::Uk.word(*w), t.uk);
            assert_eq!(ReportLang::Ru.word(*w), t.ru);
            assert_eq!(ReportLang::En.word(*w), t.en);
        }
        // Titles a manager would see differ by language.
        for w in [
            Word::DayTitle,
            Word::BatchTitle,
            Word::ReconTitle,
            Word::PageOf,
        ] {
            let t = w.texts();
            assert!(t.uk != t.ru && t.ru != t.en && t.uk != t.en, "{w:?}");
        }
    }

    #[test]
    fn placeholders_are_filled_by_name_in_any_order() {
        assert_eq!(
            ReportLang::En.say(Word::PageOf, &[("pages", &3), ("page", &1)]),
            "Page 1 of 3"
        );
        assert_eq!(
            ReportLang::Uk.say(Word::PageOf, &[("page", &2), ("pages", &2)]),
            "Сторінка 2 з 2"
        );
        assert_eq!(
            ReportLang::Ru.say(Word::BatchMerchant, &[("index", &4), ("name", &"ТОВ {x}")]),
            "Мерчант: ТОВ {x} (№ 4)"
        );
        assert_eq!(fill("{a}{b} {c} {", &[("b", &"B"), ("a", &1)]), "1B {c} {");
        assert_eq!(fill("", &[]), "");
        assert_eq!(fill("{}", &[("", &"x")]), "x");
    }

    #[test]
    fn amounts_by_language_without_floats() {
        let cases: [(i64, &str, &str); 9] = [
            (0, "0,00", "0.00"),
            (5, "0,05", "0.05"),
            (1250, "12,50", "12.50"),
            (99_999, "999,99", "999.99"),
            (125_000, "1 250,00", "1,250.00"),
            (-120, "-1,20", "-1.20"),
            (-123_456_789, "-1 234 567,89", "-1,234,567.89"),
            (100_000_000_000, "1 000 000 000,00", "1,000,000,000.00"),
            (
                i64::MIN,
                "-92 233 720 368 547 758,08",
                "-92,233,720,368,547,758.08",
            ),
        ];
        for (minor, uk, en) in cases {
            assert_eq!(ReportLang::Uk.amount(minor), uk, "{minor}");
            assert_eq!(ReportLang::Ru.amount(minor), uk, "{minor}");
            assert_eq!(ReportLang::En.amount(minor), en, "{minor}");
        }
        // The journal's own format is untouched.
        assert_eq!(crate::money::format_minor(125_000), "1250.00");
    }

    #[test]
    fn every_enum_value_has_a_name_in_every_language() {
        use crate::api::{OperationKind as K, OperationState as O, PaymentState as P};
        use DifferenceKind as D;
        for lang in ReportLang::ALL {
            let names: Vec<&str> = [K::Sale, K::Refund, K::Void, K::CashRefund, K::CashIn]
                .into_iter()
                .chain([K::CashOut, K::XReport, K::DayClose])
                .map(|k| lang.kind(k))
                .chain([PaymentMethod::Card, PaymentMethod::Cash].map(|m| lang.method(m)))
                .chain(
                    [P::Pending, P::Approved, P::Declined, P::Cancelled]
                        .into_iter()
                        .chain([P::Reversed, P::Unknown])
                        .map(|s| lang.payment_state(s)),
                )
                .chain(
                    [O::Running, O::AwaitingPayment, O::Done, O::Declined]
                        .into_iter()
                        .chain([O::Cancelled, O::Failed, O::NeedsAttention])
                        .map(|s| lang.operation_state(s)),
                )
                .chain(
                    [
                        D::CardPaymentWithoutReceipt,
                        D::ReceiptWithoutPayment,
                        D::AmountDiffers,
                        D::ReceiptMissing,
                        D::TerminalTotalsDiffer,
                        D::FiscalTotalsDiffer,
                        D::TerminalTotalsUnavailable,
                        D::SettlementPending,
                    ]
                    .map(|d| lang.difference(d)),
                )
                .chain([lang.yes_no(true), lang.yes_no(false)])
                .collect();
            for n in &names {
                assert_eq!(lang == ReportLang::En, !has_cyrillic(n), "{lang:?}: {n:?}");
            }
        }
        assert_eq!(ReportLang::En.kind(OperationKind::Sale), "Sale");
        assert_eq!(ReportLang::Ru.kind(OperationKind::Sale), "Продажа");
        assert_eq!(ReportLang::Uk.kind(OperationKind::Sale), "Продаж");
    }

    #[test]
    fn the_language_is_snake_case_and_ukrainian_by_default() {
        assert_eq!(ReportLang::default(), ReportLang::Uk);
        for (lang, json) in [
            (ReportLang::Uk, "\"uk\""),
            (ReportLang::Ru, "\"ru\""),
            (ReportLang::En, "\"en\""),
        ] {
            assert_eq!(serde_json::to_string(&lang).unwrap(), json);
            assert_eq!(serde_json::from_str::<ReportLang>(json).unwrap(), lang);
        }
        assert!(serde_json::from_str::<ReportLang>("\"de\"").is_err());
    }
}
