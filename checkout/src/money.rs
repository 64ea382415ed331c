//! Money as integers of minor units (kopiykas): the strict [`Money`] type the
//! API reads (an integer, never a fraction or an exponent), the parser for
//! amounts typed by a cashier, and the cash rounding rule.

use serde::{Deserialize, Deserializer, Serialize};
use ts_rs::TS;

use crate::Error;

/// The largest amount a single operation may have: 10^9 minor units (10 000 000.00).
pub const MAX_AMOUNT: i64 = 1_000_000_000;

/// The marker a [`Money`] deserialisation error carries, so the API can
/// answer `invalid_amount` rather than a generic `invalid_request`.
pub const AMOUNT_ERROR: &str = "kasa:invalid_amount:";

/// An amount in minor units as the API receives it: a JSON integer. A number
/// with a fraction or an exponent (`12.5`, `1e3`, `1000.0`) and a string are
/// refused; the range is checked where the amount is used
/// ([`Money::positive`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, TS)]
#[ts(type = "number")]
pub struct Money(pub i64);

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Money;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "an integer number of kopiykas")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Money, E> {
                Ok(Money(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Money, E> {
                i64::try_from(v).map(Money).map_err(|_| {
                    E::custom(format!(
                        "{AMOUNT_ERROR} {v} is more than the largest amount"
                    ))
                })
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Money, E> {
                Err(E::custom(format!(
                    "{AMOUNT_ERROR} {v} is not an integer number of kopiykas (send 1250 for 12.50)"
                )))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Money, E> {
                let shown: String = v.chars().take(20).collect();
                Err(E::custom(format!(
                    "{AMOUNT_ERROR} \"{shown}\" is text, not an integer number of kopiykas"
                )))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Money, E> {
                Err(E::custom(format!(
                    "{AMOUNT_ERROR} an amount is not true or false"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl Money {
    /// The amount, if it is more than zero and at most [`MAX_AMOUNT`].
    pub fn positive(self) -> Result<i64, Error> {
        if self.0 <= 0 {
            return Err(Error::InvalidAmount(
                "the amount must be more than zero".into(),
            ));
        }
        if self.0 > MAX_AMOUNT {
            return Err(Error::InvalidAmount(format!(
                "the amount is more than {}",
                format_minor(MAX_AMOUNT)
            )));
        }
        Ok(self.0)
    }

    /// The amount, if it is zero or more and at most [`MAX_AMOUNT`] (discounts).
    pub fn non_negative(self) -> Result<i64, Error> {
        if self.0 == 0 {
            Ok(0)
        } else {
            self.positive()
        }
    }
}

/// A cash total rounded to 10 kopiykas as Ukrainian rules require: 1–4
/// kopiykas down, 5–9 up, a negative sum symmetrically. Card payments are
/// never rounded. The register's own rule ([`fiscal::round_cash`]), so the
/// cashier asks for the sum the register will take.
pub fn round_cash(minor: i64) -> i64 {
    fiscal::round_cash(minor)
}

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
    // No decimals: none (more than two were refused above).
    let cents: i64 = match frac.len() {
        1 => frac.parse::<i64>().unwrap_or(0) * 10,
        2 => frac.parse::<i64>().unwrap_or(0),
        _ => 0,
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
    fn cash_is_rounded_to_ten_kopiykas() {
        assert_eq!(round_cash(1234), 1230);
        assert_eq!(round_cash(1235), 1240);
        assert_eq!(round_cash(1239), 1240);
        assert_eq!(round_cash(1240), 1240);
        assert_eq!(round_cash(4), 0);
        assert_eq!(round_cash(5), 10);
    }

    #[test]
    fn money_is_an_integer_of_kopiykas() {
        let ok: Money = serde_json::from_str("1250").unwrap();
        assert_eq!(ok, Money(1250));
        for bad in ["12.5", "1e3", "1000.0", "\"12.50\"", "true", "[1]", "null"] {
            let e = serde_json::from_str::<Money>(bad).expect_err(bad);
            if bad != "[1]" && bad != "null" {
                assert!(e.to_string().contains(AMOUNT_ERROR), "{bad}: {e}");
            }
        }
        assert!(Money(0).positive().is_err());
        assert!(Money(-5).positive().is_err());
        assert!(Money(MAX_AMOUNT + 1).positive().is_err());
        assert_eq!(Money(MAX_AMOUNT).positive().unwrap(), MAX_AMOUNT);
        assert!(serde_json::from_str::<Money>("1000000000000000000000").is_err());
    }

    #[test]
    fn formats_minor_units() {
        assert_eq!(format_minor(1250), "12.50");
        assert_eq!(format_minor(5), "0.05");
        assert_eq!(format_minor(0), "0.00");
        assert_eq!(format_minor(-120), "-1.20");
        assert_eq!(format_minor(-1), "-0.01");
    }

    #[test]
    fn the_length_limits_are_exact() {
        // 32 characters (leading zeros) is still an amount; 33 is too long.
        let at_limit = format!("{}12.50", "0".repeat(27));
        assert_eq!(at_limit.len(), 32);
        assert_eq!(parse_amount(&at_limit).unwrap(), 1250);
        let over = format!("0{at_limit}");
        let e = parse_amount(&over).unwrap_err().to_string();
        assert!(e.contains("too long"), "{e}");
        // Eight whole digits are read; nine are more than the largest amount.
        assert_eq!(parse_amount("00000001").unwrap(), 100);
        let e = parse_amount("100000000").unwrap_err().to_string();
        assert!(e.contains("more than"), "{e}");
    }

    #[test]
    fn a_bad_amount_is_quoted_at_most_twenty_characters_long() {
        let twenty = "a".repeat(20);
        let e = parse_amount(&twenty).unwrap_err().to_string();
        assert!(e.contains(&format!("\"{twenty}\"")), "{e}");
        let e = parse_amount(&"b".repeat(21)).unwrap_err().to_string();
        assert!(e.contains(&format!("\"{}…\"", "b".repeat(20))), "{e}");
        // Text sent for money is quoted the same way.
        let e = serde_json::from_str::<Money>(&format!("\"{}\"", "c".repeat(30))).unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("\"{}\" is text", "c".repeat(20))),
            "{e}"
        );
    }

    #[test]
    fn money_of_a_wrong_type_says_what_was_expected() {
        for bad in ["[1]", "null", "{}"] {
            let e = serde_json::from_str::<Money>(bad).unwrap_err().to_string();
            assert!(e.contains("an integer number of kopiykas"), "{bad}: {e}");
        }
        assert_eq!(serde_json::from_str::<Money>("-5").unwrap(), Money(-5));
        assert_eq!(serde_json::from_str::<Money>("7").unwrap(), Money(7));
        let e = serde_json::from_str::<Money>("9223372036854775808").unwrap_err();
        assert!(e.to_string().contains(AMOUNT_ERROR), "{e}");
    }

    #[test]
    fn zero_is_allowed_only_where_it_may_be() {
        assert_eq!(Money(0).non_negative().unwrap(), 0);
        assert_eq!(Money(1).non_negative().unwrap(), 1);
        assert_eq!(Money(MAX_AMOUNT).non_negative().unwrap(), MAX_AMOUNT);
        assert!(Money(-1).non_negative().is_err());
        assert!(Money(MAX_AMOUNT + 1).non_negative().is_err());
        assert_eq!(Money(1).positive().unwrap(), 1);
    }

    #[test]
    fn cash_rounding_of_every_last_digit_and_of_returns() {
        for (minor, rounded) in [
            (1230, 1230),
            (1231, 1230),
            (1232, 1230),
            (1233, 1230),
            (1234, 1230),
            (1235, 1240),
            (1236, 1240),
            (1237, 1240),
            (1238, 1240),
            (1239, 1240),
            (-1234, -1230),
            (-1236, -1240),
            (-1235, -1240),
            (0, 0),
        ] {
            assert_eq!(round_cash(minor), rounded, "{minor}");
        }
    }
}
