//! `rathaus user …` as a process: the operator's way to create and manage staff accounts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

struct Installation {
    dir: tempfile::TempDir,
}

impl Installation {
    fn new() -> Installation {
        let inst = Installation {
            dir: tempfile::tempdir().unwrap(),
        };
        let gv = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../refdata/gv-brandenburg.csv");
        let out = inst.run(&["tenant", "import-gv", gv.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        inst
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_rathaus"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RATHAUS_DATA_DIR", self.dir.path())
            .env("RATHAUS_PUBLIC_URL", "https://dienste.example")
            .env("RATHAUS_LOG_LEVEL", "warn")
            .output()
            .unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn user_add_prints_a_one_time_link_and_bad_input_exits_2() {
    let inst = Installation::new();
    let out = inst.run(&[
        "user",
        "add",
        "--tenant",
        "12060181",
        "--role",
        "clerk",
        "--email",
        "Clerk@Panketal.example",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let link = text(&out.stdout);
    let link = link.trim();
    assert!(
        link.starts_with("https://dienste.example/verwaltung/einrichten/") && link.len() > 60,
        "{link}"
    );
    assert!(text(&out.stderr).contains("Panketal"));

    let out = inst.run(&[
        "user",
        "add",
        "--role",
        "operator_admin",
        "--email",
        "betrieb@dikom.example",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    for (args, expect) in [
        (
            vec![
                "--tenant",
                "99999999",
                "--role",
                "clerk",
                "--email",
                "a@b.example",
            ],
            "no municipality",
        ),
        (
            vec![
                "--tenant",
                "1234",
                "--role",
                "clerk",
                "--email",
                "a@b.example",
            ],
            "not an AGS",
        ),
        (
            vec![
                "--tenant",
                "12060181",
                "--role",
                "chef",
                "--email",
                "a@b.example",
            ],
            "unknown role",
        ),
        (
            vec![
                "--tenant", "12060181", "--role", "clerk", "--email", "kein-at",
            ],
            "E-Mail-Adresse",
        ),
        (
            vec!["--role", "clerk", "--email", "a@b.example"],
            "operator_admin",
        ),
        (
            vec![
                "--tenant",
                "12060181",
                "--role",
                "operator_admin",
                "--email",
                "a@b.example",
            ],
            "keine Kommune",
        ),
        (
            vec![
                "--tenant",
                "12060181",
                "--role",
                "clerk",
                "--email",
                "clerk@panketal.example",
            ],
            "bereits ein Konto",
        ),
    ] {
        let mut full = vec!["user", "add"];
        full.extend(args.iter().copied());
        let out = inst.run(&full);
        let code = out.status.code();
        let err = text(&out.stderr);
        if expect == "bereits ein Konto" {
            assert_eq!(code, Some(1), "{err}");
        } else {
            assert_eq!(code, Some(2), "{args:?}: {err}");
        }
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "no link on failure");
    }

    let out = inst.run(&["user", "list", "--tenant", "12060181"]);
    assert!(out.status.success());
    let list = text(&out.stdout);
    assert!(
        list.contains("clerk@panketal.example") && list.contains("not enrolled"),
        "{list}"
    );
    assert!(!list.contains("betrieb@dikom.example"));
    let id = list.split_whitespace().next().unwrap().to_owned();
    let all = text(&inst.run(&["user", "list"]).stdout);
    assert!(all.contains("betrieb@dikom.example"));

    let out = inst.run(&["user", "reset", &id]);
    assert!(out.status.success());
    assert!(text(&out.stdout).starts_with("https://dienste.example/verwaltung/einrichten/"));
    let out = inst.run(&["user", "disable", &id]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("disabled"));
    assert!(text(&inst.run(&["user", "list"]).stdout).contains("disabled"));
    assert_eq!(
        inst.run(&["user", "disable", "unbekannt"]).status.code(),
        Some(2)
    );

    // The audit log names accounts by id, never by address, and stays intact.
    let out = inst.run(&["audit", "verify"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
}

/// Accounts are found by a keyed hash of their address, whose key survives `rathaus keys
/// rotate-master`: after the rotation, the next process (with the new key file) still finds the
/// account by its address and refuses a second one.
#[test]
fn an_account_is_found_by_its_address_after_a_master_key_rotation() {
    let inst = Installation::new();
    let add = |email: &str| {
        inst.run(&[
            "user", "add", "--tenant", "12060181", "--role", "clerk", "--email", email,
        ])
    };
    let out = add("clerk@panketal.example");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = inst.run(&["keys", "rotate-master"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = add("Clerk@Panketal.example");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("bereits ein Konto"),
        "{}",
        text(&out.stderr)
    );
    let list = text(&inst.run(&["user", "list"]).stdout);
    assert_eq!(list.matches("clerk@panketal.example").count(), 1, "{list}");
}
