//! Slowing down password and code guessing, per account and per client address.
//!
//! After a number of failures every further attempt must wait 2^(n − threshold) seconds after the
//! previous failure, at most 15 minutes. It is a delay, never a lock: the rightful owner can
//! always sign in once the wait is over, and a success resets the account's counter. Counters live
//! in the database, so every node of an installation sees the same ones, and are forgotten a day
//! after the last failure. Attempts refused for waiting are not counted.
//!
//! Accounts are keyed by a keyed hash of the e-mail address typed, whether an account exists or
//! not, so that throttling does not reveal which addresses have accounts, nor a copy of the
//! database which addresses were tried. Addresses are keyed the same way (IP addresses are
//! personal data); IPv6 addresses by their /64 network, which one attacker usually has whole.
//! The key is derived from the master key: after a rotation (which restarts every server) the
//! counters start over, which gives a guesser at most one more round of free attempts, and only
//! the operator can rotate.

use std::net::IpAddr;

use data_encoding::HEXLOWER;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::{App, AppError};

/// Failures per account before delays start.
pub const ACCOUNT_THRESHOLD: i64 = 5;
/// Failures per client address before delays start: higher, because a town hall's staff share
/// one address behind its router.
pub const ADDRESS_THRESHOLD: i64 = 10;
/// The longest wait between two attempts.
pub const MAX_DELAY_SECONDS: i64 = 15 * 60;
/// Counters untouched this long start over.
pub const FORGET_AFTER: time::Duration = time::Duration::hours(24);

/// Seconds the next attempt must wait after the last failure, given the failures so far.
pub fn delay_seconds(failures: i64, threshold: i64) -> i64 {
    if failures < threshold {
        return 0;
    }
    let exp = failures - threshold;
    if exp >= 10 {
        MAX_DELAY_SECONDS
    } else {
        (1_i64 << exp).min(MAX_DELAY_SECONDS)
    }
}

/// The counter keys of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    pub account: String,
    pub address: Option<String>,
}

impl Keys {
    pub(crate) fn new(app: &App, email: &str, client: Option<IpAddr>) -> Result<Keys, AppError> {
        let key = app.store.keyring().derive_secret("staff-throttle")?;
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        mac.update(b"account|");
        mac.update(email.trim().to_lowercase().as_bytes());
        Ok(Keys {
            account: format!(
                "account:{}",
                HEXLOWER.encode(&mac.finalize().into_bytes()[..16])
            ),
            address: client.and_then(|ip| address_key(app, ip)),
        })
    }
}

fn address_key(app: &App, ip: IpAddr) -> Option<String> {
    let bytes: Vec<u8> = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.octets().to_vec(),
            None => v6.octets()[..8].to_vec(),
        },
    };
    let key = app.store.keyring().derive_secret("staff-throttle").ok()?;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).ok()?;
    mac.update(&bytes);
    Some(format!(
        "address:{}",
        HEXLOWER.encode(&mac.finalize().into_bytes()[..16])
    ))
}

/// Seconds until the next attempt is allowed (0: now).
pub(crate) async fn wait_seconds(app: &App, keys: &Keys) -> Result<i64, AppError> {
    let now = crate_now_ms(app);
    let mut wait = 0;
    let forget = now - FORGET_AFTER.whole_milliseconds() as i64;
    let checks = [
        (Some(keys.account.as_str()), ACCOUNT_THRESHOLD),
        (keys.address.as_deref(), ADDRESS_THRESHOLD),
    ];
    for (key, threshold) in checks {
        let Some(key) = key else { continue };
        if let Some((failures, last)) = app.store.throttle_state(key).await?
            && last >= forget
        {
            let allowed_at = last + delay_seconds(failures, threshold) * 1000;
            if allowed_at > now {
                wait = wait.max((allowed_at - now + 999) / 1000);
            }
        }
    }
    Ok(wait)
}

pub(crate) async fn record_failure(
    app: &App,
    tx: &mut rathaus_store::Tx,
    keys: &Keys,
) -> Result<(), AppError> {
    let now = crate_now_ms(app);
    let forget = now - FORGET_AFTER.whole_milliseconds() as i64;
    rathaus_store::staff::throttle_fail(tx, &keys.account, now, forget).await?;
    if let Some(a) = &keys.address {
        rathaus_store::staff::throttle_fail(tx, a, now, forget).await?;
    }
    Ok(())
}

pub(crate) fn crate_now_ms(app: &App) -> i64 {
    (app.now().unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_doubles_after_the_threshold_and_is_capped() {
        let got: Vec<i64> = (0..=20).map(|n| delay_seconds(n, 5)).collect();
        assert_eq!(
            got,
            vec![
                0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900, 900, 900
            ]
        );
        assert_eq!(delay_seconds(i64::MAX, 5), MAX_DELAY_SECONDS);
        assert_eq!(delay_seconds(9, ADDRESS_THRESHOLD), 0);
        assert_eq!(delay_seconds(10, ADDRESS_THRESHOLD), 1);
    }
}
