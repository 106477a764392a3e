//! What a history says per track, in one pass over its runs: the current verdict and since when, first and last seen
//! per verdict, the last good and first bad run, flips and a flake rate over a window, and alerts with hysteresis.

use indexmap::IndexMap;
use serde::Serialize;

use super::load::{Entry, History, Track};
use super::store::ResultKind;
use crate::outcome::Verdict;
use crate::words::{Environment, Evidence, Lane};

fn verdict_index(verdict: Verdict) -> usize {
    Verdict::ALL.iter().position(|v| *v == verdict).unwrap_or(0)
}

/// A run that passed, or reproduced the bug as the scenario expects.
pub fn is_good(verdict: Verdict) -> bool {
    matches!(verdict, Verdict::Passed | Verdict::Reproduced)
}

/// A run whose verdict is not what the scenario expects.
pub fn is_bad(verdict: Verdict) -> bool {
    !verdict.as_expected()
}

/// Thresholds of alerts: consecutive runs with a new (unexpected) verdict to raise one, as expected to clear it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub raise: usize,
    pub clear: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { raise: 1, clear: 2 }
    }
}

/// An entry of a track and the run it belongs to.
#[derive(Debug, Clone, Copy)]
struct Mark {
    run: u32,
    entry: Entry,
}

/// An alert's state with hysteresis: raised after `raise` consecutive runs with the same unexpected verdict,
/// cleared after `clear` consecutive runs as expected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertState {
    /// The unexpected verdict an open alert is about.
    pub open: Option<Verdict>,
    bad: Option<(Verdict, usize)>,
    good: usize,
}

impl AlertState {
    /// The state after one more observed run with `verdict`.
    pub fn after(mut self, verdict: Verdict, thresholds: Thresholds) -> AlertState {
        if is_bad(verdict) {
            self.good = 0;
            self.bad = match self.bad {
                Some((same, count)) if same == verdict => Some((verdict, count + 1)),
                _ => Some((verdict, 1)),
            };
        } else {
            self.good += 1;
            self.bad = None;
        }
        match self.bad {
            Some((verdict, count)) if count >= thresholds.raise => self.open = Some(verdict),
            _ if self.good >= thresholds.clear => self.open = None,
            _ => {}
        }
        self
    }

    /// Consecutive runs with the same unexpected verdict, so far.
    pub fn bad_streak(&self) -> usize {
        self.bad.map_or(0, |(_, count)| count)
    }

    /// Consecutive runs as expected, so far.
    pub fn good_streak(&self) -> usize {
        self.good
    }
}

/// Everything gathered for one track while walking the runs.
#[derive(Debug, Default)]
struct Gathered {
    first: [Option<Mark>; 8],
    last: [Option<Mark>; 8],
    latest: Option<Mark>,
    current: Option<Mark>,
    since: Option<Mark>,
    previous: Option<Verdict>,
    streak: usize,
    last_good: Option<Mark>,
    first_bad: Option<Mark>,
    window: Vec<Verdict>,
    alert: AlertState,
    alert_before_newest: AlertState,
}

impl Gathered {
    fn see(&mut self, mark: Mark, in_window: bool, is_newest: bool, thresholds: Thresholds) {
        let verdict = mark.entry.verdict;
        let index = verdict_index(verdict);
        self.first[index].get_or_insert(mark);
        self.last[index] = Some(mark);
        self.latest = Some(mark);
        if verdict == Verdict::Skipped {
            return;
        }
        match self.current {
            Some(current) if current.entry.verdict == verdict => self.streak += 1,
            current => {
                self.previous = current.map(|c| c.entry.verdict);
                self.since = Some(mark);
                self.streak = 1;
            }
        }
        self.current = Some(mark);
        if is_good(verdict) {
            self.last_good = Some(mark);
            self.first_bad = None;
        } else if is_bad(verdict) && self.first_bad.is_none() {
            self.first_bad = Some(mark);
        }
        if in_window {
            self.window.push(verdict);
        }
        if is_newest {
            self.alert_before_newest = self.alert;
        }
        self.alert = self.alert.after(verdict, thresholds);
    }
}

/// A run as reports name it, with what the track did in it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRef {
    pub run: String,
    pub started: String,
    pub place: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    pub verdict: Verdict,
    /// `ok`, the failure class, or `skipped`.
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    pub observed: Environment,
}

/// The first and last run with one verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FirstLast {
    pub first: RunRef,
    pub last: RunRef,
}

/// Flips over the window: how often consecutive observed runs disagree, with a Wilson 95% interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Flakiness {
    /// Observed (not skipped) runs of this track in the window.
    pub observations: usize,
    pub flips: usize,
    /// Flips per pair of consecutive observations.
    pub rate: f64,
    pub low: f64,
    pub high: f64,
    /// The flip rate is above 5% with 95% confidence.
    pub flaky: bool,
}

/// The rate below which a track is not called flaky, for the lower bound of its interval.
const FLAKY_ABOVE: f64 = 0.05;

impl Flakiness {
    /// The flakiness of a run of verdicts, oldest first.
    pub fn of(verdicts: &[Verdict]) -> Flakiness {
        let flips = verdicts.windows(2).filter(|pair| pair[0] != pair[1]).count();
        let pairs = verdicts.len().saturating_sub(1);
        let (low, high) = wilson(flips, pairs);
        Flakiness {
            observations: verdicts.len(),
            flips,
            rate: if pairs == 0 { 0.0 } else { flips as f64 / pairs as f64 },
            low,
            high,
            flaky: low > FLAKY_ABOVE,
        }
    }
}

/// The Wilson score interval, shared with the judge's rate expectations.
pub use crate::stats::wilson;

/// What the history says of one track.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CellReport {
    /// Which step of which case, and from which evidence.
    #[serde(flatten)]
    pub track: Track,
    /// The newest run that observed the step (skipped runs aside).
    pub current: Option<RunRef>,
    /// The newest run with this step at all (skipped included).
    pub latest: RunRef,
    /// Consecutive observed runs with the current verdict.
    pub streak: usize,
    /// The first run of the current streak.
    pub since: Option<RunRef>,
    /// The verdict before the current streak.
    pub previous: Option<Verdict>,
    /// First and last run per verdict.
    pub seen: IndexMap<String, FirstLast>,
    /// The last run that passed or reproduced as expected.
    pub last_good: Option<RunRef>,
    /// The first run not as expected after the last good one (or ever, when none was good).
    pub first_bad: Option<RunRef>,
    pub window: Flakiness,
    /// When the current verdict is `no-longer-reproduces`: the run it began.
    pub no_longer_reproduces_since: Option<RunRef>,
    /// The verdict moved in the newest run of the history.
    pub changed_in_newest_run: bool,
    #[serde(skip)]
    alert: (AlertState, AlertState),
}

/// A run in one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunBrief {
    pub run: String,
    pub started: String,
    pub place: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

/// The report of a history: real tracks, and simulated ones apart.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub runs: usize,
    pub oldest: Option<RunBrief>,
    pub newest: Option<RunBrief>,
    /// The window of flips, in runs.
    pub window: usize,
    pub cells: Vec<CellReport>,
    /// Simulated evidence: shown apart, never counted as real.
    pub simulated: Vec<CellReport>,
}

/// Walks `history` once and reports every track; flips over the last `window` runs, alerts by `thresholds`.
pub fn report(history: &History, window: usize, thresholds: Thresholds) -> Report {
    let mut gathered: Vec<Gathered> = history.tracks.iter().map(|_| Gathered::default()).collect();
    let window_start = history.runs.len().saturating_sub(window);
    let newest = history.runs.len().saturating_sub(1);
    for (index, run) in history.runs.iter().enumerate() {
        for entry in &run.entries {
            let mark = Mark {
                run: index as u32,
                entry: *entry,
            };
            gathered[entry.track as usize].see(mark, index >= window_start, index == newest, thresholds);
        }
    }
    let mut cells = Vec::new();
    let mut simulated = Vec::new();
    for (track, gathered) in history.tracks.iter().zip(&gathered) {
        let Some(cell) = cell_report(history, track, gathered, newest) else {
            continue;
        };
        match track.evidence {
            Evidence::Real => cells.push(cell),
            Evidence::Simulated => simulated.push(cell),
        }
    }
    let order = |a: &CellReport, b: &CellReport| {
        let (a, b) = (&a.track, &b.track);
        (&a.scenario, &a.case, a.lane, &a.step).cmp(&(&b.scenario, &b.case, b.lane, &b.step))
    };
    cells.sort_by(order);
    simulated.sort_by(order);
    Report {
        runs: history.runs.len(),
        oldest: history.runs.first().map(|r| brief(&r.meta)),
        newest: history.runs.last().map(|r| brief(&r.meta)),
        window,
        cells,
        simulated,
    }
}

fn brief(meta: &super::store::RunMeta) -> RunBrief {
    RunBrief {
        run: meta.id.clone(),
        started: meta.started.clone(),
        place: meta.place.clone(),
        revision: meta.revision.clone(),
    }
}

fn cell_report(history: &History, track: &Track, gathered: &Gathered, newest: usize) -> Option<CellReport> {
    let reference = |mark: Option<Mark>| mark.map(|m| run_ref(history, m));
    let latest = reference(gathered.latest)?;
    let seen = Verdict::ALL
        .iter()
        .enumerate()
        .filter_map(|(i, verdict)| {
            let first = reference(gathered.first[i])?;
            let last = reference(gathered.last[i])?;
            Some((verdict.as_str().to_owned(), FirstLast { first, last }))
        })
        .collect();
    let current_verdict = gathered.current.map(|m| m.entry.verdict);
    Some(CellReport {
        track: track.clone(),
        current: reference(gathered.current),
        latest,
        streak: gathered.streak,
        since: reference(gathered.since),
        previous: gathered.previous,
        seen,
        last_good: reference(gathered.last_good),
        first_bad: reference(gathered.first_bad),
        window: Flakiness::of(&gathered.window),
        no_longer_reproduces_since: (current_verdict == Some(Verdict::NoLongerReproduces))
            .then(|| reference(gathered.since))
            .flatten(),
        changed_in_newest_run: gathered.previous.is_some()
            && gathered.streak == 1
            && gathered.current.is_some_and(|m| m.run as usize == newest),
        alert: (gathered.alert_before_newest, gathered.alert),
    })
}

fn run_ref(history: &History, mark: Mark) -> RunRef {
    let meta = &history.runs[mark.run as usize].meta;
    let result = history.result(&mark.entry);
    RunRef {
        run: meta.id.clone(),
        started: meta.started.clone(),
        place: meta.place.clone(),
        revision: meta.revision.clone(),
        verdict: mark.entry.verdict,
        result: match result.kind {
            ResultKind::Ok => "ok".to_owned(),
            ResultKind::Skipped => "skipped".to_owned(),
            ResultKind::Failed => result.class.clone().unwrap_or_else(|| "failed".to_owned()),
        },
        code: result.code.clone(),
        stage: result.stage.clone(),
        first_error: result.first_error.clone(),
        observed: history.environment(&mark.entry).clone(),
    }
}

/// What the newest run did to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertChange {
    /// Opened by the newest run.
    Raised,
    /// Closed by the newest run.
    Cleared,
    /// Still open, now about another unexpected verdict.
    Changed,
    /// Still open, unchanged.
    Open,
    /// Not as expected, but not yet for enough runs to raise.
    Pending,
}

/// One alert of the newest run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub change: AlertChange,
    pub case: String,
    pub lane: Lane,
    pub step: String,
    /// The unexpected verdict the alert is about (for a cleared one: the verdict it was about).
    pub about: Verdict,
    /// The step's verdict in its newest observed run.
    pub now: Verdict,
    /// Consecutive runs with that verdict.
    pub streak: usize,
    pub since: Option<RunRef>,
    pub current: Option<RunRef>,
}

/// The changes of the newest run against the history, for a workflow to open, update or close a tracking issue.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alerts {
    pub newest: Option<RunBrief>,
    pub raise: usize,
    pub clear: usize,
    /// Some alert is open after the newest run (keep or open the issue).
    pub open: bool,
    /// Some alert was raised, changed or cleared by the newest run (update the issue).
    pub changed: bool,
    pub alerts: Vec<Alert>,
}

/// The alerts of the newest run, from real evidence only.
pub fn alerts(report: &Report, thresholds: Thresholds) -> Alerts {
    let alerts: Vec<Alert> = report.cells.iter().filter_map(|cell| alert(cell, thresholds)).collect();
    Alerts {
        newest: report.newest.clone(),
        raise: thresholds.raise,
        clear: thresholds.clear,
        open: alerts
            .iter()
            .any(|a| matches!(a.change, AlertChange::Raised | AlertChange::Changed | AlertChange::Open)),
        changed: alerts.iter().any(|a| {
            matches!(
                a.change,
                AlertChange::Raised | AlertChange::Changed | AlertChange::Cleared
            )
        }),
        alerts,
    }
}

fn alert(cell: &CellReport, thresholds: Thresholds) -> Option<Alert> {
    let (before, after) = cell.alert;
    let now = cell.current.as_ref()?.verdict;
    let (change, about) = match (before.open, after.open) {
        (None, Some(verdict)) => (AlertChange::Raised, verdict),
        (Some(verdict), None) => (AlertChange::Cleared, verdict),
        (Some(was), Some(verdict)) if was != verdict => (AlertChange::Changed, verdict),
        (Some(_), Some(verdict)) => (AlertChange::Open, verdict),
        (None, None) if after.bad_streak() > 0 && after.bad_streak() < thresholds.raise => (AlertChange::Pending, now),
        (None, None) => return None,
    };
    Some(Alert {
        change,
        case: cell.track.case.clone(),
        lane: cell.track.lane,
        step: cell.track.step.clone(),
        about,
        now,
        streak: cell.streak,
        since: cell.since.clone(),
        current: cell.current.clone(),
    })
}

/// A cell's verdicts over the last runs, for a history strip.
#[derive(Debug, Clone, PartialEq)]
pub struct Strip {
    pub case: String,
    pub lane: String,
    pub step: String,
    /// Simulated evidence has strips of its own.
    pub evidence: Evidence,
    /// `(run id, started, verdict)`, oldest first.
    pub runs: Vec<(String, String, Verdict)>,
}

/// The strip of every track that has a run among the last `window` runs, real tracks first.
pub fn strips(history: &History, window: usize) -> Vec<Strip> {
    let mut strips: Vec<Strip> = history
        .tracks
        .iter()
        .map(|track| Strip {
            case: track.case.clone(),
            lane: track.lane.as_str().to_owned(),
            step: track.step.clone(),
            evidence: track.evidence,
            runs: Vec::new(),
        })
        .collect();
    let start = history.runs.len().saturating_sub(window);
    for run in &history.runs[start..] {
        for entry in &run.entries {
            strips[entry.track as usize]
                .runs
                .push((run.meta.id.clone(), run.meta.started.clone(), entry.verdict));
        }
    }
    strips.retain(|s| !s.runs.is_empty());
    strips.sort_by(|a, b| {
        (a.evidence == Evidence::Simulated, &a.case, &a.lane, &a.step).cmp(&(
            b.evidence == Evidence::Simulated,
            &b.case,
            &b.lane,
            &b.step,
        ))
    });
    strips
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternating_verdicts_are_flaky_and_one_flip_is_not() {
        let alternating: Vec<Verdict> = (0..30)
            .map(|i| {
                if i % 2 == 0 {
                    Verdict::Reproduced
                } else {
                    Verdict::NoLongerReproduces
                }
            })
            .collect();
        let flaky = Flakiness::of(&alternating);
        assert_eq!((flaky.flips, flaky.observations), (29, 30));
        assert!(flaky.flaky && flaky.low > 0.8);
        let mut once = vec![Verdict::Reproduced; 15];
        once.extend([Verdict::NoLongerReproduces; 15]);
        let steady = Flakiness::of(&once);
        assert_eq!(steady.flips, 1);
        assert!(!steady.flaky);
    }

    #[test]
    fn alerts_raise_after_n_and_clear_after_m() {
        let thresholds = Thresholds { raise: 2, clear: 3 };
        let walk = |verdicts: &[Verdict]| {
            verdicts
                .iter()
                .fold(AlertState::default(), |state, v| state.after(*v, thresholds))
                .open
        };
        let (bad, good) = (Verdict::Regressed, Verdict::Passed);
        assert_eq!(walk(&[good, bad]), None);
        assert_eq!(walk(&[good, bad, bad]), Some(bad));
        assert_eq!(walk(&[bad, bad, good, good]), Some(bad));
        assert_eq!(walk(&[bad, bad, good, good, good]), None);
        assert_eq!(walk(&[bad, bad, good, good, bad]), Some(bad));
        assert_eq!(
            walk(&[bad, Verdict::Changed]),
            None,
            "two different verdicts are not two in a row"
        );
    }
}
