//! Money as integers of minor units (kopiykas), and the one strict parser for
//! amounts typed by a cashier or sent to the API.

use crate::Error;

/// The largest amount a single sale may have: 10^9 minor units (10 000 000.00).
pub const MAX_AMOUNT: i64 = 1_000_000_000;

/// Parse an amount such as `12.50`, `12,5` or `7` into minor units.
///
/// Refuses anything else: empty text, letters, signs, exponents, more than two
/// decimals, zero, and more than [`MAX_AMOUNT`].
pub fn parse_amount(text: &str) -> Result<i64, Error> {
    let s = text.trim();
    if s.is_empty() {
        return Err(Error::InvalidAmount("the amount is empty".into()));
    }
    if s.len() > 32 {
        return Err(Error::InvalidAmount("the amount is too long".into()));
    }
    let (whole, frac) = match s.find(['.', ',']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    };
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !digits(whole)
        || !digits(frac)
        || (s.contains(['.', ',']) && frac.is_empty())
    {
        return Err(Error::InvalidAmount(format!(
            "\"{}\" is not an amount",
            shorten(s)
        )));
    }
    if frac.len() > 2 {
        return Err(Error::InvalidAmount(
            "an amount has at most two decimals".into(),
        ));
    }
    let whole = whole.trim_start_matches('0');
    if whole.len() > 8 {
        return Err(Error::InvalidAmount(format!(
            "the amount is more than {}",
            format_minor(MAX_AMOUNT)
        )));
    }
    let units: i64 = if whole.is_empty() {
        0
    } else {
        whole
            .parse()
            .map_err(|_| Error::InvalidAmount("bad number".into()))?
    };
    let cents: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().unwrap_or(0) * 10,
        _ => frac.parse::<i64>().unwrap_or(0),
    };
    let minor = units * 100 + cents;
    if minor == 0 {
        return Err(Error::InvalidAmount(
            "the amount must be more than zero".into(),
        ));
    }
    if minor > MAX_AMOUNT {
        return Err(Error::InvalidAmount(format!(
            "the amount is more than {}",
            format_minor(MAX_AMOUNT)
        )));
    }
    Ok(minor)
}

/// Format minor units as `12.50`.
pub fn format_minor(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!("{sign}{}.{:02}", m / 100, m % 100)
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 20 {
        format!("{}…", s.chars().take(20).collect::<String>())
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_amounts() {
        assert_eq!(parse_amount("12.50").unwrap(), 1250);
        assert_eq!(parse_amount("12,5").unwrap(), 1250);
        assert_eq!(parse_amount(" 7 ").unwrap(), 700);
        assert_eq!(parse_amount("0.01").unwrap(), 1);
        assert_eq!(parse_amount("10000000.00").unwrap(), MAX_AMOUNT);
        assert_eq!(parse_amount("007.10").unwrap(), 710);
    }

    #[test]
    fn refuses_bad_amounts() {
        for bad in [
            "",
            "  ",
            "abc",
            "-5",
            "+5",
            "0",
            "0.00",
            "1.234",
            "1e3",
            "12.",
            ".5",
            "1.2.3",
            "10000000.01",
            "1000000000000000",
            "١٢",
            "12 50",
            "NaN",
            "inf",
        ] {
            assert!(parse_amount(bad).is_err(), "{bad:?} must be refused");
        }
        let long = "9".repeat(3000);
        assert!(
            parse_amount(&long).is_err(),
            "a 3 KB amount must be refused"
        );
    }

    #[test]
    fn formats_minor_units() {
        assert_eq!(format_minor(1250), "12.50");
        assert_eq!(format_minor(5), "0.05");
        assert_eq!(format_minor(-120), "-1.20");
    }
}
