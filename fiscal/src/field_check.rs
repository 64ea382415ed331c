//! The installer's field check: on a real register (it prints four real
//! fiscal documents, so the caller must have the installer's explicit
//! confirmation), find out what the firmware does with card data, and save
//! it as the dialect's settings.
//!
//! 1. read the diagnostic (0x5A);
//! 2. a 0.01 card receipt with a marker (`S1`…`S8`) in each slot of the
//!    payment command, and its return receipt; both read back through 0x7E;
//! 3. from the read-back: whether the long form was accepted, and on which
//!    printed line each marker landed; the line's label names the field the
//!    firmware reads in that slot (a marker that never prints is a slot the
//!    firmware ignores: `zero`);
//! 4. a 0.02 receipt paid 0.01 by card (with the order found) and 0.01 in
//!    cash, and its return: does the register take two payment types on one
//!    receipt;
//! 5. the report, with the settings to save (`DialectSettings` JSON).
//!
//! The logic is here, not in the CLI, so a button on the installer screen
//! can run it too. It returns codes and data, never sentences.

use serde::{Deserialize, Serialize};

use crate::driver::{DatecsDriver, PayResult, SaleItem};
use crate::readback::has_token;
use crate::settings::{CardDataMode, DialectSettings, SlotField};
use crate::{CardSlip, DeviceInfo, Error, FiscalRegister, Payment, Result};

/// Where one slot's marker landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotLanding {
    /// 1-based slot position.
    pub slot: usize,
    pub marker: String,
    /// The read-back line that carries the marker, if any.
    pub line: Option<String>,
    /// The field that line's label names, if recognised.
    pub field: Option<SlotField>,
}

/// One document the field check printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedDocument {
    /// `card_sale`, `card_return`, `mixed_sale`, `mixed_return`.
    pub purpose: String,
    pub number: u64,
    /// As read back from the electronic journal.
    pub lines: Vec<String>,
}

/// What the field check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldCheckReport {
    pub info: DeviceInfo,
    /// The register took card data as slots in the payment command.
    pub long_form_accepted: bool,
    /// The error code of the refusal, when it refused.
    pub refusal: Option<String>,
    /// Where each marker landed (card sale receipt).
    pub slots: Vec<SlotLanding>,
    /// The slot template the register reads (the settings' `card.template`).
    pub template: Vec<SlotField>,
    /// Slot positions whose marker landed somewhere else on the return
    /// receipt than on the sale receipt (empty when consistent).
    pub return_differs: Vec<usize>,
    /// The register took card and cash on one receipt.
    pub two_payment_types: Option<bool>,
    /// Every document read back with lines.
    pub readback_works: bool,
    pub documents: Vec<CheckedDocument>,
    /// The settings to save.
    pub settings: DialectSettings,
}

/// The field a printed line's label names (the text before the value).
/// Labels on real registers are unknown; these cover the Ukrainian receipt
/// rules' wording and common abbreviations. Unrecognised: `None`.
pub fn label_field(label: &str) -> Option<SlotField> {
    const TABLE: [(&str, SlotField); 16] = [
        ("RRN", SlotField::Rrn),
        ("РРН", SlotField::Rrn),
        ("КОД АВТ", SlotField::AuthCode),
        ("АВТОРИЗ", SlotField::AuthCode),
        ("ЕПЗ", SlotField::MaskedPan),
        ("PAN", SlotField::MaskedPan),
        ("КАРТК", SlotField::MaskedPan),
        ("ПЛАТІЖН", SlotField::PaymentSystem),
        ("СИСТЕМ", SlotField::PaymentSystem),
        ("ТЕРМІНАЛ", SlotField::TerminalId),
        ("ПРИСТР", SlotField::TerminalId),
        ("ОПЕРАЦ", SlotField::Operation),
        ("КОМІС", SlotField::Commission),
        ("ЕКВАЙР", SlotField::Merchant),
        ("ТОРГОВ", SlotField::Merchant),
        ("МЕРЧ", SlotField::Merchant),
    ];
    let up = label.to_uppercase();
    TABLE.iter().find(|(k, _)| up.contains(k)).map(|(_, f)| *f)
}

/// Where each marker landed in `lines`.
pub fn landings(lines: &[String], markers: &[String]) -> Vec<SlotLanding> {
    markers
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let line = lines.iter().find(|l| has_token(l, m)).cloned();
            let field = line.as_ref().and_then(|l| {
                let label = l.find(m.as_str()).map(|at| &l[..at]).unwrap_or("");
                label_field(label)
            });
            SlotLanding {
                slot: i + 1,
                marker: m.clone(),
                line,
                field,
            }
        })
        .collect()
}

/// The template the landings say: each slot's field, `zero` for a slot
/// that never printed or whose field was already taken by an earlier slot.
pub fn template_from(landings: &[SlotLanding]) -> Vec<SlotField> {
    let mut seen = Vec::new();
    landings
        .iter()
        .map(|l| match l.field {
            Some(f) if !seen.contains(&f) => {
                seen.push(f);
                f
            }
            _ => SlotField::Zero,
        })
        .collect()
}

fn test_item(price: i64) -> SaleItem {
    SaleItem {
        name: "ТЕСТ KASA".into(),
        tax_group: 'А',
        price,
        quantity_milli: 1000,
        adjustment: None,
    }
}

/// A card slip that is clearly a test (the mixed receipts' card part).
fn test_card() -> CardSlip {
    CardSlip {
        rrn: "000000000001".into(),
        auth_code: "FC0001".into(),
        masked_pan: "000000******0000".into(),
        terminal_id: "FCHECK01".into(),
        payment_system: "TEST".into(),
        ..CardSlip::default()
    }
}

/// A card payment with no card data (a bare `D+<amount>`).
fn bare_card(amount: i64) -> Payment {
    Payment::Card {
        amount,
        card: CardSlip::default(),
    }
}

/// Runs the field check. `confirmed` is the installer's explicit yes to
/// printing four real fiscal documents; without it nothing is sent.
pub async fn run(
    drv: &DatecsDriver,
    confirmed: bool,
    base: DialectSettings,
) -> Result<FieldCheckReport> {
    if !confirmed {
        return Err(Error::InvalidRequest(
            "field_check_not_confirmed: it prints real fiscal documents".into(),
        ));
    }
    let mut settings = base.clone();
    settings.card.mode = CardDataMode::Slots;
    settings.card.long_form_refused = false;
    drv.set_settings(settings.clone()).await;
    let info = drv.diagnostic().await?;
    let markers: Vec<String> = (1..=settings.card.template.len().max(1))
        .map(|i| format!("S{i}"))
        .collect();
    let mut documents = Vec::new();

    // The 0.01 card receipt with markers, and its return.
    let (long_form, refusal, number) = marker_receipt(drv, false, &markers).await?;
    let sale_lines = drv.read_document(number).await?;
    documents.push(CheckedDocument {
        purpose: "card_sale".into(),
        number,
        lines: sale_lines.clone(),
    });
    let (_, _, ret_number) = marker_receipt(drv, true, &markers).await?;
    let ret_lines = drv.read_document(ret_number).await?;
    documents.push(CheckedDocument {
        purpose: "card_return".into(),
        number: ret_number,
        lines: ret_lines.clone(),
    });
    let slots = if long_form {
        landings(&sale_lines, &markers)
    } else {
        Vec::new()
    };
    let return_differs = if long_form {
        let back = landings(&ret_lines, &markers);
        slots
            .iter()
            .zip(&back)
            .filter(|(a, b)| a.field != b.field)
            .map(|(a, _)| a.slot)
            .collect()
    } else {
        Vec::new()
    };
    let template = if long_form {
        template_from(&slots)
    } else {
        settings.card.template.clone()
    };
    settings.card.template = template.clone();
    settings.card.long_form_refused = !long_form;
    drv.set_settings(settings.clone()).await;

    // The 0.02 receipt, card and cash, and its return.
    let (two, number) = mixed_receipt(drv, false).await?;
    documents.push(CheckedDocument {
        purpose: "mixed_sale".into(),
        number,
        lines: drv.read_document(number).await?,
    });
    let (_, ret_number) = mixed_receipt(drv, true).await?;
    documents.push(CheckedDocument {
        purpose: "mixed_return".into(),
        number: ret_number,
        lines: drv.read_document(ret_number).await?,
    });
    let readback_works = documents.iter().all(|d| !d.lines.is_empty());
    Ok(FieldCheckReport {
        info,
        long_form_accepted: long_form,
        refusal,
        slots,
        template,
        return_differs,
        two_payment_types: Some(two),
        readback_works,
        documents,
        settings,
    })
}

/// Cancels an unpaid receipt left by a failed step (best effort), then
/// gives the error back.
async fn abandon<T>(drv: &DatecsDriver, e: Error) -> Result<T> {
    if let Ok(st) = drv.receipt_state().await {
        if st.open && st.paid == 0 {
            let _ = drv.cancel_receipt().await;
        }
    }
    Err(e)
}

/// A 0.01 receipt (sale or return) paid by card with a marker in each
/// slot. Returns whether the long form was taken, the refusal's code, and
/// the document number.
async fn marker_receipt(
    drv: &DatecsDriver,
    is_return: bool,
    markers: &[String],
) -> Result<(bool, Option<String>, u64)> {
    let opened = if is_return {
        drv.open_return(0).await
    } else {
        drv.open_receipt().await
    };
    opened?;
    if let Err(e) = drv.sale(&test_item(1)).await {
        return abandon(drv, e).await;
    }
    if let Err(e) = drv.subtotal().await {
        return abandon(drv, e).await;
    }
    let (long_form, refusal) = match drv.pay_card_slots(1, markers).await {
        Ok(_) => (true, None),
        Err(e @ (Error::Syntax { .. } | Error::NotPermitted { .. })) => {
            // Refused: the card data goes as text, the payment bare.
            for (i, m) in markers.iter().enumerate() {
                let _ = drv.print_text(&format!("СЛОТ {}: {m}", i + 1)).await;
            }
            if let Err(e) = drv.pay(&bare_card(1)).await {
                return abandon(drv, e).await;
            }
            (false, Some(e.code().to_string()))
        }
        Err(e) => return abandon(drv, e).await,
    };
    drv.close_receipt().await?;
    let number = drv.last_document().await?;
    Ok((long_form, refusal, number))
}

/// A 0.02 receipt: 0.01 by card with the settings found, 0.01 in cash.
/// When the cash part is refused, the rest goes by card so the receipt can
/// close. Returns whether both types were taken, and the document number.
async fn mixed_receipt(drv: &DatecsDriver, is_return: bool) -> Result<(bool, u64)> {
    let opened = if is_return {
        drv.open_return(0).await
    } else {
        drv.open_receipt().await
    };
    opened?;
    if let Err(e) = drv.sale(&test_item(2)).await {
        return abandon(drv, e).await;
    }
    if let Err(e) = drv.subtotal().await {
        return abandon(drv, e).await;
    }
    let card = Payment::Card {
        amount: 1,
        card: test_card(),
    };
    if let Err(e) = drv.pay(&card).await {
        return abandon(drv, e).await;
    }
    let two = match drv.pay(&Payment::Cash { amount: 1 }).await {
        Ok(PayResult::Change(_)) => true,
        Ok(PayResult::Remaining(left)) => {
            // Taken, but not settled: the rest by card.
            drv.pay(&bare_card(left)).await?;
            true
        }
        Err(Error::Syntax { .. } | Error::NotPermitted { .. }) => {
            drv.pay(&bare_card(1)).await?;
            false
        }
        Err(e) => return Err(e),
    };
    drv.close_receipt().await?;
    Ok((two, drv.last_document().await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_fields() {
        assert_eq!(label_field("RRN: "), Some(SlotField::Rrn));
        assert_eq!(label_field("КОД АВТ.: "), Some(SlotField::AuthCode));
        assert_eq!(
            label_field("ПЛАТІЖНА СИСТЕМА: "),
            Some(SlotField::PaymentSystem)
        );
        assert_eq!(label_field("ЕКВАЙР/ТОРГОВЕЦЬ: "), Some(SlotField::Merchant));
        assert_eq!(label_field(""), None);
        let lines: Vec<String> = ["КОД АВТ.: S1", "ТЕРМІНАЛ: S3", "RRN: S7"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let markers: Vec<String> = (1..=8).map(|i| format!("S{i}")).collect();
        let t = template_from(&landings(&lines, &markers));
        assert_eq!(t[0], SlotField::AuthCode);
        assert_eq!(t[1], SlotField::Zero);
        assert_eq!(t[2], SlotField::TerminalId);
        assert_eq!(t[6], SlotField::Rrn);
    }
}
