//! Case work in the office, through the application layer, on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rathaus_app::AppError;
use rathaus_app::citizen::Submitted;
use rathaus_app::office::inbox::InboxQuery;
use rathaus_app::testing::{TestBackend, demo_app};
use rathaus_app::{Actor, App};
use rathaus_domain::casework::Outcome;
use rathaus_domain::service::flow::Position;
use rathaus_domain::service::{FormInput, Lang};
use rathaus_domain::staff::{Role, StaffIdentity};
use rathaus_store::contract_tests;
use time::macros::date;

fn input(pairs: &[(&str, &str)]) -> FormInput {
    FormInput::new(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn step(s: &str) -> Position {
    Position::Step {
        step: s.into(),
        item: None,
    }
}

/// A citizen reports a defect in `slug`; returns the submission.
async fn report(app: &App, slug: &str, name: &str) -> Submitted {
    let tenant = app.public_tenant(slug).await.unwrap();
    let (token, s) = app.start_draft(&tenant, "maengelmelder").await.unwrap();
    app.answer_step(
        &s,
        &step("mangel"),
        &input(&[
            ("category", "beleuchtung"),
            ("description", "Laterne flackert seit Tagen"),
        ]),
    )
    .await
    .unwrap();
    let s = app
        .open_draft(&tenant, "maengelmelder", &token)
        .await
        .unwrap();
    app.answer_step(
        &s,
        &step("ort"),
        &input(&[("location_kind", "address"), ("street", "Am Anger")]),
    )
    .await
    .unwrap();
    let s = app
        .open_draft(&tenant, "maengelmelder", &token)
        .await
        .unwrap();
    app.answer_step(&s, &step("foto"), &input(&[]))
        .await
        .unwrap();
    let s = app
        .open_draft(&tenant, "maengelmelder", &token)
        .await
        .unwrap();
    app.answer_step(
        &s,
        &step("kontakt"),
        &input(&[
            ("name", name),
            ("email", "erika@example.org"),
            ("privacy_ack", "true"),
        ]),
    )
    .await
    .unwrap();
    let s = app
        .open_draft(&tenant, "maengelmelder", &token)
        .await
        .unwrap();
    app.submit(&s, Lang::De)
        .await
        .map_err(|e| format!("{e:?}"))
        .unwrap()
}

fn staff(id: &str, tenant: &str, role: Role) -> StaffIdentity {
    StaffIdentity {
        user_id: id.into(),
        tenant_key: Some(tenant.into()),
        role,
        display_name: id.into(),
        services: vec![],
    }
}

async fn case_id(app: &App, who: &StaffIdentity, reference: &str) -> String {
    let page = app
        .inbox(
            who,
            &InboxQuery {
                q: Some(reference.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1, "{reference} in the inbox");
    page.items[0].id.clone()
}

async fn a_clerk_asks_the_citizen_answers_the_clerk_decides(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let sub = report(app, "panketal", "Erika Mustermann").await;
    let clerk = staff("clerk-pk", "12060181", Role::Clerk);

    // The inbox finds the case by reference and by a word of the applicant's name.
    let page = app.inbox(&clerk, &InboxQuery::default()).await.unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.counts.iter().find(|c| c.0 == "received").unwrap().2, 1);
    let id = case_id(app, &clerk, &sub.reference).await;
    let by_name = app
        .inbox(
            &clerk,
            &InboxQuery {
                q: Some("mustermann".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);
    let nobody = app
        .inbox(
            &clerk,
            &InboxQuery {
                q: Some("Meier".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(nobody.items.len(), 0);

    // Reading is logged, for the auditor and for the citizen.
    let f = app.open_case(&clerk, &id).await.unwrap();
    assert_eq!(f.case.status, "received");
    assert!(f.sections.iter().any(|s| {
        s.rows
            .iter()
            .any(|r| r.value.contains(&"Laterne flackert seit Tagen".to_owned()))
    }));
    let panketal = app.public_tenant("panketal").await.unwrap();
    let st = app.case_status(&panketal, &sub.status_token).await.unwrap();
    assert_eq!(st.access.len(), 1);
    assert_eq!(st.access[0].1, "Gemeinde Panketal");

    app.assign_case(&clerk, &id, f.case.version, true)
        .await
        .unwrap();
    let f = app.open_case(&clerk, &id).await.unwrap();
    assert_eq!(f.case.status, "in_progress");
    assert_eq!(f.case.assignee.as_deref(), Some("clerk-pk"));
    app.add_note(&clerk, &id, "Bauhof informieren")
        .await
        .unwrap();
    app.ask_citizen(
        &clerk,
        &id,
        f.case.version,
        "Welche Hausnummer ist die nächste?",
    )
    .await
    .unwrap();

    // The citizen sees the question, but not the internal note; answers with a file.
    let st = app.case_status(&panketal, &sub.status_token).await.unwrap();
    assert_eq!(st.case.status, "waiting_for_citizen");
    assert_eq!(
        st.open_question().and_then(|q| q.note.clone()).as_deref(),
        Some("Welche Hausnummer ist die nächste?")
    );
    assert!(
        st.events
            .iter()
            .all(|e| e.kind != "note" && e.kind != "assign")
    );
    let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec();
    let file = app.stage_bytes("files", "Foto.pdf", &pdf).await.unwrap();
    app.answer_question(&panketal, &sub.status_token, "Gegenüber Nummer 12", &[file])
        .await
        .unwrap();
    assert!(
        app.answer_question(&panketal, &sub.status_token, "noch mal", &[])
            .await
            .is_err(),
        "no open question any more"
    );

    let f = app.open_case(&clerk, &id).await.unwrap();
    assert_eq!(f.case.status, "in_progress");
    assert!(
        f.events
            .iter()
            .any(|e| e.kind == "answer" && e.note.as_deref() == Some("Gegenüber Nummer 12"))
    );
    assert!(f.attachments.iter().any(|a| a.field.starts_with("answer-")));

    // Deciding produces the notice, delivered to the status page; two e-mails told the citizen.
    assert!(
        app.decide(
            &clerk,
            &id,
            f.case.version,
            Outcome::Approved,
            "Die Leuchte wird getauscht."
        )
        .await
        .unwrap()
    );
    let st = app.case_status(&panketal, &sub.status_token).await.unwrap();
    assert_eq!(st.case.status, "decided");
    assert_eq!(st.documents.len(), 1);
    let (_, notice) = app
        .citizen_document(&panketal, &sub.status_token, &st.documents[0].id)
        .await
        .unwrap();
    assert!(notice.starts_with(b"%PDF-"));
    assert_eq!(
        app.store.outbox_counts().await.unwrap().pending,
        3,
        "confirmation, question notice, decision notice"
    );

    // Stale versions are refused: exactly one decision.
    assert!(matches!(
        app.decide(&clerk, &id, f.case.version, Outcome::Rejected, "x")
            .await,
        Err(AppError::BadInput(_))
    ));
    let f = app.open_case(&clerk, &id).await.unwrap();
    app.close_case(&clerk, &id, f.case.version).await.unwrap();
    assert_eq!(
        app.open_case(&clerk, &id).await.unwrap().case.status,
        "closed"
    );
    assert!(matches!(
        app.verify_audit().await.unwrap(),
        rathaus_store::audit::AuditVerdict::Intact { .. }
    ));
}

/// The blind index of names survives a rotation of the master key: after it, a server restarted
/// with the new key finds a case submitted before by the applicant's name, and a case submitted
/// after it as well.
async fn the_name_search_finds_cases_from_before_a_master_key_rotation(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let before = report(&t.app, "panketal", "Erika Mustermann").await;
    t.app.rotate_master_key(&Actor::Cli).await.unwrap();
    let app = t.restarted(78).await;
    let after = report(&app, "panketal", "Max Mustermann").await;
    let clerk = staff("clerk-pk", "12060181", Role::Clerk);
    let search = |q: &str| InboxQuery {
        q: Some(q.into()),
        ..Default::default()
    };
    let found = app.inbox(&clerk, &search("Mustermann")).await.unwrap();
    let mut refs: Vec<String> = found.items.iter().map(|i| i.reference.clone()).collect();
    refs.sort();
    assert_eq!(refs, vec![before.reference.clone(), after.reference]);
    let found = app.inbox(&clerk, &search("erika")).await.unwrap();
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].reference, before.reference);
}

async fn other_tenants_and_roles_see_nothing(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let sub = report(app, "panketal", "Erika Mustermann").await;
    let niemegk = report(app, "niemegk", "Max Muster").await;
    let clerk = staff("clerk-pk", "12060181", Role::Clerk);
    let id = case_id(app, &clerk, &sub.reference).await;

    // A clerk of another municipality: not in the inbox, not by id; the attempt is logged.
    let belzig = staff("clerk-bb", "12069020", Role::Clerk);
    assert_eq!(
        app.inbox(&belzig, &InboxQuery::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert!(matches!(
        app.open_case(&belzig, &id).await,
        Err(AppError::NotFound(_))
    ));
    assert!(matches!(
        app.decide(&belzig, &id, 1, Outcome::Approved, "x").await,
        Err(AppError::NotFound(_))
    ));
    let denied = app
        .store
        .audit_entries(&["12069020".into()], None, 10)
        .await
        .unwrap();
    assert!(
        denied
            .iter()
            .any(|e| e.outcome.starts_with("denied") && e.actor == "staff:clerk-bb"),
        "{denied:?}"
    );

    // The Amt's clerk works for its members, not for Panketal.
    let amt = staff("clerk-amt", "120695910", Role::Clerk);
    let page = app.inbox(&amt, &InboxQuery::default()).await.unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|i| i.reference.clone())
            .collect::<Vec<_>>(),
        vec![niemegk.reference.clone()]
    );
    assert_eq!(page.items[0].tenant_title, "Stadt Niemegk");
    assert!(matches!(
        app.open_case(&amt, &id).await,
        Err(AppError::NotFound(_))
    ));

    // A clerk limited to other services sees nothing of the defect reports.
    let dogs_only = StaffIdentity {
        services: vec!["hundesteuer-anmeldung".into()],
        ..clerk.clone()
    };
    assert_eq!(
        app.inbox(&dogs_only, &InboxQuery::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert!(matches!(
        app.open_case(&dogs_only, &id).await,
        Err(AppError::NotFound(_))
    ));

    // Admins, auditors and the operator never read case content.
    for role in [Role::TenantAdmin, Role::Auditor] {
        let who = staff("x", "12060181", role);
        assert!(matches!(
            app.open_case(&who, &id).await,
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            app.inbox(&who, &InboxQuery::default()).await,
            Err(AppError::Forbidden(_))
        ));
    }
    let operator = StaffIdentity {
        tenant_key: None,
        role: Role::OperatorAdmin,
        ..clerk.clone()
    };
    assert!(matches!(
        app.open_case(&operator, &id).await,
        Err(AppError::Forbidden(_))
    ));
}

async fn concurrent_decisions_one_wins(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let sub = report(app, "panketal", "Erika").await;
    let a = staff("clerk-a", "12060181", Role::Clerk);
    let b2 = staff("clerk-b", "12060181", Role::Clerk);
    let id = case_id(app, &a, &sub.reference).await;
    let version = app.open_case(&a, &id).await.unwrap().case.version;
    let (x, y) = tokio::join!(
        app.decide(&a, &id, version, Outcome::Approved, "passt"),
        app.decide(&b2, &id, version, Outcome::Rejected, "passt nicht")
    );
    let wins = [x.is_ok(), y.is_ok()].iter().filter(|w| **w).count();
    assert_eq!(wins, 1, "{x:?} {y:?}");
    let loser = if x.is_ok() { y } else { x };
    assert!(
        matches!(
            loser,
            Err(AppError::Conflict(_)) | Err(AppError::BadInput(_))
        ),
        "{loser:?}"
    );
    let decisions = app.store.decisions("12060181", &id).await.unwrap();
    assert_eq!(decisions.len(), 1);
}

async fn four_eyes_needs_a_second_clerk(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let panketal = app.public_tenant("panketal").await.unwrap();
    let offer = app
        .store
        .offer("12060181", "maengelmelder")
        .await
        .unwrap()
        .unwrap();
    let mut tx = app.store.begin().await.unwrap();
    rathaus_store::services::set_offer_settings(
        &mut tx,
        "12060181",
        "maengelmelder",
        true,
        &offer.params,
        app.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let sub = report(app, "panketal", "Erika").await;
    let a = staff("clerk-a", "12060181", Role::Clerk);
    let b2 = staff("clerk-b", "12060181", Role::Clerk);
    let id = case_id(app, &a, &sub.reference).await;
    let f = app.open_case(&a, &id).await.unwrap();
    assert!(f.four_eyes);
    assert!(
        !app.decide(&a, &id, f.case.version, Outcome::Approved, "ok")
            .await
            .unwrap(),
        "only proposed"
    );
    let f = app.open_case(&a, &id).await.unwrap();
    assert_eq!(f.case.status, "received");
    let seq = f.pending_decision.as_ref().unwrap().seq;
    assert!(
        matches!(
            app.confirm_decision(&a, &id, f.case.version, seq).await,
            Err(AppError::Forbidden(_))
        ),
        "not by the proposer"
    );
    app.confirm_decision(&b2, &id, f.case.version, seq)
        .await
        .unwrap();
    let st = app.case_status(&panketal, &sub.status_token).await.unwrap();
    assert_eq!(st.case.status, "decided");
    assert_eq!(st.documents.len(), 1);
}

async fn overdue_and_date_filters(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    report(app, "panketal", "Erika").await;
    let clerk = staff("c", "12060181", Role::Clerk);
    let q = |overdue: bool| InboxQuery {
        overdue,
        ..Default::default()
    };
    assert_eq!(app.inbox(&clerk, &q(true)).await.unwrap().total, 0);
    t.clock.advance(time::Duration::days(11));
    let page = app.inbox(&clerk, &q(true)).await.unwrap();
    assert_eq!(page.total, 1);
    assert!(page.items[0].overdue);
    let bad = app
        .inbox(
            &clerk,
            &InboxQuery {
                from: Some("32.13.2026".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(bad.problems.len(), 1);
    let none = app
        .inbox(
            &clerk,
            &InboxQuery {
                from: Some("2027-01-01".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(none.total, 0);
}

/// An Amt's clerk searches a name over the cases of two member municipalities: one list, newest
/// first, whose pages neither repeat nor skip a case and whose total is the real count.
async fn an_amt_name_search_pages_across_its_members(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let mut matching = Vec::new();
    for i in 0..30 {
        let (slug, title) = if i % 3 == 0 {
            ("niemegk", "Stadt Niemegk")
        } else {
            ("muehlenfliess", "Gemeinde Mühlenfließ")
        };
        let sub = report(app, slug, "Erika Mustermann").await;
        matching.push((title.to_owned(), sub.reference));
        t.clock.advance(time::Duration::minutes(1));
    }
    report(app, "niemegk", "Max Meier").await;
    report(app, "muehlenfliess", "Max Meier").await;
    let amt = staff("clerk-amt", "120695910", Role::Clerk);
    let search = |page| InboxQuery {
        q: Some("Mustermann".into()),
        page,
        ..Default::default()
    };

    let first = app.inbox(&amt, &search(1)).await.unwrap();
    let second = app.inbox(&amt, &search(2)).await.unwrap();
    let third = app.inbox(&amt, &search(3)).await.unwrap();
    assert_eq!(
        (first.items.len(), second.items.len(), third.items.len()),
        (25, 5, 0)
    );
    for page in [&first, &second, &third] {
        assert_eq!((page.total, page.pages), (30, 2));
    }
    let listed: Vec<(String, String)> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|i| (i.tenant_title.clone(), i.reference.clone()))
        .collect();
    matching.reverse();
    assert_eq!(listed, matching, "newest first, every case once");
    // The status tabs count what the search finds, as they do for a reference number.
    assert_eq!(
        first.counts.iter().find(|c| c.0 == "received").unwrap().2,
        30
    );
}

/// Breach scoping: for a municipality and a window of days, the records read or changed, by
/// which accounts; nothing of another municipality and nothing outside the window.
async fn a_breach_scope_lists_what_was_read_and_changed_in_the_window(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let sub = report(app, "panketal", "Erika Mustermann").await;
    let clerk = staff("clerk-pk", "12060181", Role::Clerk);
    let id = case_id(app, &clerk, &sub.reference).await;
    // 25 November (22:00 local time): read and taken on.
    let f = app.open_case(&clerk, &id).await.unwrap();
    app.assign_case(&clerk, &id, f.case.version, true)
        .await
        .unwrap();
    // 27 November: read again.
    t.clock.advance(time::Duration::days(2));
    app.open_case(&clerk, &id).await.unwrap();

    let case = format!("case:{}", sub.reference);
    let scope = |from, to| app.breach_scope(&Actor::Cli, "12060181", from, to);
    let first = scope(date!(2026 - 11 - 25), date!(2026 - 11 - 25))
        .await
        .unwrap();
    let record = first.records.iter().find(|r| r.record == case).unwrap();
    assert_eq!(record.read, 1, "{record:?}");
    assert!(record.changed >= 2, "submitted and assigned: {record:?}");
    assert!(first.accounts.contains("staff:clerk-pk"));
    assert!(first.accounts.contains("citizen"));
    assert_eq!(first.municipality, "Gemeinde Panketal");

    let later = scope(date!(2026 - 11 - 27), date!(2026 - 11 - 27))
        .await
        .unwrap();
    let record = later.records.iter().find(|r| r.record == case).unwrap();
    assert_eq!((record.read, record.changed, record.exported), (1, 0, 0));
    assert_eq!(record.entries[0].account, "staff:clerk-pk");
    assert_eq!(record.entries[0].action, "case.read");
    assert!(
        scope(date!(2026 - 11 - 26), date!(2026 - 11 - 26))
            .await
            .unwrap()
            .records
            .iter()
            .all(|r| r.record != case)
    );

    // Another municipality's scope does not show the case.
    let belzig = app
        .breach_scope(
            &Actor::Cli,
            "12069020",
            date!(2026 - 11 - 20),
            date!(2026 - 11 - 30),
        )
        .await
        .unwrap();
    assert!(belzig.records.iter().all(|r| r.record != case));
    match scope(date!(2026 - 11 - 27), date!(2026 - 11 - 25)).await {
        Err(AppError::BadInput(m)) => assert!(m.contains("before it starts"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Making a scope is itself on record.
    let audit = app
        .store
        .audit_entries(&["12060181".into()], None, 10)
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "audit.scope" && e.actor == "cli")
    );
}

contract_tests!(
    a_breach_scope_lists_what_was_read_and_changed_in_the_window,
    a_clerk_asks_the_citizen_answers_the_clerk_decides,
    the_name_search_finds_cases_from_before_a_master_key_rotation,
    an_amt_name_search_pages_across_its_members,
    other_tenants_and_roles_see_nothing,
    concurrent_decisions_one_wins,
    four_eyes_needs_a_second_clerk,
    overdue_and_date_filters,
);
