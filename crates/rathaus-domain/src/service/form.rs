//! Turning what a citizen typed into data, and checking data against the rules of its fields.
//!
//! Nothing from the client is trusted: only the fields of the step being answered are read, values
//! of choice fields must be among the offered options, hidden fields are dropped, and every error
//! names its field and what is wrong in all three languages.

use rust_decimal::Decimal;
use serde_json::{Map, Value};
use time::{Date, Duration, Month};

use super::condition::{Scope, is_filled};
use super::definition::{Choice, Field, FieldKind, Step};
use super::text::{Lang, Text};
use crate::sepa::{Iban, is_valid_microchip};

/// The submitted form, as name/value pairs in document order.
#[derive(Debug, Clone, Default)]
pub struct FormInput {
    pairs: Vec<(String, String)>,
}

impl FormInput {
    pub fn new(pairs: Vec<(String, String)>) -> FormInput {
        FormInput { pairs }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all_pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name, which is also the id of its input on the page.
    pub field: String,
    pub message: Text,
}

/// What rules may depend on besides the data: the municipality's parameters and the date.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub params: &'a Map<String, Value>,
    pub today: Date,
}

/// Default length limits, so no field can carry unbounded text.
const TEXT_MAX: u32 = 200;
const TEXTAREA_MAX: u32 = 5000;

fn label(field: &Field, lang: Lang) -> &str {
    field.label.get(lang)
}

fn msg(field: &Field, de: &str, en: &str, ls: &str, args: &[(&str, &str)]) -> FieldError {
    let mut all: Vec<(&str, &str)> = args.to_vec();
    let labels = [
        label(field, Lang::De),
        label(field, Lang::En),
        label(field, Lang::Ls),
    ];
    let t = Text::new(
        de.replace("{label}", labels[0]),
        en.replace("{label}", labels[1]),
        ls.replace("{label}", labels[2]),
    );
    all.retain(|(k, _)| *k != "label");
    FieldError {
        field: field.name.clone(),
        message: t.fill(&all),
    }
}

fn missing(field: &Field) -> FieldError {
    match field.kind {
        FieldKind::Select | FieldKind::Radio | FieldKind::Checkboxes => msg(
            field,
            "Wählen Sie bei „{label}“ eine Antwort aus.",
            "Select an answer for “{label}”.",
            "Bei „{label}“ fehlt Ihre Antwort. Bitte wählen Sie eine Antwort aus.",
            &[],
        ),
        FieldKind::Checkbox => msg(
            field,
            "Bestätigen Sie „{label}“, um fortzufahren.",
            "Confirm “{label}” to continue.",
            "Bitte setzen Sie einen Haken bei „{label}“.",
            &[],
        ),
        FieldKind::Attachment => msg(
            field,
            "Laden Sie bei „{label}“ eine Datei hoch.",
            "Upload a file for “{label}”.",
            "Bei „{label}“ fehlt eine Datei. Bitte laden Sie eine Datei hoch.",
            &[],
        ),
        _ => msg(
            field,
            "Geben Sie „{label}“ an.",
            "Enter “{label}”.",
            "Bei „{label}“ fehlt etwas. Bitte füllen Sie das Feld aus.",
            &[],
        ),
    }
}

/// The options of a choice field: its own, or the municipality's from a parameter.
pub fn options(field: &Field, params: &Map<String, Value>) -> Vec<Choice> {
    if let Some(p) = &field.options_param {
        let Some(Value::Array(items)) = params.get(p) else {
            return Vec::new();
        };
        return items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) => Some(Choice {
                    value: s.clone(),
                    label: Text::new(s.clone(), s.clone(), s.clone()),
                    hint: None,
                }),
                other => serde_json::from_value::<Choice>(other.clone()).ok(),
            })
            .collect();
    }
    field.options.clone()
}

/// Parses "2026-11-27" (the form of `<input type="date">`) or "27.11.2026".
pub fn parse_date(raw: &str) -> Option<Date> {
    let raw = raw.trim();
    let (y, m, d) = if let Some((y, rest)) = raw.split_once('-') {
        let (m, d) = rest.split_once('-')?;
        (y, m, d)
    } else {
        let mut parts = raw.split('.');
        let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        (y, m, d)
    };
    if y.len() != 4 {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

pub fn format_date_de(d: Date) -> String {
    format!("{:02}.{:02}.{}", d.day(), u8::from(d.month()), d.year())
}

/// "12,50" and "12.50" both mean twelve and a half.
fn parse_decimal(raw: &str) -> Option<Decimal> {
    let s = raw.trim().replace(' ', "");
    let s = if s.contains(',') {
        s.replace('.', "").replace(',', ".")
    } else {
        s
    };
    s.parse::<Decimal>().ok()
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && s.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == ',')
}

/// Reads the raw input of one field into a typed value (`None` when left empty), or explains why
/// it cannot be read.
fn parse_field(
    field: &Field,
    input: &FormInput,
    ctx: &Context<'_>,
) -> Result<Option<Value>, FieldError> {
    let raw = input.get(&field.name).map(str::trim).unwrap_or("");
    match field.kind {
        FieldKind::Info | FieldKind::Attachment => Ok(None),
        FieldKind::Checkbox => Ok(Some(Value::Bool(matches!(raw, "true" | "on" | "ja" | "1")))),
        FieldKind::Checkboxes => {
            let opts = options(field, ctx.params);
            let mut chosen = Vec::new();
            for v in input.all(&field.name) {
                if !opts.iter().any(|o| o.value == v) {
                    return Err(not_offered(field));
                }
                if !chosen.contains(&Value::String(v.to_owned())) {
                    chosen.push(Value::String(v.to_owned()));
                }
            }
            Ok((!chosen.is_empty()).then_some(Value::Array(chosen)))
        }
        _ if raw.is_empty() => Ok(None),
        FieldKind::Select | FieldKind::Radio => {
            if options(field, ctx.params).iter().any(|o| o.value == raw) {
                Ok(Some(Value::String(raw.to_owned())))
            } else {
                Err(not_offered(field))
            }
        }
        FieldKind::Text | FieldKind::Textarea | FieldKind::Tel => {
            // Line breaks are normalised so that length limits count what the citizen sees.
            let text = raw.replace("\r\n", "\n");
            Ok(Some(Value::String(text)))
        }
        FieldKind::Email => {
            if is_email(raw) {
                Ok(Some(Value::String(raw.to_owned())))
            } else {
                Err(msg(
                    field,
                    "Geben Sie bei „{label}“ eine E-Mail-Adresse in der Form name@beispiel.de an.",
                    "Enter an e-mail address for “{label}” in the form name@example.com.",
                    "Bei „{label}“ stimmt die E-Mail-Adresse nicht. So sieht eine E-Mail-Adresse aus: name@beispiel.de",
                    &[],
                ))
            }
        }
        FieldKind::Date => match parse_date(raw) {
            Some(d) => Ok(Some(Value::String(d.to_string()))),
            None => Err(msg(
                field,
                "„{label}“ muss ein gültiges Datum sein, zum Beispiel 27.11.2026.",
                "“{label}” must be a real date, for example 27.11.2026.",
                "Bei „{label}“ stimmt das Datum nicht. So schreiben Sie ein Datum: 27.11.2026",
                &[],
            )),
        },
        FieldKind::Integer => match raw.parse::<i64>() {
            Ok(n) => Ok(Some(Value::from(n))),
            Err(_) => Err(msg(
                field,
                "„{label}“ muss eine ganze Zahl sein, zum Beispiel 3.",
                "“{label}” must be a whole number, for example 3.",
                "Bei „{label}“ darf nur eine Zahl stehen. Zum Beispiel: 3",
                &[],
            )),
        },
        FieldKind::Decimal => match parse_decimal(raw) {
            Some(d) => Ok(Some(Value::String(d.normalize().to_string()))),
            None => Err(msg(
                field,
                "„{label}“ muss eine Zahl sein, zum Beispiel 12,50.",
                "“{label}” must be a number, for example 12.50.",
                "Bei „{label}“ darf nur eine Zahl stehen. Zum Beispiel: 12,50",
                &[],
            )),
        },
        FieldKind::Iban => match raw.parse::<Iban>() {
            Ok(iban) => Ok(Some(Value::String(iban.electronic().to_owned()))),
            Err(e) => {
                let de = format!("„{{label}}“: {}", e.message_de());
                let en = format!("“{{label}}”: {e}");
                Err(msg(
                    field,
                    &de,
                    &en,
                    "Die IBAN stimmt nicht. Bitte prüfen Sie die IBAN. Die IBAN steht auf Ihrer Bank-Karte.",
                    &[],
                ))
            }
        },
        FieldKind::Postcode => {
            if raw.len() == 5 && raw.bytes().all(|b| b.is_ascii_digit()) {
                Ok(Some(Value::String(raw.to_owned())))
            } else {
                Err(msg(
                    field,
                    "„{label}“ muss eine Postleitzahl aus 5 Ziffern sein, zum Beispiel 16341.",
                    "“{label}” must be a German postcode of 5 digits, for example 16341.",
                    "Eine Post-Leit-Zahl hat 5 Zahlen. Zum Beispiel: 16341",
                    &[],
                ))
            }
        }
        FieldKind::Microchip => {
            let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
            if is_valid_microchip(&compact) {
                Ok(Some(Value::String(compact)))
            } else {
                Err(msg(
                    field,
                    "„{label}“ muss aus 15 Ziffern bestehen, wie sie auf dem Heimtierausweis steht.",
                    "“{label}” must have 15 digits, as printed in the pet passport.",
                    "Die Chip-Nummer hat 15 Zahlen. Die Nummer steht im Heim-Tier-Ausweis.",
                    &[],
                ))
            }
        }
    }
}

fn not_offered(field: &Field) -> FieldError {
    msg(
        field,
        "Wählen Sie bei „{label}“ eine der angebotenen Antworten aus.",
        "Select one of the answers offered for “{label}”.",
        "Bei „{label}“ gibt es diese Antwort nicht. Bitte wählen Sie eine Antwort aus der Liste.",
        &[],
    )
}

fn bound_i64(v: &Option<Value>) -> Option<i64> {
    v.as_ref().and_then(|b| {
        b.as_i64()
            .or_else(|| b.as_str().and_then(|s| s.parse().ok()))
    })
}

fn bound_dec(v: &Option<Value>) -> Option<Decimal> {
    v.as_ref().and_then(|b| match b {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    })
}

/// Checks a stored (already typed) value against the field's rules.
pub fn check_value(
    field: &Field,
    value: Option<&Value>,
    required: bool,
    ctx: &Context<'_>,
) -> Option<FieldError> {
    if !is_filled(value) {
        return required.then(|| missing(field));
    }
    let value = value?;
    match field.kind {
        FieldKind::Text | FieldKind::Textarea | FieldKind::Tel => {
            let s = value.as_str().unwrap_or("");
            let n = s.chars().count() as u32;
            let max = field
                .max_length
                .unwrap_or(if field.kind == FieldKind::Textarea {
                    TEXTAREA_MAX
                } else {
                    TEXT_MAX
                });
            if n > max {
                let (max_s, n_s) = (max.to_string(), n.to_string());
                return Some(msg(
                    field,
                    "„{label}“ darf höchstens {max} Zeichen lang sein; jetzt sind es {n}.",
                    "“{label}” can have at most {max} characters; it now has {n}.",
                    "Bei „{label}“ ist der Text zu lang. Erlaubt sind {max} Zeichen. Jetzt sind es {n} Zeichen.",
                    &[("max", &max_s), ("n", &n_s)],
                ));
            }
            if let Some(min) = field.min_length
                && n < min
            {
                let min_s = min.to_string();
                return Some(msg(
                    field,
                    "„{label}“ muss mindestens {min} Zeichen lang sein.",
                    "“{label}” must have at least {min} characters.",
                    "Bei „{label}“ ist der Text zu kurz. Bitte schreiben Sie mindestens {min} Zeichen.",
                    &[("min", &min_s)],
                ));
            }
            if field.kind == FieldKind::Tel
                && !s
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-/()".contains(c))
            {
                return Some(msg(
                    field,
                    "„{label}“ darf nur Ziffern, Leerzeichen und + - / ( ) enthalten.",
                    "“{label}” may only contain digits, spaces and + - / ( ).",
                    "Bei „{label}“ dürfen nur Zahlen stehen.",
                    &[],
                ));
            }
            None
        }
        FieldKind::Date => {
            let d = value.as_str().and_then(parse_date)?;
            if let Some(min) = field.min_days_from_today
                && d < ctx.today + Duration::days(min)
            {
                let earliest = format_date_de(ctx.today + Duration::days(min));
                return Some(msg(
                    field,
                    "„{label}“ darf nicht vor dem {date} liegen.",
                    "“{label}” cannot be before {date}.",
                    "Das Datum bei „{label}“ ist zu früh. Das Datum muss am {date} oder später sein.",
                    &[("date", &earliest)],
                ));
            }
            if let Some(max) = field.max_days_from_today
                && d > ctx.today + Duration::days(max)
            {
                let latest = format_date_de(ctx.today + Duration::days(max));
                return Some(msg(
                    field,
                    "„{label}“ darf nicht nach dem {date} liegen.",
                    "“{label}” cannot be after {date}.",
                    "Das Datum bei „{label}“ ist zu spät. Das Datum muss am {date} oder früher sein.",
                    &[("date", &latest)],
                ));
            }
            None
        }
        FieldKind::Integer => {
            let n = value.as_i64()?;
            range_error(
                field,
                bound_i64(&field.min).is_some_and(|m| n < m),
                bound_i64(&field.max).is_some_and(|m| n > m),
            )
        }
        FieldKind::Decimal => {
            let d: Decimal = value.as_str().and_then(|s| s.parse().ok())?;
            range_error(
                field,
                bound_dec(&field.min).is_some_and(|m| d < m),
                bound_dec(&field.max).is_some_and(|m| d > m),
            )
        }
        FieldKind::Attachment => {
            let n = value.as_array().map_or(0, Vec::len) as u32;
            let max = field.max_count.unwrap_or(1);
            (n > max).then(|| {
                let max_s = max.to_string();
                msg(
                    field,
                    "Bei „{label}“ sind höchstens {max} Dateien möglich.",
                    "“{label}” takes at most {max} files.",
                    "Bei „{label}“ dürfen Sie nur {max} Dateien hochladen.",
                    &[("max", &max_s)],
                )
            })
        }
        _ => None,
    }
}

fn range_error(field: &Field, below: bool, above: bool) -> Option<FieldError> {
    let show = |v: &Option<Value>| match v {
        Some(Value::String(s)) => s.replace('.', ","),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let (min, max) = (show(&field.min), show(&field.max));
    if below {
        return Some(msg(
            field,
            "„{label}“ muss mindestens {min} sein.",
            "“{label}” must be at least {min}.",
            "Die Zahl bei „{label}“ ist zu klein. Die Zahl muss {min} oder größer sein.",
            &[("min", &min)],
        ));
    }
    above.then(|| {
        msg(
            field,
            "„{label}“ darf höchstens {max} sein.",
            "“{label}” can be at most {max}.",
            "Die Zahl bei „{label}“ ist zu groß. Die Zahl muss {max} oder kleiner sein.",
            &[("max", &max)],
        )
    })
}

/// The object a step writes into: the item of a repeated step, or the top level.
pub fn target<'v>(step: &Step, item: Option<usize>, data: &'v Value) -> Option<&'v Value> {
    match (&step.repeat, item) {
        (Some(r), Some(i)) => data.get(&r.name)?.get(i),
        (None, _) => Some(data),
        (Some(_), None) => None,
    }
}

fn field_required(field: &Field, scope: &Scope<'_>) -> bool {
    field.required || field.required_when.as_ref().is_some_and(|c| c.holds(scope))
}

pub fn field_visible(field: &Field, scope: &Scope<'_>) -> bool {
    field.show_when.as_ref().is_none_or(|c| c.holds(scope))
}

/// Checks the stored answers of one step (one item of a repeated step).
pub fn check_step(
    step: &Step,
    item: Option<usize>,
    data: &Value,
    ctx: &Context<'_>,
) -> Vec<FieldError> {
    let empty = Value::Object(Map::new());
    let obj = target(step, item, data).unwrap_or(&empty);
    let scope = Scope {
        item: step.repeat.as_ref().map(|_| obj),
        root: data,
    };
    step.fields
        .iter()
        .filter(|f| f.holds_value() && field_visible(f, &scope))
        .filter_map(|f| check_value(f, obj.get(&f.name), field_required(f, &scope), ctx))
        .collect()
}

/// Applies the answers to one step. On success returns the new data; on failure the errors, and
/// the data is to be left as it was. Attachment fields keep their stored value (uploads are
/// handled separately); hidden fields lose theirs.
pub fn apply_step(
    step: &Step,
    item: Option<usize>,
    data: &Value,
    input: &FormInput,
    ctx: &Context<'_>,
) -> Result<Value, Vec<FieldError>> {
    let mut new = if data.is_object() {
        data.clone()
    } else {
        Value::Object(Map::new())
    };
    let mut errors = Vec::new();
    let mut values: Map<String, Value> = match target(step, item, &new) {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    for f in step
        .fields
        .iter()
        .filter(|f| f.holds_value() && f.kind != FieldKind::Attachment)
    {
        match parse_field(f, input, ctx) {
            Ok(Some(v)) => {
                values.insert(f.name.clone(), v);
            }
            Ok(None) => {
                values.remove(&f.name);
            }
            Err(e) => errors.push(e),
        }
    }
    write_target(step, item, &mut new, values.clone());
    // Visibility is decided on the new answers, so a field revealed by a choice on this very
    // page is checked, and one hidden by it is dropped.
    let scope_values = Value::Object(values.clone());
    let hidden: Vec<String> = {
        let scope = Scope {
            item: step.repeat.as_ref().map(|_| &scope_values),
            root: &new,
        };
        step.fields
            .iter()
            .filter(|f| !field_visible(f, &scope))
            .map(|f| f.name.clone())
            .collect()
    };
    for name in &hidden {
        values.remove(name);
    }
    write_target(step, item, &mut new, values);
    for e in check_step(step, item, &new, ctx) {
        if !errors.iter().any(|x: &FieldError| x.field == e.field) {
            errors.push(e);
        }
    }
    // Keep the order of the fields on the page.
    errors.sort_by_key(|e| step.fields.iter().position(|f| f.name == e.field));
    if errors.is_empty() {
        Ok(new)
    } else {
        Err(errors)
    }
}

fn write_target(step: &Step, item: Option<usize>, data: &mut Value, values: Map<String, Value>) {
    let Value::Object(root) = data else { return };
    match (&step.repeat, item) {
        (Some(r), Some(i)) => {
            let list = root
                .entry(r.name.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !list.is_array() {
                *list = Value::Array(Vec::new());
            }
            if let Value::Array(items) = list {
                while items.len() <= i {
                    items.push(Value::Object(Map::new()));
                }
                items[i] = Value::Object(values);
            }
        }
        _ => {
            // A field of this step that has no value now loses its old one.
            for f in step.fields.iter().filter(|f| f.holds_value()) {
                if !values.contains_key(&f.name) {
                    root.remove(&f.name);
                }
            }
            for (k, v) in values {
                root.insert(k, v);
            }
        }
    }
}
