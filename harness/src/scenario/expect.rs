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
    /// How often a result comes over a step's `tries`: `{class: X, rate: ">= 0.9"}` or `{result: ok, rate: "<= 0.1"}`.
    Rate(Rate),
}

/// A rate expectation: the share of a step's tries that end with `of`, held against `bound` through the Wilson 95%
/// interval of that share (see `Bound::met_by`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// `ok`, or the class the tries fail with.
    pub of: Expected,
    pub bound: Bound,
}

/// `>= p` or `<= p`, with `p` in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    AtLeast(f64),
    AtMost(f64),
}

impl Eq for Rate {}

impl Bound {
    /// Parses `>= 0.9`, `<= 0.001`, `>=90%`.
    pub fn parse(text: &str) -> Result<Bound, String> {
        let trimmed = text.trim();
        let (make, rest): (fn(f64) -> Bound, &str) = if let Some(rest) = trimmed.strip_prefix(">=") {
            (Bound::AtLeast, rest)
        } else if let Some(rest) = trimmed.strip_prefix("<=") {
            (Bound::AtMost, rest)
        } else {
            return Err(format!(
                "`{text}` is not a rate: write `>=` or `<=` and a share of the tries, e.g. `>= 0.9` or `<= 0.001`"
            ));
        };
        let rest = rest.trim();
        let value = match rest.strip_suffix('%') {
            Some(percent) => percent.trim().parse::<f64>().map(|v| v / 100.0),
            None => rest.parse::<f64>(),
        };
        match value {
            Ok(value) if (0.0..=1.0).contains(&value) => Ok(make(value)),
            _ => Err(format!(
                "`{text}` is not a rate: the share must be a number from 0 to 1 (or a percentage), e.g. `>= 0.9`"
            )),
        }
    }

    /// Whether the bound is met by a share whose Wilson 95% interval is [`low`, `high`]: `(met, conclusive)`.
    ///
    /// The interval decides, never the point estimate. `>= p` is met when the whole interval is at or above `p`
    /// (`low >= p`) and not met when the whole interval is below it (`high < p`); `<= p` is met when `high <= p` and
    /// not met when `low > p`. An interval that straddles `p` is inconclusive, and read as not met: a rate expectation
    /// is a gate, and a gate holds only when the tries show it holds; too few tries to tell is a reason to raise
    /// `tries`, not to pass. (Validation refuses a bound that the step's tries could never show met.)
    pub fn met_by(self, low: f64, high: f64) -> (bool, bool) {
        match self {
            Bound::AtLeast(p) if low >= p => (true, true),
            Bound::AtLeast(p) => (false, high < p),
            Bound::AtMost(p) if high <= p => (true, true),
            Bound::AtMost(p) => (false, low > p),
        }
    }

    pub fn value(self) -> f64 {
        match self {
            Bound::AtLeast(value) | Bound::AtMost(value) => value,
        }
    }
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bound::AtLeast(value) => write!(f, ">= {value}"),
            Bound::AtMost(value) => write!(f, "<= {value}"),
        }
    }
}

impl std::fmt::Display for Rate {
    /// `bindflt-access-denied >= 0.8`, `ok <= 0.1`: how reports name the claim.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.of.as_str(), self.bound)
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(2))?;
        match self.of {
            Expected::Fails(class) => map.serialize_entry("class", class.as_str())?,
            other => map.serialize_entry("result", other.as_str())?,
        }
        map.serialize_entry("rate", &self.bound.to_string())?;
        map.end()
    }
}

impl JsonSchema for Rate {
    fn schema_name() -> Cow<'static, str> {
        "Rate".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let class = generator.subschema_for::<Expected>();
        let rate = json_schema!({
            "description": "`>=` or `<=` and a share of the tries from 0 to 1 (or a percentage): met only when the Wilson 95% interval of the observed share lies wholly on the bound's side.",
            "type": "string",
            "pattern": "^\\s*(>=|<=)\\s*[0-9.]+\\s*%?\\s*$",
        });
        json_schema!({
            "description": "How often a result comes over the step's `tries`: `{class: X, rate: \">= 0.9\"}` or `{result: ok, rate: \"<= 0.1\"}`.",
            "oneOf": [
                {
                    "type": "object",
                    "properties": {"class": class, "rate": rate.clone()},
                    "required": ["class", "rate"],
                    "additionalProperties": false,
                },
                {
                    "type": "object",
                    "properties": {"result": {"const": "ok"}, "rate": rate},
                    "required": ["result", "rate"],
                    "additionalProperties": false,
                },
            ],
        })
    }
}

/// A mapping with `rate`: `class` or `result` and the rate, nothing else.
fn rate_of(entries: &IndexMap<String, String>) -> Result<Rate, String> {
    let bound = Bound::parse(&entries["rate"])?;
    if let Some(other) = entries
        .keys()
        .find(|k| !["rate", "class", "result"].contains(&k.as_str()))
    {
        return Err(format!(
            "`{other}` has no place in a rate expectation: write `{{class: <class>, rate: \">= 0.9\"}}` or `{{result: ok, rate: \">= 0.9\"}}`"
        ));
    }
    let of = match (entries.get("class"), entries.get("result")) {
        (Some(class), None) => match Expected::parse(class) {
            Some(Expected::Fails(class)) => Expected::Fails(class),
            _ => return Err(format!("`{class}` is not a class: {}", not_an_expectation(class))),
        },
        (None, Some(result)) if result == "ok" => Expected::Ok,
        (None, Some(result)) => {
            return Err(format!(
                "a rate's `result` is `ok`; for a failure write `{{class: {result}, rate: ...}}`"
            ));
        }
        _ => {
            return Err(
                "a rate expectation names what it counts: `class: <class>` or `result: ok`, one of the two".to_owned(),
            );
        }
    };
    Ok(Rate { of, bound })
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
                f.write_str("`ok`, `observe`, an outcome class, a rate (`{class: X, rate: \">= 0.9\"}`), or a mapping of layer stages to those")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Expectation, E> {
                Expected::parse(text)
                    .map(Expectation::Whole)
                    .ok_or_else(|| E::custom(not_an_expectation(text)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Expectation, A::Error> {
                let mut entries = IndexMap::new();
                while let Some((key, value)) = map.next_entry::<String, String>()? {
                    entries.insert(key, value);
                }
                if entries.contains_key("rate") {
                    return rate_of(&entries)
                        .map(Expectation::Rate)
                        .map_err(serde::de::Error::custom);
                }
                let mut stages = IndexMap::new();
                for (stage, expected) in entries {
                    let expected = Expected::parse(&expected)
                        .ok_or_else(|| serde::de::Error::custom(not_an_expectation(&expected)))?;
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
    match declared(case, step) {
        Some(Expectation::Whole(expected)) => Some(expected),
        Some(Expectation::Stages(stages)) => stages.values().last().copied(),
        Some(Expectation::Rate(rate)) => Some(rate.of),
        None if case.lane == Lane::Offline && step == "render" => Some(Expected::Ok),
        None => None,
    }
}

/// What the Linux twin of build step `step` (`build/<name>`) is expected to do: its own `expect`, else `observe`.
pub fn twin_expectation(case: &crate::scenario::matrix::Case, step: &str) -> Option<Expected> {
    let name = step.strip_prefix("build/")?;
    let twin = case.loaded.scenario.builds.get(name)?.twin.as_ref()?;
    Some(twin.expect.unwrap_or(Expected::Observe))
}

/// The rate the scenario expects of `step` in `case`, if its expectation is one.
pub fn rate(case: &crate::scenario::matrix::Case, step: &str) -> Option<Rate> {
    match declared(case, step) {
        Some(Expectation::Rate(rate)) => Some(rate),
        _ => None,
    }
}

/// What the scenario declares for `step` in `case`: the last matching override's, else `expect`'s.
fn declared(case: &crate::scenario::matrix::Case, step: &str) -> Option<Expectation> {
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
    matching
        .filter_map(|o| declared_in(&o.expect))
        .next()
        .or_else(|| declared_in(&scenario.expect))
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

    fn loaded(edit: impl Fn(String) -> String) -> Result<std::sync::Arc<crate::scenario::Loaded>, String> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/buildkit-6590.yaml");
        let source = Arc::new(Source {
            name: "rates.yaml".into(),
            text: edit(std::fs::read_to_string(&path).unwrap()),
        });
        from_source(&source, &path).map_err(|e| e.render())
    }

    fn with_tries(tries: u32, expectation: &str) -> impl Fn(String) -> String {
        let expectation = expectation.to_owned();
        move |text: String| {
            text.replace(
                "      dst: 'C:\\buildkitd\\dst-test'\n",
                &format!("      dst: 'C:\\buildkitd\\dst-test'\n      tries: {tries}\n"),
            )
            .replace(
                "      probe/bind-plain-dirs: bindflt-access-denied\n",
                &format!("      probe/bind-plain-dirs: {expectation}\n"),
            )
        }
    }

    #[test]
    fn a_rate_reads_naturally_and_is_checked_where_it_is_written() {
        let met = loaded(with_tries(20, r#"{class: bindflt-access-denied, rate: ">= 0.8"}"#)).unwrap();
        let case = matrix::cases(&met, &[Lane::Cluster])
            .into_iter()
            .find(|c| c.variant == "reproduction")
            .unwrap();
        let rate = rate(&case, "probe/bind-plain-dirs").unwrap();
        assert_eq!(rate.to_string(), "bindflt-access-denied >= 0.8");
        assert_eq!(met.scenario.probes["bind-plain-dirs"].tries(), 20);
        assert!(loaded(with_tries(40, r#"{result: ok, rate: "<= 10%"}"#)).is_ok());
        for (tries, written, said) in [
            (
                20,
                r#"{class: bindflt-access-denied, rate: ">= 0.9"}"#,
                "`>= 0.9` can never be met in 20 tries",
            ),
            (
                20,
                r#"{class: bindflt-access-denied, rate: ">= 0.9"}"#,
                "`tries: 35` or more",
            ),
            (
                1000,
                r#"{result: ok, rate: "<= 0.001"}"#,
                "no number of tries up to 1000",
            ),
            (
                20,
                r#"{class: bindflt-access-denied, rate: "about 0.9"}"#,
                "`about 0.9` is not a rate",
            ),
            (
                20,
                r#"{class: bindflt-access-denied, rate: ">= 1.5"}"#,
                "a number from 0 to 1",
            ),
            (
                20,
                r#"{result: bindflt-access-denied, rate: ">= 0.5"}"#,
                "write `{class: bindflt-access-denied",
            ),
            (20, r#"{rate: ">= 0.5"}"#, "`class: <class>` or `result: ok`"),
            (20, r#"{class: ok, rate: ">= 0.5"}"#, "`ok` is not a class"),
            (0, "bindflt-access-denied", "`tries: 0` is out of range"),
            (1001, "bindflt-access-denied", "`tries: 1001` is out of range"),
        ] {
            let rendered = loaded(with_tries(tries, written)).err().unwrap_or_default();
            assert!(rendered.contains(said), "{written}: {rendered}");
            assert!(rendered.contains("rates.yaml:"), "not located: {rendered}");
        }
        // A rate on a step that runs once.
        let rendered = loaded(|t| t.replace("      rollout: ok\n", "      rollout: {result: ok, rate: \">= 0.1\"}\n"))
            .err()
            .unwrap_or_default();
        assert!(rendered.contains("`rollout` runs once"), "{rendered}");
        // The host lane runs each probe once.
        let rendered = loaded(|t| {
            with_tries(20, "bindflt-access-denied")(t).replace(
                "    native:\n      probe/bind-plain-dirs: ok\n",
                "    native:\n      probe/bind-plain-dirs: {result: ok, rate: \">= 0.5\"}\n",
            )
        })
        .err()
        .unwrap_or_default();
        assert!(
            rendered.contains("the host lane runs `probe/bind-plain-dirs` once"),
            "{rendered}"
        );
    }
}
