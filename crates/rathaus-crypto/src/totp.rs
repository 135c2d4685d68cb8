//! Time-based one-time passwords (RFC 6238 over RFC 4226): HMAC-SHA-1, 6 digits, 30-second steps,
//! the parameters every authenticator app understands.
//!
//! Small enough to keep here rather than pull in a crate with its own copies of the hash crates.
//! Verification accepts the previous, current and next step (clock drift of a phone) and returns
//! the step that matched, so that the caller can refuse a step that was already used (replay).

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::CryptoError;
use crate::random::{RandomSource, random_array};

pub const DIGITS: u32 = 6;
pub const STEP_SECONDS: i64 = 30;
/// 160 bits, the length RFC 4226 recommends for HMAC-SHA-1.
pub const SECRET_LEN: usize = 20;

/// A fresh shared secret.
pub fn new_secret(rng: &dyn RandomSource) -> Result<[u8; SECRET_LEN], CryptoError> {
    random_array(rng)
}

/// The secret as people type it into an app: base32 without padding (RFC 4648).
pub fn secret_base32(secret: &[u8]) -> String {
    BASE32_NOPAD.encode(secret)
}

/// Groups of four for reading aloud or typing: `ABCD EFGH …`.
pub fn secret_grouped(secret: &[u8]) -> String {
    let b32 = secret_base32(secret);
    b32.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The time step a Unix time falls in.
pub fn step_at(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// HOTP (RFC 4226) of one counter value, as a number below 10^digits.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(secret) else {
        return u32::MAX;
    };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h[h.len() - 1] & 0x0f);
    let bin = (u32::from(h[offset] & 0x7f) << 24)
        | (u32::from(h[offset + 1]) << 16)
        | (u32::from(h[offset + 2]) << 8)
        | u32::from(h[offset + 3]);
    bin % 10u32.pow(digits)
}

/// The 6-digit code of a time step, zero-padded.
pub fn code_at_step(secret: &[u8], step: i64) -> String {
    format!(
        "{:0width$}",
        hotp(secret, step.max(0) as u64, DIGITS),
        width = DIGITS as usize
    )
}

/// The code shown by an app at the given Unix time.
pub fn code_at(secret: &[u8], unix_seconds: i64) -> String {
    code_at_step(secret, step_at(unix_seconds))
}

/// The step (previous, current or next) whose code equals `code`, if any. Spaces in the typed
/// code are ignored; anything but six digits never matches.
pub fn verify(secret: &[u8], code: &str, unix_seconds: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix_seconds);
    let mut found = None;
    // All three are computed so that the time taken does not tell which one matched.
    for step in [now - 1, now, now + 1] {
        let expected = code_at_step(secret, step);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

fn uri_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `otpauth://` URI that authenticator apps read from a QR code
/// (Key Uri Format of Google Authenticator, understood by all common apps).
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> String {
    let issuer_e = uri_escape(issuer);
    format!(
        "otpauth://totp/{issuer_e}:{}?secret={}&issuer={issuer_e}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        uri_escape(account),
        secret_base32(secret),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 seed is the ASCII string "12345678901234567890" and the
    /// reference values have 8 digits.
    #[test]
    fn rfc6238_sha1_test_vectors() {
        let seed = b"12345678901234567890";
        for (t, expected) in [
            (59_i64, 94287082_u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(hotp(seed, step_at(t) as u64, 8), expected, "T = {t}");
            // The 6-digit code is the last six digits of the 8-digit one.
            assert_eq!(
                code_at(seed, t),
                format!("{:06}", expected % 1_000_000),
                "T = {t}"
            );
        }
    }

    #[test]
    fn rfc4226_hotp_test_vectors() {
        let seed = b"12345678901234567890";
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, e) in expected.iter().enumerate() {
            assert_eq!(hotp(seed, counter as u64, 6), *e);
        }
    }

    #[test]
    fn verification_accepts_one_step_of_drift_and_names_the_step() {
        let seed = b"12345678901234567890";
        let t = 1_700_000_000;
        let now = step_at(t);
        assert_eq!(verify(seed, &code_at(seed, t), t), Some(now));
        assert_eq!(verify(seed, &code_at(seed, t - 30), t), Some(now - 1));
        assert_eq!(verify(seed, &code_at(seed, t + 30), t), Some(now + 1));
        assert_eq!(verify(seed, &code_at(seed, t - 60), t), None);
        assert_eq!(verify(seed, &code_at(seed, t + 60), t), None);
        let spaced = format!("{} {}", &code_at(seed, t)[..3], &code_at(seed, t)[3..]);
        assert_eq!(verify(seed, &spaced, t), Some(now));
        assert_eq!(verify(seed, "12345", t), None);
        assert_eq!(verify(seed, "abcdef", t), None);
    }

    #[test]
    fn uri_and_secret_formats() {
        let secret = [0u8; 20];
        assert_eq!(secret_base32(&secret), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(secret_grouped(&secret[..5]), "AAAA AAAA");
        let uri = otpauth_uri(&secret, "Amt Niemegk", "a.b@amt-niemegk.example");
        assert_eq!(
            uri,
            "otpauth://totp/Amt%20Niemegk:a.b%40amt-niemegk.example?secret=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&issuer=Amt%20Niemegk&algorithm=SHA1&digits=6&period=30"
        );
    }
}
