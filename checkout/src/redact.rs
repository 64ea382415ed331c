//! Keeping card numbers and passwords out of what Kasa writes for people:
//! logs, support bundles, backups.
//!
//! A *card number* here is what a scanner for leaked cards looks for: a run
//! of 13 to 19 digits, single spaces or dashes allowed between them, with no
//! digit right before or after, that passes the Luhn check. [`find_pans`]
//! finds them, [`scrub`] masks them (first 6 and last 4 digits kept, as
//! [`crate::mask::mask_pan`] does) and blanks password values, and
//! [`settings_without_secrets`] blanks every password-like field of a
//! settings document.

/// The shortest and the longest card number (ISO/IEC 7812).
const MIN_PAN: usize = 13;
const MAX_PAN: usize = 19;

/// What replaces a password.
pub const HIDDEN: &str = "***";

/// A card-number-like run in a text: its byte range and its digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanMatch {
    pub start: usize,
    pub end: usize,
    pub digits: String,
}

/// The Luhn check over a string of ASCII digits.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    let mut n = 0;
    for (i, b) in digits.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
        n += 1;
    }
    n > 0 && sum.is_multiple_of(10)
}

/// Every maximal run of digits in `bytes` (single spaces or dashes allowed
/// between digits): (start, end, digits).
fn digit_runs(bytes: &[u8]) -> Vec<(usize, usize, String)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = String::new();
        let mut end = i;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii_digit() {
                digits.push(char::from(b));
                i += 1;
                end = i;
            } else if (b == b' ' || b == b'-')
                && i + 1 < bytes.len()
                && bytes[i + 1].is_ascii_digit()
                && i > start
            {
                i += 1;
            } else {
                break;
            }
        }
        runs.push((start, end, digits));
        i = end.max(start + 1);
    }
    runs
}

/// The card-number-like runs in `bytes` (text or not): 13–19 digits,
/// spaces or dashes allowed between them, Luhn-valid.
pub fn find_pans(bytes: &[u8]) -> Vec<PanMatch> {
    digit_runs(bytes)
        .into_iter()
        .filter(|(_, _, d)| (MIN_PAN..=MAX_PAN).contains(&d.len()) && luhn_valid(d))
        .map(|(start, end, digits)| PanMatch { start, end, digits })
        .collect()
}

/// Like [`find_pans`], but only runs that stand on their own: neither glued
/// to a letter or digit before nor after. A hex hash (the audit chain's, a
/// request's fingerprint) holds 13 or more digits in a row by chance, and one
/// in ten of those passes Luhn; a card number in text stands apart
/// (`"4111 1111 1111 1111"`, `pan=4111...`). For checking a journal, where
/// a false alarm would refuse a backup.
pub fn find_pans_standing(bytes: &[u8]) -> Vec<PanMatch> {
    find_pans(bytes)
        .into_iter()
        .filter(|m| {
            let before = m.start.checked_sub(1).and_then(|i| bytes.get(i));
            let after = bytes.get(m.end);
            !before.is_some_and(u8::is_ascii_alphanumeric)
                && !after.is_some_and(u8::is_ascii_alphanumeric)
        })
        .collect()
}

/// Key names whose values are secrets (compared without case, as a part
/// of the key: `password`, `operator_password`, `passwd`, `secret`, `token`).
const SECRET_KEYS: &[&str] = &["password", "passwd", "secret", "token", "pin_code"];

fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|s| k.contains(s))
}

/// `text` with every card-number-like run masked (first 6, last 4 digits
/// kept) and the value after every password-like key blanked: JSON
/// (`"password":"0000"`), Rust debug (`password: "0000"`) and `key=value`
/// (`password=0000`) forms.
pub fn scrub(text: &str) -> String {
    let pans = find_pans(text.as_bytes());
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for m in pans {
        out.push_str(&text[at..m.start]);
        out.push_str(&crate::mask::mask_pan(&m.digits));
        at = m.end;
    }
    out.push_str(&text[at..]);
    scrub_secrets(&out)
}

/// Blanks the value after each password-like key.
fn scrub_secrets(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut search = 0;
    while let Some(found) = SECRET_KEYS
        .iter()
        .filter_map(|k| lower[search..].find(k).map(|p| (search + p, k.len())))
        .min()
    {
        let (pos, len) = found;
        // The rest of the key (`password_hash`, `passwords`): up to a quote,
        // a separator or a space.
        let mut i = pos + len;
        let bytes = text.as_bytes();
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        // An optional closing quote of a JSON key, spaces, then `:` or `=`.
        if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
            i += 1;
        }
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        if i >= bytes.len() || (bytes[i] != b':' && bytes[i] != b'=') {
            search = pos + len;
            continue;
        }
        i += 1;
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        // The value: a quoted string (with escapes) or a bare token.
        let (vstart, vend) = if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
            let q = bytes[i];
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != q {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            (i + 1, j.min(bytes.len()))
        } else {
            let mut j = i;
            while j < bytes.len() && !matches!(bytes[j], b' ' | b',' | b'}' | b')' | b';' | b'\n') {
                j += 1;
            }
            (i, j)
        };
        if text.is_char_boundary(vstart) && text.is_char_boundary(vend) && vstart <= vend {
            out.push_str(&text[at..vstart]);
            if vend > vstart {
                out.push_str(HIDDEN);
            }
            at = vend;
        }
        search = vend.max(pos + len);
    }
    out.push_str(&text[at..]);
    out
}

/// A settings document with the value of every password-like field
/// replaced by [`HIDDEN`] (at any depth), for a support bundle.
pub fn settings_without_secrets(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_secret_key(k) && !v.is_null() {
                        Value::String(HIDDEN.into())
                    } else {
                        settings_without_secrets(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(settings_without_secrets).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_hash_is_no_card_number_but_a_number_in_text_is() {
        // 16 digits in a row inside a hex hash, Luhn-valid.
        let hash = b"\"hash\":\"ab4111111111111111f0c3\"";
        assert_eq!(find_pans(hash).len(), 1);
        assert!(find_pans_standing(hash).is_empty());
        for text in [
            &b"\"pan\":\"4111111111111111\""[..],
            b"card 4111 1111 1111 1111 ok",
            b"pan=4111111111111111",
            b"4111111111111111",
        ] {
            assert_eq!(
                find_pans_standing(text).len(),
                1,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    use super::*;

    #[test]
    fn luhn() {
        assert!(luhn_valid("4111111111111111"));
        assert!(luhn_valid("5168750000001237"));
        assert!(!luhn_valid("5168750000001234"));
        assert!(!luhn_valid("4111111111111112"));
        assert!(!luhn_valid(""));
        assert!(!luhn_valid("41x1"));
    }

    #[test]
    fn card_numbers_are_found_with_spaces_and_dashes_and_not_inside_longer_runs() {
        let text = "a 4111 1111 1111 1111 b 4111111111111111 c 4111-1111-1111-1111.";
        let found = find_pans(text.as_bytes());
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found.iter().all(|m| m.digits == "4111111111111111"));
        // Masked ones, short ones, long ones and Luhn-invalid ones are not cards.
        for not in [
            "411111******1111",
            "411111111111",
            "41111111111111111111111",
            "4111111111111112",
            "4111  1111 1111 1111",
            "0x01:2B:30:31:32:33:34:35:36:37:38:39:30:31:32:33",
        ] {
            assert!(find_pans(not.as_bytes()).is_empty(), "{not}");
        }
    }

    #[test]
    fn scrub_masks_cards_and_hides_passwords() {
        let line = r#"{"pan":"4111 1111 1111 1111","rrn":"123456789012","password":"0000","x":1}"#;
        let s = scrub(line);
        assert_eq!(
            s,
            r#"{"pan":"411111******1111","rrn":"123456789012","password":"***","x":1}"#
        );
        assert_eq!(
            scrub(r#"FiscalSettings { operator: "1", password: "0000", till: "1" }"#),
            r#"FiscalSettings { operator: "1", password: "***", till: "1" }"#
        );
        assert_eq!(scrub("login password=s3cr3t ok"), "login password=*** ok");
        assert_eq!(
            scrub("card 4111111111111111 ok"),
            "card 411111******1111 ok"
        );
        assert_eq!(scrub("the password is wrong"), "the password is wrong");
        assert_eq!(
            scrub(r#"{"operator_password":"12\"34","y":"z"}"#),
            r#"{"operator_password":"***","y":"z"}"#
        );
        assert!(find_pans(scrub("5168 7500 0000 1234 and 4149620000000042").as_bytes()).is_empty());
        assert_eq!(
            scrub("кирилиця 4111111111111111"),
            "кирилиця 411111******1111"
        );
    }

    #[test]
    fn settings_lose_their_secrets_only() {
        let v = serde_json::json!({
            "fiscal": { "password": "0000", "operator": "1", "dialect_settings": { "x": { "Password": 5 } } },
            "terminal": { "protocol": "privatbank" },
            "list": [{ "token": "t" }],
        });
        let s = settings_without_secrets(&v);
        assert_eq!(s["fiscal"]["password"], "***");
        assert_eq!(s["fiscal"]["operator"], "1");
        assert_eq!(s["fiscal"]["dialect_settings"]["x"]["Password"], "***");
        assert_eq!(s["terminal"]["protocol"], "privatbank");
        assert_eq!(s["list"][0]["token"], "***");
    }
}
