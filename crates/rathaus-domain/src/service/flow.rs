//! The way through a service: which step comes next, which are still incomplete, what to show on
//! the check-your-answers page, and what is submitted.

use serde_json::{Map, Value};

use super::condition::Scope;
use super::definition::{FieldKind, ServiceDefinition, Step};
use super::form::{
    Context, FieldError, check_step, field_visible, format_date_de, options, parse_date,
};
use super::text::{Lang, Text};

/// A place in the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// A step; `item` is the index within a repeated step.
    Step { step: String, item: Option<usize> },
    /// The "add another?" page of a repeated step, listing its items.
    AddAnother { step: String },
    /// Check your answers.
    Check,
}

impl ServiceDefinition {
    pub fn step_visible(&self, step: &Step, data: &Value) -> bool {
        step.show_when.as_ref().is_none_or(|c| {
            c.holds(&Scope {
                item: None,
                root: data,
            })
        })
    }

    pub fn item_count(&self, step: &Step, data: &Value) -> usize {
        step.repeat
            .as_ref()
            .and_then(|r| data.get(&r.name))
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    }

    /// Where a step is entered: an unanswered repeated step starts with its first item, an
    /// answered one with the list of its items.
    fn enter(&self, step: &Step, data: &Value) -> Position {
        match &step.repeat {
            Some(_) if self.item_count(step, data) > 0 => Position::AddAnother {
                step: step.id.clone(),
            },
            Some(_) => Position::Step {
                step: step.id.clone(),
                item: Some(0),
            },
            None => Position::Step {
                step: step.id.clone(),
                item: None,
            },
        }
    }

    pub fn first_position(&self, data: &Value) -> Position {
        self.steps_after(None, data)
    }

    fn steps_after(&self, after: Option<&str>, data: &Value) -> Position {
        let start = match after {
            Some(id) => self
                .steps
                .iter()
                .position(|s| s.id == id)
                .map_or(self.steps.len(), |i| i + 1),
            None => 0,
        };
        self.steps[start..]
            .iter()
            .find(|s| self.step_visible(s, data))
            .map_or(Position::Check, |s| self.enter(s, data))
    }

    /// The position after the citizen answered `pos`. For the "add another?" page, `another` is
    /// the answer.
    pub fn next_position(&self, pos: &Position, data: &Value, another: bool) -> Position {
        match pos {
            Position::Step {
                step,
                item: Some(_),
            } => Position::AddAnother { step: step.clone() },
            Position::Step { step, item: None } => self.steps_after(Some(step), data),
            Position::AddAnother { step } => {
                let Some(s) = self.step(step) else {
                    return Position::Check;
                };
                let count = self.item_count(s, data);
                let max = s.repeat.as_ref().map_or(0, |r| r.max as usize);
                if another && count < max {
                    Position::Step {
                        step: step.clone(),
                        item: Some(count),
                    }
                } else {
                    self.steps_after(Some(step), data)
                }
            }
            Position::Check => Position::Check,
        }
    }

    /// The first place whose answers are missing or wrong, with its errors; `None` when the data
    /// is complete and can be submitted.
    pub fn first_incomplete(
        &self,
        data: &Value,
        ctx: &Context<'_>,
    ) -> Option<(Position, Vec<FieldError>)> {
        for step in self.steps.iter().filter(|s| self.step_visible(s, data)) {
            match &step.repeat {
                None => {
                    let errors = check_step(step, None, data, ctx);
                    if !errors.is_empty() {
                        return Some((
                            Position::Step {
                                step: step.id.clone(),
                                item: None,
                            },
                            errors,
                        ));
                    }
                }
                Some(r) => {
                    let count = self.item_count(step, data);
                    for i in 0..count {
                        let errors = check_step(step, Some(i), data, ctx);
                        if !errors.is_empty() {
                            return Some((
                                Position::Step {
                                    step: step.id.clone(),
                                    item: Some(i),
                                },
                                errors,
                            ));
                        }
                    }
                    if count < r.min as usize {
                        return Some((
                            Position::Step {
                                step: step.id.clone(),
                                item: Some(count),
                            },
                            Vec::new(),
                        ));
                    }
                }
            }
        }
        None
    }

    /// The data as it is submitted: only answers to visible steps and fields, in a fresh object,
    /// so nothing a client slipped in survives.
    pub fn prune(&self, data: &Value) -> Value {
        let mut out = Map::new();
        for step in self.steps.iter().filter(|s| self.step_visible(s, data)) {
            match &step.repeat {
                None => {
                    let scope = Scope {
                        item: None,
                        root: data,
                    };
                    for f in step
                        .fields
                        .iter()
                        .filter(|f| f.holds_value() && field_visible(f, &scope))
                    {
                        if let Some(v) = data.get(&f.name) {
                            out.insert(f.name.clone(), v.clone());
                        }
                    }
                }
                Some(r) => {
                    let items = data
                        .get(&r.name)
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    let pruned: Vec<Value> = items
                        .iter()
                        .map(|item| {
                            let scope = Scope {
                                item: Some(item),
                                root: data,
                            };
                            let m: Map<String, Value> = step
                                .fields
                                .iter()
                                .filter(|f| f.holds_value() && field_visible(f, &scope))
                                .filter_map(|f| {
                                    item.get(&f.name).map(|v| (f.name.clone(), v.clone()))
                                })
                                .collect();
                            Value::Object(m)
                        })
                        .collect();
                    out.insert(r.name.clone(), Value::Array(pruned));
                }
            }
        }
        Value::Object(out)
    }

    /// Validates pruned data against the definition's JSON Schema; the messages name the paths.
    pub fn schema_errors(&self, data: &Value) -> Vec<String> {
        match self.validator() {
            Ok(v) => v
                .iter_errors(data)
                .map(|e| format!("{}: {e}", e.instance_path()))
                .collect(),
            Err(e) => vec![format!("schema: {e}")],
        }
    }

    /// Removes one item of a repeated step.
    pub fn remove_item(&self, step: &Step, index: usize, data: &Value) -> Value {
        let mut new = data.clone();
        if let (Some(r), Value::Object(root)) = (&step.repeat, &mut new)
            && let Some(Value::Array(items)) = root.get_mut(&r.name)
            && index < items.len()
        {
            items.remove(index);
        }
        new
    }
}

/// One section of the check-your-answers page: a step, or one item of a repeated step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummarySection {
    pub title: String,
    pub position: Position,
    pub rows: Vec<SummaryRow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    pub field: String,
    pub label: String,
    /// One or more lines.
    pub value: Vec<String>,
}

/// How a stored value reads to a person in the given language.
pub fn display_value(
    def: &ServiceDefinition,
    step: &Step,
    field_name: &str,
    value: &Value,
    lang: Lang,
    params: &Map<String, Value>,
    attachment_name: &dyn Fn(&str) -> Option<String>,
) -> Vec<String> {
    let _ = def;
    let Some(field) = step.fields.iter().find(|f| f.name == field_name) else {
        return Vec::new();
    };
    let yes_no = |b: bool| match (lang, b) {
        (Lang::En, true) => "Yes",
        (Lang::En, false) => "No",
        (_, true) => "Ja",
        (_, false) => "Nein",
    };
    let opt_label = |v: &str| {
        options(field, params)
            .into_iter()
            .find(|o| o.value == v)
            .map_or_else(|| v.to_owned(), |o| o.label.get(lang).to_owned())
    };
    match (field.kind, value) {
        (FieldKind::Checkbox, Value::Bool(b)) => vec![yes_no(*b).to_owned()],
        (FieldKind::Select | FieldKind::Radio, Value::String(s)) => vec![opt_label(s)],
        (FieldKind::Checkboxes, Value::Array(a)) => {
            a.iter().filter_map(Value::as_str).map(opt_label).collect()
        }
        (FieldKind::Date, Value::String(s)) => {
            vec![parse_date(s).map_or_else(|| s.clone(), format_date_de)]
        }
        (FieldKind::Decimal, Value::String(s)) if lang != Lang::En => vec![s.replace('.', ",")],
        (FieldKind::Iban, Value::String(s)) => {
            vec![
                s.as_bytes()
                    .chunks(4)
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
            ]
        }
        (FieldKind::Attachment, Value::Array(ids)) => ids
            .iter()
            .filter_map(Value::as_str)
            .map(|id| attachment_name(id).unwrap_or_else(|| "Datei".to_owned()))
            .collect(),
        (FieldKind::Textarea, Value::String(s)) => s.lines().map(str::to_owned).collect(),
        (_, Value::String(s)) => vec![s.clone()],
        (_, Value::Null) => Vec::new(),
        (_, other) => vec![other.to_string()],
    }
}

/// The check-your-answers page: every visible answer with the step it can be changed on.
pub fn summary(
    def: &ServiceDefinition,
    data: &Value,
    lang: Lang,
    params: &Map<String, Value>,
    attachment_name: &dyn Fn(&str) -> Option<String>,
) -> Vec<SummarySection> {
    let not_given = match lang {
        Lang::En => "Not given",
        Lang::De => "Keine Angabe",
        Lang::Ls => "Keine Angabe",
    };
    let mut sections = Vec::new();
    for step in def.steps.iter().filter(|s| def.step_visible(s, data)) {
        let items: Vec<(Option<usize>, &Value)> = match &step.repeat {
            None => vec![(None, data)],
            Some(r) => data
                .get(&r.name)
                .and_then(Value::as_array)
                .map(|a| a.iter().enumerate().map(|(i, v)| (Some(i), v)).collect())
                .unwrap_or_default(),
        };
        for (item, obj) in items {
            let scope = Scope {
                item: item.map(|_| obj),
                root: data,
            };
            let rows = step
                .fields
                .iter()
                .filter(|f| f.holds_value() && field_visible(f, &scope))
                .map(|f| {
                    let value = obj
                        .get(&f.name)
                        .map(|v| {
                            display_value(def, step, &f.name, v, lang, params, attachment_name)
                        })
                        .filter(|v| !v.is_empty())
                        .unwrap_or_else(|| vec![not_given.to_owned()]);
                    SummaryRow {
                        field: f.name.clone(),
                        label: f.label.get(lang).to_owned(),
                        value,
                    }
                })
                .collect();
            let title = match (&step.repeat, item) {
                (Some(r), Some(i)) => r
                    .item_title
                    .fill(&[("n", &(i + 1).to_string())])
                    .get(lang)
                    .to_owned(),
                _ => step.title.get(lang).to_owned(),
            };
            sections.push(SummarySection {
                title,
                position: Position::Step {
                    step: step.id.clone(),
                    item,
                },
                rows,
            });
        }
    }
    sections
}

/// A message for the "submitted data does not fit the schema" case, which means a faulty
/// definition or forged data rather than a citizen's typo.
pub fn schema_mismatch_message() -> Text {
    Text::new(
        "Die Angaben passen nicht zum Formular. Bitte prüfen Sie Ihre Angaben.",
        "The answers do not fit the form. Please check your answers.",
        "Die Angaben passen nicht. Bitte prüfen Sie Ihre Angaben.",
    )
}
