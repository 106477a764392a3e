//! Where a case runs: `offline` always, `host` on an elevated Windows machine, `cluster` against a kube context.

use crate::words::Lane;

pub mod cluster;
pub mod host;
pub mod offline;
pub mod probe;

use indexmap::IndexMap;

use crate::outcome::{Evidence, Outcome, StepResult, Verdict};
use crate::scenario::expect::{Expectation, Expected};
use crate::scenario::matrix::Case;
use crate::scenario::model::Environment;

/// What every lane is given besides the case.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Labels everything this run creates.
    pub run_id: String,
    /// `--set name=value` parameter overrides.
    pub overrides: IndexMap<String, String>,
    /// The kube context the cluster lane acts on, checked before the run ([`cluster::check`]).
    pub cluster: Option<cluster::Target>,
    /// What this run made on the cluster and has not removed yet: what an interruption tears down.
    pub ledger: cluster::Ledger,
}

/// Why `lane` cannot run here for `case`, or `None` when it can.
pub fn unavailable(lane: Lane, case: &Case, context: &Context) -> Option<String> {
    match lane {
        Lane::Offline => None,
        Lane::Host => host::unavailable(),
        Lane::Cluster => cluster::unavailable(case, context),
    }
}

/// Runs `case` on its lane and returns its outcomes, in step order.
pub async fn run(case: &Case, context: &Context) -> Vec<Outcome> {
    match unavailable(case.lane, case, context) {
        Some(reason) => vec![skipped(case, "lane", reason)],
        None => match case.lane {
            Lane::Offline => offline::run(case, context),
            Lane::Host => host::run(case, context),
            Lane::Cluster => cluster::run(case, context).await,
        },
    }
}

/// The outcome of a step that did not run, with the reason.
pub fn skipped(case: &Case, step: &str, reason: String) -> Outcome {
    record(
        case,
        step,
        StepResult::Skipped { reason },
        Evidence::Real,
        serde_json::Value::Null,
    )
}

/// The outcome of one step of `case`, held against the scenario's expectation for it.
pub fn record(case: &Case, step: &str, result: StepResult, evidence: Evidence, detail: serde_json::Value) -> Outcome {
    let expected = expectation(case, step);
    let verdict = Verdict::of(&result, expected);
    Outcome {
        case: case.name(),
        scenario: case.loaded.scenario.metadata.name.clone(),
        lane: case.lane,
        variant: case.variant.clone(),
        cell: case.cell.clone(),
        step: step.to_owned(),
        result,
        stages: IndexMap::new(),
        expected: expected.map(|e| e.as_str().to_owned()),
        verdict,
        evidence,
        observed: Environment::default(),
        detail,
        duration_ms: None,
    }
}

/// What the scenario expects of `step` in `case`: for a staged expectation, that of its last stage (a layer probe
/// stops at the first stage that fails, so the step's result is that stage's). The offline lane's `render` is
/// expected to succeed unless the scenario says otherwise.
pub fn expectation(case: &Case, step: &str) -> Option<Expected> {
    let scenario = &case.loaded.scenario;
    let declared_in = |expect: &'_ crate::scenario::expect::Expectations| {
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
    use crate::classify::Class;
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
