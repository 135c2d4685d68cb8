//! Dog tax through the application's use cases, against both backends: statutes, quotes, the
//! citizen services, decisions into the register with their notices, the annual assessment and
//! the treasury's export.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::str::FromStr;

use rathaus_app::citizen::{DraftSession, StepError};
use rathaus_app::dogtax::{NoticeContent, Quiet, QuoteError, RegisterSource};
use rathaus_app::testing::{TestApp, TestBackend, demo_app, set_dogtax_mandate_date};
use rathaus_app::{Actor, App, AppError};
use rathaus_domain::dogtax::{DogEntry, QuoteRequest, deregistration_delta, quote};
use rathaus_domain::localtime::berlin_date;
use rathaus_domain::service::flow::Position;
use rathaus_domain::service::{FormInput, Lang};
use rathaus_domain::tenant::Tenant;
use rathaus_store::audit::AuditVerdict;
use rathaus_store::contract_tests;
use rust_decimal::Decimal;
use serde_json::json;
use time::macros::date;

const PANKETAL: &str = "12060181";

/// A notice as (year, kind, total, [(due, amount)]).
type NoticeSummary = (i32, String, String, Vec<(String, String)>);
const PROOF_PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

fn input(pairs: &[(&str, &str)]) -> FormInput {
    FormInput::new(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

fn step(step: &str, item: Option<usize>) -> Position {
    Position::Step {
        step: step.into(),
        item,
    }
}

async fn tenant(app: &App, key: &str) -> Tenant {
    rathaus_app::tenants::resolve(app, key).await.unwrap()
}

async fn reopen(app: &App, s: &DraftSession) -> DraftSession {
    app.open_draft(&s.tenant, &s.service.definition.id, &s.token)
        .await
        .unwrap()
}

async fn answer(
    app: &App,
    s: &mut DraftSession,
    pos: Position,
    pairs: &[(&str, &str)],
) -> Position {
    let next = match app.answer_step(s, &pos, &input(pairs)).await {
        Ok(p) => p,
        Err(errors) => panic!("{pos:?}: {errors:?}"),
    };
    *s = reopen(app, s).await;
    next
}

/// The text of a notice as poppler reads it; `None` where poppler-utils is not installed (a
/// failure with `RATHAUS_TEST_REQUIRE_PDF_TOOLS=1`).
fn pdf_text(pdf: &[u8]) -> Option<String> {
    let mut child = rathaus_pdf::testing::pdf_tool("pdftotext")?
        .args(["-enc", "UTF-8", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(pdf).unwrap();
    let out = child.wait_with_output().unwrap();
    Some(
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// "46,00 €" as pdftotext prints it (the no-break space becomes a space).
fn eur(text: &str) -> String {
    let d = Decimal::from_str(text).unwrap();
    format!("{} €", d.round_dp(2).to_string().replace('.', ","))
}

fn german(d: time::Date) -> String {
    format!("{:02}.{:02}.{}", d.day(), u8::from(d.month()), d.year())
}

/// Registers Bello (kept since `bello_from`) and Luna (from the shelter, exempt) in Panketal
/// through the citizen's steps and submits; returns the case's status token and the check page's
/// computed lines.
async fn register_two_dogs(
    app: &App,
    bello_from: &str,
    payment: &[(&str, &str)],
) -> (String, Vec<String>) {
    let panketal = tenant(app, PANKETAL).await;
    let (_, mut s) = app
        .start_draft(&panketal, "hundesteuer-anmeldung")
        .await
        .unwrap();
    let next = answer(
        app,
        &mut s,
        step("halter", None),
        &[
            ("holder_name", "Lena Müller"),
            ("street", "Schönerlinder Straße 12"),
            ("postcode", "16341"),
            ("city", "Panketal"),
            ("email", "lena@example.org"),
        ],
    )
    .await;
    assert_eq!(next, step("hund", Some(0)));
    answer(
        app,
        &mut s,
        step("hund", Some(0)),
        &[
            ("dog_name", "Bello"),
            ("breed", "Labrador"),
            ("kept_from", bello_from),
            ("microchip", "276 098 106 543 210"),
        ],
    )
    .await;
    app.answer_add_another(&s, "hund", Some(true))
        .await
        .unwrap();
    s = reopen(app, &s).await;
    // The shelter exemption needs its proof: without it the step is refused.
    let luna = [
        ("dog_name", "Luna"),
        ("breed", "Mischling"),
        ("kept_from", "2026-09-03"),
        ("reason", "exemption:shelter"),
    ];
    let Err(StepError::Invalid(errors)) = app
        .answer_step(&s, &step("hund", Some(1)), &input(&luna))
        .await
    else {
        panic!("Luna without proof was taken");
    };
    assert!(
        errors.iter().any(|e| e.field == "reason_proof"),
        "{errors:?}"
    );
    let file = app
        .stage_bytes("reason_proof", "tierheim.pdf", PROOF_PDF)
        .await
        .unwrap();
    app.upload(&s, &step("hund", Some(1)), &file).await.unwrap();
    s = reopen(app, &s).await;
    answer(app, &mut s, step("hund", Some(1)), &luna).await;
    let next = app
        .answer_add_another(&s, "hund", Some(false))
        .await
        .unwrap();
    assert_eq!(next, step("zahlung", None));
    s = reopen(app, &s).await;
    answer(app, &mut s, step("zahlung", None), payment).await;
    let next = answer(
        app,
        &mut s,
        step("erklaerung", None),
        &[("truthful", "on"), ("privacy_ack", "on")],
    )
    .await;
    assert_eq!(next, Position::Check);
    let computed = app.computed_values(&s, Lang::De).await.unwrap();
    let lines: Vec<String> = computed.iter().flat_map(|c| c.lines.clone()).collect();
    let submitted = app.submit(&s, Lang::De).await.unwrap();
    (submitted.status_token, lines)
}

async fn decide(t: &TestApp, token: &str) -> rathaus_app::dogtax::DecisionDocument {
    decide_in(&t.app, token).await
}

async fn decide_in(app: &App, token: &str) -> rathaus_app::dogtax::DecisionDocument {
    let panketal = tenant(app, PANKETAL).await;
    let status = app.case_status(&panketal, token).await.unwrap();
    let mut tx = app.store.begin().await.unwrap();
    let doc = app
        .apply_decision(&mut tx, &status.case, &Actor::Staff("clerk-1".into()))
        .await
        .unwrap()
        .expect("a dog-tax case yields a notice");
    tx.commit().await.unwrap();
    doc
}

async fn statutes_are_versioned_audited_and_feed_the_form(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let panketal = tenant(app, PANKETAL).await;
    let history = app.dogtax_statutes(&panketal).await.unwrap();
    assert_eq!(history.versions().len(), 1);
    assert_eq!(history.versions()[0].rates()[2].to_string(), "122.00");

    // A new version from 2027 with higher rates; then a corrected reading of it.
    let mut v = rathaus_domain::dogtax::demo::panketal().to_value();
    v["valid_from"] = json!("2027-01-01");
    v["rates"] = json!(["50.00", "80.00", "130.00"]);
    let set = app
        .set_dogtax_statute(&Actor::Cli, PANKETAL, &v.to_string())
        .await
        .unwrap();
    assert_eq!((set.valid_from.as_str(), set.revision), ("2027-01-01", 1));
    v["rates"] = json!(["50.00", "80.00", "131.00"]);
    let set = app
        .set_dogtax_statute(&Actor::Cli, PANKETAL, &v.to_string())
        .await
        .unwrap();
    assert_eq!(set.revision, 2);
    let history = app.dogtax_statutes(&panketal).await.unwrap();
    assert_eq!(history.versions().len(), 2);
    assert_eq!(
        history.valid_on(date!(2027 - 03 - 01)).unwrap().rates()[2].to_string(),
        "131.00"
    );
    assert_eq!(
        history.valid_on(date!(2026 - 12 - 31)).unwrap().rates()[2].to_string(),
        "122.00"
    );
    let audit = app
        .store
        .audit_entries(
            &[PANKETAL.into()],
            Some("dogtax-statute:12060181:2027-01-01"),
            10,
        )
        .await
        .unwrap();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].action, "dogtax.statute.set");
    assert_eq!(audit[0].outcome, "ok: revision 2");

    // A bad file names its key and changes nothing; an Amt keeps no statute of its own.
    v["rates"] = json!(["50.00", "-1"]);
    match app
        .set_dogtax_statute(&Actor::Cli, PANKETAL, &v.to_string())
        .await
    {
        Err(AppError::BadInput(m)) => assert!(m.contains("rates[1]"), "{m}"),
        other => panic!("{other:?}"),
    }
    match app
        .set_dogtax_statute(&Actor::Cli, "120695910", &v.to_string())
        .await
    {
        Err(AppError::BadInput(m)) => assert!(m.contains("administration"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        app.dogtax_statutes(&panketal)
            .await
            .unwrap()
            .versions()
            .len(),
        2
    );

    // The registration offers Panketal's own exemptions and reductions.
    let offered = app
        .offered_service(&panketal, "hundesteuer-anmeldung")
        .await
        .unwrap();
    let reasons = offered.params["reasons"].to_string();
    for code in [
        "exemption:assistance",
        "exemption:shelter",
        "reduction:sachkunde",
    ] {
        assert!(reasons.contains(code), "{reasons}");
    }
    let belzig = tenant(app, "12069020").await;
    let offered = app
        .offered_service(&belzig, "hundesteuer-anmeldung")
        .await
        .unwrap();
    assert!(!offered.params["reasons"].to_string().contains("sachkunde"));
    for service in ["hundesteuer-abmeldung", "hundesteuer-ersatzmarke"] {
        for key in [
            "12060181", "12069020", "12069448", "12069402", "12069474", "12069485",
        ] {
            let t = tenant(app, key).await;
            app.offered_service(&t, service).await.unwrap();
        }
    }
    assert_eq!(
        app.verify_audit().await.unwrap(),
        AuditVerdict::Intact {
            entries: app
                .store
                .installation_audit_entries(None, 100_000)
                .await
                .unwrap()
                .len() as u64
        }
    );
}

async fn quotes_follow_each_municipality_and_refuse_bad_input(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let request = json!({"year": 2026, "assessment_date": "2026-01-10", "dogs": [
        {"name": "Bello", "kept_from": "2024-05-10", "kept_until": null, "dangerous": false, "exemption": null, "reduction": null},
        {"name": "Rex", "kept_from": "2025-01-03", "dangerous": false},
        {"name": "Kira", "kept_from": "2025-02-01"}
    ]});
    let q = app.dogtax_quote(PANKETAL, &request).await.unwrap();
    assert_eq!(q.total.to_string(), "244.00"); // 46 + 76 + 122
    let q = app.dogtax_quote("12069020", &request).await.unwrap();
    assert_eq!(q.total.to_string(), "155.00"); // 35 + 50 + 70
    for member in ["12069448", "12069402", "12069474", "12069485"] {
        let q = app.dogtax_quote(member, &request).await.unwrap();
        assert_eq!(q.total.to_string(), "220.00", "{member}"); // 50 + 70 + 100
        assert_eq!(q.tenant, member);
    }
    // The Amt itself, a municipality not enabled, and nonsense are all "not found".
    for ags in ["120695910", "12060005", "1206018", "x"] {
        assert!(
            matches!(
                app.dogtax_quote(ags, &request).await,
                Err(QuoteError::NotFound(_))
            ),
            "{ags}"
        );
    }
    let bad = json!({"year": 2026, "dogs": [
        {"name": "Bello", "kept_from": "2026-05-10", "kept_until": "2026-01-01", "exemption": "vip"},
        {"name": "Rex", "kept_from": "10.05.2026"}
    ]});
    match app.dogtax_quote(PANKETAL, &bad).await {
        Err(QuoteError::Invalid(errors)) => {
            let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
            for f in [
                "dogs[0].kept_until",
                "dogs[0].exemption",
                "dogs[1].kept_from",
            ] {
                assert!(fields.contains(&f), "{fields:?}");
            }
        }
        other => panic!("{other:?}"),
    }
    match app
        .dogtax_quote(PANKETAL, &json!({"year": 1999, "dogs": []}))
        .await
    {
        Err(QuoteError::Invalid(errors)) => assert!(errors.iter().any(|e| e.field == "year")),
        other => panic!("{other:?}"),
    }
}

async fn registration_decision_and_deregistration_make_the_register_and_notices(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let today = berlin_date(app.now());
    let (token, preview) =
        register_two_dogs(app, "2026-01-20", &[("payment_method", "transfer")]).await;
    // The check page showed the engine's quote: Bello 11 months of 46 € a year, Luna exempt; all
    // four quarters are past on 25 November, so one installment a month later.
    let engine = quote(
        &app.dogtax_statutes(&tenant(app, PANKETAL).await)
            .await
            .unwrap(),
        PANKETAL,
        &QuoteRequest {
            year: 2026,
            assessment_date: Some(today),
            dogs: vec![
                DogEntry {
                    name: "Bello".into(),
                    kept_from: date!(2026 - 01 - 20),
                    kept_until: None,
                    dangerous: false,
                    exemption: None,
                    reduction: None,
                },
                DogEntry {
                    name: "Luna".into(),
                    kept_from: date!(2026 - 09 - 03),
                    kept_until: None,
                    dangerous: false,
                    exemption: Some("shelter".into()),
                    reduction: None,
                },
            ],
        },
        today,
    )
    .unwrap();
    assert_eq!(engine.installments.len(), 1);
    assert_eq!(engine.total.to_string(), "42.17");
    assert!(
        preview.contains(&"Bello: 11 Monate steuerpflichtig, 42,17\u{a0}€".to_owned()),
        "{preview:?}"
    );
    assert!(
        preview
            .iter()
            .any(|l| l == "Luna: 0 Monate steuerpflichtig, 0,00\u{a0}€")
    );
    assert!(
        preview.contains(&"Fällig am 25.12.2026: 42,17\u{a0}€".to_owned()),
        "{preview:?}"
    );
    assert!(preview.iter().any(|l| l.contains("Überweisung")));

    let doc = decide(&t, &token).await;
    assert_eq!(doc.title, "Hundesteuerbescheid 2026");
    assert!(doc.pdf.starts_with(b"%PDF-"));
    assert!(
        doc.summary.contains("Steuermarken 0001, 0002"),
        "{}",
        doc.summary
    );
    assert!(!doc.summary.contains("Müller") && !doc.summary.contains("Bello"));

    let panketal = tenant(app, PANKETAL).await;
    let households = app.store.dogtax_households(None, PANKETAL).await.unwrap();
    assert_eq!(households.len(), 1);
    assert_eq!(households[0].kassenzeichen, "HU-000001");
    assert_eq!(households[0].payment_method, "transfer");
    let dogs = app.store.dogtax_dogs(None, PANKETAL, None).await.unwrap();
    let tags: Vec<Option<String>> = dogs.iter().map(|d| d.tag.clone()).collect();
    assert_eq!(tags, vec![Some("0001".into()), Some("0002".into())]);
    assert_eq!(dogs[1].facts["exemption"], "shelter");
    assert_eq!(dogs[0].facts["microchip"], "276098106543210");
    let notices = app.dogtax_notices(&panketal, Some(2026)).await.unwrap();
    assert_eq!(notices.len(), 1);
    let content: &NoticeContent = &notices[0].1;
    let installments: Vec<(String, Decimal)> = content
        .installments
        .iter()
        .map(|i| (i.due.clone(), i.amount))
        .collect();
    let expected: Vec<(String, Decimal)> = engine
        .installments
        .iter()
        .map(|i| (i.due.to_string(), i.amount))
        .collect();
    assert_eq!(
        installments, expected,
        "the notice pays what the engine quoted"
    );
    assert_eq!(content.total, engine.total);

    // Personal data is sealed: the raw rows hold no name, no dog, no address.
    if let rathaus_store::Dialect::Sqlite = app.store.dialect() {
        let db = t.dir.path().join("rathaus.db");
        let raw = std::fs::read(&db).unwrap();
        for secret in [
            "Lena",
            "Bello",
            "Schönerlinder Straße 12",
            "276098106543210",
        ] {
            assert!(
                !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in the database file"
            );
        }
    }

    if let Some(text) = pdf_text(&doc.pdf) {
        for part in [
            "Bescheid über die Festsetzung der Hundesteuer 2026",
            "Lena Müller",
            "Kassenzeichen",
            "HU-000001",
            "Bello",
            "Luna",
            "Befreiung: Hund aus dem Tierheim",
            &eur("42.17"),
            &german(engine.installments[0].due),
            "GiroCode",
            "DE02 1203 0000 0000 2020 51",
            "Rechtsbehelfsbelehrung",
            "Widerspruch",
            "innerhalb eines Monats",
            "Beispielwerte",
        ] {
            assert!(text.contains(part), "{part:?} missing in:\n{text}");
        }
    }
    // Another municipality sees nothing of Panketal's register.
    let belzig = tenant(app, "12069020").await;
    assert!(
        app.store
            .dogtax_households(None, "12069020")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        app.store
            .dogtax_tag(None, "12069020", "0001")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        app.store
            .dogtax_notice("12069020", &notices[0].0.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        app.dogtax_notice_pdf(&belzig, &notices[0].0.id).await,
        Err(AppError::NotFound(_))
    ));
    assert!(app.dogtax_notices(&belzig, None).await.unwrap().is_empty());

    // The same notice can be printed again from the store.
    let (title, again) = app
        .dogtax_notice_pdf(&panketal, &notices[0].0.id)
        .await
        .unwrap();
    assert_eq!(title, "Hundesteuerbescheid 2026");
    assert_eq!(again, doc.pdf, "re-rendering gives the very same document");

    // Bello died in June: the change notice replaces the installment not yet due (42.17 € for
    // February to December) by 19.17 € for February to June.
    let before = QuoteRequest {
        year: 2026,
        assessment_date: None,
        dogs: engine
            .dogs
            .iter()
            .zip([date!(2026 - 01 - 20), date!(2026 - 09 - 03)])
            .zip([None, Some("shelter".to_owned())])
            .map(|((d, from), exemption)| DogEntry {
                name: d.name.clone(),
                kept_from: from,
                kept_until: None,
                dangerous: false,
                exemption,
                reduction: None,
            })
            .collect(),
    };
    let credit = deregistration_delta(
        &app.dogtax_statutes(&panketal).await.unwrap(),
        &before,
        0,
        date!(2026 - 06 - 15),
        today,
    )
    .unwrap();
    assert_eq!(credit.to_string(), "23.00");
    let (_, mut s) = app
        .start_draft(&panketal, "hundesteuer-abmeldung")
        .await
        .unwrap();
    answer(
        app,
        &mut s,
        step("hund", None),
        &[("tag_number", "0001"), ("dog_name", "Bello")],
    )
    .await;
    answer(
        app,
        &mut s,
        step("halter", None),
        &[
            ("holder_name", "Lena Müller"),
            ("street", "Schönerlinder Straße 12"),
            ("postcode", "16341"),
            ("city", "Panketal"),
            ("email", "lena@example.org"),
        ],
    )
    .await;
    let file = app
        .stage_bytes("proof", "tierarzt.pdf", PROOF_PDF)
        .await
        .unwrap();
    app.upload(&s, &step("abmeldung", None), &file)
        .await
        .unwrap();
    s = reopen(app, &s).await;
    answer(
        app,
        &mut s,
        step("abmeldung", None),
        &[("end_date", "2026-06-15"), ("reason", "died")],
    )
    .await;
    answer(
        app,
        &mut s,
        step("erklaerung", None),
        &[("truthful", "on"), ("privacy_ack", "on")],
    )
    .await;
    let lines: Vec<String> = app
        .computed_values(&s, Lang::De)
        .await
        .unwrap()
        .into_iter()
        .flat_map(|c| c.lines)
        .collect();
    assert!(
        lines[0].contains("sinkt durch die Abmeldung um 23,00\u{a0}€"),
        "{lines:?}"
    );
    let submitted = app.submit(&s, Lang::De).await.unwrap();
    let doc = decide(&t, &submitted.status_token).await;
    assert_eq!(doc.title, "Änderungsbescheid Hundesteuer 2026");
    assert!(doc.summary.contains("Gutschrift 23,00"), "{}", doc.summary);
    let notices = app.dogtax_notices(&panketal, Some(2026)).await.unwrap();
    let change = &notices.last().unwrap().1;
    assert_eq!(change.previous_total.unwrap() - change.total, credit);
    assert_eq!(change.installments.len(), 1);
    assert_eq!(change.installments[0].amount.to_string(), "19.17");
    assert_eq!(change.refund, Decimal::ZERO);
    let tag = app
        .store
        .dogtax_tag(None, PANKETAL, "0001")
        .await
        .unwrap()
        .unwrap();
    assert!(tag.invalidated_at_ms.is_some());
    let dogs = app.store.dogtax_dogs(None, PANKETAL, None).await.unwrap();
    assert_eq!(dogs[0].status, "ended");
    assert_eq!(dogs[0].facts["kept_until"], "2026-06-15");
    if let Some(text) = pdf_text(&doc.pdf) {
        for part in [
            "Änderungsbescheid",
            "Bisher festgesetzt",
            "Minderung",
            &eur("23.00"),
            "abgemeldet",
        ] {
            assert!(text.contains(part), "{part:?} missing in:\n{text}");
        }
    }
    // History kept: registered twice, created once, ended once.
    let events = app
        .store
        .dogtax_events(PANKETAL, &households[0].id)
        .await
        .unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec!["household_created", "registered", "registered", "ended"]
    );

    // Deregistering the same dog again is refused with a message for the clerk.
    let status = app
        .case_status(&panketal, &submitted.status_token)
        .await
        .unwrap();
    let mut tx = app.store.begin().await.unwrap();
    match app
        .apply_decision(&mut tx, &status.case, &Actor::Staff("clerk-1".into()))
        .await
    {
        Err(AppError::BadInput(m)) => assert!(m.contains("nicht mehr gültig"), "{m}"),
        other => panic!("{other:?}"),
    }
    drop(tx);

    // A lost tag: the replacement invalidates 0002 and issues 0003 with the statute's fee.
    let (_, mut s) = app
        .start_draft(&panketal, "hundesteuer-ersatzmarke")
        .await
        .unwrap();
    answer(
        app,
        &mut s,
        step("marke", None),
        &[
            ("tag_number", "0002"),
            ("dog_name", "Luna"),
            ("tag_reason", "lost"),
        ],
    )
    .await;
    answer(
        app,
        &mut s,
        step("halter", None),
        &[
            ("holder_name", "Lena Müller"),
            ("street", "Schönerlinder Straße 12"),
            ("postcode", "16341"),
            ("city", "Panketal"),
            ("email", "lena@example.org"),
        ],
    )
    .await;
    answer(
        app,
        &mut s,
        step("erklaerung", None),
        &[("truthful", "on"), ("privacy_ack", "on")],
    )
    .await;
    let lines: Vec<String> = app
        .computed_values(&s, Lang::De)
        .await
        .unwrap()
        .into_iter()
        .flat_map(|c| c.lines)
        .collect();
    assert!(lines[0].contains("5,00"), "{lines:?}");
    let submitted = app.submit(&s, Lang::De).await.unwrap();
    let doc = decide(&t, &submitted.status_token).await;
    assert_eq!(doc.title, "Gebührenbescheid Ersatz-Steuermarke");
    assert!(doc.summary.contains("0003") && doc.summary.contains("5,00"));
    let old = app
        .store
        .dogtax_tag(None, PANKETAL, "0002")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.invalidated_reason.as_deref(), Some("replaced"));
    let new = app
        .store
        .dogtax_tag(None, PANKETAL, "0003")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(new.dog_id, old.dog_id);

    // Other services are none of the dog tax's business.
    let mut tx = app.store.begin().await.unwrap();
    let mut other = status.case.clone();
    other.service_id = "maengelmelder".into();
    assert!(
        app.apply_decision(&mut tx, &other, &Actor::System)
            .await
            .unwrap()
            .is_none()
    );
    drop(tx);
    assert!(matches!(
        app.verify_audit().await.unwrap(),
        AuditVerdict::Intact { .. }
    ));
}

async fn a_second_registration_extends_the_household(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let debit = [
        ("payment_method", "debit"),
        ("iban", "DE89 3704 0044 0532 0130 00"),
        ("account_holder", "Lena Müller"),
        ("sepa_mandate", "on"),
    ];
    let (token, preview) = register_two_dogs(app, "2026-01-20", &debit).await;
    assert!(
        preview
            .iter()
            .any(|l| l.starts_with("Mandatsreferenz: HST-12060181-")),
        "{preview:?}"
    );
    assert!(preview.iter().any(|l| l.contains("DE98ZZZ09999999999")));
    decide(&t, &token).await;
    // A household from before the holder index is found by its sealed data all the same.
    let mut tx = app.store.begin().await.unwrap();
    tx.execute(
        "UPDATE dogtax_households SET holder_index = NULL",
        Vec::new(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // Twenty days on, the same person registers two more dogs, one kept since May 2025: the
    // household grows, and the late registration is taxed back to June 2025.
    t.clock.advance(time::Duration::days(20));
    let (token, _) = register_two_dogs(app, "2025-05-10", &debit).await;
    let doc = decide(&t, &token).await;
    assert_eq!(
        doc.title,
        "Hundesteuerbescheid 2025 und Änderungsbescheid Hundesteuer 2026"
    );
    let households = app.store.dogtax_households(None, PANKETAL).await.unwrap();
    assert_eq!(households.len(), 1, "one household");
    assert_eq!(
        households[0].payment["mandate_reference"]
            .as_str()
            .unwrap()
            .len(),
        25
    );
    let dogs = app.store.dogtax_dogs(None, PANKETAL, None).await.unwrap();
    assert_eq!(dogs.len(), 4);
    let panketal = tenant(app, PANKETAL).await;
    let notices = app.dogtax_notices(&panketal, None).await.unwrap();
    let shown: Vec<NoticeSummary> = notices
        .iter()
        .map(|(n, c)| {
            (
                n.year,
                n.kind.clone(),
                c.total.to_string(),
                c.installments
                    .iter()
                    .map(|i| (i.due.clone(), i.amount.to_string()))
                    .collect(),
            )
        })
        .collect();
    // 2025: the new Bello June to December, 7 × 46 / 12. 2026: the new Bello is now the first
    // dog (46 €), the first Bello the second (76 € × 11 / 12 = 69.67); the first notice's
    // 42.17 € were not due yet on 15 December, so the whole 115.67 € fall due a month later.
    assert_eq!(
        shown,
        vec![
            (
                2026,
                "tax".into(),
                "42.17".into(),
                vec![("2026-12-25".into(), "42.17".into())]
            ),
            (
                2025,
                "tax".into(),
                "26.83".into(),
                vec![("2027-01-15".into(), "26.83".into())]
            ),
            (
                2026,
                "change".into(),
                "115.67".into(),
                vec![("2027-01-15".into(), "115.67".into())]
            ),
        ]
    );
    assert!(notices[2].1.payment.is_debit());

    // The export of 15 January 2027 collects both years by direct debit.
    let out = t.dir.path().join("export");
    let export = app
        .dogtax_export(&Actor::Cli, PANKETAL, date!(2027 - 01 - 15), &out, false)
        .await
        .unwrap();
    assert_eq!((export.debits, export.transfers), (2, 0));
    assert_eq!(export.debit_sum.to_string(), "142.50");
    let xml = std::fs::read_to_string(export.xml.as_ref().unwrap()).unwrap();
    assert!(
        xml.contains("<EndToEndId>HU-000001-2025-2027-01-15</EndToEndId>"),
        "{xml}"
    );
    assert!(xml.contains("<MndtId>HST-12060181-"));
    validate_with_xsd(export.xml.as_ref().unwrap());
}

/// The holder index survives a rotation of the master key: a holder already in the register who
/// registers another dog afterwards (with a server restarted on the new key) joins the same
/// household, so the second dog is taxed as the second and there is one direct debit.
async fn a_registration_after_a_master_key_rotation_finds_the_household(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let debit = [
        ("payment_method", "debit"),
        ("iban", "DE89 3704 0044 0532 0130 00"),
        ("account_holder", "Lena Müller"),
        ("sepa_mandate", "on"),
    ];
    let (token, _) = register_two_dogs(&t.app, "2026-01-20", &debit).await;
    decide(&t, &token).await;
    let rotated = t.app.rotate_master_key(&Actor::Cli).await.unwrap();
    assert!(rotated.index_keys >= 2, "{rotated:?}");

    t.clock.advance(time::Duration::days(20));
    let app = t.restarted(77).await;
    let (token, _) = register_two_dogs(&app, "2025-05-10", &debit).await;
    decide_in(&app, &token).await;
    let households = app.store.dogtax_households(None, PANKETAL).await.unwrap();
    assert_eq!(households.len(), 1, "one household, not a second one");
    let dogs = app.store.dogtax_dogs(None, PANKETAL, None).await.unwrap();
    assert_eq!(dogs.len(), 4);
    assert!(dogs.iter().all(|d| d.household_id == households[0].id));
}

/// Two clerks approve two registrations of the same person at the same moment: the register has
/// one household with all four dogs, each with its own tag, not two households.
async fn simultaneous_decisions_for_one_holder_make_one_household(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let transfer = [("payment_method", "transfer")];
    let (first, _) = register_two_dogs(app, "2026-01-20", &transfer).await;
    let (second, _) = register_two_dogs(app, "2025-05-10", &transfer).await;
    tokio::join!(decide(&t, &first), decide(&t, &second));
    let households = app.store.dogtax_households(None, PANKETAL).await.unwrap();
    assert_eq!(households.len(), 1, "one household");
    let dogs = app.store.dogtax_dogs(None, PANKETAL, None).await.unwrap();
    assert_eq!(dogs.len(), 4);
    assert!(dogs.iter().all(|d| d.household_id == households[0].id));
    let mut tags: Vec<_> = dogs.iter().filter_map(|d| d.tag.clone()).collect();
    tags.sort();
    tags.dedup();
    assert_eq!(tags.len(), 4, "four different tags: {tags:?}");
}

async fn annual_assessment_and_treasury_export(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let lines = [
        json!({"holder": {"name": "Anna Schmidt", "street": "Am Anger 1", "postcode": "16341", "city": "Panketal"},
               "payment": {"method": "debit", "iban": "DE89370400440532013000", "account_holder": "Anna Schmidt", "mandate_reference": "HU-LEGACY-1", "mandate_date": "2019-03-01"},
               "dogs": [{"name": "Bruno", "kept_from": "2019-02-01"}, {"name": "Emma", "kept_from": "2021-06-15", "reduction": "sachkunde"}]}),
        json!({"holder": {"name": "Jörg Öztürk & Söhne", "street": "Lindenallee 7", "postcode": "16341", "city": "Panketal"},
               "payment": {"method": "transfer"},
               "dogs": [{"name": "Rocky", "kept_from": "2020-01-01", "dangerous": {"date": "2024-08-01", "file_number": "OA-2024-17"}}]}),
        json!({"holder": {"name": "Old Dog Home", "street": "Weg 2", "postcode": "16341", "city": "Panketal"},
               "payment": {"method": "transfer"},
               "dogs": [{"name": "Gone", "kept_from": "2015-01-01", "kept_until": "2020-01-01"}]}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let report = app
        .dogtax_import(&Actor::Cli, PANKETAL, RegisterSource::Text(&text), &Quiet)
        .await
        .unwrap();
    assert_eq!((report.households, report.dogs), (3, 4));
    // A broken line names line and field, imports nothing, and never echoes the data.
    let bad = format!(
        "{}\n{{\"holder\": {{\"name\": \"Geheim\"}}, \"payment\": {{\"method\": \"transfer\"}}, \"dogs\": []}}\n",
        lines[0]
    );
    match app
        .dogtax_import(&Actor::Cli, PANKETAL, RegisterSource::Text(&bad), &Quiet)
        .await
    {
        Err(AppError::BadInput(m)) => {
            assert!(m.starts_with("line 2: holder.street"), "{m}");
            assert!(!m.contains("Geheim"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        app.store
            .dogtax_households(None, PANKETAL)
            .await
            .unwrap()
            .len(),
        3
    );

    let pdfs = t.dir.path().join("notices");
    let report = app
        .dogtax_assess(
            &Actor::Cli,
            PANKETAL,
            2027,
            Some(date!(2026 - 12 - 01)),
            Some(&pdfs),
            &Quiet,
        )
        .await
        .unwrap();
    assert_eq!(report.issued, 2);
    assert_eq!(report.without_dogs, 1);
    // Anna: 46 + 76 × 50 % = 84; Rocky: 409 (first dangerous dog).
    assert_eq!(report.total.to_string(), "493.00");
    let printed = report.printed.as_ref().unwrap();
    assert_eq!(
        (printed.notices, printed.written, printed.present),
        (2, 2, 0)
    );
    assert_eq!(
        files_in(&pdfs),
        ["HU-000001-2027.pdf", "HU-000002-2027.pdf"]
    );
    assert!(
        std::fs::read(pdfs.join("HU-000001-2027.pdf"))
            .unwrap()
            .starts_with(b"%PDF-")
    );
    let again = app
        .dogtax_assess(
            &Actor::Cli,
            PANKETAL,
            2027,
            Some(date!(2026 - 12 - 01)),
            None,
            &Quiet,
        )
        .await
        .unwrap();
    assert_eq!((again.issued, again.already_assessed), (0, 2));
    match app
        .dogtax_assess(&Actor::Cli, PANKETAL, 2019, None, None, &Quiet)
        .await
    {
        Err(AppError::BadInput(m)) => assert!(m.contains("no dog-tax statute"), "{m}"),
        other => panic!("{other:?}"),
    }

    let out = t.dir.path().join("export");
    let export = app
        .dogtax_export(&Actor::Cli, PANKETAL, date!(2027 - 02 - 15), &out, false)
        .await
        .unwrap();
    assert_eq!((export.debits, export.transfers), (1, 1));
    assert_eq!(export.debit_sum.to_string(), "21.00");
    assert_eq!(export.transfer_sum.to_string(), "102.25");
    let xml = std::fs::read_to_string(export.xml.as_ref().unwrap()).unwrap();
    rathaus_app::dogtax::validate_pain008_shape(&xml).unwrap();
    assert!(
        xml.contains("<InstdAmt Ccy=\"EUR\">21.00</InstdAmt>"),
        "{xml}"
    );
    assert!(xml.contains("<MndtId>HU-LEGACY-1</MndtId>"));
    assert!(xml.contains("<ReqdColltnDt>2027-02-15</ReqdColltnDt>"));
    let csv = std::fs::read_to_string(export.csv.as_ref().unwrap()).unwrap();
    assert!(
        csv.contains("Jörg Öztürk & Söhne;Lindenallee 7;16341;Panketal;2027-02-15;102,25;"),
        "{csv}"
    );
    validate_with_xsd(export.xml.as_ref().unwrap());
    let audit = app
        .store
        .audit_entries(
            &[PANKETAL.into()],
            Some("dogtax-export:12060181:2027-02-15"),
            5,
        )
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert!(!audit[0].outcome.contains("Anna"));
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A direct debit whose mandate has no recorded date of signature is refused and listed, never
/// given an invented date; the others go out. A second export for the same due date leaves out
/// what the first handed over and says so; the refused debit follows once its mandate is
/// complete; `again` exports everything once more and is audit-logged. A failed export leaves
/// no file behind.
async fn the_export_refuses_incomplete_mandates_and_never_repeats_a_debit(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let lines = [
        json!({"holder": {"name": "Anna Schmidt", "street": "Am Anger 1", "postcode": "16341", "city": "Panketal"},
               "payment": {"method": "debit", "iban": "DE89370400440532013000", "account_holder": "Anna Schmidt", "mandate_reference": "HU-LEGACY-1", "mandate_date": "2019-03-01"},
               "dogs": [{"name": "Bruno", "kept_from": "2019-02-01"}]}),
        json!({"holder": {"name": "Bernd Vogel", "street": "Birkenweg 3", "postcode": "16341", "city": "Panketal"},
               "payment": {"method": "debit", "iban": "DE02120300000000202051", "account_holder": "Bernd Vogel", "mandate_reference": "HU-LEGACY-2", "mandate_date": "2018-07-01"},
               "dogs": [{"name": "Hasso", "kept_from": "2018-06-01"}]}),
        json!({"holder": {"name": "Jörg Öztürk", "street": "Lindenallee 7", "postcode": "16341", "city": "Panketal"},
               "payment": {"method": "transfer"},
               "dogs": [{"name": "Rocky", "kept_from": "2020-01-01"}]}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    app.dogtax_import(&Actor::Cli, PANKETAL, RegisterSource::Text(&text), &Quiet)
        .await
        .unwrap();
    app.dogtax_assess(
        &Actor::Cli,
        PANKETAL,
        2027,
        Some(date!(2026 - 12 - 01)),
        None,
        &Quiet,
    )
    .await
    .unwrap();
    // Bernd's mandate lost its date (a register entry from before the date was recorded).
    set_dogtax_mandate_date(app, PANKETAL, "HU-000002", None)
        .await
        .unwrap();
    let due = date!(2027 - 02 - 15);
    let out = t.dir.path().join("kasse");

    let first = app
        .dogtax_export(&Actor::Cli, PANKETAL, due, &out, false)
        .await
        .unwrap();
    assert_eq!(first.run, Some(1));
    assert_eq!((first.debits, first.transfers), (1, 1));
    assert_eq!(first.refused.len(), 1);
    let refused = &first.refused[0];
    assert_eq!(
        (refused.kassenzeichen.as_str(), refused.claim.as_str()),
        ("HU-000002", "2027")
    );
    assert_eq!(
        refused.reason,
        "no date of signature is recorded for the mandate"
    );
    let xml = std::fs::read_to_string(first.xml.as_ref().unwrap()).unwrap();
    assert_eq!(xml.matches("<DrctDbtTxInf>").count(), 1, "{xml}");
    assert!(xml.contains("<MndtId>HU-LEGACY-1</MndtId><DtOfSgntr>2019-03-01</DtOfSgntr>"));
    assert!(
        !xml.contains("HU-LEGACY-2") && !xml.contains("2000-01-01"),
        "{xml}"
    );
    validate_with_xsd(first.xml.as_ref().unwrap());
    let list = std::fs::read_to_string(first.refused_file.as_ref().unwrap()).unwrap();
    assert_eq!(
        list,
        "Kassenzeichen;Forderung;Faellig;Betrag;Grund\r\n\
         HU-000002;Hundesteuer 2027;2027-02-15;11,50;Für das Mandat ist kein Datum der Unterschrift erfasst.\r\n"
    );
    assert_eq!(
        files_in(&out),
        [
            "hundesteuer-12060181-2027-02-15-lastschriften.xml",
            "hundesteuer-12060181-2027-02-15-nicht-exportiert.csv",
            "hundesteuer-12060181-2027-02-15-ueberweisungen.csv",
        ]
    );
    let audit = app
        .store
        .audit_entries(
            &[PANKETAL.to_owned()],
            Some("dogtax-export:12060181:2027-02-15"),
            5,
        )
        .await
        .unwrap();
    assert_eq!(audit[0].action, "dogtax.export");
    assert!(
        audit[0].outcome.starts_with("ok: run 1: 1 direct debits (11.50), 1 transfers (11.50); 0 direct debits and 0 transfers exported before; 1 direct debits refused"),
        "{}",
        audit[0].outcome
    );
    assert!(!audit[0].outcome.contains("HU-000002") && !audit[0].outcome.contains("Bernd"));

    // The same due date again: nothing is exported twice; the refused debit is listed again.
    let second = app
        .dogtax_export(&Actor::Cli, PANKETAL, due, &out, false)
        .await
        .unwrap();
    assert_eq!(second.run, Some(2));
    assert_eq!((second.debits, second.transfers), (0, 0));
    assert_eq!((second.already_debits, second.already_transfers), (1, 1));
    assert_eq!((second.xml.as_ref(), second.csv.as_ref()), (None, None));
    assert_eq!(second.refused.len(), 1);
    assert_eq!(second.earlier.len(), 1);
    let earlier = &second.earlier[0];
    assert_eq!((earlier.run, earlier.debits, earlier.transfers), (1, 1, 1));
    assert_eq!(
        earlier.debit_file.as_deref(),
        first.xml.as_ref().unwrap().to_str()
    );
    assert_eq!(
        earlier.message_id.as_deref(),
        Some("HST-12060181-20270215-1")
    );

    // Once the mandate's date is entered, the next export collects Bernd's debit, and only his.
    set_dogtax_mandate_date(app, PANKETAL, "HU-000002", Some("2018-07-01"))
        .await
        .unwrap();
    let third = app
        .dogtax_export(&Actor::Cli, PANKETAL, due, &out, false)
        .await
        .unwrap();
    assert_eq!(third.run, Some(3));
    assert_eq!(
        (third.debits, third.transfers, third.refused.len()),
        (1, 0, 0)
    );
    assert_eq!(third.already_debits, 1);
    let xml3 = third.xml.as_ref().unwrap();
    assert!(xml3.ends_with("hundesteuer-12060181-2027-02-15-lauf3-lastschriften.xml"));
    let xml = std::fs::read_to_string(xml3).unwrap();
    assert_eq!(xml.matches("<DrctDbtTxInf>").count(), 1);
    assert!(xml.contains("<MndtId>HU-LEGACY-2</MndtId><DtOfSgntr>2018-07-01</DtOfSgntr>"));
    assert!(xml.contains("<MsgId>HST-12060181-20270215-3</MsgId>"));
    validate_with_xsd(xml3);

    // Nothing left: no file, no run.
    let fourth = app
        .dogtax_export(&Actor::Cli, PANKETAL, due, &out, false)
        .await
        .unwrap();
    assert_eq!(fourth.run, None);
    assert_eq!((fourth.already_debits, fourth.already_transfers), (2, 1));
    assert_eq!(files_in(&out).len(), 5);

    // An explicit re-export writes everything once more and says so in the audit log.
    let again = app
        .dogtax_export(&Actor::Cli, PANKETAL, due, &out, true)
        .await
        .unwrap();
    assert_eq!(again.run, Some(4));
    assert_eq!((again.debits, again.transfers), (2, 1));
    assert_eq!(again.already_debits, 2);
    validate_with_xsd(again.xml.as_ref().unwrap());
    let audit = app
        .store
        .audit_entries(
            &[PANKETAL.to_owned()],
            Some("dogtax-export:12060181:2027-02-15"),
            10,
        )
        .await
        .unwrap();
    assert_eq!(audit.len(), 5);
    assert_eq!(audit[0].action, "dogtax.export.again");
    assert!(
        audit[0]
            .outcome
            .contains("2 direct debits and 1 transfers exported before, exported again"),
        "{}",
        audit[0].outcome
    );

    // A failed export (here: its ledger cannot be written) leaves no file behind, not even a
    // partial one.
    let mut tx = app.store.begin().await.unwrap();
    tx.execute("DROP TABLE dogtax_export_items", Vec::new())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let before = files_in(&out);
    let failed = app
        .dogtax_export(&Actor::Cli, PANKETAL, date!(2027 - 05 - 15), &out, false)
        .await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(files_in(&out), before);
    assert!(matches!(
        app.verify_audit().await.unwrap(),
        AuditVerdict::Intact { .. }
    ));
}

/// Validates a pain.008 file against the official XSD shipped with the PyPI package `sepaxml`,
/// through `scripts/validate-sepa.py`. Skipped with a note unless the venv is there;
/// `RATHAUS_TEST_REQUIRE_SEPA=1` makes a missing validator a failure.
/// Stops a run once its PDF phase has printed `limit` notices, as Ctrl-C does.
struct StopAfterPdfs {
    phase: std::sync::Mutex<String>,
    done: std::sync::atomic::AtomicUsize,
    limit: usize,
}

impl rathaus_app::dogtax::Progress for StopAfterPdfs {
    fn begin(&self, phase: &str, _total: usize) {
        *self.phase.lock().unwrap() = phase.to_owned();
    }
    fn advance(&self, done: usize) {
        self.done.store(done, std::sync::atomic::Ordering::Relaxed);
    }
    fn finish(&self) {}
    fn stopped(&self) -> bool {
        *self.phase.lock().unwrap() == "PDFs"
            && self.done.load(std::sync::atomic::Ordering::Relaxed) >= self.limit
    }
}

/// A register many pages long (120 households in pages of 7): the assessment, the printing and
/// the export each go through it page by page. Printing stopped half-way continues where it
/// stopped — a file cut short is printed again, a complete one is not — and no household gets
/// two notices for the year. The export's pain.008, written as it is produced, validates.
async fn the_dogtax_year_goes_page_by_page_and_resumes(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let mut app = t.app.clone();
    let mut config = (*app.config).clone();
    config.bulk_batch = 7;
    app.config = std::sync::Arc::new(config);
    let households = 120;
    let text: String = (0..households)
        .map(|i| {
            let payment = if i % 3 == 0 {
                json!({"method": "transfer"})
            } else {
                json!({"method": "debit", "iban": "DE89370400440532013000", "account_holder": format!("Halter {i}"),
                       "mandate_reference": format!("HU-PAGE-{i}"), "mandate_date": "2020-01-01"})
            };
            let dogs: Vec<_> = (0..=(i % 3))
                .map(|d| json!({"name": format!("Hund {i}-{d}"), "kept_from": "2020-01-01"}))
                .collect();
            format!(
                "{}\n",
                json!({"holder": {"name": format!("Halter {i}"), "street": "Weg 1", "postcode": "16341", "city": "Panketal"},
                       "payment": payment, "dogs": dogs})
            )
        })
        .collect();
    let imported = app
        .dogtax_import(&Actor::Cli, PANKETAL, RegisterSource::Text(&text), &Quiet)
        .await
        .unwrap();
    assert_eq!((imported.households, imported.dogs), (120, 240));

    let pdfs = t.dir.path().join("druck");
    let stop = StopAfterPdfs {
        phase: std::sync::Mutex::new(String::new()),
        done: std::sync::atomic::AtomicUsize::new(0),
        limit: 12,
    };
    let first = app
        .dogtax_assess(
            &Actor::Cli,
            PANKETAL,
            2027,
            Some(date!(2026 - 12 - 01)),
            Some(&pdfs),
            &stop,
        )
        .await
        .unwrap();
    assert_eq!((first.issued, first.households), (120, 120));
    assert!(first.interrupted);
    let printed = first.printed.as_ref().unwrap();
    assert!(
        printed.written >= 12 && printed.written < 120,
        "{printed:?}"
    );
    // Only whole files, each under its final name.
    let names = files_in(&pdfs);
    assert_eq!(names.len(), printed.written, "{names:?}");
    assert!(names.iter().all(|n| n.ends_with("-2027.pdf")), "{names:?}");
    // The machine went down while the last one was written: it is cut short.
    let cut = pdfs.join(&names[0]);
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();

    let second = app
        .dogtax_assess(
            &Actor::Cli,
            PANKETAL,
            2027,
            Some(date!(2026 - 12 - 01)),
            Some(&pdfs),
            &Quiet,
        )
        .await
        .unwrap();
    assert_eq!((second.issued, second.already_assessed), (0, 120));
    assert!(!second.interrupted);
    let resumed = second.printed.as_ref().unwrap();
    assert_eq!(
        (resumed.notices, resumed.present, resumed.written),
        (120, printed.written - 1, 120 - printed.written + 1)
    );
    let names = files_in(&pdfs);
    assert_eq!(names.len(), 120, "{names:?}");
    for name in &names {
        let pdf = std::fs::read(pdfs.join(name)).unwrap();
        assert!(
            pdf.starts_with(b"%PDF-") && pdf.trim_ascii_end().ends_with(b"%%EOF"),
            "{name}"
        );
    }
    assert!(
        std::fs::read(&cut).unwrap().len() > bytes.len() / 2,
        "the cut file is printed again"
    );
    // One notice a household for the year, however often the run started.
    let notices = app
        .store
        .dogtax_notices(None, PANKETAL, None, Some(2027))
        .await
        .unwrap();
    let mut owners: Vec<_> = notices.iter().map(|n| n.household_id.clone()).collect();
    owners.sort();
    owners.dedup();
    assert_eq!((notices.len(), owners.len()), (120, 120));

    let out = t.dir.path().join("kasse");
    let export = app
        .dogtax_export(&Actor::Cli, PANKETAL, date!(2027 - 02 - 15), &out, false)
        .await
        .unwrap();
    let debit_households = (0..households).filter(|i| i % 3 != 0).count();
    assert_eq!(
        (export.debits, export.transfers),
        (debit_households, households - debit_households)
    );
    let xml = std::fs::read_to_string(export.xml.as_ref().unwrap()).unwrap();
    assert_eq!(xml.matches("<DrctDbtTxInf>").count(), debit_households);
    assert!(xml.contains(&format!("<NbOfTxs>{debit_households}</NbOfTxs>")));
    validate_with_xsd(export.xml.as_ref().unwrap());
    let csv = std::fs::read_to_string(export.csv.as_ref().unwrap()).unwrap();
    assert_eq!(csv.lines().count(), 1 + households - debit_households);
    // In register order: HU-000001 (household 0) first.
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .starts_with("HU-000001;Halter 0;"),
        "{csv}"
    );
    // Only the files and no scratch file are left.
    assert_eq!(
        files_in(&out),
        [
            "hundesteuer-12060181-2027-02-15-lastschriften.xml",
            "hundesteuer-12060181-2027-02-15-ueberweisungen.csv",
        ]
    );
    // The ledger, written page by page, knows every claim.
    let again = app
        .dogtax_export(&Actor::Cli, PANKETAL, date!(2027 - 02 - 15), &out, false)
        .await
        .unwrap();
    assert_eq!(again.run, None);
    assert_eq!(
        (again.already_debits, again.already_transfers),
        (export.debits, export.transfers)
    );
    assert_eq!(again.earlier[0].debits, debit_households);
}

fn validate_with_xsd(xml: &std::path::Path) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf();
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
        .arg(root.join("scripts/validate-sepa.py"))
        .arg(xml)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "XSD validation failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

contract_tests!(
    statutes_are_versioned_audited_and_feed_the_form,
    quotes_follow_each_municipality_and_refuse_bad_input,
    registration_decision_and_deregistration_make_the_register_and_notices,
    a_second_registration_extends_the_household,
    a_registration_after_a_master_key_rotation_finds_the_household,
    simultaneous_decisions_for_one_holder_make_one_household,
    annual_assessment_and_treasury_export,
    the_export_refuses_incomplete_mandates_and_never_repeats_a_debit,
    the_dogtax_year_goes_page_by_page_and_resumes,
);
