//! One method per register command: what DATA it sends in each syntax and
//! how its reply is read. No receipt logic here (see `receipt`).

use chrono::NaiveDateTime;

use crate::dialect::Syntax;
use crate::health::{ModemState, ShiftState};
use crate::text::{self, money, quantity};
use crate::{
    readback, CardOperation, CardSlip, CashTotals, DeviceInfo, DeviceStatus, Error,
    PrintedDocument, ReceiptState, ReportTotals, Result, Subtotal,
};

use super::payment::{card_slot_values, encode_card_cash_out};
use super::receipt::Kind;
use super::{int, num, parse_datetime, parse_diagnostic, Adjustment, SaleItem, Session};

/// At most this many lines are read back from one journal document.
pub const MAX_JOURNAL_LINES: usize = 500;

fn unsupported(what: &str) -> Error {
    Error::InvalidRequest(format!("this register does not support {what}"))
}

impl Session {
    pub(super) async fn status(&mut self) -> Result<DeviceStatus> {
        let (_, st) = self.call(self.d.cmd.status, b"", false).await?;
        Ok(self.device_status(&st))
    }

    pub(super) async fn diagnostic(&mut self) -> Result<DeviceInfo> {
        let data = self.d.diagnostic_param.as_bytes().to_vec();
        let (f, _) = self.call(self.d.cmd.diagnostic, &data, false).await?;
        Ok(parse_diagnostic(&self.d, &f))
    }

    pub(super) async fn read_datetime(&mut self) -> Result<NaiveDateTime> {
        let (f, _) = self.call(self.d.cmd.read_datetime, b"", false).await?;
        let t = f.first().map(|s| s.trim()).unwrap_or("");
        parse_datetime(t).ok_or_else(|| Error::Protocol(format!("unreadable date-time {t:?}")))
    }

    pub(super) async fn set_datetime(&mut self, t: NaiveDateTime) -> Result<()> {
        let s = t.format("%d-%m-%y %H:%M:%S").to_string();
        let data = self.params(&[&s]);
        self.call(self.d.cmd.set_datetime, &data, false)
            .await
            .map(|_| ())
    }

    pub(super) async fn last_document(&mut self) -> Result<u64> {
        let (f, _) = self.call(self.d.cmd.last_document, b"", false).await?;
        int(&f, 0, "document number")
    }

    pub(super) async fn receipt_state(&mut self) -> Result<ReceiptState> {
        let (f, st) = self.call(self.d.cmd.receipt_state, b"", false).await?;
        // Old: Open,Items,Amount,Paid. X: IsOpen, Number, Items, Amount, Paid.
        let base = match self.d.syntax {
            Syntax::Comma => 0,
            Syntax::Tab => 1,
        };
        let open_flag = int(&f, 0, "open flag")?;
        let is_return = match self.d.syntax {
            // X: 2-4 are the storno kinds.
            Syntax::Tab => open_flag >= 2,
            // UA: status bit 1.3 "return receipt open".
            Syntax::Comma => self.d.status_has(&st, "return_receipt_open"),
        };
        Ok(ReceiptState {
            open: open_flag != 0,
            is_return,
            items: int(&f, base + 1, "item count")? as u32,
            amount: num(&f, base + 2, "amount")?,
            paid: num(&f, base + 3, "paid amount")?,
        })
    }

    pub(super) async fn open_receipt(&mut self, kind: Kind) -> Result<()> {
        self.open_receipt_as(kind, None).await
    }

    /// Open a receipt as `operator` (with its configured password), or as
    /// the configured operator.
    pub(super) async fn open_receipt_as(
        &mut self,
        kind: Kind,
        operator: Option<u32>,
    ) -> Result<()> {
        let (op, pwd) = match operator {
            Some(n) if n.to_string() != self.opts.operator => (
                n.to_string(),
                self.opts
                    .operator_passwords
                    .get(&n)
                    .cloned()
                    .unwrap_or_else(|| self.opts.password.clone()),
            ),
            _ => (self.opts.operator.clone(), self.opts.password.clone()),
        };
        let till = self.opts.till.clone();
        let r = match kind {
            Kind::Sale => {
                let data = match self.d.syntax {
                    Syntax::Comma => self.params(&[&op, &pwd, &till]),
                    Syntax::Tab => self.params(&[&op, &pwd, &till, ""]),
                };
                self.call(self.d.cmd.open_receipt, &data, true).await
            }
            Kind::Return { original } => {
                let orig = original.to_string();
                let data = match self.d.syntax {
                    // UA 0x55 takes the same parameters as 0x30 (§7.3).
                    Syntax::Comma => self.params(&[&op, &pwd, &till]),
                    Syntax::Tab => {
                        self.params(&[&op, &pwd, &till, "1", &orig, "", "", "", "", "", ""])
                    }
                };
                self.call(self.d.cmd.open_return, &data, true).await
            }
        };
        r?;
        self.in_return = matches!(kind, Kind::Return { .. });
        Ok(())
    }

    /// DATA of a sale line (old: `name[LF name2] TAB tax price[*qty][,%|;abs]`;
    /// X: name, tax, price, qty, discount type and value, department).
    pub(super) fn sale_data(&self, item: &SaleItem) -> Result<Vec<u8>> {
        let tax = self.d.tax_code(item.tax_group)?;
        if item.price < 0 || item.quantity_milli <= 0 {
            return Err(Error::InvalidRequest(format!(
                "line {:?}: price and quantity must be positive",
                item.name
            )));
        }
        let name = text::sanitize(&item.name, false);
        let name = if name.is_empty() {
            "-".to_string()
        } else {
            name
        };
        Ok(match self.d.syntax {
            Syntax::Comma => {
                let lines = text::wrap(&name, self.d.item_name_width, self.d.item_name_lines);
                let mut s = lines.join("\n");
                s.push('\t');
                s.push_str(tax);
                s.push_str(&money(item.price));
                if item.quantity_milli != 1000 {
                    s.push('*');
                    s.push_str(&quantity(item.quantity_milli));
                }
                match item.adjustment {
                    Some(Adjustment::Percent(p)) => {
                        s.push(',');
                        s.push_str(&money(p));
                    }
                    Some(Adjustment::Amount(a)) => {
                        s.push(';');
                        s.push_str(&money(a));
                    }
                    None => {}
                }
                text::to_cp1251(&s)
            }
            Syntax::Tab => {
                let name = text::cut(&name, self.d.item_name_width);
                let (dt, dv) = match item.adjustment {
                    None => ("0", String::new()),
                    Some(Adjustment::Percent(p)) if p >= 0 => ("1", money(p)),
                    Some(Adjustment::Percent(p)) => ("2", money(-p)),
                    Some(Adjustment::Amount(a)) if a >= 0 => ("3", money(a)),
                    Some(Adjustment::Amount(a)) => ("4", money(-a)),
                };
                self.params(&[
                    &name,
                    tax,
                    &money(item.price),
                    &quantity(item.quantity_milli),
                    dt,
                    &dv,
                    "0",
                ])
            }
        })
    }

    pub(super) async fn sale(&mut self, item: &SaleItem) -> Result<()> {
        let data = self.sale_data(item)?;
        self.call(self.d.cmd.sale, &data, true).await.map(|_| ())
    }

    /// The open receipt's subtotal: exact, and as paid in cash (UA
    /// `sum,rounded`; equal to the exact sum where the register does not
    /// round).
    pub(super) async fn subtotal(&mut self) -> Result<Subtotal> {
        let data = match self.d.syntax {
            Syntax::Comma => Vec::new(),
            Syntax::Tab => self.params(&["0", "0", "", ""]),
        };
        let (f, _) = self.call(self.d.cmd.subtotal, &data, true).await?;
        let at = match self.d.syntax {
            Syntax::Comma => 0,
            Syntax::Tab => 1,
        };
        let amount = num(&f, at, "subtotal")?;
        let cash_amount = match self.d.subtotal_rounded_field {
            Some(i) => num(&f, at + i, "rounded subtotal")?,
            None => amount,
        };
        Ok(Subtotal {
            amount,
            cash_amount,
        })
    }

    pub(super) async fn print_text(&mut self, line: &str) -> Result<()> {
        let t = text::cut(&text::sanitize(line, false), self.d.text_width);
        let data = match self.d.syntax {
            Syntax::Comma => text::to_cp1251(&t),
            Syntax::Tab => self.params(&[&t]),
        };
        self.call(self.d.cmd.print_text, &data, true)
            .await
            .map(|_| ())
    }

    /// Closes the receipt; the number in the reply is informative (the
    /// session reads 0x71 after closing).
    pub(super) async fn close(&mut self) -> Result<u64> {
        let (f, _) = self.call(self.d.cmd.close, b"", true).await?;
        self.in_return = false;
        int(&f, 0, "receipt number")
    }

    pub(super) async fn cancel(&mut self) -> Result<()> {
        self.call(self.d.cmd.cancel, b"", false).await?;
        self.in_return = false;
        Ok(())
    }

    /// Cash in (positive) or out (negative); the drawer counters after it.
    pub(super) async fn cash_in_out(&mut self, amount: i64) -> Result<CashTotals> {
        if amount == 0 {
            return Err(Error::InvalidRequest("cash in/out of zero".into()));
        }
        let data = match self.d.syntax {
            Syntax::Comma => text::to_cp1251(&money(amount)),
            Syntax::Tab => {
                let t = if amount < 0 { "1" } else { "0" };
                self.params(&[t, &money(amount.abs())])
            }
        };
        let (f, _) = self.call(self.d.cmd.cash_in_out, &data, true).await?;
        self.cash_fields(&f)
    }

    /// The drawer counters: 0x46 with a zero amount only queries.
    pub(super) async fn cash_totals(&mut self) -> Result<CashTotals> {
        let data = match self.d.syntax {
            Syntax::Comma => b"0".to_vec(),
            Syntax::Tab => self.params(&["0", "0.00"]),
        };
        let (f, _) = self.call(self.d.cmd.cash_in_out, &data, false).await?;
        self.cash_fields(&f)
    }

    /// `P|F,CashSum,ServIn,ServOut` (old) or `CashSum,CashIn,CashOut` (X,
    /// after the error code).
    fn cash_fields(&self, f: &[String]) -> Result<CashTotals> {
        let skip = match f.first().map(|s| s.trim()) {
            Some("P") => 1,
            Some("F") => {
                return Err(Error::NotPermitted {
                    cmd: self.d.cmd.cash_in_out,
                })
            }
            _ => 0,
        };
        Ok(CashTotals {
            cash: num(f, skip, "cash sum")?,
            cash_in: num(f, skip + 1, "cash in")?,
            cash_out: num(f, skip + 2, "cash out")?,
        })
    }

    pub(super) async fn report(&mut self, z: bool) -> Result<ReportTotals> {
        let p = self.d.report_param(z, &self.opts.password);
        let data = self.params(&[&p]);
        let (f, _) = self.call(self.d.cmd.report, &data, true).await?;
        let number = int(&f, 0, "report number")?;
        let tax_totals = f
            .iter()
            .skip(1)
            .take(5)
            .filter_map(|s| text::parse_money(s))
            .collect();
        Ok(ReportTotals { number, tax_totals })
    }

    /// UA 0x2E: `Z` (no shift), `P,<minutes>` (open), `F,<minutes>` (open,
    /// Z report due: the register refuses sales).
    pub(super) async fn shift_state(&mut self) -> Result<ShiftState> {
        let cmd = self
            .d
            .cmd
            .shift_state
            .ok_or_else(|| unsupported("reading the shift state"))?;
        let (f, _) = self.call(cmd, b"", false).await?;
        let minutes = || -> Result<u32> {
            Ok(u32::try_from(int(&f, 1, "shift minutes")?).unwrap_or(u32::MAX))
        };
        match f.first().map(|s| s.trim()) {
            Some("Z") => Ok(ShiftState::default()),
            Some("P") => Ok(ShiftState {
                open: true,
                minutes: minutes()?,
                z_due: false,
            }),
            Some("F") => Ok(ShiftState {
                open: true,
                minutes: minutes()?,
                z_due: true,
            }),
            _ => Err(Error::Protocol(format!("shift state reply {f:?}"))),
        }
    }

    /// UA 0x7A: at least six fields, the sixth `ok` when the modem is fine.
    /// Fields 2 and 3 are read as unsent documents and the oldest unsent
    /// document's time where they parse (unconfirmed layout).
    pub(super) async fn modem_state(&mut self) -> Result<ModemState> {
        let cmd = self
            .d
            .cmd
            .modem_state
            .ok_or_else(|| unsupported("reading the data modem state"))?;
        let (f, _) = self.call(cmd, b"", false).await?;
        if f.len() < 6 {
            return Err(Error::Protocol(format!("modem state reply {f:?}")));
        }
        Ok(ModemState {
            ok: f[5].trim().eq_ignore_ascii_case("ok"),
            unsent_documents: f[1].trim().parse().ok(),
            oldest_unsent: NaiveDateTime::parse_from_str(f[2].trim(), "%d-%m-%y %H:%M").ok(),
            fields: f,
        })
    }

    /// A document's lines from the electronic journal (UA 0x7E): `R,<n>`,
    /// then `N` while the answer is `P,<line>`; at most
    /// [`MAX_JOURNAL_LINES`]. A document the journal does not hold reads as
    /// no lines.
    pub(super) async fn read_document(&mut self, number: u64) -> Result<Vec<String>> {
        let cmd = self
            .d
            .cmd
            .journal_read
            .ok_or_else(|| unsupported("reading the electronic journal"))?;
        let mut lines = Vec::new();
        let mut data = format!("R,{number}").into_bytes();
        loop {
            let frame = self.link.exchange(cmd, &data).await?;
            let status = crate::frame::Status::new(frame.status.clone().unwrap_or_default());
            self.check_status(cmd, &status, false)?;
            // The line may hold commas: only the first one separates.
            let reply = text::from_cp1251(&frame.data);
            match reply.split_once(',') {
                Some(("P", line)) => lines.push(line.to_string()),
                _ if reply == "P" && lines.is_empty() => {}
                _ => break,
            }
            if lines.len() >= MAX_JOURNAL_LINES {
                break;
            }
            data = b"N".to_vec();
        }
        Ok(lines)
    }

    /// A non-fiscal document (0x26, 0x2A per line, 0x27). If a line fails,
    /// the document is still closed, so no non-fiscal receipt is left open
    /// to block the next sale.
    pub(super) async fn print_non_fiscal(&mut self, lines: &[String]) -> Result<()> {
        let c = self.d.cmd;
        self.call(c.nonfiscal_open, b"", true).await?;
        let mut result = Ok(());
        for l in lines {
            let t = text::cut(&text::sanitize(l, false), self.d.text_width);
            let data = match self.d.syntax {
                Syntax::Comma => text::to_cp1251(&t),
                Syntax::Tab => self.params(&[&t]),
            };
            if let Err(e) = self.call(c.nonfiscal_text, &data, true).await {
                result = Err(e);
                break;
            }
        }
        let closed = self.call(c.nonfiscal_close, b"", false).await.map(|_| ());
        result.and(closed)
    }

    /// Card cash-out (UA 0x46 `-<amount>&<slots>` with the operation word
    /// `видача`), read back like a receipt.
    pub(super) async fn card_cash_out(
        &mut self,
        amount: i64,
        card: &CardSlip,
    ) -> Result<PrintedDocument> {
        if !self.d.card_cash_out {
            return Err(unsupported("card cash-out"));
        }
        if amount <= 0 {
            return Err(Error::InvalidRequest("cash-out must be positive".into()));
        }
        let values = card_slot_values(&self.d.settings.card, card, CardOperation::CashOut)?;
        let data = encode_card_cash_out(amount, &values)?;
        let (f, _) = self.call(self.d.cmd.cash_in_out, &data, true).await?;
        if f.first().map(|s| s.trim()) == Some("F") {
            return Err(Error::NotPermitted {
                cmd: self.d.cmd.cash_in_out,
            });
        }
        let number = self.last_document().await?;
        let needles = readback::card_needles(card);
        Ok(self.read_back(number, &needles).await)
    }
}
