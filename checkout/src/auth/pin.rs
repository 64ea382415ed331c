//! PINs: checked for shape, kept only as argon2id hashes (PHC strings with
//! their own salt), and verified in constant time by the argon2 crate.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::{Error, Result};

/// The shortest and longest PIN, in digits.
pub const PIN_DIGITS: std::ops::RangeInclusive<usize> = 4..=8;

/// Refuse a PIN that is not 4 to 8 digits.
pub fn check_shape(pin: &str) -> Result<()> {
    if PIN_DIGITS.contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Error::InvalidRequest("a PIN is 4 to 8 digits".into()))
    }
}

/// The argon2id hash of `pin` with a fresh random salt.
pub fn hash(pin: &str) -> Result<String> {
    check_shape(pin)?;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("cannot hash a PIN: {e}")))
}

/// Whether `pin` is the one `stored` is the hash of. A stored value that is
/// not a hash matches nothing.
pub fn verify(pin: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    Argon2::default()
        .verify_password(pin.as_bytes(), &parsed)
        .is_ok()
}

/// A random token: 32 bytes as 64 hex digits (sessions).
pub fn token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_is_kept_as_a_salted_argon2id_hash() {
        let h = hash("1234").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains("1234"), "the PIN itself is not in the hash");
        assert_ne!(h, hash("1234").unwrap(), "each hash has its own salt");
        assert!(verify("1234", &h));
        assert!(!verify("1235", &h));
        assert!(
            !verify("1234", "1234"),
            "a plain stored PIN matches nothing"
        );
    }

    #[test]
    fn a_pin_is_four_to_eight_digits() {
        for bad in ["", "123", "123456789", "12a4", " 1234", "１２３４"] {
            assert!(check_shape(bad).is_err(), "{bad:?}");
        }
        for good in ["1234", "12345678"] {
            assert!(check_shape(good).is_ok(), "{good:?}");
        }
        assert_eq!(token().unwrap().len(), 64);
        assert_ne!(token().unwrap(), token().unwrap());
    }
}
