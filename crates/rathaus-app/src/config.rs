//! Configuration: a TOML file (`--config`) overlaid by `RATHAUS_*` environment variables, which
//! win. With neither, rathaus runs from `./data/` on 127.0.0.1:8080.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::AppError;
use crate::mail::SmtpUrl;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub listen: SocketAddr,
    /// A second listener for operators only (`/metrics`); none when not set.
    pub ops_listen: Option<SocketAddr>,
    pub master_key_file: PathBuf,
    /// Whether the key file was named explicitly (then it is never generated).
    pub master_key_file_explicit: bool,
    pub log_format: LogFormat,
    pub log_level: String,
    /// The address citizens reach the platform under, for links in e-mails.
    pub public_url: String,
    /// Send Strict-Transport-Security; only behind TLS.
    pub hsts: bool,
    pub max_body_bytes: usize,
    pub auto_migrate: bool,
    pub shutdown_grace_seconds: u64,
    /// The installed `@kern-ux/native` package (with `dist/`); searched for when not set.
    pub assets_dir: Option<PathBuf>,
    /// Days after the last change at which an unsubmitted draft is deleted.
    pub draft_ttl_days: u32,
    /// The SMTP server e-mails go out through; without one they wait in the outbox.
    pub smtp_url: Option<SmtpUrl>,
    /// Sender of e-mails, `Name <address>` or a bare address.
    pub mail_from: String,
    /// Minutes without a request after which a staff session ends.
    pub session_idle_minutes: u32,
    /// Hours after sign-in at which a staff session ends however active it is.
    pub session_absolute_hours: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed (addresses or CIDR networks).
    pub trusted_proxies: Vec<IpNet>,
    /// Staff sign-in through the operator's OpenID Connect provider, if configured.
    pub oidc: Option<OidcConfig>,
    /// Per client address and kind of public action (starting a draft, uploading a file, the
    /// dog-tax quote API; a quarter of it for save-and-continue e-mails), per minute; 0 turns
    /// every per-client limit off.
    pub public_rate_limit_per_minute: u32,
    /// Save-and-continue e-mails the whole node sends per hour, whoever asks.
    pub resume_mails_per_hour: u32,
    /// Uploads received at the same time; more are answered with 503.
    pub uploads_in_flight: u32,
    /// Write transactions that may wait for the database; more are refused at once (503).
    pub write_queue_limit: u32,
    /// Submissions through the API being checked and stored at the same time; more are refused
    /// at once (503).
    pub submissions_in_flight: u32,
    /// Households a bulk step of the dog-tax year (import, assessment, notices, export) holds in
    /// memory at a time; bounds its memory whatever the size of the municipality.
    pub bulk_batch: u32,
    /// ClamAV's daemon, which scans every upload before it is accepted.
    pub clamd_url: Option<crate::clamd::ClamdUrl>,
    /// The key that signs the audit log's checkpoints (see `audit_checkpoints`).
    pub audit_key_file: PathBuf,
    /// Whether the key file was named explicitly (then it is never generated).
    pub audit_key_file_explicit: bool,
    /// Where the server writes a signed checkpoint of the audit log's head; none: it does not.
    pub audit_checkpoint_dir: Option<PathBuf>,
    /// Minutes between the server's checkpoints (one is written only when the log has grown).
    pub audit_checkpoint_minutes: u32,
    /// Cost of new password hashes; only test installations lower it (not a setting).
    pub password_cost: rathaus_crypto::password::HashCost,
}

/// An address or network (`10.0.0.0/8`, `::1/128`, `192.0.2.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: std::net::IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Option<IpNet> {
        let (a, p) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: std::net::IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        fn bits(ip: std::net::IpAddr) -> u128 {
            match ip {
                std::net::IpAddr::V4(v) => u128::from(u32::from(v)),
                std::net::IpAddr::V6(v) => u128::from(v),
            }
        }
        let ip = match ip {
            std::net::IpAddr::V6(v) => v.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        };
        if ip.is_ipv4() != self.addr.is_ipv4() {
            return false;
        }
        let width = if ip.is_ipv4() { 32 } else { 128 };
        let shift = width - u32::from(self.prefix);
        if shift >= 128 {
            return true;
        }
        (bits(ip) >> shift) == (bits(self.addr) >> shift)
    }
}

/// The operator's OpenID Connect provider for staff sign-in.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// The issuer URL; its `/.well-known/openid-configuration` is read.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// `acr` values that mean a multi-factor login (then no TOTP code is asked).
    pub mfa_acr: Vec<String>,
}

// The secret stays out of logs.
impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("mfa_acr", &self.mfa_acr)
            .finish_non_exhaustive()
    }
}

/// The keys a configuration file may hold; each can be overridden by `RATHAUS_<KEY>` in upper case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    listen: Option<String>,
    ops_listen: Option<String>,
    master_key_file: Option<PathBuf>,
    log_format: Option<String>,
    log_level: Option<String>,
    public_url: Option<String>,
    hsts: Option<bool>,
    max_body_bytes: Option<usize>,
    auto_migrate: Option<bool>,
    shutdown_grace_seconds: Option<u64>,
    assets_dir: Option<PathBuf>,
    draft_ttl_days: Option<u32>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    session_idle_minutes: Option<u32>,
    session_absolute_hours: Option<u32>,
    trusted_proxies: Option<String>,
    oidc_issuer: Option<String>,
    oidc_client_id: Option<String>,
    oidc_client_secret: Option<String>,
    oidc_mfa_acr: Option<String>,
    public_rate_limit_per_minute: Option<u32>,
    resume_mails_per_hour: Option<u32>,
    uploads_in_flight: Option<u32>,
    write_queue_limit: Option<u32>,
    submissions_in_flight: Option<u32>,
    bulk_batch: Option<u32>,
    clamd_url: Option<String>,
    audit_key_file: Option<PathBuf>,
    audit_checkpoint_dir: Option<PathBuf>,
    audit_checkpoint_minutes: Option<u32>,
}

/// Every setting with its environment variable, default and meaning, for `--help` and the README.
pub const SETTINGS: &[(&str, &str, &str)] = &[
    (
        "data_dir",
        "./data",
        "directory for the SQLite database, attachments and the generated master key",
    ),
    (
        "database_url",
        "sqlite://<data_dir>/rathaus.db",
        "sqlite://… or postgres://…",
    ),
    (
        "listen",
        "127.0.0.1:8080",
        "address and port of the HTTP server",
    ),
    (
        "ops_listen",
        "none",
        "address and port of the operators' listener serving /metrics (keep it off the public network)",
    ),
    (
        "master_key_file",
        "<data_dir>/master.key",
        "the master key; generated on first start only at the default place",
    ),
    ("log_format", "text", "text or json"),
    (
        "log_level",
        "info",
        "error, warn, info, debug or a tracing filter",
    ),
    (
        "public_url",
        "http://<listen>",
        "address under which citizens reach the platform (used in e-mails)",
    ),
    (
        "hsts",
        "false",
        "send Strict-Transport-Security (only when served over TLS)",
    ),
    (
        "max_body_bytes",
        "1048576",
        "largest request body accepted outside file uploads",
    ),
    (
        "auto_migrate",
        "true",
        "apply pending database migrations when the server starts",
    ),
    (
        "shutdown_grace_seconds",
        "30",
        "how long in-flight requests may finish after SIGTERM",
    ),
    (
        "assets_dir",
        "web/node_modules/@kern-ux/native",
        "the installed KERN UX package whose dist/ is served",
    ),
    (
        "smtp_url",
        "none",
        "SMTP server for e-mails (smtp://… or smtps://…); without it e-mails wait in the outbox",
    ),
    (
        "mail_from",
        "rathaus <noreply@localhost>",
        "sender of e-mails",
    ),
    (
        "session_idle_minutes",
        "30",
        "minutes without a request after which a staff session ends",
    ),
    (
        "session_absolute_hours",
        "10",
        "hours after sign-in at which a staff session ends",
    ),
    (
        "trusted_proxies",
        "none",
        "comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is believed",
    ),
    (
        "oidc_issuer",
        "none",
        "issuer URL of the operator's OpenID Connect provider for staff sign-in",
    ),
    ("oidc_client_id", "none", "client id at the OIDC provider"),
    (
        "oidc_client_secret",
        "none",
        "client secret at the OIDC provider",
    ),
    (
        "oidc_mfa_acr",
        "none",
        "comma-separated acr values meaning a multi-factor login (then no TOTP code is asked)",
    ),
    (
        "public_rate_limit_per_minute",
        "20",
        "per client address and minute: drafts started, files uploaded, dog-tax quotes, submissions through the API (save-and-continue e-mails: a quarter); 0 turns these limits off",
    ),
    (
        "resume_mails_per_hour",
        "500",
        "save-and-continue e-mails sent per hour in all, whoever asks",
    ),
    (
        "uploads_in_flight",
        "16",
        "uploads received at the same time; more are answered with 503 and Retry-After",
    ),
    (
        "write_queue_limit",
        "2048",
        "writes that may wait for the database at once; more are answered at once with 503 and Retry-After (0: unbounded)",
    ),
    (
        "submissions_in_flight",
        "128",
        "submissions through the API checked and stored at the same time; more are answered at once with 503 and Retry-After",
    ),
    (
        "bulk_batch",
        "1000",
        "households a bulk step of the dog-tax year (register import, annual assessment, notices, treasury export) holds in memory at a time",
    ),
    (
        "clamd_url",
        "none",
        "ClamAV daemon that scans every upload: tcp://host:port or unix:///path/to/clamd.ctl",
    ),
    (
        "audit_key_file",
        "audit-signing.key beside the master key",
        "the ECDSA P-256 key that signs the audit log's checkpoints; generated on first use only at the default place",
    ),
    (
        "audit_checkpoint_dir",
        "none",
        "directory, outside the data directory, where the server writes a signed checkpoint of the audit log's head",
    ),
    (
        "audit_checkpoint_minutes",
        "60",
        "minutes between the server's checkpoints (written only when the log has grown)",
    ),
];

/// A file in the directory of `file`.
fn beside(file: &Path, name: &str) -> PathBuf {
    file.parent()
        .map_or_else(|| PathBuf::from(name), |dir| dir.join(name))
}

fn env_name(key: &str) -> String {
    format!("RATHAUS_{}", key.to_ascii_uppercase())
}

fn parse_bool(key: &str, v: &str) -> Result<bool, AppError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(AppError::BadInput(format!(
            "{}: expected true or false, got {v:?}",
            env_name(key)
        ))),
    }
}

/// Households a bulk step holds at a time, unless configured.
pub const DEFAULT_BULK_BATCH: u32 = 1_000;

/// Slots that may not be zero: none would refuse every request.
fn at_least_one(key: &str, value: u32) -> Result<(), AppError> {
    if value == 0 {
        return Err(AppError::BadInput(format!(
            "{}: must be at least 1",
            env_name(key)
        )));
    }
    Ok(())
}

fn parse_num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, AppError> {
    v.trim().parse().map_err(|_| {
        AppError::BadInput(format!(
            "{}: expected a whole number, got {v:?}",
            env_name(key)
        ))
    })
}

impl Config {
    /// Reads the file (if any) and overlays the environment given as a map (the process
    /// environment in production, a literal map in tests).
    pub fn load(file: Option<&Path>, env: &HashMap<String, String>) -> Result<Config, AppError> {
        let file_cfg: FileConfig = match file {
            None => FileConfig::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    AppError::BadInput(format!(
                        "cannot read configuration file {}: {e}",
                        path.display()
                    ))
                })?;
                toml::from_str(&text).map_err(|e| {
                    AppError::BadInput(format!(
                        "configuration file {}: {}",
                        path.display(),
                        e.message()
                    ))
                })?
            }
        };
        let var = |key: &str| env.get(&env_name(key)).filter(|v| !v.is_empty()).cloned();

        let data_dir = var("data_dir")
            .map(PathBuf::from)
            .or(file_cfg.data_dir)
            .unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = var("database_url")
            .or(file_cfg.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("rathaus.db").display()));
        let listen_raw = var("listen")
            .or(file_cfg.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_raw.parse().map_err(|_| {
            AppError::BadInput(format!(
                "RATHAUS_LISTEN: expected address:port such as 127.0.0.1:8080, got {listen_raw:?}"
            ))
        })?;
        let ops_listen = match var("ops_listen").or(file_cfg.ops_listen) {
            None => None,
            Some(raw) => Some(raw.parse::<SocketAddr>().map_err(|_| {
                AppError::BadInput(format!(
                    "RATHAUS_OPS_LISTEN: expected address:port such as 127.0.0.1:9090, got {raw:?}"
                ))
            })?),
        };
        let explicit_key = var("master_key_file")
            .map(PathBuf::from)
            .or(file_cfg.master_key_file);
        let log_format = match var("log_format").or(file_cfg.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(AppError::BadInput(format!(
                    "RATHAUS_LOG_FORMAT: expected text or json, got {other:?}"
                )));
            }
        };
        let hsts = match var("hsts") {
            Some(v) => parse_bool("hsts", &v)?,
            None => file_cfg.hsts.unwrap_or(false),
        };
        let auto_migrate = match var("auto_migrate") {
            Some(v) => parse_bool("auto_migrate", &v)?,
            None => file_cfg.auto_migrate.unwrap_or(true),
        };
        let max_body_bytes = match var("max_body_bytes") {
            Some(v) => parse_num("max_body_bytes", &v)?,
            None => file_cfg.max_body_bytes.unwrap_or(1024 * 1024),
        };
        let shutdown_grace_seconds = match var("shutdown_grace_seconds") {
            Some(v) => parse_num("shutdown_grace_seconds", &v)?,
            None => file_cfg.shutdown_grace_seconds.unwrap_or(30),
        };
        // The URL may hold a password: the error names the problem, never the value.
        let smtp_url = var("smtp_url")
            .or(file_cfg.smtp_url)
            .map(|raw| {
                SmtpUrl::parse(&raw)
                    .map_err(|e| AppError::BadInput(format!("{}: {e}", env_name("smtp_url"))))
            })
            .transpose()?;
        let mail_from = var("mail_from")
            .or(file_cfg.mail_from)
            .unwrap_or_else(|| "rathaus <noreply@localhost>".into());
        crate::mail::parse_mailbox(&env_name("mail_from"), &mail_from)?;
        let session_idle_minutes = match var("session_idle_minutes") {
            Some(v) => parse_num("session_idle_minutes", &v)?,
            None => file_cfg.session_idle_minutes.unwrap_or(30),
        };
        let session_absolute_hours = match var("session_absolute_hours") {
            Some(v) => parse_num("session_absolute_hours", &v)?,
            None => file_cfg.session_absolute_hours.unwrap_or(10),
        };
        if session_idle_minutes == 0 || session_absolute_hours == 0 {
            return Err(AppError::BadInput(
                "RATHAUS_SESSION_IDLE_MINUTES and RATHAUS_SESSION_ABSOLUTE_HOURS must be at least 1"
                    .into(),
            ));
        }
        let trusted_proxies = var("trusted_proxies")
            .or(file_cfg.trusted_proxies)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                IpNet::parse(s).ok_or_else(|| {
                    AppError::BadInput(format!(
                        "{}: expected addresses or networks such as 10.0.0.1 or 10.0.0.0/8, got {s:?}",
                        env_name("trusted_proxies")
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let oidc = match (
            var("oidc_issuer").or(file_cfg.oidc_issuer),
            var("oidc_client_id").or(file_cfg.oidc_client_id),
            var("oidc_client_secret").or(file_cfg.oidc_client_secret),
        ) {
            (None, None, None) => None,
            (Some(issuer), Some(client_id), Some(client_secret)) => {
                let u = url::Url::parse(&issuer).map_err(|_| {
                    AppError::BadInput(format!("{}: not a URL", env_name("oidc_issuer")))
                })?;
                let loopback = matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
                if u.scheme() != "https" && !(u.scheme() == "http" && loopback) {
                    return Err(AppError::BadInput(format!(
                        "{}: the provider must be reached over https://",
                        env_name("oidc_issuer")
                    )));
                }
                Some(OidcConfig {
                    issuer: issuer.trim_end_matches('/').to_owned(),
                    client_id,
                    client_secret,
                    mfa_acr: var("oidc_mfa_acr")
                        .or(file_cfg.oidc_mfa_acr)
                        .unwrap_or_default()
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                })
            }
            _ => {
                return Err(AppError::BadInput(
                    "OIDC sign-in needs all of RATHAUS_OIDC_ISSUER, RATHAUS_OIDC_CLIENT_ID and RATHAUS_OIDC_CLIENT_SECRET"
                        .into(),
                ));
            }
        };
        let public_rate_limit_per_minute = match var("public_rate_limit_per_minute") {
            Some(v) => parse_num("public_rate_limit_per_minute", &v)?,
            None => file_cfg.public_rate_limit_per_minute.unwrap_or(20),
        };
        let resume_mails_per_hour = match var("resume_mails_per_hour") {
            Some(v) => parse_num("resume_mails_per_hour", &v)?,
            None => file_cfg.resume_mails_per_hour.unwrap_or(500),
        };
        let uploads_in_flight = match var("uploads_in_flight") {
            Some(v) => parse_num("uploads_in_flight", &v)?,
            None => file_cfg.uploads_in_flight.unwrap_or(16),
        };
        at_least_one("uploads_in_flight", uploads_in_flight)?;
        let write_queue_limit = match var("write_queue_limit") {
            Some(v) => parse_num("write_queue_limit", &v)?,
            None => file_cfg.write_queue_limit.unwrap_or(2_048),
        };
        let submissions_in_flight = match var("submissions_in_flight") {
            Some(v) => parse_num("submissions_in_flight", &v)?,
            None => file_cfg.submissions_in_flight.unwrap_or(128),
        };
        at_least_one("submissions_in_flight", submissions_in_flight)?;
        let bulk_batch = match var("bulk_batch") {
            Some(v) => parse_num("bulk_batch", &v)?,
            None => file_cfg.bulk_batch.unwrap_or(DEFAULT_BULK_BATCH),
        };
        at_least_one("bulk_batch", bulk_batch)?;
        let clamd_url = var("clamd_url")
            .or(file_cfg.clamd_url)
            .map(|raw| {
                crate::clamd::ClamdUrl::parse(&raw)
                    .map_err(|e| AppError::BadInput(format!("{}: {e}", env_name("clamd_url"))))
            })
            .transpose()?;
        let explicit_audit_key = var("audit_key_file")
            .map(PathBuf::from)
            .or(file_cfg.audit_key_file);
        let audit_checkpoint_dir = var("audit_checkpoint_dir")
            .map(PathBuf::from)
            .or(file_cfg.audit_checkpoint_dir);
        let audit_checkpoint_minutes = match var("audit_checkpoint_minutes") {
            Some(v) => parse_num("audit_checkpoint_minutes", &v)?,
            None => file_cfg.audit_checkpoint_minutes.unwrap_or(60),
        };
        at_least_one("audit_checkpoint_minutes", audit_checkpoint_minutes)?;
        let public_url = var("public_url")
            .or(file_cfg.public_url)
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_owned();
        let master_key_file = explicit_key
            .clone()
            .unwrap_or_else(|| data_dir.join("master.key"));
        Ok(Config {
            password_cost: rathaus_crypto::password::HashCost::Standard,
            audit_key_file: explicit_audit_key
                .clone()
                .unwrap_or_else(|| beside(&master_key_file, "audit-signing.key")),
            audit_key_file_explicit: explicit_audit_key.is_some(),
            audit_checkpoint_dir,
            audit_checkpoint_minutes,
            master_key_file,
            master_key_file_explicit: explicit_key.is_some(),
            data_dir,
            database_url,
            listen,
            ops_listen,
            log_format,
            log_level: var("log_level")
                .or(file_cfg.log_level)
                .unwrap_or_else(|| "info".into()),
            public_url,
            hsts,
            max_body_bytes,
            auto_migrate,
            shutdown_grace_seconds,
            assets_dir: var("assets_dir").map(PathBuf::from).or(file_cfg.assets_dir),
            draft_ttl_days: match var("draft_ttl_days") {
                Some(v) => parse_num("draft_ttl_days", &v)?,
                None => file_cfg.draft_ttl_days.unwrap_or(30),
            },
            smtp_url,
            mail_from,
            session_idle_minutes,
            session_absolute_hours,
            trusted_proxies,
            oidc,
            public_rate_limit_per_minute,
            resume_mails_per_hour,
            uploads_in_flight,
            write_queue_limit,
            submissions_in_flight,
            bulk_batch,
            clamd_url,
        })
    }

    /// A configuration for tests: everything under `dir`, the given database.
    pub fn for_tests(dir: &Path, database_url: &str) -> Config {
        Config {
            password_cost: rathaus_crypto::password::HashCost::Test,
            data_dir: dir.to_path_buf(),
            database_url: database_url.to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ops_listen: None,
            master_key_file: dir.join("master.key"),
            master_key_file_explicit: false,
            audit_key_file: dir.join("audit-signing.key"),
            audit_key_file_explicit: false,
            audit_checkpoint_dir: None,
            audit_checkpoint_minutes: 60,
            log_format: LogFormat::Text,
            log_level: "warn".into(),
            public_url: "http://127.0.0.1:8080".into(),
            hsts: false,
            max_body_bytes: 1024 * 1024,
            auto_migrate: true,
            shutdown_grace_seconds: 5,
            assets_dir: None,
            draft_ttl_days: 30,
            smtp_url: None,
            mail_from: "rathaus <noreply@localhost>".into(),
            session_idle_minutes: 30,
            session_absolute_hours: 10,
            trusted_proxies: Vec::new(),
            oidc: None,
            public_rate_limit_per_minute: 20,
            resume_mails_per_hour: 500,
            uploads_in_flight: 16,
            write_queue_limit: 2_048,
            submissions_in_flight: 128,
            bulk_batch: DEFAULT_BULK_BATCH,
            clamd_url: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_work_without_any_configuration() {
        let c = Config::load(None, &HashMap::new()).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.database_url, "sqlite://./data/rathaus.db");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.master_key_file, PathBuf::from("./data/master.key"));
        assert!(!c.master_key_file_explicit);
        assert_eq!(c.public_url, "http://127.0.0.1:8080");
    }

    #[test]
    fn environment_wins_over_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rathaus.toml");
        std::fs::write(
            &path,
            "data_dir = \"/srv/a\"\nlisten = \"127.0.0.1:9000\"\nhsts = true\n",
        )
        .unwrap();
        let c = Config::load(Some(&path), &env(&[("RATHAUS_DATA_DIR", "/srv/b")])).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/srv/b"));
        assert_eq!(c.database_url, "sqlite:///srv/b/rathaus.db");
        assert_eq!(c.listen.port(), 9000);
        assert!(c.hsts);
    }

    #[test]
    fn staff_settings_parse_and_are_checked() {
        let c = Config::load(None, &HashMap::new()).unwrap();
        assert_eq!((c.session_idle_minutes, c.session_absolute_hours), (30, 10));
        assert!(c.oidc.is_none() && c.trusted_proxies.is_empty());
        let c = Config::load(
            None,
            &env(&[
                ("RATHAUS_SESSION_IDLE_MINUTES", "15"),
                ("RATHAUS_TRUSTED_PROXIES", "10.0.0.0/8, ::1"),
                ("RATHAUS_OIDC_ISSUER", "https://id.example/realms/x/"),
                ("RATHAUS_OIDC_CLIENT_ID", "rathaus"),
                ("RATHAUS_OIDC_CLIENT_SECRET", "s3cret"),
            ]),
        )
        .unwrap();
        assert_eq!(c.session_idle_minutes, 15);
        assert!(c.trusted_proxies[0].contains("10.1.2.3".parse().unwrap()));
        assert!(!c.trusted_proxies[0].contains("11.1.2.3".parse().unwrap()));
        assert!(c.trusted_proxies[1].contains("::1".parse().unwrap()));
        let oidc = c.oidc.unwrap();
        assert_eq!(oidc.issuer, "https://id.example/realms/x");
        assert!(!format!("{oidc:?}").contains("s3cret"));
        for bad in [
            vec![("RATHAUS_TRUSTED_PROXIES", "10.0.0.0/33")],
            vec![("RATHAUS_OIDC_ISSUER", "https://id.example")],
            vec![
                ("RATHAUS_OIDC_ISSUER", "http://id.example"),
                ("RATHAUS_OIDC_CLIENT_ID", "a"),
                ("RATHAUS_OIDC_CLIENT_SECRET", "b"),
            ],
            vec![("RATHAUS_SESSION_IDLE_MINUTES", "0")],
        ] {
            assert!(Config::load(None, &env(&bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn abuse_limits_and_the_virus_scanner_parse() {
        let c = Config::load(None, &HashMap::new()).unwrap();
        assert_eq!(c.public_rate_limit_per_minute, 20);
        assert_eq!((c.resume_mails_per_hour, c.uploads_in_flight), (500, 16));
        assert!(c.clamd_url.is_none());
        let c = Config::load(
            None,
            &env(&[
                ("RATHAUS_PUBLIC_RATE_LIMIT_PER_MINUTE", "0"),
                ("RATHAUS_UPLOADS_IN_FLIGHT", "4"),
                ("RATHAUS_CLAMD_URL", "unix:///run/clamav/clamd.ctl"),
            ]),
        )
        .unwrap();
        assert_eq!(
            (c.public_rate_limit_per_minute, c.uploads_in_flight),
            (0, 4)
        );
        assert_eq!(
            c.clamd_url.unwrap().to_string(),
            "unix:///run/clamav/clamd.ctl"
        );
        for bad in [
            ("RATHAUS_UPLOADS_IN_FLIGHT", "0"),
            ("RATHAUS_PUBLIC_RATE_LIMIT_PER_MINUTE", "viele"),
            ("RATHAUS_CLAMD_URL", "http://127.0.0.1:3310"),
            ("RATHAUS_CLAMD_URL", "tcp://127.0.0.1"),
        ] {
            let e = Config::load(None, &env(&[bad])).unwrap_err();
            assert!(e.to_string().contains(bad.0), "{e}");
        }
    }

    #[test]
    fn bad_values_are_named() {
        let e = Config::load(None, &env(&[("RATHAUS_LISTEN", "localhost")])).unwrap_err();
        assert!(e.to_string().contains("RATHAUS_LISTEN"), "{e}");
        let e = Config::load(None, &env(&[("RATHAUS_HSTS", "vielleicht")])).unwrap_err();
        assert!(e.to_string().contains("RATHAUS_HSTS"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rathaus.toml");
        std::fs::write(&path, "dta_dir = \"/x\"\n").unwrap();
        let e = Config::load(Some(&path), &HashMap::new()).unwrap_err();
        assert!(e.to_string().contains("dta_dir"), "{e}");
    }
}
