//! Staff passwords: the rules a new password must meet, and Argon2id hashing.
//!
//! The rules follow NIST SP 800-63B and the BSI's IT-Grundschutz (ORP.4): a minimum length, a
//! generous maximum, no composition rules, and a check against passwords known from breaches and
//! against words specific to the context (the municipality's name, the product's name).
//!
//! Hashing is Argon2id with m = 64 MiB, t = 3, p = 1 (the second recommended profile of RFC 9106,
//! with more passes). One hash takes 64 MiB for a fraction of a second, so callers must cap how
//! many run at once (the application layer holds a semaphore).

use std::collections::HashSet;
use std::sync::OnceLock;

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};

use crate::CryptoError;
use crate::random::{RandomSource, random_array};

pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 128;

/// The most common passwords of the breach corpus compiled by Mark Burnett (10 million
/// passwords), as ranked by zxcvbn-ts (MIT); see `refdata/SOURCES.md`.
const COMMON: &str = include_str!("../../../refdata/common-passwords.txt");

/// Entries shorter than the minimum length are refused by length already; only the longer ones
/// and the "cores" of decorated passwords need a look-up.
fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .map(str::trim)
            .filter(|l| l.chars().count() >= 4)
            .collect()
    })
}

/// Why a password was refused. The messages are the application's to word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordProblem {
    TooShort,
    TooLong,
    /// A breached password, possibly with digits or symbols around it or repeated.
    Common,
    /// Contains the name of the municipality, of the platform or another forbidden word.
    ContainsWord(String),
}

/// Characters as counted by people: Unicode scalar values after NFC would be better still, but a
/// composed and a decomposed umlaut differ by one character only.
fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Checks a new password. `words` are context-specific terms (tenant name, slug, "rathaus");
/// comparison ignores case. Words shorter than four characters are only refused as the whole
/// password, so that a municipality called "Au" does not forbid half of all passwords.
pub fn check_new_password(password: &str, words: &[&str]) -> Result<(), PasswordProblem> {
    let len = char_len(password);
    if len < MIN_LEN {
        return Err(PasswordProblem::TooShort);
    }
    if len > MAX_LEN {
        return Err(PasswordProblem::TooLong);
    }
    let lower = password.to_lowercase();
    let squeezed: String = lower.chars().filter(|c| c.is_alphanumeric()).collect();
    for word in words {
        let w = word.trim().to_lowercase();
        if w.is_empty() {
            continue;
        }
        let w_squeezed: String = w.chars().filter(|c| c.is_alphanumeric()).collect();
        let hit = if char_len(&w) >= 4 {
            lower.contains(&w) || (char_len(&w_squeezed) >= 4 && squeezed.contains(&w_squeezed))
        } else {
            lower == w
        };
        if hit {
            return Err(PasswordProblem::ContainsWord(word.trim().to_owned()));
        }
    }
    if is_common(&lower) {
        return Err(PasswordProblem::Common);
    }
    Ok(())
}

/// A breached password as it is, decorated with digits and symbols before or after it
/// ("Password2024!"), or repeated ("qwertyqwerty").
fn is_common(lower: &str) -> bool {
    let set = common();
    if set.contains(lower) {
        return true;
    }
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    if char_len(core) >= 4 && set.contains(core) {
        return true;
    }
    let chars: Vec<char> = lower.chars().collect();
    for unit in 1..=chars.len() / 2 {
        if chars.len().is_multiple_of(unit) && chars.chunks(unit).all(|c| c == &chars[..unit]) {
            // Repeating anything short is as weak as a listed password.
            let u: String = chars[..unit].iter().collect();
            return unit < 4 || set.contains(u.as_str()) || is_common(&u);
        }
    }
    false
}

/// How much work a new password hash costs. Verification reads the cost from the stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashCost {
    /// Argon2id with 64 MiB and 3 passes: what every installation uses.
    #[default]
    Standard,
    /// 1 MiB and 1 pass, for test suites that create many accounts; never for real accounts.
    Test,
}

fn argon2_with(cost: HashCost) -> Result<Argon2<'static>, CryptoError> {
    let (m, t) = match cost {
        HashCost::Standard => (64 * 1024, 3),
        HashCost::Test => (1024, 1),
    };
    let params =
        Params::new(m, t, 1, None).map_err(|_| CryptoError::Format("Argon2 parameters"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn argon2() -> Result<Argon2<'static>, CryptoError> {
    argon2_with(HashCost::Standard)
}

/// The PHC string (`$argon2id$v=19$m=65536,t=3,p=1$…`) of the password with a fresh salt.
pub fn hash_password(rng: &dyn RandomSource, password: &str) -> Result<String, CryptoError> {
    hash_password_with(rng, password, HashCost::Standard)
}

/// Like [`hash_password`] at a chosen cost.
pub fn hash_password_with(
    rng: &dyn RandomSource,
    password: &str,
    cost: HashCost,
) -> Result<String, CryptoError> {
    let salt: [u8; 16] = random_array(rng)?;
    let hash = argon2_with(cost)?
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|_| CryptoError::Format("password hashing failed"))?;
    Ok(hash.to_string())
}

/// Whether the password matches a stored PHC string. A malformed stored hash never matches.
pub fn verify_password(stored: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    match argon2() {
        Ok(a) => a.verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Spends the same time as [`verify_password`] for an unknown account, so that response times
/// do not tell which e-mail addresses have accounts.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| {
        argon2()
            .ok()?
            .hash_password_with_salt(b"rathaus dummy password", b"rathaus-dummy-salt")
            .ok()
            .map(|h| h.to_string())
    });
    if let Some(s) = stored {
        let _ = verify_password(s, password);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn length_limits_count_characters() {
        assert_eq!(
            check_new_password("kurz", &[]),
            Err(PasswordProblem::TooShort)
        );
        assert_eq!(
            check_new_password("äöüäöüäöüäö", &[]),
            Err(PasswordProblem::TooShort),
            "11 umlauts are 22 bytes but 11 characters"
        );
        assert!(check_new_password("äöüäöüäöüäöß", &[]).is_ok());
        assert!(
            check_new_password(&"x7".repeat(64), &[]).is_err(),
            "repetition"
        );
        let long: String = (0..129)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        assert_eq!(
            check_new_password(&long, &[]),
            Err(PasswordProblem::TooLong)
        );
        assert!(check_new_password(&long[..128], &[]).is_ok());
    }

    #[test]
    fn no_composition_rules() {
        assert!(check_new_password("lila pferde essen gern heu", &[]).is_ok());
        assert!(check_new_password("zwölf kleine boote", &[]).is_ok());
    }

    #[test]
    fn breached_passwords_are_refused_in_any_case_and_decoration() {
        assert!(common().len() > 30_000);
        for pw in [
            "1qaz2wsx3edc",
            "QWERTY123456",
            "Password1234!",
            "!!!football2024",
            "passwordpassword",
            "abcabcabcabc",
            "aaaaaaaaaaaaaaa",
            "LeaveMeAlone",
        ] {
            assert_eq!(
                check_new_password(pw, &[]),
                Err(PasswordProblem::Common),
                "{pw}"
            );
        }
    }

    #[test]
    fn context_words_are_refused_case_insensitively() {
        let words = ["Bad Belzig", "bad-belzig", "rathaus"];
        assert_eq!(
            check_new_password("mein-RATHAUS-zugang", &words),
            Err(PasswordProblem::ContainsWord("rathaus".into()))
        );
        assert!(matches!(
            check_new_password("willkommen in badbelzig", &words),
            Err(PasswordProblem::ContainsWord(_))
        ));
        assert!(check_new_password("kurstadt im fläming", &words).is_ok());
        // Short names only as the whole password.
        assert!(check_new_password("blau und grün im auenland", &["Au"]).is_ok());
    }

    #[test]
    fn argon2id_hashes_verify_and_carry_their_parameters() {
        let rng = SeededRandom::new(3);
        let h = hash_password(&rng, "lila pferde essen gern heu").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=65536,t=3,p=1$"), "{h}");
        assert!(verify_password(&h, "lila pferde essen gern heu"));
        assert!(!verify_password(&h, "lila pferde essen gern hei"));
        assert!(!verify_password("garbage", "x"));
        assert_ne!(
            hash_password(&rng, "lila pferde essen gern heu").unwrap(),
            h,
            "salted"
        );
    }
}
