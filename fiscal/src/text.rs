//! Text and numbers as the register wants them: cp1251 bytes (Ukrainian
//! letters included), control bytes escaped, lines wrapped or cut to the
//! printer's width, money as `12.50` and quantities as `2.000`.

use encoding_rs::WINDOWS_1251;

/// Encodes text to cp1251. Characters cp1251 lacks become `?`; control
/// characters other than TAB and LF are escaped as `0x10, byte + 0x40`.
pub fn to_cp1251(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for ch in text.chars() {
        let mut buf = [0u8; 4];
        let s = ch.encode_utf8(&mut buf);
        // A character cp1251 has is one byte; one it lacks comes back as an
        // HTML reference (`&#10003;`) with the error flag set.
        let (bytes, _, had_errors) = WINDOWS_1251.encode(s);
        let b = match (had_errors, bytes.as_ref()) {
            (false, [b]) => *b,
            _ => {
                out.push(b'?');
                continue;
            }
        };
        if b < 0x20 && b != 0x09 && b != 0x0A {
            out.push(0x10);
            out.push(b + 0x40);
        } else {
            out.push(b);
        }
    }
    out
}

/// Decodes cp1251 bytes (undoing the 0x10 escape).
pub fn from_cp1251(bytes: &[u8]) -> String {
    let mut raw = Vec::with_capacity(bytes.len());
    let mut it = bytes.iter();
    while let Some(&b) = it.next() {
        if b == 0x10 {
            if let Some(&n) = it.next() {
                raw.push(n.wrapping_sub(0x40));
            }
        } else {
            raw.push(b);
        }
    }
    let (s, _, _) = WINDOWS_1251.decode(&raw);
    s.into_owned()
}

/// Removes characters that would break the protocol's field syntax: the
/// separators TAB / LF and, where commas separate fields, commas.
pub fn sanitize(text: &str, comma_separated: bool) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => ' ',
            ',' if comma_separated => ' ',
            ';' if comma_separated => ' ',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect::<String>()
        .trim()
        .to_string()
}

/// Wraps text into at most `max_lines` lines of `width` characters, breaking
/// at spaces where possible; what does not fit is cut.
pub fn wrap(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let cur_len = cur.chars().count();
            let sep = usize::from(cur_len > 0);
            if cur_len + sep + word.len() <= width {
                if sep == 1 {
                    cur.push(' ');
                }
                cur.extend(word.iter());
                break;
            }
            if cur_len > 0 {
                lines.push(std::mem::take(&mut cur));
                continue;
            }
            // A word longer than the line: hard-break it.
            let rest = word.split_off(width);
            lines.push(word.iter().collect());
            word = rest;
            if word.is_empty() {
                break;
            }
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines.truncate(max_lines.max(1));
    lines
}

/// Cuts text to `width` characters.
pub fn cut(text: &str, width: usize) -> String {
    text.chars().take(width).collect()
}

/// Minor units as `12.50` (`-10.00` for negatives).
pub fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let a = minor.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// Thousandths as `2.000`.
pub fn quantity(milli: i64) -> String {
    let sign = if milli < 0 { "-" } else { "" };
    let a = milli.unsigned_abs();
    format!("{sign}{}.{:03}", a / 1000, a % 1000)
}

/// Parses `12.5`, `12.50`, `-3`, `0.07` into minor units.
pub fn parse_money(text: &str) -> Option<i64> {
    parse_fixed(text, 2)
}

/// Parses `2`, `2.5`, `2.000` into thousandths.
pub fn parse_quantity(text: &str) -> Option<i64> {
    parse_fixed(text, 3)
}

fn parse_fixed(text: &str, places: u32) -> Option<i64> {
    let t = text.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if frac.len() > places as usize {
        return None;
    }
    let scale = 10i64.pow(places);
    let i: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut f: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    f *= 10i64.pow(places - frac.len() as u32);
    let v = i.checked_mul(scale)?.checked_add(f)?;
    Some(if neg { -v } else { v })
}

/// Maps a tax group given as Cyrillic `А`..`Д` or Latin `A`..`E` (any case)
/// or a digit `1`..`5` to its index 0..4.
pub fn tax_index(group: char) -> Option<usize> {
    const CYR: [char; 5] = ['А', 'Б', 'В', 'Г', 'Д'];
    const LAT: [char; 5] = ['A', 'B', 'C', 'D', 'E'];
    let up: char = group.to_uppercase().next().unwrap_or(group);
    CYR.iter()
        .position(|c| *c == up)
        .or_else(|| LAT.iter().position(|c| *c == up))
        .or_else(|| {
            group
                .to_digit(10)
                .and_then(|d| (1..=5).contains(&d).then(|| d as usize - 1))
        })
}

/// The Cyrillic letter of a tax group index.
pub fn tax_letter(index: usize) -> char {
    ['А', 'Б', 'В', 'Г', 'Д'].get(index).copied().unwrap_or('А')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ukrainian_letters_in_cp1251() {
        assert_eq!(to_cp1251("Хліб"), vec![0xD5, 0xEB, 0xB3, 0xE1]);
        assert_eq!(
            to_cp1251("ІіЇїЄєҐґ"),
            vec![0xB2, 0xB3, 0xAF, 0xBF, 0xAA, 0xBA, 0xA5, 0xB4]
        );
        assert_eq!(to_cp1251("АБВГД"), vec![0xC0, 0xC1, 0xC2, 0xC3, 0xC4]);
        assert_eq!(from_cp1251(&to_cp1251("Ґанок їжа №5")), "Ґанок їжа №5");
        assert_eq!(to_cp1251("a\u{2}b"), vec![b'a', 0x10, 0x42, b'b']);
        assert_eq!(from_cp1251(&[b'a', 0x10, 0x42]), "a\u{2}");
        assert_eq!(to_cp1251("€✓"), vec![0x88, b'?']);
        assert_eq!(to_cp1251("a✓b😀"), vec![b'a', b'?', b'b', b'?']);
    }

    #[test]
    fn sanitizing_keeps_field_separators_out_of_text() {
        // Commas and semicolons separate fields only in the comma dialects.
        assert_eq!(sanitize("Хліб, 1; шт", true), "Хліб  1  шт");
        assert_eq!(sanitize("Хліб, 1; шт", false), "Хліб, 1; шт");
        // Tabs, line ends and every other control character become spaces,
        // in either dialect; the ends are trimmed.
        for comma in [true, false] {
            assert_eq!(
                sanitize("\ta\nb\rc\u{1}d\u{7f}e\u{1b} ", comma),
                "a b c d e"
            );
        }
    }

    #[test]
    fn wrapping_and_cutting() {
        assert_eq!(
            wrap("Молоко пастеризоване 2,5% 900 г", 14, 2),
            vec!["Молоко", "пастеризоване"]
        );
        assert_eq!(
            wrap("Молоко пастеризоване", 10, 3),
            vec!["Молоко", "пастеризов", "ане"]
        );
        assert_eq!(wrap("abc", 10, 2), vec!["abc"]);
        assert_eq!(wrap("", 10, 2), vec![""]);
        assert_eq!(
            wrap("aaaaaaaaaaaaaaaaaaaaaaaaa", 10, 2),
            vec!["aaaaaaaaaa", "aaaaaaaaaa"]
        );
        assert_eq!(cut("Хлібина", 4), "Хліб");
    }

    #[test]
    fn numbers() {
        assert_eq!(money(1250), "12.50");
        assert_eq!(money(-1000), "-10.00");
        assert_eq!(money(7), "0.07");
        assert_eq!(quantity(2000), "2.000");
        assert_eq!(quantity(1500), "1.500");
        assert_eq!(quantity(-1500), "-1.500");
        assert_eq!(quantity(0), "0.000");
        assert_eq!(money(0), "0.00");
        assert_eq!(parse_money("12.5"), Some(1250));
        assert_eq!(parse_money("-3"), Some(-300));
        assert_eq!(parse_money("1.234"), None);
        assert_eq!(parse_money("x"), None);
        // A sign belongs only in front: one inside either part is refused
        // (Rust's own integer parsing would take `+5` and `-5`).
        assert_eq!(parse_money("--5"), None);
        assert_eq!(parse_money("+-5"), None);
        assert_eq!(parse_money("1.+5"), None);
        assert_eq!(parse_money("1.-5"), None);
        assert_eq!(parse_money("."), None);
        assert_eq!(parse_money(".5"), Some(50));
        assert_eq!(parse_quantity("2.5"), Some(2500));
    }

    #[test]
    fn tax_groups() {
        assert_eq!(tax_index('А'), Some(0));
        assert_eq!(tax_index('a'), Some(0));
        assert_eq!(tax_index('Д'), Some(4));
        assert_eq!(tax_index('E'), Some(4));
        assert_eq!(tax_index('б'), Some(1));
        assert_eq!(tax_index('3'), Some(2));
        assert_eq!(tax_index('Ж'), None);
        assert_eq!(tax_letter(1), 'Б');
    }
}
