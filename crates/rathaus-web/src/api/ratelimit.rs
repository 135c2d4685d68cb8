//! A small in-memory token bucket per client address, for public endpoints that compute.
//!
//! It lives in the process, so it limits per node; behind a load balancer each node counts for
//! itself. Buckets of clients that went quiet are dropped when the table grows, so memory stays
//! bounded whatever addresses arrive.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Requests a client may send at once to the quote endpoint …
pub(crate) const QUOTE_BURST: u32 = 20;
/// … and how quickly it earns another one (20 a minute).
pub(crate) const QUOTE_REFILL: Duration = Duration::from_secs(3);

/// More clients than this and idle buckets are swept out.
const MAX_CLIENTS: usize = 10_000;

pub(crate) struct RateLimiter {
    burst: f64,
    refill: Duration,
    buckets: Mutex<HashMap<Option<IpAddr>, (f64, Instant)>>,
}

impl RateLimiter {
    pub(crate) fn new(burst: u32, refill: Duration) -> RateLimiter {
        RateLimiter {
            burst: f64::from(burst),
            refill,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `client` (`None`: address unknown, all such share one bucket). `Err`
    /// carries how long until the next token.
    pub(crate) fn check(&self, client: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let Ok(mut buckets) = self.buckets.lock() else {
            // A poisoned lock only means another request panicked; fail open rather than block all.
            return Ok(());
        };
        let per_token = self.refill.as_secs_f64();
        if buckets.len() >= MAX_CLIENTS {
            let burst = self.burst;
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() / per_token < burst
            });
        }
        let (tokens, at) = buckets.entry(client).or_insert((self.burst, now));
        let earned = now.saturating_duration_since(*at).as_secs_f64() / per_token;
        *tokens = (*tokens + earned).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) * per_token))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_one_token_per_interval() {
        let limiter = RateLimiter::new(3, Duration::from_secs(3));
        let t0 = Instant::now();
        let a: Option<IpAddr> = "192.0.2.1".parse().ok();
        let b: Option<IpAddr> = "192.0.2.2".parse().ok();
        for _ in 0..3 {
            assert!(limiter.check(a, t0).is_ok());
        }
        let wait = limiter.check(a, t0).unwrap_err();
        assert_eq!(wait.as_secs(), 3);
        assert!(
            limiter.check(b, t0).is_ok(),
            "other clients are not affected"
        );
        assert!(limiter.check(a, t0 + Duration::from_secs(2)).is_err());
        assert!(limiter.check(a, t0 + Duration::from_secs(3)).is_ok());
        assert!(limiter.check(a, t0 + Duration::from_secs(3)).is_err());
        assert!(limiter.check(a, t0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn the_table_of_clients_stays_bounded() {
        let limiter = RateLimiter::new(2, Duration::from_secs(1));
        let t0 = Instant::now();
        for i in 0..(MAX_CLIENTS as u32 + 500) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(i));
            let at = t0 + Duration::from_millis(u64::from(i / 1000) * 3000);
            let _ = limiter.check(Some(ip), at);
        }
        assert!(limiter.buckets.lock().map(|b| b.len()).unwrap_or(0) <= MAX_CLIENTS);
    }
}
