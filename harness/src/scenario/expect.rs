//! Expectations: what the bug report claims for each lane, variant and step, and how a step's name is spelt.

use std::borrow::Cow;

use indexmap::IndexMap;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::classify::Class;
use crate::words::Lane;

/// lane -> variant -> step -> expectation.
pub type Expectations = IndexMap<Lane, IndexMap<String, IndexMap<String, Expectation>>>;

/// The stages of a layer probe, in the order containerd runs them.
pub const LAYER_STAGES: &[&str] = &["activate", "prepare", "get-mount-path", "bind"];

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
    /// Parses `ok`, `observe` or a class name.
    pub fn parse(text: &str) -> Option<Expected> {
        match text {
            "ok" => Some(Expected::Ok),
            "observe" => Some(Expected::Observe),
            other => Class::from_name(other).map(Expected::Fails),
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

fn not_an_expectation(text: &str) -> String {
    format!("`{text}` is not an expectation: write `ok`, `observe` or an outcome class such as `bindflt-access-denied`")
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
            "description": "`ok`, `observe` (record without judging), or the outcome class the step fails with.",
            "type": "string",
            "enum": names,
        })
    }
}
