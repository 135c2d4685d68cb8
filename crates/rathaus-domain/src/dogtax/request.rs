//! What a household asks to have assessed, and every reason such a request can be refused.

use std::fmt;
use std::ops::RangeInclusive;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use time::{Date, Month};

use super::assess::is_liable;
use super::dates;
use super::statute::{Statute, StatuteHistory};

/// More dogs than this in one household is a breeder's or a shelter's case, handled by staff.
pub const MAX_DOGS: usize = 50;
/// The years for which the engine gives quotes; outside them a year is almost surely a typo.
pub const YEARS: RangeInclusive<i32> = 2000..=2100;

/// One problem with a request, tied to the field where the citizen can fix it. `field` is a path
/// like `year`, `dogs[0].kept_until`, or empty for the request as a whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    pub message_de: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        message: impl Into<String>,
        message_de: impl Into<String>,
    ) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
            message_de: message_de.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequest {
    pub year: i32,
    /// The day the Bescheid is issued; installments due before it are merged. `None`: today.
    #[serde(
        default,
        with = "dates::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub assessment_date: Option<Date>,
    pub dogs: Vec<DogEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DogEntry {
    pub name: String,
    #[serde(with = "dates")]
    pub kept_from: Date,
    #[serde(default, with = "dates::option")]
    pub kept_until: Option<Date>,
    /// Set only by an individual decision of the public-order office, never derived from a breed.
    #[serde(default, deserialize_with = "null_as_false")]
    pub dangerous: bool,
    #[serde(default)]
    pub exemption: Option<String>,
    #[serde(default)]
    pub reduction: Option<String>,
}

fn null_as_false<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(deserializer)?.unwrap_or(false))
}

impl QuoteRequest {
    /// Reads a request from JSON, reporting every malformed or unknown field with its path instead
    /// of stopping at the first one as serde would. Checks shape only; see [`validate`] for the rules.
    pub fn from_json_value(value: &Value) -> Result<QuoteRequest, Vec<FieldError>> {
        let mut errors = Vec::new();
        let draft = Draft::parse(value, &mut errors);
        match draft.complete() {
            Some(request) if errors.is_empty() => Ok(request),
            _ => Err(errors),
        }
    }
}

/// Every rule a request breaks, all at once so that a form can mark all fields in one round trip.
pub fn validate(history: &StatuteHistory, request: &QuoteRequest) -> Vec<FieldError> {
    let mut errors = Vec::new();
    Draft::from(request).check(history, &mut errors);
    errors
}

/// Shape and rules in one pass over raw JSON, so that a malformed date in one dog and an unknown
/// exemption in another are reported together.
pub(crate) fn parse_and_validate(
    history: &StatuteHistory,
    value: &Value,
) -> Result<QuoteRequest, Vec<FieldError>> {
    let mut errors = Vec::new();
    let draft = Draft::parse(value, &mut errors);
    draft.check(history, &mut errors);
    match draft.complete() {
        Some(request) if errors.is_empty() => Ok(request),
        _ => Err(errors),
    }
}

/// A request as far as it could be read: `None` where a field was missing or malformed (that
/// problem is already reported), so the rules can still run on everything else.
#[derive(Default)]
struct Draft {
    year: Option<i32>,
    assessment_date: Option<Date>,
    dogs: Option<Vec<DraftDog>>,
}

#[derive(Default)]
struct DraftDog {
    name: Option<String>,
    kept_from: Option<Date>,
    kept_until: Option<Date>,
    dangerous: bool,
    exemption: Option<String>,
    reduction: Option<String>,
}

const REQUEST_KEYS: [&str; 3] = ["year", "assessment_date", "dogs"];
const DOG_KEYS: [&str; 6] = [
    "name",
    "kept_from",
    "kept_until",
    "dangerous",
    "exemption",
    "reduction",
];

fn required(field: &str) -> FieldError {
    FieldError::new(
        field,
        "this field is required",
        "Dieses Feld ist erforderlich.",
    )
}

fn bad_date(field: &str) -> FieldError {
    FieldError::new(
        field,
        "must be a date like 2026-03-20",
        "Bitte ein Datum im Format JJJJ-MM-TT angeben, z. B. 2026-03-20.",
    )
}

fn object<'a>(
    value: &'a Value,
    path: &str,
    keys: &[&str],
    errors: &mut Vec<FieldError>,
) -> Option<&'a Map<String, Value>> {
    let Value::Object(fields) = value else {
        let (en, de) = if path.is_empty() {
            (
                "the request must be a JSON object",
                "Die Anfrage muss ein JSON-Objekt sein.",
            )
        } else {
            (
                "must be an object describing one dog",
                "Jeder Hund muss als Objekt angegeben werden.",
            )
        };
        errors.push(FieldError::new(path, en, de));
        return None;
    };
    for key in fields.keys().filter(|k| !keys.contains(&k.as_str())) {
        let field = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        errors.push(FieldError::new(
            field,
            format!("unknown field; allowed are {}", keys.join(", ")),
            format!("Unbekanntes Feld; erlaubt sind {}.", keys.join(", ")),
        ));
    }
    Some(fields)
}

/// Reads an optional date: absent and null both mean "none".
fn optional_date(value: Option<&Value>, field: &str, errors: &mut Vec<FieldError>) -> Option<Date> {
    match value {
        None | Some(Value::Null) => None,
        Some(v) => {
            let date = v.as_str().and_then(dates::parse);
            if date.is_none() {
                errors.push(bad_date(field));
            }
            date
        }
    }
}

fn optional_code(
    value: Option<&Value>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match value {
        None | Some(Value::Null) => None,
        Some(Value::String(code)) => Some(code.clone()),
        Some(_) => {
            errors.push(FieldError::new(
                field,
                "must be a code (text) or null",
                "Bitte einen Code (Text) oder null angeben.",
            ));
            None
        }
    }
}

impl Draft {
    fn parse(value: &Value, errors: &mut Vec<FieldError>) -> Draft {
        let Some(fields) = object(value, "", &REQUEST_KEYS, errors) else {
            return Draft::default();
        };

        let year = match fields.get("year") {
            None | Some(Value::Null) => {
                errors.push(required("year"));
                None
            }
            Some(v) => {
                let year = v.as_i64().and_then(|y| i32::try_from(y).ok());
                if year.is_none() {
                    errors.push(FieldError::new(
                        "year",
                        "must be a whole number, e.g. 2026",
                        "Bitte eine ganze Zahl angeben, z. B. 2026.",
                    ));
                }
                year
            }
        };

        let assessment_date =
            optional_date(fields.get("assessment_date"), "assessment_date", errors);

        let dogs = match fields.get("dogs") {
            None | Some(Value::Null) => {
                errors.push(required("dogs"));
                None
            }
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| DraftDog::parse(item, &format!("dogs[{i}]"), errors))
                    .collect(),
            ),
            Some(_) => {
                errors.push(FieldError::new(
                    "dogs",
                    "must be a list of dogs",
                    "Bitte eine Liste von Hunden angeben.",
                ));
                None
            }
        };

        Draft {
            year,
            assessment_date,
            dogs,
        }
    }

    fn check(&self, history: &StatuteHistory, errors: &mut Vec<FieldError>) {
        let mut year_with_statute = None;
        if let Some(year) = self.year {
            if !YEARS.contains(&year) {
                errors.push(FieldError::new(
                    "year",
                    format!(
                        "the year must lie between {} and {}",
                        YEARS.start(),
                        YEARS.end()
                    ),
                    format!(
                        "Das Jahr muss zwischen {} und {} liegen.",
                        YEARS.start(),
                        YEARS.end()
                    ),
                ));
            } else if history
                .valid_on(first_of_month(year, Month::January))
                .is_none()
            {
                // Versions have no end date, so a year whose 1 January is covered is covered throughout.
                errors.push(FieldError::new(
                    "year",
                    format!("no statute for {year}-01: no Hundesteuersatzung is in force on {year}-01-01"),
                    format!("Für 01/{year} ist keine Hundesteuersatzung hinterlegt (keine gilt am 01.01.{year})."),
                ));
            } else {
                year_with_statute = Some(year);
            }
        }

        let Some(dogs) = &self.dogs else { return };
        if dogs.is_empty() {
            errors.push(FieldError::new(
                "dogs",
                "at least one dog is needed",
                "Bitte mindestens einen Hund angeben.",
            ));
        }
        if dogs.len() > MAX_DOGS {
            errors.push(FieldError::new(
                "dogs",
                format!("at most {MAX_DOGS} dogs per request, got {}", dogs.len()),
                format!(
                    "Höchstens {MAX_DOGS} Hunde je Anfrage, angegeben sind {}.",
                    dogs.len()
                ),
            ));
        }
        for (i, dog) in dogs.iter().enumerate() {
            dog.check(&format!("dogs[{i}]"), history, year_with_statute, errors);
        }
    }

    fn complete(self) -> Option<QuoteRequest> {
        let dogs = self
            .dogs?
            .into_iter()
            .map(DraftDog::complete)
            .collect::<Option<Vec<_>>>()?;
        Some(QuoteRequest {
            year: self.year?,
            assessment_date: self.assessment_date,
            dogs,
        })
    }
}

impl DraftDog {
    fn parse(value: &Value, path: &str, errors: &mut Vec<FieldError>) -> DraftDog {
        let Some(fields) = object(value, path, &DOG_KEYS, errors) else {
            return DraftDog::default();
        };

        let name = match fields.get("name") {
            None | Some(Value::Null) => {
                errors.push(required(&format!("{path}.name")));
                None
            }
            Some(Value::String(name)) => Some(name.clone()),
            Some(_) => {
                errors.push(FieldError::new(
                    format!("{path}.name"),
                    "must be a text",
                    "Bitte einen Text angeben.",
                ));
                None
            }
        };

        let kept_from_field = format!("{path}.kept_from");
        let kept_from = match fields.get("kept_from") {
            None | Some(Value::Null) => {
                errors.push(required(&kept_from_field));
                None
            }
            value => optional_date(value, &kept_from_field, errors),
        };
        let kept_until = optional_date(
            fields.get("kept_until"),
            &format!("{path}.kept_until"),
            errors,
        );

        let dangerous = match fields.get("dangerous") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                errors.push(FieldError::new(
                    format!("{path}.dangerous"),
                    "must be true or false",
                    "Bitte true oder false angeben.",
                ));
                false
            }
        };

        let exemption = optional_code(
            fields.get("exemption"),
            &format!("{path}.exemption"),
            errors,
        );
        let reduction = optional_code(
            fields.get("reduction"),
            &format!("{path}.reduction"),
            errors,
        );

        DraftDog {
            name,
            kept_from,
            kept_until,
            dangerous,
            exemption,
            reduction,
        }
    }

    fn check(
        &self,
        path: &str,
        history: &StatuteHistory,
        year: Option<i32>,
        errors: &mut Vec<FieldError>,
    ) {
        if self.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            errors.push(FieldError::new(
                format!("{path}.name"),
                "the name must not be empty",
                "Bitte einen Namen angeben.",
            ));
        }
        if let (Some(from), Some(until)) = (self.kept_from, self.kept_until)
            && until < from
        {
            errors.push(FieldError::new(
                format!("{path}.kept_until"),
                "the end of keeping lies before its start (kept_from)",
                "Das Ende der Haltung liegt vor ihrem Beginn.",
            ));
        }
        let Some(year) = year else { return };
        let versions = versions_used(history, year, self.kept_from, self.kept_until);
        if let Some(code) = &self.exemption
            && let Some(statute) = versions.iter().find(|s| s.exemption(code).is_none())
        {
            let known: Vec<&str> = statute.exemptions().iter().map(|e| e.code()).collect();
            errors.push(unknown_code(
                &format!("{path}.exemption"),
                code,
                statute,
                &known,
                "exemption",
                "Befreiungsgrund",
            ));
        }
        if let Some(code) = &self.reduction
            && let Some(statute) = versions.iter().find(|s| s.reduction(code).is_none())
        {
            let known: Vec<&str> = statute.reductions().iter().map(|r| r.code()).collect();
            errors.push(unknown_code(
                &format!("{path}.reduction"),
                code,
                statute,
                &known,
                "reduction",
                "Ermäßigungsgrund",
            ));
        }
    }

    fn complete(self) -> Option<DogEntry> {
        Some(DogEntry {
            name: self.name?,
            kept_from: self.kept_from?,
            kept_until: self.kept_until,
            dangerous: self.dangerous,
            exemption: self.exemption,
            reduction: self.reduction,
        })
    }
}

fn unknown_code(
    field: &str,
    code: &str,
    statute: &Statute,
    known: &[&str],
    kind: &str,
    kind_de: &str,
) -> FieldError {
    let (list, list_de) = if known.is_empty() {
        ("none".to_owned(), "keine".to_owned())
    } else {
        (known.join(", "), known.join(", "))
    };
    FieldError::new(
        field,
        format!(
            "unknown {kind} \"{code}\"; the Satzung valid from {} knows: {list}",
            dates::iso(statute.valid_from())
        ),
        format!(
            "Unbekannter {kind_de} „{code}“; die ab {} geltende Satzung kennt: {list_de}.",
            dates::german(statute.valid_from())
        ),
    )
}

pub(crate) fn first_of_month(year: i32, month: Month) -> Date {
    // Day 1 exists in every month of every year `Date` can hold; MIN only answers years beyond it.
    Date::from_calendar_date(year, month, 1).unwrap_or(Date::MIN)
}

/// The versions that govern the months in which the dog is liable this year; its codes must exist
/// in each of them. A dog not liable this year is checked against every version in force.
fn versions_used(
    history: &StatuteHistory,
    year: i32,
    kept_from: Option<Date>,
    kept_until: Option<Date>,
) -> Vec<&Statute> {
    let mut in_force: Vec<&Statute> = Vec::new();
    let mut used: Vec<&Statute> = Vec::new();
    for month in MONTHS {
        let first = first_of_month(year, month);
        let Some(statute) = history.valid_on(first) else {
            continue;
        };
        let is_new = |list: &[&Statute]| {
            list.last()
                .is_none_or(|s| s.valid_from() != statute.valid_from())
        };
        if is_new(&in_force) {
            in_force.push(statute);
        }
        if let Some(from) = kept_from
            && is_liable(
                statute.liability_start(),
                from,
                kept_until,
                dates::month_index(first),
            )
            && is_new(&used)
        {
            used.push(statute);
        }
    }
    if used.is_empty() { in_force } else { used }
}

pub(crate) const MONTHS: [Month; 12] = [
    Month::January,
    Month::February,
    Month::March,
    Month::April,
    Month::May,
    Month::June,
    Month::July,
    Month::August,
    Month::September,
    Month::October,
    Month::November,
    Month::December,
];

impl From<&QuoteRequest> for Draft {
    fn from(request: &QuoteRequest) -> Draft {
        Draft {
            year: Some(request.year),
            assessment_date: request.assessment_date,
            dogs: Some(
                request
                    .dogs
                    .iter()
                    .map(|dog| DraftDog {
                        name: Some(dog.name.clone()),
                        kept_from: Some(dog.kept_from),
                        kept_until: dog.kept_until,
                        dangerous: dog.dangerous,
                        exemption: dog.exemption.clone(),
                        reduction: dog.reduction.clone(),
                    })
                    .collect(),
            ),
        }
    }
}
