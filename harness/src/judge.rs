//! The pure judge: a lane's observation of one step, classified, held against the scenario's expectation, and made
//! an outcome with its verdict. Nothing here talks to a cluster, a host or a file.

use indexmap::IndexMap;

use crate::accepted;
use crate::classify::{self, Class, DeclaredRules};
use crate::outcome::{Failure, Observation, Outcome, Seen, StepResult, Verdict};
use crate::scenario::expect::expectation;
use crate::scenario::matrix::Case;

/// The outcome of `observation` in `case`, with secrets already removed from every text it carries.
pub fn judge(case: &Case, observation: Observation) -> Outcome {
    judge_against(case, observation, None)
}

/// [`judge`], and held against the step's accepted outcome too: a step whose verdict is as expected but whose result
/// moved from what was accepted (another class, code or stage; ok where a failure was accepted) is `changed`.
pub fn judge_against(case: &Case, observation: Observation, accepted: Option<&accepted::Entry>) -> Outcome {
    let stages: IndexMap<String, StepResult> = observation
        .stages
        .into_iter()
        .map(|(stage, seen)| (stage, result_in(case, seen)))
        .collect();
    let result = result_in(case, observation.seen);
    let expected = expectation(case, &observation.step);
    let mut outcome = Outcome {
        case: case.name(),
        scenario: case.loaded.scenario.metadata.name.clone(),
        lane: case.lane,
        variant: case.variant.clone(),
        cell: case.cell.clone(),
        step: observation.step,
        verdict: Verdict::of(&result, expected),
        result,
        stages,
        expected: expected.map(|e| e.as_str().to_owned()),
        accepted: accepted.map(accepted::Entry::said),
        evidence: observation.evidence,
        observed: observation.observed,
        detail: observation.detail,
        duration_ms: observation.duration_ms,
    };
    if let Some(entry) = accepted
        && outcome.verdict.as_expected()
        && outcome.result.observed()
        && !accepted::holds(entry, &outcome)
    {
        outcome.verdict = Verdict::Changed;
    }
    outcome.redact();
    outcome
}

/// What a step did, classified.
pub fn result(seen: Seen) -> StepResult {
    match seen {
        Seen::Ok => StepResult::Ok,
        Seen::Skipped { reason } => StepResult::Skipped { reason },
        Seen::Failed(failure) => classified(failure, &DeclaredRules::default()),
    }
}

/// [`result`], with the classes the case's scenario declares applied to a failure's text.
pub fn result_in(case: &Case, seen: Seen) -> StepResult {
    match seen {
        Seen::Failed(failure) => classified(failure, &case.loaded.classes),
        other => result(other),
    }
}

/// A failure's class (known, else read from its text, else the lane's fallback), its code and its stage.
fn classified(failure: Failure, declared: &DeclaredRules) -> StepResult {
    let read = classify::classify_with(&failure.text, declared);
    // What the text says decides, unless the lane knows better; text that reads as an error nobody recognises
    // (`unknown`) does not override the lane's own fallback (a slow rollout stays a rollout timeout).
    let recognised = read.class.filter(|c| *c != Class::Unknown);
    let class = failure.known.or(recognised).unwrap_or(failure.otherwise);
    let code = match failure.known {
        Some(_) => failure.code,
        None => failure.code.or_else(|| read.code.map(|c| c.hex())),
    };
    let stage = match failure.known {
        Some(_) => failure.stage,
        None => read.stage.map(|s| s.as_str().to_owned()).or(failure.stage),
    };
    StepResult::Failed {
        class,
        code,
        stage,
        first_error: Some(failure.line),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::outcome::Evidence;
    use crate::scenario::{error::Source, from_source, matrix};
    use crate::words::Lane;

    fn seed_case(lane: Lane, variant: &str) -> Case {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/buildkit-6590.yaml");
        let source = Arc::new(Source {
            name: "seed.yaml".into(),
            text: std::fs::read_to_string(&path).unwrap(),
        });
        let loaded = from_source(&source, &path).unwrap_or_else(|e| panic!("{}", e.render()));
        matrix::cases(&loaded, &[lane])
            .into_iter()
            .find(|c| c.variant == variant)
            .unwrap()
    }

    #[test]
    fn a_failure_text_is_classified_and_held_against_the_claim() {
        let case = seed_case(Lane::Cluster, "reproduction");
        let line =
            r#"failed to bind target "C:\buildkitd\src-test" to root "C:\buildkitd\dst-test": Access is denied."#;
        let outcome = judge(
            &case,
            Observation::of(
                "probe/bind-plain-dirs",
                Failure::text(line, line, Class::Unknown).into(),
            )
            .evidence(Evidence::Simulated),
        );
        assert_eq!(outcome.result.class(), Some(Class::BindfltAccessDenied));
        assert_eq!(outcome.verdict, Verdict::Reproduced);
        assert_eq!(outcome.evidence, Evidence::Simulated);
        assert_eq!(outcome.expected.as_deref(), Some("bindflt-access-denied"));
    }

    #[test]
    fn a_declared_class_is_judged_and_held_against_the_claim_by_its_name() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/buildkit-6590.yaml");
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("build/hello: bindflt-access-denied", "build/hello: node-dir-missing")
            + "classes:\n  - class: node-dir-missing\n    infrastructure: true\n    message: cannot find the path\n";
        let source = Arc::new(Source {
            name: "declared.yaml".into(),
            text,
        });
        let loaded = from_source(&source, &path).unwrap_or_else(|e| panic!("{}", e.render()));
        let case = matrix::cases(&loaded, &[Lane::Cluster])
            .into_iter()
            .find(|c| c.variant == "reproduction")
            .unwrap();
        let line = r"open C:\x: The system cannot find the path specified.";
        let observe = || Observation::of("build/hello", Failure::text(line, line, Class::Unknown).into());
        let outcome = judge(&case, observe());
        let class = outcome.result.class().unwrap();
        assert_eq!(class.as_str(), "node-dir-missing");
        assert!(class.is_infrastructure());
        // Expected exactly: reproduced, not an infrastructure error.
        assert_eq!(outcome.verdict, Verdict::Reproduced);
        assert_eq!(outcome.expected.as_deref(), Some("node-dir-missing"));
        // Not expected there: an infrastructure error, as a built-in infrastructure class would be.
        assert_eq!(
            judge(
                &case,
                Observation::of(
                    "probe/bind-plain-dirs",
                    Failure::text(line, line, Class::Unknown).into()
                )
            )
            .verdict,
            Verdict::InfraError
        );
        // Accepted outcomes keep it by its name.
        let entry = accepted::entry_of(&outcome).unwrap();
        assert!(entry.said().starts_with("node-dir-missing"), "{}", entry.said());
        assert_eq!(
            judge_against(&case, observe(), Some(&entry)).verdict,
            Verdict::Reproduced
        );
    }

    #[test]
    fn the_lanes_fallback_and_known_classes_decide_what_the_text_cannot() {
        let case = seed_case(Lane::Cluster, "reproduction");
        let stuck = judge(
            &case,
            Observation::of(
                "rollout",
                Failure::text("not ready after 300s", "", Class::RolloutTimeout).into(),
            ),
        );
        assert_eq!(stuck.result.class(), Some(Class::RolloutTimeout));
        assert_eq!(stuck.verdict, Verdict::InfraError);
        // A known class is not second-guessed by the text, even a text that reads as a Windows failure.
        let refused = Failure::unobserved(Class::NotOwned, "namespace exists; Access is denied.");
        let outcome = judge(&case, Observation::of("rollout", refused.into()));
        assert_eq!(outcome.result.class(), Some(Class::NotOwned));
        assert_eq!(outcome.verdict, Verdict::InfraError);
    }

    #[test]
    fn a_result_that_moved_from_the_accepted_one_is_changed() {
        let case = seed_case(Lane::Cluster, "reproduction");
        let line = r#"failed to bind target "C:\src" to root "C:\dst": Access is denied."#;
        let observe = || {
            Observation::of(
                "probe/bind-plain-dirs",
                Failure::text(line, line, Class::Unknown).into(),
            )
        };
        let reproduced = judge(&case, observe());
        let entry = accepted::entry_of(&reproduced).unwrap();
        assert_eq!(
            judge_against(&case, observe(), Some(&entry)).verdict,
            Verdict::Reproduced
        );
        // The same claim holds, but the accepted run saw another code: the step moved.
        let mut other = entry.clone();
        other.code = Some("0x80070057".into());
        let moved = judge_against(&case, observe(), Some(&other));
        assert_eq!(moved.verdict, Verdict::Changed);
        assert_eq!(moved.accepted.as_deref(), Some("bindflt-access-denied 0x80070057 bind"));
    }

    #[test]
    fn skips_ok_and_secrets() {
        let case = seed_case(Lane::Offline, "reproduction");
        assert_eq!(
            judge(&case, Observation::of("render", Seen::Ok)).verdict,
            Verdict::Passed
        );
        let skipped = judge(
            &case,
            Observation::skipped("render", "token: abcdef0123456789 was refused"),
        );
        assert_eq!(skipped.verdict, Verdict::Skipped);
        assert!(
            !skipped.result.to_string().contains("abcdef0123456789"),
            "{}",
            skipped.result
        );
    }
}
