//! The pure judge: a lane's observation of one step, classified, held against the scenario's expectation, and made
//! an outcome with its verdict. Nothing here talks to a cluster, a host or a file.

use indexmap::IndexMap;

use crate::accepted;
use crate::classify::{self, Class, DeclaredRules};
use crate::outcome::{Failure, Observation, Outcome, RateSeen, Seen, StepResult, Tries, Verdict};
use crate::scenario::expect::{Expected, Rate, expectation, rate, twin_expectation};
use crate::scenario::matrix::Case;

/// The outcome of `observation` in `case`, with secrets already removed from every text it carries.
pub fn judge(case: &Case, observation: Observation) -> Outcome {
    judge_against(case, observation, None)
}

/// [`judge`], and held against the step's accepted outcome too: a step whose verdict is as expected but whose result
/// moved from what was accepted (another class, code or stage; ok where a failure was accepted) is `changed`.
pub fn judge_against(case: &Case, mut observation: Observation, accepted: Option<&accepted::Entry>) -> Outcome {
    let stages: IndexMap<String, StepResult> = std::mem::take(&mut observation.stages)
        .into_iter()
        .map(|(stage, seen)| (stage, result_in(case, seen)))
        .collect();
    let expected = match observation.twin {
        true => twin_expectation(case, &observation.step),
        false => expectation(case, &observation.step),
    };
    let tried: Vec<StepResult> = std::mem::take(&mut observation.tries)
        .into_iter()
        .map(|seen| result_in(case, seen))
        .collect();
    let (result, verdict, tries) = if tried.is_empty() {
        let result = result_in(case, observation.seen);
        let verdict = Verdict::of(&result, expected);
        (result, verdict, None)
    } else {
        over_tries(tried, expected, rate(case, &observation.step))
    };
    let said = match rate(case, &observation.step) {
        Some(rate) => Some(rate.to_string()),
        None => expected.map(|e| e.as_str().to_owned()),
    };
    let mut outcome = Outcome {
        case: case.name(),
        scenario: case.loaded.scenario.metadata.name.clone(),
        lane: case.lane,
        variant: case.variant.clone(),
        cell: case.cell.clone(),
        step: observation.step,
        verdict,
        result,
        tries,
        stages,
        expected: said,
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

/// A step that ran more than once, judged over its tries: the result it shows, its verdict, and the counts.
///
/// With a rate expectation the verdict follows the Wilson 95% interval of the share of tries that ended as the rate
/// counts ([`Bound::met_by`]); a try the harness could not observe (an infrastructure class the rate does not count) makes
/// the step an infrastructure error, as it would alone; tries that were skipped are not counted. The result shown is
/// the first try's. Without a rate, every try must meet the expectation: the result shown is the first try whose
/// verdict is not as expected (else the first try), and the verdict is that try's.
fn over_tries(
    tried: Vec<StepResult>,
    expected: Option<Expected>,
    rate: Option<Rate>,
) -> (StepResult, Verdict, Option<Tries>) {
    let mut tries = Tries {
        tries: tried.len(),
        successes: 0,
        failures: IndexMap::new(),
        skipped: 0,
        rate: None,
    };
    for result in &tried {
        match result {
            StepResult::Ok => tries.successes += 1,
            StepResult::Failed { class, .. } => *tries.failures.entry(class.as_str().to_owned()).or_default() += 1,
            StepResult::Skipped { .. } => tries.skipped += 1,
        }
    }
    let Some(rate) = rate else {
        let shown = tried
            .iter()
            .find(|r| !Verdict::of(r, expected).as_expected())
            .unwrap_or(&tried[0])
            .clone();
        let verdict = Verdict::of(&shown, expected);
        return (shown, verdict, Some(tries));
    };
    let counts = |result: &StepResult| match (result, rate.of) {
        (StepResult::Ok, Expected::Ok) => true,
        (StepResult::Failed { class, .. }, Expected::Fails(want)) => *class == want,
        _ => false,
    };
    let unobserved = tried
        .iter()
        .find(|r| r.class().is_some_and(|c| c.is_infrastructure()) && !counts(r));
    let observed = tries.tries - tries.skipped;
    if let Some(unobserved) = unobserved {
        return (unobserved.clone(), Verdict::InfraError, Some(tries));
    }
    if observed == 0 {
        return (tried[0].clone(), Verdict::Skipped, Some(tries));
    }
    let count = tried.iter().filter(|r| counts(r)).count();
    let (low, high) = crate::stats::wilson(count, observed);
    let (met, conclusive) = rate.bound.met_by(low, high);
    let verdict = match (met, rate.of) {
        (true, Expected::Ok) => Verdict::Passed,
        (true, _) => Verdict::Reproduced,
        (false, Expected::Ok) => Verdict::Regressed,
        (false, _) => Verdict::Changed,
    };
    tries.rate = Some(RateSeen {
        expected: rate.to_string(),
        count,
        observed,
        share: count as f64 / observed as f64,
        low,
        high,
        conclusive,
        met,
    });
    (tried[0].clone(), verdict, Some(tries))
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
    if failure.ok_unless_recognised && failure.known.is_none() && recognised.is_none() {
        return StepResult::Ok;
    }
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
        first_error: Some(match failure.ok_unless_recognised {
            // A log's first error line is the one the classifier read, not its first line.
            true => read.evidence.or(read.first_error).unwrap_or_default(),
            false => failure.line,
        }),
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
    fn a_twin_build_is_judged_by_its_own_expectation_never_the_windows_builds() {
        // The seed's twin says nothing: observed, though the Windows build is expected to fail.
        let case = seed_case(Lane::Cluster, "reproduction");
        let twin = |seen: Seen| Observation {
            twin: true,
            ..Observation::of("build/hello", seen).evidence(Evidence::Simulated)
        };
        let built = judge(&case, twin(Seen::Ok));
        assert_eq!(built.verdict, Verdict::Observed);
        assert_eq!(built.expected.as_deref(), Some("observe"));
        // The Windows build itself is held against the report's claim.
        let windows = judge(&case, Observation::of("build/hello", Seen::Ok));
        assert_eq!(windows.verdict, Verdict::NoLongerReproduces);
        // A twin with its own expectation is held against that.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/testbed-builds.yaml");
        let source = Arc::new(Source {
            name: "testbed-builds.yaml".into(),
            text: std::fs::read_to_string(&path).unwrap(),
        });
        let loaded = from_source(&source, &path).unwrap_or_else(|e| panic!("{}", e.render()));
        let case = matrix::cases(&loaded, &[Lane::Cluster]).remove(0);
        let line = "ERROR: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3";
        let failed = |step: &str| Observation {
            twin: true,
            ..Observation::of(step, Failure::text(line, line, Class::Unknown).into())
        };
        assert_eq!(judge(&case, failed("build/broken")).verdict, Verdict::Reproduced);
        assert_eq!(judge(&case, failed("build/hello")).verdict, Verdict::Regressed);
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

    fn denied() -> StepResult {
        StepResult::Failed {
            class: Class::BindfltAccessDenied,
            code: None,
            stage: None,
            first_error: None,
        }
    }

    fn at_least(of: Expected, p: f64) -> Option<Rate> {
        Some(Rate {
            of,
            bound: crate::scenario::expect::Bound::AtLeast(p),
        })
    }

    #[test]
    fn a_rate_is_met_only_by_an_interval_wholly_on_its_side() {
        use crate::scenario::expect::Bound::{AtLeast, AtMost};
        // `>= p`: met from low == p; not met from high < p; between, inconclusive and not met.
        assert_eq!(AtLeast(0.8).met_by(0.8, 0.95), (true, true));
        assert_eq!(AtLeast(0.8).met_by(0.799_999, 0.95), (false, false));
        assert_eq!(AtLeast(0.8).met_by(0.5, 0.8), (false, false));
        assert_eq!(AtLeast(0.8).met_by(0.5, 0.799_999), (false, true));
        // `<= p`: met up to high == p; not met from low > p.
        assert_eq!(AtMost(0.1).met_by(0.0, 0.1), (true, true));
        assert_eq!(AtMost(0.1).met_by(0.0, 0.100_001), (false, false));
        assert_eq!(AtMost(0.1).met_by(0.1, 0.3), (false, false));
        assert_eq!(AtMost(0.1).met_by(0.100_001, 0.3), (false, true));
    }

    #[test]
    fn tries_are_judged_by_their_wilson_interval_not_their_share() {
        let denied_class = Expected::Fails(Class::BindfltAccessDenied);
        // 20 of 20: the interval is [0.839, 1]; `>= 0.8` is met.
        let (shown, verdict, tries) = over_tries(vec![denied(); 20], Some(denied_class), at_least(denied_class, 0.8));
        let rate = tries.as_ref().unwrap().rate.clone().unwrap();
        assert_eq!(
            (verdict, shown.class()),
            (Verdict::Reproduced, Some(Class::BindfltAccessDenied))
        );
        assert!(
            (rate.low - 0.8389).abs() < 1e-3 && rate.high == 1.0 && rate.met,
            "{rate:?}"
        );
        // The same 20 of 20 against `>= 0.85`: every try agrees, but 20 tries cannot show 0.85; not met.
        let (_, verdict, tries) = over_tries(vec![denied(); 20], Some(denied_class), at_least(denied_class, 0.85));
        let rate = tries.unwrap().rate.unwrap();
        assert_eq!((verdict, rate.met, rate.conclusive), (Verdict::Changed, false, false));
        // 17 of 20 (share 0.85 >= 0.8) with 3 ok: the interval [0.640, 0.948] straddles 0.8; not met.
        let mixed: Vec<StepResult> = (0..20).map(|i| if i < 3 { StepResult::Ok } else { denied() }).collect();
        let (shown, verdict, tries) = over_tries(mixed, Some(denied_class), at_least(denied_class, 0.8));
        let tries = tries.unwrap();
        assert_eq!((tries.successes, tries.failures["bindflt-access-denied"]), (3, 17));
        assert_eq!((verdict, shown), (Verdict::Changed, StepResult::Ok));
        assert!(!tries.rate.unwrap().conclusive);
        // A success rate: 20 ok of 20, `>= 0.8`, passed; none, regressed (conclusively).
        let (_, verdict, _) = over_tries(
            vec![StepResult::Ok; 20],
            Some(Expected::Ok),
            at_least(Expected::Ok, 0.8),
        );
        assert_eq!(verdict, Verdict::Passed);
        let (_, verdict, tries) = over_tries(vec![denied(); 20], Some(Expected::Ok), at_least(Expected::Ok, 0.8));
        assert_eq!(
            (verdict, tries.unwrap().rate.unwrap().conclusive),
            (Verdict::Regressed, true)
        );
        // One try the harness could not observe makes the step an infrastructure error; skipped tries do not count.
        let mut tried = vec![denied(); 19];
        tried.push(StepResult::Failed {
            class: Class::ExecFailed,
            code: None,
            stage: None,
            first_error: None,
        });
        assert_eq!(
            over_tries(tried, Some(denied_class), at_least(denied_class, 0.5)).1,
            Verdict::InfraError
        );
        let skipped = StepResult::Skipped { reason: "x".into() };
        let (_, verdict, tries) = over_tries(vec![skipped; 3], Some(denied_class), at_least(denied_class, 0.5));
        assert_eq!((verdict, tries.unwrap().skipped), (Verdict::Skipped, 3));
        // Without a rate every try must meet the expectation: the first that does not is shown and decides.
        let (shown, verdict, _) = over_tries(vec![denied(), StepResult::Ok, denied()], Some(denied_class), None);
        assert_eq!((shown, verdict), (StepResult::Ok, Verdict::NoLongerReproduces));
    }
}
