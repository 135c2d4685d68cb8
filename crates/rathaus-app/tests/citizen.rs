//! Citizen use cases that the HTTP tests cannot provoke reliably: truly concurrent submits.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rathaus_app::testing::{TestBackend, demo_app};
use rathaus_domain::service::flow::Position;
use rathaus_domain::service::{FormInput, Lang};
use rathaus_store::contract_tests;

fn input(pairs: &[(&str, &str)]) -> FormInput {
    FormInput::new(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

async fn concurrent_submits_of_one_draft_make_one_case(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let tenant = app.public_tenant("bad-belzig").await.unwrap();
    let (token, s) = app.start_draft(&tenant, "maengelmelder").await.unwrap();
    let steps: [(&str, &[(&str, &str)]); 4] = [
        (
            "mangel",
            &[
                ("category", "muell"),
                ("description", "Altreifen am Waldrand abgelegt"),
            ],
        ),
        (
            "ort",
            &[
                ("location_kind", "coordinates"),
                ("latitude", "52,14"),
                ("longitude", "12,59"),
            ],
        ),
        ("foto", &[]),
        ("kontakt", &[("privacy_ack", "true")]),
    ];
    let mut s = s;
    for (step, pairs) in steps {
        app.answer_step(
            &s,
            &Position::Step {
                step: step.into(),
                item: None,
            },
            &input(pairs),
        )
        .await
        .unwrap();
        s = app
            .open_draft(&tenant, "maengelmelder", &token)
            .await
            .unwrap();
    }
    let a = app
        .open_draft(&tenant, "maengelmelder", &token)
        .await
        .unwrap();
    let b2 = app
        .open_draft(&tenant, "maengelmelder", &token)
        .await
        .unwrap();
    let (x, y) = tokio::join!(app.submit(&a, Lang::De), app.submit(&b2, Lang::De));
    let (x, y) = (
        x.map_err(|e| format!("{e:?}")).unwrap(),
        y.map_err(|e| format!("{e:?}")).unwrap(),
    );
    assert_eq!(x.reference, y.reference);
    assert_eq!(x.status_token, y.status_token);
    let again = app
        .open_draft(&tenant, "maengelmelder", &token)
        .await
        .unwrap();
    assert_eq!(
        app.submit(&again, Lang::De)
            .await
            .map_err(|e| format!("{e:?}"))
            .unwrap()
            .reference,
        x.reference
    );
    // One case, one receipt number consumed... and no confirmation e-mail: no address was given.
    assert_eq!(app.store.outbox_counts().await.unwrap().pending, 0);
    let st = app.case_status(&tenant, &x.status_token).await.unwrap();
    assert_eq!(st.case.reference, "MM-2026-000001");
    // Changing answers after submitting is refused.
    let late = app
        .answer_step(
            &again,
            &Position::Step {
                step: "mangel".into(),
                item: None,
            },
            &input(steps[0].1),
        )
        .await;
    assert!(late.is_err());
}

contract_tests!(concurrent_submits_of_one_draft_make_one_case);
