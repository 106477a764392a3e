//! Where a case runs: `offline` always, `host` on an elevated Windows machine, `cluster` against a kube context.

use crate::words::Lane;

pub mod cluster;
pub mod host;
pub mod offline;
pub mod probe;

use indexmap::IndexMap;

use crate::outcome::{Evidence, Outcome, StepResult, Verdict};
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
    let expected = crate::scenario::expect::expectation(case, step);
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
