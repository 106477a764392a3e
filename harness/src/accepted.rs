//! Accepted outcomes: what a reviewed run observed, per scenario x lane x case x step, kept beside the scenario
//! (`<scenario>.accepted.jsonl`) and reviewed like snapshots. `harness accept` writes them; `run --check` holds a run
//! against them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::outcome::{Outcome, StepResult, Verdict};
use crate::words::{Environment, Evidence, Lane};

/// One accepted observation: what the step did (`ok` or its class, with code and stage), where it came from, and the
/// versions it was seen on (kept for the record; a version change alone is not a change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub lane: Lane,
    pub case: String,
    pub step: String,
    /// `ok`, or the failure class.
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    pub evidence: Evidence,
    #[serde(default)]
    pub observed: Environment,
}

/// Where an entry belongs: lane, case, step.
pub type Key = (Lane, String, String);

/// A scenario's accepted outcomes, by key, in a stable order.
pub type Accepted = BTreeMap<Key, Entry>;

impl Entry {
    pub fn key(&self) -> Key {
        (self.lane, self.case.clone(), self.step.clone())
    }

    /// What this entry says the step did, as one word: `ok`, or the class with its code and stage.
    pub fn said(&self) -> String {
        let mut said = self.result.clone();
        for fact in [&self.code, &self.stage].into_iter().flatten() {
            said.push_str(&format!(" {fact}"));
        }
        said
    }
}

/// The entry an outcome would be accepted as, or why it cannot be: a skipped step or an infrastructure error observed
/// nothing, and simulated evidence is never accepted for a lane that observes real machines.
pub fn entry_of(outcome: &Outcome) -> Result<Entry, String> {
    if outcome.evidence == Evidence::Simulated && outcome.lane != Lane::Offline {
        return Err(format!(
            "{} {}: simulated evidence is never accepted for the {} lane (run it on a real Windows node)",
            outcome.case, outcome.step, outcome.lane
        ));
    }
    let (result, code, stage) = match &outcome.result {
        StepResult::Ok => ("ok".to_owned(), None, None),
        StepResult::Failed { .. } if outcome.verdict == Verdict::InfraError => {
            return Err(format!(
                "{} {}: an infrastructure error observed nothing",
                outcome.case, outcome.step
            ));
        }
        StepResult::Failed { class, code, stage, .. } => (class.as_str().to_owned(), code.clone(), stage.clone()),
        StepResult::Skipped { reason } => {
            return Err(format!("{} {}: skipped ({reason})", outcome.case, outcome.step));
        }
    };
    Ok(Entry {
        lane: outcome.lane,
        case: outcome.case.clone(),
        step: outcome.step.clone(),
        result,
        code,
        stage,
        evidence: outcome.evidence,
        observed: outcome.observed.clone(),
    })
}

/// Whether `outcome` still says what `entry` accepted (its result, class, code and stage; versions aside).
pub fn holds(entry: &Entry, outcome: &Outcome) -> bool {
    entry_of(outcome).is_ok_and(|now| now.said() == entry.said())
}

/// The accepted file of the scenario at `scenario`: beside it, `<stem>.accepted.jsonl`.
pub fn path_for(scenario: &Path) -> PathBuf {
    let stem = scenario.file_stem().and_then(|s| s.to_str()).unwrap_or("scenario");
    scenario.with_file_name(format!("{stem}.accepted.jsonl"))
}

/// Reads an accepted file; none yet is an empty set. A line that does not parse is an error naming the file and line.
pub fn load(path: &Path) -> Result<Accepted, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Accepted::new()),
        Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
    };
    let mut accepted = Accepted::new();
    for (index, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let entry: Entry = serde_json::from_str(line).map_err(|e| {
            format!(
                "{}:{}:{}: not an accepted outcome: {e} (fix the line, or delete the file and accept again)",
                path.display(),
                index + 1,
                e.column()
            )
        })?;
        accepted.insert(entry.key(), entry);
    }
    Ok(accepted)
}

/// Writes `accepted` to `path`, one entry per line in key order, so a review diff shows exactly what moved.
pub fn save(path: &Path, accepted: &Accepted) -> std::io::Result<()> {
    let mut text = String::new();
    for entry in accepted.values() {
        text.push_str(&serde_json::to_string(entry)?);
        text.push('\n');
    }
    let temporary = path.with_extension(format!("jsonl.{}.tmp", std::process::id()));
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}

/// What accepting `new` over `old` changes, one readable line per entry: `+` added, `~` changed, in key order.
pub fn diff(old: &Accepted, new: &Accepted) -> Vec<String> {
    let mut lines = Vec::new();
    for (key, entry) in new {
        let (lane, case, step) = key;
        match old.get(key) {
            None => lines.push(format!("+ {lane} {case} {step}: {}", entry.said())),
            Some(before) if before.said() != entry.said() => {
                lines.push(format!("~ {lane} {case} {step}: {} -> {}", before.said(), entry.said()))
            }
            Some(_) => {}
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;

    use super::*;
    use crate::classify::Class;

    fn outcome(lane: Lane, result: StepResult, evidence: Evidence, verdict: Verdict) -> Outcome {
        Outcome {
            case: "s/buildkit=v0.28.0/variant=reproduction".into(),
            scenario: "s".into(),
            lane,
            variant: "reproduction".into(),
            cell: IndexMap::new(),
            step: "probe/bind".into(),
            result,
            stages: IndexMap::new(),
            expected: None,
            verdict,
            accepted: None,
            evidence,
            observed: Environment::default(),
            detail: serde_json::Value::Null,
            duration_ms: None,
            tries: None,
        }
    }

    fn denied() -> StepResult {
        StepResult::Failed {
            class: Class::BindfltAccessDenied,
            code: Some("0x80070005".into()),
            stage: Some("bind".into()),
            first_error: Some("Access is denied.".into()),
        }
    }

    #[test]
    fn simulated_skipped_and_infrastructure_are_never_accepted() {
        let simulated = outcome(Lane::Cluster, denied(), Evidence::Simulated, Verdict::Reproduced);
        assert!(
            entry_of(&simulated)
                .unwrap_err()
                .contains("simulated evidence is never accepted")
        );
        let infra = StepResult::Failed {
            class: Class::ExecFailed,
            code: None,
            stage: None,
            first_error: None,
        };
        assert!(entry_of(&outcome(Lane::Cluster, infra, Evidence::Real, Verdict::InfraError)).is_err());
        let skipped = StepResult::Skipped {
            reason: "no Windows".into(),
        };
        assert!(entry_of(&outcome(Lane::Host, skipped, Evidence::Real, Verdict::Skipped)).is_err());
        // The offline lane's own results are the harness's, never simulated.
        assert!(entry_of(&outcome(Lane::Offline, StepResult::Ok, Evidence::Real, Verdict::Passed)).is_ok());
    }

    #[test]
    fn a_moved_class_does_not_hold_and_shows_in_the_diff() {
        let accepted = entry_of(&outcome(Lane::Cluster, denied(), Evidence::Real, Verdict::Reproduced)).unwrap();
        let same = outcome(Lane::Cluster, denied(), Evidence::Real, Verdict::Reproduced);
        assert!(holds(&accepted, &same));
        let moved = outcome(
            Lane::Cluster,
            StepResult::Ok,
            Evidence::Real,
            Verdict::NoLongerReproduces,
        );
        assert!(!holds(&accepted, &moved));
        let old = Accepted::from([(accepted.key(), accepted.clone())]);
        let now = entry_of(&moved).unwrap();
        let new = Accepted::from([(now.key(), now)]);
        assert_eq!(
            diff(&old, &new),
            [
                "~ cluster s/buildkit=v0.28.0/variant=reproduction probe/bind: bindflt-access-denied 0x80070005 bind -> ok"
            ]
        );
    }

    #[test]
    fn entries_round_trip_through_the_file_in_key_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("buildkit-6590.yaml"));
        assert_eq!(path.file_name().unwrap(), "buildkit-6590.accepted.jsonl");
        assert!(load(&path).unwrap().is_empty());
        let entry = entry_of(&outcome(Lane::Cluster, denied(), Evidence::Real, Verdict::Reproduced)).unwrap();
        let accepted = Accepted::from([(entry.key(), entry)]);
        save(&path, &accepted).unwrap();
        assert_eq!(load(&path).unwrap(), accepted);
        std::fs::write(&path, "{not json\n").unwrap();
        assert!(load(&path).unwrap_err().contains("accepted.jsonl:1:"));
    }
}
