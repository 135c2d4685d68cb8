//! The storage contract, run against SQLite and PostgreSQL alike.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use rathaus_crypto::envelope::MasterKey;
use rathaus_crypto::random::{OsRandom, SeededRandom};
use rathaus_domain::tenant::{Tenant, TenantKey, TenantKind, TenantProfile};
use rathaus_store::audit::{AuditVerdict, NewAuditEntry, append};
use rathaus_store::keyring::Place;
use rathaus_store::testing::{Backend, TestStore, fresh_store};
use rathaus_store::{Store, contract_tests, tenants};
use time::OffsetDateTime;

async fn store(backend: Backend) -> Option<TestStore> {
    let s = fresh_store(backend, Arc::new(OsRandom))
        .await
        .expect("store");
    if s.is_none() {
        eprintln!("PostgreSQL not configured (RATHAUS_TEST_POSTGRES_URL); skipped");
    }
    s
}

fn tenant(key: &str, name: &str, kind: TenantKind, parent: Option<&str>) -> Tenant {
    Tenant {
        key: key.parse().unwrap(),
        ars: None,
        kind,
        name: name.into(),
        official_name: name.into(),
        slug: rathaus_domain::tenant::Slug::from_name(kind, name),
        district: "Potsdam-Mittelmark".into(),
        parent: parent.map(|p| p.parse().unwrap()),
        population: Some(1000),
        enabled: false,
        profile: TenantProfile::default(),
    }
}

fn demo_tenants() -> Vec<Tenant> {
    vec![
        tenant("120695910", "Niemegk", TenantKind::Amt, None),
        tenant("12069448", "Niemegk", TenantKind::Stadt, Some("120695910")),
        tenant(
            "12069402",
            "Mühlenfließ",
            TenantKind::Gemeinde,
            Some("120695910"),
        ),
        tenant("12060181", "Panketal", TenantKind::Gemeinde, None),
    ]
}

async fn import(s: &Store, ts: &[Tenant]) -> tenants::ImportCounts {
    let mut tx = s.begin().await.unwrap();
    let refs: Vec<&Tenant> = ts.iter().collect();
    let c = tenants::import(&mut tx, &refs, OffsetDateTime::now_utc())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    c
}

fn key(s: &str) -> TenantKey {
    s.parse().unwrap()
}

async fn migrations_are_idempotent_and_current(b: Backend) {
    let Some(t) = store(b).await else { return };
    assert!(t.store.migration_status().await.unwrap().is_current());
    assert!(
        t.store
            .migrate(OffsetDateTime::now_utc())
            .await
            .unwrap()
            .is_empty()
    );
    t.store.ping().await.unwrap();
}

async fn tenant_import_is_idempotent_and_keeps_operator_changes(b: Backend) {
    let Some(t) = store(b).await else { return };
    let s = &t.store;
    let c = import(s, &demo_tenants()).await;
    assert_eq!((c.inserted, c.updated, c.unchanged), (4, 0, 0));
    let c = import(s, &demo_tenants()).await;
    assert_eq!((c.inserted, c.updated, c.unchanged), (0, 0, 4));

    let mut tx = s.begin().await.unwrap();
    assert!(
        tenants::set_enabled(&mut tx, &key("12060181"), true, OffsetDateTime::now_utc())
            .await
            .unwrap()
    );
    assert!(
        !tenants::set_enabled(&mut tx, &key("12060181"), true, OffsetDateTime::now_utc())
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();

    let mut changed = demo_tenants();
    changed[3].population = Some(20596);
    let c = import(s, &changed).await;
    assert_eq!((c.inserted, c.updated, c.unchanged), (0, 1, 3));
    let p = s.tenant(&key("12060181")).await.unwrap().unwrap();
    assert!(p.enabled, "re-import must not disable an enabled tenant");
    assert_eq!(p.population, Some(20596));

    let members = s
        .tenants(&tenants::TenantFilter {
            parent: Some(key("120695910")),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        vec!["Mühlenfließ", "Niemegk"]
    );
    let enabled = s
        .tenants(&tenants::TenantFilter {
            enabled_only: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(enabled.len(), 1);
    assert_eq!(
        s.tenant_by_slug("amt-niemegk")
            .await
            .unwrap()
            .unwrap()
            .key
            .as_str(),
        "120695910"
    );
    assert_eq!(s.count_tenants().await.unwrap(), (4, 1));
}

async fn a_failed_transaction_leaves_nothing_behind(b: Backend) {
    let Some(t) = store(b).await else { return };
    let s = &t.store;
    let mut tx = s.begin().await.unwrap();
    let refs = demo_tenants();
    let refs: Vec<&Tenant> = refs.iter().collect();
    tenants::import(&mut tx, &refs, OffsetDateTime::now_utc())
        .await
        .unwrap();
    drop(tx);
    assert_eq!(s.count_tenants().await.unwrap(), (0, 0));
}

async fn sealed_data_is_bound_to_tenant_and_record(b: Backend) {
    let Some(t) = store(b).await else { return };
    let s = &t.store;
    import(s, &demo_tenants()).await;
    let mut tx = s.begin().await.unwrap();
    for k in ["12060181", "12069448"] {
        s.ensure_tenant_key(&mut tx, k, OffsetDateTime::now_utc())
            .await
            .unwrap();
        s.ensure_tenant_key(&mut tx, k, OffsetDateTime::now_utc())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let place = Place {
        table: "case",
        record: "r1",
        field: "data",
    };
    let sealed = s
        .seal("12060181", place, "Erika Mustermann".as_bytes())
        .await
        .unwrap();
    assert!(
        !sealed
            .windows(6)
            .any(|w| w == b"Mustermann".get(..6).unwrap())
    );
    assert_eq!(
        s.open("12060181", place, &sealed).await.unwrap(),
        b"Erika Mustermann"
    );
    assert!(
        s.open("12069448", place, &sealed).await.is_err(),
        "another tenant must not open it"
    );
    assert!(
        s.open(
            "12060181",
            Place {
                record: "r2",
                ..place
            },
            &sealed
        )
        .await
        .is_err()
    );
    assert!(
        s.seal("12069402", place, b"x").await.is_err(),
        "no key, no sealing"
    );
}

async fn wrong_master_key_is_refused_and_rotation_keeps_data(b: Backend) {
    let Some(t) = store(b).await else { return };
    let s = &t.store;
    import(s, &demo_tenants()).await;
    let mut tx = s.begin().await.unwrap();
    s.ensure_tenant_key(&mut tx, "12060181", OffsetDateTime::now_utc())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let place = Place {
        table: "case",
        record: "r1",
        field: "data",
    };
    let sealed = s.seal("12060181", place, b"geheim").await.unwrap();
    let recorded = s.recorded_master_key_id().await.unwrap().unwrap();

    let other = Store::connect(&t.url, Arc::new(OsRandom)).await.unwrap();
    let err = other
        .unlock(MasterKey::generate(&OsRandom).unwrap())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not the key of this database"),
        "{err}"
    );
    assert_eq!(
        s.recorded_master_key_id().await.unwrap().unwrap(),
        recorded,
        "nothing changed"
    );

    let new = MasterKey::generate(&SeededRandom::new(99)).unwrap();
    let new_id = new.id();
    assert_eq!(s.rotate_master_key(new).await.unwrap(), 1);
    assert_eq!(s.recorded_master_key_id().await.unwrap().unwrap(), new_id);
    assert_eq!(s.open("12060181", place, &sealed).await.unwrap(), b"geheim");

    // A fresh process with the new key reads the old data; one with the old id is refused.
    let reopened = Store::connect(&t.url, Arc::new(OsRandom)).await.unwrap();
    reopened
        .unlock(MasterKey::generate(&SeededRandom::new(99)).unwrap())
        .await
        .unwrap();
    assert_eq!(
        reopened.open("12060181", place, &sealed).await.unwrap(),
        b"geheim"
    );
}

fn entry(i: usize) -> (String, String) {
    (
        format!("tenant:{i}"),
        if i.is_multiple_of(2) {
            "ok".into()
        } else {
            "denied".into()
        },
    )
}

async fn append_n(s: &Store, n: usize) {
    for i in 0..n {
        let (object, outcome) = entry(i);
        let mut tx = s.begin().await.unwrap();
        append(
            &mut tx,
            &NewAuditEntry {
                at: OffsetDateTime::now_utc(),
                actor: "cli",
                tenant: Some("12060181"),
                action: "tenant.enable",
                object: &object,
                outcome: &outcome,
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
}

async fn audit_chain_detects_edits_deletions_and_truncation(b: Backend) {
    let Some(t) = store(b).await else { return };
    let s = &t.store;
    assert_eq!(
        s.verify_audit().await.unwrap(),
        AuditVerdict::Intact { entries: 0 }
    );
    append_n(s, 5).await;
    assert_eq!(
        s.verify_audit().await.unwrap(),
        AuditVerdict::Intact { entries: 5 }
    );
    assert_eq!(
        s.audit_entries(&["12060181".into()], None, 2)
            .await
            .unwrap()
            .len(),
        2
    );

    // The database refuses edits through the application's own connection.
    let mut tx = s.begin().await.unwrap();
    assert!(
        tx.execute("UPDATE audit_log SET outcome = 'ok' WHERE seq = 2", vec![])
            .await
            .is_err()
    );
    drop(tx);

    // Someone with direct access removes the guard and edits an entry.
    let drop_guard: &'static str = match b {
        Backend::Sqlite => "DROP TRIGGER audit_log_no_update",
        Backend::Postgres => "DROP TRIGGER audit_log_no_update ON audit_log",
    };
    let mut tx = s.begin().await.unwrap();
    tx.execute(drop_guard, vec![]).await.unwrap();
    tx.execute("UPDATE audit_log SET outcome = 'ok' WHERE seq = 2", vec![])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    match s.verify_audit().await.unwrap() {
        AuditVerdict::Broken(b) => assert_eq!(b.seq, 2),
        v => panic!("edit not detected: {v:?}"),
    }
    let mut tx = s.begin().await.unwrap();
    tx.execute(
        "UPDATE audit_log SET outcome = 'denied' WHERE seq = 2",
        vec![],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        s.verify_audit().await.unwrap(),
        AuditVerdict::Intact { entries: 5 }
    );

    if b == Backend::Sqlite {
        let mut tx = s.begin().await.unwrap();
        tx.execute("DROP TRIGGER audit_log_no_delete", vec![])
            .await
            .unwrap();
        tx.execute("DELETE FROM audit_log WHERE seq = 5", vec![])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        match s.verify_audit().await.unwrap() {
            AuditVerdict::Broken(b) => assert_eq!(b.seq, 5, "{b}"),
            v => panic!("truncation not detected: {v:?}"),
        }
        let mut tx = s.begin().await.unwrap();
        tx.execute("DELETE FROM audit_log WHERE seq = 3", vec![])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        match s.verify_audit().await.unwrap() {
            AuditVerdict::Broken(b) => assert_eq!(b.seq, 4, "{b}"),
            v => panic!("deletion not detected: {v:?}"),
        }
    }
}

async fn concurrent_appends_form_one_chain(b: Backend) {
    let Some(t) = store(b).await else { return };
    let s = t.store.clone();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { append_n(&s, 10).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        s.verify_audit().await.unwrap(),
        AuditVerdict::Intact { entries: 80 }
    );
}

async fn an_unreachable_database_gives_one_clear_line(b: Backend) {
    let url = match b {
        Backend::Sqlite => "sqlite:///nonexistent-dir/sub/rathaus.db".to_owned(),
        Backend::Postgres => "postgres://nobody@127.0.0.1:1/none".to_owned(),
    };
    let err = Store::connect(&url, Arc::new(OsRandom))
        .await
        .err()
        .expect("must fail");
    let msg = err.to_string();
    assert!(msg.starts_with("cannot reach the"), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
}

contract_tests!(
    migrations_are_idempotent_and_current,
    tenant_import_is_idempotent_and_keeps_operator_changes,
    a_failed_transaction_leaves_nothing_behind,
    sealed_data_is_bound_to_tenant_and_record,
    wrong_master_key_is_refused_and_rotation_keeps_data,
    audit_chain_detects_edits_deletions_and_truncation,
    concurrent_appends_form_one_chain,
    an_unreachable_database_gives_one_clear_line,
);
