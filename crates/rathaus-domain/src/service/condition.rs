//! Conditions that show or require fields depending on earlier answers.
//!
//! ```json
//! {"field": "location_kind", "equals": "address"}
//! {"field": "exemption", "in": ["assistance", "shelter"]}
//! {"field": "email", "filled": true}
//! {"all": [ … ]}   {"any": [ … ]}   {"not": { … }}
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Condition {
    All { all: Vec<Condition> },
    Any { any: Vec<Condition> },
    Not { not: Box<Condition> },
    Field(FieldTest),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldTest {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Value>,
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filled: Option<bool>,
}

/// Where a condition looks up values: the current item of a repeated step first, then the top
/// level of the data.
pub struct Scope<'a> {
    pub item: Option<&'a Value>,
    pub root: &'a Value,
}

impl Scope<'_> {
    fn lookup(&self, name: &str) -> Option<&Value> {
        self.item
            .and_then(|i| i.get(name))
            .or_else(|| self.root.get(name))
    }
}

pub fn is_filled(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Bool(b)) => *b,
        Some(_) => true,
    }
}

impl Condition {
    pub fn holds(&self, scope: &Scope<'_>) -> bool {
        match self {
            Condition::All { all } => all.iter().all(|c| c.holds(scope)),
            Condition::Any { any } => any.iter().any(|c| c.holds(scope)),
            Condition::Not { not } => !not.holds(scope),
            Condition::Field(t) => {
                let v = scope.lookup(&t.field);
                let equals = t
                    .equals
                    .as_ref()
                    .is_none_or(|e| v == Some(e) || contains(v, e));
                let one_of = t
                    .one_of
                    .as_ref()
                    .is_none_or(|set| set.iter().any(|e| v == Some(e) || contains(v, e)));
                let filled = t.filled.is_none_or(|want| is_filled(v) == want);
                equals && one_of && filled
            }
        }
    }

    /// The field names this condition reads.
    pub fn fields(&self) -> Vec<&str> {
        match self {
            Condition::All { all } => all.iter().flat_map(Condition::fields).collect(),
            Condition::Any { any } => any.iter().flat_map(Condition::fields).collect(),
            Condition::Not { not } => not.fields(),
            Condition::Field(t) => vec![t.field.as_str()],
        }
    }
}

/// A checkbox group "equals" a value when the value is among the ticked ones.
fn contains(v: Option<&Value>, e: &Value) -> bool {
    matches!(v, Some(Value::Array(a)) if a.contains(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(v: Value) -> Condition {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn evaluates_against_item_then_root() {
        let root = json!({"payment": "sepa", "dogs": [{"exemption": "shelter"}]});
        let item = json!({"exemption": "shelter"});
        let s = Scope {
            item: Some(&item),
            root: &root,
        };
        assert!(cond(json!({"field": "payment", "equals": "sepa"})).holds(&s));
        assert!(cond(json!({"field": "exemption", "in": ["assistance", "shelter"]})).holds(&s));
        assert!(!cond(json!({"field": "exemption", "equals": "assistance"})).holds(&s));
        assert!(cond(json!({"not": {"field": "missing", "filled": true}})).holds(&s));
        assert!(cond(json!({"all": [{"field": "payment", "filled": true}, {"any": [{"field": "x", "equals": 1}, {"field": "payment", "equals": "sepa"}]}]})).holds(&s));
        let checks = json!({"topics": ["a", "b"]});
        assert!(
            cond(json!({"field": "topics", "equals": "b"})).holds(&Scope {
                item: None,
                root: &checks
            })
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(serde_json::from_value::<Condition>(json!({"field": "x", "equal": 1})).is_err());
    }
}
