//! The `rathaus` command as a process, the way an operator uses it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

struct Installation {
    dir: tempfile::TempDir,
    database_url: Option<String>,
}

impl Installation {
    fn sqlite() -> Installation {
        Installation {
            dir: tempfile::tempdir().unwrap(),
            database_url: None,
        }
    }

    /// A SQLite installation with Brandenburg's municipalities and the three pilots enabled
    /// (an audit log of a few entries).
    fn with_the_pilots() -> Installation {
        let inst = Installation::sqlite();
        let gv = repo_root().join("refdata/gv-brandenburg.csv");
        assert!(
            inst.run(&["tenant", "import-gv", gv.to_str().unwrap()])
                .status
                .success()
        );
        for ags in ["12060181", "12069020", "12069448"] {
            assert!(inst.run(&["tenant", "enable", ags]).status.success());
        }
        inst
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rathaus"));
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RATHAUS_DATA_DIR", self.dir.path())
            .env("RATHAUS_LOG_LEVEL", "warn");
        if let Some(url) = &self.database_url {
            c.env("RATHAUS_DATABASE_URL", url);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("rathaus.db")
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn import_of_all_german_municipalities_is_complete_and_idempotent() {
    let inst = Installation::sqlite();
    let file = repo_root().join("refdata/gv-auszug-2020q4.csv");
    let started = Instant::now();
    let out = inst.run(&["tenant", "import-gv", file.to_str().unwrap()]);
    let first = started.elapsed();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("imported 10794 municipalities and"),
        "{stdout}"
    );
    eprintln!("first import took {first:?}: {stdout}");

    let out = inst.run(&["tenant", "import-gv", file.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains(": 0 new, 0 updated,"),
        "{}",
        text(&out.stdout)
    );

    let out = inst.run(&["tenant", "list", "--land", "12"]);
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("470 tenants"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).lines().all(|l| l.contains("disabled")),
        "imported tenants start disabled"
    );

    let out = inst.run(&["tenant", "show", "12060181"]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    assert!(
        s.contains("Gemeinde Panketal")
            && s.contains("ARS:        120600181181")
            && s.contains("enabled:    no"),
        "{s}"
    );
    let out = inst.run(&["tenant", "show", "amt-niemegk"]);
    assert!(
        text(&out.stdout).contains("member:     Gemeinde Planetal (12069474), disabled"),
        "{}",
        text(&out.stdout)
    );

    let out = inst.run(&["tenant", "enable", "12060181"]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout).trim(),
        "Gemeinde Panketal (12060181) enabled"
    );
    let out = inst.run(&["tenant", "list", "--enabled"]);
    assert_eq!(text(&out.stdout).lines().count(), 1);
}

#[test]
fn bad_input_is_named_and_exits_with_2() {
    let inst = Installation::sqlite();
    let out = inst.run(&["tenant", "show", "99999999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("no municipality or administration with AGS or name \"99999999\""),
        "{}",
        text(&out.stderr)
    );
    let out = inst.run(&["tenant", "enable", "123"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not an AGS"),
        "{}",
        text(&out.stderr)
    );

    let bad = inst.dir.path().join("bad.csv");
    let mut content =
        std::fs::read_to_string(repo_root().join("refdata/gv-brandenburg.csv")).unwrap();
    content = content.replacen(
        "60,64,12,0,60,0181,181,Panketal",
        "60,64,12,0,60,0181,1x1,Panketal",
        1,
    );
    std::fs::write(&bad, content).unwrap();
    let out = inst.run(&["tenant", "import-gv", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("line ") && err.contains("gemeinde") && err.contains("nothing was imported"),
        "{err}"
    );
    assert!(
        !err.contains("panicked") && err.lines().count() == 1,
        "{err}"
    );
    let out = inst.run(&["tenant", "list"]);
    assert!(
        text(&out.stderr).contains("0 tenants"),
        "nothing half-imported: {}",
        text(&out.stderr)
    );
}

#[test]
fn unreachable_database_is_one_clear_line() {
    let mut inst = Installation::sqlite();
    inst.database_url = Some("postgres://rathaus@127.0.0.1:1/rathaus".into());
    let out = inst.run(&["tenant", "list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: cannot reach the PostgreSQL database"),
        "{err}"
    );
}

#[test]
fn audit_verify_detects_a_row_edited_with_sqlite3() {
    let inst = Installation::with_the_pilots();
    let out = inst.run(&["audit", "verify"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The import, three enablings and the first start storing the shipped service definitions.
    let intact = text(&out.stdout);
    let n: u64 = intact
        .trim()
        .strip_prefix("audit log intact: ")
        .and_then(|r| r.strip_suffix(" entries verified"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(n >= 4, "{intact}");

    // The database itself refuses the edit ...
    let sqlite3 = |sql: &str| {
        Command::new("sqlite3")
            .arg(inst.db())
            .arg(sql)
            .output()
            .expect("sqlite3 tool (apt-get install sqlite3)")
    };
    let refused = sqlite3("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3;");
    assert!(!refused.status.success() && text(&refused.stderr).contains("append-only"));
    // ... so the attacker removes the guard first; the chain still tells.
    let edited = sqlite3(
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3;",
    );
    assert!(edited.status.success(), "{}", text(&edited.stderr));
    let out = inst.run(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        text(&out.stdout).trim(),
        "audit log BROKEN at entry 3: its content does not match its hash (altered)"
    );
}

/// The chain alone cannot tell a log cut short whose head was set to match; a signed checkpoint
/// of the head, kept outside the database, can.
#[test]
fn audit_checkpoints_catch_a_log_cut_short_and_re_headed() {
    let inst = Installation::with_the_pilots();
    let checkpoints = inst.dir.path().join("checkpoints");
    let dir = checkpoints.to_str().unwrap();

    // The first checkpoint generates the signing key beside the master key.
    let out = inst.run(&["audit", "checkpoint", "--out", dir]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    let key_path = inst.dir.path().join("audit-signing.key");
    assert!(
        said.contains(&format!(
            "audit signing key generated: {}",
            key_path.display()
        )),
        "{said}"
    );
    let key = std::fs::read_to_string(&key_path).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let head: i64 = said
        .lines()
        .find_map(|l| l.strip_prefix("checkpoint of entry "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(head >= 4, "{said}");
    let out = inst.run(&["audit", "verify", "--checkpoints", dir]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains(&format!("1 checkpoints held (the newest of entry {head}")),
        "{}",
        text(&out.stdout)
    );
    // The log grows; a second checkpoint keeps the key.
    assert!(
        inst.run(&["tenant", "disable", "12069448"])
            .status
            .success()
    );
    let out = inst.run(&["audit", "checkpoint", "--out", dir]);
    assert!(!text(&out.stdout).contains("generated"));
    assert_eq!(std::fs::read_to_string(&key_path).unwrap(), key);

    // Someone with the database cuts the newest entries off and sets the head to match.
    let cut = Command::new("sqlite3")
        .arg(inst.db())
        .arg(format!(
            "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq > {keep}; \
             UPDATE audit_head SET seq = {keep}, hash = (SELECT hash FROM audit_log WHERE seq = {keep});",
            keep = head - 1
        ))
        .output()
        .expect("sqlite3 tool (apt-get install sqlite3)");
    assert!(cut.status.success(), "{}", text(&cut.stderr));
    // The chain is intact in itself ...
    assert!(inst.run(&["audit", "verify"]).status.success());
    // ... but not against the checkpoints: both now point past its end.
    let out = inst.run(&["audit", "verify", "--checkpoints", dir]);
    assert_eq!(out.status.code(), Some(3));
    let said = text(&out.stdout);
    assert_eq!(said.lines().count(), 2, "{said}");
    assert!(
        said.lines().all(
            |l| l.starts_with("audit log BROKEN against checkpoint audit-")
                && l.contains(&format!("the log ends at entry {}", head - 1))
                && l.ends_with("entries were removed from its end")
        ),
        "{said}"
    );

    // A checkpoint edited to fit the shortened log no longer carries a valid signature.
    let forged_dir = inst.dir.path().join("forged");
    std::fs::create_dir_all(&forged_dir).unwrap();
    let first = std::fs::read_dir(&checkpoints)
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    let forged = std::fs::read_to_string(&first)
        .unwrap()
        .replace(&format!("seq: {head}\n"), &format!("seq: {}\n", head - 1));
    std::fs::write(forged_dir.join("audit-forged.checkpoint"), forged).unwrap();
    let out = inst.run(&[
        "audit",
        "verify",
        "--checkpoints",
        forged_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stdout).contains("its signature does not match its content"),
        "{}",
        text(&out.stdout)
    );

    // New entries written over the cut reach the checkpointed numbers again, with other
    // content: the log was rewritten.
    for command in ["enable", "disable", "enable"] {
        assert!(inst.run(&["tenant", command, "12069448"]).status.success());
    }
    assert!(inst.run(&["audit", "verify"]).status.success());
    let out = inst.run(&["audit", "verify", "--checkpoints", dir]);
    assert_eq!(out.status.code(), Some(3));
    let said = text(&out.stdout);
    assert!(
        said.lines().count() == 2 && said.lines().all(|l| l.ends_with("the log was rewritten")),
        "{said}"
    );

    // Nothing to check against is bad input, not a pass.
    let empty = inst.dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = inst.run(&["audit", "verify", "--checkpoints", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no checkpoints"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn audit_scope_lists_a_municipalitys_records_and_refuses_bad_windows() {
    let inst = Installation::with_the_pilots();
    let all_time = [
        "audit",
        "scope",
        "12060181",
        "--from",
        "2000-01-01",
        "--to",
        "2099-12-31",
    ];
    let out = inst.run(&all_time);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    let first = said.lines().next().unwrap();
    assert!(
        first.starts_with("Gemeinde Panketal (12060181), 2000-01-01 to 2099-12-31 (local time): "),
        "{said}"
    );
    assert!(said.contains("tenant.enable"), "{said}");
    assert!(
        !said.contains("12069020"),
        "another municipality's entries: {said}"
    );

    let out = inst.run(&[all_time.as_slice(), &["--json"]].concat());
    assert!(out.status.success());
    let scope: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(scope["key"], "12060181");
    assert!(scope["records"].as_array().is_some_and(|r| !r.is_empty()));
    // The first scope is on record now, and the second lists it.
    assert!(text(&out.stdout).contains("audit.scope"));

    for (from, to, says) in [
        ("2026-12-03", "2026-12-01", "before it starts"),
        ("03.12.2026", "2026-12-04", "--from takes a date"),
    ] {
        let out = inst.run(&["audit", "scope", "12060181", "--from", from, "--to", to]);
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).contains(says), "{}", text(&out.stderr));
    }
}

#[test]
fn master_key_is_created_once_and_a_wrong_one_changes_nothing() {
    let inst = Installation::sqlite();
    assert!(inst.run(&["tenant", "enable", "12060181"]).status.code() == Some(2));
    let key_path = inst.dir.path().join("master.key");
    let key = std::fs::read_to_string(&key_path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let gv = repo_root().join("refdata/gv-brandenburg.csv");
    assert!(
        inst.run(&["tenant", "import-gv", gv.to_str().unwrap()])
            .status
            .success()
    );
    assert!(inst.run(&["tenant", "enable", "12060181"]).status.success());
    assert_eq!(
        std::fs::read_to_string(&key_path).unwrap(),
        key,
        "the key is never regenerated"
    );

    // Another installation's key in its place: refused, and nothing written.
    let other = Installation::sqlite();
    assert!(other.run(&["migrate"]).status.success());
    std::fs::copy(other.dir.path().join("master.key"), &key_path).unwrap();
    let db_before = std::fs::read(inst.db()).unwrap();
    let out = inst.run(&["tenant", "enable", "12069020"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("is not the key of this database") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(std::fs::read(inst.db()).unwrap(), db_before);
    let out = inst.run(&["serve"]);
    assert_eq!(out.status.code(), Some(1), "the server refuses to start");

    // No key at all next to an encrypted database: refused, no new key generated.
    std::fs::remove_file(&key_path).unwrap();
    let out = inst.run(&["serve"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is missing"),
        "{}",
        text(&out.stderr)
    );
    assert!(!key_path.exists());

    // The right key back: all good again, and rotation keeps the data readable.
    std::fs::write(&key_path, &key).unwrap();
    assert!(inst.run(&["tenant", "enable", "12069020"]).status.success());
    let out = inst.run(&["keys", "rotate-master"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("2 tenant keys and 4 index keys re-wrapped"),
        "{}",
        text(&out.stdout)
    );
    assert_ne!(std::fs::read_to_string(&key_path).unwrap(), key);
    assert!(inst.run(&["audit", "verify"]).status.success());
}

/// Starts `rathaus serve` on a free port and returns the process and its base URL.
fn start_server(inst: &Installation, args: &[&str]) -> (std::process::Child, String) {
    let (child, url, _) = start_server_with_ops(inst, args);
    (child, url)
}

/// Like [`start_server`], and the operators' listener's URL if it printed one.
fn start_server_with_ops(
    inst: &Installation,
    args: &[&str],
) -> (std::process::Child, String, Option<String>) {
    let mut child = inst
        .cmd(args)
        .env("RATHAUS_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut ops = None;
    loop {
        assert!(Instant::now() < deadline, "server did not start");
        match lines.next() {
            Some(Ok(line)) if line.starts_with("listening on ") => {
                let url = line.trim_start_matches("listening on ").to_owned();
                std::thread::spawn(move || for _ in lines {});
                return (child, url, ops);
            }
            Some(Ok(line)) if line.starts_with("operator endpoints (/metrics) on ") => {
                ops = Some(
                    line.trim_start_matches("operator endpoints (/metrics) on ")
                        .to_owned(),
                );
            }
            Some(Ok(_)) => continue,
            _ => panic!("server exited early"),
        }
    }
}

fn http_get(base: &str, path: &str) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, resp)
}

#[cfg(unix)]
fn terminate(child: &std::process::Child) {
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
}

#[cfg(unix)]
#[test]
fn demo_serves_the_pilots_and_stops_cleanly_on_sigterm() {
    let inst = Installation::sqlite();
    let (mut child, url, ops) = start_server_with_ops(&inst, &["demo"]);
    // Metrics only on the operators' listener, which the demo opens on localhost.
    let ops = ops.expect("the demo prints its operators' listener");
    assert!(ops.starts_with("http://127.0.0.1:"), "{ops}");
    assert_eq!(http_get(&url, "/metrics").0, 404);
    let (status, body) = http_get(&ops, "/metrics");
    assert_eq!(status, 200);
    assert!(body.contains("http_requests_total"), "{body}");
    let (status, body) = http_get(&url, "/");
    assert_eq!(status, 200);
    for name in [
        "Gemeinde Panketal",
        "Stadt Bad Belzig",
        "Amt Niemegk",
        "Gemeinde Planetal",
    ] {
        assert!(body.contains(name), "{name}");
    }
    assert_eq!(http_get(&url, "/healthz").0, 200);
    assert_eq!(http_get(&url, "/readyz").0, 200);
    terminate(&child);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!err.contains("panicked"), "{err}");

    // Running the demo again on the same data is fine (idempotent seeding).
    let (mut child, url) = start_server(&inst, &["demo"]);
    assert_eq!(http_get(&url, "/panketal").0, 200);
    terminate(&child);
    assert!(child.wait().unwrap().success());
    assert!(inst.run(&["audit", "verify"]).status.success());
}

/// With `audit_checkpoint_dir` set, the running server writes signed checkpoints by itself.
#[cfg(unix)]
#[test]
fn the_server_writes_audit_checkpoints_when_configured() {
    let inst = Installation::sqlite();
    let checkpoints = inst.dir.path().join("checkpoints");
    let mut cmd = inst.cmd(&["demo"]);
    cmd.env("RATHAUS_LISTEN", "127.0.0.1:0")
        .env("RATHAUS_AUDIT_CHECKPOINT_DIR", &checkpoints);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while !lines.next().unwrap().unwrap().starts_with("listening on ") {}
    let written = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir).map_or_else(
            |_| Vec::new(),
            |entries| {
                entries
                    .map(|e| e.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|x| x == "checkpoint"))
                    .collect()
            },
        )
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while written(&checkpoints).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    terminate(&child);
    assert!(child.wait().unwrap().success());
    assert_eq!(written(&checkpoints).len(), 1);
    let out = inst.run(&[
        "audit",
        "verify",
        "--checkpoints",
        checkpoints.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("1 checkpoints held"));
}

#[cfg(unix)]
#[test]
fn json_logs_carry_request_ids_and_no_raw_paths() {
    let inst = Installation::sqlite();
    let mut cmd = inst.cmd(&["demo"]);
    cmd.env("RATHAUS_LOG_FORMAT", "json")
        .env("RATHAUS_LOG_LEVEL", "info")
        .env("RATHAUS_LISTEN", "127.0.0.1:0");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(u) = line.strip_prefix("listening on ") {
            break u.to_owned();
        }
    };
    assert_eq!(http_get(&url, "/secret-looking-path-abc123").0, 404);
    assert_eq!(http_get(&url, "/panketal").0, 200);
    terminate(&child);
    child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let requests: Vec<serde_json::Value> = err
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == "request")
        .collect();
    assert!(requests.len() >= 2, "{err}");
    for r in &requests {
        assert!(
            r["span"]["request_id"]
                .as_str()
                .is_some_and(|id| id.len() == 16),
            "{r}"
        );
    }
    assert!(
        requests.iter().any(|r| r["span"]["route"] == "/{slug}"),
        "{err}"
    );
    assert!(
        !err.contains("secret-looking-path-abc123"),
        "raw paths must not be logged"
    );
}
