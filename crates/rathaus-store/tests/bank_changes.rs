//! Changes of bank details waiting for a second person, on both backends: one at a time per
//! municipality, decided once, never confirmed by the person who proposed it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use rathaus_crypto::random::SeededRandom;
use rathaus_domain::staff::Role;
use rathaus_domain::tenant::BankAccount;
use rathaus_store::bank_changes::{self, BankDetails, Decision};
use rathaus_store::staff::NewStaff;
use rathaus_store::testing::{Backend, fresh_store, gemeinde};
use rathaus_store::{StoreError, contract_tests, tenants};
use time::macros::datetime;

const NOW: time::OffsetDateTime = datetime!(2026-12-01 10:00 UTC);
const KEY: &str = "12060181";

fn details(iban: &str) -> BankDetails {
    BankDetails {
        bank: Some(BankAccount {
            holder: "Gemeinde Panketal".into(),
            iban: iban.into(),
            bic: None,
            bank_name: None,
        }),
        creditor_id: Some("DE98ZZZ09999999999".into()),
    }
}

async fn a_change_waits_once_and_is_decided_once(b: Backend) {
    let Some(t) = fresh_store(b, Arc::new(SeededRandom::new(8)))
        .await
        .unwrap()
    else {
        return;
    };
    let s = &t.store;
    let panketal = gemeinde(KEY, "Panketal");
    let mut tx = s.begin().await.unwrap();
    tenants::import(&mut tx, &[&panketal], NOW).await.unwrap();
    tx.commit().await.unwrap();
    s.ensure_staff_scope(Some(KEY), NOW).await.unwrap();
    for (id, email) in [("a1", "a1@panketal.example"), ("a2", "a2@panketal.example")] {
        let mut tx = s.begin().await.unwrap();
        s.insert_staff(
            &mut tx,
            &NewStaff {
                id,
                tenant_key: Some(KEY),
                role: Role::TenantAdmin,
                email,
                name: id,
                services: &[],
                enrol_token_hash: None,
                enrol_expires_at: None,
                password_hash: None,
                totp_secret: None,
            },
            NOW,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    assert!(s.pending_bank_change(KEY).await.unwrap().is_none());

    let mut tx = s.begin().await.unwrap();
    bank_changes::propose(
        &mut tx,
        "c1",
        KEY,
        "a1",
        &details("DE89370400440532013000"),
        NOW,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let waiting = s.pending_bank_change(KEY).await.unwrap().unwrap();
    assert_eq!(
        (waiting.id.as_str(), waiting.proposed_by.as_str()),
        ("c1", "a1")
    );
    assert_eq!(waiting.details, details("DE89370400440532013000"));

    // A second proposal while one waits: refused by the database.
    let mut tx = s.begin().await.unwrap();
    let e = bank_changes::propose(
        &mut tx,
        "c2",
        KEY,
        "a2",
        &details("DE12500105170648489890"),
        NOW,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e}");
    drop(tx);

    // The proposer's own confirmation finds nothing; another person's takes it, once.
    let mut tx = s.begin().await.unwrap();
    assert!(
        bank_changes::decide(&mut tx, KEY, "c1", Decision::Confirmed, "a1", NOW)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        bank_changes::decide(&mut tx, "12069020", "c1", Decision::Confirmed, "a2", NOW)
            .await
            .unwrap()
            .is_none(),
        "not through another municipality"
    );
    let decided = bank_changes::decide(&mut tx, KEY, "c1", Decision::Confirmed, "a2", NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(decided, waiting);
    assert!(
        bank_changes::decide(&mut tx, KEY, "c1", Decision::Rejected, "a2", NOW)
            .await
            .unwrap()
            .is_none(),
        "decided once"
    );
    tx.commit().await.unwrap();
    assert!(s.pending_bank_change(KEY).await.unwrap().is_none());

    // Then the next change may wait; its proposer may withdraw it.
    let mut tx = s.begin().await.unwrap();
    bank_changes::propose(
        &mut tx,
        "c3",
        KEY,
        "a2",
        &details("DE12500105170648489890"),
        NOW,
    )
    .await
    .unwrap();
    assert!(
        bank_changes::decide(&mut tx, KEY, "c3", Decision::Rejected, "a2", NOW)
            .await
            .unwrap()
            .is_some()
    );
    tx.commit().await.unwrap();
    assert!(s.pending_bank_change(KEY).await.unwrap().is_none());
}

contract_tests!(a_change_waits_once_and_is_decided_once);
