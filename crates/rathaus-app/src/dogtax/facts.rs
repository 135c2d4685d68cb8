//! What the register keeps about a household and its dogs (sealed in the store), and how the
//! answers of the citizen services map onto it.

use rathaus_domain::dogtax::DogEntry;
use rathaus_domain::service::form::parse_date;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::Date;

use crate::AppError;

/// The person liable for the tax and where the notice goes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HolderFacts {
    pub name: String,
    pub street: String,
    pub postcode: String,
    pub city: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl HolderFacts {
    pub fn address_lines(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.street.clone(),
            format!("{} {}", self.postcode, self.city).trim().to_owned(),
        ]
    }

    /// What two registrations of one household have in common however they were typed:
    /// lower case, letters and digits only, "straße" and "str." alike.
    pub(crate) fn match_key(&self) -> String {
        let norm = |s: &str| -> String {
            s.to_lowercase()
                .replace("straße", "str")
                .replace("strasse", "str")
                .chars()
                .filter(|c| c.is_alphanumeric())
                .collect()
        };
        format!(
            "{}|{}|{}",
            norm(&self.name),
            norm(&self.street),
            norm(&self.postcode)
        )
    }

    /// The [`match_key`](Self::match_key) as a keyed hash bound to the tenant, stored in the clear
    /// next to the sealed holder so that the household is found by an index lookup. `secret` is
    /// the tenant's holder index key, which survives master key rotations.
    pub(crate) fn index(&self, secret: &[u8; 32], tenant_key: &str) -> Result<String, AppError> {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        mac.update(tenant_key.as_bytes());
        mac.update(&[0]);
        mac.update(self.match_key().as_bytes());
        Ok(data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes()[..16]))
    }
}

/// How the household pays.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PaymentFacts {
    /// `debit` (SEPA direct debit) or `transfer`.
    pub method: String,
    pub iban: Option<String>,
    pub account_holder: Option<String>,
    pub mandate_reference: Option<String>,
    /// The day the mandate was given (the day the application was submitted).
    pub mandate_date: Option<String>,
}

impl PaymentFacts {
    pub fn transfer() -> PaymentFacts {
        PaymentFacts {
            method: "transfer".into(),
            ..PaymentFacts::default()
        }
    }

    pub fn is_debit(&self) -> bool {
        self.method == "debit" && self.iban.is_some() && self.mandate_reference.is_some()
    }
}

/// A decision of the public-order office that the dog is dangerous (HundehV Brandenburg): the
/// only way a dog counts as dangerous, never its breed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DangerDecision {
    pub date: String,
    pub file_number: String,
}

/// Everything the register knows about one dog. Dates are `YYYY-MM-DD`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DogFacts {
    pub name: String,
    pub breed: Option<String>,
    pub birth_date: Option<String>,
    pub kept_from: String,
    pub kept_until: Option<String>,
    pub microchip: Option<String>,
    pub previous_holder: Option<String>,
    pub keeping_address: Option<String>,
    pub dangerous: Option<DangerDecision>,
    pub exemption: Option<String>,
    pub reduction: Option<String>,
    /// Why the keeping ended: died, given_away, moved, lost.
    pub end_reason: Option<String>,
    pub new_holder: Option<String>,
}

impl DogFacts {
    pub fn kept_from_date(&self) -> Result<Date, AppError> {
        parse_date(&self.kept_from).ok_or_else(|| {
            AppError::Internal("a register entry has no valid date of taking in".into())
        })
    }

    pub fn kept_until_date(&self) -> Option<Date> {
        self.kept_until.as_deref().and_then(parse_date)
    }

    /// The dog as the statute engine sees it.
    pub fn entry(&self) -> Result<DogEntry, AppError> {
        Ok(DogEntry {
            name: self.name.clone(),
            kept_from: self.kept_from_date()?,
            kept_until: self.kept_until_date(),
            dangerous: self.dangerous.is_some(),
            exemption: self.exemption.clone(),
            reduction: self.reduction.clone(),
        })
    }
}

pub(crate) fn text(data: &Value, key: &str) -> Option<String> {
    data.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

pub(crate) fn flag(data: &Value, key: &str) -> bool {
    data.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// The statute's code behind the "reason" choice of the registration: `exemption:<code>` or
/// `reduction:<code>` (the options come from the municipality's statute, see
/// `App::sync_dogtax_reasons`).
pub(crate) fn reason_codes(reason: Option<&str>) -> (Option<String>, Option<String>) {
    match reason.and_then(|r| r.split_once(':')) {
        Some(("exemption", code)) => (Some(code.to_owned()), None),
        Some(("reduction", code)) => (None, Some(code.to_owned())),
        _ => (None, None),
    }
}

/// The holder as entered in any of the three services.
pub(crate) fn holder_from(data: &Value) -> HolderFacts {
    HolderFacts {
        name: text(data, "holder_name").unwrap_or_default(),
        street: text(data, "street").unwrap_or_default(),
        postcode: text(data, "postcode").unwrap_or_default(),
        city: text(data, "city").unwrap_or_default(),
        email: text(data, "email"),
        phone: text(data, "phone"),
    }
}

/// One dog of the registration's repeated step.
pub(crate) fn dog_from(item: &Value) -> DogFacts {
    let (exemption, reduction) = reason_codes(text(item, "reason").as_deref());
    let dangerous = flag(item, "dangerous").then(|| DangerDecision {
        date: text(item, "dangerous_date").unwrap_or_default(),
        file_number: text(item, "dangerous_file").unwrap_or_default(),
    });
    DogFacts {
        name: text(item, "dog_name").unwrap_or_default(),
        breed: text(item, "breed"),
        birth_date: text(item, "birth_date"),
        kept_from: text(item, "kept_from").unwrap_or_default(),
        kept_until: None,
        microchip: text(item, "microchip"),
        previous_holder: text(item, "previous_holder"),
        keeping_address: flag(item, "keeping_address_differs")
            .then(|| text(item, "keeping_address"))
            .flatten(),
        dangerous,
        exemption,
        reduction,
        end_reason: None,
        new_holder: None,
    }
}

/// The dogs of a registration, as entered.
pub(crate) fn dogs_from(data: &Value) -> Vec<DogFacts> {
    data.get("dogs")
        .and_then(Value::as_array)
        .map(|items| items.iter().map(dog_from).collect())
        .unwrap_or_default()
}

/// The payment chosen in a registration; `mandate_reference` is the one shown before submitting.
pub(crate) fn payment_from(
    data: &Value,
    mandate_reference: &str,
    mandate_date: Date,
) -> PaymentFacts {
    if text(data, "payment_method").as_deref() == Some("debit") {
        PaymentFacts {
            method: "debit".into(),
            iban: text(data, "iban"),
            account_holder: text(data, "account_holder").or_else(|| text(data, "holder_name")),
            mandate_reference: Some(mandate_reference.to_owned()),
            mandate_date: Some(mandate_date.to_string()),
        }
    } else {
        PaymentFacts::transfer()
    }
}

/// The SEPA mandate reference of a registration, derived from its draft so that the citizen sees
/// it on the check page, before anything is stored: `HST-<AGS>-` and twelve characters of the
/// draft's random id (base32: A–Z and 2–7, all allowed in mandate references).
pub fn mandate_reference(tenant_key: &str, draft_id: &str) -> String {
    let tail: String = draft_id
        .chars()
        .take(12)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    format!("HST-{tenant_key}-{tail}")
}

/// Lines of a German address: "Musterweg 1, 16341 Panketal" as given in a textarea.
pub(crate) fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(name: &str, street: &str) -> HolderFacts {
        HolderFacts {
            name: name.into(),
            street: street.into(),
            postcode: "16341".into(),
            city: "Panketal".into(),
            ..HolderFacts::default()
        }
    }

    #[test]
    fn the_holder_index_ignores_spelling_and_depends_on_tenant_and_secret() -> Result<(), AppError>
    {
        let a = holder("Lena Müller", "Schönerlinder Straße 12");
        let b = holder("lena  müller", "Schönerlinder Str. 12");
        let secret = [3u8; 32];
        let index = a.index(&secret, "12060181")?;
        assert_eq!(index, b.index(&secret, "12060181")?);
        assert_eq!(index.len(), 32);
        assert!(!index.contains("mueller") && !index.contains("müller"));
        assert_ne!(index, a.index(&secret, "12069020")?, "bound to the tenant");
        assert_ne!(index, a.index(&[4u8; 32], "12060181")?, "keyed");
        assert_ne!(
            index,
            holder("Lena Müller", "Schönerlinder Straße 14").index(&secret, "12060181")?
        );
        Ok(())
    }
}
