//! The fiscal receipt inside the emulator: open (sale 0x30, return 0x55 /
//! X 0x2B), sale lines, subtotal (UA `sum,rounded`), fiscal text, payment
//! (cash rounded to 0.10 on Ukrainian firmware; a card payment's slots read
//! in this firmware's order and printed as a labelled card block), close
//! (counters, tape, journal) and cancel.

use std::collections::HashMap;

use crate::dialect::{ErrorKind, Syntax};
use crate::rounding::round_cash;
use crate::settings::SlotField;
use crate::text::{self, money, quantity};

use super::{Device, LongFormRefusal, OpenReceipt, Outcome};

#[derive(Debug, Clone, Copy)]
pub(crate) enum Adj {
    None,
    Percent(i64),
    Amount(i64),
}

fn round_div(n: i128, d: i128) -> i64 {
    let r = if n >= 0 {
        (n + d / 2) / d
    } else {
        (n - d / 2) / d
    };
    i64::try_from(r).unwrap_or(i64::MAX)
}

/// Parses old sale data `name[LF name2] TAB tax price [*qty] [,perc|;abs]`.
pub(crate) fn parse_old_sale(s: &str) -> Option<(Vec<String>, String, i64, i64, Adj)> {
    let (names, rest) = s.split_once('\t')?;
    let names: Vec<String> = names.split('\n').map(str::to_string).collect();
    let mut chars = rest.chars();
    let tax = chars.next()?.to_string();
    let rest = chars.as_str();
    let (main, adj) = if let Some((m, a)) = rest.split_once(',') {
        (m, Adj::Percent(text::parse_money(a)?))
    } else if let Some((m, a)) = rest.split_once(';') {
        (m, Adj::Amount(text::parse_money(a)?))
    } else {
        (rest, Adj::None)
    };
    let (price, qty) = match main.split_once('*') {
        Some((p, q)) => (text::parse_money(p)?, text::parse_quantity(q)?),
        None => (text::parse_money(main)?, 1000),
    };
    if price < 0 || qty <= 0 {
        return None;
    }
    Some((names, tax, price, qty, adj))
}

/// An old-syntax payment: the text lines before the TAB, the paid code, the
/// amount, and the card slots after it (`D+12.50,<slot>,<slot>,...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OldPayment {
    pub texts: Vec<String>,
    pub code: String,
    pub amount: i64,
    pub slots: Option<Vec<String>>,
}

/// Parses old payment data `[Line1][LF Line2] TAB code[+]amount[,slot...]`.
pub(crate) fn parse_old_payment(s: &str) -> Option<OldPayment> {
    let (txt, rest) = s.rsplit_once('\t')?;
    let mut it = rest.chars();
    let code = it.next()?.to_string();
    let rest = it.as_str();
    let rest = rest.strip_prefix('+').unwrap_or(rest);
    let (amount, slots) = match rest.split_once(',') {
        Some((a, slots)) => (a, Some(slots.split(',').map(str::to_string).collect())),
        None => (rest, None),
    };
    let amount = text::parse_money(amount)?;
    let texts = txt
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    Some(OldPayment {
        texts,
        code,
        amount,
        slots,
    })
}

/// The printed card block: labelled lines in the receipt rules' order
/// (merchant, terminal, commission, operation, payment system, card, auth
/// code, RRN). Slots this firmware reads as `zero` / `empty` print nothing.
pub(crate) fn card_block(fields: &HashMap<SlotField, String>) -> Vec<String> {
    const ORDER: [(SlotField, &str); 9] = [
        (SlotField::Merchant, "ЕКВАЙР/ТОРГОВЕЦЬ"),
        (SlotField::TerminalId, "ТЕРМІНАЛ"),
        (SlotField::Commission, "КОМІСІЯ"),
        (SlotField::Operation, "ВИД ОПЕРАЦІЇ"),
        (SlotField::PaymentSystem, "ПЛАТІЖНА СИСТЕМА"),
        (SlotField::MaskedPan, "ЕПЗ"),
        (SlotField::AuthCode, "КОД АВТ."),
        (SlotField::Rrn, "RRN"),
        (SlotField::Invoice, "ЧЕК ТЕРМІНАЛУ"),
    ];
    ORDER
        .iter()
        .filter_map(|(f, label)| fields.get(f).map(|v| format!("{label}: {v}")))
        .collect()
}

impl Device {
    pub(super) fn receipt_state(&self) -> Vec<String> {
        let r = self.state.receipt.clone().unwrap_or_default();
        let open = if self.state.receipt.is_some() {
            "1"
        } else {
            "0"
        };
        let mut f = vec![open.to_string()];
        if self.d().syntax == Syntax::Tab {
            if r.return_of.is_some() {
                f[0] = "2".into();
            }
            f.push((self.state.counters.last_document + 1).to_string());
        }
        f.extend([r.items.to_string(), money(r.amount), money(r.credited())]);
        f
    }

    pub(super) fn open(&mut self, p: &[String], return_of: Option<u64>) -> Outcome {
        if p.len() < 3 {
            return Err(ErrorKind::Syntax);
        }
        self.printing_checks()?;
        let f = &self.config.faults;
        if f.fm_full {
            return Err(ErrorKind::FiscalMemoryFull);
        }
        if f.sam_error {
            return Err(ErrorKind::NotPermitted);
        }
        if self.shift_over() {
            return Err(ErrorKind::ShiftOver24h);
        }
        if self.state.receipt.is_some() || self.state.nonfiscal.is_some() {
            return Err(ErrorKind::ReceiptOpen);
        }
        self.password_ok(&p[1])?;
        let title = match return_of {
            None => "ФІСКАЛЬНИЙ ЧЕК".to_string(),
            Some(0) => "ВИДАТКОВИЙ ЧЕК".to_string(),
            Some(n) => format!("ВИДАТКОВИЙ ЧЕК (до №{n})"),
        };
        if self.state.counters.shift_opened.is_none() {
            self.state.counters.shift_opened = Some(self.now());
        }
        self.state.receipt = Some(OpenReceipt {
            return_of,
            ..OpenReceipt::default()
        });
        self.print(format!("КАСА {}  ЗН {}", p[2].trim(), self.config.serial));
        self.print(format!("КАСИР {}", p[0].trim()));
        self.print(title);
        self.save();
        let all = self.state.counters.last_document + 1;
        Ok(match self.d().syntax {
            Syntax::Comma => vec![
                all.to_string(),
                (self.state.counters.fiscal_receipts + 1).to_string(),
            ],
            Syntax::Tab => vec![all.to_string()],
        })
    }

    /// The open receipt, if nothing has been paid on it yet (sales and a
    /// cancel are allowed only then).
    fn unpaid_receipt(&self) -> std::result::Result<&OpenReceipt, ErrorKind> {
        let r = self
            .state
            .receipt
            .as_ref()
            .ok_or(ErrorKind::NoReceiptOpen)?;
        if r.paid > 0 {
            return Err(ErrorKind::NotPermitted);
        }
        Ok(r)
    }

    pub(super) fn sale(&mut self, data: &[u8], p: &[String]) -> Outcome {
        let r = self.unpaid_receipt()?;
        let line_no = r.items + 1;
        self.printing_checks()?;
        if self.config.faults.paper_out_at_line == Some(line_no) {
            self.config.faults.paper_out_at_line = None;
            self.paper_out = true;
            self.paper_out_since = Some(std::time::Instant::now());
            return Err(ErrorKind::PaperOut);
        }
        let (name_lines, tax, price, qty, adj) = match self.d().syntax {
            Syntax::Comma => parse_old_sale(&text::from_cp1251(data)).ok_or(ErrorKind::Syntax)?,
            Syntax::Tab => {
                if p.len() < 4 {
                    return Err(ErrorKind::Syntax);
                }
                let price = text::parse_money(&p[2]).ok_or(ErrorKind::Syntax)?;
                let qty = if p[3].trim().is_empty() {
                    1000
                } else {
                    text::parse_quantity(&p[3]).ok_or(ErrorKind::Syntax)?
                };
                let v = p.get(5).and_then(|s| text::parse_money(s)).unwrap_or(0);
                let adj = match p.get(4).map(|s| s.trim()) {
                    Some("1") => Adj::Percent(v),
                    Some("2") => Adj::Percent(-v),
                    Some("3") => Adj::Amount(v),
                    Some("4") => Adj::Amount(-v),
                    _ => Adj::None,
                };
                (vec![p[0].clone()], p[1].clone(), price, qty, adj)
            }
        };
        let d = self.d();
        let ti = d.tax_index_of(tax.trim()).ok_or(ErrorKind::Syntax)?;
        if name_lines
            .iter()
            .any(|l| l.chars().count() > d.item_name_width)
            || name_lines.len() > d.item_name_lines
        {
            return Err(ErrorKind::Syntax);
        }
        let base = round_div(i128::from(price) * i128::from(qty), 1000);
        let delta = match adj {
            Adj::None => 0,
            Adj::Percent(pc) => round_div(i128::from(base) * i128::from(pc), 10_000),
            Adj::Amount(a) => a,
        };
        let total = base + delta;
        if total < 0 {
            return Err(ErrorKind::Overflow);
        }
        for l in &name_lines {
            self.print(l.clone());
        }
        if qty != 1000 {
            self.print(format!("  {} x {}", quantity(qty), money(price)));
        }
        if delta != 0 {
            let what = if delta < 0 {
                "ЗНИЖКА"
            } else {
                "НАДБАВКА"
            };
            self.print(format!("  {what} {}", money(delta)));
        }
        let letter = text::tax_letter(ti);
        self.print(format!(
            "{:>w$} {letter}",
            money(total),
            w = self.d().line_width - 2
        ));
        if let Some(r) = self.state.receipt.as_mut() {
            r.items += 1;
            r.amount += total;
            r.tax[ti] += total;
        }
        self.save();
        Ok(Vec::new())
    }

    /// 0x33: prints the subtotal; UA answers `sum,rounded`, the generic old
    /// syntax `sum,taxA..E`, X `slip,sum,taxA..E`.
    pub(super) fn subtotal(&mut self) -> Outcome {
        let r = self
            .state
            .receipt
            .as_ref()
            .ok_or(ErrorKind::NoReceiptOpen)?;
        let amount = r.amount;
        let tax = r.tax;
        self.printing_checks()?;
        let w = self.d().line_width - 8;
        self.print(format!("ПІДСУМОК{:>w$}", money(amount)));
        self.save();
        let mut f = Vec::new();
        if self.d().syntax == Syntax::Tab {
            f.push((self.state.counters.last_document + 1).to_string());
        }
        f.push(money(amount));
        if self.d().subtotal_rounded_field.is_some() {
            f.push(money(round_cash(amount)));
        } else {
            f.extend(tax.iter().map(|t| money(*t)));
        }
        Ok(f)
    }

    pub(super) fn print_text(&mut self, data: &[u8], p: &[String]) -> Outcome {
        self.state
            .receipt
            .as_ref()
            .ok_or(ErrorKind::NoReceiptOpen)?;
        self.printing_checks()?;
        let t = match self.d().syntax {
            Syntax::Tab => p.first().cloned().unwrap_or_default(),
            Syntax::Comma => text::from_cp1251(data),
        };
        if t.chars().count() > self.d().text_width {
            return Err(ErrorKind::Syntax);
        }
        self.print(t);
        self.save();
        Ok(Vec::new())
    }

    /// Reads card slots in this firmware's order.
    pub(super) fn read_slots(
        &self,
        slots: &[String],
    ) -> std::result::Result<HashMap<SlotField, String>, ErrorKind> {
        let order = &self.config.slot_order;
        if slots.len() != order.len() {
            return Err(ErrorKind::Syntax);
        }
        Ok(order
            .iter()
            .zip(slots)
            .filter(|(f, _)| !matches!(f, SlotField::Zero | SlotField::Empty))
            .map(|(f, v)| (*f, v.trim().to_string()))
            .collect())
    }

    pub(super) fn payment(&mut self, data: &[u8], p: &[String]) -> Outcome {
        let r = self
            .state
            .receipt
            .as_ref()
            .ok_or(ErrorKind::NoReceiptOpen)?;
        if r.items == 0 || r.settled {
            return Err(ErrorKind::NotPermitted);
        }
        self.printing_checks()?;
        let d = self.d().clone();
        let pay = match d.syntax {
            Syntax::Comma => {
                parse_old_payment(&text::from_cp1251(data)).ok_or(ErrorKind::Syntax)?
            }
            Syntax::Tab => OldPayment {
                texts: Vec::new(),
                code: p.first().cloned().ok_or(ErrorKind::Syntax)?,
                amount: p
                    .get(1)
                    .and_then(|s| text::parse_money(s))
                    .ok_or(ErrorKind::Syntax)?,
                slots: None,
            },
        };
        let kind = if pay.code == d.cash_code {
            0
        } else if pay.code == d.card_code {
            1
        } else {
            return Err(ErrorKind::Syntax);
        };
        let amount = pay.amount;
        if amount <= 0
            || pay.texts.len() > 2
            || pay.texts.iter().any(|t| t.chars().count() > d.text_width)
        {
            return Err(ErrorKind::Syntax);
        }
        let remaining = r.amount - r.paid;
        let block = match &pay.slots {
            None => None,
            // Card data rides only on a card payment.
            Some(_) if kind == 0 => return Err(ErrorKind::Syntax),
            Some(slots) => match self.config.faults.refuse_long_form {
                LongFormRefusal::Syntax => return Err(ErrorKind::Syntax),
                LongFormRefusal::PaidF => return Ok(vec![format!("F{}", money(remaining))]),
                LongFormRefusal::Off => Some(card_block(&self.read_slots(slots)?)),
            },
        };
        if kind == 1 && amount > remaining {
            // No change can be given on a card.
            return Err(ErrorKind::NotPermitted);
        }
        for t in pay.texts {
            self.print(t);
        }
        let label = if kind == 0 {
            "ГОТІВКА"
        } else {
            "КАРТКА"
        };
        self.print(format!(
            "{label}{:>w$}",
            money(amount),
            w = d.line_width - label.chars().count()
        ));
        for l in block.unwrap_or_default() {
            self.print(l);
        }
        // Cash settles the receipt once it covers the rest rounded to 0.10
        // (Ukrainian firmware); a card only at the exact sum.
        let due = if kind == 0 && d.cash_rounding {
            round_cash(remaining)
        } else {
            remaining
        };
        let Some(r) = self.state.receipt.as_mut() else {
            return Err(ErrorKind::NoReceiptOpen);
        };
        r.paid += amount;
        r.by_type[kind] += amount;
        let mut printed = Vec::new();
        if amount >= due {
            r.settled = true;
            r.rounding = due - remaining;
            if r.rounding != 0 {
                printed.push(format!("ЗАОКРУГЛЕННЯ {}", money(r.rounding)));
            }
            let change = amount - due;
            if change > 0 {
                printed.push(format!("РЕШТА{:>w$}", money(change), w = d.line_width - 5));
            }
        }
        let (settled, change, left) =
            (r.settled, r.paid - r.amount - r.rounding, r.amount - r.paid);
        for l in printed {
            self.print(l);
        }
        self.save();
        let (code, rest) = if settled { ("R", change) } else { ("D", left) };
        Ok(match d.syntax {
            Syntax::Comma => vec![format!("{code}{}", money(rest))],
            Syntax::Tab => vec![code.to_string(), money(rest)],
        })
    }

    pub(super) fn close(&mut self) -> Outcome {
        let r = self
            .state
            .receipt
            .as_ref()
            .ok_or(ErrorKind::NoReceiptOpen)?;
        if !r.settled || r.items == 0 {
            return Err(ErrorKind::NotPermitted);
        }
        self.printing_checks()?;
        let w = self.d().line_width;
        let amount = r.amount;
        self.print(format!("СУМА{:>w$}", money(amount), w = w - 4));
        let c = &mut self.state.counters;
        c.last_document += 1;
        let number = c.last_document;
        let Some(r) = self.state.receipt.take() else {
            return Err(ErrorKind::NoReceiptOpen);
        };
        let c = &mut self.state.counters;
        let change = r.paid - r.amount - r.rounding;
        let kind = match r.return_of {
            None => {
                c.fiscal_receipts += 1;
                for i in 0..5 {
                    c.day_sales[i] += r.tax[i];
                }
                c.day_paid[0] += r.by_type[0] - change;
                c.day_paid[1] += r.by_type[1];
                c.day_rounding += r.rounding;
                "sale"
            }
            Some(_) => {
                c.return_receipts += 1;
                for i in 0..5 {
                    c.day_returns[i] += r.tax[i];
                }
                c.day_refunded[0] += r.by_type[0] - change;
                c.day_refunded[1] += r.by_type[1];
                c.day_rounding -= r.rounding;
                "return"
            }
        };
        let fiscal = c.fiscal_receipts + c.return_receipts;
        let mut lines = r.lines;
        lines.push(format!(
            "ЧЕК №{number}  {}",
            self.now().format("%d.%m.%Y %H:%M:%S")
        ));
        lines.push(format!("ФН {}", self.config.fiscal_memory));
        lines.push("ФІСКАЛЬНИЙ ЧЕК".into());
        self.finish_numbered(number, kind, lines, 3);
        self.save();
        Ok(match self.d().syntax {
            Syntax::Comma => vec![number.to_string(), fiscal.to_string()],
            Syntax::Tab => vec![number.to_string()],
        })
    }

    pub(super) fn cancel(&mut self) -> Outcome {
        self.unpaid_receipt()?;
        let mut lines = self
            .state
            .receipt
            .take()
            .map(|r| r.lines)
            .unwrap_or_default();
        lines.push("*** ЧЕК АНУЛЬОВАНО ***".into());
        self.finish_document(lines, 1);
        self.save();
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_sale_parsing() {
        let (n, t, p, q, _) = parse_old_sale("Bread\tA1.50*2.000").unwrap();
        assert_eq!(
            (n, t.as_str(), p, q),
            (vec!["Bread".to_string()], "A", 150, 2000)
        );
        let (n, t, p, q, a) = parse_old_sale("Хліб\nбілий\tБ12.50,-10.00").unwrap();
        assert_eq!((n.len(), t.as_str(), p, q), (2, "Б", 1250, 1000));
        assert!(matches!(a, Adj::Percent(-1000)));
        assert!(parse_old_sale("no tab").is_none());
        assert!(parse_old_sale("x\tA1.5x").is_none());
    }

    #[test]
    fn old_payment_parsing() {
        let p = parse_old_payment("\n\tD+12.50,1,Магазин,T,VISA,оплата,4149,6543,0.00").unwrap();
        assert_eq!((p.code.as_str(), p.amount), ("D", 1250));
        assert!(p.texts.is_empty());
        assert_eq!(p.slots.as_ref().map(Vec::len), Some(8));
        let p = parse_old_payment("RRN 1\nКОД 2\tD3.00").unwrap();
        assert_eq!(p.texts, vec!["RRN 1", "КОД 2"]);
        assert_eq!((p.code.as_str(), p.amount, p.slots), ("D", 300, None));
        assert!(parse_old_payment("D3.00").is_none());
        assert!(parse_old_payment("\tDx").is_none());
    }
}
