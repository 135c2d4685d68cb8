//! The dog-tax part of the demo: statutes from the published rates and the three services offered
//! by every pilot municipality. Idempotent: a municipality that has any statute keeps it.

use rathaus_domain::dogtax::{Statute, demo};

use super::{DEREGISTRATION, REGISTRATION, REPLACEMENT_TAG};
use crate::demo::DemoReport;
use crate::{Actor, App, AppError};

/// The pilot municipalities and their demo statutes. Values not published by a municipality
/// (dangerous-dog rates of Bad Belzig and Niemegk, fees, exemptions) are examples, and the product
/// says so on every preview and notice of the demo.
fn demo_statutes() -> [(&'static str, Statute); 6] {
    [
        ("12060181", demo::panketal()),
        ("12069020", demo::bad_belzig()),
        ("12069448", demo::niemegk()),
        ("12069402", demo::niemegk()),
        ("12069474", demo::niemegk()),
        ("12069485", demo::niemegk()),
    ]
}

impl App {
    pub(crate) async fn seed_demo_dogtax(&self, report: &mut DemoReport) -> Result<(), AppError> {
        let actor = Actor::System;
        for (key, statute) in demo_statutes() {
            let tenant = crate::tenants::resolve(self, key).await?;
            if self.store.dogtax_statutes(key).await?.is_empty() {
                self.store_dogtax_statute(&actor, &tenant, &statute).await?;
                report.offers_set.push(format!(
                    "{}: Hundesteuersatzung (Beispielwerte)",
                    tenant.title()
                ));
            } else {
                self.sync_dogtax_reasons(&actor, &tenant).await?;
            }
            for service in [REGISTRATION, DEREGISTRATION, REPLACEMENT_TAG] {
                if self
                    .set_service_offered(&actor, &tenant, service, true)
                    .await?
                {
                    report
                        .offers_set
                        .push(format!("{}: {service}", tenant.title()));
                }
            }
        }
        Ok(())
    }
}
