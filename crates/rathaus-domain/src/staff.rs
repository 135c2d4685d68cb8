//! Staff of municipalities and of the operator, and what their roles allow.
//!
//! Checked in the application layer on every request; templates only hide what the application
//! would refuse anyway.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The data centre: all tenants' settings and accounts, never case content.
    OperatorAdmin,
    /// A municipality's (or Amt's) administrator: services, parameters, users, branding.
    TenantAdmin,
    /// Sachbearbeitung: cases of the services assigned to them, in their tenant (an Amt's clerks
    /// work for all its member municipalities).
    Clerk,
    /// Auditor or data-protection officer: the audit log of their tenant, read-only.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::OperatorAdmin,
        Role::TenantAdmin,
        Role::Clerk,
        Role::Auditor,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::OperatorAdmin => "operator_admin",
            Role::TenantAdmin => "tenant_admin",
            Role::Clerk => "clerk",
            Role::Auditor => "auditor",
        }
    }

    pub fn from_code(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == code)
    }

    pub fn label_de(self) -> &'static str {
        match self {
            Role::OperatorAdmin => "Betrieb (Rechenzentrum)",
            Role::TenantAdmin => "Verwaltung der Kommune",
            Role::Clerk => "Sachbearbeitung",
            Role::Auditor => "Revision / Datenschutz",
        }
    }
}

/// Who is signed in, as the application layer sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffIdentity {
    pub user_id: String,
    /// The tenant the account belongs to; `None` for the operator's accounts.
    pub tenant_key: Option<String>,
    pub role: Role,
    pub display_name: String,
    /// For clerks: the services they work on; empty means all services of their tenant.
    pub services: Vec<String>,
}

impl StaffIdentity {
    pub fn is_operator(&self) -> bool {
        self.role == Role::OperatorAdmin && self.tenant_key.is_none()
    }

    /// Whether this clerk works on cases of the given service.
    pub fn handles_service(&self, service_id: &str) -> bool {
        self.role == Role::Clerk
            && (self.services.is_empty() || self.services.iter().any(|s| s == service_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_clerks_are_scoped() {
        for r in Role::ALL {
            assert_eq!(Role::from_code(r.code()), Some(r));
        }
        let clerk = StaffIdentity {
            user_id: "u".into(),
            tenant_key: Some("12060181".into()),
            role: Role::Clerk,
            display_name: "A".into(),
            services: vec!["maengelmelder".into()],
        };
        assert!(clerk.handles_service("maengelmelder"));
        assert!(!clerk.handles_service("hundesteuer-anmeldung"));
        let admin = StaffIdentity {
            role: Role::TenantAdmin,
            services: vec![],
            ..clerk
        };
        assert!(
            !admin.handles_service("maengelmelder"),
            "admins manage, they do not read cases"
        );
    }
}
