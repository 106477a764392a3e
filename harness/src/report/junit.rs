//! JUnit XML, one test suite per lane and one test case per step, carrying the verdict and the real error line.

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::outcome::{Outcome, StepResult, Verdict};
use crate::words::Lane;

/// The JUnit XML of `outcomes`: as-expected verdicts pass, differing ones fail, infrastructure errors are errors.
pub fn xml(outcomes: &[Outcome]) -> String {
    let mut report = Report::new("harness");
    for lane in Lane::ALL {
        let mut suite = TestSuite::new(lane.as_str());
        for outcome in outcomes.iter().filter(|o| o.lane == *lane) {
            suite.add_test_case(case(outcome));
        }
        if !suite.test_cases.is_empty() {
            report.add_test_suite(suite);
        }
    }
    report.to_string().unwrap_or_default()
}

fn case(outcome: &Outcome) -> TestCase {
    let observed = outcome.observed_text();
    let expected = outcome.expected.as_deref().unwrap_or("nothing");
    let message = format!("{}: observed {observed}, expected {expected}", outcome.verdict.as_str());
    let mut status = match outcome.verdict {
        Verdict::Skipped => TestCaseStatus::skipped(),
        Verdict::InfraError => TestCaseStatus::non_success(NonSuccessKind::Error),
        verdict if !verdict.as_expected() => TestCaseStatus::non_success(NonSuccessKind::Failure),
        _ => TestCaseStatus::success(),
    };
    if !matches!(status, TestCaseStatus::Success { .. }) {
        status.set_message(message);
        if let StepResult::Failed {
            first_error: Some(line),
            ..
        } = &outcome.result
        {
            status.set_description(line.as_str());
        }
    }
    let mut case = TestCase::new(format!("{} {}", outcome.case, outcome.step), status);
    case.set_classname(outcome.scenario.as_str());
    if let Some(ms) = outcome.duration_ms {
        case.set_time(std::time::Duration::from_millis(ms));
    }
    case.add_property(Property::new("verdict", outcome.verdict.as_str()));
    case.add_property(Property::new(
        "evidence",
        serde_json::to_string(&outcome.evidence)
            .unwrap_or_default()
            .trim_matches('"'),
    ));
    case.add_property(Property::new("observed", observed));
    if let StepResult::Failed { code: Some(code), .. } = &outcome.result {
        case.add_property(Property::new("code", code.as_str()));
    }
    // The versions the step was observed on, so a CI dashboard shows what was tested, not only that it was.
    for (component, version) in outcome.observed.versions() {
        case.add_property(Property::new(format!("observed.{component}"), version));
    }
    if let Some(accepted) = &outcome.accepted {
        case.add_property(Property::new("accepted", accepted.as_str()));
    }
    case
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;

    use super::*;
    use crate::classify::Class;
    use crate::words::{Environment, Evidence};

    #[test]
    fn a_failed_step_carries_its_verdict_code_and_observed_versions() {
        let outcome = Outcome {
            case: "buildkit-6590/buildkit=v0.28.0/variant=reproduction".into(),
            scenario: "buildkit-6590".into(),
            lane: Lane::Cluster,
            variant: "reproduction".into(),
            cell: IndexMap::new(),
            step: "probe/bind-plain-dirs".into(),
            result: StepResult::Failed {
                class: Class::BindfltAttachRefused,
                code: Some("0x80070005".into()),
                stage: None,
                first_error: Some("failed to bind target: Access is denied.".into()),
            },
            stages: IndexMap::new(),
            expected: Some("bindflt-access-denied".into()),
            verdict: Verdict::Changed,
            accepted: None,
            evidence: Evidence::Real,
            observed: Environment {
                containerd: Some("2.3.3".into()),
                windows_build: Some("20348.4773".into()),
                ..Environment::default()
            },
            detail: serde_json::Value::Null,
            duration_ms: Some(12),
            tries: None,
        };
        let xml = xml(&[outcome]);
        for wanted in [
            r#"<failure message="changed: observed bindflt-attach-refused, expected bindflt-access-denied""#,
            r#"name="observed.containerd" value="2.3.3""#,
            r#"name="observed.windowsBuild" value="20348.4773""#,
            r#"name="code" value="0x80070005""#,
            "failed to bind target: Access is denied.",
        ] {
            assert!(xml.contains(wanted), "`{wanted}` not in {xml}");
        }
    }
}
