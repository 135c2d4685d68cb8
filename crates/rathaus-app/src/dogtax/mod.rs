//! Hundesteuer end to end: each municipality's Satzung versions, quotes for the API and the CLI,
//! the citizen services' previews, the register (Hundesteuerregister) kept from approved
//! applications, the notices (Bescheide), the annual assessment and the treasury's export.
//!
//! The calculation itself is the pure engine in `rathaus_domain::dogtax`; this module feeds it from
//! the store and turns its results into register entries and documents.

mod assess;
mod export;
mod facts;
mod import;
mod notice;
mod preview;
mod printing;
mod register;
mod schedule;
mod seed;
mod statutes;

pub use assess::{AssessReport, Progress, Quiet};
pub use export::{EarlierExport, ExportReport, RefusedDebit, validate_pain008_shape};
pub use facts::{DogFacts, HolderFacts, PaymentFacts, mandate_reference};
pub use import::{ImportReport, RegisterSource};
pub(crate) use notice::masked_iban;
pub use notice::{NoticeContent, NoticeDog, NoticeKind};
pub use printing::PrintReport;
pub use statutes::{QuoteError, StatuteSet};
/// Calendar dates of the dog-tax interfaces (due dates, dates of issue).
pub use time::Date;

/// The service ids of the three dog-tax services shipped in `services/`.
pub const REGISTRATION: &str = "hundesteuer-anmeldung";
pub const DEREGISTRATION: &str = "hundesteuer-abmeldung";
pub const REPLACEMENT_TAG: &str = "hundesteuer-ersatzmarke";

/// The document a decision produces: the notice to send to the citizen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionDocument {
    /// e.g. "Hundesteuerbescheid 2026".
    pub title: String,
    pub pdf: Vec<u8>,
    /// One line for the case history; numbers and amounts only, no names.
    pub summary: String,
}

/// The problem document for a failed quote: 404 for an unknown municipality, 422 naming every
/// field otherwise; `None` for failures that are not the caller's (database down and the like).
pub fn quote_problem(e: &QuoteError) -> Option<serde_json::Value> {
    match e {
        QuoteError::NotFound(m) => Some(crate::problem::problem(404, m)),
        QuoteError::Invalid(errors) => Some(crate::problem::invalid(errors)),
        QuoteError::Failed(_) => None,
    }
}

/// A request body that is not JSON at all, as a problem naming the whole request.
pub fn not_json_problem() -> serde_json::Value {
    crate::problem::invalid(&[crate::problem::not_json()])
}
