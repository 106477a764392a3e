//! Expectations: what the bug report claims for each lane, variant and step, and how a step's name is spelt.

use std::borrow::Cow;

use indexmap::IndexMap;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::classify::Class;
use crate::words::Lane;

/// lane -> variant -> step -> expectation.
pub type Expectations = IndexMap<Lane, IndexMap<String, IndexMap<String, Expectation>>>;

/// What one step is expected to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Expectation {
    /// One result for the whole step.
    Whole(Expected),
    /// One result per stage of a layer probe: `{activate: ok, ..., bind: bindflt-access-denied}`.
    Stages(IndexMap<String, Expected>),
}

/// `ok`, `observe` (record without judging: only a real run can answer), or the outcome class the step fails with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expected {
    Ok,
    Observe,
    Fails(Class),
}

impl Expected {
    /// Parses `ok`, `observe` or a class name. A name that is no built-in class's is read as a declared class, for
    /// loading to check against the scenario's declarations (`scenario::classes::resolve`): the declarations are
    /// read after the expectations.
    pub fn parse(text: &str) -> Option<Expected> {
        match text {
            "ok" => Some(Expected::Ok),
            "observe" => Some(Expected::Observe),
            "none" => None,
            other => match Class::from_name(other) {
                Some(class) => Some(Expected::Fails(class)),
                None if crate::classify::declared::is_class_name(other) => {
                    Some(Expected::Fails(Class::declared(other, false)))
                }
                None => None,
            },
        }
    }

    /// The spelling in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Expected::Ok => "ok",
            Expected::Observe => "observe",
            Expected::Fails(class) => class.as_str(),
        }
    }
}

impl<'de> Deserialize<'de> for Expectation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Expectation, D::Error> {
        struct ExpectationVisitor;
        impl<'de> serde::de::Visitor<'de> for ExpectationVisitor {
            type Value = Expectation;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`ok`, `observe`, an outcome class, or a mapping of layer stages to those")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Expectation, E> {
                Expected::parse(text)
                    .map(Expectation::Whole)
                    .ok_or_else(|| E::custom(not_an_expectation(text)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Expectation, A::Error> {
                let mut stages = IndexMap::new();
                while let Some((stage, expected)) = map.next_entry::<String, Expected>()? {
                    stages.insert(stage, expected);
                }
                Ok(Expectation::Stages(stages))
            }
        }
        deserializer.deserialize_any(ExpectationVisitor)
    }
}

/// A word that cannot be a class name (not kebab-case, or `none`): every value the file may write instead.
fn not_an_expectation(text: &str) -> String {
    let built_in: Vec<&str> = Class::ALL.iter().map(|c| c.as_str()).collect();
    format!(
        "`{text}` is not an expectation: write `ok`, `observe`, a built-in class ({}) or a class declared under `classes:`",
        built_in.join(", ")
    )
}

impl Serialize for Expected {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Expected {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Expected, D::Error> {
        let text = String::deserialize(deserializer)?;
        Expected::parse(&text).ok_or_else(|| serde::de::Error::custom(not_an_expectation(&text)))
    }
}

impl JsonSchema for Expected {
    fn schema_name() -> Cow<'static, str> {
        "Expected".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = ["ok", "observe"]
            .into_iter()
            .chain(Class::ALL.iter().map(|c| c.as_str()))
            .collect();
        json_schema!({
            "description": "`ok`, `observe` (record without judging), or the outcome class the step fails with: a built-in one, or one the scenario's `classes:` or its repository's `classes/` files declare.",
            "type": "string",
            "anyOf": [
                {"enum": names},
                {"pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"},
            ],
        })
    }
}

/// What the scenario expects of `step` in `case`: for a staged expectation, that of its last stage (a layer probe
/// stops at the first stage that fails, so the step's result is that stage's). The offline lane's `render` is
/// expected to succeed unless the scenario says otherwise.
pub fn expectation(case: &crate::scenario::matrix::Case, step: &str) -> Option<Expected> {
    let scenario = &case.loaded.scenario;
    let declared_in = |expect: &'_ Expectations| {
        expect
            .get(&case.lane)
            .and_then(|variants| variants.get(&case.variant))
            .and_then(|steps| steps.get(step))
            .cloned()
    };
    let matching = scenario.overrides.iter().rev().filter(|o| {
        o.when.iter().all(|(axis, requirement)| {
            let requirement = crate::scenario::version::Requirement::parse(requirement);
            case.cell
                .get(axis)
                .is_some_and(|value| requirement.is_ok_and(|r| r.matches(value)))
        })
    });
    let declared = matching
        .filter_map(|o| declared_in(&o.expect))
        .next()
        .or_else(|| declared_in(&scenario.expect));
    match declared {
        Some(Expectation::Whole(expected)) => Some(expected),
        Some(Expectation::Stages(stages)) => stages.values().last().copied(),
        None if case.lane == Lane::Offline && step == "render" => Some(Expected::Ok),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::scenario::{error::Source, from_source, matrix};

    #[test]
    fn an_override_decides_the_cells_it_selects_and_only_those() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/buildkit-6590.yaml");
        let text = std::fs::read_to_string(&path).unwrap().replace(
            "matrix:\n  buildkit: [v0.28.0]\n",
            "matrix:\n  buildkit: [v0.28.0]\n  containerd: [1.6.36, 1.7.29]\n",
        ) + "overrides:\n  - when: {containerd: \"<1.7\"}\n    reason: no silo before containerd 1.7\n    expect:\n      cluster:\n        reproduction:\n          build/hello: ok\n";
        let source = Arc::new(Source {
            name: "override.yaml".into(),
            text,
        });
        let loaded = from_source(&source, &path).unwrap_or_else(|e| panic!("{}", e.render()));
        let cases = matrix::cases(&loaded, &[Lane::Cluster]);
        let expected = |containerd: &str, step: &str| {
            let case = cases
                .iter()
                .find(|c| c.variant == "reproduction" && c.cell["containerd"] == containerd)
                .unwrap();
            expectation(case, step)
        };
        assert_eq!(expected("1.6.36", "build/hello"), Some(Expected::Ok));
        assert_eq!(
            expected("1.7.29", "build/hello"),
            Some(Expected::Fails(Class::BindfltAccessDenied))
        );
        // Steps the override does not name keep the scenario's expectation.
        assert_eq!(
            expected("1.6.36", "probe/bind-plain-dirs"),
            Some(Expected::Fails(Class::BindfltAccessDenied))
        );
    }
}
