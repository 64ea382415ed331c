//! The read-back: what the register recorded in its electronic journal
//! (КЛЕФ, read with 0x7E) checked against what the receipt had to carry.
//!
//! After each receipt closes, the driver reads it back and looks for every
//! card payment's RRN and auth code; the checkout uses [`find`] on the same
//! lines to answer "is the register's last document this sale's receipt?"
//! during recovery. A needle matches as a whole token only (bounded by
//! characters that are not letters or digits), so an RRN never matches
//! inside a longer number, and a document number alone never decides.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{CardSlip, Payment};

/// Something a document must contain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Needle {
    /// A card transaction's RRN.
    Rrn(String),
    /// A card transaction's auth code.
    AuthCode(String),
    /// Any other text the caller printed (a reference, a marker).
    Text(String),
}

impl Needle {
    /// The text looked for.
    pub fn value(&self) -> &str {
        match self {
            Needle::Rrn(v) | Needle::AuthCode(v) | Needle::Text(v) => v,
        }
    }

    /// A stable name for reports: `rrn`, `auth_code` or `text`.
    pub fn kind(&self) -> &'static str {
        match self {
            Needle::Rrn(_) => "rrn",
            Needle::AuthCode(_) => "auth_code",
            Needle::Text(_) => "text",
        }
    }
}

/// The outcome of a read-back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ReadbackStatus {
    /// Not read (the dialect has no journal read, or it is switched off).
    #[default]
    NotChecked,
    /// Every needle was found.
    Verified,
    /// At least one needle is missing from the recorded document.
    Missing,
    /// The journal could not be read (see `error`); the receipt is printed.
    Unavailable,
}

/// What the read-back found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ReadbackCheck {
    pub status: ReadbackStatus,
    /// The needles that were not found.
    pub missing: Vec<Needle>,
    /// The error code when the journal could not be read.
    #[serde(default)]
    pub error: Option<String>,
}

impl ReadbackCheck {
    /// True when every needle was found.
    pub fn verified(&self) -> bool {
        self.status == ReadbackStatus::Verified
    }
}

/// Looks for every needle in the document's lines.
pub fn find(lines: &[String], needles: &[Needle]) -> ReadbackCheck {
    let missing: Vec<Needle> = needles
        .iter()
        .filter(|n| !n.value().is_empty() && !lines.iter().any(|l| has_token(l, n.value())))
        .cloned()
        .collect();
    ReadbackCheck {
        status: if missing.is_empty() {
            ReadbackStatus::Verified
        } else {
            ReadbackStatus::Missing
        },
        missing,
        error: None,
    }
}

/// True when `needle` occurs in `line` bounded by non-alphanumerics (or the
/// line's ends).
pub fn has_token(line: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let mut from = 0;
    while let Some(i) = line[from..].find(needle) {
        let at = from + i;
        let before = line[..at].chars().next_back();
        let after = line[at + needle.len()..].chars().next();
        let bounded = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
        if bounded(before) && bounded(after) {
            return true;
        }
        from = at + needle.len().max(1);
        if from >= line.len() {
            break;
        }
    }
    false
}

/// The needles of one card slip: its RRN and auth code (empty ones are
/// left out).
pub fn card_needles(card: &CardSlip) -> Vec<Needle> {
    let mut out = Vec::new();
    if !card.rrn.trim().is_empty() {
        out.push(Needle::Rrn(card.rrn.trim().to_string()));
    }
    if !card.auth_code.trim().is_empty() {
        out.push(Needle::AuthCode(card.auth_code.trim().to_string()));
    }
    out
}

/// The needles of a receipt's payments: every card payment's RRN and auth
/// code, plus `reference` if the caller printed one on the receipt.
pub fn needles_for(payments: &[Payment], reference: Option<&str>) -> Vec<Needle> {
    let mut out: Vec<Needle> = payments
        .iter()
        .filter_map(|p| match p {
            Payment::Card { card, .. } => Some(card_needles(card)),
            Payment::Cash { .. } => None,
        })
        .flatten()
        .collect();
    if let Some(r) = reference.filter(|r| !r.trim().is_empty()) {
        out.push(Needle::Text(r.trim().to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tokens_match_whole_only() {
        assert!(has_token("RRN: 123456789012", "123456789012"));
        assert!(!has_token("RRN: 1234567890123", "123456789012"));
        assert!(!has_token("RRN: 0123456789012", "123456789012"));
        assert!(has_token("КОД АВТ.: A1B2C3", "A1B2C3"));
        assert!(has_token("x 12 y 123", "123"));
        assert!(!has_token("", "1"));
    }

    #[test]
    fn a_token_after_unbounded_occurrences_is_found() {
        // The first two "123" are inside longer tokens; the third stands alone.
        assert!(has_token("xx123y123 123", "123"));
        assert!(has_token("1234 123", "123"));
        assert!(!has_token("1234 x1234", "123"));
        assert!(!has_token("123", ""));
    }

    #[test]
    fn a_slip_and_a_receipt_give_only_the_needles_they_have() {
        let slip = |rrn: &str, auth: &str| CardSlip {
            rrn: rrn.into(),
            auth_code: auth.into(),
            ..CardSlip::default()
        };
        assert_eq!(
            card_needles(&slip(" 632600001234 ", " A1B2C3 ")),
            vec![
                Needle::Rrn("632600001234".into()),
                Needle::AuthCode("A1B2C3".into())
            ]
        );
        assert_eq!(
            card_needles(&slip(" ", "A1B2C3")),
            vec![Needle::AuthCode("A1B2C3".into())]
        );
        assert_eq!(
            card_needles(&slip("632600001234", "")),
            vec![Needle::Rrn("632600001234".into())]
        );
        let payments = [
            Payment::Cash { amount: 500 },
            Payment::Card {
                amount: 700,
                card: slip("632600001234", "A1B2C3"),
            },
        ];
        assert_eq!(
            needles_for(&payments, Some(" KASA-7 ")),
            vec![
                Needle::Rrn("632600001234".into()),
                Needle::AuthCode("A1B2C3".into()),
                Needle::Text("KASA-7".into())
            ]
        );
        assert_eq!(needles_for(&payments, Some("  ")).len(), 2);
        assert_eq!(needles_for(&payments, None).len(), 2);
        assert!(needles_for(&[Payment::Cash { amount: 500 }], None).is_empty());
    }

    #[test]
    fn each_needle_has_a_stable_name_as_in_its_json() {
        for (needle, name) in [
            (Needle::Rrn("632600001234".into()), "rrn"),
            (Needle::AuthCode("A1B2C3".into()), "auth_code"),
            (Needle::Text("KASA-7".into()), "text"),
        ] {
            assert_eq!(needle.kind(), name);
            // The same name the journal's JSON carries.
            let json = serde_json::to_value(&needle).unwrap();
            assert_eq!(json["kind"], name, "{json}");
            assert_eq!(json["value"], needle.value());
        }
    }

    #[test]
    fn missing_needles_are_named() {
        let doc = lines(&["ЕПЗ: ****4242", "КОД АВТ.: 654321"]);
        let want = [
            Needle::Rrn("123456789012".into()),
            Needle::AuthCode("654321".into()),
        ];
        let r = find(&doc, &want);
        assert_eq!(r.status, ReadbackStatus::Missing);
        assert_eq!(r.missing, vec![Needle::Rrn("123456789012".into())]);
        let doc = lines(&["RRN: 123456789012", "КОД АВТ.: 654321"]);
        assert!(find(&doc, &want).verified());
        assert!(find(&doc, &[]).verified());
    }
}

/// What kind of document a read-back holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Sale,
    Return,
    /// A receipt cancelled before payment (no money).
    Cancelled,
    XReport,
    ZReport,
    /// Cash in or out, a non-fiscal document, anything else.
    Other,
}

/// The money of one read-back document, by the labels this register
/// prints (the emulator's, which follow the Ukrainian receipt: `ФІСКАЛЬНИЙ
/// ЧЕК`, `ВИДАТКОВИЙ ЧЕК`, `КАРТКА`, `ГОТІВКА`, `РЕШТА`, `СУМА`; not yet
/// confirmed on an FP-T260).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DocumentSummary {
    pub kind: DocumentKind,
    /// The receipt's sum (`СУМА`).
    #[ts(type = "number | null")]
    pub total: Option<i64>,
    /// Paid (or given back) by card.
    #[ts(type = "number")]
    pub card: i64,
    /// Paid (or given back) in cash, less the change.
    #[ts(type = "number")]
    pub cash: i64,
}

fn amount_after(line: &str, label: &str) -> Option<i64> {
    let rest = line.trim().strip_prefix(label)?;
    // The label must end here (`КАРТКА 6.00`, not `КАРТКИ`).
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    crate::text::parse_money(rest.split_whitespace().last()?)
}

/// Summarise a read-back document: its kind and its money.
pub fn summarize(lines: &[String]) -> DocumentSummary {
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    let kind = if has("АНУЛЬОВАНО") {
        DocumentKind::Cancelled
    } else if lines.iter().any(|l| l.trim_start().starts_with("Z-ЗВІТ")) {
        DocumentKind::ZReport
    } else if lines.iter().any(|l| l.trim_start().starts_with("X-ЗВІТ")) {
        DocumentKind::XReport
    } else if has("ВИДАТКОВИЙ ЧЕК") {
        DocumentKind::Return
    } else if has("ФІСКАЛЬНИЙ ЧЕК") {
        DocumentKind::Sale
    } else {
        DocumentKind::Other
    };
    let mut s = DocumentSummary {
        kind,
        total: None,
        card: 0,
        cash: 0,
    };
    if !matches!(kind, DocumentKind::Sale | DocumentKind::Return) {
        return s;
    }
    for l in lines {
        if let Some(a) = amount_after(l, "КАРТКА") {
            s.card += a;
        } else if let Some(a) = amount_after(l, "ГОТІВКА") {
            s.cash += a;
        } else if let Some(a) = amount_after(l, "РЕШТА") {
            s.cash -= a;
        } else if let Some(a) = amount_after(l, "СУМА") {
            s.total = Some(a);
        }
    }
    s
}

/// The totals an X or Z report printed: by payment type, sales and returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ReportSummary {
    pub z: bool,
    #[ts(type = "number")]
    pub cash_sales: i64,
    #[ts(type = "number")]
    pub card_sales: i64,
    #[ts(type = "number")]
    pub cash_returns: i64,
    #[ts(type = "number")]
    pub card_returns: i64,
}

/// Summarise a read-back X or Z report (`None` for another document).
pub fn summarize_report(lines: &[String]) -> Option<ReportSummary> {
    let kind = summarize(lines).kind;
    if !matches!(kind, DocumentKind::XReport | DocumentKind::ZReport) {
        return None;
    }
    let mut r = ReportSummary {
        z: kind == DocumentKind::ZReport,
        ..ReportSummary::default()
    };
    for l in lines {
        if let Some(a) = amount_after(l, "ПОВЕРН. ГОТІВКА") {
            r.cash_returns = a;
        } else if let Some(a) = amount_after(l, "ПОВЕРН. КАРТКА") {
            r.card_returns = a;
        } else if let Some(a) = amount_after(l, "ГОТІВКА") {
            r.cash_sales = a;
        } else if let Some(a) = amount_after(l, "КАРТКА") {
            r.card_sales = a;
        }
    }
    Some(r)
}

#[cfg(test)]
mod summary_tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_mixed_receipt_is_card_and_cash_less_the_change() {
        let doc = lines(&[
            "ФІСКАЛЬНИЙ ЧЕК",
            "ПІДСУМОК                       10.03",
            "КАРТКА                          6.00",
            "ГОТІВКА                         5.00",
            "ЗАОКРУГЛЕННЯ -0.03",
            "РЕШТА                           1.00",
            "СУМА                           10.03",
        ]);
        let s = summarize(&doc);
        assert_eq!(
            (s.kind, s.total, s.card, s.cash),
            (DocumentKind::Sale, Some(1003), 600, 400)
        );
        let ret = summarize(&lines(&["ВИДАТКОВИЙ ЧЕК", "КАРТКА 10.00", "СУМА 10.00"]));
        assert_eq!((ret.kind, ret.card), (DocumentKind::Return, 1000));
        assert_eq!(
            summarize(&lines(&["ФІСКАЛЬНИЙ ЧЕК", "*** ЧЕК АНУЛЬОВАНО ***"])).kind,
            DocumentKind::Cancelled
        );
    }

    #[test]
    fn a_report_gives_its_totals_by_payment_type() {
        let z = lines(&[
            "Z-ЗВІТ №3",
            "ГОТІВКА 4.00",
            "КАРТКА 36.00",
            "ПОВЕРН. ГОТІВКА 1.50",
            "ПОВЕРН. КАРТКА 10.00",
        ]);
        let r = summarize_report(&z).unwrap();
        assert_eq!(
            (
                r.z,
                r.cash_sales,
                r.card_sales,
                r.cash_returns,
                r.card_returns
            ),
            (true, 400, 3600, 150, 1000)
        );
        assert!(summarize_report(&lines(&["ФІСКАЛЬНИЙ ЧЕК"])).is_none());
    }
}
