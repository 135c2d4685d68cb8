//! The storage contract, run against SQLite and PostgreSQL alike.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use rathaus_crypto::envelope::MasterKey;
use rathaus_crypto::random::{OsRandom, SeededRandom};
use rathaus_domain::staff::Role;
use rathaus_domain::tenant::{Tenant, TenantKey, TenantKind, TenantProfile};
use rathaus_store::audit::{AuditVerdict, NewAuditEntry, append};
use rathaus_store::keyring::{IndexPurpose, Place, Rotated};
use rathaus_store::staff::NewStaff;
use rathaus_store::submission_keys::{NewSubmissionKey, delete_expired_submission_keys};
use rathaus_store::testing::{Backend, TempDir, TestStore, fresh_store, fresh_url};
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
        .unlock(
            MasterKey::generate(&OsRandom).unwrap(),
            OffsetDateTime::now_utc(),
        )
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
    let new_id = new.id().unwrap();
    assert_eq!(
        s.rotate_master_key(new).await.unwrap(),
        Rotated {
            data_keys: 1,
            index_keys: 2
        }
    );
    assert_eq!(s.recorded_master_key_id().await.unwrap().unwrap(), new_id);
    assert_eq!(s.open("12060181", place, &sealed).await.unwrap(), b"geheim");

    // A fresh process with the new key reads the old data; one with the old id is refused.
    let reopened = Store::connect(&t.url, Arc::new(OsRandom)).await.unwrap();
    reopened
        .unlock(
            MasterKey::generate(&SeededRandom::new(99)).unwrap(),
            OffsetDateTime::now_utc(),
        )
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

/// Two processes on one database: one rotates the master key, the other still holds the old one.
/// That one must not wrap a new key under the old master key (no process with the new key file
/// could open it); it refuses, says to restart, and writes nothing.
async fn a_process_left_behind_by_a_rotation_wraps_no_new_key(b: Backend) {
    let dir = TempDir::new().unwrap();
    let Some(url) = fresh_url(b, &dir).await.unwrap() else {
        return;
    };
    let now = OffsetDateTime::now_utc();
    let old_key = || MasterKey::generate(&SeededRandom::new(7)).unwrap();
    let rotating = Store::connect(&url, Arc::new(OsRandom)).await.unwrap();
    rotating.migrate(now).await.unwrap();
    rotating.unlock(old_key(), now).await.unwrap();
    import(&rotating, &demo_tenants()).await;
    let behind = Store::connect(&url, Arc::new(OsRandom)).await.unwrap();
    behind.unlock(old_key(), now).await.unwrap();
    let mut tx = behind.begin().await.unwrap();
    behind
        .ensure_tenant_key(&mut tx, "12060181", now)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let new = MasterKey::generate(&SeededRandom::new(8)).unwrap();
    let new_id = new.id().unwrap();
    assert_eq!(
        rotating.rotate_master_key(new).await.unwrap(),
        Rotated {
            data_keys: 1,
            index_keys: 2
        }
    );

    let mut tx = behind.begin().await.unwrap();
    let err = behind
        .ensure_tenant_key(&mut tx, "12069448", now)
        .await
        .unwrap_err()
        .to_string();
    drop(tx);
    assert!(
        err.contains("rotated") && err.contains("restart") && err.contains(&new_id),
        "{err}"
    );
    let err = behind
        .ensure_staff_scope(None, now)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("restart"), "{err}");
    let err = behind
        .rotate_master_key(MasterKey::generate(&SeededRandom::new(9)).unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("restart"), "{err}");
    // A key it has not opened yet is wrapped under the new master key: it says why it fails.
    let place = Place {
        table: "case",
        record: "r1",
        field: "data",
    };
    let err = behind
        .seal("12060181", place, b"x")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("restart"), "{err}");

    // Nothing was written: the current process finds no key of the refused scopes.
    assert!(rotating.seal("12069448", place, b"x").await.is_err());
    assert!(
        rotating
            .index_key("12069448", IndexPurpose::CaseNames)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        rotating
            .index_key("installation", IndexPurpose::StaffEmail)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        rotating.recorded_master_key_id().await.unwrap().unwrap(),
        new_id
    );

    // Restarted with the new key, it works again, and what it writes the other one opens.
    let restarted = Store::connect(&url, Arc::new(OsRandom)).await.unwrap();
    restarted
        .unlock(MasterKey::generate(&SeededRandom::new(8)).unwrap(), now)
        .await
        .unwrap();
    let mut tx = restarted.begin().await.unwrap();
    restarted
        .ensure_tenant_key(&mut tx, "12069448", now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let sealed = restarted.seal("12069448", place, b"x").await.unwrap();
    assert_eq!(
        rotating.open("12069448", place, &sealed).await.unwrap(),
        b"x"
    );
}

/// Index keys are wrapped like data keys: a rotation re-wraps them and their secrets stay, so
/// index values computed before the rotation are found after it, also by a restarted process.
async fn index_keys_survive_master_key_rotation(b: Backend) {
    let Some(t) = store(b).await else { return };
    let s = &t.store;
    import(s, &demo_tenants()).await;
    let now = OffsetDateTime::now_utc();
    let mut tx = s.begin().await.unwrap();
    for k in ["12060181", "12069448"] {
        s.ensure_tenant_key(&mut tx, k, now).await.unwrap();
    }
    tx.commit().await.unwrap();
    let secret =
        |k: Option<std::sync::Arc<rathaus_crypto::envelope::IndexKey>>| *k.unwrap().secret();
    let names = secret(
        s.index_key("12060181", IndexPurpose::CaseNames)
            .await
            .unwrap(),
    );
    let holders = secret(
        s.index_key("12060181", IndexPurpose::DogtaxHolders)
            .await
            .unwrap(),
    );
    assert_ne!(names, holders, "one key per purpose");
    assert_ne!(
        names,
        secret(
            s.index_key("12069448", IndexPurpose::CaseNames)
                .await
                .unwrap()
        ),
        "one key per tenant"
    );
    assert!(
        s.index_key("12069402", IndexPurpose::CaseNames)
            .await
            .unwrap()
            .is_none(),
        "a tenant without a data key has no index key"
    );

    let new = || MasterKey::generate(&SeededRandom::new(42)).unwrap();
    assert_eq!(s.rotate_master_key(new()).await.unwrap().index_keys, 4);
    let restarted = Store::connect(&t.url, Arc::new(OsRandom)).await.unwrap();
    restarted.unlock(new(), now).await.unwrap();
    assert_eq!(
        secret(
            restarted
                .index_key("12060181", IndexPurpose::CaseNames)
                .await
                .unwrap()
        ),
        names
    );
    assert_eq!(
        secret(
            restarted
                .index_key("12060181", IndexPurpose::DogtaxHolders)
                .await
                .unwrap()
        ),
        holders
    );
}

/// An installation from before index keys keyed its indexes with secrets derived from the master
/// key and hashed staff addresses without a key. After the upgrade (migration 7 leaves a marker,
/// the first unlock acts on it) the derived secrets are the tenants' first index keys, so stored
/// index values keep matching, and staff addresses are rehashed with a key.
async fn an_upgraded_installation_keeps_its_index_values(b: Backend) {
    let dir = TempDir::new().unwrap();
    let Some(url) = fresh_url(b, &dir).await.unwrap() else {
        return;
    };
    let now = OffsetDateTime::now_utc();
    let key = || MasterKey::generate(&SeededRandom::new(11)).unwrap();
    let s = Store::connect(&url, Arc::new(OsRandom)).await.unwrap();
    s.migrate(now).await.unwrap();
    s.unlock(key(), now).await.unwrap();
    import(&s, &demo_tenants()).await;
    let mut tx = s.begin().await.unwrap();
    s.ensure_tenant_key(&mut tx, "12060181", now).await.unwrap();
    tx.commit().await.unwrap();
    s.ensure_staff_scope(Some("12060181"), now).await.unwrap();
    let mut tx = s.begin().await.unwrap();
    s.insert_staff(
        &mut tx,
        &NewStaff {
            id: "u1",
            tenant_key: Some("12060181"),
            role: Role::Clerk,
            email: "sachbearbeitung@panketal.example",
            name: "Sachbearbeitung",
            services: &[],
            enrol_token_hash: None,
            enrol_expires_at: None,
            password_hash: None,
            totp_secret: None,
        },
        now,
    )
    .await
    .unwrap();
    // Back to the state before index keys: no index keys, the unkeyed address hash, the marker.
    use sha2::Digest;
    let unkeyed =
        sha2::Sha256::digest(b"rathaus staff e-mail v1|sachbearbeitung@panketal.example").to_vec();
    tx.execute("DELETE FROM index_keys", vec![]).await.unwrap();
    tx.execute(
        "UPDATE staff_users SET email_hash = $1",
        vec![unkeyed.clone().into()],
    )
    .await
    .unwrap();
    tx.execute(
        "INSERT INTO installation (key, value) VALUES ('index_keys_pending', 'test')",
        vec![],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let upgraded = Store::connect(&url, Arc::new(OsRandom)).await.unwrap();
    upgraded.unlock(key(), now).await.unwrap();
    for (purpose, label) in [
        (IndexPurpose::CaseNames, "blind-index"),
        (IndexPurpose::DogtaxHolders, "dogtax-holder-index"),
    ] {
        let k = upgraded
            .index_key("12060181", purpose)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(*k.secret(), key().derive(label).unwrap(), "{purpose:?}");
    }
    let a = upgraded
        .staff_by_email("Sachbearbeitung@panketal.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.id, "u1");
    let mut tx = upgraded.begin().await.unwrap();
    let stored = tx
        .fetch_one("SELECT email_hash FROM staff_users", vec![])
        .await
        .unwrap()
        .bytes("email_hash")
        .unwrap();
    assert!(
        tx.fetch_optional(
            "SELECT value FROM installation WHERE key = 'index_keys_pending'",
            vec![]
        )
        .await
        .unwrap()
        .is_none(),
        "done once"
    );
    drop(tx);
    assert_ne!(stored, unkeyed, "the address is hashed with a key now");

    // The adopted keys survive a rotation like any other.
    let new = || MasterKey::generate(&SeededRandom::new(12)).unwrap();
    upgraded.rotate_master_key(new()).await.unwrap();
    let restarted = Store::connect(&url, Arc::new(OsRandom)).await.unwrap();
    restarted.unlock(new(), now).await.unwrap();
    let k = restarted
        .index_key("12060181", IndexPurpose::CaseNames)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*k.secret(), key().derive("blind-index").unwrap());
    assert!(
        restarted
            .staff_by_email("sachbearbeitung@panketal.example")
            .await
            .unwrap()
            .is_some()
    );
}

/// An idempotency key is taken once per tenant and service; what it holds comes back as stored,
/// its secret sealed; the housekeeping deletes the old ones only.
async fn a_submission_key_is_claimed_once_and_expires(b: Backend) {
    let Some(t) = store(b).await else { return };
    let s = &t.store;
    import(s, &demo_tenants()).await;
    let day = |d: i64| OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000 + d);
    let mut tx = s.begin().await.unwrap();
    s.ensure_tenant_key(&mut tx, "12060181", day(0))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let key = |service_id, key_hash, now| NewSubmissionKey {
        tenant_key: "12060181",
        service_id,
        key_hash,
        body_hash: b"hash-of-the-body",
        case_id: "case-1",
        reference: "MM-2026-000001",
        status_token: "geheimes-statustoken",
        now,
    };
    let claim = |k: NewSubmissionKey<'static>| async move {
        let mut tx = s.begin().await.unwrap();
        let won = s.claim_submission_key(&mut tx, &k).await.unwrap();
        tx.commit().await.unwrap();
        won
    };
    assert!(claim(key("maengelmelder", b"k1", day(0))).await);
    assert!(
        !claim(key("maengelmelder", b"k1", day(0))).await,
        "the same key again"
    );
    assert!(
        claim(key("hundesteuer-anmeldung", b"k1", day(0))).await,
        "each service has its own keys"
    );
    assert!(claim(key("maengelmelder", b"k2", day(1))).await);
    // A claim while another transaction holds the same key uncommitted waits for it, then
    // finds the key taken.
    let mut first = s.begin().await.unwrap();
    assert!(
        s.claim_submission_key(&mut first, &key("maengelmelder", b"k3", day(1)))
            .await
            .unwrap()
    );
    let second = tokio::spawn({
        let s = s.clone();
        async move {
            let mut tx = s.begin().await.unwrap();
            let won = s
                .claim_submission_key(&mut tx, &key("maengelmelder", b"k3", day(1)))
                .await
                .unwrap();
            tx.commit().await.unwrap();
            won
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!second.is_finished(), "the second claim waits");
    first.commit().await.unwrap();
    assert!(!second.await.unwrap());
    let found = s
        .submission_key("12060181", "maengelmelder", b"k1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.case_id.as_str(), found.reference.as_str()),
        ("case-1", "MM-2026-000001")
    );
    assert_eq!(found.body_hash, b"hash-of-the-body");
    assert_eq!(found.status_token, "geheimes-statustoken");
    let mut tx = s.begin().await.unwrap();
    let receipts = tx
        .fetch_all("SELECT receipt FROM submission_keys", vec![])
        .await
        .unwrap();
    for r in receipts {
        let sealed = r.bytes("receipt").unwrap();
        assert!(!sealed.windows(8).any(|w| w == b"geheimes"));
    }
    assert_eq!(
        delete_expired_submission_keys(&mut tx, day(1))
            .await
            .unwrap(),
        2,
        "the two keys of the day before"
    );
    tx.commit().await.unwrap();
    assert!(
        s.submission_key("12060181", "maengelmelder", b"k1")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.submission_key("12060181", "maengelmelder", b"k2")
            .await
            .unwrap()
            .is_some()
    );
}

contract_tests!(
    a_submission_key_is_claimed_once_and_expires,
    migrations_are_idempotent_and_current,
    tenant_import_is_idempotent_and_keeps_operator_changes,
    a_failed_transaction_leaves_nothing_behind,
    sealed_data_is_bound_to_tenant_and_record,
    wrong_master_key_is_refused_and_rotation_keeps_data,
    a_process_left_behind_by_a_rotation_wraps_no_new_key,
    index_keys_survive_master_key_rotation,
    an_upgraded_installation_keeps_its_index_values,
    audit_chain_detects_edits_deletions_and_truncation,
    concurrent_appends_form_one_chain,
    an_unreachable_database_gives_one_clear_line,
);
