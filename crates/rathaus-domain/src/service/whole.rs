//! Data handed in as a whole (the submission API) rather than step by step in the portal.
//!
//! It passes the portal's own rules: each step's values are read as if they had been typed into
//! that step's form, so options, formats, bounds and conditions are exactly the same, and the
//! result is the data the portal would have stored. Beyond that, nothing is dropped silently:
//! a property the form does not have, a value of the wrong JSON type, an answer to a question
//! that the other answers hide, or a file (files are uploaded in the portal only) is an error.

use jsonschema::paths::LocationSegment;
use serde_json::{Map, Value};

use super::condition::{Scope, is_filled};
use super::definition::{Access, Field, FieldKind, ServiceDefinition, Step};
use super::form::{Context, FieldError, FormInput, apply_step, field_visible};
use super::text::Text;

impl ServiceDefinition {
    /// Whether data may be handed in without the portal: the service is open to anyone without
    /// an account, and the portal shows nothing computed before submitting (a fee, a tax
    /// preview, the text of a SEPA mandate with its reference), which the citizen has to have
    /// seen for the submission to mean what it says.
    pub fn open_to_direct_submission(&self) -> bool {
        self.access == Access::Anonymous && self.computed.is_empty()
    }

    /// Checks data handed in as a whole, by the rules of the steps and then against the JSON
    /// Schema; returns the data as the portal would have stored it, or every problem, each
    /// naming its field (`street`, `dogs[0].kept_from`; empty for the data as a whole).
    pub fn check_whole(&self, data: &Value, ctx: &Context<'_>) -> Result<Value, Vec<FieldError>> {
        let Some(root) = data.as_object() else {
            return Err(vec![FieldError {
                field: String::new(),
                message: Text::new(
                    "Die Angaben müssen ein JSON-Objekt sein.",
                    "The data must be a JSON object.",
                    "Die Angaben müssen ein JSON-Objekt sein.",
                ),
            }]);
        };
        let mut errors = Vec::new();
        for name in root.keys() {
            if !self.has_value_named(name) {
                errors.push(unknown(name.clone()));
            }
        }
        let mut out = Value::Object(Map::new());
        for step in &self.steps {
            let visible = self.step_visible(step, data);
            match &step.repeat {
                None => {
                    if !visible {
                        errors.extend(
                            answered(step, root)
                                .filter(|f| is_filled(root.get(&f.name)))
                                .map(|f| not_asked(f.name.clone(), &f.label)),
                        );
                        continue;
                    }
                    let Some(input) = form_input(step, root, "", &mut errors) else {
                        continue;
                    };
                    match apply_step(step, None, &out, &input, ctx) {
                        Ok(new) => {
                            errors.extend(hidden(step, root, &new, &new, ""));
                            out = new;
                        }
                        Err(e) => errors.extend(e),
                    }
                }
                Some(r) => {
                    let items = match root.get(&r.name) {
                        None => Vec::new(),
                        Some(Value::Array(items)) => items.clone(),
                        Some(_) => {
                            errors.push(wrong_type(r.name.clone(), "a list", "eine Liste"));
                            continue;
                        }
                    };
                    if !visible {
                        if !items.is_empty() {
                            errors.push(not_asked(r.name.clone(), &r.item_title));
                        }
                        continue;
                    }
                    if items.len() > r.max as usize {
                        errors.push(count_error(&r.name, "höchstens", "at most", r.max));
                        continue;
                    }
                    for (i, item) in items.iter().enumerate() {
                        let prefix = format!("{}[{i}].", r.name);
                        let Some(obj) = item.as_object() else {
                            errors.push(wrong_type(
                                format!("{}[{i}]", r.name),
                                "an object",
                                "ein Objekt",
                            ));
                            continue;
                        };
                        for name in obj.keys() {
                            if !step
                                .fields
                                .iter()
                                .any(|f| &f.name == name && f.holds_value())
                            {
                                errors.push(unknown(format!("{prefix}{name}")));
                            }
                        }
                        let Some(input) = form_input(step, obj, &prefix, &mut errors) else {
                            continue;
                        };
                        match apply_step(step, Some(i), &out, &input, ctx) {
                            Ok(new) => {
                                let stored = new
                                    .get(&r.name)
                                    .and_then(|list| list.get(i))
                                    .cloned()
                                    .unwrap_or(Value::Null);
                                errors.extend(hidden(step, obj, &stored, &new, &prefix));
                                out = new;
                            }
                            Err(e) => errors.extend(e.into_iter().map(|mut e| {
                                e.field = format!("{prefix}{}", e.field);
                                e
                            })),
                        }
                    }
                    if items.len() < r.min as usize {
                        errors.push(count_error(&r.name, "mindestens", "at least", r.min));
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // The schema may say more than the fields' rules (a pattern, a type). Checked second, as
        // the portal does, so that its view of broken answers (a `then` that requires a street
        // while the kind of location is missing) does not add noise to the rules' own errors.
        let errors = self.schema_field_errors(data);
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// Whether a field outside repeated steps, or the list of a repeated step, has this name.
    fn has_value_named(&self, name: &str) -> bool {
        self.steps.iter().any(|s| match &s.repeat {
            Some(r) => r.name == name,
            None => s.fields.iter().any(|f| f.holds_value() && f.name == name),
        })
    }

    /// The data's misfits with the JSON Schema, each at its field, in words that do not repeat
    /// the value.
    pub fn schema_field_errors(&self, data: &Value) -> Vec<FieldError> {
        let Ok(validator) = self.validator() else {
            return vec![FieldError {
                field: String::new(),
                message: super::flow::schema_mismatch_message(),
            }];
        };
        validator
            .iter_errors(data)
            .flat_map(|e| {
                let at = e
                    .instance_path()
                    .segments()
                    .fold(String::new(), |mut acc, s| {
                        match s {
                            LocationSegment::Index(i) => acc.push_str(&format!("[{i}]")),
                            LocationSegment::Property(p) if acc.is_empty() => acc.push_str(&p),
                            LocationSegment::Property(p) => acc.push_str(&format!(".{p}")),
                        }
                        acc
                    });
                let child = |name: &str| {
                    if at.is_empty() {
                        name.to_owned()
                    } else {
                        format!("{at}.{name}")
                    }
                };
                let fields = match e.kind() {
                    jsonschema::error::ValidationErrorKind::Required { property } => {
                        vec![child(property.as_str().unwrap_or_default())]
                    }
                    jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                        unexpected.iter().map(|p| child(p)).collect()
                    }
                    _ => vec![at.clone()],
                };
                let keyword = e.kind().keyword().to_owned();
                let masked = e.masked().to_string();
                fields.into_iter().map(move |field| FieldError {
                    field,
                    message: Text::new(
                        format!("Passt nicht zum JSON-Schema des Dienstes (Regel „{keyword}“)."),
                        format!("Does not fit the service's JSON Schema: {masked}."),
                        format!("Passt nicht zum JSON-Schema des Dienstes (Regel „{keyword}“)."),
                    ),
                })
            })
            .collect()
    }
}

/// The fields of a step that the data answers.
fn answered<'s>(step: &'s Step, values: &Map<String, Value>) -> impl Iterator<Item = &'s Field> {
    step.fields
        .iter()
        .filter(|f| f.holds_value() && values.contains_key(&f.name))
}

/// The step's values as the portal's form would have posted them; `None` (with the errors noted)
/// when a value has the wrong JSON type.
fn form_input(
    step: &Step,
    values: &Map<String, Value>,
    prefix: &str,
    errors: &mut Vec<FieldError>,
) -> Option<FormInput> {
    let mut pairs = Vec::new();
    let mut ok = true;
    for f in answered(step, values) {
        let value = &values[&f.name];
        let field = format!("{prefix}{}", f.name);
        let raw: Result<Vec<String>, FieldError> = match (f.kind, value) {
            (FieldKind::Attachment, Value::Array(a)) if a.is_empty() => Ok(Vec::new()),
            (FieldKind::Attachment, _) => Err(FieldError {
                field,
                message: Text::new(
                    format!(
                        "„{}“: Dateien können nur im Portal hochgeladen werden, nicht mit diesen Angaben.",
                        f.label.de
                    ),
                    format!(
                        "“{}”: files can only be uploaded in the portal, not with this data.",
                        f.label.en
                    ),
                    format!(
                        "„{}“: Dateien können Sie nur im Portal hochladen.",
                        f.label.ls
                    ),
                ),
            }),
            (FieldKind::Checkbox, Value::Bool(b)) => Ok(if *b {
                vec!["true".to_owned()]
            } else {
                Vec::new()
            }),
            (FieldKind::Checkbox, _) => Err(wrong_type(field, "true or false", "true oder false")),
            (FieldKind::Checkboxes, Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| wrong_type(field, "a list of texts", "eine Liste von Texten")),
            (FieldKind::Checkboxes, _) => Err(wrong_type(
                field,
                "a list of texts",
                "eine Liste von Texten",
            )),
            (FieldKind::Integer, Value::Number(n)) if n.is_i64() => Ok(vec![n.to_string()]),
            (FieldKind::Integer, _) => Err(wrong_type(field, "a whole number", "eine ganze Zahl")),
            (_, Value::String(s)) => Ok(vec![s.clone()]),
            (_, _) => Err(wrong_type(field, "a text", "ein Text")),
        };
        match raw {
            Ok(raw) => pairs.extend(raw.into_iter().map(|v| (f.name.clone(), v))),
            Err(e) => {
                errors.push(e);
                ok = false;
            }
        }
    }
    ok.then(|| FormInput::new(pairs))
}

/// Answers given to fields that the step's other answers hide (the portal drops them).
fn hidden(
    step: &Step,
    values: &Map<String, Value>,
    stored: &Value,
    root: &Value,
    prefix: &str,
) -> Vec<FieldError> {
    let scope = Scope {
        item: step.repeat.as_ref().map(|_| stored),
        root,
    };
    answered(step, values)
        .filter(|f| is_filled(values.get(&f.name)) && !field_visible(f, &scope))
        .map(|f| not_asked(format!("{prefix}{}", f.name), &f.label))
        .collect()
}

fn not_asked(field: String, label: &Text) -> FieldError {
    FieldError {
        field,
        message: Text::new(
            format!(
                "„{}“ wird bei diesen Angaben nicht gefragt; lassen Sie es weg.",
                label.de
            ),
            format!(
                "“{}” is not asked with these answers; leave it out.",
                label.en
            ),
            format!("„{}“ brauchen wir hier nicht.", label.ls),
        ),
    }
}

fn unknown(field: String) -> FieldError {
    FieldError {
        field,
        message: Text::new(
            "Dieses Feld gibt es in diesem Dienst nicht.",
            "This service has no such field.",
            "Dieses Feld gibt es hier nicht.",
        ),
    }
}

fn wrong_type(field: String, en: &str, de: &str) -> FieldError {
    FieldError {
        field,
        message: Text::new(
            format!("Der Wert muss {de} sein."),
            format!("The value must be {en}."),
            format!("Der Wert muss {de} sein."),
        ),
    }
}

fn count_error(list: &str, de: &str, en: &str, n: u32) -> FieldError {
    FieldError {
        field: list.to_owned(),
        message: Text::new(
            format!("Geben Sie {de} {n} an."),
            format!("Give {en} {n}."),
            format!("Sie müssen {de} {n} angeben."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};
    use time::macros::date;

    use super::super::{Context, FormInput, ServiceDefinition, apply_step};

    fn def(json: &str) -> ServiceDefinition {
        ServiceDefinition::parse(json).expect("shipped definition parses")
    }

    fn mm() -> ServiceDefinition {
        def(include_str!("../../../../services/maengelmelder.json"))
    }

    fn check(def: &ServiceDefinition, data: &Value) -> Result<Value, Vec<(String, String)>> {
        let params = def.effective_parameters(&Map::new());
        let ctx = Context {
            params: &params,
            today: date!(2026 - 11 - 25),
        };
        def.check_whole(data, &ctx)
            .map_err(|e| e.into_iter().map(|e| (e.field, e.message.en)).collect())
    }

    fn fields(r: Result<Value, Vec<(String, String)>>) -> Vec<String> {
        let mut f: Vec<String> = r.unwrap_err().into_iter().map(|(f, _)| f).collect();
        f.sort();
        f
    }

    fn report() -> Value {
        json!({"category": "strasse", "description": "Tiefes Schlagloch vor Nr. 12",
               "location_kind": "address", "street": "Hauptstraße 1", "privacy_ack": true})
    }

    #[test]
    fn whole_data_becomes_what_the_portal_stores_step_by_step() {
        let d = mm();
        let whole = check(&d, &report()).unwrap();
        let params = d.effective_parameters(&Map::new());
        let ctx = Context {
            params: &params,
            today: date!(2026 - 11 - 25),
        };
        let mut portal = json!({});
        for (step, pairs) in [
            (
                "mangel",
                vec![
                    ("category", "strasse"),
                    ("description", "Tiefes Schlagloch vor Nr. 12"),
                ],
            ),
            (
                "ort",
                vec![("location_kind", "address"), ("street", "Hauptstraße 1")],
            ),
            ("foto", vec![]),
            ("kontakt", vec![("privacy_ack", "true")]),
        ] {
            let input = FormInput::new(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
            );
            portal = apply_step(d.step(step).unwrap(), None, &portal, &input, &ctx).unwrap();
        }
        assert_eq!(whole, portal);
        assert!(d.first_incomplete(&whole, &ctx).is_none());
        // An empty list of files is no file.
        let mut with_no_photos = report();
        with_no_photos["photos"] = json!([]);
        assert_eq!(check(&d, &with_no_photos).unwrap(), portal);
    }

    #[test]
    fn every_broken_rule_names_its_field() {
        let d = mm();
        let r = check(
            &d,
            &json!({"category": "vip", "description": "kurz", "email": "nicht-erreichbar",
                    "privacy_ack": false, "colour": "rot"}),
        );
        assert_eq!(
            fields(r),
            [
                "category",
                "colour",
                "description",
                "email",
                "location_kind",
                "privacy_ack"
            ]
        );
        let r = check(&d, &json!({"description": "kurz"})).unwrap_err();
        assert!(
            r.iter()
                .any(|(f, m)| f == "description" && m.contains("at least 10 characters")),
            "{r:?}"
        );
        assert_eq!(fields(check(&d, &json!([1, 2]))), [""]);
    }

    #[test]
    fn values_of_the_wrong_type_hidden_answers_and_files_are_refused() {
        let d = mm();
        let with = |k: &str, v: Value| {
            let mut r = report();
            r[k] = v;
            r
        };
        assert_eq!(
            fields(check(&d, &with("privacy_ack", json!("true")))),
            ["privacy_ack"]
        );
        assert_eq!(
            fields(check(&d, &with("description", json!(42)))),
            ["description"]
        );
        assert_eq!(fields(check(&d, &with("street", Value::Null))), ["street"]);
        // Coordinates are not asked for an address; the portal would have dropped them.
        let r = check(&d, &with("latitude", json!("52.65"))).unwrap_err();
        assert_eq!(r[0].0, "latitude");
        assert!(r[0].1.contains("not asked"), "{r:?}");
        let r = check(&d, &with("photos", json!(["att-1"]))).unwrap_err();
        assert_eq!(r[0].0, "photos");
        assert!(r[0].1.contains("only be uploaded in the portal"), "{r:?}");
    }

    #[test]
    fn the_schema_holds_where_the_portal_would_forgive() {
        let d = mm();
        let mut r = report();
        r["location_kind"] = json!("coordinates");
        r.as_object_mut().unwrap().remove("street");
        r["latitude"] = json!("52.6543");
        r["longitude"] = json!("13.5432");
        assert!(check(&d, &r).is_ok());
        // The portal reads "52,6543" from a German keyboard; the published schema asks for a dot.
        r["latitude"] = json!("52,6543");
        let e = check(&d, &r).unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].0, "latitude");
        assert!(
            !e[0].1.contains("52,6543"),
            "the value is not repeated: {e:?}"
        );
    }

    #[test]
    fn items_of_repeated_steps_are_named_by_position() {
        let d = def(include_str!(
            "../../../../services/hundesteuer-anmeldung.json"
        ));
        let dog = json!({"dog_name": "Bello", "breed": "Mischling", "kept_from": "2026-11-01"});
        let base = json!({"holder_name": "Erika Mustermann", "street": "Hauptstraße 1",
            "postcode": "16341", "city": "Panketal", "email": "erika@example.org",
            "payment_method": "transfer", "truthful": true, "privacy_ack": true});
        let mut data = base.clone();
        data["dogs"] =
            json!([dog.clone(), {"dog_name": "Rex", "kept_from": "01.13.2026", "tail": 1}]);
        assert_eq!(
            fields(check(&d, &data)),
            ["dogs[1].breed", "dogs[1].kept_from", "dogs[1].tail"]
        );
        let mut data = base.clone();
        data["dogs"] = json!([]);
        assert_eq!(fields(check(&d, &data)), ["dogs"]);
        data["dogs"] = json!([dog]);
        let stored = check(&d, &data).unwrap();
        assert_eq!(stored["dogs"][0]["dog_name"], "Bello");
        assert!(
            !d.open_to_direct_submission(),
            "the registration shows the tax and the SEPA mandate before submitting"
        );
        assert!(mm().open_to_direct_submission());
    }
}
