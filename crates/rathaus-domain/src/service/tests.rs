use serde_json::{Map, Value, json};
use time::macros::date;

use super::flow::Position;
use super::*;

const MM: &str = include_str!("../../../../services/maengelmelder.json");

fn mm() -> ServiceDefinition {
    ServiceDefinition::parse(MM).expect("shipped definition parses")
}

fn input(pairs: &[(&str, &str)]) -> FormInput {
    FormInput::new(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn ctx(params: &Map<String, Value>) -> Context<'_> {
    Context {
        params,
        today: date!(2026 - 11 - 25),
    }
}

#[test]
fn shipped_defect_report_walks_through_and_validates() {
    let def = mm();
    let params = def.effective_parameters(&Map::new());
    let c = ctx(&params);
    let data = json!({});
    assert_eq!(
        def.first_position(&data),
        Position::Step {
            step: "mangel".into(),
            item: None
        }
    );

    // Missing and forged answers are named per field, in order, in all languages.
    let errs = apply_step(
        def.step("mangel").unwrap(),
        None,
        &data,
        &input(&[("category", "rathaus-abreissen"), ("description", "kurz")]),
        &c,
    )
    .unwrap_err();
    assert_eq!(
        errs.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
        vec!["category", "description"]
    );
    assert_eq!(
        errs[0].message.de,
        "Wählen Sie bei „Art des Mangels“ eine der angebotenen Antworten aus."
    );
    assert_eq!(
        errs[1].message.en,
        "“Description” must have at least 10 characters."
    );

    let data = apply_step(
        def.step("mangel").unwrap(),
        None,
        &data,
        &input(&[
            ("category", "strasse"),
            ("description", "Tiefes Schlagloch vor dem Haus"),
            ("status", "approved"),
        ]),
        &c,
    )
    .unwrap();
    assert_eq!(
        data,
        json!({"category": "strasse", "description": "Tiefes Schlagloch vor dem Haus"}),
        "unknown fields are ignored"
    );
    let pos = def.next_position(
        &Position::Step {
            step: "mangel".into(),
            item: None,
        },
        &data,
        false,
    );
    assert_eq!(
        pos,
        Position::Step {
            step: "ort".into(),
            item: None
        }
    );

    // Revealed fields are required; hidden ones are dropped.
    let ort = def.step("ort").unwrap();
    let errs = apply_step(
        ort,
        None,
        &data,
        &input(&[("location_kind", "coordinates"), ("street", "Hauptstraße")]),
        &c,
    )
    .unwrap_err();
    assert_eq!(
        errs.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
        vec!["latitude", "longitude"]
    );
    let errs = apply_step(
        ort,
        None,
        &data,
        &input(&[
            ("location_kind", "coordinates"),
            ("latitude", "99"),
            ("longitude", "13,5"),
        ]),
        &c,
    )
    .unwrap_err();
    assert_eq!(
        errs[0].message.de,
        "„Breitengrad“ darf höchstens 55,1 sein."
    );
    let data = apply_step(
        ort,
        None,
        &data,
        &input(&[
            ("location_kind", "coordinates"),
            ("latitude", "52,6543"),
            ("longitude", "13.5432"),
            ("street", "versteckt"),
        ]),
        &c,
    )
    .unwrap();
    assert_eq!(data["latitude"], "52.6543");
    assert!(data.get("street").is_none(), "hidden field dropped");

    // Switching to an address drops the coordinates.
    let data2 = apply_step(
        ort,
        None,
        &data,
        &input(&[
            ("location_kind", "address"),
            ("street", "Schönerlinder Straße"),
        ]),
        &c,
    )
    .unwrap();
    assert!(data2.get("latitude").is_none());

    let (pos, _) = def.first_incomplete(&data, &c).unwrap();
    assert_eq!(
        pos,
        Position::Step {
            step: "kontakt".into(),
            item: None
        },
        "photos are optional, consent is not"
    );
    let errs = apply_step(
        def.step("kontakt").unwrap(),
        None,
        &data,
        &input(&[("email", "not-an-address")]),
        &c,
    )
    .unwrap_err();
    assert_eq!(
        errs.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
        vec!["email", "privacy_ack"]
    );
    let data = apply_step(
        def.step("kontakt").unwrap(),
        None,
        &data,
        &input(&[("email", "erika@example.org"), ("privacy_ack", "true")]),
        &c,
    )
    .unwrap();
    assert!(def.first_incomplete(&data, &c).is_none());
    let pruned = def.prune(&data);
    assert!(
        def.schema_errors(&pruned).is_empty(),
        "{:?}",
        def.schema_errors(&pruned)
    );

    let s = summary(&def, &pruned, Lang::De, &params, &|_| None);
    assert_eq!(s[0].rows[0].value, vec!["Straße oder Gehweg beschädigt"]);
    assert_eq!(
        s[1].rows
            .iter()
            .find(|r| r.field == "latitude")
            .unwrap()
            .value,
        vec!["52,6543"]
    );
    let en = summary(&def, &pruned, Lang::En, &params, &|_| None);
    assert_eq!(
        en[3]
            .rows
            .iter()
            .find(|r| r.field == "privacy_ack")
            .unwrap()
            .value,
        vec!["Yes"]
    );
}

#[test]
fn forged_data_fails_the_schema() {
    let def = mm();
    let forged = json!({"category": "strasse", "description": "Schlagloch vor dem Haus", "location_kind": "address", "street": "X",
        "privacy_ack": true, "fee": 0});
    assert!(!def.schema_errors(&forged).is_empty());
    let pruned = def.prune(&forged);
    assert!(pruned.get("fee").is_none());
    assert!(def.schema_errors(&pruned).is_empty());
}

#[test]
fn municipality_parameters_replace_the_options() {
    let def = mm();
    let mut overrides = Map::new();
    overrides.insert("categories".into(), json!(["Schlagloch", "Laterne"]));
    let params = def.effective_parameters(&overrides);
    let c = ctx(&params);
    let step = def.step("mangel").unwrap();
    assert!(
        apply_step(
            step,
            None,
            &json!({}),
            &input(&[("category", "strasse"), ("description", "0123456789")]),
            &c
        )
        .is_err()
    );
    assert!(
        apply_step(
            step,
            None,
            &json!({}),
            &input(&[("category", "Laterne"), ("description", "0123456789")]),
            &c
        )
        .is_ok()
    );
}

fn repeat_def() -> ServiceDefinition {
    let t = |s: &str| json!({"de": s, "en": s, "ls": s});
    let def = json!({
        "id": "hunde", "version": 1, "title": t("Hunde"), "summary": t("s"), "description": t("d"), "requirements": t("r"),
        "duration_minutes": 10, "costs": t("c"), "legal_basis": t("l"), "privacy": t("p"),
        "access": {"level": "anonymous"}, "reference_prefix": "HST", "retention_days": 3650,
        "steps": [
            {"id": "halter", "title": t("Halter"), "fields": [
                {"name": "name", "kind": "text", "label": t("Name"), "required": true}]},
            {"id": "hund", "title": t("Hund"), "repeat": {"name": "dogs", "min": 1, "max": 3, "item_title": t("Hund {n}"), "add_another": t("Noch ein Hund?")},
             "fields": [
                {"name": "dog_name", "kind": "text", "label": t("Name des Hundes"), "required": true},
                {"name": "kept_from", "kind": "date", "label": t("Seit wann"), "required": true, "max_days_from_today": 0},
                {"name": "chip", "kind": "microchip", "label": t("Chipnummer")},
                {"name": "exemption", "kind": "select", "label": t("Befreiung"), "options": [{"value": "shelter", "label": t("Tierheim")}]},
                {"name": "proof", "kind": "attachment", "label": t("Nachweis"), "accept": ["pdf"], "max_bytes": 1000, "max_count": 1,
                 "show_when": {"field": "exemption", "filled": true}, "required_when": {"field": "exemption", "filled": true}}]},
            {"id": "zahlung", "title": t("Zahlung"), "fields": [
                {"name": "iban", "kind": "iban", "label": t("IBAN"), "required": true}]}
        ],
        "schema": {"type": "object"}
    });
    ServiceDefinition::parse(&def.to_string()).unwrap()
}

#[test]
fn repeated_steps_collect_items_and_ask_for_another() {
    let def = repeat_def();
    let params = Map::new();
    let c = ctx(&params);
    let data = apply_step(
        def.step("halter").unwrap(),
        None,
        &json!({}),
        &input(&[("name", "Erika")]),
        &c,
    )
    .unwrap();
    let pos = def.next_position(
        &Position::Step {
            step: "halter".into(),
            item: None,
        },
        &data,
        false,
    );
    assert_eq!(
        pos,
        Position::Step {
            step: "hund".into(),
            item: Some(0)
        }
    );
    let hund = def.step("hund").unwrap();
    let errs = apply_step(
        hund,
        Some(0),
        &data,
        &input(&[
            ("dog_name", "Bello"),
            ("kept_from", "2026-12-24"),
            ("chip", "12345"),
        ]),
        &c,
    )
    .unwrap_err();
    assert_eq!(
        errs.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
        vec!["kept_from", "chip"]
    );
    assert_eq!(
        errs[0].message.de,
        "„Seit wann“ darf nicht nach dem 25.11.2026 liegen."
    );
    let data = apply_step(
        hund,
        Some(0),
        &data,
        &input(&[("dog_name", "Bello"), ("kept_from", "10.05.2025")]),
        &c,
    )
    .unwrap();
    assert_eq!(data["dogs"][0]["kept_from"], "2025-05-10");
    let pos = def.next_position(
        &Position::Step {
            step: "hund".into(),
            item: Some(0),
        },
        &data,
        false,
    );
    assert_eq!(
        pos,
        Position::AddAnother {
            step: "hund".into()
        }
    );
    assert_eq!(
        def.next_position(&pos, &data, true),
        Position::Step {
            step: "hund".into(),
            item: Some(1)
        }
    );
    assert_eq!(
        def.next_position(&pos, &data, false),
        Position::Step {
            step: "zahlung".into(),
            item: None
        }
    );

    // An exemption reveals a required proof in the same item only.
    let errs = apply_step(
        hund,
        Some(1),
        &data,
        &input(&[
            ("dog_name", "Luna"),
            ("kept_from", "2026-03-10"),
            ("exemption", "shelter"),
        ]),
        &c,
    )
    .unwrap_err();
    assert_eq!(
        errs.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
        vec!["proof"]
    );

    let data = apply_step(
        def.step("zahlung").unwrap(),
        None,
        &data,
        &input(&[("iban", "DE02 1203 0000 0000 2020 51")]),
        &c,
    )
    .unwrap();
    assert_eq!(data["iban"], "DE02120300000000202051");
    assert!(def.first_incomplete(&data, &c).is_none());
    let without_dogs = def.remove_item(hund, 0, &data);
    assert_eq!(
        def.first_incomplete(&without_dogs, &c).map(|p| p.0),
        Some(Position::Step {
            step: "hund".into(),
            item: Some(0)
        })
    );
    let s = summary(&def, &data, Lang::De, &params, &|_| None);
    assert_eq!(
        s.iter().map(|x| x.title.as_str()).collect::<Vec<_>>(),
        vec!["Halter", "Hund 1", "Zahlung"]
    );
    assert_eq!(s[2].rows[0].value, vec!["DE02 1203 0000 0000 2020 51"]);
}

#[test]
fn definitions_with_mistakes_are_refused_with_a_reason() {
    let mut v: Value = serde_json::from_str(MM).unwrap();
    v["steps"][1]["fields"][1]["show_when"] = json!({"field": "nirgends", "equals": "x"});
    let e = ServiceDefinition::parse(&v.to_string()).unwrap_err();
    assert!(e.message.contains("unknown field \"nirgends\""), "{e}");

    let mut v: Value = serde_json::from_str(MM).unwrap();
    v["title"]["ls"] = json!("");
    assert!(
        ServiceDefinition::parse(&v.to_string())
            .unwrap_err()
            .message
            .contains("title")
    );

    let mut v: Value = serde_json::from_str(MM).unwrap();
    v["steps"][0]["fields"][0]["options_param"] = json!("gibt_es_nicht");
    assert!(ServiceDefinition::parse(&v.to_string()).is_err());

    let mut v: Value = serde_json::from_str(MM).unwrap();
    v["unexpected"] = json!(1);
    assert!(ServiceDefinition::parse(&v.to_string()).is_err());

    let mut v: Value = serde_json::from_str(MM).unwrap();
    v["schema"] = json!({"type": 12});
    assert!(
        ServiceDefinition::parse(&v.to_string())
            .unwrap_err()
            .message
            .contains("schema")
    );
}
