//! Application services: the use cases of rathaus, called alike by the web layer and the CLI.
//!
//! An [`App`] bundles the store with the injected clock and randomness. Every use case that
//! changes state writes its audit entry in the same transaction as the change.

pub mod audit_checkpoints;
pub mod breach_scope;
pub mod citizen;
pub mod clamd;
pub mod clock;
pub mod computed;
pub mod config;
pub mod demo;
mod documents;
pub mod dogtax;
pub mod error;
mod files;
pub mod installation;
pub mod mail;
pub mod office;
pub mod places;
pub mod problem;
pub mod services;
pub mod staff;
pub mod submission;
pub mod tenants;
pub mod testing;
pub mod uploads;

use std::sync::Arc;

use rathaus_crypto::random::RandomSource;
use rathaus_store::Store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Config;
pub use error::AppError;

/// Who acts: written into the audit log. Never a name or e-mail address, only an account id or a
/// role of the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The command line of the installation (the operator at the console).
    Cli,
    /// The platform itself (background jobs, demo seeding).
    System,
    /// A member of the public without an account.
    Citizen,
    /// A staff account.
    Staff(String),
}

impl Actor {
    pub fn audit_name(&self) -> String {
        match self {
            Actor::Cli => "cli".into(),
            Actor::System => "system".into(),
            Actor::Citizen => "citizen".into(),
            Actor::Staff(id) => format!("staff:{id}"),
        }
    }
}

#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn RandomSource>,
    pub config: Arc<Config>,
    pub definitions: Arc<services::DefinitionCache>,
    /// Wakes the e-mail worker after a commit that queued mail.
    pub mail: mail::MailWaker,
    /// Uploads read into memory for checking at the same time (see [`uploads`]).
    pub upload_checks: Arc<tokio::sync::Semaphore>,
}

impl App {
    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }
}
