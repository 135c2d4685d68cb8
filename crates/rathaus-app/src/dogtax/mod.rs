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
mod register;
mod schedule;
mod seed;
mod statutes;

pub use assess::{AssessReport, Progress, Quiet};
pub use export::{ExportReport, validate_pain008_shape};
pub use facts::{DogFacts, HolderFacts, PaymentFacts, mandate_reference};
pub use import::ImportReport;
pub use notice::{NoticeContent, NoticeDog, NoticeKind};
pub use statutes::{QuoteError, StatuteSet};

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

/// Milliseconds since the epoch, as the store records times.
pub(crate) fn unix_ms(t: time::OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}
