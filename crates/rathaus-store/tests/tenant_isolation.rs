//! Tenant isolation at the store's boundary, on SQLite and PostgreSQL: every operation on a
//! tenant's data, called with another tenant's key and the first tenant's record ids, finds
//! nothing, refuses to write, and leaves the first tenant's data exactly as it was.
//!
//! The list is checked against the store's source: a new public operation in one of the modules
//! holding tenant data fails this test until it is either exercised here or named, with its
//! reason, among the operations that do not address one tenant's records.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use data_encoding::HEXLOWER;
use rathaus_crypto::random::OsRandom;
use rathaus_crypto::token::token_hash;
use rathaus_domain::staff::Role;
use rathaus_domain::tenant::Tenant;
use rathaus_store::attachments::NewAttachment;
use rathaus_store::audit::{NewAuditEntry, append};
use rathaus_store::cases::{NewCase, NewCaseEvent};
use rathaus_store::casework::{InboxFilter, NameTokens, NewCaseFile};
use rathaus_store::dogtax::{NewDog, NewHousehold, NewNotice, NewRegisterEvent};
use rathaus_store::drafts::{DraftUpdate, NewDraft};
use rathaus_store::outbox::NewMessage;
use rathaus_store::staff::NewStaff;
use rathaus_store::submission_keys::NewSubmissionKey;
use rathaus_store::testing::{Backend, TestStore, fresh_store};
use rathaus_store::{Store, StoreError, contract_tests, services, tenants};
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-11-25 21:00 UTC);
/// The tenant whose data is attacked: Gemeinde Panketal.
const A: &str = "12060181";
/// The tenant the calls are made as: Stadt Bad Belzig.
const B: &str = "12069020";
const SERVICE: &str = "maengelmelder";
const REFERENCE: &str = "MM-2026-000001";

fn tenant(key: &str, name: &str) -> Tenant {
    rathaus_store::testing::gemeinde(key, name)
}

/// A's complete data: drafts, a case with everything that hangs on it (also the idempotency key
/// it was submitted with), an e-mail, audit entries, a dog-tax register entry, an offered service
/// and a staff account. B gets a draft with a file.
async fn seed(s: &Store) {
    let (a, b) = (tenant(A, "Panketal"), tenant(B, "Bad Belzig"));
    let mut tx = s.begin().await.unwrap();
    tenants::import(&mut tx, &[&a, &b], NOW).await.unwrap();
    s.ensure_tenant_key(&mut tx, A, NOW).await.unwrap();
    s.ensure_tenant_key(&mut tx, B, NOW).await.unwrap();
    tx.commit().await.unwrap();
    s.ensure_staff_scope(Some(A), NOW).await.unwrap();

    let mut tx = s.begin().await.unwrap();
    services::set_offer(&mut tx, A, SERVICE, true, None, NOW)
        .await
        .unwrap();
    for (draft, t) in [("draft-a", A), ("draft-a2", A), ("draft-b", B)] {
        s.create_draft(
            &mut tx,
            &NewDraft {
                id: draft,
                tenant_key: t,
                service_id: SERVICE,
                service_version: 1,
                token_hash: &token_hash(draft),
                data: &json!({"name": "Erika Mustermann"}),
                position: "kontakt",
                now: NOW,
                expires_at: NOW + time::Duration::days(30),
            },
        )
        .await
        .unwrap();
    }
    for (id, t, draft) in [
        ("att-a-draft", A, "draft-a"),
        ("att-a-sub", A, "draft-a2"),
        ("att-b", B, "draft-b"),
    ] {
        s.put_attachment(
            &mut tx,
            &NewAttachment {
                id,
                tenant_key: t,
                draft_id: draft,
                field: "foto",
                kind: "png",
                name: "laterne.png",
                content: b"\x89PNG photo",
                now: NOW,
            },
        )
        .await
        .unwrap();
    }
    assert!(
        s.close_draft(
            &mut tx,
            A,
            "draft-a2",
            "case-a",
            &json!({"reference": REFERENCE}),
            NOW
        )
        .await
        .unwrap()
    );
    s.insert_case(
        &mut tx,
        &NewCase {
            id: "case-a",
            tenant_key: A,
            service_id: SERVICE,
            service_version: 1,
            reference: REFERENCE,
            status: "received",
            status_token_hash: &token_hash("status-a"),
            data: &json!({"name": "Erika Mustermann"}),
            lang: "de",
            draft_id: Some("draft-a2"),
            retention_days: 365,
            now: NOW,
        },
    )
    .await
    .unwrap();
    s.seal_status_token(&mut tx, A, "case-a", "status-a")
        .await
        .unwrap();
    s.add_search_tokens(&mut tx, A, "case-a", &[b"mustermann".to_vec()])
        .await
        .unwrap();
    assert!(
        s.claim_submission_key(&mut tx, &submission_key(A))
            .await
            .unwrap()
    );
    s.attach_to_case(&mut tx, A, "draft-a2", "case-a")
        .await
        .unwrap();
    s.append_case_event(&mut tx, A, "case-a", &event("Anruf der Antragstellerin"))
        .await
        .unwrap();
    s.record_access(&mut tx, A, "case-a", A, "read", NOW)
        .await
        .unwrap();
    s.add_decision(
        &mut tx,
        A,
        "case-a",
        "approved",
        "Alles in Ordnung",
        "staff:clerk-a",
        "proposed",
        NOW,
    )
    .await
    .unwrap();
    s.put_case_document(
        &mut tx, "doc-a", A, "case-a", "notice", "Bescheid", b"%PDF-a", NOW,
    )
    .await
    .unwrap();
    s.put_case_file(&mut tx, &case_file("file-a", A))
        .await
        .unwrap();
    s.enqueue(
        &mut tx,
        &NewMessage {
            id: "msg-a",
            tenant_key: A,
            case_id: Some("case-a"),
            kind: "email",
            payload: &json!({"to": "erika@example.org"}),
            now: NOW,
        },
    )
    .await
    .unwrap();
    let object = format!("case:{REFERENCE}");
    append(
        &mut tx,
        &NewAuditEntry {
            at: NOW,
            actor: "citizen",
            tenant: Some(A),
            action: "case.submit",
            object: &object,
            outcome: "ok",
        },
    )
    .await
    .unwrap();

    s.insert_dogtax_statute(&mut tx, A, "2026-01-01", "{}", "cli", NOW)
        .await
        .unwrap();
    s.insert_dogtax_household(
        &mut tx,
        &NewHousehold {
            id: "hh-a",
            tenant_key: A,
            kassenzeichen: "KZ-1",
            payment_method: "transfer",
            holder: &json!({"name": "Erika Mustermann"}),
            holder_index: "idx-a",
            payment: &json!({}),
            now: NOW,
        },
    )
    .await
    .unwrap();
    s.insert_dogtax_dog(&mut tx, &dog("dog-a", A))
        .await
        .unwrap();
    s.insert_dogtax_tag(&mut tx, A, "T-1", "dog-a", NOW)
        .await
        .unwrap();
    s.append_dogtax_event(&mut tx, &register_event(A))
        .await
        .unwrap();
    s.insert_dogtax_notice(&mut tx, &notice("notice-a", A))
        .await
        .unwrap();
    // The annual run's notice of the year, which the bulk steps read page by page.
    s.insert_dogtax_notice(
        &mut tx,
        &NewNotice {
            seq: Some(2),
            case_id: None,
            ..notice("notice-a-annual", A)
        },
    )
    .await
    .unwrap();
    s.insert_staff(
        &mut tx,
        &NewStaff {
            id: "user-a",
            tenant_key: Some(A),
            role: Role::Clerk,
            email: "clerk@panketal.example",
            name: "Sachbearbeitung Panketal",
            services: &[],
            enrol_token_hash: Some(token_hash("enrol-a")),
            enrol_expires_at: Some(NOW + time::Duration::days(7)),
            password_hash: Some("$argon2id$stub"),
            totp_secret: Some(b"01234567890123456789"),
        },
        NOW,
    )
    .await
    .unwrap();
    rathaus_store::bank_changes::propose(
        &mut tx,
        "bank-a",
        A,
        "user-a",
        &rathaus_store::bank_changes::BankDetails {
            bank: None,
            creditor_id: Some("DE98ZZZ09999999999".into()),
        },
        NOW,
    )
    .await
    .unwrap();
    s.insert_dogtax_export_run(
        &mut tx,
        &rathaus_store::dogtax_export::NewExportRun {
            tenant_key: A,
            due_on: "2027-02-15",
            run: 1,
            now: NOW,
            actor: "cli",
            again: false,
        },
    )
    .await
    .unwrap();
    s.insert_dogtax_export_items(&mut tx, A, "2027-02-15", 1, &[("hh-a", "2027", "debit")])
        .await
        .unwrap();
    s.finish_dogtax_export_run(
        &mut tx,
        A,
        "2027-02-15",
        1,
        &rathaus_store::dogtax_export::ExportFiles {
            debit_file: Some("a.xml"),
            message_id: Some("HST-A"),
            transfer_file: None,
            refused_file: None,
            refused: 0,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// The idempotency key A's case was submitted with, claimed in the name of `tenant_key`.
fn submission_key(tenant_key: &str) -> NewSubmissionKey<'_> {
    const KEY_HASH: [u8; 32] = [7; 32];
    NewSubmissionKey {
        tenant_key,
        service_id: SERVICE,
        key_hash: &KEY_HASH,
        body_hash: b"body-a",
        case_id: "case-a",
        reference: REFERENCE,
        status_token: "status-a",
        now: NOW,
    }
}

fn event(note: &str) -> NewCaseEvent<'_> {
    NewCaseEvent {
        at: NOW,
        actor: "staff:clerk-a",
        kind: "note",
        status: None,
        note: Some(note),
    }
}

fn case_file<'a>(id: &'a str, tenant_key: &'a str) -> NewCaseFile<'a> {
    NewCaseFile {
        id,
        tenant_key,
        case_id: "case-a",
        field: "answer-1",
        kind: "pdf",
        name: "antwort.pdf",
        content: b"%PDF-answer",
        now: NOW,
    }
}

fn dog<'a>(id: &'a str, tenant_key: &'a str) -> NewDog<'a> {
    NewDog {
        id,
        entry_no: None,
        tenant_key,
        household_id: "hh-a",
        status: "active",
        facts: &serde_json::Value::Null,
        now: NOW,
    }
}

fn register_event(tenant_key: &str) -> NewRegisterEvent<'_> {
    NewRegisterEvent {
        seq: None,
        tenant_key,
        household_id: "hh-a",
        dog_id: Some("dog-a"),
        actor: "staff:clerk",
        kind: "registered",
        case_id: Some("case-a"),
        snapshot: &serde_json::Value::Null,
        now: NOW,
    }
}

fn notice<'a>(id: &'a str, tenant_key: &'a str) -> NewNotice<'a> {
    NewNotice {
        id,
        seq: None,
        tenant_key,
        household_id: "hh-a",
        year: 2026,
        kind: "tax",
        case_id: Some("case-a"),
        issued_on: "2026-11-25",
        content: &serde_json::Value::Null,
        now: NOW,
    }
}

/// Every table's row count.
const COUNTS: [&str; 24] = [
    "SELECT COUNT(*) AS n FROM bank_changes WHERE status = 'pending'",
    "SELECT COUNT(*) AS n FROM dogtax_export_runs",
    "SELECT COUNT(*) AS n FROM dogtax_export_items",
    "SELECT COUNT(*) AS n FROM cases",
    "SELECT COUNT(*) AS n FROM case_events",
    "SELECT COUNT(*) AS n FROM case_search",
    "SELECT COUNT(*) AS n FROM case_access",
    "SELECT COUNT(*) AS n FROM case_decisions",
    "SELECT COUNT(*) AS n FROM case_documents",
    "SELECT COUNT(*) AS n FROM attachments",
    "SELECT COUNT(*) AS n FROM drafts",
    "SELECT COUNT(*) AS n FROM outbox",
    "SELECT COUNT(*) AS n FROM audit_log",
    "SELECT COUNT(*) AS n FROM reference_counters",
    "SELECT COUNT(*) AS n FROM tenant_services",
    "SELECT COUNT(*) AS n FROM dogtax_statutes",
    "SELECT COUNT(*) AS n FROM dogtax_households",
    "SELECT COUNT(*) AS n FROM dogtax_dogs",
    "SELECT COUNT(*) AS n FROM dogtax_tags",
    "SELECT COUNT(*) AS n FROM dogtax_register_events",
    "SELECT COUNT(*) AS n FROM dogtax_notices",
    "SELECT COUNT(*) AS n FROM staff_users",
    "SELECT COUNT(*) AS n FROM staff_sessions",
    "SELECT COUNT(*) AS n FROM submission_keys",
];

/// What A's data looks like, read through A's own scope, plus the raw state that no read shows
/// (the outbox row, the link token of the account, row counts, files in the blob store).
async fn snapshot(t: &TestStore) -> Vec<String> {
    let s = &t.store;
    let a = vec![A.to_owned()];
    let mut out = Vec::new();
    let mut push = |what: &str, v: String| out.push(format!("{what}: {v}"));
    push(
        "case_by_id",
        format!("{:?}", s.case_by_id(&a, "case-a").await),
    );
    push(
        "case_by_status_token",
        format!(
            "{:?}",
            s.case_by_status_token(A, &token_hash("status-a")).await
        ),
    );
    push(
        "case_of_draft",
        format!("{:?}", s.case_of_draft(A, "draft-a2").await),
    );
    push(
        "case_events",
        format!("{:?}", s.case_events(A, "case-a").await),
    );
    push(
        "inbox",
        format!(
            "{:?}",
            s.inbox(
                &a,
                &InboxFilter {
                    limit: 50,
                    ..Default::default()
                }
            )
            .await
        ),
    );
    push(
        "inbox_counts",
        format!("{:?}", s.inbox_counts(&a, &InboxFilter::default()).await),
    );
    push(
        "case_access",
        format!("{:?}", s.case_access(A, "case-a").await),
    );
    push(
        "status_token",
        format!("{:?}", s.status_token(A, "case-a").await),
    );
    push(
        "submission_key",
        format!(
            "{:?}",
            s.submission_key(A, SERVICE, submission_key(A).key_hash)
                .await
        ),
    );
    push("decisions", format!("{:?}", s.decisions(A, "case-a").await));
    push(
        "case_documents",
        format!("{:?}", s.case_documents(A, "case-a").await),
    );
    push(
        "document_content",
        format!("{:?}", s.document_content(A, "doc-a").await),
    );
    push(
        "case_attachments",
        format!("{:?}", s.case_attachments(A, "case-a").await),
    );
    push(
        "draft_attachments",
        format!("{:?}", s.draft_attachments(A, "draft-a").await),
    );
    for id in ["att-a-draft", "att-a-sub", "file-a"] {
        push(
            "attachment_content",
            format!("{:?}", s.attachment_content(A, id).await),
        );
    }
    for draft in ["draft-a", "draft-a2"] {
        push(
            "draft_by_token",
            format!(
                "{:?}",
                s.draft_by_token(A, SERVICE, &token_hash(draft), NOW).await
            ),
        );
    }
    push(
        "audit_entries",
        format!("{:?}", s.audit_entries(&a, None, 100).await),
    );
    push("offers", format!("{:?}", s.offers(A).await));
    push(
        "dogtax_statutes",
        format!("{:?}", s.dogtax_statutes(A).await),
    );
    push(
        "dogtax_households",
        format!("{:?}", s.dogtax_households(None, A).await),
    );
    push(
        "dogtax_dogs",
        format!("{:?}", s.dogtax_dogs(None, A, None).await),
    );
    push(
        "dogtax_tag",
        format!("{:?}", s.dogtax_tag(None, A, "T-1").await),
    );
    push(
        "dogtax_events",
        format!("{:?}", s.dogtax_events(A, "hh-a").await),
    );
    push(
        "dogtax_notices",
        format!("{:?}", s.dogtax_notices(None, A, None, None).await),
    );
    push(
        "dogtax_register_counts",
        format!("{:?}", s.dogtax_register_counts(A).await),
    );
    let staff = s.list_staff(A).await.unwrap();
    push(
        "list_staff",
        format!(
            "{:?}",
            staff
                .iter()
                .map(|u| (
                    &u.id,
                    &u.tenant_key,
                    &u.email,
                    &u.name,
                    u.disabled,
                    &u.password_hash,
                    &u.totp_secret,
                    u.totp_confirmed,
                    u.enrol_expires_at
                ))
                .collect::<Vec<_>>()
        ),
    );

    let mut tx = s.begin().await.unwrap();
    let msg = tx
        .fetch_one(
            "SELECT status, attempts, next_attempt_at, last_error, done_at FROM outbox WHERE id = 'msg-a'",
            vec![],
        )
        .await
        .unwrap();
    push(
        "outbox",
        format!(
            "{:?}",
            (
                msg.text("status").unwrap(),
                msg.i64("attempts").unwrap(),
                msg.i64("next_attempt_at").unwrap(),
                msg.opt_text("last_error").unwrap(),
                msg.opt_i64("done_at").unwrap()
            )
        ),
    );
    let user = tx
        .fetch_one(
            "SELECT enrol_token_hash FROM staff_users WHERE id = 'user-a'",
            vec![],
        )
        .await
        .unwrap();
    push(
        "enrol_token_hash",
        format!("{:?}", user.opt_bytes("enrol_token_hash").unwrap()),
    );
    for sql in COUNTS {
        let n = tx.fetch_one(sql, vec![]).await.unwrap().i64("n").unwrap();
        push(sql, n.to_string());
    }
    drop(tx);
    push("blobs", format!("{:?}", files(&t.dir.path().join("blobs"))));
    out
}

/// Every file under `dir` with a digest of its content, sorted by path.
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let digest = Sha256::digest(std::fs::read(&p).unwrap());
                out.push((
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    HEXLOWER.encode(&digest[..8]),
                ));
            }
        }
    }
    out.sort();
    out
}

/// Runs a write in its own transaction and commits it when the store said yes, as a caller
/// would; the result is what the store answered.
macro_rules! committed {
    ($s:expr, |$tx:ident| $call:expr) => {{
        let mut $tx = $s.begin().await.unwrap();
        let r = $call.await;
        if r.is_ok() {
            $tx.commit().await.unwrap();
        }
        r
    }};
}

/// Calls one operation as tenant B and records it; a result other than the expected "nothing"
/// is a leak.
macro_rules! as_b {
    ($probe:ident, $op:literal, $result:expr, $expected:pat $(if $guard:expr)?) => {{
        $probe.checked.insert($op);
        let r = $result;
        if !matches!(r, $expected $(if $guard)?) {
            $probe.leaks.push(format!("{}: {:?}", $op, r));
        }
    }};
}

/// What the calls as tenant B found: the operations called, and those that reached A's data.
#[derive(Default)]
struct Probe {
    checked: BTreeSet<&'static str>,
    leaks: Vec<String>,
}

async fn another_tenant_finds_nothing_and_changes_nothing(backend: Backend) {
    let Some(t) = fresh_store(backend, Arc::new(OsRandom)).await.unwrap() else {
        eprintln!("PostgreSQL not configured (RATHAUS_TEST_POSTGRES_URL); skipped");
        return;
    };
    let s = &t.store;
    seed(s).await;
    let before = snapshot(&t).await;
    let b = vec![B.to_owned()];
    let a_blob = s.draft_attachments(A, "draft-a").await.unwrap()[0]
        .blob_key
        .clone();
    let mut probe = Probe::default();

    // cases.rs
    as_b!(
        probe,
        "case_by_status_token",
        s.case_by_status_token(B, &token_hash("status-a")).await,
        Ok(None)
    );
    as_b!(
        probe,
        "case_by_id",
        s.case_by_id(&b, "case-a").await,
        Ok(None)
    );
    as_b!(
        probe,
        "case_of_draft",
        s.case_of_draft(B, "draft-a2").await,
        Ok(None)
    );
    as_b!(probe, "case_events",
        s.case_events(B, "case-a").await, Ok(ref v) if v.is_empty());
    as_b!(
        probe,
        "append_case_event",
        committed!(s, |tx| s.append_case_event(
            &mut tx,
            B,
            "case-a",
            &event("von B")
        )),
        Err(StoreError::NotFound)
    );

    // casework.rs
    let by_reference = InboxFilter {
        reference: Some(REFERENCE.into()),
        limit: 50,
        ..Default::default()
    };
    as_b!(probe, "inbox",
        s.inbox(&b, &InboxFilter { limit: 50, ..Default::default() }).await,
        Ok((ref v, 0)) if v.is_empty());
    as_b!(probe, "inbox", s.inbox(&b, &by_reference).await,
        Ok((ref v, 0)) if v.is_empty());
    // A's name tokens, named with A's key, in a search scoped to B.
    let by_name = InboxFilter {
        name: Some(vec![NameTokens {
            tenant_key: A.into(),
            tokens: vec![b"mustermann".to_vec()],
        }]),
        limit: 50,
        ..Default::default()
    };
    as_b!(probe, "inbox", s.inbox(&b, &by_name).await,
        Ok((ref v, 0)) if v.is_empty());
    as_b!(probe, "inbox_counts",
        s.inbox_counts(&b, &by_name).await, Ok(ref v) if v.is_empty());
    as_b!(probe, "inbox_counts",
        s.inbox_counts(&b, &InboxFilter::default()).await, Ok(ref v) if v.is_empty());
    as_b!(
        probe,
        "update_case_status",
        committed!(s, |tx| s.update_case_status(
            &mut tx,
            B,
            "case-a",
            1,
            "closed",
            Some(None),
            NOW
        )),
        Err(StoreError::NotFound)
    );
    as_b!(
        probe,
        "record_access",
        committed!(s, |tx| s
            .record_access(&mut tx, B, "case-a", B, "read", NOW)),
        Err(StoreError::NotFound)
    );
    as_b!(probe, "case_access",
        s.case_access(B, "case-a").await, Ok(ref v) if v.is_empty());
    as_b!(
        probe,
        "add_search_tokens",
        committed!(s, |tx| s.add_search_tokens(
            &mut tx,
            B,
            "case-a",
            &[b"meier".to_vec()]
        )),
        Err(StoreError::NotFound)
    );
    as_b!(
        probe,
        "seal_status_token",
        committed!(s, |tx| s.seal_status_token(&mut tx, B, "case-a", "von-b")),
        Err(StoreError::NotFound)
    );
    as_b!(
        probe,
        "status_token",
        s.status_token(B, "case-a").await,
        Ok(None)
    );
    as_b!(
        probe,
        "add_decision",
        committed!(s, |tx| s.add_decision(
            &mut tx, B, "case-a", "rejected", "von B", "staff:b", "final", NOW
        )),
        Err(StoreError::NotFound)
    );
    as_b!(
        probe,
        "confirm_decision",
        committed!(s, |tx| s
            .confirm_decision(&mut tx, B, "case-a", 1, "staff:b", NOW)),
        Ok(false)
    );
    as_b!(
        probe,
        "withdraw_decision",
        committed!(s, |tx| s.withdraw_decision(&mut tx, B, "case-a", 1)),
        Ok(false)
    );
    as_b!(probe, "decisions",
        s.decisions(B, "case-a").await, Ok(ref v) if v.is_empty());
    as_b!(
        probe,
        "put_case_document",
        committed!(s, |tx| s.put_case_document(
            &mut tx, "doc-b", B, "case-a", "notice", "Bescheid", b"%PDF-b", NOW
        )),
        Err(StoreError::NotFound)
    );
    as_b!(probe, "case_documents",
        s.case_documents(B, "case-a").await, Ok(ref v) if v.is_empty());
    as_b!(
        probe,
        "document_content",
        s.document_content(B, "doc-a").await,
        Err(StoreError::NotFound)
    );
    as_b!(
        probe,
        "put_case_file",
        committed!(s, |tx| s.put_case_file(&mut tx, &case_file("file-b", B))),
        Err(StoreError::NotFound)
    );

    // attachments.rs
    as_b!(
        probe,
        "put_attachment",
        committed!(s, |tx| s.put_attachment(
            &mut tx,
            &NewAttachment {
                id: "att-b2",
                tenant_key: B,
                draft_id: "draft-a",
                field: "foto",
                kind: "png",
                name: "fremd.png",
                content: b"\x89PNG fremd",
                now: NOW,
            }
        )),
        Err(StoreError::NotFound)
    );
    as_b!(probe, "draft_attachments",
        s.draft_attachments(B, "draft-a").await, Ok(ref v) if v.is_empty());
    as_b!(probe, "case_attachments",
        s.case_attachments(B, "case-a").await, Ok(ref v) if v.is_empty());
    as_b!(
        probe,
        "attachment_content",
        s.attachment_content(B, "att-a-draft").await,
        Err(StoreError::NotFound)
    );
    as_b!(
        probe,
        "remove_draft_attachment",
        committed!(s, |tx| s.remove_draft_attachment(
            &mut tx,
            B,
            "draft-a",
            "att-a-draft"
        )),
        Ok(None)
    );
    // B's own draft and file, handed to A's case.
    as_b!(
        probe,
        "attach_to_case",
        committed!(s, |tx| s.attach_to_case(&mut tx, B, "draft-b", "case-a")),
        Ok(0)
    );
    as_b!(
        probe,
        "delete_blob",
        s.delete_blob(B, &a_blob).await,
        Err(StoreError::NotFound)
    );

    // audit.rs
    as_b!(probe, "audit_entries",
        s.audit_entries(&b, None, 100).await, Ok(ref v) if v.is_empty());
    as_b!(probe, "audit_entries_between",
        s.audit_entries_between(B, 0, i64::MAX, 0, 100).await, Ok(ref v) if v.is_empty());
    as_b!(probe, "audit_entries",
        s.audit_entries(&b, Some(&format!("case:{REFERENCE}")), 100).await,
        Ok(ref v) if v.is_empty());

    // drafts.rs
    as_b!(
        probe,
        "draft_by_token",
        s.draft_by_token(B, SERVICE, &token_hash("draft-a"), NOW)
            .await,
        Ok(None)
    );
    as_b!(
        probe,
        "update_draft",
        committed!(s, |tx| s.update_draft(
            &mut tx,
            B,
            "draft-a",
            &DraftUpdate {
                data: &json!({"name": "Max Meier"}),
                position: "ende",
                now: NOW,
                expires_at: NOW + time::Duration::days(30),
            }
        )),
        Err(StoreError::NotFound)
    );
    as_b!(
        probe,
        "close_draft",
        committed!(s, |tx| s.close_draft(
            &mut tx,
            B,
            "draft-a",
            "case-a",
            &json!({}),
            NOW
        )),
        Ok(false)
    );

    as_b!(
        probe,
        "rotate_draft_token",
        committed!(s, |tx| s.rotate_draft_token(
            &mut tx,
            B,
            "draft-a",
            &token_hash("draft-a"),
            &token_hash("von-b")
        )),
        Ok(false)
    );

    // submission_keys.rs
    as_b!(
        probe,
        "submission_key",
        s.submission_key(B, SERVICE, submission_key(A).key_hash)
            .await,
        Ok(None)
    );
    // A's key neither blocks B's service nor tells B that A has it: B's claim of the same key
    // succeeds (and is rolled back, leaving no trace).
    as_b!(
        probe,
        "claim_submission_key",
        {
            let mut tx = s.begin().await.unwrap();
            s.claim_submission_key(&mut tx, &submission_key(B)).await
        },
        Ok(true)
    );

    // bank_changes.rs
    as_b!(
        probe,
        "pending_bank_change",
        s.pending_bank_change(B).await,
        Ok(None)
    );
    as_b!(
        probe,
        "decide",
        committed!(s, |tx| rathaus_store::bank_changes::decide(
            &mut tx,
            B,
            "bank-a",
            rathaus_store::bank_changes::Decision::Confirmed,
            "staff:admin-b",
            NOW
        )),
        Ok(None)
    );

    // dogtax_export.rs
    as_b!(probe, "dogtax_export_runs",
        committed!(s, |tx| s.dogtax_export_runs(&mut tx, B, "2027-02-15")),
        Ok(ref v) if v.is_empty());
    as_b!(probe, "dogtax_export_run_counts",
        committed!(s, |tx| s.dogtax_export_run_counts(&mut tx, B, "2027-02-15")),
        Ok(ref v) if v.is_empty());
    as_b!(
        probe,
        "insert_dogtax_export_items",
        committed!(s, |tx| s.insert_dogtax_export_items(
            &mut tx,
            B,
            "2027-02-15",
            1,
            &[("hh-a", "2028", "debit")]
        )),
        Err(StoreError::NotFound)
    );
    as_b!(
        probe,
        "finish_dogtax_export_run",
        committed!(s, |tx| s.finish_dogtax_export_run(
            &mut tx,
            B,
            "2027-02-15",
            1,
            &rathaus_store::dogtax_export::ExportFiles {
                debit_file: Some("b.xml"),
                message_id: None,
                transfer_file: None,
                refused_file: None,
                refused: 0,
            }
        )),
        Err(StoreError::NotFound)
    );

    // dogtax_bulk.rs: many rows at once, parents checked for the tenant.
    as_b!(
        probe,
        "insert_dogtax_dogs",
        committed!(s, |tx| s.insert_dogtax_dogs(
            &mut tx,
            B,
            &[NewDog {
                entry_no: Some(9),
                ..dog("dog-b-bulk", B)
            }]
        )),
        Err(StoreError::NotFound)
    );
    as_b!(
        probe,
        "insert_dogtax_tags",
        committed!(s, |tx| s.insert_dogtax_tags(
            &mut tx,
            B,
            &[("T-9", "dog-a")],
            NOW
        )),
        Err(StoreError::NotFound)
    );
    as_b!(
        probe,
        "append_dogtax_events",
        committed!(s, |tx| s.append_dogtax_events(
            &mut tx,
            B,
            &[NewRegisterEvent {
                seq: Some(9),
                ..register_event(B)
            }]
        )),
        Err(StoreError::NotFound)
    );
    as_b!(
        probe,
        "insert_dogtax_notices",
        committed!(s, |tx| s.insert_dogtax_notices(
            &mut tx,
            B,
            &[NewNotice {
                seq: Some(9),
                ..notice("notice-b-bulk", B)
            }]
        )),
        Err(StoreError::NotFound)
    );

    // dogtax_pages.rs
    let a_households = vec!["hh-a".to_owned()];
    as_b!(probe, "dogtax_household_page",
        s.dogtax_household_page(B, None, 100).await, Ok((ref v, None)) if v.is_empty());
    as_b!(probe, "dogtax_dogs_of",
        s.dogtax_dogs_of(B, &a_households).await, Ok(ref v) if v.is_empty());
    as_b!(probe, "dogtax_notices_of",
        s.dogtax_notices_of(B, &a_households, "9999-12-31", 0, "0000-01-01").await, Ok(ref v) if v.is_empty());
    as_b!(probe, "dogtax_notice_marks",
        s.dogtax_notice_marks(None, B, 2026, &a_households).await, Ok(ref v) if v.is_empty());
    as_b!(probe, "dogtax_annual_notice_page",
        s.dogtax_annual_notice_page(B, 2026, None, 100).await, Ok(ref v) if v.is_empty());
    as_b!(
        probe,
        "dogtax_annual_notice_count",
        s.dogtax_annual_notice_count(B, 2026).await,
        Ok(0)
    );
    as_b!(probe, "dogtax_exported_claims_of",
        s.dogtax_exported_claims_of(None, B, "2027-02-15", &a_households).await,
        Ok(ref v) if v.is_empty());

    // outbox.rs
    as_b!(
        probe,
        "outbox_sent",
        s.outbox_sent(B, "msg-a", NOW).await,
        Err(StoreError::NotFound)
    );
    as_b!(
        probe,
        "outbox_failed",
        s.outbox_failed(B, "msg-a", "von B", None, NOW).await,
        Err(StoreError::NotFound)
    );

    // dogtax.rs
    as_b!(probe, "dogtax_statutes",
        s.dogtax_statutes(B).await, Ok(ref v) if v.is_empty());
    as_b!(
        probe,
        "update_dogtax_household",
        committed!(s, |tx| s.update_dogtax_household(
            &mut tx,
            B,
            "hh-a",
            "debit",
            &json!({"name": "Max Meier"}),
            "idx-b",
            &json!({}),
            NOW
        )),
        Err(StoreError::NotFound)
    );
    as_b!(probe, "dogtax_households",
        s.dogtax_households(None, B).await, Ok(ref v) if v.is_empty());
    as_b!(probe, "dogtax_households_by_holder",
        s.dogtax_households_by_holder(None, B, "idx-a").await, Ok(ref v) if v.is_empty());
    as_b!(
        probe,
        "dogtax_household",
        s.dogtax_household(None, B, "hh-a").await,
        Ok(None)
    );
    as_b!(
        probe,
        "dogtax_household_by_kassenzeichen",
        s.dogtax_household_by_kassenzeichen(None, B, "KZ-1").await,
        Ok(None)
    );
    as_b!(
        probe,
        "insert_dogtax_dog",
        committed!(s, |tx| s.insert_dogtax_dog(&mut tx, &dog("dog-b", B))),
        Err(StoreError::NotFound)
    );
    as_b!(
        probe,
        "update_dogtax_dog",
        committed!(s, |tx| s.update_dogtax_dog(
            &mut tx,
            B,
            "dog-a",
            "ended",
            &json!({}),
            1,
            NOW
        )),
        Err(StoreError::NotFound)
    );
    as_b!(probe, "dogtax_dogs",
        s.dogtax_dogs(None, B, Some("hh-a")).await, Ok(ref v) if v.is_empty());
    as_b!(
        probe,
        "insert_dogtax_tag",
        committed!(s, |tx| s.insert_dogtax_tag(&mut tx, B, "T-9", "dog-a", NOW)),
        Err(StoreError::NotFound)
    );
    as_b!(
        probe,
        "invalidate_dogtax_tag",
        committed!(s, |tx| s
            .invalidate_dogtax_tag(&mut tx, B, "T-1", "lost", NOW)),
        Ok(false)
    );
    as_b!(
        probe,
        "dogtax_tag",
        s.dogtax_tag(None, B, "T-1").await,
        Ok(None)
    );
    as_b!(
        probe,
        "append_dogtax_event",
        committed!(s, |tx| s.append_dogtax_event(&mut tx, &register_event(B))),
        Err(StoreError::NotFound)
    );
    as_b!(probe, "dogtax_events",
        s.dogtax_events(B, "hh-a").await, Ok(ref v) if v.is_empty());
    as_b!(
        probe,
        "insert_dogtax_notice",
        committed!(s, |tx| s
            .insert_dogtax_notice(&mut tx, &notice("notice-b", B))),
        Err(StoreError::NotFound)
    );
    as_b!(probe, "dogtax_notices",
        s.dogtax_notices(None, B, Some("hh-a"), None).await, Ok(ref v) if v.is_empty());
    as_b!(
        probe,
        "dogtax_notice",
        s.dogtax_notice(B, "notice-a").await,
        Ok(None)
    );
    as_b!(
        probe,
        "dogtax_case_draft_id",
        committed!(s, |tx| s.dogtax_case_draft_id(&mut tx, B, "case-a")),
        Ok(None)
    );
    as_b!(
        probe,
        "dogtax_register_counts",
        s.dogtax_register_counts(B).await,
        Ok((0, 0))
    );

    // services.rs
    as_b!(probe, "offers", s.offers(B).await, Ok(ref v) if v.is_empty());
    as_b!(probe, "offer", s.offer(B, SERVICE).await, Ok(None));
    as_b!(
        probe,
        "set_offer_settings",
        committed!(s, |tx| services::set_offer_settings(
            &mut tx,
            B,
            SERVICE,
            true,
            &serde_json::Map::new(),
            NOW
        )),
        Ok(false)
    );

    // staff.rs
    as_b!(probe, "list_staff", s.list_staff(B).await, Ok(ref v) if v.is_empty());
    as_b!(
        probe,
        "set_staff_disabled",
        committed!(s, |tx| s.set_staff_disabled(
            &mut tx,
            Some(B),
            "user-a",
            true,
            NOW
        )),
        Err(StoreError::NotFound)
    );
    as_b!(
        probe,
        "set_staff_enrol_token",
        committed!(s, |tx| s.set_staff_enrol_token(
            &mut tx,
            Some(B),
            "user-a",
            &token_hash("enrol-b"),
            NOW + time::Duration::days(7),
            NOW
        )),
        Err(StoreError::NotFound)
    );
    as_b!(
        probe,
        "clear_staff_totp",
        committed!(s, |tx| s.clear_staff_totp(&mut tx, Some(B), "user-a")),
        Err(StoreError::NotFound)
    );

    let after = snapshot(&t).await;
    let changed: Vec<String> = before
        .iter()
        .zip(&after)
        .filter(|(x, y)| x != y)
        .map(|(x, y)| format!("before {x}\n   after {y}"))
        .collect();
    assert!(
        probe.leaks.is_empty() && changed.is_empty(),
        "operations as tenant {B} reached tenant {A}'s data:\n{}\nchanged:\n{}",
        probe.leaks.join("\n"),
        changed.join("\n")
    );
    assert_every_operation_is_classified(&probe.checked);
}

/// Public operations of the modules holding tenant data that do not address one tenant's
/// existing records, each with its reason.
const NOT_ADDRESSING_ANOTHER_TENANTS_RECORDS: &[&str] = &[
    // Create a new record of the tenant they are given, with nothing of another tenant to name.
    "insert_case",
    "create_draft",
    "enqueue",
    "insert_dogtax_statute",
    "insert_dogtax_household",
    "insert_dogtax_households",
    "next_reference_number",
    "reserve_reference_numbers",
    "set_offer",
    "insert_staff",
    "propose",
    "insert_dogtax_export_run",
    "ensure_staff_scope",
    "append",
    // The whole installation, on purpose and by name: the operator's views and housekeeping.
    "installation_audit_entries",
    "verify_audit",
    "audit_head",
    "audit_entry_hash",
    "list_all_staff",
    "claim_due",
    "outbox_counts",
    "delete_expired_drafts",
    "delete_expired_submission_keys",
    "dogtax_refresh_statistics",
    // Service definitions belong to the installation, not to a tenant.
    "put_definition",
    "definition",
    "latest_definitions",
    "latest_definition_versions",
    // The register of municipalities: public facts, each tenant addressed by its own key.
    "tenant",
    "tenant_by_slug",
    "tenants",
    "search_tenants",
    "count_tenants",
    "import",
    "set_enabled",
    "set_profile",
    "profile_for_update",
    "set_slug",
    // Hold no data: locks named by the tenant.
    "lock_dogtax_register",
    "lock_dogtax_export",
    // Sign-in: a person's own account, found through the secret they hold (session cookie,
    // link, e-mail address, provider subject) before any tenant is known.
    "email_hash",
    "is_enrolled",
    "seal_totp_secret",
    "staff_by_id",
    "staff_by_email",
    "staff_by_enrol_token",
    "staff_by_oidc_subject",
    "consume_enrol_token",
    "set_pending_totp",
    "use_totp_step",
    "set_password_hash",
    "set_oidc_subject",
    "insert_session",
    "touch_session",
    "delete_session",
    "delete_sessions_of",
    "delete_expired",
    "staff_session",
    "count_staff_sessions",
    "throttle_state",
    "oidc_login",
    "throttle_fail",
    "throttle_reset",
    "insert_oidc_login",
    "take_oidc_login",
];

const SOURCES: [(&str, &str); 15] = [
    ("bank_changes.rs", include_str!("../src/bank_changes.rs")),
    ("dogtax_export.rs", include_str!("../src/dogtax_export.rs")),
    ("cases.rs", include_str!("../src/cases.rs")),
    ("casework.rs", include_str!("../src/casework.rs")),
    ("attachments.rs", include_str!("../src/attachments.rs")),
    ("audit.rs", include_str!("../src/audit.rs")),
    ("drafts.rs", include_str!("../src/drafts.rs")),
    ("outbox.rs", include_str!("../src/outbox.rs")),
    ("dogtax.rs", include_str!("../src/dogtax.rs")),
    ("dogtax_pages.rs", include_str!("../src/dogtax_pages.rs")),
    ("dogtax_bulk.rs", include_str!("../src/dogtax_bulk.rs")),
    ("staff.rs", include_str!("../src/staff.rs")),
    ("services.rs", include_str!("../src/services.rs")),
    ("tenants.rs", include_str!("../src/tenants.rs")),
    (
        "submission_keys.rs",
        include_str!("../src/submission_keys.rs"),
    ),
];

fn assert_every_operation_is_classified(checked: &BTreeSet<&str>) {
    let mut unclassified = Vec::new();
    for (file, source) in SOURCES {
        for line in source.lines() {
            let line = line.trim_start();
            let Some(rest) = line
                .strip_prefix("pub async fn ")
                .or_else(|| line.strip_prefix("pub fn "))
            else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !checked.contains(name.as_str())
                && !NOT_ADDRESSING_ANOTHER_TENANTS_RECORDS.contains(&name.as_str())
            {
                unclassified.push(format!("{file}: {name}"));
            }
        }
    }
    assert!(
        unclassified.is_empty(),
        "public store operations neither called as another tenant in this test nor named as not \
         addressing one tenant's records:\n{}",
        unclassified.join("\n")
    );
}

/// The housekeeping that deletes expired drafts names each file with its tenant, so that the
/// tenant-scoped deletion of files accepts it.
async fn expired_drafts_give_their_files_back_under_their_tenant(backend: Backend) {
    let Some(t) = fresh_store(backend, Arc::new(OsRandom)).await.unwrap() else {
        return;
    };
    let s = &t.store;
    seed(s).await;
    let mut tx = s.begin().await.unwrap();
    let (n, files_to_delete) =
        rathaus_store::drafts::delete_expired_drafts(&mut tx, NOW + time::Duration::days(31))
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(n, 3, "both of A's drafts and B's");
    let mut files_to_delete = files_to_delete;
    files_to_delete.sort();
    assert_eq!(
        files_to_delete,
        vec![
            (A.to_owned(), format!("{A}/att-a-draft")),
            (B.to_owned(), format!("{B}/att-b")),
        ],
        "the file handed to A's case stays"
    );
    for (tenant_key, key) in &files_to_delete {
        s.delete_blob(tenant_key, key).await.unwrap();
    }
    let left: Vec<String> = files(&t.dir.path().join("blobs"))
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    assert!(
        !left
            .iter()
            .any(|p| p.ends_with("att-a-draft") || p.ends_with("att-b")),
        "{left:?}"
    );
    assert!(left.iter().any(|p| p.ends_with("att-a-sub")), "{left:?}");
}

contract_tests!(
    another_tenant_finds_nothing_and_changes_nothing,
    expired_drafts_give_their_files_back_under_their_tenant,
);
