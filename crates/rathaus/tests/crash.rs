//! Crash safety: the server is killed with SIGKILL under load, again and again. After each
//! restart, every submission that was answered with 2xx is there exactly once, with the data that
//! was sent, and the audit chain is intact. Submissions that got no answer are sent again with the
//! same `Idempotency-Key`, as a client would; they must not turn into a second case either.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const AGS: &str = "12069020"; // Bad Belzig
const SLUG: &str = "bad-belzig";
const SERVICE: &str = "maengelmelder";
const CLIENTS: usize = 12;
const MAX_CYCLES: usize = 8;
const TIME_BUDGET: Duration = Duration::from_secs(60);

struct Installation {
    dir: tempfile::TempDir,
}

impl Installation {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rathaus"));
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RATHAUS_DATA_DIR", self.dir.path())
            .env("RATHAUS_LOG_LEVEL", "error")
            .env("RATHAUS_PUBLIC_RATE_LIMIT_PER_MINUTE", "0");
        c
    }

    /// `rathaus demo` on a free port; returns the process and its address (host:port).
    fn start(&self) -> (Child, String) {
        let mut child = self
            .cmd(&["demo"])
            .env("RATHAUS_LISTEN", "127.0.0.1:0")
            .env("RATHAUS_OPS_LISTEN", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "server did not start");
            match lines.next() {
                Some(Ok(line)) if line.starts_with("listening on ") => {
                    std::thread::spawn(move || for _ in lines {});
                    let url = line.trim_start_matches("listening on ");
                    return (child, url.trim_start_matches("http://").to_owned());
                }
                Some(Ok(_)) => continue,
                _ => panic!("server exited early"),
            }
        }
    }
}

/// Kills the server when the test ends, also when it fails.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One submission as a client made it.
#[derive(Clone)]
struct Attempt {
    key: String,
    body: Value,
    /// `(reference, status_url)` once a 2xx answer named the case.
    answer: Option<(String, String)>,
}

/// POSTs a submission; `None` when the connection failed or broke (the server died).
fn submit(addr: &str, a: &Attempt) -> Option<(u16, Value)> {
    let body = a.body.to_string();
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    write!(
        s,
        "POST /api/v1/tenants/{AGS}/services/{SERVICE}/submissions HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/json\r\nIdempotency-Key: {}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        a.key,
        body.len()
    )
    .ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let status: u16 = resp.split(' ').nth(1)?.parse().ok()?;
    let json = resp
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    Some((status, json))
}

fn answer_of(status: u16, json: &Value) -> Option<(String, String)> {
    if !(200..300).contains(&status) {
        return None;
    }
    Some((
        json["reference"].as_str()?.to_owned(),
        json["status_url"].as_str()?.to_owned(),
    ))
}

fn body(cycle: usize, client: usize, n: usize) -> Value {
    json!({
        "category": "strasse",
        "description": format!("Schlagloch {cycle}-{client}-{n} vor Nr. {n}"),
        "location_kind": "address",
        "street": format!("Hauptstraße {n}"),
        "privacy_ack": true
    })
}

/// Clients submitting until the server stops answering.
fn load(addr: &str, cycle: usize, stop: &Arc<AtomicBool>) -> Vec<Attempt> {
    let handles: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let addr = addr.to_owned();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut attempts = Vec::new();
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let mut a = Attempt {
                        key: format!("crash-{cycle}-{client}-{n}"),
                        body: body(cycle, client, n),
                        answer: None,
                    };
                    match submit(&addr, &a) {
                        Some((status, json)) => {
                            assert!(
                                status == 201 || status == 503,
                                "unexpected answer {status}: {json}"
                            );
                            a.answer = answer_of(status, &json);
                            attempts.push(a);
                        }
                        None => {
                            attempts.push(a);
                            break;
                        }
                    }
                }
                attempts
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect()
}

/// Every answered submission is a case with exactly the data sent, and there is no other case of
/// the service than those: nothing lost, nothing twice.
fn check_cases(inst: &Installation, answered: &HashMap<String, Attempt>, baseline: usize) {
    let env = HashMap::from([(
        "RATHAUS_DATA_DIR".to_owned(),
        inst.dir.path().to_str().unwrap().to_owned(),
    )]);
    let config = rathaus_app::Config::load(None, &env).unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let app = rathaus_app::installation::open(
            config,
            Arc::new(rathaus_app::SystemClock),
            Arc::new(rathaus_crypto::random::OsRandom),
            rathaus_app::installation::Schema::RequireCurrent,
        )
        .await
        .unwrap();
        let tenant = app.public_tenant(SLUG).await.unwrap();
        for a in answered.values() {
            let (reference, status_url) = a.answer.as_ref().unwrap();
            let token = status_url.rsplit('/').next().unwrap();
            let status = app
                .case_status(&tenant, token)
                .await
                .unwrap_or_else(|e| panic!("acknowledged case {reference} is missing: {e}"));
            assert_eq!(&status.case.reference, reference);
            assert_eq!(status.case.data, a.body, "case {reference} was changed");
        }
        let mut tx = app.store.begin().await.unwrap();
        let row = tx
            .fetch_one(
                "SELECT COUNT(*) AS n FROM cases WHERE tenant_key = $1 AND service_id = $2",
                rathaus_store::args![AGS, SERVICE],
            )
            .await
            .unwrap();
        drop(tx);
        let cases = usize::try_from(row.i64("n").unwrap()).unwrap();
        assert_eq!(
            cases,
            baseline + answered.len(),
            "{cases} cases for {} acknowledged submissions",
            answered.len()
        );
        app.store.close().await;
    });
}

fn count_cases(inst: &Installation) -> usize {
    let out = Command::new("sqlite3")
        .arg(inst.dir.path().join("rathaus.db"))
        .arg(format!(
            "SELECT COUNT(*) FROM cases WHERE tenant_key = '{AGS}' AND service_id = '{SERVICE}'"
        ))
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().parse().unwrap(),
        _ => panic!("sqlite3 is needed to count the cases"),
    }
}

#[test]
fn acknowledged_submissions_survive_sigkill_exactly_once() {
    let inst = Installation {
        dir: tempfile::tempdir().unwrap(),
    };
    let (server, mut addr) = inst.start();
    let mut server = Running(server);
    let baseline = count_cases(&inst);
    let started = Instant::now();
    let mut answered: HashMap<String, Attempt> = HashMap::new();
    let mut cycles = 0;
    let mut resent = 0;
    while cycles < MAX_CYCLES && started.elapsed() < TIME_BUDGET {
        cycles += 1;
        let stop = Arc::new(AtomicBool::new(false));
        let killer = {
            let stop = stop.clone();
            let pid = server.0.id();
            // Kill at a different moment of the load each cycle.
            let after = Duration::from_millis(300 + (cycles as u64 * 277) % 900);
            std::thread::spawn(move || {
                std::thread::sleep(after);
                Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status()
                    .unwrap();
                stop.store(true, Ordering::Relaxed);
            })
        };
        let attempts = load(&addr, cycles, &stop);
        killer.join().unwrap();
        server.0.wait().unwrap();
        let (restarted, restarted_at) = inst.start();
        (server, addr) = (Running(restarted), restarted_at);
        for mut a in attempts {
            if a.answer.is_none() {
                // No answer (or 503): the client tries again with the same key.
                resent += 1;
                let (status, json) = submit(&addr, &a).expect("the restarted server answers");
                a.answer = answer_of(status, &json);
                assert!(a.answer.is_some(), "retry answered {status}: {json}");
            } else {
                // An answered submission sent again names the same case.
                let (status, json) = submit(&addr, &a).expect("the restarted server answers");
                assert_eq!(
                    answer_of(status, &json).map(|x| x.0),
                    a.answer.as_ref().map(|x| x.0.clone()),
                    "the same key named another case"
                );
            }
            answered.insert(a.key.clone(), a);
        }
        check_cases(&inst, &answered, baseline);
        let verify = inst.cmd(&["audit", "verify"]).output().unwrap();
        assert!(
            verify.status.success(),
            "audit chain broken after cycle {cycles}: {}",
            String::from_utf8_lossy(&verify.stdout)
        );
    }
    drop(server);
    println!(
        "crash test: {cycles} SIGKILL cycles, {} acknowledged submissions checked ({resent} sent again after the crash)",
        answered.len()
    );
    assert!(answered.len() > cycles, "too little load to mean anything");
}
