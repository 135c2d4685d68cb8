//! The dog-tax statute (Hundesteuersatzung) as the tenant admin keeps it: a form of plain fields
//! that becomes the statute file the engine reads, so nobody has to write JSON.

use rathaus_domain::dogtax::Statute;
use rathaus_domain::staff::StaffIdentity;
use rathaus_domain::tenant::Tenant;
use serde_json::{Value, json};

use super::actor;
use crate::{App, AppError};

/// The form as posted: amounts with comma or point, lists one entry per line.
#[derive(Debug, Clone, Default)]
pub struct StatuteForm {
    pub valid_from: String,
    pub rate_model: String,
    pub rates: String,
    pub dangerous_rates: String,
    pub liability_start: String,
    pub installments: String,
    /// "code | Bezeichnung | Monate" per line; months empty for unlimited.
    pub exemptions: String,
    /// "code | Bezeichnung | Prozent" per line.
    pub reductions: String,
    pub replacement_tag_fee: String,
}

fn amount(raw: &str) -> String {
    raw.trim().replace(' ', "").replace(',', ".")
}

fn amounts(raw: &str) -> Vec<Value> {
    raw.split([';', '\n'])
        .map(amount)
        .filter(|s| !s.is_empty())
        .map(Value::String)
        .collect()
}

fn money(v: &rust_decimal::Decimal) -> String {
    format!("{v:.2}").replace('.', ",")
}

impl StatuteForm {
    /// The form filled with a statute (to start a new version from the current one).
    pub fn from_statute(s: &Statute) -> StatuteForm {
        let list =
            |xs: &[rust_decimal::Decimal]| xs.iter().map(money).collect::<Vec<_>>().join("; ");
        let v = s.to_value();
        let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        StatuteForm {
            valid_from: s.valid_from().to_string(),
            rate_model: text("rate_model"),
            rates: list(s.rates()),
            dangerous_rates: list(s.dangerous_rates()),
            liability_start: text("liability_start"),
            installments: text("installments"),
            exemptions: s
                .exemptions()
                .iter()
                .map(|e| {
                    format!(
                        "{} | {} | {}",
                        e.code(),
                        e.label(),
                        e.months().map(|m| m.to_string()).unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
            reductions: s
                .reductions()
                .iter()
                .map(|r| format!("{} | {} | {}", r.code(), r.label(), r.percent()))
                .collect::<Vec<_>>()
                .join("\n"),
            replacement_tag_fee: money(&s.replacement_tag_fee()),
        }
    }

    /// The statute file, or the line that could not be read.
    pub fn to_json(&self) -> Result<Value, String> {
        let mut exemptions = Vec::new();
        for (i, line) in self
            .exemptions
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .enumerate()
        {
            let parts: Vec<&str> = line.split('|').map(str::trim).collect();
            let [code, label, months] = parts.as_slice() else {
                return Err(format!(
                    "Befreiungen, Zeile {}: erwartet „Kürzel | Bezeichnung | Monate“",
                    i + 1
                ));
            };
            let months: Value = if months.is_empty() {
                Value::Null
            } else {
                months.parse::<u32>().map(Value::from).map_err(|_| {
                    format!(
                        "Befreiungen, Zeile {}: Monate als ganze Zahl oder leer",
                        i + 1
                    )
                })?
            };
            exemptions.push(json!({"code": code, "label": label, "months": months}));
        }
        let mut reductions = Vec::new();
        for (i, line) in self
            .reductions
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .enumerate()
        {
            let parts: Vec<&str> = line.split('|').map(str::trim).collect();
            let [code, label, percent] = parts.as_slice() else {
                return Err(format!(
                    "Ermäßigungen, Zeile {}: erwartet „Kürzel | Bezeichnung | Prozent“",
                    i + 1
                ));
            };
            let percent: u32 = percent
                .parse()
                .map_err(|_| format!("Ermäßigungen, Zeile {}: Prozent als ganze Zahl", i + 1))?;
            reductions.push(json!({"code": code, "label": label, "percent": percent}));
        }
        Ok(json!({
            "valid_from": self.valid_from.trim(),
            "rate_model": self.rate_model.trim(),
            "rates": amounts(&self.rates),
            "dangerous_rates": amounts(&self.dangerous_rates),
            "liability_start": self.liability_start.trim(),
            "installments": self.installments.trim(),
            "exemptions": exemptions,
            "reductions": reductions,
            "replacement_tag_fee": amount(&self.replacement_tag_fee),
        }))
    }
}

impl App {
    /// The statute versions of a municipality, newest first.
    pub async fn statute_versions(&self, tenant: &Tenant) -> Result<Vec<Statute>, AppError> {
        let mut v: Vec<Statute> = self.dogtax_statutes(tenant).await?.versions().to_vec();
        v.reverse();
        Ok(v)
    }

    /// Adds a statute version from the form. `Ok(Err(message))` for input the engine refuses.
    pub async fn save_statute(
        &self,
        who: &StaffIdentity,
        tenant: &Tenant,
        form: &StatuteForm,
    ) -> Result<Result<(), String>, AppError> {
        if tenant.kind.is_administration() {
            return Ok(Err(
                "Hundesteuersatzungen haben die amtsangehörigen Gemeinden, nicht das Amt selbst."
                    .into(),
            ));
        }
        let json = match form.to_json() {
            Ok(j) => j,
            Err(m) => return Ok(Err(m)),
        };
        match self
            .set_dogtax_statute(&actor(who), tenant.key.as_str(), &json.to_string())
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(AppError::BadInput(m)) => Ok(Err(m)),
            Err(e) => Err(e),
        }
    }
}

/// One line about a statute version for the list of versions.
pub fn describe(s: &Statute) -> String {
    let list = |xs: &[rust_decimal::Decimal]| {
        xs.iter()
            .map(|d| format!("{} €", money(d)))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    format!(
        "Sätze {}; gefährliche Hunde {}; {} Befreiungen, {} Ermäßigungen",
        list(s.rates()),
        list(s.dangerous_rates()),
        s.exemptions().len(),
        s.reductions().len()
    )
}
