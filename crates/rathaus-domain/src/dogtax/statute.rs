//! A Hundesteuersatzung as data, read from a strict JSON file, and the history of its versions.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::Date;

use super::{dates, money};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateModel {
    /// 1st dog, 2nd dog, each further dog: the rate depends on the dog's place in the household.
    ByPosition,
    /// One rate for every dog, chosen by how many dogs the household keeps.
    ByCount,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiabilityStart {
    /// From the first day of the month after the dog was taken in (the usual rule).
    FollowingMonth,
    /// From the first day of the month in which the dog was taken in.
    SameMonth,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallmentSchedule {
    /// Due 15 Feb, 15 May, 15 Aug and 15 Nov, each for its quarter.
    Quarterly,
    /// One payment due 1 July for the whole year.
    Annual,
}

impl RateModel {
    fn code(self) -> &'static str {
        match self {
            RateModel::ByPosition => "by_position",
            RateModel::ByCount => "by_count",
        }
    }
}

impl LiabilityStart {
    fn code(self) -> &'static str {
        match self {
            LiabilityStart::FollowingMonth => "following_month",
            LiabilityStart::SameMonth => "same_month",
        }
    }
}

impl InstallmentSchedule {
    fn code(self) -> &'static str {
        match self {
            InstallmentSchedule::Quarterly => "quarterly",
            InstallmentSchedule::Annual => "annual",
        }
    }
}

/// A reason for which a dog pays no tax (Steuerbefreiung), either for good or for its first months.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exemption {
    code: String,
    label: String,
    months: Option<u32>,
}

impl Exemption {
    pub fn code(&self) -> &str {
        &self.code
    }
    pub fn label(&self) -> &str {
        &self.label
    }
    /// `None`: for as long as the dog is kept; `Some(n)`: for its first `n` liable months.
    pub fn months(&self) -> Option<u32> {
        self.months
    }
}

/// A reason for which a dog pays a reduced rate (Steuerermäßigung).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reduction {
    code: String,
    label: String,
    percent: u8,
}

impl Reduction {
    pub fn code(&self) -> &str {
        &self.code
    }
    pub fn label(&self) -> &str {
        &self.label
    }
    /// How much of the rate is waived, 0 to 100.
    pub fn percent(&self) -> u8 {
        self.percent
    }
}

/// One version of a Hundesteuersatzung. Only [`Statute::from_value`] and the demo statutes create
/// one, so every `Statute` has non-empty rate lists and unique, well-formed codes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct Statute {
    valid_from: Date,
    rate_model: RateModel,
    rates: Vec<Decimal>,
    dangerous_rates: Vec<Decimal>,
    liability_start: LiabilityStart,
    installments: InstallmentSchedule,
    exemptions: Vec<Exemption>,
    reductions: Vec<Reduction>,
    replacement_tag_fee: Decimal,
}

/// Why a statute file was rejected; `key` is the path of the offending key, e.g. `rates[1]` or
/// `exemptions[0].months`, and empty for the file as a whole.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct StatuteError {
    pub key: String,
    pub message: String,
}

impl fmt::Display for StatuteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "statute: {}", self.message)
        } else {
            write!(f, "statute key `{}`: {}", self.key, self.message)
        }
    }
}

fn error(key: impl Into<String>, message: impl Into<String>) -> StatuteError {
    StatuteError {
        key: key.into(),
        message: message.into(),
    }
}

const STATUTE_KEYS: [&str; 9] = [
    "valid_from",
    "rate_model",
    "rates",
    "dangerous_rates",
    "liability_start",
    "installments",
    "exemptions",
    "reductions",
    "replacement_tag_fee",
];
const EXEMPTION_KEYS: [&str; 3] = ["code", "label", "months"];
const REDUCTION_KEYS: [&str; 3] = ["code", "label", "percent"];

impl Statute {
    /// Reads a statute file; the first problem found is reported, naming its key.
    pub fn from_json(text: &str) -> Result<Statute, StatuteError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| error("", format!("not valid JSON: {e}")))?;
        Statute::from_value(&value)
    }

    pub fn from_value(value: &Value) -> Result<Statute, StatuteError> {
        let fields = strict_object(value, "", &STATUTE_KEYS)?;
        let field = |key: &str| fields.get(key).unwrap_or(&Value::Null);

        let valid_from = date(field("valid_from"), "valid_from")?;
        let rate_model = choice(
            field("rate_model"),
            "rate_model",
            &[
                ("by_position", RateModel::ByPosition),
                ("by_count", RateModel::ByCount),
            ],
        )?;
        let rates = amounts(field("rates"), "rates")?;
        let dangerous_rates = amounts(field("dangerous_rates"), "dangerous_rates")?;
        let liability_start = choice(
            field("liability_start"),
            "liability_start",
            &[
                ("following_month", LiabilityStart::FollowingMonth),
                ("same_month", LiabilityStart::SameMonth),
            ],
        )?;
        let installments = choice(
            field("installments"),
            "installments",
            &[
                ("quarterly", InstallmentSchedule::Quarterly),
                ("annual", InstallmentSchedule::Annual),
            ],
        )?;

        let mut exemptions = Vec::new();
        let mut seen = HashMap::new();
        for (i, item) in array(field("exemptions"), "exemptions")?.iter().enumerate() {
            let path = format!("exemptions[{i}]");
            let entry = strict_object(item, &path, &EXEMPTION_KEYS)?;
            let code = code(entry.get("code"), &format!("{path}.code"), &mut seen, &path)?;
            let label = label(entry.get("label"), &format!("{path}.label"))?;
            let months_key = format!("{path}.months");
            let months = match entry.get("months") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => match n.as_u64().and_then(|m| u32::try_from(m).ok()) {
                    Some(m) if m >= 1 => Some(m),
                    _ => {
                        return Err(error(
                            months_key,
                            "must be null (for as long as the dog is kept) or a whole number of months, at least 1",
                        ));
                    }
                },
                Some(_) => {
                    return Err(error(
                        months_key,
                        "must be null (for as long as the dog is kept) or a whole number of months, at least 1",
                    ));
                }
            };
            exemptions.push(Exemption {
                code,
                label,
                months,
            });
        }

        let mut reductions = Vec::new();
        let mut seen = HashMap::new();
        for (i, item) in array(field("reductions"), "reductions")?.iter().enumerate() {
            let path = format!("reductions[{i}]");
            let entry = strict_object(item, &path, &REDUCTION_KEYS)?;
            let code = code(entry.get("code"), &format!("{path}.code"), &mut seen, &path)?;
            let label = label(entry.get("label"), &format!("{path}.label"))?;
            let percent = entry
                .get("percent")
                .and_then(Value::as_u64)
                .filter(|p| *p <= 100)
                .and_then(|p| u8::try_from(p).ok())
                .ok_or_else(|| {
                    error(
                        format!("{path}.percent"),
                        "must be a whole number from 0 to 100",
                    )
                })?;
            reductions.push(Reduction {
                code,
                label,
                percent,
            });
        }

        let replacement_tag_fee = amount(field("replacement_tag_fee"), "replacement_tag_fee")?;

        Ok(Statute {
            valid_from,
            rate_model,
            rates,
            dangerous_rates,
            liability_start,
            installments,
            exemptions,
            reductions,
            replacement_tag_fee,
        })
    }

    /// The statute in its file format; `Statute::from_value(&s.to_value()) == Ok(s)`.
    pub fn to_value(&self) -> Value {
        let amounts = |list: &[Decimal]| {
            list.iter()
                .map(|a| Value::String(money::format(*a)))
                .collect::<Vec<_>>()
        };
        json!({
            "valid_from": dates::iso(self.valid_from),
            "rate_model": self.rate_model.code(),
            "rates": amounts(&self.rates),
            "dangerous_rates": amounts(&self.dangerous_rates),
            "liability_start": self.liability_start.code(),
            "installments": self.installments.code(),
            "exemptions": self.exemptions.iter().map(|e| json!({"code": e.code, "label": e.label, "months": e.months})).collect::<Vec<_>>(),
            "reductions": self.reductions.iter().map(|r| json!({"code": r.code, "label": r.label, "percent": r.percent})).collect::<Vec<_>>(),
            "replacement_tag_fee": money::format(self.replacement_tag_fee),
        })
    }

    pub fn valid_from(&self) -> Date {
        self.valid_from
    }
    pub fn rate_model(&self) -> RateModel {
        self.rate_model
    }
    /// By position: 1st, 2nd, …, the last entry for each further dog. By count: the rate for every
    /// dog when the household keeps 1, 2, … dogs, the last entry for larger counts.
    pub fn rates(&self) -> &[Decimal] {
        &self.rates
    }
    /// 1st dangerous dog, …, the last entry for each further one.
    pub fn dangerous_rates(&self) -> &[Decimal] {
        &self.dangerous_rates
    }
    pub fn liability_start(&self) -> LiabilityStart {
        self.liability_start
    }
    pub fn installments(&self) -> InstallmentSchedule {
        self.installments
    }
    pub fn exemptions(&self) -> &[Exemption] {
        &self.exemptions
    }
    pub fn reductions(&self) -> &[Reduction] {
        &self.reductions
    }
    pub fn replacement_tag_fee(&self) -> Decimal {
        self.replacement_tag_fee
    }
    pub fn exemption(&self, code: &str) -> Option<&Exemption> {
        self.exemptions.iter().find(|e| e.code == code)
    }
    pub fn reduction(&self, code: &str) -> Option<&Reduction> {
        self.reductions.iter().find(|r| r.code == code)
    }

    /// For the demo statutes, whose literal values are known to be valid.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_parts(
        valid_from: Date,
        rate_model: RateModel,
        rates: Vec<Decimal>,
        dangerous_rates: Vec<Decimal>,
        liability_start: LiabilityStart,
        installments: InstallmentSchedule,
        exemptions: &[(&str, &str, Option<u32>)],
        reductions: &[(&str, &str, u8)],
        replacement_tag_fee: Decimal,
    ) -> Statute {
        Statute {
            valid_from,
            rate_model,
            rates,
            dangerous_rates,
            liability_start,
            installments,
            exemptions: exemptions
                .iter()
                .map(|(code, label, months)| Exemption {
                    code: (*code).into(),
                    label: (*label).into(),
                    months: *months,
                })
                .collect(),
            reductions: reductions
                .iter()
                .map(|(code, label, percent)| Reduction {
                    code: (*code).into(),
                    label: (*label).into(),
                    percent: *percent,
                })
                .collect(),
            replacement_tag_fee,
        }
    }
}

impl TryFrom<Value> for Statute {
    type Error = StatuteError;
    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Statute::from_value(&value)
    }
}

impl From<Statute> for Value {
    fn from(statute: Statute) -> Value {
        statute.to_value()
    }
}

impl FromStr for Statute {
    type Err = StatuteError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Statute::from_json(text)
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn strict_object<'a>(
    value: &'a Value,
    path: &str,
    keys: &[&str],
) -> Result<&'a Map<String, Value>, StatuteError> {
    let Value::Object(fields) = value else {
        return Err(error(path, "must be a JSON object"));
    };
    // A misspelt key is reported as unknown rather than as the missing key it was meant to be,
    // because the unknown name is what the author sees in the file.
    if let Some(unknown) = fields.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(error(
            join(path, unknown),
            format!("unknown key; the allowed keys are {}", keys.join(", ")),
        ));
    }
    if let Some(missing) = keys.iter().find(|k| !fields.contains_key(**k)) {
        return Err(error(join(path, missing), "missing key"));
    }
    Ok(fields)
}

fn date(value: &Value, key: &str) -> Result<Date, StatuteError> {
    value
        .as_str()
        .and_then(dates::parse)
        .ok_or_else(|| error(key, "must be a date like \"2020-01-01\""))
}

fn choice<T: Copy>(value: &Value, key: &str, options: &[(&str, T)]) -> Result<T, StatuteError> {
    let text = value.as_str().unwrap_or_default();
    options
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<String> = options
                .iter()
                .map(|(name, _)| format!("\"{name}\""))
                .collect();
            error(key, format!("must be one of {}", names.join(", ")))
        })
}

fn array<'a>(value: &'a Value, key: &str) -> Result<&'a Vec<Value>, StatuteError> {
    value
        .as_array()
        .ok_or_else(|| error(key, "must be a JSON array"))
}

fn amounts(value: &Value, key: &str) -> Result<Vec<Decimal>, StatuteError> {
    let items = array(value, key)?;
    if items.is_empty() {
        return Err(error(key, "must list at least one rate"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| amount(item, &format!("{key}[{i}]")))
        .collect()
}

/// Amounts are strings so that no JSON parser turns 0.10 into 0.1000000000000000055.
fn amount(value: &Value, key: &str) -> Result<Decimal, StatuteError> {
    let Some(text) = value.as_str() else {
        return Err(error(
            key,
            "must be an amount in euros as a string, like \"46.00\"",
        ));
    };
    if text.starts_with('-') {
        return Err(error(key, "must not be negative"));
    }
    let (whole, cents) = text.split_once('.').unwrap_or((text, ""));
    let well_formed = !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && cents.bytes().all(|b| b.is_ascii_digit())
        && !(text.contains('.') && cents.is_empty());
    if !well_formed {
        return Err(error(
            key,
            "must be an amount in euros as a string, like \"46.00\"",
        ));
    }
    if cents.len() > 2 {
        return Err(error(key, "must have at most two decimals"));
    }
    Decimal::from_str(text).map_err(|_| error(key, "is too large"))
}

fn code(
    value: Option<&Value>,
    key: &str,
    seen: &mut HashMap<String, String>,
    owner: &str,
) -> Result<String, StatuteError> {
    let text = value.and_then(Value::as_str).unwrap_or_default();
    if text.is_empty()
        || !text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(error(key, "must be a non-empty code of a-z, 0-9 and _"));
    }
    if let Some(first) = seen.get(text) {
        return Err(error(
            key,
            format!("duplicate code \"{text}\", already used by {first}"),
        ));
    }
    seen.insert(text.to_owned(), owner.to_owned());
    Ok(text.to_owned())
}

fn label(value: Option<&Value>, key: &str) -> Result<String, StatuteError> {
    match value.and_then(Value::as_str) {
        Some(text) if !text.trim().is_empty() => Ok(text.to_owned()),
        _ => Err(error(key, "must be a non-empty text")),
    }
}

/// The versions of one municipality's Satzung, sorted by `valid_from`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<Statute>", into = "Vec<Statute>")]
pub struct StatuteHistory {
    versions: Vec<Statute>,
}

impl StatuteHistory {
    pub fn new() -> StatuteHistory {
        StatuteHistory::default()
    }

    /// Adds a version; one with the same `valid_from` is replaced and returned, since a corrected
    /// Satzung text for the same date supersedes the earlier reading.
    pub fn insert(&mut self, statute: Statute) -> Option<Statute> {
        match self
            .versions
            .binary_search_by_key(&statute.valid_from, |s| s.valid_from)
        {
            Ok(i) => Some(std::mem::replace(&mut self.versions[i], statute)),
            Err(i) => {
                self.versions.insert(i, statute);
                None
            }
        }
    }

    pub fn versions(&self) -> &[Statute] {
        &self.versions
    }

    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    /// The version in force on `day`: the one with the latest `valid_from` not after it.
    pub fn valid_on(&self, day: Date) -> Option<&Statute> {
        let after = self.versions.partition_point(|s| s.valid_from <= day);
        after.checked_sub(1).and_then(|i| self.versions.get(i))
    }
}

impl From<Vec<Statute>> for StatuteHistory {
    fn from(versions: Vec<Statute>) -> StatuteHistory {
        versions.into_iter().collect()
    }
}

impl From<StatuteHistory> for Vec<Statute> {
    fn from(history: StatuteHistory) -> Vec<Statute> {
        history.versions
    }
}

impl FromIterator<Statute> for StatuteHistory {
    fn from_iter<I: IntoIterator<Item = Statute>>(versions: I) -> StatuteHistory {
        let mut history = StatuteHistory::new();
        for statute in versions {
            history.insert(statute);
        }
        history
    }
}
