//! `rathaus dogtax …` as a process, the way an operator and the treasury use it, and the proof
//! that the CLI and the HTTP API give the same quote for the same input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

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
            .env("RATHAUS_LOG_LEVEL", "warn");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn file(&self, name: &str, content: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_owned()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)))
}

/// Starts `rathaus demo` (seeding the pilots with their statutes) on a free port.
fn start_demo(inst: &Installation) -> (Child, String) {
    let mut child = inst
        .cmd(&["demo"])
        .env("RATHAUS_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "server did not start");
        match lines.next() {
            Some(Ok(line)) if line.starts_with("listening on ") => {
                let url = line.trim_start_matches("listening on ").to_owned();
                std::thread::spawn(move || for _ in lines {});
                return (child, url);
            }
            Some(Ok(_)) => continue,
            _ => panic!("server exited early"),
        }
    }
}

fn http_post(base: &str, path: &str, body: &str) -> (u16, String, Value) {
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    (status, content_type, serde_json::from_str(body).unwrap())
}

fn stop(mut child: Child) {
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[cfg(unix)]
#[test]
fn cli_and_api_give_identical_quotes_and_the_treasury_gets_its_files() {
    let inst = Installation {
        dir: tempfile::tempdir().unwrap(),
    };
    let (server, url) = start_demo(&inst);

    // The demo's statute, as the tenant admin would see it.
    let out = inst.run(&["dogtax", "statute", "show", "12060181"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = json_of(&out);
    assert_eq!(shown.as_array().unwrap().len(), 1);
    assert_eq!(shown[0]["rates"], json!(["46.00", "76.00", "122.00"]));
    assert_eq!(shown[0]["dangerous_rates"], json!(["409.00", "512.00"]));
    let out = inst.run(&["dogtax", "statute", "show", "12069448"]);
    assert_eq!(
        json_of(&out)[0]["rates"],
        json!(["50.00", "70.00", "100.00"])
    );

    let path = "/api/v1/tenants/12060181/dog-tax/quote";
    let requests = [
        json!({"year": 2026, "assessment_date": "2026-03-20", "dogs": [
            {"name": "Bello", "kept_from": "2025-05-10", "kept_until": null, "dangerous": false, "exemption": null, "reduction": null},
            {"name": "Rocky", "kept_from": "2026-01-15", "dangerous": true},
            {"name": "Emma", "kept_from": "2026-06-30", "kept_until": "2026-10-02", "reduction": "sachkunde"}]}),
        json!({"year": 2026, "assessment_date": "2026-01-05", "dogs": [
            {"name": "Luna", "kept_from": "2026-02-01", "exemption": "shelter"}]}),
    ];
    for (i, request) in requests.iter().enumerate() {
        let file = inst.file(&format!("request-{i}.json"), &request.to_string());
        let out = inst.run(&["dogtax", "quote", "12060181", &file]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let cli = json_of(&out);
        let (status, content_type, api) = http_post(&url, path, &request.to_string());
        assert_eq!((status, content_type.as_str()), (200, "application/json"));
        assert_eq!(cli, api, "CLI and API differ for request {i}");
        assert_eq!(cli["tenant"], "12060181");
        // Printed in the documented order of the fields.
        let printed = text(&out.stdout);
        let at = |key: &str| printed.find(&format!("\"{key}\":")).unwrap();
        assert!(
            at("tenant") < at("year")
                && at("year") < at("currency")
                && at("currency") < at("dogs")
                && at("dogs") < at("installments")
                && at("installments") < at("total"),
            "{printed}"
        );
    }
    // Standard input works too.
    let out = inst.run_with_stdin(
        &["dogtax", "quote", "12060181", "-"],
        &requests[0].to_string(),
    );
    assert!(out.status.success());
    assert_eq!(json_of(&out)["total"], "433.59");

    // Bad input: the same problem document from both, exit code 2 from the CLI.
    let bad = json!({"year": 2026, "dogs": [
        {"name": "Bello", "kept_from": "2026-05-10", "kept_until": "2026-01-01", "exemption": "vip"},
        {"name": "Rex", "kept_from": "2026-13-01"}]});
    let file = inst.file("bad.json", &bad.to_string());
    let out = inst.run(&["dogtax", "quote", "12060181", &file]);
    assert_eq!(out.status.code(), Some(2));
    let cli = json_of(&out);
    let (status, content_type, api) = http_post(&url, path, &bad.to_string());
    assert_eq!(
        (status, content_type.as_str()),
        (422, "application/problem+json")
    );
    assert_eq!(cli, api);
    let fields: Vec<&str> = cli["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec![
            "dogs[1].kept_from",
            "dogs[0].kept_until",
            "dogs[0].exemption"
        ]
    );
    let out = inst.run_with_stdin(&["dogtax", "quote", "12060181", "-"], "{oops");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json_of(&out)["errors"][0]["field"], "");
    // An AGS that offers nothing: 404 from the API, exit 2 from the CLI.
    let out = inst.run(&["dogtax", "quote", "12060005", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json_of(&out)["status"], 404);
    let (status, _, api) = http_post(&url, "/api/v1/tenants/12060005/dog-tax/quote", "{}");
    assert_eq!((status, api["status"].clone()), (404, json!(404)));

    // A new statute version from 2027: the CLI applies it at once, the running server within
    // the catalogue's recheck interval (it holds statutes in memory).
    let mut v: Value = serde_json::from_str(rathaus_domain::dogtax::demo::PANKETAL_JSON).unwrap();
    v["valid_from"] = json!("2027-01-01");
    v["rates"] = json!(["60.00", "90.00", "150.00"]);
    let statute = inst.file("statute-2027.json", &v.to_string());
    let out = inst.run(&["dogtax", "statute", "set", "12060181", &statute]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        "Gemeinde Panketal (12060181): statute valid from 2027-01-01 stored (revision 1)"
    );
    let request = json!({"year": 2027, "assessment_date": "2027-01-02", "dogs": [{"name": "Bello", "kept_from": "2025-05-10"}]});
    let file = inst.file("request-2027.json", &request.to_string());
    let cli = json_of(&inst.run(&["dogtax", "quote", "12060181", &file]));
    assert_eq!(cli["total"], "60.00");
    let deadline = Instant::now() + rathaus_store::catalogue::RECHECK * 4;
    loop {
        let (_, _, api) = http_post(&url, path, &request.to_string());
        if api == cli {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server kept the old statute: {api}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    v["rates"] = json!(["60.00", "x"]);
    let statute = inst.file("statute-bad.json", &v.to_string());
    let out = inst.run(&["dogtax", "statute", "set", "12060181", &statute]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("rates[1]"),
        "{}",
        text(&out.stderr)
    );
    stop(server);

    // The register of an earlier procedure, the annual assessment and the export.
    let lines = [
        json!({"holder": {"name": "Anna Schmidt", "street": "Am Anger 1", "postcode": "16341", "city": "Panketal"},
               "payment": {"method": "debit", "iban": "DE89370400440532013000", "account_holder": "Anna Schmidt", "mandate_reference": "HU-LEGACY-1", "mandate_date": "2019-03-01"},
               "dogs": [{"name": "Bruno", "kept_from": "2019-02-01"}, {"name": "Emma", "kept_from": "2021-06-15", "reduction": "sachkunde"}]}),
        json!({"holder": {"name": "Jörg Öztürk", "street": "Lindenallee 7", "postcode": "16341", "city": "Panketal"},
               "payment": {"method": "transfer"},
               "dogs": [{"name": "Rocky", "kept_from": "2020-01-01", "dangerous": {"date": "2024-08-01", "file_number": "OA-2024-17"}}]}),
    ];
    let register = inst.file(
        "register.jsonl",
        &lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    );
    let out = inst.run(&["dogtax", "import", "12060181", &register]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("imported 2 households with 3 dogs"));
    let pdfs = inst.dir.path().join("notices");
    let out = inst.run(&[
        "dogtax",
        "assess",
        "12060181",
        "--year",
        "2027",
        "--date",
        "2026-12-01",
        "--pdf",
        pdfs.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // 2027 rates: Anna 60 + 90 × 50 % = 105; Rocky 409.
    assert!(
        stdout.starts_with("2027: 2 notices issued on 2026-12-01 (2 households, 0 already assessed, 0 without dogs); tax 514.00 EUR"),
        "{stdout}"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("notices") && stderr.contains("2/2 100%"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(&pdfs).unwrap().count(), 2);
    let again = inst.run(&["dogtax", "assess", "12060181", "--year", "2027"]);
    assert!(
        text(&again.stdout).starts_with("2027: 0 notices issued"),
        "{}",
        text(&again.stdout)
    );

    let out_dir = inst.dir.path().join("kasse");
    let out = inst.run(&[
        "dogtax",
        "export",
        "12060181",
        "--due",
        "2027-02-15",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 direct debits, 26.25 EUR"), "{stdout}");
    assert!(
        stdout.contains("1 transfers expected, 102.25 EUR"),
        "{stdout}"
    );
    let xml = out_dir.join("hundesteuer-12060181-2027-02-15-lastschriften.xml");
    let csv =
        std::fs::read_to_string(out_dir.join("hundesteuer-12060181-2027-02-15-ueberweisungen.csv"))
            .unwrap();
    assert!(
        csv.contains("Jörg Öztürk;Lindenallee 7;16341;Panketal;2027-02-15;102,25;"),
        "{csv}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&xml).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "export files are private");
    }
    validate_with_xsd(&xml);

    // The same due date again: the treasury is told what went out before, and gets no file
    // that would have the bank collect the same debits twice.
    let export = |due: &str, again: bool| {
        let mut args = vec![
            "dogtax",
            "export",
            "12060181",
            "--due",
            due,
            "--out",
            out_dir.to_str().unwrap(),
        ];
        if again {
            args.push("--again");
        }
        inst.run(&args)
    };
    let out = export("2027-02-15", false);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let first_xml = xml.canonicalize().unwrap();
    assert!(
        stdout.contains("1 direct debits were already exported on ")
            && stdout.contains(&format!(" in file {}\n", first_xml.display()))
            && stdout.contains("1 transfers were already listed on ")
            && stdout.contains("exported 0 new direct debits due on 2027-02-15\n")
            && stdout.contains("no new transfers expected on 2027-02-15\n"),
        "{stdout}"
    );
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 2);
    // An explicit re-export (the bank rejected the file) writes it once more, under a new name
    // and message id, with a warning and an audit entry of its own.
    let out = export("2027-02-15", true);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let again_xml = out_dir.join("hundesteuer-12060181-2027-02-15-lauf2-lastschriften.xml");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "exported 1 direct debits, 26.25 EUR: {}",
            again_xml.canonicalize().unwrap().display()
        )),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains(
            "warning: re-export: 1 direct debits exported before for 2027-02-15 are in this file once more"
        ),
        "{}",
        text(&out.stderr)
    );
    assert!(
        std::fs::read_to_string(&again_xml)
            .unwrap()
            .contains("<MsgId>HST-12060181-20270215-2</MsgId>")
    );
    validate_with_xsd(&again_xml);
    let audit = Command::new("sqlite3")
        .arg(inst.dir.path().join("rathaus.db"))
        .arg("SELECT action FROM audit_log WHERE object = 'dogtax-export:12060181:2027-02-15' ORDER BY seq")
        .output()
        .expect("sqlite3 tool (apt-get install sqlite3)");
    assert_eq!(
        text(&audit.stdout),
        "dogtax.export\ndogtax.export\ndogtax.export.again\n"
    );

    // A mandate without its date of signature: the debit is refused, named to the operator by
    // the Kassenzeichen and listed for the treasury; nothing is invented.
    set_mandate_date(&inst, "HU-000001", None);
    let out = export("2027-05-15", false);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning: not exported: direct debit of Kassenzeichen HU-000001 (tax 2027): no date of signature is recorded for the mandate")
            && stderr.contains("warning: 1 direct debits were refused and not exported (list: "),
        "{stderr}"
    );
    assert!(!stderr.contains("Anna"), "{stderr}");
    assert!(text(&out.stdout).contains("exported 0 direct debits due on 2027-05-15"));
    assert!(
        !out_dir
            .join("hundesteuer-12060181-2027-05-15-lastschriften.xml")
            .exists()
    );
    let list = std::fs::read_to_string(
        out_dir.join("hundesteuer-12060181-2027-05-15-nicht-exportiert.csv"),
    )
    .unwrap();
    assert!(
        list.contains("HU-000001;Hundesteuer 2027;2027-05-15;26,25;Für das Mandat ist kein Datum der Unterschrift erfasst."),
        "{list}"
    );
    // Once the date is entered, the next export for that day collects it.
    set_mandate_date(&inst, "HU-000001", Some("2019-03-01"));
    let out = export("2027-05-15", false);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("exported 1 new direct debits, 26.25 EUR: "),
        "{}",
        text(&out.stdout)
    );
    validate_with_xsd(&out_dir.join("hundesteuer-12060181-2027-05-15-lauf2-lastschriften.xml"));

    let out = inst.run(&[
        "dogtax",
        "export",
        "12060181",
        "--due",
        "15.02.2027",
        "--out",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(inst.run(&["audit", "verify"]).status.success());
}

/// Changes the recorded date of a household's mandate in the installation's database, as a
/// register entry from before the date was kept would have it.
/// A generated register of `n` households for the municipality, as a file in the installation.
fn register_file(inst: &Installation, name: &str, n: usize) -> String {
    let lines: String = (0..n)
        .map(|i| {
            format!(
                "{}\n",
                json!({"holder": {"name": format!("Halter {i}"), "street": "Weg 1", "postcode": "16341", "city": "Panketal"},
                       "payment": {"method": "transfer"},
                       "dogs": [{"name": format!("Hund {i}"), "kept_from": "2020-01-01"}]})
            )
        })
        .collect();
    inst.file(name, &lines)
}

/// The complete PDFs in `dir`, and whether anything else (a `.part` file) is there.
fn printed(dir: &Path) -> (usize, Vec<String>) {
    let mut complete = 0;
    let mut other = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(e.path()).unwrap();
        if name.ends_with(".pdf") && bytes.trim_ascii_end().ends_with(b"%%EOF") {
            complete += 1;
        } else {
            other.push(name);
        }
    }
    (complete, other)
}

/// Waits until `dir` holds at least `n` files (or the process ended).
fn wait_for_files(child: &mut Child, dir: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let count = std::fs::read_dir(dir).map_or(0, |d| d.count());
        if count >= n || child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("no {n} files in {} within two minutes", dir.display());
}

/// The operator's night: two municipalities' annual runs started together, each with its
/// progress line (rate and time left); Ctrl-C stops them after the work at hand (exit code 3),
/// a crash (SIGKILL) loses nothing that was acknowledged, and the same command then finishes
/// the job: every household has exactly one complete notice file, and none was issued twice.
#[cfg(unix)]
#[test]
fn a_night_of_annual_runs_stops_resumes_and_never_prints_twice() {
    let inst = Installation {
        dir: tempfile::tempdir().unwrap(),
    };
    let (server, _) = start_demo(&inst);
    stop(server);
    let (panketal, belzig) = ("12060181", "12069020");
    let n = 150;
    for (ags, file) in [(panketal, "a.jsonl"), (belzig, "b.jsonl")] {
        let register = register_file(&inst, file, n);
        let out = inst.run(&["dogtax", "import", ags, &register]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let pdfs = inst.dir.path().join("druck");
    let args = [
        "dogtax",
        "assess",
        panketal,
        belzig,
        "--year",
        "2027",
        "--date",
        "2026-12-01",
        "--pdf",
        pdfs.to_str().unwrap(),
    ];
    let (dir_a, dir_b) = (pdfs.join(panketal), pdfs.join(belzig));

    // Ctrl-C once printing has begun: both runs stop and say how to go on.
    let mut child = inst
        .cmd(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_files(&mut child, &dir_a, 5);
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("{panketal}: 2027: {n} notices issued"))
            && stdout.contains(&format!("{belzig}: 2027: {n} notices issued")),
        "{stdout}"
    );
    assert!(
        stderr.contains("interrupted: run the same command again"),
        "{stderr}"
    );
    // Both runs reported their progress with a rate and the time left.
    for ags in [panketal, belzig] {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(ags) && l.contains("/s") && l.contains("left")),
            "{stderr}"
        );
    }
    let (stopped_a, rest) = printed(&dir_a);
    assert!(rest.is_empty(), "{rest:?}");
    assert!(stopped_a >= 5 && stopped_a < n, "{stopped_a}");

    // Killed outright while printing: what was written stays, nothing looks complete that is not.
    let mut child = inst
        .cmd(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_files(&mut child, &dir_a, stopped_a + 5);
    child.kill().unwrap();
    child.wait().unwrap();

    // The same command finishes the job.
    let out = inst.run(&args);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!(
            "{panketal}: 2027: 0 notices issued on 2026-12-01 ({n} households, {n} already assessed"
        )),
        "{stdout}"
    );
    for dir in [&dir_a, &dir_b] {
        let (complete, rest) = printed(dir);
        let rest: Vec<_> = rest.into_iter().filter(|r| !r.ends_with(".part")).collect();
        assert_eq!((complete, rest.len()), (n, 0), "{rest:?}");
    }
    assert!(
        std::fs::read_dir(&dir_a).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".part"))
    );
}

fn set_mandate_date(inst: &Installation, kassenzeichen: &str, date: Option<&str>) {
    use std::sync::Arc;
    let env = std::collections::HashMap::from([(
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
        rathaus_app::testing::set_dogtax_mandate_date(&app, "12060181", kassenzeichen, date)
            .await
            .unwrap();
        app.store.close().await;
    });
}

/// The pain.008 file against the official XSD from the PyPI package `sepaxml`, through
/// `scripts/validate-sepa.py`; skipped with a note when the venv is missing, unless
/// `RATHAUS_TEST_REQUIRE_SEPA=1`.
fn validate_with_xsd(xml: &Path) {
    let python = std::env::var("RATHAUS_TEST_PYTHON")
        .unwrap_or_else(|_| "/var/tmp/rathaus-venv/bin/python".into());
    let required = std::env::var("RATHAUS_TEST_REQUIRE_SEPA").as_deref() == Ok("1");
    let probe = Command::new(&python)
        .args(["-c", "import sepaxml, xmlschema"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        assert!(
            !required,
            "RATHAUS_TEST_REQUIRE_SEPA=1 but {python} cannot import sepaxml"
        );
        eprintln!("NOTE: {python} has no sepaxml; pain.008 XSD validation skipped");
        return;
    }
    let out = Command::new(&python)
        .arg(repo_root().join("scripts/validate-sepa.py"))
        .arg(xml)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "XSD validation failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("valid pain.008.001.02"));
}
