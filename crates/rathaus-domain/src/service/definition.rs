//! Service definitions: a service (Leistung) described as data, so that one definition serves every
//! municipality that offers it, each with its own parameters ("Einer für Alle").

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::condition::Condition;
use super::text::Text;

/// Who may use a service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "level", rename_all = "snake_case", deny_unknown_fields)]
pub enum Access {
    /// Without any account, where the law allows.
    Anonymous,
    /// With a citizen account.
    Account,
    /// With an eID (BundID) of at least the given trust level.
    Eid { trust: TrustLevel },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustLevel {
    Basic,
    Substantial,
    High,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDefinition {
    /// Lower-case letters, digits and hyphens; appears in URLs.
    pub id: String,
    /// Raised with every change; a submission records the version it was made with.
    pub version: u32,
    pub title: Text,
    /// One sentence for lists.
    pub summary: Text,
    pub description: Text,
    /// What the citizen needs at hand.
    pub requirements: Text,
    pub duration_minutes: u32,
    pub costs: Text,
    pub legal_basis: Text,
    /// The privacy notice (Art. 13 GDPR) shown before starting.
    pub privacy: Text,
    #[serde(default)]
    pub leika: Option<String>,
    #[serde(default)]
    pub fim_schema: Option<String>,
    pub access: Access,
    /// Prefix of the reference number, e.g. "MM" gives MM-2026-000123.
    pub reference_prefix: String,
    /// How long a closed case is kept before it is deleted.
    pub retention_days: u32,
    #[serde(default)]
    pub parameters: Vec<ParameterDef>,
    pub steps: Vec<Step>,
    /// JSON Schema (2020-12) of the submitted data, as FIM and FIT-Connect publish theirs.
    pub schema: Value,
    #[serde(default)]
    pub computed: Vec<ComputedDef>,
    /// The field holding the applicant's e-mail address for confirmations, if any.
    #[serde(default)]
    pub contact_email_field: Option<String>,
    /// The field holding the applicant's name, searchable in the office through a blind index.
    #[serde(default)]
    pub applicant_name_field: Option<String>,
    /// Days within which the office should decide; open cases older than this are overdue.
    #[serde(default = "default_processing_days")]
    pub processing_days: u32,
    /// The texts of the notice (Bescheid) the office issues with its decision.
    #[serde(default)]
    pub notice: Option<NoticeTemplate>,
    /// `schema`, compiled on first use and kept with the definition.
    #[serde(skip)]
    compiled_schema: CompiledSchema,
}

/// A definition's JSON Schema compiled once: compiling builds its regular expressions, and doing
/// that per validation cost more CPU than the rest of a submission. Definitions are immutable once
/// parsed (a change is a new version), so the compiled form never goes stale.
#[derive(Default)]
struct CompiledSchema(OnceLock<Result<jsonschema::Validator, String>>);

impl Clone for CompiledSchema {
    /// A clone compiles anew: a cloned definition may be changed before it is used.
    fn clone(&self) -> Self {
        CompiledSchema::default()
    }
}

impl PartialEq for CompiledSchema {
    /// Derived from `schema`, which the definition compares itself.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for CompiledSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompiledSchema")
    }
}

fn default_processing_days() -> u32 {
    14
}

/// A notice's texts. Placeholders: {reference}, {service}, {submitted}, {reasons}, {authority}.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeTemplate {
    pub approved: NoticeText,
    pub rejected: NoticeText,
    /// The Rechtsbehelfsbelehrung: how and where the citizen can object.
    pub legal_remedy: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeText {
    pub subject: Text,
    pub body: Text,
}

/// A setting the municipality chooses when it offers the service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterDef {
    pub name: String,
    pub label: Text,
    pub kind: ParameterKind,
    #[serde(default)]
    pub hint: Option<Text>,
    pub default: Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParameterKind {
    Text,
    Email,
    Integer,
    Boolean,
    /// A list of answer options (value and label in three languages).
    Choices,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Lower-case letters, digits and hyphens; appears in URLs.
    pub id: String,
    pub title: Text,
    #[serde(default)]
    pub intro: Option<Text>,
    #[serde(default)]
    pub show_when: Option<Condition>,
    /// A step filled in once per item of a list (e.g. once per dog).
    #[serde(default)]
    pub repeat: Option<Repeat>,
    pub fields: Vec<Field>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// The key of the list in the data.
    pub name: String,
    pub min: u32,
    pub max: u32,
    /// Heading of one item; `{n}` is its number.
    pub item_title: Text,
    /// The question whether to add another item.
    pub add_another: Text,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Textarea,
    Email,
    Tel,
    Date,
    Integer,
    Decimal,
    Select,
    Radio,
    Checkbox,
    Checkboxes,
    Iban,
    Postcode,
    /// ISO 11784 transponder number of an animal: 15 digits.
    Microchip,
    Attachment,
    /// Text shown between fields; holds no value.
    Info,
}

impl FieldKind {
    pub fn has_options(self) -> bool {
        matches!(
            self,
            FieldKind::Select | FieldKind::Radio | FieldKind::Checkboxes
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub name: String,
    pub kind: FieldKind,
    pub label: Text,
    #[serde(default)]
    pub hint: Option<Text>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub required_when: Option<Condition>,
    #[serde(default)]
    pub show_when: Option<Condition>,
    #[serde(default)]
    pub options: Vec<Choice>,
    /// Take the options from this parameter of the municipality.
    #[serde(default)]
    pub options_param: Option<String>,
    #[serde(default)]
    pub min_length: Option<u32>,
    #[serde(default)]
    pub max_length: Option<u32>,
    /// Bounds for integer and decimal fields (decimal given as strings, e.g. "90.5").
    #[serde(default)]
    pub min: Option<Value>,
    #[serde(default)]
    pub max: Option<Value>,
    /// For dates: the earliest and latest allowed day, relative to today (e.g. -36500 and 0).
    #[serde(default)]
    pub min_days_from_today: Option<i64>,
    #[serde(default)]
    pub max_days_from_today: Option<i64>,
    /// For attachments: accepted kinds ("pdf", "jpeg", "png"), size and count limits.
    #[serde(default)]
    pub accept: Vec<String>,
    #[serde(default)]
    pub max_bytes: Option<u64>,
    #[serde(default)]
    pub max_count: Option<u32>,
    /// HTML autocomplete token, e.g. "given-name".
    #[serde(default)]
    pub autocomplete: Option<String>,
}

impl Field {
    pub fn holds_value(&self) -> bool {
        self.kind != FieldKind::Info
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub value: String,
    pub label: Text,
    #[serde(default)]
    pub hint: Option<Text>,
}

/// A value computed by the platform from the data (e.g. a fee preview), shown before submitting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputedDef {
    pub name: String,
    /// The platform function, e.g. "dogtax.quote".
    pub function: String,
    pub label: Text,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("service definition {id:?}: {message}")]
pub struct DefinitionError {
    pub id: String,
    pub message: String,
}

fn is_slug_like(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 60
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_name_like(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 60
        && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl ServiceDefinition {
    /// Parses and checks a definition: every text in three languages, unique names, conditions
    /// and option sources that point at something, a schema that compiles.
    pub fn parse(json: &str) -> Result<ServiceDefinition, DefinitionError> {
        let def: ServiceDefinition = serde_json::from_str(json).map_err(|e| DefinitionError {
            id: serde_json::from_str::<Value>(json)
                .ok()
                .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default(),
            message: e.to_string(),
        })?;
        def.check()?;
        Ok(def)
    }

    /// The JSON Schema, compiled on first use and kept.
    pub(crate) fn validator(&self) -> Result<&jsonschema::Validator, &str> {
        self.compiled_schema
            .0
            .get_or_init(|| jsonschema::draft202012::new(&self.schema).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(String::as_str)
    }

    fn err(&self, message: impl Into<String>) -> DefinitionError {
        DefinitionError {
            id: self.id.clone(),
            message: message.into(),
        }
    }

    fn check(&self) -> Result<(), DefinitionError> {
        if !is_slug_like(&self.id) {
            return Err(self.err("id must consist of lower-case letters, digits and hyphens"));
        }
        if self.version == 0 {
            return Err(self.err("version starts at 1"));
        }
        if !(2..=5).contains(&self.reference_prefix.len())
            || !self
                .reference_prefix
                .bytes()
                .all(|b| b.is_ascii_uppercase())
        {
            return Err(self.err("reference_prefix must be 2 to 5 capital letters"));
        }
        for (name, t) in [
            ("title", &self.title),
            ("summary", &self.summary),
            ("description", &self.description),
            ("requirements", &self.requirements),
            ("costs", &self.costs),
            ("legal_basis", &self.legal_basis),
            ("privacy", &self.privacy),
        ] {
            if !t.is_complete() {
                return Err(self.err(format!(
                    "{name} needs a German, English and Leichte-Sprache text"
                )));
            }
        }
        if self.steps.is_empty() {
            return Err(self.err("a service needs at least one step"));
        }
        let params: HashSet<&str> = self.parameters.iter().map(|p| p.name.as_str()).collect();
        if params.len() != self.parameters.len() {
            return Err(self.err("parameter names must be unique"));
        }
        let mut step_ids = HashSet::new();
        let mut names: HashSet<String> = HashSet::new();
        for step in &self.steps {
            if !is_slug_like(&step.id) || !step_ids.insert(step.id.as_str()) {
                return Err(self.err(format!("step id {:?} is invalid or used twice", step.id)));
            }
            if !step.title.is_complete() {
                return Err(self.err(format!("step {:?}: title needs three languages", step.id)));
            }
            if let Some(r) = &step.repeat {
                if !is_name_like(&r.name) || !names.insert(r.name.clone()) {
                    return Err(self.err(format!(
                        "step {:?}: repeat name {:?} is invalid or used twice",
                        step.id, r.name
                    )));
                }
                if r.min > r.max || r.max == 0 || r.max > 100 {
                    return Err(self.err(format!(
                        "step {:?}: repeat needs 0 <= min <= max <= 100 and max >= 1",
                        step.id
                    )));
                }
            }
            for f in &step.fields {
                self.check_field(step, f, &params)?;
                let key = match &step.repeat {
                    Some(r) => format!("{}.{}", r.name, f.name),
                    None => f.name.clone(),
                };
                if f.holds_value() && !names.insert(key) {
                    return Err(self.err(format!("field {:?} is defined twice", f.name)));
                }
            }
        }
        // Conditions may only look at fields that exist (in the same repeat item or top level).
        for step in &self.steps {
            let scope = |name: &str| {
                names.contains(name)
                    || step
                        .repeat
                        .as_ref()
                        .is_some_and(|r| names.contains(&format!("{}.{name}", r.name)))
            };
            let conds = step.show_when.iter().chain(
                step.fields
                    .iter()
                    .flat_map(|f| f.show_when.iter().chain(f.required_when.iter())),
            );
            for c in conds {
                for name in c.fields() {
                    if !scope(name) {
                        return Err(self.err(format!(
                            "step {:?}: a condition refers to unknown field {name:?}",
                            step.id
                        )));
                    }
                }
            }
        }
        for c in &self.computed {
            if !is_name_like(&c.name) || !c.label.is_complete() {
                return Err(self.err(format!(
                    "computed value {:?} needs a name and a label in three languages",
                    c.name
                )));
            }
        }
        if let Some(f) = &self.contact_email_field
            && !self.steps.iter().any(|s| {
                s.repeat.is_none()
                    && s.fields
                        .iter()
                        .any(|x| &x.name == f && x.kind == FieldKind::Email)
            })
        {
            return Err(self.err(format!(
                "contact_email_field {f:?} is not an e-mail field outside a repeated step"
            )));
        }
        if let Some(f) = &self.applicant_name_field
            && !self.steps.iter().any(|s| {
                s.repeat.is_none()
                    && s.fields
                        .iter()
                        .any(|x| &x.name == f && x.kind == FieldKind::Text)
            })
        {
            return Err(self.err(format!(
                "applicant_name_field {f:?} is not a text field outside a repeated step"
            )));
        }
        if let Some(n) = &self.notice {
            let texts = [
                &n.approved.subject,
                &n.approved.body,
                &n.rejected.subject,
                &n.rejected.body,
                &n.legal_remedy,
            ];
            if texts.iter().any(|t| !t.is_complete()) {
                return Err(self.err("notice texts need German, English and Leichte Sprache"));
            }
        }
        if !self.schema.is_object() {
            return Err(self.err("schema must be a JSON Schema object"));
        }
        self.validator()
            .map_err(|e| self.err(format!("schema does not compile: {e}")))?;
        Ok(())
    }

    fn check_field(
        &self,
        step: &Step,
        f: &Field,
        params: &HashSet<&str>,
    ) -> Result<(), DefinitionError> {
        let at = format!("step {:?}, field {:?}", step.id, f.name);
        if !is_name_like(&f.name) {
            return Err(self.err(format!(
                "{at}: names are lower-case letters, digits and underscores"
            )));
        }
        if !f.label.is_complete() || f.hint.as_ref().is_some_and(|h| !h.is_complete()) {
            return Err(self.err(format!("{at}: label and hint need three languages")));
        }
        if f.kind.has_options() {
            match &f.options_param {
                Some(p) if !params.contains(p.as_str()) => {
                    return Err(self.err(format!("{at}: options_param {p:?} is not a parameter")));
                }
                None if f.options.is_empty() => {
                    return Err(self.err(format!("{at}: needs options or options_param")));
                }
                _ => {}
            }
            let mut seen = HashSet::new();
            for o in &f.options {
                if o.value.is_empty() || !seen.insert(&o.value) || !o.label.is_complete() {
                    return Err(self.err(format!(
                        "{at}: option values must be unique and labelled in three languages"
                    )));
                }
            }
        }
        if f.kind == FieldKind::Attachment {
            if f.accept.is_empty() || f.max_bytes.is_none() || f.max_count.is_none() {
                return Err(self.err(format!(
                    "{at}: attachments need accept, max_bytes and max_count"
                )));
            }
            for a in &f.accept {
                if crate::upload::FileKind::from_code(a).is_none() {
                    return Err(self.err(format!("{at}: unknown file kind {a:?}")));
                }
            }
        }
        Ok(())
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    pub fn parameter(&self, name: &str) -> Option<&ParameterDef> {
        self.parameters.iter().find(|p| p.name == name)
    }

    /// The parameters with the definition's defaults, overridden by the municipality's values.
    pub fn effective_parameters(
        &self,
        overrides: &serde_json::Map<String, Value>,
    ) -> serde_json::Map<String, Value> {
        self.parameters
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    overrides
                        .get(&p.name)
                        .cloned()
                        .unwrap_or_else(|| p.default.clone()),
                )
            })
            .collect()
    }
}
