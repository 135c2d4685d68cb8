//! `rathaus service …` as a process.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rathaus"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RATHAUS_DATA_DIR", dir)
        .env("RATHAUS_LOG_LEVEL", "warn")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn services_are_listed_imported_offered_and_withdrawn() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap();
    let gv = root.join("refdata/gv-brandenburg.csv");
    assert!(
        run(dir.path(), &["tenant", "import-gv", gv.to_str().unwrap()])
            .status
            .success()
    );
    assert!(
        run(dir.path(), &["tenant", "enable", "12060181"])
            .status
            .success()
    );

    let out = run(dir.path(), &["service", "list"]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("maengelmelder"),
        "{}",
        text(&out.stdout)
    );

    // Importing the shipped file again is a no-op; a changed file with the same version is refused.
    let file = root.join("services/maengelmelder.json");
    let out = run(dir.path(), &["service", "import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("already known:"),
        "{}",
        text(&out.stdout)
    );
    let changed = dir.path().join("changed.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    json["duration_minutes"] = serde_json::json!(7);
    std::fs::write(&changed, json.to_string()).unwrap();
    let out = run(
        dir.path(),
        &["service", "import", changed.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("raise the version"),
        "{}",
        text(&out.stderr)
    );
    json["version"] = serde_json::json!(99);
    std::fs::write(&changed, json.to_string()).unwrap();
    let out = run(
        dir.path(),
        &["service", "import", changed.to_str().unwrap()],
    );
    assert!(out.status.success());
    assert!(text(&out.stdout).starts_with("imported maengelmelder version 99"));
    // A broken definition names what is wrong.
    json["title"]["ls"] = serde_json::json!("");
    json["version"] = serde_json::json!(100);
    std::fs::write(&changed, json.to_string()).unwrap();
    let out = run(
        dir.path(),
        &["service", "import", changed.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("title needs a German, English and Leichte-Sprache text"),
        "{}",
        text(&out.stderr)
    );

    let out = run(
        dir.path(),
        &["service", "offer", "panketal", "maengelmelder"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        "Gemeinde Panketal now offers maengelmelder"
    );
    let out = run(
        dir.path(),
        &["service", "offer", "12060181", "gibt-es-nicht"],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = run(
        dir.path(),
        &["service", "offer", "amt-niemegk", "maengelmelder"],
    );
    assert_eq!(out.status.code(), Some(2), "an Amt offers nothing itself");
    let out = run(
        dir.path(),
        &["service", "withdraw", "12060181", "maengelmelder"],
    );
    assert_eq!(
        text(&out.stdout).trim(),
        "Gemeinde Panketal no longer offers maengelmelder"
    );
}
