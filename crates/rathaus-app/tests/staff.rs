//! Staff accounts as use cases, against both backends: who may create what, audit entries,
//! disabling, links, the demo accounts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rathaus_app::testing::{TestBackend, demo_app};
use rathaus_app::{Actor, AppError};
use rathaus_domain::staff::Role;
use rathaus_store::audit::AuditVerdict;
use rathaus_store::contract_tests;

async fn accounts_are_created_with_links_and_audited(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let belzig = rathaus_app::tenants::resolve(app, "12069020")
        .await
        .unwrap();
    let (who, link) = app
        .add_staff(
            &Actor::Cli,
            Some(&belzig),
            Role::Clerk,
            " Kasse@Bad-Belzig.example ",
            "Kasse Bad Belzig",
            &["hundesteuer-anmeldung".to_owned()],
        )
        .await
        .unwrap();
    assert_eq!(who.tenant_key.as_deref(), Some("12069020"));
    assert_eq!(who.services, vec!["hundesteuer-anmeldung".to_owned()]);
    let link = link.operator_link().expect("the console gets the link");
    assert!(link.starts_with("http://127.0.0.1:8080/verwaltung/einrichten/"));
    let listed = app.list_staff(Some("12069020")).await.unwrap();
    let me = listed.iter().find(|u| u.id == who.user_id).unwrap();
    assert_eq!(me.email, "kasse@bad-belzig.example");
    assert!(!me.enrolled && !me.disabled);
    // The demo's two accounts of Bad Belzig and the new one; the operator's only in the full list.
    assert_eq!(listed.len(), 3);
    assert!(
        app.list_staff(None)
            .await
            .unwrap()
            .iter()
            .any(|u| u.tenant_key.is_none())
    );

    let last = &app
        .store
        .audit_entries(&["12069020".into()], None, 1)
        .await
        .unwrap()[0];
    assert_eq!(
        (
            last.actor.as_str(),
            last.action.as_str(),
            last.object.clone()
        ),
        ("cli", "staff.add", format!("staff:{}", who.user_id))
    );
    assert!(!last.outcome.contains('@'));

    // The same address twice, in any case.
    let e = app
        .add_staff(
            &Actor::Cli,
            Some(&belzig),
            Role::Auditor,
            "KASSE@bad-belzig.example",
            "X",
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::Conflict(_)), "{e}");
    // Operator accounts have no tenant, tenant accounts are not operators.
    assert!(matches!(
        app.add_staff(&Actor::Cli, None, Role::Clerk, "a@dikom.example", "A", &[])
            .await,
        Err(AppError::BadInput(_))
    ));
    assert!(matches!(
        app.add_staff(
            &Actor::Cli,
            Some(&belzig),
            Role::OperatorAdmin,
            "b@dikom.example",
            "B",
            &[]
        )
        .await,
        Err(AppError::BadInput(_))
    ));
    assert!(matches!(
        app.add_staff(
            &Actor::Cli,
            Some(&belzig),
            Role::Clerk,
            "kein-at-zeichen",
            "B",
            &[]
        )
        .await,
        Err(AppError::BadInput(_))
    ));
    let (op, _) = app
        .add_staff(
            &Actor::Cli,
            None,
            Role::OperatorAdmin,
            "zweite@dikom.example",
            "Zweite",
            &[],
        )
        .await
        .unwrap();
    assert!(op.is_operator());
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

async fn staff_may_manage_only_their_own_tenant(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let staff = app.list_staff(None).await.unwrap();
    let id = |email: &str| staff.iter().find(|u| u.email == email).unwrap().id.clone();
    let panketal_admin = Actor::Staff(id("verwaltung@panketal.example"));
    let panketal_clerk = Actor::Staff(id("sachbearbeitung@panketal.example"));
    let operator = Actor::Staff(id("betrieb@dikom.example"));
    let panketal = rathaus_app::tenants::resolve(app, "12060181")
        .await
        .unwrap();
    let belzig = rathaus_app::tenants::resolve(app, "12069020")
        .await
        .unwrap();

    let (new, _) = app
        .add_staff(
            &panketal_admin,
            Some(&panketal),
            Role::Clerk,
            "c@panketal.example",
            "C",
            &[],
        )
        .await
        .unwrap();
    for (actor, tenant) in [(&panketal_admin, &belzig), (&panketal_clerk, &panketal)] {
        assert!(matches!(
            app.add_staff(
                actor,
                Some(tenant),
                Role::Clerk,
                "d@panketal.example",
                "D",
                &[]
            )
            .await,
            Err(AppError::Forbidden(_))
        ));
    }
    assert!(matches!(
        app.set_staff_disabled(
            &panketal_admin,
            &id("sachbearbeitung@bad-belzig.example"),
            true
        )
        .await,
        Err(AppError::Forbidden(_))
    ));
    assert!(
        app.set_staff_disabled(&panketal_admin, &new.user_id, true)
            .await
            .unwrap()
    );
    assert!(
        !app.set_staff_disabled(&operator, &new.user_id, true)
            .await
            .unwrap(),
        "no change"
    );
    let last = &app
        .store
        .audit_entries(&["12060181".into()], None, 1)
        .await
        .unwrap()[0];
    assert_eq!(last.action, "staff.disable");
    assert_eq!(last.actor, panketal_admin.audit_name());
    assert!(app.reset_staff(&operator, &new.user_id).await.is_ok());
    assert!(matches!(
        app.reset_staff(&Actor::Cli, "unbekannt").await,
        Err(AppError::NotFound(_))
    ));
}

async fn demo_staff_are_enrolled_stable_and_idempotent(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let first = app.demo_staff_credentials().await.unwrap();
    assert_eq!(first.len(), 7);
    assert_eq!(
        first
            .iter()
            .filter(|s| s.role == Role::OperatorAdmin)
            .count(),
        1
    );
    for key in ["12060181", "12069020", "120695910"] {
        let roles: Vec<Role> = first
            .iter()
            .filter(|s| s.tenant_key.as_deref() == Some(key))
            .map(|s| s.role)
            .collect();
        assert_eq!(roles, vec![Role::Clerk, Role::TenantAdmin], "{key}");
    }
    let report = app.seed_demo().await.unwrap();
    let credentials = |all: &[rathaus_app::staff::demo::DemoStaff]| {
        all.iter()
            .map(|s| (s.email.clone(), s.password.clone(), s.totp_secret.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        credentials(&report.staff),
        credentials(&first),
        "stable across runs"
    );
    assert!(
        report
            .staff
            .iter()
            .all(|s| s.current && s.account_id.is_some())
    );
    assert!(
        app.list_staff(None)
            .await
            .unwrap()
            .iter()
            .all(|u| u.enrolled)
    );
    let s = &first[0];
    assert!(s.otpauth_uri.starts_with("otpauth://totp/"));
    assert!(s.otpauth_uri.contains(&format!("secret={}", s.totp_secret)));
    assert!(
        rathaus_crypto::password::check_new_password(&s.password, &["rathaus", "panketal"]).is_ok()
    );
    // Sealed at rest: no address in the database's staff rows.
    let rows = app.list_staff(None).await.unwrap();
    assert_eq!(rows.len(), 7);
}

async fn sign_in_use_cases_without_http(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let s = app.demo_staff_credentials().await.unwrap().remove(0);
    let step = app
        .sign_in_password(&s.email, &s.password, None, Some("/verwaltung/x"))
        .await
        .unwrap();
    assert!(
        app.staff_session(&step.token).await.unwrap().is_none(),
        "pending only"
    );
    let signed = app
        .sign_in_code(&step.token, &s.code_at(app.now().unix_timestamp()), None)
        .await
        .unwrap();
    assert_eq!(signed.next, "/verwaltung/x");
    let who = app.staff_session(&signed.token).await.unwrap().unwrap();
    assert_eq!(who.display_name, "Sachbearbeitung Panketal");
    assert_eq!(who.role, Role::Clerk);
    app.sign_out(&signed.token).await.unwrap();
    assert!(app.staff_session(&signed.token).await.unwrap().is_none());
    assert!(app.staff_session("garbage").await.unwrap().is_none());
}

contract_tests!(
    accounts_are_created_with_links_and_audited,
    staff_may_manage_only_their_own_tenant,
    demo_staff_are_enrolled_stable_and_idempotent,
    sign_in_use_cases_without_http,
);
