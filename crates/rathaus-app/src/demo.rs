//! The demo installation: the Brandenburg register, the three pilots enabled, example contact data.
//! Seeding is idempotent: running it again changes nothing that is already there, and never
//! overwrites what an administrator has edited since.

use rathaus_domain::tenant::{BankAccount, TenantKey, TenantProfile};
use rathaus_store::audit::{NewAuditEntry, append};

use crate::{Actor, App, AppError};

/// The official register extract for Brandenburg (Destatis GV-ISys, dl-de/by-2-0), shipped with
/// the binary so that the demo needs no file.
pub const BRANDENBURG_GV: &[u8] = include_bytes!("../../../refdata/gv-brandenburg.csv");

pub const OPERATOR_NAME: &str = "Zweckverband Digitale Kommunen Brandenburg";

/// The pilot tenants: Panketal, Bad Belzig, Amt Niemegk and its four members.
pub const PILOTS: [&str; 7] = [
    "12060181",
    "12069020",
    "120695910",
    "12069448",
    "12069402",
    "12069474",
    "12069485",
];

struct DemoProfile {
    key: &'static str,
    address: &'static [&'static str],
    email: &'static str,
    website: &'static str,
    hours: &'static [&'static str],
    holder: &'static str,
    iban: &'static str,
    bank: &'static str,
}

// Example values, marked as such in the product: the addresses of the town halls, but
// placeholder e-mail domains and well-known test IBANs, so nothing reaches a real inbox or account.
const PROFILES: [DemoProfile; 3] = [
    DemoProfile {
        key: "12060181",
        address: &[
            "Gemeinde Panketal",
            "Schönerlinder Straße 47",
            "16341 Panketal",
        ],
        email: "buergerservice@panketal.example",
        website: "https://www.panketal.de",
        hours: &[
            "Dienstag 9–12 und 13–18 Uhr",
            "Donnerstag 9–12 und 13–16 Uhr",
            "Freitag 9–12 Uhr",
        ],
        holder: "Gemeinde Panketal",
        iban: "DE02120300000000202051",
        bank: "Beispielbank Barnim",
    },
    DemoProfile {
        key: "12069020",
        address: &[
            "Stadt Bad Belzig",
            "Wiesenburger Straße 6",
            "14806 Bad Belzig",
        ],
        email: "buergerbuero@bad-belzig.example",
        website: "https://www.bad-belzig.de",
        hours: &[
            "Montag 9–12 Uhr",
            "Dienstag 9–12 und 13–18 Uhr",
            "Donnerstag 9–12 und 13–16 Uhr",
        ],
        holder: "Stadt Bad Belzig",
        iban: "DE89370400440532013000",
        bank: "Beispielbank Fläming",
    },
    DemoProfile {
        key: "120695910",
        address: &["Amt Niemegk", "Großstraße 6", "14823 Niemegk"],
        email: "amt@amt-niemegk.example",
        website: "https://www.amt-niemegk.de",
        hours: &[
            "Dienstag 9–12 und 13–18 Uhr",
            "Donnerstag 9–12 und 13–15 Uhr",
        ],
        holder: "Amt Niemegk",
        iban: "DE12500105170648489890",
        bank: "Beispielbank Hoher Fläming",
    },
];

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DemoReport {
    pub imported: u64,
    pub enabled: Vec<String>,
    pub profiles_set: Vec<String>,
    pub offers_set: Vec<String>,
    /// The demo staff accounts with their credentials (derived from the master key).
    pub staff: Vec<crate::staff::demo::DemoStaff>,
}

impl App {
    pub async fn seed_demo(&self) -> Result<DemoReport, AppError> {
        let actor = Actor::System;
        let mut report = DemoReport::default();
        let import = self
            .import_gv(&actor, BRANDENBURG_GV, "Brandenburg register")
            .await?;
        report.imported = import.counts.inserted;

        let mut tx = self.store.begin().await?;
        let changed = tx
            .execute(
                "INSERT INTO installation (key, value) VALUES ('operator_name', $1) ON CONFLICT (key) DO NOTHING",
                rathaus_store::args![OPERATOR_NAME],
            )
            .await?;
        if changed > 0 {
            append(
                &mut tx,
                &NewAuditEntry {
                    at: self.now(),
                    actor: "system",
                    tenant: None,
                    action: "installation.operator",
                    object: "installation",
                    outcome: "ok",
                },
            )
            .await?;
        }
        tx.commit().await?;

        for key in PILOTS {
            let (tenant, changed) = self.set_tenant_enabled(&actor, key, true).await?;
            if changed {
                report.enabled.push(tenant.title());
            }
        }
        for p in PROFILES {
            let key: TenantKey = p
                .key
                .parse()
                .map_err(|e| AppError::Internal(format!("{e}")))?;
            let Some(tenant) = self.store.tenant(&key).await? else {
                continue;
            };
            if tenant.profile.address.is_empty() {
                let profile = TenantProfile {
                    address: p.address.iter().map(|s| s.to_string()).collect(),
                    postcode: tenant.profile.postcode.clone(),
                    phone: None,
                    email: Some(p.email.into()),
                    website: Some(p.website.into()),
                    office_hours: p.hours.iter().map(|s| s.to_string()).collect(),
                    bank: Some(BankAccount {
                        holder: p.holder.into(),
                        iban: p.iban.into(),
                        bic: None,
                        bank_name: Some(p.bank.into()),
                    }),
                    creditor_id: Some("DE98ZZZ09999999999".into()),
                    example_data: true,
                    signature: vec![
                        "Im Auftrag".into(),
                        String::new(),
                        format!("Sachbearbeitung {}", p.holder),
                    ],
                    logo_blob: None,
                };
                self.set_tenant_profile(&actor, &key, &profile).await?;
                report.profiles_set.push(tenant.title());
            }
        }
        // The defect report is offered by every pilot municipality (the Amt itself offers
        // nothing: its members' statutes apply).
        for key in PILOTS.iter().filter(|k| k.len() == 8) {
            let tenant = crate::tenants::resolve(self, key).await?;
            if self
                .set_service_offered(&actor, &tenant, "maengelmelder", true)
                .await?
            {
                report
                    .offers_set
                    .push(format!("{}: maengelmelder", tenant.title()));
            }
        }
        report.staff = self.seed_demo_staff().await?;
        // Dog tax: the pilots' statutes (example values where none are published) and services.
        self.seed_demo_dogtax(&mut report).await?;
        Ok(report)
    }

    /// The operator's name shown on the platform, if set.
    pub async fn operator_name(&self) -> Result<Option<String>, AppError> {
        let row = self.store.installation_value("operator_name").await?;
        Ok(row)
    }
}
