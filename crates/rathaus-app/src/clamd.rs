//! Scanning uploads with ClamAV's daemon (clamd) before anyone at the office opens them.
//!
//! The INSTREAM protocol is small enough to speak directly: `zINSTREAM\0`, then the file in chunks,
//! each preceded by its length as 4-byte big-endian, a zero length to end, and one reply terminated
//! by `\0`: `stream: OK`, `stream: <signature> FOUND`, or `… ERROR` (for instance when the file
//! exceeds clamd's `StreamMaxLength`). The file is read from disk chunk by chunk, never whole.
//!
//! clamd speaks plain text without authentication: run it on the same host (a Unix socket) or on a
//! network only the platform reaches.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Where clamd listens: `tcp://host:port` or `unix:///path/to/clamd.ctl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClamdUrl {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

impl ClamdUrl {
    pub fn parse(raw: &str) -> Result<ClamdUrl, String> {
        let raw = raw.trim();
        if let Some(path) = raw.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(format!(
                    "expected unix:///absolute/path/to/clamd.ctl, got {raw:?}"
                ));
            }
            return Ok(ClamdUrl::Unix(PathBuf::from(path)));
        }
        let Some(rest) = raw.strip_prefix("tcp://") else {
            return Err(format!(
                "expected tcp://host:port or unix:///path/to/clamd.ctl, got {raw:?}"
            ));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = rest.rsplit_once(':').ok_or_else(|| {
            format!("tcp:// needs host and port, such as tcp://127.0.0.1:3310, got {raw:?}")
        })?;
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("not a port number in {raw:?}"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("tcp:// needs a host, got {raw:?}"));
        }
        Ok(ClamdUrl::Tcp {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for ClamdUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClamdUrl::Tcp { host, port } if host.contains(':') => {
                write!(f, "tcp://[{host}]:{port}")
            }
            ClamdUrl::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            ClamdUrl::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

/// What clamd found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// The name of the signature that matched.
    Infected(String),
}

/// Why no verdict could be had; the upload is refused then (fail closed).
#[derive(Debug, thiserror::Error)]
pub enum ClamdError {
    #[error("cannot reach clamd at {url}: {source}")]
    Unreachable { url: String, source: std::io::Error },
    #[error("clamd at {0} did not answer in time")]
    Timeout(String),
    #[error("clamd could not scan the file: {0}")]
    Failed(String),
    #[error("reading the file to scan failed: {0}")]
    Read(std::io::Error),
}

/// A client of one clamd, configured from `clamd_url`.
#[derive(Debug, Clone)]
pub struct Clamd {
    url: ClamdUrl,
    timeout: Duration,
}

/// Bytes per INSTREAM chunk.
const CHUNK: usize = 64 * 1024;
/// A reply longer than this is not clamd's.
const MAX_REPLY: usize = 4096;

impl Clamd {
    pub fn new(url: ClamdUrl) -> Clamd {
        Clamd {
            url,
            // Generous: a large PDF takes clamd a few seconds; a hung daemon must not hang uploads.
            timeout: Duration::from_secs(60),
        }
    }

    /// Whether clamd answers (`zPING` → `PONG`).
    pub async fn ping(&self) -> Result<(), ClamdError> {
        let reply = self
            .with_connection(|mut conn| async move {
                conn.write_all(b"zPING\0").await.map_err(io_failed)?;
                read_reply(&mut conn).await
            })
            .await?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(ClamdError::Failed(format!(
                "unexpected reply to PING: {reply:?}"
            )))
        }
    }

    /// Scans the file at `path`, streaming it from disk.
    pub async fn scan_file(&self, path: &Path) -> Result<Verdict, ClamdError> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(ClamdError::Read)?;
        self.scan(file).await
    }

    /// Scans whatever `reader` yields.
    pub async fn scan<R: AsyncRead + Unpin + Send>(
        &self,
        reader: R,
    ) -> Result<Verdict, ClamdError> {
        let reply = self.with_connection(|conn| instream(conn, reader)).await?;
        parse_reply(&reply)
    }

    async fn with_connection<F, Fut>(&self, talk: F) -> Result<String, ClamdError>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: std::future::Future<Output = Result<String, ClamdError>>,
    {
        let work = async {
            let conn = self.connect().await?;
            talk(conn).await
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| ClamdError::Timeout(self.url.to_string()))?
    }

    async fn connect(&self) -> Result<Connection, ClamdError> {
        let unreachable = |source| ClamdError::Unreachable {
            url: self.url.to_string(),
            source,
        };
        match &self.url {
            ClamdUrl::Tcp { host, port } => tokio::net::TcpStream::connect((host.as_str(), *port))
                .await
                .map(Connection::Tcp)
                .map_err(unreachable),
            #[cfg(unix)]
            ClamdUrl::Unix(path) => tokio::net::UnixStream::connect(path)
                .await
                .map(Connection::Unix)
                .map_err(unreachable),
            #[cfg(not(unix))]
            ClamdUrl::Unix(_) => Err(unreachable(std::io::Error::other(
                "Unix sockets are not available on this system",
            ))),
        }
    }
}

enum Connection {
    Tcp(tokio::net::TcpStream),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
}

impl AsyncRead for Connection {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Connection::Tcp(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            #[cfg(unix)]
            Connection::Unix(s) => std::pin::Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Connection::Tcp(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            #[cfg(unix)]
            Connection::Unix(s) => std::pin::Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Connection::Tcp(s) => std::pin::Pin::new(s).poll_flush(cx),
            #[cfg(unix)]
            Connection::Unix(s) => std::pin::Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Connection::Tcp(s) => std::pin::Pin::new(s).poll_shutdown(cx),
            #[cfg(unix)]
            Connection::Unix(s) => std::pin::Pin::new(s).poll_shutdown(cx),
        }
    }
}

fn io_failed(e: std::io::Error) -> ClamdError {
    ClamdError::Failed(e.to_string())
}

async fn instream<R: AsyncRead + Unpin>(
    mut conn: Connection,
    mut reader: R,
) -> Result<String, ClamdError> {
    conn.write_all(b"zINSTREAM\0").await.map_err(io_failed)?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = reader.read(&mut buf).await.map_err(ClamdError::Read)?;
        let len = u32::try_from(n).map_err(|_| ClamdError::Failed("chunk too large".into()))?;
        let sent = async {
            conn.write_all(&len.to_be_bytes()).await?;
            conn.write_all(&buf[..n]).await
        };
        if let Err(e) = sent.await {
            // clamd closes the stream early when the file exceeds its StreamMaxLength; its reply
            // says so and is more useful than the broken pipe.
            return match read_reply(&mut conn).await {
                Ok(reply) if !reply.is_empty() => Ok(reply),
                _ => Err(io_failed(e)),
            };
        }
        if n == 0 {
            break;
        }
    }
    read_reply(&mut conn).await
}

async fn read_reply(conn: &mut Connection) -> Result<String, ClamdError> {
    let mut reply = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let n = conn.read(&mut buf).await.map_err(io_failed)?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
        if reply.contains(&0) || reply.len() > MAX_REPLY {
            break;
        }
    }
    let end = reply.iter().position(|b| *b == 0).unwrap_or(reply.len());
    Ok(String::from_utf8_lossy(&reply[..end]).trim().to_owned())
}

fn parse_reply(reply: &str) -> Result<Verdict, ClamdError> {
    let body = reply.strip_prefix("stream:").map(str::trim);
    match body {
        Some("OK") => Ok(Verdict::Clean),
        Some(b) if b.ends_with(" FOUND") => Ok(Verdict::Infected(
            b.trim_end_matches(" FOUND")
                .trim()
                .chars()
                .take(200)
                .collect(),
        )),
        _ => Err(ClamdError::Failed(
            reply.chars().take(200).collect::<String>(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_print() {
        for (raw, shown) in [
            ("tcp://127.0.0.1:3310", "tcp://127.0.0.1:3310"),
            ("tcp://clamav.intern:3310/", "tcp://clamav.intern:3310"),
            ("tcp://[::1]:3310", "tcp://[::1]:3310"),
            (
                "unix:///run/clamav/clamd.ctl",
                "unix:///run/clamav/clamd.ctl",
            ),
        ] {
            assert_eq!(ClamdUrl::parse(raw).unwrap().to_string(), shown);
        }
        for bad in [
            "127.0.0.1:3310",
            "http://127.0.0.1:3310",
            "tcp://127.0.0.1",
            "tcp://:3310",
            "tcp://host:0",
            "unix://relative/clamd.ctl",
        ] {
            assert!(ClamdUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn replies_are_understood() {
        assert_eq!(parse_reply("stream: OK").unwrap(), Verdict::Clean);
        assert_eq!(
            parse_reply("stream: Win.Test.EICAR_HDB-1 FOUND").unwrap(),
            Verdict::Infected("Win.Test.EICAR_HDB-1".into())
        );
        assert!(parse_reply("INSTREAM size limit exceeded. ERROR").is_err());
        assert!(parse_reply("").is_err());
    }
}
