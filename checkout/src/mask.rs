//! Card numbers as they may be stored: whatever the terminal sends (spaces,
//! dashes, `X` or `•` as the mask, even a full number), only the first six
//! and the last four digits survive, and fewer for a short number. The
//! journal's triggers refuse anything else, on insert and on update.

/// The longest card number (ISO/IEC 7812).
const MAX_PAN: usize = 19;

/// Normalise and mask a card number as reported by a terminal.
///
/// Separators (spaces, `-`, `.`) are dropped; `X`, `x`, `#`, `•` and `*` are
/// mask characters; anything else is dropped. A number of 13 characters or
/// more keeps its first 6 and last 4 digits; a shorter one only its last 4.
pub fn mask_pan(raw: &str) -> String {
    let chars: Vec<char> = raw
        .chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(c),
            'X' | 'x' | '#' | '•' | '*' => Some('*'),
            _ => None,
        })
        .take(MAX_PAN)
        .collect();
    let n = chars.len();
    let head = if n >= 13 { 6 } else { 0 };
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            if c.is_ascii_digit() && (i < head || i + 4 >= n) {
                c
            } else {
                '*'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whatever_the_terminal_sends_is_masked() {
        assert_eq!(mask_pan("5168 7500 0000 1234"), "516875******1234");
        assert_eq!(mask_pan("5168-7500-0000-1234"), "516875******1234");
        assert_eq!(mask_pan("4731XXXXXXXX9838"), "4731********9838");
        assert_eq!(mask_pan("516875******1234"), "516875******1234");
        assert_eq!(mask_pan("************4242"), "************4242");
        assert_eq!(mask_pan("4242"), "4242");
        assert_eq!(mask_pan("123456789012"), "********9012");
        assert_eq!(mask_pan("4111111111111111111111"), "411111*********1111");
        assert_eq!(mask_pan(""), "");
        assert_eq!(mask_pan("VISA 4111 1111 1111 1111"), "411111******1111");
    }

    #[test]
    fn the_thirteen_digit_boundary_and_the_last_four() {
        // 13 digits: the first six and the last four; 12: the last four only.
        assert_eq!(mask_pan("4222222222222"), "422222***2222");
        assert_eq!(mask_pan("422222222222"), "********2222");
        // Exactly the last four and the first six: no more, no less.
        assert_eq!(mask_pan("1234567890123456"), "123456******3456");
        assert_eq!(mask_pan("12345"), "*2345");
        // Mask characters stay masks wherever they are; lower-case x and #.
        assert_eq!(mask_pan("4111x#xxxxxx1111"), "4111********1111");
        assert_eq!(mask_pan("4111••••••••1111"), "4111********1111");
    }
}
