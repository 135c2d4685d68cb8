//! Limits on what anyone may do without an account: start drafts, upload files, have
//! save-and-continue links mailed, ask for dog-tax quotes, submit through the API.
//!
//! Per client address, each [`Class`] of public action has its own token bucket, all sized by the
//! one setting `public_rate_limit_per_minute` (0 turns them all off, e.g. behind a gateway that
//! throttles itself, or for benchmarks). Overall bounds hold whatever that setting says:
//! save-and-continue e-mails per hour, and uploads being received at the same time.
//!
//! Everything lives in the process, so it limits per node; behind a load balancer each node counts
//! for itself. Buckets of clients that went quiet are dropped when the table grows, so memory stays
//! bounded whatever addresses arrive.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A kind of public action with its own budget per client address. A new public endpoint picks
/// the class it belongs to (or adds one) and calls [`PublicLimits::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// `POST /api/v1/tenants/{ags}/dog-tax/quote`.
    Quote,
    /// Starting a draft of a service.
    DraftStart,
    /// Each file uploaded (steps of a service, answers on the status page).
    Upload,
    /// A save-and-continue link sent by e-mail: mail to any address, so a quarter of the budget.
    ResumeMail,
    /// `POST /api/v1/tenants/{ags}/services/{service}/submissions`: a case (and perhaps a
    /// confirmation e-mail) per request, as a draft started in the portal may become.
    Submission,
}

impl Class {
    const ALL: [Class; 5] = [
        Class::Quote,
        Class::DraftStart,
        Class::Upload,
        Class::ResumeMail,
        Class::Submission,
    ];

    /// Per minute and client: `public_rate_limit_per_minute` divided by this.
    fn divisor(self) -> u32 {
        match self {
            Class::ResumeMail => 4,
            Class::Quote | Class::DraftStart | Class::Upload | Class::Submission => 1,
        }
    }
}

/// How long a client is asked to wait when every upload slot is taken.
pub(crate) const UPLOADS_BUSY_RETRY: Duration = Duration::from_secs(30);

/// The node's limits on public actions, built from the configuration.
pub(crate) struct PublicLimits {
    /// Empty when `public_rate_limit_per_minute` is 0.
    per_client: Vec<(Class, RateLimiter)>,
    resume_mails: RateLimiter,
    uploads: Arc<Semaphore>,
    submissions: Arc<Semaphore>,
}

impl PublicLimits {
    pub(crate) fn from_config(config: &rathaus_app::Config) -> PublicLimits {
        let per_minute = config.public_rate_limit_per_minute;
        let per_client = if per_minute == 0 {
            Vec::new()
        } else {
            Class::ALL
                .into_iter()
                .map(|c| {
                    (
                        c,
                        RateLimiter::per_minute((per_minute / c.divisor()).max(1)),
                    )
                })
                .collect()
        };
        PublicLimits {
            per_client,
            resume_mails: RateLimiter::per_hour(config.resume_mails_per_hour),
            uploads: Arc::new(Semaphore::new(config.uploads_in_flight as usize)),
            submissions: Arc::new(Semaphore::new(config.submissions_in_flight as usize)),
        }
    }

    /// Takes one of `client`'s tokens for `class`; `Err` says how long until the next one.
    pub(crate) fn check(&self, class: Class, client: Option<IpAddr>) -> Result<(), Duration> {
        match self.per_client.iter().find(|(c, _)| *c == class) {
            Some((_, limiter)) => limiter.check(client.map(client_key), Instant::now()),
            None => Ok(()),
        }
    }

    /// Takes one of the node's save-and-continue e-mails of this hour.
    pub(crate) fn resume_mail(&self) -> Result<(), Duration> {
        self.resume_mails.check(None, Instant::now())
    }

    /// A slot for receiving an upload, held until the request is done; `None` when all are taken.
    pub(crate) fn upload_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.uploads.clone().try_acquire_owned().ok()
    }

    /// A slot for checking and storing an API submission, held until it is answered; `None` when
    /// all are taken. What waits beyond them would only wait longer (at its capacity the node
    /// answers `slots ÷ rate` later, by Little's law), so it is told at once to come back.
    pub(crate) fn submission_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.submissions.clone().try_acquire_owned().ok()
    }
}

/// Whole seconds to put into `Retry-After` (at least 1).
pub(crate) fn retry_after_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// "12 Sekunden", "3 Minuten": how long to wait, for a refusal page.
pub(crate) fn wait_text(lang: rathaus_domain::service::Lang, wait: Duration) -> String {
    let seconds = retry_after_seconds(wait);
    if seconds < 120 {
        crate::i18n::tf(lang, "limit.seconds", &[("n", &seconds.to_string())])
    } else {
        let minutes = seconds.div_ceil(60).to_string();
        crate::i18n::tf(lang, "limit.minutes", &[("n", &minutes)])
    }
}

/// The key a client is counted under: an IPv6 client gets a whole /64 (one household or
/// machine usually has one, and can pick any address in it); an IPv4-mapped address is IPv4.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

/// More clients than this and idle buckets are swept out.
const MAX_CLIENTS: usize = 10_000;

/// A token bucket per key: `burst` tokens at once, one more every `refill`.
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

    /// `n` at once, then `n` a minute.
    fn per_minute(n: u32) -> RateLimiter {
        RateLimiter::new(n, Duration::from_secs(60) / n.max(1))
    }

    /// `n` at once, then `n` an hour (0: none at all).
    fn per_hour(n: u32) -> RateLimiter {
        RateLimiter::new(n, Duration::from_secs(3600) / n.max(1))
    }

    /// Takes a token for `client` (`None`: address unknown, or an overall limit; all such share
    /// one bucket). `Err` carries how long until the next token.
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

    #[test]
    fn one_setting_sizes_every_class_and_zero_turns_them_off() {
        let mut config = rathaus_app::Config::for_tests(std::path::Path::new("/x"), "sqlite://x");
        config.public_rate_limit_per_minute = 8;
        let limits = PublicLimits::from_config(&config);
        let a: Option<IpAddr> = "192.0.2.1".parse().ok();
        let taken = |class| (0..20).filter(|_| limits.check(class, a).is_ok()).count();
        assert_eq!(taken(Class::DraftStart), 8);
        assert_eq!(taken(Class::Upload), 8, "each class has its own budget");
        assert_eq!(taken(Class::ResumeMail), 2, "e-mails get a quarter");
        assert_eq!(taken(Class::Submission), 8);
        config.public_rate_limit_per_minute = 0;
        let limits = PublicLimits::from_config(&config);
        assert!((0..1000).all(|_| limits.check(Class::ResumeMail, a).is_ok()));
        config.resume_mails_per_hour = 2;
        let limits = PublicLimits::from_config(&config);
        assert!(limits.resume_mail().is_ok() && limits.resume_mail().is_ok());
        assert!(
            limits.resume_mail().is_err(),
            "the overall bound stays when the per-client limits are off"
        );
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_network() {
        let key = |s: &str| client_key(s.parse().unwrap());
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
    }
}
