//! Turning a step's field definitions into what the templates render.

use rathaus_domain::service::form::{FormInput, options, parse_date};
use rathaus_domain::service::{Field, FieldError, FieldKind, Lang, Step};
use rathaus_domain::upload::FileKind;
use rathaus_store::attachments::Attachment;
use serde_json::{Map, Value};

use crate::i18n;

pub(crate) struct OptionView {
    pub id: String,
    pub value: String,
    pub label: String,
    pub hint: Option<String>,
    pub checked: bool,
}

pub(crate) struct FileView {
    pub id: String,
    pub name: String,
    pub size: String,
}

/// One field as the template needs it.
pub(crate) struct FieldView {
    /// "input", "textarea", "select", "radios", "checkboxes", "checkbox", "file" or "info".
    pub widget: &'static str,
    pub name: String,
    pub id: String,
    pub label: String,
    pub hint: Option<String>,
    pub optional_marker: Option<String>,
    pub error: Option<String>,
    pub value: String,
    pub input_type: &'static str,
    pub inputmode: &'static str,
    pub autocomplete: String,
    pub maxlength: String,
    pub width_class: &'static str,
    pub options: Vec<OptionView>,
    pub checked: bool,
    pub files: Vec<FileView>,
    pub accept: String,
    pub multiple: bool,
    /// Space-separated ids for aria-describedby (hint and error), possibly empty.
    pub describedby: String,
}

pub(crate) fn size_label(bytes: i64) -> String {
    if bytes >= 1_000_000 {
        format!("{:.1} MB", bytes as f64 / 1_000_000.0).replace('.', ",")
    } else {
        format!("{} kB", (bytes + 999) / 1000)
    }
}

/// The text of a stored value as it goes back into an input.
fn stored_text(field: &Field, v: &Value, lang: Lang) -> String {
    match (field.kind, v) {
        (FieldKind::Decimal, Value::String(s)) if lang != Lang::En => s.replace('.', ","),
        (FieldKind::Iban, Value::String(s)) => s
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" "),
        (_, Value::String(s)) => s.clone(),
        (_, Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// Where values come from: what was stored, or what was just typed (shown again with errors).
pub(crate) enum Source<'a> {
    Stored(&'a Value),
    Typed(&'a FormInput),
}

/// The fields of a step. `stored` is the step's stored object (for uploaded files, which are
/// never retyped); `source` is where the other values come from.
pub(crate) fn build(
    step: &Step,
    stored: &Value,
    source: &Source<'_>,
    errors: &[FieldError],
    lang: Lang,
    params: &Map<String, Value>,
    files: &[Attachment],
) -> Vec<FieldView> {
    step.fields
        .iter()
        .map(|f| {
            let id = format!("f-{}", f.name);
            let error = errors
                .iter()
                .find(|e| e.field == f.name)
                .map(|e| e.message.get(lang).to_owned());
            let hint = match (
                condition_hint(step, f, lang, params),
                f.hint.as_ref().map(|h| h.get(lang).to_owned()),
            ) {
                (Some(c), Some(h)) => Some(format!("{c}. {h}")),
                (c, h) => c.or(h),
            };
            let mut described = Vec::new();
            if hint.is_some() {
                described.push(format!("{id}-hint"));
            }
            if error.is_some() {
                described.push(format!("{id}-error"));
            }
            let text_value = match source {
                Source::Stored(obj) => obj
                    .get(&f.name)
                    .map(|v| stored_text(f, v, lang))
                    .unwrap_or_default(),
                Source::Typed(input) => input.get(&f.name).unwrap_or("").to_owned(),
            };
            let selected: Vec<String> = match source {
                Source::Stored(obj) => match obj.get(&f.name) {
                    Some(Value::Array(a)) => a
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect(),
                    Some(Value::String(s)) => vec![s.clone()],
                    Some(Value::Bool(true)) => vec!["true".into()],
                    _ => Vec::new(),
                },
                Source::Typed(input) => input.all(&f.name).into_iter().map(str::to_owned).collect(),
            };
            let opts = options(f, params)
                .into_iter()
                .enumerate()
                .map(|(i, o)| OptionView {
                    id: format!("{id}-{i}"),
                    checked: selected.contains(&o.value),
                    value: o.value,
                    label: o.label.get(lang).to_owned(),
                    hint: o.hint.map(|h| h.get(lang).to_owned()),
                })
                .collect();
            let (widget, input_type, inputmode) = match f.kind {
                FieldKind::Text | FieldKind::Postcode | FieldKind::Microchip | FieldKind::Iban => {
                    ("input", "text", "")
                }
                FieldKind::Email => ("input", "email", ""),
                FieldKind::Tel => ("input", "tel", ""),
                FieldKind::Date => ("input", "date", ""),
                FieldKind::Integer => ("input", "text", "numeric"),
                FieldKind::Decimal => ("input", "text", "decimal"),
                FieldKind::Textarea => ("textarea", "", ""),
                FieldKind::Select => ("select", "", ""),
                FieldKind::Radio => ("radios", "", ""),
                FieldKind::Checkboxes => ("checkboxes", "", ""),
                FieldKind::Checkbox => ("checkbox", "", ""),
                FieldKind::Attachment => ("file", "", ""),
                FieldKind::Info => ("info", "", ""),
            };
            let inputmode = match f.kind {
                FieldKind::Postcode | FieldKind::Microchip => "numeric",
                _ => inputmode,
            };
            let value = match (f.kind, source) {
                // A date input wants ISO dates; a typed German date is shown as typed.
                (FieldKind::Date, Source::Stored(_)) => text_value.clone(),
                (FieldKind::Date, Source::Typed(_)) => parse_date(&text_value)
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| text_value.clone()),
                _ => text_value.clone(),
            };
            let width_class = match f.kind {
                FieldKind::Postcode => "kern-form-input__input--width-4",
                FieldKind::Integer => "kern-form-input__input--width-4",
                _ => "",
            };
            let stored_ids: Vec<&str> = stored
                .get(&f.name)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let file_views = files
                .iter()
                .filter(|a| a.field == f.name && stored_ids.contains(&a.id.as_str()))
                .map(|a| FileView {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    size: size_label(a.size),
                })
                .collect();
            let accept = f
                .accept
                .iter()
                .filter_map(|a| FileKind::from_code(a))
                .flat_map(|k| [format!(".{}", k.extension()), k.mime().to_owned()])
                .collect::<Vec<_>>()
                .join(",");
            let never_required = !f.required
                && f.required_when.is_none()
                && f.kind != FieldKind::Checkbox
                && f.kind != FieldKind::Info;
            FieldView {
                widget,
                name: f.name.clone(),
                id,
                label: f.label.get(lang).to_owned(),
                optional_marker: (never_required
                    && !f
                        .label
                        .get(lang)
                        .contains(&i18n::t(lang, "service.optional")))
                .then(|| i18n::t(lang, "service.optional")),
                hint,
                error,
                value,
                input_type,
                inputmode,
                autocomplete: f.autocomplete.clone().unwrap_or_default(),
                maxlength: f.max_length.map(|m| m.to_string()).unwrap_or_default(),
                width_class,
                options: opts,
                checked: selected.iter().any(|s| s == "true" || s == "on"),
                files: file_views,
                accept,
                multiple: f.max_count.unwrap_or(1) > 1,
                describedby: described.join(" "),
            }
        })
        .collect()
}

/// "Nur bei „Mit einer Adresse“" for a field shown only after a particular choice on the same
/// page: without JavaScript all fields are visible, so each says when it applies.
fn condition_hint(
    step: &Step,
    f: &Field,
    lang: Lang,
    params: &Map<String, Value>,
) -> Option<String> {
    let rathaus_domain::service::Condition::Field(test) = f.show_when.as_ref()? else {
        return None;
    };
    let Some(Value::String(wanted)) = &test.equals else {
        return None;
    };
    let source = step.fields.iter().find(|x| x.name == test.field)?;
    let label = options(source, params)
        .into_iter()
        .find(|o| &o.value == wanted)?
        .label
        .get(lang)
        .to_owned();
    Some(match lang {
        Lang::En => format!("Only for “{label}”"),
        Lang::Ls => format!("Nur wenn Sie „{label}“ gewählt haben"),
        Lang::De => format!("Nur bei „{label}“"),
    })
}
