//! Values the platform computes from a draft for the check page, such as a fee preview. A
//! service definition names them (`computed`: function and label); each function lives with its
//! domain and is registered here by name.

use rathaus_domain::service::Lang;

use crate::citizen::DraftSession;
use crate::{App, AppError};

/// A computed value ready to show: its label and one or more lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputedValue {
    pub label: String,
    pub lines: Vec<String>,
}

impl App {
    /// All computed values of a draft's service.
    pub async fn computed_values(
        &self,
        s: &DraftSession,
        lang: Lang,
    ) -> Result<Vec<ComputedValue>, AppError> {
        let mut out = Vec::new();
        for c in &s.service.definition.computed {
            let lines = self.compute(&c.function, s, lang).await?;
            out.push(ComputedValue {
                label: c.label.get(lang).to_owned(),
                lines,
            });
        }
        Ok(out)
    }

    /// One computed value by function name. A function that cannot compute from the data (e.g.
    /// because the municipality has no statute yet) returns a line saying so rather than an error.
    async fn compute(
        &self,
        function: &str,
        s: &DraftSession,
        lang: Lang,
    ) -> Result<Vec<String>, AppError> {
        match function {
            "dogtax.quote" => self.dogtax_quote_preview(s, lang).await,
            "dogtax.sepa_mandate" => self.dogtax_mandate_preview(s, lang).await,
            "dogtax.deregistration_preview" => self.dogtax_deregistration_preview(s, lang).await,
            "dogtax.replacement_fee" => self.dogtax_fee_preview(s, lang).await,
            _ => Err(AppError::Internal(format!(
                "unknown computed function {function:?} in service {}",
                s.service.definition.id
            ))),
        }
    }
}
