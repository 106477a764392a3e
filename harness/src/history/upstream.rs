//! What to tell an upstream bug, per scenario: on which versions it still reproduces, where it no longer does and
//! since when, whether the workaround holds, from real evidence only.

use std::collections::HashMap;

use serde::Serialize;

use super::load::History;
use super::timeline::RunBrief;
use crate::outcome::Verdict;
use crate::words::{Environment, Evidence, Lane};

/// The variant whose steps are the workaround.
pub const WORKAROUND: &str = "workaround";

/// The bug's status on one set of observed versions.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnVersions {
    pub lane: Lane,
    pub observed: Environment,
    /// The steps in question (reproducing, no longer reproducing, or failing).
    pub steps: Vec<String>,
    /// The newest run on these versions.
    pub last: RunBrief,
    /// For `no longer reproduces`: the run from which no step reproduced on these versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<RunBrief>,
}

/// One scenario's status for its upstream bug.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScenarioStatus {
    pub scenario: String,
    /// Runs with real evidence for this scenario.
    pub runs: usize,
    pub oldest: Option<RunBrief>,
    pub newest: Option<RunBrief>,
    pub reproduces: Vec<OnVersions>,
    pub no_longer_reproduces: Vec<OnVersions>,
    /// Fails, but not as the bug report says.
    pub changed: Vec<OnVersions>,
    pub workaround_holds: Vec<OnVersions>,
    pub workaround_fails: Vec<OnVersions>,
    /// The command that reproduces it on a cluster (the context of the newest cluster run, when there was one).
    pub reproduce: String,
    /// Simulated outcomes of this scenario, not counted above.
    pub simulated_outcomes: usize,
}

/// The newest verdict of one track on one set of versions, and where its current verdict began there.
#[derive(Debug, Clone, Copy)]
struct Latest {
    run: usize,
    verdict: Verdict,
    streak_from: usize,
}

#[derive(Default)]
struct Gathered {
    runs: Vec<usize>,
    simulated: usize,
    cluster_place: Option<String>,
    /// (track, environment) -> latest.
    latest: HashMap<(u32, u32), Latest>,
}

/// The status of every scenario in `history`, by name.
pub fn status(history: &History) -> Vec<ScenarioStatus> {
    let mut scenarios: std::collections::BTreeMap<&str, Gathered> = Default::default();
    for (index, run) in history.runs.iter().enumerate() {
        for entry in &run.entries {
            let track = history.track(entry);
            let gathered = scenarios.entry(&track.scenario).or_default();
            if track.evidence == Evidence::Simulated {
                gathered.simulated += 1;
                continue;
            }
            if gathered.runs.last() != Some(&index) {
                gathered.runs.push(index);
            }
            if track.lane == Lane::Cluster {
                gathered.cluster_place = Some(run.meta.place.clone());
            }
            if entry.verdict == Verdict::Skipped {
                continue;
            }
            gathered
                .latest
                .entry((entry.track, entry.environment))
                .and_modify(|latest| {
                    if latest.verdict != entry.verdict {
                        latest.streak_from = index;
                    }
                    latest.run = index;
                    latest.verdict = entry.verdict;
                })
                .or_insert(Latest {
                    run: index,
                    verdict: entry.verdict,
                    streak_from: index,
                });
        }
    }
    scenarios
        .into_iter()
        .map(|(scenario, gathered)| scenario_status(history, scenario, gathered))
        .collect()
}

/// One group of tracks on one lane and set of versions, with the newest verdict of each.
type Group = Vec<(u32, Latest)>;

fn scenario_status(history: &History, scenario: &str, gathered: Gathered) -> ScenarioStatus {
    let mut bug: std::collections::BTreeMap<(Lane, u32), Group> = Default::default();
    let mut workaround: std::collections::BTreeMap<(Lane, u32), Group> = Default::default();
    for (&(track_id, environment), &latest) in &gathered.latest {
        let track = &history.tracks[track_id as usize];
        let key = (track.lane, environment);
        if track.variant == WORKAROUND {
            workaround.entry(key).or_default().push((track_id, latest));
        } else if matches!(
            latest.verdict,
            Verdict::Reproduced | Verdict::NoLongerReproduces | Verdict::Changed
        ) {
            bug.entry(key).or_default().push((track_id, latest));
        }
    }
    let on = |(lane, environment): (Lane, u32), group: &Group, keep: &dyn Fn(Verdict) -> bool| OnVersions {
        lane,
        observed: history.environments[environment as usize].clone(),
        steps: steps(history, group, keep),
        last: brief(history, group.iter().map(|(_, l)| l.run).max().unwrap_or(0)),
        since: None,
    };
    let mut status = ScenarioStatus {
        scenario: scenario.to_owned(),
        runs: gathered.runs.len(),
        oldest: gathered.runs.first().map(|&run| brief(history, run)),
        newest: gathered.runs.last().map(|&run| brief(history, run)),
        reproduces: Vec::new(),
        no_longer_reproduces: Vec::new(),
        changed: Vec::new(),
        workaround_holds: Vec::new(),
        workaround_fails: Vec::new(),
        reproduce: reproduce_command(scenario, gathered.cluster_place.as_deref()),
        simulated_outcomes: gathered.simulated,
    };
    for (key, group) in &bug {
        let has = |verdict: Verdict| group.iter().any(|(_, l)| l.verdict == verdict);
        if has(Verdict::Reproduced) {
            status.reproduces.push(on(*key, group, &|v| v == Verdict::Reproduced));
        } else if has(Verdict::Changed) {
            status.changed.push(on(*key, group, &|v| v == Verdict::Changed));
        } else {
            let since = group.iter().map(|(_, l)| l.streak_from).max().unwrap_or(0);
            let mut versions = on(*key, group, &|v| v == Verdict::NoLongerReproduces);
            versions.since = Some(brief(history, since));
            status.no_longer_reproduces.push(versions);
        }
    }
    for (key, group) in &workaround {
        if group.iter().all(|(_, l)| l.verdict.as_expected()) {
            status.workaround_holds.push(on(*key, group, &|_| true));
        } else {
            status.workaround_fails.push(on(*key, group, &|v| !v.as_expected()));
        }
    }
    status
}

fn steps(history: &History, group: &Group, keep: &dyn Fn(Verdict) -> bool) -> Vec<String> {
    let mut steps: Vec<String> = group
        .iter()
        .filter(|(_, latest)| keep(latest.verdict))
        .map(|(track, _)| history.tracks[*track as usize].step.clone())
        .collect();
    steps.sort();
    steps.dedup();
    steps
}

fn brief(history: &History, run: usize) -> RunBrief {
    let meta = &history.runs[run].meta;
    RunBrief {
        run: meta.id.clone(),
        started: meta.started.clone(),
        place: meta.place.clone(),
        revision: meta.revision.clone(),
    }
}

/// `harness run scenarios/<scenario>.yaml --lane cluster --context <ctx>`, with the context of the newest cluster run
/// when there was one.
pub fn reproduce_command(scenario: &str, place: Option<&str>) -> String {
    let context = place
        .filter(|p| !matches!(*p, "host" | "local" | ""))
        .unwrap_or("<context>");
    format!("harness run scenarios/{scenario}.yaml --lane cluster --context {context}")
}
