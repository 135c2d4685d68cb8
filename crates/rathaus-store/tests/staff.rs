//! Storage of staff accounts, sessions and throttle counters, on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use rathaus_crypto::envelope::MasterKey;
use rathaus_crypto::random::SeededRandom;
use rathaus_domain::staff::Role;
use rathaus_store::contract_tests;
use rathaus_store::staff::{self, NewStaff, SessionRow};
use rathaus_store::testing::{Backend, fresh_store};
use sha2::{Digest, Sha256};
use time::macros::datetime;

const NOW: time::OffsetDateTime = datetime!(2026-11-25 21:00 UTC);

async fn operator_accounts_are_sealed_and_found_by_address(b: Backend) {
    let Some(t) = fresh_store(b, Arc::new(SeededRandom::new(5)))
        .await
        .unwrap()
    else {
        return;
    };
    let s = &t.store;
    s.ensure_staff_scope(None, NOW).await.unwrap();
    s.ensure_staff_scope(None, NOW).await.unwrap();
    let link = rathaus_crypto::token::token_hash("link");
    let mut tx = s.begin().await.unwrap();
    s.insert_staff(
        &mut tx,
        &NewStaff {
            id: "u1",
            tenant_key: None,
            role: Role::OperatorAdmin,
            email: "betrieb@dikom.example",
            name: "Betrieb",
            services: &[],
            enrol_token_hash: Some(link.clone()),
            enrol_expires_at: Some(NOW + time::Duration::days(7)),
            password_hash: None,
            totp_secret: Some(b"01234567890123456789"),
        },
        NOW,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let a = s
        .staff_by_email(" BETRIEB@dikom.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a.id.as_str(), a.name.as_str()), ("u1", "Betrieb"));
    assert_eq!(a.totp_secret.as_deref(), Some(&b"01234567890123456789"[..]));
    assert!(
        !format!("{a:?}").contains("dikom"),
        "no personal data in debug output"
    );
    assert!(s.staff_by_enrol_token(&link, NOW).await.unwrap().is_some());
    assert!(
        s.staff_by_enrol_token(&link, NOW + time::Duration::days(8))
            .await
            .unwrap()
            .is_none(),
        "expired"
    );

    // The link is used once, however often it is tried.
    let mut tx = s.begin().await.unwrap();
    assert!(
        staff::consume_enrol_token(&mut tx, "u1", &link)
            .await
            .unwrap()
    );
    assert!(
        !staff::consume_enrol_token(&mut tx, "u1", &link)
            .await
            .unwrap()
    );
    // TOTP steps only move forward.
    assert!(staff::use_totp_step(&mut tx, "u1", 100).await.unwrap());
    assert!(!staff::use_totp_step(&mut tx, "u1", 100).await.unwrap());
    assert!(!staff::use_totp_step(&mut tx, "u1", 99).await.unwrap());
    assert!(staff::use_totp_step(&mut tx, "u1", 101).await.unwrap());
    tx.commit().await.unwrap();

    // The address is found by a keyed hash: a copy of the database does not tell which of the
    // guessable addresses it holds.
    let mut tx = s.begin().await.unwrap();
    let stored = tx
        .fetch_one(
            "SELECT email_hash FROM staff_users WHERE id = $1",
            vec!["u1".into()],
        )
        .await
        .unwrap()
        .bytes("email_hash")
        .unwrap();
    drop(tx);
    for guess in [
        &b"betrieb@dikom.example"[..],
        b"rathaus staff e-mail v1|betrieb@dikom.example",
    ] {
        assert_ne!(stored, Sha256::digest(guess).to_vec());
    }

    // The installation scope's key is re-wrapped with the master key: secrets survive rotation,
    // and so does the key of the address hash.
    let new = || MasterKey::generate(&SeededRandom::new(9)).unwrap();
    let n = s.rotate_master_key(new()).await.unwrap();
    assert!(n.data_keys >= 1 && n.index_keys >= 1, "{n:?}");
    let a = s.staff_by_id("u1").await.unwrap().unwrap();
    assert_eq!(a.email, "betrieb@dikom.example");
    assert!(a.totp_confirmed);
    let restarted = rathaus_store::Store::connect(&t.url, Arc::new(SeededRandom::new(10)))
        .await
        .unwrap();
    restarted.unlock(new(), NOW).await.unwrap();
    let a = restarted
        .staff_by_email("Betrieb@dikom.example ")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.id, "u1");
}

async fn sessions_and_throttle_counters(b: Backend) {
    let Some(t) = fresh_store(b, Arc::new(SeededRandom::new(6)))
        .await
        .unwrap()
    else {
        return;
    };
    let s = &t.store;
    s.ensure_staff_scope(None, NOW).await.unwrap();
    let mut tx = s.begin().await.unwrap();
    s.insert_staff(
        &mut tx,
        &NewStaff {
            id: "u2",
            tenant_key: None,
            role: Role::OperatorAdmin,
            email: "x@dikom.example",
            name: "X",
            services: &[],
            enrol_token_hash: None,
            enrol_expires_at: None,
            password_hash: Some("$argon2id$..."),
            totp_secret: None,
        },
        NOW,
    )
    .await
    .unwrap();
    for (token, expires) in [(&b"a"[..], 1000), (&b"b"[..], 5000)] {
        staff::insert_session(
            &mut tx,
            token,
            &SessionRow {
                user_id: "u2".into(),
                stage: "full".into(),
                next_path: None,
                pending_password: None,
                created_at: 0,
                last_seen_at: 0,
                expires_at: expires,
            },
        )
        .await
        .unwrap();
    }
    staff::throttle_fail(&mut tx, "account:x", 100, 0)
        .await
        .unwrap();
    staff::throttle_fail(&mut tx, "account:x", 200, 0)
        .await
        .unwrap();
    staff::throttle_fail(&mut tx, "account:old", 10, 0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(s.count_staff_sessions("u2").await.unwrap(), 2);
    assert_eq!(s.throttle_state("account:x").await.unwrap(), Some((2, 200)));

    let mut tx = s.begin().await.unwrap();
    // A counter whose last failure is older than the horizon starts over.
    staff::throttle_fail(&mut tx, "account:x", 300, 250)
        .await
        .unwrap();
    assert_eq!(staff::delete_expired(&mut tx, 2000, 50).await.unwrap(), 2);
    tx.commit().await.unwrap();
    assert_eq!(s.throttle_state("account:x").await.unwrap(), Some((1, 300)));
    assert_eq!(s.throttle_state("account:old").await.unwrap(), None);
    assert_eq!(s.count_staff_sessions("u2").await.unwrap(), 1);

    let mut tx = s.begin().await.unwrap();
    assert!(
        s.set_staff_disabled(&mut tx, None, "u2", true, NOW)
            .await
            .unwrap()
    );
    assert!(
        !s.set_staff_disabled(&mut tx, None, "u2", true, NOW)
            .await
            .unwrap()
    );
    staff::throttle_reset(&mut tx, "account:x").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        s.count_staff_sessions("u2").await.unwrap(),
        0,
        "disabling ends sessions"
    );
    assert_eq!(s.throttle_state("account:x").await.unwrap(), None);
    assert!(s.staff_by_id("u2").await.unwrap().unwrap().disabled);
}

contract_tests!(
    operator_accounts_are_sealed_and_found_by_address,
    sessions_and_throttle_counters,
);
