//! `harness accept [OUT] [--lane L] [SCENARIOS...]`: takes a run's outcomes as the accepted ones, beside each scenario,
//! showing what changes; refuses what observed nothing real, changing nothing then.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::accepted::{self, Accepted};
use crate::cli::load_all;
use crate::exit::Exit;
use crate::outcome::{Outcome, Verdict};
use crate::words::Lane;

/// Arguments of `harness accept`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The output folder of a run (its `outcomes.jsonl`).
    #[arg(default_value = "out")]
    out: PathBuf,
    /// Accept only this lane's outcomes (repeatable; default: every lane).
    #[arg(long = "lane", value_enum)]
    lanes: Vec<Lane>,
    /// The scenarios the outcomes belong to (default: `scenarios/`).
    #[arg(long = "scenarios")]
    scenarios: Vec<PathBuf>,
}

pub fn run(args: Args) -> Exit {
    let scenarios = match load_all(&args.scenarios) {
        Ok(scenarios) => scenarios,
        Err(exit) => return exit,
    };
    let outcomes = match read_outcomes(&args.out) {
        Ok(outcomes) => outcomes,
        Err(message) => {
            errln!("error: {message}\n  help: give the --out folder of a `harness run`");
            return Exit::InvalidInput;
        }
    };
    let mut refused = Vec::new();
    let mut taken: BTreeMap<String, Vec<accepted::Entry>> = BTreeMap::new();
    for outcome in outcomes
        .iter()
        .filter(|o| args.lanes.is_empty() || args.lanes.contains(&o.lane))
    {
        match accepted::entry_of(outcome) {
            Ok(entry) => taken.entry(outcome.scenario.clone()).or_default().push(entry),
            // Skips and infrastructure errors observed nothing: there is nothing to accept, and nothing to refuse.
            Err(_) if matches!(outcome.verdict, Verdict::Skipped | Verdict::InfraError) => {}
            Err(reason) => refused.push(reason),
        }
    }
    if !refused.is_empty() {
        for reason in &refused {
            errln!("refused: {reason}");
        }
        errln!(
            "error: {} outcome(s) refused; nothing was accepted\n  help: accept the other lanes with --lane, e.g. `harness accept {} --lane offline`",
            refused.len(),
            args.out.display()
        );
        return Exit::InvalidInput;
    }
    let mut written = 0;
    for (name, entries) in taken {
        let Some(loaded) = scenarios.iter().find(|s| s.scenario.metadata.name == name) else {
            errln!("error: the outcomes name scenario `{name}`, which is not among the scenarios given");
            return Exit::InvalidInput;
        };
        let path = accepted::path_for(&loaded.path);
        let old = match accepted::load(&path) {
            Ok(old) => old,
            Err(message) => {
                errln!("error: {message}");
                return Exit::InvalidInput;
            }
        };
        let mut new: Accepted = old.clone();
        new.extend(entries.into_iter().map(|e| (e.key(), e)));
        let changes = accepted::diff(&old, &new);
        outln!("{}: {} change(s)", path.display(), changes.len());
        for change in &changes {
            outln!("  {change}");
        }
        if !changes.is_empty() {
            if let Err(e) = accepted::save(&path, &new) {
                errln!("error: cannot write {}: {e}", path.display());
                return Exit::Infrastructure;
            }
            written += 1;
        }
    }
    outln!("{written} accepted file(s) written; review them like snapshots (git diff) before committing");
    Exit::Ok
}

/// The outcomes of a run's `outcomes.jsonl`, or where it does not read as one.
fn read_outcomes(out: &std::path::Path) -> Result<Vec<Outcome>, String> {
    let path = out.join("outcomes.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line)
                .map_err(|e| format!("{}:{}:{}: not an outcome: {e}", path.display(), index + 1, e.column()))
        })
        .collect()
}
