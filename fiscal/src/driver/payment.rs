//! The payment command (0x35) and how card data rides in it.
//!
//! - `slots` (the `ua-fp-t260` default, reference §7.8): `LF TAB D+<amount>`
//!   followed by comma-separated slots in the order of the template
//!   (`<rrn>,<merchant>,<tid>,<payment system>,<operation>,<masked
//!   pan>,<auth>,<commission>`). Every value is cleaned (no TAB / LF /
//!   commas, which would shift every later slot: no escape is known), the
//!   PAN is masked if it was not, identifying values that are too long are an
//!   error, descriptive ones are cut, and the whole DATA must stay within 213
//!   bytes. When the register refuses the long form (syntax bit 0.0, or paid
//!   code `F`), the driver prints the card data as fiscal text lines (0x36)
//!   and pays plain `D+<amount>`, says so in the result, and keeps doing so
//!   for the next receipts.
//! - `payment_text` / `text_lines` / `both`: the older modes, byte for byte
//!   as before (`Line1 LF Line2 TAB D<amount>` and/or 0x36 lines).
//! - Cash: `LF TAB P+<amount>` in `slots` mode, `TAB P<amount>` otherwise.
//!
//! The X family's payment is `code TAB amount TAB TAB`; its card data always
//! goes as text lines.

use crate::dialect::{CardDataMode, Dialect, Syntax};
use crate::settings::{CardDataSettings, CommissionSource, MerchantSource, SlotField};
use crate::text::{self, money};
use crate::{CardOperation, CardSlip, Error, Payment, Result};

use super::{PayResult, Session};

/// The most DATA bytes a request may carry (reference §1.1).
pub const MAX_DATA: usize = 213;

/// The operation word for an operation.
pub fn operation_word(s: &CardDataSettings, op: CardOperation) -> &str {
    match op {
        CardOperation::Sale => &s.words.sale,
        CardOperation::Refund => &s.words.refund,
        CardOperation::CashOut => &s.words.cash_out,
    }
}

/// A slot value without what would break the comma syntax: TAB, LF, other
/// control characters and commas become spaces, runs of spaces one space.
pub fn clean_slot(value: &str) -> String {
    value
        .chars()
        .map(|c| if c == ',' || c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Masks a card number that came unmasked: of more than 10 digits, only the
/// first 6 and the last 4 stay. Only masked numbers ever leave Kasa.
pub fn mask_pan(pan: &str) -> String {
    let digits = pan.chars().filter(char::is_ascii_digit).count();
    if digits <= 10 {
        return pan.to_string();
    }
    let mut seen = 0;
    pan.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen > 6 && seen <= digits - 4 {
                    return '*';
                }
            }
            c
        })
        .collect()
}

/// The value of one slot for a card slip.
pub fn slot_value(
    s: &CardDataSettings,
    field: SlotField,
    card: &CardSlip,
    op: CardOperation,
) -> Result<String> {
    let raw = match field {
        SlotField::Rrn => card.rrn.clone(),
        SlotField::Merchant => match s.merchant_source {
            MerchantSource::TerminalMid if !card.merchant_id.trim().is_empty() => {
                card.merchant_id.clone()
            }
            _ => s.merchant_name.clone(),
        },
        SlotField::TerminalId => card.terminal_id.clone(),
        SlotField::PaymentSystem => {
            if card.payment_system.trim().is_empty() {
                s.unknown_payment_system.clone()
            } else {
                card.payment_system.clone()
            }
        }
        SlotField::Operation => operation_word(s, op).to_string(),
        SlotField::MaskedPan => mask_pan(&card.masked_pan),
        SlotField::AuthCode => card.auth_code.clone(),
        SlotField::Commission => match s.commission {
            CommissionSource::Zero => money(0),
            CommissionSource::Reported => money(card.commission.unwrap_or(0)),
            CommissionSource::Off => String::new(),
        },
        SlotField::Invoice => card.invoice.clone(),
        SlotField::Zero => "0".into(),
        SlotField::Empty => String::new(),
    };
    fit(
        field.name(),
        &clean_slot(&raw),
        field.max_chars(),
        field.may_be_cut(),
    )
}

/// Checks a cleaned value against its limit: cut where allowed, else an
/// error naming the field.
pub fn fit(field: &str, value: &str, max: usize, may_cut: bool) -> Result<String> {
    let len = value.chars().count();
    if len <= max {
        return Ok(value.to_string());
    }
    if may_cut {
        return Ok(text::cut(value, max).trim_end().to_string());
    }
    Err(Error::CardDataTooLong {
        field: field.to_string(),
        len,
        max,
    })
}

/// The slot values of a card slip in the template's order.
pub fn card_slot_values(
    s: &CardDataSettings,
    card: &CardSlip,
    op: CardOperation,
) -> Result<Vec<String>> {
    s.template
        .iter()
        .map(|f| slot_value(s, *f, card, op))
        .collect()
}

/// DATA of a card payment with slots: prefix, letter, `+`, amount, then
/// `,value` per slot. Values must be cleaned already; DATA over 213 bytes
/// is an error.
pub fn encode_slot_payment(d: &Dialect, amount: i64, values: &[String]) -> Result<Vec<u8>> {
    let mut s = plain_text(d, d.card_letter(), d.settings.card.plus, amount);
    for v in values {
        s.push(',');
        s.push_str(v);
    }
    within_limit(text::to_cp1251(&s))
}

fn within_limit(bytes: Vec<u8>) -> Result<Vec<u8>> {
    if bytes.len() > MAX_DATA {
        return Err(Error::CardDataTooLong {
            field: "data".into(),
            len: bytes.len(),
            max: MAX_DATA,
        });
    }
    Ok(bytes)
}

fn plain_text(d: &Dialect, letter: &str, plus: bool, amount: i64) -> String {
    let mut s = d.settings.card.prefix.clone();
    s.push_str(letter);
    if plus {
        s.push('+');
    }
    s.push_str(&money(amount));
    s
}

/// DATA of the card cash-out command (0x46 `-<amount>&` then the slots
/// separated by commas; unconfirmed on an FP-T260).
pub fn encode_card_cash_out(amount: i64, values: &[String]) -> Result<Vec<u8>> {
    let s = format!("-{}&{}", money(amount), values.join(","));
    within_limit(text::to_cp1251(&s))
}

/// True when the slip carries card data worth printing (else a bare `D`).
pub fn card_has_data(card: &CardSlip) -> bool {
    !(card.rrn.trim().is_empty() && card.auth_code.trim().is_empty())
}

/// The card data as receipt text lines (Ukrainian labels), each cut to
/// `width`: what the fallback and the `text_lines` mode print with 0x36.
pub fn card_text_lines(card: &CardSlip, op_word: &str, width: usize) -> Vec<String> {
    let mut lines = vec![
        format!("RRN: {}", card.rrn),
        format!("КОД АВТ.: {}", card.auth_code),
        format!("КАРТКА: {}", mask_pan(&card.masked_pan)),
        format!("ТЕРМІНАЛ: {}", card.terminal_id),
        format!("ЧЕК: {}", card.invoice),
    ];
    if !card.payment_system.trim().is_empty() {
        lines.push(format!("ПЛАТІЖНА СИСТЕМА: {}", card.payment_system));
    }
    if !op_word.is_empty() {
        lines.push(format!("ОПЕРАЦІЯ: {op_word}"));
    }
    lines
        .into_iter()
        .map(|l| text::cut(&text::sanitize(&l, false), width))
        .collect()
}

/// The card data as the two text lines of an old-syntax payment command.
pub fn card_payment_text(card: &CardSlip, width: usize) -> [String; 2] {
    let l1 = format!("RRN {} КОД {}", card.rrn, card.auth_code);
    let l2 = format!(
        "{} Т{} Ч{}",
        mask_pan(&card.masked_pan),
        card.terminal_id,
        card.invoice
    );
    [
        text::cut(&text::sanitize(&l1, true), width),
        text::cut(&text::sanitize(&l2, true), width),
    ]
}

/// DATA of a payment in this dialect and mode, without slots (cash, a bare
/// card payment, the fallback, the older modes).
pub fn plain_payment_data(d: &Dialect, payment: &Payment, with_text: bool) -> Vec<u8> {
    let (code, plus, amount, card) = match payment {
        Payment::Cash { amount } => (d.cash_letter(), d.settings.cash.plus, *amount, None),
        Payment::Card { amount, card } => {
            (d.card_letter(), d.settings.card.plus, *amount, Some(card))
        }
    };
    match d.syntax {
        Syntax::Tab => d.params(&[code, &money(amount), ""]),
        Syntax::Comma if d.card_mode() == CardDataMode::Slots => {
            text::to_cp1251(&plain_text(d, code, plus, amount))
        }
        Syntax::Comma => {
            let mut s = String::new();
            if let (Some(card), true) = (card, with_text) {
                let [l1, l2] = card_payment_text(card, d.text_width);
                s.push_str(&l1);
                s.push('\n');
                s.push_str(&l2);
            }
            s.push('\t');
            s.push_str(code);
            s.push_str(&money(amount));
            text::to_cp1251(&s)
        }
    }
}

/// The paid code and amount of a payment reply (old: `R0.00` or `R,0.00`;
/// X: `R`, `0.00`).
fn parse_pay_reply(d: &Dialect, f: &[String]) -> (char, Option<i64>) {
    match d.syntax {
        Syntax::Comma => {
            let s = f.first().cloned().unwrap_or_default();
            let mut it = s.chars();
            let c = it.next().unwrap_or(' ');
            let rest: String = it.collect();
            let rest = if rest.trim().is_empty() {
                f.get(1).cloned().unwrap_or_default()
            } else {
                rest
            };
            (c, text::parse_money(rest.trim().trim_start_matches('+')))
        }
        Syntax::Tab => (
            f.first().and_then(|s| s.chars().next()).unwrap_or(' '),
            f.get(1).and_then(|s| text::parse_money(s)),
        ),
    }
}

/// Maps a paid code: `D` still due, `R` paid (change), `F` refused, `E`
/// negative subtotal, `I` a negative tax group.
fn paid_code(cmd: u16, code: char, amount: i64) -> Result<PayResult> {
    match code {
        'D' => Ok(PayResult::Remaining(amount)),
        'R' => Ok(PayResult::Change(amount)),
        'F' => Err(Error::NotPermitted { cmd }),
        'E' => Err(Error::Device {
            code: "negative_subtotal".into(),
            message: "the subtotal is negative".into(),
        }),
        'I' => Err(Error::Device {
            code: "negative_tax_group".into(),
            message: "a tax group total is negative".into(),
        }),
        _ => Err(Error::Protocol(format!("payment reply code {code:?}"))),
    }
}

/// Why a long-form payment was refused, if it was a refusal of the form.
enum Refusal {
    Syntax,
    PaidF,
}

impl Session {
    /// Sends one payment command with the given DATA; the paid code and
    /// amount as the register answered.
    async fn pay_reply(&mut self, data: &[u8]) -> Result<(char, i64)> {
        let cmd = self.d.cmd.payment;
        let (f, _) = self.call(cmd, data, true).await?;
        let (code, amount) = parse_pay_reply(&self.d, &f);
        let amount = amount.ok_or_else(|| Error::Protocol(format!("payment reply {f:?}")))?;
        Ok((code, amount))
    }

    /// Sends one payment command and maps the paid code.
    pub(super) async fn pay_data(&mut self, data: &[u8]) -> Result<PayResult> {
        let (code, amount) = self.pay_reply(data).await?;
        paid_code(self.d.cmd.payment, code, amount)
    }

    /// Pays one payment with the dialect's card data mode. The card's text
    /// lines of the `text_lines` / `both` modes are printed by the receipt
    /// session before this (their own step); the fallback prints them here.
    /// Returns the answer and whether the card data went as text.
    pub(super) async fn pay(&mut self, payment: &Payment) -> Result<(PayResult, bool)> {
        if payment.amount() <= 0 {
            return Err(Error::InvalidRequest("a payment must be positive".into()));
        }
        let Payment::Card { amount, card } = payment else {
            let data = plain_payment_data(&self.d, payment, false);
            return Ok((self.pay_data(&data).await?, false));
        };
        let mode = self.d.card_mode();
        if mode != CardDataMode::Slots || !card_has_data(card) {
            let with_text = matches!(mode, CardDataMode::PaymentText | CardDataMode::Both);
            let data = plain_payment_data(&self.d, payment, with_text);
            return Ok((self.pay_data(&data).await?, false));
        }
        let op = self.operation_for(card);
        if !self.d.settings.card.long_form_refused {
            let values = card_slot_values(&self.d.settings.card, card, op)?;
            let data = encode_slot_payment(&self.d, *amount, &values)?;
            // Only a syntax error or paid code F is a refusal of the form;
            // "not permitted" by status (no receipt, card over the sum) is
            // an error of its own and changes nothing remembered.
            let refusal = match self.pay_reply(&data).await {
                Ok(('F', _)) => Refusal::PaidF,
                Ok((code, amount)) => {
                    return Ok((paid_code(self.d.cmd.payment, code, amount)?, false))
                }
                Err(Error::Syntax { .. }) => Refusal::Syntax,
                Err(e) => return Err(e),
            };
            if !self.d.settings.card.fallback_to_text {
                return Err(match refusal {
                    Refusal::Syntax => Error::Syntax {
                        cmd: self.d.cmd.payment,
                    },
                    Refusal::PaidF => Error::NotPermitted {
                        cmd: self.d.cmd.payment,
                    },
                });
            }
            // Remembered for the next receipts of this driver; the caller
            // can persist it through `dialect_settings()`.
            self.d.settings.card.long_form_refused = true;
        }
        let word = operation_word(&self.d.settings.card, op).to_string();
        for l in card_text_lines(card, &word, self.d.text_width) {
            self.print_text(&l).await?;
        }
        let data = plain_payment_data(&self.d, payment, false);
        Ok((self.pay_data(&data).await?, true))
    }

    /// The operation a card slip stands for on the receipt being printed: a
    /// return receipt always says "refund" unless the slip says cash-out.
    pub(super) fn operation_for(&self, card: &CardSlip) -> CardOperation {
        match (self.in_return, card.operation) {
            (true, CardOperation::Sale) => CardOperation::Refund,
            (_, op) => op,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::EXELLIO_TEMPLATE;

    fn card() -> CardSlip {
        CardSlip {
            rrn: "123456789012".into(),
            auth_code: "654321".into(),
            masked_pan: "414943******8717".into(),
            terminal_id: "T1234567".into(),
            payment_system: "VISA".into(),
            ..CardSlip::default()
        }
    }

    #[test]
    fn values_are_cleaned_cut_or_refused() {
        let s = CardDataSettings::default();
        let mut c = card();
        c.payment_system = "VISA, Inc.\tDebit".into();
        assert_eq!(
            slot_value(&s, SlotField::PaymentSystem, &c, CardOperation::Sale).unwrap(),
            "VISA Inc. Debit"
        );
        c.rrn = "1".repeat(30);
        let e = slot_value(&s, SlotField::Rrn, &c, CardOperation::Sale).unwrap_err();
        assert_eq!(e.code(), "card_data_too_long");
        assert_eq!(mask_pan("4149431234568717"), "414943******8717");
        assert_eq!(mask_pan("414943******8717"), "414943******8717");
        assert_eq!(mask_pan("4149 4312 3456 8717"), "4149 43** **** 8717");
    }

    #[test]
    fn the_merchant_slot_is_the_terminals_mid_when_it_reported_one() {
        let mut s = CardDataSettings::default();
        assert_eq!(s.merchant_source, MerchantSource::TerminalMid);
        let merchant = |s: &CardDataSettings, mid: &str| {
            let c = CardSlip {
                merchant_id: mid.into(),
                ..card()
            };
            slot_value(s, SlotField::Merchant, &c, CardOperation::Sale).unwrap()
        };
        assert_eq!(merchant(&s, "MID000123"), "MID000123");
        assert_eq!(merchant(&s, "  "), "Магазин");
        s.merchant_source = MerchantSource::Name;
        assert_eq!(merchant(&s, "MID000123"), "Магазин");
    }

    #[test]
    fn data_of_exactly_the_limit_is_sent_one_byte_more_is_refused() {
        let d = Dialect::ua_fp_t260();
        let head = encode_slot_payment(&d, 1250, &[]).unwrap().len();
        // One value of the length that brings DATA to exactly MAX_DATA bytes
        // (its comma included), then one byte more.
        let fill = |n: usize| vec!["1".repeat(n)];
        let exact = encode_slot_payment(&d, 1250, &fill(MAX_DATA - head - 1)).unwrap();
        assert_eq!(exact.len(), MAX_DATA);
        let e = encode_slot_payment(&d, 1250, &fill(MAX_DATA - head)).unwrap_err();
        assert_eq!(e.code(), "card_data_too_long");
        assert!(encode_card_cash_out(500, &fill(MAX_DATA)).is_err());
    }

    #[test]
    fn a_slip_has_data_when_it_has_an_rrn_or_an_auth_code() {
        let with = |rrn: &str, auth: &str| CardSlip {
            rrn: rrn.into(),
            auth_code: auth.into(),
            ..card()
        };
        assert!(card_has_data(&with("123456789012", "654321")));
        assert!(card_has_data(&with("123456789012", " ")));
        assert!(card_has_data(&with("", "654321")));
        assert!(!card_has_data(&with(" ", "")));
    }

    #[test]
    fn the_text_lines_name_the_payment_system_and_operation_only_when_known() {
        let lines = card_text_lines(&card(), "оплата", 36);
        assert_eq!(lines[0], "RRN: 123456789012");
        assert_eq!(lines[2], "КАРТКА: 414943******8717");
        assert_eq!(lines[5], "ПЛАТІЖНА СИСТЕМА: VISA");
        assert_eq!(lines[6], "ОПЕРАЦІЯ: оплата");
        assert_eq!(lines.len(), 7);
        let bare = CardSlip {
            payment_system: " ".into(),
            ..card()
        };
        let lines = card_text_lines(&bare, "", 36);
        assert_eq!(lines.len(), 5);
        assert!(lines
            .iter()
            .all(|l| !l.starts_with("ПЛАТІЖНА") && !l.starts_with("ОПЕРАЦІЯ")));
        // Each line is cut to the width.
        assert!(card_text_lines(&card(), "оплата", 10)
            .iter()
            .all(|l| l.chars().count() <= 10));
    }

    #[test]
    fn each_paid_code_is_its_own_answer() {
        assert!(matches!(
            paid_code(0x35, 'D', 250),
            Ok(PayResult::Remaining(250))
        ));
        assert!(matches!(
            paid_code(0x35, 'R', 50),
            Ok(PayResult::Change(50))
        ));
        let code = |c| match paid_code(0x35, c, 0) {
            Err(Error::Device { code, .. }) => code,
            Err(e) => e.code().to_string(),
            Ok(r) => format!("{r:?}"),
        };
        assert_eq!(code('F'), "not_permitted");
        assert_eq!(code('E'), "negative_subtotal");
        assert_eq!(code('I'), "negative_tax_group");
        assert_eq!(code('X'), "protocol");
    }

    #[test]
    fn a_plain_card_payment_carries_its_text_only_in_the_text_modes() {
        let pay = Payment::Card {
            amount: 1250,
            card: card(),
        };
        let data = |mode, with_text| {
            let mut d = Dialect::ua_fp_t260();
            d.settings.card.mode = mode;
            text::from_cp1251(&plain_payment_data(&d, &pay, with_text))
        };
        // Slots: the payment alone (the slots are added by the slot form).
        assert_eq!(data(CardDataMode::Slots, true), "\n\tD+12.50");
        // Old syntax: two text lines, TAB, the letter and the amount.
        let with_text = "RRN 123456789012 КОД 654321\n414943******8717 ТT1234567 Ч\tD12.50";
        assert_eq!(data(CardDataMode::PaymentText, true), with_text);
        assert_eq!(data(CardDataMode::Both, true), with_text);
        assert_eq!(data(CardDataMode::PaymentText, false), "\tD12.50");
        let cash = Payment::Cash { amount: 500 };
        let d = Dialect::ua_fp_t260();
        assert_eq!(
            text::from_cp1251(&plain_payment_data(&d, &cash, true)),
            "\n\tP+5.00"
        );
    }

    #[test]
    fn another_template_is_only_configuration() {
        let mut d = Dialect::ua_fp_t260();
        d.settings.card.template = EXELLIO_TEMPLATE.to_vec();
        let v = card_slot_values(&d.settings.card, &card(), CardOperation::Sale).unwrap();
        assert_eq!(
            v,
            vec![
                "654321",
                "0",
                "T1234567",
                "0",
                "VISA",
                "414943******8717",
                "123456789012",
                "0"
            ]
        );
    }
}
