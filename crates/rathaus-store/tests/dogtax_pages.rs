//! The dog-tax register read a page at a time: which notices a treasury export reads.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use rathaus_crypto::random::OsRandom;
use rathaus_store::dogtax::{NewHousehold, NewNotice};
use rathaus_store::testing::{Backend, fresh_store, gemeinde};
use rathaus_store::{contract_tests, tenants};
use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2030-02-01 09:00 UTC);
const PANKETAL: &str = "12060181";

/// A household with ten years of history: the export for a day reads the notices of that
/// day's year and the year before, and older years' notices only when issued within the year
/// before the day (a late change notice whose arrears fall due a month after it); never a
/// notice issued after the day.
async fn an_export_reads_the_notices_that_can_fall_due_and_no_others(b: Backend) {
    let Some(t) = fresh_store(b, Arc::new(OsRandom)).await.unwrap() else {
        eprintln!("PostgreSQL not configured (RATHAUS_TEST_POSTGRES_URL); skipped");
        return;
    };
    let s = &t.store;
    let panketal = gemeinde(PANKETAL, "Panketal");
    let mut tx = s.begin().await.unwrap();
    tenants::import(&mut tx, &[&panketal], NOW).await.unwrap();
    s.ensure_tenant_key(&mut tx, PANKETAL, NOW).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = s.begin().await.unwrap();
    s.insert_dogtax_household(
        &mut tx,
        &NewHousehold {
            id: "hh-1",
            tenant_key: PANKETAL,
            kassenzeichen: "HU-000001",
            payment_method: "transfer",
            holder: &json!({"name": "Erika Mustermann"}),
            holder_index: "idx-1",
            payment: &json!({}),
            now: NOW,
        },
    )
    .await
    .unwrap();
    // The annual notices 2021 to 2031, each issued on 1 December of the year before.
    let mut notices: Vec<(String, i32, &str, String)> = (2021..=2031)
        .map(|year| {
            (
                format!("tax-{year}"),
                year,
                "tax",
                format!("{}-12-01", year - 1),
            )
        })
        .collect();
    // Late change notices for 2024: one issued three weeks before the day, one long before.
    notices.push((
        "change-2024-late".into(),
        2024,
        "change",
        "2030-01-25".into(),
    ));
    notices.push((
        "change-2024-old".into(),
        2024,
        "change",
        "2025-03-01".into(),
    ));
    // A replacement-tag fee issued in 2029, of year 2029.
    notices.push(("fee-2029".into(), 2029, "fee", "2029-06-10".into()));
    let content = json!({});
    for (seq, (id, year, kind, issued_on)) in notices.iter().enumerate() {
        s.insert_dogtax_notice(
            &mut tx,
            &NewNotice {
                id,
                seq: Some(i64::try_from(seq).unwrap() + 1),
                tenant_key: PANKETAL,
                household_id: "hh-1",
                year: *year,
                kind,
                case_id: None,
                issued_on,
                content: &content,
                now: NOW,
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let read = s
        .dogtax_notices_of(
            PANKETAL,
            &["hh-1".to_owned()],
            "2030-02-15",
            2029,
            "2029-02-15",
        )
        .await
        .unwrap();
    let mut ids: Vec<&str> = read.iter().map(|n| n.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        ["change-2024-late", "fee-2029", "tax-2029", "tax-2030"],
        "2031 is issued after the day; 2021 to 2028 can hold nothing due on it"
    );
    // Without a window (as far back as the history goes), everything issued by the day.
    let all = s
        .dogtax_notices_of(
            PANKETAL,
            &["hh-1".to_owned()],
            "2030-02-15",
            0,
            "0000-01-01",
        )
        .await
        .unwrap();
    assert_eq!(all.len(), notices.len() - 1);
}

contract_tests!(an_export_reads_the_notices_that_can_fall_due_and_no_others);
