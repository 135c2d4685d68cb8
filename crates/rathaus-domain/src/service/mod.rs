//! The declarative service engine: definitions, conditions, forms and the way through a service.

pub mod condition;
pub mod definition;
pub mod flow;
pub mod form;
pub mod text;
pub mod whole;

pub use condition::Condition;
pub use definition::{Access, Choice, Field, FieldKind, ServiceDefinition, Step, TrustLevel};
pub use flow::{Position, SummarySection, summary};
pub use form::{Context, FieldError, FormInput, apply_step};
pub use text::{Lang, Text};

#[cfg(test)]
mod tests;
