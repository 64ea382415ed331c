//! Cash rounding as Ukrainian registers do it.
//!
//! Since the 1- and 2-kopiyka coins went out of circulation, the sum paid in
//! cash is rounded to 10 kopiykas: a last digit of 1–4 goes down, 5–9 goes
//! up (12.54 → 12.50, 12.55 → 12.60). Card payments are never rounded. On a
//! mixed receipt only the part paid in cash is rounded. The register reports
//! both its exact and its rounded subtotal (0x33 `sum,rounded`); the driver
//! checks that its own rounding agrees before paying cash, and the checkout
//! uses this same function so the cashier asks for the same sum.

/// Rounds a cash sum in minor units to the nearest 10 (1–4 down, 5–9 up).
/// Negative sums round symmetrically (−12.55 → −12.60).
pub fn round_cash(minor: i64) -> i64 {
    let sign = minor.signum();
    let a = minor.unsigned_abs();
    let rest = a % 10;
    let base = a - rest;
    let r = if rest >= 5 { base + 10 } else { base };
    sign * i64::try_from(r).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_to_four_down_five_to_nine_up() {
        for (from, to) in [
            (1250, 1250),
            (1251, 1250),
            (1254, 1250),
            (1255, 1260),
            (1259, 1260),
            (1, 0),
            (4, 0),
            (5, 10),
            (0, 0),
            (-1255, -1260),
            (-1254, -1250),
        ] {
            assert_eq!(round_cash(from), to, "round_cash({from})");
        }
    }
}
