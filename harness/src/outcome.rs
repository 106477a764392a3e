//! Outcomes: the classified record of one step with its provenance, and the verdict that holds it against its expectation.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::classify::Class;
use crate::scenario::expect::Expected;
pub use crate::words::Evidence;
use crate::words::{Environment, Lane};

/// What a step did, once classified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "result")]
pub enum StepResult {
    Ok,
    Failed {
        class: Class,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage: Option<String>,
        /// The first error line, verbatim (normalised in snapshots).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_error: Option<String>,
    },
    Skipped {
        reason: String,
    },
}

impl std::fmt::Display for StepResult {
    /// `ok`, the failure class, or `skipped: reason`: what was observed, in one word where it can be.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepResult::Ok => f.write_str("ok"),
            StepResult::Failed { class, .. } => write!(f, "{class}"),
            StepResult::Skipped { reason } => write!(f, "skipped: {reason}"),
        }
    }
}

impl StepResult {
    /// Whether the step ran and something was seen (it was not skipped).
    pub fn observed(&self) -> bool {
        !matches!(self, StepResult::Skipped { .. })
    }

    /// Why the step did not run, if it was skipped.
    pub fn skip_reason(&self) -> Option<&str> {
        match self {
            StepResult::Skipped { reason } => Some(reason),
            _ => None,
        }
    }

    /// The failure class, if the step failed.
    pub fn class(&self) -> Option<Class> {
        match self {
            StepResult::Failed { class, .. } => Some(*class),
            _ => None,
        }
    }
}

/// What a lane saw of one step, before any judgement. Lanes produce these; only [`crate::judge`] turns them into
/// outcomes.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub step: String,
    pub seen: Seen,
    /// Per-stage observations of a layer probe, in stage order.
    pub stages: IndexMap<String, Seen>,
    pub evidence: Evidence,
    /// The environment the lane observed; empty where it sees none.
    pub observed: Environment,
    /// Facts of the step worth keeping (objects applied, image, probe context).
    pub detail: serde_json::Value,
    pub duration_ms: Option<u64>,
    /// Every try of a step that runs more than once (`tries: N`), in order, raw; `seen` is the first of them. Empty
    /// for a step that ran once.
    pub tries: Vec<Seen>,
    /// The step ran a build's Linux twin in the Windows build's place: it is judged by the twin's own expectation.
    pub twin: bool,
}

impl Observation {
    /// An observation of `step` with nothing but what was seen; real evidence until the lane says otherwise.
    pub fn of(step: &str, seen: Seen) -> Observation {
        Observation {
            step: step.to_owned(),
            seen,
            stages: IndexMap::new(),
            evidence: Evidence::Real,
            observed: Environment::default(),
            detail: serde_json::Value::Null,
            duration_ms: None,
            tries: Vec::new(),
            twin: false,
        }
    }

    /// A step that did not run, and why.
    pub fn skipped(step: &str, reason: impl Into<String>) -> Observation {
        Observation::of(step, Seen::Skipped { reason: reason.into() })
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Observation {
        self.detail = detail;
        self
    }

    pub fn evidence(mut self, evidence: Evidence) -> Observation {
        self.evidence = evidence;
        self
    }

    /// The time since `started`, as the step's duration.
    pub fn timed(mut self, started: std::time::Instant) -> Observation {
        self.duration_ms = Some(started.elapsed().as_millis() as u64);
        self
    }
}

/// What a step did, as the lane saw it: raw, before classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Ok,
    Failed(Failure),
    Skipped { reason: String },
}

/// A failure as seen: the text to classify, and the facts the lane read directly (a probe's own code and step).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The line kept in reports (the first error line, verbatim).
    pub line: String,
    /// Everything the judge classifies (the line itself when there is nothing more).
    pub text: String,
    /// The class when the lane knows it without reading the text: the harness's own failures (infrastructure).
    pub known: Option<Class>,
    /// The class when nothing in the text is recognised.
    pub otherwise: Class,
    /// A code the producer reported itself (a probe's HRESULT), before any read from the text.
    pub code: Option<String>,
    /// The step the producer says failed, when the text names none.
    pub stage: Option<String>,
    /// Whether the step is ok unless the judge recognises a failure in the text (a log read for what it shows).
    pub ok_unless_recognised: bool,
}

impl Failure {
    /// The harness could not observe the step: an infrastructure failure of a known class.
    pub fn unobserved(class: Class, message: impl Into<String>) -> Failure {
        let message = message.into();
        Failure {
            line: message.clone(),
            text: message,
            known: Some(class),
            otherwise: class,
            code: None,
            stage: None,
            ok_unless_recognised: false,
        }
    }

    /// A text that shows a failure only if the judge recognises one in it (a log): the step is ok otherwise.
    pub fn if_recognised(text: impl Into<String>) -> Failure {
        let text = text.into();
        Failure {
            line: String::new(),
            ok_unless_recognised: true,
            ..Failure::text("", text, Class::Unknown)
        }
    }

    /// The step failed with `text`, of which `line` is kept; `otherwise` when nothing in it is recognised.
    pub fn text(line: impl Into<String>, text: impl Into<String>, otherwise: Class) -> Failure {
        Failure {
            line: line.into(),
            text: text.into(),
            known: None,
            otherwise,
            code: None,
            stage: None,
            ok_unless_recognised: false,
        }
    }
}

impl From<Failure> for Seen {
    fn from(failure: Failure) -> Seen {
        Seen::Failed(failure)
    }
}

/// An outcome held against its expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Failed as the bug report says.
    Reproduced,
    /// Succeeded as expected.
    Passed,
    /// The bug's step now succeeds: an upstream fix? News, not a failure to hide.
    NoLongerReproduces,
    /// An expected success now fails.
    Regressed,
    /// Failed, but differently from the bug report.
    Changed,
    /// Recorded without judging (`observe`, or no expectation).
    Observed,
    Skipped,
    /// The harness or its infrastructure could not run the step.
    InfraError,
}

impl Verdict {
    /// Every verdict, in the order reports show them.
    pub const ALL: [Verdict; 8] = [
        Verdict::Reproduced,
        Verdict::Passed,
        Verdict::NoLongerReproduces,
        Verdict::Regressed,
        Verdict::Changed,
        Verdict::Observed,
        Verdict::Skipped,
        Verdict::InfraError,
    ];

    /// Holds a result against an expectation.
    pub fn of(result: &StepResult, expected: Option<Expected>) -> Verdict {
        match (result, expected) {
            (StepResult::Skipped { .. }, _) => Verdict::Skipped,
            (StepResult::Failed { class, .. }, Some(Expected::Fails(want))) if *class == want => Verdict::Reproduced,
            // A step the harness could not observe is never judged, not even as `observe`: it is an infrastructure error.
            (StepResult::Failed { class, .. }, _) if class.is_infrastructure() => Verdict::InfraError,
            (_, None | Some(Expected::Observe)) => Verdict::Observed,
            (StepResult::Ok, Some(Expected::Ok)) => Verdict::Passed,
            (StepResult::Ok, Some(Expected::Fails(_))) => Verdict::NoLongerReproduces,
            (StepResult::Failed { .. }, Some(Expected::Ok)) => Verdict::Regressed,
            (StepResult::Failed { .. }, Some(Expected::Fails(_))) => Verdict::Changed,
        }
    }

    /// Whether this verdict is what the scenario expects (exit 0).
    pub fn as_expected(self) -> bool {
        matches!(
            self,
            Verdict::Reproduced | Verdict::Passed | Verdict::Observed | Verdict::Skipped
        )
    }

    /// Whether this verdict differs from the scenario's expectation (exit 1): an infrastructure error is apart.
    pub fn differs(self) -> bool {
        !self.as_expected() && self != Verdict::InfraError
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Reproduced => "reproduced",
            Verdict::Passed => "passed",
            Verdict::NoLongerReproduces => "no-longer-reproduces",
            Verdict::Regressed => "regressed",
            Verdict::Changed => "changed",
            Verdict::Observed => "observed",
            Verdict::Skipped => "skipped",
            Verdict::InfraError => "infra-error",
        }
    }
}

/// The normalised, classified record of one step of one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub case: String,
    pub scenario: String,
    pub lane: Lane,
    pub variant: String,
    pub cell: IndexMap<String, String>,
    pub step: String,
    #[serde(flatten)]
    pub result: StepResult,
    /// Per-stage results of a layer probe.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub stages: IndexMap<String, StepResult>,
    pub expected: Option<String>,
    pub verdict: Verdict,
    /// What the accepted outcome of this step says, when the run was held against accepted outcomes (`run --check`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<String>,
    pub evidence: Evidence,
    /// The environment actually observed (not the one declared); empty where the lane sees none.
    #[serde(default)]
    pub observed: Environment,
    /// Facts of the step worth keeping (objects applied, image, probe context).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
    /// Milliseconds the step took; replaced by a placeholder in snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// The results over a step's tries, when it ran more than once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tries: Option<Tries>,
}

/// What a step's tries ended with: how many, how many succeeded, the failures by class, and for a rate expectation
/// the share it counts with its Wilson 95% interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tries {
    pub tries: usize,
    pub successes: usize,
    /// Class -> how many tries failed with it.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub failures: IndexMap<String, usize>,
    /// Tries that were skipped (never counted in a rate).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateSeen>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A rate expectation held against the tries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateSeen {
    /// The claim, e.g. `bindflt-access-denied >= 0.8`.
    pub expected: String,
    /// Tries that ended as the claim counts, of `observed` (tries not skipped).
    pub count: usize,
    pub observed: usize,
    /// The point estimate, count / observed (shown, never judged on).
    pub share: f64,
    /// The Wilson 95% interval of the share.
    pub low: f64,
    pub high: f64,
    /// Whether the interval lies wholly on the bound's side (met) or wholly on the other (not met); otherwise it is
    /// inconclusive, which the verdict reads as not met.
    pub conclusive: bool,
    pub met: bool,
}

impl std::fmt::Display for Tries {
    /// `20/20 bindflt-access-denied, 95% CI [0.839, 1.000], expected >= 0.8: met`, or the counts alone.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.rate {
            Some(rate) => {
                let of = rate.expected.split(' ').next().unwrap_or_default();
                let bound = rate.expected.split_once(' ').map_or("", |(_, b)| b);
                let said = match (rate.met, rate.conclusive) {
                    (true, _) => "met",
                    (false, true) => "not met",
                    (false, false) => "inconclusive, read as not met",
                };
                write!(
                    f,
                    "{}/{} {of}, 95% CI [{:.3}, {:.3}], expected {bound}: {said}",
                    rate.count, rate.observed, rate.low, rate.high
                )
            }
            None => {
                write!(f, "{} tries: {} ok", self.tries, self.successes)?;
                for (class, count) in &self.failures {
                    write!(f, ", {count} {class}")?;
                }
                Ok(())
            }
        }
    }
}

impl Outcome {
    /// What was observed, as reports print it: the result, and over several tries their counts and, for a rate, its
    /// interval (`bindflt-access-denied (20/20 bindflt-access-denied, 95% CI [0.839, 1.000], expected >= 0.8: met)`).
    pub fn observed_text(&self) -> String {
        match &self.tries {
            Some(tries) => format!("{} ({tries})", self.result),
            None => self.result.to_string(),
        }
    }

    /// Removes every secret from the text this outcome carries (error lines, reasons, details): done once, before any
    /// reporter sees it.
    pub fn redact(&mut self) {
        for result in std::iter::once(&mut self.result).chain(self.stages.values_mut()) {
            match result {
                StepResult::Failed {
                    first_error: Some(text),
                    ..
                }
                | StepResult::Skipped { reason: text } => *text = crate::redact::secrets(text).into_owned(),
                _ => {}
            }
        }
        crate::redact::value(&mut self.detail);
    }

    /// This outcome as a snapshot keeps it: what varies per run and machine (durations, and in error lines and
    /// details timestamps, temp-dir suffixes, pod names, digests, IPs) replaced; classes, codes, stages, versions kept.
    pub fn normalised(&self) -> Outcome {
        let mut outcome = self.clone();
        outcome.duration_ms = outcome.duration_ms.map(|_| 0);
        for result in std::iter::once(&mut outcome.result).chain(outcome.stages.values_mut()) {
            if let StepResult::Failed {
                first_error: Some(line),
                ..
            } = result
            {
                *line = crate::normalize::normalize(line);
            }
        }
        if !outcome.detail.is_null() {
            let text = serde_json::to_string(&outcome.detail).unwrap_or_default();
            outcome.detail = serde_json::from_str(&crate::normalize::normalize(&text)).unwrap_or(outcome.detail);
        }
        outcome
    }
}

/// Whether any step of `lane` was observed among `outcomes` (a lane whose every step was skipped did not run).
pub fn lane_ran(outcomes: &[Outcome], lane: Lane) -> bool {
    outcomes.iter().any(|o| o.lane == lane && o.result.observed())
}

/// The exit code that a set of outcomes calls for: 3 when infrastructure failed anywhere (a run that could not look
/// is never green, and never reads as a verdict), else 1 when a verdict differs, else 0.
pub fn exit_for<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> crate::exit::Exit {
    let mut exit = crate::exit::Exit::Ok;
    for outcome in outcomes {
        if outcome.verdict == Verdict::InfraError {
            return crate::exit::Exit::Infrastructure;
        } else if !outcome.verdict.as_expected() {
            exit = crate::exit::Exit::VerdictDiffers;
        }
    }
    exit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(class: Class) -> StepResult {
        StepResult::Failed {
            class,
            code: None,
            stage: None,
            first_error: None,
        }
    }

    #[test]
    fn verdicts_follow_the_expectation() {
        let denied = Class::BindfltAccessDenied;
        assert_eq!(
            Verdict::of(&failed(denied), Some(Expected::Fails(denied))),
            Verdict::Reproduced
        );
        assert_eq!(
            Verdict::of(&StepResult::Ok, Some(Expected::Fails(denied))),
            Verdict::NoLongerReproduces
        );
        assert_eq!(
            Verdict::of(&failed(Class::LayerInUse), Some(Expected::Fails(denied))),
            Verdict::Changed
        );
        assert_eq!(Verdict::of(&failed(denied), Some(Expected::Ok)), Verdict::Regressed);
        assert_eq!(
            Verdict::of(&failed(Class::RolloutTimeout), Some(Expected::Ok)),
            Verdict::InfraError
        );
        assert_eq!(Verdict::of(&StepResult::Ok, Some(Expected::Ok)), Verdict::Passed);
        assert_eq!(Verdict::of(&failed(denied), Some(Expected::Observe)), Verdict::Observed);
        // Infrastructure failures are errors even where nothing, or `observe`, is expected.
        for expected in [None, Some(Expected::Observe)] {
            assert_eq!(Verdict::of(&failed(Class::ExecFailed), expected), Verdict::InfraError);
        }
        assert_eq!(
            Verdict::of(&failed(Class::CrashLoop), Some(Expected::Fails(Class::CrashLoop))),
            Verdict::Reproduced
        );
        let skipped = StepResult::Skipped {
            reason: "no Windows host".into(),
        };
        assert_eq!(Verdict::of(&skipped, Some(Expected::Ok)), Verdict::Skipped);
        assert!(!Verdict::NoLongerReproduces.as_expected());
    }
}
