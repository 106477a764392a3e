//! Reports: outcomes written for machines (`outcomes.jsonl`) and summarised for people. Reports never talk to clusters.

use std::io::Write;
use std::path::Path;

use crate::outcome::{Evidence, Outcome, StepResult, Verdict};

/// Writes one JSON object per outcome to `dir/outcomes.jsonl`.
pub fn write_jsonl(dir: &Path, outcomes: &[Outcome]) -> std::io::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("outcomes.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
    for outcome in outcomes {
        serde_json::to_writer(&mut file, outcome)?;
        file.write_all(b"\n")?;
    }
    file.flush()?;
    Ok(path)
}

/// One line per outcome and a count per verdict; simulated results are marked and counted apart.
pub fn summary(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    for o in outcomes {
        let evidence = if o.evidence == Evidence::Simulated {
            " [simulated]"
        } else {
            ""
        };
        let what = match &o.result {
            StepResult::Ok => "ok".to_owned(),
            StepResult::Failed { class, .. } => class.to_string(),
            StepResult::Skipped { reason } => format!("skipped: {reason}"),
        };
        let expected = o
            .expected
            .as_deref()
            .map(|e| format!(" (expected {e})"))
            .unwrap_or_default();
        out.push_str(&format!(
            "{:<22} {:<8} {} {}: {what}{expected}{evidence}\n",
            o.verdict.as_str(),
            o.lane.as_str(),
            o.case,
            o.step
        ));
    }
    let count = |verdict: Verdict, evidence: Evidence| {
        outcomes
            .iter()
            .filter(|o| o.verdict == verdict && o.evidence == evidence)
            .count()
    };
    let mut totals = Vec::new();
    for verdict in [
        Verdict::Reproduced,
        Verdict::Passed,
        Verdict::NoLongerReproduces,
        Verdict::Regressed,
        Verdict::Changed,
        Verdict::Observed,
        Verdict::Skipped,
        Verdict::InfraError,
    ] {
        let (real, simulated) = (count(verdict, Evidence::Real), count(verdict, Evidence::Simulated));
        if real > 0 {
            totals.push(format!("{real} {}", verdict.as_str()));
        }
        if simulated > 0 {
            totals.push(format!("{simulated} {} (simulated)", verdict.as_str()));
        }
    }
    out.push_str(&format!("{} outcome(s): {}\n", outcomes.len(), totals.join(", ")));
    out
}
