//! The demo installation and tenant use cases, against both backends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rathaus_app::tenants::TenantFilter;
use rathaus_app::testing::{TestBackend, demo_app};
use rathaus_app::{Actor, AppError};
use rathaus_store::audit::AuditVerdict;
use rathaus_store::contract_tests;

async fn demo_seeds_pilots_and_is_idempotent(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let enabled = app
        .list_tenants(&TenantFilter {
            enabled_only: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut keys: Vec<&str> = enabled.iter().map(|t| t.key.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "12060181",
            "12069020",
            "12069402",
            "12069448",
            "12069474",
            "12069485",
            "120695910"
        ]
    );
    let all = app
        .list_tenants(&TenantFilter {
            land: Some("12".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.iter().filter(|t| !t.kind.is_administration()).count(),
        417
    );
    assert_eq!(
        app.operator_name().await.unwrap().as_deref(),
        Some("Zweckverband Digitale Kommunen Brandenburg")
    );

    let audit_before = app
        .store
        .installation_audit_entries(None, 10_000)
        .await
        .unwrap()
        .len();
    let again = app.seed_demo().await.unwrap();
    assert_eq!(again.imported, 0);
    assert!(
        again.enabled.is_empty() && again.profiles_set.is_empty(),
        "{again:?}"
    );
    // A second run records only the (unchanged) import.
    assert_eq!(
        app.store
            .installation_audit_entries(None, 10_000)
            .await
            .unwrap()
            .len(),
        audit_before + 1
    );
    assert_eq!(
        app.verify_audit().await.unwrap(),
        AuditVerdict::Intact {
            entries: audit_before as u64 + 1
        }
    );

    // Members of the Amt show the Amt's contact data.
    let niemegk = app.public_tenant("niemegk").await.unwrap();
    let profile = app.effective_profile(&niemegk).await.unwrap();
    assert_eq!(
        profile.address.first().map(String::as_str),
        Some("Amt Niemegk")
    );
}

async fn enabling_is_audited_and_unknown_keys_are_bad_input(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let (cottbus, changed) = app
        .set_tenant_enabled(&Actor::Cli, "12052000", true)
        .await
        .unwrap();
    assert!(changed && cottbus.enabled);
    let last = &app
        .store
        .audit_entries(&["12052000".into()], None, 1)
        .await
        .unwrap()[0];
    assert_eq!(
        (
            last.actor.as_str(),
            last.action.as_str(),
            last.object.as_str()
        ),
        ("cli", "tenant.enable", "tenant:12052000")
    );
    assert!(app.public_tenant(&cottbus.slug.to_string()).await.is_ok());
    app.set_tenant_enabled(&Actor::Cli, "12052000", false)
        .await
        .unwrap();
    assert!(matches!(
        app.public_tenant(&cottbus.slug.to_string()).await,
        Err(AppError::NotFound(_))
    ));

    assert!(matches!(
        app.set_tenant_enabled(&Actor::Cli, "99999999", true).await,
        Err(AppError::NotFound(_))
    ));
    assert!(matches!(
        app.set_tenant_enabled(&Actor::Cli, "1234", true).await,
        Err(AppError::BadInput(_))
    ));
}

async fn malformed_register_imports_nothing(b: TestBackend) {
    let Some(t) = rathaus_app::testing::test_app(b, 2).await else {
        return;
    };
    let app = &t.app;
    let mut bad = rathaus_app::demo::BRANDENBURG_GV.to_vec();
    bad.extend_from_slice(
        b"60,64,12,0,69,5910,4x5,Kaputt, 1.0, 1, 1, 0, 1,14823,\"1\",\"1\",A11,X,03,y\n",
    );
    let err = app
        .import_gv(&Actor::Cli, &bad, "test.csv")
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::BadInput(_)));
    assert!(err.to_string().contains("line 633"), "{err}");
    assert_eq!(app.store.count_tenants().await.unwrap(), (0, 0));
}

/// The demo's staff credentials derive from the master key: after a rotation the banner must not
/// offer credentials the accounts no longer have, but say how to set new ones.
async fn demo_staff_after_a_key_rotation_are_marked_not_current(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let before = app.seed_demo_staff().await.unwrap();
    assert_eq!(before.len(), 7);
    assert!(before.iter().all(|d| d.current && d.account_id.is_some()));
    app.rotate_master_key(&Actor::Cli).await.unwrap();
    let after = app.seed_demo_staff().await.unwrap();
    assert!(after.iter().all(|d| !d.current), "{after:?}");
    for (a, b) in before.iter().zip(&after) {
        assert_eq!(
            a.account_id, b.account_id,
            "the accounts are kept, not created anew"
        );
        assert_ne!(a.password, b.password);
    }
}

contract_tests!(
    demo_staff_after_a_key_rotation_are_marked_not_current,
    demo_seeds_pilots_and_is_idempotent,
    enabling_is_audited_and_unknown_keys_are_bad_input,
    malformed_register_imports_nothing,
);
